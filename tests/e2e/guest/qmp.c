/*
 * tests/e2e/guest/qmp.c — a minimal QMP client for the QEMU end-to-end tests
 * (socat is not available on the test machines): connects to QEMU's QMP unix
 * socket, reads the greeting, negotiates capabilities, runs one command and
 * prints its reply as one JSON line on stdout.
 *
 * Usage: qmp [-t SECONDS] SOCKET COMMAND [ARGS-JSON]
 *   COMMAND is a QMP command name (cont, quit, inject-nmi, query-status) or a
 *   whole JSON request object ('{"execute":"human-monitor-command",...}');
 *   ARGS-JSON, when given, becomes the request's "arguments".
 * Exit status: 0 the command returned, 1 QEMU answered with an error,
 * 2 usage, connection, protocol or timeout failure (reason on stderr).
 * Asynchronous events QEMU sends meanwhile are skipped. After `quit` QEMU may
 * close the socket before answering; that counts as success.
 */
#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* QMP messages are single lines; a reply far larger than this is not one a
 * test needs (query-* of a small guest stays well below). */
#define QMP_LINE_MAX (1024 * 1024)

struct qmp_conn {
	int fd;
	char *buf; /* bytes received, not yet consumed */
	size_t len;
	size_t cap;
	struct timespec deadline;
};

static long qmp_ms_left(const struct qmp_conn *c)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long ms =
	    (long)(c->deadline.tv_sec - now.tv_sec) * 1000 + (c->deadline.tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : ms;
}

/* Reads one line (without its \r\n) into a fresh string; NULL on EOF, error
 * or timeout, with *eof telling a clean close apart. */
static char *qmp_read_line(struct qmp_conn *c, bool *eof)
{
	*eof = false;
	for (;;) {
		char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;
		if (nl) {
			size_t n = (size_t)(nl - c->buf);
			char *line = malloc(n + 1);
			if (!line) {
				fprintf(stderr, "qmp: out of memory\n");
				return NULL;
			}
			memcpy(line, c->buf, n);
			line[n] = '\0';
			if (n && line[n - 1] == '\r')
				line[n - 1] = '\0';
			c->len -= n + 1;
			memmove(c->buf, nl + 1, c->len);
			return line;
		}
		if (c->len >= QMP_LINE_MAX) {
			fprintf(stderr, "qmp: a message longer than %d bytes\n", QMP_LINE_MAX);
			return NULL;
		}
		if (c->cap - c->len < 4096) {
			size_t ncap = c->cap ? c->cap * 2 : 8192;
			char *nb = realloc(c->buf, ncap);
			if (!nb) {
				fprintf(stderr, "qmp: out of memory\n");
				return NULL;
			}
			c->buf = nb;
			c->cap = ncap;
		}
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		long left = qmp_ms_left(c);
		int r = poll(&p, 1, (int)(left > 60000 ? 60000 : left));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fprintf(stderr, "qmp: poll: %s\n", strerror(errno));
			return NULL;
		}
		if (r == 0) {
			if (qmp_ms_left(c) > 0)
				continue;
			fprintf(stderr, "qmp: timed out waiting for QEMU\n");
			return NULL;
		}
		ssize_t got = read(c->fd, c->buf + c->len, c->cap - c->len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			fprintf(stderr, "qmp: read: %s\n", strerror(errno));
			return NULL;
		}
		if (got == 0) {
			*eof = true;
			return NULL;
		}
		c->len += (size_t)got;
	}
}

static int qmp_send(struct qmp_conn *c, const char *msg)
{
	size_t n = strlen(msg), off = 0;
	while (off < n) {
		ssize_t w = write(c->fd, msg + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			fprintf(stderr, "qmp: write: %s\n", strerror(errno));
			return -1;
		}
		off += (size_t)w;
	}
	return 0;
}

enum qmp_reply { QMP_RETURN, QMP_ERROR, QMP_EOF, QMP_FAIL };

/* Waits for the reply to the last command, skipping events. With print set
 * the reply line goes to stdout. */
static enum qmp_reply qmp_wait_reply(struct qmp_conn *c, bool print)
{
	for (;;) {
		bool eof;
		char *line = qmp_read_line(c, &eof);
		if (!line)
			return eof ? QMP_EOF : QMP_FAIL;
		json_object *o = json_tokener_parse(line);
		if (!o || !json_object_is_type(o, json_type_object)) {
			fprintf(stderr, "qmp: not a JSON object from QEMU: %.200s\n", line);
			json_object_put(o);
			free(line);
			return QMP_FAIL;
		}
		enum qmp_reply res = QMP_FAIL;
		bool done = true;
		if (json_object_object_get_ex(o, "return", NULL))
			res = QMP_RETURN;
		else if (json_object_object_get_ex(o, "error", NULL))
			res = QMP_ERROR;
		else if (json_object_object_get_ex(o, "event", NULL))
			done = false;
		else
			fprintf(stderr, "qmp: unexpected message: %.200s\n", line);
		if (done && print)
			printf("%s\n", line);
		json_object_put(o);
		free(line);
		if (done)
			return res;
	}
}

static void qmp_usage(void)
{
	fprintf(stderr, "usage: qmp [-t SECONDS] SOCKET COMMAND [ARGS-JSON]\n");
}

int main(int argc, char **argv)
{
	int timeout_s = 10;
	int ai = 1;
	if (ai + 1 < argc && strcmp(argv[ai], "-t") == 0) {
		char *end;
		long t = strtol(argv[ai + 1], &end, 10);
		if (*end || t < 1 || t > 3600) {
			qmp_usage();
			return 2;
		}
		timeout_s = (int)t;
		ai += 2;
	}
	if (argc - ai < 2 || argc - ai > 3) {
		qmp_usage();
		return 2;
	}
	const char *path = argv[ai], *cmd = argv[ai + 1];
	const char *args = argc - ai == 3 ? argv[ai + 2] : NULL;

	/* Build the request first: a malformed one is a usage error, and QEMU
	 * should not see half a command. */
	json_object *req;
	if (cmd[0] == '{') {
		req = json_tokener_parse(cmd);
		if (!req || !json_object_is_type(req, json_type_object) ||
		    !json_object_object_get_ex(req, "execute", NULL)) {
			fprintf(stderr, "qmp: COMMAND is not a JSON object with \"execute\"\n");
			json_object_put(req);
			return 2;
		}
	} else {
		req = json_object_new_object();
		json_object_object_add(req, "execute", json_object_new_string(cmd));
	}
	if (args) {
		json_object *a = json_tokener_parse(args);
		if (!a || !json_object_is_type(a, json_type_object)) {
			fprintf(stderr, "qmp: ARGS-JSON is not a JSON object\n");
			json_object_put(a);
			json_object_put(req);
			return 2;
		}
		json_object_object_add(req, "arguments", a);
	}
	json_object *ex = NULL;
	json_object_object_get_ex(req, "execute", &ex);
	bool is_quit = ex && strcmp(json_object_get_string(ex), "quit") == 0;
	char msg[65536];
	int mn =
	    snprintf(msg, sizeof(msg), "%s\r\n", json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN));
	json_object_put(req);
	if (mn < 0 || (size_t)mn >= sizeof(msg)) {
		fprintf(stderr, "qmp: request too long\n");
		return 2;
	}

	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "qmp: socket path too long: %s\n", path);
		return 2;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	struct qmp_conn c = {.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
	if (c.fd < 0) {
		fprintf(stderr, "qmp: socket: %s\n", strerror(errno));
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &c.deadline);
	c.deadline.tv_sec += timeout_s;
	int rc = 2;
	if (connect(c.fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "qmp: connect %s: %s\n", path, strerror(errno));
		goto out;
	}
	bool eof;
	char *greet = qmp_read_line(&c, &eof);
	if (!greet) {
		if (eof)
			fprintf(stderr, "qmp: QEMU closed the socket before its greeting\n");
		goto out;
	}
	bool is_qmp = strstr(greet, "\"QMP\"") != NULL;
	free(greet);
	if (!is_qmp) {
		fprintf(stderr, "qmp: the greeting is not QMP's\n");
		goto out;
	}
	if (qmp_send(&c, "{\"execute\":\"qmp_capabilities\"}\r\n") < 0)
		goto out;
	if (qmp_wait_reply(&c, false) != QMP_RETURN) {
		fprintf(stderr, "qmp: capabilities negotiation failed\n");
		goto out;
	}
	if (qmp_send(&c, msg) < 0)
		goto out;
	switch (qmp_wait_reply(&c, true)) {
	case QMP_RETURN:
		rc = 0;
		break;
	case QMP_ERROR:
		rc = 1;
		break;
	case QMP_EOF:
		if (is_quit) {
			rc = 0;
			break;
		}
		fprintf(stderr, "qmp: QEMU closed the socket before answering\n");
		break;
	case QMP_FAIL:
		break;
	}
out:
	close(c.fd);
	free(c.buf);
	return rc;
}
