/*
 * transport.c — the front of the transports: turns a port argument into a
 * struct transport bound to one kind's ops table (syntax checks only, with a
 * one-line reason for every refusal), and the generic wrappers the loop and
 * the console call, so no caller ever touches an ops table directly.
 */
#define _GNU_SOURCE
#include "emsagent/transport.h"
#include "emsagent/util.h"
#include "transport_priv.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>

/* Longer than any sane device path or host name plus command line; a
 * longer argument is a mistake (or an attack on a config file). */
#define URL_MAX 4096
/* transport_write's whole budget for a peer that is not draining. */
#define WRITE_WAIT_MS 100

void transport_opts_default(struct transport_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->baud = 115200;
	o->data_bits = 8;
	o->parity = 'n';
	o->stop_bits = 1;
	o->flow = FLOW_NONE;
	o->replay_realtime = false;
}

static int check_opts(const struct transport_opts *o, char *err, size_t errsz)
{
	if (o->baud == 0 || o->baud > 100000000u) {
		errbuf_set(err, errsz, "baud rate %u out of range (1-100000000)", o->baud);
		return -1;
	}
	if (o->data_bits < 5 || o->data_bits > 8) {
		errbuf_set(err, errsz, "data bits %u out of range (5-8)", o->data_bits);
		return -1;
	}
	if (!strchr("neoms", o->parity) || o->parity == '\0') {
		errbuf_set(err, errsz, "unknown parity '%c' (expected n, e, o, m or s)",
		           isprint((unsigned char)o->parity) ? o->parity : '?');
		return -1;
	}
	if (o->stop_bits != 1 && o->stop_bits != 2) {
		errbuf_set(err, errsz, "stop bits %u (expected 1 or 2)", o->stop_bits);
		return -1;
	}
	if (o->flow != FLOW_NONE && o->flow != FLOW_XONXOFF && o->flow != FLOW_RTSCTS) {
		errbuf_set(err, errsz, "unknown flow control %d", (int)o->flow);
		return -1;
	}
	return 0;
}

/*
 * HOST:PORT for tcp: and telnet:. The port is the part after the last colon
 * so a bare IPv6 address works ("::1:23"); "[v6]:port" is the unambiguous
 * spelling. Only numeric ports: a service name would silently mean whatever
 * /etc/services says on this host.
 */
static int check_hostport(const char *scheme, const char *url, const char *hp, char *err, size_t errsz)
{
	const char *host_end, *port;
	if (hp[0] == '[') {
		const char *rb = strchr(hp, ']');
		if (!rb || (rb[1] != ':' && rb[1] != '\0')) {
			errbuf_set(err, errsz, "malformed [address] in '%s' (expected %s:[IPv6]:PORT)", url,
			           scheme);
			return -1;
		}
		if (rb == hp + 1) {
			errbuf_set(err, errsz, "missing host in '%s' (expected %s:HOST:PORT)", url, scheme);
			return -1;
		}
		host_end = rb + 1;
	} else {
		host_end = strrchr(hp, ':');
		if (!host_end)
			host_end = hp + strlen(hp);
		if (host_end == hp) {
			errbuf_set(err, errsz, "missing host in '%s' (expected %s:HOST:PORT)", url, scheme);
			return -1;
		}
	}
	if (*host_end != ':' || host_end[1] == '\0') {
		errbuf_set(err, errsz, "missing port number in '%s' (expected %s:HOST:PORT)", url, scheme);
		return -1;
	}
	port = host_end + 1;
	unsigned long v = 0;
	for (const char *p = port; *p; p++) {
		if (!isdigit((unsigned char)*p)) {
			errbuf_set(err, errsz, "port '%s' in '%s' is not a number", port, url);
			return -1;
		}
		if (v <= 65535)
			v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v < 1 || v > 65535) {
		errbuf_set(err, errsz, "port %s in '%s' out of range (1-65535)", port, url);
		return -1;
	}
	for (const char *p = hp; p < host_end; p++) {
		if (isspace((unsigned char)*p) || *p == '/') {
			errbuf_set(err, errsz, "malformed host in '%s'", url);
			return -1;
		}
	}
	return 0;
}

static int check_device(const char *url, const char *path, char *err, size_t errsz)
{
	if (*path == '\0') {
		errbuf_set(err, errsz, "empty path in '%s'", url);
		return -1;
	}
	if (path[0] != '/') {
		errbuf_set(err, errsz,
		           "relative device path '%s' in '%s' (give the full path, e.g. /dev/ttyS0)", path,
		           url);
		return -1;
	}
	return 0;
}

struct scheme {
	const char *name;
	const struct transport_ops *ops;
};

/* Length of a URL scheme at the start of s ("tcp" in "tcp:..."), or 0. */
static size_t scheme_len(const char *s)
{
	if (!isalpha((unsigned char)s[0]))
		return 0;
	size_t i = 1;
	while (isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.')
		i++;
	return s[i] == ':' ? i : 0;
}

int transport_parse(const char *url, const struct transport_opts *o, struct transport **out, char *err,
                    size_t errsz)
{
	*out = NULL;
	if (!url || !*url) {
		errbuf_set(err, errsz, "empty port (expected a device path or a URL such as tcp:HOST:PORT)");
		return -1;
	}
	size_t ulen = strnlen(url, URL_MAX + 1);
	if (ulen > URL_MAX) {
		errbuf_set(err, errsz, "port argument too long (more than %d bytes)", URL_MAX);
		return -1;
	}
	for (size_t i = 0; i < ulen; i++) {
		if (iscntrl((unsigned char)url[i])) {
			errbuf_set(err, errsz, "control character (0x%02x) in port '%.*s'",
			           (unsigned char)url[i], (int)i, url);
			return -1;
		}
	}
	struct transport_opts defaults;
	if (!o) {
		transport_opts_default(&defaults);
		o = &defaults;
	}
	if (check_opts(o, err, errsz) < 0)
		return -1;

	const struct transport_ops *ops = NULL;
	const char *target = url;
	size_t sl = scheme_len(url);
	if (strcmp(url, "-") == 0) {
		ops = &transport_file_ops;
	} else if (url[0] == '/') {
		ops = strncmp(url, "/dev/pts/", 9) == 0 ? &transport_pty_ops : &transport_serial_ops;
	} else if (sl) {
		static const struct scheme schemes[] = {
		    {"serial", &transport_serial_ops}, {"pty", &transport_pty_ops},
		    {"tcp", &transport_tcp_ops},       {"telnet", &transport_telnet_ops},
		    {"unix", &transport_unix_ops},     {"exec", &transport_exec_ops},
		    {"file", &transport_file_ops},
		};
		for (size_t i = 0; i < ARRAY_LEN(schemes); i++) {
			if (strlen(schemes[i].name) == sl && strncasecmp(url, schemes[i].name, sl) == 0) {
				ops = schemes[i].ops;
				break;
			}
		}
		if (!ops) {
			errbuf_set(
			    err, errsz,
			    "unknown port kind '%.*s' in '%s' (expected a device path, serial:, pty:, tcp:, "
			    "telnet:, unix:, exec:, file: or -)",
			    (int)sl, url, url);
			/* "host:2323" is a forgotten tcp: far more often than a scheme. */
			const char *rest = url + sl + 1;
			if (*rest && strspn(rest, "0123456789") == strlen(rest)) {
				size_t l = strlen(err);
				errbuf_set(err + l, errsz - l, "; did you mean tcp:%s?", url);
			}
			return -1;
		}
		target = url + sl + 1;
	} else {
		errbuf_set(err, errsz,
		           "relative device path '%s' (give the full path, e.g. /dev/ttyS0, or a URL such as "
		           "tcp:HOST:PORT)",
		           url);
		return -1;
	}

	if (ops == &transport_tcp_ops || ops == &transport_telnet_ops) {
		/* People write tcp://host:port out of habit; the slashes say nothing. */
		if (strncmp(target, "//", 2) == 0)
			target += 2;
		if (check_hostport(ops == &transport_tcp_ops ? "tcp" : "telnet", url, target, err, errsz) < 0)
			return -1;
	} else if (ops == &transport_unix_ops) {
		size_t plen = strlen(target);
		if (plen == 0 || (target[0] == '@' && plen == 1)) {
			errbuf_set(err, errsz, "empty path in '%s'", url);
			return -1;
		}
		/* '@name' is Linux's abstract namespace: no NUL terminator needed. */
		size_t room = sizeof(((struct sockaddr_un *)0)->sun_path) - (target[0] == '@' ? 0 : 1);
		if (plen > room) {
			errbuf_set(err, errsz, "unix socket path too long (%zu bytes, at most %zu)", plen,
			           room);
			return -1;
		}
	} else if (ops == &transport_exec_ops) {
		const char *p = target;
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0') {
			errbuf_set(err, errsz, "empty command in '%s' (expected exec:COMMAND)", url);
			return -1;
		}
		/* Quoting mistakes show when the config is read, not at the
		 * first (re)connect in the middle of the night. */
		char **argv = NULL;
		char why[160];
		if (transport_exec_split(target, &argv, why, sizeof(why)) < 0) {
			errbuf_set(err, errsz, "bad command in '%.*s%s': %s", 60, url,
			           strlen(url) > 60 ? "..." : "", why);
			return -1;
		}
		transport_exec_argv_free(argv);
	} else if (ops == &transport_file_ops) {
		if (*target == '\0') {
			errbuf_set(err, errsz, "empty path in '%s'", url);
			return -1;
		}
	} else if (check_device(url, target, err, errsz) < 0) {
		return -1;
	}

	struct transport *t = xcalloc(1, sizeof(*t));
	t->ops = ops;
	t->url = xstrdup(url);
	t->target = xstrdup(target);
	t->opts = *o;
	t->fd = -1;
	t->pid = 0;
	*out = t;
	return 0;
}

int transport_open(struct transport *t)
{
	if (t->fd >= 0) {
		snprintf(t->err, sizeof(t->err), "%s is already open", t->url);
		return -EALREADY;
	}
	t->err[0] = '\0';
	int rc = t->ops->open(t);
	if (rc < 0) {
		if (t->fd >= 0) {
			/* A kind that failed half-way still must not leak its fd. */
			t->ops->close(t);
			t->fd = -1;
		}
		if (!t->err[0])
			snprintf(t->err, sizeof(t->err), "%s: %s", t->url, strerror(-rc));
		return rc;
	}
	return 0;
}

ssize_t transport_read(struct transport *t, void *buf, size_t n)
{
	if (t->fd < 0) {
		snprintf(t->err, sizeof(t->err), "%s is not open", t->url);
		return -EBADF;
	}
	/* A zero-length read would return 0, which means "peer gone". */
	if (n == 0)
		return -EINVAL;
	return t->ops->read(t, buf, n);
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Waits (bounded by deadline) until fd takes more output. Returns 0 when it
 * may be writable, -EAGAIN when the time is up, -errno on a poll failure.
 */
static int wait_writable(int fd, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - mono_ms();
		if (left <= 0)
			return -EAGAIN;
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		int r = poll(&p, 1, (int)left);
		if (r > 0)
			return 0; /* POLLERR/POLLHUP too: the next write reports it */
		if (r == 0)
			return -EAGAIN;
		if (errno != EINTR)
			return -errno;
	}
}

/*
 * Loops over the kind's write. A peer that stops draining gets WRITE_WAIT_MS
 * in total, then the caller learns how much went out (a short count) or
 * -EAGAIN when nothing did: the loop must never stall on one console.
 */
ssize_t transport_write(struct transport *t, const void *buf, size_t n)
{
	if (!(t->ops->caps & TRANSPORT_CAN_WRITE)) {
		snprintf(t->err, sizeof(t->err), "%s is read-only", t->url);
		return -ENOTSUP;
	}
	if (t->fd < 0) {
		snprintf(t->err, sizeof(t->err), "%s is not open", t->url);
		return -EBADF;
	}
	static const unsigned char none[1];
	const unsigned char *p = n ? buf : none;
	size_t done = 0;
	int64_t deadline = mono_ms() + WRITE_WAIT_MS;
	/* Telnet may hold back the tail of an escape pair; a zero-length write
	 * pushes it out, so the last round runs even after all of buf went. */
	bool drain = t->ops == &transport_telnet_ops;
	while (done < n || drain) {
		ssize_t w = t->ops->write(t, p + done, n - done);
		if (w > 0) {
			done += (size_t)w;
			continue;
		}
		if (w == 0 && done == n) {
			break; /* drained */
		}
		if (w == 0 || w == -EAGAIN || w == -EINTR) {
			if (w == -EINTR)
				continue;
			int rc = wait_writable(t->fd, deadline);
			if (rc == 0)
				continue;
			if (rc == -EAGAIN)
				break;
			return done ? (ssize_t)done : rc;
		}
		return done ? (ssize_t)done : w;
	}
	if (done == 0 && n > 0) {
		snprintf(t->err, sizeof(t->err), "%s: peer is not reading (nothing written in %d ms)", t->url,
		         WRITE_WAIT_MS);
		return -EAGAIN;
	}
	return (ssize_t)done;
}

int transport_send_break(struct transport *t, unsigned ms)
{
	if (!t->ops->send_break) {
		snprintf(t->err, sizeof(t->err), "%s: a %s port cannot carry a BREAK", t->url, t->ops->kind);
		return -ENOTSUP;
	}
	if (t->fd < 0) {
		snprintf(t->err, sizeof(t->err), "%s is not open", t->url);
		return -EBADF;
	}
	/* A kind without a real BREAK still answers, so its reason (which
	 * alternatives exist) reaches the user. */
	return t->ops->send_break(t, ms);
}

void transport_close(struct transport *t)
{
	if (!t)
		return;
	if (t->fd >= 0 || t->priv || t->pid > 0)
		t->ops->close(t);
	t->fd = -1;
}

void transport_free(struct transport *t)
{
	if (!t)
		return;
	transport_close(t);
	free(t->url);
	free(t->target);
	free(t);
}

unsigned transport_caps(const struct transport *t)
{
	return t->ops->caps;
}
