/*
 * guestsim.c — serves ONE simulated Windows guest (sacsim.c) on a pty, a
 * unix socket, a TCP port or a telnet port, with an optional QMP socket,
 * playing a scenario (scenario.c) on a clock that --time-scale speeds up.
 *
 * Usage: guestsim [--pty | --unix PATH | --tcp PORT | --telnet PORT]
 *                 [--qmp PATH] [--scenario FILE] [--time-scale X]
 *                 [--log FILE] [--wait] [--check]
 *   --pty          raw pty; the slave path is stdout line 1
 *   --unix/--tcp   one client at a time; the port/path is stdout line 1
 *   --telnet       like --tcp, answers BINARY/SGA negotiation, unescapes
 *                  IAC IAC, logs IAC BRK (Windows has no BREAK semantics)
 *   --qmp PATH     QMP: qmp_capabilities, inject-nmi (bug check 0x80),
 *                  system_reset (reboot), query-status
 *   --wait         power on when the first client attaches (QEMU's wait=on),
 *                  so a test sees the boot from its first byte
 *   --check        load the scenario, report errors, exit (0 ok, 1 bad)
 * As on a real serial port, output while no client is attached is lost.
 * Simulated time = real elapsed time × --time-scale (900: 30 min in 2 s).
 * SIGTERM/SIGINT exit 0; exit 1 on errors, 2 on usage errors.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdarg.h>
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

#include <json.h>

#include "emsagent/util.h"
#include "sacsim.h"
#include "scenario.h"

#define OUTQ_MAX    ((size_t)1 << 20) /* a client that stops reading loses output, like a UART */
#define QMP_MAX_MSG ((size_t)64 << 10)
#define NAP_NS      (10 * NS_PER_MS) /* pty attach is only visible by looking again */

enum mode { MODE_NONE, MODE_PTY, MODE_UNIX, MODE_TCP, MODE_TELNET };

/* telnet bytes (RFC 854/856/858) */
enum {
	T_SE = 240,
	T_BRK = 243,
	T_SB = 250,
	T_WILL = 251,
	T_WONT = 252,
	T_DO = 253,
	T_DONT = 254,
	T_IAC = 255,
	T_BINARY = 0,
	T_SGA = 3,
};

enum tstate { TST_DATA, TST_IAC, TST_VERB, TST_SB, TST_SB_IAC, TST_CR };

struct tnet {
	enum tstate st;
	uint8_t verb;
	bool us[256];      /* options we perform (WILL sent / agreed) */
	bool them[256];    /* options the client performs (DO sent / agreed) */
	bool refused[256]; /* an unsupported option was refused once already */
	size_t sblen;
};

struct qmp {
	int listen_fd, fd;
	const char *path;
	json_tokener *tok;
	size_t pending; /* bytes fed into an object not yet complete */
	bool negotiated;
	struct buf out;
};

struct gs {
	enum mode mode;
	const char *sock_path;
	bool unlink_sock;
	unsigned port;
	int listen_fd, conn_fd, master_fd;
	bool pty_attached;
	bool wait_client, powered;
	struct tnet tn;
	struct qmp qmp;
	double scale;
	int64_t start;
	struct scenario sc;
	struct sacsim *sim;
	struct buf outq;
	size_t dropped; /* output lost to a full queue since the last note */
	int64_t boot_at;
	unsigned boots;
	size_t next_step;
	bool timeline_on;
	int64_t reboot_at; /* simulated time of a pending auto-reboot, or -1 */
	FILE *log;
	sigset_t run_mask;
};

static volatile sig_atomic_t stop_signal;

static void on_stop(int signo)
{
	stop_signal = signo;
}

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

static int64_t sim_now(const struct gs *g)
{
	return (int64_t)((double)(mono_ns() - g->start) * g->scale);
}

/* The real monotonic time at which simulated time reaches t. */
static int64_t real_at(const struct gs *g, int64_t t)
{
	double r = (double)t / g->scale + (double)g->start;
	return r >= 9e18 ? INT64_MAX : (int64_t)ceil(r);
}

static void logf_(struct gs *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(struct gs *g, const char *fmt, ...)
{
	int64_t t = sim_now(g);
	fprintf(g->log, "guestsim [%lld.%03lld] ", (long long)(t / NS_PER_SEC),
	        (long long)(t % NS_PER_SEC / NS_PER_MS));
	va_list ap;
	va_start(ap, fmt);
	vfprintf(g->log, fmt, ap);
	va_end(ap);
	fputc('\n', g->log);
	fflush(g->log);
}

static void usage(const char *msg)
{
	fprintf(stderr, "guestsim: %s\n", msg);
	fprintf(stderr,
	        "usage: guestsim [--pty | --unix PATH | --tcp PORT | --telnet PORT] [--qmp PATH]\n"
	        "                [--scenario FILE] [--time-scale X] [--log FILE] [--wait] [--check]\n");
	exit(2);
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* ---- the console side ---- */

static bool attached(const struct gs *g)
{
	return g->mode == MODE_PTY ? g->pty_attached : g->conn_fd >= 0;
}

static int console_fd(const struct gs *g)
{
	return g->mode == MODE_PTY ? g->master_fd : g->conn_fd;
}

static void queue_out(struct gs *g, const void *p, size_t n)
{
	if (g->outq.len + n > OUTQ_MAX) {
		g->dropped += n;
		return;
	}
	buf_append(&g->outq, p, n);
}

/* sacsim's output: what the guest's UART sends. Lost while nobody listens. */
static void sim_out(void *ctx, const void *buf, size_t n)
{
	struct gs *g = ctx;
	if (!attached(g))
		return;
	if (g->mode != MODE_TELNET) {
		queue_out(g, buf, n);
		return;
	}
	const uint8_t *b = buf;
	bool binary = g->tn.us[T_BINARY];
	for (size_t i = 0; i < n; i++) {
		uint8_t esc[2] = {b[i], 0};
		size_t k = 1;
		if (b[i] == T_IAC)
			esc[k++] = T_IAC;
		else if (b[i] == '\r' && !binary && (i + 1 == n || b[i + 1] != '\n'))
			esc[k++] = 0; /* NVT: a bare CR is CR NUL */
		queue_out(g, esc, k);
	}
}

static void drop_client(struct gs *g, const char *why)
{
	if (g->conn_fd < 0)
		return;
	logf_(g, "client gone (%s)", why);
	close(g->conn_fd);
	g->conn_fd = -1;
	buf_reset(&g->outq);
}

static void flush_out(struct gs *g)
{
	if (g->dropped) {
		logf_(g, "client not reading: %zu bytes of output lost", g->dropped);
		g->dropped = 0;
	}
	if (!attached(g)) {
		buf_reset(&g->outq);
		return;
	}
	size_t off = 0;
	int fd = console_fd(g);
	while (off < g->outq.len) {
		ssize_t w = write(fd, g->outq.data + off, g->outq.len - off);
		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			break;
		if (g->mode == MODE_PTY) {
			g->pty_attached = false;
			buf_reset(&g->outq);
		} else {
			drop_client(g, w < 0 ? strerror(errno) : "write returned 0");
		}
		return;
	}
	if (off == g->outq.len) {
		buf_reset(&g->outq);
	} else if (off > 0) {
		memmove(g->outq.data, g->outq.data + off, g->outq.len - off);
		g->outq.len -= off;
		g->outq.data[g->outq.len] = '\0';
	}
}

static void tn_send(struct gs *g, uint8_t verb, uint8_t opt)
{
	uint8_t b[3] = {T_IAC, verb, opt};
	queue_out(g, b, sizeof(b));
}

static void tn_begin(struct gs *g)
{
	memset(&g->tn, 0, sizeof(g->tn));
	/* Offer a clean 8-bit, character-at-a-time line, as a serial port is. */
	g->tn.us[T_BINARY] = g->tn.them[T_BINARY] = true;
	g->tn.us[T_SGA] = g->tn.them[T_SGA] = true;
	tn_send(g, T_WILL, T_BINARY);
	tn_send(g, T_DO, T_BINARY);
	tn_send(g, T_WILL, T_SGA);
	tn_send(g, T_DO, T_SGA);
}

/* Answers only state changes, so two agreeing ends never loop (RFC 854). */
static void tn_option(struct gs *g, uint8_t verb, uint8_t opt)
{
	struct tnet *t = &g->tn;
	bool ok = opt == T_BINARY || opt == T_SGA;
	switch (verb) {
	case T_DO:
		if (ok && !t->us[opt]) {
			t->us[opt] = true;
			tn_send(g, T_WILL, opt);
		} else if (!ok && !t->refused[opt]) {
			t->refused[opt] = true;
			tn_send(g, T_WONT, opt);
		}
		break;
	case T_DONT:
		if (t->us[opt]) {
			t->us[opt] = false;
			tn_send(g, T_WONT, opt);
		}
		break;
	case T_WILL:
		if (ok && !t->them[opt]) {
			t->them[opt] = true;
			tn_send(g, T_DO, opt);
		} else if (!ok && !t->refused[opt]) {
			t->refused[opt] = true;
			tn_send(g, T_DONT, opt);
		}
		break;
	case T_WONT:
		if (t->them[opt]) {
			t->them[opt] = false;
			tn_send(g, T_DONT, opt);
		}
		break;
	}
}

/* Telnet stream → data bytes for the guest (written to out, at most n). */
static size_t tn_decode(struct gs *g, const uint8_t *in, size_t n, uint8_t *out)
{
	struct tnet *t = &g->tn;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = in[i];
		switch (t->st) {
		case TST_CR:
			t->st = TST_DATA;
			if (c == 0 && !t->them[T_BINARY])
				break; /* CR NUL was a bare CR */
			               /* fall through */
		case TST_DATA:
			if (c == T_IAC) {
				t->st = TST_IAC;
			} else {
				out[o++] = c;
				if (c == '\r')
					t->st = TST_CR;
			}
			break;
		case TST_IAC:
			t->st = TST_DATA;
			if (c == T_IAC) {
				out[o++] = T_IAC;
			} else if (c == T_BRK) {
				logf_(g,
				      "BREAK received (a Windows guest gives it no meaning; recorded only)");
			} else if (c >= T_WILL) {
				t->verb = c;
				t->st = TST_VERB;
			} else if (c == T_SB) {
				t->sblen = 0;
				t->st = TST_SB;
			}
			break;
		case TST_VERB:
			t->st = TST_DATA;
			tn_option(g, t->verb, c);
			break;
		case TST_SB:
			/* Nothing we agree to has subnegotiation: skip it, bounded. */
			if (c == T_IAC)
				t->st = TST_SB_IAC;
			else if (++t->sblen > 4096)
				t->st = TST_DATA;
			break;
		case TST_SB_IAC:
			t->st = c == T_SE ? TST_DATA : TST_SB;
			break;
		}
	}
	return o;
}

static void console_readable(struct gs *g)
{
	uint8_t buf[4096], data[4096];
	int fd = console_fd(g);
	for (int rounds = 0; rounds < 16 && fd >= 0; rounds++) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r > 0) {
			const uint8_t *p = buf;
			size_t n = (size_t)r;
			if (g->mode == MODE_TELNET) {
				n = tn_decode(g, buf, n, data);
				p = data;
			}
			if (n > 0 && g->powered)
				sacsim_input(g->sim, p, n, sim_now(g));
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return;
		if (g->mode == MODE_PTY) {
			/* EIO: the last slave fd closed. */
			if (g->pty_attached)
				logf_(g, "pty client detached");
			g->pty_attached = false;
			buf_reset(&g->outq);
		} else {
			drop_client(g, r == 0 ? "end of stream" : strerror(errno));
		}
		return;
	}
}

static void pty_probe(struct gs *g)
{
	struct pollfd pfd = {.fd = g->master_fd, .events = 0};
	if (poll(&pfd, 1, 0) < 0)
		return;
	bool now = !(pfd.revents & POLLHUP);
	if (now && !g->pty_attached)
		logf_(g, "pty client attached");
	g->pty_attached = now;
}

static int open_pty(struct gs *g)
{
	int m, s;
	char name[PATH_MAX];
	if (openpty(&m, &s, name, NULL, NULL) < 0) {
		fprintf(stderr, "guestsim: openpty: %s\n", strerror(errno));
		return -1;
	}
	/* Raw: a serial line carries bytes, the tty layer must not echo or map CR. */
	struct termios tio;
	if (tcgetattr(s, &tio) == 0) {
		cfmakeraw(&tio);
		tcsetattr(s, TCSANOW, &tio);
	}
	close(s); /* from now on POLLHUP on the master means "nobody attached" */
	if (set_nonblock(m) < 0 || fcntl(m, F_SETFD, FD_CLOEXEC) < 0) {
		close(m);
		return -1;
	}
	g->master_fd = m;
	printf("%s\n", name);
	return 0;
}

static int listen_unix(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t l = strlen(path);
	if (l >= sizeof(sa.sun_path)) {
		fprintf(stderr, "guestsim: %s: path too long for a unix socket\n", path);
		return -1;
	}
	memcpy(sa.sun_path, path, l + 1);
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path); /* a stale socket of an earlier run; other files are left alone */
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
		fprintf(stderr, "guestsim: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int open_listener(struct gs *g)
{
	if (g->mode == MODE_UNIX) {
		if ((g->listen_fd = listen_unix(g->sock_path)) < 0)
			return -1;
		g->unlink_sock = true;
		printf("%s\n", g->sock_path);
		return 0;
	}
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g->port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	socklen_t sl = sizeof(sa);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
		fprintf(stderr, "guestsim: 127.0.0.1:%u: %s\n", g->port, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	g->listen_fd = fd;
	printf("%u\n", (unsigned)ntohs(sa.sin_port));
	return 0;
}

static void power_on(struct gs *g, int64_t now);

static void console_accept(struct gs *g)
{
	int fd = accept4(g->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	g->conn_fd = fd;
	logf_(g, "client connected");
	if (g->mode == MODE_TELNET)
		tn_begin(g);
}

/* ---- the guest: boots and the scenario timeline ---- */

static void power_on(struct gs *g, int64_t now)
{
	g->powered = true;
	g->boots++;
	g->boot_at = now;
	g->next_step = 0;
	g->reboot_at = -1;
	g->timeline_on = g->sc.repeat == 0 || g->boots <= g->sc.repeat;
	logf_(g, "boot %u%s", g->boots, g->timeline_on ? "" : " (timeline done: a clean boot)");
	sacsim_boot(g->sim, now);
}

/* Runs everything due at simulated time now. */
static void advance(struct gs *g, int64_t now)
{
	if (!g->powered)
		return;
	for (int guard = 0; guard < 1000; guard++) {
		sacsim_tick(g->sim, now);
		if (g->reboot_at < 0 && sacsim_wants_reboot(g->sim)) {
			/* A crash reboots after the dump is written; `restart` at once. */
			bool crashed = sacsim_state(g->sim) == SACSIM_CRASHED;
			g->reboot_at = now + (crashed ? g->sc.reboot_delay : 0);
			logf_(g, "guest asks to reboot%s", crashed ? " (auto-reboot after bug check)" : "");
		}
		if (g->reboot_at >= 0 && now >= g->reboot_at) {
			power_on(g, now);
			continue;
		}
		if (!g->timeline_on || g->next_step >= g->sc.nsteps)
			return;
		const struct scenario_step *st = &g->sc.steps[g->next_step];
		if (g->boot_at + st->at > now)
			return;
		g->next_step++;
		switch (st->kind) {
		case SCENARIO_PRINT:
			sacsim_print(g->sim, st->text, st->len);
			break;
		case SCENARIO_CRASH:
			logf_(g, "scenario: bug check 0x%X", (unsigned)st->code);
			sacsim_crash(g->sim, st->code, now);
			break;
		case SCENARIO_REBOOT:
			logf_(g, "scenario: reboot");
			power_on(g, now);
			break;
		}
	}
}

/* The next simulated time something happens, or INT64_MAX. */
static int64_t next_event(const struct gs *g)
{
	if (!g->powered)
		return INT64_MAX;
	int64_t t = sacsim_next_deadline(g->sim);
	if (g->reboot_at >= 0 && g->reboot_at < t)
		t = g->reboot_at;
	if (g->timeline_on && g->next_step < g->sc.nsteps) {
		int64_t s = g->boot_at + g->sc.steps[g->next_step].at;
		if (s < t)
			t = s;
	}
	return t;
}

/* ---- QMP ---- */

static void qmp_send(struct gs *g, const char *s)
{
	buf_append(&g->qmp.out, s, strlen(s));
	buf_append(&g->qmp.out, "\r\n", 2);
}

/* {"return": …} or {"error": …} with the request's id copied, as QEMU does. */
static void qmp_reply(struct gs *g, const char *body, json_object *id)
{
	struct buf b = {0};
	buf_append(&b, body, strlen(body) - 1); /* without the closing brace */
	if (id)
		buf_printf(&b, ", \"id\": %s",
		           json_object_to_json_string_ext(id, JSON_C_TO_STRING_PLAIN |
		                                                  JSON_C_TO_STRING_NOSLASHESCAPE));
	buf_putc(&b, '}');
	qmp_send(g, b.data);
	buf_free(&b);
}

static void qmp_error(struct gs *g, const char *cls, const char *desc, json_object *id)
{
	json_object *d = json_object_new_string(desc);
	char *body = xasprintf(
	    "{\"error\": {\"class\": \"%s\", \"desc\": %s}}", cls,
	    json_object_to_json_string_ext(d, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	qmp_reply(g, body, id);
	free(body);
	json_object_put(d);
}

static void qmp_command(struct gs *g, json_object *req)
{
	json_object *id = NULL, *ex = NULL;
	if (!json_object_is_type(req, json_type_object)) {
		qmp_error(g, "GenericError", "QMP input must be a JSON object", NULL);
		return;
	}
	json_object_object_get_ex(req, "id", &id);
	if (!json_object_object_get_ex(req, "execute", &ex)) {
		qmp_error(g, "GenericError", "QMP input lacks member 'execute'", id);
		return;
	}
	if (!json_object_is_type(ex, json_type_string)) {
		qmp_error(g, "GenericError", "QMP input member 'execute' must be a string", id);
		return;
	}
	const char *cmd = json_object_get_string(ex);
	logf_(g, "qmp: %.100s", cmd);
	if (strcmp(cmd, "qmp_capabilities") == 0) {
		if (g->qmp.negotiated) {
			qmp_error(g, "CommandNotFound",
			          "Capabilities negotiation is already complete, command ignored", id);
			return;
		}
		g->qmp.negotiated = true;
		qmp_reply(g, "{\"return\": {}}", id);
		return;
	}
	if (!g->qmp.negotiated) {
		qmp_error(g, "CommandNotFound", "Expecting capabilities negotiation with 'qmp_capabilities'",
		          id);
		return;
	}
	int64_t now = sim_now(g);
	if (strcmp(cmd, "inject-nmi") == 0) {
		qmp_reply(g, "{\"return\": {}}", id);
		if (!g->powered) {
			power_on(g, now); /* --wait: QMP counts as the VM being started */
		}
		enum sacsim_state st = sacsim_state(g->sim);
		if (st == SACSIM_SAC || st == SACSIM_BOOTING) {
			logf_(g, "NMI: bug check 0x80");
			sacsim_crash(g->sim, 0x80, now);
		} else {
			logf_(g, "NMI ignored: the guest is %s",
			      st == SACSIM_OFF ? "off" : "already bug-checked");
		}
		return;
	}
	if (strcmp(cmd, "system_reset") == 0) {
		qmp_reply(g, "{\"return\": {}}", id);
		int64_t real = mono_ns() / 1000;
		char ev[256];
		snprintf(ev, sizeof(ev),
		         "{\"timestamp\": {\"seconds\": %lld, \"microseconds\": %lld}, \"event\": \"RESET\", "
		         "\"data\": {\"guest\": false, \"reason\": \"host-qmp-system-reset\"}}",
		         (long long)(real / 1000000), (long long)(real % 1000000));
		qmp_send(g, ev);
		logf_(g, "system_reset");
		power_on(g, now);
		return;
	}
	if (strcmp(cmd, "query-status") == 0) {
		bool off = g->powered && sacsim_state(g->sim) == SACSIM_OFF;
		qmp_reply(
		    g,
		    off ? "{\"return\": {\"status\": \"shutdown\", \"singlestep\": false, \"running\": "
		          "false}}"
		        : "{\"return\": {\"status\": \"running\", \"singlestep\": false, \"running\": true}}",
		    id);
		return;
	}
	char desc[200];
	snprintf(desc, sizeof(desc), "The command %.100s has not been found", cmd);
	qmp_error(g, "CommandNotFound", desc, id);
}

static void qmp_close(struct gs *g, const char *why)
{
	if (g->qmp.fd < 0)
		return;
	logf_(g, "qmp client gone (%s)", why);
	close(g->qmp.fd);
	g->qmp.fd = -1;
	buf_reset(&g->qmp.out);
}

static void qmp_accept(struct gs *g)
{
	int fd = accept4(g->qmp.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	g->qmp.fd = fd;
	g->qmp.negotiated = false;
	g->qmp.pending = 0;
	json_tokener_reset(g->qmp.tok);
	logf_(g, "qmp client connected");
	qmp_send(g, "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 8}, "
	            "\"package\": \"guestsim\"}, \"capabilities\": []}}");
}

static void qmp_feed(struct gs *g, const char *p, size_t n)
{
	while (n > 0) {
		json_object *o = json_tokener_parse_ex(g->qmp.tok, p, (int)n);
		enum json_tokener_error e = json_tokener_get_error(g->qmp.tok);
		size_t used = json_tokener_get_parse_end(g->qmp.tok);
		if (used == 0 || used > n)
			used = n;
		if (e == json_tokener_continue) {
			g->qmp.pending += used;
			if (g->qmp.pending > QMP_MAX_MSG) {
				qmp_error(g, "GenericError", "JSON parse error, message too long", NULL);
				json_tokener_reset(g->qmp.tok);
				g->qmp.pending = 0;
			}
		} else if (e != json_tokener_success) {
			char desc[160];
			snprintf(desc, sizeof(desc), "JSON parse error, %s", json_tokener_error_desc(e));
			qmp_error(g, "GenericError", desc, NULL);
			json_tokener_reset(g->qmp.tok);
			g->qmp.pending = 0;
			used = n; /* resynchronise at the next read rather than error on every byte */
		} else {
			json_tokener_reset(g->qmp.tok);
			g->qmp.pending = 0;
			qmp_command(g, o);
			json_object_put(o);
		}
		p += used;
		n -= used;
	}
}

static void qmp_readable(struct gs *g)
{
	char buf[4096];
	for (int rounds = 0; rounds < 16 && g->qmp.fd >= 0; rounds++) {
		ssize_t r = read(g->qmp.fd, buf, sizeof(buf));
		if (r > 0) {
			qmp_feed(g, buf, (size_t)r);
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return;
		qmp_close(g, r == 0 ? "end of stream" : strerror(errno));
	}
}

static void qmp_flush(struct gs *g)
{
	size_t off = 0;
	while (g->qmp.fd >= 0 && off < g->qmp.out.len) {
		ssize_t w = write(g->qmp.fd, g->qmp.out.data + off, g->qmp.out.len - off);
		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			break;
		qmp_close(g, strerror(errno));
		return;
	}
	if (off >= g->qmp.out.len) {
		buf_reset(&g->qmp.out);
	} else if (off > 0) {
		memmove(g->qmp.out.data, g->qmp.out.data + off, g->qmp.out.len - off);
		g->qmp.out.len -= off;
	}
	if (g->qmp.out.len > OUTQ_MAX)
		qmp_close(g, "client not reading replies");
}

/* ---- main ---- */

static unsigned parse_port(const char *s)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || end == s || v > 65535)
		usage("a port is a number 0..65535");
	return (unsigned)v;
}

static int serve(struct gs *g)
{
	int rc = 0;
	for (;;) {
		if (stop_signal) {
			logf_(g, "signal %d: exiting", (int)stop_signal);
			break;
		}
		if (g->mode == MODE_PTY)
			pty_probe(g);
		if (!g->powered && (!g->wait_client || attached(g)))
			power_on(g, sim_now(g));
		advance(g, sim_now(g));
		flush_out(g);
		qmp_flush(g);

		struct pollfd pfd[4];
		int kind[4]; /* 0 console, 1 console listener, 2 qmp, 3 qmp listener */
		nfds_t n = 0;
		bool nap = false;
		if (g->mode == MODE_PTY) {
			if (g->pty_attached)
				pfd[n] = (struct pollfd){.fd = g->master_fd,
				                         .events = POLLIN | (g->outq.len ? POLLOUT : 0)},
				kind[n++] = 0;
			else
				nap = true; /* POLLHUP is level-triggered: look again shortly */
		} else if (g->conn_fd >= 0) {
			pfd[n] =
			    (struct pollfd){.fd = g->conn_fd, .events = POLLIN | (g->outq.len ? POLLOUT : 0)};
			kind[n++] = 0;
		} else {
			pfd[n] = (struct pollfd){.fd = g->listen_fd, .events = POLLIN};
			kind[n++] = 1;
		}
		if (g->qmp.fd >= 0) {
			pfd[n] = (struct pollfd){.fd = g->qmp.fd,
			                         .events = POLLIN | (g->qmp.out.len ? POLLOUT : 0)};
			kind[n++] = 2;
		} else if (g->qmp.listen_fd >= 0) {
			pfd[n] = (struct pollfd){.fd = g->qmp.listen_fd, .events = POLLIN};
			kind[n++] = 3;
		}
		int64_t now = mono_ns();
		int64_t until = real_at(g, next_event(g));
		if (nap && until > now + NAP_NS)
			until = now + NAP_NS;
		struct timespec ts, *tsp = NULL;
		if (until != INT64_MAX) {
			int64_t left = until > now ? until - now : 0;
			ts = (struct timespec){.tv_sec = left / NS_PER_SEC, .tv_nsec = left % NS_PER_SEC};
			tsp = &ts;
		}
		int r = ppoll(pfd, n, tsp, &g->run_mask);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "guestsim: ppoll: %s\n", strerror(errno));
			rc = 1;
			break;
		}
		for (nfds_t i = 0; i < n; i++) {
			if (!pfd[i].revents)
				continue;
			switch (kind[i]) {
			case 0:
				if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
					console_readable(g);
				break;
			case 1:
				console_accept(g);
				break;
			case 2:
				if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
					qmp_readable(g);
				break;
			case 3:
				qmp_accept(g);
				break;
			}
		}
	}
	return rc;
}

int main(int argc, char **argv)
{
	struct gs g = {.listen_fd = -1,
	               .conn_fd = -1,
	               .master_fd = -1,
	               .qmp = {.listen_fd = -1, .fd = -1},
	               .scale = 1.0,
	               .reboot_at = -1,
	               .log = stderr};
	const char *scenario_path = NULL, *log_path = NULL;
	bool check_only = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--pty") == 0) {
			g.mode = MODE_PTY;
			continue;
		}
		if (strcmp(a, "--wait") == 0) {
			g.wait_client = true;
			continue;
		}
		if (strcmp(a, "--check") == 0) {
			check_only = true;
			continue;
		}
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
			usage("a simulated Windows EMS/SAC guest");
		if (!v)
			usage("unknown option or missing value");
		i++;
		if (strcmp(a, "--unix") == 0) {
			g.mode = MODE_UNIX;
			g.sock_path = v;
		} else if (strcmp(a, "--tcp") == 0) {
			g.mode = MODE_TCP;
			g.port = parse_port(v);
		} else if (strcmp(a, "--telnet") == 0) {
			g.mode = MODE_TELNET;
			g.port = parse_port(v);
		} else if (strcmp(a, "--qmp") == 0) {
			g.qmp.path = v;
		} else if (strcmp(a, "--scenario") == 0) {
			scenario_path = v;
		} else if (strcmp(a, "--time-scale") == 0) {
			char *end;
			errno = 0;
			g.scale = strtod(v, &end);
			if (errno || *end || end == v || !(g.scale >= 0.001 && g.scale <= 1e6))
				usage("--time-scale is a number from 0.001 to 1000000");
		} else if (strcmp(a, "--log") == 0) {
			log_path = v;
		} else {
			usage("unknown option");
		}
	}

	struct diags d = {0};
	int rc = scenario_path ? scenario_load(scenario_path, &g.sc, &d) : (scenario_default(&g.sc), 0);
	if (rc < 0) {
		diags_print(&d, stderr);
		diags_free(&d);
		return 1;
	}
	diags_free(&d);
	if (check_only) {
		printf("%s: ok (%zu timeline steps)\n", scenario_path ? scenario_path : "(default)",
		       g.sc.nsteps);
		scenario_free(&g.sc);
		return 0;
	}
	if (g.mode == MODE_NONE)
		usage("one of --pty, --unix, --tcp, --telnet is required");
	if (log_path && !(g.log = fopen(log_path, "a"))) {
		fprintf(stderr, "guestsim: %s: %s\n", log_path, strerror(errno));
		scenario_free(&g.sc);
		return 1;
	}

	/* Termination signals get through only inside ppoll, so none is lost between checks. */
	struct sigaction sa = {.sa_handler = on_stop};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &g.run_mask);

	g.start = mono_ns();
	g.qmp.tok = json_tokener_new();
	g.sim = sacsim_new(&g.sc.cfg, sim_out, &g);
	rc = 1;
	if (!g.qmp.tok || !g.sim)
		goto out;
	if (g.qmp.path && (g.qmp.listen_fd = listen_unix(g.qmp.path)) < 0)
		goto out;
	if ((g.mode == MODE_PTY ? open_pty(&g) : open_listener(&g)) < 0)
		goto out;
	fflush(stdout);
	logf_(&g, "serving scenario %s", g.sc.name ? g.sc.name : scenario_path ? scenario_path : "(default)");
	rc = serve(&g);
out:
	if (g.sim)
		sacsim_free(g.sim);
	if (g.qmp.tok)
		json_tokener_free(g.qmp.tok);
	if (g.qmp.fd >= 0)
		close(g.qmp.fd);
	if (g.qmp.listen_fd >= 0) {
		close(g.qmp.listen_fd);
		unlink(g.qmp.path);
	}
	if (g.conn_fd >= 0)
		close(g.conn_fd);
	if (g.master_fd >= 0)
		close(g.master_fd);
	if (g.listen_fd >= 0)
		close(g.listen_fd);
	if (g.unlink_sock)
		unlink(g.sock_path);
	buf_free(&g.outq);
	buf_free(&g.qmp.out);
	scenario_free(&g.sc);
	if (g.log != stderr)
		fclose(g.log);
	return rc;
}
