/*
 * control.h — reaching a machine outside its console (design §10): NMI,
 * reset, SysRq and status through its hypervisor, cloud or BMC.
 *
 * URLs: qmp:/path and qmp:tcp:HOST:PORT (native QMP client: greeting,
 * qmp_capabilities, inject-nmi, system_reset, query-status; errors carry
 * QMP's class/desc), virsh:DOMAIN[?uri=URI], azure:RESOURCE_GROUP/VM,
 * aws:INSTANCE_ID, ipmi:HOST[?user=U&password_file=F], hyperv:VM,
 * exec:ARGV… ({action} is replaced by nmi|reset|sysrq|status).
 * One table of operations, one control_<kind>.c each; CLI kinds run their
 * tool without a shell, with a timeout, as a child in the loop, and report
 * a missing tool, a non-zero exit and a timeout as distinct reasons with the
 * tool's stderr.
 *
 * Lifecycle: control_parse (syntax only) → control_run (asynchronous: done
 * is called exactly once, later, never from inside control_run) → … →
 * control_free (a running request is cancelled: done gets ok=false,
 * reason "cancelled").
 */
#ifndef EMSAGENT_CONTROL_H
#define EMSAGENT_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "emsagent/loop.h"

enum control_action { CONTROL_NMI, CONTROL_RESET, CONTROL_SYSRQ, CONTROL_STATUS };
const char *control_action_name(enum control_action a); /* "nmi", "reset", "sysrq", "status" */

/* What a kind can do: bits (1u << enum control_action). */
#define CONTROL_CAN(a) (1u << (a))

struct control_result {
	bool ok;
	/* Why not ok: "virsh not found", "exit 1: error: …", "timeout after
	 * 30s", QMP's "GenericError: …", "cancelled". NULL when ok. */
	const char *reason;
	const char *output; /* what the tool or QMP answered (bounded, may be "") */
	size_t output_len;
	const char *status; /* CONTROL_STATUS: "running", "paused", … or NULL */
};
typedef void (*control_done_fn)(void *ctx, const struct control_result *r);

struct control;

/* 0, or -1 with a one-line reason in err. */
int control_parse(const char *url, struct control **out, char *err, size_t errsz);
const char *control_kind(const struct control *c);
unsigned control_caps(const struct control *c);
/* Starts action a (arg: the SysRq key for CONTROL_SYSRQ, else NULL).
 * 0 and done later, or -1 with the reason in err (done is not called). */
int control_run(struct control *c, struct loop *l, enum control_action a, const char *arg, int64_t timeout_ns,
                control_done_fn done, void *ctx, char *err, size_t errsz);
void control_free(struct control *c);

#endif
