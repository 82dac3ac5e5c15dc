/*
 * action.h — what a console does when its rules say so, under a policy.
 *
 * Kinds (rules.h enum action_kind): alert (the event itself goes to the
 * sinks; nothing more), exec (argv, never a shell: the triggering event as
 * JSON on stdin, EMSAGENT_* environment variables, a timeout, output captured
 * into action.done), send (text to the console with escapes: \r \n \t \e
 * \xHH \\ and \b for a BREAK), sac (a SAC command through the console's
 * SAC client: its output goes into action.done, and — since the guest prints
 * it on the console — through the rules too), dump and restart (they need
 * control planes, and the policy to allow them — otherwise action.skipped
 * with reason "not allowed").
 *
 * Triggers: on: fire → rule.fired, pending → rule.pending, resolve →
 * rule.resolved. delay: the action waits, and is cancelled if the rule
 * resolves or a new epoch starts first (escalation). cooldown: at most one
 * run per cooldown per (rule, action). max_per_epoch: per (rule, action),
 * reset by epoch.started. require: capabilities the console must have.
 * Every decision is an event: action.started / done / failed / skipped
 * (with the reason). Nothing here blocks: children join the loop.
 *
 * Lifecycle: actions_new(env) per console → actions_on_event for every
 * event the console's engine emits → actions_free (running children get
 * SIGTERM, then SIGKILL after 2 s, reaped by the loop).
 */
#ifndef EMSAGENT_ACTION_H
#define EMSAGENT_ACTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "emsagent/event.h"
#include "emsagent/loop.h"
#include "emsagent/rules.h"

struct action_policy {
	bool allow_dump;
	bool allow_restart;
	bool allow_exec; /* default true */
	bool allow_send; /* default true */
};
void action_policy_default(struct action_policy *p);

/* What the console lends its actions. */
struct action_env {
	struct loop *loop;
	const char *console;
	const struct kv *labels;
	size_t nlabels;
	const struct action_policy *policy;
	void *ctx;
	/* Writes to the console; 0 or -errno. */
	int (*send)(void *ctx, const void *buf, size_t n);
	/* Sends a BREAK; 0 or -errno (-ENOTSUP when the transport has none). */
	int (*send_break)(void *ctx, unsigned ms);
	/* Capabilities by name: "write", "break", "sac", "control". */
	bool (*has_cap)(void *ctx, const char *cap);
	/* Action events go out here (the console adds them to its sinks). */
	void (*emit)(void *ctx, const struct event *ev);
	/* Runs a SAC command (NULL: no SAC client). 0 and done is called
	 * exactly once later (ok, or the failure's reason; output bounded), or
	 * -1 with the reason in reason (done is not called). */
	int (*sac_run)(void *ctx, const char *command, int64_t timeout_ns,
	               void (*done)(void *dctx, bool ok, const char *reason, const char *output, size_t len),
	               void *dctx, char *reason, size_t reasonsz);
	/* Triggers and verifies a crash dump (method "auto", "sac", "nmi",
	 * "sysrq" or NULL for auto); ok means verified. NULL: none. Same
	 * contract as sac_run. */
	int (*dump_run)(void *ctx, const char *method, int64_t timeout_ns,
	                void (*done)(void *dctx, bool ok, const char *reason, const char *output, size_t len),
	                void *dctx, char *reason, size_t reasonsz);
	/* Resets the machine through its control plane. NULL: none. */
	int (*restart_run)(void *ctx, int64_t timeout_ns,
	                   void (*done)(void *dctx, bool ok, const char *reason, const char *output,
	                                size_t len),
	                   void *dctx, char *reason, size_t reasonsz);
};

struct actions;

struct actions *actions_new(const struct action_env *env);
void actions_on_event(struct actions *a, const struct event *ev);
/* Children still running. */
unsigned actions_running(const struct actions *a);
void actions_free(struct actions *a);

/* Parses send text escapes into out; a BREAK is marked by the byte sequence
 * returned in *break_at positions (at most max_breaks). -1 on a bad escape. */
int action_send_unescape(const char *text, char *out, size_t outsz, size_t *outlen, size_t *break_at,
                         size_t max_breaks, size_t *nbreaks);

#endif
