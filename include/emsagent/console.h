/*
 * console.h — one watched console: transport + capture + pipeline +
 * actions, driven by the loop (design §2).
 *
 * Owns its transport (reopened with back-off when it goes away or is not
 * there yet: console.disconnected / console.connected events, the gap noted
 * in the capture), its capture, its pipeline (on the live clock: partial
 * lines after the idle time, rule timers as loop timers) and its actions.
 * Borrows the loop, the rule set and compiled database (swapped on reload),
 * and the sinks.
 */
#ifndef EMSAGENT_CONSOLE_H
#define EMSAGENT_CONSOLE_H

#include "emsagent/config.h"
#include "emsagent/loop.h"
#include "emsagent/match.h"
#include "emsagent/rules.h"
#include "emsagent/sink.h"

struct console;

struct console *console_new(struct loop *l, const struct console_cfg *cfg, const struct ruleset *rs,
                            const struct match_db *db, struct sinks *sinks, char *err, size_t errsz);
/* Opens the port now, or schedules retries; never fails. */
void console_start(struct console *c);
/* New rules: a fresh engine on the new set (rule state starts over). */
void console_set_rules(struct console *c, const struct ruleset *rs, const struct match_db *db);
void console_reopen_logs(struct console *c);
void console_flush(struct console *c);
/* Replay inputs (file:, -) end; true once such a console has reached its end. */
bool console_finished(const struct console *c);
/* Called once when a replay console reaches its end. */
void console_on_finished(struct console *c, void (*fn)(void *ctx), void *ctx);
void console_free(struct console *c);

#endif
