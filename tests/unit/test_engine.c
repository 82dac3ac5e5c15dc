/*
 * test_engine.c — the rule engine on hand-built rule sets (mkrules.h) and
 * synthetic hits: every when form, the lifecycle (pending, fired, resolved,
 * uncertain), keep_firing_for, group_by and its bound, epochs, ignores,
 * unless_near, blocks, title templates, EMS records and timer order.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emsagent/engine.h"
#include "emsagent/util.h"
#include "mkrules.h"

#define MIN(x) ((int64_t)(x)*60 * NS_PER_SEC)
#define SEC(x) ((int64_t)(x)*NS_PER_SEC)
#define NOCLK  INT64_MIN /* a line without a known time */
#define MAXEV  2048

struct rec {
	enum event_kind kind;
	char *rule, *title, *reason, *line, *marker, *caps, *block;
	uint64_t lineno, offset;
	int64_t t;
	unsigned tflags, epoch, count;
	int64_t held;
	bool has_block, truncated, has_ems;
};

struct fx {
	struct ruleset rs;
	struct engine *e;
	struct rec ev[MAXEV];
	size_t n;
	uint64_t lineno, offset;
};

static char *dupn(const char *s, size_t n)
{
	return s ? xstrndup(s, n) : NULL;
}

static void on_event(void *ctx, const struct event *ev)
{
	struct fx *f = ctx;
	assert_true(f->n < MAXEV);
	struct rec *r = &f->ev[f->n++];
	memset(r, 0, sizeof(*r));
	r->kind = ev->kind;
	r->rule = ev->rule ? xstrdup(ev->rule->id) : NULL;
	r->title = ev->title ? xstrdup(ev->title) : NULL;
	r->reason = ev->reason ? xstrdup(ev->reason) : NULL;
	r->line = dupn(ev->line, ev->line_len);
	r->marker = ev->marker ? xstrdup(ev->marker) : NULL;
	struct buf b = {0};
	buf_append(&b, "", 0);
	for (size_t i = 0; i < ev->ncaptures; i++)
		buf_printf(&b, "%s%s=%s", i ? "," : "", ev->captures[i].key, ev->captures[i].value);
	r->caps = b.data;
	r->has_block = ev->has_block;
	r->block = ev->has_block ? dupn(ev->block, ev->block_len) : NULL;
	r->truncated = ev->block_truncated;
	r->lineno = ev->lineno;
	r->offset = ev->offset;
	r->t = ev->time_ns;
	r->tflags = ev->time_flags;
	r->epoch = ev->epoch;
	r->count = ev->count;
	r->held = ev->held_ns;
	r->has_ems = ev->ems != NULL;
	/* the console name travels on every event */
	assert_non_null(ev->console);
	assert_string_equal(ev->console, "vm1");
}

static void clear_events(struct fx *f)
{
	for (size_t i = 0; i < f->n; i++) {
		struct rec *r = &f->ev[i];
		free(r->rule);
		free(r->title);
		free(r->reason);
		free(r->line);
		free(r->marker);
		free(r->caps);
		free(r->block);
	}
	f->n = 0;
}

static struct fx *fx_new(void)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	return f;
}

static void fx_start(struct fx *f)
{
	f->e = engine_new(&f->rs, NULL, "vm1", on_event, f);
	assert_non_null(f->e);
}

static void fx_free(struct fx *f)
{
	engine_free(f->e);
	clear_events(f);
	mk_free(&f->rs);
	free(f);
}

/* One synthetic hit: owner, rule (or -1), index, then name/value capture pairs. */
struct hs {
	enum det_owner owner;
	int rule, idx;
	const char *cv[9];
};
#define HR(r, d, ...) ((struct hs){OWNER_RULE, (r), (d), {__VA_ARGS__}})
#define HE(i)         ((struct hs){OWNER_EPOCH, -1, (i), {NULL}})
#define HI(i)         ((struct hs){OWNER_IGNORE, -1, (i), {NULL}})

static const struct detector *slot_det(const struct fx *f, const struct hs *h)
{
	switch (h->owner) {
	case OWNER_RULE:
		return &f->rs.rules[h->rule].dets[h->idx];
	case OWNER_IGNORE:
		return &f->rs.ignores[h->idx];
	case OWNER_EPOCH:
		return &f->rs.epochs[h->idx].det;
	}
	return NULL;
}

struct hitset {
	struct det_slot slots[8];
	struct capture_val cv[8][4];
	struct match_hit hits[8];
	size_t n;
};

static void build_hits(const struct fx *f, struct hitset *hs, const struct hs *spec, size_t n)
{
	assert_true(n <= 8);
	memset(hs, 0, sizeof(*hs));
	for (size_t i = 0; i < n; i++) {
		const struct detector *d = slot_det(f, &spec[i]);
		hs->slots[i] = (struct det_slot){spec[i].owner, spec[i].rule, spec[i].idx, d};
		size_t nc = 0;
		for (size_t k = 0; spec[i].cv[k]; k += 2) {
			const char *name = NULL;
			/* names come from the rule set, as the matcher's do */
			for (size_t c = 0; c < d->ncaps; c++)
				if (strcmp(d->caps[c].name, spec[i].cv[k]) == 0)
					name = d->caps[c].name;
			assert_non_null(name);
			assert_true(nc < 4);
			hs->cv[i][nc].name = name;
			snprintf(hs->cv[i][nc].value, sizeof(hs->cv[i][nc].value), "%s", spec[i].cv[k + 1]);
			nc++;
		}
		hs->hits[i] = (struct match_hit){
		    .slot = (uint32_t)i, .s = &hs->slots[i], .caps = hs->cv[i], .ncaps = nc};
	}
	hs->n = n;
}

static void feedv(struct fx *f, int64_t t, unsigned extra, const char *text, const struct hs *spec, size_t n)
{
	struct hitset hs;
	build_hits(f, &hs, spec, n);
	struct line ln = {
	    .text = text,
	    .len = strlen(text),
	    .offset = f->offset,
	    .lineno = (extra & LINE_PARTIAL) ? f->lineno : ++f->lineno,
	    .time_ns = t == NOCLK ? 0 : t,
	    .flags = extra | (t == NOCLK ? 0 : LINE_TIME_KNOWN),
	};
	f->offset += ln.len + 1;
	engine_line(f->e, &ln, hs.hits, hs.n);
}

#define FEED(f, t, text, ...)                                                                                \
	do {                                                                                                 \
		const struct hs spec_[] = {__VA_ARGS__};                                                     \
		feedv((f), (t), 0, (text), spec_, ARRAY_LEN(spec_));                                         \
	} while (0)
static void feed0(struct fx *f, int64_t t, const char *text)
{
	feedv(f, t, 0, text, NULL, 0);
}

static void tick(struct fx *f, int64_t t)
{
	engine_tick(f->e, t, LINE_TIME_KNOWN);
}

static size_t count_kind(const struct fx *f, enum event_kind k)
{
	size_t c = 0;
	for (size_t i = 0; i < f->n; i++)
		if (f->ev[i].kind == k)
			c++;
	return c;
}

static void expect_kinds(const struct fx *f, size_t n, ...)
{
	va_list ap;
	va_start(ap, n);
	if (f->n != n) {
		for (size_t i = 0; i < f->n; i++)
			fprintf(stderr, "  event %zu: %s %s reason=%s\n", i, event_kind_name(f->ev[i].kind),
			        f->ev[i].rule ? f->ev[i].rule : "-", f->ev[i].reason ? f->ev[i].reason : "-");
	}
	assert_int_equal(f->n, n);
	for (size_t i = 0; i < n; i++) {
		int k = va_arg(ap, int);
		assert_int_equal(f->ev[i].kind, k);
	}
	va_end(ap);
}

static int *ints(size_t n, ...)
{
	int *v = xcalloc(n, sizeof(*v));
	va_list ap;
	va_start(ap, n);
	for (size_t i = 0; i < n; i++)
		v[i] = va_arg(ap, int);
	va_end(ap);
	return v;
}

static char **strs1(const char *s)
{
	char **v = xcalloc(1, sizeof(*v));
	v[0] = xstrdup(s);
	return v;
}

static void set_title(struct rule *r, const char *t)
{
	free(r->title);
	r->title = xstrdup(t);
}

/* ---- any, titles, event fields ---------------------------------------- */

static void test_any_fires_once_with_fields(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	int r = mk_rule(&f->rs, "R");
	struct detector *d = mk_regex(&f->rs, r, "stop", "STOP (?<code>0x[0-9A-F]+)", "STOP ", NULL);
	mk_cap(d, "code", CAP_HEX, NULL);
	set_title(&f->rs.rules[r],
	          "stop {code} by {rule} in epoch {epoch}: {nope} {{x} {held} {count} {bad name}");
	fx_start(f);
	feed0(f, SEC(1), "hello");
	FEED(f, SEC(2), "STOP 0xE2", HR(r, 0, "code", "0xE2"));
	FEED(f, SEC(3), "STOP 0x50 again", HR(r, 0, "code", "0x50"));
	expect_kinds(f, 1, EV_RULE_FIRED);
	const struct rec *ev = &f->ev[0];
	assert_string_equal(ev->rule, "R");
	assert_string_equal(ev->title, "stop 0xE2 by R in epoch 0: {nope} {x} {held} {count} {bad name}");
	assert_string_equal(ev->caps, "code=0xE2");
	assert_string_equal(ev->line, "STOP 0xE2");
	assert_int_equal(ev->lineno, 2);
	assert_int_equal(ev->offset, 6);
	assert_int_equal(ev->t, SEC(2));
	assert_true(ev->tflags & LINE_TIME_KNOWN);
	assert_null(ev->reason);
	assert_false(ev->has_block);
	assert_int_equal(engine_rule_state(f->e, r), RULE_FIRING);
	assert_int_equal(engine_rule_state(f->e, 99), RULE_IDLE);
	fx_free(f);
}

static void test_any_resolve_on_then_fire_again(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	int r = mk_rule(&f->rs, "R");
	mk_det(&f->rs, r, "bad", DET_CONTAINS, "bad", NULL);
	mk_det(&f->rs, r, "good", DET_CONTAINS, "good", NULL);
	/* when omitted: any detector fires, except the resolve_on ones */
	f->rs.rules[r].when.resolve_on = ints(1, 1);
	f->rs.rules[r].when.nresolve = 1;
	fx_start(f);
	FEED(f, SEC(1), "good", HR(r, 1, NULL));
	assert_int_equal(f->n, 0);
	FEED(f, SEC(2), "bad", HR(r, 0, NULL));
	FEED(f, SEC(3), "good", HR(r, 1, NULL));
	FEED(f, SEC(4), "bad", HR(r, 0, NULL));
	expect_kinds(f, 3, EV_RULE_FIRED, EV_RULE_RESOLVED, EV_RULE_FIRED);
	assert_string_equal(f->ev[1].reason, "resolve_on: good");
	assert_string_equal(f->ev[1].line, "good");
	fx_free(f);
}

static void test_title_bounds_and_control_bytes(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	int r = mk_rule(&f->rs, "R");
	struct detector *d = mk_regex(&f->rs, r, "x", "X(?<v>.*)", "X", NULL);
	mk_cap(d, "v", CAP_STR, NULL);
	set_title(&f->rs.rules[r], "{v}{v}{v}{v}{v}{v}{v}{v}");
	fx_start(f);
	char big[300];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[0] = '\033'; /* a guest may print anything */
	big[1] = '\t';
	/* 255 bytes: the fifth copy is cut after 4 bytes, inside the "é" at 3..4 */
	char val[256];
	memcpy(val, big, 255);
	val[255] = '\0';
	memcpy(val + 3, "\xc3\xa9", 2);
	FEED(f, SEC(1), "X...", HR(r, 0, "v", val));
	assert_int_equal(f->n, 1);
	size_t len = strlen(f->ev[0].title);
	/* never ends in the middle of a UTF-8 sequence */
	assert_int_equal(len, 1023);
	assert_int_equal(f->ev[0].title[1022], 'a');
	assert_int_equal(f->ev[0].title[0], '?');
	assert_int_equal(f->ev[0].title[1], '?');
	assert_null(strchr(f->ev[0].title, '\033'));
	assert_null(strchr(f->ev[0].title, '\t'));
	fx_free(f);
}

/* ---- absent ------------------------------------------------------------ */

static int absent_rule(struct ruleset *rs, const char *id, int64_t for_ns)
{
	int r = mk_rule(rs, id);
	mk_det(rs, r, "stage", DET_CONTAINS, "Preparing", NULL);
	mk_det(rs, r, "done", DET_CONTAINS, "CMD available", NULL);
	struct when *w = &rs->rules[r].when;
	w->kind = WHEN_ABSENT;
	w->after = 0;
	w->absent_of = DET_REF_ANY_OUTPUT;
	w->for_ns = for_ns;
	w->resolve_on = ints(1, 1);
	w->nresolve = 1;
	set_title(&rs->rules[r], "stuck for {held}");
	return r;
}

static void test_absent_lifecycle(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	int r = absent_rule(&f->rs, "hang", MIN(30));
	fx_start(f);
	assert_int_equal(engine_next_deadline(f->e), INT64_MAX);
	FEED(f, MIN(0), "Preparing to configure Windows", HR(r, 0, NULL));
	expect_kinds(f, 1, EV_RULE_PENDING);
	assert_int_equal(engine_rule_state(f->e, r), RULE_PENDING);
	assert_int_equal(engine_next_deadline(f->e), MIN(30));
	/* more output restarts the wait */
	feed0(f, MIN(10), "some output");
	assert_int_equal(engine_next_deadline(f->e), MIN(40));
	tick(f, MIN(39));
	assert_int_equal(f->n, 1);
	tick(f, MIN(40));
	expect_kinds(f, 2, EV_RULE_PENDING, EV_RULE_FIRED);
	assert_int_equal(f->ev[1].t, MIN(40));
	assert_int_equal(f->ev[1].held, MIN(40)); /* since the stage was entered */
	assert_string_equal(f->ev[1].title, "stuck for 40m");
	assert_string_equal(f->ev[1].line, "Preparing to configure Windows");
	assert_int_equal(f->ev[1].lineno, 1);
	assert_int_equal(engine_rule_state(f->e, r), RULE_FIRING);
	tick(f, MIN(45));
	assert_int_equal(f->n, 2);
	/* output resumes: resolved, back to idle */
	feed0(f, MIN(50), "resumed");
	expect_kinds(f, 3, EV_RULE_PENDING, EV_RULE_FIRED, EV_RULE_RESOLVED);
	assert_string_equal(f->ev[2].reason, "output resumed");
	assert_string_equal(f->ev[2].line, "resumed");
	assert_int_equal(f->ev[2].t, MIN(50));
	assert_int_equal(engine_rule_state(f->e, r), RULE_IDLE);
	assert_int_equal(engine_next_deadline(f->e), INT64_MAX);
	tick(f, MIN(100));
	assert_int_equal(f->n, 3);
	/* the stage comes again and stalls again: fires again */
	FEED(f, MIN(100), "Preparing to configure Windows", HR(r, 0, NULL));
	tick(f, MIN(130));
	expect_kinds(f, 5, EV_RULE_PENDING, EV_RULE_FIRED, EV_RULE_RESOLVED, EV_RULE_PENDING, EV_RULE_FIRED);
	assert_string_equal(f->ev[4].title, "stuck for 30m");
	/* the stage ends: resolved, then nothing more */
	FEED(f, MIN(131), "EVENT: The CMD command is now available.", HR(r, 1, NULL));
	assert_int_equal(f->ev[5].kind, EV_RULE_RESOLVED);
	assert_string_equal(f->ev[5].reason, "resolve_on: done");
	assert_int_equal(f->n, 6);
	tick(f, MIN(500));
	engine_finish(f->e);
	assert_int_equal(f->n, 6);
	assert_int_equal(engine_rule_state(f->e, r), RULE_IDLE);
	fx_free(f);
}

static void test_absent_expired_before_line(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	int r = absent_rule(&f->rs, "hang", MIN(30));
	fx_start(f);
	FEED(f, MIN(0), "Preparing", HR(r, 0, NULL));
	/* a line at 31m first fires the timer that expired at 30m */
	feed0(f, MIN(31), "late line");
	expect_kinds(f, 3, EV_RULE_PENDING, EV_RULE_FIRED, EV_RULE_RESOLVED);
	assert_int_equal(f->ev[1].t, MIN(30));
	assert_string_equal(f->ev[1].title, "stuck for 30m");
	assert_int_equal(f->ev[2].t, MIN(31));
	fx_free(f);
}

static void test_absent_after_again_and_resolve_while_pending(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	int r = absent_rule(&f->rs, "hang", MIN(30));
	struct when *w = &f->rs.rules[r].when;
	w->absent_of = 1; /* of: a detector; "done" is also resolve_on, so use another one */
	mk_det(&f->rs, r, "beat", DET_CONTAINS, "heartbeat", NULL);
	w->absent_of = 2;
	fx_start(f);
	FEED(f, MIN(0), "Preparing", HR(r, 0, NULL));
	/* another `after` hit while pending does not restart the timer; plain output does not either */
	FEED(f, MIN(20), "Preparing", HR(r, 0, NULL));
	feed0(f, MIN(25), "noise");
	tick(f, MIN(30));
	expect_kinds(f, 2, EV_RULE_PENDING, EV_RULE_FIRED);
	/* the `of` detector resolves it */
	FEED(f, MIN(31), "heartbeat", HR(r, 2, NULL));
	expect_kinds(f, 3, EV_RULE_PENDING, EV_RULE_FIRED, EV_RULE_RESOLVED);
	FEED(f, MIN(32), "Preparing", HR(r, 0, NULL));
	expect_kinds(f, 4, EV_RULE_PENDING, EV_RULE_FIRED, EV_RULE_RESOLVED, EV_RULE_PENDING);
	/* resolve_on while pending: back to idle without an event */
	FEED(f, MIN(33), "CMD available", HR(r, 1, NULL));
	assert_int_equal(f->n, 4);
	assert_int_equal(engine_rule_state(f->e, r), RULE_IDLE);
	assert_int_equal(engine_next_deadline(f->e), INT64_MAX);
	tick(f, MIN(120));
	engine_finish(f->e);
	assert_int_equal(f->n, 4);
	fx_free(f);
}

static void test_absent_progress(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	int r = mk_rule(&f->rs, "upd");
	mk_det(&f->rs, r, "stage", DET_CONTAINS, "Configuring updates", NULL);
	struct detector *p = mk_regex(&f->rs, r, "pct", "(?<pct>[0-9]+)% complete", "% complete", NULL);
	mk_cap(p, "pct", CAP_INT, NULL);
	struct when *w = &f->rs.rules[r].when;
	w->kind = WHEN_ABSENT;
	w->after = 0;
	w->absent_of = 1;
	w->absent_progress = true;
	w->for_ns = MIN(30);
	set_title(&f->rs.rules[r], "stuck at {pct}% for {held}");
	fx_start(f);
	FEED(f, MIN(0), "Configuring updates", HR(r, 0, NULL));
	FEED(f, MIN(5), "10% complete", HR(r, 1, "pct", "10"));
	assert_int_equal(engine_next_deadline(f->e), MIN(35));
	/* the same value is not progress */
	FEED(f, MIN(20), "10% complete", HR(r, 1, "pct", "10"));
	assert_int_equal(engine_next_deadline(f->e), MIN(35));
	tick(f, MIN(35));
	expect_kinds(f, 2, EV_RULE_PENDING, EV_RULE_FIRED);
	assert_string_equal(f->ev[1].title, "stuck at 10% for 35m");
	assert_string_equal(f->ev[1].caps, "pct=10");
	FEED(f, MIN(40), "10% complete", HR(r, 1, "pct", "10"));
	assert_int_equal(f->n, 2);
	FEED(f, MIN(41), "20% complete", HR(r, 1, "pct", "20"));
	expect_kinds(f, 3, EV_RULE_PENDING, EV_RULE_FIRED, EV_RULE_RESOLVED);
	assert_string_equal(f->ev[2].reason, "progress resumed");
	assert_string_equal(f->ev[2].caps, "pct=20");
	/* progress outside the stage only records the value */
	FEED(f, MIN(42), "30% complete", HR(r, 1, "pct", "30"));
	FEED(f, MIN(43), "Configuring updates", HR(r, 0, NULL));
	FEED(f, MIN(44), "30% complete", HR(r, 1, "pct", "30"));
	assert_int_equal(engine_next_deadline(f->e), MIN(73));
	FEED(f, MIN(45), "40% complete", HR(r, 1, "pct", "40"));
	assert_int_equal(engine_next_deadline(f->e), MIN(75));
	/* end of input while the wait runs: uncertain with how long it waited */
	feed0(f, MIN(53), "unrelated");
	engine_finish(f->e);
	expect_kinds(f, 5, EV_RULE_PENDING, EV_RULE_FIRED, EV_RULE_RESOLVED, EV_RULE_PENDING,
	             EV_RULE_UNCERTAIN);
	assert_string_equal(f->ev[4].reason, "input ended after 8m of the 30m wait");
	assert_string_equal(f->ev[4].title, "stuck at 40% for 10m");
	assert_int_equal(f->ev[4].held, MIN(10));
	/* finish is final */
	engine_finish(f->e);
	tick(f, MIN(200));
	assert_int_equal(f->n, 5);
	fx_free(f);
}

static void test_absent_no_clock(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	int r = absent_rule(&f->rs, "hang", MIN(30));
	fx_start(f);
	FEED(f, NOCLK, "Preparing", HR(r, 0, NULL));
	feed0(f, NOCLK, "more");
	expect_kinds(f, 1, EV_RULE_PENDING);
	assert_false(f->ev[0].tflags & LINE_TIME_KNOWN);
	assert_int_equal(engine_rule_state(f->e, r), RULE_PENDING);
	assert_int_equal(engine_next_deadline(f->e), INT64_MAX);
	engine_finish(f->e);
	expect_kinds(f, 2, EV_RULE_PENDING, EV_RULE_UNCERTAIN);
	assert_string_equal(f->ev[1].reason, "no clock: stage reached, output stopped, duration unknown");
	assert_string_equal(f->ev[1].line, "Preparing");
	fx_free(f);
}

static void test_absent_clock_appears_later(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	int r = absent_rule(&f->rs, "hang", MIN(30));
	struct when *w = &f->rs.rules[r].when;
	mk_det(&f->rs, r, "beat", DET_CONTAINS, "heartbeat", NULL);
	w->absent_of = 2;
	fx_start(f);
	FEED(f, NOCLK, "Preparing", HR(r, 0, NULL));
	/* the first line with a time starts the wait */
	feed0(f, MIN(100), "stamped");
	assert_int_equal(engine_next_deadline(f->e), MIN(130));
	tick(f, MIN(130));
	expect_kinds(f, 2, EV_RULE_PENDING, EV_RULE_FIRED);
	fx_free(f);
}

/* ---- keep_firing_for ---------------------------------------------------- */

static void test_keep_firing_for(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	int r = mk_rule(&f->rs, "R");
	mk_det(&f->rs, r, "bad", DET_CONTAINS, "bad", NULL);
	mk_det(&f->rs, r, "ok", DET_CONTAINS, "ok", NULL);
	struct when *w = &f->rs.rules[r].when;
	w->of = ints(1, 0);
	w->nof = 1;
	w->resolve_on = ints(1, 1);
	w->nresolve = 1;
	w->keep_firing_ns = MIN(5);
	fx_start(f);
	FEED(f, MIN(0), "bad", HR(r, 0, NULL));
	FEED(f, MIN(1), "ok", HR(r, 1, NULL));
	assert_int_equal(engine_next_deadline(f->e), MIN(6));
	/* a new trigger before the delay cancels the resolution */
	FEED(f, MIN(3), "bad", HR(r, 0, NULL));
	tick(f, MIN(10));
	expect_kinds(f, 1, EV_RULE_FIRED);
	assert_int_equal(engine_rule_state(f->e, r), RULE_FIRING);
	assert_int_equal(engine_next_deadline(f->e), INT64_MAX);
	/* this time nothing interrupts: resolved after 5m, carrying the resolving line */
	FEED(f, MIN(11), "ok first", HR(r, 1, NULL));
	FEED(f, MIN(13), "ok second", HR(r, 1, NULL)); /* does not push it back */
	assert_int_equal(engine_next_deadline(f->e), MIN(16));
	feed0(f, MIN(15), "quiet");
	assert_int_equal(f->n, 1);
	tick(f, MIN(16));
	expect_kinds(f, 2, EV_RULE_FIRED, EV_RULE_RESOLVED);
	assert_int_equal(f->ev[1].t, MIN(16));
	assert_string_equal(f->ev[1].line, "ok first");
	assert_string_equal(f->ev[1].reason, "resolve_on: ok");
	assert_int_equal(engine_rule_state(f->e, r), RULE_IDLE);
	/* without a clock there is nothing to wait with: resolved at once */
	FEED(f, NOCLK, "bad", HR(r, 0, NULL));
	FEED(f, NOCLK, "ok", HR(r, 1, NULL));
	expect_kinds(f, 4, EV_RULE_FIRED, EV_RULE_RESOLVED, EV_RULE_FIRED, EV_RULE_RESOLVED);
	fx_free(f);
}

static void test_keep_firing_absent(void **state)
{
	(void)state;
	/* the stage is armed again during the delay: the resolution happens, then the wait shows */
	struct fx *f = fx_new();
	int r = absent_rule(&f->rs, "hang", MIN(30));
	f->rs.rules[r].when.keep_firing_ns = MIN(5);
	fx_start(f);
	FEED(f, MIN(0), "Preparing", HR(r, 0, NULL));
	tick(f, MIN(30));
	feed0(f, MIN(31), "output");
	FEED(f, MIN(32), "Preparing", HR(r, 0, NULL));
	expect_kinds(f, 2, EV_RULE_PENDING, EV_RULE_FIRED);
	assert_int_equal(engine_next_deadline(f->e), MIN(36));
	tick(f, MIN(36));
	expect_kinds(f, 4, EV_RULE_PENDING, EV_RULE_FIRED, EV_RULE_RESOLVED, EV_RULE_PENDING);
	assert_string_equal(f->ev[2].reason, "output resumed");
	assert_string_equal(f->ev[2].line, "output");
	tick(f, MIN(62));
	assert_int_equal(f->ev[4].kind, EV_RULE_FIRED);
	assert_string_equal(f->ev[4].title, "stuck for 30m");
	fx_free(f);

	/* the new wait expires before the delay: a new trigger, the resolution is cancelled */
	f = fx_new();
	r = absent_rule(&f->rs, "hang", MIN(30));
	f->rs.rules[r].when.keep_firing_ns = MIN(60);
	fx_start(f);
	FEED(f, MIN(0), "Preparing", HR(r, 0, NULL));
	tick(f, MIN(30));
	feed0(f, MIN(31), "output");
	FEED(f, MIN(32), "Preparing", HR(r, 0, NULL));
	tick(f, MIN(200));
	expect_kinds(f, 2, EV_RULE_PENDING, EV_RULE_FIRED);
	assert_int_equal(engine_rule_state(f->e, r), RULE_FIRING);
	assert_int_equal(engine_next_deadline(f->e), INT64_MAX);
	fx_free(f);
}

/* ---- all ----------------------------------------------------------------- */

static int all_rule(struct ruleset *rs, int64_t within)
{
	int r = mk_rule(rs, "both");
	struct detector *a = mk_regex(rs, r, "a", "disk (?<dev>\\w+) error", "disk ", NULL);
	mk_cap(a, "dev", CAP_STR, NULL);
	struct detector *b = mk_regex(rs, r, "b", "fs (?<fs>\\w+) readonly", "readonly", NULL);
	mk_cap(b, "fs", CAP_STR, NULL);
	struct when *w = &rs->rules[r].when;
	w->kind = WHEN_ALL;
	w->of = ints(2, 0, 1);
	w->nof = 2;
	w->within_ns = within;
	set_title(&rs->rules[r], "{dev} and {fs}");
	return r;
}

static void test_all_within(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	int r = all_rule(&f->rs, MIN(5));
	fx_start(f);
	FEED(f, MIN(0), "disk sda error", HR(r, 0, "dev", "sda"));
	FEED(f, MIN(10), "fs root readonly", HR(r, 1, "fs", "root"));
	assert_int_equal(f->n, 0); /* 10 minutes apart */
	FEED(f, MIN(12), "disk sdb error", HR(r, 0, "dev", "sdb"));
	expect_kinds(f, 1, EV_RULE_FIRED);
	assert_string_equal(f->ev[0].title, "sdb and root");
	/* the pair was used up: one more hit alone does not fire (and it is firing anyway) */
	FEED(f, MIN(13), "fs root readonly", HR(r, 1, "fs", "root"));
	assert_int_equal(f->n, 1);
	fx_free(f);

	/* without within: anywhere in the epoch */
	f = fx_new();
	r = all_rule(&f->rs, 0);
	fx_start(f);
	FEED(f, MIN(0), "disk sda error", HR(r, 0, "dev", "sda"));
	FEED(f, MIN(600), "fs root readonly", HR(r, 1, "fs", "root"));
	expect_kinds(f, 1, EV_RULE_FIRED);
	assert_string_equal(f->ev[0].caps, "dev=sda,fs=root");
	fx_free(f);

	/* within but no clock: uncertain instead of fired, once */
	f = fx_new();
	r = all_rule(&f->rs, MIN(5));
	fx_start(f);
	FEED(f, NOCLK, "disk sda error", HR(r, 0, "dev", "sda"));
	FEED(f, NOCLK, "fs root readonly", HR(r, 1, "fs", "root"));
	FEED(f, NOCLK, "disk sda error", HR(r, 0, "dev", "sda"));
	FEED(f, NOCLK, "fs root readonly", HR(r, 1, "fs", "root"));
	expect_kinds(f, 1, EV_RULE_UNCERTAIN);
	assert_non_null(strstr(f->ev[0].reason, "no clock"));
	assert_non_null(strstr(f->ev[0].reason, "5m"));
	assert_int_equal(engine_rule_state(f->e, r), RULE_IDLE);
	fx_free(f);
}

/* ---- sequence ------------------------------------------------------------ */

static void test_sequence(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	int r = mk_rule(&f->rs, "seq");
	struct detector *a = mk_regex(&f->rs, r, "a", "start (?<id>\\w+)", "start ", NULL);
	mk_cap(a, "id", CAP_STR, NULL);
	mk_det(&f->rs, r, "b", DET_CONTAINS, "middle", NULL);
	struct detector *c = mk_regex(&f->rs, r, "c", "end (?<code>\\w+)", "end ", NULL);
	mk_cap(c, "code", CAP_STR, NULL);
	struct when *w = &f->rs.rules[r].when;
	w->kind = WHEN_SEQUENCE;
	w->steps = xcalloc(3, sizeof(*w->steps));
	w->steps[0] = (struct seq_step){0, 0};
	w->steps[1] = (struct seq_step){1, MIN(2)};
	w->steps[2] = (struct seq_step){2, MIN(2)};
	w->nsteps = 3;
	set_title(&f->rs.rules[r], "{id} ended {code}");
	fx_start(f);
	/* out of order does nothing */
	FEED(f, MIN(0), "middle", HR(r, 1, NULL));
	FEED(f, MIN(0), "end x", HR(r, 2, "code", "x"));
	/* the last step is late */
	FEED(f, MIN(1), "start one", HR(r, 0, "id", "one"));
	FEED(f, MIN(2), "middle", HR(r, 1, NULL));
	FEED(f, MIN(5), "end late", HR(r, 2, "code", "late"));
	assert_int_equal(f->n, 0);
	/* a later start restarts the sequence */
	FEED(f, MIN(10), "start two", HR(r, 0, "id", "two"));
	FEED(f, MIN(11), "start three", HR(r, 0, "id", "three"));
	FEED(f, MIN(12) + SEC(30), "middle", HR(r, 1, NULL));
	FEED(f, MIN(14), "end ok", HR(r, 2, "code", "ok"));
	expect_kinds(f, 1, EV_RULE_FIRED);
	assert_string_equal(f->ev[0].title, "three ended ok");
	assert_string_equal(f->ev[0].caps, "id=three,code=ok");
	assert_string_equal(f->ev[0].line, "end ok");
	fx_free(f);

	/* [A, {then: A, within: 1m}]: two A close together */
	f = fx_new();
	r = mk_rule(&f->rs, "twice");
	mk_det(&f->rs, r, "a", DET_CONTAINS, "oops", NULL);
	w = &f->rs.rules[r].when;
	w->kind = WHEN_SEQUENCE;
	w->steps = xcalloc(2, sizeof(*w->steps));
	w->steps[0] = (struct seq_step){0, 0};
	w->steps[1] = (struct seq_step){0, MIN(1)};
	w->nsteps = 2;
	fx_start(f);
	FEED(f, MIN(0), "oops", HR(r, 0, NULL));
	FEED(f, MIN(5), "oops", HR(r, 0, NULL)); /* too late: starts over */
	assert_int_equal(f->n, 0);
	FEED(f, MIN(5) + SEC(30), "oops", HR(r, 0, NULL));
	expect_kinds(f, 1, EV_RULE_FIRED);
	fx_free(f);

	/* no clock: windows cannot be checked */
	f = fx_new();
	r = mk_rule(&f->rs, "twice");
	mk_det(&f->rs, r, "a", DET_CONTAINS, "oops", NULL);
	mk_det(&f->rs, r, "b", DET_CONTAINS, "ouch", NULL);
	w = &f->rs.rules[r].when;
	w->kind = WHEN_SEQUENCE;
	w->steps = xcalloc(2, sizeof(*w->steps));
	w->steps[0] = (struct seq_step){0, 0};
	w->steps[1] = (struct seq_step){1, MIN(1)};
	w->nsteps = 2;
	fx_start(f);
	FEED(f, NOCLK, "oops", HR(r, 0, NULL));
	FEED(f, NOCLK, "ouch", HR(r, 1, NULL));
	FEED(f, NOCLK, "oops", HR(r, 0, NULL));
	FEED(f, NOCLK, "ouch", HR(r, 1, NULL));
	expect_kinds(f, 1, EV_RULE_UNCERTAIN);
	fx_free(f);
}

/* ---- count --------------------------------------------------------------- */

static int count_rule(struct ruleset *rs, unsigned at_least, int64_t within, const char *distinct)
{
	int r = mk_rule(rs, "cnt");
	struct detector *d = mk_regex(rs, r, "err", "I/O error on (?<dev>\\w+)", "I/O error", NULL);
	mk_cap(d, "dev", CAP_STR, NULL);
	struct when *w = &rs->rules[r].when;
	w->kind = WHEN_COUNT;
	w->of = ints(1, 0);
	w->nof = 1;
	w->at_least = at_least;
	w->within_ns = within;
	w->distinct = distinct ? xstrdup(distinct) : NULL;
	set_title(&rs->rules[r], "{count} errors, last {dev}");
	return r;
}

static void test_count_window(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	int r = count_rule(&f->rs, 3, MIN(10), NULL);
	fx_start(f);
	FEED(f, MIN(0), "I/O error on sda", HR(r, 0, "dev", "sda"));
	FEED(f, MIN(5), "I/O error on sda", HR(r, 0, "dev", "sda"));
	FEED(f, MIN(11), "I/O error on sda", HR(r, 0, "dev", "sda"));
	assert_int_equal(f->n, 0); /* 0..11 is wider than 10m */
	FEED(f, MIN(12), "I/O error on sdb", HR(r, 0, "dev", "sdb"));
	expect_kinds(f, 1, EV_RULE_FIRED);
	assert_int_equal(f->ev[0].count, 3);
	assert_string_equal(f->ev[0].title, "3 errors, last sdb");
	fx_free(f);

	/* no window: in the epoch */
	f = fx_new();
	r = count_rule(&f->rs, 2, 0, NULL);
	fx_start(f);
	FEED(f, MIN(0), "I/O error on sda", HR(r, 0, "dev", "sda"));
	FEED(f, MIN(900), "I/O error on sda", HR(r, 0, "dev", "sda"));
	expect_kinds(f, 1, EV_RULE_FIRED);
	assert_int_equal(f->ev[0].count, 2);
	fx_free(f);

	/* window without a clock: uncertain once */
	f = fx_new();
	r = count_rule(&f->rs, 2, MIN(10), NULL);
	fx_start(f);
	for (int i = 0; i < 6; i++)
		FEED(f, NOCLK, "I/O error on sda", HR(r, 0, "dev", "sda"));
	expect_kinds(f, 1, EV_RULE_UNCERTAIN);
	assert_non_null(strstr(f->ev[0].reason, "no clock"));
	fx_free(f);
}

static void test_count_distinct(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	int r = count_rule(&f->rs, 3, MIN(10), "dev");
	fx_start(f);
	FEED(f, MIN(0), "I/O error on sda", HR(r, 0, "dev", "sda"));
	FEED(f, MIN(1), "I/O error on sda", HR(r, 0, "dev", "sda"));
	FEED(f, MIN(2), "I/O error on sdb", HR(r, 0, "dev", "sdb"));
	assert_int_equal(f->n, 0); /* two distinct values */
	/* sda's newest time counts: sda(1) sdb(2) sdc(11) fits in 10m */
	FEED(f, MIN(11), "I/O error on sdc", HR(r, 0, "dev", "sdc"));
	expect_kinds(f, 1, EV_RULE_FIRED);
	assert_int_equal(f->ev[0].count, 3);
	fx_free(f);

	f = fx_new();
	r = count_rule(&f->rs, 3, MIN(10), "dev");
	fx_start(f);
	FEED(f, MIN(0), "I/O error on sda", HR(r, 0, "dev", "sda"));
	FEED(f, MIN(2), "I/O error on sdb", HR(r, 0, "dev", "sdb"));
	FEED(f, MIN(11), "I/O error on sdc", HR(r, 0, "dev", "sdc"));
	assert_int_equal(f->n, 0); /* sda at 0 is out of the window */
	FEED(f, MIN(11), "I/O error on sdd", HR(r, 0, "dev", "sdd"));
	expect_kinds(f, 1, EV_RULE_FIRED);
	fx_free(f);

	/* no window, distinct: hits without the capture do not count */
	f = fx_new();
	r = count_rule(&f->rs, 2, 0, "dev");
	fx_start(f);
	FEED(f, MIN(0), "I/O error on sda", HR(r, 0, "dev", "sda"));
	FEED(f, MIN(1), "I/O error", HR(r, 0, NULL));
	FEED(f, MIN(2), "I/O error on sda", HR(r, 0, "dev", "sda"));
	assert_int_equal(f->n, 0);
	FEED(f, MIN(3), "I/O error on sdb", HR(r, 0, "dev", "sdb"));
	expect_kinds(f, 1, EV_RULE_FIRED);
	fx_free(f);
}

/* ---- group_by ------------------------------------------------------------ */

static void test_group_by(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	int r = mk_rule(&f->rs, "disk");
	struct detector *d = mk_regex(&f->rs, r, "err", "error on (?<dev>\\w+)", "error on", NULL);
	mk_cap(d, "dev", CAP_STR, NULL);
	struct detector *ok = mk_regex(&f->rs, r, "ok", "recovered(?<dev> \\w+)?", "recovered", NULL);
	mk_cap(ok, "dev", CAP_STR, NULL);
	struct when *w = &f->rs.rules[r].when;
	w->of = ints(1, 0);
	w->nof = 1;
	w->resolve_on = ints(1, 1);
	w->nresolve = 1;
	w->group_by = strs1("dev");
	w->ngroup = 1;
	set_title(&f->rs.rules[r], "errors on {dev}");
	fx_start(f);
	FEED(f, MIN(0), "error on sda", HR(r, 0, "dev", "sda"));
	FEED(f, MIN(1), "error on sdb", HR(r, 0, "dev", "sdb"));
	FEED(f, MIN(2), "error on sda", HR(r, 0, "dev", "sda"));
	expect_kinds(f, 2, EV_RULE_FIRED, EV_RULE_FIRED);
	assert_string_equal(f->ev[0].title, "errors on sda");
	assert_string_equal(f->ev[1].title, "errors on sdb");
	/* a keyed resolution only resolves its group */
	FEED(f, MIN(3), "recovered sdb", HR(r, 1, "dev", "sdb"));
	expect_kinds(f, 3, EV_RULE_FIRED, EV_RULE_FIRED, EV_RULE_RESOLVED);
	assert_string_equal(f->ev[2].title, "errors on sdb");
	FEED(f, MIN(4), "error on sdb", HR(r, 0, "dev", "sdb"));
	/* one without the key resolves every group */
	FEED(f, MIN(5), "recovered", HR(r, 1, NULL));
	expect_kinds(f, 6, EV_RULE_FIRED, EV_RULE_FIRED, EV_RULE_RESOLVED, EV_RULE_FIRED, EV_RULE_RESOLVED,
	             EV_RULE_RESOLVED);
	assert_string_equal(f->ev[4].title, "errors on sda");
	assert_string_equal(f->ev[5].title, "errors on sdb");
	assert_int_equal(engine_rule_state(f->e, r), RULE_IDLE);
	fx_free(f);
}

static void test_group_by_bound(void **state)
{
	(void)state;
	char dev[32], line[64];
	/* busy instances are never pushed out: the 257th key is dropped */
	struct fx *f = fx_new();
	int r = mk_rule(&f->rs, "disk");
	struct detector *d = mk_regex(&f->rs, r, "err", "error on (?<dev>\\w+)", "error on", NULL);
	mk_cap(d, "dev", CAP_STR, NULL);
	f->rs.rules[r].when.group_by = strs1("dev");
	f->rs.rules[r].when.ngroup = 1;
	fx_start(f);
	for (int i = 0; i < 300; i++) {
		snprintf(dev, sizeof(dev), "d%d", i);
		snprintf(line, sizeof(line), "error on %s", dev);
		FEED(f, SEC(i), line, HR(r, 0, "dev", dev));
	}
	assert_int_equal(count_kind(f, EV_RULE_FIRED), 256);
	assert_int_equal(engine_dropped(f->e), 44);
	fx_free(f);

	/* idle instances are reused, oldest first */
	f = fx_new();
	r = count_rule(&f->rs, 2, 0, NULL);
	f->rs.rules[r].when.group_by = strs1("dev");
	f->rs.rules[r].when.ngroup = 1;
	fx_start(f);
	for (int i = 0; i < 257; i++) {
		snprintf(dev, sizeof(dev), "d%d", i);
		FEED(f, SEC(i), "I/O error", HR(r, 0, "dev", dev));
	}
	assert_int_equal(f->n, 0);
	assert_int_equal(engine_dropped(f->e), 0);
	/* d255 still has its first hit */
	FEED(f, SEC(300), "I/O error", HR(r, 0, "dev", "d255"));
	expect_kinds(f, 1, EV_RULE_FIRED);
	/* d0 was the oldest and was reused for d256: its count starts again */
	FEED(f, SEC(301), "I/O error", HR(r, 0, "dev", "d0"));
	assert_int_equal(f->n, 1);
	FEED(f, SEC(302), "I/O error", HR(r, 0, "dev", "d0"));
	assert_int_equal(f->n, 2);
	fx_free(f);
}

/* ---- epochs -------------------------------------------------------------- */

static void test_epochs(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	mk_epoch(&f->rs, "firmware", 10, DET_CONTAINS, "SeaBIOS", NULL);
	mk_epoch(&f->rs, "loader", 20, DET_CONTAINS, "GRUB", NULL);
	mk_epoch(&f->rs, "linux", 30, DET_PREFIX, "Linux version", NULL);
	int a = mk_rule(&f->rs, "oops");
	mk_det(&f->rs, a, "x", DET_CONTAINS, "Oops", NULL);
	int h = absent_rule(&f->rs, "hang", MIN(30));
	int loop = mk_rule(&f->rs, "bootloop");
	struct when *w = &f->rs.rules[loop].when;
	w->kind = WHEN_COUNT;
	w->of = ints(1, DET_REF_EPOCH);
	w->nof = 1;
	w->at_least = 3;
	w->within_ns = MIN(30);
	f->rs.rules[loop].cross_epoch = true;
	set_title(&f->rs.rules[loop], "{count} boots, epoch {epoch}");
	fx_start(f);
	assert_int_equal(engine_epoch(f->e), 0);

	FEED(f, MIN(0), "SeaBIOS (version 1.16)", HE(0));
	expect_kinds(f, 1, EV_EPOCH_STARTED);
	assert_string_equal(f->ev[0].marker, "firmware");
	assert_int_equal(f->ev[0].epoch, 1);
	assert_string_equal(f->ev[0].line, "SeaBIOS (version 1.16)");
	/* loader and kernel after firmware: the same boot */
	FEED(f, MIN(1), "GRUB loading", HE(1));
	FEED(f, MIN(2), "Linux version 6.1", HE(2));
	assert_int_equal(f->n, 1);
	assert_int_equal(engine_epoch(f->e), 1);
	FEED(f, MIN(3), "Oops: 0000", HR(a, 0, NULL));
	FEED(f, MIN(4), "Preparing", HR(h, 0, NULL));
	expect_kinds(f, 3, EV_EPOCH_STARTED, EV_RULE_FIRED, EV_RULE_PENDING);
	assert_int_equal(f->ev[1].epoch, 1);
	/* kernel again (same stage): a new boot; firing rules are resolved first, pending ones go quietly */
	FEED(f, MIN(5), "Linux version 6.1", HE(2));
	expect_kinds(f, 5, EV_EPOCH_STARTED, EV_RULE_FIRED, EV_RULE_PENDING, EV_RULE_RESOLVED,
	             EV_EPOCH_STARTED);
	assert_string_equal(f->ev[3].rule, "oops");
	assert_string_equal(f->ev[3].reason, "new epoch");
	assert_int_equal(f->ev[3].epoch, 1);
	assert_int_equal(f->ev[4].epoch, 2);
	assert_string_equal(f->ev[4].marker, "linux");
	assert_int_equal(engine_rule_state(f->e, h), RULE_IDLE);
	assert_int_equal(engine_rule_state(f->e, a), RULE_IDLE);
	tick(f, MIN(100));
	assert_int_equal(f->n, 5);
	/* the same Oops fires again in the new boot */
	FEED(f, MIN(101), "Oops", HR(a, 0, NULL));
	assert_int_equal(f->ev[5].kind, EV_RULE_FIRED);
	assert_int_equal(f->ev[5].epoch, 2);
	/* firmware → third boot within 30m of the second? no: 5m..102m */
	FEED(f, MIN(102), "SeaBIOS", HE(0));
	assert_int_equal(count_kind(f, EV_RULE_FIRED), 2);
	/* two more boots in quick succession: the cross-epoch count fires */
	FEED(f, MIN(110), "SeaBIOS", HE(0));
	FEED(f, MIN(120), "SeaBIOS", HE(0));
	assert_int_equal(engine_epoch(f->e), 5);
	const struct rec *last = &f->ev[f->n - 1];
	assert_int_equal(last->kind, EV_RULE_FIRED);
	assert_string_equal(last->rule, "bootloop");
	assert_string_equal(last->title, "3 boots, epoch 5");
	assert_int_equal(last->count, 3);
	/* cross-epoch rules are not resolved by a new epoch */
	FEED(f, MIN(121), "SeaBIOS", HE(0));
	assert_int_equal(engine_rule_state(f->e, loop), RULE_FIRING);
	for (size_t i = 0; i < f->n; i++)
		if (f->ev[i].kind == EV_RULE_RESOLVED)
			assert_string_not_equal(f->ev[i].rule, "bootloop");
	fx_free(f);
}

static void test_epoch_one_per_line(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	mk_epoch(&f->rs, "firmware", 10, DET_CONTAINS, "SeaBIOS", NULL);
	mk_epoch(&f->rs, "firmware2", 10, DET_CONTAINS, "BIOS", NULL);
	fx_start(f);
	FEED(f, MIN(0), "SeaBIOS", HE(0), HE(1));
	assert_int_equal(engine_epoch(f->e), 1);
	expect_kinds(f, 1, EV_EPOCH_STARTED);
	fx_free(f);
}

/* ---- ignore -------------------------------------------------------------- */

static void test_ignore(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	mk_ignore(&f->rs, "echo", DET_PREFIX, "# grep", NULL);
	mk_epoch(&f->rs, "linux", 30, DET_PREFIX, "Linux version", NULL);
	int a = mk_rule(&f->rs, "panic");
	mk_det(&f->rs, a, "p", DET_CONTAINS, "Kernel panic", NULL);
	int h = absent_rule(&f->rs, "hang", MIN(30));
	fx_start(f);
	FEED(f, MIN(0), "# grep 'Kernel panic' log", HI(0), HR(a, 0, NULL));
	assert_int_equal(f->n, 0);
	FEED(f, MIN(1), "Preparing", HR(h, 0, NULL));
	/* ignored lines are not output: the wait goes on */
	FEED(f, MIN(20), "# grep something", HI(0));
	tick(f, MIN(31));
	expect_kinds(f, 2, EV_RULE_PENDING, EV_RULE_FIRED);
	assert_string_equal(f->ev[1].title, "stuck for 30m");
	/* epoch markers still see an ignored line */
	FEED(f, MIN(40), "Linux version 6.1", HI(0), HE(0));
	expect_kinds(f, 4, EV_RULE_PENDING, EV_RULE_FIRED, EV_RULE_RESOLVED, EV_EPOCH_STARTED);
	fx_free(f);
}

/* ---- unless_near --------------------------------------------------------- */

static void test_unless_near_lines(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	int r = mk_rule(&f->rs, "R");
	struct detector *x = mk_det(&f->rs, r, "err", DET_CONTAINS, "error", NULL);
	mk_det(&f->rs, r, "benign", DET_CONTAINS, "expected", NULL);
	x->has_unless_near = true;
	x->unless_near_det = 1;
	x->unless_near_lines = 2;
	fx_start(f);
	FEED(f, SEC(1), "expected noise", HR(r, 1, NULL)); /* line 1: a helper, it does not fire */
	feed0(f, SEC(2), "x");                             /* 2 */
	FEED(f, SEC(3), "error", HR(r, 0, NULL));          /* 3: 2 lines after: suppressed */
	assert_int_equal(f->n, 0);
	FEED(f, SEC(4), "error", HR(r, 0, NULL)); /* 4: 3 lines after: fires */
	expect_kinds(f, 1, EV_RULE_FIRED);
	assert_int_equal(f->ev[0].lineno, 4);
	fx_free(f);

	/* the same line counts; a detector naming itself looks only at earlier lines */
	f = fx_new();
	r = mk_rule(&f->rs, "R");
	x = mk_det(&f->rs, r, "err", DET_CONTAINS, "error", NULL);
	mk_det(&f->rs, r, "benign", DET_CONTAINS, "expected", NULL);
	x->has_unless_near = true;
	x->unless_near_det = 1;
	x->unless_near_lines = 1;
	int s = mk_rule(&f->rs, "S");
	struct detector *y = mk_det(&f->rs, s, "burst", DET_CONTAINS, "retry", NULL);
	y->has_unless_near = true;
	y->unless_near_det = 0;
	y->unless_near_lines = 1;
	f->rs.rules[s].when.resolve_on = ints(1, 1);
	mk_det(&f->rs, s, "reset", DET_CONTAINS, "reset", NULL);
	f->rs.rules[s].when.nresolve = 1;
	fx_start(f);
	FEED(f, SEC(1), "expected error", HR(r, 1, NULL), HR(r, 0, NULL));
	assert_int_equal(f->n, 0);
	FEED(f, SEC(2), "retry", HR(s, 0, NULL));
	expect_kinds(f, 1, EV_RULE_FIRED);
	FEED(f, SEC(3), "reset", HR(s, 1, NULL));
	FEED(f, SEC(4), "retry", HR(s, 0, NULL)); /* 2 lines after the last retry: fires */
	FEED(f, SEC(5), "reset", HR(s, 1, NULL));
	FEED(f, SEC(6), "retry", HR(s, 0, NULL)); /* the one before was 2 lines earlier */
	expect_kinds(f, 5, EV_RULE_FIRED, EV_RULE_RESOLVED, EV_RULE_FIRED, EV_RULE_RESOLVED, EV_RULE_FIRED);
	FEED(f, SEC(7), "reset", HR(s, 1, NULL));
	FEED(f, SEC(8), "retry", HR(s, 0, NULL));
	/* resolved, and the retry right after the previous one is suppressed */
	FEED(f, SEC(9), "reset; retry", HR(s, 1, NULL), HR(s, 0, NULL));
	assert_int_equal(count_kind(f, EV_RULE_FIRED), 4);
	assert_int_equal(count_kind(f, EV_RULE_RESOLVED), 4);
	assert_int_equal(engine_rule_state(f->e, s), RULE_IDLE);
	fx_free(f);
}

static void test_unless_near_duration(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	int r = mk_rule(&f->rs, "R");
	struct detector *x = mk_det(&f->rs, r, "err", DET_CONTAINS, "timeout", NULL);
	mk_det(&f->rs, r, "maint", DET_CONTAINS, "maintenance", NULL);
	mk_det(&f->rs, r, "ok", DET_CONTAINS, "ok", NULL);
	x->has_unless_near = true;
	x->unless_near_det = 1;
	x->unless_near_ns = MIN(5);
	f->rs.rules[r].when.of = ints(1, 0);
	f->rs.rules[r].when.nof = 1;
	f->rs.rules[r].when.resolve_on = ints(1, 2);
	f->rs.rules[r].when.nresolve = 1;
	fx_start(f);
	FEED(f, MIN(0), "maintenance", HR(r, 1, NULL));
	for (int i = 0; i < 10; i++)
		feed0(f, MIN(1), "filler"); /* lines do not matter here, time does */
	FEED(f, MIN(4), "timeout", HR(r, 0, NULL));
	assert_int_equal(f->n, 0);
	FEED(f, MIN(6), "timeout", HR(r, 0, NULL));
	expect_kinds(f, 1, EV_RULE_FIRED);
	FEED(f, MIN(7), "ok", HR(r, 2, NULL));
	/* without a clock a duration cannot suppress */
	FEED(f, NOCLK, "maintenance", HR(r, 1, NULL));
	FEED(f, NOCLK, "timeout", HR(r, 0, NULL));
	expect_kinds(f, 3, EV_RULE_FIRED, EV_RULE_RESOLVED, EV_RULE_FIRED);
	fx_free(f);
}

/* ---- blocks -------------------------------------------------------------- */

static int block_rule(struct ruleset *rs, unsigned max_lines, int64_t max_ns, bool with_end)
{
	int r = mk_rule(rs, "panic");
	struct detector *d =
	    mk_regex(rs, r, "p", "Kernel panic - not syncing: (?<reason>.+)", "Kernel panic", NULL);
	mk_cap(d, "reason", CAP_STR, NULL);
	if (with_end)
		mk_block(d, max_lines, max_ns, "---[ end Kernel panic", NULL);
	else
		mk_block(d, max_lines, max_ns, NULL);
	set_title(&rs->rules[r], "panic: {reason}");
	return r;
}

static void test_block_end(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	int r = block_rule(&f->rs, 50, 0, true);
	fx_start(f);
	feed0(f, SEC(1), "before");
	FEED(f, SEC(2), "Kernel panic - not syncing: init died", HR(r, 0, "reason", "init died"));
	assert_int_equal(f->n, 0); /* withheld until the block ends */
	/* a timestamp prefix is not part of the block */
	struct line ln = {.text = "[ 5.1] CPU: 0 PID: 1",
	                  .len = 20,
	                  .body = 7,
	                  .lineno = ++f->lineno,
	                  .time_ns = SEC(3),
	                  .flags = LINE_TIME_KNOWN};
	engine_line(f->e, &ln, NULL, 0);
	/* another hit of the same detector inside the block is part of it */
	FEED(f, SEC(4), "Kernel panic - not syncing: again", HR(r, 0, "reason", "again"));
	feed0(f, SEC(5), "---[ end Kernel panic - not syncing: init died ]---");
	feed0(f, SEC(6), "after");
	expect_kinds(f, 1, EV_RULE_FIRED);
	const struct rec *ev = &f->ev[0];
	assert_true(ev->has_block);
	assert_false(ev->truncated);
	assert_string_equal(ev->block, "Kernel panic - not syncing: init died\nCPU: 0 PID: 1\n"
	                               "Kernel panic - not syncing: again\n"
	                               "---[ end Kernel panic - not syncing: init died ]---");
	assert_string_equal(ev->title, "panic: init died");
	assert_string_equal(ev->line, "Kernel panic - not syncing: init died");
	assert_int_equal(ev->lineno, 2);
	assert_int_equal(ev->t, SEC(5)); /* when the block closed */
	fx_free(f);
}

static void test_block_max_lines(void **state)
{
	(void)state;
	/* with an end literal, reaching max_lines truncates */
	struct fx *f = fx_new();
	int r = block_rule(&f->rs, 3, 0, true);
	fx_start(f);
	FEED(f, SEC(1), "Kernel panic - not syncing: a", HR(r, 0, "reason", "a"));
	feed0(f, SEC(2), "one");
	assert_int_equal(f->n, 0);
	feed0(f, SEC(3), "two");
	expect_kinds(f, 1, EV_RULE_FIRED);
	assert_true(f->ev[0].truncated);
	assert_string_equal(f->ev[0].block, "Kernel panic - not syncing: a\none\ntwo");
	fx_free(f);

	/* without one, max_lines is the block's natural end */
	f = fx_new();
	r = block_rule(&f->rs, 2, 0, false);
	fx_start(f);
	FEED(f, SEC(1), "Kernel panic - not syncing: a", HR(r, 0, "reason", "a"));
	feed0(f, SEC(2), "one");
	expect_kinds(f, 1, EV_RULE_FIRED);
	assert_false(f->ev[0].truncated);
	assert_string_equal(f->ev[0].block, "Kernel panic - not syncing: a\none");
	fx_free(f);

	/* max_lines 1: the hit line alone */
	f = fx_new();
	r = block_rule(&f->rs, 1, 0, false);
	fx_start(f);
	FEED(f, SEC(1), "Kernel panic - not syncing: a", HR(r, 0, "reason", "a"));
	expect_kinds(f, 1, EV_RULE_FIRED);
	assert_string_equal(f->ev[0].block, "Kernel panic - not syncing: a");
	fx_free(f);
}

static void test_block_time_finish_epoch_and_cap(void **state)
{
	(void)state;
	/* max_time closes it from a tick */
	struct fx *f = fx_new();
	int r = block_rule(&f->rs, 100, SEC(10), true);
	fx_start(f);
	FEED(f, SEC(1), "Kernel panic - not syncing: a", HR(r, 0, "reason", "a"));
	assert_int_equal(engine_next_deadline(f->e), SEC(11));
	feed0(f, SEC(2), "one");
	tick(f, SEC(11));
	expect_kinds(f, 1, EV_RULE_FIRED);
	assert_true(f->ev[0].truncated);
	assert_int_equal(f->ev[0].t, SEC(11));
	assert_string_equal(f->ev[0].block, "Kernel panic - not syncing: a\none");
	fx_free(f);

	/* end of input delivers it truncated */
	f = fx_new();
	r = block_rule(&f->rs, 100, 0, true);
	fx_start(f);
	FEED(f, NOCLK, "Kernel panic - not syncing: a", HR(r, 0, "reason", "a"));
	feed0(f, NOCLK, "one");
	assert_int_equal(f->n, 0);
	engine_finish(f->e);
	expect_kinds(f, 1, EV_RULE_FIRED);
	assert_true(f->ev[0].truncated);
	fx_free(f);

	/* a new epoch delivers it first (old epoch), then resolves it */
	f = fx_new();
	mk_epoch(&f->rs, "fw", 10, DET_CONTAINS, "SeaBIOS", NULL);
	r = block_rule(&f->rs, 100, 0, true);
	fx_start(f);
	FEED(f, SEC(1), "Kernel panic - not syncing: a", HR(r, 0, "reason", "a"));
	feed0(f, SEC(2), "one");
	FEED(f, SEC(3), "SeaBIOS", HE(0));
	expect_kinds(f, 3, EV_RULE_FIRED, EV_RULE_RESOLVED, EV_EPOCH_STARTED);
	assert_true(f->ev[0].truncated);
	assert_string_equal(f->ev[0].block, "Kernel panic - not syncing: a\none");
	fx_free(f);

	/* the byte cap: 64 KiB at most, then truncated */
	f = fx_new();
	r = block_rule(&f->rs, 1000, 0, true);
	fx_start(f);
	char big[4097];
	memset(big, 'z', 4096);
	big[4096] = '\0';
	FEED(f, SEC(1), "Kernel panic - not syncing: a", HR(r, 0, "reason", "a"));
	for (int i = 0; i < 20 && f->n == 0; i++)
		feed0(f, SEC(2), big);
	expect_kinds(f, 1, EV_RULE_FIRED);
	assert_true(f->ev[0].truncated);
	assert_true(strlen(f->ev[0].block) <= 64 * 1024);
	assert_true(strlen(f->ev[0].block) > 60 * 1024);
	fx_free(f);
}

/* ---- timers -------------------------------------------------------------- */

static void test_deadline_order(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	int r30 = absent_rule(&f->rs, "r30", MIN(30));
	int r10 = absent_rule(&f->rs, "r10", MIN(10));
	int r20 = absent_rule(&f->rs, "r20", MIN(20));
	int k = mk_rule(&f->rs, "keep");
	mk_det(&f->rs, k, "bad", DET_CONTAINS, "bad", NULL);
	mk_det(&f->rs, k, "ok", DET_CONTAINS, "ok", NULL);
	f->rs.rules[k].when.of = ints(1, 0);
	f->rs.rules[k].when.nof = 1;
	f->rs.rules[k].when.resolve_on = ints(1, 1);
	f->rs.rules[k].when.nresolve = 1;
	f->rs.rules[k].when.keep_firing_ns = MIN(15);
	fx_start(f);
	FEED(f, MIN(0), "Preparing", HR(r30, 0, NULL), HR(r10, 0, NULL), HR(r20, 0, NULL), HR(k, 0, NULL),
	     HR(k, 1, NULL));
	expect_kinds(f, 4, EV_RULE_PENDING, EV_RULE_PENDING, EV_RULE_PENDING, EV_RULE_FIRED);
	assert_int_equal(engine_next_deadline(f->e), MIN(10));
	tick(f, MIN(12));
	assert_int_equal(f->n, 5);
	assert_int_equal(engine_next_deadline(f->e), MIN(15));
	tick(f, MIN(60));
	expect_kinds(f, 8, EV_RULE_PENDING, EV_RULE_PENDING, EV_RULE_PENDING, EV_RULE_FIRED, EV_RULE_FIRED,
	             EV_RULE_RESOLVED, EV_RULE_FIRED, EV_RULE_FIRED);
	assert_string_equal(f->ev[4].rule, "r10");
	assert_int_equal(f->ev[4].t, MIN(10));
	assert_string_equal(f->ev[5].rule, "keep");
	assert_int_equal(f->ev[5].t, MIN(15));
	assert_string_equal(f->ev[6].rule, "r20");
	assert_int_equal(f->ev[6].t, MIN(20));
	assert_string_equal(f->ev[7].rule, "r30");
	assert_int_equal(f->ev[7].t, MIN(30));
	assert_int_equal(engine_next_deadline(f->e), INT64_MAX);
	/* ticks without a known time do nothing */
	engine_tick(f->e, MIN(1000), 0);
	assert_int_equal(f->n, 8);
	fx_free(f);
}

/* ---- EMS ----------------------------------------------------------------- */

static void test_ems(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	int r = mk_rule(&f->rs, "bugcheck");
	struct detector *d = mk_ems(&f->rs, r, "bp", EMS_DET_BUGCHECK, 0, NULL);
	mk_cap(d, "stopcode", CAP_HEX, NULL);
	set_title(&f->rs.rules[r], "bugcheck {stopcode}");
	fx_start(f);
	feed0(f, SEC(7), "<BP>");
	struct ems_record rec = {.kind = EMS_BUGCHECK, .has_stopcode = true, .stopcode = 0xE2, .offset = 99};
	snprintf(rec.stopcode_text, sizeof(rec.stopcode_text), "0xE2");
	const struct hs spec[] = {HR(r, 0, "stopcode", "0xE2")};
	struct hitset hs;
	build_hits(f, &hs, spec, 1);
	engine_ems(f->e, &rec, hs.hits, hs.n);
	expect_kinds(f, 2, EV_EMS_BUGCHECK, EV_RULE_FIRED);
	assert_true(f->ev[0].has_ems);
	assert_int_equal(f->ev[0].offset, 99);
	assert_int_equal(f->ev[0].t, SEC(7));
	assert_string_equal(f->ev[1].title, "bugcheck 0xE2");
	assert_int_equal(f->ev[1].offset, 99);
	assert_int_equal(f->ev[1].lineno, 1);
	assert_null(f->ev[1].line);
	struct ems_record mi = {.kind = EMS_MACHINE_INFO};
	engine_ems(f->e, &mi, NULL, 0);
	assert_int_equal(f->ev[2].kind, EV_EMS_MACHINE_INFO);
	fx_free(f);
}

static void test_bad_hits_are_ignored(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	int r = mk_rule(&f->rs, "R");
	mk_det(&f->rs, r, "a", DET_CONTAINS, "a", NULL);
	fx_start(f);
	struct det_slot bad[] = {
	    {OWNER_RULE, 5, 0, NULL},
	    {OWNER_RULE, 0, 7, NULL},
	    {OWNER_EPOCH, -1, 3, NULL},
	    {OWNER_RULE, -1, 0, NULL},
	};
	struct match_hit hits[5] = {{0}};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		hits[i].s = &bad[i];
	hits[4].s = NULL;
	struct line ln = {.text = "a", .len = 1, .lineno = 1, .flags = 0};
	engine_line(f->e, &ln, hits, 5);
	engine_line(f->e, &ln, NULL, 3);
	engine_line(NULL, &ln, NULL, 0);
	engine_line(f->e, NULL, NULL, 0);
	assert_int_equal(f->n, 0);
	fx_free(f);
	/* an engine without a rule set is a quiet one */
	struct engine *e = engine_new(NULL, NULL, NULL, NULL, NULL);
	engine_line(e, &ln, NULL, 0);
	engine_finish(e);
	assert_int_equal(engine_epoch(e), 0);
	engine_free(e);
}

/* ---- per-line work only where a rule needs it ------------------------- */

/* Among rules that have nothing to do with plain lines, the ones that do
 * (any-output waits, stages armed without a clock) still see every line,
 * whatever their place in the rule set. */
static void test_plain_lines_reach_the_rules_that_need_them(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	int filler[6];
	for (int i = 0; i < 3; i++) {
		char id[16];
		snprintf(id, sizeof(id), "F%d", i);
		filler[i] = mk_rule(&f->rs, id);
		mk_det(&f->rs, filler[i], "x", DET_CONTAINS, "x", NULL);
	}
	int out = absent_rule(&f->rs, "out", MIN(30)); /* any-output */
	for (int i = 3; i < 5; i++) {
		char id[16];
		snprintf(id, sizeof(id), "F%d", i);
		filler[i] = mk_rule(&f->rs, id);
		mk_det(&f->rs, filler[i], "x", DET_CONTAINS, "x", NULL);
	}
	int beat = absent_rule(&f->rs, "beat", MIN(10)); /* `of` a detector */
	mk_det(&f->rs, beat, "hb", DET_CONTAINS, "heartbeat", NULL);
	f->rs.rules[beat].when.absent_of = 2;
	filler[5] = mk_rule(&f->rs, "F5");
	mk_det(&f->rs, filler[5], "x", DET_CONTAINS, "x", NULL);
	fx_start(f);

	/* both stages entered without a clock: no timer yet */
	FEED(f, NOCLK, "Preparing", HR(out, 0, NULL), HR(beat, 0, NULL));
	expect_kinds(f, 2, EV_RULE_PENDING, EV_RULE_PENDING);
	feed0(f, NOCLK, "no time here");
	assert_int_equal(engine_next_deadline(f->e), INT64_MAX);
	/* the first line with a time, no hits: both waits start there */
	feed0(f, MIN(100), "stamped");
	assert_int_equal(engine_next_deadline(f->e), MIN(110));
	/* plain lines feed the any-output wait only */
	feed0(f, MIN(105), "output");
	tick(f, MIN(110));
	expect_kinds(f, 3, EV_RULE_PENDING, EV_RULE_PENDING, EV_RULE_FIRED);
	assert_string_equal(f->ev[2].rule, "beat");
	assert_int_equal(engine_next_deadline(f->e), MIN(135));
	feed0(f, MIN(120), "more output");
	assert_int_equal(engine_next_deadline(f->e), MIN(150));
	/* the heartbeat resolves its rule; the filler rules never stir */
	FEED(f, MIN(121), "heartbeat", HR(beat, 2, NULL));
	expect_kinds(f, 4, EV_RULE_PENDING, EV_RULE_PENDING, EV_RULE_FIRED, EV_RULE_RESOLVED);
	tick(f, MIN(151));
	expect_kinds(f, 5, EV_RULE_PENDING, EV_RULE_PENDING, EV_RULE_FIRED, EV_RULE_RESOLVED, EV_RULE_FIRED);
	assert_string_equal(f->ev[4].rule, "out");
	assert_int_equal(f->ev[4].t, MIN(151));
	for (int i = 0; i < 6; i++)
		assert_int_equal(engine_rule_state(f->e, filler[i]), RULE_IDLE);
	fx_free(f);
}

/* Without any rule that needs plain lines, they still run due timers and
 * count: line numbers and offsets carried by later EMS events stay right. */
static void test_plain_lines_without_listeners(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	int r = mk_rule(&f->rs, "R");
	mk_det(&f->rs, r, "a", DET_CONTAINS, "a", NULL);
	mk_det(&f->rs, r, "b", DET_CONTAINS, "b", NULL);
	struct when *w = &f->rs.rules[r].when;
	w->kind = WHEN_ALL;
	w->of = ints(2, 0, 1);
	w->nof = 2;
	w->within_ns = MIN(5);
	fx_start(f);
	FEED(f, MIN(1), "a", HR(r, 0, NULL));
	for (int i = 0; i < 100; i++)
		feed0(f, MIN(2), "plain");
	FEED(f, MIN(3), "b", HR(r, 1, NULL));
	expect_kinds(f, 1, EV_RULE_FIRED);
	assert_int_equal(f->ev[0].lineno, 102);
	struct ems_record rec = {.kind = EMS_MACHINE_INFO, .offset = 7};
	engine_ems(f->e, &rec, NULL, 0);
	assert_int_equal(f->n, 2);
	assert_int_equal(f->ev[1].lineno, 102);
	assert_int_equal(f->ev[1].t, MIN(3));
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_any_fires_once_with_fields),
	    cmocka_unit_test(test_any_resolve_on_then_fire_again),
	    cmocka_unit_test(test_title_bounds_and_control_bytes),
	    cmocka_unit_test(test_absent_lifecycle),
	    cmocka_unit_test(test_absent_expired_before_line),
	    cmocka_unit_test(test_absent_after_again_and_resolve_while_pending),
	    cmocka_unit_test(test_absent_progress),
	    cmocka_unit_test(test_absent_no_clock),
	    cmocka_unit_test(test_absent_clock_appears_later),
	    cmocka_unit_test(test_keep_firing_for),
	    cmocka_unit_test(test_keep_firing_absent),
	    cmocka_unit_test(test_all_within),
	    cmocka_unit_test(test_sequence),
	    cmocka_unit_test(test_count_window),
	    cmocka_unit_test(test_count_distinct),
	    cmocka_unit_test(test_group_by),
	    cmocka_unit_test(test_group_by_bound),
	    cmocka_unit_test(test_epochs),
	    cmocka_unit_test(test_epoch_one_per_line),
	    cmocka_unit_test(test_ignore),
	    cmocka_unit_test(test_unless_near_lines),
	    cmocka_unit_test(test_unless_near_duration),
	    cmocka_unit_test(test_block_end),
	    cmocka_unit_test(test_block_max_lines),
	    cmocka_unit_test(test_block_time_finish_epoch_and_cap),
	    cmocka_unit_test(test_deadline_order),
	    cmocka_unit_test(test_ems),
	    cmocka_unit_test(test_bad_hits_are_ignored),
	    cmocka_unit_test(test_plain_lines_reach_the_rules_that_need_them),
	    cmocka_unit_test(test_plain_lines_without_listeners),
	};
	return cmocka_run_group_tests_name("engine", tests, NULL, NULL);
}
