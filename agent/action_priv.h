/*
 * action_priv.h — what action.c (decisions, policy, send, events) and
 * action_exec.c (children: spawn, pipes, timeout) share.
 *
 * A job is one decided run of one action. It keeps its own copies of what it
 * needs from the rule and the action, because a reload may free the rule set
 * while a delayed job waits or a child still runs.
 */
#ifndef EMSAGENT_ACTION_PRIV_H
#define EMSAGENT_ACTION_PRIV_H

#include <sys/types.h>

#include "emsagent/action.h"
#include "emsagent/util.h"

#define ACT_MAX_RUNNING        8                /* exec children per console */
#define ACT_OUTPUT_MAX         (64u << 10)      /* output kept per child; the rest is counted */
#define ACT_KILL_GRACE_NS      (2 * NS_PER_SEC) /* SIGTERM, then SIGKILL this much later */
#define ACT_DEFAULT_TIMEOUT_NS (60 * NS_PER_SEC)
#define ACT_BREAK_MS           250  /* a BREAK as `\b` in send text */
#define ACT_SEND_MAX           4096 /* bytes one send action may write */
#define ACT_SEND_MAX_BREAKS    32
#define ACT_ENV_VALUE_MAX      4096   /* bytes of one EMSAGENT_* value; the JSON has all */
#define ACT_MAX_SLOTS          100000 /* (rule, action) pairs tracked for cooldowns and budgets */

/* Cooldown and per-epoch budget of one (rule id, action index); keyed by the
 * id so they survive a reload. */
struct act_slot {
	char *rule_id;
	size_t idx;
	bool ran;
	int64_t last_ns; /* monotonic */
	unsigned epoch_runs;
};

enum act_job_state { JOB_WAITING, JOB_RUNNING };

struct act_job {
	struct actions *a;
	struct act_job *next;
	enum act_job_state state;
	size_t slot;
	struct rule rule;    /* snapshot: id, title, level */
	struct action act;   /* snapshot with its own strings */
	const char *trigger; /* static: event_kind_name() */
	unsigned epoch;
	uint64_t offset, lineno;
	char *title;
	char *json; /* the triggering event, one line, for the child's stdin */
	size_t json_len;
	char **envv; /* "EMSAGENT_X=value" */
	size_t nenv;
	uint64_t delay_timer;
	/* exec */
	pid_t pid;
	int in_fd, out_fd;
	size_t in_off;
	struct buf out;
	uint64_t dropped;
	uint64_t timeout_timer, kill_timer;
	bool timed_out;
};

struct actions {
	struct action_env env;
	struct act_slot *slots;
	size_t nslots, cap_slots;
	struct act_job *jobs;
	unsigned running;
};

/* action.c */
/* Ends a job: the event (done or failed), then it is unlinked and freed. */
void act_job_finish(struct act_job *j, enum event_kind kind, const char *reason, int exit_status,
                    const char *output, size_t output_len);

/* action_exec.c */
/* Starts the child; 0, or -1 with the reason in err ("cannot run PROG: ..."). */
int act_exec_start(struct act_job *j, char *err, size_t errsz);
/* actions_free with a child still running: SIGTERM now, SIGKILL after the
 * grace time, reaped by the loop; the job's fds and timers are released. */
void act_exec_abandon(struct act_job *j);

#endif
