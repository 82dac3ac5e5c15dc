/*
 * test_loop.c — the event loop: timers fire in deadline order (ties in
 * creation order) and never early, cancellation (also of fired, cancelled
 * and made-up ids), 10k timers, fd readiness with pipes, removal and re-use
 * of fds inside callbacks, signals through signalfd, child reaping (watched
 * and unknown), loop_stop codes, argument errors.
 * Every test runs under an alarm() guard.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "emsagent/loop.h"
#include "emsagent/util.h"

#define MS(x) ((int64_t)(x)*NS_PER_MS)

static int guard_setup(void **state)
{
	(void)state;
	alarm(20);
	return 0;
}

static int guard_teardown(void **state)
{
	(void)state;
	alarm(0);
	return 0;
}

static int64_t mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

/* ---- timers ---- */

struct order {
	int seen[64];
	int64_t at[64];
	size_t n, stop_after;
};

struct tctx {
	struct order *o;
	int tag;
};

static void record_timer(struct loop *l, void *ctx)
{
	struct tctx *t = ctx;
	t->o->at[t->o->n] = loop_now(l);
	t->o->seen[t->o->n++] = t->tag;
	if (t->o->n == t->o->stop_after)
		loop_stop(l, 42);
}

static void test_timers_in_order(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	assert_non_null(l);
	struct order o = {.stop_after = 5};
	struct tctx c[5];
	int64_t delays[5] = {MS(30), MS(10), MS(20), 0, MS(10)};
	int64_t t0 = loop_now(l);
	for (int i = 0; i < 5; i++) {
		c[i] = (struct tctx){&o, i};
		assert_true(loop_timer_in(l, delays[i], record_timer, &c[i]) > 0);
	}
	assert_int_equal(loop_run(l), 42);
	assert_int_equal(o.n, 5);
	/* 3 (0 ms), 1 and 4 (10 ms, in creation order), 2 (20), 0 (30) */
	int want[5] = {3, 1, 4, 2, 0};
	for (int i = 0; i < 5; i++) {
		assert_int_equal(o.seen[i], want[i]);
		/* never early */
		assert_true(o.at[i] >= t0 + delays[want[i]]);
	}
	/* and not absurdly late either */
	assert_true(o.at[4] - t0 < MS(1000));
	loop_free(l);
}

static void test_timer_at_absolute(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	struct order o = {.stop_after = 2};
	struct tctx a = {&o, 1}, b = {&o, 2};
	int64_t now = loop_now(l);
	loop_timer_at(l, now + MS(15), record_timer, &b);
	loop_timer_at(l, now - MS(1000), record_timer, &a); /* in the past: fires at once */
	assert_int_equal(loop_run(l), 42);
	assert_int_equal(o.seen[0], 1);
	assert_int_equal(o.seen[1], 2);
	assert_true(o.at[1] >= now + MS(15));
	loop_free(l);
}

static void test_timer_cancel(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	struct order o = {.stop_after = 2};
	struct tctx c[4] = {{&o, 0}, {&o, 1}, {&o, 2}, {&o, 3}};
	uint64_t id0 = loop_timer_in(l, MS(5), record_timer, &c[0]);
	uint64_t id1 = loop_timer_in(l, MS(10), record_timer, &c[1]);
	uint64_t id2 = loop_timer_in(l, MS(15), record_timer, &c[2]);
	uint64_t id3 = loop_timer_in(l, MS(20), record_timer, &c[3]);
	assert_true(id0 != id1 && id1 != id2 && id2 != id3);
	loop_timer_cancel(l, id1);
	loop_timer_cancel(l, id1); /* twice: harmless */
	loop_timer_cancel(l, 0);
	loop_timer_cancel(l, UINT64_MAX);
	loop_timer_cancel(l, (UINT64_C(77) << 32) | 3); /* wrong generation */
	assert_int_equal(loop_run(l), 42);
	assert_int_equal(o.seen[0], 0);
	assert_int_equal(o.seen[1], 2);
	/* id0 fired: cancelling it now must not touch the slot it left, which a
	 * new timer may be reusing. */
	struct tctx late = {&o, 9};
	o.stop_after = 4;
	uint64_t id4 = loop_timer_in(l, MS(1), record_timer, &late);
	loop_timer_cancel(l, id0);
	loop_timer_cancel(l, id2);
	assert_int_equal(loop_run(l), 42);
	assert_int_equal(o.n, 4);
	/* the new 1 ms timer is due before id3 (20 ms from the start) */
	assert_int_equal(o.seen[2], 9);
	assert_int_equal(o.seen[3], 3);
	(void)id4;
	loop_free(l);
}

struct selfc {
	uint64_t other, self;
	int fired_other, fired_self;
	struct loop *l;
};

static void other_fn(struct loop *l, void *ctx)
{
	(void)l;
	((struct selfc *)ctx)->fired_other++;
}

static void cancel_other_fn(struct loop *l, void *ctx)
{
	struct selfc *s = ctx;
	s->fired_self++;
	loop_timer_cancel(l, s->self);  /* its own, already fired: harmless */
	loop_timer_cancel(l, s->other); /* due in the same turn: must not run */
}

static void stop_fn(struct loop *l, void *ctx)
{
	(void)ctx;
	loop_stop(l, 7);
}

static void test_cancel_inside_callback(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	struct selfc s = {0};
	int64_t at = loop_now(l) + MS(5);
	s.self = loop_timer_at(l, at, cancel_other_fn, &s);
	s.other = loop_timer_at(l, at, other_fn, &s);
	loop_timer_at(l, at + MS(10), stop_fn, NULL);
	assert_int_equal(loop_run(l), 7);
	assert_int_equal(s.fired_self, 1);
	assert_int_equal(s.fired_other, 0);
	loop_free(l);
}

/* A timer that re-arms itself with no delay must not starve descriptors. */
struct spin {
	int spins;
	bool fd_seen;
};

static void spin_fn(struct loop *l, void *ctx)
{
	struct spin *s = ctx;
	s->spins++;
	if (!s->fd_seen && s->spins < 100000)
		loop_timer_in(l, 0, spin_fn, s);
}

static void spin_fd_fn(struct loop *l, int fd, unsigned ev, void *ctx)
{
	(void)fd;
	(void)ev;
	((struct spin *)ctx)->fd_seen = true;
	loop_stop(l, 1);
}

static void test_zero_delay_no_starvation(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	struct spin s = {0};
	loop_timer_in(l, 0, spin_fn, &s);
	assert_int_equal(loop_add_fd(l, p[0], LOOP_IN, spin_fd_fn, &s), 0);
	assert_int_equal(loop_run(l), 1);
	assert_true(s.fd_seen);
	assert_true(s.spins < 10);
	loop_free(l);
	close(p[0]);
	close(p[1]);
}

struct many {
	int64_t last_deadline;
	size_t fired, expected;
	bool out_of_order;
	int64_t *deadline_of;
};

struct many_ctx {
	struct many *m;
	size_t i;
};

static void many_fn(struct loop *l, void *ctx)
{
	struct many_ctx *c = ctx;
	int64_t d = c->m->deadline_of[c->i];
	if (d < c->m->last_deadline)
		c->m->out_of_order = true;
	if (loop_now(l) < d)
		c->m->out_of_order = true; /* early */
	c->m->last_deadline = d;
	if (++c->m->fired == c->m->expected)
		loop_stop(l, 0);
}

static void test_10k_timers(void **state)
{
	(void)state;
	enum { N = 10000 };
	struct loop *l = loop_new();
	struct many m = {.deadline_of = xcalloc(N, sizeof(int64_t))};
	struct many_ctx *ctx = xcalloc(N, sizeof(*ctx));
	uint64_t *ids = xcalloc(N, sizeof(*ids));
	int64_t base = loop_now(l);
	unsigned seed = 12345;
	for (size_t i = 0; i < N; i++) {
		seed = seed * 1103515245u + 12345u;
		m.deadline_of[i] = base + (int64_t)((seed >> 8) % 200) * NS_PER_MS / 2; /* 0..100 ms */
		ctx[i] = (struct many_ctx){&m, i};
		ids[i] = loop_timer_at(l, m.deadline_of[i], many_fn, &ctx[i]);
		assert_true(ids[i] > 0);
	}
	/* cancel every third one, in an order unrelated to the heap's */
	size_t cancelled = 0;
	for (size_t i = 0; i < N; i += 3) {
		loop_timer_cancel(l, ids[i]);
		cancelled++;
	}
	m.expected = N - cancelled;
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(m.fired, N - cancelled);
	assert_false(m.out_of_order);
	free(ids);
	free(ctx);
	free(m.deadline_of);
	loop_free(l);
}

/* ---- descriptors ---- */

struct fdrec {
	int fd;
	unsigned events;
	int calls;
	char got[64];
	size_t ngot;
};

static void read_fd_fn(struct loop *l, int fd, unsigned ev, void *ctx)
{
	struct fdrec *r = ctx;
	r->fd = fd;
	r->events |= ev;
	r->calls++;
	ssize_t n = read(fd, r->got + r->ngot, sizeof(r->got) - 1 - r->ngot);
	if (n > 0) {
		r->ngot += (size_t)n;
		if (r->ngot >= 5)
			loop_stop(l, 2);
	} else if (n == 0) {
		loop_del_fd(l, fd);
		loop_stop(l, 3);
	}
}

static void write_later_fn(struct loop *l, void *ctx)
{
	(void)l;
	int fd = *(int *)ctx;
	assert_int_equal(write(fd, "hello", 5), 5);
}

static void test_fd_readiness(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	struct fdrec r = {0};
	assert_int_equal(loop_add_fd(l, p[0], LOOP_IN, read_fd_fn, &r), 0);
	assert_int_equal(loop_add_fd(l, p[0], LOOP_IN, read_fd_fn, &r), -EEXIST);
	loop_timer_in(l, MS(10), write_later_fn, &p[1]);
	int64_t t0 = mono();
	assert_int_equal(loop_run(l), 2);
	assert_true(mono() - t0 >= MS(10));
	assert_int_equal(r.fd, p[0]);
	assert_true(r.events & LOOP_IN);
	assert_memory_equal(r.got, "hello", 5);

	/* writer gone: HUP, read 0 */
	close(p[1]);
	r.events = 0;
	assert_int_equal(loop_run(l), 3);
	assert_true(r.events & LOOP_HUP);
	/* the callback removed it: deleting again is harmless */
	loop_del_fd(l, p[0]);
	assert_int_equal(loop_mod_fd(l, p[0], LOOP_IN), -ENOENT);
	close(p[0]);
	loop_free(l);
}

static void out_fn(struct loop *l, int fd, unsigned ev, void *ctx)
{
	(void)fd;
	int *n = ctx;
	if (ev & LOOP_OUT)
		(*n)++;
	loop_stop(l, 4);
}

static void test_fd_out_and_mod(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	int outs = 0;
	/* watched for input only: an empty pipe's write end stays quiet */
	assert_int_equal(loop_add_fd(l, p[1], LOOP_IN, out_fn, &outs), 0);
	loop_timer_in(l, MS(20), stop_fn, NULL);
	assert_int_equal(loop_run(l), 7);
	assert_int_equal(outs, 0);
	assert_int_equal(loop_mod_fd(l, p[1], LOOP_OUT), 0);
	assert_int_equal(loop_run(l), 4);
	assert_int_equal(outs, 1);
	assert_int_equal(loop_mod_fd(l, p[1], 99), -EINVAL);
	loop_del_fd(l, p[1]);
	close(p[0]);
	close(p[1]);
	loop_free(l);
}

/* Two fds ready in the same batch; whichever runs first removes and closes
 * the other and puts a new watcher on the same fd number: the stale event
 * must not reach either the old or the new callback. */
struct pair {
	int fd[2];
	int calls[2];
	int reused_calls;
	int other_pipe[2];
};

static void reused_fn(struct loop *l, int fd, unsigned ev, void *ctx)
{
	(void)l;
	(void)fd;
	(void)ev;
	((struct pair *)ctx)->reused_calls++;
}

static void pair_fn(struct loop *l, int fd, unsigned ev, void *ctx)
{
	(void)ev;
	struct pair *p = ctx;
	int me = fd == p->fd[0] ? 0 : 1;
	p->calls[me]++;
	int other = p->fd[1 - me];
	loop_del_fd(l, other);
	close(other);
	/* the same number again, now for an empty pipe */
	int np[2];
	assert_int_equal(pipe2(np, O_CLOEXEC), 0);
	if (np[0] != other) {
		assert_int_equal(dup2(np[0], other), other);
		close(np[0]);
	}
	p->other_pipe[0] = other;
	p->other_pipe[1] = np[1];
	assert_int_equal(loop_add_fd(l, other, LOOP_IN, reused_fn, p), 0);
	/* and itself, too */
	loop_del_fd(l, fd);
	loop_timer_in(l, MS(20), stop_fn, NULL);
}

static void test_removal_inside_callback(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	int a[2], b[2];
	assert_int_equal(pipe2(a, O_CLOEXEC), 0);
	assert_int_equal(pipe2(b, O_CLOEXEC), 0);
	assert_int_equal(write(a[1], "a", 1), 1);
	assert_int_equal(write(b[1], "b", 1), 1);
	struct pair p = {.fd = {a[0], b[0]}};
	assert_int_equal(loop_add_fd(l, a[0], LOOP_IN, pair_fn, &p), 0);
	assert_int_equal(loop_add_fd(l, b[0], LOOP_IN, pair_fn, &p), 0);
	assert_int_equal(loop_run(l), 7);
	assert_int_equal(p.calls[0] + p.calls[1], 1);
	assert_int_equal(p.reused_calls, 0);
	loop_del_fd(l, p.other_pipe[0]);
	close(p.other_pipe[0]);
	close(p.other_pipe[1]);
	int survivor = p.calls[0] ? a[0] : b[0];
	close(survivor);
	close(a[1]);
	close(b[1]);
	loop_free(l);
}

static void test_fd_errors(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	int dummy = 0;
	assert_int_equal(loop_add_fd(l, -1, LOOP_IN, read_fd_fn, &dummy), -EBADF);
	assert_int_equal(loop_add_fd(l, 1000, LOOP_IN, read_fd_fn, &dummy), -EBADF);
	assert_int_equal(loop_add_fd(l, 0, LOOP_IN, NULL, &dummy), -EINVAL);
	/* a regular file cannot be polled: epoll says EPERM, passed on */
	char path[] = "/tmp/test_loop_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(loop_add_fd(l, fd, LOOP_IN, read_fd_fn, &dummy), -EPERM);
	close(fd);
	loop_del_fd(l, 12345); /* unknown: harmless */
	assert_int_equal(loop_timer_in(l, 1, NULL, NULL), 0);
	loop_free(l);
}

/* ---- signals ---- */

struct sigrec {
	int signo[8];
	size_t n;
};

static void sig_fn(struct loop *l, int signo, void *ctx)
{
	struct sigrec *r = ctx;
	r->signo[r->n++] = signo;
	if (r->n == 2)
		loop_stop(l, 5);
}

static void raise_fn(struct loop *l, void *ctx)
{
	(void)l;
	(void)ctx;
	kill(getpid(), SIGUSR1);
	kill(getpid(), SIGUSR2);
}

static void test_signals(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	struct sigrec r = {0};
	assert_int_equal(loop_on_signal(l, SIGUSR1, sig_fn, &r), 0);
	assert_int_equal(loop_on_signal(l, SIGUSR2, sig_fn, &r), 0);
	assert_int_equal(loop_on_signal(l, SIGKILL, sig_fn, &r), -EINVAL);
	assert_int_equal(loop_on_signal(l, SIGCHLD, sig_fn, &r), -EINVAL);
	assert_int_equal(loop_on_signal(l, 0, sig_fn, &r), -EINVAL);
	assert_int_equal(loop_on_signal(l, 100000, sig_fn, &r), -EINVAL);
	loop_timer_in(l, MS(5), raise_fn, NULL);
	assert_int_equal(loop_run(l), 5);
	assert_int_equal(r.n, 2);
	assert_true((r.signo[0] == SIGUSR1 && r.signo[1] == SIGUSR2) ||
	            (r.signo[0] == SIGUSR2 && r.signo[1] == SIGUSR1));
	/* SIGPIPE is ignored while the loop lives: a write to a closed pipe
	 * fails with EPIPE instead of killing the process */
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	close(p[0]);
	errno = 0;
	assert_int_equal(write(p[1], "x", 1), -1);
	assert_int_equal(errno, EPIPE);
	close(p[1]);
	loop_free(l);
	/* the mask is restored: SIGUSR1 is no longer blocked */
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	assert_false(sigismember(&cur, SIGUSR1));
	assert_false(sigismember(&cur, SIGCHLD));
}

/* ---- children ---- */

struct childrec {
	pid_t pid;
	int status;
	int calls;
};

static void child_fn(struct loop *l, pid_t pid, int status, void *ctx)
{
	struct childrec *c = ctx;
	c->pid = pid;
	c->status = status;
	c->calls++;
	loop_stop(l, 6);
}

/* Children exec a shell rather than return through our code, so that a
 * leak checker run on the test sees no copy of our heap in them. */
static pid_t spawn_exit(int code, unsigned delay_ms)
{
	char script[64];
	snprintf(script, sizeof(script), "sleep %u.%03u; exit %d", delay_ms / 1000, delay_ms % 1000, code);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", script, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void test_children(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	/* an unknown child: reaped silently */
	pid_t stray = spawn_exit(0, 0);
	pid_t pid = spawn_exit(7, 30);
	struct childrec c = {0};
	assert_int_equal(loop_watch_child(l, pid, child_fn, &c), 0);
	assert_int_equal(loop_watch_child(l, 0, child_fn, &c), -EINVAL);
	assert_int_equal(loop_run(l), 6);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.pid, pid);
	assert_true(WIFEXITED(c.status));
	assert_int_equal(WEXITSTATUS(c.status), 7);
	/* both are gone: nothing left to wait for */
	errno = 0;
	assert_int_equal(waitpid(stray, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);

	/* an unwatched child's exit does not call the old watcher */
	pid_t p2 = spawn_exit(1, 0);
	assert_int_equal(loop_watch_child(l, p2, child_fn, &c), 0);
	loop_unwatch_child(l, p2);
	loop_timer_in(l, MS(60), stop_fn, NULL);
	assert_int_equal(loop_run(l), 7);
	assert_int_equal(c.calls, 1);
	errno = 0;
	assert_int_equal(waitpid(p2, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);

	/* killed by a signal; only once it has exec'd (the close-on-exec pipe
	 * reads end of file), so no copy of our heap is killed */
	int sync[2];
	assert_int_equal(pipe2(sync, O_CLOEXEC), 0);
	pid_t p3 = fork();
	assert_true(p3 >= 0);
	if (p3 == 0) {
		/* the loop blocked SIGTERM; exec keeps the mask, so unblock it */
		sigset_t all;
		sigfillset(&all);
		sigprocmask(SIG_UNBLOCK, &all, NULL);
		execl("/bin/sleep", "sleep", "10", (char *)NULL);
		_exit(127);
	}
	close(sync[1]);
	char b;
	assert_int_equal(read(sync[0], &b, 1), 0);
	close(sync[0]);
	assert_int_equal(loop_watch_child(l, p3, child_fn, &c), 0);
	kill(p3, SIGTERM);
	assert_int_equal(loop_run(l), 6);
	assert_int_equal(c.calls, 2);
	assert_true(WIFSIGNALED(c.status));
	assert_int_equal(WTERMSIG(c.status), SIGTERM);
	loop_free(l);
}

static void test_stop_and_rerun(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	loop_timer_in(l, 0, stop_fn, NULL);
	assert_int_equal(loop_run(l), 7);
	/* a second run starts afresh and waits for new work */
	struct order o = {.stop_after = 1};
	struct tctx t = {&o, 1};
	loop_timer_in(l, MS(2), record_timer, &t);
	assert_int_equal(loop_run(l), 42);
	int64_t a = loop_now(l);
	struct timespec ts = {0, 2000000};
	nanosleep(&ts, NULL);
	assert_true(loop_now(l) > a); /* outside run, now is read afresh */
	loop_free(l);
	loop_free(NULL);
}

static void set_fired(struct loop *l, void *ctx)
{
	int *n = ctx;
	(*n)++;
	loop_stop(l, 0);
}

static void stop_now(struct loop *l, void *ctx)
{
	(void)ctx;
	loop_stop(l, 7);
}

/* loop_timer_set replaces: only the last deadline fires; INT64_MAX leaves none. */
static void test_timer_set_replaces(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	int fired = 0;
	uint64_t id = 0;
	int64_t now = loop_now(l);
	loop_timer_set(l, &id, now + 5 * NS_PER_MS, set_fired, &fired);
	uint64_t first = id;
	loop_timer_set(l, &id, now + 20 * NS_PER_MS, set_fired, &fired);
	assert_true(id != 0 && id != first);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(fired, 1);
	assert_true(loop_now(l) >= now + 20 * NS_PER_MS);
	/* cancelled by INT64_MAX: a later stop timer ends the run, nothing fires */
	loop_timer_set(l, &id, loop_now(l) + 5 * NS_PER_MS, set_fired, &fired);
	loop_timer_set(l, &id, INT64_MAX, set_fired, &fired);
	assert_int_equal(id, 0);
	loop_timer_in(l, 20 * NS_PER_MS, stop_now, NULL);
	assert_int_equal(loop_run(l), 7);
	assert_int_equal(fired, 1);
	loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_timers_in_order, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_timer_set_replaces, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_timer_at_absolute, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_timer_cancel, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_cancel_inside_callback, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_zero_delay_no_starvation, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_10k_timers, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_fd_readiness, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_fd_out_and_mod, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_removal_inside_callback, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_fd_errors, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_signals, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_children, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_stop_and_rerun, guard_setup, guard_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
