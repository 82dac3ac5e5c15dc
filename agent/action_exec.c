/*
 * action_exec.c — exec actions as children that join the loop: argv through
 * posix_spawn (PATH searched like execvp, no shell), the triggering event as JSON on a
 * non-blocking stdin pipe, stdout and stderr on one pipe read as it comes
 * (64 KiB kept, the rest counted), a timeout that sends SIGTERM and then
 * SIGKILL to the child's process group, and the exit status as the result.
 *
 * The program is looked up in PATH here, before the spawn, so "not found"
 * and "not executable" are reported the same way everywhere (glibc's
 * posix_spawnp reports them from the call, but not every libc or tool such
 * as valgrind does; there the child would just exit 127).
 * The child gets stdin, stdout and stderr and no other descriptor, its own
 * process group so a timeout also stops whatever the program started, and a
 * default signal state: the loop blocks signals it
 * reads through signalfd and ignores SIGPIPE, and a child must not inherit
 * either.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "action_priv.h"

extern char **environ;

/* A child outliving actions_free: SIGKILL after the grace time unless it
 * is reaped first. */
struct act_orphan {
	struct loop *loop;
	pid_t pid;
	uint64_t kill_timer;
};

static void orphan_exited(struct loop *l, pid_t pid, int status, void *ctx)
{
	(void)pid;
	(void)status;
	struct act_orphan *o = ctx;
	loop_timer_cancel(l, o->kill_timer);
	free(o);
}

static void orphan_kill(struct loop *l, void *ctx)
{
	(void)l;
	struct act_orphan *o = ctx;
	o->kill_timer = 0;
	kill(-o->pid, SIGKILL);
}

/* --- output and input ----------------------------------------------------- */

static void close_out(struct act_job *j)
{
	if (j->out_fd < 0)
		return;
	loop_del_fd(j->a->env.loop, j->out_fd);
	close(j->out_fd);
	j->out_fd = -1;
}

static void close_in(struct act_job *j)
{
	if (j->in_fd < 0)
		return;
	loop_del_fd(j->a->env.loop, j->in_fd);
	close(j->in_fd);
	j->in_fd = -1;
}

/* Reads what is there; keeps ACT_OUTPUT_MAX bytes and counts the rest. */
static void drain_out(struct act_job *j)
{
	char chunk[4096];
	for (;;) {
		ssize_t n = read(j->out_fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0 || errno != EAGAIN)
				close_out(j);
			return;
		}
		size_t keep = j->out.len < ACT_OUTPUT_MAX ? ACT_OUTPUT_MAX - j->out.len : 0;
		if (keep > (size_t)n)
			keep = (size_t)n;
		if (keep)
			buf_append(&j->out, chunk, keep);
		j->dropped += (uint64_t)n - keep;
	}
}

static void on_out(struct loop *l, int fd, unsigned events, void *ctx)
{
	(void)l;
	(void)fd;
	(void)events;
	drain_out(ctx);
}

static void on_in(struct loop *l, int fd, unsigned events, void *ctx)
{
	(void)l;
	(void)fd;
	struct act_job *j = ctx;
	if (events & (LOOP_ERR | LOOP_HUP)) {
		close_in(j); /* the child closed its stdin: it wants no more */
		return;
	}
	while (j->in_off < j->json_len) {
		ssize_t n = write(j->in_fd, j->json + j->in_off, j->json_len - j->in_off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno != EAGAIN)
				close_in(j); /* EPIPE: it exited or closed stdin */
			return;
		}
		j->in_off += (size_t)n;
	}
	close_in(j); /* all written: EOF tells the child that was all */
}

/* --- the end -------------------------------------------------------------- */

static void on_exit_status(struct loop *l, pid_t pid, int status, void *ctx)
{
	(void)pid;
	struct act_job *j = ctx;
	loop_timer_cancel(l, j->timeout_timer);
	loop_timer_cancel(l, j->kill_timer);
	j->timeout_timer = j->kill_timer = 0;
	/* Everything the child wrote is in the pipe now; a grandchild still
	 * holding it open must not keep the action from ending. */
	if (j->out_fd >= 0)
		drain_out(j);
	close_out(j);
	close_in(j);
	if (j->dropped)
		buf_printf(&j->out, "\n[%llu more bytes of output not kept]", (unsigned long long)j->dropped);
	char reason[96];
	int code = -1;
	enum event_kind kind = EV_ACTION_FAILED;
	if (WIFEXITED(status)) {
		code = WEXITSTATUS(status);
		if (code == 0)
			kind = EV_ACTION_DONE;
		snprintf(reason, sizeof(reason), "exit %d", code);
	} else if (WIFSIGNALED(status)) {
		const char *name = sigabbrev_np(WTERMSIG(status));
		snprintf(reason, sizeof(reason), "killed by signal %d (SIG%s)", WTERMSIG(status),
		         name ? name : "?");
	} else {
		snprintf(reason, sizeof(reason), "ended with status 0x%x", (unsigned)status);
	}
	if (j->timed_out) {
		kind = EV_ACTION_FAILED;
		snprintf(reason, sizeof(reason), "timeout");
	}
	act_job_finish(j, kind, kind == EV_ACTION_DONE ? NULL : reason, code, j->out.data ? j->out.data : "",
	               j->out.len);
}

static void on_kill(struct loop *l, void *ctx)
{
	(void)l;
	struct act_job *j = ctx;
	j->kill_timer = 0;
	kill(-j->pid, SIGKILL);
}

static void on_timeout(struct loop *l, void *ctx)
{
	struct act_job *j = ctx;
	j->timeout_timer = 0;
	j->timed_out = true;
	kill(-j->pid, SIGTERM);
	j->kill_timer = loop_timer_in(l, ACT_KILL_GRACE_NS, on_kill, j);
}

/* --- the start ------------------------------------------------------------ */

/* The agent's environment without EMSAGENT_* (a stale one must not pass for
 * this event's), then this job's variables. */
static char **build_env(const struct act_job *j)
{
	size_t n = 0;
	for (char **e = environ; e && *e; e++)
		n++;
	char **envp = xcalloc(n + j->nenv + 1, sizeof(char *));
	size_t k = 0;
	for (char **e = environ; e && *e; e++)
		if (strncmp(*e, "EMSAGENT_", 9) != 0)
			envp[k++] = *e;
	for (size_t i = 0; i < j->nenv; i++)
		envp[k++] = j->envv[i];
	envp[k] = NULL;
	return envp;
}

/* What execvp would run: prog itself when it has a '/', else the first
 * executable file of that name in PATH. 0, or -errno. */

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -1 : 0;
}

int act_exec_start(struct act_job *j, char *err, size_t errsz)
{
	struct loop *l = j->a->env.loop;
	const char *prog = j->act.argc ? j->act.argv[0] : NULL;
	if (!prog) {
		snprintf(err, errsz, "exec has no program to run");
		return -1;
	}
	struct buf file = {0};
	int rc = exec_resolve(prog, &file);
	if (rc < 0) {
		snprintf(err, errsz, "cannot run %.64s: %s", prog, strerror(-rc));
		buf_free(&file);
		return -1;
	}
	int inp[2] = {-1, -1}, outp[2] = {-1, -1};
	if (pipe2(inp, O_CLOEXEC) < 0 || pipe2(outp, O_CLOEXEC) < 0) {
		snprintf(err, errsz, "cannot run %.64s: %s", prog, strerror(errno));
		goto fail;
	}
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	spawn_child_init(&fa, &at);
	/* dup2 clears close-on-exec on the copies; the originals close at exec */
	posix_spawn_file_actions_adddup2(&fa, inp[0], STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, outp[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, outp[1], STDERR_FILENO);
	/* Nothing else of the agent's goes along, even an fd some module
	 * opened without O_CLOEXEC: a hook must not hold a console port (and
	 * its lock) or a log open after the agent lets go of it. */
	posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
	char **envp = build_env(j);
	char **argv = xcalloc(j->act.argc + 1, sizeof(char *));
	for (size_t i = 0; i < j->act.argc; i++)
		argv[i] = j->act.argv[i];
	pid_t pid;
	rc = posix_spawn(&pid, file.data, &fa, &at, argv, envp);
	free(argv);
	free(envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (rc != 0) {
		snprintf(err, errsz, "cannot run %.64s: %s", prog, strerror(rc));
		goto fail;
	}
	buf_free(&file);
	close(inp[0]);
	close(outp[1]);
	j->pid = pid;
	j->in_fd = inp[1];
	j->out_fd = outp[0];
	loop_watch_child(l, pid, on_exit_status, j);
	int64_t timeout = j->act.timeout_ns > 0 ? j->act.timeout_ns : ACT_DEFAULT_TIMEOUT_NS;
	j->timeout_timer = loop_timer_in(l, timeout, on_timeout, j);
	if (set_nonblock(j->out_fd) < 0 || loop_add_fd(l, j->out_fd, LOOP_IN, on_out, j) < 0) {
		/* Without the loop watching it the pipe is closed: the child's
		 * writes fail (EPIPE) and its output is lost, but it still ends. */
		close(j->out_fd);
		j->out_fd = -1;
	}
	if (set_nonblock(j->in_fd) < 0 || loop_add_fd(l, j->in_fd, LOOP_OUT, on_in, j) < 0) {
		close(j->in_fd);
		j->in_fd = -1;
	}
	return 0;
fail:
	buf_free(&file);
	for (int i = 0; i < 2; i++) {
		if (inp[i] >= 0)
			close(inp[i]);
		if (outp[i] >= 0)
			close(outp[i]);
	}
	return -1;
}

void act_exec_abandon(struct act_job *j)
{
	struct loop *l = j->a->env.loop;
	close_in(j);
	close_out(j);
	loop_timer_cancel(l, j->timeout_timer);
	loop_timer_cancel(l, j->kill_timer);
	j->timeout_timer = j->kill_timer = 0;
	if (j->pid <= 0)
		return;
	struct act_orphan *o = xcalloc(1, sizeof(*o));
	o->loop = l;
	o->pid = j->pid;
	kill(-j->pid, SIGTERM);
	o->kill_timer = loop_timer_in(l, ACT_KILL_GRACE_NS, orphan_kill, o);
	loop_watch_child(l, j->pid, orphan_exited, o); /* replaces the job's watcher */
	j->pid = 0;
}
