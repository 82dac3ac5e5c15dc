/*
 * control_qmp.c — the native QMP client (qmp:/path, qmp:tcp:HOST:PORT).
 * One connection per request, driven by the loop: connect (non-blocking),
 * read the greeting, send qmp_capabilities, then the command, and end on
 * its reply. QMP sends one JSON object per line; a line may arrive in
 * pieces and asynchronous {"event":…} lines may come at any time, so input
 * is collected into lines (bounded) and each parsed with json-c. Errors are
 * reported as QMP's "Class: desc".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "control_priv.h"

enum { QMP_CONNECTING, QMP_GREETING, QMP_CAPS, QMP_COMMAND };

#define QMP_ID_CAPS "emsagent-caps"
#define QMP_ID_CMD  "emsagent-cmd"

static int qmp_parse(struct control *c, const char *rest, char *err, size_t errsz)
{
	if (strncmp(rest, "tcp:", 4) == 0) {
		const char *hp = rest + 4;
		const char *colon = strrchr(hp, ':');
		if (!colon || colon == hp || !colon[1]) {
			errbuf_set(err, errsz, "want qmp:tcp:HOST:PORT");
			return -1;
		}
		const char *h = hp;
		size_t hlen = (size_t)(colon - hp);
		if (h[0] == '[' && hlen >= 2 && h[hlen - 1] == ']') { /* [v6]:port */
			h++;
			hlen -= 2;
		}
		char *end;
		errno = 0;
		long port = strtol(colon + 1, &end, 10);
		if (*end || errno || port < 1 || port > 65535) {
			errbuf_set(err, errsz, "bad port '%.16s' (want 1-65535)", colon + 1);
			return -1;
		}
		c->host = xstrndup(h, hlen);
		if (!control_name_ok(c->host)) {
			errbuf_set(err, errsz, "bad host '%.64s'", c->host);
			return -1;
		}
		c->port = (int)port;
		return 0;
	}
	if (rest[0] != '/') {
		errbuf_set(err, errsz, "want qmp:/absolute/socket/path or qmp:tcp:HOST:PORT");
		return -1;
	}
	if (strlen(rest) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		errbuf_set(err, errsz, "socket path too long (max %zu bytes)",
		           sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		return -1;
	}
	c->path = xstrdup(rest);
	return 0;
}

static void qmp_fail(struct control *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void qmp_fail(struct control *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	control_finish(c, false, msg, c->qmp.reply.data ? c->qmp.reply.data : "", c->qmp.reply.len, NULL);
}

static void qmp_flush(struct control *c)
{
	struct control_qmp_state *q = &c->qmp;
	while (q->out_off < q->out.len) {
		ssize_t n = send(q->fd, q->out.data + q->out_off, q->out.len - q->out_off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				loop_mod_fd(c->req.loop, q->fd, LOOP_IN | LOOP_OUT);
				return;
			}
			qmp_fail(c, "QMP write: %s", strerror(errno));
			return;
		}
		q->out_off += (size_t)n;
	}
	buf_reset(&q->out);
	q->out_off = 0;
	loop_mod_fd(c->req.loop, q->fd, LOOP_IN);
}

static void qmp_send(struct control *c, const char *execute, const char *id)
{
	buf_printf(&c->qmp.out, "{\"execute\": \"%s\", \"id\": \"%s\"}\r\n", execute, id);
	qmp_flush(c);
}

static const char *command_name(enum control_action a)
{
	switch (a) {
	case CONTROL_NMI:
		return "inject-nmi";
	case CONTROL_RESET:
		return "system_reset";
	default:
		return "query-status";
	}
}

/* One complete message. Returns false when the request ended. */
static bool qmp_message(struct control *c, const char *line, size_t len)
{
	struct control_qmp_state *q = &c->qmp;
	json_tokener *tok = json_tokener_new();
	json_object *msg = json_tokener_parse_ex(tok, line, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	json_tokener_free(tok);
	if (!msg || jerr != json_tokener_success || !json_object_is_type(msg, json_type_object)) {
		json_object_put(msg);
		qmp_fail(c, "QMP sent something that is not a JSON object: %.80s", line);
		return false;
	}
	json_object *v;
	bool more = true;
	if (json_object_object_get_ex(msg, "event", NULL)) {
		/* asynchronous: not an answer to anything we asked */
	} else if (q->phase == QMP_GREETING) {
		if (!json_object_object_get_ex(msg, "QMP", NULL)) {
			qmp_fail(c, "QMP greeting expected, got: %.80s", line);
			more = false;
		} else {
			q->phase = QMP_CAPS;
			qmp_send(c, "qmp_capabilities", QMP_ID_CAPS);
			more = c->req.busy;
		}
	} else if (json_object_object_get_ex(msg, "error", &v)) {
		json_object *cls = NULL, *desc = NULL;
		json_object_object_get_ex(v, "class", &cls);
		json_object_object_get_ex(v, "desc", &desc);
		buf_reset(&q->reply);
		buf_append(&q->reply, line, len);
		qmp_fail(c, "%.64s: %.300s", cls ? json_object_get_string(cls) : "Error",
		         desc ? json_object_get_string(desc) : "(no description)");
		more = false;
	} else if (json_object_object_get_ex(msg, "return", &v)) {
		if (q->phase == QMP_CAPS) {
			q->phase = QMP_COMMAND;
			qmp_send(c, command_name(c->req.action), QMP_ID_CMD);
			more = c->req.busy;
		} else {
			json_object *st = NULL;
			const char *status = NULL;
			if (c->req.action == CONTROL_STATUS && json_object_object_get_ex(v, "status", &st) &&
			    json_object_is_type(st, json_type_string))
				status = json_object_get_string(st);
			control_finish(c, true, NULL, line, len, status);
			more = false;
		}
	} else {
		qmp_fail(c, "QMP sent an unexpected message: %.80s", line);
		more = false;
	}
	json_object_put(msg);
	return more;
}

static void qmp_read(struct control *c)
{
	struct control_qmp_state *q = &c->qmp;
	char chunk[4096];
	for (;;) {
		ssize_t n = recv(q->fd, chunk, sizeof(chunk), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			qmp_fail(c, "QMP read: %s", strerror(errno));
			return;
		}
		if (n == 0) {
			qmp_fail(c, "QMP connection closed before the reply");
			return;
		}
		buf_append(&q->in, chunk, (size_t)n);
		for (;;) {
			char *nl = memchr(q->in.data, '\n', q->in.len);
			if (!nl)
				break;
			size_t len = (size_t)(nl - q->in.data);
			char *line = xstrndup(q->in.data, len);
			size_t rest = q->in.len - len - 1;
			memmove(q->in.data, nl + 1, rest);
			q->in.len = rest;
			q->in.data[rest] = '\0';
			size_t ll = len;
			while (ll && (line[ll - 1] == '\r' || line[ll - 1] == ' '))
				line[--ll] = '\0';
			bool more = ll == 0 || qmp_message(c, line, ll);
			free(line);
			if (!more)
				return;
		}
		if (q->in.len > CONTROL_QMP_LINE_MAX) {
			qmp_fail(c, "QMP message longer than %u bytes", CONTROL_QMP_LINE_MAX);
			return;
		}
	}
}

static void qmp_on_fd(struct loop *l, int fd, unsigned events, void *ctx)
{
	(void)l;
	struct control *c = ctx;
	struct control_qmp_state *q = &c->qmp;
	if (q->phase == QMP_CONNECTING) {
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			soerr = errno;
		if (soerr) {
			qmp_fail(c, "QMP connect %s: %s", c->path ? c->path : c->host, strerror(soerr));
			return;
		}
		q->phase = QMP_GREETING;
		loop_mod_fd(l, fd, LOOP_IN);
		return;
	}
	if (events & LOOP_OUT) {
		qmp_flush(c);
		if (!c->req.busy)
			return;
	}
	if (events & (LOOP_IN | LOOP_ERR | LOOP_HUP))
		qmp_read(c);
}

static int qmp_socket(struct control *c, char *err, size_t errsz)
{
	if (c->path) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			errbuf_set(err, errsz, "socket: %s", strerror(errno));
			return -1;
		}
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", c->path);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS &&
		    errno != EAGAIN) {
			errbuf_set(err, errsz, "QMP connect %s: %s", c->path, strerror(errno));
			close(fd);
			return -1;
		}
		return fd;
	}
	/* Numeric addresses resolve without I/O; a name may need DNS, which
	 * blocks briefly — acceptable for a command a person or a rule asks
	 * for once, and the usual QMP endpoint is an address anyway. */
	char port[16];
	snprintf(port, sizeof(port), "%d", c->port);
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
	int rc = getaddrinfo(c->host, port, &hints, &ai);
	if (rc != 0 || !ai) {
		errbuf_set(err, errsz, "QMP host %s: %s", c->host, gai_strerror(rc));
		return -1;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		errbuf_set(err, errsz, "socket: %s", strerror(errno));
		freeaddrinfo(ai);
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
		errbuf_set(err, errsz, "QMP connect %s:%d: %s", c->host, c->port, strerror(errno));
		close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	return fd;
}

static int qmp_start(struct control *c, char *err, size_t errsz)
{
	char why[300] = "";
	int fd = qmp_socket(c, why, sizeof(why));
	if (fd < 0) {
		/* Not reachable is a failed action like any other, told later. */
		control_fail_later(c, "%s", why);
		return 0;
	}
	c->qmp.fd = fd;
	c->qmp.phase = QMP_CONNECTING;
	int rc = loop_add_fd(c->req.loop, fd, LOOP_OUT, qmp_on_fd, c);
	if (rc < 0) {
		errbuf_set(err, errsz, "QMP: loop: %s", strerror(-rc));
		return -1;
	}
	return 0;
}

static void qmp_stop(struct control *c)
{
	struct control_qmp_state *q = &c->qmp;
	if (q->fd >= 0) {
		loop_del_fd(c->req.loop, q->fd);
		close(q->fd);
	}
	buf_free(&q->in);
	buf_free(&q->out);
	buf_free(&q->reply);
	free(q->status);
	memset(q, 0, sizeof(*q));
	q->fd = -1;
}

const struct control_ops control_qmp_ops = {
    .kind = "qmp",
    .caps = CONTROL_CAN(CONTROL_NMI) | CONTROL_CAN(CONTROL_RESET) | CONTROL_CAN(CONTROL_STATUS),
    .parse = qmp_parse,
    .start = qmp_start,
    .stop = qmp_stop,
};
