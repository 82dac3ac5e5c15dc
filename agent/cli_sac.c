/*
 * cli_sac.c — `emsagent sac PORT COMMAND...`: scripted SAC over any
 * transport, a thin front over the SAC client (sac.h) run in the event loop.
 *
 *   emsagent sac PORT t                         a SAC command's output
 *   emsagent sac PORT info                      what the console shows: state, channels, id
 *   emsagent sac PORT --cmd "ipconfig /all" --user U --password-file F
 *                                               cmd, ch -sn, login, the command, exit
 *
 * Exit status: 0 ok, 1 SAC reported a failure (or never answered as
 * expected), 2 usage or connection errors. The reason is one line on stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emsagent/cli.h"
#include "emsagent/loop.h"
#include "emsagent/sac.h"
#include "emsagent/transport.h"
#include "emsagent/util.h"

#define CMD_NAME "sac"

enum step { ST_WAIT_READY, ST_RUN, ST_INFO_CH, ST_INFO_ID, ST_OPEN, ST_LOGIN, ST_CMD, ST_CLOSE, ST_END };

struct cli_sac {
	struct loop *loop;
	struct transport *t;
	struct sac *sac;
	uint64_t timer;
	uint64_t wait_timer;
	const char *port;
	bool json;
	int64_t timeout_ns;
	int64_t wait_ready_ns;
	int64_t wait_until;
	char *command; /* the SAC command, or the cmd.exe command with --cmd */
	bool info;
	bool cmd_mode;
	const char *user, *domain;
	struct sac_secret pw;
	enum step step;
	char channel[SAC_NAME_MAX];
	/* the answer */
	int exit_code;
	enum sac_err err;
	struct buf output;
	char detail[300];
	struct buf info_id;
	bool peer_gone;
};

static int exit_for(enum sac_err e)
{
	switch (e) {
	case SAC_OK:
		return 0;
	case SAC_ERR_SEND:
	case SAC_ERR_NOT_SAC:
	case SAC_ERR_CANCELLED:
	case SAC_ERR_INVALID:
		return EXIT_USAGE;
	default:
		return EXIT_FINDINGS;
	}
}

static void stop(struct cli_sac *s, enum sac_err e, const char *detail)
{
	s->err = e;
	s->exit_code = exit_for(e);
	if (detail)
		snprintf(s->detail, sizeof(s->detail), "%s", detail);
	s->step = ST_END;
	loop_stop(s->loop, s->exit_code);
}

/* ---- what the client borrows ---- */

static int send_fn(void *ctx, const void *buf, size_t n)
{
	struct cli_sac *s = ctx;
	ssize_t r = transport_write(s->t, buf, n);
	return r < 0 ? (int)r : 0;
}

static void on_timer(struct loop *l, void *ctx)
{
	struct cli_sac *s = ctx;
	s->timer = 0;
	sac_tick(s->sac, loop_now(l));
}

static void set_timer_fn(void *ctx, int64_t deadline)
{
	struct cli_sac *s = ctx;
	loop_timer_set(s->loop, &s->timer, deadline, on_timer, s);
}

static void next(struct cli_sac *s);

static void emit_fn(void *ctx, const struct event *ev)
{
	struct cli_sac *s = ctx;
	if (ev->kind == EV_SAC_CMD_AVAILABLE && s->step == ST_WAIT_READY) {
		if (s->wait_timer)
			loop_timer_cancel(s->loop, s->wait_timer);
		s->wait_timer = 0;
		s->step = ST_RUN;
		next(s);
	}
}

static void on_readable(struct loop *l, int fd, unsigned events, void *ctx)
{
	(void)fd;
	(void)events;
	struct cli_sac *s = ctx;
	char buf[4096];
	for (int i = 0; i < 64 && s->step != ST_END; i++) {
		ssize_t n = transport_read(s->t, buf, sizeof(buf));
		if (n == -EAGAIN || n == -EINTR)
			return;
		if (n <= 0) {
			loop_del_fd(l, s->t->fd);
			s->peer_gone = true;
			char why[300];
			snprintf(why, sizeof(why), "%s: %s", s->port,
			         n == 0 ? "the console went away" : strerror((int)-n));
			stop(s, SAC_ERR_SEND, why);
			return;
		}
		sac_feed(s->sac, buf, (size_t)n, loop_now(l));
	}
}

/* ---- the steps ---- */

static void done_fn(void *ctx, const struct sac_result *r);

static void start(struct cli_sac *s, enum sac_err rc)
{
	if (rc != SAC_OK)
		stop(s, rc, NULL);
}

static void next(struct cli_sac *s)
{
	int64_t now = loop_now(s->loop);
	switch (s->step) {
	case ST_RUN:
		if (s->info) {
			s->step = ST_INFO_CH;
			enum sac_err rc = sac_run(s->sac, "ch", s->timeout_ns, done_fn, s, now);
			/* at !SAC> there is no ch or id: the state is the whole answer */
			start(s, rc == SAC_ERR_CRASHED ? SAC_OK : rc);
			if (rc == SAC_ERR_CRASHED)
				stop(s, SAC_OK, NULL);
		} else if (s->cmd_mode) {
			s->step = ST_OPEN;
			start(s, sac_cmd_open(s->sac, s->timeout_ns, done_fn, s, now));
		} else {
			start(s, sac_run(s->sac, s->command, s->timeout_ns, done_fn, s, now));
		}
		return;
	case ST_INFO_ID:
		start(s, sac_run(s->sac, "id", s->timeout_ns, done_fn, s, now));
		return;
	case ST_OPEN:
		start(s, sac_cmd_open(s->sac, s->timeout_ns, done_fn, s, now));
		return;
	case ST_LOGIN:
		start(s, sac_cmd_login(s->sac, s->channel, s->user, s->domain, &s->pw, s->timeout_ns, done_fn,
		                       s, now));
		sac_secret_clear(&s->pw);
		return;
	case ST_CMD:
		start(s, sac_cmd_run(s->sac, s->command, s->timeout_ns, done_fn, s, now));
		return;
	case ST_CLOSE:
		start(s, sac_cmd_close(s->sac, s->channel, s->timeout_ns, done_fn, s, now));
		return;
	case ST_WAIT_READY:
	case ST_INFO_CH:
	case ST_END:
		return;
	}
}

static void on_retry_open(struct loop *l, void *ctx)
{
	(void)l;
	struct cli_sac *s = ctx;
	s->wait_timer = 0;
	next(s);
}

static void done_fn(void *ctx, const struct sac_result *r)
{
	struct cli_sac *s = ctx;
	switch (s->step) {
	case ST_RUN:
		buf_append(&s->output, r->output, r->output_len);
		stop(s, r->err, r->detail);
		return;
	case ST_INFO_CH:
		if (r->err == SAC_ERR_CRASHED) {
			/* !SAC> has neither ch nor id: the state is the answer */
			stop(s, SAC_OK, NULL);
			return;
		}
		if (r->err != SAC_OK) {
			stop(s, r->err, r->detail);
			return;
		}
		s->step = ST_INFO_ID;
		next(s);
		return;
	case ST_INFO_ID:
		if (r->err == SAC_OK)
			buf_append(&s->info_id, r->output, r->output_len);
		stop(s, r->err, r->detail);
		return;
	case ST_OPEN:
		if (r->err == SAC_ERR_NO_CMD_SERVICE && s->wait_until &&
		    loop_now(s->loop) + 5 * NS_PER_SEC < s->wait_until) {
			/* --wait-ready: the service is not up yet; ask again */
			s->wait_timer = loop_timer_in(s->loop, 5 * NS_PER_SEC, on_retry_open, s);
			return;
		}
		if (r->err != SAC_OK) {
			stop(s, r->err, r->detail);
			return;
		}
		snprintf(s->channel, sizeof(s->channel), "%s", r->channel);
		s->step = ST_LOGIN;
		next(s);
		return;
	case ST_LOGIN:
		if (r->err != SAC_OK) {
			s->err = r->err;
			snprintf(s->detail, sizeof(s->detail), "%s", r->detail ? r->detail : "");
			s->step = ST_CLOSE; /* do not leave a channel behind */
			next(s);
			return;
		}
		s->step = ST_CMD;
		next(s);
		return;
	case ST_CMD:
		buf_append(&s->output, r->output, r->output_len);
		s->err = r->err;
		snprintf(s->detail, sizeof(s->detail), "%s", r->detail ? r->detail : "");
		s->step = ST_CLOSE;
		next(s);
		return;
	case ST_CLOSE:
		if (r->err != SAC_OK)
			fprintf(stderr, "emsagent sac: warning: could not close %s: %s\n", s->channel,
			        sac_strerror(r->err));
		stop(s, s->err, s->detail[0] ? s->detail : NULL);
		return;
	case ST_WAIT_READY:
	case ST_END:
		return;
	}
}

static void on_wait_timeout(struct loop *l, void *ctx)
{
	(void)l;
	struct cli_sac *s = ctx;
	s->wait_timer = 0;
	char why[128], d[32];
	format_duration(s->wait_ready_ns, d, sizeof(d));
	snprintf(why, sizeof(why), "the CMD service did not become available within %s", d);
	stop(s, SAC_ERR_TIMEOUT, why);
}

/* ---- output ---- */

static void print_info_text(struct cli_sac *s, const struct sac_state *st)
{
	printf("port:             %s\n", s->port);
	printf("sac:              %s\n", st->ready ? "ready" : "no SAC> prompt seen");
	printf("cmd service:      %s\n", st->cmd_available ? "available" : "not seen available");
	if (st->crashed) {
		if (st->has_stopcode)
			printf("crashed:          yes, stop code 0x%X\n", st->stopcode);
		else
			printf("crashed:          yes (!SAC>)\n");
	} else {
		printf("crashed:          no\n");
	}
	printf("locked:           %s\n", st->locked ? "yes" : "no");
	printf("current channel:  %s\n", st->current);
	printf("channels:        ");
	for (unsigned i = 0; i < st->nchannels; i++)
		printf(" %u:%s", i, st->channels[i]);
	printf("\n");
	if (st->has_machine_info) {
		printf("machine-info:     name=%s guid=%s arch=%s os=%s build=%s product=%s sp=%s\n",
		       st->mi.name, st->mi.guid, st->mi.arch, st->mi.os_version, st->mi.os_build,
		       st->mi.os_product, st->mi.os_sp);
	}
	if (s->info_id.len)
		printf("%s\n", s->info_id.data);
}

static struct json_object *info_json(struct cli_sac *s, const struct sac_state *st)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "ready", json_object_new_boolean(st->ready));
	json_object_object_add(o, "cmd_available", json_object_new_boolean(st->cmd_available));
	json_object_object_add(o, "crashed", json_object_new_boolean(st->crashed));
	if (st->has_stopcode) {
		char sc[16];
		snprintf(sc, sizeof(sc), "0x%X", st->stopcode);
		json_object_object_add(o, "stopcode", json_object_new_string(sc));
	}
	json_object_object_add(o, "locked", json_object_new_boolean(st->locked));
	json_object_object_add(o, "current_channel", json_object_new_string(st->current));
	struct json_object *ch = json_object_new_array();
	for (unsigned i = 0; i < st->nchannels; i++)
		json_object_array_add(ch, json_object_new_string(st->channels[i]));
	json_object_object_add(o, "channels", ch);
	if (st->has_machine_info) {
		struct json_object *mi = json_object_new_object();
		json_object_object_add(mi, "name", json_object_new_string(st->mi.name));
		json_object_object_add(mi, "guid", json_object_new_string(st->mi.guid));
		json_object_object_add(mi, "processor_architecture", json_object_new_string(st->mi.arch));
		json_object_object_add(mi, "os_version", json_object_new_string(st->mi.os_version));
		json_object_object_add(mi, "os_build_number", json_object_new_string(st->mi.os_build));
		json_object_object_add(mi, "os_product", json_object_new_string(st->mi.os_product));
		json_object_object_add(mi, "os_service_pack", json_object_new_string(st->mi.os_sp));
		json_object_object_add(o, "machine_info", mi);
	}
	(void)s;
	return o;
}

static void print_result(struct cli_sac *s)
{
	struct sac_state st;
	sac_get_state(s->sac, &st);
	if (s->json) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "command", json_object_new_string(s->info ? "info" : s->command));
		if (s->cmd_mode)
			json_object_object_add(o, "channel", json_object_new_string(s->channel));
		const struct buf *out = s->info ? &s->info_id : &s->output;
		json_object_object_add(o, "output",
		                       json_object_new_string_len(out->data ? out->data : "", (int)out->len));
		json_object_object_add(o, "ok", json_object_new_boolean(s->err == SAC_OK));
		if (s->err != SAC_OK) {
			json_object_object_add(o, "error", json_object_new_string(sac_err_name(s->err)));
			json_object_object_add(o, "message", json_object_new_string(sac_strerror(s->err)));
			if (s->detail[0])
				json_object_object_add(o, "detail", json_object_new_string(s->detail));
		}
		if (s->info)
			json_object_object_add(o, "state", info_json(s, &st));
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
	} else if (s->info && (s->err == SAC_OK)) {
		print_info_text(s, &st);
	} else if (s->output.len) {
		fwrite(s->output.data, 1, s->output.len, stdout);
		if (s->output.data[s->output.len - 1] != '\n')
			putchar('\n');
	}
	if (s->err != SAC_OK) {
		if (s->detail[0])
			cli_error(CMD_NAME, "%s: %s (%s)", s->port, sac_strerror(s->err), s->detail);
		else
			cli_error(CMD_NAME, "%s: %s", s->port, sac_strerror(s->err));
	}
}

/* ---- options ---- */

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: emsagent sac [OPTIONS] PORT COMMAND...\n"
	        "       emsagent sac [OPTIONS] PORT info\n"
	        "       emsagent sac [OPTIONS] PORT --cmd COMMAND --user USER [--domain D]\n"
	        "                    (--password-file FILE | --password-env VAR)\n"
	        "\n"
	        "Runs SAC commands on a Windows EMS console and prints their output.\n"
	        "\n"
	        "  -j, --json               {\"command\":..., \"output\":..., \"ok\":...}\n"
	        "  -t, --timeout DUR        per step (default 30s)\n"
	        "      --wait-ready DUR     wait up to DUR for \"EVENT: The CMD command is now available.\"\n"
	        "                           (with --cmd: retry cmd until the service is up)\n"
	        "      --cmd COMMAND        run COMMAND in a new cmd channel (closed afterwards)\n"
	        "      --user USER, --domain DOMAIN\n"
	        "      --password-file FILE the first line of FILE (mode 0600, yours)\n"
	        "      --password-env VAR   the value of environment variable VAR\n"
	        "      --char-delay DUR     between typed bytes (default 2ms)\n"
	        "      --repeat-delay DUR   before a repeated byte (guests that drop fast repeats: 1.5s)\n"
	        "      --baud N, --data-bits N, --parity none|even|odd|mark|space, --stop-bits N,\n"
	        "      --flow none|xonxoff|rtscts   serial settings\n"
	        "\n"
	        "exit status: 0 ok, 1 SAC reported a failure, 2 usage or connection error\n");
}

static int parse_dur_opt(const char *name, const char *arg, int64_t *out, bool zero_ok)
{
	if (parse_duration(arg, out) == 0 && (*out > 0 || (zero_ok && *out == 0)))
		return 0;
	cli_error(CMD_NAME, "--%s: expected a duration such as 30s or 10m, not '%s'", name, arg);
	return -1;
}

enum {
	OPT_WAIT = 1000,
	OPT_CMD,
	OPT_USER,
	OPT_DOMAIN,
	OPT_PWFILE,
	OPT_PWENV,
	OPT_CHAR_DELAY,
	OPT_REPEAT_DELAY,
	OPT_BAUD,
	OPT_DATA_BITS,
	OPT_PARITY,
	OPT_STOP_BITS,
	OPT_FLOW,
};

struct sac_opts {
	struct cli_sac *s;
	const char *cmd_arg, *pwfile, *pwenv;
	int64_t char_delay, repeat_delay;
	struct transport_opts topts;
};

/* Options up to the first word; 0, 1 after --help, -1 on a usage error. */
static int parse_opts(int argc, char **argv, struct sac_opts *o)
{
	static const struct option longopts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"timeout", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {"wait-ready", required_argument, NULL, OPT_WAIT},
	    {"cmd", required_argument, NULL, OPT_CMD},
	    {"user", required_argument, NULL, OPT_USER},
	    {"domain", required_argument, NULL, OPT_DOMAIN},
	    {"password-file", required_argument, NULL, OPT_PWFILE},
	    {"password-env", required_argument, NULL, OPT_PWENV},
	    {"char-delay", required_argument, NULL, OPT_CHAR_DELAY},
	    {"repeat-delay", required_argument, NULL, OPT_REPEAT_DELAY},
	    {"baud", required_argument, NULL, OPT_BAUD},
	    {"data-bits", required_argument, NULL, OPT_DATA_BITS},
	    {"parity", required_argument, NULL, OPT_PARITY},
	    {"stop-bits", required_argument, NULL, OPT_STOP_BITS},
	    {"flow", required_argument, NULL, OPT_FLOW},
	    {NULL, 0, NULL, 0},
	};
	int c;
	/* '+': stop at the first word, so a SAC command's own dashes (ch -si 1) stay words */
	while ((c = getopt_long(argc, argv, "+:jt:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o->s->json = true;
			break;
		case 't':
			if (parse_dur_opt("timeout", optarg, &o->s->timeout_ns, false) < 0)
				return -1;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case OPT_WAIT:
			if (parse_dur_opt("wait-ready", optarg, &o->s->wait_ready_ns, false) < 0)
				return -1;
			break;
		case OPT_CMD:
			o->cmd_arg = optarg;
			break;
		case OPT_USER:
			o->s->user = optarg;
			break;
		case OPT_DOMAIN:
			o->s->domain = optarg;
			break;
		case OPT_PWFILE:
			o->pwfile = optarg;
			break;
		case OPT_PWENV:
			o->pwenv = optarg;
			break;
		case OPT_CHAR_DELAY:
			if (parse_dur_opt("char-delay", optarg, &o->char_delay, true) < 0)
				return -1;
			break;
		case OPT_REPEAT_DELAY:
			if (parse_dur_opt("repeat-delay", optarg, &o->repeat_delay, true) < 0)
				return -1;
			break;
		case OPT_BAUD:
			if (cli_serial_opt(CMD_NAME, "baud", optarg, &o->topts) < 0)
				return -1;
			break;
		case OPT_DATA_BITS:
			if (cli_serial_opt(CMD_NAME, "data-bits", optarg, &o->topts) < 0)
				return -1;
			break;
		case OPT_STOP_BITS:
			if (cli_serial_opt(CMD_NAME, "stop-bits", optarg, &o->topts) < 0)
				return -1;
			break;
		case OPT_PARITY:
			if (cli_serial_opt(CMD_NAME, "parity", optarg, &o->topts) < 0)
				return -1;
			break;
		case OPT_FLOW:
			if (cli_serial_opt(CMD_NAME, "flow", optarg, &o->topts) < 0)
				return -1;
			break;
		case ':':
			cli_error(CMD_NAME, "option %s needs a value", argv[optind - 1]);
			return -1;
		default:
			cli_error(CMD_NAME, "unknown option %s (see emsagent sac --help)", argv[optind - 1]);
			return -1;
		}
	}
	return 0;
}

int cli_sac(int argc, char **argv)
{
	struct cli_sac s = {0};
	struct sac_opts so = {.s = &s, .char_delay = -1, .repeat_delay = -1};
	transport_opts_default(&so.topts);
	s.timeout_ns = 30 * NS_PER_SEC;
	s.domain = "";
	/* '+': options stop at the first word, so a SAC command's own dashes
	 * (ch -si 1) stay words; options may come before and after PORT. */
	optind = 1;
	int prc = parse_opts(argc, argv, &so);
	if (prc != 0)
		return prc > 0 ? 0 : EXIT_USAGE;
	if (optind >= argc) {
		cli_error(CMD_NAME, "no PORT given (see emsagent sac --help)");
		return EXIT_USAGE;
	}
	s.port = argv[optind++];
	prc = parse_opts(argc, argv, &so);
	if (prc != 0)
		return prc > 0 ? 0 : EXIT_USAGE;
	const char *cmd_arg = so.cmd_arg, *pwfile = so.pwfile, *pwenv = so.pwenv;
	int64_t char_delay = so.char_delay, repeat_delay = so.repeat_delay;
	struct transport_opts topts = so.topts;
	struct buf words = {0};
	for (int i = optind; i < argc; i++) {
		if (words.len)
			buf_putc(&words, ' ');
		buf_append(&words, argv[i], strlen(argv[i]));
	}
	int rc = EXIT_USAGE;
	if (cmd_arg) {
		if (words.len) {
			cli_error(CMD_NAME, "--cmd runs in a cmd channel: give no SAC COMMAND as well");
			goto out;
		}
		if (!s.user) {
			cli_error(CMD_NAME, "--cmd needs --user");
			goto out;
		}
		if (!pwfile == !pwenv) {
			cli_error(CMD_NAME, "--cmd needs one of --password-file or --password-env");
			goto out;
		}
		char err[512];
		int src = pwfile ? sac_secret_from_file(pwfile, &s.pw, err, sizeof(err))
		                 : sac_secret_from_env(pwenv, &s.pw, err, sizeof(err));
		if (src < 0) {
			cli_error(CMD_NAME, "%s", err);
			goto out;
		}
		s.cmd_mode = true;
		s.command = xstrdup(cmd_arg);
	} else {
		if (!words.len) {
			cli_error(CMD_NAME, "no COMMAND given (see emsagent sac --help)");
			goto out;
		}
		if (s.user || pwfile || pwenv) {
			cli_error(CMD_NAME, "--user and passwords only go with --cmd");
			goto out;
		}
		s.info = strcmp(words.data, "info") == 0;
		s.command = xstrdup(words.data);
	}
	if (strlen(s.command) > SAC_CMD_MAX || !s.command[0]) {
		cli_error(CMD_NAME, "the command must be 1 to %d characters", SAC_CMD_MAX);
		goto out;
	}
	for (const char *p = s.command; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			cli_error(CMD_NAME, "the command contains a control character");
			goto out;
		}

	char err[256];
	if (transport_parse(s.port, &topts, &s.t, err, sizeof(err)) < 0) {
		cli_error(CMD_NAME, "%s", err);
		goto out;
	}
	if (!(transport_caps(s.t) & TRANSPORT_CAN_WRITE)) {
		cli_error(CMD_NAME, "%s is read-only: SAC needs a console it can type into", s.port);
		goto out;
	}
	if (transport_open(s.t) < 0) {
		cli_error(CMD_NAME, "%s", s.t->err[0] ? s.t->err : "cannot open the port");
		goto out;
	}
	s.loop = loop_new();
	struct sac_env env = {
	    .ctx = &s,
	    .console = s.port,
	    .send = send_fn,
	    .set_timer = set_timer_fn,
	    .emit = emit_fn,
	    .char_delay_ns = char_delay,
	    .repeat_delay_ns = repeat_delay,
	};
	s.sac = sac_new(&env);
	if (loop_add_fd(s.loop, s.t->fd, LOOP_IN, on_readable, &s) < 0) {
		cli_error(CMD_NAME, "%s: cannot watch the port", s.port);
		goto out;
	}
	s.step = ST_RUN;
	if (s.wait_ready_ns > 0) {
		s.wait_until = loop_now(s.loop) + s.wait_ready_ns;
		if (!s.cmd_mode) {
			s.step = ST_WAIT_READY;
			s.wait_timer = loop_timer_in(s.loop, s.wait_ready_ns, on_wait_timeout, &s);
		}
	}
	if (s.step == ST_RUN)
		next(&s);
	if (s.step != ST_END)
		loop_run(s.loop);
	print_result(&s);
	rc = s.exit_code;
out:
	sac_secret_clear(&s.pw);
	if (s.sac) {
		/* the loop is done: nothing may call back into a freed client */
		sac_free(s.sac);
	}
	if (s.loop) {
		if (s.t && s.t->fd >= 0 && !s.peer_gone)
			loop_del_fd(s.loop, s.t->fd);
		loop_free(s.loop);
	}
	if (s.t) {
		transport_close(s.t);
		transport_free(s.t);
	}
	free(s.command);
	buf_free(&words);
	buf_free(&s.output);
	buf_free(&s.info_id);
	return rc;
}
