/*
 * test_pipeline.c — the whole path (normaliser → clock → matcher → engine):
 * the same events for every split of the same input into reads, and events
 * that match what the rules say; syslog stamps get the year hint.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emsagent/pipeline.h"
#include "emsagent/util.h"

static const char pack[] =
    "schema: emsagent/v1\n"
    "kind: epochs\n"
    "epochs:\n"
    "  - {name: firmware, stage: 10, match: {contains: [\"SeaBIOS (version\"]}}\n"
    "  - {name: linux, stage: 30, match: {prefix: \"Linux version \"}}\n"
    "  - {name: sac, stage: 40, match: {contains: [\"SAC started and initialized\"]}}\n"
    "---\n"
    "schema: emsagent/v1\n"
    "id: t-panic\n"
    "title: \"panic: {reason}\"\n"
    "level: critical\n"
    "match:\n"
    "  p: {regex: 'Kernel panic - not syncing: (?<reason>.{1,100})', anchor: 'Kernel panic - not syncing', "
    "capture: {reason: str}, block: {end: '---[ end Kernel panic', max_lines: 50}}\n"
    "---\n"
    "schema: emsagent/v1\n"
    "id: t-bugcheck\n"
    "title: \"bugcheck {stopcode}\"\n"
    "level: critical\n"
    "match:\n"
    "  bp: {ems: bugcheck, capture: {stopcode: hex}}\n"
    "---\n"
    "schema: emsagent/v1\n"
    "id: t-prompt\n"
    "title: crash console\n"
    "level: high\n"
    "match:\n"
    "  p: {line: '!SAC>', partial: true}\n"
    "---\n"
    "schema: emsagent/v1\n"
    "id: t-stuck\n"
    "title: \"stuck for {held}\"\n"
    "level: critical\n"
    "match:\n"
    "  stage: {contains: 'Preparing to configure Windows'}\n"
    "when:\n"
    "  absent: {after: stage, of: any-output, for: 30m}\n";

static const char input[] =
    "\033[2J\033[1;1H\033[0m\033[37;40mSeaBIOS (version 1.16.2-debian-1.16.2-1)\r\n"
    "Booting from Hard Disk...\r\n"
    "[    0.000000] Linux version 6.1.0-28-amd64 (debian-kernel@lists.debian.org)\r\n"
    "[    1.250000] EXT4-fs (vda1): mounted filesystem\r\n"
    "progress 10%\rprogress 20%\rprogress 100%\r\n"
    "typo\b\b\bxt fixed\n"
    "[    5.000000] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000009\r\n"
    "[    5.000100] CPU: 0 PID: 1 Comm: init Not tainted 6.1.0 #1\r\n"
    "[    5.000200] Call Trace:\r\n"
    "[    5.000300] ---[ end Kernel panic - not syncing: Attempted to kill init! ]---\r\n"
    "\033[2J\r\n\r\nComputer is booting, SAC started and initialized.\r\n\r\nSAC>"
    "2026-11-21T10:00:00Z Preparing to configure Windows. Do not turn off your computer.\r\n"
    "2026-11-21T10:45:00Z still nothing\r\n"
    "\a\a\a<?xml>\a<BP>\r\n<INSTANCE CLASSNAME=\"BLUESCREEN\">\r\n"
    "<PROPERTY NAME=\"STOPCODE\" TYPE=\"string\"><VALUE>\"0xE2\"</VALUE></PROPERTY><machine-info>\r\n"
    "<name>WIN-TEST</name>\r\n<os-build-number>20348</os-build-number>\r\n</machine-info>\r\n"
    "\r\n</INSTANCE>\r\n</BP>\a\n\r!SAC>";

struct sink {
	struct buf out;
};

static void on_event(void *ctx, const struct event *ev)
{
	struct sink *s = ctx;
	char *p = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&p, &n);
	event_write_json(ev, f);
	fclose(f);
	buf_append(&s->out, p, n);
	free(p);
}

static struct ruleset rs;
static struct match_db *db;

static int setup(void **state)
{
	(void)state;
	struct diags d = {0};
	int rc = rules_load_string(&rs, "pack.yaml", pack, &d);
	if (rc != 0)
		diags_print(&d, stderr);
	diags_free(&d);
	if (rc != 0)
		return -1;
	db = match_compile(&rs, &d);
	if (!db)
		diags_print(&d, stderr);
	diags_free(&d);
	return db ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	match_db_free(db);
	rules_free(&rs);
	return 0;
}

/* Feeds input in chunks: sizes[] cycles (0 = random from seed). */
static char *run(size_t fixed, unsigned seed)
{
	struct sink s = {0};
	struct pipeline *p = pipeline_new(&rs, db, CLOCK_LOG, "t", on_event, &s);
	size_t len = sizeof(input) - 1, pos = 0;
	unsigned x = seed ? seed : 1;
	while (pos < len) {
		size_t n = fixed;
		if (!n) {
			x = x * 1103515245u + 12345u;
			n = 1 + (x >> 16) % 97;
		}
		if (n > len - pos)
			n = len - pos;
		pipeline_feed(p, input + pos, n, 0);
		pos += n;
	}
	pipeline_finish(p);
	pipeline_free(p);
	return s.out.data ? s.out.data : xstrdup("");
}

static void test_split_invariance(void **state)
{
	(void)state;
	char *whole = run(sizeof(input), 0);
	size_t fixed[] = {1, 2, 3, 7, 64};
	for (size_t i = 0; i < ARRAY_LEN(fixed); i++) {
		char *other = run(fixed[i], 0);
		if (strcmp(whole, other) != 0)
			fprintf(stderr, "chunk %zu differs:\n--- whole\n%s--- split\n%s", fixed[i], whole,
			        other);
		assert_string_equal(whole, other);
		free(other);
	}
	for (unsigned seed = 1; seed <= 50; seed++) {
		char *other = run(0, seed);
		assert_string_equal(whole, other);
		free(other);
	}
	free(whole);
}

static void test_events(void **state)
{
	(void)state;
	char *out = run(sizeof(input), 0);
	/* Epochs: firmware → linux is one boot; SAC after linux is stage 40 > 30: same boot. */
	assert_non_null(strstr(out, "\"event\":\"epoch.started\""));
	assert_non_null(strstr(out, "\"marker\":\"firmware\""));
	/* The panic fires once its block is complete, with the reason captured. */
	const char *panic = strstr(out, "\"rule\":\"t-panic\"");
	assert_non_null(panic);
	assert_non_null(strstr(out, "\"title\":\"panic: Attempted to kill init! exitcode=0x00000009\""));
	assert_non_null(strstr(out, "\"block_complete\":true"));
	/* The hang: 45 minutes between the stage line and the next timestamp. */
	assert_non_null(strstr(out, "\"rule\":\"t-stuck\""));
	assert_non_null(strstr(out, "\"title\":\"stuck for 30m\"") ? "ok" : strstr(out, "stuck for 45m"));
	/* EMS bugcheck record → ems.bugcheck and the ems rule with a typed capture. */
	assert_non_null(strstr(out, "\"event\":\"ems.bugcheck\""));
	assert_non_null(strstr(out, "\"title\":\"bugcheck 0xE2\""));
	/* The !SAC> prompt at end of input (partial line). */
	assert_non_null(strstr(out, "\"rule\":\"t-prompt\""));
	free(out);
}

/* Syslog stamps carry no year: the pipeline's log clock takes the year
 * hint (the current year by default), and the line's fields (body after the
 * stamp, number, offset) reach the rules and the event. */
static const char syslog_pack[] = "schema: emsagent/v1\n"
                                  "id: t-auth\n"
                                  "title: auth failure\n"
                                  "level: high\n"
                                  "match:\n"
                                  "  f: {prefix: 'host sshd[1]: Failed password'}\n";

static char *run_syslog(const struct ruleset *srs, const struct match_db *sdb, int hint)
{
	static const char in[] = "Nov 20 23:59:59 host boot\n"
	                         "Nov 21 10:15:02 host sshd[1]: Failed password for root\n";
	struct sink s = {0};
	struct pipeline *p = pipeline_new(srs, sdb, CLOCK_LOG, "t", on_event, &s);
	if (hint)
		clock_set_year_hint(pipeline_clock(p), hint);
	pipeline_feed(p, in, sizeof(in) - 1, 0);
	pipeline_finish(p);
	pipeline_free(p);
	return s.out.data ? s.out.data : xstrdup("");
}

static void test_syslog_year(void **state)
{
	(void)state;
	struct ruleset srs;
	struct diags d = {0};
	assert_int_equal(rules_load_string(&srs, "syslog.yaml", syslog_pack, &d), 0);
	struct match_db *sdb = match_compile(&srs, &d);
	assert_non_null(sdb);
	diags_free(&d);

	char *out = run_syslog(&srs, sdb, 2024);
	assert_non_null(strstr(out, "\"rule\":\"t-auth\""));
	assert_non_null(strstr(out, "2024-11-21T10:15:02"));
	assert_non_null(strstr(out, "\"lineno\":2"));
	assert_non_null(strstr(out, "\"offset\":26"));
	free(out);

	/* by default: this year */
	time_t now = time(NULL);
	struct tm tm;
	assert_non_null(gmtime_r(&now, &tm));
	char want[32];
	snprintf(want, sizeof(want), "%04d-11-21T10:15:02", tm.tm_year + 1900);
	out = run_syslog(&srs, sdb, 0);
	assert_non_null(strstr(out, want));
	assert_null(strstr(out, "1970-"));
	free(out);

	match_db_free(sdb);
	rules_free(&srs);
}

/* A console labelled with an OS runs that OS's rules and the os: any ones. */
static void test_os_filter(void **state)
{
	(void)state;
	static const char osp[] = "schema: emsagent/v1\n"
	                          "id: t-win\ntitle: w\nlevel: high\nos: windows\n"
	                          "match: {a: {contains: 'STOP-HERE'}}\n"
	                          "---\n"
	                          "schema: emsagent/v1\n"
	                          "id: t-lin\ntitle: l\nlevel: high\nos: linux\n"
	                          "match: {a: {contains: 'STOP-HERE'}}\n"
	                          "---\n"
	                          "schema: emsagent/v1\n"
	                          "id: t-any\ntitle: x\nlevel: high\n"
	                          "match: {a: {contains: 'STOP-HERE'}}\n";
	struct ruleset ors = {0};
	struct diags d = {0};
	assert_int_equal(rules_load_string(&ors, "os.yaml", osp, &d), 0);
	struct match_db *odb = match_compile(&ors, &d);
	assert_non_null(odb);
	diags_free(&d);
	const enum rule_os which[] = {OS_ANY, OS_LINUX, OS_WINDOWS, (enum rule_os) - 1};
	const char *const want[][3] = {{"t-win", "t-lin", "t-any"},
	                               {"t-lin", "t-any", NULL},
	                               {"t-win", "t-any", NULL},
	                               {"t-any", NULL, NULL}};
	for (size_t k = 0; k < ARRAY_LEN(which); k++) {
		struct sink s = {0};
		struct pipeline *p = pipeline_new(&ors, odb, CLOCK_LOG, "t", on_event, &s);
		engine_set_os(pipeline_engine(p), which[k]);
		pipeline_feed(p, "x STOP-HERE y\n", 14, 0);
		pipeline_finish(p);
		pipeline_free(p);
		size_t fired = 0;
		for (const char *q = s.out.data; q && (q = strstr(q, "\"event\":\"rule.fired\"")); q++)
			fired++;
		size_t nwant = 0;
		for (size_t i = 0; i < 3 && want[k][i]; i++, nwant++) {
			char needle[64];
			snprintf(needle, sizeof(needle), "\"rule\":\"%s\"", want[k][i]);
			assert_non_null(strstr(s.out.data, needle));
		}
		assert_int_equal(fired, nwant);
		buf_free(&s.out);
	}
	match_db_free(odb);
	rules_free(&ors);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_split_invariance),
	    cmocka_unit_test(test_events),
	    cmocka_unit_test(test_os_filter),
	    cmocka_unit_test(test_syslog_year),
	};
	return cmocka_run_group_tests_name("pipeline", tests, setup, teardown);
}
