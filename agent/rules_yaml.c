/*
 * rules_yaml.c — typed access to libyaml document nodes for the rule loader.
 *
 * Every getter either produces a value or reports one error at the node
 * that is wrong (1-based line and column; libyaml's marks are 0-based), so
 * the walkers above stay free of error plumbing and keep going after an
 * error to find the next one.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rules_priv.h"

struct src_loc rl_loc(const struct rl_ctx *c, const yaml_node_t *n)
{
	struct src_loc l = {.file = c->file, .line = 0, .col = 0};
	if (n) {
		l.line = (unsigned)n->start_mark.line + 1;
		l.col = (unsigned)n->start_mark.column + 1;
	}
	return l;
}

static void verror(struct rl_ctx *c, const struct src_loc *l, const char *fmt, va_list ap)
{
	c->nerrors++;
	if (c->nerrors > RL_MAX_ERRORS)
		return;
	if (c->nerrors == RL_MAX_ERRORS) {
		diags_add(c->d, DIAG_ERROR, l->file, l->line, l->col,
		          "too many errors; not reporting any more");
		return;
	}
	diags_vadd(c->d, DIAG_ERROR, l->file, l->line, l->col, fmt, ap);
}

void rl_error(struct rl_ctx *c, const yaml_node_t *n, const char *fmt, ...)
{
	struct src_loc l = rl_loc(c, n);
	va_list ap;
	va_start(ap, fmt);
	verror(c, &l, fmt, ap);
	va_end(ap);
}

void rl_error_loc(struct rl_ctx *c, const struct src_loc *loc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verror(c, loc, fmt, ap);
	va_end(ap);
}

yaml_node_t *rl_node(struct rl_ctx *c, int idx)
{
	return yaml_document_get_node(c->doc, idx);
}

const char *rl_type_name(const yaml_node_t *n)
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

bool rl_is_null(const yaml_node_t *n)
{
	if (!n || n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	const char *s = rl_sval(n);
	return !*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0;
}

int rl_check_keys(struct rl_ctx *c, const yaml_node_t *map, const char *const *allowed, size_t nallowed,
                  const char *what)
{
	int bad = 0;
	/* first-seen key node per allowed key, to catch repeats in O(n) */
	const yaml_node_t *seen[64] = {0};
	if (nallowed > ARRAY_LEN(seen))
		nallowed = ARRAY_LEN(seen);
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = rl_node(c, p->key);
		const char *ks = rl_sval(k);
		if (!ks) {
			rl_error(c, k, "a key in %s must be a string, not %s", what, rl_type_name(k));
			bad++;
			continue;
		}
		size_t i;
		for (i = 0; i < nallowed; i++)
			if (strcmp(ks, allowed[i]) == 0)
				break;
		if (i == nallowed) {
			const char *sug = rl_suggest(ks, allowed, nallowed);
			if (sug)
				rl_error(c, k, "unknown key '%s' in %s (did you mean '%s'?)", ks, what, sug);
			else
				rl_error(c, k, "unknown key '%s' in %s", ks, what);
			bad++;
			continue;
		}
		if (seen[i]) {
			rl_error(c, k, "duplicate key '%s' in %s (first at line %u)", ks, what,
			         (unsigned)seen[i]->start_mark.line + 1);
			bad++;
			continue;
		}
		seen[i] = k;
	}
	return bad;
}

yaml_node_t *rl_get(struct rl_ctx *c, const yaml_node_t *map, const char *key, yaml_node_t **keyn)
{
	if (keyn)
		*keyn = NULL;
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = rl_node(c, p->key);
		const char *ks = rl_sval(k);
		if (ks && strcmp(ks, key) == 0) {
			if (keyn)
				*keyn = k;
			return rl_node(c, p->value);
		}
	}
	return NULL;
}

int rl_expect_map(struct rl_ctx *c, const yaml_node_t *n, const char *what)
{
	if (n && n->type == YAML_MAPPING_NODE)
		return 0;
	rl_error(c, n, "%s must be a map, not %s", what, rl_type_name(n));
	return -1;
}

int rl_str(struct rl_ctx *c, const yaml_node_t *n, const char *what, bool allow_empty, char **out)
{
	const char *s = rl_sval(n);
	if (!s) {
		rl_error(c, n, "%s must be a string, not %s", what, rl_type_name(n));
		return -1;
	}
	if (rl_is_null(n))
		s = "";
	if (!*s && !allow_empty) {
		rl_error(c, n, "%s must not be empty", what);
		return -1;
	}
	if (strlen(s) != n->data.scalar.length) {
		rl_error(c, n, "%s must not contain a NUL byte", what);
		return -1;
	}
	*out = xstrdup(s);
	return 0;
}

int rl_strv(struct rl_ctx *c, const yaml_node_t *n, const char *what, bool single_ok, char ***out,
            size_t *nout)
{
	*out = NULL;
	*nout = 0;
	if (n && n->type == YAML_SCALAR_NODE && single_ok) {
		char *s;
		if (rl_str(c, n, what, false, &s) < 0)
			return -1;
		*out = xmalloc(sizeof(char *));
		(*out)[0] = s;
		*nout = 1;
		return 0;
	}
	if (!n || n->type != YAML_SEQUENCE_NODE) {
		rl_error(c, n, "%s must be %s, not %s", what,
		         single_ok ? "a string or a list of strings" : "a list of strings", rl_type_name(n));
		return -1;
	}
	size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (cnt > RL_MAX_LIST) {
		rl_error(c, n, "%s has too many items (%zu; at most %d)", what, cnt, RL_MAX_LIST);
		return -1;
	}
	char **v = xcalloc(cnt ? cnt : 1, sizeof(char *));
	size_t k = 0;
	int rc = 0;
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		yaml_node_t *item = rl_node(c, *it);
		char *s;
		if (item && item->type == YAML_SCALAR_NODE && (rl_is_null(item) || !*rl_sval(item))) {
			rl_error(c, item, "empty string in %s", what);
			rc = -1;
			continue;
		}
		if (rl_str(c, item, what, false, &s) < 0) {
			rc = -1;
			continue;
		}
		v[k++] = s;
	}
	if (rc < 0) {
		rl_free_strv(v, k);
		return -1;
	}
	*out = v;
	*nout = k;
	return 0;
}

int rl_bool(struct rl_ctx *c, const yaml_node_t *n, const char *what, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
	const char *s = rl_sval(n);
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
		rl_error(c, n, "%s must be true or false, not %s", what, rl_type_name(n));
	else
		rl_error(c, n, "%s must be true or false, not '%s'", what, s);
	return -1;
}

int rl_uint(struct rl_ctx *c, const yaml_node_t *n, const char *what, unsigned long max, unsigned long *out)
{
	const char *s = rl_sval(n);
	if (!s) {
		rl_error(c, n, "%s must be a number, not %s", what, rl_type_name(n));
		return -1;
	}
	char *end;
	errno = 0;
	unsigned long v = isdigit((unsigned char)s[0]) ? strtoul(s, &end, 10) : 0;
	if (!isdigit((unsigned char)s[0]) || *end || errno) {
		rl_error(c, n, "%s must be a whole number, not '%s'", what, s);
		return -1;
	}
	if (v > max) {
		rl_error(c, n, "%s must be at most %lu, not %s", what, max, s);
		return -1;
	}
	*out = v;
	return 0;
}

int rl_duration(struct rl_ctx *c, const yaml_node_t *n, const char *what, int64_t *out)
{
	const char *s = rl_sval(n);
	if (!s) {
		rl_error(c, n, "%s must be a duration, not %s", what, rl_type_name(n));
		return -1;
	}
	if (parse_duration(s, out) < 0) {
		rl_error(c, n, "bad duration '%s' for %s (use e.g. 250ms, 30s, 15m, 1h30m)", s, what);
		return -1;
	}
	return 0;
}

int rl_enum(struct rl_ctx *c, const yaml_node_t *n, const char *what, const char *const *names, size_t nnames)
{
	const char *s = rl_sval(n);
	if (s) {
		for (size_t i = 0; i < nnames; i++)
			if (strcmp(s, names[i]) == 0)
				return (int)i;
	}
	struct buf b = {0};
	for (size_t i = 0; i < nnames; i++)
		buf_printf(&b, "%s%s", i == 0 ? "" : i + 1 == nnames ? " or " : ", ", names[i]);
	if (!s)
		rl_error(c, n, "%s must be one of %s, not %s", what, b.data, rl_type_name(n));
	else
		rl_error(c, n, "bad %s '%s' (expected %s)", what, s, b.data);
	buf_free(&b);
	return -1;
}

struct src_loc rl_scalar_line_loc(const struct rl_ctx *c, const yaml_node_t *n, size_t k, const char *needle)
{
	struct src_loc l = rl_loc(c, n);
	if (!c->src || n->type != YAML_SCALAR_NODE)
		return l;
	size_t target;
	if (n->data.scalar.style == YAML_LITERAL_SCALAR_STYLE)
		target = n->start_mark.line + 1 + k; /* content starts below the '|' */
	else if (k == 0)
		target = n->start_mark.line;
	else
		return l; /* folded or escaped text: lines do not map to the source */
	const char *p = c->src, *end = c->src + c->srclen;
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

size_t rl_seq_len(const yaml_node_t *n)
{
	return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

size_t rl_map_len(const yaml_node_t *n)
{
	return (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
}

const char *rl_sval(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

void rl_missing(struct rl_ctx *c, const yaml_node_t *map, const char *key, const char *what)
{
	rl_error(c, map, "missing required key '%s' in %s", key, what);
}
