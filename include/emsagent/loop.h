/*
 * loop.h — the one event loop (design §2): file descriptors, timers on the
 * monotonic clock, signals and child processes, on one thread.
 *
 * Owns: an epoll set, a timer heap, a signalfd for the signals asked for
 * (plus SIGCHLD, always: children are reaped here and their watchers told),
 * and SIGPIPE ignored. Nothing in a callback may block; callbacks may add and
 * remove fds, timers and watchers, including their own.
 * Lifecycle: loop_new → add things → loop_run (returns the code given to
 * loop_stop) → loop_free. Who calls it: watch, attach, dump, tests.
 */
#ifndef EMSAGENT_LOOP_H
#define EMSAGENT_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum loop_events { LOOP_IN = 1u, LOOP_OUT = 2u, LOOP_ERR = 4u, LOOP_HUP = 8u };

struct loop;

typedef void (*loop_fd_fn)(struct loop *l, int fd, unsigned events, void *ctx);
typedef void (*loop_timer_fn)(struct loop *l, void *ctx);
typedef void (*loop_signal_fn)(struct loop *l, int signo, void *ctx);
/* status as from waitpid */
typedef void (*loop_child_fn)(struct loop *l, pid_t pid, int status, void *ctx);

struct loop *loop_new(void);
void loop_free(struct loop *l);
/* 0 or -errno. events: LOOP_IN / LOOP_OUT (ERR and HUP are always reported). */
int loop_add_fd(struct loop *l, int fd, unsigned events, loop_fd_fn fn, void *ctx);
int loop_mod_fd(struct loop *l, int fd, unsigned events);
void loop_del_fd(struct loop *l, int fd);
/* A one-shot timer at an absolute monotonic deadline (ns). Returns an id > 0. */
uint64_t loop_timer_at(struct loop *l, int64_t deadline_ns, loop_timer_fn fn, void *ctx);
uint64_t loop_timer_in(struct loop *l, int64_t delay_ns, loop_timer_fn fn, void *ctx);
/* Cancelling an id that already fired or was cancelled is harmless. */
void loop_timer_cancel(struct loop *l, uint64_t id);
/* Replaces the timer *id (0 = none) with one at deadline_ns; INT64_MAX
 * leaves none. For modules that ask "wake me at T" again and again. */
void loop_timer_set(struct loop *l, uint64_t *id, int64_t deadline_ns, loop_timer_fn fn, void *ctx);
/* Delivers signo through the loop (blocked for the process, read via signalfd). */
int loop_on_signal(struct loop *l, int signo, loop_signal_fn fn, void *ctx);
/* Tells fn when pid exits (reaped by the loop). */
int loop_watch_child(struct loop *l, pid_t pid, loop_child_fn fn, void *ctx);
void loop_unwatch_child(struct loop *l, pid_t pid);
/* Runs until loop_stop; returns its code. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l, int code);
/* Monotonic time, refreshed at every wake-up (ns). */
int64_t loop_now(struct loop *l);
/* Wall time (CLOCK_REALTIME, ns) of the same wake-up, read once per wake. */
int64_t loop_realtime(struct loop *l);

#endif
