/*
 * attach_session.h — what the parts of `emsagent attach` share (private to
 * cli_attach.c, attach_local.c and attach_remote.c): the options, the
 * session, and the two ways to the port — a console opened here (local) or
 * the watcher's socket (remote) — each giving attach.c's port_write and
 * request.
 */
#ifndef EMSAGENT_ATTACH_SESSION_H
#define EMSAGENT_ATTACH_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "emsagent/attach.h"
#include "emsagent/config.h"
#include "emsagent/console.h"
#include "emsagent/loop.h"
#include "emsagent/share.h"
#include "emsagent/sink.h"
#include "emsagent/transport.h"
#include "emsagent/util.h"

#define ATTACH_CMD   "attach"
#define MAX_REQUESTS 32

struct attach_opts {
	int escape;
	bool listen_only, rw, quiet, timestamps, reconnect, keys;
	int color; /* -1 auto */
	int64_t char_delay, line_delay, linger;
	const char *log, *events, *control, *share_dir, *name;
	const char **rules;
	size_t nrules;
	struct kv *labels;
	size_t nlabels;
	struct transport_opts topts;
	size_t replay;
};

struct session {
	struct loop *loop;
	struct attach_opts *o;
	struct attach *a;
	int status;
	char fatal[512]; /* printed after the terminal is back */
	bool stdin_on, stdin_polled, stdin_eof;
	uint64_t stdin_timer, attach_timer;
	bool raw;
	bool closing; /* answers that come now are not shown */

	/* local: a console of our own */
	struct console *con;
	struct console_cfg ccfg;
	struct ruleset rs;
	struct match_db *db;
	struct sinks *sinks;
	bool ever_connected;

	/* remote: the watcher's socket */
	int fd;
	char *sock_path;
	struct share_rx rx;
	struct buf outq;
	struct {
		unsigned id;
		char op[16];
	} reqs[MAX_REQUESTS];
	unsigned next_id;
	char machine[160];
};

/* Ends the session with status; fmt (may be NULL) is the reason printed
 * once the terminal is back. The first reason given is kept. */
void session_quit(struct session *s, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A console of our own on port: opened before this returns (a port that
 * cannot be opened is an error printed here, -1). */
int session_local_setup(struct session *s, const char *port);
void session_local_free(struct session *s);
int session_local_write(void *ctx, const void *buf, size_t n);
int session_local_request(void *ctx, const char *op, const char *arg, char *err, size_t errsz);

/* The watcher's socket at path: connected and the hello sent, or -1 with
 * the error printed. */
int session_remote_setup(struct session *s, const char *path);
void session_remote_free(struct session *s);
int session_remote_write(void *ctx, const void *buf, size_t n);
int session_remote_request(void *ctx, const char *op, const char *arg, char *err, size_t errsz);

#endif
