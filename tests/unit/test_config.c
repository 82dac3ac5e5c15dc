/*
 * test_config.c — the watch configuration: every key lands in the structs,
 * defaults merge into consoles as documented, every kind of mistake is
 * reported at its exact FILE:LINE:COL and leaves nothing loaded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "emsagent/config.h"

static const char *kv_get(const struct kv *v, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].key, key) == 0)
			return v[i].value;
	return NULL;
}

static void assert_empty(const struct watch_cfg *cfg)
{
	assert_null(cfg->consoles);
	assert_int_equal(cfg->nconsoles, 0);
	assert_null(cfg->sinks);
	assert_int_equal(cfg->nsinks, 0);
	assert_null(cfg->path);
}

static int load(const char *yaml, struct watch_cfg *cfg, struct diags *d)
{
	memset(d, 0, sizeof(*d));
	int rc = config_load_string("w.yaml", yaml, cfg, d);
	if (rc < 0 || d->n) {
		for (size_t i = 0; i < d->n; i++)
			fprintf(stderr, "  diag: %u:%u: %s\n", d->v[i].line, d->v[i].col, d->v[i].msg);
	}
	return rc;
}

/* The config must fail with an error at line:col whose text contains want. */
static void expect_error(const char *yaml, unsigned line, unsigned col, const char *want)
{
	struct watch_cfg cfg;
	struct diags d = {0};
	int rc = config_load_string("w.yaml", yaml, &cfg, &d);
	bool found = false;
	for (size_t i = 0; i < d.n; i++) {
		if (d.v[i].sev == DIAG_ERROR && d.v[i].line == line && d.v[i].col == col &&
		    strstr(d.v[i].msg, want) && d.v[i].file && strcmp(d.v[i].file, "w.yaml") == 0)
			found = true;
	}
	if (!found || rc != -1) {
		fprintf(stderr, "expected %u:%u: %s; got rc %d and:\n", line, col, want, rc);
		for (size_t i = 0; i < d.n; i++)
			fprintf(stderr, "  %s:%u:%u: %s\n", d.v[i].file ? d.v[i].file : "-", d.v[i].line,
			        d.v[i].col, d.v[i].msg);
	}
	assert_int_equal(rc, -1);
	assert_true(found);
	assert_empty(&cfg);
	diags_free(&d);
}

#define HEAD "schema: emsagent/v1\nkind: watch\n"

static void test_every_key(void **state)
{
	(void)state;
	const char *yaml =
	    HEAD "sinks:\n"
	         "  - {type: stdout, format: json}\n"
	         "  - {type: stderr, color: true, level: high}\n"
	         "  - {type: file, path: /var/log/emsagent/events.json}\n"
	         "  - {type: syslog, facility: local3, level: critical}\n"
	         "consoles:\n"
	         "  - name: vm1\n"
	         "    port: tcp:127.0.0.1:4555\n"
	         "    baud: 9600\n"
	         "    data_bits: 7\n"
	         "    parity: even\n"
	         "    stop_bits: 2\n"
	         "    flow: rtscts\n"
	         "    realtime: true\n"
	         "    labels: {os: windows, site: ams, rack: 12}\n"
	         "    rules: [/etc/emsagent/rules, /opt/more]\n"
	         "    control: qmp:/run/vm1.qmp\n"
	         "    policy: {allow: [dump, restart], deny: [exec, send]}\n"
	         "    capture: {dir: /var/log/emsagent, pattern: \"%N-%Y%m%d.log\", raw: true, text: true,"
	         " max_size: 64M, keep: 7}\n"
	         "    idle: 500ms\n"
	         "    reconnect: {min: 2s, max: 1m}\n"
	         "    sac: {char_delay: 5ms, repeat_delay: 1500ms}\n";
	struct watch_cfg cfg;
	struct diags d;
	assert_int_equal(load(yaml, &cfg, &d), 0);
	assert_int_equal(d.n, 0);
	assert_string_equal(cfg.path, "w.yaml");
	assert_int_equal(cfg.nsinks, 4);
	assert_int_equal(cfg.sinks[0].type, SINK_STDOUT);
	assert_int_equal(cfg.sinks[0].format, SINK_JSON);
	assert_int_equal(cfg.sinks[0].min_level, -1);
	assert_int_equal(cfg.sinks[1].type, SINK_STDERR);
	assert_int_equal(cfg.sinks[1].format, SINK_TEXT);
	assert_true(cfg.sinks[1].color);
	assert_int_equal(cfg.sinks[1].min_level, LEVEL_HIGH);
	assert_int_equal(cfg.sinks[2].type, SINK_FILE);
	assert_int_equal(cfg.sinks[2].format, SINK_JSON); /* files default to JSON lines */
	assert_string_equal(cfg.sinks[2].path, "/var/log/emsagent/events.json");
	assert_int_equal(cfg.sinks[3].type, SINK_SYSLOG);
	assert_string_equal(cfg.sinks[3].facility, "local3");
	assert_int_equal(cfg.sinks[3].min_level, LEVEL_CRITICAL);

	assert_int_equal(cfg.nconsoles, 1);
	const struct console_cfg *c = &cfg.consoles[0];
	assert_string_equal(c->name, "vm1");
	assert_string_equal(c->port, "tcp:127.0.0.1:4555");
	assert_int_equal(c->topts.baud, 9600);
	assert_int_equal(c->topts.data_bits, 7);
	assert_int_equal(c->topts.parity, 'e');
	assert_int_equal(c->topts.stop_bits, 2);
	assert_int_equal(c->topts.flow, FLOW_RTSCTS);
	assert_true(c->topts.replay_realtime);
	assert_int_equal(c->nlabels, 3);
	assert_string_equal(kv_get(c->labels, c->nlabels, "os"), "windows");
	assert_string_equal(kv_get(c->labels, c->nlabels, "site"), "ams");
	assert_string_equal(kv_get(c->labels, c->nlabels, "rack"), "12");
	assert_int_equal(c->nrules, 2);
	assert_string_equal(c->rules[0], "/etc/emsagent/rules");
	assert_string_equal(c->rules[1], "/opt/more");
	assert_string_equal(c->control, "qmp:/run/vm1.qmp");
	assert_true(c->policy.allow_dump);
	assert_true(c->policy.allow_restart);
	assert_false(c->policy.allow_exec);
	assert_false(c->policy.allow_send);
	assert_true(c->capture_on);
	assert_string_equal(c->capture.dir, "/var/log/emsagent");
	assert_string_equal(c->capture.pattern, "%N-%Y%m%d.log");
	assert_true(c->capture.raw);
	assert_true(c->capture.text);
	assert_int_equal(c->capture.max_bytes, 64u << 20);
	assert_int_equal(c->capture.keep, 7);
	assert_int_equal(c->idle_ns, 500 * NS_PER_MS);
	assert_int_equal(c->reconnect_min_ns, 2 * NS_PER_SEC);
	assert_int_equal(c->reconnect_max_ns, 60 * NS_PER_SEC);
	assert_int_equal(c->sac_char_delay_ns, 5 * NS_PER_MS);
	assert_int_equal(c->sac_repeat_delay_ns, 1500 * NS_PER_MS);
	assert_string_equal(c->loc.file, "w.yaml");
	assert_int_equal(c->loc.line, 9); /* where it is named */
	diags_free(&d);
	config_free(&cfg);
	assert_empty(&cfg);
}

static void test_console_defaults(void **state)
{
	(void)state;
	struct watch_cfg cfg;
	struct diags d;
	assert_int_equal(load(HEAD "consoles:\n  - {name: a, port: /dev/ttyS0}\n", &cfg, &d), 0);
	const struct console_cfg *c = &cfg.consoles[0];
	assert_int_equal(c->topts.baud, 115200);
	assert_int_equal(c->topts.data_bits, 8);
	assert_int_equal(c->topts.parity, 'n');
	assert_int_equal(c->topts.stop_bits, 1);
	assert_int_equal(c->topts.flow, FLOW_NONE);
	assert_false(c->topts.replay_realtime);
	assert_int_equal(c->nlabels, 0);
	assert_int_equal(c->nrules, 0);
	assert_null(c->control);
	assert_false(c->policy.allow_dump);
	assert_false(c->policy.allow_restart);
	assert_true(c->policy.allow_exec);
	assert_true(c->policy.allow_send);
	assert_false(c->capture_on);
	assert_null(c->capture.dir);
	assert_null(c->capture.pattern); /* capture's own default, %N.log */
	assert_true(c->capture.raw);
	assert_false(c->capture.text);
	assert_int_equal(c->capture.max_bytes, 0);
	assert_int_equal(c->capture.keep, 5);
	assert_int_equal(c->idle_ns, 250 * NS_PER_MS);
	assert_int_equal(c->reconnect_min_ns, NS_PER_SEC);
	assert_int_equal(c->reconnect_max_ns, 30 * NS_PER_SEC);
	assert_true(c->sac_char_delay_ns < 0 && c->sac_repeat_delay_ns < 0); /* the client's defaults */
	assert_int_equal(cfg.nsinks, 0);
	config_free(&cfg);
	diags_free(&d);

	/* empty defaults and sinks are as good as none */
	assert_int_equal(
	    load(HEAD "defaults:\nsinks:\nconsoles:\n  - {name: a, port: /dev/ttyS0}\n", &cfg, &d), 0);
	assert_int_equal(cfg.consoles[0].topts.baud, 115200);
	assert_int_equal(cfg.nsinks, 0);
	config_free(&cfg);
	diags_free(&d);

	/* console_cfg_default matches what a bare console gets */
	struct console_cfg cc;
	console_cfg_default(&cc);
	assert_int_equal(cc.topts.baud, 115200);
	assert_int_equal(cc.idle_ns, 250 * NS_PER_MS);
	assert_true(cc.policy.allow_exec);
	assert_false(cc.policy.allow_dump);
	cc.name = strdup("x");
	console_cfg_free(&cc);
	assert_null(cc.name);
}

static void test_defaults_merge(void **state)
{
	(void)state;
	const char *yaml = HEAD "defaults:\n"
	                        "  baud: 57600\n"
	                        "  labels: {os: windows, site: ams}\n"
	                        "  rules: [/etc/emsagent/rules]\n"
	                        "  policy: {allow: [dump]}\n"
	                        "  capture: {dir: /var/log/ems, text: true, max_size: 1G}\n"
	                        "  idle: 1s\n"
	                        "  reconnect: {max: 2m}\n"
	                        "consoles:\n"
	                        "  - name: a\n"
	                        "    port: unix:/run/a.sock\n"
	                        "  - name: b\n"
	                        "    port: unix:/run/b.sock\n"
	                        "    baud: 115200\n"
	                        "    labels: {os: linux, role: db}\n"
	                        "    rules: /srv/b-rules\n"
	                        "    policy: {deny: [send]}\n"
	                        "    capture: {pattern: \"b.log\", text: false}\n"
	                        "    reconnect: {min: 5s}\n"
	                        "  - name: c\n"
	                        "    port: unix:/run/c.sock\n"
	                        "    log_dir: /srv/c-logs\n";
	struct watch_cfg cfg;
	struct diags d;
	assert_int_equal(load(yaml, &cfg, &d), 0);
	assert_int_equal(cfg.nconsoles, 3);
	const struct console_cfg *a = &cfg.consoles[0], *b = &cfg.consoles[1], *c = &cfg.consoles[2];
	/* a: everything from defaults */
	assert_int_equal(a->topts.baud, 57600);
	assert_int_equal(a->nlabels, 2);
	assert_string_equal(kv_get(a->labels, a->nlabels, "os"), "windows");
	assert_int_equal(a->nrules, 1);
	assert_string_equal(a->rules[0], "/etc/emsagent/rules");
	assert_true(a->policy.allow_dump);
	assert_true(a->capture_on);
	assert_string_equal(a->capture.dir, "/var/log/ems");
	assert_true(a->capture.text);
	assert_int_equal(a->capture.max_bytes, 1ull << 30);
	assert_int_equal(a->idle_ns, NS_PER_SEC);
	assert_int_equal(a->reconnect_min_ns, NS_PER_SEC);
	assert_int_equal(a->reconnect_max_ns, 120 * NS_PER_SEC);
	/* b: its own values win; labels and capture merge key by key */
	assert_int_equal(b->topts.baud, 115200);
	assert_int_equal(b->nlabels, 3);
	assert_string_equal(kv_get(b->labels, b->nlabels, "os"), "linux");
	assert_string_equal(kv_get(b->labels, b->nlabels, "site"), "ams");
	assert_string_equal(kv_get(b->labels, b->nlabels, "role"), "db");
	assert_int_equal(b->nrules, 1);
	assert_string_equal(b->rules[0], "/srv/b-rules");
	/* the policy is replaced whole: dump is back to not allowed */
	assert_false(b->policy.allow_dump);
	assert_false(b->policy.allow_send);
	assert_true(b->policy.allow_exec);
	assert_string_equal(b->capture.dir, "/var/log/ems");
	assert_string_equal(b->capture.pattern, "b.log");
	assert_false(b->capture.text);
	assert_int_equal(b->capture.max_bytes, 1ull << 30);
	assert_int_equal(b->reconnect_min_ns, 5 * NS_PER_SEC);
	assert_int_equal(b->reconnect_max_ns, 120 * NS_PER_SEC);
	/* c: log_dir over the defaults' capture.dir */
	assert_string_equal(c->capture.dir, "/srv/c-logs");
	assert_true(c->capture.text);
	/* consoles do not share strings */
	assert_ptr_not_equal(a->labels, b->labels);
	assert_ptr_not_equal(a->capture.dir, b->capture.dir);
	config_free(&cfg);
	diags_free(&d);
}

/* share: the attach socket of each console (doc/watch.md). */
static void test_share_keys(void **state)
{
	(void)state;
	struct watch_cfg cfg;
	struct diags d;
	/* the defaults when nothing is said */
	assert_int_equal(load(HEAD "consoles:\n  - {name: a, port: /dev/ttyS0}\n", &cfg, &d), 0);
	const struct share_opts *so = &cfg.consoles[0].share;
	assert_null(so->dir); /* share_default_dir() */
	assert_int_equal(so->mode, 0660);
	assert_null(so->group);
	assert_int_equal(so->nwriters, 0);
	assert_int_equal(so->replay, SHARE_DEFAULT_REPLAY);
	assert_int_equal(so->max_queue, 1024 * 1024);
	assert_false(so->off);
	config_free(&cfg);
	diags_free(&d);

	const char *yaml =
	    HEAD "defaults:\n"
	         "  share:\n"
	         "    dir: /run/ems\n"
	         "    mode: \"0640\"\n"
	         "    group: ops\n"
	         "    writers: [alice, \"1000\", \"group:wheel\"]\n"
	         "    replay: 64K\n"
	         "    queue: 2M\n"
	         "consoles:\n"
	         "  - {name: a, port: /dev/ttyS0}\n"
	         "  - {name: b, port: /dev/ttyS1, share: {mode: 600, writers: bob, replay: 0}}\n"
	         "  - {name: c, port: /dev/ttyS2, share: off}\n"
	         "  - {name: d, port: /dev/ttyS3, share: false}\n"
	         "  - {name: e, port: /dev/ttyS4, share: {mode: 0o660}}\n";
	assert_int_equal(load(yaml, &cfg, &d), 0);
	assert_int_equal(cfg.nconsoles, 5);
	const struct console_cfg *a = &cfg.consoles[0], *b = &cfg.consoles[1];
	assert_string_equal(a->share.dir, "/run/ems");
	assert_int_equal(a->share.mode, 0640);
	assert_string_equal(a->share.group, "ops");
	assert_int_equal(a->share.nwriters, 3);
	assert_string_equal(a->share.writers[0], "alice");
	assert_string_equal(a->share.writers[1], "1000");
	assert_string_equal(a->share.writers[2], "group:wheel");
	assert_int_equal(a->share.replay, 64 * 1024);
	assert_int_equal(a->share.max_queue, 2 * 1024 * 1024);
	assert_false(a->share.off);
	/* b: keys merge one by one; writers are replaced whole */
	assert_string_equal(b->share.dir, "/run/ems");
	assert_int_equal(b->share.mode, 0600);
	assert_string_equal(b->share.group, "ops");
	assert_int_equal(b->share.nwriters, 1);
	assert_string_equal(b->share.writers[0], "bob");
	assert_int_equal(b->share.replay, 0);
	assert_int_equal(b->share.max_queue, 2 * 1024 * 1024);
	assert_ptr_not_equal(a->share.dir, b->share.dir);
	assert_true(cfg.consoles[2].share.off);
	assert_true(cfg.consoles[3].share.off);
	assert_int_equal(cfg.consoles[4].share.mode, 0660);
	config_free(&cfg);
	diags_free(&d);

	/* off in defaults; a console that says how to share turns it back on */
	assert_int_equal(load(HEAD "defaults: {share: off}\n"
	                           "consoles:\n"
	                           "  - {name: a, port: /dev/ttyS0}\n"
	                           "  - {name: b, port: /dev/ttyS1, share: {replay: 1K}}\n"
	                           "  - {name: c, port: /dev/ttyS2, share: on}\n",
	                      &cfg, &d),
	                 0);
	assert_true(cfg.consoles[0].share.off);
	assert_false(cfg.consoles[1].share.off);
	assert_int_equal(cfg.consoles[1].share.replay, 1024);
	assert_false(cfg.consoles[2].share.off);
	config_free(&cfg);
	diags_free(&d);

#define C1 HEAD "consoles:\n  - name: vm1\n    port: /dev/ttyS0\n"
	/* line 6: "    share: {...}", the map's first value at col 13 + key */
	expect_error(C1 "    share: maybe\n", 6, 12, "share must be a map or off, not 'maybe'");
	expect_error(C1 "    share: [a]\n", 6, 12, "share must be a map, not a list");
	expect_error(C1 "    share: {writer: x}\n", 6, 13,
	             "unknown key 'writer' in share (did you mean 'writers'?)");
	expect_error(C1 "    share: {dir: run}\n", 6, 18, "share.dir must be an absolute path, not 'run'");
	expect_error(C1 "    share: {mode: \"0999\"}\n", 6, 19,
	             "bad share.mode '0999' (an octal mode such as 0660)");
	expect_error(C1 "    share: {mode: rw}\n", 6, 19, "bad share.mode 'rw'");
	expect_error(C1 "    share: {mode: 1777}\n", 6, 19, "share.mode must be at most 0777, not 1777");
	expect_error(C1 "    share: {mode: \"0440\"}\n", 6, 19,
	             "leaves the watcher's own user unable to attach");
	expect_error(C1 "    share: {mode: [6]}\n", 6, 19,
	             "share.mode must be an octal mode such as 0660, not a list");
	expect_error(C1 "    share: {group: \"\"}\n", 6, 20, "share.group must not be empty");
	expect_error(C1 "    share: {group: [a]}\n", 6, 20, "share.group must be a string, not a list");
	expect_error(C1 "    share: {writers: {a: b}}\n", 6, 22,
	             "share.writers must be a string or a list of strings");
	expect_error(C1 "    share: {writers: [alice, \"group:\"]}\n", 6, 30,
	             "bad writer 'group:' in share.writers (a user name, a uid, or group:NAME)");
	expect_error(C1 "    share: {writers: \"a b\"}\n", 6, 22, "bad writer 'a b' in share.writers");
	expect_error(C1 "    share: {replay: lots}\n", 6, 21, "bad size 'lots' for share.replay");
	expect_error(C1 "    share: {replay: 2M}\n", 6, 21, "share.replay must be at most 1M, not 2M");
	expect_error(C1 "    share: {queue: 1K}\n", 6, 20, "share.queue must be at least 4K, not 1K");
	expect_error(C1 "    share: {queue: 2G}\n", 6, 20, "share.queue must be at most 1G, not 2G");
	expect_error(C1 "    share: {queue: [1]}\n", 6, 20, "share.queue must be a size, not a list");
#undef C1
	/* in defaults, with the defaults' location */
	expect_error(HEAD "defaults:\n  share: {replay: 9M}\nconsoles:\n  - {name: a, port: /dev/ttyS0}\n", 4,
	             19, "share.replay must be at most 1M");
}

static void test_sizes(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		uint64_t v;
	} ok[] = {{"0", 0},
	          {"4096", 4096},
	          {"512K", 512u << 10},
	          {"512k", 512u << 10},
	          {"64M", 64u << 20},
	          {"64MiB", 64u << 20},
	          {"64MB", 64u << 20},
	          {"1G", 1ull << 30},
	          {"2T", 2ull << 40},
	          {"100B", 100},
	          {"16777215T", 16777215ull << 40}};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		uint64_t v = 1;
		assert_int_equal(config_parse_size(ok[i].s, &v), 0);
		assert_int_equal(v, ok[i].v);
	}
	static const char *const bad[] = {
	    "", "M", "-1", "1.5G", "64X", "64 M", "1GG", "16777216T", "99999999999999999999", "1Gi"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t v = 7;
		assert_int_equal(config_parse_size(bad[i], &v), -1);
		assert_int_equal(v, 7);
	}
	assert_int_equal(config_parse_size(NULL, &(uint64_t){0}), -1);
}

static void test_errors_top(void **state)
{
	(void)state;
	expect_error("", 0, 0, "the configuration is empty");
	expect_error("- a\n- b\n", 1, 1, "the watch configuration must be a map, not a list");
	expect_error("kind: watch\nconsoles: []\n", 1, 1, "missing required key 'schema'");
	expect_error("schema: emsagent/v2\nkind: watch\nconsoles: [{name: a, port: /dev/ttyS0}]\n", 1, 9,
	             "unsupported schema 'emsagent/v2'");
	expect_error("schema: emsagent/v1\nkind: rule\nconsoles: [{name: a, port: /dev/ttyS0}]\n", 2, 7,
	             "kind must be 'watch'");
	expect_error(HEAD "consoles: [{name: a, port: /dev/ttyS0}]\nsinkz: []\n", 4, 1,
	             "unknown key 'sinkz' in the watch configuration (did you mean 'sinks'?)");
	expect_error(HEAD "sinks: []\n", 1, 1, "missing required key 'consoles'");
	expect_error(HEAD "consoles: []\n", 3, 11, "at least one console");
	expect_error(HEAD "consoles: vm1\n", 3, 11, "consoles must be a list of maps, not a string");
	expect_error(HEAD "consoles:\n  - {name: a, port: /dev/ttyS0}\n---\nschema: x\n", 6, 1,
	             "one YAML document");
	expect_error(HEAD "consoles: [{name: a, port: /dev/ttyS0}\n", 4, 1, "YAML:");
	expect_error(HEAD "consoles:\n  - {name: a, port: /dev/ttyS0}\nconsoles: []\n", 5, 1,
	             "duplicate key 'consoles'");
}

static void test_errors_console(void **state)
{
	(void)state;
#define C1 HEAD "consoles:\n  - name: vm1\n    port: /dev/ttyS0\n"
	/* lines: 4 name, 5 port, 6 the key under test */
	expect_error(C1 "    bauds: 9600\n", 6, 5, "unknown key 'bauds' in a console (did you mean 'baud'?)");
	expect_error(C1 "    baud: 9600\n    baud: 4800\n", 7, 5,
	             "duplicate key 'baud' in a console (first at line 6)");
	expect_error(C1 "    baud: 40\n", 6, 11, "baud must be at least 50");
	expect_error(C1 "    baud: 4000001\n", 6, 11, "baud must be at most 4000000");
	expect_error(C1 "    baud: fast\n", 6, 11, "baud must be a whole number, not 'fast'");
	expect_error(C1 "    data_bits: 9\n", 6, 16, "data_bits must be at most 8");
	expect_error(C1 "    data_bits: 4\n", 6, 16, "data_bits must be 5, 6, 7 or 8");
	expect_error(C1 "    parity: evn\n", 6, 13,
	             "bad parity 'evn' (expected none, even, odd, mark or space)");
	expect_error(C1 "    stop_bits: 3\n", 6, 16, "stop_bits must be at most 2");
	expect_error(C1 "    stop_bits: 0\n", 6, 16, "stop_bits must be 1 or 2");
	expect_error(C1 "    flow: hardware\n", 6, 11,
	             "bad flow 'hardware' (expected none, xonxoff or rtscts)");
	expect_error(C1 "    realtime: maybe\n", 6, 15, "realtime must be true or false");
	expect_error(C1 "    labels: [os]\n", 6, 13, "labels must be a map, not a list");
	expect_error(C1 "    labels: {os: [a]}\n", 6, 18, "a label value must be a string, not a list");
	expect_error(C1 "    labels: {\"bad key\": x}\n", 6, 14, "bad label name 'bad key'");
	expect_error(C1 "    labels: {os: a, os: b}\n", 6, 21, "duplicate label 'os'");
	expect_error(C1 "    rules: []\n", 6, 12, "rules must name 1 to 64");
	expect_error(C1 "    rules: {a: b}\n", 6, 12, "rules must be a string or a list of strings");
	expect_error(C1 "    control: qmpp:/run/x\n", 6, 14,
	             "unknown control kind 'qmpp' (did you mean 'qmp'?)");
	expect_error(C1 "    control: nothing\n", 6, 14, "bad control URL 'nothing'");
	expect_error(C1 "    policy: {allow: dump}\n", 6, 21, "policy.allow must be a list");
	expect_error(C1 "    policy: {allow: [dumb]}\n", 6, 22,
	             "bad action kind 'dumb' (expected dump, restart, exec or send)");
	expect_error(C1 "    policy: {alow: [dump]}\n", 6, 14,
	             "unknown key 'alow' in policy (did you mean 'allow'?)");
	expect_error(C1 "    policy: {allow: [dump], deny: [dump]}\n", 6, 36,
	             "'dump' is both allowed (line 6) and denied");
	expect_error(C1 "    capture: {dir: logs}\n", 6, 20,
	             "capture.dir must be an absolute path, not 'logs'");
	expect_error(C1 "    capture: {dir: /l, pattern: \"a/b.log\"}\n", 6, 33, "must not contain '/'");
	expect_error(C1 "    capture: {dir: /l, max_size: 64Q}\n", 6, 34,
	             "bad size '64Q' for capture.max_size");
	expect_error(C1 "    capture: {dir: /l, keep: 1001}\n", 6, 30, "capture.keep must be at most 1000");
	expect_error(C1 "    capture: {dir: /l, txt: true}\n", 6, 24,
	             "unknown key 'txt' in capture (did you mean 'text'?)");
	expect_error(C1 "    capture: {dir: /l, raw: false, text: false}\n", 6, 14,
	             "nothing would be written");
	expect_error(C1 "    log_dir: /a\n    capture: {dir: /b}\n", 6, 5, "either log_dir or capture.dir");
	expect_error(C1 "    log_dir: var/log\n", 6, 14, "log_dir must be an absolute path");
	expect_error(C1 "    idle: soon\n", 6, 11, "bad duration 'soon' for idle");
	expect_error(C1 "    idle: 0s\n", 6, 11, "idle must be at least 1ms");
	expect_error(C1 "    idle: 2m\n", 6, 11, "idle must be at most 1m");
	expect_error(C1 "    sac: {char_dealy: 1ms}\n", 6, 11, "did you mean 'char_delay'");
	expect_error(C1 "    sac: {repeat_delay: 1m}\n", 6, 25, "sac.repeat_delay must be at most 10s");
	expect_error(C1 "    reconnect: {min: 1m, max: 10s}\n", 6, 16,
	             "reconnect.min (1m) is longer than reconnect.max (10s)");
	expect_error(C1 "    reconnect: 5s\n", 6, 16, "reconnect must be a map, not a string");
#undef C1
	expect_error(HEAD "consoles:\n  - port: /dev/ttyS0\n", 4, 5,
	             "missing required key 'name' in a console");
	expect_error(HEAD "consoles:\n  - name: a\n", 4, 5, "missing required key 'port' in a console");
	expect_error(HEAD "consoles:\n  - {name: \"vm 1\", port: /dev/ttyS0}\n", 4, 12,
	             "bad console name 'vm 1'");
	expect_error(HEAD "consoles:\n  - {name: \"\", port: /dev/ttyS0}\n", 4, 12, "name must not be empty");
	expect_error(HEAD "consoles:\n  - {name: a, port: \"bogus:x\"}\n", 4, 21,
	             "bad port 'bogus:x': unknown port kind");
	expect_error(HEAD "consoles:\n  - {name: a, port: dev/ttyS0}\n", 4, 21, "bad port 'dev/ttyS0'");
	expect_error(HEAD "consoles:\n  - {name: a, port: /dev/ttyS0}\n  - {name: a, port: /dev/ttyS1}\n", 5,
	             12, "duplicate console name 'a' (first at line 4)");
	expect_error(HEAD "consoles:\n  - {name: a, port: /dev/ttyS0}\n  - {name: b, port: /dev/ttyS0}\n", 5,
	             21, "port '/dev/ttyS0' is already watched by console 'a'");
	expect_error(HEAD "consoles:\n  - [a]\n", 4, 5, "a console must be a map, not a list");
	expect_error(HEAD
	             "consoles:\n  - {name: a, port: /dev/pts/3}\n  - {name: b, port: \"pty:/dev/pts/3\"}\n",
	             5, 21, "port 'pty:/dev/pts/3' is already watched by console 'a'");
}

static void test_errors_defaults_and_sinks(void **state)
{
	(void)state;
	expect_error(HEAD "defaults: {name: x}\nconsoles: [{name: a, port: /dev/ttyS0}]\n", 3, 12,
	             "'name' belongs to each console, not to defaults");
	expect_error(HEAD "defaults: {port: /dev/ttyS0}\nconsoles: [{name: a}]\n", 3, 12,
	             "'port' belongs to each console");
	expect_error(HEAD "defaults: {baud: 0}\nconsoles: [{name: a, port: /dev/ttyS0}]\n", 3, 18,
	             "baud must be at least 50");
	expect_error(HEAD "defaults:\n  labls: {}\nconsoles: [{name: a, port: /dev/ttyS0}]\n", 4, 3,
	             "unknown key 'labls' in defaults (did you mean 'labels'?)");
	/* a merged pair that only fails together: at the console */
	expect_error(HEAD "defaults: {reconnect: {max: 2s}}\nconsoles:\n  - {name: a, port: /dev/ttyS0, "
	                  "reconnect: {min: 5s}}\n",
	             5, 44, "reconnect.min (5s) is longer than reconnect.max (2s)");

#define S(x) HEAD "consoles: [{name: a, port: /dev/ttyS0}]\nsinks:\n  - " x "\n"
	expect_error(S("{type: pipe}"), 5, 12,
	             "bad sink type 'pipe' (expected stdout, stderr, file or syslog)");
	expect_error(S("{format: json}"), 5, 5, "missing required key 'type' in a sink");
	expect_error(S("{type: file}"), 5, 5, "missing required key 'path' in a file sink");
	expect_error(S("{type: file, path: events.json}"), 5, 24, "sink path must be an absolute path");
	expect_error(S("{type: stdout, path: /x}"), 5, 20, "only a file sink has a path");
	expect_error(S("{type: stdout, format: xml}"), 5, 28,
	             "bad sink format 'xml' (expected text or json)");
	expect_error(S("{type: syslog, facility: kern}"), 5, 30, "bad syslog facility 'kern'");
	expect_error(S("{type: file, path: /x, facility: user}"), 5, 28, "only a syslog sink has a facility");
	expect_error(S("{type: stdout, level: severe}"), 5, 27, "bad level 'severe'");
	expect_error(S("{type: stdout, format: json, color: true}"), 5, 41, "color applies to text");
	expect_error(S("{type: file, path: /x, color: true}"), 5, 28,
	             "only stdout and stderr sinks have colour");
	expect_error(S("{type: stdout, colour: true}"), 5, 20,
	             "unknown key 'colour' in a sink (did you mean 'color'?)");
	expect_error(S("{type: file, path: /x}\n  - {type: file, path: /x}"), 6, 5,
	             "sink path '/x' is already used by sink 1");
	expect_error(HEAD "consoles: [{name: a, port: /dev/ttyS0}]\nsinks: {type: stdout}\n", 4, 8,
	             "sinks must be a list of maps");
#undef S
}

static void test_many_errors_reported(void **state)
{
	(void)state;
	struct watch_cfg cfg;
	struct diags d = {0};
	const char *yaml = HEAD "consoles:\n"
	                        "  - {name: a, port: /dev/ttyS0, baud: 1}\n"
	                        "  - {name: b, port: /dev/ttyS1, parity: x}\n"
	                        "  - {name: c, port: /dev/ttyS2, flow: y}\n";
	assert_int_equal(config_load_string("w.yaml", yaml, &cfg, &d), -1);
	assert_int_equal(d.nerrors, 3);
	assert_int_equal(d.v[0].line, 4);
	assert_int_equal(d.v[1].line, 5);
	assert_int_equal(d.v[2].line, 6);
	assert_empty(&cfg);
	diags_free(&d);

	/* a flood of mistakes is capped */
	struct buf b = {0};
	buf_printf(&b, HEAD "consoles:\n");
	for (int i = 0; i < 300; i++)
		buf_printf(&b, "  - {name: c%d, port: /dev/ttyS%d, baud: 1}\n", i, i);
	memset(&d, 0, sizeof(d));
	assert_int_equal(config_load_string("w.yaml", b.data, &cfg, &d), -1);
	assert_true(d.n <= 200);
	assert_non_null(strstr(d.v[d.n - 1].msg, "too many errors"));
	assert_empty(&cfg);
	diags_free(&d);
	buf_free(&b);
}

static void test_load_file(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_config.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *path = xasprintf("%s/emsagent.yaml", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(HEAD "consoles:\n  - {name: vm1, port: \"exec:virsh console vm1\", labels: {os: linux}}\n", f);
	fclose(f);
	struct watch_cfg cfg;
	struct diags d = {0};
	assert_int_equal(config_load(path, &cfg, &d), 0);
	assert_string_equal(cfg.path, path);
	assert_string_equal(cfg.consoles[0].port, "exec:virsh console vm1");
	assert_string_equal(cfg.consoles[0].loc.file, path);
	config_free(&cfg);

	/* errors carry the file's own name */
	f = fopen(path, "w");
	fputs(HEAD "consoles:\n  - {name: vm1, port: /dev/ttyS0, bad: 1}\n", f);
	fclose(f);
	assert_int_equal(config_load(path, &cfg, &d), -1);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.v[0].file, path);
	assert_int_equal(d.v[0].line, 4);
	assert_int_equal(d.v[0].col, 35);
	assert_empty(&cfg);
	diags_free(&d);

	/* a NUL byte */
	f = fopen(path, "w");
	fwrite(HEAD "\0x: 1\n", 1, sizeof(HEAD) + 6, f);
	fclose(f);
	memset(&d, 0, sizeof(d));
	assert_int_equal(config_load(path, &cfg, &d), -1);
	assert_non_null(strstr(d.v[0].msg, "NUL byte"));
	diags_free(&d);

	/* too big */
	f = fopen(path, "w");
	for (int i = 0; i < 70000; i++)
		fputs("# padding padding\n", f);
	fclose(f);
	memset(&d, 0, sizeof(d));
	assert_int_equal(config_load(path, &cfg, &d), -1);
	assert_non_null(strstr(d.v[0].msg, "larger than 1 MiB"));
	assert_empty(&cfg);
	diags_free(&d);
	unlink(path);

	/* a directory */
	memset(&d, 0, sizeof(d));
	assert_int_equal(config_load(dir, &cfg, &d), -1);
	assert_non_null(strstr(d.v[0].msg, "cannot read: Is a directory"));
	assert_empty(&cfg);
	diags_free(&d);

	/* missing */
	memset(&d, 0, sizeof(d));
	assert_int_equal(config_load(path, &cfg, &d), -1);
	assert_int_equal(d.n, 1);
	assert_non_null(strstr(d.v[0].msg, "cannot open: No such file or directory"));
	assert_int_equal(d.v[0].line, 0);
	assert_empty(&cfg);
	diags_free(&d);
	rmdir(dir);
	free(path);
}

static void test_deep_nesting(void **state)
{
	(void)state;
	struct buf b = {0};
	buf_printf(&b, HEAD "consoles: ");
	for (int i = 0; i < 100; i++)
		buf_putc(&b, '[');
	for (int i = 0; i < 100; i++)
		buf_putc(&b, ']');
	buf_putc(&b, '\n');
	struct watch_cfg cfg;
	struct diags d = {0};
	assert_int_equal(config_load_string("w.yaml", b.data, &cfg, &d), -1);
	assert_non_null(strstr(d.v[0].msg, "nested more than 64"));
	assert_empty(&cfg);
	diags_free(&d);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_key),
	    cmocka_unit_test(test_console_defaults),
	    cmocka_unit_test(test_defaults_merge),
	    cmocka_unit_test(test_share_keys),
	    cmocka_unit_test(test_sizes),
	    cmocka_unit_test(test_errors_top),
	    cmocka_unit_test(test_errors_console),
	    cmocka_unit_test(test_errors_defaults_and_sinks),
	    cmocka_unit_test(test_many_errors_reported),
	    cmocka_unit_test(test_load_file),
	    cmocka_unit_test(test_deep_nesting),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
