/*
 * simclient.c — a tiny scripted client for guestsim's shell tests: it
 * attaches to the simulated serial line (a pty path, a unix socket path, or
 * tcp:PORT) and optionally to the QMP socket, then runs its steps in order.
 *
 * Usage: simclient [--timeout SECONDS] [--qmp PATH] TARGET STEP...
 * Steps (TEXT takes escapes \r \n \t \e \a \b \\ \xHH):
 *   send:TEXT      write TEXT to the console
 *   expect:TEXT    wait until TEXT arrives after the previous match
 *   absent:TEXT    fail if TEXT was received anywhere so far
 *   qsend:TEXT     write TEXT to the QMP socket
 *   qexpect:TEXT   like expect, on the QMP stream
 *   sleep:MS       keep reading for MS milliseconds
 * Everything the console sent goes to stdout as it was received; the QMP
 * stream goes to stderr prefixed "qmp< ". Exit 0 when every step passed,
 * 1 on a failed step or timeout (the reason on stderr), 2 on usage errors.
 * Standalone (libc only) so the shell test can build it with cc.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define MAX_RECV ((size_t)4 << 20)
#define MAX_TEXT 4096

struct stream {
	int fd;
	char *data;
	size_t len, mark; /* mark: where the next expect starts looking */
	bool eof;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int hexv(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Returns the decoded length, or -1 on a bad escape or overlong text. */
static long unescape(const char *s, char *out, size_t cap)
{
	size_t n = 0;
	for (; *s; s++) {
		if (n >= cap)
			return -1;
		if (*s != '\\') {
			out[n++] = *s;
			continue;
		}
		switch (*++s) {
		case 'r':
			out[n++] = '\r';
			break;
		case 'n':
			out[n++] = '\n';
			break;
		case 't':
			out[n++] = '\t';
			break;
		case 'e':
			out[n++] = 0x1b;
			break;
		case 'a':
			out[n++] = 0x07;
			break;
		case 'b':
			out[n++] = 0x08;
			break;
		case '\\':
			out[n++] = '\\';
			break;
		case 'x': {
			int hi = hexv((unsigned char)s[1]), lo = hi < 0 ? -1 : hexv((unsigned char)s[2]);
			if (hi < 0 || lo < 0)
				return -1;
			out[n++] = (char)(hi << 4 | lo);
			s += 2;
			break;
		}
		default:
			return -1;
		}
	}
	return (long)n;
}

static int connect_target(const char *t)
{
	int fd;
	struct stat st;
	if (strncmp(t, "tcp:", 4) == 0) {
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(t + 4))};
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			goto fail;
	} else if (stat(t, &st) == 0 && S_ISSOCK(st.st_mode)) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		if (strlen(t) >= sizeof(sa.sun_path)) {
			fprintf(stderr, "simclient: %s: path too long\n", t);
			return -1;
		}
		memcpy(sa.sun_path, t, strlen(t) + 1);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			goto fail;
	} else {
		fd = open(t, O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (fd < 0)
			goto fail;
		struct termios tio;
		if (tcgetattr(fd, &tio) == 0) {
			cfmakeraw(&tio);
			tcsetattr(fd, TCSANOW, &tio);
		}
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		goto fail;
	return fd;
fail:
	fprintf(stderr, "simclient: %s: %s\n", t, strerror(errno));
	return -1;
}

static void drain(struct stream *s, bool is_qmp)
{
	char buf[4096];
	for (;;) {
		ssize_t r = read(s->fd, buf, sizeof(buf));
		if (r > 0) {
			size_t n = (size_t)r;
			if (s->len + n > MAX_RECV)
				n = MAX_RECV - s->len;
			memcpy(s->data + s->len, buf, n);
			s->len += n;
			if (is_qmp) {
				fprintf(stderr, "qmp< %.*s", (int)r, buf);
			} else {
				fwrite(buf, 1, (size_t)r, stdout);
				fflush(stdout);
			}
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return;
		s->eof = true; /* EOF, or EIO on a pty whose master went away */
		return;
	}
}

/* One wait for input (until the deadline at most), then reads what came. */
static void pump(struct stream *con, struct stream *qmp, int64_t until)
{
	struct pollfd p[2];
	nfds_t n = 0;
	if (!con->eof)
		p[n++] = (struct pollfd){.fd = con->fd, .events = POLLIN};
	if (qmp->fd >= 0 && !qmp->eof)
		p[n++] = (struct pollfd){.fd = qmp->fd, .events = POLLIN};
	int64_t left = until - mono_ms();
	if (left < 0)
		left = 0;
	if (poll(p, n, (int)left) > 0) {
		if (!con->eof)
			drain(con, false);
		if (qmp->fd >= 0 && !qmp->eof)
			drain(qmp, true);
	}
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else if (w < 0 && (errno == EINTR || errno == EAGAIN)) {
			struct pollfd pf = {.fd = fd, .events = POLLOUT};
			poll(&pf, 1, 100);
		} else {
			return -1;
		}
	}
	return 0;
}

static bool find(struct stream *s, const char *t, size_t tl)
{
	const char *hit = memmem(s->data + s->mark, s->len - s->mark, t, tl);
	if (!hit)
		return false;
	s->mark = (size_t)(hit - s->data) + tl;
	return true;
}

int main(int argc, char **argv)
{
	double timeout = 10;
	const char *qmp_path = NULL;
	int i = 1;
	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (i + 1 >= argc)
			goto usage;
		if (strcmp(argv[i], "--timeout") == 0)
			timeout = atof(argv[i + 1]);
		else if (strcmp(argv[i], "--qmp") == 0)
			qmp_path = argv[i + 1];
		else
			goto usage;
	}
	if (i >= argc || timeout <= 0)
		goto usage;
	struct stream con = {.fd = connect_target(argv[i++])}, qmp = {.fd = -1};
	if (con.fd < 0)
		return 1;
	if (qmp_path && (qmp.fd = connect_target(qmp_path)) < 0)
		return 1;
	con.data = malloc(MAX_RECV + 1);
	qmp.data = malloc(MAX_RECV + 1);
	if (!con.data || !qmp.data)
		return 1;
	int64_t deadline = mono_ms() + (int64_t)(timeout * 1000);
	int rc = 0;
	static char text[MAX_TEXT];
	for (; i < argc && rc == 0; i++) {
		const char *step = argv[i], *colon = strchr(step, ':');
		if (!colon) {
			fprintf(stderr, "simclient: bad step '%s'\n", step);
			rc = 2;
			break;
		}
		size_t kl = (size_t)(colon - step);
		long tl = unescape(colon + 1, text, sizeof(text));
		if (tl < 0) {
			fprintf(stderr, "simclient: bad escape or text too long in '%s'\n", step);
			rc = 2;
			break;
		}
#define IS(k) (kl == strlen(k) && strncmp(step, k, kl) == 0)
		if (IS("send") || IS("qsend")) {
			struct stream *s = IS("send") ? &con : &qmp;
			if (s->fd < 0 || write_all(s->fd, text, (size_t)tl) < 0) {
				fprintf(stderr, "simclient: %s failed: %s\n", step, strerror(errno));
				rc = 1;
			}
		} else if (IS("expect") || IS("qexpect")) {
			struct stream *s = IS("expect") ? &con : &qmp;
			if (s->fd < 0) {
				fprintf(stderr, "simclient: %s without --qmp\n", step);
				rc = 2;
				break;
			}
			while (!find(s, text, (size_t)tl)) {
				if (mono_ms() >= deadline || s->eof) {
					size_t from = s->len > 400 ? s->len - 400 : 0;
					fprintf(
					    stderr,
					    "simclient: %s waiting for '%s'; last bytes received:\n%.*s\n",
					    s->eof ? "stream closed" : "timed out", colon + 1,
					    (int)(s->len - from), s->data + from);
					rc = 1;
					break;
				}
				pump(&con, &qmp, deadline);
			}
		} else if (IS("absent")) {
			if (memmem(con.data, con.len, text, (size_t)tl)) {
				fprintf(stderr, "simclient: '%s' was received but must not be\n", colon + 1);
				rc = 1;
			}
		} else if (IS("sleep")) {
			int64_t until = mono_ms() + atol(colon + 1);
			while (mono_ms() < until && !(con.eof && (qmp.fd < 0 || qmp.eof)))
				pump(&con, &qmp, until);
		} else {
			fprintf(stderr, "simclient: unknown step '%s'\n", step);
			rc = 2;
		}
#undef IS
	}
	close(con.fd);
	if (qmp.fd >= 0)
		close(qmp.fd);
	free(con.data);
	free(qmp.data);
	return rc;
usage:
	fprintf(stderr, "usage: simclient [--timeout S] [--qmp PATH] TARGET STEP...\n"
	                "steps: send:TEXT expect:TEXT absent:TEXT qsend:TEXT qexpect:TEXT sleep:MS\n");
	return 2;
}
