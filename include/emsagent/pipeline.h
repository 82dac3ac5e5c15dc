/*
 * pipeline.h — one console's path from bytes to events:
 * normaliser → clock (timestamps, line body) → matcher → engine.
 *
 * Owns its normaliser, clock, match stream and engine; borrows the rule set
 * and the compiled database (shared by every console).
 * Lifecycle: pipeline_new → pipeline_feed as bytes arrive (any split) →
 * pipeline_idle when the input has been quiet (offers the partial line, runs
 * timers) → pipeline_finish at end of input → pipeline_free.
 * Who calls it: scan (offline, CLOCK_LOG), rules test (CLOCK_VIRTUAL),
 * later the live console (CLOCK_LIVE).
 */
#ifndef EMSAGENT_PIPELINE_H
#define EMSAGENT_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "emsagent/clock.h"
#include "emsagent/engine.h"
#include "emsagent/match.h"
#include "emsagent/rules.h"

struct pipeline;

struct pipeline *pipeline_new(const struct ruleset *rs, const struct match_db *db, enum clock_mode mode,
                              const char *console, engine_event_fn fn, void *ctx);
void pipeline_free(struct pipeline *p);
/* now: the live or virtual time of these bytes. In CLOCK_LOG, a wall time
 * (ns since the Unix epoch) for bytes a capture index dates — lines with no
 * timestamp of their own take it — or 0 when unknown. */
void pipeline_feed(struct pipeline *p, const void *buf, size_t len, int64_t now);
void pipeline_idle(struct pipeline *p, int64_t now);
/* CLOCK_VIRTUAL: time moves on by d ns; timers that expire fire. */
void pipeline_advance(struct pipeline *p, int64_t d);
void pipeline_finish(struct pipeline *p);
/* Every line (partial offers too), dated, before it is matched: for the
 * readable capture log. The line is only valid during the call. */
typedef void (*pipeline_line_fn)(void *ctx, const struct line *ln);
void pipeline_set_line_hook(struct pipeline *p, pipeline_line_fn fn, void *ctx);
struct engine *pipeline_engine(struct pipeline *p);
struct clock *pipeline_clock(struct pipeline *p);

#endif
