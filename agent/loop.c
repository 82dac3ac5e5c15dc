/*
 * loop.c — the one event loop: epoll for descriptors, a binary min-heap of
 * one-shot timers on CLOCK_MONOTONIC, a signalfd for the signals asked for
 * and SIGCHLD (children are reaped here), SIGPIPE ignored.
 *
 * Safety against callbacks that change the loop while it dispatches:
 * - a removed fd watcher is unhooked at once but freed only after the
 *   current epoll batch, and marked dead so a stale event for it in that
 *   batch is skipped (even when the fd number is reused meanwhile);
 * - timers live in a slab addressed by id = generation << 32 | slot + 1, so a
 *   cancelled or fired id can never name a later timer, and cancelling is an
 *   O(log n) removal from the heap;
 * - timers created while timers are being run wait for the next turn, so a
 *   callback re-arming itself with no delay cannot starve the descriptors.
 */
#define _GNU_SOURCE
#include "emsagent/loop.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "emsagent/util.h"

#define LOOP_BATCH 64

struct fd_watch {
	int fd;
	unsigned events;
	loop_fd_fn fn;
	void *ctx;
	bool dead;
	struct fd_watch *next_dead;
};

struct timer_slot {
	int64_t deadline;
	uint64_t seq; /* creation order: ties fire first-in first-out */
	loop_timer_fn fn;
	void *ctx;
	uint32_t gen;
	uint32_t heap_pos; /* index in heap, or UINT32_MAX when free */
	uint32_t next_free;
};

struct sig_handler {
	loop_signal_fn fn;
	void *ctx;
};

struct child_watch {
	pid_t pid;
	loop_child_fn fn;
	void *ctx;
};

struct loop {
	int epfd;
	int sigfd;
	int64_t now;
	int64_t real; /* wall time of this wake-up, read on first use */
	bool real_valid;
	bool running, stopping;
	int stop_code;

	struct fd_watch **fds; /* indexed by fd */
	size_t nfds_cap;
	struct fd_watch *graveyard;

	struct timer_slot *slots;
	size_t nslots, slots_cap;
	uint32_t free_head; /* UINT32_MAX = none */
	uint32_t *heap;     /* slot indices */
	size_t nheap, heap_cap;
	uint64_t next_seq;

	sigset_t mask;     /* the signals this loop reads through sigfd */
	sigset_t old_mask; /* the process mask before loop_new, restored by loop_free */
	struct sigaction old_pipe, old_chld;
	struct sig_handler sig[_NSIG];

	struct child_watch *children;
	size_t nchildren, children_cap;
};

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

struct loop *loop_new(void)
{
	struct loop *l = xcalloc(1, sizeof(*l));
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		free(l);
		return NULL;
	}
	l->free_head = UINT32_MAX;
	l->next_seq = 1;

	/* A write to a vanished peer must come back as EPIPE, not kill us. */
	struct sigaction ign = {.sa_handler = SIG_IGN};
	sigemptyset(&ign.sa_mask);
	sigaction(SIGPIPE, &ign, &l->old_pipe);
	/* SIGCHLD ignored would make the kernel reap children behind our back
	 * and exit statuses would be lost. */
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigemptyset(&dfl.sa_mask);
	sigaction(SIGCHLD, &dfl, &l->old_chld);

	sigemptyset(&l->mask);
	sigaddset(&l->mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &l->mask, &l->old_mask);
	l->sigfd = signalfd(-1, &l->mask, SFD_NONBLOCK | SFD_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	if (l->sigfd < 0 || epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->sigfd, &ev) < 0) {
		loop_free(l);
		return NULL;
	}
	l->now = mono_ns();
	return l;
}

static void bury(struct loop *l)
{
	while (l->graveyard) {
		struct fd_watch *w = l->graveyard;
		l->graveyard = w->next_dead;
		free(w);
	}
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->nfds_cap; i++)
		free(l->fds[i]);
	free(l->fds);
	bury(l);
	free(l->slots);
	free(l->heap);
	free(l->children);
	if (l->sigfd >= 0)
		close(l->sigfd);
	if (l->epfd >= 0)
		close(l->epfd);
	sigprocmask(SIG_SETMASK, &l->old_mask, NULL);
	sigaction(SIGPIPE, &l->old_pipe, NULL);
	sigaction(SIGCHLD, &l->old_chld, NULL);
	free(l);
}

/* ---- descriptors ---- */

static uint32_t to_epoll(unsigned events)
{
	uint32_t e = 0;
	if (events & LOOP_IN)
		e |= EPOLLIN;
	if (events & LOOP_OUT)
		e |= EPOLLOUT;
	return e;
}

static unsigned from_epoll(uint32_t e)
{
	unsigned r = 0;
	if (e & EPOLLIN)
		r |= LOOP_IN;
	if (e & EPOLLOUT)
		r |= LOOP_OUT;
	if (e & EPOLLERR)
		r |= LOOP_ERR;
	if (e & EPOLLHUP)
		r |= LOOP_HUP;
	return r;
}

static struct fd_watch *find_fd(struct loop *l, int fd)
{
	if (fd < 0 || (size_t)fd >= l->nfds_cap)
		return NULL;
	return l->fds[fd];
}

int loop_add_fd(struct loop *l, int fd, unsigned events, loop_fd_fn fn, void *ctx)
{
	if (fd < 0)
		return -EBADF;
	if (!fn || (events & ~(unsigned)(LOOP_IN | LOOP_OUT)))
		return -EINVAL;
	if (find_fd(l, fd))
		return -EEXIST;
	struct fd_watch *w = xcalloc(1, sizeof(*w));
	w->fd = fd;
	w->events = events;
	w->fn = fn;
	w->ctx = ctx;
	struct epoll_event ev = {.events = to_epoll(events), .data.ptr = w};
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		/* EPERM: a regular file, which epoll cannot watch. */
		int e = errno;
		free(w);
		return -e;
	}
	if ((size_t)fd >= l->nfds_cap) {
		size_t old = l->nfds_cap;
		xgrow((void **)&l->fds, &l->nfds_cap, (size_t)fd + 1, sizeof(*l->fds));
		memset(l->fds + old, 0, (l->nfds_cap - old) * sizeof(*l->fds));
	}
	l->fds[fd] = w;
	return 0;
}

int loop_mod_fd(struct loop *l, int fd, unsigned events)
{
	struct fd_watch *w = find_fd(l, fd);
	if (!w)
		return -ENOENT;
	if (events & ~(unsigned)(LOOP_IN | LOOP_OUT))
		return -EINVAL;
	struct epoll_event ev = {.events = to_epoll(events), .data.ptr = w};
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return -errno;
	w->events = events;
	return 0;
}

void loop_del_fd(struct loop *l, int fd)
{
	struct fd_watch *w = find_fd(l, fd);
	if (!w)
		return;
	/* The fd may already be closed (then epoll dropped it itself). */
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	l->fds[fd] = NULL;
	w->dead = true;
	w->next_dead = l->graveyard;
	l->graveyard = w;
}

/* ---- timers ---- */

static bool earlier(const struct loop *l, uint32_t a, uint32_t b)
{
	const struct timer_slot *x = &l->slots[a], *y = &l->slots[b];
	if (x->deadline != y->deadline)
		return x->deadline < y->deadline;
	return x->seq < y->seq;
}

static void heap_set(struct loop *l, size_t pos, uint32_t slot)
{
	l->heap[pos] = slot;
	l->slots[slot].heap_pos = (uint32_t)pos;
}

static void sift_up(struct loop *l, size_t pos)
{
	uint32_t s = l->heap[pos];
	while (pos > 0) {
		size_t parent = (pos - 1) / 2;
		if (!earlier(l, s, l->heap[parent]))
			break;
		heap_set(l, pos, l->heap[parent]);
		pos = parent;
	}
	heap_set(l, pos, s);
}

static void sift_down(struct loop *l, size_t pos)
{
	uint32_t s = l->heap[pos];
	for (;;) {
		size_t c = 2 * pos + 1;
		if (c >= l->nheap)
			break;
		if (c + 1 < l->nheap && earlier(l, l->heap[c + 1], l->heap[c]))
			c++;
		if (!earlier(l, l->heap[c], s))
			break;
		heap_set(l, pos, l->heap[c]);
		pos = c;
	}
	heap_set(l, pos, s);
}

static void heap_remove(struct loop *l, size_t pos)
{
	uint32_t last = l->heap[--l->nheap];
	if (pos == l->nheap)
		return;
	heap_set(l, pos, last);
	sift_down(l, pos);
	sift_up(l, l->slots[last].heap_pos);
}

static void slot_release(struct loop *l, uint32_t s)
{
	struct timer_slot *t = &l->slots[s];
	t->heap_pos = UINT32_MAX;
	t->fn = NULL;
	t->ctx = NULL;
	t->gen++;
	if (t->gen == 0) /* keep ids > 0 and never equal to a live one */
		t->gen = 1;
	t->next_free = l->free_head;
	l->free_head = s;
}

uint64_t loop_timer_at(struct loop *l, int64_t deadline_ns, loop_timer_fn fn, void *ctx)
{
	if (!fn)
		return 0;
	uint32_t s;
	if (l->free_head != UINT32_MAX) {
		s = l->free_head;
		l->free_head = l->slots[s].next_free;
	} else {
		if (l->nslots >= UINT32_MAX - 1)
			return 0;
		xgrow((void **)&l->slots, &l->slots_cap, l->nslots + 1, sizeof(*l->slots));
		s = (uint32_t)l->nslots++;
		l->slots[s].gen = 1;
	}
	struct timer_slot *t = &l->slots[s];
	t->deadline = deadline_ns;
	t->seq = l->next_seq++;
	t->fn = fn;
	t->ctx = ctx;
	xgrow((void **)&l->heap, &l->heap_cap, l->nheap + 1, sizeof(*l->heap));
	l->heap[l->nheap] = s;
	t->heap_pos = (uint32_t)l->nheap++;
	sift_up(l, t->heap_pos);
	return ((uint64_t)t->gen << 32) | ((uint64_t)s + 1);
}

uint64_t loop_timer_in(struct loop *l, int64_t delay_ns, loop_timer_fn fn, void *ctx)
{
	if (delay_ns < 0)
		delay_ns = 0;
	int64_t now = loop_now(l);
	int64_t at = delay_ns > INT64_MAX - now ? INT64_MAX : now + delay_ns;
	return loop_timer_at(l, at, fn, ctx);
}

void loop_timer_cancel(struct loop *l, uint64_t id)
{
	uint64_t s1 = id & 0xffffffffu;
	uint32_t gen = (uint32_t)(id >> 32);
	if (s1 == 0 || s1 > l->nslots)
		return;
	uint32_t s = (uint32_t)(s1 - 1);
	struct timer_slot *t = &l->slots[s];
	if (t->gen != gen || t->heap_pos == UINT32_MAX)
		return;
	heap_remove(l, t->heap_pos);
	slot_release(l, s);
}

/* Runs the timers due at l->now that existed when this turn began. */
static void run_timers(struct loop *l)
{
	uint64_t seq_limit = l->next_seq;
	while (l->nheap > 0 && !l->stopping) {
		uint32_t s = l->heap[0];
		struct timer_slot *t = &l->slots[s];
		if (t->deadline > l->now || t->seq >= seq_limit)
			break;
		loop_timer_fn fn = t->fn;
		void *ctx = t->ctx;
		heap_remove(l, 0);
		slot_release(l, s);
		fn(l, ctx);
	}
}

/* ---- signals and children ---- */

int loop_on_signal(struct loop *l, int signo, loop_signal_fn fn, void *ctx)
{
	if (signo <= 0 || signo >= _NSIG || signo == SIGKILL || signo == SIGSTOP)
		return -EINVAL;
	/* SIGCHLD belongs to the loop (loop_watch_child); SIGPIPE stays ignored. */
	if (signo == SIGCHLD || signo == SIGPIPE || !fn)
		return -EINVAL;
	sigset_t add;
	sigemptyset(&add);
	sigaddset(&add, signo);
	if (sigprocmask(SIG_BLOCK, &add, NULL) < 0)
		return -errno;
	sigaddset(&l->mask, signo);
	if (signalfd(l->sigfd, &l->mask, 0) < 0)
		return -errno;
	l->sig[signo].fn = fn;
	l->sig[signo].ctx = ctx;
	return 0;
}

int loop_watch_child(struct loop *l, pid_t pid, loop_child_fn fn, void *ctx)
{
	if (pid <= 0 || !fn)
		return -EINVAL;
	for (size_t i = 0; i < l->nchildren; i++)
		if (l->children[i].pid == pid) {
			l->children[i].fn = fn;
			l->children[i].ctx = ctx;
			return 0;
		}
	xgrow((void **)&l->children, &l->children_cap, l->nchildren + 1, sizeof(*l->children));
	l->children[l->nchildren++] = (struct child_watch){.pid = pid, .fn = fn, .ctx = ctx};
	return 0;
}

void loop_unwatch_child(struct loop *l, pid_t pid)
{
	for (size_t i = 0; i < l->nchildren; i++)
		if (l->children[i].pid == pid) {
			l->children[i] = l->children[--l->nchildren];
			return;
		}
}

static void reap_children(struct loop *l)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid <= 0)
			return; /* 0: none exited yet; ECHILD: none left */
		for (size_t i = 0; i < l->nchildren; i++) {
			if (l->children[i].pid != pid)
				continue;
			struct child_watch cw = l->children[i];
			l->children[i] = l->children[--l->nchildren];
			cw.fn(l, pid, status, cw.ctx);
			break;
		}
	}
}

/*
 * One read per wake-up: what is left is reported again next turn (the
 * signalfd is level-triggered). Everything read is dispatched, even after a
 * handler asked to stop, because a consumed signal cannot be put back.
 */
static void read_signals(struct loop *l)
{
	struct signalfd_siginfo si[16];
	ssize_t n;
	do
		n = read(l->sigfd, si, sizeof(si));
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return;
	bool chld = false;
	size_t cnt = (size_t)n / sizeof(si[0]);
	for (size_t i = 0; i < cnt; i++) {
		int signo = (int)si[i].ssi_signo;
		if (signo == SIGCHLD)
			chld = true; /* coalesced: one waitpid sweep covers them all */
		else if (signo > 0 && signo < _NSIG && l->sig[signo].fn)
			l->sig[signo].fn(l, signo, l->sig[signo].ctx);
	}
	if (chld)
		reap_children(l);
}

/* ---- running ---- */

static int wait_timeout_ms(const struct loop *l)
{
	if (l->nheap == 0)
		return -1;
	int64_t d = l->slots[l->heap[0]].deadline - l->now;
	if (d <= 0)
		return 0;
	/* Round up so a timer never fires before its deadline. */
	int64_t ms = (d + NS_PER_MS - 1) / NS_PER_MS;
	return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

int loop_run(struct loop *l)
{
	if (l->running)
		return -EBUSY;
	l->running = true;
	l->stopping = false;
	l->stop_code = 0;
	struct epoll_event evs[LOOP_BATCH];
	while (!l->stopping) {
		l->now = mono_ns();
		l->real_valid = false;
		run_timers(l);
		if (l->stopping)
			break;
		/* Timers created just now with no delay are due: do not sleep. */
		int timeout = wait_timeout_ms(l);
		int n = epoll_wait(l->epfd, evs, LOOP_BATCH, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			l->stop_code = -errno;
			break;
		}
		l->now = mono_ns();
		l->real_valid = false;
		for (int i = 0; i < n && !l->stopping; i++) {
			struct fd_watch *w = evs[i].data.ptr;
			if (!w) {
				read_signals(l);
				continue;
			}
			if (w->dead)
				continue;
			w->fn(l, w->fd, from_epoll(evs[i].events), w->ctx);
		}
		bury(l);
	}
	l->running = false;
	return l->stop_code;
}

void loop_stop(struct loop *l, int code)
{
	l->stopping = true;
	l->stop_code = code;
}

void loop_timer_set(struct loop *l, uint64_t *id, int64_t deadline_ns, loop_timer_fn fn, void *ctx)
{
	if (*id)
		loop_timer_cancel(l, *id);
	*id = deadline_ns == INT64_MAX ? 0 : loop_timer_at(l, deadline_ns, fn, ctx);
}

int64_t loop_realtime(struct loop *l)
{
	if (!l->running || !l->real_valid) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		l->real = (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
		l->real_valid = l->running;
	}
	return l->real;
}

int64_t loop_now(struct loop *l)
{
	/* Outside loop_run nothing refreshes the cache: read the clock. */
	if (!l->running)
		l->now = mono_ns();
	return l->now;
}
