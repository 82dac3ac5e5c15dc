/*
 * transport_sock.c — raw stream sockets: tcp:HOST:PORT (QEMU -serial tcp:,
 * ser2net raw, console servers) and unix:PATH (QEMU/libvirt chardevs).
 *
 * open() resolves and connects before it returns, so the console learns at
 * once whether the port is there; the socket is non-blocking afterwards.
 * Neither kind has a BREAK. telnet: reuses the tcp open and close.
 */
#define _GNU_SOURCE
#include "emsagent/transport.h"
#include "transport_priv.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* The whole budget for resolving and connecting, over every address a name
 * has: a dead host must not hold the loop for long; the console retries. */
#define CONNECT_TIMEOUT_MS 5000

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Splits the target transport_parse has already checked: "host:port",
 * "[v6]:port" or a bare "v6:port" (the port follows the last colon).
 */
static int split_hostport(const char *hp, char *host, size_t hsz, char *port, size_t psz)
{
	const char *h = hp, *he, *p;
	if (hp[0] == '[') {
		const char *rb = strchr(hp, ']');
		if (!rb || rb[1] != ':')
			return -1;
		h = hp + 1;
		he = rb;
		p = rb + 2;
	} else {
		he = strrchr(hp, ':');
		if (!he)
			return -1;
		p = he + 1;
	}
	size_t hl = (size_t)(he - h), pl = strlen(p);
	if (hl == 0 || hl >= hsz || pl == 0 || pl >= psz)
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	memcpy(port, p, pl + 1);
	return 0;
}

/* Waits for a non-blocking connect to finish; 0 or -errno. */
static int finish_connect(int fd, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - mono_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		int r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			return -errno;
		return soerr ? -soerr : 0;
	}
}

/* Console links live for months: keepalive finds a peer that vanished
 * without a FIN (host reset, NAT timeout) within about two minutes. */
static void tune_tcp(int fd)
{
	int one = 1, idle = 60, intvl = 10, cnt = 6;
	/* Best effort: a socket without these still works. */
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	/* Typed SAC input and single keys must not wait for Nagle. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int tcp_open(struct transport *t)
{
	char host[1024], port[16];
	if (split_hostport(t->target, host, sizeof(host), port, sizeof(port)) < 0) {
		snprintf(t->err, sizeof(t->err), "malformed HOST:PORT '%s'", t->target);
		return -EINVAL;
	}
	struct addrinfo hints = {
	    .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	int g = getaddrinfo(host, port, &hints, &res);
	if (g != 0) {
		int rc = g == EAI_SYSTEM ? -errno : g == EAI_MEMORY ? -ENOMEM : -EHOSTUNREACH;
		if (rc == 0)
			rc = -EHOSTUNREACH;
		snprintf(t->err, sizeof(t->err), "cannot resolve '%.120s': %s", host,
		         g == EAI_SYSTEM ? strerror(-rc) : gai_strerror(g));
		return rc;
	}
	int64_t deadline = mono_ms() + CONNECT_TIMEOUT_MS;
	int rc = -EHOSTUNREACH;
	char addr[INET6_ADDRSTRLEN + 8] = "";
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, sizeof(addr), NULL, 0, NI_NUMERICHOST) !=
		    0)
			snprintf(addr, sizeof(addr), "?");
		int fd =
		    socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			rc = 0;
		else if (errno == EINPROGRESS || errno == EINTR)
			rc = finish_connect(fd, deadline);
		else
			rc = -errno;
		if (rc == 0) {
			tune_tcp(fd);
			t->fd = fd;
			break;
		}
		close(fd);
		if (rc == -ETIMEDOUT)
			break; /* the budget is spent; later addresses would get none */
	}
	freeaddrinfo(res);
	if (rc < 0) {
		const char *why = rc == -ETIMEDOUT ? "timed out" : strerror(-rc);
		if (strcmp(addr, host) == 0 || !addr[0])
			snprintf(t->err, sizeof(t->err), "connect to %.120s port %s: %s", host, port, why);
		else
			snprintf(t->err, sizeof(t->err), "connect to %.100s (%s) port %s: %s", host, addr,
			         port, why);
	}
	return rc;
}

static int unix_open(struct transport *t)
{
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	size_t plen = strlen(t->target);
	socklen_t salen;
	if (t->target[0] == '@') {
		/* Abstract namespace: a leading NUL, the name not terminated. */
		if (plen > sizeof(sa.sun_path)) {
			snprintf(t->err, sizeof(t->err), "unix socket name too long: %s", t->target);
			return -ENAMETOOLONG;
		}
		memcpy(sa.sun_path + 1, t->target + 1, plen - 1);
		salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
	} else {
		if (plen >= sizeof(sa.sun_path)) {
			snprintf(t->err, sizeof(t->err), "unix socket path too long: %s", t->target);
			return -ENAMETOOLONG;
		}
		memcpy(sa.sun_path, t->target, plen + 1);
		salen = (socklen_t)sizeof(sa);
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		int e = errno;
		snprintf(t->err, sizeof(t->err), "socket: %s", strerror(e));
		return -e;
	}
	int rc = 0;
	if (connect(fd, (struct sockaddr *)&sa, salen) < 0) {
		rc = -errno;
		/* Local connects finish at once; EINPROGRESS is only seen after a
		 * signal interrupted one, so wait it out like tcp. */
		if (rc == -EINPROGRESS || rc == -EINTR)
			rc = finish_connect(fd, mono_ms() + CONNECT_TIMEOUT_MS);
	}
	if (rc < 0) {
		close(fd);
		if (rc == -EAGAIN)
			snprintf(t->err, sizeof(t->err),
			         "connect to unix socket %s: the server's backlog is full", t->target);
		else
			snprintf(t->err, sizeof(t->err), "connect to unix socket %s: %s", t->target,
			         strerror(-rc));
		return rc;
	}
	t->fd = fd;
	return 0;
}

static ssize_t sock_read(struct transport *t, void *buf, size_t n)
{
	ssize_t r = recv(t->fd, buf, n, 0);
	if (r >= 0)
		return r;
	int e = errno;
	if (e != EAGAIN && e != EINTR)
		snprintf(t->err, sizeof(t->err), "%s: read: %s", t->url, strerror(e));
	return -e;
}

static ssize_t sock_write(struct transport *t, const void *buf, size_t n)
{
	/* MSG_NOSIGNAL: a peer that went away must be an error, not SIGPIPE. */
	ssize_t w = send(t->fd, buf, n, MSG_NOSIGNAL);
	if (w >= 0)
		return w;
	int e = errno;
	if (e != EAGAIN && e != EINTR)
		snprintf(t->err, sizeof(t->err), "%s: write: %s", t->url, strerror(e));
	return -e;
}

static void sock_close(struct transport *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}

const struct transport_ops transport_tcp_ops = {
    .kind = "tcp",
    .caps = TRANSPORT_CAN_WRITE | TRANSPORT_IS_DEVICE,
    .open = tcp_open,
    .read = sock_read,
    .write = sock_write,
    .send_break = NULL,
    .close = sock_close,
};

const struct transport_ops transport_unix_ops = {
    .kind = "unix",
    .caps = TRANSPORT_CAN_WRITE | TRANSPORT_IS_DEVICE,
    .open = unix_open,
    .read = sock_read,
    .write = sock_write,
    .send_break = NULL,
    .close = sock_close,
};
