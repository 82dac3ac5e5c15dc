/*
 * test_attach.c — the attach core driven through a fake struct attach_io:
 * the escape key and every command of its table, y/N and SysRq questions,
 * listen-only, inline notices between console lines (at once, at the end
 * of the line, under a quiet prompt that is drawn again), sanitizing and
 * colour, the paced input queue and its timer, stdin EOF, the log and
 * events files, replies, and the bound on queued notices.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "emsagent/attach.h"
#include "emsagent/util.h"

#define T0      (INT64_C(1000) * NS_PER_SEC) /* the fake monotonic clock's start */
#define MAXREQ  32
#define LINGER  (100 * NS_PER_MS)
#define MACHINE "vm1 (qmp:/run/vm1.qmp)"

struct req {
	char op[32];
	char arg[32];
	bool has_arg;
};

/* The fake world around the core: what it wrote, asked and set. */
struct fake {
	struct buf port; /* bytes port_write accepted */
	unsigned port_calls;
	int port_rc; /* returned (nothing accepted) when not 0 */
	struct req reqs[MAXREQ];
	unsigned nreq;
	int req_rc;
	const char *req_err;
	struct buf term; /* the user's terminal */
	int64_t deadline;
	unsigned ntimer;
	unsigned nquit;
	int quit_status;
	size_t term_at_quit;
};

struct fx {
	char dir[64];
	char log[128], events[128];
	struct fake f;
	struct attach_cfg cfg;
	struct attach *a;
};

static int fake_port_write(void *ctx, const void *buf, size_t n)
{
	struct fake *f = ctx;
	f->port_calls++;
	if (f->port_rc)
		return f->port_rc;
	buf_append(&f->port, buf, n);
	return 0;
}

static int fake_request(void *ctx, const char *op, const char *arg, char *err, size_t errsz)
{
	struct fake *f = ctx;
	assert_true(f->nreq < MAXREQ);
	struct req *r = &f->reqs[f->nreq++];
	snprintf(r->op, sizeof(r->op), "%s", op);
	r->has_arg = arg != NULL;
	snprintf(r->arg, sizeof(r->arg), "%s", arg ? arg : "");
	if (f->req_rc < 0 && f->req_err)
		snprintf(err, errsz, "%s", f->req_err);
	return f->req_rc;
}

static void fake_out(void *ctx, const void *buf, size_t n)
{
	struct fake *f = ctx;
	buf_append(&f->term, buf, n);
}

static void fake_set_timer(void *ctx, int64_t deadline)
{
	struct fake *f = ctx;
	f->deadline = deadline;
	f->ntimer++;
}

static void fake_quit(void *ctx, int status)
{
	struct fake *f = ctx;
	f->nquit++;
	f->quit_status = status;
	f->term_at_quit = f->term.len;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	struct fx *x = xcalloc(1, sizeof(*x));
	snprintf(x->dir, sizeof(x->dir), "/tmp/emsagent-attach-XXXXXX");
	if (!mkdtemp(x->dir)) {
		free(x);
		return -1;
	}
	snprintf(x->log, sizeof(x->log), "%s/console.log", x->dir);
	snprintf(x->events, sizeof(x->events), "%s/events.jsonl", x->dir);
	x->f.deadline = INT64_MAX;
	/* never NULL, so term() and port() are the buffers themselves */
	buf_append(&x->f.term, "", 0);
	buf_append(&x->f.port, "", 0);
	x->cfg = (struct attach_cfg){
	    .name = "vm1",
	    .machine = MACHINE,
	    .escape = ATTACH_ESCAPE_DEFAULT,
	};
	*state = x;
	alarm(30);
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;
	attach_free(x->a);
	buf_free(&x->f.port);
	buf_free(&x->f.term);
	nftw(x->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(x);
	alarm(0);
	return 0;
}

static struct attach *start(struct fx *x)
{
	struct attach_io io = {
	    .ctx = &x->f,
	    .port_write = fake_port_write,
	    .request = fake_request,
	    .out = fake_out,
	    .set_timer = fake_set_timer,
	    .quit = fake_quit,
	};
	char err[256] = "";
	x->a = attach_new(&x->cfg, &io, err, sizeof(err));
	if (!x->a)
		fail_msg("attach_new: %s", err);
	return x->a;
}

static void keys(struct fx *x, const char *s, int64_t now)
{
	attach_keys(x->a, s, strlen(s), now);
}

static void con(struct fx *x, const char *s, int64_t now)
{
	attach_console(x->a, s, strlen(s), now);
}

/* The timer asked for fires (and is gone, as the loop's one-shot timers
 * are): the core asks again for what it still needs. */
static void tick(struct fx *x, int64_t now)
{
	x->f.deadline = INT64_MAX;
	attach_tick(x->a, now);
}

static void event(struct fx *x, const char *json, int64_t now)
{
	struct json_object *o = json_tokener_parse(json);
	if (!o)
		fail_msg("bad test JSON: %s", json);
	attach_event(x->a, o, now);
	json_object_put(o);
}

static const char *term(const struct fx *x)
{
	return x->f.term.data;
}

static const char *port(const struct fx *x)
{
	return x->f.port.data;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0, len = strlen(needle);
	for (const char *p = strstr(hay, needle); p; p = strstr(p + len, needle))
		n++;
	return n;
}

static void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("\"%s\" not found in \"%s\"", needle, hay);
}

static void assert_lacks(const char *hay, const char *needle)
{
	if (strstr(hay, needle))
		fail_msg("\"%s\" unexpectedly found in \"%s\"", needle, hay);
}

static void assert_req(const struct fx *x, unsigned i, const char *op, const char *arg)
{
	assert_true(x->f.nreq > i);
	assert_string_equal(x->f.reqs[i].op, op);
	if (arg) {
		assert_true(x->f.reqs[i].has_arg);
		assert_string_equal(x->f.reqs[i].arg, arg);
	} else {
		assert_false(x->f.reqs[i].has_arg);
	}
}

static char *slurp(const char *path)
{
	struct buf b = {0};
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		fail_msg("open %s: %s", path, strerror(errno));
	char tmp[4096];
	ssize_t n;
	while ((n = read(fd, tmp, sizeof(tmp))) > 0)
		buf_append(&b, tmp, (size_t)n);
	close(fd);
	if (!b.data)
		buf_append(&b, "", 0);
	return b.data;
}

/* s starts with pat, where 'd' in pat stands for any digit. */
static bool matches(const char *s, const char *pat)
{
	for (size_t i = 0; pat[i]; i++) {
		if (pat[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != pat[i])
			return false;
	}
	return true;
}

/* s is a stamp like pat, then text. */
static bool stamped(const char *s, const char *pat, const char *text)
{
	return matches(s, pat) && strncmp(s + strlen(pat), text, strlen(text)) == 0;
}

#define SCREEN_STAMP "[dd:dd:dd.ddd] "
#define LOG_STAMP    "[dddd-dd-ddTdd:dd:dd.dddZ] "

#define EV_CONNECTED "{\"event\":\"console.connected\",\"console\":\"vm1\"}"
#define EV_RULE                                                                                              \
	"{\"event\":\"rule.fired\",\"time\":\"2026-11-21T10:15:02.123Z\",\"console\":\"vm1\","               \
	"\"rule\":\"R-stuck-updates\",\"level\":\"high\",\"title\":\"Stuck at updates\","                    \
	"\"summary\":\"Windows has been configuring updates for 30 min\",\"epoch\":2,"                       \
	"\"line\":\"Preparing to configure Windows\","                                                       \
	"\"remediation\":[\"Collect a dump first\",\"Boot into safe mode\",\"Roll the update back\"]}"

/* --- the escape key -------------------------------------------------------------------- */

static void test_escape_parse_and_name(void **state)
{
	(void)state;
	int e = 99;
	assert_int_equal(attach_escape_parse("^A", &e), 0);
	assert_int_equal(e, 1);
	assert_int_equal(attach_escape_parse("^a", &e), 0);
	assert_int_equal(e, 1);
	assert_int_equal(attach_escape_parse("C-b", &e), 0);
	assert_int_equal(e, 2);
	assert_int_equal(attach_escape_parse("ctrl-x", &e), 0);
	assert_int_equal(e, 0x18);
	assert_int_equal(attach_escape_parse("CTRL-]", &e), 0);
	assert_int_equal(e, 0x1d);
	assert_int_equal(attach_escape_parse("^]", &e), 0);
	assert_int_equal(e, ATTACH_ESCAPE_DEFAULT);
	assert_int_equal(attach_escape_parse("none", &e), 0);
	assert_int_equal(e, -1);

	const char *bad[] = {"^5", "x", "", "^", "^AB", "C-", "ctrl-", "ctrl-ab", "^?", "C-1", "nothing"};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		e = 42;
		if (attach_escape_parse(bad[i], &e) != -1)
			fail_msg("\"%s\" was accepted as an escape key", bad[i]);
	}

	char name[32];
	attach_escape_name(ATTACH_ESCAPE_DEFAULT, name, sizeof(name));
	assert_string_equal(name, "Ctrl-]");
	attach_escape_name(1, name, sizeof(name));
	assert_string_equal(name, "Ctrl-A");
	attach_escape_name(-1, name, sizeof(name));
	assert_string_equal(name, "none");
	/* the names it writes read back as the same key */
	assert_int_equal(attach_escape_parse("ctrl-a", &e), 0);
	attach_escape_name(e, name, sizeof(name));
	assert_string_equal(name, "Ctrl-A");
}

static void test_plain_bytes_pass_through(void **state)
{
	struct fx *x = *state;
	start(x);
	/* every byte value except the escape key, in one read */
	unsigned char all[256];
	size_t n = 0;
	for (int c = 0; c < 256; c++)
		if (c != ATTACH_ESCAPE_DEFAULT)
			all[n++] = (unsigned char)c;
	attach_keys(x->a, all, n, T0);
	assert_int_equal(x->f.port.len, n);
	assert_memory_equal(x->f.port.data, all, n);
	assert_int_equal(x->f.nreq, 0);
	assert_int_equal(x->f.term.len, 0);

	/* bytes around a command in the same read go out in order, the
	 * command's two bytes do not */
	buf_reset(&x->f.port);
	keys(x,
	     "ab\x1d"
	     "bcd",
	     T0);
	assert_string_equal(port(x), "abcd");
	assert_int_equal(x->f.nreq, 1);
	assert_req(x, 0, "break", NULL);

	/* the escape key at the end of one read, its command in the next */
	buf_reset(&x->f.port);
	keys(x, "xy\x1d", T0);
	assert_string_equal(port(x), "xy");
	keys(x, "iz", T0);
	assert_string_equal(port(x), "xyz");
	assert_int_equal(x->f.nreq, 2);
	assert_req(x, 1, "status", NULL);
}

static void test_escape_twice_sends_one(void **state)
{
	struct fx *x = *state;
	start(x);
	keys(x,
	     "a\x1d\x1d"
	     "b",
	     T0);
	assert_int_equal(x->f.port.len, 3);
	assert_memory_equal(x->f.port.data,
	                    "a\x1d"
	                    "b",
	                    3);
	/* split over reads */
	keys(x, "\x1d", T0);
	assert_int_equal(x->f.port.len, 3);
	keys(x, "\x1d", T0);
	assert_int_equal(x->f.port.len, 4);
	assert_int_equal(x->f.port.data[3], 0x1d);
	assert_int_equal(x->f.nreq, 0);
	assert_int_equal(x->f.nquit, 0);
}

static void test_escape_none(void **state)
{
	struct fx *x = *state;
	assert_int_equal(attach_escape_parse("none", &x->cfg.escape), 0);
	start(x);
	keys(x,
	     "a\x1d\x1dq\x1d"
	     "b",
	     T0);
	assert_int_equal(x->f.port.len, 6);
	assert_memory_equal(x->f.port.data,
	                    "a\x1d\x1dq\x1d"
	                    "b",
	                    6);
	assert_int_equal(x->f.nreq, 0);
	assert_int_equal(x->f.nquit, 0);
	assert_int_equal(x->f.term.len, 0);
}

static void test_escape_custom(void **state)
{
	struct fx *x = *state;
	assert_int_equal(attach_escape_parse("^A", &x->cfg.escape), 0);
	start(x);
	/* Ctrl-] is an ordinary byte now */
	keys(x, "x\x1dy", T0);
	assert_int_equal(x->f.port.len, 3);
	assert_memory_equal(x->f.port.data, "x\x1dy", 3);
	keys(x, "\x01\x01", T0);
	assert_int_equal(x->f.port.len, 4);
	assert_int_equal(x->f.port.data[3], 0x01);
	keys(x,
	     "\x01"
	     "b",
	     T0);
	assert_int_equal(x->f.nreq, 1);
	assert_req(x, 0, "break", NULL);
	assert_int_equal(x->f.port.len, 4);
	/* the unknown-command notice names the custom key */
	keys(x, "\x01z", T0);
	assert_contains(term(x), "no command 'z' (Ctrl-A ? lists them)");
	keys(x, "\x01q", T0);
	assert_int_equal(x->f.nquit, 1);
	assert_int_equal(x->f.quit_status, 0);
}

/* --- the command table -------------------------------------------------------------------- */

static char *keys_text(int escape)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	attach_write_keys(f, escape);
	fclose(f);
	return text;
}

static void check_help(struct fx *x, int escape, const char *esc_name)
{
	char *text = keys_text(escape);
	/* every key of the table is listed */
	const char *labels[] = {"?", "q", "b", "s", "n", "d", "r", "Tab", "0", "c", "l", "t", "i", esc_name};
	for (size_t i = 0; i < ARRAY_LEN(labels); i++) {
		char want[32];
		snprintf(want, sizeof(want), "\n  %-7s ", labels[i]);
		assert_contains(text, want);
	}
	/* and `?` shows each of those lines as a notice, in order */
	size_t lines = 0;
	const char *from = term(x);
	for (char *s = text; *s;) {
		char *e = strchr(s, '\n');
		assert_non_null(e);
		char want[256];
		snprintf(want, sizeof(want), "[emsagent] %.*s\r\n", (int)(e - s), s);
		const char *at = strstr(from, want);
		if (!at)
			fail_msg("help line \"%s\" not on the screen (or out of order)", want);
		from = at + strlen(want);
		lines++;
		s = e + 1;
	}
	assert_int_equal(count(term(x), "[emsagent] "), lines);
	assert_int_equal(lines, 1 + 13 + 1);
	free(text);
}

static void test_help(void **state)
{
	struct fx *x = *state;
	start(x);
	keys(x, "\x1d?", T0);
	check_help(x, ATTACH_ESCAPE_DEFAULT, "Ctrl-]");
	assert_int_equal(x->f.port.len, 0);
	assert_int_equal(x->f.nreq, 0);
}

static void test_help_custom_escape(void **state)
{
	struct fx *x = *state;
	x->cfg.escape = 2;
	start(x);
	keys(x, "\x02?", T0);
	check_help(x, 2, "Ctrl-B");
	assert_contains(term(x), "[emsagent] Ctrl-B then:\r\n");
}

static void test_quit(void **state)
{
	struct fx *x = *state;
	start(x);
	/* a notice waiting for the end of a line goes out before quitting */
	con(x, "half a line", T0);
	event(x, EV_CONNECTED, T0);
	assert_string_equal(term(x), "half a line");
	keys(x, "\x1dq", T0);
	assert_int_equal(x->f.nquit, 1);
	assert_int_equal(x->f.quit_status, 0);
	assert_string_equal(term(x), "half a line\r\n[emsagent] console connected\r\n");
	assert_int_equal(x->f.term_at_quit, x->f.term.len);
	assert_int_equal(x->f.port.len, 0);
}

static void test_break(void **state)
{
	struct fx *x = *state;
	start(x);
	keys(x,
	     "\x1d"
	     "b",
	     T0);
	assert_int_equal(x->f.nreq, 1);
	assert_req(x, 0, "break", NULL);
	assert_int_equal(x->f.port.len, 0);
	attach_reply(x->a, "break", true, NULL, NULL, NULL);
	assert_contains(term(x), "[emsagent] BREAK sent\r\n");
}

static void test_sysrq(void **state)
{
	struct fx *x = *state;
	start(x);
	keys(x, "\x1ds", T0);
	assert_int_equal(x->f.nreq, 0);
	assert_contains(term(x), "SysRq key for vm1");
	keys(x, "c", T0);
	assert_int_equal(x->f.nreq, 1);
	assert_req(x, 0, "sysrq", "c");
	/* the key was the answer, not typing */
	assert_int_equal(x->f.port.len, 0);

	/* Esc cancels; what follows is typing again */
	keys(x, "\x1ds\033", T0);
	assert_int_equal(x->f.nreq, 1);
	assert_contains(term(x), "sysrq: cancelled");
	assert_int_equal(x->f.port.len, 0);
	keys(x, "c", T0);
	assert_int_equal(x->f.nreq, 1);
	assert_string_equal(port(x), "c");

	/* all in one read: the key after `s` is the answer, the rest is typed */
	keys(x, "\x1dshxy", T0);
	assert_int_equal(x->f.nreq, 2);
	assert_req(x, 1, "sysrq", "h");
	assert_string_equal(port(x), "cxy");

	/* Enter and space are not SysRq keys */
	keys(x, "\x1ds\r\x1ds ", T0);
	assert_int_equal(x->f.nreq, 2);
	assert_string_equal(port(x), "cxy");
}

static void test_confirmations(void **state)
{
	struct fx *x = *state;
	start(x);
	struct {
		char key;
		const char *op;
	} asks[] = {{'n', "nmi"}, {'d', "dump"}, {'r', "restart"}};
	unsigned want = 0;
	for (size_t i = 0; i < ARRAY_LEN(asks); i++) {
		char cmd[3] = {0x1d, asks[i].key, 0};
		/* not without an answer */
		buf_reset(&x->f.term);
		keys(x, cmd, T0);
		assert_int_equal(x->f.nreq, want);
		assert_contains(term(x), MACHINE "? [y/N]");
		/* y: asked */
		keys(x, "y", T0);
		assert_int_equal(x->f.nreq, ++want);
		assert_req(x, want - 1, asks[i].op, NULL);
		/* Y too */
		keys(x, cmd, T0);
		keys(x, "Y", T0);
		assert_int_equal(x->f.nreq, ++want);
		assert_req(x, want - 1, asks[i].op, NULL);
		/* anything else cancels: x, Enter, n, Esc */
		const char *no[] = {"x", "\r", "n", "\033"};
		for (size_t k = 0; k < ARRAY_LEN(no); k++) {
			buf_reset(&x->f.term);
			keys(x, cmd, T0);
			keys(x, no[k], T0);
			assert_int_equal(x->f.nreq, want);
			char msg[64];
			snprintf(msg, sizeof(msg), "%s: cancelled", asks[i].op);
			assert_contains(term(x), msg);
		}
	}
	/* answers never reach the port */
	assert_int_equal(x->f.port.len, 0);
	assert_int_equal(x->f.port_calls, 0);
	/* and after a cancelled question typing goes to the port again */
	keys(x, "\x1dnxls\r", T0);
	assert_string_equal(port(x), "ls\r");
	assert_int_equal(x->f.nreq, want);
}

static void test_sac_keys(void **state)
{
	struct fx *x = *state;
	start(x);
	keys(x, "\x1d\t", T0);
	assert_int_equal(x->f.port.len, 2);
	assert_memory_equal(x->f.port.data, "\033\t", 2);
	keys(x,
	     "\x1d"
	     "0",
	     T0);
	assert_int_equal(x->f.port.len, 5);
	assert_memory_equal(x->f.port.data, "\033\t\033\t0", 5);
	assert_int_equal(x->f.nreq, 0);
}

static void test_channels(void **state)
{
	struct fx *x = *state;
	start(x);
	keys(x,
	     "\x1d"
	     "c",
	     T0);
	assert_int_equal(x->f.nreq, 1);
	assert_req(x, 0, "channels", NULL);
	attach_reply(x->a, "channels", true, NULL, "SAC\n\ncmd0001 (cmd)\n", NULL);
	assert_contains(term(x),
	                "[emsagent] SAC channels:\r\n[emsagent]   SAC\r\n[emsagent]   cmd0001 (cmd)\r\n");
	assert_int_equal(count(term(x), "[emsagent] "), 3);
	buf_reset(&x->f.term);
	attach_reply(x->a, "channels", true, NULL, NULL, NULL);
	assert_string_equal(term(x), "[emsagent] SAC channels:\r\n[emsagent]   none seen yet\r\n");
}

static void test_channels_listen_only(void **state)
{
	struct fx *x = *state;
	x->cfg.listen_only = true;
	start(x);
	keys(x,
	     "\x1d"
	     "c",
	     T0);
	assert_int_equal(x->f.nreq, 1);
	assert_req(x, 0, "channels", "seen");
}

static void test_status_key(void **state)
{
	struct fx *x = *state;
	x->cfg.char_delay_ns = 3 * NS_PER_MS;
	x->cfg.line_delay_ns = 40 * NS_PER_MS;
	start(x);
	con(x, "12345\r\n", T0);
	keys(x, "\x1di", T0);
	assert_int_equal(x->f.nreq, 1);
	assert_req(x, 0, "status", NULL);
	assert_contains(term(x),
	                "attach: escape Ctrl-], log off, timestamps off, paste pacing 3ms/char 40ms/line");
	assert_contains(term(x), "bytes: 7 from the console, 0 sent");
}

static void test_request_refused(void **state)
{
	struct fx *x = *state;
	start(x);
	x->f.req_rc = -1;
	x->f.req_err = "no control plane (--control)";
	keys(x, "\x1dny", T0);
	assert_int_equal(x->f.nreq, 1);
	assert_contains(term(x), "[emsagent] nmi: no control plane (--control)\r\n");
	x->f.req_err = NULL;
	keys(x,
	     "\x1d"
	     "b",
	     T0);
	assert_contains(term(x), "[emsagent] break: not possible here\r\n");
}

static void test_log_toggle(void **state)
{
	struct fx *x = *state;
	x->cfg.log_path = x->log;
	start(x);
	con(x, "one\r\n", T0);
	keys(x, "\x1dl", T0);
	char want[256];
	snprintf(want, sizeof(want), "[emsagent] log closed: %s\r\n", x->log);
	assert_contains(term(x), want);
	con(x, "two\r\n", T0);
	keys(x, "\x1dl", T0);
	snprintf(want, sizeof(want), "[emsagent] logging to %s\r\n", x->log);
	assert_contains(term(x), want);
	con(x, "three\r\n", T0);
	char *got = slurp(x->log);
	snprintf(want, sizeof(want), "one\r\n[emsagent] logging to %s\nthree\r\n", x->log);
	assert_string_equal(got, want);
	free(got);
	assert_int_equal(x->f.port.len, 0);
	assert_int_equal(x->f.nreq, 0);
}

static void test_log_default_name(void **state)
{
	struct fx *x = *state;
	char cwd[4096];
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(x->dir), 0);
	x->cfg.name = "vm/1";
	start(x);
	keys(x, "\x1dl", T0);
	con(x, "booting\r\n", T0);
	keys(x, "\x1dl", T0);
	con(x, "not logged\r\n", T0);
	assert_int_equal(chdir(cwd), 0);

	DIR *d = opendir(x->dir);
	assert_non_null(d);
	char found[300] = "";
	unsigned n = 0;
	for (struct dirent *de; (de = readdir(d));) {
		if (de->d_name[0] == '.')
			continue;
		n++;
		snprintf(found, sizeof(found), "%s", de->d_name);
	}
	closedir(d);
	assert_int_equal(n, 1);
	/* emsagent-NAME-YYYYmmdd-HHMMSS.log, the slash made harmless */
	if (!matches(found, "emsagent-vm_1-dddddddd-dddddd.log") || strlen(found) != 33)
		fail_msg("log name %s", found);
	assert_contains(term(x), "[emsagent] logging to emsagent-vm_1-");
	assert_contains(term(x), "[emsagent] log closed: emsagent-vm_1-");

	char path[400];
	snprintf(path, sizeof(path), "%s/%s", x->dir, found);
	char *got = slurp(path);
	assert_contains(got, "booting\r\n");
	assert_lacks(got, "not logged");
	free(got);
}

static void test_timestamps_toggle(void **state)
{
	struct fx *x = *state;
	start(x);
	con(x, "plain\r\n", T0);
	keys(x, "\x1dt", T0);
	assert_contains(term(x), "[emsagent] timestamps on\r\n");
	buf_reset(&x->f.term);
	con(x, "hello\r\nwor", T0);
	con(x, "ld\r\n", T0);
	const char *s = term(x);
	assert_true(stamped(s, SCREEN_STAMP, "hello\r\n"));
	s += strlen(SCREEN_STAMP "hello\r\n");
	/* one stamp per line, however it was read */
	assert_true(stamped(s, SCREEN_STAMP, "world\r\n"));
	assert_int_equal(strlen(s), strlen(SCREEN_STAMP "world\r\n"));
	keys(x, "\x1dt", T0);
	assert_contains(term(x), "[emsagent] timestamps off\r\n");
	buf_reset(&x->f.term);
	con(x, "bare\r\n", T0);
	assert_string_equal(term(x), "bare\r\n");
}

static void test_timestamps_color(void **state)
{
	struct fx *x = *state;
	x->cfg.timestamps = true;
	x->cfg.color = true;
	start(x);
	con(x, "x\r\n", T0);
	const char *s = term(x);
	assert_true(strncmp(s, "\033[2m", 4) == 0);
	assert_true(stamped(s + 4, SCREEN_STAMP, "\033[22mx\r\n"));
}

static void test_unknown_key(void **state)
{
	struct fx *x = *state;
	start(x);
	keys(x, "\x1dz", T0);
	assert_string_equal(term(x), "[emsagent] no command 'z' (Ctrl-] ? lists them)\r\n");
	buf_reset(&x->f.term);
	keys(x, "\x1d\x01", T0);
	assert_string_equal(term(x), "[emsagent] no command 0x01 (Ctrl-] ? lists them)\r\n");
	assert_int_equal(x->f.port.len, 0);
	assert_int_equal(x->f.port_calls, 0);
	assert_int_equal(x->f.nreq, 0);
	assert_int_equal(x->f.nquit, 0);
}

static void test_listen_only(void **state)
{
	struct fx *x = *state;
	x->cfg.listen_only = true;
	start(x);
	keys(x, "ls -l\r", T0);
	assert_int_equal(x->f.port_calls, 0);
	assert_contains(term(x), "[emsagent] listen-only: what you type is not sent (Ctrl-] q quits)\r\n");
	/* said once */
	keys(x, "more", T0);
	assert_int_equal(count(term(x), "listen-only: what you type"), 1);

	const char *refused[] = {"b", "s", "d", "\t", "0"};
	const char *label[] = {"b", "s", "d", "Tab", "0"};
	for (size_t i = 0; i < ARRAY_LEN(refused); i++) {
		char cmd[3] = {0x1d, refused[i][0], 0};
		buf_reset(&x->f.term);
		keys(x, cmd, T0);
		char want[80];
		snprintf(want, sizeof(want), "[emsagent] listen-only: '%s' would write to the port\r\n",
		         label[i]);
		assert_string_equal(term(x), want);
		/* no question follows: the next key is not an answer */
		keys(x, "y", T0);
	}
	/* the escape key twice would send it */
	keys(x, "\x1d\x1d", T0);
	assert_int_equal(x->f.port_calls, 0);
	assert_int_equal(x->f.port.len, 0);
	assert_int_equal(x->f.nreq, 0);
	keys(x, "\x1dq", T0);
	assert_int_equal(x->f.nquit, 1);
}

/* --- notices between console lines ------------------------------------------------------- */

static void test_notice_at_col0(void **state)
{
	struct fx *x = *state;
	start(x);
	event(x, EV_CONNECTED, T0);
	assert_string_equal(term(x), "[emsagent] console connected\r\n");
	con(x, "line\r\n", T0);
	event(x, "{\"event\":\"console.disconnected\",\"reason\":\"EOF\"}", T0);
	assert_string_equal(term(x),
	                    "[emsagent] console connected\r\nline\r\n[emsagent] console lost: EOF\r\n");
	/* nothing waits, so no timer */
	assert_int_equal(x->f.deadline, INT64_MAX);
}

static void test_notice_waits_for_line_end(void **state)
{
	struct fx *x = *state;
	start(x);
	con(x, "abc", T0);
	event(x, EV_CONNECTED, T0 + NS_PER_MS);
	assert_string_equal(term(x), "abc");
	/* a timer for the quiet prompt case */
	assert_int_equal(x->f.deadline, T0 + NS_PER_SEC);
	con(x, "def\r\nnext", T0 + 2 * NS_PER_MS);
	assert_string_equal(term(x), "abcdef\r\n[emsagent] console connected\r\nnext");
	/* nothing is pending: the timer is given up, a tick adds nothing */
	assert_int_equal(x->f.deadline, INT64_MAX);
	tick(x, T0 + 5 * NS_PER_SEC);
	assert_string_equal(term(x), "abcdef\r\n[emsagent] console connected\r\nnext");
}

static void test_notice_not_inside_escape_sequence(void **state)
{
	struct fx *x = *state;
	start(x);
	/* a line end inside a CSI sequence is not between lines */
	con(x, "ok\r\n\033[1;\r\n", T0);
	event(x, EV_CONNECTED, T0);
	assert_string_equal(term(x), "ok\r\n\033[1;\r\n");
	con(x, "31mred\r\n", T0);
	assert_string_equal(term(x), "ok\r\n\033[1;\r\n31mred\r\n[emsagent] console connected\r\n");
}

static void test_notice_after_quiet_escape_sequence(void **state)
{
	struct fx *x = *state;
	start(x);
	/* a console that goes quiet inside an unfinished sequence does not
	 * hold notices (or a y/N question) back for ever */
	con(x, "\033[\r\n", T0);
	keys(x, "\x1dn", T0 + NS_PER_MS);
	assert_lacks(term(x), "[y/N]");
	assert_true(x->f.deadline <= T0 + NS_PER_SEC);
	tick(x, T0 + NS_PER_SEC);
	assert_contains(term(x), MACHINE "? [y/N]\r\n");
}

static void test_notice_midline_quiet_redraws(void **state)
{
	struct fx *x = *state;
	start(x);
	con(x, "login: ", T0);
	event(x, EV_CONNECTED, T0 + 100 * NS_PER_MS);
	assert_string_equal(term(x), "login: ");
	assert_int_equal(x->f.deadline, T0 + NS_PER_SEC);
	tick(x, T0 + NS_PER_SEC - 1);
	assert_string_equal(term(x), "login: ");
	tick(x, T0 + NS_PER_SEC);
	/* under the prompt, which is drawn again */
	assert_string_equal(term(x), "login: \r\n[emsagent] console connected\r\nlogin: ");
	assert_int_equal(x->f.deadline, INT64_MAX);
	/* typing goes on after the redrawn prompt */
	con(x, "root\r\n", T0 + 2 * NS_PER_SEC);
	assert_string_equal(term(x), "login: \r\n[emsagent] console connected\r\nlogin: root\r\n");
	/* the same prompt later, already quiet: the notice waits one tick */
	con(x, "Password: ", T0 + 3 * NS_PER_SEC);
	event(x, EV_CONNECTED, T0 + 10 * NS_PER_SEC);
	assert_int_equal(x->f.deadline, T0 + 4 * NS_PER_SEC);
	tick(x, T0 + 10 * NS_PER_SEC);
	assert_true(strstr(term(x), "Password: \r\n[emsagent] console connected\r\nPassword: ") != NULL);
}

static void test_rule_notice(void **state)
{
	struct fx *x = *state;
	start(x);
	event(x, EV_RULE, T0);
	assert_string_equal(
	    term(x), "[emsagent] HIGH R-stuck-updates: Stuck at updates -- first: Collect a dump first\r\n");
	buf_reset(&x->f.term);
	event(x,
	      "{\"event\":\"rule.uncertain\",\"rule\":\"R-x\",\"level\":\"critical\",\"title\":\"Maybe\","
	      "\"remediation\":[]}",
	      T0);
	assert_string_equal(term(x), "[emsagent] maybe CRITICAL R-x: Maybe\r\n");
	buf_reset(&x->f.term);
	event(x, "{\"event\":\"rule.resolved\",\"rule\":\"R-x\",\"reason\":\"boot went on\"}", T0);
	assert_string_equal(term(x), "[emsagent] resolved R-x: boot went on\r\n");
	buf_reset(&x->f.term);
	event(x, "{\"event\":\"epoch.started\",\"epoch\":3,\"marker\":\"UEFI banner\"}", T0);
	assert_string_equal(term(x), "[emsagent] new boot: epoch 3 (UEFI banner)\r\n");
	buf_reset(&x->f.term);
	event(x, "{\"event\":\"dump.failed\",\"reason\":\"no control plane\"}", T0);
	assert_string_equal(term(x), "[emsagent] dump.failed: no control plane\r\n");
	buf_reset(&x->f.term);
	/* no "event": nothing to say */
	event(x, "{\"rule\":\"R-x\"}", T0);
	assert_int_equal(x->f.term.len, 0);
}

static void test_notice_sanitized(void **state)
{
	struct fx *x = *state;
	start(x);
	event(x,
	      "{\"event\":\"rule.fired\",\"rule\":\"R-\\u001b]0;pwn\\u0007\",\"level\":\"high\","
	      "\"title\":\"evil\\u001b[2J\\r\\nX\\u007f\",\"remediation\":[\"\\u001bc reset\"]}",
	      T0);
	event(x, "{\"event\":\"console.disconnected\",\"reason\":\"bye\\r\\u001b[H\"}", T0);
	attach_notice(x->a, "from %s", "the\033[31m console\r");
	attach_reply(x->a, "dump", false, "err\033[5m\b", NULL, NULL);
	const char *s = term(x);
	assert_null(memchr(s, 0x1b, x->f.term.len));
	assert_null(memchr(s, 0x7f, x->f.term.len));
	assert_null(memchr(s, '\b', x->f.term.len));
	assert_null(memchr(s, 0x07, x->f.term.len));
	/* every CR and LF is a notice's own line end */
	assert_int_equal(count(s, "\r"), 4);
	assert_int_equal(count(s, "\n"), 4);
	assert_int_equal(count(s, "\r\n"), 4);
	assert_contains(s, "R-?]0;pwn?: evil?[2J??X? -- first: ?c reset\r\n");
	assert_contains(s, "console lost: bye??[H\r\n");
	assert_contains(s, "from the?[31m console?\r\n");
	assert_contains(s, "dump failed: err?[5m?\r\n");
}

/* C1 controls (U+0080..U+009F in UTF-8, or raw 8-bit) act like ESC on some
 * terminals; other UTF-8 text passes. */
static void test_notice_c1_sanitized(void **state)
{
	struct fx *x = *state;
	start(x);
	attach_notice(x->a, "a\xc2\x9b"
	                    "2Jb \x9d"
	                    "0;t \xc3\xa9t\xc3\xa9");
	const char *s = term(x);
	assert_contains(s, "a??2Jb ?0;t \xc3\xa9t\xc3\xa9\r\n");
	assert_null(memchr(s, 0x9b, x->f.term.len));
	assert_null(memchr(s, 0x9d, x->f.term.len));
}

/* What follows q in the same read never reaches the port. */
static void test_quit_drops_rest_of_read(void **state)
{
	struct fx *x = *state;
	start(x);
	keys(x, "ab\x1dqcd", T0);
	assert_int_equal(x->f.nquit, 1);
	assert_int_equal(x->f.port.len, 2);
	assert_memory_equal(x->f.port.data, "ab", 2);
}

static void test_quiet_alerts_events_file(void **state)
{
	struct fx *x = *state;
	x->cfg.quiet_alerts = true;
	x->cfg.events_path = x->events;
	start(x);
	event(x, EV_RULE, T0);
	event(x, EV_CONNECTED, T0);
	assert_int_equal(x->f.term.len, 0);
	/* other notices still show */
	keys(x, "\x1dz", T0);
	assert_contains(term(x), "no command 'z'");
	char *got = slurp(x->events);
	char *nl = strchr(got, '\n');
	assert_non_null(nl);
	*nl = 0;
	struct json_object *o = json_tokener_parse(got), *want = json_tokener_parse(EV_RULE);
	assert_non_null(o);
	assert_true(json_object_equal(o, want));
	json_object_put(o);
	json_object_put(want);
	o = json_tokener_parse(nl + 1);
	want = json_tokener_parse(EV_CONNECTED);
	assert_non_null(o);
	assert_true(json_object_equal(o, want));
	json_object_put(o);
	json_object_put(want);
	assert_int_equal(count(nl + 1, "\n"), 1);
	free(got);
}

static void test_color(void **state)
{
	struct fx *x = *state;
	x->cfg.color = true;
	start(x);
	event(x, EV_RULE, T0);
	const char *s = term(x);
	assert_true(strncmp(s, "\033[", 2) == 0);
	assert_contains(s, "[emsagent]");
	assert_contains(s, "\033[1;31mHIGH R-stuck-updates");
	assert_int_equal(strcmp(s + strlen(s) - 6, "\033[0m\r\n"), 0);
}

static void test_no_color(void **state)
{
	struct fx *x = *state;
	x->cfg.timestamps = true;
	start(x);
	keys(x, "\x1d?\x1dz\x1ds\033\x1dny", T0);
	event(x, EV_RULE, T0);
	event(x, "{\"event\":\"dump.verified\",\"title\":\"MEMORY.DMP\"}", T0);
	attach_reply(x->a, "nmi", true, NULL, NULL, NULL);
	attach_reply(x->a, "dump", false, "timed out", NULL, NULL);
	con(x, "plain text\r\n", T0);
	assert_true(x->f.term.len > 500);
	assert_null(memchr(term(x), 0x1b, x->f.term.len));
	assert_contains(term(x), "[emsagent] NMI injected into " MACHINE "\r\n");
	assert_contains(term(x), "[emsagent] dump failed: timed out\r\n");
}

/* --- the paced queue --------------------------------------------------------------------- */

static void test_unpaced_one_write(void **state)
{
	struct fx *x = *state;
	start(x);
	keys(x, "hello\r", T0);
	assert_string_equal(port(x), "hello\r");
	assert_int_equal(x->f.port_calls, 1);
	assert_false(attach_input_full(x->a));
	assert_int_equal(x->f.deadline, INT64_MAX);
}

static void test_pacing(void **state)
{
	struct fx *x = *state;
	x->cfg.char_delay_ns = 2 * NS_PER_MS;
	x->cfg.line_delay_ns = 50 * NS_PER_MS;
	start(x);
	keys(x, "ab\rc", T0);
	assert_string_equal(port(x), "a");
	assert_int_equal(x->f.deadline, T0 + 2 * NS_PER_MS);
	tick(x, T0 + 1 * NS_PER_MS);
	assert_string_equal(port(x), "a");
	tick(x, T0 + 2 * NS_PER_MS);
	assert_string_equal(port(x), "ab");
	assert_int_equal(x->f.deadline, T0 + 4 * NS_PER_MS);
	tick(x, T0 + 4 * NS_PER_MS);
	assert_string_equal(port(x), "ab\r");
	/* after a line, the line delay */
	assert_int_equal(x->f.deadline, T0 + 54 * NS_PER_MS);
	tick(x, T0 + 6 * NS_PER_MS);
	tick(x, T0 + 53 * NS_PER_MS);
	assert_string_equal(port(x), "ab\r");
	tick(x, T0 + 54 * NS_PER_MS);
	assert_string_equal(port(x), "ab\rc");
	assert_int_equal(x->f.port_calls, 4);
	assert_int_equal(x->f.deadline, INT64_MAX);
	/* typed after a pause: at once */
	keys(x, "d", T0 + NS_PER_SEC);
	assert_string_equal(port(x), "ab\rcd");
}

static void test_pacing_line_delay_only(void **state)
{
	struct fx *x = *state;
	x->cfg.line_delay_ns = 30 * NS_PER_MS;
	start(x);
	keys(x, "one\ntwo\n", T0);
	assert_string_equal(port(x), "one\n");
	assert_int_equal(x->f.deadline, T0 + 30 * NS_PER_MS);
	tick(x, T0 + 30 * NS_PER_MS);
	assert_string_equal(port(x), "one\ntwo\n");
}

static void test_eagain_retried(void **state)
{
	struct fx *x = *state;
	start(x);
	x->f.port_rc = -EAGAIN;
	keys(x, "hello", T0);
	assert_int_equal(x->f.port_calls, 1);
	assert_int_equal(x->f.port.len, 0);
	assert_true(x->f.deadline > T0 && x->f.deadline < T0 + NS_PER_SEC);
	/* still busy at the retry */
	tick(x, x->f.deadline);
	assert_int_equal(x->f.port_calls, 2);
	assert_true(x->f.deadline > T0 && x->f.deadline < T0 + NS_PER_SEC);
	x->f.port_rc = 0;
	tick(x, x->f.deadline);
	assert_string_equal(port(x), "hello");
	assert_int_equal(x->f.deadline, INT64_MAX);
	assert_int_equal(count(term(x), "[emsagent]"), 0);
}

static void test_eagain_paced_keeps_order(void **state)
{
	struct fx *x = *state;
	x->cfg.char_delay_ns = 2 * NS_PER_MS;
	start(x);
	keys(x, "xy", T0);
	assert_string_equal(port(x), "x");
	x->f.port_rc = -EAGAIN;
	tick(x, x->f.deadline);
	assert_string_equal(port(x), "x");
	keys(x, "z", x->f.deadline);
	x->f.port_rc = 0;
	for (int i = 0; i < 10 && x->f.deadline != INT64_MAX; i++)
		tick(x, x->f.deadline);
	assert_string_equal(port(x), "xyz");
}

static void test_hard_error_drops(void **state)
{
	struct fx *x = *state;
	x->cfg.char_delay_ns = 2 * NS_PER_MS;
	start(x);
	x->f.port_rc = -EIO;
	keys(x, "abc", T0);
	assert_int_equal(x->f.port_calls, 1);
	assert_int_equal(count(term(x), "[emsagent] cannot write to the port"), 1);
	assert_contains(term(x), "(3 typed bytes dropped)");
	assert_int_equal(x->f.deadline, INT64_MAX);
	tick(x, T0 + 2 * NS_PER_MS);
	tick(x, T0 + 100 * NS_PER_MS);
	assert_int_equal(x->f.port_calls, 1);
	/* the same error again is not repeated */
	keys(x, "d", T0 + NS_PER_SEC);
	assert_int_equal(x->f.port_calls, 2);
	assert_int_equal(count(term(x), "cannot write to the port"), 1);
	/* the port works again */
	x->f.port_rc = 0;
	keys(x, "e", T0 + 2 * NS_PER_SEC);
	assert_string_equal(port(x), "e");
	assert_false(attach_input_full(x->a));
}

static void test_input_full(void **state)
{
	struct fx *x = *state;
	x->cfg.char_delay_ns = NS_PER_MS;
	start(x);
	size_t n = ATTACH_QUEUE_HIGH + 1;
	char *big = xcalloc(1, ATTACH_QUEUE_MAX + 1);
	for (size_t i = 0; i < ATTACH_QUEUE_MAX; i++)
		big[i] = (char)('a' + i % 26);
	attach_keys(x->a, big, n, T0);
	/* one went out, ATTACH_QUEUE_HIGH wait: not above yet */
	assert_int_equal(x->f.port.len, 1);
	assert_false(attach_input_full(x->a));
	attach_keys(x->a, big + n, 1, T0);
	assert_true(attach_input_full(x->a));
	/* more than ATTACH_QUEUE_MAX is refused whole */
	attach_keys(x->a, big, ATTACH_QUEUE_MAX, T0);
	assert_contains(term(x), "input queue full");
	assert_true(attach_input_full(x->a));
	/* it drains in order and reading may start again */
	assert_int_equal(x->f.deadline, T0 + NS_PER_MS);
	tick(x, T0 + NS_PER_MS);
	assert_false(attach_input_full(x->a));
	int64_t last = T0 + NS_PER_MS;
	size_t ticks = 0;
	while (x->f.deadline != INT64_MAX && ticks++ < 2 * n) {
		last = x->f.deadline;
		tick(x, last);
	}
	assert_int_equal(x->f.port.len, n + 1);
	assert_memory_equal(x->f.port.data, big, n + 1);
	/* one byte a millisecond all along */
	assert_int_equal(last, T0 + (int64_t)n * NS_PER_MS);
	free(big);
}

/* --- stdin EOF ------------------------------------------------------------------------------ */

static void test_eof_empty_quits_after_linger(void **state)
{
	struct fx *x = *state;
	start(x);
	attach_keys_eof(x->a, T0, LINGER);
	assert_int_equal(x->f.nquit, 0);
	assert_int_equal(x->f.deadline, T0 + LINGER);
	/* console output during the linger is still shown */
	con(x, "reply\r\n", T0 + LINGER / 2);
	tick(x, T0 + LINGER - 1);
	assert_int_equal(x->f.nquit, 0);
	tick(x, T0 + LINGER);
	assert_int_equal(x->f.nquit, 1);
	assert_int_equal(x->f.quit_status, 0);
	assert_string_equal(term(x), "reply\r\n");
}

static void test_eof_sends_queue_first(void **state)
{
	struct fx *x = *state;
	x->cfg.char_delay_ns = 2 * NS_PER_MS;
	start(x);
	keys(x, "abc", T0);
	attach_keys_eof(x->a, T0, LINGER);
	assert_string_equal(port(x), "a");
	assert_int_equal(x->f.deadline, T0 + 2 * NS_PER_MS);
	tick(x, T0 + 2 * NS_PER_MS);
	assert_int_equal(x->f.nquit, 0);
	tick(x, T0 + 4 * NS_PER_MS);
	assert_string_equal(port(x), "abc");
	assert_int_equal(x->f.nquit, 0);
	/* the linger counts from the last byte sent */
	assert_int_equal(x->f.deadline, T0 + 4 * NS_PER_MS + LINGER);
	tick(x, T0 + 4 * NS_PER_MS + LINGER - 1);
	assert_int_equal(x->f.nquit, 0);
	tick(x, T0 + 4 * NS_PER_MS + LINGER);
	assert_int_equal(x->f.nquit, 1);
	assert_int_equal(x->f.quit_status, 0);
}

static void test_eof_flushes_notices(void **state)
{
	struct fx *x = *state;
	start(x);
	con(x, "C:\\> ", T0);
	attach_keys_eof(x->a, T0, 10 * NS_PER_MS);
	event(x, EV_CONNECTED, T0);
	tick(x, T0 + 10 * NS_PER_MS);
	assert_int_equal(x->f.nquit, 1);
	assert_string_equal(term(x), "C:\\> \r\n[emsagent] console connected\r\n");
	assert_int_equal(x->f.term_at_quit, x->f.term.len);
}

/* --- the log --------------------------------------------------------------------------------- */

static void test_log_verbatim(void **state)
{
	struct fx *x = *state;
	x->cfg.log_path = x->log;
	start(x);
	const char raw[] = "\033[2Jboot\r\nbin\x00\xff\x80"
	                   "ary\r\npartial";
	attach_console(x->a, raw, sizeof(raw) - 1, T0);
	char *got = slurp(x->log);
	/* the file holds exactly the bytes */
	struct stat st;
	assert_int_equal(stat(x->log, &st), 0);
	assert_int_equal(st.st_size, sizeof(raw) - 1);
	assert_memory_equal(got, raw, sizeof(raw) - 1);
	free(got);
	/* a notice mid-line starts a line of its own in the log */
	event(x, EV_CONNECTED, T0);
	got = slurp(x->log);
	assert_int_equal(strcmp(got + sizeof(raw) - 1, "\n[emsagent] console connected\n"), 0);
	free(got);
	/* appends to what was there */
	attach_free(x->a);
	x->a = NULL;
	start(x);
	con(x, "again\n", T0);
	got = slurp(x->log);
	assert_int_equal(strcmp(got + sizeof(raw) - 1, "\n[emsagent] console connected\nagain\n"), 0);
	free(got);
}

static void test_log_timestamps(void **state)
{
	struct fx *x = *state;
	x->cfg.log_path = x->log;
	x->cfg.timestamps = true;
	start(x);
	con(x, "ab", T0);
	con(x, "c\r\nd", T0);
	con(x, "e\r\n", T0);
	event(x, EV_CONNECTED, T0);
	char *got = slurp(x->log);
	const char *s = got;
	const char *lines[] = {"abc\r\n", "de\r\n", "[emsagent] console connected\n"};
	for (size_t i = 0; i < ARRAY_LEN(lines); i++) {
		if (!matches(s, LOG_STAMP))
			fail_msg("line %zu without a stamp: %s", i, s);
		s += strlen(LOG_STAMP);
		assert_true(strncmp(s, lines[i], strlen(lines[i])) == 0);
		s += strlen(lines[i]);
	}
	assert_string_equal(s, "");
	free(got);
}

static void test_log_rule_details(void **state)
{
	struct fx *x = *state;
	x->cfg.log_path = x->log;
	start(x);
	event(x, EV_RULE, T0);
	char *got = slurp(x->log);
	assert_string_equal(
	    got, "[emsagent] HIGH R-stuck-updates: Stuck at updates -- first: Collect a dump first\n"
	         "    Windows has been configuring updates for 30 min\n"
	         "    1. Collect a dump first\n"
	         "    2. Boot into safe mode\n"
	         "    3. Roll the update back\n"
	         "    line: Preparing to configure Windows\n");
	free(got);
	/* quiet alerts: neither the screen nor the log says it */
	attach_free(x->a);
	x->a = NULL;
	assert_int_equal(unlink(x->log), 0);
	x->cfg.quiet_alerts = true;
	start(x);
	event(x, EV_RULE, T0);
	got = slurp(x->log);
	assert_string_equal(got, "");
	free(got);
}

static void test_log_details_sanitized(void **state)
{
	struct fx *x = *state;
	x->cfg.log_path = x->log;
	start(x);
	event(
	    x,
	    "{\"event\":\"rule.fired\",\"rule\":\"R\",\"level\":\"low\",\"title\":\"t\\u001b[2J\","
	    "\"summary\":\"s\\u001b]0;x\\u0007\",\"line\":\"l\\r\\u001b[K\",\"remediation\":[\"r\\u001bc\"]}",
	    T0);
	char *got = slurp(x->log);
	assert_null(strchr(got, 0x1b));
	assert_null(strchr(got, '\r'));
	assert_null(strchr(got, 0x07));
	assert_contains(got, "[emsagent] LOW R: t?[2J -- first: r?c\n");
	assert_contains(got, "    s?]0;x?\n");
	assert_contains(got, "    1. r?c\n");
	assert_contains(got, "    line: l??[K\n");
	free(got);
}

static void test_open_errors(void **state)
{
	struct fx *x = *state;
	struct attach_io io = {
	    .ctx = &x->f,
	    .port_write = fake_port_write,
	    .request = fake_request,
	    .out = fake_out,
	    .set_timer = fake_set_timer,
	    .quit = fake_quit,
	};
	char bad[256], err[512] = "";
	snprintf(bad, sizeof(bad), "%s/missing/console.log", x->dir);
	x->cfg.log_path = bad;
	assert_null(attach_new(&x->cfg, &io, err, sizeof(err)));
	assert_contains(err, bad);
	x->cfg.log_path = NULL;
	x->cfg.events_path = bad;
	err[0] = 0;
	assert_null(attach_new(&x->cfg, &io, err, sizeof(err)));
	assert_contains(err, "events");
	assert_contains(err, bad);

	/* `l` that cannot open says why (a working directory that is gone:
	 * fails even for root) */
	char cwd[4096], gone[128];
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	snprintf(gone, sizeof(gone), "%s/gone", x->dir);
	assert_int_equal(mkdir(gone, 0700), 0);
	assert_int_equal(chdir(gone), 0);
	assert_int_equal(rmdir(gone), 0);
	x->cfg.events_path = NULL;
	start(x);
	keys(x, "\x1dl", T0);
	assert_int_equal(chdir(cwd), 0);
	assert_contains(term(x), "[emsagent] cannot open the log emsagent-vm1-");
	assert_contains(term(x), strerror(ENOENT));
	/* and `i` says the log is off */
	keys(x, "\x1di", T0);
	assert_contains(term(x), "log off");
}

/* --- replies ------------------------------------------------------------------------------------ */

static void test_reply_status(void **state)
{
	struct fx *x = *state;
	start(x);
	struct json_object *st = json_tokener_parse(
	    "{\"port\":\"/dev/ttyS0\",\"kind\":\"serial\",\"settings\":\"115200 8N1\",\"connected\":true,"
	    "\"control\":\"qmp:/run/vm1.qmp\",\"epoch\":4,\"dump_running\":true,"
	    "\"sac\":{\"ready\":true,\"crashed\":false,\"channel\":\"SAC\",\"channels\":[\"SAC\",\"cmd0001\"]"
	    "},"
	    "\"machine_info\":{\"name\":\"WIN-1\",\"os_product\":\"Windows Server\",\"os_version\":\"10.0\","
	    "\"os_build\":\"20348\",\"arch\":\"x64\"},"
	    "\"findings\":[{\"time\":\"10:15:02\",\"rule\":\"R-stuck\",\"level\":\"high\",\"title\":"
	    "\"Stuck\"}]}");
	assert_non_null(st);
	attach_reply(x->a, "status", true, NULL, NULL, st);
	json_object_put(st);
	const char *s = term(x);
	assert_contains(s, "[emsagent] port /dev/ttyS0 (serial), 115200 8N1, connected\r\n");
	assert_contains(s, "[emsagent] control plane: qmp:/run/vm1.qmp\r\n");
	assert_contains(s, "[emsagent] SAC: seen, channel SAC, channels [SAC, cmd0001]\r\n");
	assert_contains(s, "[emsagent] machine: WIN-1 Windows Server 10.0 build 20348 x64\r\n");
	assert_contains(s, "[emsagent] epoch 4, a dump is running\r\n");
	assert_contains(s, "[emsagent] finding 10:15:02 R-stuck [high] Stuck\r\n");

	buf_reset(&x->f.term);
	st = json_tokener_parse("{\"port\":\"tcp:host:7000\",\"kind\":\"telnet\",\"settings\":\"-\","
	                        "\"connected\":false,\"error\":\"refused\",\"findings\":[]}");
	attach_reply(x->a, "status", true, NULL, NULL, st);
	json_object_put(st);
	s = term(x);
	assert_contains(s, "[emsagent] port tcp:host:7000 (telnet), -, not connected: refused\r\n");
	assert_contains(s, "[emsagent] control plane: none\r\n");
	assert_contains(s, "[emsagent] no findings yet\r\n");
	assert_lacks(s, "SAC:");
	assert_lacks(s, "machine:");

	/* no status object: nothing */
	buf_reset(&x->f.term);
	attach_reply(x->a, "status", true, NULL, NULL, NULL);
	assert_int_equal(x->f.term.len, 0);
}

static void test_reply_failed_and_done(void **state)
{
	struct fx *x = *state;
	start(x);
	attach_reply(x->a, "restart", false, "qmp: connection refused", NULL, NULL);
	assert_string_equal(term(x), "[emsagent] restart failed: qmp: connection refused\r\n");
	buf_reset(&x->f.term);
	attach_reply(x->a, "status", false, NULL, NULL, NULL);
	assert_string_equal(term(x), "[emsagent] status failed: no reason given\r\n");
	buf_reset(&x->f.term);
	attach_reply(x->a, "dump", true, NULL, "MEMORY.DMP 2 GiB", NULL);
	assert_string_equal(term(x), "[emsagent] dump verified: MEMORY.DMP 2 GiB\r\n");
	buf_reset(&x->f.term);
	attach_reply(x->a, "sysrq", true, NULL, NULL, NULL);
	attach_reply(x->a, "restart", true, NULL, NULL, NULL);
	attach_reply(x->a, "other", true, NULL, NULL, NULL);
	assert_string_equal(term(x),
	                    "[emsagent] SysRq sent\r\n[emsagent] restart done\r\n[emsagent] other done\r\n");
}

/* --- bounds ------------------------------------------------------------------------------------- */

static void test_notices_bounded(void **state)
{
	struct fx *x = *state;
	start(x);
	con(x, "abc", T0);
	for (int i = 0; i < 100; i++)
		event(x, EV_CONNECTED, T0);
	assert_string_equal(term(x), "abc");
	con(x, "\r\n", T0);
	const char *s = term(x);
	assert_int_equal(count(s, "[emsagent] console connected\r\n"), 64);
	/* the count of what was dropped comes last */
	const char *drop = "[emsagent] 36 more notices were dropped\r\n";
	assert_int_equal(strcmp(s + strlen(s) - strlen(drop), drop), 0);
	assert_true(strncmp(s, "abc\r\n[emsagent] console connected\r\n", 35) == 0);
	/* and it starts again from nothing */
	buf_reset(&x->f.term);
	event(x, EV_CONNECTED, T0);
	assert_string_equal(term(x), "[emsagent] console connected\r\n");
}

static void test_notices_bounded_quiet(void **state)
{
	struct fx *x = *state;
	start(x);
	con(x, "$ ", T0);
	for (int i = 0; i < 70; i++)
		event(x, EV_CONNECTED, T0);
	tick(x, T0 + NS_PER_SEC);
	const char *s = term(x);
	assert_int_equal(count(s, "[emsagent] console connected\r\n"), 64);
	assert_contains(s, "[emsagent] 6 more notices were dropped\r\n$ ");
	assert_int_equal(strcmp(s + strlen(s) - 2, "$ "), 0);
}

static void test_notice_long_bounded(void **state)
{
	struct fx *x = *state;
	start(x);
	char title[2000];
	memset(title, 'T', sizeof(title) - 1);
	title[sizeof(title) - 1] = 0;
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "event", json_object_new_string("rule.fired"));
	json_object_object_add(o, "rule", json_object_new_string("R"));
	json_object_object_add(o, "title", json_object_new_string(title));
	attach_event(x->a, o, T0);
	json_object_put(o);
	assert_true(x->f.term.len < 400);
	assert_int_equal(strcmp(term(x) + x->f.term.len - 2, "\r\n"), 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_escape_parse_and_name),
	    T(test_plain_bytes_pass_through),
	    T(test_escape_twice_sends_one),
	    T(test_escape_none),
	    T(test_escape_custom),
	    T(test_help),
	    T(test_help_custom_escape),
	    T(test_quit),
	    T(test_break),
	    T(test_sysrq),
	    T(test_confirmations),
	    T(test_sac_keys),
	    T(test_channels),
	    T(test_channels_listen_only),
	    T(test_status_key),
	    T(test_request_refused),
	    T(test_log_toggle),
	    T(test_log_default_name),
	    T(test_timestamps_toggle),
	    T(test_timestamps_color),
	    T(test_unknown_key),
	    T(test_listen_only),
	    T(test_notice_at_col0),
	    T(test_notice_waits_for_line_end),
	    T(test_notice_not_inside_escape_sequence),
	    T(test_notice_after_quiet_escape_sequence),
	    T(test_notice_midline_quiet_redraws),
	    T(test_rule_notice),
	    T(test_notice_sanitized),
	    T(test_notice_c1_sanitized),
	    T(test_quit_drops_rest_of_read),
	    T(test_quiet_alerts_events_file),
	    T(test_color),
	    T(test_no_color),
	    T(test_unpaced_one_write),
	    T(test_pacing),
	    T(test_pacing_line_delay_only),
	    T(test_eagain_retried),
	    T(test_eagain_paced_keeps_order),
	    T(test_hard_error_drops),
	    T(test_input_full),
	    T(test_eof_empty_quits_after_linger),
	    T(test_eof_sends_queue_first),
	    T(test_eof_flushes_notices),
	    T(test_log_verbatim),
	    T(test_log_timestamps),
	    T(test_log_rule_details),
	    T(test_log_details_sanitized),
	    T(test_open_errors),
	    T(test_reply_status),
	    T(test_reply_failed_and_done),
	    T(test_notices_bounded),
	    T(test_notices_bounded_quiet),
	    T(test_notice_long_bounded),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
