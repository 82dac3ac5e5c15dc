/*
 * test_share.c — the console served on a unix socket (share.h): the frame
 * codec, then the server in-process on a real loop, with a real console
 * whose port is a pty this test holds the master of, and clients that are
 * plain sockets. Proven: the hello and who gets rw, the replay, live data
 * and events, input reaching the port only from writers, requests, a reader
 * that stalls costing the others nothing and being told what it missed,
 * stale / live / foreign files at the socket path, garbage from a client,
 * many clients, the bye.
 * Every test runs under an alarm() guard.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pty.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "emsagent/config.h"
#include "emsagent/console.h"
#include "emsagent/loop.h"
#include "emsagent/match.h"
#include "emsagent/share.h"
#include "emsagent/sink.h"
#include "emsagent/util.h"
#include "mkrules.h"

#define MS(x) ((int64_t)(x)*NS_PER_MS)

/* ---- the codec ---- */

struct frames {
	char types[16];
	char payloads[16][64];
	size_t lens[16];
	size_t n;
};

static void collect(void *ctx, char type, const uint8_t *p, size_t len)
{
	struct frames *f = ctx;
	assert_true(f->n < 16);
	assert_true(len < 64);
	f->types[f->n] = type;
	memcpy(f->payloads[f->n], p, len + 1); /* the NUL after the payload too */
	f->lens[f->n] = len;
	f->n++;
}

static void test_codec(void **state)
{
	(void)state;
	struct buf b = {0};
	share_put(&b, SHARE_C_HELLO, "{\"proto\":1}", 11);
	share_put(&b, SHARE_S_DATA, "", 0);
	share_put(&b, SHARE_C_INPUT, "ab\0c", 4);
	assert_int_equal(b.len, 4 + 11 + 4 + 4 + 4);
	assert_memory_equal(b.data, "h\0\0\x0b", 4);

	/* byte by byte: every frame whole, in order */
	struct share_rx rx;
	share_rx_init(&rx);
	struct frames f = {0};
	char err[128];
	for (size_t i = 0; i < b.len; i++)
		assert_int_equal(share_rx_feed(&rx, b.data + i, 1, collect, &f, err, sizeof(err)), 0);
	assert_int_equal(f.n, 3);
	assert_int_equal(f.types[0], 'h');
	assert_string_equal(f.payloads[0], "{\"proto\":1}");
	assert_int_equal(f.types[1], 'D');
	assert_int_equal(f.lens[1], 0);
	assert_int_equal(f.types[2], 'i');
	assert_int_equal(f.lens[2], 4);
	assert_memory_equal(f.payloads[2], "ab\0c\0", 5);
	share_rx_free(&rx);

	/* all at once: two and more frames in one feed */
	share_rx_init(&rx);
	memset(&f, 0, sizeof(f));
	assert_int_equal(share_rx_feed(&rx, b.data, b.len, collect, &f, err, sizeof(err)), 0);
	assert_int_equal(f.n, 3);
	assert_string_equal(f.payloads[0], "{\"proto\":1}");
	share_rx_free(&rx);

	/* a length over the limit */
	share_rx_init(&rx);
	memset(&f, 0, sizeof(f));
	const uint8_t big[] = {'D', 0x01, 0x00, 0x01};
	assert_int_equal(share_rx_feed(&rx, big, sizeof(big), collect, &f, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "65537"));
	assert_int_equal(f.n, 0);
	share_rx_free(&rx);

	/* a type that is no letter */
	share_rx_init(&rx);
	const uint8_t bad[] = {0x01, 0, 0, 0};
	assert_int_equal(share_rx_feed(&rx, bad, sizeof(bad), collect, &f, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "type"));
	assert_int_equal(f.n, 0);
	share_rx_free(&rx);
	buf_free(&b);
}

/* ---- the server ---- */

static struct ruleset rs;
static struct match_db *db;

static int group_setup(void **state)
{
	(void)state;
	int r = mk_rule(&rs, "T-KABOOM");
	mk_det(&rs, r, "a", DET_CONTAINS, "KABOOM", NULL);
	struct diags d = {0};
	db = match_compile(&rs, &d);
	if (!db)
		diags_print(&d, stderr);
	diags_free(&d);
	return db ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	match_db_free(db);
	mk_free(&rs);
	return 0;
}

/* A client as the test sees it: what each kind of frame brought. */
struct cl {
	int fd;
	bool reading; /* false: the test leaves its socket unread */
	bool eof;
	struct share_rx rx;
	bool rx_broken;
	struct buf hello;                 /* the 'H' payload */
	struct buf data;                  /* every 'D' payload, in order */
	struct buf events, replies, byes; /* 'E', 'R', 'X' payloads, one a line */
	size_t nreplies, nskipped;
	uint64_t skipped_bytes, skipped_frames;
};

struct fx {
	struct loop *l;
	char dir[64];
	int master, slave;
	char pty[64];
	struct console_cfg cfg;
	struct sinks *sinks;
	struct console *c;
	struct share *s;
	struct buf to_master; /* what the guest is still to print */
	size_t to_master_off;
	struct buf from_master; /* what reached the guest */
	struct cl *cls[160];
	size_t ncls;
	uint64_t tick;
	bool (*cond)(struct fx *);
	int64_t deadline;
	bool met;
};

static void on_frame(void *ctx, char type, const uint8_t *p, size_t len)
{
	struct cl *c = ctx;
	switch (type) {
	case 'H':
		buf_append(&c->hello, p, len);
		break;
	case 'D':
		buf_append(&c->data, p, len);
		break;
	case 'E':
		buf_append(&c->events, p, len);
		buf_putc(&c->events, '\n');
		break;
	case 'R':
		buf_append(&c->replies, p, len);
		buf_putc(&c->replies, '\n');
		c->nreplies++;
		break;
	case 'X':
		buf_append(&c->byes, p, len);
		buf_putc(&c->byes, '\n');
		break;
	case 'S': {
		struct json_object *o = json_tokener_parse((const char *)p), *v;
		assert_non_null(o);
		assert_true(json_object_object_get_ex(o, "bytes", &v));
		c->skipped_bytes += (uint64_t)json_object_get_int64(v);
		assert_true(json_object_object_get_ex(o, "frames", &v));
		c->skipped_frames += (uint64_t)json_object_get_int64(v);
		json_object_put(o);
		c->nskipped++;
		break;
	}
	default:
		fail_msg("unexpected frame type %c", type);
	}
}

static void cl_read(struct cl *c)
{
	char buf[65536];
	while (!c->eof) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			c->eof = true;
			return;
		}
		char err[128];
		if (share_rx_feed(&c->rx, buf, (size_t)n, on_frame, c, err, sizeof(err)) < 0)
			c->rx_broken = true;
	}
}

/* The guest side and every reading client, driven by a 1 ms tick. */
static void pump(struct fx *f)
{
	while (f->to_master_off < f->to_master.len) {
		ssize_t n = write(f->master, f->to_master.data + f->to_master_off,
		                  f->to_master.len - f->to_master_off);
		if (n <= 0)
			break;
		f->to_master_off += (size_t)n;
	}
	char buf[4096];
	ssize_t n;
	while ((n = read(f->master, buf, sizeof(buf))) > 0)
		buf_append(&f->from_master, buf, (size_t)n);
	for (size_t i = 0; i < f->ncls; i++)
		if (f->cls[i] && f->cls[i]->reading)
			cl_read(f->cls[i]);
}

static void on_tick(struct loop *l, void *ctx)
{
	struct fx *f = ctx;
	f->tick = 0;
	pump(f);
	if (f->cond && f->cond(f)) {
		f->met = true;
		loop_stop(l, 0);
		return;
	}
	if (loop_now(l) >= f->deadline) {
		loop_stop(l, 0);
		return;
	}
	f->tick = loop_timer_in(l, MS(1), on_tick, f);
}

/* Runs the loop until cond holds (true) or ms pass (false). */
static bool run_until(struct fx *f, bool (*cond)(struct fx *), int ms)
{
	f->cond = cond;
	f->met = false;
	/* loop_now is that of the last wake, maybe long ago: read the clock */
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	f->deadline = (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec + MS(ms);
	f->tick = loop_timer_in(f->l, 0, on_tick, f);
	loop_run(f->l);
	if (f->tick)
		loop_timer_cancel(f->l, f->tick);
	f->tick = 0;
	pump(f);
	return f->met || (cond && cond(f));
}

static void run_for(struct fx *f, int ms)
{
	run_until(f, NULL, ms);
}

static void guest_says(struct fx *f, const void *p, size_t n)
{
	buf_append(&f->to_master, p, n);
}

static void fx_share(struct fx *f)
{
	char err[320];
	f->s = share_new(f->l, f->c, &f->cfg.share, err, sizeof(err));
	if (!f->s)
		fail_msg("share_new: %s", err);
}

/* A console on a fresh pty, served in a fresh directory (not yet shared
 * when share is false: the test sets the options first). */
static struct fx *fx_new(bool share)
{
	alarm(60);
	struct fx *f = xcalloc(1, sizeof(*f));
	f->l = loop_new();
	assert_non_null(f->l);
	snprintf(f->dir, sizeof(f->dir), "/tmp/emsagent-share-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(openpty(&f->master, &f->slave, f->pty, NULL, NULL), 0);
	assert_int_equal(fcntl(f->master, F_SETFL, fcntl(f->master, F_GETFL) | O_NONBLOCK), 0);
	console_cfg_default(&f->cfg);
	f->cfg.name = xstrdup("vm1");
	f->cfg.port = xstrdup(f->pty);
	f->cfg.share.dir = xasprintf("%s/run", f->dir); /* made by share_new */
	f->sinks = sinks_new();
	char err[320];
	f->c = console_new(f->l, &f->cfg, &rs, db, f->sinks, err, sizeof(err));
	if (!f->c)
		fail_msg("console_new: %s", err);
	console_start(f->c);
	assert_true(console_connected(f->c));
	if (share)
		fx_share(f);
	return f;
}

static void cl_free(struct cl *c)
{
	if (c->fd >= 0)
		close(c->fd);
	share_rx_free(&c->rx);
	buf_free(&c->hello);
	buf_free(&c->data);
	buf_free(&c->events);
	buf_free(&c->replies);
	buf_free(&c->byes);
	free(c);
}

static void rm_rf_dir(const char *dir)
{
	char *cmd = xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static void fx_free(struct fx *f)
{
	share_free(f->s, "the test is over");
	console_free(f->c);
	sinks_free(f->sinks);
	for (size_t i = 0; i < f->ncls; i++)
		if (f->cls[i])
			cl_free(f->cls[i]);
	loop_free(f->l);
	console_cfg_free(&f->cfg);
	close(f->master);
	close(f->slave);
	buf_free(&f->to_master);
	buf_free(&f->from_master);
	rm_rf_dir(f->dir);
	free(f);
	alarm(0);
}

static int cl_connect_fd(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void cl_send(struct cl *c, char type, const void *p, size_t len)
{
	struct buf b = {0};
	share_put(&b, type, p, len);
	assert_int_equal(send(c->fd, b.data, b.len, MSG_NOSIGNAL), (ssize_t)b.len);
	buf_free(&b);
}

static void cl_sendf(struct cl *c, char type, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void cl_sendf(struct cl *c, char type, const char *fmt, ...)
{
	char js[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(js, sizeof(js), fmt, ap);
	va_end(ap);
	cl_send(c, type, js, (size_t)n);
}

/* Connects (no hello yet). */
static struct cl *cl_new(struct fx *f)
{
	assert_true(f->ncls < ARRAY_LEN(f->cls));
	struct cl *c = xcalloc(1, sizeof(*c));
	c->fd = cl_connect_fd(share_path(f->s));
	assert_true(c->fd >= 0);
	c->reading = true;
	share_rx_init(&c->rx);
	f->cls[f->ncls++] = c;
	return c;
}

static struct cl *waiting_for;
static bool got_hello(struct fx *f)
{
	(void)f;
	return waiting_for->hello.len > 0;
}

/* Connects and says hello; returns once the 'H' is in. */
static struct cl *cl_hello(struct fx *f, bool rw, long replay)
{
	struct cl *c = cl_new(f);
	if (replay >= 0)
		cl_sendf(c, 'h', "{\"proto\":1,\"rw\":%s,\"replay\":%ld}", rw ? "true" : "false", replay);
	else
		cl_sendf(c, 'h', "{\"proto\":1,\"rw\":%s}", rw ? "true" : "false");
	waiting_for = c;
	assert_true(run_until(f, got_hello, 3000));
	return c;
}

static struct json_object *hello_json(const struct cl *c)
{
	struct json_object *o = json_tokener_parse(c->hello.data);
	assert_non_null(o);
	return o;
}

static bool jbool(struct json_object *o, const char *k)
{
	struct json_object *v;
	assert_true(json_object_object_get_ex(o, k, &v));
	return json_object_get_boolean(v);
}

static int64_t jint(struct json_object *o, const char *k)
{
	struct json_object *v;
	assert_true(json_object_object_get_ex(o, k, &v));
	return json_object_get_int64(v);
}

static const char *jstr(struct json_object *o, const char *k)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, k, &v))
		return NULL;
	return json_object_get_string(v);
}

/* What the conditions below wait for. */
static struct cl *want_cl;
static size_t want_len;
static bool data_reached(struct fx *f)
{
	(void)f;
	return want_cl->data.len >= want_len;
}
static bool master_reached(struct fx *f)
{
	return f->from_master.len >= want_len;
}
static bool replies_reached(struct fx *f)
{
	(void)f;
	return want_cl->nreplies >= want_len;
}
static bool cl_closed(struct fx *f)
{
	(void)f;
	return want_cl->eof;
}

static void wait_data(struct fx *f, struct cl *c, size_t len)
{
	want_cl = c;
	want_len = len;
	if (!run_until(f, data_reached, 5000))
		fail_msg("data: %zu bytes of %zu", c->data.len, len);
}

static void test_hello_replay_and_live(void **state)
{
	(void)state;
	struct fx *f = fx_new(false);
	f->cfg.share.replay = 64;
	fx_share(f);
	assert_non_null(strstr(share_path(f->s), "/run/vm1.sock"));
	struct stat st;
	assert_int_equal(stat(share_path(f->s), &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0660);
	assert_int_equal(stat(f->cfg.share.dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0755);

	/* a first client, there before the guest speaks: read-only, no replay */
	struct cl *a = cl_hello(f, false, -1);
	struct json_object *h = hello_json(a);
	assert_int_equal(jint(h, "proto"), 1);
	assert_string_equal(jstr(h, "console"), "vm1");
	assert_string_equal(jstr(h, "port"), f->pty);
	assert_false(jbool(h, "rw"));
	assert_null(jstr(h, "rw_refused"));
	assert_int_equal(jint(h, "replay"), 0);
	json_object_put(h);
	assert_int_equal(share_clients(f->s), 1);

	/* 200 bytes, more than the 64 kept */
	char text[201];
	for (int i = 0; i < 200; i++)
		text[i] = (char)('a' + i % 26);
	text[200] = '\0';
	guest_says(f, text, 200);
	wait_data(f, a, 200);
	assert_memory_equal(a->data.data, text, 200);

	/* a late client asking for more than is kept gets exactly the last 64 */
	struct cl *b = cl_hello(f, false, 1000);
	h = hello_json(b);
	assert_int_equal(jint(h, "replay"), 64);
	json_object_put(h);
	wait_data(f, b, 64);
	run_for(f, 20);
	assert_int_equal(b->data.len, 64);
	assert_memory_equal(b->data.data, text + 136, 64);

	/* one asking for less gets that much */
	struct cl *c = cl_hello(f, false, 10);
	wait_data(f, c, 10);
	run_for(f, 20);
	assert_int_equal(c->data.len, 10);
	assert_memory_equal(c->data.data, text + 190, 10);

	/* live bytes reach everyone, the same */
	guest_says(f, "live\r\n", 6);
	wait_data(f, a, 206);
	wait_data(f, b, 70);
	wait_data(f, c, 16);
	assert_memory_equal(a->data.data + 200, "live\r\n", 6);
	assert_memory_equal(b->data.data + 64, "live\r\n", 6);
	assert_memory_equal(c->data.data + 10, "live\r\n", 6);
	assert_int_equal(share_clients(f->s), 3);
	assert_int_equal(a->nreplies + b->nreplies + c->nreplies, 0);

	/* the ring has wrapped now: the replay still comes out in order */
	struct cl *d = cl_hello(f, false, 64);
	wait_data(f, d, 64);
	run_for(f, 20);
	assert_int_equal(d->data.len, 64);
	assert_memory_equal(d->data.data, text + 142, 58);
	assert_memory_equal(d->data.data + 58, "live\r\n", 6);
	fx_free(f);
}

static bool has_fired(struct fx *f)
{
	(void)f;
	return want_cl->events.data && strstr(want_cl->events.data, "rule.fired");
}

static void test_event_frames(void **state)
{
	(void)state;
	struct fx *f = fx_new(true);
	struct cl *a = cl_hello(f, false, 0);
	guest_says(f, "all is well\r\nKABOOM at 0x1234\r\n", 31);
	want_cl = a;
	assert_true(run_until(f, has_fired, 5000));
	/* one JSON object per frame */
	char *line = strtok(a->events.data, "\n");
	bool found = false;
	for (; line; line = strtok(NULL, "\n")) {
		struct json_object *o = json_tokener_parse(line);
		assert_non_null(o);
		const char *ev = jstr(o, "event");
		if (ev && strcmp(ev, "rule.fired") == 0) {
			assert_string_equal(jstr(o, "rule"), "T-KABOOM");
			assert_string_equal(jstr(o, "console"), "vm1");
			found = true;
		}
		json_object_put(o);
	}
	assert_true(found);
	/* the bytes came before the event that they caused */
	assert_int_equal(a->data.len, 31);
	fx_free(f);
}

static void test_rw_input_reaches_port(void **state)
{
	(void)state;
	struct fx *f = fx_new(true);
	/* this test runs as root or as the watcher's own user: both write */
	struct cl *a = cl_hello(f, true, 0);
	struct json_object *h = hello_json(a);
	assert_true(jbool(h, "rw"));
	json_object_put(h);
	cl_send(a, 'i', "dir\r", 4);
	cl_send(a, 'i',
	        "\x1b"
	        "c",
	        2);
	want_len = 6;
	assert_true(run_until(f, master_reached, 3000));
	run_for(f, 20);
	assert_int_equal(f->from_master.len, 6);
	assert_memory_equal(f->from_master.data,
	                    "dir\r\x1b"
	                    "c",
	                    6);
	assert_int_equal(a->nreplies, 0);
	fx_free(f);
}

static void test_ro_input_never_reaches_port(void **state)
{
	(void)state;
	struct fx *f = fx_new(true);
	struct cl *ro = cl_hello(f, false, 0);
	cl_send(ro, 'i', "shutdown /r\r", 12);
	cl_send(ro, 'i', "y\r", 2);
	want_cl = ro;
	want_len = 1;
	assert_true(run_until(f, replies_reached, 3000));
	/* nothing at the guest, even given the time */
	run_for(f, 200);
	assert_int_equal(f->from_master.len, 0);
	/* told once, not per frame */
	assert_int_equal(ro->nreplies, 1);
	struct json_object *r = json_tokener_parse(ro->replies.data);
	assert_non_null(r);
	assert_int_equal(jint(r, "id"), 0);
	assert_false(jbool(r, "ok"));
	assert_non_null(strstr(jstr(r, "reason"), "read-only"));
	json_object_put(r);

	/* dangerous requests are refused, never run */
	buf_reset(&ro->replies);
	ro->nreplies = 0;
	cl_sendf(ro, 'q', "{\"id\":5,\"op\":\"break\"}");
	cl_sendf(ro, 'q', "{\"id\":6,\"op\":\"nmi\"}");
	cl_sendf(ro, 'q', "{\"id\":7,\"op\":\"sysrq\",\"arg\":\"c\"}");
	want_len = 3;
	assert_true(run_until(f, replies_reached, 3000));
	char *line = strtok(ro->replies.data, "\n");
	for (int64_t id = 5; id <= 7; id++, line = strtok(NULL, "\n")) {
		assert_non_null(line);
		r = json_tokener_parse(line);
		assert_int_equal(jint(r, "id"), id);
		assert_false(jbool(r, "ok"));
		assert_string_equal(jstr(r, "reason"), "read-only client");
		json_object_put(r);
	}
	run_for(f, 150); /* a SysRq would have sent its key 100 ms after a BREAK */
	assert_int_equal(f->from_master.len, 0);
	fx_free(f);
}

/* A client that is not a writer, asking to write: root only (setuid). */
struct stranger {
	bool done;
	int status;
};

static void on_stranger(struct loop *l, pid_t pid, int status, void *ctx)
{
	(void)l;
	(void)pid;
	struct stranger *s = ctx;
	s->done = true;
	s->status = status;
}

static struct stranger *stranger_st;
static bool stranger_done(struct fx *f)
{
	(void)f;
	return stranger_st->done;
}

/* Runs a client as nobody (uid 65534): its hello asks for rw; what the
 * watcher answered comes back through a pipe. */
static char *hello_as_nobody(struct fx *f)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		alarm(10);
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			_exit(3);
		int fd = cl_connect_fd(share_path(f->s));
		if (fd < 0)
			_exit(4);
		struct buf b = {0};
		share_put(&b, 'h', "{\"proto\":1,\"rw\":true}", 21);
		if (write(fd, b.data, b.len) != (ssize_t)b.len)
			_exit(5);
		uint8_t hdr[4];
		char js[4096];
		if (recv(fd, hdr, 4, MSG_WAITALL) != 4 || hdr[0] != 'H')
			_exit(6);
		size_t len = (size_t)hdr[2] << 8 | hdr[3];
		if (len >= sizeof(js) || recv(fd, js, len, MSG_WAITALL) != (ssize_t)len)
			_exit(7);
		if (write(p[1], js, len) != (ssize_t)len)
			_exit(8);
		_exit(0);
	}
	close(p[1]);
	struct stranger st = {0};
	stranger_st = &st;
	loop_watch_child(f->l, pid, on_stranger, &st);
	assert_true(run_until(f, stranger_done, 8000));
	assert_true(WIFEXITED(st.status));
	assert_int_equal(WEXITSTATUS(st.status), 0);
	char js[4096];
	ssize_t n = read(p[0], js, sizeof(js) - 1);
	close(p[0]);
	assert_true(n > 0);
	js[n] = '\0';
	return xstrdup(js);
}

static void test_writers(void **state)
{
	(void)state;
	if (geteuid() != 0) {
		skip();
		return;
	}
	struct fx *f = fx_new(false);
	f->cfg.share.mode = 0666;
	assert_int_equal(chmod(f->dir, 0755), 0);
	fx_share(f);
	char *js = hello_as_nobody(f);
	struct json_object *h = json_tokener_parse(js);
	assert_non_null(h);
	assert_false(jbool(h, "rw"));
	assert_string_equal(jstr(h, "rw_refused"), "uid 65534 is not a writer of vm1 (share.writers)");
	json_object_put(h);
	free(js);
	share_free(f->s, NULL);

	/* named by uid */
	f->cfg.share.writers = xcalloc(1, sizeof(char *));
	f->cfg.share.writers[0] = xstrdup("65534");
	f->cfg.share.nwriters = 1;
	fx_share(f);
	js = hello_as_nobody(f);
	h = json_tokener_parse(js);
	assert_true(jbool(h, "rw"));
	assert_null(jstr(h, "rw_refused"));
	json_object_put(h);
	free(js);
	share_free(f->s, NULL);

	/* by its group */
	struct group *g = getgrgid(65534);
	if (g) {
		free(f->cfg.share.writers[0]);
		f->cfg.share.writers[0] = xasprintf("group:%s", g->gr_name);
		fx_share(f);
		js = hello_as_nobody(f);
		h = json_tokener_parse(js);
		assert_true(jbool(h, "rw"));
		json_object_put(h);
		free(js);
		share_free(f->s, NULL);
	}

	/* an unknown name is a setup error */
	free(f->cfg.share.writers[0]);
	f->cfg.share.writers[0] = xstrdup("no-such-user-here");
	char err[320];
	assert_null(share_new(f->l, f->c, &f->cfg.share, err, sizeof(err)));
	assert_non_null(strstr(err, "no such user 'no-such-user-here'"));
	f->s = NULL;
	fx_free(f);
}

static void test_status_request(void **state)
{
	(void)state;
	struct fx *f = fx_new(true);
	struct cl *a = cl_hello(f, false, 0);
	cl_sendf(a, 'q', "{\"id\":42,\"op\":\"status\"}");
	cl_sendf(a, 'q', "{\"id\":43,\"op\":\"frobnicate\"}");
	cl_sendf(a, 'q', "{\"id\":44,\"op\":\"channels\"}");
	cl_send(a, 'q', "not json", 8);
	want_cl = a;
	want_len = 4;
	assert_true(run_until(f, replies_reached, 3000));
	/* answers in any order: index them by id */
	struct json_object *by_id[4] = {0};
	for (char *line = strtok(a->replies.data, "\n"); line; line = strtok(NULL, "\n")) {
		struct json_object *r = json_tokener_parse(line);
		assert_non_null(r);
		int64_t id = jint(r, "id");
		assert_true(id == 0 || (id >= 42 && id <= 44));
		by_id[id ? id - 41 : 0] = r;
	}
	for (size_t i = 0; i < 4; i++)
		assert_non_null(by_id[i]);
	assert_true(jbool(by_id[1], "ok"));
	struct json_object *st;
	assert_true(json_object_object_get_ex(by_id[1], "status", &st));
	assert_string_equal(jstr(st, "console"), "vm1");
	assert_true(jbool(st, "connected"));
	assert_false(jbool(by_id[2], "ok"));
	assert_non_null(strstr(jstr(by_id[2], "reason"), "unknown request 'frobnicate'"));
	assert_true(jbool(by_id[3], "ok")); /* channels: read-only may ask */
	assert_false(jbool(by_id[0], "ok"));
	for (size_t i = 0; i < 4; i++)
		json_object_put(by_id[i]);
	fx_free(f);
}

static struct cl *stalled, *steady;
static size_t flood_len;
static bool steady_has_all(struct fx *f)
{
	(void)f;
	return steady->data.len >= flood_len;
}
static bool stalled_accounted(struct fx *f)
{
	(void)f;
	return stalled->nskipped > 0 && stalled->data.len + stalled->skipped_bytes >= flood_len;
}

static void test_stalled_reader(void **state)
{
	(void)state;
	struct fx *f = fx_new(false);
	f->cfg.share.max_queue = 4096;
	fx_share(f);
	steady = cl_hello(f, false, 0);
	stalled = cl_hello(f, false, 0);
	stalled->reading = false;
	/* More than the socket buffers between us and the stalled client hold
	 * (a few hundred KiB), so its queue overflows for sure. */
	struct buf flood = {0};
	for (unsigned i = 0; flood.len < 1024 * 1024; i++)
		buf_printf(&flood, "line %07u the quick brown fox jumps over the lazy dog\r\n", i);
	flood_len = flood.len;
	guest_says(f, flood.data, flood.len);
	if (!run_until(f, steady_has_all, 20000))
		fail_msg("the steady reader got %zu of %zu bytes", steady->data.len, flood_len);
	assert_int_equal(steady->data.len, flood_len);
	assert_memory_equal(steady->data.data, flood.data, flood_len);
	assert_int_equal(steady->nskipped, 0);
	assert_int_equal(share_clients(f->s), 2);
	assert_true(stalled->data.len == 0);

	/* once it reads again it learns what it missed, and everything is
	 * either received or counted as skipped */
	stalled->reading = true;
	if (!run_until(f, stalled_accounted, 10000))
		fail_msg("stalled: %zu bytes + %llu skipped of %zu", stalled->data.len,
		         (unsigned long long)stalled->skipped_bytes, flood_len);
	run_for(f, 50);
	assert_int_equal(stalled->data.len + stalled->skipped_bytes, flood_len);
	assert_true(stalled->skipped_bytes > 0);
	assert_true(stalled->skipped_frames > 0);
	assert_true(stalled->data.len > 0);
	/* what it did get is a run of whole frames of the real output */
	assert_non_null(memmem(flood.data, flood.len, stalled->data.data,
	                       stalled->data.len < 64 ? stalled->data.len : 64));
	/* and it is still live */
	guest_says(f, "after\r\n", 7);
	wait_data(f, stalled, stalled->data.len + 7);
	buf_free(&flood);
	fx_free(f);
}

static void test_socket_path_cases(void **state)
{
	(void)state;
	struct fx *f = fx_new(false);
	char err[320];
	char *path = xasprintf("%s/vm1.sock", f->cfg.share.dir);
	assert_int_equal(mkdir(f->cfg.share.dir, 0700), 0);

	/* a stale socket (nobody listening) is replaced */
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(cl_connect_fd(path), -1);
	fx_share(f);
	struct stat before, st;
	assert_int_equal(lstat(path, &st), 0);
	struct cl *a = cl_hello(f, false, 0); /* it answers now */
	assert_non_null(a);

	/* a live one is refused, and left to its owner */
	assert_null(share_new(f->l, f->c, &f->cfg.share, err, sizeof(err)));
	assert_non_null(strstr(err, "another watcher already serves vm1 on"));
	assert_non_null(strstr(err, path));
	assert_int_equal(lstat(path, &before), 0);
	assert_int_equal(before.st_ino, st.st_ino);
	assert_int_equal(share_clients(f->s), 1);

	/* the bye: every client hears why, then the socket file goes */
	share_free(f->s, "the watcher is reloading its configuration");
	f->s = NULL;
	pump(f);
	assert_true(a->eof);
	assert_non_null(strstr(a->byes.data, "\"reason\":\"the watcher is reloading its configuration\""));
	assert_int_equal(lstat(path, &st), -1);
	assert_int_equal(errno, ENOENT);

	/* a file that is not a socket is never touched */
	FILE *fp = fopen(path, "w");
	fputs("precious", fp);
	fclose(fp);
	assert_null(share_new(f->l, f->c, &f->cfg.share, err, sizeof(err)));
	assert_non_null(strstr(err, "is not a socket"));
	char buf[32] = {0};
	fp = fopen(path, "r");
	assert_non_null(fgets(buf, sizeof(buf), fp));
	fclose(fp);
	assert_string_equal(buf, "precious");
	unlink(path);

	/* a socket file that is no longer ours is not removed on the way out */
	fx_share(f);
	assert_int_equal(unlink(path), 0);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	share_free(f->s, NULL);
	f->s = NULL;
	assert_int_equal(lstat(path, &st), 0);
	close(fd);
	unlink(path);

	/* a path too long for sun_path says so */
	free(f->cfg.share.dir);
	f->cfg.share.dir = xasprintf("%s/%0120d", f->dir, 0);
	assert_null(share_new(f->l, f->c, &f->cfg.share, err, sizeof(err)));
	assert_non_null(strstr(err, "too long"));

	/* so does a group that does not exist */
	free(f->cfg.share.dir);
	f->cfg.share.dir = xasprintf("%s/run", f->dir);
	f->cfg.share.group = xstrdup("no-such-group-here");
	assert_null(share_new(f->l, f->c, &f->cfg.share, err, sizeof(err)));
	assert_non_null(strstr(err, "no such group 'no-such-group-here'"));
	assert_int_equal(lstat(path, &st), -1);
	free(path);
	fx_free(f);
}

static void test_garbage_closes_only_that_client(void **state)
{
	(void)state;
	struct fx *f = fx_new(true);
	struct cl *good = cl_hello(f, false, 0);
	struct cl *garbage = cl_new(f);
	struct cl *early = cl_new(f);
	struct cl *badjson = cl_new(f);
	assert_int_equal(send(garbage->fd, "\x01\x02\x03\x04\x05\x06", 6, MSG_NOSIGNAL), 6);
	cl_send(early, 'i', "rm -rf /\r", 9);
	cl_send(badjson, 'h', "{\"proto\":", 9);
	want_cl = garbage;
	assert_true(run_until(f, cl_closed, 3000));
	want_cl = early;
	assert_true(run_until(f, cl_closed, 3000));
	want_cl = badjson;
	assert_true(run_until(f, cl_closed, 3000));
	assert_non_null(strstr(early->byes.data, "hello"));
	assert_non_null(strstr(badjson->byes.data, "JSON hello"));
	assert_int_equal(share_clients(f->s), 1);
	assert_int_equal(f->from_master.len, 0);
	/* the well-behaved one carries on */
	guest_says(f, "still here\r\n", 12);
	wait_data(f, good, 12);
	assert_false(good->eof);
	fx_free(f);
}

static size_t nhellos_want;
static bool all_hellos(struct fx *f)
{
	size_t n = 0;
	for (size_t i = 0; i < f->ncls; i++)
		if (f->cls[i]->hello.len || f->cls[i]->eof)
			n++;
	return n >= nhellos_want;
}

static void test_many_clients(void **state)
{
	(void)state;
	struct fx *f = fx_new(true);
	/* in batches: a connect beyond the listen backlog would wait */
	for (size_t i = 0; i < 130; i++) {
		struct cl *c = cl_new(f);
		cl_sendf(c, 'h', "{\"proto\":1,\"replay\":0}");
		nhellos_want = i + 1;
		if (nhellos_want % 16 == 0 || nhellos_want == 130)
			assert_true(run_until(f, all_hellos, 5000));
	}
	assert_int_equal(share_clients(f->s), 128);
	size_t refused = 0;
	for (size_t i = 0; i < f->ncls; i++) {
		if (f->cls[i]->eof) {
			refused++;
			assert_non_null(strstr(f->cls[i]->byes.data, "already has 128 clients"));
		}
	}
	assert_int_equal(refused, 2);
	guest_says(f, "to all\r\n", 8);
	for (size_t i = 0; i < f->ncls; i++)
		if (!f->cls[i]->eof)
			wait_data(f, f->cls[i], 8);

	/* clients that go away, one with a request in flight, are removed */
	cl_sendf(f->cls[0], 'q', "{\"id\":1,\"op\":\"channels\"}");
	for (size_t i = 0; i < 10; i++) {
		close(f->cls[i]->fd);
		f->cls[i]->fd = -1;
		f->cls[i]->reading = false;
	}
	run_for(f, 100);
	assert_int_equal(share_clients(f->s), 118);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_codec),
	    cmocka_unit_test(test_hello_replay_and_live),
	    cmocka_unit_test(test_event_frames),
	    cmocka_unit_test(test_rw_input_reaches_port),
	    cmocka_unit_test(test_ro_input_never_reaches_port),
	    cmocka_unit_test(test_writers),
	    cmocka_unit_test(test_status_request),
	    cmocka_unit_test(test_stalled_reader),
	    cmocka_unit_test(test_socket_path_cases),
	    cmocka_unit_test(test_garbage_closes_only_that_client),
	    cmocka_unit_test(test_many_clients),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
