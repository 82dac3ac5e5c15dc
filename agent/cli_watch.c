/*
 * cli_watch.c — `emsagent watch`: many consoles, one loop, until told to stop.
 *
 * Rule packs are loaded once per distinct list of paths and shared by the
 * consoles that use them. SIGHUP reloads the configuration and every pack
 * and swaps them in only when all of it loaded; otherwise the running set
 * stays and an agent.reloaded event says why. SIGHUP also reopens logs.
 * SIGTERM and SIGINT flush captures and sinks and end with status 0.
 * Every live console is also served on a unix socket for `emsagent attach`
 * (share.h); a reload rebuilds the consoles, so their clients are told bye.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emsagent/cli.h"
#include "emsagent/clock.h"
#include "emsagent/config.h"
#include "emsagent/console.h"
#include "emsagent/loop.h"
#include "emsagent/share.h"
#include "emsagent/sink.h"
#include "emsagent/util.h"

struct pack {
	char *key; /* the paths joined by '\n' */
	struct ruleset rs;
	struct match_db *db;
};

struct packs {
	struct pack *v;
	size_t n, cap;
};

struct watch_opts {
	const char *config;
	const char **rules;
	size_t nrules;
	bool json;
	int color; /* -1 auto */
	enum rule_level level;
	bool allow_dump, allow_restart;
	const char *log_dir;
	struct kv *labels;
	size_t nlabels;
	const char **names;
	size_t nnames;
	struct transport_opts topts;
	bool topts_set;
	int64_t idle_ns;
	bool check_only;
	const char *share_dir; /* --share-dir: over every console's share.dir */
	bool no_share;
};

struct watch {
	struct loop *loop;
	struct watch_opts *o;
	struct watch_cfg cfg;
	struct packs packs;
	struct sinks *sinks;
	struct console **consoles;
	struct share **shares; /* one per console, NULL where not shared */
	size_t nconsoles;
	size_t unfinished;
	bool any_replay_only;
};

/* --- packs ---------------------------------------------------------------- */

static char *pack_key(char *const *paths, size_t n)
{
	struct buf b = {0};
	for (size_t i = 0; i < n; i++) {
		buf_append(&b, paths[i], strlen(paths[i]));
		buf_putc(&b, '\n');
	}
	return b.data ? b.data : xstrdup("");
}

static void packs_free(struct packs *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].key);
		match_db_free(p->v[i].db);
		rules_free(&p->v[i].rs);
	}
	free(p->v);
	memset(p, 0, sizeof(*p));
}

/* Loads every distinct pack the configuration names; -1 on any error. */
static int packs_load(struct packs *p, const struct watch_cfg *cfg)
{
	for (size_t i = 0; i < cfg->nconsoles; i++) {
		const struct console_cfg *cc = &cfg->consoles[i];
		char *key = pack_key(cc->rules, cc->nrules);
		bool have = false;
		for (size_t k = 0; k < p->n && !have; k++)
			have = strcmp(p->v[k].key, key) == 0;
		if (have) {
			free(key);
			continue;
		}
		xgrow((void **)&p->v, &p->cap, p->n + 1, sizeof(*p->v));
		struct pack *pk = &p->v[p->n];
		memset(pk, 0, sizeof(*pk));
		pk->key = key;
		if (cli_load_rules((const char *const *)cc->rules, cc->nrules, &pk->rs, &pk->db, false) < 0) {
			free(key);
			return -1;
		}
		p->n++;
	}
	return 0;
}

static struct pack *packs_find(struct packs *p, const struct console_cfg *cc)
{
	char *key = pack_key(cc->rules, cc->nrules);
	struct pack *found = NULL;
	for (size_t k = 0; k < p->n && !found; k++)
		if (strcmp(p->v[k].key, key) == 0)
			found = &p->v[k];
	free(key);
	return found;
}

/* --- configuration from the command line ----------------------------------- */

static void cfg_from_args(struct watch_cfg *cfg, const struct watch_opts *o, char **ports, size_t nports)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->consoles = xcalloc(nports, sizeof(*cfg->consoles));
	cfg->nconsoles = nports;
	for (size_t i = 0; i < nports; i++) {
		struct console_cfg *c = &cfg->consoles[i];
		console_cfg_default(c);
		c->port = xstrdup(ports[i]);
		c->name = i < o->nnames ? xstrdup(o->names[i]) : cli_name_from_port(ports[i]);
		/* Names are file names and event keys: keep them unique. */
		for (size_t k = 0; k < i; k++) {
			if (strcmp(cfg->consoles[k].name, c->name) == 0) {
				char *n = xasprintf("%s-%zu", c->name, i + 1);
				free(c->name);
				c->name = n;
				k = (size_t)-1; /* check again from the start */
			}
		}
		if (o->topts_set)
			c->topts = o->topts;
		if (o->idle_ns)
			c->idle_ns = o->idle_ns;
		c->labels = xcalloc(o->nlabels ? o->nlabels : 1, sizeof(*c->labels));
		for (size_t k = 0; k < o->nlabels; k++) {
			c->labels[k].key = xstrdup(o->labels[k].key);
			c->labels[k].value = xstrdup(o->labels[k].value);
		}
		c->nlabels = o->nlabels;
	}
}

/* Command-line settings that apply over a config file too. */
static int cfg_apply_opts(struct watch_cfg *cfg, const struct watch_opts *o)
{
	for (size_t i = 0; i < cfg->nconsoles; i++) {
		struct console_cfg *c = &cfg->consoles[i];
		if (o->nrules && c->nrules == 0) {
			c->rules = xcalloc(o->nrules, sizeof(char *));
			for (size_t k = 0; k < o->nrules; k++)
				c->rules[k] = xstrdup(o->rules[k]);
			c->nrules = o->nrules;
		}
		if (c->nrules == 0) {
			c->rules = xcalloc(1, sizeof(char *));
			c->rules[0] = xstrdup(cli_default_rules());
			c->nrules = 1;
		}
		if (o->allow_dump)
			c->policy.allow_dump = true;
		if (o->allow_restart)
			c->policy.allow_restart = true;
		if (o->no_share)
			c->share.off = true;
		if (o->share_dir) {
			free(c->share.dir);
			c->share.dir = xstrdup(o->share_dir);
		}
		if (o->log_dir && !c->capture_on) {
			/* The config owns (and frees) these strings. */
			c->capture_on = true;
			c->capture.dir = xstrdup(o->log_dir);
			c->capture.pattern = xstrdup("%N.log");
			c->capture.raw = true;
			c->capture.text = true;
			c->capture.keep = 5;
		}
	}
	return 0;
}

static int load_config(struct watch_cfg *cfg, const struct watch_opts *o, char **ports, size_t nports)
{
	if (o->config) {
		struct diags d = {0};
		int rc = config_load(o->config, cfg, &d);
		diags_print(&d, stderr);
		diags_free(&d);
		if (rc < 0)
			return -1;
	} else {
		cfg_from_args(cfg, o, ports, nports);
	}
	return cfg_apply_opts(cfg, o);
}

static int make_sinks(struct watch *w, const struct watch_cfg *cfg, struct sinks **out)
{
	struct sinks *s = sinks_new();
	char err[256];
	if (cfg->nsinks == 0) {
		struct sink_spec sp = {
		    .type = SINK_STDOUT,
		    .format = w->o->json ? SINK_JSON : SINK_TEXT,
		    .min_level = (int)w->o->level,
		    .color = cli_color_on(w->o->color),
		};
		if (sinks_add(s, &sp, err, sizeof(err)) < 0) {
			cli_error("watch", "%s", err);
			sinks_free(s);
			return -1;
		}
	}
	for (size_t i = 0; i < cfg->nsinks; i++) {
		if (sinks_add(s, &cfg->sinks[i], err, sizeof(err)) < 0) {
			cli_error("watch", "%s", err);
			sinks_free(s);
			return -1;
		}
	}
	*out = s;
	return 0;
}

/* --- running ---------------------------------------------------------------- */

static void on_console_finished(void *ctx)
{
	struct watch *w = ctx;
	if (w->unfinished && --w->unfinished == 0 && w->any_replay_only)
		loop_stop(w->loop, 0);
}

/* Shares go first: they observe their consoles and say bye to clients. */
static void stop_consoles(struct watch *w, const char *why)
{
	for (size_t i = 0; i < w->nconsoles; i++)
		share_free(w->shares[i], why);
	for (size_t i = 0; i < w->nconsoles; i++)
		console_free(w->consoles[i]);
	free(w->shares);
	free(w->consoles);
	w->shares = NULL;
	w->consoles = NULL;
	w->nconsoles = 0;
}

/* Replay inputs have nobody to type to and nothing live to show. */
static bool is_replay_port(const char *port)
{
	return strcmp(port, "-") == 0 || strncmp(port, "file:", 5) == 0;
}

static int start_consoles(struct watch *w)
{
	w->consoles = xcalloc(w->cfg.nconsoles ? w->cfg.nconsoles : 1, sizeof(*w->consoles));
	w->shares = xcalloc(w->cfg.nconsoles ? w->cfg.nconsoles : 1, sizeof(*w->shares));
	w->unfinished = 0;
	bool all_replay = w->cfg.nconsoles > 0;
	for (size_t i = 0; i < w->cfg.nconsoles; i++) {
		const struct console_cfg *cc = &w->cfg.consoles[i];
		struct pack *pk = packs_find(&w->packs, cc);
		char err[320];
		struct console *c = console_new(w->loop, cc, &pk->rs, pk->db, w->sinks, err, sizeof(err));
		if (!c) {
			cli_error("watch", "%s: %s", cc->name, err);
			stop_consoles(w, NULL);
			return -1;
		}
		w->consoles[w->nconsoles++] = c;
		if (!cc->share.off && !is_replay_port(cc->port)) {
			w->shares[w->nconsoles - 1] = share_new(w->loop, c, &cc->share, err, sizeof(err));
			if (!w->shares[w->nconsoles - 1]) {
				cli_error("watch", "%s: %s", cc->name, err);
				stop_consoles(w, NULL);
				return -1;
			}
		}
		console_on_finished(c, on_console_finished, w);
		if (is_replay_port(cc->port))
			w->unfinished++;
		else
			all_replay = false;
	}
	w->any_replay_only = all_replay;
	for (size_t i = 0; i < w->nconsoles; i++)
		console_start(w->consoles[i]);
	return 0;
}

static void reloaded_event(struct watch *w, const char *reason)
{
	struct event ev = {
	    .kind = EV_AGENT_RELOADED,
	    .time_ns = clock_realtime_ns(),
	    .time_flags = LINE_TIME_KNOWN | LINE_TIME_WALL,
	    .reason = reason,
	    .exit_status = -1,
	};
	sinks_emit(w->sinks, &ev);
}

/* Everything new loads first; only then do the running consoles change. */
static void reload(struct watch *w)
{
	struct watch_cfg ncfg;
	if (load_config(&ncfg, w->o, NULL, 0) < 0 && w->o->config) {
		reloaded_event(w, "the configuration has errors; the running one is kept");
		return;
	}
	if (!w->o->config) {
		/* Ports came from the command line: only the rules reload. */
		config_free(&ncfg);
		memset(&ncfg, 0, sizeof(ncfg));
	}
	const struct watch_cfg *use = w->o->config ? &ncfg : &w->cfg;
	struct packs np = {0};
	if (packs_load(&np, use) < 0) {
		packs_free(&np);
		if (w->o->config)
			config_free(&ncfg);
		reloaded_event(w, "the rule packs have errors; the running rules are kept");
		return;
	}
	struct sinks *ns = NULL;
	if (w->o->config && make_sinks(w, &ncfg, &ns) < 0) {
		packs_free(&np);
		config_free(&ncfg);
		reloaded_event(w, "the sinks could not be opened; the running configuration is kept");
		return;
	}
	if (!w->o->config) {
		/* Same consoles, new rules: swap in place, keep the ports open. */
		for (size_t i = 0; i < w->nconsoles; i++) {
			struct pack *pk = packs_find(&np, &w->cfg.consoles[i]);
			console_set_rules(w->consoles[i], &pk->rs, pk->db);
		}
		packs_free(&w->packs);
		w->packs = np;
	} else {
		/* A new configuration: consoles are rebuilt (ports reopened). */
		stop_consoles(w, "the watcher is reloading its configuration");
		packs_free(&w->packs);
		config_free(&w->cfg);
		sinks_free(w->sinks);
		w->cfg = ncfg;
		w->packs = np;
		w->sinks = ns;
		if (start_consoles(w) < 0) {
			reloaded_event(w, "a console could not be set up; see the error log");
			return;
		}
	}
	reloaded_event(w, NULL);
}

static void on_signal(struct loop *l, int signo, void *ctx)
{
	struct watch *w = ctx;
	if (signo == SIGHUP) {
		for (size_t i = 0; i < w->nconsoles; i++)
			console_reopen_logs(w->consoles[i]);
		sinks_reopen(w->sinks);
		reload(w);
		return;
	}
	for (size_t i = 0; i < w->nconsoles; i++)
		console_flush(w->consoles[i]);
	sinks_flush(w->sinks);
	loop_stop(l, 0);
}

/* --- options ---------------------------------------------------------------- */

static void watch_usage(FILE *out)
{
	fprintf(out,
	        "usage: emsagent watch [OPTIONS] PORT...\n"
	        "       emsagent watch -c FILE [OPTIONS]\n"
	        "Watches consoles live: rules on every line, hang timers, events, actions, logs.\n\n"
	        "  -c, --config FILE    consoles, sinks and policies from a YAML file (doc/watch.md)\n"
	        "  -r, --rules DIR      signature pack for consoles without their own (repeatable;\n"
	        "                       default: %s)\n"
	        "  -j, --json           events on stdout as JSON lines (when the config has no sinks)\n"
	        "  -l, --level L        stdout shows rule events at or above L (default: info)\n"
	        "      --allow LIST     let rules run dangerous actions: dump,restart\n"
	        "      --log-dir DIR    capture every console (raw bytes, time index, readable log)\n"
	        "      --name NAME      name for the next PORT (repeatable; default from the port)\n"
	        "      --label K=V      label for the consoles given as PORTs (repeatable)\n"
	        "      --baud N         serial settings for PORTs: also --data-bits, --parity,\n"
	        "                       --stop-bits, --flow none|xonxoff|rtscts (default 115200 8N1)\n"
	        "      --idle DURATION  offer an unterminated line (a prompt) after this quiet time\n"
	        "      --share-dir DIR  serve each console for `emsagent attach` on DIR/NAME.sock\n"
	        "                       (default: %s)\n"
	        "      --no-share       serve no console on a socket\n"
	        "      --check          load the configuration and rules, report, and exit\n"
	        "      --color WHEN     auto|always|never\n"
	        "  -h, --help           this text\n\n"
	        "PORT: /dev/ttyS0, serial:PATH, /dev/pts/N, tcp:HOST:PORT, telnet:HOST:PORT,\n"
	        "      unix:PATH, exec:COMMAND, file:PATH, - (stdin)\n"
	        "Signals: HUP reloads the configuration and rules (kept when the new ones have\n"
	        "errors) and reopens logs; TERM and INT flush and exit.\n"
	        "exit status: 0 stopped by a signal or all replay inputs ended, 2 usage or setup error\n",
	        cli_default_rules(), share_default_dir());
}

enum {
	OPT_ALLOW = 256,
	OPT_LOG_DIR,
	OPT_NAME,
	OPT_LABEL,
	OPT_BAUD,
	OPT_DATA_BITS,
	OPT_PARITY,
	OPT_STOP_BITS,
	OPT_FLOW,
	OPT_IDLE,
	OPT_CHECK,
	OPT_COLOR,
	OPT_SHARE_DIR,
	OPT_NO_SHARE,
};

static int parse_opt(struct watch_opts *o, int c, const char *arg)
{
	switch (c) {
	case 'c':
		o->config = arg;
		return 0;
	case 'r':
		o->rules[o->nrules++] = arg;
		return 0;
	case 'j':
		o->json = true;
		return 0;
	case 'l':
		if (rule_level_parse(arg, &o->level) == 0)
			return 0;
		cli_error("watch", "--level: unknown level '%s' (info, low, medium, high, critical)", arg);
		return -1;
	case OPT_ALLOW: {
		char *copy = xstrdup(arg);
		char *save = NULL;
		int rc = 0;
		for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			if (strcmp(tok, "dump") == 0)
				o->allow_dump = true;
			else if (strcmp(tok, "restart") == 0)
				o->allow_restart = true;
			else {
				cli_error("watch", "--allow: unknown action '%s' (dump, restart)", tok);
				rc = -1;
			}
		}
		free(copy);
		return rc;
	}
	case OPT_LOG_DIR:
		if (arg[0] != '/') {
			cli_error("watch", "--log-dir: give an absolute path, not '%s'", arg);
			return -1;
		}
		o->log_dir = arg;
		return 0;
	case OPT_NAME:
		o->names[o->nnames++] = arg;
		return 0;
	case OPT_LABEL:
		if (cli_label_opt("watch", arg, &o->labels[o->nlabels]) < 0)
			return -1;
		o->nlabels++;
		return 0;
	case OPT_BAUD:
	case OPT_DATA_BITS:
	case OPT_STOP_BITS:
	case OPT_PARITY:
	case OPT_FLOW: {
		static const char *const names[] = {
		    [OPT_BAUD - OPT_BAUD] = "baud",     [OPT_DATA_BITS - OPT_BAUD] = "data-bits",
		    [OPT_PARITY - OPT_BAUD] = "parity", [OPT_STOP_BITS - OPT_BAUD] = "stop-bits",
		    [OPT_FLOW - OPT_BAUD] = "flow",
		};
		o->topts_set = true;
		return cli_serial_opt("watch", names[c - OPT_BAUD], arg, &o->topts);
	}
	case OPT_IDLE:
		if (parse_duration(arg, &o->idle_ns) == 0 && o->idle_ns > 0)
			return 0;
		cli_error("watch", "--idle: expected a duration such as 250ms, not '%s'", arg);
		return -1;
	case OPT_CHECK:
		o->check_only = true;
		return 0;
	case OPT_SHARE_DIR:
		if (arg[0] != '/') {
			cli_error("watch", "--share-dir: give an absolute path, not '%s'", arg);
			return -1;
		}
		o->share_dir = arg;
		return 0;
	case OPT_NO_SHARE:
		o->no_share = true;
		return 0;
	case OPT_COLOR:
		return cli_color_opt("watch", arg, &o->color);
	default:
		return -1;
	}
}

static void opts_free(struct watch_opts *o)
{
	cli_labels_free(o->labels, o->nlabels);
	free(o->rules);
	free(o->names);
}

int cli_watch(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"rules", required_argument, NULL, 'r'},
	    {"json", no_argument, NULL, 'j'},
	    {"level", required_argument, NULL, 'l'},
	    {"allow", required_argument, NULL, OPT_ALLOW},
	    {"log-dir", required_argument, NULL, OPT_LOG_DIR},
	    {"name", required_argument, NULL, OPT_NAME},
	    {"label", required_argument, NULL, OPT_LABEL},
	    {"baud", required_argument, NULL, OPT_BAUD},
	    {"data-bits", required_argument, NULL, OPT_DATA_BITS},
	    {"parity", required_argument, NULL, OPT_PARITY},
	    {"stop-bits", required_argument, NULL, OPT_STOP_BITS},
	    {"flow", required_argument, NULL, OPT_FLOW},
	    {"idle", required_argument, NULL, OPT_IDLE},
	    {"check", no_argument, NULL, OPT_CHECK},
	    {"color", required_argument, NULL, OPT_COLOR},
	    {"share-dir", required_argument, NULL, OPT_SHARE_DIR},
	    {"no-share", no_argument, NULL, OPT_NO_SHARE},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct watch_opts o = {.color = -1, .level = LEVEL_INFO};
	o.rules = xcalloc((size_t)argc + 1, sizeof(*o.rules));
	o.names = xcalloc((size_t)argc + 1, sizeof(*o.names));
	o.labels = xcalloc((size_t)argc + 1, sizeof(*o.labels));
	transport_opts_default(&o.topts);
	int c, status = EXIT_USAGE;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:r:jl:h", longopts, NULL)) != -1) {
		if (c == 'h') {
			watch_usage(stdout);
			opts_free(&o);
			return 0;
		}
		if (c == ':') {
			cli_error("watch", "option '%s' needs a value", argv[optind - 1]);
			opts_free(&o);
			return EXIT_USAGE;
		}
		if (c == '?') {
			cli_error("watch", "unknown option '%s' (try --help)", argv[optind - 1]);
			opts_free(&o);
			return EXIT_USAGE;
		}
		if (parse_opt(&o, c, optarg) < 0) {
			opts_free(&o);
			return EXIT_USAGE;
		}
	}
	char **ports = argv + optind;
	size_t nports = (size_t)(argc - optind);
	if (o.config && nports) {
		cli_error("watch", "give either -c FILE or PORTs, not both");
		opts_free(&o);
		return EXIT_USAGE;
	}
	if (!o.config && nports == 0) {
		cli_error("watch", "nothing to watch: give PORTs or -c FILE (try --help)");
		opts_free(&o);
		return EXIT_USAGE;
	}
	if (o.nnames > nports && !o.config) {
		cli_error("watch", "more --name options (%zu) than PORTs (%zu)", o.nnames, nports);
		opts_free(&o);
		return EXIT_USAGE;
	}

	struct watch w = {.o = &o};
	if (load_config(&w.cfg, &o, ports, nports) < 0)
		goto out_opts;
	if (packs_load(&w.packs, &w.cfg) < 0)
		goto out_cfg;
	/* Every port must at least parse before anything starts. */
	for (size_t i = 0; i < w.cfg.nconsoles; i++) {
		struct transport *t = NULL;
		char err[256];
		if (transport_parse(w.cfg.consoles[i].port, &w.cfg.consoles[i].topts, &t, err, sizeof(err)) <
		    0) {
			cli_error("watch", "%s: %s", w.cfg.consoles[i].name, err);
			goto out_packs;
		}
		transport_free(t);
	}
	if (o.check_only) {
		printf("%zu console%s, %zu rule pack%s: configuration is valid\n", w.cfg.nconsoles,
		       w.cfg.nconsoles == 1 ? "" : "s", w.packs.n, w.packs.n == 1 ? "" : "s");
		status = 0;
		goto out_packs;
	}
	if (make_sinks(&w, &w.cfg, &w.sinks) < 0)
		goto out_packs;
	w.loop = loop_new();
	if (!w.loop) {
		cli_error("watch", "cannot set up the event loop: %s", strerror(errno));
		goto out_sinks;
	}
	loop_on_signal(w.loop, SIGHUP, on_signal, &w);
	loop_on_signal(w.loop, SIGTERM, on_signal, &w);
	loop_on_signal(w.loop, SIGINT, on_signal, &w);
	if (start_consoles(&w) < 0)
		goto out_loop;
	status = loop_run(w.loop);
	stop_consoles(&w, "the watcher is stopping");
	sinks_flush(w.sinks);
out_loop:
	loop_free(w.loop);
out_sinks:
	sinks_free(w.sinks);
out_packs:
	packs_free(&w.packs);
out_cfg:
	config_free(&w.cfg);
out_opts:
	opts_free(&o);
	return status;
}
