/*
 * rules_tests.c — a rule's embedded tests: fields, and the input checks that
 * catch a test that could never mean what it says (malformed @+ clock marks,
 * @+ marks under clock: log, bad escapes) before the runner sees it.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rules_priv.h"

static const char *const expect_names[] = {"fire", "no_fire", "uncertain", "pending", "resolved"};

static bool valid_escape(const char *p, size_t *len)
{
	/* p points after the backslash */
	if (strchr("rnteab\\", *p) && *p) {
		*len = 1;
		return true;
	}
	if (*p == 'x' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])) {
		*len = 3;
		return true;
	}
	return false;
}

static void check_test_input(struct rl_ctx *c, const yaml_node_t *n, struct rule_test *t)
{
	const char *s = t->input;
	size_t k = 0;
	while (*s) {
		const char *eol = strchr(s, '\n');
		size_t len = eol ? (size_t)(eol - s) : strlen(s);
		const char *p = s;
		while (p < s + len && (*p == ' ' || *p == '\t'))
			p++;
		if ((size_t)(s + len - p) >= 2 && p[0] == '@' && p[1] == '+') {
			struct src_loc l = rl_scalar_line_loc(c, n, k, "@+");
			size_t ml = (size_t)(s + len - p);
			while (ml > 2 && (p[ml - 1] == ' ' || p[ml - 1] == '\t' || p[ml - 1] == '\r'))
				ml--;
			char *mark = xstrndup(p, ml);
			int64_t ns;
			if (t->clock_log)
				rl_error_loc(c, &l,
				             "'%s': clock: log tests take time from the lines' timestamps, "
				             "not @+ marks",
				             mark);
			else if (parse_duration(mark + 2, &ns) < 0)
				rl_error_loc(c, &l,
				             "malformed clock mark '%s' (expected @+DURATION alone on a "
				             "line, e.g. @+31m)",
				             mark);
			free(mark);
		}
		if (t->escapes) {
			for (const char *q = s; q < s + len; q++) {
				if (*q != '\\')
					continue;
				size_t el;
				if (!valid_escape(q + 1, &el) || q + 1 + el > s + len) {
					struct src_loc l = rl_scalar_line_loc(c, n, k, "\\");
					rl_error_loc(c, &l,
					             "bad escape '\\%c' in input (use \\r \\n \\t \\e \\a "
					             "\\b \\\\ \\xHH)",
					             q + 1 < s + len ? q[1] : ' ');
					break;
				}
				q += el;
			}
		}
		k++;
		s += len;
		if (*s == '\n')
			s++;
	}
}

static void parse_test(struct rl_ctx *c, const yaml_node_t *n, struct rule *r, struct rule_test *t)
{
	static const char *const keys[] = {"name",     "input", "expect",  "count",
	                                   "captures", "title", "escapes", "clock"};
	t->loc = rl_loc(c, n);
	t->count = -1;
	if (rl_expect_map(c, n, "a test") < 0)
		return;
	rl_check_keys(c, n, keys, ARRAY_LEN(keys), "a test");
	yaml_node_t *v, *input = rl_get(c, n, "input", NULL);
	if ((v = rl_get(c, n, "name", NULL))) {
		if (rl_str(c, v, "test name", false, &t->name) == 0) {
			for (size_t i = 0; i + 1 < r->ntests; i++)
				if (r->tests[i].name && strcmp(r->tests[i].name, t->name) == 0)
					rl_error(c, v, "duplicate test name '%s'", t->name);
		}
	} else {
		rl_missing(c, n, "name", "a test");
	}
	if ((v = rl_get(c, n, "expect", NULL))) {
		int e = rl_enum(c, v, "expect", expect_names, ARRAY_LEN(expect_names));
		if (e >= 0)
			t->expect = (enum test_expect)e;
	} else {
		rl_missing(c, n, "expect", "a test");
	}
	if ((v = rl_get(c, n, "count", NULL))) {
		unsigned long cnt;
		if (rl_uint(c, v, "count", 1000000, &cnt) == 0)
			t->count = (int)cnt;
	}
	if ((v = rl_get(c, n, "title", NULL)))
		rl_str(c, v, "title", true, &t->title);
	if ((v = rl_get(c, n, "escapes", NULL)))
		rl_bool(c, v, "escapes", &t->escapes);
	if ((v = rl_get(c, n, "clock", NULL))) {
		static const char *const clocks[] = {"virtual", "log"};
		t->clock_log = rl_enum(c, v, "clock", clocks, 2) == 1;
	}
	if ((v = rl_get(c, n, "captures", NULL)) && rl_expect_map(c, v, "captures") == 0) {
		size_t cnt = rl_map_len(v);
		t->captures = xcalloc(cnt ? cnt : 1, sizeof(*t->captures));
		for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
			yaml_node_t *k = rl_node(c, p->key), *val = rl_node(c, p->value);
			struct kv *kv = &t->captures[t->ncaptures];
			if (rl_str(c, k, "a capture name", false, &kv->key) < 0)
				continue;
			if (rl_str(c, val, "an expected capture value", true, &kv->value) < 0) {
				free(kv->key);
				kv->key = NULL;
				continue;
			}
			t->ncaptures++;
			if (!rl_rule_has_capture(r, kv->key))
				rl_unknown_capture(c, k, r, kv->key, "captures");
		}
	}
	if (input) {
		if (rl_str(c, input, "input", true, &t->input) == 0)
			check_test_input(c, input, t);
	} else {
		rl_missing(c, n, "input", "a test");
	}
}

void rl_parse_tests(struct rl_ctx *c, const yaml_node_t *n, struct rule *r)
{
	if (n->type != YAML_SEQUENCE_NODE) {
		rl_error(c, n, "tests must be a list, not %s", rl_type_name(n));
		return;
	}
	size_t cnt = rl_seq_len(n);
	if (cnt > 1024) {
		rl_error(c, n, "too many tests (%zu; at most 1024)", cnt);
		return;
	}
	r->tests = xcalloc(cnt ? cnt : 1, sizeof(*r->tests));
	for (size_t i = 0; i < cnt; i++) {
		r->ntests++;
		parse_test(c, rl_node(c, n->data.sequence.items.start[i]), r, &r->tests[i]);
	}
}
