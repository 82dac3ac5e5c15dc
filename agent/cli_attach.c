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
#include <getopt.h>
#include <stdarg.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "attach_session.h"
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

#define CMD         ATTACH_CMD
#define STDIN_CHUNK 4096
void session_quit(struct session *s, int status, const char *fmt, ...)
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
	case OPT_LABEL:
		if (cli_label_opt(CMD, arg, &o->labels[o->nlabels]) < 0)
			return -1;
		o->nlabels++;
		return 0;
	case OPT_NAME:
		o->name = arg;
		return 0;
	case OPT_RECONNECT:
		o->reconnect = true;
		return 0;
	case OPT_SERIAL:
		return cli_serial_opt(CMD, optname, arg, &o->topts);
	case OPT_COLOR:
		return cli_color_opt(CMD, arg, &o->color);
	default:
		return -1;
	}
}

static void opts_free(struct attach_opts *o)
{
	cli_labels_free(o->labels, o->nlabels);
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
	char *port_dev = NULL;
	if (!sock && !strchr(target, '/') && !strchr(target, ':') && strcmp(target, "-") != 0) {
		/* a bare word that is not a watched console: /dev/WORD, if it is a device */
		port_dev = xasprintf("/dev/%s", target);
		struct stat st;
		if (stat(port_dev, &st) < 0 || !S_ISCHR(st.st_mode)) {
			free(port_dev);
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
		free(port_dev);
		free(sock);
		opts_free(&o);
		return EXIT_USAGE;
	}
	loop_on_signal(s.loop, SIGTERM, on_signal, &s);
	loop_on_signal(s.loop, SIGHUP, on_signal, &s);
	loop_on_signal(s.loop, SIGINT, on_signal, &s);
	int status = EXIT_USAGE;
	bool is_tty = isatty(STDIN_FILENO);
	bool color = cli_color_on(o.color);
	if (sock ? session_remote_setup(&s, sock) < 0
	         : session_local_setup(&s, port_dev ? port_dev : target) < 0)
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
	    .port_write = sock ? session_remote_write : session_local_write,
	    .request = sock ? session_remote_request : session_local_request,
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
		session_remote_free(&s);
	else
		session_local_free(&s);
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
