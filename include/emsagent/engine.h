/*
 * engine.h — rule state, epochs, timers and the alert lifecycle (design §7).
 *
 * Owns: per rule (and per group_by key) the when-form state machine; the
 * epoch counter and the current epoch's stage; open blocks; unless_near
 * history; timers. Events come out of the callback.
 *
 * Lifecycle per rule instance, as Prometheus alerts: idle → pending (an
 * absent timer runs) → firing → resolved (back to idle). A new epoch resets
 * every rule that does not reference "epoch" (firing ones are resolved with
 * reason "new epoch").
 *
 * Time: every line carries its time; engine_tick moves time on between lines
 * (live loop timers, "@+31m" in tests). Without a known time, rules that need
 * one (absent, or a within window) report rule.uncertain instead of guessing.
 *
 * Who calls it: the pipeline, from the matcher's callbacks, in input order.
 */
#ifndef EMSAGENT_ENGINE_H
#define EMSAGENT_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "emsagent/event.h"
#include "emsagent/line.h"
#include "emsagent/match.h"
#include "emsagent/rules.h"

typedef void (*engine_event_fn)(void *ctx, const struct event *ev);

enum rule_state { RULE_IDLE, RULE_PENDING, RULE_FIRING };

struct engine;

struct engine *engine_new(const struct ruleset *rs, const struct match_db *db, const char *console,
                          engine_event_fn fn, void *ctx);
void engine_free(struct engine *e);
/* Runs only the rules for this OS (and those for any OS): a console
 * labelled os: windows does not run Linux rules. Call before any input. */
void engine_set_os(struct engine *e, enum rule_os os);
/* Every line, in order, with its hits (possibly none). */
void engine_line(struct engine *e, const struct line *ln, const struct match_hit *hits, size_t nhits);
/* An EMS record with its hits; emits ems.bugcheck / ems.machine_info too. */
void engine_ems(struct engine *e, const struct ems_record *rec, const struct match_hit *hits, size_t nhits);
/* Time passes (ns, same base as line times): expired timers fire. */
void engine_tick(struct engine *e, int64_t now, unsigned time_flags);
/* Earliest pending deadline, or INT64_MAX. */
int64_t engine_next_deadline(const struct engine *e);
/* End of input: open blocks are delivered truncated; rules still pending
 * (timer running, or waiting without a clock) are reported uncertain. */
void engine_finish(struct engine *e);
unsigned engine_epoch(const struct engine *e);
/* The most advanced state of any instance of a rule (tests, status). */
enum rule_state engine_rule_state(const struct engine *e, int rule);
/* Hits for a new group_by key that were dropped because the rule already had
 * its 256 instances and none of them was idle. */
uint64_t engine_dropped(const struct engine *e);

#endif
