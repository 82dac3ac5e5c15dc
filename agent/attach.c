/*
 * attach.c — keys, console bytes and events for the engineer at the COM
 * port; see attach.h for what it owns and borrows.
 */
#include "attach_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "emsagent/clock.h"
#include "emsagent/util.h"
static void schedule(struct attach *a);

/* --- output ---------------------------------------------------------------- */

static void out(struct attach *a, const char *s, size_t n)
{
	if (n)
		a->io.out(a->io.ctx, s, n);
}

static void outs(struct attach *a, const char *s)
{
	out(a, s, strlen(s));
}

void attach_log_write(struct attach *a, const void *buf, size_t n)
{
	if (a->log_fd < 0 || n == 0)
		return;
	const char *p = buf;
	while (n > 0) {
		ssize_t w = write(a->log_fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = errno;
			close(a->log_fd);
			a->log_fd = -1;
			attach_notice(a, "log %s: %s; logging stopped (l starts it again)", a->log_path,
			              strerror(e));
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

void attach_stamp(char *s, size_t sz, bool full)
{
	int64_t now = clock_realtime_ns();
	time_t secs = (time_t)(now / NS_PER_SEC);
	struct tm tm;
	if (full)
		gmtime_r(&secs, &tm);
	else
		localtime_r(&secs, &tm);
	char t[40];
	strftime(t, sizeof(t), full ? "%Y-%m-%dT%H:%M:%S" : "%H:%M:%S", &tm);
	snprintf(s, sz, full ? "[%s.%03dZ] " : "[%s.%03d] ", t, (int)(now % NS_PER_SEC / NS_PER_MS));
}

static const char *cls_color(char cls)
{
	switch (cls) {
	case N_GOOD:
		return "\033[32m";
	case N_WARN:
		return "\033[33m";
	case N_BAD:
		return "\033[1;31m";
	case N_ASK:
		return "\033[1;36m";
	default:
		return "\033[36m";
	}
}

/* One notice line on the screen, at column 0. */
static void show_notice(struct attach *a, char cls, const char *text)
{
	if (a->cfg.color) {
		outs(a, "\033[0m\033[1;7m[emsagent]\033[0m ");
		outs(a, cls_color(cls));
		outs(a, text);
		outs(a, "\033[0m\r\n");
	} else {
		outs(a, "[emsagent] ");
		outs(a, text);
		outs(a, "\r\n");
	}
}

static void log_notice(struct attach *a, const char *text)
{
	if (a->log_fd < 0)
		return;
	struct buf b = {0};
	if (!a->log_col0)
		buf_putc(&b, '\n');
	if (a->timestamps) {
		char ts[64];
		attach_stamp(ts, sizeof(ts), true);
		buf_append(&b, ts, strlen(ts));
	}
	buf_printf(&b, "[emsagent] %s\n", text);
	attach_log_write(a, b.data, b.len);
	buf_free(&b);
	a->log_col0 = true;
}

static void flush_pending(struct attach *a)
{
	size_t off = 0;
	while (off < a->pending.len) {
		const char *e = a->pending.data + off;
		show_notice(a, e[0], e + 1);
		off += strlen(e) + 1;
	}
	buf_reset(&a->pending);
	a->npending = 0;
	if (a->dropped) {
		char t[64];
		snprintf(t, sizeof(t), "%u more notices were dropped", a->dropped);
		show_notice(a, N_WARN, t);
		a->dropped = 0;
	}
}

/* Notices go out between console lines: now when the console is at the
 * start of a line, else when the line ends (or the console goes quiet). */
static void notice(struct attach *a, char cls, const char *text)
{
	log_notice(a, text);
	if (a->col0 && a->esc == 0 && a->npending == 0) {
		show_notice(a, cls, text);
		return;
	}
	if (a->npending >= NOTICES_MAX) {
		a->dropped++;
		return;
	}
	buf_putc(&a->pending, cls);
	buf_append(&a->pending, text, strlen(text) + 1);
	a->npending++;
	schedule(a);
}

/* Printable text only: console text reaches notices through titles and
 * captures, and must not move the cursor or change the terminal. */
void attach_sanitize(char *s, size_t n, bool keep_nl)
{
	unsigned char *p = (unsigned char *)s;
	for (size_t i = 0; i < n; i++) {
		if ((p[i] < 0x20 && !(keep_nl && p[i] == '\n')) || p[i] == 0x7f)
			p[i] = '?';
		/* C1 controls written as UTF-8 (U+0080..U+009F): some
		 * terminals act on them like ESC sequences. */
		else if (p[i] == 0xc2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f)
			p[i] = p[i + 1] = '?';
		else if (p[i] >= 0x80 && p[i] <= 0x9f && (i == 0 || p[i - 1] < 0x80))
			p[i] = '?'; /* a raw 8-bit C1 byte, not inside a UTF-8 sequence */
	}
}

static void sanitize(char *s)
{
	attach_sanitize(s, strlen(s), false);
}

static void vnotice(struct attach *a, char cls, const char *fmt, va_list ap)
{
	char text[NOTICE_MAX];
	vsnprintf(text, sizeof(text), fmt, ap);
	sanitize(text);
	notice(a, cls, text);
}

void attach_notice(struct attach *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vnotice(a, N_INFO, fmt, ap);
	va_end(ap);
}

void attach_note(struct attach *a, char cls, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vnotice(a, cls, fmt, ap);
	va_end(ap);
}

void attach_flush_notices(struct attach *a)
{
	if (!a->npending && !a->dropped)
		return;
	if (!a->col0)
		outs(a, "\r\n");
	flush_pending(a);
	a->col0 = true;
}

/* --- console bytes ------------------------------------------------------------ */

static void track_esc(struct attach *a, unsigned char ch)
{
	switch (a->esc) {
	case 0:
		if (ch == 0x1b) {
			a->esc = 1;
			a->esc_n = 0;
		}
		return;
	case 1:
		a->esc = ch == '[' ? 2 : (ch == ']' || ch == 'P') ? 3 : 0;
		break;
	case 2:
		if (ch >= 0x40 && ch <= 0x7e)
			a->esc = 0;
		break;
	case 3:
		if (ch == 0x07)
			a->esc = 0;
		else if (ch == 0x1b)
			a->esc = 4;
		break;
	case 4:
		a->esc = ch == '\\' ? 0 : 3;
		break;
	}
	/* A sequence that never ends is not waited for forever. */
	if (a->esc && ++a->esc_n > 128)
		a->esc = 0;
}

void attach_console(struct attach *a, const void *buf, size_t n, int64_t now)
{
	const char *p = buf;
	a->bytes_in += n;
	a->last_console = now;
	/* The log gets the bytes as they came, a stamp at each line start. */
	if (a->log_fd >= 0) {
		if (!a->timestamps) {
			attach_log_write(a, p, n);
			if (n)
				a->log_col0 = p[n - 1] == '\n';
		} else {
			size_t i = 0;
			while (i < n && a->log_fd >= 0) {
				if (a->log_col0) {
					char ts[64];
					attach_stamp(ts, sizeof(ts), true);
					attach_log_write(a, ts, strlen(ts));
				}
				const char *nl = memchr(p + i, '\n', n - i);
				size_t end = nl ? (size_t)(nl - p) + 1 : n;
				attach_log_write(a, p + i, end - i);
				a->log_col0 = nl != NULL;
				i = end;
			}
		}
	}
	size_t i = 0;
	while (i < n) {
		if (a->col0 && a->timestamps) {
			char ts[64];
			attach_stamp(ts, sizeof(ts), false);
			if (a->cfg.color) {
				outs(a, "\033[2m");
				outs(a, ts);
				outs(a, "\033[22m");
			} else {
				outs(a, ts);
			}
		}
		const char *nl = memchr(p + i, '\n', n - i);
		size_t end = nl ? (size_t)(nl - p) + 1 : n;
		out(a, p + i, end - i);
		for (size_t k = i; k < end; k++) {
			unsigned char ch = (unsigned char)p[k];
			track_esc(a, ch);
			if (ch == '\n') {
				a->npartial = 0;
				a->partial_ok = true;
			} else if (a->npartial < PARTIAL_MAX && ch != 0x1b) {
				a->partial[a->npartial++] = (char)ch;
			} else {
				a->partial_ok = false;
			}
		}
		a->col0 = nl != NULL;
		i = end;
		if (a->col0 && a->esc == 0 && (a->npending || a->dropped))
			flush_pending(a);
	}
	schedule(a);
}

/* A half-drawn line (a prompt) that stays quiet: the notices go under it
 * and it is drawn again, so the user still sees where they type. */
static void flush_midline(struct attach *a)
{
	attach_flush_notices(a);
	a->esc = 0;
	if (a->npartial && a->partial_ok) {
		if (a->timestamps) {
			char ts[64];
			attach_stamp(ts, sizeof(ts), false);
			outs(a, ts);
		}
		out(a, a->partial, a->npartial);
		a->col0 = false;
	}
}

/* --- the paced queue to the port ------------------------------------------------- */

static size_t queued(const struct attach *a)
{
	return a->q.len - a->qhead;
}

bool attach_input_full(const struct attach *a)
{
	return queued(a) > ATTACH_QUEUE_HIGH;
}

static void pump(struct attach *a, int64_t now)
{
	while (queued(a) && now >= a->next_send) {
		bool paced = a->cfg.char_delay_ns > 0 || a->cfg.line_delay_ns > 0;
		size_t len = paced ? 1 : queued(a);
		const char *p = a->q.data + a->qhead;
		int rc = a->io.port_write(a->io.ctx, p, len);
		if (rc == -EAGAIN) {
			a->next_send = now + RETRY_NS;
			break;
		}
		if (rc < 0) {
			if (rc != a->last_err)
				attach_note(a, N_BAD,
				            "cannot write to the port: %s (%zu typed bytes dropped)",
				            strerror(-rc), queued(a));
			a->last_err = rc;
			a->qhead = a->q.len;
			break;
		}
		a->last_err = 0;
		a->bytes_out += len;
		a->qhead += len;
		if (paced) {
			char ch = p[0];
			a->next_send = now + a->cfg.char_delay_ns;
			if ((ch == '\r' || ch == '\n') && a->cfg.line_delay_ns > a->cfg.char_delay_ns)
				a->next_send = now + a->cfg.line_delay_ns;
		}
	}
	if (!queued(a)) {
		buf_reset(&a->q);
		a->qhead = 0;
		if (a->eof && !a->quit_at)
			a->quit_at = now + a->linger_ns;
	} else if (a->qhead > 65536) {
		memmove(a->q.data, a->q.data + a->qhead, queued(a));
		a->q.len -= a->qhead;
		a->qhead = 0;
	}
}

static void enqueue(struct attach *a, const void *buf, size_t n, int64_t now)
{
	if (a->cfg.listen_only) {
		if (!a->warned_listen) {
			char esc[32];
			attach_escape_name(a->cfg.escape, esc, sizeof(esc));
			attach_note(a, N_WARN, "listen-only: what you type is not sent (%s q quits)", esc);
			a->warned_listen = true;
		}
		return;
	}
	if (queued(a) + n > ATTACH_QUEUE_MAX) {
		attach_note(a, N_BAD, "input queue full: %zu bytes dropped", n);
		return;
	}
	buf_append(&a->q, buf, n);
	pump(a, now);
	schedule(a);
}

/* --- timers --------------------------------------------------------------------- */

static void schedule(struct attach *a)
{
	int64_t d = INT64_MAX;
	if (queued(a) && a->next_send < d)
		d = a->next_send;
	/* Not between lines: mid-line, or a line end inside an escape
	 * sequence (a console gone quiet there must not hold notices back). */
	if ((a->npending || a->dropped) && !(a->col0 && a->esc == 0)) {
		int64_t t = a->last_console + MIDLINE_QUIET_NS;
		if (t < d)
			d = t;
	}
	if (a->quit_at && a->quit_at < d)
		d = a->quit_at;
	if (d != a->deadline) {
		a->deadline = d;
		a->io.set_timer(a->io.ctx, d);
	}
}

void attach_tick(struct attach *a, int64_t now)
{
	a->deadline = INT64_MAX;
	pump(a, now);
	if ((a->npending || a->dropped) && !(a->col0 && a->esc == 0) &&
	    now >= a->last_console + MIDLINE_QUIET_NS)
		flush_midline(a);
	if (a->quit_at && now >= a->quit_at) {
		a->quit_at = 0;
		attach_flush_notices(a);
		a->io.quit(a->io.ctx, 0);
		return;
	}
	schedule(a);
}

void attach_keys_eof(struct attach *a, int64_t now, int64_t linger_ns)
{
	a->eof = true;
	a->linger_ns = linger_ns;
	if (!queued(a))
		a->quit_at = now + linger_ns;
	schedule(a);
}

/* --- commands ---------------------------------------------------------------------- */

struct cmd {
	int key;
	const char *label; /* how the key is written in help */
	const char *help;
	bool writes; /* refused with --listen-only */
	void (*run)(struct attach *a, int64_t now);
};

static void request(struct attach *a, const char *op, const char *arg)
{
	char err[256] = "";
	if (a->io.request(a->io.ctx, op, arg, err, sizeof(err)) < 0)
		attach_note(a, N_BAD, "%s: %s", op, err[0] ? err : "not possible here");
}

static void cmd_help(struct attach *a, int64_t now);

static void cmd_quit(struct attach *a, int64_t now)
{
	(void)now;
	attach_flush_notices(a);
	a->quitting = true;
	a->io.quit(a->io.ctx, 0);
}

static void cmd_break(struct attach *a, int64_t now)
{
	(void)now;
	request(a, "break", NULL);
}

static void cmd_sysrq(struct attach *a, int64_t now)
{
	(void)now;
	a->ks = K_ASK_SYSRQ;
	attach_note(a, N_ASK,
	            "SysRq key for %s (BREAK + key; c crashes it, s syncs, b reboots, h lists; Esc cancels):",
	            a->cfg.machine ? a->cfg.machine : a->cfg.name);
}

static void ask(struct attach *a, const char *op, const char *question)
{
	a->ks = K_ASK_YN;
	a->ask_op = op;
	attach_note(a, N_ASK, "%s %s? [y/N]", question, a->cfg.machine ? a->cfg.machine : a->cfg.name);
}

static void cmd_nmi(struct attach *a, int64_t now)
{
	(void)now;
	ask(a, "nmi", "Inject an NMI (a crash dump where the guest is set up for one) into");
}

static void cmd_dump(struct attach *a, int64_t now)
{
	(void)now;
	ask(a, "dump", "Crash and dump (method auto: SAC crashdump, NMI or SysRq c)");
}

static void cmd_restart(struct attach *a, int64_t now)
{
	(void)now;
	ask(a, "restart", "Reset (hard restart, no shutdown)");
}

static void cmd_next_channel(struct attach *a, int64_t now)
{
	enqueue(a, "\033\t", 2, now);
}

static void cmd_sac(struct attach *a, int64_t now)
{
	enqueue(a, "\033\t0", 3, now);
}

static void cmd_channels(struct attach *a, int64_t now)
{
	(void)now;
	request(a, "channels", a->cfg.listen_only ? "seen" : NULL);
}

static int open_log(struct attach *a, char *err, size_t errsz)
{
	if (!a->log_path) {
		char name[128], when[32];
		time_t t = time(NULL);
		struct tm tm;
		localtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y%m%d-%H%M%S", &tm);
		snprintf(name, sizeof(name), "emsagent-%s-%s.log", a->cfg.name ? a->cfg.name : "console",
		         when);
		for (char *s = name; *s; s++)
			if (*s == '/')
				*s = '_';
		a->log_path = xstrdup(name);
	}
	a->log_fd = open(a->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);
	if (a->log_fd < 0) {
		errbuf_set(err, errsz, "cannot open the log %s: %s", a->log_path, strerror(errno));
		return -1;
	}
	a->log_col0 = true;
	return 0;
}

static void cmd_log(struct attach *a, int64_t now)
{
	(void)now;
	if (a->log_fd >= 0) {
		close(a->log_fd);
		a->log_fd = -1;
		attach_note(a, N_INFO, "log closed: %s", a->log_path);
		return;
	}
	char err[512];
	if (open_log(a, err, sizeof(err)) < 0)
		attach_note(a, N_BAD, "%s", err);
	else
		attach_note(a, N_INFO, "logging to %s", a->log_path);
}

static void cmd_timestamps(struct attach *a, int64_t now)
{
	(void)now;
	a->timestamps = !a->timestamps;
	attach_note(a, N_INFO, "timestamps %s", a->timestamps ? "on" : "off");
}

static void cmd_status(struct attach *a, int64_t now)
{
	(void)now;
	char esc[32];
	attach_escape_name(a->cfg.escape, esc, sizeof(esc));
	attach_note(a, N_INFO,
	            "attach: escape %s, log %s, timestamps %s%s, paste pacing %lldms/char %lldms/line", esc,
	            a->log_fd >= 0 ? a->log_path : "off", a->timestamps ? "on" : "off",
	            a->cfg.listen_only ? ", listen-only" : "", (long long)(a->cfg.char_delay_ns / NS_PER_MS),
	            (long long)(a->cfg.line_delay_ns / NS_PER_MS));
	attach_note(a, N_INFO, "bytes: %llu from the console, %llu sent", (unsigned long long)a->bytes_in,
	            (unsigned long long)a->bytes_out);
	request(a, "status", NULL);
}

static const struct cmd cmds[] = {
    {'?', "?", "this help", false, cmd_help},
    {'q', "q", "quit (the terminal is restored; the machine is left as it is)", false, cmd_quit},
    {'b', "b", "send BREAK (serial, telnet)", true, cmd_break},
    {'s', "s", "SysRq: asks for the key, sends BREAK + key (Linux)", true, cmd_sysrq},
    {'n', "n", "NMI through the control plane (--control); asks y/N", false, cmd_nmi},
    {'d', "d", "crash dump, method auto, verified on the console; asks y/N", true, cmd_dump},
    {'r', "r", "restart through the control plane; asks y/N", false, cmd_restart},
    {'\t', "Tab", "next SAC channel (sends Esc Tab)", true, cmd_next_channel},
    {'0', "0", "back to the SAC channel (sends Esc Tab 0)", true, cmd_sac},
    {'c', "c", "list SAC channels", false, cmd_channels},
    {'l', "l", "log to a file on/off (--log FILE, else emsagent-NAME-TIME.log)", false, cmd_log},
    {'t', "t", "timestamps on/off (screen and log)", false, cmd_timestamps},
    {'i', "i", "status: port, settings, SAC state, machine-info, epoch, last findings", false, cmd_status},
};

void attach_write_keys(FILE *f, int escape)
{
	char esc[32];
	attach_escape_name(escape, esc, sizeof(esc));
	fprintf(f, "%s then:\n", esc);
	for (size_t i = 0; i < ARRAY_LEN(cmds); i++)
		fprintf(f, "  %-7s %s\n", cmds[i].label, cmds[i].help);
	fprintf(f, "  %-7s send %s itself\n", esc, esc);
}

static void cmd_help(struct attach *a, int64_t now)
{
	(void)now;
	char esc[32];
	attach_escape_name(a->cfg.escape, esc, sizeof(esc));
	attach_note(a, N_INFO, "%s then:", esc);
	for (size_t i = 0; i < ARRAY_LEN(cmds); i++)
		attach_note(a, N_INFO, "  %-7s %s", cmds[i].label, cmds[i].help);
	attach_note(a, N_INFO, "  %-7s send %s itself", esc, esc);
}

static void run_command(struct attach *a, unsigned char key, int64_t now)
{
	for (size_t i = 0; i < ARRAY_LEN(cmds); i++) {
		if (cmds[i].key != key)
			continue;
		if (cmds[i].writes && a->cfg.listen_only) {
			attach_note(a, N_WARN, "listen-only: '%s' would write to the port", cmds[i].label);
			return;
		}
		cmds[i].run(a, now);
		return;
	}
	char esc[32];
	attach_escape_name(a->cfg.escape, esc, sizeof(esc));
	if (key >= 0x20 && key < 0x7f)
		attach_note(a, N_WARN, "no command '%c' (%s ? lists them)", key, esc);
	else
		attach_note(a, N_WARN, "no command 0x%02x (%s ? lists them)", key, esc);
}

void attach_keys(struct attach *a, const void *buf, size_t n, int64_t now)
{
	const unsigned char *p = buf;
	size_t start = 0;
	for (size_t i = 0; i < n && !a->quitting; i++) {
		unsigned char ch = p[i];
		switch (a->ks) {
		case K_NORMAL:
			if (a->cfg.escape >= 0 && ch == (unsigned char)a->cfg.escape) {
				if (i > start)
					enqueue(a, p + start, i - start, now);
				a->ks = K_ESC;
				start = i + 1;
			}
			continue;
		case K_ESC:
			a->ks = K_NORMAL;
			start = i + 1;
			if (ch == (unsigned char)a->cfg.escape)
				enqueue(a, &ch, 1, now);
			else
				run_command(a, ch, now);
			break;
		case K_ASK_YN:
			a->ks = K_NORMAL;
			start = i + 1;
			if (ch == 'y' || ch == 'Y') {
				attach_note(a, N_INFO, "%s: asked for; waiting for the answer", a->ask_op);
				request(a, a->ask_op, NULL);
			} else {
				attach_note(a, N_INFO, "%s: cancelled", a->ask_op);
			}
			break;
		case K_ASK_SYSRQ:
			a->ks = K_NORMAL;
			start = i + 1;
			if (ch > 0x20 && ch < 0x7f) {
				char key[2] = {(char)ch, 0};
				request(a, "sysrq", key);
			} else {
				attach_note(a, N_INFO, "sysrq: cancelled");
			}
			break;
		}
		/* a command may have quit or changed state; the rest of this
		 * read is handled in that state */
	}
	if (a->ks == K_NORMAL && n > start && !a->quitting)
		enqueue(a, p + start, n - start, now);
	schedule(a);
}

/* --- escape key names --------------------------------------------------------------- */

void attach_escape_name(int escape, char *o, size_t osz)
{
	if (escape < 0)
		snprintf(o, osz, "none");
	else if (escape < 0x20)
		snprintf(o, osz, "Ctrl-%c", escape + '@');
	else
		snprintf(o, osz, "'%c'", escape);
}

int attach_escape_parse(const char *s, int *escape)
{
	if (strcmp(s, "none") == 0) {
		*escape = -1;
		return 0;
	}
	const char *k = NULL;
	if (s[0] == '^' && s[1] && !s[2])
		k = s + 1;
	else if ((strncasecmp(s, "C-", 2) == 0 && s[2] && !s[3]))
		k = s + 2;
	else if (strncasecmp(s, "ctrl-", 5) == 0 && s[5] && !s[6])
		k = s + 5;
	if (!k)
		return -1;
	char c = *k;
	if (c >= 'a' && c <= 'z')
		c = (char)(c - 32);
	if (c < '@' || c > '_')
		return -1;
	*escape = c - '@';
	return 0;
}

/* --- lifecycle ---------------------------------------------------------------------- */

struct attach *attach_new(const struct attach_cfg *cfg, const struct attach_io *io, char *err, size_t errsz)
{
	struct attach *a = xcalloc(1, sizeof(*a));
	a->cfg = *cfg;
	a->io = *io;
	a->col0 = true;
	a->log_col0 = true;
	a->partial_ok = true;
	a->log_fd = -1;
	a->timestamps = cfg->timestamps;
	a->deadline = INT64_MAX;
	if (cfg->log_path) {
		a->log_path = xstrdup(cfg->log_path);
		if (open_log(a, err, errsz) < 0) {
			attach_free(a);
			return NULL;
		}
	}
	if (cfg->events_path) {
		a->events = fopen(cfg->events_path, "ae");
		if (!a->events) {
			errbuf_set(err, errsz, "cannot open the events file %s: %s", cfg->events_path,
			           strerror(errno));
			attach_free(a);
			return NULL;
		}
	}
	return a;
}

void attach_free(struct attach *a)
{
	if (!a)
		return;
	if (a->log_fd >= 0)
		close(a->log_fd);
	if (a->events)
		fclose(a->events);
	free(a->log_path);
	buf_free(&a->q);
	buf_free(&a->pending);
	free(a);
}
