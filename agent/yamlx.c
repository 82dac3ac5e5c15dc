/*
 * yamlx.c — typed access to libyaml document nodes for the YAML loaders
 * (rules, watch config).
 *
 * Every getter either produces a value or reports one error at the node
 * that is wrong (1-based line and column; libyaml's marks are 0-based), so
 * the walkers above stay free of error plumbing and keep going after an
 * error to find the next one.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "yamlx.h"

struct src_loc yx_loc(const struct yamlx *y, const yaml_node_t *n)
{
	struct src_loc l = {.file = y->file, .line = 0, .col = 0};
	if (n) {
		l.line = (unsigned)n->start_mark.line + 1;
		l.col = (unsigned)n->start_mark.column + 1;
	}
	return l;
}

static void verror(struct yamlx *y, const struct src_loc *l, const char *fmt, va_list ap)
{
	y->nerrors++;
	if (y->nerrors > YX_MAX_ERRORS)
		return;
	if (y->nerrors == YX_MAX_ERRORS) {
		diags_add(y->d, DIAG_ERROR, l->file, l->line, l->col,
		          "too many errors; not reporting any more");
		return;
	}
	diags_vadd(y->d, DIAG_ERROR, l->file, l->line, l->col, fmt, ap);
}

void yx_file_error(struct yamlx *y, const char *file, const char *fmt, ...)
{
	struct src_loc l = {.file = file};
	va_list ap;
	va_start(ap, fmt);
	verror(y, &l, fmt, ap);
	va_end(ap);
}

void yx_parser_error(struct yamlx *y, const char *file, const yaml_parser_t *parser)
{
	struct src_loc l = {.file = file,
	                    .line = (unsigned)parser->problem_mark.line + 1,
	                    .col = (unsigned)parser->problem_mark.column + 1};
	yx_error_loc(y, &l, "YAML: %s%s%s", parser->problem ? parser->problem : "malformed input",
	             parser->context ? " " : "", parser->context ? parser->context : "");
}

/* A pass over the events before building documents: libyaml's loader takes
 * quadratic time on absurdly deep nesting, and no file of ours needs more
 * than a handful of levels. */
int yx_check_nesting(struct yamlx *y, const char *file, const char *text, size_t len)
{
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser)) {
		yx_file_error(y, file, "%s", "cannot start the YAML parser");
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	int rc = 0;
	unsigned depth = 0;
	for (;;) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&parser, &ev)) {
			yx_parser_error(y, file, &parser);
			rc = -1;
			break;
		}
		yaml_event_type_t t = ev.type;
		if (t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT) {
			if (++depth > YX_MAX_NESTING) {
				struct src_loc l = {.file = file,
				                    .line = (unsigned)ev.start_mark.line + 1,
				                    .col = (unsigned)ev.start_mark.column + 1};
				yx_error_loc(y, &l, "YAML nested more than %d levels deep", YX_MAX_NESTING);
				rc = -1;
			}
		} else if (t == YAML_SEQUENCE_END_EVENT || t == YAML_MAPPING_END_EVENT) {
			depth--;
		}
		yaml_event_delete(&ev);
		if (rc < 0 || t == YAML_STREAM_END_EVENT)
			break;
	}
	yaml_parser_delete(&parser);
	return rc;
}

void yx_error(struct yamlx *y, const yaml_node_t *n, const char *fmt, ...)
{
	struct src_loc l = yx_loc(y, n);
	va_list ap;
	va_start(ap, fmt);
	verror(y, &l, fmt, ap);
	va_end(ap);
}

void yx_error_loc(struct yamlx *y, const struct src_loc *loc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verror(y, loc, fmt, ap);
	va_end(ap);
}

yaml_node_t *yx_node(struct yamlx *y, int idx)
{
	return yaml_document_get_node(y->doc, idx);
}

const char *yx_type_name(const yaml_node_t *n)
{
	if (!n)
		return "nothing";
	switch (n->type) {
	case YAML_MAPPING_NODE:
		return "a map";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_SCALAR_NODE:
		return "a string";
	default:
		return "nothing";
	}
}

bool yx_is_null(const yaml_node_t *n)
{
	if (!n || n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	const char *s = yx_sval(n);
	return !*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0;
}

int yx_check_keys(struct yamlx *y, const yaml_node_t *map, const char *const *allowed, size_t nallowed,
                  const char *what)
{
	int bad = 0;
	/* first-seen key node per allowed key, to catch repeats in O(n) */
	const yaml_node_t *seen[64] = {0};
	if (nallowed > ARRAY_LEN(seen))
		nallowed = ARRAY_LEN(seen);
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yx_node(y, p->key);
		const char *ks = yx_sval(k);
		if (!ks) {
			yx_error(y, k, "a key in %s must be a string, not %s", what, yx_type_name(k));
			bad++;
			continue;
		}
		size_t i;
		for (i = 0; i < nallowed; i++)
			if (strcmp(ks, allowed[i]) == 0)
				break;
		if (i == nallowed) {
			const char *sug = yx_suggest(ks, allowed, nallowed);
			if (sug)
				yx_error(y, k, "unknown key '%s' in %s (did you mean '%s'?)", ks, what, sug);
			else
				yx_error(y, k, "unknown key '%s' in %s", ks, what);
			bad++;
			continue;
		}
		if (seen[i]) {
			yx_error(y, k, "duplicate key '%s' in %s (first at line %u)", ks, what,
			         (unsigned)seen[i]->start_mark.line + 1);
			bad++;
			continue;
		}
		seen[i] = k;
	}
	return bad;
}

yaml_node_t *yx_get(struct yamlx *y, const yaml_node_t *map, const char *key, yaml_node_t **keyn)
{
	if (keyn)
		*keyn = NULL;
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yx_node(y, p->key);
		const char *ks = yx_sval(k);
		if (ks && strcmp(ks, key) == 0) {
			if (keyn)
				*keyn = k;
			return yx_node(y, p->value);
		}
	}
	return NULL;
}

int yx_expect_map(struct yamlx *y, const yaml_node_t *n, const char *what)
{
	if (n && n->type == YAML_MAPPING_NODE)
		return 0;
	yx_error(y, n, "%s must be a map, not %s", what, yx_type_name(n));
	return -1;
}

int yx_str(struct yamlx *y, const yaml_node_t *n, const char *what, bool allow_empty, char **out)
{
	const char *s = yx_sval(n);
	if (!s) {
		yx_error(y, n, "%s must be a string, not %s", what, yx_type_name(n));
		return -1;
	}
	if (yx_is_null(n))
		s = "";
	if (!*s && !allow_empty) {
		yx_error(y, n, "%s must not be empty", what);
		return -1;
	}
	if (strlen(s) != n->data.scalar.length) {
		yx_error(y, n, "%s must not contain a NUL byte", what);
		return -1;
	}
	*out = xstrdup(s);
	return 0;
}

int yx_strv(struct yamlx *y, const yaml_node_t *n, const char *what, bool single_ok, char ***out,
            size_t *nout)
{
	*out = NULL;
	*nout = 0;
	if (n && n->type == YAML_SCALAR_NODE && single_ok) {
		char *s;
		if (yx_str(y, n, what, false, &s) < 0)
			return -1;
		*out = xmalloc(sizeof(char *));
		(*out)[0] = s;
		*nout = 1;
		return 0;
	}
	if (!n || n->type != YAML_SEQUENCE_NODE) {
		yx_error(y, n, "%s must be %s, not %s", what,
		         single_ok ? "a string or a list of strings" : "a list of strings", yx_type_name(n));
		return -1;
	}
	size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (cnt > YX_MAX_LIST) {
		yx_error(y, n, "%s has too many items (%zu; at most %d)", what, cnt, YX_MAX_LIST);
		return -1;
	}
	char **v = xcalloc(cnt ? cnt : 1, sizeof(char *));
	size_t k = 0;
	int rc = 0;
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		yaml_node_t *item = yx_node(y, *it);
		char *s;
		if (item && item->type == YAML_SCALAR_NODE && (yx_is_null(item) || !*yx_sval(item))) {
			yx_error(y, item, "empty string in %s", what);
			rc = -1;
			continue;
		}
		if (yx_str(y, item, what, false, &s) < 0) {
			rc = -1;
			continue;
		}
		v[k++] = s;
	}
	if (rc < 0) {
		yx_free_strv(v, k);
		return -1;
	}
	*out = v;
	*nout = k;
	return 0;
}

int yx_bool(struct yamlx *y, const yaml_node_t *n, const char *what, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
	const char *s = yx_sval(n);
	for (size_t i = 0; s && i < ARRAY_LEN(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	if (!s)
		yx_error(y, n, "%s must be true or false, not %s", what, yx_type_name(n));
	else
		yx_error(y, n, "%s must be true or false, not '%s'", what, s);
	return -1;
}

int yx_uint(struct yamlx *y, const yaml_node_t *n, const char *what, unsigned long max, unsigned long *out)
{
	const char *s = yx_sval(n);
	if (!s) {
		yx_error(y, n, "%s must be a number, not %s", what, yx_type_name(n));
		return -1;
	}
	char *end;
	errno = 0;
	unsigned long v = isdigit((unsigned char)s[0]) ? strtoul(s, &end, 10) : 0;
	if (!isdigit((unsigned char)s[0]) || *end || errno) {
		yx_error(y, n, "%s must be a whole number, not '%s'", what, s);
		return -1;
	}
	if (v > max) {
		yx_error(y, n, "%s must be at most %lu, not %s", what, max, s);
		return -1;
	}
	*out = v;
	return 0;
}

int yx_duration(struct yamlx *y, const yaml_node_t *n, const char *what, int64_t *out)
{
	const char *s = yx_sval(n);
	if (!s) {
		yx_error(y, n, "%s must be a duration, not %s", what, yx_type_name(n));
		return -1;
	}
	if (parse_duration(s, out) < 0) {
		yx_error(y, n, "bad duration '%s' for %s (use e.g. 250ms, 30s, 15m, 1h30m)", s, what);
		return -1;
	}
	return 0;
}

int yx_enum(struct yamlx *y, const yaml_node_t *n, const char *what, const char *const *names, size_t nnames)
{
	const char *s = yx_sval(n);
	if (s) {
		for (size_t i = 0; i < nnames; i++)
			if (strcmp(s, names[i]) == 0)
				return (int)i;
	}
	struct buf b = {0};
	for (size_t i = 0; i < nnames; i++)
		buf_printf(&b, "%s%s", i == 0 ? "" : i + 1 == nnames ? " or " : ", ", names[i]);
	if (!s)
		yx_error(y, n, "%s must be one of %s, not %s", what, b.data, yx_type_name(n));
	else
		yx_error(y, n, "bad %s '%s' (expected %s)", what, s, b.data);
	buf_free(&b);
	return -1;
}

struct src_loc yx_scalar_line_loc(const struct yamlx *y, const yaml_node_t *n, size_t k, const char *needle)
{
	struct src_loc l = yx_loc(y, n);
	if (!y->src || n->type != YAML_SCALAR_NODE)
		return l;
	size_t target;
	if (n->data.scalar.style == YAML_LITERAL_SCALAR_STYLE)
		target = n->start_mark.line + 1 + k; /* content starts below the '|' */
	else if (k == 0)
		target = n->start_mark.line;
	else
		return l; /* folded or escaped text: lines do not map to the source */
	const char *p = y->src, *end = y->src + y->srclen;
	for (size_t i = 0; i < target && p < end; i++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			return l;
		p = nl + 1;
	}
	const char *eol = memchr(p, '\n', (size_t)(end - p));
	if (!eol)
		eol = end;
	const char *from = p;
	if (target == n->start_mark.line)
		from = p + n->start_mark.column < eol ? p + n->start_mark.column : eol;
	const char *hit =
	    needle && *needle ? memmem(from, (size_t)(eol - from), needle, strlen(needle)) : NULL;
	if (!hit)
		return l;
	l.line = (unsigned)target + 1;
	l.col = (unsigned)(hit - p) + 1;
	return l;
}

size_t yx_seq_len(const yaml_node_t *n)
{
	return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

size_t yx_map_len(const yaml_node_t *n)
{
	return (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
}

const char *yx_sval(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

void yx_missing(struct yamlx *y, const yaml_node_t *map, const char *key, const char *what)
{
	yx_error(y, map, "missing required key '%s' in %s", key, what);
}

void yx_free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Levenshtein distance, case-insensitive, giving up beyond 64 bytes (a
 * suggestion for a name that long is not worth the work). */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64)
		return SIZE_MAX;
	size_t prev[65], cur[65];
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cost =
			    tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]) ? 0 : 1;
			size_t v = prev[j - 1] + cost;
			if (prev[j] + 1 < v)
				v = prev[j] + 1;
			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			cur[j] = v;
		}
		memcpy(prev, cur, (lb + 1) * sizeof(prev[0]));
	}
	return prev[lb];
}

const char *yx_suggest(const char *s, const char *const *cands, size_t n)
{
	const char *best = NULL;
	size_t bestd = SIZE_MAX;
	size_t len = strlen(s);
	/* close enough to be a typo, not a different word */
	size_t limit = len <= 3 ? 1 : len <= 6 ? 2 : 3;
	for (size_t i = 0; i < n; i++) {
		if (!cands[i])
			continue;
		size_t d = edit_distance(s, cands[i]);
		if (d <= limit && d < bestd && d < strlen(cands[i])) {
			best = cands[i];
			bestd = d;
		}
	}
	return best;
}

size_t yx_each_document(struct yamlx *y, const char *file, const char *text, size_t len, size_t max_docs,
                        yx_doc_fn fn, void *ctx)
{
	if (yx_check_nesting(y, file, text, len) < 0)
		return 0;
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser)) {
		yx_file_error(y, file, "%s", "cannot start the YAML parser");
		return 0;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	y->file = file;
	y->src = text;
	y->srclen = len;
	size_t ndocs = 0;
	for (;;) {
		yaml_document_t doc;
		if (!yaml_parser_load(&parser, &doc)) {
			yx_parser_error(y, file, &parser);
			break;
		}
		yaml_node_t *root = yaml_document_get_root_node(&doc);
		if (!root) { /* end of the stream */
			yaml_document_delete(&doc);
			break;
		}
		bool more = true;
		y->doc = &doc;
		if (ndocs >= max_docs) {
			yx_error(y, root, "too many documents in one file (at most %zu)", max_docs);
			more = false;
		} else {
			more = fn(ctx, root, ndocs++);
		}
		y->doc = NULL;
		yaml_document_delete(&doc);
		if (!more)
			break;
	}
	yaml_parser_delete(&parser);
	y->src = NULL;
	y->srclen = 0;
	return ndocs;
}
