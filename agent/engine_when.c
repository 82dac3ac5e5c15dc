/*
 * engine_when.c — rule instances and the when forms (doc/rules.md "When",
 * "Lifecycle and events"): any, all, sequence, count, absent; resolve_on,
 * keep_firing_for, group_by; the per-instance timers (absent `for`, the
 * keep_firing_for resolution). The choices made where the schema is silent
 * are listed at the top of engine.c.
 *
 * An instance is idle, pending (an absent stage is armed and not firing) or
 * firing. Everything an instance keeps is bounded: captures by
 * ENGINE_MAX_INST_CAPS, a count ring by at_least, instances per rule by
 * ENGINE_MAX_INSTANCES.
 */
#include "engine_priv.h"

#include <stdlib.h>
#include <string.h>

/* ---- instances --------------------------------------------------------- */

static void caps_clear(struct inst *in)
{
	for (size_t i = 0; i < in->ncaps; i++) {
		free(in->caps[i].key);
		free(in->caps[i].value);
	}
	in->ncaps = 0;
}

/* Adds a hit's captures; a name already there takes the newer value. */
static void caps_add(struct inst *in, const struct capture_val *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!c[i].name)
			continue;
		size_t vlen = strnlen(c[i].value, sizeof(c[i].value));
		size_t k = 0;
		while (k < in->ncaps && strcmp(in->caps[k].key, c[i].name) != 0)
			k++;
		if (k < in->ncaps) {
			free(in->caps[k].value);
			in->caps[k].value = xstrndup(c[i].value, vlen);
			continue;
		}
		if (in->ncaps >= ENGINE_MAX_INST_CAPS)
			continue;
		xgrow((void **)&in->caps, &in->caps_cap, in->ncaps + 1, sizeof(*in->caps));
		in->caps[in->ncaps].key = xstrdup(c[i].name);
		in->caps[in->ncaps].value = xstrndup(c[i].value, vlen);
		in->ncaps++;
	}
}

static void ring_drop_oldest(struct inst *in)
{
	free(in->ring[in->rhead].val);
	in->ring[in->rhead].val = NULL;
	in->rhead = (in->rhead + 1) % in->rcap;
	in->rn--;
}

static void ring_clear(struct inst *in)
{
	while (in->rn)
		ring_drop_oldest(in);
	in->rhead = 0;
}

static struct cnt_ent *ring_at(const struct inst *in, size_t i)
{
	return &in->ring[(in->rhead + i) % in->rcap];
}

static void ring_remove(struct inst *in, size_t i)
{
	free(ring_at(in, i)->val);
	for (size_t j = i; j + 1 < in->rn; j++)
		*ring_at(in, j) = *ring_at(in, j + 1);
	ring_at(in, in->rn - 1)->val = NULL;
	in->rn--;
}

static void ring_push(struct inst *in, size_t cap, int64_t t, bool known, const char *val)
{
	if (!in->ring) {
		in->ring = xcalloc(cap, sizeof(*in->ring));
		in->rcap = cap;
	}
	if (in->rn == in->rcap)
		ring_drop_oldest(in);
	struct cnt_ent *c = ring_at(in, in->rn);
	c->t = t;
	c->known = known;
	c->val = val ? xstrdup(val) : NULL;
	in->rn++;
}

void inst_free(struct inst *in)
{
	if (!in)
		return;
	free(in->key);
	saved_line_free(&in->rline);
	saved_line_free(&in->line);
	caps_clear(in);
	free(in->caps);
	free(in->last_val);
	free(in->all_st);
	free(in->all_t);
	if (in->ring)
		ring_clear(in);
	free(in->ring);
	free(in);
}

static struct inst *inst_new(const char *key, size_t key_len)
{
	struct inst *in = xcalloc(1, sizeof(*in));
	in->key = xmalloc(key_len ? key_len : 1);
	if (key_len)
		memcpy(in->key, key, key_len);
	in->key_len = key_len;
	in->resolve_at = ENG_NEVER;
	in->timer_at = ENG_NEVER;
	return in;
}

enum rule_state inst_state(const struct inst *in)
{
	if (in->firing)
		return RULE_FIRING;
	return in->armed ? RULE_PENDING : RULE_IDLE;
}

int64_t inst_deadline(const struct inst *in)
{
	return in->timer_at < in->resolve_at ? in->timer_at : in->resolve_at;
}

static bool inst_idle(const struct inst *in)
{
	return !in->firing && !in->armed && in->resolve_at == ENG_NEVER;
}

static struct inst *inst_find(const struct rule_rt *rr, const char *key, size_t len)
{
	for (size_t i = 0; i < rr->ninst; i++) {
		struct inst *in = rr->inst[i];
		if (in->key_len == len && (len == 0 || memcmp(in->key, key, len) == 0))
			return in;
	}
	return NULL;
}

/* Finds or makes the instance for key; NULL (and counted) when the rule is
 * full of busy instances. */
static struct inst *inst_get(struct engine *e, struct rule_rt *rr, const char *key, size_t len)
{
	struct inst *in = inst_find(rr, key, len);
	if (in)
		return in;
	if (rr->ninst < ENGINE_MAX_INSTANCES) {
		rr->inst = xrealloc(rr->inst, (rr->ninst + 1) * sizeof(*rr->inst));
		in = inst_new(key, len);
		rr->inst[rr->ninst++] = in;
		return in;
	}
	size_t oldest = rr->ninst;
	for (size_t i = 0; i < rr->ninst; i++)
		if (inst_idle(rr->inst[i]) &&
		    (oldest == rr->ninst || rr->inst[i]->last_use < rr->inst[oldest]->last_use))
			oldest = i;
	if (oldest == rr->ninst) {
		e->dropped++;
		return NULL;
	}
	/* an idle instance has no timer and is not counted as untimed */
	inst_free(rr->inst[oldest]);
	in = inst_new(key, len);
	rr->inst[oldest] = in;
	return in;
}

/* The group_by key of a hit into e->key; false when the hit carries none of
 * the group captures. */
static bool group_key(struct engine *e, const struct when *w, const struct dhit *h)
{
	bool named = false;
	buf_reset(&e->key);
	buf_append(&e->key, "", 0);
	for (size_t g = 0; g < w->ngroup; g++) {
		const char *v = "";
		size_t vlen = 0;
		for (size_t i = 0; i < h->ncaps; i++) {
			if (h->caps[i].name && strcmp(h->caps[i].name, w->group_by[g]) == 0) {
				v = h->caps[i].value;
				vlen = strnlen(v, sizeof(h->caps[i].value));
				named = true;
				break;
			}
		}
		buf_append(&e->key, v, vlen);
		buf_append(&e->key, "", 1); /* separator: values never hold a NUL */
	}
	return named;
}

static const char *cap_value(const struct dhit *h, const char *name)
{
	for (size_t i = 0; i < h->ncaps; i++)
		if (h->caps[i].name && strcmp(h->caps[i].name, name) == 0)
			return h->caps[i].value;
	return NULL;
}

static const char *det_name(const struct rule_rt *rr, int d)
{
	if (d >= 0 && (size_t)d < rr->r->ndets)
		return rr->r->dets[d].name;
	return "epoch";
}

/* ---- lifecycle --------------------------------------------------------- */

static void inst_fire(struct engine *e, struct rule_rt *rr, struct inst *in, const struct evsrc *src)
{
	if (in->firing) {
		/* a new trigger while firing cancels a scheduled resolution */
		if (in->resolve_at != ENG_NEVER) {
			in->resolve_at = ENG_NEVER;
			eng_unschedule(e);
		}
		return;
	}
	in->firing = true;
	eng_emit(e, rr, in, EV_RULE_FIRED, src, NULL);
}

static void resolve_now(struct engine *e, struct rule_rt *rr, struct inst *in, const struct evsrc *src,
                        const char *reason)
{
	in->firing = false;
	if (in->resolve_at != ENG_NEVER) {
		in->resolve_at = ENG_NEVER;
		eng_unschedule(e);
	}
	eng_emit(e, rr, in, EV_RULE_RESOLVED, src, reason);
	if (in->armed && in->timer_at != ENG_NEVER) {
		/* the stage is still on: its new wait is visible again */
		in->held_ns = 0;
		eng_emit(e, rr, in, EV_RULE_PENDING, src, NULL);
	}
}

static void inst_resolve(struct engine *e, struct rule_rt *rr, struct inst *in, const struct evsrc *src,
                         const char *reason)
{
	if (!in->firing)
		return;
	int64_t keep = rr->r->when.keep_firing_ns;
	if (keep > 0 && (src->tflags & LINE_TIME_KNOWN)) {
		if (in->resolve_at != ENG_NEVER)
			return; /* the first resolving hit counts */
		in->resolve_at = eng_add(src->t, keep);
		snprintf(in->reason, sizeof(in->reason), "%s", reason);
		saved_line_set(&in->rline, src->line, src->line_len, src->offset, src->lineno);
		eng_schedule(e, in->resolve_at);
		return;
	}
	resolve_now(e, rr, in, src, reason);
}

static void report_uncertain(struct engine *e, struct rule_rt *rr, struct inst *in, const struct evsrc *src,
                             const char *reason)
{
	if (in->uncertain_sent || in->firing)
		return;
	in->uncertain_sent = true;
	eng_emit(e, rr, in, EV_RULE_UNCERTAIN, src, reason);
}

/* ---- absent ------------------------------------------------------------ */

static void set_untimed(struct engine *e, struct inst *in, bool on)
{
	if (in->untimed == on)
		return;
	in->untimed = on;
	if (on)
		e->untimed++;
	else
		e->untimed--;
}

static void absent_wait(struct engine *e, const struct rule_rt *rr, struct inst *in, int64_t t)
{
	if (in->timer_at != ENG_NEVER)
		eng_unschedule(e);
	in->wait_start = t;
	in->timer_at = eng_add(t, rr->r->when.for_ns);
	eng_schedule(e, in->timer_at);
	set_untimed(e, in, false);
}

static void disarm(struct engine *e, struct inst *in)
{
	in->armed = false;
	if (in->timer_at != ENG_NEVER) {
		in->timer_at = ENG_NEVER;
		eng_unschedule(e);
	}
	set_untimed(e, in, false);
}

static void absent_after(struct engine *e, struct rule_rt *rr, struct inst *in, const struct dhit *h)
{
	if (in->armed)
		return; /* another `after` while pending does not restart the timer */
	in->armed = true;
	in->armed_serial = e->serial;
	if (!in->firing)
		caps_clear(in);
	caps_add(in, h->caps, h->ncaps);
	in->stage_since = h->t;
	in->stage_known = h->known;
	saved_line_set(&in->line, h->src.line, h->src.line_len, h->src.offset, h->src.lineno);
	if (h->known)
		absent_wait(e, rr, in, h->t);
	else
		set_untimed(e, in, true);
	if (!in->firing) {
		in->held_ns = 0;
		eng_emit(e, rr, in, EV_RULE_PENDING, &h->src, NULL);
	}
}

/* `of` appeared (h is NULL for any-output). */
static void absent_of(struct engine *e, struct rule_rt *rr, struct inst *in, const struct dhit *h,
                      const struct evsrc *src, int64_t t, bool known)
{
	const struct when *w = &rr->r->when;
	if (h && w->absent_progress) {
		const char *v = NULL;
		if (h->det >= 0 && (size_t)h->det < rr->r->ndets && rr->r->dets[h->det].ncaps)
			v = cap_value(h, rr->r->dets[h->det].caps[0].name);
		else if (h->ncaps)
			v = h->caps[0].value;
		if (v) {
			size_t vlen = strnlen(v, MATCH_CAP_VALUE_MAX);
			if (in->last_val && strlen(in->last_val) == vlen &&
			    memcmp(in->last_val, v, vlen) == 0)
				return; /* the same value again is not progress */
			free(in->last_val);
			in->last_val = xstrndup(v, vlen);
		}
	}
	if (!in->armed)
		return;
	if (h)
		caps_add(in, h->caps, h->ncaps);
	if (in->firing) {
		/* resolved means idle: the stage is armed again by its next `after` */
		disarm(e, in);
		inst_resolve(e, rr, in, src, w->absent_progress ? "progress resumed" : "output resumed");
		return;
	}
	if (known)
		absent_wait(e, rr, in, t);
	else if (in->timer_at == ENG_NEVER)
		set_untimed(e, in, true);
}

void when_output(struct engine *e, struct rule_rt *rr, const struct evsrc *src)
{
	bool known = (src->tflags & LINE_TIME_KNOWN) != 0;
	for (size_t i = 0; i < rr->ninst; i++)
		if (rr->inst[i]->armed_serial != e->serial)
			absent_of(e, rr, rr->inst[i], NULL, src, src->t, known);
}

void when_clock_known(struct engine *e, struct rule_rt *rr, int64_t t)
{
	if (rr->r->when.kind != WHEN_ABSENT)
		return;
	for (size_t i = 0; i < rr->ninst; i++) {
		struct inst *in = rr->inst[i];
		if (!in->untimed)
			continue;
		if (!in->stage_known) {
			in->stage_since = t;
			in->stage_known = true;
		}
		absent_wait(e, rr, in, t);
	}
}

/* ---- all / sequence / count -------------------------------------------- */

static void all_hit(struct engine *e, struct rule_rt *rr, struct inst *in, const struct dhit *h)
{
	const struct when *w = &rr->r->when;
	if (!w->nof)
		return;
	if (!in->all_st) {
		in->all_st = xcalloc(w->nof, sizeof(*in->all_st));
		in->all_t = xcalloc(w->nof, sizeof(*in->all_t));
	}
	bool fresh = true, matched = false;
	for (size_t i = 0; i < w->nof; i++)
		if (in->all_st[i])
			fresh = false;
	int epoch_slot = (int)rr->r->ndets;
	for (size_t i = 0; i < w->nof; i++) {
		int d = w->of[i] == DET_REF_EPOCH ? epoch_slot : w->of[i];
		if (d != h->det)
			continue;
		in->all_st[i] = h->known ? 1 : 2;
		in->all_t[i] = h->t;
		matched = true;
	}
	if (!matched)
		return;
	if (fresh)
		caps_clear(in);
	caps_add(in, h->caps, h->ncaps);
	int64_t lo = INT64_MAX, hi = INT64_MIN;
	bool unknown = false;
	for (size_t i = 0; i < w->nof; i++) {
		if (!in->all_st[i])
			return;
		if (in->all_st[i] == 2) {
			unknown = true;
			continue;
		}
		if (in->all_t[i] < lo)
			lo = in->all_t[i];
		if (in->all_t[i] > hi)
			hi = in->all_t[i];
	}
	if (w->within_ns > 0 && unknown) {
		char win[32], reason[ENGINE_REASON_MAX];
		format_duration(w->within_ns, win, sizeof(win));
		snprintf(reason, sizeof(reason),
		         "no clock: all of them hit, but whether within %s is unknown", win);
		memset(in->all_st, 0, w->nof * sizeof(*in->all_st));
		report_uncertain(e, rr, in, &h->src, reason);
		return;
	}
	/* the newest hit of each stays: a later one may still close the gap */
	if (w->within_ns > 0 && hi - lo > w->within_ns)
		return;
	memset(in->all_st, 0, w->nof * sizeof(*in->all_st));
	inst_fire(e, rr, in, &h->src);
}

static int step_det(const struct rule_rt *rr, size_t k)
{
	int d = rr->r->when.steps[k].det;
	return d == DET_REF_EPOCH ? (int)rr->r->ndets : d;
}

static void seq_done(struct engine *e, struct rule_rt *rr, struct inst *in, const struct dhit *h)
{
	in->step = 0;
	if (in->seq_unsure)
		report_uncertain(
		    e, rr, in, &h->src,
		    "no clock: the sequence completed, but whether each step came within its window is "
		    "unknown");
	else
		inst_fire(e, rr, in, &h->src);
}

static void seq_hit(struct engine *e, struct rule_rt *rr, struct inst *in, const struct dhit *h)
{
	const struct when *w = &rr->r->when;
	size_t n = w->nsteps, k = in->step;
	if (!n)
		return;
	if (k > 0 && k < n && step_det(rr, k) == h->det) {
		int64_t win = w->steps[k].within_ns;
		bool ok = true, unsure = false;
		if (win > 0) {
			if (h->known && in->step_known)
				ok = h->t - in->step_t <= win;
			else
				unsure = true;
		}
		if (ok) {
			in->step = k + 1;
			in->step_t = h->t;
			in->step_known = h->known;
			in->seq_unsure = in->seq_unsure || unsure;
			caps_add(in, h->caps, h->ncaps);
			if (in->step == n)
				seq_done(e, rr, in, h);
			return;
		}
		in->step = 0; /* too late: the sequence is broken */
	}
	if (step_det(rr, 0) == h->det) {
		in->step = 1;
		in->step_t = h->t;
		in->step_known = h->known;
		in->seq_unsure = false;
		caps_clear(in);
		caps_add(in, h->caps, h->ncaps);
		if (n == 1)
			seq_done(e, rr, in, h);
	}
}

static void count_fire(struct engine *e, struct rule_rt *rr, struct inst *in, const struct dhit *h,
                       unsigned n)
{
	in->count = n;
	inst_fire(e, rr, in, &h->src);
}

static void count_hit(struct engine *e, struct rule_rt *rr, struct inst *in, const struct dhit *h)
{
	const struct when *w = &rr->r->when;
	unsigned need = rr->at_least;
	const char *val = NULL;
	if (w->distinct) {
		val = cap_value(h, w->distinct);
		if (!val)
			return; /* nothing to tell it apart by */
	}
	if (w->within_ns <= 0 && !val) {
		if (in->cnt == 0)
			caps_clear(in);
		caps_add(in, h->caps, h->ncaps);
		if (++in->cnt >= need) {
			unsigned n = in->cnt;
			in->cnt = 0;
			count_fire(e, rr, in, h, n);
		}
		return;
	}
	if (val) {
		for (size_t i = 0; i < in->rn; i++) {
			if (strcmp(ring_at(in, i)->val, val) == 0) {
				ring_remove(in, i); /* only its newest time matters */
				break;
			}
		}
	}
	if (in->rn == 0)
		caps_clear(in);
	caps_add(in, h->caps, h->ncaps);
	ring_push(in, need, h->t, h->known, val);
	if (in->rn < need)
		return;
	if (w->within_ns > 0) {
		bool unknown = false;
		for (size_t i = 0; i < in->rn; i++)
			if (!ring_at(in, i)->known)
				unknown = true;
		if (unknown) {
			char win[32], reason[ENGINE_REASON_MAX];
			format_duration(w->within_ns, win, sizeof(win));
			snprintf(reason, sizeof(reason),
			         "no clock: %zu %s seen, but whether within %s is unknown", in->rn,
			         val ? "distinct values" : "hits", win);
			in->count = (unsigned)in->rn;
			ring_clear(in);
			report_uncertain(e, rr, in, &h->src, reason);
			return;
		}
		if (ring_at(in, in->rn - 1)->t - ring_at(in, 0)->t > w->within_ns)
			return;
	}
	unsigned n = (unsigned)in->rn;
	ring_clear(in);
	count_fire(e, rr, in, h, n);
}

/* ---- dispatch ---------------------------------------------------------- */

static void hit_inst(struct engine *e, struct rule_rt *rr, struct inst *in, const struct dhit *h,
                     unsigned roles)
{
	in->last_use = ++e->use_clock;
	if (roles & ROLE_RESOLVE) {
		char reason[ENGINE_REASON_MAX];
		snprintf(reason, sizeof(reason), "resolve_on: %s", det_name(rr, h->det));
		/* the stage is left: a pending absent rule goes back to idle silently */
		if (in->armed)
			disarm(e, in);
		inst_resolve(e, rr, in, &h->src, reason);
	}
	switch (rr->r->when.kind) {
	case WHEN_ANY:
		if (roles & ROLE_TRIGGER) {
			caps_clear(in);
			caps_add(in, h->caps, h->ncaps);
			inst_fire(e, rr, in, &h->src);
		}
		break;
	case WHEN_ALL:
		if (roles & ROLE_TRIGGER)
			all_hit(e, rr, in, h);
		break;
	case WHEN_SEQUENCE:
		if (roles & ROLE_STEP)
			seq_hit(e, rr, in, h);
		break;
	case WHEN_COUNT:
		if (roles & ROLE_TRIGGER)
			count_hit(e, rr, in, h);
		break;
	case WHEN_ABSENT:
		if (roles & ROLE_OF)
			absent_of(e, rr, in, h, &h->src, h->t, h->known);
		if (roles & ROLE_AFTER)
			absent_after(e, rr, in, h);
		break;
	}
}

void when_hit(struct engine *e, struct rule_rt *rr, const struct dhit *h)
{
	if (h->det < 0 || (size_t)h->det > rr->r->ndets)
		return;
	unsigned roles = rr->roles[h->det];
	if (!roles)
		return;
	const struct when *w = &rr->r->when;
	if (w->ngroup == 0) {
		struct inst *in = rr->ninst ? rr->inst[0] : inst_get(e, rr, "", 0);
		hit_inst(e, rr, in, h, roles);
		return;
	}
	bool named = group_key(e, w, h);
	if (!named && rr->ninst) {
		/* no group identity: it concerns every group */
		for (size_t i = 0; i < rr->ninst; i++)
			hit_inst(e, rr, rr->inst[i], h, roles);
		return;
	}
	struct inst *in;
	if (roles & (ROLE_TRIGGER | ROLE_STEP | ROLE_AFTER))
		in = inst_get(e, rr, e->key.data, e->key.len);
	else
		in = inst_find(rr, e->key.data, e->key.len);
	if (in)
		hit_inst(e, rr, in, h, roles);
}

void when_timer(struct engine *e, struct rule_rt *rr, struct inst *in, int64_t at, unsigned tflags)
{
	struct evsrc src;
	if (in->resolve_at <= at && in->resolve_at <= in->timer_at) {
		in->resolve_at = ENG_NEVER;
		evsrc_from_saved(&src, &in->rline, at, tflags);
		resolve_now(e, rr, in, &src, in->reason);
		return;
	}
	if (in->timer_at > at)
		return;
	in->timer_at = ENG_NEVER;
	if (in->firing) {
		/* stalled again while a resolution was scheduled: that is a new trigger */
		if (in->resolve_at != ENG_NEVER) {
			in->resolve_at = ENG_NEVER;
			eng_unschedule(e);
		}
		return;
	}
	in->held_ns = in->stage_known ? at - in->stage_since : 0;
	evsrc_from_saved(&src, &in->line, at, tflags);
	inst_fire(e, rr, in, &src);
}

void when_reset(struct engine *e, struct rule_rt *rr, const struct evsrc *src)
{
	for (size_t i = 0; i < rr->ninst; i++) {
		struct inst *in = rr->inst[i];
		disarm(e, in);
		if (in->firing)
			resolve_now(e, rr, in, src, "new epoch");
		if (in->resolve_at != ENG_NEVER)
			eng_unschedule(e);
		inst_free(in);
	}
	rr->ninst = 0;
}

void when_finish(struct engine *e, struct rule_rt *rr)
{
	if (rr->r->when.kind != WHEN_ABSENT)
		return;
	for (size_t i = 0; i < rr->ninst; i++) {
		struct inst *in = rr->inst[i];
		if (!in->armed || in->firing)
			continue;
		struct evsrc src;
		evsrc_from_saved(&src, &in->line, e->now, e->now_flags);
		char reason[ENGINE_REASON_MAX];
		if (in->timer_at != ENG_NEVER) {
			char waited[32], wait[32];
			format_duration(e->now - in->wait_start, waited, sizeof(waited));
			format_duration(rr->r->when.for_ns, wait, sizeof(wait));
			snprintf(reason, sizeof(reason), "input ended after %s of the %s wait", waited, wait);
			in->held_ns = in->stage_known ? e->now - in->stage_since : 0;
		} else {
			snprintf(reason, sizeof(reason),
			         "no clock: stage reached, output stopped, duration unknown");
			in->held_ns = 0;
		}
		eng_emit(e, rr, in, EV_RULE_UNCERTAIN, &src, reason);
	}
}
