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

struct json_object;

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

/*
 * For front ends that put a person at the console (attach) and for the
 * share server that serves it to them (design §2, issue 6).
 */
const char *console_name(const struct console *c);
/* The port as configured ("/dev/ttyS0", "unix:/run/vm1.sock"). */
const char *console_port(const struct console *c);
bool console_connected(const struct console *c);

/* Observers see every byte read from the port (as read, before any
 * parsing) and every event of this console after the sinks. At most
 * CONSOLE_MAX_OBSERVERS; returns an id > 0 or -1. Callbacks must not free
 * the console; they may remove themselves. */
#define CONSOLE_MAX_OBSERVERS 8
typedef void (*console_bytes_fn)(void *ctx, const void *buf, size_t n);
typedef void (*console_event_fn)(void *ctx, const struct event *ev);
int console_observe(struct console *c, console_bytes_fn on_bytes, console_event_fn on_event, void *ctx);
void console_unobserve(struct console *c, int id);

/* A person's keystrokes to the port: 0, or -ENOTCONN (port down), -ENOTSUP
 * (read-only kind), -errno. Pacing is the caller's business. */
int console_write(struct console *c, const void *buf, size_t n);
/* BREAK on the line (serial, telnet): 0, -ENOTSUP, -ENOTCONN, -errno. */
int console_break(struct console *c, unsigned ms);

/* What a person may ask for. Dangerous ones (NMI, dump, restart) are asked
 * by a person who confirmed; console text can never ask. */
enum console_op {
	CONSOLE_OP_BREAK,    /* BREAK on the line now (250 ms); answered on the next turn */
	CONSOLE_OP_SYSRQ,    /* arg: the key; the control plane's SysRq, else BREAK + key */
	CONSOLE_OP_NMI,      /* through the control plane */
	CONSOLE_OP_DUMP,     /* arg: method or NULL (auto); done when verified or failed */
	CONSOLE_OP_RESTART,  /* through the control plane */
	CONSOLE_OP_CHANNELS, /* SAC's channel list: `ch` at the SAC prompt, else what was
	                      * seen; arg "seen": never type, only what was seen */
};
int console_op_parse(const char *name, enum console_op *op);
const char *console_op_name(enum console_op op);
/* Starts op: 0 and done later (exactly once, never from inside this call),
 * or -1 with the reason in err. output: what the op returned (channels:
 * one per line; dump: the evidence), may be empty. */
typedef void (*console_done_fn)(void *ctx, bool ok, const char *reason, const char *output, size_t len);
int console_request(struct console *c, enum console_op op, const char *arg, console_done_fn done, void *ctx,
                    char *err, size_t errsz);
/* Drops the done callbacks registered with ctx (a front end going away);
 * the operations themselves run on. */
void console_forget(struct console *c, void *ctx);

/* Port, settings, connection, SAC state, machine-info, epoch and the last
 * findings, as a JSON object (caller puts it). */
struct json_object *console_status(const struct console *c);

#endif
