/*
 * cli_attach.c — `emsagent attach PORT|NAME`: the console in the user's
 * terminal. Two ways to the port: open it here (a console of our own, with
 * the rules, the SAC client and --control), or, for NAME, through the
 * watcher that holds it (its socket, share.h). Either way keys, bytes and
 * events meet in attach.c; this file wires them to the loop, the terminal
 * and the process's exit.
 *
 * Exit status: 0 the user quit or stdin ended; 1 the port or the watcher
 * went away; 2 usage or setup error (bad option, the port cannot be
 * opened, the watcher refused --rw); 128+N ended by signal N (TERM, HUP,
 * INT). The terminal is given back first on every one of these paths and
 * the reason is printed after it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "emsagent/attach.h"
#include "emsagent/cli.h"
#include "emsagent/clock.h"
#include "emsagent/config.h"
#include "emsagent/console.h"
#include "emsagent/event.h"
#include "emsagent/loop.h"
#include "emsagent/share.h"
#include "emsagent/sink.h"
#include "emsagent/term.h"
#include "emsagent/transport.h"
#include "emsagent/util.h"

#define CMD          "attach"
#define STDIN_CHUNK  4096
#define MAX_REQUESTS 32

struct attach_opts {
	int escape;
	bool listen_only, rw, quiet, timestamps, reconnect, keys;
	int color; /* -1 auto */
	int64_t char_delay, line_delay, linger;
	const char *log, *events, *control, *share_dir, *name;
	const char **rules;
	size_t nrules;
	struct kv *labels;
	size_t nlabels;
	struct transport_opts topts;
	size_t replay;
};

struct session {
	struct loop *loop;
	struct attach_opts *o;
	struct attach *a;
	int status;
	char fatal[512]; /* printed after the terminal is back */
	bool stdin_on, stdin_polled, stdin_eof;
	uint64_t stdin_timer, attach_timer;
	bool raw;
	bool closing; /* answers that come now are not shown */

	/* local: a console of our own */
	struct console *con;
	struct console_cfg ccfg;
	struct ruleset rs;
	struct match_db *db;
	struct sinks *sinks;
	bool ever_connected;

	/* remote: the watcher's socket */
	int fd;
	char *sock_path;
	struct share_rx rx;
	struct buf outq;
	bool hello_done;
	struct {
		unsigned id;
		char op[16];
	} reqs[MAX_REQUESTS];
	unsigned next_id;
	char machine[160];
};

static void session_quit(struct session *s, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void session_quit(struct session *s, int status, const char *fmt, ...)
{
	if (fmt && !s->fatal[0]) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(s->fatal, sizeof(s->fatal), fmt, ap);
		va_end(ap);
	}
	s->status = status;
	loop_stop(s->loop, status);
}

/* --- the attach core's borrowings -------------------------------------------- */

static void io_out(void *ctx, const void *buf, size_t n)
{
	struct session *s = ctx;
	int rc = term_write_all(STDOUT_FILENO, buf, n);
	if (rc == -EPIPE)
		session_quit(s, 0, NULL); /* whoever read our output has what they wanted */
	else if (rc < 0)
		session_quit(s, 1, "standard output: %s", strerror(-rc));
}

static void on_attach_timer(struct loop *l, void *ctx)
{
	struct session *s = ctx;
	s->attach_timer = 0;
	attach_tick(s->a, loop_now(l));
}

static void io_set_timer(void *ctx, int64_t deadline)
{
	struct session *s = ctx;
	loop_timer_set(s->loop, &s->attach_timer, deadline, on_attach_timer, s);
}

static void io_quit(void *ctx, int status)
{
	session_quit(ctx, status, NULL);
}

/* --- stdin ---------------------------------------------------------------------- */

static void sync_stdin(struct session *s);

static void read_stdin(struct session *s)
{
	char buf[STDIN_CHUNK];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		s->stdin_eof = true;
		sync_stdin(s);
		/* --listen-only keeps watching after stdin ends (a logger
		 * started with </dev/null); otherwise stdin's end is the end. */
		if (!s->o->listen_only)
			attach_keys_eof(s->a, loop_now(s->loop), s->o->linger);
		return;
	}
	attach_keys(s->a, buf, (size_t)n, loop_now(s->loop));
	sync_stdin(s);
}

static void on_stdin(struct loop *l, int fd, unsigned events, void *ctx)
{
	(void)l;
	(void)fd;
	(void)events;
	read_stdin(ctx);
}

/* stdin that epoll cannot watch (a regular file): read it on a timer. */
static void on_stdin_timer(struct loop *l, void *ctx)
{
	(void)l;
	struct session *s = ctx;
	s->stdin_timer = 0;
	read_stdin(s);
	sync_stdin(s);
}

/* Reads stdin only while the paced queue has room (a pasted file waits
 * in the pipe, not in our memory). */
static void sync_stdin(struct session *s)
{
	bool want = !s->stdin_eof && !attach_input_full(s->a);
	if (s->stdin_polled) {
		if (want && !s->stdin_timer)
			s->stdin_timer = loop_timer_in(s->loop, NS_PER_MS, on_stdin_timer, s);
		return;
	}
	if (want != s->stdin_on) {
		if (want)
			loop_add_fd(s->loop, STDIN_FILENO, LOOP_IN, on_stdin, s);
		else
			loop_del_fd(s->loop, STDIN_FILENO);
		s->stdin_on = want;
	}
}

static void start_stdin(struct session *s)
{
	int rc = loop_add_fd(s->loop, STDIN_FILENO, LOOP_IN, on_stdin, s);
	if (rc == -EPERM) {
		s->stdin_polled = true;
		sync_stdin(s);
		return;
	}
	s->stdin_on = rc == 0;
}

/* --- local: a console of our own ------------------------------------------------ */

static int local_write(void *ctx, const void *buf, size_t n)
{
	struct session *s = ctx;
	return console_write(s->con, buf, n);
}

struct local_req {
	struct session *s;
	char op[16];
};

static void local_req_done(void *ctx, bool ok, const char *reason, const char *output, size_t len)
{
	(void)len;
	struct local_req *r = ctx;
	if (!r->s->closing)
		attach_reply(r->s->a, r->op, ok, reason, output, NULL);
	free(r);
}

static int local_request(void *ctx, const char *op, const char *arg, char *err, size_t errsz)
{
	struct session *s = ctx;
	if (strcmp(op, "status") == 0) {
		struct json_object *st = console_status(s->con);
		attach_reply(s->a, op, true, NULL, NULL, st);
		json_object_put(st);
		return 0;
	}
	if (strcmp(op, "break") == 0) {
		int rc = console_break(s->con, 250);
		if (rc == -ENOTSUP)
			errbuf_set(err, errsz, "this port (%s) has no BREAK", s->ccfg.port);
		else if (rc < 0)
			errbuf_set(err, errsz, "%s", strerror(-rc));
		else
			attach_reply(s->a, op, true, NULL, NULL, NULL);
		return rc < 0 ? -1 : 0;
	}
	enum console_op cop;
	if (console_op_parse(op, &cop) < 0) {
		errbuf_set(err, errsz, "unknown request");
		return -1;
	}
	struct local_req *r = xcalloc(1, sizeof(*r));
	r->s = s;
	snprintf(r->op, sizeof(r->op), "%s", op);
	if (console_request(s->con, cop, arg, local_req_done, r, err, errsz) < 0) {
		free(r);
		return -1;
	}
	return 0;
}

static void local_bytes(void *ctx, const void *buf, size_t n)
{
	struct session *s = ctx;
	if (s->a)
		attach_console(s->a, buf, n, loop_now(s->loop));
}

static void local_event(void *ctx, const struct event *ev)
{
	struct session *s = ctx;
	if (ev->kind == EV_CONSOLE_CONNECTED)
		s->ever_connected = true;
	if (ev->kind == EV_CONSOLE_DISCONNECTED && !s->o->reconnect) {
		if (!s->ever_connected)
			session_quit(s, EXIT_USAGE, "cannot open %s: %s", s->ccfg.port,
			             ev->reason ? ev->reason : "unknown error");
		else
			session_quit(s, 1, "the port went away: %s",
			             ev->reason ? ev->reason : "unknown error");
		return;
	}
	if (!s->a)
		return;
	struct json_object *o = event_to_json(ev);
	attach_event(s->a, o, loop_now(s->loop));
	json_object_put(o);
}

static int local_setup(struct session *s, const char *port)
{
	struct attach_opts *o = s->o;
	console_cfg_default(&s->ccfg);
	s->ccfg.port = xstrdup(port);
	s->ccfg.name = o->name ? xstrdup(o->name) : cli_name_from_port(port);
	s->ccfg.topts = o->topts;
	s->ccfg.control = o->control ? xstrdup(o->control) : NULL;
	/* A person is at the keyboard: rules report, they do not act. */
	s->ccfg.policy.allow_dump = s->ccfg.policy.allow_restart = false;
	s->ccfg.policy.allow_exec = s->ccfg.policy.allow_send = false;
	s->ccfg.labels = xcalloc(o->nlabels ? o->nlabels : 1, sizeof(*s->ccfg.labels));
	for (size_t i = 0; i < o->nlabels; i++) {
		s->ccfg.labels[i].key = xstrdup(o->labels[i].key);
		s->ccfg.labels[i].value = xstrdup(o->labels[i].value);
	}
	s->ccfg.nlabels = o->nlabels;
	const char *def = cli_default_rules();
	const char *const *paths = o->nrules ? o->rules : &def;
	if (cli_load_rules(paths, o->nrules ? o->nrules : 1, &s->rs, &s->db, false) < 0)
		return -1;
	s->sinks = sinks_new();
	char err[320];
	s->con = console_new(s->loop, &s->ccfg, &s->rs, s->db, s->sinks, err, sizeof(err));
	if (!s->con) {
		cli_error(CMD, "%s", err);
		return -1;
	}
	console_observe(s->con, local_bytes, local_event, s);
	/* The machine as the user knows it: its --name, else the port. */
	snprintf(s->machine, sizeof(s->machine), "%s%s%s%s", o->name ? o->name : port,
	         o->control ? " via " : "", o->control ? o->control : "", "");
	/* Open now, before the terminal changes: a port that cannot be
	 * opened is a plain error on a normal terminal. */
	console_start(s->con);
	if (s->fatal[0]) {
		cli_error(CMD, "%s", s->fatal);
		s->fatal[0] = '\0';
		return -1;
	}
	return 0;
}

static void local_free(struct session *s)
{
	s->closing = true;
	console_free(s->con);
	sinks_free(s->sinks);
	if (s->db) {
		match_db_free(s->db);
		rules_free(&s->rs);
	}
	console_cfg_free(&s->ccfg);
}

/* --- remote: through the watcher ----------------------------------------------- */

static void remote_flush(struct session *s)
{
	while (s->outq.len) {
		ssize_t w = send(s->fd, s->outq.data, s->outq.len, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (w < 0) {
			session_quit(s, 1, "the watcher went away: %s", strerror(errno));
			return;
		}
		memmove(s->outq.data, s->outq.data + w, s->outq.len - (size_t)w);
		s->outq.len -= (size_t)w;
	}
	loop_mod_fd(s->loop, s->fd, LOOP_IN | (s->outq.len ? LOOP_OUT : 0));
}

static void remote_send(struct session *s, char type, const void *p, size_t n)
{
	while (n > 0 || type != SHARE_C_INPUT) {
		size_t take = n > SHARE_MAX_FRAME ? SHARE_MAX_FRAME : n;
		share_put(&s->outq, type, p, take);
		p = (const char *)p + take;
		n -= take;
		if (type != SHARE_C_INPUT || n == 0)
			break;
	}
	remote_flush(s);
}

static int remote_write(void *ctx, const void *buf, size_t n)
{
	struct session *s = ctx;
	if (s->outq.len > ATTACH_QUEUE_MAX)
		return -EAGAIN;
	remote_send(s, SHARE_C_INPUT, buf, n);
	return 0;
}

static int remote_request(void *ctx, const char *op, const char *arg, char *err, size_t errsz)
{
	struct session *s = ctx;
	size_t slot = MAX_REQUESTS;
	for (size_t i = 0; i < MAX_REQUESTS && slot == MAX_REQUESTS; i++)
		if (!s->reqs[i].id)
			slot = i;
	if (slot == MAX_REQUESTS) {
		errbuf_set(err, errsz, "too many requests waiting for the watcher");
		return -1;
	}
	s->reqs[slot].id = ++s->next_id;
	snprintf(s->reqs[slot].op, sizeof(s->reqs[slot].op), "%s", op);
	struct json_object *q = json_object_new_object();
	json_object_object_add(q, "id", json_object_new_int64(s->reqs[slot].id));
	json_object_object_add(q, "op", json_object_new_string(op));
	if (arg)
		json_object_object_add(q, "arg", json_object_new_string(arg));
	const char *js = json_object_to_json_string_ext(q, JSON_C_TO_STRING_PLAIN);
	remote_send(s, SHARE_C_REQUEST, js, strlen(js));
	json_object_put(q);
	return 0;
}

static const char *jget(struct json_object *o, const char *k)
{
	struct json_object *v;
	if (!o || !json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static bool jbool(struct json_object *o, const char *k)
{
	struct json_object *v;
	return o && json_object_object_get_ex(o, k, &v) && json_object_get_boolean(v);
}

static void on_hello(struct session *s, struct json_object *h)
{
	s->hello_done = true;
	bool rw = jbool(h, "rw");
	if (s->o->rw && !rw) {
		const char *why = jget(h, "rw_refused");
		session_quit(s, EXIT_USAGE, "the watcher refused --rw on %s: %s", s->sock_path,
		             why ? why : "no reason given");
		return;
	}
	const char *name = jget(h, "console"), *port = jget(h, "port");
	snprintf(s->machine, sizeof(s->machine), "%s (through the watcher)", name ? name : "?");
	char esc[32];
	attach_escape_name(s->o->escape, esc, sizeof(esc));
	attach_notice(s->a, "attached to %s (%s) through the watcher, %s; %s ? for help, %s q quits",
	              name ? name : "?", port ? port : "?", rw ? "read-write" : "read-only (--rw to type)",
	              esc, esc);
}

static void on_frame(void *ctx, char type, const uint8_t *p, size_t len)
{
	struct session *s = ctx;
	int64_t now = loop_now(s->loop);
	if (type == SHARE_S_DATA) {
		attach_console(s->a, p, len, now);
		return;
	}
	struct json_object *j = json_tokener_parse((const char *)p);
	if (!j) {
		session_quit(s, 1, "the watcher sent a malformed '%c' frame", type);
		return;
	}
	switch (type) {
	case SHARE_S_HELLO:
		on_hello(s, j);
		break;
	case SHARE_S_EVENT:
		attach_event(s->a, j, now);
		break;
	case SHARE_S_REPLY: {
		struct json_object *v;
		unsigned id = json_object_object_get_ex(j, "id", &v) ? (unsigned)json_object_get_int64(v) : 0;
		const char *op = NULL;
		for (size_t i = 0; i < MAX_REQUESTS && id; i++)
			if (s->reqs[i].id == id) {
				s->reqs[i].id = 0;
				op = s->reqs[i].op;
			}
		struct json_object *st = NULL;
		json_object_object_get_ex(j, "status", &st);
		if (op)
			attach_reply(s->a, op, jbool(j, "ok"), jget(j, "reason"), jget(j, "output"), st);
		else if (!jbool(j, "ok"))
			attach_notice(s->a, "the watcher: %s",
			              jget(j, "reason") ? jget(j, "reason") : "refused");
		break;
	}
	case SHARE_S_SKIPPED: {
		struct json_object *v;
		long long bytes =
		    json_object_object_get_ex(j, "bytes", &v) ? (long long)json_object_get_int64(v) : 0;
		attach_notice(s->a, "this terminal fell behind: %lld bytes of console output were skipped",
		              bytes);
		break;
	}
	case SHARE_S_BYE:
		attach_flush_notices(s->a);
		session_quit(s, 1, "the watcher closed %s: %s", s->sock_path,
		             jget(j, "reason") ? jget(j, "reason") : "no reason given");
		break;
	default:
		break; /* newer frames are not ours to understand */
	}
	json_object_put(j);
}

static void on_remote(struct loop *l, int fd, unsigned events, void *ctx)
{
	(void)l;
	struct session *s = ctx;
	if (events & LOOP_OUT)
		remote_flush(s);
	if (!(events & (LOOP_IN | LOOP_HUP | LOOP_ERR)))
		return;
	uint8_t buf[65536];
	ssize_t n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		session_quit(s, 1, "the watcher went away (%s)",
		             n == 0 ? "connection closed" : strerror(errno));
		return;
	}
	char err[160];
	if (share_rx_feed(&s->rx, buf, (size_t)n, on_frame, s, err, sizeof(err)) < 0)
		session_quit(s, 1, "the watcher: %s", err);
}

static int remote_setup(struct session *s, const char *path)
{
	s->sock_path = xstrdup(path);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path)) {
		cli_error(CMD, "%s: the socket path is too long", path);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->fd < 0 || connect(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		cli_error(CMD, "cannot reach the watcher at %s: %s%s", path, strerror(e),
		          e == ECONNREFUSED ? " (no watcher is running for it)"
		          : e == EACCES     ? " (the socket's permissions do not let you in)"
		                            : "");
		return -1;
	}
	fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK);
	share_rx_init(&s->rx);
	if (loop_add_fd(s->loop, s->fd, LOOP_IN, on_remote, s) < 0) {
		cli_error(CMD, "cannot watch the watcher's socket");
		return -1;
	}
	struct json_object *h = json_object_new_object();
	json_object_object_add(h, "proto", json_object_new_int(SHARE_PROTO));
	json_object_object_add(h, "rw", json_object_new_boolean(s->o->rw));
	json_object_object_add(h, "replay", json_object_new_int64((int64_t)s->o->replay));
	const char *js = json_object_to_json_string_ext(h, JSON_C_TO_STRING_PLAIN);
	remote_send(s, SHARE_C_HELLO, js, strlen(js));
	json_object_put(h);
	return 0;
}

static void remote_free(struct session *s)
{
	if (s->fd > 0) {
		loop_del_fd(s->loop, s->fd);
		close(s->fd);
	}
	share_rx_free(&s->rx);
	buf_free(&s->outq);
	free(s->sock_path);
}

/* --- what the argument names ------------------------------------------------------ */

/* A NAME (no '/' or ':') is a console served by a watcher when its socket
 * exists; a path or URL is a port. Returns the socket path (caller frees)
 * or NULL for a port. */
static char *find_socket(const struct attach_opts *o, const char *arg)
{
	if (strchr(arg, '/') || strchr(arg, ':') || strcmp(arg, "-") == 0)
		return NULL;
	char *path = xasprintf("%s/%s.sock", o->share_dir ? o->share_dir : share_default_dir(), arg);
	struct stat st;
	if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		return path;
	free(path);
	return NULL;
}

/* --- signals ------------------------------------------------------------------------- */

static void on_signal(struct loop *l, int signo, void *ctx)
{
	(void)l;
	struct session *s = ctx;
	if (s->a)
		attach_flush_notices(s->a);
	session_quit(s, 128 + signo, NULL);
}

/* --- options ------------------------------------------------------------------------- */

static void attach_usage(FILE *out)
{
	fprintf(out,
	        "usage: emsagent attach [OPTIONS] PORT|NAME\n"
	        "The console in your terminal: raw passthrough both ways, rule findings inline,\n"
	        "one key for BREAK, SysRq, NMI, a crash dump and SAC channels.\n\n"
	        "PORT opens the port here (/dev/ttyS0, /dev/pts/N, tcp:, telnet:, unix:, exec:, ...);\n"
	        "NAME attaches through the watcher serving it (DIR/NAME.sock): a replay of the\n"
	        "recent output, then live, with the watcher's findings; read-only unless --rw.\n\n"
	        "      --escape KEY     the escape key: ^] (default), ^A ... ^_, C-x, none\n"
	        "      --keys           print the escape commands and exit\n"
	        "      --listen-only    never write to the port (keys other than commands are dropped)\n"
	        "      --rw             through a watcher: ask to write (granted to writers only)\n"
	        "      --replay SIZE    through a watcher: recent output to show first (default 4K)\n"
	        "      --share-dir DIR  where watcher sockets are (default %s)\n"
	        "      --log FILE       append everything the console sends to FILE (l toggles)\n"
	        "      --timestamps     stamp each line, on the screen and in the log (t toggles)\n"
	        "      --events FILE    append every event as a JSON line to FILE\n"
	        "      --quiet-alerts   no inline notices of findings\n"
	        "      --char-delay D   pace typed and pasted bytes (SAC drops fast input): 2ms\n"
	        "      --line-delay D   and wait D after each CR or LF\n"
	        "      --linger D       when stdin ends, keep showing output for D, then exit (1s)\n"
	        "      --control URL    the machine's control plane, for n (NMI), r, d: qmp:PATH,\n"
	        "                       virsh:DOMAIN, azure:RG/VM, aws:ID, ipmi:HOST, hyperv:VM, exec:\n"
	        "  -r, --rules DIR      signature pack (repeatable; default: %s)\n"
	        "      --label K=V      console label (os=windows picks the rules)\n"
	        "      --name NAME      the console's name in events and the log's default name\n"
	        "      --reconnect      keep waiting when the port is not there or goes away\n"
	        "      --baud N         serial: also --data-bits, --parity, --stop-bits, --flow\n"
	        "      --color WHEN     auto|always|never (NO_COLOR is respected)\n"
	        "  -h, --help           this text\n\n",
	        share_default_dir(), cli_default_rules());
	attach_write_keys(out, ATTACH_ESCAPE_DEFAULT);
	fprintf(out, "\nexit status: 0 quit or stdin ended, 1 the port or the watcher went away,\n"
	             "2 usage or setup error, 128+N ended by signal N\n");
}

enum {
	OPT_ESCAPE = 256,
	OPT_KEYS,
	OPT_LISTEN,
	OPT_RW,
	OPT_REPLAY,
	OPT_SHARE_DIR,
	OPT_LOG,
	OPT_TIMESTAMPS,
	OPT_EVENTS,
	OPT_QUIET,
	OPT_CHAR_DELAY,
	OPT_LINE_DELAY,
	OPT_LINGER,
	OPT_CONTROL,
	OPT_LABEL,
	OPT_NAME,
	OPT_RECONNECT,
	OPT_SERIAL,
	OPT_COLOR,
};

static int parse_delay(const char *opt, const char *arg, int64_t *out)
{
	if (parse_duration(arg, out) == 0 && *out >= 0 && *out <= 60 * NS_PER_SEC)
		return 0;
	cli_error(CMD, "--%s: expected a duration from 0 to 60s such as 2ms, not '%s'", opt, arg);
	return -1;
}

static int parse_opt(struct attach_opts *o, int c, const char *arg, const char *optname)
{
	switch (c) {
	case OPT_ESCAPE:
		if (attach_escape_parse(arg, &o->escape) == 0)
			return 0;
		cli_error(CMD, "--escape: expected ^X (a control key: ^A ... ^_, ^]), C-x or none, not '%s'",
		          arg);
		return -1;
	case OPT_KEYS:
		o->keys = true;
		return 0;
	case OPT_LISTEN:
		o->listen_only = true;
		return 0;
	case OPT_RW:
		o->rw = true;
		return 0;
	case OPT_REPLAY: {
		uint64_t v;
		if (config_parse_size(arg, &v) == 0 && v <= SHARE_MAX_REPLAY) {
			o->replay = (size_t)v;
			return 0;
		}
		cli_error(CMD, "--replay: expected a size up to 1M such as 4K, not '%s'", arg);
		return -1;
	}
	case OPT_SHARE_DIR:
		o->share_dir = arg;
		return 0;
	case OPT_LOG:
		o->log = arg;
		return 0;
	case OPT_TIMESTAMPS:
		o->timestamps = true;
		return 0;
	case OPT_EVENTS:
		o->events = arg;
		return 0;
	case OPT_QUIET:
		o->quiet = true;
		return 0;
	case OPT_CHAR_DELAY:
		return parse_delay("char-delay", arg, &o->char_delay);
	case OPT_LINE_DELAY:
		return parse_delay("line-delay", arg, &o->line_delay);
	case OPT_LINGER:
		return parse_delay("linger", arg, &o->linger);
	case OPT_CONTROL:
		o->control = arg;
		return 0;
	case 'r':
		o->rules[o->nrules++] = arg;
		return 0;
	case OPT_LABEL: {
		const char *eq = strchr(arg, '=');
		if (!eq || eq == arg) {
			cli_error(CMD, "--label: expected KEY=VALUE, not '%s'", arg);
			return -1;
		}
		o->labels[o->nlabels].key = xstrndup(arg, (size_t)(eq - arg));
		o->labels[o->nlabels].value = xstrdup(eq + 1);
		o->nlabels++;
		return 0;
	}
	case OPT_NAME:
		o->name = arg;
		return 0;
	case OPT_RECONNECT:
		o->reconnect = true;
		return 0;
	case OPT_SERIAL:
		return cli_serial_opt(CMD, optname, arg, &o->topts);
	case OPT_COLOR:
		if (strcmp(arg, "always") == 0)
			o->color = 1;
		else if (strcmp(arg, "never") == 0)
			o->color = 0;
		else if (strcmp(arg, "auto") == 0)
			o->color = -1;
		else {
			cli_error(CMD, "--color: expected auto, always or never, not '%s'", arg);
			return -1;
		}
		return 0;
	default:
		return -1;
	}
}

static void opts_free(struct attach_opts *o)
{
	for (size_t i = 0; i < o->nlabels; i++) {
		free(o->labels[i].key);
		free(o->labels[i].value);
	}
	free(o->labels);
	free(o->rules);
}

int cli_attach(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"escape", required_argument, NULL, OPT_ESCAPE},
	    {"keys", no_argument, NULL, OPT_KEYS},
	    {"listen-only", no_argument, NULL, OPT_LISTEN},
	    {"rw", no_argument, NULL, OPT_RW},
	    {"replay", required_argument, NULL, OPT_REPLAY},
	    {"share-dir", required_argument, NULL, OPT_SHARE_DIR},
	    {"log", required_argument, NULL, OPT_LOG},
	    {"timestamps", no_argument, NULL, OPT_TIMESTAMPS},
	    {"events", required_argument, NULL, OPT_EVENTS},
	    {"quiet-alerts", no_argument, NULL, OPT_QUIET},
	    {"char-delay", required_argument, NULL, OPT_CHAR_DELAY},
	    {"line-delay", required_argument, NULL, OPT_LINE_DELAY},
	    {"linger", required_argument, NULL, OPT_LINGER},
	    {"control", required_argument, NULL, OPT_CONTROL},
	    {"rules", required_argument, NULL, 'r'},
	    {"label", required_argument, NULL, OPT_LABEL},
	    {"name", required_argument, NULL, OPT_NAME},
	    {"reconnect", no_argument, NULL, OPT_RECONNECT},
	    {"baud", required_argument, NULL, OPT_SERIAL},
	    {"data-bits", required_argument, NULL, OPT_SERIAL},
	    {"parity", required_argument, NULL, OPT_SERIAL},
	    {"stop-bits", required_argument, NULL, OPT_SERIAL},
	    {"flow", required_argument, NULL, OPT_SERIAL},
	    {"color", required_argument, NULL, OPT_COLOR},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct attach_opts o = {
	    .escape = ATTACH_ESCAPE_DEFAULT,
	    .color = -1,
	    .linger = NS_PER_SEC,
	    .replay = SHARE_DEFAULT_REPLAY,
	};
	o.rules = xcalloc((size_t)argc + 1, sizeof(*o.rules));
	o.labels = xcalloc((size_t)argc + 1, sizeof(*o.labels));
	transport_opts_default(&o.topts);
	int c, idx = 0;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":r:h", longopts, &idx)) != -1) {
		if (c == 'h') {
			attach_usage(stdout);
			opts_free(&o);
			return 0;
		}
		if (c == ':' || c == '?') {
			if (c == ':')
				cli_error(CMD, "option '%s' needs a value", argv[optind - 1]);
			else
				cli_error(CMD, "unknown option '%s' (try --help)", argv[optind - 1]);
			opts_free(&o);
			return EXIT_USAGE;
		}
		if (parse_opt(&o, c, optarg, longopts[idx].name) < 0) {
			opts_free(&o);
			return EXIT_USAGE;
		}
	}
	if (o.keys) {
		attach_write_keys(stdout, o.escape);
		opts_free(&o);
		return 0;
	}
	if (argc - optind != 1) {
		cli_error(CMD,
		          argc - optind == 0 ? "give a PORT or the NAME of a watched console (try --help)"
		                             : "give one PORT or NAME, not %d",
		          argc - optind);
		opts_free(&o);
		return EXIT_USAGE;
	}
	const char *target = argv[optind];
	char *sock = find_socket(&o, target);
	if (!sock && o.rw) {
		cli_error(CMD, "--rw is for consoles attached through a watcher; no socket for '%s' in %s",
		          target, o.share_dir ? o.share_dir : share_default_dir());
		opts_free(&o);
		return EXIT_USAGE;
	}
	if (!sock && !strchr(target, '/') && !strchr(target, ':') && strcmp(target, "-") != 0) {
		/* a bare word that is not a watched console: /dev/WORD, if it is a device */
		char *dev = xasprintf("/dev/%s", target);
		struct stat st;
		bool isdev = stat(dev, &st) == 0 && S_ISCHR(st.st_mode);
		free(dev);
		if (!isdev) {
			cli_error(CMD,
			          "'%s': no watcher serves a console of that name (no %s/%s.sock) and it is "
			          "not a port",
			          target, o.share_dir ? o.share_dir : share_default_dir(), target);
			opts_free(&o);
			return EXIT_USAGE;
		}
	}
	struct session s = {.o = &o, .fd = -1};
	s.loop = loop_new();
	if (!s.loop) {
		cli_error(CMD, "cannot set up the event loop: %s", strerror(errno));
		free(sock);
		opts_free(&o);
		return EXIT_USAGE;
	}
	loop_on_signal(s.loop, SIGTERM, on_signal, &s);
	loop_on_signal(s.loop, SIGHUP, on_signal, &s);
	loop_on_signal(s.loop, SIGINT, on_signal, &s);
	int status = EXIT_USAGE;
	char *port_dev = NULL;
	if (!sock && !strchr(target, '/') && !strchr(target, ':') && strcmp(target, "-") != 0)
		port_dev = xasprintf("/dev/%s", target);
	bool is_tty = isatty(STDIN_FILENO);
	bool color = o.color < 0 ? (isatty(STDOUT_FILENO) && !(getenv("NO_COLOR") && getenv("NO_COLOR")[0]))
	                         : o.color == 1;
	if (getenv("NO_COLOR") && getenv("NO_COLOR")[0] && o.color < 0)
		color = false;
	if (sock ? remote_setup(&s, sock) < 0 : local_setup(&s, port_dev ? port_dev : target) < 0)
		goto out;
	struct attach_cfg acfg = {
	    .name = sock ? target : s.ccfg.name,
	    .machine = s.machine,
	    .escape = o.escape,
	    /* through a watcher without --rw, typing goes nowhere */
	    .listen_only = o.listen_only || (sock && !o.rw),
	    .quiet_alerts = o.quiet,
	    .color = color,
	    .timestamps = o.timestamps,
	    .char_delay_ns = o.char_delay,
	    .line_delay_ns = o.line_delay,
	    .log_path = o.log,
	    .events_path = o.events,
	};
	struct attach_io io = {
	    .ctx = &s,
	    .port_write = sock ? remote_write : local_write,
	    .request = sock ? remote_request : local_request,
	    .out = io_out,
	    .set_timer = io_set_timer,
	    .quit = io_quit,
	};
	char err[512];
	s.a = attach_new(&acfg, &io, err, sizeof(err));
	if (!s.a) {
		cli_error(CMD, "%s", err);
		goto out;
	}
	if (is_tty) {
		int rc = term_raw(STDIN_FILENO);
		if (rc < 0) {
			cli_error(CMD, "cannot put the terminal in raw mode: %s", strerror(-rc));
			goto out;
		}
		s.raw = true;
	}
	if (!sock) {
		char esc[32];
		attach_escape_name(o.escape, esc, sizeof(esc));
		attach_notice(s.a, "attached to %s%s; %s ? for help, %s q quits", s.ccfg.port,
		              o.listen_only ? " (listen-only)" : "", esc, esc);
	}
	start_stdin(&s);
	status = loop_run(s.loop);
	attach_flush_notices(s.a);
out:
	/* The terminal first, then the reason: it must be readable. */
	term_restore();
	if (s.raw && isatty(STDOUT_FILENO))
		term_write_all(STDOUT_FILENO, "\r\n", 2);
	if (s.fatal[0]) {
		cli_error(CMD, "%s", s.fatal);
		if (status == 0)
			status = s.status ? s.status : 1;
	}
	if (sock)
		remote_free(&s);
	else
		local_free(&s);
	attach_free(s.a);
	if (s.stdin_on)
		loop_del_fd(s.loop, STDIN_FILENO);
	if (s.stdin_timer)
		loop_timer_cancel(s.loop, s.stdin_timer);
	if (s.attach_timer)
		loop_timer_cancel(s.loop, s.attach_timer);
	loop_free(s.loop);
	free(port_dev);
	free(sock);
	opts_free(&o);
	return status;
}
