/*
 * engine.c — rule state, epochs, timers and the alert lifecycle (input side:
 * lines, EMS records, ticks, end of input; epochs, ignores, blocks,
 * unless_near, timers, events and title templates). The when forms and the
 * per-instance lifecycle are in engine_when.c.
 *
 * Per line, in this order: expired timers run (up to the line's time);
 * epoch markers (a new epoch first delivers open blocks as truncated,
 * resolves firing non-cross-epoch rules with "new epoch", then emits
 * epoch.started and gives rules that name "epoch" an epoch hit); if an
 * ignore matched, the line stops here; open blocks collect the line (and
 * deliver the hits of those that end); hits are recorded for unless_near;
 * each rule hit is filtered by unless_near and goes to a block or to the
 * when logic; last, absent rules waiting for any-output see the line.
 * Scans feed millions of lines, nearly all without hits: such a line costs
 * a few tests plus the work of the rules that need every line (kept in
 * lists at engine_new: any-output waits, absent stages armed without a
 * clock) and of the open blocks, never a pass over all rules.
 *
 * Where doc/rules.md is silent, this is what the engine does:
 *  - An ignored line is not output either: it neither restarts an
 *    any-output timer nor joins an open block.
 *  - unless_near by lines counts the current line too (distance 0), except
 *    when a detector names itself: then only earlier lines count.
 *  - A block is made of line bodies (after timestamp prefixes), joined by
 *    "\n", capped at max_lines × 4 KiB and 64 KiB; the byte cap closes it
 *    truncated. Partial lines are not collected (they come again complete).
 *    A block with no `end` literal that reaches max_lines or max_time is
 *    complete; with `end` literals it is then truncated. A new epoch and the
 *    end of input close open blocks truncated. The withheld hit keeps its
 *    own time for windows; its events carry the opening line and the time
 *    the block closed. The block rides on the event the hit causes.
 *  - When `any` lists no detector, detectors named in resolve_on or used
 *    only as another detector's unless_near target do not fire the rule.
 *  - group_by: a hit that carries none of the group captures concerns every
 *    existing instance (a resolve_on or absent `of` without the key resolves
 *    or feeds them all); with no instance yet it goes to the instance whose
 *    key is all "". A hit carrying some of them uses "" for the others.
 *    When a rule has 256 instances and none is idle, a hit for a new key is
 *    dropped (counted by engine_dropped): a guest printing many keys must
 *    not push out the alerts that are already pending or firing.
 *  - absent: after firing, `of` appearing again resolves the rule and, as
 *    the lifecycle says (resolved = idle), leaves the stage: the next `after`
 *    hit arms it again. {held} counts from the moment the stage was entered,
 *    not from the last restart. Entered without a clock, the timer starts at
 *    the first line that has one. If `after` re-arms the stage while a
 *    keep_firing_for resolution is scheduled, its expiry is a new trigger
 *    (the resolution is cancelled); a resolution that does happen is followed
 *    by rule.pending for the running wait.
 *  - progress:DET uses DET's first capture; the first value ever seen counts
 *    as progress. A hit without that capture always counts.
 *  - all / count: after firing (or an uncertain report) they start over:
 *    the next firing needs fresh hits. A `distinct` count ignores hits that
 *    lack the capture.
 *  - sequence: a hit that is the next step and within its window advances
 *    even when it is also step 0 (so [A, {then: A, within: 1m}] works);
 *    otherwise a step-0 hit restarts, and a late step breaks the sequence.
 *  - keep_firing_for: the first resolving hit schedules the resolution (a
 *    later one does not push it back); without a clock it resolves at once.
 *    A new epoch resolves at once.
 *  - Resolved events carry the captures of the firing instance and the line
 *    that resolved it. A rule's events carry the engine's epoch at the time.
 *  - engine_next_deadline is exact; internally the cached value may be
 *    early after a cancellation, which only costs one scan.
 *  - Nothing happens after engine_finish.
 * The event callback must not call back into the engine.
 */
#include "engine_priv.h"

#include <stdlib.h>
#include <string.h>

static const unsigned time_bits = LINE_TIME_KNOWN | LINE_TIME_WALL;

/* ---- saved lines ------------------------------------------------------- */

void saved_line_set(struct saved_line *s, const char *text, size_t len, uint64_t offset, uint64_t lineno)
{
	s->offset = offset;
	s->lineno = lineno;
	if (!text) {
		s->has = false;
		s->len = 0;
		return;
	}
	if (text == s->text)
		return;
	if (len > LINE_MAX_LEN)
		len = LINE_MAX_LEN;
	xgrow((void **)&s->text, &s->cap, len + 1, 1);
	memcpy(s->text, text, len);
	s->text[len] = '\0';
	s->len = len;
	s->has = true;
}

void saved_line_free(struct saved_line *s)
{
	free(s->text);
	memset(s, 0, sizeof(*s));
}

void evsrc_from_saved(struct evsrc *src, const struct saved_line *s, int64_t t, unsigned tflags)
{
	memset(src, 0, sizeof(*src));
	src->t = t;
	src->tflags = tflags;
	src->offset = s->offset;
	src->lineno = s->lineno;
	if (s->has) {
		src->line = s->text;
		src->line_len = s->len;
	}
}

/* ---- timers ------------------------------------------------------------ */

void eng_schedule(struct engine *e, int64_t deadline)
{
	if (deadline < e->next_deadline)
		e->next_deadline = deadline;
}

void eng_unschedule(struct engine *e)
{
	e->deadline_dirty = true;
}

/* What is due first: a block's max_time (*ob >= 0) or an instance (*ri, *ii). */
static int64_t scan_deadline(const struct engine *e, size_t *ri, size_t *ii, ptrdiff_t *ob)
{
	int64_t best = ENG_NEVER;
	*ob = -1;
	for (size_t k = 0; k < e->nopen; k++) {
		const struct open_ref *o = &e->open[k];
		int64_t d = e->rt[o->rule].blocks[o->det].close_at;
		if (d < best) {
			best = d;
			*ob = (ptrdiff_t)k;
		}
	}
	for (size_t r = 0; r < e->nrules; r++) {
		const struct rule_rt *rr = &e->rt[r];
		for (size_t i = 0; i < rr->ninst; i++) {
			int64_t d = inst_deadline(rr->inst[i]);
			if (d < best) {
				best = d;
				*ob = -1;
				*ri = r;
				*ii = i;
			}
		}
	}
	return best;
}

/* Runs every deadline up to now, earliest first. */
static void run_timers(struct engine *e, int64_t now, unsigned tflags)
{
	if (!(e->now_flags & LINE_TIME_KNOWN) || now > e->now) {
		e->now = now;
		e->now_flags = tflags;
	}
	if (now < e->next_deadline)
		return;
	for (;;) {
		size_t ri = 0, ii = 0;
		ptrdiff_t ob = -1;
		int64_t d = scan_deadline(e, &ri, &ii, &ob);
		if (d > now) {
			e->next_deadline = d;
			e->deadline_dirty = false;
			return;
		}
		if (ob >= 0) {
			const struct open_ref *o = &e->open[ob];
			const struct rule_rt *rr = &e->rt[o->rule];
			struct evsrc at = {.t = d, .tflags = tflags};
			/* max_time ends a block normally unless an end literal was expected */
			eng_block_close(e, (size_t)ob, &at, rr->r->dets[o->det].nblock_end > 0);
		} else {
			when_timer(e, &e->rt[ri], e->rt[ri].inst[ii], d, tflags);
		}
	}
}

/* ---- events and titles ------------------------------------------------- */

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Appends at most what fits under ENGINE_TITLE_MAX, never splitting a UTF-8
 * sequence; with clean, control bytes become '?' (values come from the guest).
 * False when the text was cut: the title ends there. */
static bool title_put(struct buf *b, const char *s, size_t n, bool clean)
{
	size_t room = ENGINE_TITLE_MAX > b->len ? ENGINE_TITLE_MAX - b->len : 0;
	bool whole = n <= room;
	if (!whole) {
		n = room;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	if (!clean) {
		buf_append(b, s, n);
		return whole;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		buf_putc(b, c < 0x20 || c == 0x7f ? '?' : (char)c);
	}
	return whole;
}

static const char *inst_cap(const struct inst *in, const char *name)
{
	if (!in)
		return NULL;
	for (size_t i = 0; i < in->ncaps; i++)
		if (strcmp(in->caps[i].key, name) == 0)
			return in->caps[i].value;
	return NULL;
}

static void render_title(struct engine *e, const struct rule_rt *rr, const struct inst *in)
{
	struct buf *b = &e->title;
	buf_reset(b);
	buf_append(b, "", 0);
	const struct rule *r = rr->r;
	const char *p = r->title ? r->title : r->id;
	bool more = true;
	while (*p && more) {
		if (*p != '{') {
			const char *q = strchr(p, '{');
			size_t n = q ? (size_t)(q - p) : strlen(p);
			more = title_put(b, p, n, false);
			p += n;
			continue;
		}
		if (p[1] == '{') {
			more = title_put(b, "{", 1, false);
			p += 2;
			continue;
		}
		size_t n = 0;
		while (n < 64 && name_char(p[1 + n]))
			n++;
		if (n == 0 || p[1 + n] != '}') {
			more = title_put(b, "{", 1, false);
			p++;
			continue;
		}
		char name[65], tmp[64];
		memcpy(name, p + 1, n);
		name[n] = '\0';
		const char *val = NULL;
		bool clean = true;
		if (strcmp(name, "held") == 0 && r->when.kind == WHEN_ABSENT) {
			format_duration(in ? in->held_ns : 0, tmp, sizeof(tmp));
			val = tmp;
		} else if (strcmp(name, "count") == 0 && r->when.kind == WHEN_COUNT) {
			snprintf(tmp, sizeof(tmp), "%u", in ? in->count : 0);
			val = tmp;
		} else if (strcmp(name, "epoch") == 0) {
			snprintf(tmp, sizeof(tmp), "%u", e->epoch);
			val = tmp;
		} else if (strcmp(name, "rule") == 0) {
			val = r->id;
			clean = false;
		} else {
			val = inst_cap(in, name);
		}
		if (val)
			more = title_put(b, val, strlen(val), clean);
		else
			more = title_put(b, p, n + 2, false); /* unknown: left as written */
		p += n + 2;
	}
}

static void base_event(const struct engine *e, struct event *ev, enum event_kind kind,
                       const struct evsrc *src)
{
	memset(ev, 0, sizeof(*ev));
	ev->kind = kind;
	ev->time_ns = src->t;
	ev->time_flags = src->tflags;
	ev->console = e->console;
	ev->epoch = e->epoch;
	ev->offset = src->offset;
	ev->lineno = src->lineno;
	ev->line = src->line;
	ev->line_len = src->line ? src->line_len : 0;
	ev->has_block = src->has_block;
	ev->block = src->block;
	ev->block_len = src->block_len;
	ev->block_truncated = src->block_truncated;
}

void eng_emit(struct engine *e, struct rule_rt *rr, struct inst *in, enum event_kind kind,
              const struct evsrc *src, const char *reason)
{
	struct event ev;
	base_event(e, &ev, kind, src);
	ev.reason = reason;
	if (rr) {
		ev.rule = rr->r;
		render_title(e, rr, in);
		ev.title = e->title.data;
	}
	if (in) {
		ev.captures = in->caps;
		ev.ncaptures = in->ncaps;
		if (rr && rr->r->when.kind == WHEN_ABSENT)
			ev.held_ns = in->held_ns;
		if (rr && rr->r->when.kind == WHEN_COUNT)
			ev.count = in->count;
	}
	if (e->fn)
		e->fn(e->ctx, &ev);
}

/* ---- set-up ------------------------------------------------------------ */

static int ref_slot(const struct rule *r, int d)
{
	if (d == DET_REF_EPOCH)
		return (int)r->ndets;
	if (d >= 0 && (size_t)d < r->ndets)
		return d;
	return -1;
}

static void set_role(struct rule_rt *rr, int d, unsigned role)
{
	int s = ref_slot(rr->r, d);
	if (s >= 0)
		rr->roles[s] |= (unsigned char)role;
}

static void rt_init(struct rule_rt *rr, const struct rule *r, int index)
{
	const struct when *w = &r->when;
	rr->r = r;
	rr->index = index;
	rr->roles = xcalloc(r->ndets + 1, 1);
	rr->hist = xcalloc(r->ndets ? r->ndets : 1, sizeof(*rr->hist));
	rr->at_least = w->at_least ? w->at_least : 1;
	for (size_t i = 0; i < w->nresolve; i++)
		set_role(rr, w->resolve_on[i], ROLE_RESOLVE);
	switch (w->kind) {
	case WHEN_ANY:
		if (w->nof == 0) {
			for (size_t d = 0; d < r->ndets; d++) {
				bool helper = false;
				for (size_t k = 0; k < r->ndets; k++)
					if (r->dets[k].has_unless_near &&
					    r->dets[k].unless_near_det == (int)d && k != d)
						helper = true;
				if (!helper && !(rr->roles[d] & ROLE_RESOLVE))
					rr->roles[d] |= ROLE_TRIGGER;
			}
		}
		/* fall through */
	case WHEN_ALL:
	case WHEN_COUNT:
		for (size_t i = 0; i < w->nof; i++)
			set_role(rr, w->of[i], ROLE_TRIGGER);
		break;
	case WHEN_SEQUENCE:
		for (size_t i = 0; i < w->nsteps; i++)
			set_role(rr, w->steps[i].det, ROLE_STEP);
		break;
	case WHEN_ABSENT:
		set_role(rr, w->after, ROLE_AFTER);
		if (w->absent_of == DET_REF_ANY_OUTPUT)
			rr->any_output = true;
		else
			set_role(rr, w->absent_of, ROLE_OF);
		break;
	}
	bool blocks = false;
	for (size_t d = 0; d < r->ndets; d++)
		if (r->dets[d].has_block && r->dets[d].op != DET_EMS)
			blocks = true;
	if (blocks) {
		rr->blocks = xcalloc(r->ndets, sizeof(*rr->blocks));
		for (size_t d = 0; d < r->ndets; d++)
			rr->blocks[d].close_at = ENG_NEVER;
	}
}

struct engine *engine_new(const struct ruleset *rs, const struct match_db *db, const char *console,
                          engine_event_fn fn, void *ctx)
{
	struct engine *e = xcalloc(1, sizeof(*e));
	e->rs = rs;
	e->db = db;
	e->console = console ? xstrdup(console) : NULL;
	e->fn = fn;
	e->ctx = ctx;
	e->next_deadline = ENG_NEVER;
	e->nrules = rs ? rs->nrules : 0;
	e->rt = xcalloc(e->nrules ? e->nrules : 1, sizeof(*e->rt));
	e->anyout = xcalloc(e->nrules ? e->nrules : 1, sizeof(*e->anyout));
	e->absent = xcalloc(e->nrules ? e->nrules : 1, sizeof(*e->absent));
	for (size_t i = 0; i < e->nrules; i++) {
		rt_init(&e->rt[i], &rs->rules[i], (int)i);
		if (e->rt[i].any_output)
			e->anyout[e->nanyout++] = i;
		if (rs->rules[i].when.kind == WHEN_ABSENT)
			e->absent[e->nabsent++] = i;
	}
	return e;
}

void engine_set_os(struct engine *e, enum rule_os os)
{
	/* Only idle rules can be switched: call before the first input. */
	e->nanyout = e->nabsent = 0;
	for (size_t i = 0; i < e->nrules; i++) {
		const struct rule *r = e->rt[i].r;
		e->rt[i].off = os != OS_ANY && r->os != OS_ANY && r->os != os;
		if (e->rt[i].off)
			continue;
		if (e->rt[i].any_output)
			e->anyout[e->nanyout++] = i;
		if (r->when.kind == WHEN_ABSENT)
			e->absent[e->nabsent++] = i;
	}
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	for (size_t r = 0; r < e->nrules; r++) {
		struct rule_rt *rr = &e->rt[r];
		for (size_t i = 0; i < rr->ninst; i++)
			inst_free(rr->inst[i]);
		free(rr->inst);
		free(rr->roles);
		free(rr->hist);
		if (rr->blocks)
			for (size_t d = 0; d < rr->r->ndets; d++)
				eng_block_free(&rr->blocks[d]);
		free(rr->blocks);
	}
	free(e->rt);
	free(e->anyout);
	free(e->absent);
	free(e->open);
	free(e->console);
	buf_free(&e->title);
	buf_free(&e->key);
	free(e);
}

/* ---- epochs ------------------------------------------------------------ */

static void new_epoch(struct engine *e, const struct epoch_marker *m, const struct evsrc *src)
{
	/* the old boot's blocks end here, in the old epoch */
	while (e->nopen)
		eng_block_close(e, 0, src, true);
	for (size_t r = 0; r < e->nrules; r++) {
		struct rule_rt *rr = &e->rt[r];
		if (rr->r->cross_epoch)
			continue;
		when_reset(e, rr, src);
		memset(rr->hist, 0, (rr->r->ndets ? rr->r->ndets : 1) * sizeof(*rr->hist));
	}
	e->epoch++;
	e->stage = m->stage;
	e->have_stage = true;
	struct event ev;
	base_event(e, &ev, EV_EPOCH_STARTED, src);
	ev.marker = m->name;
	if (e->fn)
		e->fn(e->ctx, &ev);
	for (size_t r = 0; r < e->nrules; r++) {
		struct rule_rt *rr = &e->rt[r];
		if (!rr->roles[rr->r->ndets] || rr->off)
			continue;
		struct dhit h = {
		    .det = (int)rr->r->ndets,
		    .t = src->t,
		    .known = (src->tflags & LINE_TIME_KNOWN) != 0,
		    .src = *src,
		};
		when_hit(e, rr, &h);
	}
}

/* A marker starts a new epoch unless the current one has only seen lower
 * stages; one input item starts at most one epoch. */
static void epoch_marker(struct engine *e, int idx, const struct evsrc *src, bool *started)
{
	const struct epoch_marker *m = &e->rs->epochs[idx];
	if (*started || (e->have_stage && m->stage > e->stage)) {
		if (m->stage > e->stage)
			e->stage = m->stage;
		return;
	}
	*started = true;
	new_epoch(e, m, src);
}

/* ---- hits -------------------------------------------------------------- */

static bool hit_valid(const struct engine *e, const struct match_hit *h)
{
	const struct det_slot *s = h->s;
	if (!s)
		return false;
	switch (s->owner) {
	case OWNER_RULE:
		return s->rule >= 0 && (size_t)s->rule < e->nrules && s->idx >= 0 &&
		       (size_t)s->idx < e->rt[s->rule].r->ndets && !e->rt[s->rule].off;
	case OWNER_IGNORE:
		return true;
	case OWNER_EPOCH:
		return e->rs && s->idx >= 0 && (size_t)s->idx < e->rs->nepochs;
	}
	return false;
}

/* Markers and ignores of one input item; true when it is ignored. */
static bool markers_and_ignores(struct engine *e, const struct match_hit *hits, size_t n,
                                const struct evsrc *src)
{
	bool started = false, ignored = false;
	for (size_t i = 0; i < n; i++) {
		if (!hit_valid(e, &hits[i]))
			continue;
		if (hits[i].s->owner == OWNER_EPOCH)
			epoch_marker(e, hits[i].s->idx, src, &started);
		else if (hits[i].s->owner == OWNER_IGNORE)
			ignored = true;
	}
	return ignored;
}

static void record_hist(struct engine *e, const struct match_hit *hits, size_t n, uint64_t lineno, int64_t t,
                        bool known)
{
	for (size_t i = 0; i < n; i++) {
		if (!hit_valid(e, &hits[i]) || hits[i].s->owner != OWNER_RULE)
			continue;
		struct hist *hs = &e->rt[hits[i].s->rule].hist[hits[i].s->idx];
		if (hs->serial == e->serial)
			continue;
		hs->prev = hs->cur;
		hs->cur = (struct hist_ent){.has = true, .lineno = lineno, .t = t, .known = known};
		hs->serial = e->serial;
	}
}

static bool near_suppressed(const struct rule_rt *rr, int d, uint64_t lineno, int64_t t, bool known)
{
	const struct detector *det = &rr->r->dets[d];
	if (!det->has_unless_near)
		return false;
	int o = det->unless_near_det;
	if (o < 0 || (size_t)o >= rr->r->ndets)
		return false;
	const struct hist_ent *h = o == d ? &rr->hist[o].prev : &rr->hist[o].cur;
	if (!h->has)
		return false;
	if (det->unless_near_lines && lineno >= h->lineno && lineno - h->lineno <= det->unless_near_lines)
		return true;
	if (det->unless_near_ns > 0 && known && h->known && t >= h->t && t - h->t <= det->unless_near_ns)
		return true;
	return false;
}

static void rule_hits(struct engine *e, const struct match_hit *hits, size_t n, const struct line *ln,
                      const struct evsrc *src, uint64_t lineno, int64_t t, bool known)
{
	for (size_t i = 0; i < n; i++) {
		const struct match_hit *mh = &hits[i];
		if (!hit_valid(e, mh) || mh->s->owner != OWNER_RULE)
			continue;
		struct rule_rt *rr = &e->rt[mh->s->rule];
		int d = mh->s->idx;
		if (near_suppressed(rr, d, lineno, t, known))
			continue;
		struct dhit h = {
		    .det = d,
		    .caps = mh->caps,
		    .ncaps =
		        mh->caps ? (mh->ncaps < ENGINE_MAX_HIT_CAPS ? mh->ncaps : ENGINE_MAX_HIT_CAPS) : 0,
		    .t = t,
		    .known = known,
		    .src = *src,
		};
		if (ln && rr->blocks && rr->r->dets[d].has_block) {
			struct block *b = &rr->blocks[d];
			if (b->serial == e->serial)
				continue; /* this line belongs to its open (or just closed) block */
			if (!(ln->flags & LINE_PARTIAL)) {
				eng_block_open(e, rr, &h, ln);
				continue;
			}
		}
		when_hit(e, rr, &h);
	}
}

/* ---- API --------------------------------------------------------------- */

void engine_line(struct engine *e, const struct line *ln, const struct match_hit *hits, size_t nhits)
{
	if (!e || !ln || e->finished)
		return;
	if (!hits)
		nhits = 0;
	unsigned tflags = ln->flags & time_bits;
	bool known = (tflags & LINE_TIME_KNOWN) != 0;
	if (known)
		run_timers(e, ln->time_ns, tflags);
	e->serial++;
	e->lineno = ln->lineno;
	e->last_offset = ln->offset;
	/* Most lines have no hits, no block is open and no rule waits for
	 * output or a clock: then nothing looks at the line. */
	bool collect = ln->text && !(ln->flags & LINE_PARTIAL);
	if (!nhits && !(collect && e->nopen) && !e->nanyout && !(known && e->untimed))
		return;
	struct evsrc src = {
	    .t = ln->time_ns,
	    .tflags = tflags,
	    .line = ln->text,
	    .line_len = ln->text ? ln->len : 0,
	    .offset = ln->offset,
	    .lineno = ln->lineno,
	};
	if (nhits && markers_and_ignores(e, hits, nhits, &src))
		return;
	if (known && e->untimed)
		for (size_t k = 0; k < e->nabsent && e->untimed; k++)
			when_clock_known(e, &e->rt[e->absent[k]], ln->time_ns);
	if (collect && e->nopen)
		eng_blocks_collect(e, ln, &src);
	if (nhits) {
		record_hist(e, hits, nhits, ln->lineno, ln->time_ns, known);
		rule_hits(e, hits, nhits, ln->text ? ln : NULL, &src, ln->lineno, ln->time_ns, known);
	}
	/* after the hits, so that a resolve_on line ends the stage rather than
	 * counting as resumed output, and the line that arms a stage starts it */
	for (size_t k = 0; k < e->nanyout; k++)
		when_output(e, &e->rt[e->anyout[k]], &src);
}

void engine_ems(struct engine *e, const struct ems_record *rec, const struct match_hit *hits, size_t nhits)
{
	if (!e || !rec || e->finished)
		return;
	if (!hits)
		nhits = 0;
	e->serial++;
	struct evsrc src = {
	    .t = e->now,
	    .tflags = e->now_flags,
	    .offset = rec->offset,
	    .lineno = e->lineno,
	};
	struct event ev;
	base_event(e, &ev, rec->kind == EMS_BUGCHECK ? EV_EMS_BUGCHECK : EV_EMS_MACHINE_INFO, &src);
	ev.ems = rec;
	if (e->fn)
		e->fn(e->ctx, &ev);
	if (markers_and_ignores(e, hits, nhits, &src))
		return;
	bool known = (e->now_flags & LINE_TIME_KNOWN) != 0;
	record_hist(e, hits, nhits, e->lineno, e->now, known);
	rule_hits(e, hits, nhits, NULL, &src, e->lineno, e->now, known);
}

void engine_tick(struct engine *e, int64_t now, unsigned time_flags)
{
	if (!e || e->finished || !(time_flags & LINE_TIME_KNOWN))
		return;
	run_timers(e, now, time_flags & time_bits);
}

int64_t engine_next_deadline(const struct engine *e)
{
	if (!e || e->finished)
		return ENG_NEVER;
	if (!e->deadline_dirty)
		return e->next_deadline;
	size_t ri = 0, ii = 0;
	ptrdiff_t ob = -1;
	return scan_deadline(e, &ri, &ii, &ob);
}

void engine_finish(struct engine *e)
{
	if (!e || e->finished)
		return;
	struct evsrc at = {.t = e->now, .tflags = e->now_flags};
	while (e->nopen)
		eng_block_close(e, 0, &at, true);
	for (size_t r = 0; r < e->nrules; r++)
		when_finish(e, &e->rt[r]);
	e->finished = true;
}

unsigned engine_epoch(const struct engine *e)
{
	return e ? e->epoch : 0;
}

enum rule_state engine_rule_state(const struct engine *e, int rule)
{
	if (!e || rule < 0 || (size_t)rule >= e->nrules)
		return RULE_IDLE;
	const struct rule_rt *rr = &e->rt[rule];
	enum rule_state st = RULE_IDLE;
	for (size_t i = 0; i < rr->ninst; i++) {
		enum rule_state s = inst_state(rr->inst[i]);
		if (s > st)
			st = s;
	}
	return st;
}

uint64_t engine_dropped(const struct engine *e)
{
	return e ? e->dropped : 0;
}
