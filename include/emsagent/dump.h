/*
 * dump.h — one crash dump, triggered and then proven on the console (design
 * §10; issue 5).
 *
 * A dump request picks a method (sac: SAC `crashdump`; nmi: the control
 * plane's NMI; sysrq: BREAK then 'c' on the serial line, or the control
 * plane's SysRq; auto: the first of those the console allows), triggers it,
 * and then reads the console's raw bytes through a normaliser of its own
 * until the crash shows: a Windows <BP> record with the expected stop code
 * (0xE2 for sac, 0x80 for nmi) or the !SAC> prompt, or Linux's NMI / SysRq
 * panic lines. It ends with verified, or failed with what was and was not
 * seen, when the timeout (default 120 s) passes.
 *
 * Like the SAC client it never blocks and never reads a clock: the caller
 * feeds bytes with their time (dump_feed, after sac_feed of the same bytes),
 * calls dump_tick when the deadline asked for through env.set_timer comes,
 * and reports the control plane's answer with dump_control_done. The control
 * plane is reached through env.control (in the agent a wrapper over
 * control_run) so that this module stays testable with a fake one.
 *
 * Events: dump.requested (title: the method; reason: why auto chose it),
 * dump.started (the trigger is under way), then exactly one of dump.verified
 * or dump.failed. env.done is called exactly once, never from inside
 * dump_start, and not by dump_free.
 */
#ifndef EMSAGENT_DUMP_H
#define EMSAGENT_DUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "emsagent/control.h"
#include "emsagent/event.h"
#include "emsagent/sac.h"

#define DUMP_DEFAULT_TIMEOUT_NS (120 * INT64_C(1000000000))
#define DUMP_STOP_SAC           0xE2u /* MANUALLY_INITIATED_CRASH */
#define DUMP_STOP_NMI           0x80u /* NMI_HARDWARE_FAILURE */

enum dump_method { DUMP_AUTO, DUMP_SAC, DUMP_NMI, DUMP_SYSRQ };
const char *dump_method_name(enum dump_method m); /* "auto", "sac", "nmi", "sysrq" */
/* 0, or -1 for a name that is none of those. */
int dump_method_parse(const char *s, enum dump_method *out);

enum dump_outcome {
	DUMP_RUNNING,
	DUMP_VERIFIED,      /* the console showed the crash */
	DUMP_NOT_VERIFIED,  /* triggered, but the console did not show it in time */
	DUMP_NOT_TRIGGERED, /* the trigger could not be sent (no SAC, control plane refused, no BREAK) */
};

struct dump_result {
	enum dump_outcome outcome;
	enum dump_method method; /* the one used (auto resolved) */
	const char *reason;      /* one line: what was and was not seen, or why it could not trigger */
	bool has_stopcode;       /* a <BP> record with the expected stop code was seen */
	uint32_t stopcode;
	const char
	    *evidence; /* the line or record that verified it ("<BP> STOPCODE 0xE2", "!SAC>", a panic line) */
};
/* Pointers in r are valid only during the call. */
typedef void (*dump_done_fn)(void *ctx, const struct dump_result *r);

/* What the console lends the request. */
struct dump_env {
	void *ctx;
	const char *console; /* for events; may be NULL */
	/* Writes bytes to the console: 0 or -errno. */
	int (*send)(void *ctx, const void *buf, size_t n);
	/* Sends a BREAK: 0 or -errno. NULL when the transport cannot carry one. */
	int (*send_break)(void *ctx);
	/* The console's SAC client (it must be fed the same bytes); may be NULL. */
	struct sac *sac;
	/* The control plane: its kind ("qmp") and CONTROL_CAN bits, or NULL / 0. */
	const char *control_kind;
	unsigned control_caps;
	/* Starts action a (arg: the SysRq key, else NULL): 0, and the answer
	 * comes later through dump_control_done; or -1 with the reason in err. */
	int (*control)(void *ctx, enum control_action a, const char *arg, char *err, size_t errsz);
	/* dump_tick is wanted at deadline_ns; INT64_MAX cancels. */
	void (*set_timer)(void *ctx, int64_t deadline_ns);
	void (*emit)(void *ctx, const struct event *ev); /* dump.* events; may be NULL */
	dump_done_fn done;
};

struct dump;

/* timeout_ns <= 0: DUMP_DEFAULT_TIMEOUT_NS. */
struct dump *dump_new(const struct dump_env *env, enum dump_method method, int64_t timeout_ns);
/* Does not call done; an unfinished request just stops. */
void dump_free(struct dump *d);
/* Chooses the method (auto) and sends the trigger. 0: running, done comes
 * later. -1: it could not even start (reason in err; dump.failed emitted,
 * done not called). */
int dump_start(struct dump *d, int64_t now, char *err, size_t errsz);
/* Raw console bytes as received (the same the SAC client is fed). */
void dump_feed(struct dump *d, const void *buf, size_t n, int64_t now);
void dump_tick(struct dump *d, int64_t now);
/* The answer to env.control: ok, or the control plane's reason. */
void dump_control_done(struct dump *d, bool ok, const char *reason, int64_t now);
enum dump_outcome dump_outcome(const struct dump *d);
/* The method chosen (auto resolved after dump_start). */
enum dump_method dump_method(const struct dump *d);

#endif
