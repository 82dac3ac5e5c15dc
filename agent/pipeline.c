/*
 * pipeline.c — one console's bytes → normaliser → clock → matcher → engine.
 *
 * The matcher batches lines for throughput; in CLOCK_LOG mode batches are
 * flushed when full and at the end, live and virtual modes flush after every
 * feed so events come out while the bytes are fresh.
 */
#include "emsagent/pipeline.h"

#include <stdlib.h>

#include "emsagent/normalize.h"
#include "emsagent/util.h"

struct pipeline {
	struct clock clock;
	struct norm *norm;
	struct match_stream *ms;
	struct engine *engine;
	pipeline_line_fn line_hook;
	void *line_ctx;
};

static void on_norm_line(void *ctx, const struct line *in)
{
	struct pipeline *p = ctx;
	struct ts_prefix tp;
	clock_prefix(&p->clock, in->text, in->len, &tp);
	unsigned tflags = in->flags & (LINE_TIME_KNOWN | LINE_TIME_WALL);
	unsigned out_flags = 0;
	int64_t t = 0;
	clock_line(&p->clock, &tp, in->time_ns, tflags, &t, &out_flags);
	/* Field by field, not a struct copy of *in: the normaliser has just
	 * written it field by field, and wider loads of it would stall. */
	struct line ln;
	ln.text = in->text;
	ln.len = in->len;
	ln.body = tp.body;
	ln.offset = in->offset;
	ln.lineno = in->lineno;
	ln.time_ns = t;
	ln.flags = (in->flags & ~(unsigned)(LINE_TIME_KNOWN | LINE_TIME_WALL)) | out_flags;
	if (p->line_hook)
		p->line_hook(p->line_ctx, &ln);
	match_push(p->ms, &ln);
}

static void on_norm_ems(void *ctx, const struct ems_record *rec)
{
	struct pipeline *p = ctx;
	match_push_ems(p->ms, rec);
}

static void on_match_line(void *ctx, const struct line *ln, const struct match_hit *hits, size_t n)
{
	struct pipeline *p = ctx;
	engine_line(p->engine, ln, hits, n);
}

static void on_match_ems(void *ctx, const struct ems_record *rec, const struct match_hit *hits, size_t n)
{
	struct pipeline *p = ctx;
	engine_ems(p->engine, rec, hits, n);
}

struct pipeline *pipeline_new(const struct ruleset *rs, const struct match_db *db, enum clock_mode mode,
                              const char *console, engine_event_fn fn, void *ctx)
{
	struct pipeline *p = xcalloc(1, sizeof(*p));
	clock_init(&p->clock, mode);
	p->engine = engine_new(rs, db, console, fn, ctx);
	p->ms = match_stream_new(db, on_match_line, on_match_ems, p);
	p->norm = norm_new(on_norm_line, on_norm_ems, p);
	return p;
}

void pipeline_free(struct pipeline *p)
{
	if (!p)
		return;
	norm_free(p->norm);
	match_stream_free(p->ms);
	engine_free(p->engine);
	free(p);
}

static unsigned feed_flags(const struct pipeline *p)
{
	return p->clock.mode == CLOCK_LOG ? 0 : p->clock.flags | LINE_TIME_KNOWN;
}

void pipeline_feed(struct pipeline *p, const void *buf, size_t len, int64_t now)
{
	if (p->clock.mode == CLOCK_VIRTUAL)
		now = p->clock.now;
	unsigned ff = feed_flags(p);
	if (p->clock.mode == CLOCK_LOG && now != 0)
		ff = LINE_TIME_KNOWN | LINE_TIME_WALL; /* bytes dated by a capture index */
	norm_feed(p->norm, buf, len, now, ff);
	if (p->clock.mode != CLOCK_LOG)
		match_flush(p->ms);
}

void pipeline_idle(struct pipeline *p, int64_t now)
{
	if (p->clock.mode == CLOCK_VIRTUAL)
		now = p->clock.now;
	norm_flush_partial(p->norm, now, feed_flags(p));
	match_flush(p->ms);
	if (p->clock.mode != CLOCK_LOG)
		engine_tick(p->engine, now, feed_flags(p));
}

void pipeline_advance(struct pipeline *p, int64_t d)
{
	match_flush(p->ms);
	clock_advance(&p->clock, d);
	engine_tick(p->engine, p->clock.now, p->clock.flags | LINE_TIME_KNOWN);
}

void pipeline_finish(struct pipeline *p)
{
	int64_t now = p->clock.now;
	norm_finish(p->norm, now, feed_flags(p));
	match_flush(p->ms);
	engine_finish(p->engine);
}

void pipeline_set_line_hook(struct pipeline *p, pipeline_line_fn fn, void *ctx)
{
	p->line_hook = fn;
	p->line_ctx = ctx;
}

struct engine *pipeline_engine(struct pipeline *p)
{
	return p->engine;
}

struct clock *pipeline_clock(struct pipeline *p)
{
	return &p->clock;
}
