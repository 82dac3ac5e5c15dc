/*
 * share.c — the watcher's end of issue 6 (share.h): one listening unix
 * socket per console, and behind it every attached client with its own
 * little state machine (waiting for the hello → live), a bounded output
 * queue and the requests it has in flight.
 *
 * Nothing here may hold the loop up. The listener and the clients are
 * non-blocking; a client's queue is written when its socket says it can take
 * more (LOOP_OUT only while something is queued); what a slow reader cannot
 * take is dropped and counted instead of waited for, and a client whose
 * queue is over its bound is not read from until it drains, so it cannot
 * make the watcher pile up replies either.
 *
 * Where clients are freed: only from their own fd callback, their hello
 * timer and share_free — never from a broadcast (the console's observers)
 * or a request's answer, which only append to queues.
 */
#define _GNU_SOURCE
#include "share_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <json-c/json.h>

#include "emsagent/console.h"
#include "emsagent/event.h"
#include "emsagent/loop.h"

#define SHARE_MAX_CLIENTS   128
#define SHARE_HELLO_NS      (10 * NS_PER_SEC)
#define SHARE_READ_CHUNK    16384
#define SHARE_ACCEPTS       16 /* per wake-up: the others wait their turn */
#define SHARE_DEFAULT_QUEUE (1024u * 1024u)

struct share_client;

/* One request in flight; its address is what the console calls back with. */
struct share_req {
	struct share_req *next;
	struct share_client *cl;
	int64_t id;
};

struct share_client {
	struct share_client *next;
	struct share *s;
	int fd;
	bool live;    /* the hello was answered */
	bool rw;      /* may write to the port */
	bool closing; /* to be freed once its callback is done */
	bool told_ro; /* the read-only answer to 'i' went out */
	unsigned events;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	char *ro_reason; /* why rw was refused, when it was asked for */
	char *bye;       /* the reason to say with 'X' when closing, or NULL */
	struct share_rx rx;
	struct buf out; /* frames not yet written, from off */
	size_t off;
	uint64_t skip_bytes, skip_frames;
	uint64_t hello_timer;
	int64_t input_err_ns; /* when a failed 'i' was last reported; 0 never */
	struct share_req *reqs;
};

struct share {
	struct loop *loop;
	struct console *c;
	char *path; /* name and port are the console's, which outlives its share */
	struct share_sock sock;
	int obs;
	size_t max_queue;
	uint8_t *ring; /* the last ring_cap bytes the console read */
	size_t ring_cap, ring_len, ring_head;
	struct share_writer *writers;
	size_t nwriters;
	struct share_client *clients;
	size_t nclients;
	size_t nrefused; /* clients closed for breaking the protocol, or over the limit */
	uint64_t accept_timer;
};

/* --- the queue ----------------------------------------------------------- */

static size_t queued(const struct share_client *cl)
{
	return cl->out.len - cl->off;
}

/* Reads unless the queue is over its bound; writes while anything is queued. */
static void want_events(struct share_client *cl)
{
	unsigned ev = 0;
	if (!cl->closing && queued(cl) <= cl->s->max_queue)
		ev |= LOOP_IN;
	if (queued(cl))
		ev |= LOOP_OUT;
	if (ev != cl->events && loop_mod_fd(cl->s->loop, cl->fd, ev) == 0)
		cl->events = ev;
}

/* Frames that must reach the client (H, R, S, X, the replay): queued
 * whatever the bound; they are few and small, or bounded by the replay. */
static void put_always(struct share_client *cl, char type, const void *p, size_t len)
{
	share_put(&cl->out, type, p, len);
}

/* Console output: dropped and counted when it does not fit (an empty
 * queue takes any one frame, so a bound below a read's size still works). */
static void put_droppable(struct share_client *cl, char type, const void *p, size_t len)
{
	if (queued(cl) && queued(cl) + SHARE_HDR + len > cl->s->max_queue) {
		cl->skip_bytes += len;
		cl->skip_frames++;
		return;
	}
	share_put(&cl->out, type, p, len);
}

static void put_json(struct share_client *cl, char type, struct json_object *o)
{
	size_t len;
	const char *js = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
	if (len <= SHARE_MAX_FRAME)
		put_always(cl, type, js, len);
}

static void put_skipped(struct share_client *cl)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "bytes", json_object_new_int64((int64_t)cl->skip_bytes));
	json_object_object_add(o, "frames", json_object_new_int64((int64_t)cl->skip_frames));
	put_json(cl, SHARE_S_SKIPPED, o);
	json_object_put(o);
	cl->skip_bytes = cl->skip_frames = 0;
}

/* Writes what the socket takes now. -1 when the client is gone. */
static int flush(struct share_client *cl)
{
	for (;;) {
		while (queued(cl)) {
			ssize_t n =
			    send(cl->fd, cl->out.data + cl->off, queued(cl), MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					break;
				return -1;
			}
			cl->off += (size_t)n;
		}
		if (!queued(cl)) {
			/* a reader that caught up gives back a big queue's memory */
			if (cl->out.cap > 65536)
				buf_free(&cl->out);
			else
				buf_reset(&cl->out);
			cl->off = 0;
		} else if (cl->off > 65536 && cl->off > cl->out.len / 2) {
			memmove(cl->out.data, cl->out.data + cl->off, queued(cl));
			cl->out.len -= cl->off;
			cl->off = 0;
		}
		/* Tell what was missed once there is room again. */
		if (cl->skip_frames && queued(cl) < cl->s->max_queue / 2) {
			put_skipped(cl);
			continue;
		}
		return 0;
	}
}

/* After a broadcast: what the socket takes goes now, so a reader that keeps
 * up never has a queue to overflow. A client found broken here is only
 * marked: its socket reports the error and its own callback frees it. */
static void deliver(struct share_client *cl)
{
	if (queued(cl) && flush(cl) < 0) {
		cl->closing = true;
		buf_reset(&cl->out);
		cl->off = 0;
		if (loop_mod_fd(cl->s->loop, cl->fd, LOOP_OUT) == 0)
			cl->events = LOOP_OUT;
		return;
	}
	want_events(cl);
}

/* --- clients ------------------------------------------------------------- */

static void client_free(struct share_client *cl)
{
	struct share *s = cl->s;
	for (struct share_client **pp = &s->clients; *pp; pp = &(*pp)->next)
		if (*pp == cl) {
			*pp = cl->next;
			break;
		}
	s->nclients--;
	/* The operations run on; only their answers have nowhere to go. */
	while (cl->reqs) {
		struct share_req *r = cl->reqs;
		cl->reqs = r->next;
		console_forget(s->c, r);
		free(r);
	}
	if (cl->hello_timer)
		loop_timer_cancel(s->loop, cl->hello_timer);
	loop_del_fd(s->loop, cl->fd);
	close(cl->fd);
	share_rx_free(&cl->rx);
	buf_free(&cl->out);
	free(cl->ro_reason);
	free(cl->bye);
	free(cl);
}

/* Marks cl to be closed with an 'X' saying why (NULL: silently). */
static void client_close(struct share_client *cl, const char *reason)
{
	if (cl->closing)
		return;
	cl->closing = true;
	if (reason) {
		cl->bye = xstrdup(reason);
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "reason", json_object_new_string(reason));
		put_json(cl, SHARE_S_BYE, o);
		json_object_put(o);
	}
}

/* Best effort for the last words, then gone. */
static void client_finish(struct share_client *cl)
{
	if (cl->bye)
		flush(cl);
	client_free(cl);
}

static void put_reply(struct share_client *cl, int64_t id, bool ok, const char *reason, const char *output,
                      size_t outlen, struct json_object *status)
{
	for (;;) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "id", json_object_new_int64(id));
		json_object_object_add(o, "ok", json_object_new_boolean(ok));
		if (reason)
			json_object_object_add(o, "reason", json_object_new_string(reason));
		if (output && outlen)
			json_object_object_add(o, "output", json_object_new_string_len(output, (int)outlen));
		if (status)
			json_object_object_add(o, "status", json_object_get(status));
		size_t len;
		const char *js = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
		if (len <= SHARE_MAX_FRAME) {
			put_always(cl, SHARE_S_REPLY, js, len);
			json_object_put(o);
			return;
		}
		json_object_put(o);
		/* Too big for one frame: the output's head is what matters. */
		if (output && outlen > 1) {
			outlen /= 2;
			continue;
		}
		output = NULL;
		status = NULL;
		ok = false;
		reason = "the answer does not fit in a frame";
	}
}

static const char *errno_reason(int rc, char *buf, size_t bufsz)
{
	switch (-rc) {
	case ENOTCONN:
		return "the console is not connected";
	case ENOTSUP:
		return "the port cannot do that";
	case EAGAIN:
		return "the port did not take all of it";
	default:
		snprintf(buf, bufsz, "%s", strerror(-rc));
		return buf;
	}
}

/* --- frames from a client ------------------------------------------------ */

static struct json_object *parse_object(const uint8_t *p, size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o = json_tokener_parse_ex(tok, (const char *)p, (int)len);
	bool whole = o && json_tokener_get_error(tok) == json_tokener_success;
	for (size_t i = whole ? json_tokener_get_parse_end(tok) : len; i < len; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
			whole = false;
	json_tokener_free(tok);
	if (!whole || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* The last n bytes of the ring, as D frames. */
static void put_replay(struct share_client *cl, size_t n)
{
	struct share *s = cl->s;
	size_t start = (s->ring_head + s->ring_cap - n) % (s->ring_cap ? s->ring_cap : 1);
	while (n > 0) {
		size_t run = s->ring_cap - start;
		if (run > n)
			run = n;
		if (run > SHARE_MAX_FRAME)
			run = SHARE_MAX_FRAME;
		put_always(cl, SHARE_S_DATA, s->ring + start, run);
		start = (start + run) % s->ring_cap;
		n -= run;
	}
}

static void on_hello(struct share_client *cl, const uint8_t *p, size_t len)
{
	struct share *s = cl->s;
	struct json_object *o = parse_object(p, len), *v;
	if (!o) {
		s->nrefused++;
		client_close(cl, "the first frame must be a JSON hello");
		return;
	}
	if (json_object_object_get_ex(o, "proto", &v) && json_object_get_int64(v) != SHARE_PROTO) {
		char why[96];
		snprintf(why, sizeof(why), "protocol %s is not spoken here (this watcher speaks %d)",
		         json_object_get_string(v), SHARE_PROTO);
		s->nrefused++;
		json_object_put(o);
		client_close(cl, why);
		return;
	}
	bool want_rw = json_get_bool(o, "rw");
	size_t replay = s->ring_len;
	if (json_object_object_get_ex(o, "replay", &v)) {
		int64_t r = json_object_get_int64(v);
		replay = r <= 0 ? 0 : (uint64_t)r < s->ring_len ? (size_t)r : s->ring_len;
	}
	json_object_put(o);

	if (want_rw && share_is_writer(s->writers, s->nwriters, cl->uid, cl->gid, cl->pid)) {
		cl->rw = true;
	} else if (want_rw) {
		cl->ro_reason = xasprintf("uid %u is not a writer of %s (share.writers)", (unsigned)cl->uid,
		                          console_name(s->c));
	}
	struct json_object *h = json_object_new_object();
	json_object_object_add(h, "proto", json_object_new_int(SHARE_PROTO));
	json_object_object_add(h, "console", json_object_new_string(console_name(s->c)));
	json_object_object_add(h, "port", json_object_new_string(console_port(s->c)));
	json_object_object_add(h, "rw", json_object_new_boolean(cl->rw));
	if (cl->ro_reason)
		json_object_object_add(h, "rw_refused", json_object_new_string(cl->ro_reason));
	json_object_object_add(h, "replay", json_object_new_int64((int64_t)replay));
	put_json(cl, SHARE_S_HELLO, h);
	json_object_put(h);
	put_replay(cl, replay);
	cl->live = true;
	loop_timer_cancel(s->loop, cl->hello_timer);
	cl->hello_timer = 0;
}

static void on_input(struct share_client *cl, const uint8_t *p, size_t len)
{
	struct share *s = cl->s;
	if (!cl->rw) {
		/* never reaches the port; said once so a person knows why */
		if (!cl->told_ro) {
			char why[256];
			snprintf(why, sizeof(why), "read-only: %s",
			         cl->ro_reason ? cl->ro_reason : "this client did not ask to write");
			put_reply(cl, 0, false, why, NULL, 0, NULL);
			cl->told_ro = true;
		}
		return;
	}
	if (len == 0)
		return;
	int rc = console_write(s->c, p, len);
	if (rc == 0)
		return;
	int64_t now = loop_now(s->loop);
	if (cl->input_err_ns && now - cl->input_err_ns < NS_PER_SEC)
		return; /* a person typing into a dead port hears it once a second */
	cl->input_err_ns = now;
	char buf[128];
	put_reply(cl, 0, false, errno_reason(rc, buf, sizeof(buf)), NULL, 0, NULL);
}

static void on_request_done(void *ctx, bool ok, const char *reason, const char *output, size_t len)
{
	struct share_req *r = ctx;
	struct share_client *cl = r->cl;
	for (struct share_req **pp = &cl->reqs; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	put_reply(cl, r->id, ok, reason, output, len, NULL);
	free(r);
	want_events(cl);
}

static void on_request(struct share_client *cl, const uint8_t *p, size_t len)
{
	struct share *s = cl->s;
	struct json_object *o = parse_object(p, len);
	if (!o) {
		put_reply(cl, 0, false, "a request is a JSON object", NULL, 0, NULL);
		return;
	}
	int64_t id = json_get_int(o, "id", 0);
	const char *op = json_get_str(o, "op");
	const char *arg = json_get_str(o, "arg");
	enum console_op cop;
	char err[256];
	if (!op) {
		put_reply(cl, id, false, "a request needs an \"op\"", NULL, 0, NULL);
	} else if (strcmp(op, "status") == 0) {
		struct json_object *st = console_status(s->c);
		put_reply(cl, id, true, NULL, NULL, 0, st);
		json_object_put(st);
	} else if (console_op_parse(op, &cop) < 0) {
		snprintf(err, sizeof(err),
		         "unknown request '%.64s' (status, break, sysrq, nmi, dump, restart, channels)", op);
		put_reply(cl, id, false, err, NULL, 0, NULL);
	} else if (cop != CONSOLE_OP_CHANNELS && !cl->rw) {
		put_reply(cl, id, false, "read-only client", NULL, 0, NULL);
	} else {
		struct share_req *r = xcalloc(1, sizeof(*r));
		r->cl = cl;
		r->id = id;
		if (console_request(s->c, cop, arg, on_request_done, r, err, sizeof(err)) < 0) {
			free(r);
			put_reply(cl, id, false, err, NULL, 0, NULL);
		} else {
			r->next = cl->reqs;
			cl->reqs = r;
		}
	}
	json_object_put(o);
}

static void on_frame(void *ctx, char type, const uint8_t *p, size_t len)
{
	struct share_client *cl = ctx;
	if (cl->closing)
		return;
	if (!cl->live) {
		if (type == SHARE_C_HELLO) {
			on_hello(cl, p, len);
		} else {
			cl->s->nrefused++;
			client_close(cl, "the first frame must be a hello ('h')");
		}
		return;
	}
	switch (type) {
	case SHARE_C_INPUT:
		on_input(cl, p, len);
		break;
	case SHARE_C_REQUEST:
		on_request(cl, p, len);
		break;
	case SHARE_C_HELLO:
		put_reply(cl, 0, false, "a second hello is ignored", NULL, 0, NULL);
		break;
	default: {
		/* a newer client's frame: say so, keep going */
		char why[64];
		snprintf(why, sizeof(why), "unknown frame type '%c' ignored", type);
		put_reply(cl, 0, false, why, NULL, 0, NULL);
		break;
	}
	}
}

static void on_client_io(struct loop *l, int fd, unsigned events, void *ctx)
{
	(void)l;
	struct share_client *cl = ctx;
	bool gone = false;
	if (events & (LOOP_IN | LOOP_HUP | LOOP_ERR)) {
		uint8_t buf[SHARE_READ_CHUNK];
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0) {
			gone = true;
		} else if (n < 0) {
			gone = errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
		} else {
			char err[160];
			if (share_rx_feed(&cl->rx, buf, (size_t)n, on_frame, cl, err, sizeof(err)) < 0) {
				cl->s->nrefused++;
				client_close(cl, err);
			}
		}
	}
	if (gone) {
		client_free(cl);
		return;
	}
	if (cl->closing) {
		client_finish(cl);
		return;
	}
	if (queued(cl) && flush(cl) < 0) {
		client_free(cl);
		return;
	}
	want_events(cl);
}

static void on_hello_timeout(struct loop *l, void *ctx)
{
	(void)l;
	struct share_client *cl = ctx;
	cl->hello_timer = 0;
	cl->s->nrefused++;
	client_close(cl, "no hello within 10 s");
	client_finish(cl);
}

/* One 'X' to a client that is not taken on, then its socket closes. */
static void refuse(int fd, const char *reason)
{
	struct buf b = {0};
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "reason", json_object_new_string(reason));
	size_t len;
	const char *js = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
	share_put(&b, SHARE_S_BYE, js, len);
	json_object_put(o);
	if (send(fd, b.data, b.len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		/* best effort: the client learns from the close */
	}
	buf_free(&b);
	close(fd);
}

static void on_accept_again(struct loop *l, void *ctx)
{
	struct share *s = ctx;
	s->accept_timer = 0;
	loop_mod_fd(l, s->sock.fd, LOOP_IN);
}

static void add_client(struct share *s, int fd)
{
	if (s->nclients >= SHARE_MAX_CLIENTS) {
		char why[160];
		snprintf(why, sizeof(why), "%s already has %d clients attached; try again later",
		         console_name(s->c), SHARE_MAX_CLIENTS);
		s->nrefused++;
		refuse(fd, why);
		return;
	}
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
		refuse(fd, "the watcher cannot tell who you are (SO_PEERCRED)");
		return;
	}
	struct share_client *cl = xcalloc(1, sizeof(*cl));
	cl->s = s;
	cl->fd = fd;
	cl->uid = cred.uid;
	cl->gid = cred.gid;
	cl->pid = cred.pid;
	if (loop_add_fd(s->loop, fd, LOOP_IN, on_client_io, cl) < 0) {
		free(cl);
		refuse(fd, "the watcher cannot take another client now");
		return;
	}
	cl->events = LOOP_IN;
	share_rx_init(&cl->rx);
	cl->hello_timer = loop_timer_in(s->loop, SHARE_HELLO_NS, on_hello_timeout, cl);
	cl->next = s->clients;
	s->clients = cl;
	s->nclients++;
}

static void on_accept(struct loop *l, int fd, unsigned events, void *ctx)
{
	(void)events;
	struct share *s = ctx;
	for (int i = 0; i < SHARE_ACCEPTS; i++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd >= 0) {
			add_client(s, cfd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		/* Out of descriptors or memory: the loop is level-triggered, so
		 * stop listening for a second rather than spin. */
		fprintf(stderr, "emsagent watch: %s: cannot accept on %s: %s (pausing 1 s)\n",
		        console_name(s->c), s->path, strerror(errno));
		loop_mod_fd(l, fd, 0);
		s->accept_timer = loop_timer_in(l, NS_PER_SEC, on_accept_again, s);
		return;
	}
}

/* --- the console's output ------------------------------------------------ */

static void ring_feed(struct share *s, const uint8_t *p, size_t n)
{
	if (!s->ring_cap)
		return;
	if (n >= s->ring_cap) {
		memcpy(s->ring, p + n - s->ring_cap, s->ring_cap);
		s->ring_head = 0;
		s->ring_len = s->ring_cap;
		return;
	}
	size_t first = s->ring_cap - s->ring_head;
	if (first > n)
		first = n;
	memcpy(s->ring + s->ring_head, p, first);
	memcpy(s->ring, p + first, n - first);
	s->ring_head = (s->ring_head + n) % s->ring_cap;
	s->ring_len = s->ring_len + n > s->ring_cap ? s->ring_cap : s->ring_len + n;
}

static void on_bytes(void *ctx, const void *buf, size_t n)
{
	struct share *s = ctx;
	ring_feed(s, buf, n);
	for (struct share_client *cl = s->clients; cl; cl = cl->next) {
		if (!cl->live || cl->closing)
			continue;
		for (size_t at = 0; at < n; at += SHARE_MAX_FRAME) {
			size_t len = n - at < SHARE_MAX_FRAME ? n - at : SHARE_MAX_FRAME;
			put_droppable(cl, SHARE_S_DATA, (const uint8_t *)buf + at, len);
		}
		deliver(cl);
	}
}

static void on_event(void *ctx, const struct event *ev)
{
	struct share *s = ctx;
	struct json_object *o = NULL;
	const char *js = NULL;
	size_t len = 0;
	for (struct share_client *cl = s->clients; cl; cl = cl->next) {
		if (!cl->live || cl->closing)
			continue;
		if (!o) { /* rendered once, and only when someone listens */
			o = event_to_json(ev);
			js = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
		}
		if (len > SHARE_MAX_FRAME) {
			cl->skip_bytes += len;
			cl->skip_frames++;
		} else {
			put_droppable(cl, SHARE_S_EVENT, js, len);
		}
		deliver(cl);
	}
	json_object_put(o);
}

static void share_destroy(struct share *s)
{
	if (s->obs > 0)
		console_unobserve(s->c, s->obs);
	if (s->accept_timer)
		loop_timer_cancel(s->loop, s->accept_timer);
	if (s->sock.fd >= 0) {
		loop_del_fd(s->loop, s->sock.fd);
		close(s->sock.fd);
	}
	free(s->writers);
	free(s->ring);
	free(s->path);
	free(s);
}

struct share *share_new(struct loop *l, struct console *c, const struct share_opts *o, char *err,
                        size_t errsz)
{
	struct share *s = xcalloc(1, sizeof(*s));
	s->loop = l;
	s->c = c;
	s->sock.fd = -1;
	s->max_queue = o->max_queue ? o->max_queue : SHARE_DEFAULT_QUEUE;
	s->ring_cap = o->replay > SHARE_MAX_REPLAY ? SHARE_MAX_REPLAY : o->replay;
	s->ring = xmalloc(s->ring_cap ? s->ring_cap : 1);
	const char *dir = o->dir ? o->dir : share_default_dir();
	s->path = xasprintf("%s/%s.sock", dir, console_name(s->c));
	if (share_writers_resolve(o, &s->writers, &s->nwriters, err, errsz) < 0 ||
	    share_sock_open(&s->sock, console_name(s->c), dir, s->path, o, err, errsz) < 0) {
		share_destroy(s);
		return NULL;
	}
	int rc = loop_add_fd(l, s->sock.fd, LOOP_IN, on_accept, s);
	if (rc < 0)
		errbuf_set(err, errsz, "cannot watch %s: %s", s->path, strerror(-rc));
	else if ((s->obs = console_observe(c, on_bytes, on_event, s)) < 0)
		errbuf_set(err, errsz, "the console has no room for another observer");
	if (rc < 0 || s->obs < 0) {
		share_sock_unlink(&s->sock, s->path);
		if (rc < 0) {
			close(s->sock.fd);
			s->sock.fd = -1;
		}
		share_destroy(s);
		return NULL;
	}
	return s;
}

const char *share_path(const struct share *s)
{
	return s->path;
}

size_t share_clients(const struct share *s)
{
	return s->nclients;
}

void share_free(struct share *s, const char *reason)
{
	if (!s)
		return;
	char why[160];
	if (!reason) {
		snprintf(why, sizeof(why), "the watcher stopped serving %s", console_name(s->c));
		reason = why;
	}
	while (s->clients) {
		struct share_client *cl = s->clients;
		cl->closing = false; /* a client already closing said its bye */
		if (!cl->bye)
			client_close(cl, reason);
		client_finish(cl);
	}
	share_sock_unlink(&s->sock, s->path);
	share_destroy(s);
}
