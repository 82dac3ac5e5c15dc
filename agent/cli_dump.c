/*
 * cli_dump.c — `emsagent dump PORT`: trigger a crash dump and prove it on the
 * console, a thin front over dump.h run in the event loop with the console's
 * transport, its SAC client and (--control) a control plane.
 *
 * Crashing a machine is never a default: without --yes it asks, naming the
 * machine (its EMS machine-info name when the console showed one, else the
 * port), and with no terminal to ask on it refuses.
 *
 * Exit status: 0 dump verified, 1 triggered but not verified, 2 could not
 * trigger (or usage / connection errors). The reason is one line.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emsagent/cli.h"
#include "emsagent/control.h"
#include "emsagent/dump.h"
#include "emsagent/event.h"
#include "emsagent/loop.h"
#include "emsagent/sac.h"
#include "emsagent/transport.h"
#include "emsagent/util.h"

#define CMD_NAME           "dump"
#define CONTROL_TIMEOUT_NS (30 * NS_PER_SEC)
#define LOOK_NS            (500 * NS_PER_MS) /* how long to read the console before asking */
#define BREAK_MS           300u

struct cli_dump {
	struct loop *loop;
	struct transport *t;
	struct sac *sac;
	struct dump *dump;
	struct control *control;
	const char *port;
	bool json;
	bool looking; /* before the dump: only reading, to learn the machine's name */
	bool finished;
	bool peer_gone;
	uint64_t sac_timer, dump_timer;
	int exit_code;
	char reason[600];
};

static void finish_cli(struct cli_dump *s, int code, const char *reason)
{
	if (s->finished)
		return;
	s->finished = true;
	s->exit_code = code;
	snprintf(s->reason, sizeof(s->reason), "%s", reason ? reason : "");
	loop_stop(s->loop, code);
}

/* ---- what the SAC client and the dump borrow ---- */

static int send_fn(void *ctx, const void *buf, size_t n)
{
	struct cli_dump *s = ctx;
	ssize_t r = transport_write(s->t, buf, n);
	return r < 0 ? (int)r : 0;
}

static int break_fn(void *ctx)
{
	struct cli_dump *s = ctx;
	return transport_send_break(s->t, BREAK_MS);
}

static void on_sac_timer(struct loop *l, void *ctx)
{
	struct cli_dump *s = ctx;
	s->sac_timer = 0;
	sac_tick(s->sac, loop_now(l));
}

static void sac_timer_fn(void *ctx, int64_t deadline)
{
	struct cli_dump *s = ctx;
	loop_timer_set(s->loop, &s->sac_timer, deadline, on_sac_timer, s);
}

static void on_dump_timer(struct loop *l, void *ctx)
{
	struct cli_dump *s = ctx;
	s->dump_timer = 0;
	dump_tick(s->dump, loop_now(l));
}

static void dump_timer_fn(void *ctx, int64_t deadline)
{
	struct cli_dump *s = ctx;
	loop_timer_set(s->loop, &s->dump_timer, deadline, on_dump_timer, s);
}

static void emit_fn(void *ctx, const struct event *ev)
{
	struct cli_dump *s = ctx;
	if (ev->kind < EV_DUMP_REQUESTED || ev->kind > EV_DUMP_FAILED)
		return;
	if (s->json) {
		event_write_json(ev, stdout);
		fflush(stdout);
	} else if (ev->kind == EV_DUMP_REQUESTED && ev->reason) {
		/* auto says which method it chose */
		fprintf(stderr, "emsagent dump: %s\n", ev->reason);
	}
}

static void on_control_done(void *ctx, const struct control_result *r)
{
	struct cli_dump *s = ctx;
	dump_control_done(s->dump, r->ok, r->reason, loop_now(s->loop));
}

static int control_fn(void *ctx, enum control_action a, const char *arg, char *err, size_t errsz)
{
	struct cli_dump *s = ctx;
	return control_run(s->control, s->loop, a, arg, CONTROL_TIMEOUT_NS, on_control_done, s, err, errsz);
}

static void on_dump_done(void *ctx, const struct dump_result *r)
{
	struct cli_dump *s = ctx;
	int code = r->outcome == DUMP_VERIFIED ? 0 : r->outcome == DUMP_NOT_VERIFIED ? 1 : EXIT_USAGE;
	finish_cli(s, code, r->reason);
}

static void on_readable(struct loop *l, int fd, unsigned events, void *ctx)
{
	(void)fd;
	(void)events;
	struct cli_dump *s = ctx;
	char buf[4096];
	for (int i = 0; i < 64 && !s->finished; i++) {
		ssize_t n = transport_read(s->t, buf, sizeof(buf));
		if (n == -EAGAIN || n == -EINTR)
			return;
		if (n <= 0) {
			loop_del_fd(l, s->t->fd);
			s->peer_gone = true;
			char why[300];
			snprintf(why, sizeof(why), "%s: %s before the crash was seen", s->port,
			         n == 0 ? "the console went away" : strerror((int)-n));
			if (s->looking)
				loop_stop(l, EXIT_USAGE);
			finish_cli(s, s->looking ? EXIT_USAGE : 1, why);
			return;
		}
		int64_t now = loop_now(l);
		if (s->sac)
			sac_feed(s->sac, buf, (size_t)n, now);
		if (s->dump)
			dump_feed(s->dump, buf, (size_t)n, now);
	}
}

static void on_look_done(struct loop *l, void *ctx)
{
	(void)ctx;
	loop_stop(l, 0);
}

/* ---- asking ---- */

/* true when the user typed yes on the terminal */
static bool confirm(struct cli_dump *s, const char *method)
{
	const char *name = s->port;
	struct sac_state st = {0};
	if (s->sac)
		sac_get_state(s->sac, &st);
	if (st.has_machine_info && st.mi.name[0])
		name = st.mi.name;
	fprintf(stderr, "Crash %s%s%s%s now to take a memory dump (method %s)? It stops the machine. [y/N] ",
	        name, name != s->port ? " (on " : "", name != s->port ? s->port : "",
	        name != s->port ? ")" : "", method);
	fflush(stderr);
	char answer[16];
	if (!fgets(answer, sizeof(answer), stdin))
		return false;
	return strcmp(answer, "y\n") == 0 || strcmp(answer, "yes\n") == 0 || strcmp(answer, "Y\n") == 0;
}

/* ---- options ---- */

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: emsagent dump [OPTIONS] PORT\n"
	        "\n"
	        "Crashes the machine on PORT to take a memory dump, and proves it on the console:\n"
	        "the EMS <BP> record (0xE2 for sac, 0x80 for nmi) or !SAC>, or Linux's panic.\n"
	        "\n"
	        "  -m, --method M       sac (SAC crashdump), nmi (control plane), sysrq (BREAK + c,\n"
	        "                       or the control plane's SysRq), auto (default: the first the\n"
	        "                       console allows, in that order)\n"
	        "  -c, --control URL    qmp:PATH, qmp:tcp:HOST:PORT, virsh:DOMAIN, azure:RG/VM, aws:ID,\n"
	        "                       ipmi:HOST, hyperv:VM, exec:ARGV...\n"
	        "  -y, --yes            do not ask (needed without a terminal)\n"
	        "  -t, --timeout DUR    how long to wait for the crash to show (default 120s)\n"
	        "  -j, --json           the dump.* events, one JSON object per line\n"
	        "\n"
	        "exit status: 0 dump verified, 1 triggered but not verified, 2 could not trigger\n");
}

int cli_dump(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"method", required_argument, NULL, 'm'},
	    {"control", required_argument, NULL, 'c'},
	    {"yes", no_argument, NULL, 'y'},
	    {"timeout", required_argument, NULL, 't'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct cli_dump s = {0};
	enum dump_method method = DUMP_AUTO;
	const char *control_url = NULL;
	bool yes = false;
	int64_t timeout = DUMP_DEFAULT_TIMEOUT_NS;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":m:c:yt:jh", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (dump_method_parse(optarg, &method) < 0) {
				cli_error(CMD_NAME, "--method: expected sac, nmi, sysrq or auto, not '%s'",
				          optarg);
				return EXIT_USAGE;
			}
			break;
		case 'c':
			control_url = optarg;
			break;
		case 'y':
			yes = true;
			break;
		case 't':
			if (parse_duration(optarg, &timeout) < 0 || timeout <= 0) {
				cli_error(CMD_NAME, "--timeout: expected a duration such as 120s, not '%s'",
				          optarg);
				return EXIT_USAGE;
			}
			break;
		case 'j':
			s.json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			cli_error(CMD_NAME, "option %s needs a value", argv[optind - 1]);
			return EXIT_USAGE;
		default:
			cli_error(CMD_NAME, "unknown option %s (see emsagent dump --help)", argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		cli_error(CMD_NAME, "no PORT given (see emsagent dump --help)");
		return EXIT_USAGE;
	}
	if (optind + 1 < argc) {
		cli_error(CMD_NAME, "one PORT only, not '%s' as well", argv[optind + 1]);
		return EXIT_USAGE;
	}
	s.port = argv[optind];
	if (!yes && !isatty(STDIN_FILENO)) {
		cli_error(CMD_NAME, "refusing to crash %s without --yes: there is no terminal to ask on",
		          s.port);
		return EXIT_USAGE;
	}

	int rc = EXIT_USAGE;
	char err[512];
	if (control_url && control_parse(control_url, &s.control, err, sizeof(err)) < 0) {
		cli_error(CMD_NAME, "--control: %s", err);
		goto out;
	}
	struct transport_opts topts;
	transport_opts_default(&topts);
	if (transport_parse(s.port, &topts, &s.t, err, sizeof(err)) < 0) {
		cli_error(CMD_NAME, "%s", err);
		goto out;
	}
	unsigned tcaps = transport_caps(s.t);
	if (tcaps & TRANSPORT_IS_REPLAY) {
		cli_error(CMD_NAME, "%s is a recording: a dump needs a live console to verify it on", s.port);
		goto out;
	}
	if (transport_open(s.t) < 0) {
		cli_error(CMD_NAME, "%s", s.t->err[0] ? s.t->err : "cannot open the port");
		goto out;
	}
	s.loop = loop_new();
	if (tcaps & TRANSPORT_CAN_WRITE) {
		struct sac_env se = {.ctx = &s,
		                     .console = s.port,
		                     .send = send_fn,
		                     .set_timer = sac_timer_fn,
		                     .char_delay_ns = -1,
		                     .repeat_delay_ns = -1};
		s.sac = sac_new(&se);
	}
	if (loop_add_fd(s.loop, s.t->fd, LOOP_IN, on_readable, &s) < 0) {
		cli_error(CMD_NAME, "%s: cannot watch the port", s.port);
		goto out;
	}
	if (!yes) {
		/* read what the console shows for a moment: its machine-info names the machine */
		s.looking = true;
		uint64_t look = loop_timer_in(s.loop, LOOK_NS, on_look_done, &s);
		loop_run(s.loop);
		loop_timer_cancel(s.loop, look);
		s.looking = false;
		if (s.finished) {
			cli_error(CMD_NAME, "%s", s.reason);
			goto out;
		}
		if (!confirm(&s, dump_method_name(method))) {
			cli_error(CMD_NAME, "not confirmed: nothing was sent");
			goto out;
		}
	}
	struct dump_env de = {
	    .ctx = &s,
	    .console = s.port,
	    .send = (tcaps & TRANSPORT_CAN_WRITE) ? send_fn : NULL,
	    .send_break = (tcaps & TRANSPORT_CAN_BREAK) ? break_fn : NULL,
	    .sac = s.sac,
	    .control_kind = s.control ? control_kind(s.control) : NULL,
	    .control_caps = s.control ? control_caps(s.control) : 0,
	    .control = s.control ? control_fn : NULL,
	    .set_timer = dump_timer_fn,
	    .emit = emit_fn,
	    .done = on_dump_done,
	};
	s.dump = dump_new(&de, method, timeout);
	if (dump_start(s.dump, loop_now(s.loop), err, sizeof(err)) < 0) {
		cli_error(CMD_NAME, "%s: %s", s.port, err);
		goto out;
	}
	loop_run(s.loop);
	rc = s.exit_code;
	if (rc == 0) {
		if (!s.json)
			printf("dump verified on %s (%s): %s\n", s.port,
			       dump_method_name(dump_method(s.dump)), s.reason);
	} else {
		cli_error(CMD_NAME, "%s: %s%s", s.port,
		          rc == 1 ? "triggered but not verified: " : "could not trigger: ", s.reason);
	}
out:
	/* the control plane first: cancelling it calls back into the dump */
	if (s.control)
		control_free(s.control);
	dump_free(s.dump);
	if (s.sac)
		sac_free(s.sac);
	if (s.loop) {
		if (s.t && s.t->fd >= 0 && !s.peer_gone)
			loop_del_fd(s.loop, s.t->fd);
		loop_free(s.loop);
	}
	if (s.t) {
		transport_close(s.t);
		transport_free(s.t);
	}
	return rc;
}
