/*
 * ruletest.c — embedded rule tests: feed, advance virtual time, judge.
 */
#include "emsagent/ruletest.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "emsagent/pipeline.h"
#include "emsagent/util.h"

struct collect {
	const struct rule *rule;
	unsigned fired, uncertain, resolved, pending;
	bool resolved_after_fire;
	bool have_first;
	char first_title[512];
	struct kv caps[32];
	size_t ncaps;
	char cap_store[32][2][256];
};

static void on_event(void *ctx, const struct event *ev)
{
	struct collect *c = ctx;
	if (ev->rule != c->rule)
		return;
	switch (ev->kind) {
	case EV_RULE_FIRED:
		c->fired++;
		if (!c->have_first) {
			c->have_first = true;
			snprintf(c->first_title, sizeof(c->first_title), "%s", ev->title ? ev->title : "");
			for (size_t i = 0; i < ev->ncaptures && c->ncaps < ARRAY_LEN(c->caps); i++) {
				size_t k = c->ncaps++;
				snprintf(c->cap_store[k][0], sizeof(c->cap_store[k][0]), "%s",
				         ev->captures[i].key);
				snprintf(c->cap_store[k][1], sizeof(c->cap_store[k][1]), "%s",
				         ev->captures[i].value);
				c->caps[k].key = c->cap_store[k][0];
				c->caps[k].value = c->cap_store[k][1];
			}
		}
		break;
	case EV_RULE_UNCERTAIN:
		c->uncertain++;
		break;
	case EV_RULE_RESOLVED:
		c->resolved++;
		if (c->fired)
			c->resolved_after_fire = true;
		break;
	case EV_RULE_PENDING:
		c->pending++;
		break;
	default:
		break;
	}
}

int ruletest_unescape(const char *s, size_t n, struct buf *out, size_t *bad)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c != '\\') {
			buf_putc(out, c);
			continue;
		}
		if (i + 1 >= n) {
			*bad = i;
			return -1;
		}
		char e = s[++i];
		switch (e) {
		case 'r':
			buf_putc(out, '\r');
			break;
		case 'n':
			buf_putc(out, '\n');
			break;
		case 't':
			buf_putc(out, '\t');
			break;
		case 'e':
			buf_putc(out, '\033');
			break;
		case 'a':
			buf_putc(out, '\a');
			break;
		case 'b':
			buf_putc(out, '\b');
			break;
		case '0':
			buf_putc(out, '\0');
			break;
		case '\\':
			buf_putc(out, '\\');
			break;
		case 'x':
			if (i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
			    isxdigit((unsigned char)s[i + 2])) {
				char hex[3] = {s[i + 1], s[i + 2], 0};
				buf_putc(out, (char)strtol(hex, NULL, 16));
				i += 2;
				break;
			}
			*bad = i - 1;
			return -1;
		default:
			*bad = i - 1;
			return -1;
		}
	}
	return 0;
}

/* "@+31m" alone on a line (blanks around allowed): sets *d. */
static bool time_mark(const char *s, size_t n, int64_t *d)
{
	while (n && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	if (n < 3 || s[0] != '@' || s[1] != '+' || n > 64)
		return false;
	char tmp[64];
	memcpy(tmp, s + 2, n - 2);
	tmp[n - 2] = '\0';
	return parse_duration(tmp, d) == 0;
}

static void fail(struct ruletest_result *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct ruletest_result *res, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(res->why, sizeof(res->why), fmt, ap);
	va_end(ap);
	res->passed = false;
}

void ruletest_run(const struct ruleset *rs, const struct match_db *db, const struct rule *r,
                  const struct rule_test *t, struct ruletest_result *res)
{
	memset(res, 0, sizeof(*res));
	res->passed = true;
	struct collect c = {.rule = r};
	enum clock_mode mode = t->clock_log ? CLOCK_LOG : CLOCK_VIRTUAL;
	struct pipeline *pl = pipeline_new(rs, db, mode, NULL, on_event, &c);
	struct buf line = {0};
	const char *in = t->input;
	size_t total = strlen(in);
	size_t pos = 0;
	while (pos < total) {
		const char *nl = memchr(in + pos, '\n', total - pos);
		size_t n = nl ? (size_t)(nl - (in + pos)) : total - pos;
		int64_t d;
		if (time_mark(in + pos, n, &d)) {
			pipeline_advance(pl, d);
		} else {
			buf_reset(&line);
			size_t bad = 0;
			if (t->escapes) {
				if (ruletest_unescape(in + pos, n, &line, &bad) < 0) {
					fail(res, "bad escape in input at byte %zu", pos + bad);
					break;
				}
			} else {
				buf_append(&line, in + pos, n);
			}
			if (nl)
				buf_putc(&line, '\n');
			pipeline_feed(pl, line.data, line.len, 0);
		}
		pos += n + (nl ? 1 : 0);
	}
	buf_free(&line);
	enum rule_state end_state = RULE_IDLE;
	if (res->passed) {
		/* Offer a trailing partial line (a prompt) as the live loop would
		 * after its idle time, then look at the state before the end of
		 * input turns pending timers into "uncertain". */
		pipeline_idle(pl, 0);
		end_state = engine_rule_state(pipeline_engine(pl), r->index);
		pipeline_finish(pl);
	}
	pipeline_free(pl);
	res->fired = c.fired;
	res->uncertain = c.uncertain;
	res->resolved = c.resolved;
	res->pending_events = c.pending;
	if (!res->passed)
		return;

	const char *st = end_state == RULE_PENDING ? "pending" : end_state == RULE_FIRING ? "firing" : "idle";
	switch (t->expect) {
	case EXPECT_FIRE:
		if (c.fired == 0)
			fail(res, "expected fire, got no rule.fired (%u uncertain, state %s at end)",
			     c.uncertain, st);
		else if (t->count >= 0 && c.fired != (unsigned)t->count)
			fail(res, "expected %d rule.fired, got %u", t->count, c.fired);
		break;
	case EXPECT_NO_FIRE:
		if (c.fired || c.uncertain || end_state == RULE_PENDING)
			fail(res, "expected no_fire, got %u fired, %u uncertain, state %s at end", c.fired,
			     c.uncertain, st);
		break;
	case EXPECT_PENDING:
		if (c.fired || end_state != RULE_PENDING)
			fail(res, "expected pending at end, got %u fired, state %s at end", c.fired, st);
		break;
	case EXPECT_UNCERTAIN:
		if (c.fired || c.uncertain == 0)
			fail(res, "expected uncertain, got %u fired, %u uncertain", c.fired, c.uncertain);
		break;
	case EXPECT_RESOLVED:
		if (!c.fired || !c.resolved_after_fire)
			fail(res, "expected fired then resolved, got %u fired, %u resolved", c.fired,
			     c.resolved);
		break;
	}
	if (!res->passed)
		return;
	if (t->title && (!c.have_first || strcmp(t->title, c.first_title) != 0)) {
		fail(res, "expected title \"%s\", got \"%s\"", t->title,
		     c.have_first ? c.first_title : "(none)");
		return;
	}
	for (size_t i = 0; i < t->ncaptures; i++) {
		const char *got = NULL;
		for (size_t k = 0; k < c.ncaps; k++)
			if (strcmp(c.caps[k].key, t->captures[i].key) == 0)
				got = c.caps[k].value;
		if (!got || strcmp(got, t->captures[i].value) != 0) {
			fail(res, "expected capture %s=\"%s\", got %s%s%s", t->captures[i].key,
			     t->captures[i].value, got ? "\"" : "", got ? got : "none", got ? "\"" : "");
			return;
		}
	}
}
