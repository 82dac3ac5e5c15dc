/* cli_common.c — what the subcommands share: the default pack, loading. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "emsagent/cli.h"
#include "emsagent/transport.h"
#include "emsagent/util.h"

#ifndef EMSAGENT_DATADIR
#define EMSAGENT_DATADIR "/usr/local/share/emsagent"
#endif

const char *cli_default_rules(void)
{
	struct stat st;
	if (stat("rules/base.yaml", &st) == 0 && S_ISREG(st.st_mode))
		return "rules";
	return EMSAGENT_DATADIR "/rules";
}

void cli_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "emsagent %s: ", cmd);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

int cli_load_rules(const char *const *paths, size_t n, struct ruleset *rs, struct match_db **db,
                   bool print_warnings)
{
	struct diags d = {0};
	int rc = rules_load(rs, paths, n, &d);
	if (rc == 0) {
		*db = match_compile(rs, &d);
		if (!*db) {
			rules_free(rs);
			rc = -1;
		}
	}
	if (rc < 0 || print_warnings)
		diags_print(&d, stderr);
	diags_free(&d);
	return rc;
}

char *cli_name_from_port(const char *port)
{
	const char *s = port;
	const char *colon = strchr(s, ':');
	if (colon && colon - s < 8 && s[0] != '/')
		s = colon + 1;
	const char *slash = strrchr(s, '/');
	if (slash && slash[1])
		s = slash + 1;
	char *n = xstrdup(*s ? s : "console");
	for (char *q = n; *q; q++)
		if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') ||
		      *q == '_' || *q == '.' || *q == '-'))
			*q = '_';
	return n;
}

int cli_serial_opt(const char *cmd, const char *opt, const char *arg, struct transport_opts *o)
{
	static const char *const parities[] = {"none", "even", "odd", "mark", "space"};
	static const char pcodes[] = {'n', 'e', 'o', 'm', 's'};
	static const char *const flows[] = {"none", "xonxoff", "rtscts"};
	static const enum transport_flow fcodes[] = {FLOW_NONE, FLOW_XONXOFF, FLOW_RTSCTS};
	char *end;
	unsigned long v = 0;
	if (strcmp(opt, "baud") == 0 || strcmp(opt, "data-bits") == 0 || strcmp(opt, "stop-bits") == 0) {
		unsigned long lo = opt[0] == 'b' ? 50 : opt[0] == 'd' ? 5 : 1;
		unsigned long hi = opt[0] == 'b' ? 4000000 : opt[0] == 'd' ? 8 : 2;
		errno = 0;
		v = strtoul(arg, &end, 10);
		if (errno || end == arg || *end || v < lo || v > hi || arg[0] == '-') {
			cli_error(cmd, "--%s: expected a number from %lu to %lu, not '%s'", opt, lo, hi, arg);
			return -1;
		}
		if (opt[0] == 'b')
			o->baud = (unsigned)v;
		else if (opt[0] == 'd')
			o->data_bits = (unsigned)v;
		else
			o->stop_bits = (unsigned)v;
		return 0;
	}
	if (strcmp(opt, "parity") == 0) {
		for (size_t i = 0; i < ARRAY_LEN(parities); i++)
			if (strcmp(arg, parities[i]) == 0) {
				o->parity = pcodes[i];
				return 0;
			}
		cli_error(cmd, "--parity: expected none, even, odd, mark or space, not '%s'", arg);
		return -1;
	}
	if (strcmp(opt, "flow") == 0) {
		for (size_t i = 0; i < ARRAY_LEN(flows); i++)
			if (strcmp(arg, flows[i]) == 0) {
				o->flow = fcodes[i];
				return 0;
			}
		cli_error(cmd, "--flow: expected none, xonxoff or rtscts, not '%s'", arg);
		return -1;
	}
	cli_error(cmd, "--%s: not a serial setting", opt);
	return -1;
}

int cli_color_opt(const char *cmd, const char *arg, int *color)
{
	static const char *const whens[] = {"never", "always", "auto"};
	for (int i = 0; i < 3; i++)
		if (strcmp(arg, whens[i]) == 0) {
			*color = i == 2 ? -1 : i;
			return 0;
		}
	cli_error(cmd, "--color: expected auto, always or never, not '%s'", arg);
	return -1;
}

bool cli_color_on(int color)
{
	if (color >= 0)
		return color == 1;
	const char *nc = getenv("NO_COLOR");
	return isatty(STDOUT_FILENO) && !(nc && nc[0]);
}

int cli_label_opt(const char *cmd, const char *arg, struct kv *out)
{
	const char *eq = strchr(arg, '=');
	if (!eq || eq == arg) {
		cli_error(cmd, "--label: expected KEY=VALUE, not '%s'", arg);
		return -1;
	}
	out->key = xstrndup(arg, (size_t)(eq - arg));
	out->value = xstrdup(eq + 1);
	return 0;
}

void cli_labels_free(struct kv *labels, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(labels[i].key);
		free(labels[i].value);
	}
	free(labels);
}
