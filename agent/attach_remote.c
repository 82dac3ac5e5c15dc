/*
 * attach_remote.c — `emsagent attach NAME`: the console a watcher serves on
 * its socket (share.h): hello, replay and live bytes, events, requests by
 * id and their replies, the watcher's bye.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "attach_session.h"
#include "emsagent/cli.h"
#include "emsagent/event.h"

static void remote_flush(struct session *s)
{
	while (s->outq.len) {
		ssize_t w = send(s->fd, s->outq.data, s->outq.len, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (w < 0) {
			session_quit(s, 1, "the watcher went away: %s", strerror(errno));
			return;
		}
		memmove(s->outq.data, s->outq.data + w, s->outq.len - (size_t)w);
		s->outq.len -= (size_t)w;
	}
	loop_mod_fd(s->loop, s->fd, LOOP_IN | (s->outq.len ? LOOP_OUT : 0));
}

static void remote_send(struct session *s, char type, const void *p, size_t n)
{
	while (n > 0 || type != SHARE_C_INPUT) {
		size_t take = n > SHARE_MAX_FRAME ? SHARE_MAX_FRAME : n;
		share_put(&s->outq, type, p, take);
		p = (const char *)p + take;
		n -= take;
		if (type != SHARE_C_INPUT || n == 0)
			break;
	}
	remote_flush(s);
}

int session_remote_write(void *ctx, const void *buf, size_t n)
{
	struct session *s = ctx;
	if (s->outq.len > ATTACH_QUEUE_MAX)
		return -EAGAIN;
	remote_send(s, SHARE_C_INPUT, buf, n);
	return 0;
}

int session_remote_request(void *ctx, const char *op, const char *arg, char *err, size_t errsz)
{
	struct session *s = ctx;
	size_t slot = MAX_REQUESTS;
	for (size_t i = 0; i < MAX_REQUESTS && slot == MAX_REQUESTS; i++)
		if (!s->reqs[i].id)
			slot = i;
	if (slot == MAX_REQUESTS) {
		errbuf_set(err, errsz, "too many requests waiting for the watcher");
		return -1;
	}
	s->reqs[slot].id = ++s->next_id;
	snprintf(s->reqs[slot].op, sizeof(s->reqs[slot].op), "%s", op);
	struct json_object *q = json_object_new_object();
	json_object_object_add(q, "id", json_object_new_int64(s->reqs[slot].id));
	json_object_object_add(q, "op", json_object_new_string(op));
	if (arg)
		json_object_object_add(q, "arg", json_object_new_string(arg));
	const char *js = json_object_to_json_string_ext(q, JSON_C_TO_STRING_PLAIN);
	remote_send(s, SHARE_C_REQUEST, js, strlen(js));
	json_object_put(q);
	return 0;
}

static void on_hello(struct session *s, struct json_object *h)
{
	bool rw = json_get_bool(h, "rw");
	if (s->o->rw && !rw) {
		const char *why = json_get_str(h, "rw_refused");
		session_quit(s, EXIT_USAGE, "the watcher refused --rw on %s: %s", s->sock_path,
		             why ? why : "no reason given");
		return;
	}
	const char *name = json_get_str(h, "console"), *port = json_get_str(h, "port");
	snprintf(s->machine, sizeof(s->machine), "%s (through the watcher)", name ? name : "?");
	char esc[32];
	attach_escape_name(s->o->escape, esc, sizeof(esc));
	attach_notice(s->a, "attached to %s (%s) through the watcher, %s; %s ? for help, %s q quits",
	              name ? name : "?", port ? port : "?", rw ? "read-write" : "read-only (--rw to type)",
	              esc, esc);
}

static void on_frame(void *ctx, char type, const uint8_t *p, size_t len)
{
	struct session *s = ctx;
	int64_t now = loop_now(s->loop);
	if (type == SHARE_S_DATA) {
		attach_console(s->a, p, len, now);
		return;
	}
	struct json_object *j = json_tokener_parse((const char *)p);
	if (!j) {
		session_quit(s, 1, "the watcher sent a malformed '%c' frame", type);
		return;
	}
	switch (type) {
	case SHARE_S_HELLO:
		on_hello(s, j);
		break;
	case SHARE_S_EVENT:
		attach_event(s->a, j, now);
		break;
	case SHARE_S_REPLY: {
		unsigned id = (unsigned)json_get_int(j, "id", 0);
		const char *op = NULL;
		for (size_t i = 0; i < MAX_REQUESTS && id; i++)
			if (s->reqs[i].id == id) {
				s->reqs[i].id = 0;
				op = s->reqs[i].op;
			}
		struct json_object *st = NULL;
		json_object_object_get_ex(j, "status", &st);
		if (op)
			attach_reply(s->a, op, json_get_bool(j, "ok"), json_get_str(j, "reason"),
			             json_get_str(j, "output"), st);
		else if (!json_get_bool(j, "ok"))
			attach_notice(s->a, "the watcher: %s",
			              json_get_str(j, "reason") ? json_get_str(j, "reason") : "refused");
		break;
	}
	case SHARE_S_SKIPPED: {
		long long bytes = (long long)json_get_int(j, "bytes", 0);
		attach_notice(s->a, "this terminal fell behind: %lld bytes of console output were skipped",
		              bytes);
		break;
	}
	case SHARE_S_BYE:
		attach_flush_notices(s->a);
		session_quit(s, 1, "the watcher closed %s: %s", s->sock_path,
		             json_get_str(j, "reason") ? json_get_str(j, "reason") : "no reason given");
		break;
	default:
		break; /* newer frames are not ours to understand */
	}
	json_object_put(j);
}

static void on_remote(struct loop *l, int fd, unsigned events, void *ctx)
{
	(void)l;
	struct session *s = ctx;
	if (events & LOOP_OUT)
		remote_flush(s);
	if (!(events & (LOOP_IN | LOOP_HUP | LOOP_ERR)))
		return;
	uint8_t buf[65536];
	ssize_t n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		session_quit(s, 1, "the watcher went away (%s)",
		             n == 0 ? "connection closed" : strerror(errno));
		return;
	}
	char err[160];
	if (share_rx_feed(&s->rx, buf, (size_t)n, on_frame, s, err, sizeof(err)) < 0)
		session_quit(s, 1, "the watcher: %s", err);
}

int session_remote_setup(struct session *s, const char *path)
{
	s->sock_path = xstrdup(path);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path)) {
		cli_error(ATTACH_CMD, "%s: the socket path is too long", path);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->fd < 0 || connect(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		cli_error(ATTACH_CMD, "cannot reach the watcher at %s: %s%s", path, strerror(e),
		          e == ECONNREFUSED ? " (no watcher is running for it)"
		          : e == EACCES     ? " (the socket's permissions do not let you in)"
		                            : "");
		return -1;
	}
	fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK);
	share_rx_init(&s->rx);
	if (loop_add_fd(s->loop, s->fd, LOOP_IN, on_remote, s) < 0) {
		cli_error(ATTACH_CMD, "cannot watch the watcher's socket");
		return -1;
	}
	struct json_object *h = json_object_new_object();
	json_object_object_add(h, "proto", json_object_new_int(SHARE_PROTO));
	json_object_object_add(h, "rw", json_object_new_boolean(s->o->rw));
	json_object_object_add(h, "replay", json_object_new_int64((int64_t)s->o->replay));
	const char *js = json_object_to_json_string_ext(h, JSON_C_TO_STRING_PLAIN);
	remote_send(s, SHARE_C_HELLO, js, strlen(js));
	json_object_put(h);
	return 0;
}

void session_remote_free(struct session *s)
{
	if (s->fd > 0) {
		loop_del_fd(s->loop, s->fd);
		close(s->fd);
	}
	share_rx_free(&s->rx);
	buf_free(&s->outq);
	free(s->sock_path);
}
