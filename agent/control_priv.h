/*
 * control_priv.h — what control.c shares with the control_<kind>.c files:
 * the one operations table entry per kind, the parsed URL, the state of
 * the one request a control runs at a time, and the common way a request
 * ends (control_finish) so done is called exactly once from every path.
 */
#ifndef EMSAGENT_CONTROL_PRIV_H
#define EMSAGENT_CONTROL_PRIV_H

#include <sys/types.h>

#include "emsagent/control.h"
#include "emsagent/util.h"

#define CONTROL_OUTPUT_MAX   (64u << 10)      /* stdout / QMP reply kept; the rest is counted */
#define CONTROL_STDERR_MAX   (4u << 10)       /* stderr kept for the reason */
#define CONTROL_QMP_LINE_MAX (1u << 20)       /* one QMP message; longer is a protocol error */
#define CONTROL_KILL_GRACE   (2 * NS_PER_SEC) /* SIGTERM, then SIGKILL this much later */
#define CONTROL_NAME_MAX     256u             /* host, domain, VM, group names */

struct control;

struct control_ops {
	const char *kind;
	unsigned caps;
	/* rest: the URL after "kind:"; fills the kind's fields of c. */
	int (*parse)(struct control *c, const char *rest, char *err, size_t errsz);
	/* Starts the request described in c->req; 0, or -1 with err (nothing
	 * left running). May end the request early only through
	 * control_fail_later. */
	int (*start)(struct control *c, char *err, size_t errsz);
	/* Releases whatever a running request holds (fds, children, timers
	 * of the kind); called once by control_finish. */
	void (*stop)(struct control *c);
	/* Optional: the request's time is up. true when the kind ends the
	 * request itself later (a child is being stopped); false to end it
	 * now with "timeout after …". */
	bool (*timeout)(struct control *c);
};

extern const struct control_ops control_qmp_ops, control_virsh_ops, control_azure_ops, control_aws_ops,
    control_ipmi_ops, control_hyperv_ops, control_exec_ops;

struct control_qmp_state {
	int fd;
	int phase; /* see control_qmp.c */
	struct buf in, out;
	size_t out_off;
	struct buf reply;
	char *status;
};

struct control_cli_state {
	pid_t pid;
	int out_fd, err_fd;
	struct buf out, err;
	unsigned long long dropped;
	bool timed_out, exited;
	int wstatus;
	uint64_t kill_timer;
	char *status;
};

struct control {
	const struct control_ops *ops;
	char *url;
	/* Parsed fields; which are used depends on the kind. */
	char *host, *path, *name, *group, *uri, *user, *pwfile;
	int port;
	char **argv; /* exec */

	/* The request in flight (busy), one at a time. */
	struct {
		bool busy;
		struct loop *loop;
		enum control_action action;
		char *arg;
		int64_t timeout_ns;
		control_done_fn done;
		void *ctx;
		uint64_t timer;      /* the request's timeout */
		uint64_t late_timer; /* control_fail_later */
		char *late_reason;
	} req;
	struct control_qmp_state qmp;
	struct control_cli_state cli;
};

/* Ends the running request: stops the kind's work, then calls done once. */
void control_finish(struct control *c, bool ok, const char *reason, const char *output, size_t output_len,
                    const char *status);
/* Ends the request from the loop soon (never from inside control_run). */
void control_fail_later(struct control *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "timeout after 30s" for the current request. */
void control_timeout_reason(const struct control *c, char *out, size_t outsz);
/* Query "k=v&k=v" of a URL: calls fn for each pair; 0 or -1 with err. */
int control_query(const char *q,
                  int (*fn)(struct control *c, const char *k, const char *v, char *err, size_t errsz),
                  struct control *c, char *err, size_t errsz);
/* A name safe to pass as one argv word: non-empty, bounded, printable
 * ASCII, not starting with '-' (a tool would read it as an option). */
bool control_name_ok(const char *s);

#endif
