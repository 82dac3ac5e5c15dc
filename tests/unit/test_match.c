/* test_match.c — the matcher: every operator and option, captures, EMS
 * records, batching across flushes, the overflow path, callback order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "emsagent/match.h"
#include "mkrules.h"

/* ---- a recorder for callbacks ---- */

struct rec_cap {
	char name[64];
	char value[MATCH_CAP_VALUE_MAX];
	bool has_num;
	int64_t num;
};

struct rec_hit {
	uint32_t slot;
	enum det_owner owner;
	int rule, idx;
	size_t start, end;
	struct rec_cap *caps; /* malloc'd, ncaps */
	size_t ncaps;
};

struct rec_item {
	bool ems;
	char text[512];
	uint64_t lineno;
	enum ems_kind kind;
	struct rec_hit *hits; /* malloc'd, nhits */
	size_t nhits;
	bool nul_ok; /* text[len] was NUL */
};

struct recorder {
	struct rec_item *v;
	size_t n, cap;
	/* reentrancy test: push this line from the first line callback */
	struct match_stream *ms;
	bool push_once;
};

static void rec_hits(struct rec_item *it, const struct match_hit *hits, size_t nhits)
{
	it->nhits = nhits;
	it->hits = nhits ? xcalloc(nhits, sizeof(*it->hits)) : NULL;
	for (size_t i = 0; i < nhits; i++) {
		struct rec_hit *h = &it->hits[i];
		h->slot = hits[i].slot;
		h->owner = hits[i].s->owner;
		h->rule = hits[i].s->rule;
		h->idx = hits[i].s->idx;
		h->start = hits[i].start;
		h->end = hits[i].end;
		h->ncaps = hits[i].ncaps;
		h->caps = h->ncaps ? xcalloc(h->ncaps, sizeof(*h->caps)) : NULL;
		for (size_t c = 0; c < hits[i].ncaps; c++) {
			snprintf(h->caps[c].name, sizeof(h->caps[c].name), "%s", hits[i].caps[c].name);
			snprintf(h->caps[c].value, sizeof(h->caps[c].value), "%s", hits[i].caps[c].value);
			h->caps[c].has_num = hits[i].caps[c].has_num;
			h->caps[c].num = hits[i].caps[c].num;
		}
	}
}

static struct rec_item *rec_new(struct recorder *r)
{
	xgrow((void **)&r->v, &r->cap, r->n + 1, sizeof(*r->v));
	struct rec_item *it = &r->v[r->n++];
	memset(it, 0, sizeof(*it));
	return it;
}

static void on_line(void *ctx, const struct line *ln, const struct match_hit *hits, size_t nhits)
{
	struct recorder *r = ctx;
	struct rec_item *it = rec_new(r);
	size_t n = ln->len < sizeof(it->text) - 1 ? ln->len : sizeof(it->text) - 1;
	memcpy(it->text, ln->text, n);
	it->text[n] = '\0';
	it->lineno = ln->lineno;
	it->nul_ok = ln->text[ln->len] == '\0';
	if (nhits)
		assert_non_null(hits);
	rec_hits(it, hits, nhits);
	if (r->push_once && r->ms) {
		r->push_once = false;
		struct line extra = {.text = "pushed from callback foo", .len = 24, .lineno = 999};
		match_push(r->ms, &extra);
	}
}

static void on_ems(void *ctx, const struct ems_record *rec, const struct match_hit *hits, size_t nhits)
{
	struct recorder *r = ctx;
	struct rec_item *it = rec_new(r);
	it->ems = true;
	it->kind = rec->kind;
	rec_hits(it, hits, nhits);
}

static void rec_free(struct recorder *r)
{
	for (size_t i = 0; i < r->n; i++) {
		for (size_t k = 0; k < r->v[i].nhits; k++)
			free(r->v[i].hits[k].caps);
		free(r->v[i].hits);
	}
	free(r->v);
	memset(r, 0, sizeof(*r));
}

/* A compiled set with a stream that records into r. */
struct fix {
	struct ruleset rs;
	struct match_db *db;
	struct match_stream *ms;
	struct recorder r;
	struct diags d;
};

static void fix_open(struct fix *f)
{
	f->db = match_compile(&f->rs, &f->d);
	if (!f->db)
		diags_print(&f->d, stderr);
	assert_non_null(f->db);
	assert_int_equal(f->d.nerrors, 0);
	f->ms = match_stream_new(f->db, on_line, on_ems, &f->r);
	assert_non_null(f->ms);
	f->r.ms = f->ms;
}

static void fix_close(struct fix *f)
{
	match_stream_free(f->ms);
	match_db_free(f->db);
	mk_free(&f->rs);
	diags_free(&f->d);
	rec_free(&f->r);
}

static void push_full(struct fix *f, const char *text, size_t body, unsigned flags, uint64_t lineno)
{
	struct line ln = {.text = text, .len = strlen(text), .body = body, .lineno = lineno, .flags = flags};
	match_push(f->ms, &ln);
}

static void push(struct fix *f, const char *text)
{
	push_full(f, text, 0, 0, f->r.n + 1);
}

/* Pushes one line, flushes, and returns its record. */
static const struct rec_item *one(struct fix *f, const char *text)
{
	size_t before = f->r.n;
	push(f, text);
	match_flush(f->ms);
	assert_int_equal(f->r.n, before + 1);
	return &f->r.v[before];
}

static const struct rec_hit *hit_of(const struct rec_item *it, uint32_t slot)
{
	for (size_t i = 0; i < it->nhits; i++)
		if (it->hits[i].slot == slot)
			return &it->hits[i];
	return NULL;
}

static const struct rec_cap *cap_of(const struct rec_hit *h, const char *name)
{
	for (size_t i = 0; i < h->ncaps; i++)
		if (strcmp(h->caps[i].name, name) == 0)
			return &h->caps[i];
	return NULL;
}

/* ---- operators ---- */

static void test_contains(void **state)
{
	(void)state;
	struct fix f = {0};
	int r = mk_rule(&f.rs, "R");
	mk_det(&f.rs, r, "a", DET_CONTAINS, "foo", "bar", NULL);
	fix_open(&f);
	uint32_t s = match_db_rule_slot(f.db, 0, 0);
	assert_int_equal(s, 0);

	const struct rec_item *it = one(&f, "xx bar yy foo");
	assert_int_equal(it->nhits, 1);
	assert_int_equal(it->hits[0].slot, s);
	assert_int_equal(it->hits[0].owner, OWNER_RULE);
	assert_int_equal(it->hits[0].rule, 0);
	assert_int_equal(it->hits[0].idx, 0);
	/* the earliest occurrence of any alternative */
	assert_int_equal(it->hits[0].start, 3);
	assert_int_equal(it->hits[0].end, 6);
	assert_true(it->nul_ok);

	it = one(&f, "nothing here, FOO is another case");
	assert_int_equal(it->nhits, 0);
	it = one(&f, "foofoofoo");
	assert_int_equal(it->nhits, 1);
	assert_int_equal(it->hits[0].start, 0);
	fix_close(&f);
}

static void test_prefix_and_line(void **state)
{
	(void)state;
	struct fix f = {0};
	int r = mk_rule(&f.rs, "R");
	mk_det(&f.rs, r, "p", DET_PREFIX, "SAC>", NULL);
	mk_det(&f.rs, r, "l", DET_LINE, "grub rescue>", "Done ", NULL);
	fix_open(&f);

	const struct rec_item *it = one(&f, "SAC> cmd");
	assert_int_equal(it->nhits, 1);
	assert_int_equal(it->hits[0].idx, 0);
	assert_int_equal(it->hits[0].start, 0);
	assert_int_equal(it->hits[0].end, 4);
	assert_int_equal(one(&f, " SAC>")->nhits, 0);
	assert_int_equal(one(&f, "x SAC> SAC>")->nhits, 0);

	/* whole line; trailing blanks ignored on both sides */
	it = one(&f, "grub rescue>  \t");
	assert_int_equal(it->nhits, 1);
	assert_int_equal(it->hits[0].idx, 1);
	assert_int_equal(it->hits[0].start, 0);
	assert_int_equal(it->hits[0].end, 12);
	assert_int_equal(one(&f, "Done")->nhits, 1);
	assert_int_equal(one(&f, "Done.")->nhits, 0);
	assert_int_equal(one(&f, " grub rescue>")->nhits, 0);
	assert_int_equal(one(&f, "grub rescue> ls")->nhits, 0);
	fix_close(&f);
}

static void test_fullword(void **state)
{
	(void)state;
	struct fix f = {0};
	int r = mk_rule(&f.rs, "R");
	mk_det(&f.rs, r, "w", DET_FULLWORD, "panic", NULL);
	fix_open(&f);

	assert_int_equal(one(&f, "panicked")->nhits, 0);
	assert_int_equal(one(&f, "nopanic")->nhits, 0);
	assert_int_equal(one(&f, "x_panic panic_x panic9 9panic")->nhits, 0);
	const struct rec_item *it = one(&f, "panic");
	assert_int_equal(it->nhits, 1);
	assert_int_equal(it->hits[0].start, 0);
	assert_int_equal(it->hits[0].end, 5);
	/* not the first occurrence but the first whole word */
	it = one(&f, "panicky kernel: panic.");
	assert_int_equal(it->nhits, 1);
	assert_int_equal(it->hits[0].start, 16);
	it = one(&f, "at the end -panic");
	assert_int_equal(it->nhits, 1);
	assert_int_equal(it->hits[0].start, 12);
	/* overlapping candidates: "panicpanic panic" */
	it = one(&f, "panicpanic panic");
	assert_int_equal(it->nhits, 1);
	assert_int_equal(it->hits[0].start, 11);
	fix_close(&f);
}

static void test_nocase(void **state)
{
	(void)state;
	struct fix f = {0};
	int r = mk_rule(&f.rs, "R");
	struct detector *d = mk_det(&f.rs, r, "a", DET_CONTAINS, "Kernel Panic", NULL);
	d->nocase = true;
	d = mk_det(&f.rs, r, "b", DET_CONTAINS, "kernel panic", NULL); /* case-sensitive */
	d = mk_det(&f.rs, r, "c", DET_FULLWORD, "OOPS", NULL);
	d->nocase = true;
	d = mk_det(&f.rs, r, "d", DET_LINE, "login:", NULL);
	d->nocase = true;
	fix_open(&f);

	const struct rec_item *it = one(&f, "KERNEL PANIC - not syncing");
	assert_int_equal(it->nhits, 1);
	assert_int_equal(it->hits[0].idx, 0);
	it = one(&f, "kernel panic");
	assert_int_equal(it->nhits, 2);
	assert_int_equal(it->hits[0].idx, 0);
	assert_int_equal(it->hits[1].idx, 1);
	it = one(&f, "an oops here");
	assert_int_equal(it->nhits, 1);
	assert_int_equal(it->hits[0].idx, 2);
	assert_int_equal(one(&f, "whoops")->nhits, 0);
	it = one(&f, "LOGIN:  ");
	assert_int_equal(it->nhits, 1);
	assert_int_equal(it->hits[0].idx, 3);
	fix_close(&f);
}

static void test_caseless_dedupe(void **state)
{
	(void)state;
	struct fix f = {0};
	int r = mk_rule(&f.rs, "R");
	struct detector *d = mk_det(&f.rs, r, "a", DET_CONTAINS, "Stop Code", NULL);
	d->nocase = true;
	d = mk_det(&f.rs, r, "b", DET_CONTAINS, "STOP CODE", NULL);
	d->nocase = true;
	mk_det(&f.rs, r, "c", DET_CONTAINS, "Stop Code", NULL);
	mk_det(&f.rs, r, "d", DET_CONTAINS, "Stop Code", "Stop Code", NULL); /* repeated literal */
	fix_open(&f);

	const struct rec_item *it = one(&f, "the stop code is");
	assert_int_equal(it->nhits, 2);
	assert_int_equal(it->hits[0].idx, 0);
	assert_int_equal(it->hits[1].idx, 1);
	it = one(&f, "Stop Code");
	assert_int_equal(it->nhits, 4);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(it->hits[i].idx, (int)i);
	fix_close(&f);
}

static void test_line_start_and_body(void **state)
{
	(void)state;
	struct fix f = {0};
	int r = mk_rule(&f.rs, "R");
	struct detector *d = mk_det(&f.rs, r, "ls", DET_CONTAINS, "Kernel panic", NULL);
	d->line_start = true;
	mk_det(&f.rs, r, "any", DET_CONTAINS, "12.5", NULL);
	mk_det(&f.rs, r, "pre", DET_PREFIX, "Kernel", NULL);
	d = mk_det(&f.rs, r, "fw", DET_FULLWORD, "Kernel", NULL);
	d->line_start = true;
	mk_det(&f.rs, r, "whole", DET_LINE, "Kernel panic", NULL);
	fix_open(&f);

	/* the body starts after a printk stamp: "[   12.5] " is 10 bytes */
	const char *t = "[   12.5] Kernel panic";
	push_full(&f, t, 10, 0, 1);
	/* same text without a known body: nothing is at the start */
	push_full(&f, t, 0, 0, 2);
	/* a match later in the body is not at line start */
	push_full(&f, "[   12.5] a Kernel panic", 10, 0, 3);
	match_flush(f.ms);
	assert_int_equal(f.r.n, 3);

	const struct rec_item *it = &f.r.v[0];
	assert_int_equal(it->nhits, 4);
	assert_int_equal(it->hits[0].idx, 0);
	assert_int_equal(it->hits[0].start, 10);
	assert_int_equal(it->hits[0].end, 22);
	assert_int_equal(it->hits[1].idx, 2);
	assert_int_equal(it->hits[2].idx, 3);
	assert_int_equal(it->hits[3].idx, 4);
	assert_int_equal(it->hits[3].start, 10);
	assert_int_equal(it->hits[3].end, 22);
	/* "12.5" is only in the timestamp prefix: not seen */
	assert_null(hit_of(it, 1));

	it = &f.r.v[1];
	assert_int_equal(it->nhits, 1);
	assert_int_equal(it->hits[0].idx, 1);
	assert_int_equal(it->hits[0].start, 4);

	it = &f.r.v[2];
	assert_int_equal(it->nhits, 0);
	fix_close(&f);
}

static void test_body_past_end(void **state)
{
	(void)state;
	struct fix f = {0};
	int r = mk_rule(&f.rs, "R");
	mk_det(&f.rs, r, "a", DET_CONTAINS, "abc", NULL);
	fix_open(&f);
	/* a body offset past the text is clamped, not trusted */
	push_full(&f, "abc", 99, 0, 1);
	match_flush(f.ms);
	assert_int_equal(f.r.n, 1);
	assert_int_equal(f.r.v[0].nhits, 0);
	fix_close(&f);
}

static void test_partial(void **state)
{
	(void)state;
	struct fix f = {0};
	int r = mk_rule(&f.rs, "R");
	struct detector *d = mk_det(&f.rs, r, "prompt", DET_PREFIX, "SAC>", NULL);
	d->partial = true;
	mk_det(&f.rs, r, "plain", DET_CONTAINS, "SAC>", NULL);
	d = mk_regex(&f.rs, r, "re", "^SAC>$", "SAC>", NULL);
	d->partial = true;
	fix_open(&f);

	push_full(&f, "SAC>", 0, LINE_PARTIAL, 0);
	push_full(&f, "SAC>", 0, 0, 1);
	match_flush(f.ms);
	assert_int_equal(f.r.n, 2);
	const struct rec_item *it = &f.r.v[0];
	assert_int_equal(it->nhits, 2);
	assert_int_equal(it->hits[0].idx, 0);
	assert_int_equal(it->hits[1].idx, 2);
	it = &f.r.v[1];
	assert_int_equal(it->nhits, 3);
	fix_close(&f);
}

static void test_unless(void **state)
{
	(void)state;
	struct fix f = {0};
	int r = mk_rule(&f.rs, "R");
	struct detector *d = mk_det(&f.rs, r, "a", DET_CONTAINS, "error", NULL);
	mk_unless(d, "grep ", "# echo", NULL);
	d = mk_det(&f.rs, r, "b", DET_CONTAINS, "FAILED", NULL);
	d->nocase = true;
	mk_unless(d, "ignored", NULL);
	d = mk_regex(&f.rs, r, "c", "code (?<c>[0-9]+)", "code ", NULL);
	mk_unless(d, "test", NULL);
	fix_open(&f);

	assert_int_equal(one(&f, "disk error")->nhits, 1);
	assert_int_equal(one(&f, "grep error /var/log")->nhits, 0);
	assert_int_equal(one(&f, "error # echo")->nhits, 0);
	/* unless follows nocase */
	assert_int_equal(one(&f, "failed, IGNORED")->nhits, 0);
	assert_int_equal(one(&f, "failed")->nhits, 1);
	assert_int_equal(one(&f, "code 12")->nhits, 1);
	assert_int_equal(one(&f, "test code 12")->nhits, 0);
	fix_close(&f);
}

static void test_regex(void **state)
{
	(void)state;
	struct fix f = {0};
	int r = mk_rule(&f.rs, "R");
	mk_regex(&f.rs, r, "hung", "task (?<task>\\S+):(?<pid>[0-9]+) blocked for more than (?<secs>[0-9]+)",
	         "blocked for more than", NULL);
	struct detector *d = mk_regex(&f.rs, r, "anch", "Oops: [0-9a-f]{4}", "Oops:", NULL);
	d->line_start = true;
	d = mk_regex(&f.rs, r, "nc", "bug at (?<f>[a-z]+)\\.c", "bug at", NULL);
	d->nocase = true;
	/* no anchor at all: tried on every line */
	mk_regex(&f.rs, r, "free", "^[0-9]{3}$", NULL);
	fix_open(&f);

	const struct rec_item *it = one(&f, "INFO: task kworker/0:1:123 blocked for more than 120 seconds.");
	assert_int_equal(it->nhits, 1);
	assert_int_equal(it->hits[0].idx, 0);
	assert_int_equal(it->hits[0].start, 6);
	/* named groups without capture: declarations are not returned */
	assert_int_equal(it->hits[0].ncaps, 0);

	/* anchor present, regex does not match: no hit */
	assert_int_equal(one(&f, "INFO: task blocked for more than a while")->nhits, 0);
	/* anchored regex: at line start only */
	assert_int_equal(one(&f, "Oops: 0002 [#1] SMP")->nhits, 1);
	assert_int_equal(one(&f, "x Oops: 0002 [#1] SMP")->nhits, 0);
	assert_int_equal(one(&f, "Oops: zzzz")->nhits, 0);
	/* caseless regex and anchor */
	it = one(&f, "kernel BUG AT MM.C:12");
	assert_int_equal(it->nhits, 1);
	assert_int_equal(it->hits[0].idx, 2);
	it = one(&f, "123");
	assert_int_equal(it->nhits, 1);
	assert_int_equal(it->hits[0].idx, 3);
	assert_int_equal(one(&f, "1234")->nhits, 0);
	fix_close(&f);
}

/* ---- captures ---- */

static void test_captures(void **state)
{
	(void)state;
	struct fix f = {0};
	struct enum_table *t =
	    mk_table(&f.rs, "bugcheck", "0xE2", "MANUALLY_INITIATED_CRASH", "0x9F",
	             "DRIVER_POWER_STATE_FAILURE", "d1", "DRIVER_IRQL", "Ready", "READY_STATE", NULL);
	int r = mk_rule(&f.rs, "R");
	struct detector *d =
	    mk_regex(&f.rs, r, "stop",
	             "STOP: (?<code>[0-9A-Fa-fx]+) \\((?<arg>[^)]*)\\) (?<pct>\\S+)% (?<name>\\w+)"
	             "(?: (?<opt>opt))?",
	             "STOP: ", NULL);
	mk_cap(d, "code", CAP_HEX, NULL);
	mk_cap(d, "arg", CAP_STR, NULL);
	mk_cap(d, "pct", CAP_INT, NULL);
	mk_cap(d, "name", CAP_ENUM, t);
	mk_cap(d, "opt", CAP_STR, NULL);
	d = mk_regex(&f.rs, r, "en", "code=(?<c>\\S+)", "code=", NULL);
	mk_cap(d, "c", CAP_ENUM, t);
	d = mk_regex(&f.rs, r, "big", "huge=(?<h>x+)", "huge=", NULL);
	mk_cap(d, "h", CAP_STR, NULL);
	fix_open(&f);

	const struct rec_item *it = one(&f, "STOP: 0x000000e2 (0x1, 0x2) 040% ready");
	assert_int_equal(it->nhits, 1);
	const struct rec_hit *h = &it->hits[0];
	assert_int_equal(h->ncaps, 4); /* opt did not take part */
	const struct rec_cap *c = cap_of(h, "code");
	assert_non_null(c);
	assert_string_equal(c->value, "0xE2");
	assert_true(c->has_num);
	assert_int_equal(c->num, 0xE2);
	c = cap_of(h, "arg");
	assert_string_equal(c->value, "0x1, 0x2");
	assert_false(c->has_num);
	c = cap_of(h, "pct");
	assert_string_equal(c->value, "40"); /* leading zero is decimal */
	assert_true(c->has_num);
	assert_int_equal(c->num, 40);
	c = cap_of(h, "name");
	assert_string_equal(c->value, "READY_STATE"); /* case-insensitive key */
	assert_null(cap_of(h, "opt"));

	it = one(&f, "STOP: E2 (a) 0x1F% unknownname opt");
	h = &it->hits[0];
	assert_int_equal(h->ncaps, 5);
	assert_string_equal(cap_of(h, "code")->value, "0xE2"); /* hex without 0x */
	assert_string_equal(cap_of(h, "pct")->value, "31");    /* int accepts 0x */
	assert_int_equal(cap_of(h, "pct")->num, 31);
	assert_string_equal(cap_of(h, "name")->value, "unknownname"); /* no entry: raw */
	assert_string_equal(cap_of(h, "opt")->value, "opt");

	/* an int that does not parse: raw text, no number */
	it = one(&f, "STOP: xx (a) 4x% d1");
	h = &it->hits[0];
	assert_string_equal(cap_of(h, "code")->value, "xx");
	assert_false(cap_of(h, "code")->has_num);
	assert_string_equal(cap_of(h, "pct")->value, "4x");
	assert_false(cap_of(h, "pct")->has_num);
	assert_string_equal(cap_of(h, "name")->value, "DRIVER_IRQL");

	/* enum: numeric equality of "0x000000E2" and key "0xE2" */
	it = one(&f, "code=0x000000E2");
	assert_string_equal(cap_of(&it->hits[0], "c")->value, "MANUALLY_INITIATED_CRASH");
	it = one(&f, "code=0x9f");
	assert_string_equal(cap_of(&it->hits[0], "c")->value, "DRIVER_POWER_STATE_FAILURE");
	it = one(&f, "code=226"); /* decimal 226 == 0xE2 */
	assert_string_equal(cap_of(&it->hits[0], "c")->value, "MANUALLY_INITIATED_CRASH");
	it = one(&f, "code=0xE3");
	assert_string_equal(cap_of(&it->hits[0], "c")->value, "0xE3");

	/* a value longer than the buffer is cut, not overflowed */
	char big[700];
	memcpy(big, "huge=", 5);
	memset(big + 5, 'x', 600);
	big[605] = '\0';
	it = one(&f, big);
	assert_int_equal(it->nhits, 1);
	assert_int_equal(strlen(cap_of(&it->hits[0], "h")->value), MATCH_CAP_VALUE_MAX - 1);
	fix_close(&f);
}

static void test_int_limits(void **state)
{
	(void)state;
	struct fix f = {0};
	int r = mk_rule(&f.rs, "R");
	struct detector *d = mk_regex(&f.rs, r, "n", "n=(?<v>\\S+)", "n=", NULL);
	mk_cap(d, "v", CAP_INT, NULL);
	d = mk_regex(&f.rs, r, "h", "h=(?<v>\\S+)", "h=", NULL);
	mk_cap(d, "v", CAP_HEX, NULL);
	fix_open(&f);

	const struct rec_item *it = one(&f, "n=-42");
	assert_int_equal(cap_of(&it->hits[0], "v")->num, -42);
	assert_string_equal(cap_of(&it->hits[0], "v")->value, "-42");
	it = one(&f, "n=9223372036854775807");
	assert_true(cap_of(&it->hits[0], "v")->has_num);
	it = one(&f, "n=9223372036854775808"); /* overflow: raw */
	assert_false(cap_of(&it->hits[0], "v")->has_num);
	assert_string_equal(cap_of(&it->hits[0], "v")->value, "9223372036854775808");
	it = one(&f, "n=-");
	assert_false(cap_of(&it->hits[0], "v")->has_num);
	it = one(&f, "h=0xFFFFFFFFFFFFFFFF");
	assert_true(cap_of(&it->hits[0], "v")->has_num);
	assert_string_equal(cap_of(&it->hits[0], "v")->value, "0xFFFFFFFFFFFFFFFF");
	it = one(&f, "h=0x1FFFFFFFFFFFFFFFF");
	assert_false(cap_of(&it->hits[0], "v")->has_num);
	it = one(&f, "h=0x");
	assert_false(cap_of(&it->hits[0], "v")->has_num);
	assert_string_equal(cap_of(&it->hits[0], "v")->value, "0x");
	fix_close(&f);
}

/* ---- owners ---- */

static void test_ignores_and_epochs(void **state)
{
	(void)state;
	struct fix f = {0};
	int r0 = mk_rule(&f.rs, "R0");
	mk_det(&f.rs, r0, "x", DET_CONTAINS, "alpha", NULL);
	int r1 = mk_rule(&f.rs, "R1");
	mk_det(&f.rs, r1, "y", DET_CONTAINS, "beta", NULL);
	mk_det(&f.rs, r1, "z", DET_CONTAINS, "Linux version", NULL);
	mk_ignore(&f.rs, "echo", DET_PREFIX, "# grep ", NULL);
	mk_epoch(&f.rs, "firmware", 10, DET_CONTAINS, "SeaBIOS (version", NULL);
	mk_epoch(&f.rs, "linux", 30, DET_PREFIX, "Linux version ", NULL);
	fix_open(&f);

	assert_int_equal(match_db_nslots(f.db), 6);
	assert_int_equal(match_db_rule_slot(f.db, 0, 0), 0);
	assert_int_equal(match_db_rule_slot(f.db, 1, 0), 1);
	assert_int_equal(match_db_rule_slot(f.db, 1, 1), 2);
	assert_int_equal(match_db_rule_slot(f.db, 1, 2), UINT32_MAX);
	assert_int_equal(match_db_rule_slot(f.db, 2, 0), UINT32_MAX);
	assert_int_equal(match_db_rule_slot(f.db, -1, 0), UINT32_MAX);
	const struct det_slot *s = match_db_slot(f.db, 3);
	assert_int_equal(s->owner, OWNER_IGNORE);
	assert_int_equal(s->rule, -1);
	assert_int_equal(s->idx, 0);
	assert_ptr_equal(s->det, &f.rs.ignores[0]);
	s = match_db_slot(f.db, 5);
	assert_int_equal(s->owner, OWNER_EPOCH);
	assert_int_equal(s->idx, 1);
	assert_ptr_equal(s->det, &f.rs.epochs[1].det);
	assert_null(match_db_slot(f.db, 6));
	assert_true(match_db_size(f.db) > 0);

	const struct rec_item *it = one(&f, "# grep alpha beta");
	assert_int_equal(it->nhits, 3);
	assert_int_equal(it->hits[0].owner, OWNER_RULE);
	assert_int_equal(it->hits[0].rule, 0);
	assert_int_equal(it->hits[1].owner, OWNER_RULE);
	assert_int_equal(it->hits[1].rule, 1);
	assert_int_equal(it->hits[1].idx, 0);
	assert_int_equal(it->hits[2].owner, OWNER_IGNORE);
	assert_int_equal(it->hits[2].idx, 0);
	assert_int_equal(it->hits[2].rule, -1);

	it = one(&f, "Linux version 6.1.0 (debian)");
	assert_int_equal(it->nhits, 2);
	assert_int_equal(it->hits[0].owner, OWNER_RULE);
	assert_int_equal(it->hits[0].idx, 1);
	assert_int_equal(it->hits[1].owner, OWNER_EPOCH);
	assert_int_equal(it->hits[1].idx, 1);

	it = one(&f, "SeaBIOS (version 1.16)");
	assert_int_equal(it->nhits, 1);
	assert_int_equal(it->hits[0].owner, OWNER_EPOCH);
	assert_int_equal(it->hits[0].idx, 0);
	fix_close(&f);
}

/* ---- EMS ---- */

static struct ems_record bugcheck(uint32_t code, const char *text)
{
	struct ems_record rec;
	memset(&rec, 0, sizeof(rec));
	rec.kind = EMS_BUGCHECK;
	rec.has_stopcode = true;
	rec.stopcode = code;
	snprintf(rec.stopcode_text, sizeof(rec.stopcode_text), "%s", text);
	rec.has_machine_info = true;
	snprintf(rec.mi.name, sizeof(rec.mi.name), "WIN-VM1");
	snprintf(rec.mi.guid, sizeof(rec.mi.guid), "1234-abcd");
	snprintf(rec.mi.os_build, sizeof(rec.mi.os_build), "20348");
	return rec;
}

static void test_ems(void **state)
{
	(void)state;
	struct fix f = {0};
	struct enum_table *t = mk_table(&f.rs, "bugcheck", "0xE2", "MANUALLY_INITIATED_CRASH", NULL);
	int r = mk_rule(&f.rs, "R");
	struct detector *d = mk_ems(&f.rs, r, "any_bc", EMS_DET_BUGCHECK, 0, NULL);
	mk_cap(d, "stopcode", CAP_HEX, NULL);
	mk_cap(d, "name", CAP_STR, NULL);
	mk_cap(d, "os_build", CAP_INT, NULL);
	mk_cap(d, "os_sp", CAP_STR, NULL); /* empty field: skipped */
	const uint32_t codes[] = {0xE2, 0x80};
	d = mk_ems(&f.rs, r, "manual", EMS_DET_BUGCHECK, 2, codes);
	mk_cap(d, "stopcode", CAP_ENUM, t);
	d = mk_ems(&f.rs, r, "mi", EMS_DET_MACHINE_INFO, 0, NULL);
	mk_cap(d, "guid", CAP_STR, NULL);
	mk_cap(d, "arch", CAP_STR, NULL);
	mk_cap(d, "stopcode", CAP_STR, NULL); /* not a machine-info field */
	mk_ems(&f.rs, r, "nocaps", EMS_DET_BUGCHECK, 0, NULL);
	fix_open(&f);

	struct ems_record b1 = bugcheck(0xE2, "0x000000E2");
	struct ems_record b2 = bugcheck(0x7E, "0x7E");
	struct ems_record b3 = bugcheck(0, "");
	b3.has_stopcode = false;
	struct ems_record mi;
	memset(&mi, 0, sizeof(mi));
	mi.kind = EMS_MACHINE_INFO;
	mi.has_machine_info = true;
	snprintf(mi.mi.guid, sizeof(mi.mi.guid), "g-1");
	snprintf(mi.mi.arch, sizeof(mi.mi.arch), "x64");

	match_push_ems(f.ms, &b1);
	match_push_ems(f.ms, &b2);
	match_push_ems(f.ms, &b3);
	match_push_ems(f.ms, &mi);
	match_flush(f.ms);
	assert_int_equal(f.r.n, 4);

	const struct rec_item *it = &f.r.v[0];
	assert_true(it->ems);
	assert_int_equal(it->kind, EMS_BUGCHECK);
	assert_int_equal(it->nhits, 3);
	const struct rec_hit *h = &it->hits[0];
	assert_int_equal(h->idx, 0);
	assert_int_equal(h->ncaps, 3);
	assert_string_equal(cap_of(h, "stopcode")->value, "0xE2");
	assert_int_equal(cap_of(h, "stopcode")->num, 0xE2);
	assert_string_equal(cap_of(h, "name")->value, "WIN-VM1");
	assert_int_equal(cap_of(h, "os_build")->num, 20348);
	assert_null(cap_of(h, "os_sp"));
	h = &it->hits[1];
	assert_int_equal(h->idx, 1);
	assert_string_equal(cap_of(h, "stopcode")->value, "MANUALLY_INITIATED_CRASH");
	assert_int_equal(it->hits[2].idx, 3);
	assert_int_equal(it->hits[2].ncaps, 0);

	it = &f.r.v[1]; /* 0x7E: not in the filter */
	assert_int_equal(it->nhits, 2);
	assert_int_equal(it->hits[0].idx, 0);
	assert_string_equal(cap_of(&it->hits[0], "stopcode")->value, "0x7E");
	assert_int_equal(it->hits[1].idx, 3);

	it = &f.r.v[2]; /* no stop code: filtered detectors do not hit */
	assert_int_equal(it->nhits, 2);
	assert_null(cap_of(&it->hits[0], "stopcode"));

	it = &f.r.v[3];
	assert_int_equal(it->kind, EMS_MACHINE_INFO);
	assert_int_equal(it->nhits, 1);
	h = &it->hits[0];
	assert_int_equal(h->idx, 2);
	assert_int_equal(h->ncaps, 2);
	assert_string_equal(cap_of(h, "guid")->value, "g-1");
	assert_string_equal(cap_of(h, "arch")->value, "x64");
	fix_close(&f);
}

static void test_ems_only_set(void **state)
{
	(void)state;
	struct fix f = {0};
	int r = mk_rule(&f.rs, "R");
	mk_ems(&f.rs, r, "bc", EMS_DET_BUGCHECK, 0, NULL);
	fix_open(&f);
	push(&f, "no literals at all");
	struct ems_record b = bugcheck(0x80, "0x80");
	match_push_ems(f.ms, &b);
	push(&f, "another line");
	match_flush(f.ms);
	assert_int_equal(f.r.n, 3);
	assert_false(f.r.v[0].ems);
	assert_int_equal(f.r.v[0].nhits, 0);
	assert_true(f.r.v[1].ems);
	assert_int_equal(f.r.v[1].nhits, 1);
	assert_string_equal(f.r.v[2].text, "another line");
	fix_close(&f);

	/* an empty rule set works too */
	struct fix e = {0};
	fix_open(&e);
	assert_int_equal(match_db_nslots(e.db), 0);
	assert_int_equal(one(&e, "x")->nhits, 0);
	fix_close(&e);
}

/* ---- batching, order ---- */

static void test_order_with_zero_hit_lines(void **state)
{
	(void)state;
	struct fix f = {0};
	int r = mk_rule(&f.rs, "R");
	mk_det(&f.rs, r, "a", DET_CONTAINS, "hit", NULL);
	mk_ems(&f.rs, r, "bc", EMS_DET_BUGCHECK, 0, NULL);
	fix_open(&f);
	struct ems_record b = bugcheck(0xE2, "0xE2");
	push_full(&f, "one", 0, 0, 1);
	push_full(&f, "two hit", 0, 0, 2);
	match_push_ems(f.ms, &b);
	push_full(&f, "", 0, 0, 3);
	push_full(&f, "four", 0, 0, 4);
	push_full(&f, "hit five", 0, 0, 5);
	assert_int_equal(f.r.n, 0); /* nothing before a flush */
	match_flush(f.ms);
	assert_int_equal(f.r.n, 6);
	const char *texts[] = {"one", "two hit", NULL, "", "four", "hit five"};
	const size_t nh[] = {0, 1, 1, 0, 0, 1};
	for (size_t i = 0; i < 6; i++) {
		assert_int_equal(f.r.v[i].ems, texts[i] == NULL);
		if (texts[i])
			assert_string_equal(f.r.v[i].text, texts[i]);
		assert_int_equal(f.r.v[i].nhits, nh[i]);
	}
	assert_int_equal(f.r.v[5].lineno, 5);
	/* a second flush with nothing queued does nothing */
	match_flush(f.ms);
	assert_int_equal(f.r.n, 6);
	fix_close(&f);
}

static void test_many_lines_across_flushes(void **state)
{
	(void)state;
	struct fix f = {0};
	int r = mk_rule(&f.rs, "R");
	mk_det(&f.rs, r, "a", DET_CONTAINS, "needle", NULL);
	mk_det(&f.rs, r, "b", DET_PREFIX, "line 7", NULL);
	mk_regex(&f.rs, r, "c", "id=(?<n>[0-9]+)7 ", "7 ", NULL);
	mk_cap(&f.rs.rules[0].dets[2], "n", CAP_INT, NULL);
	fix_open(&f);

	const size_t N = 20000;
	char buf[256];
	size_t want_a = 0, want_b = 0, want_c = 0;
	for (size_t i = 0; i < N; i++) {
		/* varying lengths so batch boundaries fall everywhere */
		int n = snprintf(buf, sizeof(buf), "line %zu id=%zu %.*s%s", i, i, (int)(i % 37),
		                 "......................................", i % 13 == 0 ? " needle" : "");
		assert_true(n > 0);
		if (i % 13 == 0)
			want_a++;
		if (strncmp(buf, "line 7", 6) == 0)
			want_b++;
		if (i % 10 == 7 && i >= 10) /* "id=7 " has no digit before the 7 */
			want_c++;
		push_full(&f, buf, 0, 0, i + 1);
		/* the batch flushes by itself: never more than a batch queued */
		assert_true(i + 1 - f.r.n <= 1024);
	}
	assert_true(f.r.n > 0); /* auto flush happened */
	match_flush(f.ms);
	assert_int_equal(f.r.n, N);
	size_t got_a = 0, got_b = 0, got_c = 0;
	for (size_t i = 0; i < N; i++) {
		const struct rec_item *it = &f.r.v[i];
		assert_int_equal(it->lineno, i + 1);
		assert_true(it->nul_ok);
		for (size_t k = 0; k < it->nhits; k++) {
			const struct rec_hit *h = &it->hits[k];
			if (h->idx == 0) {
				got_a++;
				assert_int_equal(i % 13, 0);
				assert_memory_equal(it->text + h->start, "needle", 6);
			} else if (h->idx == 1) {
				got_b++;
			} else {
				got_c++;
				assert_int_equal(cap_of(h, "n")->num, (int64_t)i / 10);
			}
		}
	}
	assert_int_equal(got_a, want_a);
	assert_int_equal(got_b, want_b);
	assert_int_equal(got_c, want_c);
	fix_close(&f);
}

static void test_big_line(void **state)
{
	(void)state;
	struct fix f = {0};
	int r = mk_rule(&f.rs, "R");
	mk_det(&f.rs, r, "a", DET_CONTAINS, "tail", NULL);
	fix_open(&f);
	/* longer than a whole batch (no normaliser cap here) */
	size_t n = 200 * 1024;
	char *t = xmalloc(n + 1);
	memset(t, 'z', n);
	memcpy(t + n - 4, "tail", 4);
	t[n] = '\0';
	push(&f, "before tail");
	push(&f, t);
	push(&f, "after tail");
	match_flush(f.ms);
	free(t);
	assert_int_equal(f.r.n, 3);
	assert_int_equal(f.r.v[1].nhits, 1);
	assert_int_equal(f.r.v[1].hits[0].start, n - 4);
	assert_int_equal(f.r.v[2].nhits, 1);
	fix_close(&f);
}

/* ---- overflow ---- */

static void test_overflow(void **state)
{
	(void)state;
	struct fix f = {0};
	int r = mk_rule(&f.rs, "R");
	char names[40][16];
	/* 40 detectors with distinct literals w00..w39 */
	for (int i = 0; i < 40; i++) {
		snprintf(names[i], sizeof(names[i]), "w%02d", i);
		mk_det(&f.rs, r, names[i], DET_FULLWORD, names[i], NULL);
	}
	struct detector *d = mk_regex(&f.rs, r, "re", "w(?<n>3[0-9]) end", "end", NULL);
	mk_cap(d, "n", CAP_INT, NULL);
	/* anchor absent: the overflow path must not try this regex */
	mk_regex(&f.rs, r, "re2", "w0", "never-there", NULL);
	d = mk_det(&f.rs, r, "unl", DET_CONTAINS, "w05", NULL);
	mk_unless(d, "w06", NULL);
	d = mk_det(&f.rs, r, "part", DET_CONTAINS, "w07", NULL);
	fix_open(&f);
	match_stream_set_hit_cap(f.ms, 8);

	char line[400];
	size_t o = 0;
	for (int i = 0; i < 40; i++)
		o += (size_t)snprintf(line + o, sizeof(line) - o, "w%02d ", i);
	snprintf(line + o, sizeof(line) - o, "end");
	push(&f, "w01 w02"); /* before the overflow: normal path */
	push(&f, line);      /* 40+ distinct literals > cap 8 */
	push(&f, "w03 w39 end");
	push_full(&f, line, 0, LINE_PARTIAL, 0);
	match_flush(f.ms);
	assert_int_equal(f.r.n, 4);

	const struct rec_item *it = &f.r.v[0];
	assert_int_equal(it->nhits, 2);

	it = &f.r.v[1];
	/* all 40 fullword detectors + the regex; not re2; not unl (w06 present); part */
	assert_int_equal(it->nhits, 42);
	for (int i = 0; i < 40; i++) {
		const struct rec_hit *h = hit_of(it, (uint32_t)i);
		assert_non_null(h);
		assert_int_equal(h->start, (size_t)i * 4);
	}
	const struct rec_hit *h = hit_of(it, 40);
	assert_non_null(h);
	assert_int_equal(cap_of(h, "n")->num, 39);
	assert_null(hit_of(it, 41));
	assert_null(hit_of(it, 42));
	assert_non_null(hit_of(it, 43));

	it = &f.r.v[2];
	assert_int_equal(it->nhits, 3);
	/* partial line in overflow: only partial detectors (none) */
	it = &f.r.v[3];
	assert_int_equal(it->nhits, 0);
	fix_close(&f);
}

static void test_many_occurrences(void **state)
{
	(void)state;
	struct fix f = {0};
	int r = mk_rule(&f.rs, "R");
	mk_det(&f.rs, r, "a", DET_CONTAINS, "ab", NULL);
	struct detector *d = mk_det(&f.rs, r, "b", DET_CONTAINS, "B", NULL);
	d->nocase = true;
	mk_det(&f.rs, r, "w", DET_FULLWORD, "ab", NULL);
	fix_open(&f);
	match_stream_set_hit_cap(f.ms, 3);
	/* thousands of occurrences in one line, over many lines */
	char line[4097];
	for (size_t i = 0; i < 4096; i += 2)
		memcpy(line + i, "ab", 2);
	line[4096] = '\0';
	for (int k = 0; k < 50; k++)
		push(&f, line);
	push(&f, "x ab y");
	match_flush(f.ms);
	assert_int_equal(f.r.n, 51);
	for (int k = 0; k < 50; k++) {
		assert_int_equal(f.r.v[k].nhits, 2);
		assert_int_equal(f.r.v[k].hits[0].start, 0);
		assert_int_equal(f.r.v[k].hits[1].start, 1);
	}
	assert_int_equal(f.r.v[50].nhits, 3);
	assert_int_equal(f.r.v[50].hits[2].start, 2);
	fix_close(&f);
}

/* ---- compile errors, reentrancy ---- */

static void test_compile_errors(void **state)
{
	(void)state;
	struct ruleset rs = {0};
	struct diags d = {0};
	int r = mk_rule(&rs, "R");
	mk_det(&rs, r, "ok", DET_CONTAINS, "fine", NULL);
	mk_regex(&rs, r, "bad", "foo(bar", "foo", NULL);
	struct detector *x = mk_regex(&rs, r, "nocap", "foo(?<a>x)", "foo", NULL);
	mk_cap(x, "b", CAP_STR, NULL);
	mk_det(&rs, r, "empty", DET_CONTAINS, "", NULL);
	mk_det(&rs, r, "none", DET_PREFIX, NULL);
	assert_null(match_compile(&rs, &d));
	assert_int_equal(d.nerrors, 4);
	assert_string_equal(d.v[0].file, MK_FILE);
	assert_int_equal(d.v[0].line, rs.rules[0].dets[1].loc.line);
	assert_non_null(strstr(d.v[0].msg, "'bad'"));
	assert_non_null(strstr(d.v[0].msg, "offset 7"));
	assert_non_null(strstr(d.v[1].msg, "capture 'b'"));
	assert_non_null(strstr(d.v[2].msg, "empty literal"));
	assert_non_null(strstr(d.v[3].msg, "prefix has no literal"));
	diags_free(&d);
	mk_free(&rs);
}

static void test_push_from_callback(void **state)
{
	(void)state;
	struct fix f = {0};
	int r = mk_rule(&f.rs, "R");
	mk_det(&f.rs, r, "a", DET_CONTAINS, "foo", NULL);
	fix_open(&f);
	f.r.push_once = true;
	push(&f, "first foo");
	push(&f, "second");
	match_flush(f.ms);
	assert_int_equal(f.r.n, 3);
	assert_string_equal(f.r.v[0].text, "first foo");
	assert_string_equal(f.r.v[1].text, "second");
	assert_string_equal(f.r.v[2].text, "pushed from callback foo");
	assert_int_equal(f.r.v[2].nhits, 1);
	assert_int_equal(f.r.v[2].hits[0].start, 21);
	/* the stream carries on normally */
	assert_int_equal(one(&f, "foo again")->nhits, 1);
	fix_close(&f);
}

static void test_blank_line_literal(void **state)
{
	(void)state;
	struct fix f = {0};
	int r = mk_rule(&f.rs, "R");
	mk_det(&f.rs, r, "blank", DET_LINE, "  ", NULL);
	fix_open(&f);
	assert_int_equal(one(&f, "")->nhits, 1);
	assert_int_equal(one(&f, " \t ")->nhits, 1);
	assert_int_equal(one(&f, " x ")->nhits, 0);
	fix_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_contains),
	    cmocka_unit_test(test_prefix_and_line),
	    cmocka_unit_test(test_fullword),
	    cmocka_unit_test(test_nocase),
	    cmocka_unit_test(test_caseless_dedupe),
	    cmocka_unit_test(test_line_start_and_body),
	    cmocka_unit_test(test_body_past_end),
	    cmocka_unit_test(test_partial),
	    cmocka_unit_test(test_unless),
	    cmocka_unit_test(test_regex),
	    cmocka_unit_test(test_captures),
	    cmocka_unit_test(test_int_limits),
	    cmocka_unit_test(test_ignores_and_epochs),
	    cmocka_unit_test(test_ems),
	    cmocka_unit_test(test_ems_only_set),
	    cmocka_unit_test(test_order_with_zero_hit_lines),
	    cmocka_unit_test(test_many_lines_across_flushes),
	    cmocka_unit_test(test_big_line),
	    cmocka_unit_test(test_overflow),
	    cmocka_unit_test(test_many_occurrences),
	    cmocka_unit_test(test_compile_errors),
	    cmocka_unit_test(test_push_from_callback),
	    cmocka_unit_test(test_blank_line_literal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
