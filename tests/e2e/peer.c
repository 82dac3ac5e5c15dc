/*
 * peer.c — a scriptable console peer for the end-to-end tests: it plays the
 * machine at the other end of a serial line so `emsagent watch` can be
 * tested against real ptys and sockets on this host.
 *
 * Usage: peer MODE [--script FILE] [--time-scale X] [--record FILE]
 *             [--sent FILE] [--linger SECONDS] [--timeout SECONDS]
 * Modes:
 *   --pty           openpty, raw; prints the slave path on stdout line 1
 *   --unix PATH     listening unix stream socket, one client at a time
 *   --tcp PORT|0    listening on 127.0.0.1; prints the chosen port
 *   --telnet PORT|0 like --tcp but speaks telnet: offers BINARY and SGA,
 *                   answers negotiation, unescapes IAC IAC and records IAC
 *                   BRK as the marker "<BREAK>" in the receive log
 * Line 1 of stdout is always printed once the peer is ready (the pty path,
 * the port, or the socket path), so a test can wait for it.
 *
 * Script lines:
 *   text            sent followed by "\r\n" (an empty line sends "\r\n")
 *   @@text          sends "@text\r\n"
 *   @#...           a comment
 *   @+DURATION      waits (250ms, 30s, 30m, 1h30m), scaled by --time-scale
 *   @send TEXT      TEXT with escapes \r \n \t \e \a \b \0 \\ \xHH, no CRLF
 *   @send-raw HEX   bytes given in hex ("ff f3" or "fff3")
 *   @wait-client    waits until the agent is attached
 *   @wait-file PATH waits until PATH exists (how a test says "go on")
 *   @close          drops the connection (socket modes; the peer keeps
 *                   listening) or closes the pty master (the pty vanishes)
 * In socket modes sending waits for a client when none is connected. With
 * --record every byte received from the agent is appended to FILE as it
 * arrives; --sent appends every data byte handed to the agent. The peer
 * exits at the end of the script, or --linger seconds later; --timeout
 * (default 60 s) bounds the whole run (exit 3). SIGTERM/SIGINT end it
 * cleanly (exit 0). Exit 1 on errors, 2 on usage errors.
 *
 * Standalone on purpose (libc only): tests/e2e/run.sh builds it with cc.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
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

#define MAX_SCRIPT   ((size_t)16 << 20) /* a script is a test's text, not a disk image */
#define MAX_LINE     ((size_t)64 << 10)
#define NAP_NS       10000000LL /* re-check interval for conditions poll cannot wait on */
#define BREAK_MARKER "<BREAK>"

enum mode { MODE_NONE, MODE_PTY, MODE_UNIX, MODE_TCP, MODE_TELNET };

/* telnet protocol bytes (RFC 854, 856, 858) */
enum {
	TN_SE = 240,
	TN_BRK = 243,
	TN_SB = 250,
	TN_WILL = 251,
	TN_WONT = 252,
	TN_DO = 253,
	TN_DONT = 254,
	TN_IAC = 255,
	TN_OPT_BINARY = 0,
	TN_OPT_SGA = 3,
};

enum tn_state { TS_DATA, TS_IAC, TS_OPT, TS_SB, TS_SB_IAC, TS_CR };

struct telnet {
	enum tn_state st;
	uint8_t verb;      /* WILL/WONT/DO/DONT waiting for its option byte */
	bool we_will[256]; /* we offered or agreed to perform the option */
	bool we_do[256];   /* we asked or agreed that the agent performs it */
	bool refused[256]; /* answered a request for an unsupported option once */
	bool agent_binary; /* the agent sends in binary mode (no CR NUL) */
	size_t sb_len;     /* bytes of a subnegotiation skipped so far */
};

struct peer {
	enum mode mode;
	const char *unix_path;
	bool unlink_at_exit;
	unsigned port;
	int listen_fd, conn_fd, master_fd;
	bool pty_closed;
	bool pty_attached; /* the last look at the master showed a reader */
	bool nap;          /* a step waits for a condition that must be looked at again */
	double time_scale;
	int rec_fd, sent_fd;
	int64_t deadline;
	int64_t linger_ns;
	char **lines;
	size_t nlines, pos;
	int64_t wait_until;
	bool waiting_client;
	struct telnet tn;
	sigset_t run_mask; /* the mask ppoll uses: termination signals let through */
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
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die_usage(const char *msg)
{
	fprintf(stderr, "peer: %s\n", msg);
	fprintf(stderr, "usage: peer --pty|--unix PATH|--tcp PORT|--telnet PORT [--script FILE] "
	                "[--time-scale X] [--record FILE] [--sent FILE] [--linger S] [--timeout S]\n");
	exit(2);
}

/* Durations as the rules write them: a sequence of NUMBER UNIT, units ms s m h d. */
static int parse_dur(const char *s, int64_t *out)
{
	double total = 0;
	if (!*s)
		return -1;
	while (*s) {
		char *end;
		errno = 0;
		double v = strtod(s, &end);
		if (end == s || errno || v < 0 || *s == '-' || *s == '+')
			return -1;
		s = end;
		double unit;
		if (strncmp(s, "ms", 2) == 0) {
			unit = 1e6;
			s += 2;
		} else if (*s == 's') {
			unit = 1e9;
			s++;
		} else if (*s == 'm') {
			unit = 60e9;
			s++;
		} else if (*s == 'h') {
			unit = 3600e9;
			s++;
		} else if (*s == 'd') {
			unit = 86400e9;
			s++;
		} else {
			return -1;
		}
		total += v * unit;
		if (total > 1e18)
			return -1;
	}
	*out = (int64_t)total;
	return 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "ff f3", "fff3", "ff:f3" → bytes. Returns the count or -1. */
static long parse_hex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	while (*s) {
		if (*s == ' ' || *s == ':' || *s == '\t') {
			s++;
			continue;
		}
		int hi = hexval((unsigned char)s[0]), lo = hi < 0 ? -1 : hexval((unsigned char)s[1]);
		if (hi < 0 || lo < 0 || n >= cap)
			return -1;
		out[n++] = (uint8_t)(hi << 4 | lo);
		s += 2;
	}
	return (long)n;
}

/* C-like escapes of @send. Returns the count or -1 on a bad escape. */
static long parse_escapes(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	for (; *s; s++) {
		if (n >= cap)
			return -1;
		if (*s != '\\') {
			out[n++] = (uint8_t)*s;
			continue;
		}
		s++;
		switch (*s) {
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
		case '0':
			out[n++] = 0;
			break;
		case '\\':
			out[n++] = '\\';
			break;
		case 'x': {
			int hi = hexval((unsigned char)s[1]), lo = hi < 0 ? -1 : hexval((unsigned char)s[2]);
			if (hi < 0 || lo < 0)
				return -1;
			out[n++] = (uint8_t)(hi << 4 | lo);
			s += 2;
			break;
		}
		default:
			return -1;
		}
	}
	return (long)n;
}

/* Appends to a log file; these are test artefacts, a failure is worth a note only. */
static void log_bytes(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (fd >= 0 && n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "peer: log write: %s\n", strerror(errno));
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

static int load_script(struct peer *p, const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "peer: %s: %s\n", path, strerror(errno));
		return -1;
	}
	char *text = malloc(MAX_SCRIPT + 1);
	if (!text) {
		fclose(f);
		return -1;
	}
	size_t len = fread(text, 1, MAX_SCRIPT + 1, f);
	bool err = ferror(f);
	fclose(f);
	if (err || len > MAX_SCRIPT) {
		fprintf(stderr, "peer: %s: %s\n", path, err ? "read error" : "script larger than 16 MiB");
		free(text);
		return -1;
	}
	text[len] = '\0';
	size_t cap = 0;
	for (size_t i = 0; i < len; i++)
		cap += text[i] == '\n';
	cap++;
	p->lines = calloc(cap, sizeof(*p->lines));
	if (!p->lines) {
		free(text);
		return -1;
	}
	char *s = text;
	while (s < text + len) {
		char *nl = memchr(s, '\n', (size_t)(text + len - s));
		size_t l = nl ? (size_t)(nl - s) : (size_t)(text + len - s);
		if (l > 0 && s[l - 1] == '\r')
			l--;
		if (l > MAX_LINE) {
			fprintf(stderr, "peer: %s: line %zu longer than 64 KiB\n", path, p->nlines + 1);
			free(text);
			return -1;
		}
		p->lines[p->nlines] = strndup(s, l);
		if (!p->lines[p->nlines]) {
			free(text);
			return -1;
		}
		p->nlines++;
		if (!nl)
			break;
		s = nl + 1;
	}
	free(text);
	return 0;
}

static void close_conn(struct peer *p, const char *why)
{
	if (p->conn_fd >= 0) {
		fprintf(stderr, "peer: client gone (%s)\n", why);
		close(p->conn_fd);
		p->conn_fd = -1;
	}
}

static int data_fd(const struct peer *p)
{
	return p->mode == MODE_PTY ? p->master_fd : p->conn_fd;
}

/* Writes everything or reports the connection lost (-1). Bounded by the run's deadline. */
static int write_all(struct peer *p, const uint8_t *buf, size_t n)
{
	int fd = data_fd(p);
	while (n > 0) {
		if (fd < 0)
			return -1;
		ssize_t w = write(fd, buf, n);
		if (w > 0) {
			buf += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			int64_t left = p->deadline - mono_ns();
			if (left <= 0)
				return -1;
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};
			struct timespec ts = {.tv_sec = left / 1000000000, .tv_nsec = left % 1000000000};
			if (ppoll(&pfd, 1, &ts, &p->run_mask) < 0 && errno != EINTR)
				return -1;
			if (stop_signal)
				return -1;
			continue;
		}
		return -1;
	}
	return 0;
}

static void tn_cmd(struct peer *p, uint8_t verb, uint8_t opt)
{
	uint8_t b[3] = {TN_IAC, verb, opt};
	if (write_all(p, b, 3) < 0)
		close_conn(p, "write failed");
}

/* Data to the agent: telnet escaping (IAC IAC; CR NUL outside binary mode). */
static int send_data(struct peer *p, const uint8_t *buf, size_t n)
{
	if (p->mode != MODE_TELNET) {
		if (write_all(p, buf, n) < 0)
			return -1;
		log_bytes(p->sent_fd, buf, n);
		return 0;
	}
	bool binary = p->tn.we_will[TN_OPT_BINARY];
	uint8_t out[4096];
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (o + 2 > sizeof(out)) {
			if (write_all(p, out, o) < 0)
				return -1;
			o = 0;
		}
		out[o++] = buf[i];
		if (buf[i] == TN_IAC)
			out[o++] = TN_IAC;
		else if (!binary && buf[i] == '\r' && (i + 1 == n || buf[i + 1] != '\n'))
			out[o++] = 0;
	}
	if (o > 0 && write_all(p, out, o) < 0)
		return -1;
	log_bytes(p->sent_fd, buf, n);
	return 0;
}

static void tn_start(struct peer *p)
{
	memset(&p->tn, 0, sizeof(p->tn));
	static const uint8_t offer[] = {TN_IAC, TN_WILL, TN_OPT_BINARY, TN_IAC, TN_DO, TN_OPT_BINARY,
	                                TN_IAC, TN_WILL, TN_OPT_SGA,    TN_IAC, TN_DO, TN_OPT_SGA};
	p->tn.we_will[TN_OPT_BINARY] = p->tn.we_do[TN_OPT_BINARY] = true;
	p->tn.we_will[TN_OPT_SGA] = p->tn.we_do[TN_OPT_SGA] = true;
	if (write_all(p, offer, sizeof(offer)) < 0)
		close_conn(p, "write failed");
}

static bool tn_supported(uint8_t opt)
{
	return opt == TN_OPT_BINARY || opt == TN_OPT_SGA;
}

/* Answers a negotiation so that no answer is ever sent for a state we are already in (RFC 854 loop rule). */
static void tn_negotiate(struct peer *p, uint8_t verb, uint8_t opt)
{
	struct telnet *t = &p->tn;
	switch (verb) {
	case TN_DO:
		if (tn_supported(opt)) {
			if (!t->we_will[opt]) {
				t->we_will[opt] = true;
				tn_cmd(p, TN_WILL, opt);
			}
		} else if (!t->refused[opt]) {
			t->refused[opt] = true;
			tn_cmd(p, TN_WONT, opt);
		}
		break;
	case TN_DONT:
		if (t->we_will[opt]) {
			t->we_will[opt] = false;
			tn_cmd(p, TN_WONT, opt);
		}
		break;
	case TN_WILL:
		if (tn_supported(opt)) {
			if (!t->we_do[opt]) {
				t->we_do[opt] = true;
				tn_cmd(p, TN_DO, opt);
			}
			if (opt == TN_OPT_BINARY)
				t->agent_binary = true;
		} else if (!t->refused[opt]) {
			t->refused[opt] = true;
			tn_cmd(p, TN_DONT, opt);
		}
		break;
	case TN_WONT:
		if (opt == TN_OPT_BINARY)
			t->agent_binary = false;
		if (t->we_do[opt]) {
			t->we_do[opt] = false;
			tn_cmd(p, TN_DONT, opt);
		}
		break;
	}
}

/* Decodes what the agent sent over telnet into the receive log. */
static void tn_receive(struct peer *p, const uint8_t *buf, size_t n)
{
	struct telnet *t = &p->tn;
	uint8_t out[8192];
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = buf[i];
		if (o + sizeof(BREAK_MARKER) > sizeof(out)) {
			log_bytes(p->rec_fd, out, o);
			o = 0;
		}
		switch (t->st) {
		case TS_CR:
			t->st = TS_DATA;
			if (c == 0 && !t->agent_binary)
				break; /* CR NUL is a bare CR */
			               /* fall through */
		case TS_DATA:
			if (c == TN_IAC) {
				t->st = TS_IAC;
			} else {
				out[o++] = c;
				if (c == '\r')
					t->st = TS_CR;
			}
			break;
		case TS_IAC:
			t->st = TS_DATA;
			if (c == TN_IAC) {
				out[o++] = TN_IAC;
			} else if (c == TN_BRK) {
				memcpy(out + o, BREAK_MARKER, sizeof(BREAK_MARKER) - 1);
				o += sizeof(BREAK_MARKER) - 1;
			} else if (c >= TN_WILL) {
				t->verb = c;
				t->st = TS_OPT;
			} else if (c == TN_SB) {
				t->sb_len = 0;
				t->st = TS_SB;
			}
			/* NOP, AYT, GA, DM, ...: nothing to do for a console peer */
			break;
		case TS_OPT:
			t->st = TS_DATA;
			log_bytes(p->rec_fd, out, o);
			o = 0;
			tn_negotiate(p, t->verb, c);
			if (p->conn_fd < 0)
				return;
			break;
		case TS_SB:
			/* Nothing we offered has subnegotiation; skip it, bounded. */
			if (c == TN_IAC)
				t->st = TS_SB_IAC;
			else if (++t->sb_len > 4096)
				t->st = TS_DATA;
			break;
		case TS_SB_IAC:
			t->st = c == TN_SE ? TS_DATA : TS_SB;
			break;
		}
	}
	log_bytes(p->rec_fd, out, o);
}

/* Reads what the agent sent. Returns false when the connection is gone. */
static bool on_readable(struct peer *p)
{
	uint8_t buf[16384];
	int fd = data_fd(p);
	for (int rounds = 0; rounds < 64; rounds++) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r > 0) {
			if (p->mode == MODE_TELNET)
				tn_receive(p, buf, (size_t)r);
			else
				log_bytes(p->rec_fd, buf, (size_t)r);
			if (p->mode != MODE_PTY && p->conn_fd < 0)
				return false;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return true;
		if (p->mode == MODE_PTY) {
			/* EIO: no reader on the slave side right now. */
			p->pty_attached = false;
			return true;
		}
		close_conn(p, r == 0 ? "end of stream" : strerror(errno));
		return false;
	}
	return true;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int open_pty(struct peer *p)
{
	int m, s;
	char name[PATH_MAX];
	if (openpty(&m, &s, name, NULL, NULL) < 0) {
		fprintf(stderr, "peer: openpty: %s\n", strerror(errno));
		return -1;
	}
	/* Raw, so nothing the agent or the peer writes is echoed or rewritten. */
	struct termios tio;
	if (tcgetattr(s, &tio) == 0) {
		cfmakeraw(&tio);
		tcsetattr(s, TCSANOW, &tio);
	}
	/* Closing our slave makes the master report POLLHUP until the agent opens it. */
	close(s);
	if (set_nonblock(m) < 0 || fcntl(m, F_SETFD, FD_CLOEXEC) < 0) {
		close(m);
		return -1;
	}
	p->master_fd = m;
	printf("%s\n", name);
	return 0;
}

static int open_listener(struct peer *p)
{
	int fd;
	if (p->mode == MODE_UNIX) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		if (strlen(p->unix_path) >= sizeof(sa.sun_path)) {
			fprintf(stderr, "peer: %s: path too long for a unix socket\n", p->unix_path);
			return -1;
		}
		memcpy(sa.sun_path, p->unix_path, strlen(p->unix_path) + 1);
		/* A stale socket from a previous peer is replaced; anything else is left alone. */
		struct stat st;
		if (lstat(p->unix_path, &st) == 0 && S_ISSOCK(st.st_mode))
			unlink(p->unix_path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
			fprintf(stderr, "peer: %s: %s\n", p->unix_path, strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		p->unlink_at_exit = true;
		printf("%s\n", p->unix_path);
	} else {
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p->port)};
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		int one = 1;
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
		    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
			fprintf(stderr, "peer: 127.0.0.1:%u: %s\n", p->port, strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		socklen_t sl = sizeof(sa);
		if (getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
			close(fd);
			return -1;
		}
		printf("%u\n", (unsigned)ntohs(sa.sin_port));
	}
	if (set_nonblock(fd) < 0) {
		close(fd);
		return -1;
	}
	p->listen_fd = fd;
	return 0;
}

static void on_accept(struct peer *p)
{
	int fd = accept4(p->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	p->conn_fd = fd;
	fprintf(stderr, "peer: client connected\n");
	if (p->mode == MODE_TELNET)
		tn_start(p);
}

static bool have_client(const struct peer *p)
{
	if (p->mode == MODE_PTY)
		return p->pty_attached;
	return p->conn_fd >= 0;
}

/* Looks at the pty master without reading: POLLHUP means no slave is open. */
static void pty_probe(struct peer *p)
{
	struct pollfd pfd = {.fd = p->master_fd, .events = 0};
	if (poll(&pfd, 1, 0) >= 0)
		p->pty_attached = !(pfd.revents & POLLHUP);
}

enum step_result { STEP_DONE, STEP_BLOCKED, STEP_ERROR };

static enum step_result run_step(struct peer *p, const char *line, int64_t now)
{
	static uint8_t buf[MAX_LINE + 2];
	long n;

	if (line[0] == '@' && line[1] == '#')
		return STEP_DONE;
	if (line[0] == '@' && line[1] == '+') {
		int64_t d;
		if (parse_dur(line + 2, &d) < 0) {
			fprintf(stderr, "peer: bad duration '%s'\n", line + 2);
			return STEP_ERROR;
		}
		p->wait_until = now + (int64_t)((double)d * p->time_scale);
		return STEP_DONE;
	}
	if (strcmp(line, "@wait-client") == 0) {
		if (p->mode == MODE_PTY && !p->pty_closed)
			pty_probe(p);
		return have_client(p) ? STEP_DONE : STEP_BLOCKED;
	}
	if (strncmp(line, "@wait-file ", 11) == 0) {
		if (access(line + 11, F_OK) == 0)
			return STEP_DONE;
		p->nap = true;
		return STEP_BLOCKED;
	}
	if (strcmp(line, "@close") == 0) {
		if (p->mode == MODE_PTY) {
			if (p->master_fd >= 0)
				close(p->master_fd);
			p->master_fd = -1;
			p->pty_closed = true;
			p->pty_attached = false;
		} else {
			close_conn(p, "@close");
		}
		return STEP_DONE;
	}
	if (strncmp(line, "@send-raw ", 10) == 0) {
		n = parse_hex(line + 10, buf, sizeof(buf));
		if (n < 0) {
			fprintf(stderr, "peer: bad hex in '%s'\n", line);
			return STEP_ERROR;
		}
	} else if (strncmp(line, "@send ", 6) == 0) {
		n = parse_escapes(line + 6, buf, sizeof(buf));
		if (n < 0) {
			fprintf(stderr, "peer: bad escape in '%s'\n", line);
			return STEP_ERROR;
		}
	} else if (line[0] == '@' && line[1] != '@') {
		fprintf(stderr, "peer: unknown directive '%s'\n", line);
		return STEP_ERROR;
	} else {
		const char *text = line[0] == '@' ? line + 1 : line;
		size_t l = strlen(text);
		memcpy(buf, text, l);
		buf[l] = '\r';
		buf[l + 1] = '\n';
		n = (long)l + 2;
	}
	if (p->mode == MODE_PTY) {
		if (p->pty_closed) {
			fprintf(stderr, "peer: send after the pty was closed\n");
			return STEP_ERROR;
		}
	} else if (p->conn_fd < 0) {
		return STEP_BLOCKED;
	}
	if (send_data(p, buf, (size_t)n) < 0) {
		if (p->mode == MODE_PTY) {
			fprintf(stderr, "peer: pty write failed: %s\n", strerror(errno));
			return STEP_ERROR;
		}
		/* The client went away mid-line; the next one gets the whole step again. */
		close_conn(p, "write failed");
		return STEP_BLOCKED;
	}
	return STEP_DONE;
}

static int open_log(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		fprintf(stderr, "peer: %s: %s\n", path, strerror(errno));
	return fd;
}

static unsigned parse_port(const char *s)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || end == s || v > 65535)
		die_usage("a port is a number 0..65535");
	return (unsigned)v;
}

static double parse_num(const char *s, const char *what)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || *end || end == s || v < 0 || v > 1e6) {
		fprintf(stderr, "peer: bad %s '%s'\n", what, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	struct peer p = {.listen_fd = -1, .conn_fd = -1, .master_fd = -1, .rec_fd = -1, .sent_fd = -1};
	const char *script = NULL;
	double timeout_s = 60, linger_s = 0;
	p.time_scale = 1.0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool takes = true;
		if (strcmp(a, "--pty") == 0) {
			p.mode = MODE_PTY;
			takes = false;
		} else if (!v) {
			die_usage("missing value or unknown option");
		} else if (strcmp(a, "--unix") == 0) {
			p.mode = MODE_UNIX;
			p.unix_path = v;
		} else if (strcmp(a, "--tcp") == 0) {
			p.mode = MODE_TCP;
			p.port = parse_port(v);
		} else if (strcmp(a, "--telnet") == 0) {
			p.mode = MODE_TELNET;
			p.port = parse_port(v);
		} else if (strcmp(a, "--script") == 0) {
			script = v;
		} else if (strcmp(a, "--time-scale") == 0) {
			p.time_scale = parse_num(v, "time scale");
		} else if (strcmp(a, "--record") == 0) {
			if ((p.rec_fd = open_log(v)) < 0)
				return 1;
		} else if (strcmp(a, "--sent") == 0) {
			if ((p.sent_fd = open_log(v)) < 0)
				return 1;
		} else if (strcmp(a, "--linger") == 0) {
			linger_s = parse_num(v, "linger");
		} else if (strcmp(a, "--timeout") == 0) {
			timeout_s = parse_num(v, "timeout");
		} else {
			die_usage("unknown option");
		}
		if (takes)
			i++;
	}
	if (p.mode == MODE_NONE)
		die_usage("one of --pty, --unix, --tcp, --telnet is required");
	if (script && load_script(&p, script) < 0)
		return 1;

	/* Termination signals only get through inside ppoll, so no wake-up is lost. */
	struct sigaction sa = {.sa_handler = on_stop};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &p.run_mask);

	int64_t start = mono_ns();
	p.deadline = start + (int64_t)(timeout_s * 1e9);
	p.linger_ns = (int64_t)(linger_s * 1e9);

	if ((p.mode == MODE_PTY ? open_pty(&p) : open_listener(&p)) < 0)
		return 1;
	fflush(stdout);

	int rc = 0;
	int64_t linger_end = 0;
	for (;;) {
		if (stop_signal)
			break;
		int64_t now = mono_ns();
		if (now >= p.deadline) {
			fprintf(stderr, "peer: timed out after %.1f s (script line %zu of %zu)\n", timeout_s,
			        p.pos + 1, p.nlines);
			rc = 3;
			break;
		}

		while (p.pos < p.nlines && !stop_signal) {
			if (p.wait_until) {
				if (now < p.wait_until)
					break;
				p.wait_until = 0;
			}
			enum step_result r = run_step(&p, p.lines[p.pos], now);
			if (r == STEP_ERROR) {
				rc = 1;
				goto out;
			}
			if (r == STEP_BLOCKED) {

				break;
			}
			p.pos++;
			now = mono_ns();
		}
		/* A wait as the last step still has to run out. */
		if (p.wait_until && now >= p.wait_until)
			p.wait_until = 0;
		if (p.pos >= p.nlines && !p.wait_until) {
			if (!linger_end)
				linger_end = now + p.linger_ns;
			if (now >= linger_end)
				break;
		}

		struct pollfd pfd[2];
		nfds_t nfd = 0;
		int64_t until = p.deadline;
		if (p.wait_until && p.wait_until < until)
			until = p.wait_until;
		if (linger_end && linger_end < until)
			until = linger_end;
		if (p.mode == MODE_PTY) {
			if (!p.pty_closed) {
				pty_probe(&p);
				if (p.pty_attached)
					pfd[nfd++] = (struct pollfd){.fd = p.master_fd, .events = POLLIN};
				else
					p.nap = true; /* POLLHUP is level: nap, then look again */
			}
		} else if (p.conn_fd >= 0) {
			pfd[nfd++] = (struct pollfd){.fd = p.conn_fd, .events = POLLIN};
		} else {
			pfd[nfd++] = (struct pollfd){.fd = p.listen_fd, .events = POLLIN};
		}
		if (p.nap && until > now + NAP_NS)
			until = now + NAP_NS;
		p.nap = false;
		int64_t left = until - now;
		if (left < 0)
			left = 0;
		struct timespec ts = {.tv_sec = left / 1000000000, .tv_nsec = left % 1000000000};
		int n = ppoll(pfd, nfd, &ts, &p.run_mask);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "peer: ppoll: %s\n", strerror(errno));
			rc = 1;
			break;
		}
		for (nfds_t i = 0; i < nfd; i++) {
			if (!pfd[i].revents)
				continue;
			if (pfd[i].fd == p.listen_fd)
				on_accept(&p);
			else
				on_readable(&p);
		}
	}
out:
	if (p.conn_fd >= 0)
		close(p.conn_fd);
	if (p.master_fd >= 0)
		close(p.master_fd);
	if (p.listen_fd >= 0)
		close(p.listen_fd);
	if (p.unlink_at_exit)
		unlink(p.unix_path);
	if (p.rec_fd >= 0)
		close(p.rec_fd);
	if (p.sent_fd >= 0)
		close(p.sent_fd);
	for (size_t i = 0; i < p.nlines; i++)
		free(p.lines[i]);
	free(p.lines);
	return rc;
}
