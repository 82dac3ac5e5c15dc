/*
 * test_transport_net.c — the transport front (URL parsing, the generic
 * wrappers) and the network kinds: tcp and unix against listening sockets
 * made here, telnet against a server this test plays byte by byte
 * (negotiation, escaping both ways, IAC BRK, RFC 2217). Loopback only; every
 * test runs under an alarm.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "emsagent/transport.h"
#include "emsagent/util.h"
#include "../../agent/transport_priv.h"

#define IAC  0xff
#define DONT 0xfe
#define DO   0xfd
#define WONT 0xfc
#define WILL 0xfb
#define SB   0xfa
#define SE   0xf0
#define BRK  0xf3
#define NOP  0xf1
#define DM   0xf2

static int guard_setup(void **state)
{
	(void)state;
	alarm(20); /* a hung socket test dies instead of hanging make check */
	return 0;
}

static int guard_teardown(void **state)
{
	(void)state;
	alarm(0);
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- peers -------------------------------------------------------------- */

/* A listening TCP socket on the loopback of family af, port chosen by the
 * kernel; -1 when that family is not available here. */
static int listen_tcp(int af, unsigned *port, bool do_listen)
{
	int fd = socket(af, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	socklen_t sl;
	if (af == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		sl = sizeof(*a);
	}
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || (do_listen && listen(fd, 4) < 0)) {
		close(fd);
		return -1;
	}
	sl = sizeof(ss);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &sl), 0);
	*port = af == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
	                      : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

static int listen_unix(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	socklen_t sl = sizeof(sa);
	if (path[0] == '@') {
		memcpy(sa.sun_path + 1, path + 1, strlen(path) - 1);
		sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	} else {
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	}
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sl), 0);
	assert_int_equal(listen(fd, 4), 0);
	return fd;
}

static int accept_one(int lfd)
{
	struct pollfd p = {.fd = lfd, .events = POLLIN};
	assert_int_equal(poll(&p, 1, 3000), 1);
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

static void srv_send(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		assert_true(w > 0);
		c += w;
		n -= (size_t)w;
	}
}

/* Reads exactly n bytes (or fails the test after 3 s) and compares. */
static void srv_expect(int fd, const void *exp, size_t n)
{
	unsigned char *got = xmalloc(n);
	size_t have = 0;
	int64_t end = now_ms() + 3000;
	while (have < n) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int left = (int)(end - now_ms());
		assert_true(left > 0);
		assert_int_equal(poll(&p, 1, left), 1);
		ssize_t r = read(fd, got + have, n - have);
		assert_true(r > 0);
		have += (size_t)r;
	}
	assert_memory_equal(got, exp, n);
	free(got);
}

/* Nothing more arrives at the server within ms: no answer loops. */
static void srv_expect_silence(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	assert_int_equal(poll(&p, 1, ms), 0);
}

/* Reads n console bytes from the transport (3 s at most) and compares. */
static void cli_expect(struct transport *t, const void *exp, size_t n)
{
	unsigned char *got = xmalloc(n + 1);
	size_t have = 0;
	int64_t end = now_ms() + 3000;
	while (have < n) {
		ssize_t r = transport_read(t, got + have, n - have);
		if (r == -EAGAIN) {
			struct pollfd p = {.fd = t->fd, .events = POLLIN};
			int left = (int)(end - now_ms());
			assert_true(left > 0);
			assert_int_equal(poll(&p, 1, left), 1);
			continue;
		}
		assert_true(r > 0);
		have += (size_t)r;
	}
	assert_memory_equal(got, exp, n);
	free(got);
}

/* Lets the client take in pending protocol bytes; none may be data. */
static void cli_pump(struct transport *t, int ms)
{
	int64_t end = now_ms() + ms;
	for (;;) {
		unsigned char b[256];
		ssize_t r = transport_read(t, b, sizeof(b));
		assert_int_equal(r, -EAGAIN);
		int left = (int)(end - now_ms());
		if (left <= 0)
			return;
		struct pollfd p = {.fd = t->fd, .events = POLLIN};
		(void)poll(&p, 1, left);
	}
}

/* Reads until the transport says the peer is gone (returns 0). */
static void cli_expect_eof(struct transport *t)
{
	int64_t end = now_ms() + 3000;
	for (;;) {
		unsigned char b[64];
		ssize_t r = transport_read(t, b, sizeof(b));
		if (r == 0)
			return;
		assert_int_equal(r, -EAGAIN);
		struct pollfd p = {.fd = t->fd, .events = POLLIN};
		int left = (int)(end - now_ms());
		assert_true(left > 0);
		assert_int_equal(poll(&p, 1, left), 1);
	}
}

static struct transport *parse_ok(const char *url, const struct transport_opts *o)
{
	struct transport *t = NULL;
	char err[256] = "";
	int rc = transport_parse(url, o, &t, err, sizeof(err));
	if (rc != 0)
		fail_msg("parse '%s': %s", url, err);
	assert_non_null(t);
	return t;
}

/* ---- URL forms ---------------------------------------------------------- */

static void test_opts_default(void **state)
{
	(void)state;
	struct transport_opts o;
	memset(&o, 0x5a, sizeof(o));
	transport_opts_default(&o);
	assert_int_equal(o.baud, 115200);
	assert_int_equal(o.data_bits, 8);
	assert_int_equal(o.parity, 'n');
	assert_int_equal(o.stop_bits, 1);
	assert_int_equal(o.flow, FLOW_NONE);
	assert_false(o.replay_realtime);
}

static void test_parse_forms(void **state)
{
	(void)state;
	static const struct {
		const char *url;
		const struct transport_ops *ops;
		const char *target;
	} cases[] = {
	    {"/dev/ttyS0", &transport_serial_ops, "/dev/ttyS0"},
	    {"/dev/ttyUSB0", &transport_serial_ops, "/dev/ttyUSB0"},
	    {"serial:/dev/ttyS1", &transport_serial_ops, "/dev/ttyS1"},
	    {"/dev/pts/3", &transport_pty_ops, "/dev/pts/3"},
	    {"pty:/dev/pts/7", &transport_pty_ops, "/dev/pts/7"},
	    {"pty:/tmp/qemu-serial-link", &transport_pty_ops, "/tmp/qemu-serial-link"},
	    {"tcp:localhost:2323", &transport_tcp_ops, "localhost:2323"},
	    {"tcp:127.0.0.1:1", &transport_tcp_ops, "127.0.0.1:1"},
	    {"tcp:10.0.0.1:65535", &transport_tcp_ops, "10.0.0.1:65535"},
	    {"tcp:[::1]:4000", &transport_tcp_ops, "[::1]:4000"},
	    {"tcp:::1:4000", &transport_tcp_ops, "::1:4000"},
	    {"tcp://console-server:7001", &transport_tcp_ops, "console-server:7001"},
	    {"TCP:host:80", &transport_tcp_ops, "host:80"},
	    {"telnet:ser2net.example:3001", &transport_telnet_ops, "ser2net.example:3001"},
	    {"telnet:[fe80::1%eth0]:23", &transport_telnet_ops, "[fe80::1%eth0]:23"},
	    {"unix:/run/vm1.sock", &transport_unix_ops, "/run/vm1.sock"},
	    {"unix:relative.sock", &transport_unix_ops, "relative.sock"},
	    {"unix:@abstract-name", &transport_unix_ops, "@abstract-name"},
	    {"exec:virsh console vm1", &transport_exec_ops, "virsh console vm1"},
	    {"file:/var/log/vm1.log", &transport_file_ops, "/var/log/vm1.log"},
	    {"file:saved.log", &transport_file_ops, "saved.log"},
	    {"-", &transport_file_ops, "-"},
	};
	struct transport_opts o;
	transport_opts_default(&o);
	o.baud = 9600;
	o.parity = 'e';
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct transport *t = parse_ok(cases[i].url, &o);
		if (t->ops != cases[i].ops)
			fail_msg("%s: kind %s", cases[i].url, t->ops->kind);
		assert_string_equal(t->target, cases[i].target);
		assert_string_equal(t->url, cases[i].url);
		assert_int_equal(t->fd, -1);
		assert_int_equal(t->pid, 0);
		assert_null(t->priv);
		assert_int_equal(t->opts.baud, 9600);
		assert_int_equal(t->opts.parity, 'e');
		transport_free(t);
	}
	/* No opts: the defaults. */
	struct transport *t = parse_ok("tcp:h:1", NULL);
	assert_int_equal(t->opts.baud, 115200);
	assert_int_equal(t->opts.data_bits, 8);
	transport_free(t);
}

static void test_parse_errors(void **state)
{
	(void)state;
	static const struct {
		const char *url;
		const char *msg; /* a substring of the reason */
	} cases[] = {
	    {"ftp://x", "unknown port kind 'ftp' in 'ftp://x' (expected a device path, serial:, pty:, tcp:, "
	                "telnet:, unix:, exec:, file: or -)"},
	    {"", "empty port"},
	    {"ttyS0", "relative device path 'ttyS0'"},
	    {"dev/ttyS0", "relative device path 'dev/ttyS0'"},
	    {"serial:ttyUSB0", "relative device path 'ttyUSB0' in 'serial:ttyUSB0'"},
	    {"pty:pts/3", "relative device path"},
	    {"serial:", "empty path in 'serial:'"},
	    {"pty:", "empty path in 'pty:'"},
	    {"tcp:host", "missing port number in 'tcp:host' (expected tcp:HOST:PORT)"},
	    {"tcp:host:", "missing port number in 'tcp:host:'"},
	    {"tcp:", "missing host in 'tcp:'"},
	    {"tcp::80", "missing host in 'tcp::80'"},
	    {"tcp:h:0", "port 0 in 'tcp:h:0' out of range (1-65535)"},
	    {"tcp:h:65536", "out of range"},
	    {"tcp:h:99999999999999999999999", "out of range"},
	    {"tcp:h:http", "port 'http' in 'tcp:h:http' is not a number"},
	    {"tcp:h:-1", "is not a number"},
	    {"tcp:[::1]", "missing port number"},
	    {"tcp:[::1:80", "malformed [address]"},
	    {"tcp:[::1]80", "malformed [address]"},
	    {"tcp:[]:80", "missing host"},
	    {"tcp:my host:80", "malformed host"},
	    {"telnet:h", "missing port number in 'telnet:h' (expected telnet:HOST:PORT)"},
	    {"telnet:h:70000", "out of range"},
	    {"unix:", "empty path in 'unix:'"},
	    {"unix:@", "empty path"},
	    {"exec:", "empty command in 'exec:'"},
	    {"exec:   ", "empty command"},
	    {"file:", "empty path in 'file:'"},
	    {"tcp:h:1\n", "control character (0x0a)"},
	    {"/dev/tty\x1b[2J", "control character (0x1b)"},
	    {"gopher:x", "unknown port kind 'gopher'"},
	    {"vmhost:2323",
	     "unknown port kind 'vmhost' in 'vmhost:2323' (expected a device path, serial:, pty:, "
	     "tcp:, telnet:, unix:, exec:, file: or -); did you mean tcp:vmhost:2323?"},
	    {"exec:virsh console 'vm1",
	     "bad command in 'exec:virsh console 'vm1': unterminated single quote"},
	    {"exec:virsh console vm1 | tee x", "bad command"},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct transport *t = (struct transport *)1;
		char err[256] = "";
		assert_int_equal(transport_parse(cases[i].url, NULL, &t, err, sizeof(err)), -1);
		assert_null(t);
		if (!strstr(err, cases[i].msg))
			fail_msg("'%s': got \"%s\", want \"%s\"", cases[i].url, err, cases[i].msg);
		assert_null(strchr(err, '\n')); /* one line */
	}
	/* A unix path that does not fit sun_path. */
	char url[300] = "unix:/";
	memset(url + 6, 'a', 200);
	url[206] = '\0';
	char err[256];
	struct transport *t = NULL;
	assert_int_equal(transport_parse(url, NULL, &t, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too long (201 bytes, at most 107)"));
	/* An argument beyond any sane length. */
	char *big = xmalloc(5000);
	memset(big, 'a', 4999);
	big[0] = '/';
	big[4999] = '\0';
	assert_int_equal(transport_parse(big, NULL, &t, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too long"));
	free(big);
	/* A tiny error buffer still gets a terminated prefix. */
	char small[8];
	assert_int_equal(transport_parse("ftp:x", NULL, &t, small, sizeof(small)), -1);
	assert_string_equal(small, "unknown");
}

static void test_parse_bad_opts(void **state)
{
	(void)state;
	struct transport_opts o;
	struct transport *t = NULL;
	char err[256];

	transport_opts_default(&o);
	o.data_bits = 9;
	assert_int_equal(transport_parse("tcp:h:1", &o, &t, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "data bits 9 out of range (5-8)"));

	transport_opts_default(&o);
	o.parity = 'x';
	assert_int_equal(transport_parse("/dev/ttyS0", &o, &t, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown parity 'x'"));

	transport_opts_default(&o);
	o.parity = '\0';
	assert_int_equal(transport_parse("/dev/ttyS0", &o, &t, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown parity"));

	transport_opts_default(&o);
	o.stop_bits = 3;
	assert_int_equal(transport_parse("/dev/ttyS0", &o, &t, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "stop bits 3"));

	transport_opts_default(&o);
	o.baud = 0;
	assert_int_equal(transport_parse("/dev/ttyS0", &o, &t, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "baud rate 0 out of range"));

	transport_opts_default(&o);
	o.flow = (enum transport_flow)7;
	assert_int_equal(transport_parse("/dev/ttyS0", &o, &t, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "flow control"));
	assert_null(t);
}

/* ---- the generic wrappers ----------------------------------------------- */

static void test_wrappers_closed(void **state)
{
	(void)state;
	struct transport *t = parse_ok("tcp:127.0.0.1:9", NULL);
	char b[8];
	assert_int_equal(transport_read(t, b, sizeof(b)), -EBADF);
	assert_non_null(strstr(t->err, "not open"));
	assert_int_equal(transport_write(t, "x", 1), -EBADF);
	/* tcp has no BREAK whatever its state. */
	assert_int_equal(transport_send_break(t, 250), -ENOTSUP);
	assert_non_null(strstr(t->err, "cannot carry a BREAK"));
	assert_int_equal(transport_caps(t), TRANSPORT_CAN_WRITE | TRANSPORT_IS_DEVICE);
	transport_close(t);
	transport_close(t); /* harmless twice */
	transport_free(t);
	transport_free(NULL);

	t = parse_ok("unix:/nonexistent", NULL);
	assert_int_equal(transport_caps(t), TRANSPORT_CAN_WRITE | TRANSPORT_IS_DEVICE);
	transport_free(t);
	t = parse_ok("telnet:h:23", NULL);
	assert_int_equal(transport_caps(t), TRANSPORT_CAN_WRITE | TRANSPORT_CAN_BREAK | TRANSPORT_IS_DEVICE);
	transport_free(t);
}

/* ---- tcp ---------------------------------------------------------------- */

static void test_tcp_exchange(void **state)
{
	(void)state;
	unsigned port;
	int lfd = listen_tcp(AF_INET, &port, true);
	assert_true(lfd >= 0);
	char url[64];
	snprintf(url, sizeof(url), "tcp:127.0.0.1:%u", port);
	struct transport *t = parse_ok(url, NULL);
	assert_int_equal(transport_open(t), 0);
	assert_true(t->fd >= 0);
	assert_true(fcntl(t->fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(t->fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(transport_open(t), -EALREADY);
	int s = accept_one(lfd);

	char b[16];
	assert_int_equal(transport_read(t, b, sizeof(b)), -EAGAIN);
	assert_int_equal(transport_read(t, b, 0), -EINVAL);
	/* Raw TCP: 0xFF and NUL pass untouched both ways. */
	srv_send(s, "boot\xff\x00ok\r\n", 10);
	cli_expect(t, "boot\xff\x00ok\r\n", 10);
	assert_int_equal(transport_write(t, "cmd\xff\r", 5), 5);
	srv_expect(s, "cmd\xff\r", 5);

	close(s);
	cli_expect_eof(t);
	/* The console reopens the same transport after a loss. */
	transport_close(t);
	assert_int_equal(t->fd, -1);
	assert_int_equal(transport_open(t), 0);
	s = accept_one(lfd);
	srv_send(s, "again", 5);
	cli_expect(t, "again", 5);
	close(s);
	transport_free(t);
	close(lfd);
}

static void test_tcp_by_name(void **state)
{
	(void)state;
	unsigned port;
	int lfd = listen_tcp(AF_INET, &port, true);
	assert_true(lfd >= 0);
	char url[64];
	snprintf(url, sizeof(url), "tcp://localhost:%u", port);
	struct transport *t = parse_ok(url, NULL);
	assert_int_equal(transport_open(t), 0);
	int s = accept_one(lfd);
	assert_int_equal(transport_write(t, "hi", 2), 2);
	srv_expect(s, "hi", 2);
	close(s);
	transport_free(t);
	close(lfd);
}

static void test_tcp_ipv6(void **state)
{
	(void)state;
	unsigned port;
	int lfd = listen_tcp(AF_INET6, &port, true);
	if (lfd < 0)
		skip(); /* no IPv6 loopback on this machine */
	const char *forms[] = {"tcp:[::1]", "tcp:::1"};
	for (size_t i = 0; i < ARRAY_LEN(forms); i++) {
		char url[64];
		snprintf(url, sizeof(url), "%s:%u", forms[i], port);
		struct transport *t = parse_ok(url, NULL);
		assert_int_equal(transport_open(t), 0);
		int s = accept_one(lfd);
		srv_send(s, "v6", 2);
		cli_expect(t, "v6", 2);
		close(s);
		transport_free(t);
	}
	close(lfd);
}

static void test_tcp_refused(void **state)
{
	(void)state;
	unsigned port;
	/* Bound but not listening: the port stays ours and refuses. */
	int bfd = listen_tcp(AF_INET, &port, false);
	assert_true(bfd >= 0);
	char url[64];
	snprintf(url, sizeof(url), "tcp:127.0.0.1:%u", port);
	struct transport *t = parse_ok(url, NULL);
	assert_int_equal(transport_open(t), -ECONNREFUSED);
	assert_int_equal(t->fd, -1);
	assert_non_null(strstr(t->err, "127.0.0.1"));
	assert_non_null(strstr(t->err, "Connection refused"));
	transport_free(t);

	snprintf(url, sizeof(url), "telnet:127.0.0.1:%u", port);
	t = parse_ok(url, NULL);
	assert_int_equal(transport_open(t), -ECONNREFUSED);
	assert_non_null(strstr(t->err, "Connection refused"));
	assert_null(t->priv);
	transport_free(t);
	close(bfd);
}

/* A peer that stops reading: transport_write gives up within its bound and
 * reports how much went out, then -EAGAIN with a reason. */
static void test_tcp_write_bounded(void **state)
{
	(void)state;
	unsigned port;
	int lfd = listen_tcp(AF_INET, &port, true);
	char url[64];
	snprintf(url, sizeof(url), "tcp:127.0.0.1:%u", port);
	struct transport *t = parse_ok(url, NULL);
	assert_int_equal(transport_open(t), 0);
	int s = accept_one(lfd);
	int small = 4096;
	assert_int_equal(setsockopt(t->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	assert_int_equal(setsockopt(s, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);

	size_t n = 4 << 20;
	char *big = xmalloc(n);
	memset(big, 'x', n);
	int64_t t0 = now_ms();
	ssize_t w = transport_write(t, big, n);
	int64_t took = now_ms() - t0;
	assert_true(w > 0 && (size_t)w < n);
	assert_true(took >= 90 && took < 1000);
	t0 = now_ms();
	assert_int_equal(transport_write(t, big, n), -EAGAIN);
	took = now_ms() - t0;
	assert_true(took >= 90 && took < 1000);
	assert_non_null(strstr(t->err, "not reading"));

	/* Everything accepted arrives, in order. */
	srv_expect(s, big, (size_t)w);
	free(big);
	close(s);
	/* Writing to a peer that is gone is an error, never SIGPIPE. */
	int64_t end = now_ms() + 3000;
	ssize_t r;
	while ((r = transport_write(t, "x", 1)) == 1 && now_ms() < end)
		usleep(1000);
	assert_true(r == -EPIPE || r == -ECONNRESET);
	transport_free(t);
	close(lfd);
}

/* ---- unix --------------------------------------------------------------- */

static void test_unix(void **state)
{
	(void)state;
	char dir[] = "/tmp/emsagent-tnet-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[128], url[160];
	snprintf(path, sizeof(path), "%s/vm1.sock", dir);
	snprintf(url, sizeof(url), "unix:%s", path);
	struct transport *t = parse_ok(url, NULL);

	/* Not there yet: -ENOENT, which the console retries. */
	assert_int_equal(transport_open(t), -ENOENT);
	assert_non_null(strstr(t->err, path));
	assert_int_equal(t->fd, -1);

	int lfd = listen_unix(path);
	assert_int_equal(transport_open(t), 0);
	assert_true(fcntl(t->fd, F_GETFL) & O_NONBLOCK);
	int s = accept_one(lfd);
	srv_send(s, "Linux version 6.1\r\n", 19);
	cli_expect(t, "Linux version 6.1\r\n", 19);
	assert_int_equal(transport_write(t, "\x03", 1), 1);
	srv_expect(s, "\x03", 1);
	close(s);
	cli_expect_eof(t);
	transport_close(t);

	/* The socket file stays but nobody listens: refused. */
	close(lfd);
	assert_int_equal(transport_open(t), -ECONNREFUSED);
	assert_non_null(strstr(t->err, "Connection refused"));
	transport_free(t);
	unlink(path);
	rmdir(dir);
}

static void test_unix_abstract(void **state)
{
	(void)state;
	char name[64], url[80];
	snprintf(name, sizeof(name), "@emsagent-test-%d", (int)getpid());
	snprintf(url, sizeof(url), "unix:%s", name);
	int lfd = listen_unix(name);
	struct transport *t = parse_ok(url, NULL);
	assert_int_equal(transport_open(t), 0);
	int s = accept_one(lfd);
	srv_send(s, "abs", 3);
	cli_expect(t, "abs", 3);
	close(s);
	transport_free(t);
	close(lfd);
}

/* ---- telnet ------------------------------------------------------------- */

static const unsigned char tn_hello[] = {IAC, WILL, 0, IAC, DO,   0,  IAC, WILL, 3,
                                         IAC, DO,   3, IAC, WILL, 44, IAC, DO,   44};

struct tn_peer {
	int lfd, s;
	struct transport *t;
};

/* Connects a telnet transport to a server played here and checks what the
 * client asks for first. */
static void tn_start_buf(struct tn_peer *p, const struct transport_opts *o, int rcvbuf)
{
	unsigned port;
	p->lfd = listen_tcp(AF_INET, &port, true);
	assert_true(p->lfd >= 0);
	/* Set on the listener so the accepted socket starts with a small
	 * window: set later, the window already advertised stays. */
	if (rcvbuf)
		assert_int_equal(setsockopt(p->lfd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
	char url[64];
	snprintf(url, sizeof(url), "telnet:127.0.0.1:%u", port);
	p->t = parse_ok(url, o);
	assert_int_equal(transport_open(p->t), 0);
	p->s = accept_one(p->lfd);
	srv_expect(p->s, tn_hello, sizeof(tn_hello));
}

static void tn_start(struct tn_peer *p, const struct transport_opts *o)
{
	tn_start_buf(p, o, 0);
}

static void tn_stop(struct tn_peer *p)
{
	if (p->s >= 0)
		close(p->s);
	transport_free(p->t);
	close(p->lfd);
}

/* The server agrees to BINARY and SGA both ways and declines COM-PORT. */
static void tn_agree_binary(struct tn_peer *p)
{
	const unsigned char agree[] = {IAC, DO,   0, IAC, WILL, 0,  IAC, DO,   3,
	                               IAC, WILL, 3, IAC, WONT, 44, IAC, DONT, 44};
	srv_send(p->s, agree, sizeof(agree));
	cli_pump(p->t, 50);
	srv_expect_silence(p->s, 50); /* every request was answered already */
}

static void test_telnet_negotiation(void **state)
{
	(void)state;
	struct tn_peer p;
	tn_start(&p, NULL);
	tn_agree_binary(&p);

	/* Refused options: ECHO offered, TTYPE and NAWS asked for. */
	const unsigned char offers[] = {IAC, WILL, 1, IAC, DO, 24, IAC, DO, 31};
	srv_send(p.s, offers, sizeof(offers));
	cli_pump(p.t, 30);
	const unsigned char refusals[] = {IAC, DONT, 1, IAC, WONT, 24, IAC, WONT, 31};
	srv_expect(p.s, refusals, sizeof(refusals));
	srv_expect_silence(p.s, 50);

	/* Repeating what is already agreed gets no answer (no loop); taking an
	 * agreed option back is acknowledged exactly once. */
	const unsigned char again[] = {IAC, DO, 0, IAC, WILL, 3, IAC, DONT, 3, IAC, DONT, 3};
	srv_send(p.s, again, sizeof(again));
	cli_pump(p.t, 30);
	const unsigned char ack[] = {IAC, WONT, 3};
	srv_expect(p.s, ack, sizeof(ack));
	srv_expect_silence(p.s, 50);
	/* And asked again, it is wanted again. */
	const unsigned char redo[] = {IAC, DO, 3};
	srv_send(p.s, redo, sizeof(redo));
	cli_pump(p.t, 30);
	const unsigned char rewill[] = {IAC, WILL, 3};
	srv_expect(p.s, rewill, sizeof(rewill));
	srv_expect_silence(p.s, 50);
	tn_stop(&p);
}

static void test_telnet_escaping(void **state)
{
	(void)state;
	struct tn_peer p;
	tn_start(&p, NULL);
	tn_agree_binary(&p);

	/* Server → client: IAC IAC is one 0xFF; commands and SBs vanish. */
	const unsigned char in[] = {
	    'a', IAC, IAC, 'b', IAC, NOP, 'c', IAC,           DM,   IAC,  SB,  24,  1,
	    IAC, IAC, 'x', IAC, SE,  'd', IAC, 0xf9 /* GA */, '\r', '\0', 'e', IAC, 17 /* undefined */,
	    'f'};
	srv_send(p.s, in, sizeof(in));
	/* BINARY is on, so CR NUL is two data bytes. */
	cli_expect(p.t,
	           "a\xff"
	           "bc"
	           "d\r\0e"
	           "f",
	           9);

	/* Client → server: 0xFF doubled; CR passes alone in BINARY. */
	assert_int_equal(transport_write(p.t, "q\xffr\r\xff", 5), 5);
	const unsigned char out[] = {'q', IAC, IAC, 'r', '\r', IAC, IAC};
	srv_expect(p.s, out, sizeof(out));

	/* A command split over several TCP segments. */
	const unsigned char part1[] = {'1', IAC};
	const unsigned char part2[] = {IAC, '2', IAC};
	const unsigned char part3[] = {SB, 44};
	const unsigned char part4[] = {101, 0, 1, IAC};
	const unsigned char part5[] = {SE, '3'};
	srv_send(p.s, part1, sizeof(part1));
	cli_expect(p.t, "1", 1);
	srv_send(p.s, part2, sizeof(part2));
	cli_expect(p.t,
	           "\xff"
	           "2",
	           2);
	srv_send(p.s, part3, sizeof(part3));
	cli_pump(p.t, 20);
	srv_send(p.s, part4, sizeof(part4));
	cli_pump(p.t, 20);
	srv_send(p.s, part5, sizeof(part5));
	cli_expect(p.t, "3", 1);

	/* Only protocol bytes: the read says "nothing yet", never "gone". */
	const unsigned char only[] = {IAC, NOP, IAC, NOP, IAC, DO, 0};
	srv_send(p.s, only, sizeof(only));
	cli_pump(p.t, 30);

	/* BREAK: IAC BRK when COM-PORT is off. */
	assert_int_equal(transport_send_break(p.t, 250), 0);
	const unsigned char brk[] = {IAC, BRK};
	srv_expect(p.s, brk, sizeof(brk));
	srv_expect_silence(p.s, 30);

	/* Bytes sent just before the close are delivered, then the end. */
	srv_send(p.s, "bye", 3);
	close(p.s);
	p.s = -1;
	cli_expect(p.t, "bye", 3);
	cli_expect_eof(p.t);
	tn_stop(&p);
}

static void test_telnet_nonbinary(void **state)
{
	(void)state;
	struct tn_peer p;
	tn_start(&p, NULL);
	/* A plain NVT server: no BINARY either way. */
	const unsigned char refuse[] = {IAC, DONT, 0, IAC, WONT, 0,  IAC, DO,   3,
	                                IAC, WILL, 3, IAC, DONT, 44, IAC, WONT, 44};
	srv_send(p.s, refuse, sizeof(refuse));
	cli_pump(p.t, 50);
	srv_expect_silence(p.s, 30);

	/* Outgoing bare CR becomes CR NUL; CR LF stays. */
	assert_int_equal(transport_write(p.t, "a\rb\r\nc\r", 7), 7);
	const unsigned char out[] = {'a', '\r', 0, 'b', '\r', '\n', 'c', '\r', 0};
	srv_expect(p.s, out, sizeof(out));

	/* Incoming CR NUL is a CR, also when the NUL comes in the next read. */
	srv_send(p.s, "x\r\0y\r\n", 6);
	cli_expect(p.t, "x\ry\r\n", 5);
	srv_send(p.s, "z\r", 2);
	cli_expect(p.t, "z\r", 2);
	srv_send(p.s, "\0w", 2);
	cli_expect(p.t, "w", 1);
	/* A NUL not after CR is data. */
	srv_send(p.s, "\0v", 2);
	cli_expect(p.t, "\0v", 2);
	tn_stop(&p);
}

/* RFC 2217 offered by the server (WILL): line settings from opts, BREAK by
 * SET-CONTROL, not IAC BRK. */
static void test_telnet_rfc2217_will(void **state)
{
	(void)state;
	struct transport_opts o;
	transport_opts_default(&o);
	o.baud = 9600;
	o.data_bits = 7;
	o.parity = 'e';
	o.stop_bits = 2;
	o.flow = FLOW_RTSCTS;
	struct tn_peer p;
	tn_start(&p, &o);
	const unsigned char offer[] = {IAC, DO,   0, IAC, WILL, 0,  IAC, DO,   3,
	                               IAC, WILL, 3, IAC, WILL, 44, IAC, DONT, 44};
	srv_send(p.s, offer, sizeof(offer));
	cli_pump(p.t, 50);
	const unsigned char settings[] = {
	    IAC, SB, 44, 1, 0x00, 0x00, 0x25, 0x80, IAC, SE, /* SET-BAUDRATE 9600 */
	    IAC, SB, 44, 2, 7,    IAC,  SE,                  /* SET-DATASIZE 7 */
	    IAC, SB, 44, 3, 3,    IAC,  SE,                  /* SET-PARITY EVEN */
	    IAC, SB, 44, 4, 2,    IAC,  SE,                  /* SET-STOPSIZE 2 */
	    IAC, SB, 44, 5, 3,    IAC,  SE,                  /* SET-CONTROL hardware flow */
	};
	srv_expect(p.s, settings, sizeof(settings));
	srv_expect_silence(p.s, 30);

	/* The server's acknowledgements (command + 100) are stripped. */
	const unsigned char acks[] = {IAC, SB, 44, 101, 0, 0, 0x25, 0x80, IAC, SE, 'o', 'k'};
	srv_send(p.s, acks, sizeof(acks));
	cli_expect(p.t, "ok", 2);

	int64_t t0 = now_ms();
	assert_int_equal(transport_send_break(p.t, 40), 0);
	assert_true(now_ms() - t0 >= 40);
	const unsigned char brk[] = {IAC, SB, 44, 5, 5, IAC, SE, IAC, SB, 44, 5, 6, IAC, SE};
	srv_expect(p.s, brk, sizeof(brk));
	srv_expect_silence(p.s, 30);

	/* The server withdraws it: BREAK falls back to IAC BRK. */
	const unsigned char wont[] = {IAC, WONT, 44};
	srv_send(p.s, wont, sizeof(wont));
	cli_pump(p.t, 30);
	const unsigned char dont[] = {IAC, DONT, 44};
	srv_expect(p.s, dont, sizeof(dont));
	assert_int_equal(transport_send_break(p.t, 40), 0);
	const unsigned char iacbrk[] = {IAC, BRK};
	srv_expect(p.s, iacbrk, sizeof(iacbrk));
	tn_stop(&p);
}

/* RFC 2217 the way ser2net answers (DO to our WILL), and a server saying
 * both: the settings go out once; 0xFF inside a value is doubled. */
static void test_telnet_rfc2217_do(void **state)
{
	(void)state;
	struct transport_opts o;
	transport_opts_default(&o);
	o.baud = 0x0001ffff; /* 131071: two 0xFF bytes in the value */
	struct tn_peer p;
	tn_start(&p, &o);
	const unsigned char answer[] = {IAC, DO, 44, IAC, WILL, 44, IAC, DO, 0, IAC, WILL, 0};
	srv_send(p.s, answer, sizeof(answer));
	cli_pump(p.t, 50);
	const unsigned char settings[] = {
	    IAC, SB, 44, 1, 0x00, 0x01, IAC, IAC, IAC, IAC, IAC, SE,          /* baud, escaped */
	    IAC, SB, 44, 2, 8,    IAC,  SE,  IAC, SB,  44,  3,   1,  IAC, SE, /* no parity */
	    IAC, SB, 44, 4, 1,    IAC,  SE,  IAC, SB,  44,  5,   1,  IAC, SE, /* no flow */
	};
	srv_expect(p.s, settings, sizeof(settings));
	srv_expect_silence(p.s, 50);

	/* ms 0 means the default length; the pair still goes out. */
	assert_int_equal(transport_send_break(p.t, 0), 0);
	const unsigned char brk[] = {IAC, SB, 44, 5, 5, IAC, SE, IAC, SB, 44, 5, 6, IAC, SE};
	srv_expect(p.s, brk, sizeof(brk));
	tn_stop(&p);
}

/* A subnegotiation that never ends must not eat the console forever. */
static void test_telnet_unterminated_sb(void **state)
{
	(void)state;
	struct tn_peer p;
	tn_start(&p, NULL);
	tn_agree_binary(&p);
	size_t n = 3 + 4000;
	unsigned char *junk = xmalloc(n);
	junk[0] = IAC;
	junk[1] = SB;
	junk[2] = 24;
	memset(junk + 3, 'j', n - 3);
	srv_send(p.s, junk, n);
	/* Some of the tail comes out as text; what matters is that later
	 * text does, and nothing hangs. */
	srv_send(p.s, "MARK", 4);
	char buf[8192];
	size_t have = 0;
	int64_t end = now_ms() + 3000;
	while (!memmem(buf, have, "MARK", 4)) {
		ssize_t r = transport_read(p.t, buf + have, sizeof(buf) - have);
		if (r == -EAGAIN) {
			struct pollfd pf = {.fd = p.t->fd, .events = POLLIN};
			assert_true(now_ms() < end);
			assert_int_equal(poll(&pf, 1, (int)(end - now_ms())), 1);
			continue;
		}
		assert_true(r > 0);
		have += (size_t)r;
	}
	assert_true(have < n); /* at least the bounded part was stripped */
	free(junk);
	tn_stop(&p);
}

/* Many 0xFF bytes through a socket that fills up: each goes out as a whole
 * IAC IAC pair in the end, none lost, none torn, none doubled twice. */
static void test_telnet_write_pressure(void **state)
{
	(void)state;
	struct tn_peer p;
	tn_start_buf(&p, NULL, 4096);
	tn_agree_binary(&p);
	int small = 4096;
	assert_int_equal(setsockopt(p.t->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	size_t n = 100001; /* odd, so pairs straddle every boundary sometime */
	unsigned char *src = xmalloc(n);
	memset(src, 0xff, n);
	src[n - 1] = 'E';
	size_t want = 2 * (n - 1) + 1, got = 0, sent = 0;
	unsigned char rb[65536];
	int64_t end = now_ms() + 10000;
	while (got < want) {
		assert_true(now_ms() < end);
		if (sent < n) {
			/* The kind's own write: no waiting, every short send shows. */
			ssize_t w = p.t->ops->write(p.t, src + sent, n - sent);
			assert_true(w > 0 || w == -EAGAIN);
			if (w > 0)
				sent += (size_t)w;
		} else {
			/* A zero-length write pushes out a held-back tail. */
			assert_int_equal(transport_write(p.t, NULL, 0), 0);
		}
		struct pollfd pf = {.fd = p.s, .events = POLLIN};
		assert_int_equal(poll(&pf, 1, 2000), 1);
		ssize_t r = read(p.s, rb, sizeof(rb));
		assert_true(r > 0);
		for (ssize_t i = 0; i < r; i++) {
			unsigned char expect = got + (size_t)i == want - 1 ? 'E' : 0xff;
			if (rb[i] != expect)
				fail_msg("byte %zu is 0x%02x", got + (size_t)i, rb[i]);
		}
		got += (size_t)r;
	}
	assert_int_equal(sent, n);
	srv_expect_silence(p.s, 30);
	free(src);
	tn_stop(&p);
}

/* A server that floods requests and never reads our answers is cut off
 * with a reason once our bounded queue is full. */
static void test_telnet_flood(void **state)
{
	(void)state;
	struct tn_peer p;
	tn_start_buf(&p, NULL, 4096);
	int small = 4096;
	assert_int_equal(setsockopt(p.t->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	const unsigned char req[] = {IAC, DO, 24};
	unsigned char chunk[3 * 1024];
	for (size_t i = 0; i < sizeof(chunk); i += 3)
		memcpy(chunk + i, req, 3);
	int fl = fcntl(p.s, F_GETFL);
	fcntl(p.s, F_SETFL, fl | O_NONBLOCK);
	ssize_t r = 0;
	int64_t end = now_ms() + 8000;
	size_t pushed = 0;
	for (;;) {
		if (now_ms() >= end)
			fail_msg("pushed %zu", pushed);
		if (pushed < 200 * sizeof(chunk)) {
			ssize_t w = write(p.s, chunk, sizeof(chunk));
			if (w > 0)
				pushed += (size_t)w;
		}
		unsigned char b[512];
		r = transport_read(p.t, b, sizeof(b));
		if (r == -ENOBUFS)
			break;
		assert_true(r == -EAGAIN);
	}
	assert_non_null(strstr(p.t->err, "floods"));
	/* The connection stays failed until the console reopens it. */
	p.t->err[0] = '\0';
	assert_int_equal(transport_write(p.t, "x", 1), -ENOBUFS);
	assert_non_null(strstr(p.t->err, "floods"));
	unsigned char b[8];
	assert_int_equal(transport_read(p.t, b, sizeof(b)), -ENOBUFS);
	tn_stop(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_opts_default, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_parse_forms, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_parse_errors, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_parse_bad_opts, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_wrappers_closed, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_tcp_exchange, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_tcp_by_name, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_tcp_ipv6, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_tcp_refused, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_tcp_write_bounded, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_unix, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_unix_abstract, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_telnet_negotiation, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_telnet_escaping, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_telnet_nonbinary, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_telnet_rfc2217_will, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_telnet_rfc2217_do, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_telnet_unterminated_sb, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_telnet_write_pressure, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_telnet_flood, guard_setup, guard_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
