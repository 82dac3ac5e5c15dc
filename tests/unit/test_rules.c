/*
 * test_rules.c — the YAML rule loader: every field lands in the structs,
 * every kind of error is reported at its exact FILE:LINE:COL and leaves an
 * empty set, anchors are derived conservatively, lint warns where it should.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "emsagent/rules.h"

#define MIN (60 * NS_PER_SEC)

static const char *full_rule =
    "schema: emsagent/v1\n"
    "id: OSStartUp-PREPARING\n"
    "title: \"Hung at 'Preparing' for {held}\"\n"
    "level: critical\n"
    "status: stable\n"
    "os: windows\n"
    "tags: [boot, hang]\n"
    "summary: >\n"
    "  Windows stopped.\n"
    "remediation:\n"
    "  - wait\n"
    "  - reboot\n"
    "references:\n"
    "  - {title: KB, url: \"https://example.com/kb\"}\n"
    "match:\n"
    "  banner: {contains: [\"Preparing to configure Windows\", \"Preparing\"], nocase: true}\n"
    "  pct: {regex: '(?<pct>[0-9]{1,3})% complete', anchor: \"% complete\", capture: {pct: int},"
    " partial: true, at: line-start}\n"
    "  done: {line: \"EVENT: done\", unless: [ignored, other], unless_near: {match: pct, within: 5}}\n"
    "  blk: {prefix: \"BEGIN\", block: {end: [END], max_lines: 50, max_time: 2s}}\n"
    "  bug: {ems: bugcheck, stopcode: [0xE2, 128], capture: {stopcode: hex, name: str}}\n"
    "  word: {fullword: PANIC, unless_near: {match: banner, within: 30s}}\n"
    "when:\n"
    "  absent: {after: banner, of: progress:pct, for: 30m}\n"
    "  resolve_on: [done, blk]\n"
    "  keep_firing_for: 1m\n"
    "  group_by: [pct]\n"
    "actions:\n"
    "  - {do: alert}\n"
    "  - {do: sac, command: \"t\", on: pending}\n"
    "  - {do: dump, method: nmi, on: fire, delay: 15m, max_per_epoch: 1, cooldown: 1h, timeout: 30s,"
    " require: [nmi]}\n"
    "  - {do: exec, argv: [/bin/echo, hi], on: resolve}\n"
    "  - {do: send, text: \"x\\r\"}\n"
    "  - {do: restart}\n"
    "  - {do: dump}\n"
    "tests:\n"
    "  - name: hangs\n"
    "    input: |\n"
    "      Preparing to configure Windows.\n"
    "      @+31m\n"
    "    expect: fire\n"
    "    count: 1\n"
    "    captures: {pct: \"40\"}\n"
    "    title: \"Hung at 'Preparing' for 30m\"\n"
    "  - name: ok\n"
    "    input: \"a\\\\nb\"\n"
    "    escapes: true\n"
    "    clock: log\n"
    "    expect: no_fire\n";

static void load_ok(struct ruleset *rs, const char *yaml)
{
	struct diags d = {0};
	int rc = rules_load_string(rs, "t.yaml", yaml, &d);
	if (rc != 0)
		diags_print(&d, stderr);
	assert_int_equal(rc, 0);
	assert_int_equal(d.nerrors, 0);
	diags_free(&d);
}

static void test_full_rule(void **state)
{
	(void)state;
	struct ruleset rs;
	load_ok(&rs, full_rule);
	assert_int_equal(rs.nrules, 1);
	const struct rule *r = &rs.rules[0];
	assert_string_equal(r->id, "OSStartUp-PREPARING");
	assert_string_equal(r->title, "Hung at 'Preparing' for {held}");
	assert_int_equal(r->level, LEVEL_CRITICAL);
	assert_int_equal(r->status, STATUS_STABLE);
	assert_int_equal(r->os, OS_WINDOWS);
	assert_int_equal(r->ntags, 2);
	assert_string_equal(r->tags[1], "hang");
	assert_string_equal(r->summary, "Windows stopped.\n");
	assert_int_equal(r->nremediation, 2);
	assert_string_equal(r->remediation[1], "reboot");
	assert_int_equal(r->nrefs, 1);
	assert_string_equal(r->refs[0].title, "KB");
	assert_string_equal(r->refs[0].url, "https://example.com/kb");
	assert_string_equal(r->loc.file, "t.yaml");
	assert_int_equal(r->loc.line, 2);
	assert_int_equal(r->loc.col, 5);
	assert_false(r->cross_epoch);

	assert_int_equal(r->ndets, 6);
	const struct detector *b = &r->dets[0];
	assert_string_equal(b->name, "banner");
	assert_int_equal(b->op, DET_CONTAINS);
	assert_int_equal(b->nlits, 2);
	assert_string_equal(b->lits[1], "Preparing");
	assert_true(b->nocase);
	assert_int_equal(b->loc.line, 16);
	assert_int_equal(b->loc.col, 3);
	assert_int_equal(b->index, 0);

	const struct detector *p = &r->dets[1];
	assert_int_equal(p->op, DET_REGEX);
	assert_string_equal(p->regex, "(?<pct>[0-9]{1,3})% complete");
	assert_int_equal(p->nlits, 1);
	assert_string_equal(p->lits[0], "% complete");
	assert_false(p->anchor_derived);
	assert_true(p->partial);
	assert_true(p->line_start);
	assert_int_equal(p->ncaps, 1);
	assert_string_equal(p->caps[0].name, "pct");
	assert_int_equal(p->caps[0].type, CAP_INT);

	const struct detector *dn = &r->dets[2];
	assert_int_equal(dn->op, DET_LINE);
	assert_string_equal(dn->lits[0], "EVENT: done");
	assert_int_equal(dn->nunless, 2);
	assert_string_equal(dn->unless[1], "other");
	assert_true(dn->has_unless_near);
	assert_int_equal(dn->unless_near_det, 1);
	assert_int_equal(dn->unless_near_lines, 5);
	assert_int_equal(dn->unless_near_ns, 0);

	const struct detector *bl = &r->dets[3];
	assert_int_equal(bl->op, DET_PREFIX);
	assert_true(bl->has_block);
	assert_int_equal(bl->nblock_end, 1);
	assert_string_equal(bl->block_end[0], "END");
	assert_int_equal(bl->block_max_lines, 50);
	assert_int_equal(bl->block_max_ns, 2 * NS_PER_SEC);

	const struct detector *bug = &r->dets[4];
	assert_int_equal(bug->op, DET_EMS);
	assert_int_equal(bug->ems, EMS_DET_BUGCHECK);
	assert_int_equal(bug->nstopcodes, 2);
	assert_int_equal(bug->stopcodes[0], 0xE2);
	assert_int_equal(bug->stopcodes[1], 128);
	assert_int_equal(bug->ncaps, 2);
	assert_int_equal(bug->caps[0].type, CAP_HEX);

	const struct detector *w = &r->dets[5];
	assert_int_equal(w->op, DET_FULLWORD);
	assert_int_equal(w->unless_near_det, 0);
	assert_int_equal(w->unless_near_ns, 30 * NS_PER_SEC);
	assert_int_equal(w->unless_near_lines, 0);

	assert_int_equal(r->when.kind, WHEN_ABSENT);
	assert_int_equal(r->when.after, 0);
	assert_int_equal(r->when.absent_of, 1);
	assert_true(r->when.absent_progress);
	assert_int_equal(r->when.for_ns, 30 * MIN);
	assert_int_equal(r->when.nresolve, 2);
	assert_int_equal(r->when.resolve_on[0], 2);
	assert_int_equal(r->when.resolve_on[1], 3);
	assert_int_equal(r->when.keep_firing_ns, MIN);
	assert_int_equal(r->when.ngroup, 1);
	assert_string_equal(r->when.group_by[0], "pct");

	assert_int_equal(r->nactions, 7);
	assert_int_equal(r->actions[0].kind, ACT_ALERT);
	assert_int_equal(r->actions[0].on, ACT_ON_FIRE);
	assert_int_equal(r->actions[1].kind, ACT_SAC);
	assert_string_equal(r->actions[1].text, "t");
	assert_int_equal(r->actions[1].on, ACT_ON_PENDING);
	const struct action *dump = &r->actions[2];
	assert_int_equal(dump->kind, ACT_DUMP);
	assert_string_equal(dump->method, "nmi");
	assert_int_equal(dump->delay_ns, 15 * MIN);
	assert_int_equal(dump->cooldown_ns, 60 * MIN);
	assert_int_equal(dump->timeout_ns, 30 * NS_PER_SEC);
	assert_int_equal(dump->max_per_epoch, 1);
	assert_int_equal(dump->nrequire, 1);
	assert_string_equal(dump->require[0], "nmi");
	assert_int_equal(r->actions[3].kind, ACT_EXEC);
	assert_int_equal(r->actions[3].argc, 2);
	assert_string_equal(r->actions[3].argv[0], "/bin/echo");
	assert_int_equal(r->actions[3].on, ACT_ON_RESOLVE);
	assert_int_equal(r->actions[4].kind, ACT_SEND);
	assert_string_equal(r->actions[4].text, "x\r");
	assert_int_equal(r->actions[5].kind, ACT_RESTART);
	assert_string_equal(r->actions[6].method, "auto");

	assert_int_equal(r->ntests, 2);
	const struct rule_test *t = &r->tests[0];
	assert_string_equal(t->name, "hangs");
	assert_string_equal(t->input, "Preparing to configure Windows.\n@+31m\n");
	assert_int_equal(t->expect, EXPECT_FIRE);
	assert_int_equal(t->count, 1);
	assert_int_equal(t->ncaptures, 1);
	assert_string_equal(t->captures[0].key, "pct");
	assert_string_equal(t->captures[0].value, "40");
	assert_string_equal(t->title, "Hung at 'Preparing' for 30m");
	assert_false(t->escapes);
	assert_false(t->clock_log);
	t = &r->tests[1];
	assert_int_equal(t->expect, EXPECT_NO_FIRE);
	assert_int_equal(t->count, -1);
	assert_true(t->escapes);
	assert_true(t->clock_log);
	assert_string_equal(t->input, "a\\nb");
	assert_null(t->title);

	assert_ptr_equal(rules_find(&rs, "OSStartUp-PREPARING"), r);
	assert_null(rules_find(&rs, "nope"));
	assert_int_equal(rule_det_index(r, "blk"), 3);
	assert_int_equal(rule_det_index(r, "nope"), -1);
	assert_int_equal(rs.nfiles, 1);
	assert_string_equal(rs.files[0], "t.yaml");
	rules_free(&rs);
	assert_int_equal(rs.nrules, 0);
	assert_null(rs.rules);
}

static void test_defaults(void **state)
{
	(void)state;
	struct ruleset rs;
	load_ok(&rs, "schema: emsagent/v1\nid: R1\ntitle: t\nlevel: info\nmatch:\n  a: {regex: 'panic: "
	             "(?<x>\\w+) now'}\n");
	const struct rule *r = &rs.rules[0];
	assert_int_equal(r->status, STATUS_EXPERIMENTAL);
	assert_int_equal(r->os, OS_ANY);
	assert_int_equal(r->when.kind, WHEN_ANY);
	assert_int_equal(r->when.nof, 0);
	assert_int_equal(r->nactions, 1);
	assert_int_equal(r->actions[0].kind, ACT_ALERT);
	assert_int_equal(r->actions[0].on, ACT_ON_FIRE);
	assert_int_equal(r->ntests, 0);
	assert_null(r->summary);
	assert_true(r->dets[0].anchor_derived);
	assert_int_equal(r->dets[0].nlits, 1);
	assert_string_equal(r->dets[0].lits[0], "panic: ");
	rules_free(&rs);
}

static const char *pack = "schema: emsagent/v1\n"
                          "kind: macros\n"
                          "macros:\n"
                          "  hex: '0x[0-9A-Fa-f]+'\n"
                          "  code: 'code {{hex}}'\n"
                          "tables:\n"
                          "  bugcheck:\n"
                          "    \"0xE2\": MANUALLY_INITIATED_CRASH\n"
                          "    \"0x80\": NMI_HARDWARE_FAILURE\n"
                          "---\n"
                          "schema: emsagent/v1\n"
                          "kind: ignore\n"
                          "ignore:\n"
                          "  shell_echo: {prefix: \"# grep \"}\n"
                          "---\n"
                          "schema: emsagent/v1\n"
                          "kind: epochs\n"
                          "epochs:\n"
                          "  - {name: firmware, stage: 10, match: {contains: [\"SeaBIOS (version\"]}}\n"
                          "  - {name: linux, stage: 30, match: {prefix: \"Linux version \"}}\n"
                          "---\n"
                          "schema: emsagent/v1\n"
                          "id: loop\n"
                          "title: boot loop ({count})\n"
                          "level: high\n"
                          "match:\n"
                          "  stop: {regex: 'STOP (?<code>{{code}})', capture: {code: 'enum:bugcheck'}}\n"
                          "when:\n"
                          "  count: {of: [epoch, stop], at_least: 3, within: 1h, distinct: code}\n"
                          "---\n"
                          "schema: emsagent/v1\n"
                          "id: seq\n"
                          "title: seq\n"
                          "level: low\n"
                          "match: {a: {contains: aaaa}, b: {contains: bbbb}, c: {contains: cccc}}\n"
                          "when: {sequence: [a, {then: b, within: 5s}, c]}\n"
                          "---\n"
                          "schema: emsagent/v1\n"
                          "id: all\n"
                          "title: all\n"
                          "level: medium\n"
                          "match: {a: {contains: aaaa}, b: {contains: bbbb}}\n"
                          "when: {all: {of: [a, b], within: 2m}}\n"
                          "---\n"
                          "schema: emsagent/v1\n"
                          "id: anyof\n"
                          "title: any\n"
                          "level: medium\n"
                          "match: {a: {contains: aaaa}, b: {contains: bbbb}}\n"
                          "when: {any: b, resolve_on: a}\n"
                          "---\n"
                          "schema: emsagent/v1\n"
                          "id: quiet\n"
                          "title: quiet\n"
                          "level: medium\n"
                          "match: {a: {contains: aaaa}}\n"
                          "when: {absent: {after: a, of: any-output, for: 90s}}\n"
                          "---\n";

/* A dump's per-boot budget is 1 unless a rule says otherwise. */
static void test_dump_budget(void **state)
{
	(void)state;
	struct ruleset rs;
	load_ok(&rs,
	        "schema: emsagent/v1\nid: R1\ntitle: t\nlevel: high\nmatch:\n  a: {contains: 'hang here'}\n"
	        "actions:\n  - {do: dump, method: nmi}\n  - {do: dump, max_per_epoch: 3}\n  - {do: alert}\n");
	const struct rule *r = &rs.rules[0];
	assert_int_equal(r->nactions, 3);
	assert_int_equal(r->actions[0].max_per_epoch, 1);
	assert_int_equal(r->actions[1].max_per_epoch, 3);
	assert_int_equal(r->actions[2].max_per_epoch, 0);
	rules_free(&rs);
}

static void test_pack_kinds(void **state)
{
	(void)state;
	struct ruleset rs;
	load_ok(&rs, pack);
	assert_int_equal(rs.ntables, 1);
	assert_string_equal(rs.tables[0].name, "bugcheck");
	assert_int_equal(rs.tables[0].n, 2);
	assert_string_equal(rs.tables[0].keys[1], "0x80");
	assert_string_equal(rs.tables[0].values[0], "MANUALLY_INITIATED_CRASH");
	assert_int_equal(rs.nignores, 1);
	assert_string_equal(rs.ignores[0].name, "shell_echo");
	assert_string_equal(rs.ignores[0].lits[0], "# grep ");
	assert_int_equal(rs.nepochs, 2);
	assert_string_equal(rs.epochs[1].name, "linux");
	assert_int_equal(rs.epochs[1].stage, 30);
	assert_int_equal(rs.epochs[0].det.op, DET_CONTAINS);
	assert_string_equal(rs.epochs[0].det.lits[0], "SeaBIOS (version");

	assert_int_equal(rs.nrules, 5);
	const struct rule *r = rules_find(&rs, "loop");
	assert_non_null(r);
	assert_true(r->cross_epoch);
	assert_string_equal(r->dets[0].regex, "STOP (?<code>code 0x[0-9A-Fa-f]+)");
	assert_string_equal(r->dets[0].lits[0], "STOP ");
	assert_ptr_equal(r->dets[0].caps[0].table, &rs.tables[0]);
	assert_int_equal(r->dets[0].caps[0].type, CAP_ENUM);
	assert_int_equal(r->when.kind, WHEN_COUNT);
	assert_int_equal(r->when.nof, 2);
	assert_int_equal(r->when.of[0], DET_REF_EPOCH);
	assert_int_equal(r->when.of[1], 0);
	assert_int_equal(r->when.at_least, 3);
	assert_int_equal(r->when.within_ns, 60 * MIN);
	assert_string_equal(r->when.distinct, "code");

	r = rules_find(&rs, "seq");
	assert_int_equal(r->when.kind, WHEN_SEQUENCE);
	assert_int_equal(r->when.nsteps, 3);
	assert_int_equal(r->when.steps[0].det, 0);
	assert_int_equal(r->when.steps[1].det, 1);
	assert_int_equal(r->when.steps[1].within_ns, 5 * NS_PER_SEC);
	assert_int_equal(r->when.steps[2].det, 2);
	assert_int_equal(r->when.steps[2].within_ns, 0);
	assert_false(r->cross_epoch);

	r = rules_find(&rs, "all");
	assert_int_equal(r->when.kind, WHEN_ALL);
	assert_int_equal(r->when.nof, 2);
	assert_int_equal(r->when.within_ns, 2 * MIN);

	r = rules_find(&rs, "anyof");
	assert_int_equal(r->when.kind, WHEN_ANY);
	assert_int_equal(r->when.nof, 1);
	assert_int_equal(r->when.of[0], 1);
	assert_int_equal(r->when.nresolve, 1);
	assert_int_equal(r->when.resolve_on[0], 0);

	r = rules_find(&rs, "quiet");
	assert_int_equal(r->when.kind, WHEN_ABSENT);
	assert_int_equal(r->when.absent_of, DET_REF_ANY_OUTPUT);
	assert_false(r->when.absent_progress);
	assert_int_equal(r->when.for_ns, 90 * NS_PER_SEC);
	assert_int_equal(r->index, 4);
	rules_free(&rs);
}

/* ---- errors ---- */

#define HDR "schema: emsagent/v1\nid: R1\ntitle: t\nlevel: high\n" /* lines 1-4 */

/* Loads yaml, expects failure with an empty set and an error at line:col
 * whose message contains frag. */
static void expect_error(const char *yaml, unsigned line, unsigned col, const char *frag)
{
	struct ruleset rs;
	struct diags d = {0};
	int rc = rules_load_string(&rs, "bad.yaml", yaml, &d);
	bool found = false;
	for (size_t i = 0; i < d.n; i++)
		if (d.v[i].sev == DIAG_ERROR && d.v[i].line == line && d.v[i].col == col &&
		    strstr(d.v[i].msg, frag) && d.v[i].file && strcmp(d.v[i].file, "bad.yaml") == 0)
			found = true;
	if (!found) {
		fprintf(stderr, "wanted bad.yaml:%u:%u: ...%s... ; got:\n", line, col, frag);
		diags_print(&d, stderr);
	}
	assert_int_equal(rc, -1);
	assert_true(found);
	assert_true(d.nerrors >= 1);
	/* nothing half-loaded */
	assert_int_equal(rs.nrules, 0);
	assert_null(rs.rules);
	assert_int_equal(rs.nignores, 0);
	assert_int_equal(rs.nepochs, 0);
	assert_int_equal(rs.ntables, 0);
	assert_int_equal(rs.nfiles, 0);
	diags_free(&d);
}

static void test_err_keys_types(void **state)
{
	(void)state;
	expect_error(HDR "titel: x\nmatch: {a: {contains: xxxx}}\n", 5, 1,
	             "unknown key 'titel' in a rule (did you mean 'title'?)");
	expect_error(HDR
	             "match: {a: {contains: xxxx}}\nwhen:\n  absent: {afterr: a, of: any-output, for: 1m}\n",
	             7, 12, "unknown key 'afterr' in absent (did you mean 'after'?)");
	expect_error(
	    "schema: emsagent/v1\nid: R1\ntitle: {a: b}\nlevel: high\nmatch: {a: {contains: xxxx}}\n", 3, 8,
	    "title must be a string, not a map");
	expect_error(HDR "tags: x\nmatch: {a: {contains: xxxx}}\n", 5, 7,
	             "tags must be a list of strings, not a string");
	expect_error("schema: emsagent/v1\nid: R1\ntitle: t\nmatch: {a: {contains: xxxx}}\n", 1, 1,
	             "missing required key 'level'");
	expect_error("id: R1\ntitle: t\nlevel: high\nmatch: {a: {contains: xxxx}}\n", 1, 1,
	             "missing required key 'schema'");
	expect_error("schema: emsagent/v2\nid: R1\ntitle: t\nlevel: high\nmatch: {a: {contains: xxxx}}\n", 1,
	             9, "unsupported schema 'emsagent/v2'");
	expect_error(HDR "match: {a: {contains: xxxx}}\nmatch: {b: {contains: yyyy}}\n", 6, 1,
	             "duplicate key 'match'");
	expect_error("- a\n- b\n", 1, 1, "a document must be a map");
	expect_error(HDR "match: {a: {contains: xxxx}}\nwhen: {}\n", 6, 7, "when needs one of");
	expect_error(HDR "match: {a: {contains: xxxx}}\nwhen: {any: a, count: {of: a, at_least: 2}}\n", 6, 16,
	             "when has two forms");
	expect_error(HDR "match: {a: {contains: xxxx}}\nactions:\n  - {do: exec}\n", 7, 5,
	             "missing required key 'argv'");
	expect_error(HDR "match: {a: {contains: xxxx}}\nactions:\n  - {do: alert, command: t}\n", 7, 17,
	             "'command' does not apply to do: alert");
	expect_error(HDR "match: {a: {contains: xxxx}}\nactions:\n  - {do: alert, on: pending}\n", 7, 21,
	             "only absent rules are ever pending");
	expect_error(HDR "id: R1\nmatch: {a: {contains: xxxx}}\n", 5, 1, "duplicate key 'id'");
	expect_error(HDR "match: {a: {contains: xxxx}}\ntests:\n  - {name: x, expect: fire}\n", 7, 5,
	             "missing required key 'input' in a test");
	expect_error(HDR "match: {a: {contains: xxxx}}\nwhen: {count: {of: a, at_least: many}}\n", 6, 33,
	             "count.at_least must be a whole number, not 'many'");
	expect_error(HDR "match: {a: {contains: xxxx, nocase: maybe}}\n", 5, 37,
	             "nocase must be true or false");
	expect_error(HDR "match: {a: {contains: xxxx}}\nwhen: {count: {of: a, at_least: 2, distinct: pct}}\n",
	             6, 46, "unknown capture 'pct' in count.distinct");
	expect_error(HDR "match: {a: {contains: xxxx}}\nwhen: {any: a, group_by: [pct]}\n", 6, 27,
	             "unknown capture 'pct' in group_by");
	expect_error(HDR "id2: x\nmatch: {a: {contains: xxxx}}\n", 5, 1, "unknown key 'id2'");
}

static void test_err_enums(void **state)
{
	(void)state;
	expect_error("schema: emsagent/v1\nid: R1\ntitle: t\nlevel: crit\nmatch: {a: {contains: xxxx}}\n", 4,
	             8, "bad level 'crit' (expected info, low, medium, high or critical)");
	expect_error(HDR "status: beta\nmatch: {a: {contains: xxxx}}\n", 5, 9, "bad status 'beta'");
	expect_error(HDR "os: macos\nmatch: {a: {contains: xxxx}}\n", 5, 5, "bad os 'macos'");
	expect_error(HDR "kind: rules\nmatch: {a: {contains: xxxx}}\n", 5, 7, "bad kind 'rules'");
	expect_error(HDR "match: {a: {contains: xxxx, at: start}}\n", 5, 33,
	             "bad at 'start' (expected line-start)");
	expect_error(HDR "match: {a: {regex: '(?<n>[0-9]+) ok then', capture: {n: float}}}\n", 5, 57,
	             "bad capture type 'float'");
	expect_error(HDR "match: {a: {ems: panic}}\n", 5, 18, "bad ems record kind 'panic'");
	expect_error(HDR "match: {a: {contains: xxxx}}\nactions:\n  - {do: reboot}\n", 7, 10,
	             "bad action 'reboot'");
	expect_error(HDR "match: {a: {contains: xxxx}}\nactions:\n  - {do: alert, on: firing}\n", 7, 21,
	             "bad on 'firing'");
	expect_error(HDR "match: {a: {contains: xxxx}}\nactions:\n  - {do: dump, method: kdump}\n", 7, 24,
	             "bad dump method 'kdump'");
	expect_error(HDR "match: {a: {contains: xxxx}}\ntests:\n  - {name: x, input: y, expect: fires}\n", 7,
	             33, "bad expect 'fires'");
	expect_error(
	    HDR "match: {a: {contains: xxxx}}\ntests:\n  - {name: x, input: y, expect: fire, clock: wall}\n",
	    7, 46, "bad clock 'wall'");
}

static void test_err_durations(void **state)
{
	(void)state;
	expect_error(HDR
	             "match: {a: {contains: xxxx}}\nwhen: {absent: {after: a, of: any-output, for: 30x}}\n",
	             6, 48, "bad duration '30x' for absent.for");
	expect_error(HDR "match: {a: {contains: xxxx}}\nwhen: {absent: {after: a, of: any-output, for: 0}}\n",
	             6, 48, "absent.for must be longer than 0");
	expect_error(HDR "match: {a: {contains: xxxx}}\nactions:\n  - {do: alert, delay: soon}\n", 7, 24,
	             "bad duration 'soon' for delay");
	expect_error(HDR "match: {a: {contains: xxxx, block: {max_time: 1y}}}\n", 5, 47, "bad duration '1y'");
	expect_error(
	    HDR "match: {a: {contains: xxxx}, b: {contains: yyyy, unless_near: {match: a, within: 5q}}}\n", 5,
	    82, "bad duration '5q' for unless_near.within");
}

static void test_err_duplicates(void **state)
{
	(void)state;
	expect_error(HDR "match: {a: {contains: xxxx}}\n---\n" HDR "match: {a: {contains: xxxx}}\n", 8, 5,
	             "duplicate rule id 'R1' (first defined at bad.yaml:2:5)");
	expect_error(HDR "match:\n  a: {contains: xxxx}\n  a: {contains: yyyy}\n", 7, 3,
	             "duplicate detector 'a' (first at line 6)");
	expect_error(HDR "match: {epoch: {contains: xxxx}}\n", 5, 9, "'epoch' is reserved");
	expect_error(HDR "match: {9a: {contains: xxxx}}\n", 5, 9, "bad detector name '9a'");
	expect_error("schema: emsagent/v1\nkind: macros\nmacros: {m: abc}\n---\nschema: emsagent/v1\nkind: "
	             "macros\nmacros: {m: "
	             "abd}\n",
	             7, 10, "duplicate macro 'm' (first defined at bad.yaml:3:10)");
	expect_error(
	    "schema: emsagent/v1\nkind: ignore\nignore: {x: {contains: abcd}, x: {contains: efgh}}\n", 3, 31,
	    "duplicate ignore 'x'");
	expect_error(
	    "schema: emsagent/v1\nkind: epochs\nepochs:\n  - {name: a, stage: 1, match: {contains: abcd}}\n"
	    "  - {name: a, stage: 2, match: {contains: efgh}}\n",
	    5, 12, "duplicate epoch marker 'a'");
	expect_error(HDR "match: {a: {contains: xxxx}}\ntests:\n  - {name: x, input: y, expect: fire}\n"
	                 "  - {name: x, input: z, expect: no_fire}\n",
	             8, 12, "duplicate test name 'x'");
}

static void test_err_detectors(void **state)
{
	(void)state;
	expect_error(HDR "match:\n  banner: {nocase: true}\n", 6, 3, "detector 'banner' has no operator");
	expect_error(HDR "match:\n  banner: {contains: abcd, regex: 'abcd'}\n", 6, 28,
	             "detector 'banner' has two operators ('contains' and 'regex')");
	expect_error(HDR "match:\n  a: {contains: abcd, capture: {x: str}}\n", 6, 23,
	             "capture: applies only to regex and ems detectors (this one uses 'contains')");
	expect_error(HDR "match:\n  a: {contains: abcd, anchor: abc}\n", 6, 23,
	             "anchor: applies only to regex");
	expect_error(HDR "match:\n  a: {contains: abcd, stopcode: 0xE2}\n", 6, 23,
	             "stopcode: applies only to 'ems: bugcheck'");
	expect_error(HDR "match:\n  a: {regex: 'code (?<c>[0-9]+)', capture: {d: int}}\n", 6, 45,
	             "capture 'd' is not a named group of the regex (its groups: c)");
	expect_error(HDR "match:\n  a: {regex: 'code ([0-9]+)', capture: {d: int}}\n", 6, 41,
	             "capture 'd' is not a named group of the regex (it has none");
	expect_error(HDR "match:\n  a: {ems: machine-info, capture: {stopcode: hex}}\n", 6, 36,
	             "capture 'stopcode' is not a field of ems machine-info records");
	expect_error(HDR "match:\n  a: {regex: 'abc(def'}\n", 6, 14,
	             "regex does not compile: missing closing parenthesis");
	expect_error(HDR "match:\n  a: {regex: '(abc)x\\1'}\n", 6, 14, "regex uses a back-reference");
	expect_error(HDR "match:\n  a: {regex: 'abc(?=def)'}\n", 6, 14, "regex uses look-ahead");
	expect_error(HDR "match:\n  a: {regex: '(?<!x)abcd'}\n", 6, 14, "regex uses look-behind");
	expect_error(HDR "match:\n  a: {regex: 'abcd\\d++'}\n", 6, 14, "possessive quantifier");
	expect_error(HDR "match:\n  a: {regex: '[0-9]+ a\\d'}\n", 6, 14,
	             "regex has no anchor: add anchor: or a literal of 3+ characters");
	expect_error(HDR "match:\n  a: {regex: 'abcd|efgh'}\n", 6, 14, "regex has no anchor");
	expect_error(HDR "match:\n  a: {contains: [abcd, \"\"]}\n", 6, 24, "empty string in contains");
	expect_error(HDR "match:\n  a: {contains: []}\n", 6, 17, "contains must list at least one string");
	expect_error(HDR "match:\n  a: {regex: ''}\n", 6, 14, "regex must not be empty");
	expect_error(HDR "match:\n  a: {ems: bugcheck, stopcode: [0xE2, crash]}\n", 6, 39,
	             "stopcode must be a number like 0xE2 or 226, not 'crash'");
	expect_error(HDR "match:\n  a: {contains: abcd, unless_near: {match: b, within: 2}}\n", 6, 44,
	             "unknown detector 'b' in unless_near.match");
	expect_error(HDR "match:\n  a: {contains: abcd, unless_near: {within: 2}}\n", 6, 36,
	             "missing required key 'match'");
	expect_error(
	    "schema: emsagent/v1\nkind: ignore\nignore:\n  x: {contains: abcd, block: {max_lines: 3}}\n", 4,
	    23, "block: applies only to a rule's detectors");
	expect_error(HDR "match:\n  a: {contains: abcd, block: {max_lines: 0}}\n", 6, 42,
	             "block.max_lines must be at least 1");
	expect_error(HDR "match:\n  a: {contains: abcd, frobnicate: 1}\n", 6, 23,
	             "unknown key 'frobnicate' in a detector");
	expect_error(HDR "match:\n  a: {contans: abcd}\n", 6, 7, "(did you mean 'contains'?)");
	expect_error(HDR "match: [a, b]\n", 5, 8, "match must be a map, not a list");
	expect_error(HDR "match:\n  a: abcd\n", 6, 6, "a detector must be a map, not a string");
}

static void test_err_when_refs(void **state)
{
	(void)state;
	expect_error(
	    HDR
	    "match: {banner: {contains: abcd}}\nwhen: {absent: {after: bannr, of: any-output, for: 1m}}\n",
	    6, 24, "unknown detector 'bannr' (did you mean 'banner'?)");
	expect_error(HDR "match: {banner: {contains: abcd}}\nwhen: {any: [banner, zzzzzz]}\n", 6, 22,
	             "unknown detector 'zzzzzz' in any");
	expect_error(
	    HDR "match: {banner: {contains: abcd}}\nwhen: {absent: {after: banner, of: epoch, for: 1m}}\n", 6,
	    36, "'epoch' cannot be used in absent.of");
	expect_error(HDR "match: {banner: {contains: abcd}}\nwhen: {any: banner, resolve_on: [epoch]}\n", 6,
	             34, "'epoch' cannot be used in resolve_on");
	expect_error(HDR "match: {pct: {contains: abcd}, b: {contains: xxxx}}\nwhen: {absent: {after: b, of: "
	                 "progress:pct, for: 1m}}\n",
	             6, 31, "progress:pct needs a detector with a capture");
	expect_error(
	    HDR "match: {pct: {contains: abcd}}\nwhen: {absent: {after: pct, of: progress:pc, for: 1m}}\n", 6,
	    33, "unknown detector 'pc' (did you mean 'pct'?)");
	expect_error(HDR "match: {a: {contains: abcd}}\nwhen: {sequence: [a]}\n", 6, 18,
	             "sequence must have between 2 and 64 steps");
	expect_error(HDR "match: {a: {contains: abcd}}\nwhen: {sequence: [{then: a}, a]}\n", 6, 19,
	             "the first step of a sequence is a detector name");
	expect_error(HDR "match: {a: {contains: abcd}}\nwhen: {sequence: [a, {then: b}]}\n", 6, 29,
	             "unknown detector 'b'");
	expect_error(HDR "match: {a: {contains: abcd}}\nwhen: {all: {within: 1m}}\n", 6, 13,
	             "missing required key 'of' in all");
	expect_error(HDR "match: {a: {contains: abcd}}\nwhen: {count: {of: a, at_least: 0}}\n", 6, 33,
	             "count.at_least must be at least 1");
}

static void test_err_tests(void **state)
{
	(void)state;
	/* the bad mark is on line 10, indented 6 */
	expect_error(HDR "match: {a: {contains: abcd}}\n"
	                 "tests:\n"
	                 "  - name: x\n"
	                 "    input: |\n"
	                 "      abcd\n"
	                 "      @+31x\n"
	                 "    expect: fire\n",
	             10, 7, "malformed clock mark '@+31x'");
	expect_error(HDR "match: {a: {contains: abcd}}\n"
	                 "tests:\n"
	                 "  - name: x\n"
	                 "    clock: log\n"
	                 "    input: |\n"
	                 "      abcd\n"
	                 "\n"
	                 "        @+5m\n"
	                 "    expect: fire\n",
	             12, 9, "clock: log tests take time from the lines' timestamps");
	expect_error(
	    HDR
	    "match: {a: {contains: abcd}}\ntests:\n  - {name: x, input: \"abcd\\n@+\\n\", expect: fire}\n",
	    7, 22, "malformed clock mark '@+'");
	expect_error(HDR "match: {a: {contains: abcd}}\ntests:\n  - {name: x, input: 'ab\\qcd', escapes: "
	                 "true, expect: fire}\n",
	             7, 25, "bad escape '\\q'");
	expect_error(HDR "match: {a: {contains: abcd}}\ntests:\n  - {name: x, input: abcd, expect: fire, "
	                 "captures: {pc: 1}}\n",
	             7, 53, "unknown capture 'pc' in captures");
	expect_error(HDR "match: {a: {contains: abcd}}\ntests: {name: x}\n", 6, 8, "tests must be a list");
}

static void test_err_macros_tables(void **state)
{
	(void)state;
	expect_error(HDR "match: {a: {regex: 'code {{hexx}} here'}}\n---\nschema: emsagent/v1\nkind: "
	                 "macros\nmacros: {hex: "
	                 "'[0-9a-f]+'}\n",
	             5, 20, "unknown macro '{{hexx}}' (did you mean '{{hex}}'?)");
	expect_error("schema: emsagent/v1\nkind: macros\nmacros:\n  a: 'x{{b}}'\n  b: 'y{{a}}'\n", 4, 3,
	             "macro cycle: a -> b -> a");
	expect_error("schema: emsagent/v1\nkind: macros\nmacros:\n  a: 'x{{a}}'\n", 4, 3,
	             "macro cycle: a -> a");
	expect_error(HDR
	             "match: {a: {regex: 'code (?<c>[0-9]+)', capture: {c: 'enum:bugchek'}}}\n---\nschema: "
	             "emsagent/v1\nkind: macros\ntables: {bugcheck: {\"1\": one}}\n",
	             5, 54, "unknown enum table 'bugchek' (did you mean 'bugcheck'?)");
	expect_error("schema: emsagent/v1\nkind: macros\ntables: {t: {a: x, A: y}}\n", 3, 20,
	             "duplicate key 'A' in table 't'");
	expect_error("schema: emsagent/v1\nkind: macros\n", 1, 1, "needs 'macros' or 'tables'");
}

static void test_err_yaml_syntax(void **state)
{
	(void)state;
	expect_error(HDR "match: {a: {contains: abcd}\n", 6, 1, "YAML:");
	expect_error(HDR "match:\n  a: {contains: \"abcd}\n", 7, 1, "YAML:");
}

static void test_errors_collected(void **state)
{
	(void)state;
	struct ruleset rs;
	struct diags d = {0};
	const char *y =
	    "schema: emsagent/v1\nid: R1\ntitle: t\nlevel: hgh\nstatus: beta\n"
	    "match: {a: {contains: abcd}}\n---\nschema: emsagent/v1\nid: R2\ntitle: t\nlevel: low\n"
	    "match: {b: {regex: '[a-z]+'}}\n";
	assert_int_equal(rules_load_string(&rs, "x.yaml", y, &d), -1);
	assert_int_equal(d.nerrors, 3);
	assert_int_equal(d.v[0].line, 4);
	assert_int_equal(d.v[1].line, 5);
	assert_int_equal(d.v[2].line, 12);
	assert_non_null(strstr(d.v[2].msg, "no anchor"));
	assert_int_equal(rs.nrules, 0);
	diags_free(&d);
	/* a bounded number of errors however many there are */
	struct buf b = {0};
	for (int i = 0; i < 400; i++)
		buf_printf(&b, "schema: emsagent/v1\nid: R%d\n---\n", i);
	assert_int_equal(rules_load_string(&rs, "many.yaml", b.data, &d), -1);
	assert_true(d.n <= 200);
	assert_non_null(strstr(d.v[d.n - 1].msg, "too many errors"));
	diags_free(&d);
	buf_free(&b);
}

/* ---- files and directories ---- */

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_load_dir(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_rules_XXXXXX";
	assert_non_null(mkdtemp(dir));
	char p[512];
	snprintf(p, sizeof(p), "%s/sub", dir);
	assert_int_equal(mkdir(p, 0755), 0);
	/* b.yaml uses a macro only defined in sub/z.yml, read later */
	snprintf(p, sizeof(p), "%s/b.yaml", dir);
	write_file(p,
	           HDR "match: {a: {regex: '{{word}} failed'}}\n---\n"
	               "schema: emsagent/v1\nid: R2\ntitle: t\nlevel: low\nmatch: {a: {contains: abcd}}\n");
	snprintf(p, sizeof(p), "%s/a.yml", dir);
	write_file(p, "schema: emsagent/v1\nid: R0\ntitle: t\nlevel: low\nmatch: {a: {contains: abcd}}\n");
	snprintf(p, sizeof(p), "%s/sub/z.yml", dir);
	write_file(p, "schema: emsagent/v1\nkind: macros\nmacros: {word: 'disk'}\n");
	snprintf(p, sizeof(p), "%s/notes.txt", dir);
	write_file(p, "not yaml: [");
	snprintf(p, sizeof(p), "%s/.hidden.yaml", dir);
	write_file(p, "not yaml: [");

	struct ruleset rs;
	struct diags d = {0};
	const char *paths[] = {dir};
	int rc = rules_load(&rs, paths, 1, &d);
	if (rc)
		diags_print(&d, stderr);
	assert_int_equal(rc, 0);
	assert_int_equal(rs.nrules, 3);
	assert_string_equal(rs.rules[0].id, "R0");
	assert_string_equal(rs.rules[1].id, "R1");
	assert_string_equal(rs.rules[2].id, "R2");
	assert_string_equal(rs.rules[1].dets[0].regex, "disk failed");
	assert_string_equal(rs.rules[1].dets[0].lits[0], "disk failed");
	assert_int_equal(rs.nfiles, 3);
	snprintf(p, sizeof(p), "%s/b.yaml", dir);
	assert_string_equal(rs.rules[1].loc.file, p);
	assert_int_equal(rs.rules[2].loc.line, 8);
	rules_free(&rs);
	diags_free(&d);

	/* an error in one file of several: located in that file, nothing loaded */
	snprintf(p, sizeof(p), "%s/sub/y.yaml", dir);
	write_file(p, "schema: emsagent/v1\nid: R0\ntitle: t\nlevel: low\nmatch: {a: {contains: abcd}}\n");
	rc = rules_load(&rs, paths, 1, &d);
	assert_int_equal(rc, -1);
	assert_int_equal(d.nerrors, 1);
	assert_string_equal(d.v[0].file, p);
	assert_int_equal(d.v[0].line, 2);
	assert_int_equal(d.v[0].col, 5);
	assert_int_equal(rs.nrules, 0);
	diags_free(&d);

	/* a file named directly, and a path that does not exist */
	snprintf(p, sizeof(p), "%s/a.yml", dir);
	const char *two[] = {p, "/nonexistent/rules"};
	rc = rules_load(&rs, two, 2, &d);
	assert_int_equal(rc, -1);
	assert_int_equal(d.nerrors, 1);
	assert_string_equal(d.v[0].file, "/nonexistent/rules");
	assert_non_null(strstr(d.v[0].msg, "cannot open"));
	diags_free(&d);

	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* ---- anchors ---- */

static void anchor_is(const char *re, const char *want)
{
	char *a = NULL;
	int rc = regex_derive_anchor(re, 3, &a);
	if (!want) {
		if (rc == 0)
			fprintf(stderr, "regex %s: unexpected anchor '%s'\n", re, a);
		assert_int_equal(rc, -1);
		assert_null(a);
		return;
	}
	if (rc != 0)
		fprintf(stderr, "regex %s: no anchor, wanted '%s'\n", re, want);
	assert_int_equal(rc, 0);
	assert_string_equal(a, want);
	free(a);
}

static void test_anchor(void **state)
{
	(void)state;
	anchor_is("Kernel panic - not syncing", "Kernel panic - not syncing");
	anchor_is("(?<pct>[0-9]{1,3})% complete", "% complete");
	anchor_is("STOP: 0x[0-9A-F]{8}", "STOP: 0x");
	anchor_is("abc\\.def\\[x\\]", "abc.def[x]");
	anchor_is("\\x41BCD", "ABCD");
	anchor_is("a\\/b\\:c\\-d", "a/b:c-d");
	anchor_is("\\Qa.b*c\\E", "a.b*c");
	anchor_is("colou?r scheme", "r scheme");
	anchor_is("xyzzy*foo", "xyzz");
	anchor_is("ab+cdef", "bcdef");
	anchor_is("abcd{0,2}e", "abc");
	anchor_is("abcd{2}ef", "abcd");
	anchor_is("ab{2}cdef", "bcdef");
	anchor_is("ab(optional)?cdefg", "cdefg");
	anchor_is("^panic: \\d+ in (foo|bar)$", "panic: ");
	anchor_is("word\\bnext", "word");
	anchor_is("a[bc]defgh.ij", "defgh");
	anchor_is("abc{x", "abc{x");
	anchor_is("lazy.*?tailpiece", "tailpiece");
	anchor_is("abcd|efgh", NULL);
	anchor_is("(?i)abcdef", NULL);
	anchor_is("[a-z]+\\d+", NULL);
	anchor_is("ab.cd", NULL);
	anchor_is("(abcdef)", NULL);
	anchor_is("abc(", NULL);
	anchor_is("*abc", NULL);
	anchor_is("", NULL);
	/* min_len is honoured */
	char *a = NULL;
	assert_int_equal(regex_derive_anchor("abcd", 5, &a), -1);
	assert_int_equal(regex_derive_anchor("abcd", 4, &a), 0);
	assert_string_equal(a, "abcd");
	free(a);
}

/* ---- lint ---- */

static bool has_warning(const struct diags *d, unsigned line, const char *frag)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].sev == DIAG_WARNING && d->v[i].line == line && strstr(d->v[i].msg, frag))
			return true;
	return false;
}

static void lint_of(const char *yaml, struct diags *d)
{
	struct ruleset rs;
	load_ok(&rs, yaml);
	rules_lint(&rs, d);
	rules_free(&rs);
}

static void test_lint(void **state)
{
	(void)state;
	struct diags d = {0};
	lint_of(HDR "status: stable\n"
	            "summary: s\n"
	            "remediation: [r]\n"
	            "match:\n"
	            "  shorty: {contains: [ab, \"Kernel panic\"]}\n" /* line 9 */
	            "  comm: {contains: \"Error: failed\"}\n"        /* line 10 */
	            "  sac: {line: \"SAC>\"}\n"                      /* line 11 */
	            "  tail: {regex: '!SAC> (?<w>\\w+) .*'}\n"       /* line 12 */
	            "  tail2: {regex: 'oops2: [a-z]+\\S+'}\n"        /* line 13 */
	            "  capt: {regex: 'reason: (?<r>.*)'}\n"          /* line 14 */
	            "  unused: {contains: \"never referenced\"}\n"   /* line 15 */
	            "when: {any: [shorty, comm, sac, tail, tail2, capt]}\n"
	            "tests:\n"
	            "  - {name: p, input: \"Kernel panic\", expect: fire}\n",
	        &d);
	assert_true(has_warning(&d, 9, "literal 'ab' is shorter than 4 bytes"));
	assert_false(has_warning(&d, 9, "Kernel panic"));
	assert_true(has_warning(&d, 10, "'Error: failed' is made only of common words"));
	assert_true(has_warning(&d, 11, "'SAC>' is made only of common words"));
	assert_false(has_warning(&d, 12, "common words"));
	assert_true(has_warning(&d, 12, "unbounded repetition"));
	assert_true(has_warning(&d, 13, "unbounded repetition"));
	assert_false(has_warning(&d, 14, "unbounded repetition"));
	assert_true(has_warning(&d, 15, "detector 'unused' is never used by when"));
	assert_true(has_warning(&d, 2, "stable rule 'R1' has no negative test"));
	assert_false(has_warning(&d, 2, "no positive test"));
	assert_false(has_warning(&d, 2, "no summary"));
	assert_int_equal(d.nerrors, 0);
	diags_free(&d);

	lint_of(HDR "status: stable\nmatch: {a: {regex: 'abc[0-9]+'}}\n", &d);
	assert_true(has_warning(&d, 2, "rule 'R1' has no summary"));
	assert_true(has_warning(&d, 2, "rule 'R1' has no remediation"));
	assert_true(has_warning(&d, 2, "no positive test"));
	assert_true(has_warning(&d, 2, "no negative test"));
	assert_true(has_warning(&d, 6, "derived anchor 'abc' is shorter than 4 bytes"));
	diags_free(&d);

	/* a good rule: nothing to say */
	lint_of(HDR "status: stable\nsummary: s\nremediation: [r]\n"
	            "match: {a: {regex: 'Kernel panic - (?<why>[a-z ]+):', capture: {why: str}}, b: "
	            "{contains: \"login: "
	            "\"}}\n"
	            "when: {any: a, resolve_on: b}\n"
	            "tests:\n  - {name: p, input: \"Kernel panic - x:\", expect: fire}\n"
	            "  - {name: n, input: \"login: \", expect: no_fire}\n",
	        &d);
	if (d.n)
		diags_print(&d, stderr);
	assert_int_equal(d.n, 0);
	diags_free(&d);

	/* omitted when: every detector is used; ignores and epochs are linted too */
	lint_of("schema: emsagent/v1\nkind: ignore\nignore: {x: {prefix: \"# \"}}\n---\n" HDR
	        "summary: s\nremediation: [r]\nmatch: {a: {contains: abcdef}, b: {contains: ghijkl}}\n",
	        &d);
	assert_int_equal(d.n, 1);
	assert_true(has_warning(&d, 3, "literal '# ' is shorter"));
	diags_free(&d);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(rule_level_name(LEVEL_HIGH), "high");
	enum rule_level l;
	assert_int_equal(rule_level_parse("critical", &l), 0);
	assert_int_equal(l, LEVEL_CRITICAL);
	assert_int_equal(rule_level_parse("severe", &l), -1);
	assert_int_equal(rule_level_parse(NULL, &l), -1);
	assert_string_equal(rule_status_name(STATUS_DEPRECATED), "deprecated");
	assert_string_equal(rule_os_name(OS_LINUX), "linux");
	assert_string_equal(det_op_name(DET_FULLWORD), "fullword");
	assert_string_equal(det_op_name(DET_EMS), "ems");
	assert_string_equal(when_kind_name(WHEN_SEQUENCE), "sequence");
	assert_string_equal(action_kind_name(ACT_RESTART), "restart");
	assert_string_equal(test_expect_name(EXPECT_NO_FIRE), "no_fire");
	assert_string_equal(test_expect_name(EXPECT_RESOLVED), "resolved");
	assert_string_equal(rule_level_name((enum rule_level)99), "?");
}

static void test_empty_and_odd_input(void **state)
{
	(void)state;
	struct ruleset rs;
	struct diags d = {0};
	/* comments only, stray separators: an empty, valid pack */
	assert_int_equal(rules_load_string(&rs, "e.yaml", "# nothing\n---\n---\n", &d), 0);
	assert_int_equal(rs.nrules, 0);
	rules_free(&rs);
	/* anchors and aliases work (document API) */
	load_ok(
	    &rs,
	    "schema: emsagent/v1\nid: R1\ntitle: t\nlevel: low\nmatch:\n  a: &d {contains: abcd}\n  b: *d\n");
	assert_string_equal(rs.rules[0].dets[1].lits[0], "abcd");
	rules_free(&rs);
	/* binary junk is an error, not a crash */
	assert_int_equal(rules_load_string(&rs, "j.yaml", "\x01\x02\xff\xfe: [", &d), -1);
	assert_true(d.nerrors >= 1);
	assert_int_equal(rs.nrules, 0);
	diags_free(&d);
	assert_int_equal(rules_load(&rs, NULL, 0, &d), -1);
	diags_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full_rule),
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_dump_budget),
	    cmocka_unit_test(test_pack_kinds),
	    cmocka_unit_test(test_err_keys_types),
	    cmocka_unit_test(test_err_enums),
	    cmocka_unit_test(test_err_durations),
	    cmocka_unit_test(test_err_duplicates),
	    cmocka_unit_test(test_err_detectors),
	    cmocka_unit_test(test_err_when_refs),
	    cmocka_unit_test(test_err_tests),
	    cmocka_unit_test(test_err_macros_tables),
	    cmocka_unit_test(test_err_yaml_syntax),
	    cmocka_unit_test(test_errors_collected),
	    cmocka_unit_test(test_load_dir),
	    cmocka_unit_test(test_anchor),
	    cmocka_unit_test(test_lint),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_empty_and_odd_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
