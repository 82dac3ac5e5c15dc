/*
 * test_sink.c — event sinks: JSON lines to a file (level filter, reopen,
 * text format), stdout through a pipe and a pty (colour only on a
 * terminal without NO_COLOR), syslog messages and priorities, bad specs,
 * and a failing sink that reports once and recovers.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <json-c/json.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "emsagent/line.h"
#include "emsagent/sink.h"
#include "emsagent/util.h"

#define T0 (INT64_C(1795256102) * NS_PER_SEC + 123 * NS_PER_MS) /* 2026-11-21T10:15:02.123Z */

static struct rule rule_high, rule_crit;
static char *remediation[] = {"Collect a dump first."};

static struct event rule_event(const struct rule *r)
{
	return (struct event){
	    .kind = EV_RULE_FIRED,
	    .time_ns = T0,
	    .time_flags = LINE_TIME_KNOWN | LINE_TIME_WALL,
	    .console = "vm1",
	    .rule = r,
	    .title = "Stuck",
	    .offset = 10,
	    .lineno = 2,
	    .line = "Preparing to configure Windows",
	    .line_len = 30,
	};
}

static struct event plain_event(void)
{
	return (struct event){
	    .kind = EV_CONSOLE_CONNECTED,
	    .time_ns = T0,
	    .time_flags = LINE_TIME_KNOWN | LINE_TIME_WALL,
	    .console = "vm1",
	};
}

struct tmp {
	char dir[64];
};

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	struct tmp *t = xcalloc(1, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "/tmp/emsagent-sink-XXXXXX");
	if (!mkdtemp(t->dir)) {
		free(t);
		return -1;
	}
	rule_high = (struct rule){.id = "R-high", .title = "t", .level = LEVEL_HIGH};
	rule_crit = (struct rule){.id = "R-crit",
	                          .title = "t",
	                          .level = LEVEL_CRITICAL,
	                          .remediation = remediation,
	                          .nremediation = 1};
	*state = t;
	alarm(30);
	return 0;
}

static int teardown(void **state)
{
	struct tmp *t = *state;
	nftw(t->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(t);
	alarm(0);
	return 0;
}

static void slurp(const char *path, struct buf *b)
{
	buf_reset(b);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	char tmp[4096];
	ssize_t n;
	while ((n = read(fd, tmp, sizeof(tmp))) > 0)
		buf_append(b, tmp, (size_t)n);
	close(fd);
	if (!b->data)
		buf_append(b, "", 0); /* an empty file is an empty string */
}

static size_t count_lines(const struct buf *b)
{
	size_t n = 0;
	for (size_t i = 0; i < b->len; i++)
		n += b->data[i] == '\n';
	return n;
}

/* Line i of b as JSON; checks the event name (and rule, when given). */
static void check_json_line(const struct buf *b, size_t i, const char *event, const char *rule)
{
	const char *p = b->data;
	for (size_t k = 0; k < i; k++) {
		p = strchr(p, '\n');
		assert_non_null(p);
		p++;
	}
	const char *e = strchr(p, '\n');
	assert_non_null(e);
	char *line = xstrndup(p, (size_t)(e - p));
	struct json_object *o = json_tokener_parse(line);
	if (!o)
		fail_msg("not JSON: %s", line);
	struct json_object *v;
	assert_true(json_object_object_get_ex(o, "event", &v));
	assert_string_equal(json_object_get_string(v), event);
	assert_true(json_object_object_get_ex(o, "console", &v));
	assert_string_equal(json_object_get_string(v), "vm1");
	if (rule) {
		assert_true(json_object_object_get_ex(o, "rule", &v));
		assert_string_equal(json_object_get_string(v), rule);
	} else {
		assert_false(json_object_object_get_ex(o, "rule", &v));
	}
	json_object_put(o);
	free(line);
}

static void add_ok(struct sinks *s, const struct sink_spec *spec)
{
	char err[256] = "";
	if (sinks_add(s, spec, err, sizeof(err)) != 0)
		fail_msg("sinks_add: %s", err);
}

/* ---- files ---- */

static void test_file_json_level_reopen(void **state)
{
	struct tmp *t = *state;
	char *all = xasprintf("%s/all.jsonl", t->dir);
	char *crit = xasprintf("%s/crit.jsonl", t->dir);
	struct sinks *s = sinks_new();
	add_ok(s, &(struct sink_spec){.type = SINK_FILE, .format = SINK_JSON, .path = all, .min_level = -1});
	add_ok(s, &(struct sink_spec){
	              .type = SINK_FILE, .format = SINK_JSON, .path = crit, .min_level = LEVEL_CRITICAL});
	struct stat st;
	assert_int_equal(stat(all, &st), 0);
	assert_int_equal(st.st_mode & 0077 & ~0040, 0); /* 0640 at most */

	struct event a = rule_event(&rule_high), b = plain_event(), c = rule_event(&rule_crit);
	sinks_emit(s, &a);
	sinks_emit(s, &b);
	sinks_emit(s, &c);
	sinks_flush(s);

	struct buf got = {0};
	slurp(all, &got);
	assert_int_equal(count_lines(&got), 3);
	check_json_line(&got, 0, "rule.fired", "R-high");
	check_json_line(&got, 1, "console.connected", NULL);
	check_json_line(&got, 2, "rule.fired", "R-crit");
	/* below the level: the high rule event is not sent; others always are */
	slurp(crit, &got);
	assert_int_equal(count_lines(&got), 2);
	check_json_line(&got, 0, "console.connected", NULL);
	check_json_line(&got, 1, "rule.fired", "R-crit");

	/* logrotate moves the file; after reopen the next event goes to a new one */
	char *moved = xasprintf("%s.1", all);
	assert_int_equal(rename(all, moved), 0);
	sinks_emit(s, &b); /* still into the moved file */
	sinks_reopen(s);
	sinks_emit(s, &c);
	slurp(moved, &got);
	assert_int_equal(count_lines(&got), 4);
	check_json_line(&got, 3, "console.connected", NULL);
	slurp(all, &got);
	assert_int_equal(count_lines(&got), 1);
	check_json_line(&got, 0, "rule.fired", "R-crit");
	sinks_free(s);

	/* Appending: a second sink set adds to what is there. */
	s = sinks_new();
	add_ok(s, &(struct sink_spec){.type = SINK_FILE, .format = SINK_JSON, .path = all, .min_level = -1});
	sinks_emit(s, &b);
	sinks_free(s);
	slurp(all, &got);
	assert_int_equal(count_lines(&got), 2);
	check_json_line(&got, 1, "console.connected", NULL);
	buf_free(&got);
	free(moved);
	free(all);
	free(crit);
}

static void test_file_text(void **state)
{
	struct tmp *t = *state;
	char *path = xasprintf("%s/events.txt", t->dir);
	struct sinks *s = sinks_new();
	/* colour is asked for but a file is not a terminal */
	add_ok(s, &(struct sink_spec){
	              .type = SINK_FILE, .format = SINK_TEXT, .path = path, .min_level = -1, .color = true});
	struct event c = rule_event(&rule_crit);
	sinks_emit(s, &c);
	sinks_free(s);
	struct buf got = {0};
	slurp(path, &got);
	assert_non_null(
	    strstr(got.data, "2026-11-21T10:15:02.123Z vm1 rule.fired R-crit [critical]: Stuck\n"));
	assert_null(strchr(got.data, '\033'));
	buf_free(&got);
	free(path);
}

/* ---- stdout ---- */

/* Runs emit with stdout sent to fd; restores it. */
static void with_stdout(int fd, void (*fn)(void *), void *ctx)
{
	fflush(stdout);
	int saved = dup(STDOUT_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fd, STDOUT_FILENO) >= 0);
	fn(ctx);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
}

struct stdout_case {
	bool color;
	enum sink_format format;
};

static void emit_two(void *ctx)
{
	const struct stdout_case *sc = ctx;
	struct sinks *s = sinks_new();
	char err[256] = "";
	int rc =
	    sinks_add(s,
	              &(struct sink_spec){
	                  .type = SINK_STDOUT, .format = sc->format, .min_level = -1, .color = sc->color},
	              err, sizeof(err));
	if (rc == 0) {
		struct event a = rule_event(&rule_high), b = plain_event();
		sinks_emit(s, &a);
		sinks_emit(s, &b);
		sinks_flush(s);
	}
	sinks_free(s);
}

static void read_all(int fd, struct buf *b)
{
	buf_reset(b);
	char tmp[4096];
	ssize_t n;
	while ((n = read(fd, tmp, sizeof(tmp))) > 0)
		buf_append(b, tmp, (size_t)n);
}

static void test_stdout_pipe(void **state)
{
	(void)state;
	struct buf got = {0};
	/* text, colour asked for, but a pipe is no terminal */
	int p[2];
	assert_int_equal(pipe(p), 0);
	struct stdout_case sc = {.color = true, .format = SINK_TEXT};
	with_stdout(p[1], emit_two, &sc);
	close(p[1]);
	read_all(p[0], &got);
	close(p[0]);
	assert_non_null(got.data);
	assert_non_null(strstr(got.data, "2026-11-21T10:15:02.123Z vm1 rule.fired R-high [high]: Stuck\n"
	                                 "    line 2, offset 10: Preparing to configure Windows\n"));
	assert_non_null(strstr(got.data, "vm1 console.connected\n"));
	assert_null(strchr(got.data, '\033'));

	/* JSON lines */
	assert_int_equal(pipe(p), 0);
	sc = (struct stdout_case){.format = SINK_JSON};
	with_stdout(p[1], emit_two, &sc);
	close(p[1]);
	read_all(p[0], &got);
	close(p[0]);
	assert_int_equal(count_lines(&got), 2);
	check_json_line(&got, 0, "rule.fired", "R-high");
	check_json_line(&got, 1, "console.connected", NULL);
	buf_free(&got);
}

static void test_stdout_tty_color(void **state)
{
	(void)state;
	struct buf got = {0};
	for (int no_color = 0; no_color < 2; no_color++) {
		int master, slave;
		assert_int_equal(openpty(&master, &slave, NULL, NULL, NULL), 0);
		/* raw: what is written comes back as written */
		struct termios tio;
		assert_int_equal(tcgetattr(slave, &tio), 0);
		cfmakeraw(&tio);
		assert_int_equal(tcsetattr(slave, TCSANOW, &tio), 0);
		if (no_color)
			setenv("NO_COLOR", "1", 1);
		else
			unsetenv("NO_COLOR");
		struct stdout_case sc = {.color = true, .format = SINK_TEXT};
		with_stdout(slave, emit_two, &sc);
		close(slave);
		buf_reset(&got);
		char tmp[4096];
		ssize_t n;
		while ((n = read(master, tmp, sizeof(tmp))) > 0)
			buf_append(&got, tmp, (size_t)n); /* EIO once the slave is closed */
		close(master);
		assert_non_null(got.data);
		assert_non_null(strstr(got.data, "R-high [high]"));
		if (no_color)
			assert_null(strchr(got.data, '\033'));
		else
			assert_non_null(strstr(got.data, "\033[31mrule.fired R-high [high]\033[0m"));
	}
	unsetenv("NO_COLOR");
	buf_free(&got);
}

/* ---- syslog ---- */

static void test_syslog_format(void **state)
{
	(void)state;
	static const struct {
		enum rule_level level;
		int prio;
	} map[] = {
	    {LEVEL_CRITICAL, LOG_CRIT}, {LEVEL_HIGH, LOG_ERR},  {LEVEL_MEDIUM, LOG_WARNING},
	    {LEVEL_LOW, LOG_NOTICE},    {LEVEL_INFO, LOG_INFO},
	};
	char msg[2048];
	for (size_t i = 0; i < ARRAY_LEN(map); i++) {
		struct rule r = {.id = "R", .title = "t", .level = map[i].level};
		struct event ev = rule_event(&r);
		assert_int_equal(sink_syslog_format(&ev, msg, sizeof(msg)), map[i].prio);
	}
	struct event plain = plain_event();
	assert_int_equal(sink_syslog_format(&plain, msg, sizeof(msg)), LOG_INFO);
	assert_string_equal(msg, "2026-11-21T10:15:02.123Z vm1 console.connected");

	/* The several lines of the text rendering as one, no colour. */
	struct event ev = rule_event(&rule_crit);
	assert_int_equal(sink_syslog_format(&ev, msg, sizeof(msg)), LOG_CRIT);
	assert_string_equal(msg, "2026-11-21T10:15:02.123Z vm1 rule.fired R-crit [critical]: Stuck"
	                         " | line 2, offset 10: Preparing to configure Windows"
	                         " | first step: Collect a dump first.");
	/* Console text with a newline cannot split the message either. */
	ev.line = "a\nb";
	ev.line_len = 3;
	sink_syslog_format(&ev, msg, sizeof(msg));
	assert_null(strchr(msg, '\n'));
	assert_null(strchr(msg, '\033'));
	/* Bounded by the buffer. */
	char small[20];
	sink_syslog_format(&ev, small, sizeof(small));
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_memory_equal(small, "2026-11-21T10:15:02", 19);

	assert_int_equal(sink_syslog_facility(NULL), LOG_DAEMON);
	assert_int_equal(sink_syslog_facility(""), LOG_DAEMON);
	assert_int_equal(sink_syslog_facility("daemon"), LOG_DAEMON);
	assert_int_equal(sink_syslog_facility("user"), LOG_USER);
	assert_int_equal(sink_syslog_facility("local0"), LOG_LOCAL0);
	assert_int_equal(sink_syslog_facility("local7"), LOG_LOCAL7);
	assert_int_equal(sink_syslog_facility("local8"), -1);
	assert_int_equal(sink_syslog_facility("kern"), -1);

	/* A syslog sink is accepted; an event below its level is not sent. */
	struct sinks *s = sinks_new();
	add_ok(s,
	       &(struct sink_spec){.type = SINK_SYSLOG, .facility = "local3", .min_level = LEVEL_CRITICAL});
	struct event low = rule_event(&rule_high);
	sinks_emit(s, &low);
	sinks_free(s);
}

/* ---- bad specs ---- */

static void test_add_errors(void **state)
{
	struct tmp *t = *state;
	struct sinks *s = sinks_new();
	char err[256];
	char *missing = xasprintf("%s/no/such/dir/e.jsonl", t->dir);
	static const struct {
		struct sink_spec spec;
		const char *needle;
	} bad[] = {
	    {{.type = SINK_SYSLOG, .facility = "mail", .min_level = -1}, "unknown facility 'mail'"},
	    {{.type = SINK_FILE, .format = SINK_JSON, .min_level = -1}, "no path"},
	    {{.type = SINK_FILE, .format = SINK_JSON, .path = "", .min_level = -1}, "no path"},
	    {{.type = SINK_STDOUT, .min_level = 5}, "level 5"},
	    {{.type = SINK_STDOUT, .min_level = -2}, "level -2"},
	    {{.type = (enum sink_type)9, .min_level = -1}, "unknown type"},
	    {{.type = SINK_STDOUT, .format = (enum sink_format)7, .min_level = -1}, "unknown format"},
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		err[0] = '\0';
		assert_int_equal(sinks_add(s, &bad[i].spec, err, sizeof(err)), -1);
		if (!strstr(err, bad[i].needle))
			fail_msg("case %zu: '%s' lacks '%s'", i, err, bad[i].needle);
	}
	struct sink_spec f = {.type = SINK_FILE, .format = SINK_JSON, .path = missing, .min_level = -1};
	assert_int_equal(sinks_add(s, &f, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file or directory"));
	assert_non_null(strstr(err, missing));
	/* nothing was added: emitting goes nowhere and does not crash */
	struct event b = plain_event();
	sinks_emit(s, &b);
	sinks_free(s);
	free(missing);
}

/* ---- a failing sink ---- */

static void test_failing_sink(void **state)
{
	struct tmp *t = *state;
	char *path = xasprintf("%s/full.jsonl", t->dir);
	char *ok = xasprintf("%s/ok.jsonl", t->dir);
	/* a disk that is full: writes fail with ENOSPC */
	assert_int_equal(symlink("/dev/full", path), 0);
	struct sinks *s = sinks_new();
	add_ok(s, &(struct sink_spec){.type = SINK_FILE, .format = SINK_JSON, .path = path, .min_level = -1});
	add_ok(s, &(struct sink_spec){.type = SINK_FILE, .format = SINK_JSON, .path = ok, .min_level = -1});

	int p[2];
	assert_int_equal(pipe(p), 0);
	fflush(stderr);
	int saved = dup(STDERR_FILENO);
	dup2(p[1], STDERR_FILENO);
	close(p[1]);
	struct event b = plain_event();
	sinks_emit(s, &b);
	sinks_emit(s, &b);
	sinks_emit(s, &b);
	/* the disk has room again (the file is replaced; reopen picks it up) */
	unlink(path);
	sinks_reopen(s);
	sinks_emit(s, &b);
	sinks_emit(s, &b);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	struct buf got = {0};
	read_all(p[0], &got);
	close(p[0]);
	sinks_free(s);

	assert_non_null(got.data);
	const char *first = strstr(got.data, "event sink ");
	assert_non_null(first);
	assert_non_null(strstr(got.data, "No space left on device"));
	/* one report for the failure, one when it works again */
	assert_int_equal(count_lines(&got), 2);
	assert_non_null(strstr(got.data, "works again (3 events lost)"));
	/* the other sink was not disturbed */
	slurp(ok, &got);
	assert_int_equal(count_lines(&got), 5);
	slurp(path, &got);
	assert_int_equal(count_lines(&got), 2);
	buf_free(&got);
	free(path);
	free(ok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_file_json_level_reopen, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_file_text, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stdout_pipe, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stdout_tty_color, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_syslog_format, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_add_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_failing_sink, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
