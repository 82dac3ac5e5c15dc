/*
 * cli_restart.c — `emsagent restart --control URL [--yes] [PORT]`: a hard
 * reset through the machine's control plane (the update-rollback rule's
 * escalation, by hand). Resetting a machine is never a default: a person
 * confirms at a terminal, automation passes --yes, and without either
 * nothing is sent.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emsagent/cli.h"
#include "emsagent/control.h"
#include "emsagent/loop.h"
#include "emsagent/util.h"

#define CMD_NAME "restart"

struct restart_run {
	struct loop *loop;
	bool ok;
	char reason[320];
};

static void on_done(void *ctx, const struct control_result *r)
{
	struct restart_run *s = ctx;
	s->ok = r->ok;
	snprintf(s->reason, sizeof(s->reason), "%s", r->ok ? "" : (r->reason ? r->reason : "failed"));
	loop_stop(s->loop, 0);
}

static void usage(FILE *out)
{
	fprintf(out, "usage: emsagent restart --control URL [--yes] [--timeout T] [PORT]\n"
	             "Resets the machine through its control plane (qmp:, virsh:, azure:, aws:,\n"
	             "ipmi:, hyperv:, exec:). PORT, when given, only names the machine in the\n"
	             "question asked before the reset.\n\n"
	             "  -c, --control URL  the control plane (required)\n"
	             "  -y, --yes          do not ask (required without a terminal)\n"
	             "  -t, --timeout T    how long the control plane may take (default 30s)\n"
	             "  -h, --help         this text\n\n"
	             "exit status: 0 the reset was accepted, 2 usage error, refusal or failure\n");
}

int cli_restart(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"control", required_argument, NULL, 'c'},
	    {"yes", no_argument, NULL, 'y'},
	    {"timeout", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *url = NULL;
	bool yes = false;
	int64_t timeout = 30 * NS_PER_SEC;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:yt:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			url = optarg;
			break;
		case 'y':
			yes = true;
			break;
		case 't':
			if (parse_duration(optarg, &timeout) < 0 || timeout <= 0) {
				cli_error(CMD_NAME, "--timeout: expected a duration such as 30s, not '%s'",
				          optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			cli_error(CMD_NAME, "option '%s' needs a value", argv[optind - 1]);
			return EXIT_USAGE;
		default:
			cli_error(CMD_NAME, "unknown option '%s' (try --help)", argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (argc - optind > 1) {
		cli_error(CMD_NAME, "at most one PORT (it only names the machine)");
		return EXIT_USAGE;
	}
	const char *port = optind < argc ? argv[optind] : NULL;
	if (!url) {
		cli_error(CMD_NAME, "no --control URL: a reset goes through the machine's control plane");
		return EXIT_USAGE;
	}
	struct control *ctl = NULL;
	char err[320];
	if (control_parse(url, &ctl, err, sizeof(err)) < 0) {
		cli_error(CMD_NAME, "%s", err);
		return EXIT_USAGE;
	}
	if (!(control_caps(ctl) & CONTROL_CAN(CONTROL_RESET))) {
		cli_error(CMD_NAME, "a %s control plane cannot reset a machine", control_kind(ctl));
		control_free(ctl);
		return EXIT_USAGE;
	}
	if (!yes) {
		if (!isatty(STDIN_FILENO)) {
			cli_error(CMD_NAME, "refusing to reset without a terminal to ask on: pass --yes");
			control_free(ctl);
			return EXIT_USAGE;
		}
		fprintf(stderr, "Reset %s through %s now? Whatever it is doing is lost. [y/N] ",
		        port ? port : url, url);
		fflush(stderr);
		char answer[16];
		if (!fgets(answer, sizeof(answer), stdin) ||
		    !(strcmp(answer, "y\n") == 0 || strcmp(answer, "yes\n") == 0 ||
		      strcmp(answer, "Y\n") == 0)) {
			cli_error(CMD_NAME, "not confirmed: nothing was sent");
			control_free(ctl);
			return EXIT_USAGE;
		}
	}
	struct restart_run s = {.loop = loop_new()};
	if (!s.loop) {
		cli_error(CMD_NAME, "cannot set up the event loop: %s", strerror(errno));
		control_free(ctl);
		return EXIT_USAGE;
	}
	int status = EXIT_USAGE;
	if (control_run(ctl, s.loop, CONTROL_RESET, NULL, timeout, on_done, &s, err, sizeof(err)) < 0) {
		cli_error(CMD_NAME, "%s", err);
	} else {
		loop_run(s.loop);
		if (s.ok) {
			printf("reset sent through %s\n", url);
			status = 0;
		} else {
			cli_error(CMD_NAME, "%s: %s", url, s.reason);
		}
	}
	control_free(ctl);
	loop_free(s.loop);
	return status;
}
