/*
 * rules_pack.c — a pack as a whole: files and directories in a stable order,
 * the YAML document stream of each file, and the pass that can only run once
 * every file has been read (macros and tables may be defined in any file):
 * macro expansion, enum table lookup, and the regex checks (dialect, PCRE2
 * compile, named groups, anchor).
 *
 * Any error anywhere empties the set: a pack is used whole or not at all.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "rules_priv.h"

void rl_add_reloc(struct rl_ctx *c, const void *key, struct src_loc loc, const char *aux)
{
	xgrow((void **)&c->relocs, &c->cap_relocs, c->nrelocs + 1, sizeof(*c->relocs));
	c->relocs[c->nrelocs++] = (struct rl_reloc){.key = key, .loc = loc, .aux = aux ? xstrdup(aux) : NULL};
}

const struct rl_reloc *rl_find_reloc(const struct rl_ctx *c, const void *key)
{
	for (size_t i = c->nrelocs; i-- > 0;)
		if (c->relocs[i].key == key)
			return &c->relocs[i];
	return NULL;
}

static const char *add_file(struct rl_ctx *c, const char *name)
{
	struct ruleset *rs = c->rs;
	xgrow((void **)&rs->files, &c->cap_files, rs->nfiles + 1, sizeof(char *));
	rs->files[rs->nfiles] = xstrdup(name);
	return rs->files[rs->nfiles++];
}

static bool load_doc(void *ctx, yaml_node_t *root, size_t index)
{
	(void)index;
	rl_load_document(ctx, root);
	return true;
}

/* Reads every document of one YAML stream. */
static void load_stream(struct rl_ctx *c, const char *file, const char *text, size_t len)
{
	yx_each_document(&c->y, file, text, len, 100000, load_doc, c);
}

static void load_file(struct rl_ctx *c, const char *path)
{
	const char *file = add_file(c, path);
	FILE *f = fopen(path, "rb");
	if (!f) {
		yx_file_error(&c->y, file, "cannot open: %s", strerror(errno));
		return;
	}
	struct buf b = {0};
	char chunk[65536];
	size_t n;
	bool too_big = false;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (b.len + n > RL_MAX_FILE_BYTES) {
			too_big = true;
			break;
		}
		buf_append(&b, chunk, n);
	}
	bool failed = ferror(f);
	fclose(f);
	if (too_big)
		yx_file_error(&c->y, file, "%s", "file is larger than 16 MiB; not a rule file?");
	else if (failed)
		yx_file_error(&c->y, file, "read error: %s", strerror(EIO));
	else
		load_stream(c, file, b.data ? b.data : "", b.len);
	buf_free(&b);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool yaml_name(const char *name)
{
	size_t n = strlen(name);
	return (n > 5 && strcmp(name + n - 5, ".yaml") == 0) || (n > 4 && strcmp(name + n - 4, ".yml") == 0);
}

static void load_dir(struct rl_ctx *c, const char *dir, unsigned depth, size_t *nfound)
{
	if (depth > RL_MAX_DIR_DEPTH) {
		yx_file_error(&c->y, dir, "%s", "directories nested too deeply (a symlink loop?)");
		return;
	}
	DIR *dp = opendir(dir);
	if (!dp) {
		yx_file_error(&c->y, dir, "cannot open directory: %s", strerror(errno));
		return;
	}
	char **names = NULL;
	size_t nnames = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(dp))) {
		if (de->d_name[0] == '.') /* ., .., and hidden files (editor droppings) */
			continue;
		if (nnames >= RL_MAX_FILES)
			break;
		xgrow((void **)&names, &cap, nnames + 1, sizeof(char *));
		size_t dl = strlen(dir);
		names[nnames++] = xasprintf("%s%s%s", dir, dl && dir[dl - 1] == '/' ? "" : "/", de->d_name);
	}
	closedir(dp);
	if (nnames)
		qsort(names, nnames, sizeof(char *), cmp_str);
	for (size_t i = 0; i < nnames; i++) {
		struct stat st;
		if (stat(names[i], &st) < 0) {
			yx_file_error(&c->y, names[i], "cannot stat: %s", strerror(errno));
		} else if (S_ISDIR(st.st_mode)) {
			load_dir(c, names[i], depth + 1, nfound);
		} else if (S_ISREG(st.st_mode) && yaml_name(names[i])) {
			if (++*nfound > RL_MAX_FILES) {
				yx_file_error(&c->y, names[i], "%s", "too many rule files");
				break;
			}
			load_file(c, names[i]);
		}
	}
	rl_free_strv(names, nnames);
}

/* ---- the pack-wide pass ---- */

struct expander {
	struct rl_ctx *c;
	const struct src_loc *loc; /* where to report */
	size_t stack[RL_MAX_MACRO_DEPTH];
	size_t depth;
	bool *bad; /* macros already reported */
};

static size_t macro_ref(const char *p, size_t *namelen)
{
	/* p at "{{": length of "{{name}}" or 0 */
	size_t i = 2;
	if (!(p[i] == '_' || (p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= 'a' && p[i] <= 'z')))
		return 0;
	while (p[i] == '_' || (p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= 'a' && p[i] <= 'z') ||
	       (p[i] >= '0' && p[i] <= '9'))
		i++;
	if (p[i] != '}' || p[i + 1] != '}')
		return 0;
	*namelen = i - 2;
	return i + 2;
}

static int expand(struct expander *x, const char *text, struct buf *out)
{
	struct rl_ctx *c = x->c;
	for (const char *p = text; *p;) {
		size_t nl, rl;
		if (p[0] != '{' || p[1] != '{' || !(rl = macro_ref(p, &nl))) {
			buf_putc(out, *p++);
			continue;
		}
		size_t m;
		for (m = 0; m < c->nmacros; m++)
			if (strlen(c->macros[m].name) == nl && memcmp(c->macros[m].name, p + 2, nl) == 0)
				break;
		if (m == c->nmacros) {
			char *name = xstrndup(p + 2, nl);
			const char **cands = xcalloc(c->nmacros ? c->nmacros : 1, sizeof(char *));
			for (size_t i = 0; i < c->nmacros; i++)
				cands[i] = c->macros[i].name;
			const char *sug = rl_suggest(name, cands, c->nmacros);
			if (sug)
				rl_error_loc(c, x->loc, "unknown macro '{{%s}}' (did you mean '{{%s}}'?)",
				             name, sug);
			else
				rl_error_loc(c, x->loc,
				             "unknown macro '{{%s}}' (define it in a kind: macros document)",
				             name);
			free(cands);
			free(name);
			return -1;
		}
		if (x->bad[m])
			return -1; /* its own error is already out */
		for (size_t i = 0; i < x->depth; i++) {
			if (x->stack[i] != m)
				continue;
			struct buf cyc = {0};
			for (size_t j = i; j < x->depth; j++) {
				buf_printf(&cyc, "%s -> ", c->macros[x->stack[j]].name);
				x->bad[x->stack[j]] = true;
			}
			buf_printf(&cyc, "%s", c->macros[m].name);
			rl_error_loc(c, x->loc, "macro cycle: %s", cyc.data);
			buf_free(&cyc);
			return -1;
		}
		if (x->depth >= RL_MAX_MACRO_DEPTH) {
			rl_error_loc(c, x->loc, "macros nested more than %d deep", RL_MAX_MACRO_DEPTH);
			return -1;
		}
		x->stack[x->depth++] = m;
		int rc = expand(x, c->macros[m].text, out);
		x->depth--;
		if (rc < 0)
			return -1;
		if (out->len > RL_MAX_REGEX_BYTES) {
			rl_error_loc(c, x->loc, "regex longer than %u bytes after macro expansion",
			             RL_MAX_REGEX_BYTES);
			return -1;
		}
		p += rl;
	}
	return 0;
}

static void check_macros(struct rl_ctx *c, bool *bad)
{
	for (size_t m = 0; m < c->nmacros; m++) {
		if (bad[m])
			continue;
		struct expander x = {.c = c, .loc = &c->macros[m].loc, .bad = bad};
		x.stack[x.depth++] = m;
		struct buf out = {0};
		if (expand(&x, c->macros[m].text, &out) < 0)
			bad[m] = true;
		buf_free(&out);
	}
}

static void group_names(pcre2_code *code, struct buf *b)
{
	uint32_t count = 0, esize = 0;
	PCRE2_SPTR table = NULL;
	pcre2_pattern_info(code, PCRE2_INFO_NAMECOUNT, &count);
	pcre2_pattern_info(code, PCRE2_INFO_NAMEENTRYSIZE, &esize);
	pcre2_pattern_info(code, PCRE2_INFO_NAMETABLE, &table);
	for (uint32_t i = 0; i < count && table; i++)
		buf_printf(b, "%s%s", i ? ", " : "", (const char *)(table + (size_t)i * esize + 2));
}

static void check_regex(struct rl_ctx *c, struct detector *det, bool *bad)
{
	const struct rl_reloc *rl = rl_find_reloc(c, det->regex);
	struct src_loc loc = rl ? rl->loc : det->loc;
	struct expander x = {.c = c, .loc = &loc, .bad = bad};
	struct buf out = {0};
	if (expand(&x, det->regex, &out) < 0) {
		buf_free(&out);
		return;
	}
	free(det->regex);
	det->regex = out.data ? out.data : xstrdup("");

	size_t off = 0;
	const char *why = re_dialect_problem(det->regex, &off);
	if (why) {
		rl_error_loc(
		    c, &loc,
		    "regex uses %s (at offset %zu), which is not in the common PCRE2/Vectorscan dialect", why,
		    off);
		return;
	}
	int err = 0;
	PCRE2_SIZE eoff = 0;
	pcre2_code *code = pcre2_compile((PCRE2_SPTR)det->regex, PCRE2_ZERO_TERMINATED,
	                                 det->nocase ? PCRE2_CASELESS : 0, &err, &eoff, NULL);
	if (!code) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(err, msg, sizeof(msg));
		rl_error_loc(c, &loc, "regex does not compile: %s (at offset %zu)", (const char *)msg,
		             (size_t)eoff);
		return;
	}
	for (size_t i = 0; i < det->ncaps; i++) {
		const struct capture_spec *cs = &det->caps[i];
		if (pcre2_substring_number_from_name(code, (PCRE2_SPTR)cs->name) >= 0)
			continue;
		struct buf names = {0};
		group_names(code, &names);
		if (names.len)
			rl_error_loc(c, &cs->loc,
			             "capture '%s' is not a named group of the regex (its groups: %s)",
			             cs->name, names.data);
		else
			rl_error_loc(
			    c, &cs->loc,
			    "capture '%s' is not a named group of the regex (it has none; write (?<%s>...))",
			    cs->name, cs->name);
		buf_free(&names);
	}
	pcre2_code_free(code);
	if (det->nlits == 0) {
		char *a;
		if (regex_derive_anchor(det->regex, 3, &a) < 0) {
			rl_error_loc(c, &loc,
			             "regex has no anchor: add anchor: or a literal of 3+ characters");
			return;
		}
		det->lits = xmalloc(sizeof(char *));
		det->lits[0] = a;
		det->nlits = 1;
		det->anchor_derived = true;
	}
}

static void check_detector(struct rl_ctx *c, struct detector *det, bool *bad)
{
	struct ruleset *rs = c->rs;
	for (size_t i = 0; i < det->ncaps; i++) {
		struct capture_spec *cs = &det->caps[i];
		if (cs->type != CAP_ENUM)
			continue;
		const struct rl_reloc *rl = rl_find_reloc(c, cs->name);
		if (!rl || !rl->aux)
			continue;
		for (size_t t = 0; t < rs->ntables; t++)
			if (strcmp(rs->tables[t].name, rl->aux) == 0)
				cs->table = &rs->tables[t];
		if (cs->table)
			continue;
		const char **cands = xcalloc(rs->ntables ? rs->ntables : 1, sizeof(char *));
		for (size_t t = 0; t < rs->ntables; t++)
			cands[t] = rs->tables[t].name;
		const char *sug = rl_suggest(rl->aux, cands, rs->ntables);
		if (sug)
			rl_error_loc(c, &rl->loc, "unknown enum table '%s' (did you mean '%s'?)", rl->aux,
			             sug);
		else
			rl_error_loc(
			    c, &rl->loc,
			    "unknown enum table '%s' (define it under tables: in a kind: macros document)",
			    rl->aux);
		free(cands);
	}
	if (det->op == DET_REGEX && det->regex)
		check_regex(c, det, bad);
}

static void finish(struct rl_ctx *c)
{
	struct ruleset *rs = c->rs;
	bool *bad = xcalloc(c->nmacros ? c->nmacros : 1, sizeof(bool));
	check_macros(c, bad);
	for (size_t i = 0; i < rs->nrules; i++)
		for (size_t k = 0; k < rs->rules[i].ndets; k++)
			check_detector(c, &rs->rules[i].dets[k], bad);
	for (size_t i = 0; i < rs->nignores; i++)
		check_detector(c, &rs->ignores[i], bad);
	for (size_t i = 0; i < rs->nepochs; i++)
		check_detector(c, &rs->epochs[i].det, bad);
	free(bad);
	for (size_t i = 0; i < c->nmacros; i++) {
		free(c->macros[i].name);
		free(c->macros[i].text);
	}
	free(c->macros);
	for (size_t i = 0; i < c->nrelocs; i++)
		free(c->relocs[i].aux);
	free(c->relocs);
	c->macros = NULL;
	c->relocs = NULL;
}

static int done(struct rl_ctx *c)
{
	finish(c);
	if (c->y.nerrors) {
		rules_free(c->rs);
		return -1;
	}
	return 0;
}

int rules_load(struct ruleset *rs, const char *const *paths, size_t npaths, struct diags *d)
{
	memset(rs, 0, sizeof(*rs));
	struct rl_ctx c = {.rs = rs, .y.d = d};
	if (npaths == 0) {
		struct src_loc l = {0};
		rl_error_loc(&c, &l, "no rule files or directories given");
	}
	for (size_t i = 0; i < npaths; i++) {
		struct stat st;
		if (stat(paths[i], &st) < 0) {
			yx_file_error(&c.y, paths[i], "cannot open: %s", strerror(errno));
		} else if (S_ISDIR(st.st_mode)) {
			size_t nfound = 0;
			load_dir(&c, paths[i], 0, &nfound);
			if (!nfound)
				yx_file_error(&c.y, paths[i], "%s",
				              "no *.yaml or *.yml files in this directory");
		} else {
			load_file(&c, paths[i]);
		}
	}
	return done(&c);
}

int rules_load_string(struct ruleset *rs, const char *name, const char *yaml, struct diags *d)
{
	memset(rs, 0, sizeof(*rs));
	struct rl_ctx c = {.rs = rs, .y.d = d};
	const char *file = add_file(&c, name ? name : "<string>");
	load_stream(&c, file, yaml ? yaml : "", yaml ? strlen(yaml) : 0);
	return done(&c);
}
