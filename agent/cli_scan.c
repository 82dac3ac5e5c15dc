/*
 * cli_scan.c — `emsagent scan`: saved console logs through the signature
 * packs, offline, in bounded memory (the input is streamed in fixed-size
 * reads; nothing grows with the input's size).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emsagent/cli.h"
#include "emsagent/event.h"
#include "emsagent/pipeline.h"
#include "emsagent/replay.h"
#include "emsagent/util.h"

#define SCAN_READ_SIZE (256 * 1024)

struct scan_opts {
	bool json, all, quiet, color;
	enum rule_level level;
};

struct scan_state {
	const struct scan_opts *o;
	unsigned long findings;  /* rule.fired at or above the level */
	unsigned long uncertain; /* rule.uncertain at or above the level */
};

static void on_event(void *ctx, const struct event *ev)
{
	struct scan_state *s = ctx;
	const struct scan_opts *o = s->o;
	bool rule_ev = ev->rule != NULL;
	if (rule_ev && ev->rule->level < o->level)
		return;
	if (ev->kind == EV_RULE_FIRED)
		s->findings++;
	if (ev->kind == EV_RULE_UNCERTAIN)
		s->uncertain++;
	if (o->quiet)
		return;
	bool wanted = o->json || o->all || ev->kind == EV_RULE_FIRED || ev->kind == EV_RULE_UNCERTAIN;
	if (!wanted)
		return;
	if (o->json)
		event_write_json(ev, stdout);
	else
		event_write_text(ev, stdout, o->color);
}

/* A raw capture with its time index: lines without a timestamp of their
 * own get the time their first byte was recorded at. */
static int scan_indexed(struct pipeline *p, int fd, int idx_fd, const char *name, const char *idx_name)
{
	struct replay_stats rst;
	char err[256] = "";
	int rc = replay_pipeline(p, fd, idx_fd, &rst, err, sizeof(err));
	if (rc < 0)
		cli_error("scan", "%s: %s (findings up to here are reported)", name, err);
	if (rst.bad_lines)
		cli_error("scan", "%s: warning: %llu malformed or out-of-order index line%s ignored",
		          idx_name, (unsigned long long)rst.bad_lines, rst.bad_lines == 1 ? "" : "s");
	return rc;
}

static int scan_fd(int fd, int idx_fd, const char *name, const char *idx_name, const struct ruleset *rs,
                   const struct match_db *db, struct scan_state *st, char *buf)
{
	struct pipeline *p = pipeline_new(rs, db, CLOCK_LOG, name, on_event, st);
	int rc = 0;
	if (idx_fd >= 0) {
		rc = scan_indexed(p, fd, idx_fd, name, idx_name);
		pipeline_finish(p);
		pipeline_free(p);
		return rc;
	}
	for (;;) {
		ssize_t n = read(fd, buf, SCAN_READ_SIZE);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			cli_error("scan", "%s: read error: %s (findings up to here are reported)", name,
			          strerror(errno));
			rc = -1;
			break;
		}
		if (n == 0)
			break;
		pipeline_feed(p, buf, (size_t)n, 0);
	}
	pipeline_finish(p);
	pipeline_free(p);
	return rc;
}

static void scan_usage(FILE *out)
{
	fprintf(out,
	        "usage: emsagent scan [OPTIONS] FILE...|-\n"
	        "Scans saved serial-console logs with the signature packs and prints findings.\n\n"
	        "  -r, --rules DIR    signature pack (file or directory; repeatable; default: %s)\n"
	        "  -j, --json         one JSON object per event and line (all event kinds)\n"
	        "  -l, --level L      report and count rules at or above L: info|low|medium|high|critical\n"
	        "                     (default: medium)\n"
	        "  -a, --all          text output: every event (epochs, pending, resolved, EMS records)\n"
	        "  -q, --quiet        print nothing; the exit status tells\n"
	        "      --color WHEN   auto|always|never (default auto: a terminal and no NO_COLOR)\n"
	        "      --index FILE   the time index of a raw capture (one input only): lines without\n"
	        "                     their own timestamp get the time their first byte was recorded\n"
	        "                     (default: FILE.idx next to each FILE, when there is one)\n"
	        "      --no-index     ignore FILE.idx files\n"
	        "  -h, --help         this text\n\n"
	        "exit status: 0 nothing fired at or above the level, 1 something did, 2 error\n",
	        cli_default_rules());
}

int cli_scan(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"rules", required_argument, NULL, 'r'}, {"json", no_argument, NULL, 'j'},
	    {"level", required_argument, NULL, 'l'}, {"all", no_argument, NULL, 'a'},
	    {"quiet", no_argument, NULL, 'q'},       {"color", required_argument, NULL, 'C'},
	    {"help", no_argument, NULL, 'h'},        {"index", required_argument, NULL, 'I'},
	    {"no-index", no_argument, NULL, 'X'},    {NULL, 0, NULL, 0},
	};
	const char *index_path = NULL;
	bool no_index = false;
	struct scan_opts o = {.level = LEVEL_MEDIUM};
	const char **rules = xcalloc((size_t)argc + 1, sizeof(*rules));
	size_t nrules = 0;
	int color = -1;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":r:jl:aqh", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			rules[nrules++] = optarg;
			break;
		case 'j':
			o.json = true;
			break;
		case 'l':
			if (rule_level_parse(optarg, &o.level) < 0) {
				cli_error("scan",
				          "--level: unknown level '%s' (info, low, medium, high, critical)",
				          optarg);
				free(rules);
				return EXIT_USAGE;
			}
			break;
		case 'a':
			o.all = true;
			break;
		case 'q':
			o.quiet = true;
			break;
		case 'C':
			if (cli_color_opt("scan", optarg, &color) < 0) {
				free(rules);
				return EXIT_USAGE;
			}
			break;
		case 'I':
			index_path = optarg;
			break;
		case 'X':
			no_index = true;
			break;
		case 'h':
			scan_usage(stdout);
			free(rules);
			return 0;
		case ':':
			cli_error("scan", "option '%s' needs a value", argv[optind - 1]);
			free(rules);
			return EXIT_USAGE;
		default:
			cli_error("scan", "unknown option '%s' (try --help)", argv[optind - 1]);
			free(rules);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		cli_error("scan", "no input: give one or more FILEs, or - for standard input");
		free(rules);
		return EXIT_USAGE;
	}
	if (index_path && (no_index || argc - optind != 1)) {
		cli_error("scan", no_index ? "--index and --no-index together: choose one"
		                           : "--index FILE goes with exactly one input");
		free(rules);
		return EXIT_USAGE;
	}
	o.color = cli_color_on(color) && !o.json;
	if (nrules == 0)
		rules[nrules++] = cli_default_rules();

	struct ruleset rs = {0};
	struct match_db *db = NULL;
	if (cli_load_rules(rules, nrules, &rs, &db, false) < 0) {
		free(rules);
		return EXIT_USAGE;
	}
	free(rules);

	struct scan_state st = {.o = &o};
	char *buf = xmalloc(SCAN_READ_SIZE);
	bool errors = false;
	unsigned files = 0;
	for (int i = optind; i < argc; i++) {
		const char *path = argv[i];
		int fd;
		const char *name = path;
		if (strcmp(path, "-") == 0) {
			fd = STDIN_FILENO;
			name = "stdin";
		} else {
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0) {
				cli_error("scan", "cannot open %s: %s", path, strerror(errno));
				errors = true;
				continue;
			}
		}
		char *idx_name = NULL;
		int idx_fd = -1;
		if (index_path) {
			idx_name = xstrdup(index_path);
			idx_fd = open(idx_name, O_RDONLY | O_CLOEXEC);
			if (idx_fd < 0) {
				cli_error("scan", "cannot open index %s: %s", idx_name, strerror(errno));
				errors = true;
				free(idx_name);
				if (fd != STDIN_FILENO)
					close(fd);
				continue;
			}
		} else if (!no_index && fd != STDIN_FILENO) {
			/* A capture's own index, when it left one next to it. */
			idx_name = xasprintf("%s.idx", path);
			idx_fd = open(idx_name, O_RDONLY | O_CLOEXEC);
		}
		if (scan_fd(fd, idx_fd, name, idx_name, &rs, db, &st, buf) < 0)
			errors = true;
		if (idx_fd >= 0)
			close(idx_fd);
		free(idx_name);
		if (fd != STDIN_FILENO)
			close(fd);
		files++;
	}
	free(buf);
	if (!o.json && !o.quiet)
		printf("%lu finding%s, %lu uncertain, at level %s or above, in %u input%s\n", st.findings,
		       st.findings == 1 ? "" : "s", st.uncertain, rule_level_name(o.level), files,
		       files == 1 ? "" : "s");
	match_db_free(db);
	rules_free(&rs);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cli_error("scan", "writing output: %s", strerror(errno));
		return EXIT_USAGE;
	}
	if (errors)
		return EXIT_USAGE;
	return st.findings ? EXIT_FINDINGS : 0;
}
