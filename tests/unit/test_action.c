/*
 * test_action.c — actions on a real loop: exec children (event JSON on
 * stdin, EMSAGENT_* environment, output captured and bounded, exit status,
 * timeout with SIGTERM then SIGKILL, a program that is not there, PATH
 * search, the concurrency cap), send with escapes and BREAK positions, the
 * policy, require, cooldown, max_per_epoch, delays cancelled by a resolve or
 * a new epoch, and the kinds whose back-ends are missing.
 * Test programs are small scripts written into a mkdtemp directory.
 * Every test runs under an alarm() guard.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "emsagent/action.h"
#include "emsagent/line.h"
#include "emsagent/loop.h"
#include "emsagent/util.h"

#define MS(x) ((int64_t)(x)*NS_PER_MS)

struct rec {
	enum event_kind kind;
	enum action_kind akind;
	char trigger[32];
	char rule[64];
	char console[32];
	char *reason;
	int exit_status;
	char *output;
	size_t output_len;
};

struct t {
	struct loop *l;
	char dir[64];
	struct kv labels[2];
	struct action_policy policy;
	struct action_env env;
	struct actions *a;
	struct rec recs[64];
	size_t nrecs;
	size_t want_ends; /* stop the loop after this many done/failed/skipped */
	size_t ends;
	struct buf sent; /* what send/send_break wrote; a BREAK shows as <BRK:ms> */
	int send_rc, break_rc;
	bool cap_break, cap_sac;
};

static void on_emit(void *ctx, const struct event *ev)
{
	struct t *t = ctx;
	assert_true(t->nrecs < ARRAY_LEN(t->recs));
	struct rec *r = &t->recs[t->nrecs++];
	memset(r, 0, sizeof(*r));
	r->kind = ev->kind;
	assert_non_null(ev->action);
	r->akind = ev->action->kind;
	snprintf(r->trigger, sizeof(r->trigger), "%s", ev->trigger ? ev->trigger : "");
	snprintf(r->rule, sizeof(r->rule), "%s", ev->rule ? ev->rule->id : "");
	snprintf(r->console, sizeof(r->console), "%s", ev->console ? ev->console : "");
	r->reason = ev->reason ? strdup(ev->reason) : NULL;
	r->exit_status = ev->exit_status;
	if (ev->output) {
		r->output = malloc(ev->output_len + 1);
		memcpy(r->output, ev->output, ev->output_len);
		r->output[ev->output_len] = '\0';
		r->output_len = ev->output_len;
	}
	/* every action event carries the console's labels */
	assert_int_equal(ev->nlabels, 2);
	if (ev->kind != EV_ACTION_STARTED && ++t->ends == t->want_ends)
		loop_stop(t->l, 0);
}

static int t_send(void *ctx, const void *buf, size_t n)
{
	struct t *t = ctx;
	if (t->send_rc)
		return t->send_rc;
	buf_append(&t->sent, buf, n);
	return 0;
}

static int t_break(void *ctx, unsigned ms)
{
	struct t *t = ctx;
	if (t->break_rc)
		return t->break_rc;
	buf_printf(&t->sent, "<BRK:%u>", ms);
	return 0;
}

static bool t_has_cap(void *ctx, const char *cap)
{
	struct t *t = ctx;
	if (strcmp(cap, "write") == 0)
		return true;
	if (strcmp(cap, "break") == 0)
		return t->cap_break;
	if (strcmp(cap, "sac") == 0)
		return t->cap_sac;
	return false;
}

static int setup(void **state)
{
	alarm(30);
	struct t *t = calloc(1, sizeof(*t));
	t->l = loop_new();
	assert_non_null(t->l);
	snprintf(t->dir, sizeof(t->dir), "/tmp/test_action.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	t->labels[0] = (struct kv){.key = "os", .value = "windows"};
	t->labels[1] = (struct kv){.key = "site-name", .value = "ams 1"};
	action_policy_default(&t->policy);
	t->cap_break = true;
	t->env = (struct action_env){
	    .loop = t->l,
	    .console = "vm1",
	    .labels = t->labels,
	    .nlabels = 2,
	    .policy = &t->policy,
	    .ctx = t,
	    .send = t_send,
	    .send_break = t_break,
	    .has_cap = t_has_cap,
	    .emit = on_emit,
	};
	t->a = actions_new(&t->env);
	*state = t;
	return 0;
}

static void on_settle(struct loop *l, void *ctx)
{
	(void)ctx;
	loop_stop(l, 0);
}

static int teardown(void **state)
{
	struct t *t = *state;
	actions_free(t->a);
	/* let the loop reap children that actions_free told to go */
	loop_timer_in(t->l, MS(300), on_settle, NULL);
	loop_run(t->l);
	loop_free(t->l);
	for (size_t i = 0; i < t->nrecs; i++) {
		free(t->recs[i].reason);
		free(t->recs[i].output);
	}
	buf_free(&t->sent);
	char *cmd = xasprintf("rm -rf '%s'", t->dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(t);
	alarm(0);
	return 0;
}

static void on_too_long(struct loop *l, void *ctx)
{
	(void)ctx;
	loop_stop(l, 1);
}

/* Runs the loop until want more action endings arrive (or ms pass: fails). */
static void run_until_ends(struct t *t, size_t more, int ms)
{
	t->want_ends = t->ends + more;
	uint64_t guard = loop_timer_in(t->l, MS(ms), on_too_long, NULL);
	int rc = loop_run(t->l);
	loop_timer_cancel(t->l, guard);
	if (rc != 0)
		fprintf(stderr, "only %zu of %zu action endings in %d ms\n", t->ends, t->want_ends, ms);
	assert_int_equal(rc, 0);
}

/* Runs the loop for ms, whatever happens. */
static void run_for(struct t *t, int ms)
{
	t->want_ends = SIZE_MAX;
	loop_timer_in(t->l, MS(ms), on_settle, NULL);
	loop_run(t->l);
}

static char *write_script(struct t *t, const char *name, const char *body)
{
	char *path = xasprintf("%s/%s", t->dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	assert_int_equal(chmod(path, 0755), 0);
	return path;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	struct buf b = {0};
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&b, chunk, n);
	fclose(f);
	if (!b.data)
		buf_append(&b, "", 0);
	return b.data;
}

static struct rule make_rule(const char *id, struct action *acts, size_t n)
{
	return (struct rule){
	    .id = (char *)id, .title = "t", .level = LEVEL_CRITICAL, .actions = acts, .nactions = n};
}

static void fire(struct t *t, enum event_kind kind, const struct rule *r, const struct kv *caps, size_t ncaps)
{
	struct event ev = {
	    .kind = kind,
	    .time_ns = loop_now(t->l),
	    .time_flags = LINE_TIME_KNOWN,
	    .rule = r,
	    .title = "Hung at 'Preparing' for 31m",
	    .epoch = 3,
	    .offset = 1234,
	    .lineno = 56,
	    .line = "Preparing to configure Windows",
	    .line_len = 30,
	    .captures = caps,
	    .ncaptures = ncaps,
	    .exit_status = -1,
	};
	actions_on_event(t->a, &ev);
}

static void epoch(struct t *t)
{
	struct event ev = {.kind = EV_EPOCH_STARTED, .epoch = 4, .marker = "bootmgr", .exit_status = -1};
	actions_on_event(t->a, &ev);
}

static const struct rec *last(const struct t *t)
{
	assert_true(t->nrecs > 0);
	return &t->recs[t->nrecs - 1];
}

static void assert_rec(const struct rec *r, enum event_kind kind, const char *reason)
{
	if (r->kind != kind || (reason && (!r->reason || strcmp(r->reason, reason) != 0)) ||
	    (!reason && r->reason))
		fprintf(stderr, "got %s reason '%s', want %s '%s'\n", event_kind_name(r->kind),
		        r->reason ? r->reason : "(none)", event_kind_name(kind), reason ? reason : "(none)");
	assert_int_equal(r->kind, kind);
	if (reason)
		assert_string_equal(r->reason, reason);
	else
		assert_null(r->reason);
}

/* --- exec ----------------------------------------------------------------- */

static void test_exec_stdin_env_output(void **state)
{
	struct t *t = *state;
	setenv("EMSAGENT_STALE", "from the agent's own environment", 1);
	char *prog = write_script(t, "hook",
	                          "cat > \"$1/stdin.json\"\n"
	                          "env | grep '^EMSAGENT_' | sort > \"$1/env.txt\"\n"
	                          "echo \"hello from $2\"\necho oops >&2\n"
	                          "[ -e /proc/$$/fd/$3 ] && echo \"fd $3 leaked\"\nexit 0");
	/* an fd of the agent's without close-on-exec must not reach the child */
	int leak = open("/dev/null", O_RDONLY);
	assert_true(leak > 2);
	char leakno[16];
	snprintf(leakno, sizeof(leakno), "%d", leak);
	char *argv[] = {prog, t->dir, "arg two", leakno};
	struct action act = {.kind = ACT_EXEC, .on = ACT_ON_FIRE, .argv = argv, .argc = 4};
	struct rule r = make_rule("OSStartUp-PREPARING", &act, 1);
	/* console text with shell metacharacters: it must arrive verbatim */
	struct kv caps[] = {{"pct", "40"}, {"stop-code", "$(touch pwned); \"x\" `id`"}};
	fire(t, EV_RULE_FIRED, &r, caps, 2);
	assert_int_equal(actions_running(t->a), 1);
	assert_rec(last(t), EV_ACTION_STARTED, NULL);
	assert_string_equal(last(t)->trigger, "rule.fired");
	assert_string_equal(last(t)->rule, "OSStartUp-PREPARING");
	assert_string_equal(last(t)->console, "vm1");
	run_until_ends(t, 1, 10000);
	assert_int_equal(actions_running(t->a), 0);
	const struct rec *e = last(t);
	assert_rec(e, EV_ACTION_DONE, NULL);
	assert_int_equal(e->akind, ACT_EXEC);
	assert_int_equal(e->exit_status, 0);
	assert_non_null(strstr(e->output, "hello from arg two\n"));
	assert_non_null(strstr(e->output, "oops\n"));
	assert_null(strstr(e->output, "leaked"));
	close(leak);

	char *path = xasprintf("%s/stdin.json", t->dir);
	char *js = read_file(path);
	free(path);
	assert_non_null(js);
	assert_true(strlen(js) > 0 && js[strlen(js) - 1] == '\n');
	struct json_object *o = json_tokener_parse(js), *v, *lab, *cap;
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "event", &v));
	assert_string_equal(json_object_get_string(v), "rule.fired");
	assert_true(json_object_object_get_ex(o, "console", &v));
	assert_string_equal(json_object_get_string(v), "vm1");
	assert_true(json_object_object_get_ex(o, "rule", &v));
	assert_string_equal(json_object_get_string(v), "OSStartUp-PREPARING");
	assert_true(json_object_object_get_ex(o, "time", &v)); /* made a wall time */
	assert_true(json_object_object_get_ex(o, "labels", &lab));
	assert_true(json_object_object_get_ex(lab, "os", &v));
	assert_string_equal(json_object_get_string(v), "windows");
	assert_true(json_object_object_get_ex(o, "captures", &cap));
	assert_true(json_object_object_get_ex(cap, "stop-code", &v));
	assert_string_equal(json_object_get_string(v), "$(touch pwned); \"x\" `id`");
	json_object_put(o);
	free(js);

	path = xasprintf("%s/env.txt", t->dir);
	char *env = read_file(path);
	free(path);
	assert_non_null(env);
	assert_non_null(strstr(env, "EMSAGENT_CONSOLE=vm1\n"));
	assert_non_null(strstr(env, "EMSAGENT_EVENT=rule.fired\n"));
	assert_non_null(strstr(env, "EMSAGENT_RULE=OSStartUp-PREPARING\n"));
	assert_non_null(strstr(env, "EMSAGENT_LEVEL=critical\n"));
	assert_non_null(strstr(env, "EMSAGENT_TITLE=Hung at 'Preparing' for 31m\n"));
	assert_non_null(strstr(env, "EMSAGENT_EPOCH=3\n"));
	assert_non_null(strstr(env, "EMSAGENT_LABEL_OS=windows\n"));
	assert_non_null(strstr(env, "EMSAGENT_LABEL_SITE_NAME=ams 1\n"));
	assert_non_null(strstr(env, "EMSAGENT_CAP_PCT=40\n"));
	assert_non_null(strstr(env, "EMSAGENT_CAP_STOP_CODE=$(touch pwned); \"x\" `id`\n"));
	assert_null(strstr(env, "EMSAGENT_STALE"));
	free(env);
	/* nothing was run by a shell with the capture in it */
	path = xasprintf("%s/pwned", t->dir);
	assert_int_not_equal(access(path, F_OK), 0);
	assert_int_not_equal(access("pwned", F_OK), 0);
	free(path);
	unsetenv("EMSAGENT_STALE");
	free(prog);
}

static void test_exec_exit_status(void **state)
{
	struct t *t = *state;
	char *prog = write_script(t, "fail", "echo bad; exit 3");
	char *argv[] = {prog};
	struct action act = {.kind = ACT_EXEC, .on = ACT_ON_FIRE, .argv = argv, .argc = 1};
	struct rule r = make_rule("R", &act, 1);
	fire(t, EV_RULE_FIRED, &r, NULL, 0);
	run_until_ends(t, 1, 10000);
	assert_rec(last(t), EV_ACTION_FAILED, "exit 3");
	assert_int_equal(last(t)->exit_status, 3);
	assert_string_equal(last(t)->output, "bad\n");
	free(prog);

	/* killed by a signal: no exit status, the signal named */
	prog = write_script(t, "selfkill", "kill -USR1 $$");
	argv[0] = prog;
	fire(t, EV_RULE_FIRED, &r, NULL, 0);
	run_until_ends(t, 1, 10000);
	assert_rec(last(t), EV_ACTION_FAILED, "killed by signal 10 (SIGUSR1)");
	assert_int_equal(last(t)->exit_status, -1);
	free(prog);
}

static void test_exec_not_found_and_path(void **state)
{
	struct t *t = *state;
	char *argv[] = {"emsagent-no-such-program-xyz", "a"};
	struct action act = {.kind = ACT_EXEC, .on = ACT_ON_FIRE, .argv = argv, .argc = 2};
	struct rule r = make_rule("R", &act, 1);
	fire(t, EV_RULE_FIRED, &r, NULL, 0);
	/* decided and ended at once: no child */
	assert_int_equal(t->nrecs, 2);
	assert_rec(&t->recs[0], EV_ACTION_STARTED, NULL);
	assert_rec(&t->recs[1], EV_ACTION_FAILED,
	           "cannot run emsagent-no-such-program-xyz: No such file or directory");
	assert_int_equal(actions_running(t->a), 0);

	/* a file that is not executable */
	char *noexec = xasprintf("%s/plain.txt", t->dir);
	FILE *f = fopen(noexec, "w");
	fputs("not a program\n", f);
	fclose(f);
	argv[0] = noexec;
	fire(t, EV_RULE_FIRED, &r, NULL, 0);
	char *want = xasprintf("cannot run %s: Permission denied", noexec);
	assert_rec(last(t), EV_ACTION_FAILED, want);
	free(want);
	free(noexec);

	/* argv[0] without a slash is searched in PATH */
	char *prog = write_script(t, "emsagent-test-hook", "echo found in path");
	const char *old = getenv("PATH");
	char *saved = xstrdup(old ? old : "/usr/bin:/bin");
	char *path = xasprintf("%s:%s", t->dir, saved);
	setenv("PATH", path, 1);
	argv[0] = "emsagent-test-hook";
	fire(t, EV_RULE_FIRED, &r, NULL, 0);
	setenv("PATH", saved, 1);
	run_until_ends(t, 1, 10000);
	assert_rec(last(t), EV_ACTION_DONE, NULL);
	assert_string_equal(last(t)->output, "found in path\n");
	free(saved);
	free(path);
	free(prog);
}

static void test_exec_timeout(void **state)
{
	struct t *t = *state;
	char *prog = write_script(t, "slow", "echo starting; exec sleep 30");
	char *argv[] = {prog};
	struct action act = {
	    .kind = ACT_EXEC, .on = ACT_ON_FIRE, .argv = argv, .argc = 1, .timeout_ns = MS(200)};
	struct rule r = make_rule("R", &act, 1);
	int64_t t0 = loop_now(t->l);
	fire(t, EV_RULE_FIRED, &r, NULL, 0);
	run_until_ends(t, 1, 5000);
	int64_t took = loop_now(t->l) - t0;
	assert_rec(last(t), EV_ACTION_FAILED, "timeout");
	assert_int_equal(last(t)->exit_status, -1);
	assert_string_equal(last(t)->output, "starting\n");
	assert_true(took >= MS(200) && took < MS(1500));
	free(prog);
}

static void test_exec_timeout_kill(void **state)
{
	struct t *t = *state;
	/* ignores SIGTERM (and so does its sleep): SIGKILL 2 s later ends both */
	char *prog = write_script(t, "stubborn", "trap '' TERM\necho $$ > \"$1/pid\"\nsleep 30\necho never");
	char *argv[] = {prog, t->dir};
	struct action act = {
	    .kind = ACT_EXEC, .on = ACT_ON_FIRE, .argv = argv, .argc = 2, .timeout_ns = MS(100)};
	struct rule r = make_rule("R", &act, 1);
	int64_t t0 = loop_now(t->l);
	fire(t, EV_RULE_FIRED, &r, NULL, 0);
	run_until_ends(t, 1, 6000);
	int64_t took = loop_now(t->l) - t0;
	assert_rec(last(t), EV_ACTION_FAILED, "timeout");
	assert_true(took >= MS(2100) && took < MS(4000));
	assert_null(strstr(last(t)->output, "never"));
	free(prog);
}

static void test_exec_output_bounded_stdin_unread(void **state)
{
	struct t *t = *state;
	/* never reads stdin, writes far more than is kept */
	char *prog = write_script(
	    t, "chatty", "echo ${#EMSAGENT_CAP_BIG} > \"$1/len\"\nhead -c 200000 /dev/zero | tr '\\0' a");
	char *argv[] = {prog, t->dir};
	struct action act = {.kind = ACT_EXEC, .on = ACT_ON_FIRE, .argv = argv, .argc = 2};
	struct rule r = make_rule("R", &act, 1);
	/* an event bigger than a pipe holds: writing it must not block the loop */
	char *big = malloc(300001);
	memset(big, 'x', 300000);
	big[300000] = '\0';
	struct kv caps[] = {{"big", big}};
	fire(t, EV_RULE_FIRED, &r, caps, 1);
	free(big);
	run_until_ends(t, 1, 10000);
	const struct rec *e = last(t);
	assert_rec(e, EV_ACTION_DONE, NULL);
	assert_true(e->output_len > 65536);
	for (size_t i = 0; i < 65536; i++)
		if (e->output[i] != 'a')
			fail_msg("byte %zu of the output is %d", i, e->output[i]);
	assert_string_equal(e->output + 65536, "\n[134464 more bytes of output not kept]");
	/* a huge capture is cut in the environment (the JSON has all of it) */
	char *path = xasprintf("%s/len", t->dir);
	char *len = read_file(path);
	assert_string_equal(len, "4096\n");
	free(len);
	free(path);
	free(prog);
}

static void test_exec_concurrency_cap(void **state)
{
	struct t *t = *state;
	char *prog = write_script(t, "wait", "exec sleep 20");
	char *argv[] = {prog};
	struct action acts[9];
	for (size_t i = 0; i < 9; i++)
		acts[i] = (struct action){.kind = ACT_EXEC, .on = ACT_ON_FIRE, .argv = argv, .argc = 1};
	struct rule r = make_rule("R", acts, 9);
	fire(t, EV_RULE_FIRED, &r, NULL, 0);
	assert_int_equal(actions_running(t->a), 8);
	assert_int_equal(t->nrecs, 9);
	for (size_t i = 0; i < 8; i++)
		assert_rec(&t->recs[i], EV_ACTION_STARTED, NULL);
	assert_rec(&t->recs[8], EV_ACTION_SKIPPED, "too many running");
	/* teardown's actions_free sends SIGTERM; the loop reaps them */
	free(prog);
}

static void test_free_with_delayed_and_running(void **state)
{
	struct t *t = *state;
	char *prog = write_script(t, "wait", "trap '' TERM; sleep 20");
	char *argv[] = {prog};
	struct action acts[] = {
	    {.kind = ACT_EXEC, .on = ACT_ON_FIRE, .argv = argv, .argc = 1},
	    {.kind = ACT_SEND, .on = ACT_ON_FIRE, .text = "x", .delay_ns = MS(10000)},
	};
	struct rule r = make_rule("R", acts, 2);
	fire(t, EV_RULE_FIRED, &r, NULL, 0);
	assert_int_equal(actions_running(t->a), 1);
	actions_free(t->a);
	t->a = NULL;
	/* the orphan ignores SIGTERM: SIGKILL after 2 s, then reaped */
	run_for(t, 2400);
	assert_int_equal(t->sent.len, 0);
	free(prog);
}

/* --- send ----------------------------------------------------------------- */

static void test_send_unescape(void **state)
{
	(void)state;
	char out[64];
	size_t n, br[4], nb;
	assert_int_equal(
	    action_send_unescape("a\\r\\n\\t\\e\\x41\\x7f\\\\z", out, sizeof(out), &n, br, 4, &nb), 0);
	assert_int_equal(n, 9);
	assert_memory_equal(out,
	                    "a\r\n\t\x1b"
	                    "A\x7f\\z",
	                    9);
	assert_int_equal(nb, 0);
	assert_int_equal(action_send_unescape("\\bc\\r\\b", out, sizeof(out), &n, br, 4, &nb), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(out, "c\r", 2);
	assert_int_equal(nb, 2);
	assert_int_equal(br[0], 0);
	assert_int_equal(br[1], 2);
	assert_int_equal(action_send_unescape("\\x00", out, sizeof(out), &n, br, 4, &nb), 0);
	assert_int_equal(n, 1);
	assert_int_equal(out[0], 0);
	assert_int_equal(action_send_unescape("", out, sizeof(out), &n, br, 4, &nb), 0);
	assert_int_equal(n, 0);
	static const char *const bad[] = {"\\q", "\\x4", "\\xZZ", "\\x", "abc\\", "\\B"};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		assert_int_equal(action_send_unescape(bad[i], out, sizeof(out), &n, br, 4, &nb), -1);
	/* bounds: output and breaks */
	assert_int_equal(action_send_unescape("abcd", out, 4, &n, br, 4, &nb), 0);
	assert_int_equal(action_send_unescape("abcde", out, 4, &n, br, 4, &nb), -1);
	assert_int_equal(action_send_unescape("\\b\\b\\b\\b", out, sizeof(out), &n, br, 4, &nb), 0);
	assert_int_equal(action_send_unescape("\\b\\b\\b\\b\\b", out, sizeof(out), &n, br, 4, &nb), -1);
}

static void test_send_action(void **state)
{
	struct t *t = *state;
	struct action act = {.kind = ACT_SEND, .on = ACT_ON_FIRE, .text = "ab\\bc\\r\\b\\x1b"};
	struct rule r = make_rule("R", &act, 1);
	fire(t, EV_RULE_FIRED, &r, NULL, 0);
	assert_int_equal(t->nrecs, 2);
	assert_rec(&t->recs[0], EV_ACTION_STARTED, NULL);
	assert_rec(&t->recs[1], EV_ACTION_DONE, NULL);
	assert_string_equal(t->recs[1].output, "ab\\bc\\r\\b\\x1b");
	assert_int_equal(t->sent.len, strlen("ab<BRK:250>c\r<BRK:250>\x1b"));
	assert_string_equal(t->sent.data, "ab<BRK:250>c\r<BRK:250>\x1b");

	/* no BREAK on this console: refused before anything is written */
	buf_reset(&t->sent);
	t->cap_break = false;
	fire(t, EV_RULE_FIRED, &r, NULL, 0);
	assert_rec(last(t), EV_ACTION_FAILED, "this console cannot send a BREAK");
	assert_int_equal(t->sent.len, 0);

	/* a write that fails */
	struct action plain = {.kind = ACT_SEND, .on = ACT_ON_FIRE, .text = "t\\r"};
	struct rule r2 = make_rule("R2", &plain, 1);
	t->send_rc = -ENOTCONN;
	fire(t, EV_RULE_FIRED, &r2, NULL, 0);
	assert_rec(last(t), EV_ACTION_FAILED, "cannot send: Transport endpoint is not connected");
	t->send_rc = 0;

	/* a BREAK the transport refuses */
	t->cap_break = true;
	t->break_rc = -ENOTSUP;
	struct action brk = {.kind = ACT_SEND, .on = ACT_ON_FIRE, .text = "\\b"};
	struct rule r3 = make_rule("R3", &brk, 1);
	fire(t, EV_RULE_FIRED, &r3, NULL, 0);
	assert_rec(last(t), EV_ACTION_FAILED, "cannot send a BREAK: Operation not supported");
	t->break_rc = 0;

	/* bad escapes fail the action, with the text shown */
	struct action bad = {.kind = ACT_SEND, .on = ACT_ON_FIRE, .text = "x\\q"};
	struct rule r4 = make_rule("R4", &bad, 1);
	fire(t, EV_RULE_FIRED, &r4, NULL, 0);
	assert_int_equal(last(t)->kind, EV_ACTION_FAILED);
	assert_non_null(strstr(last(t)->reason, "bad send text"));
	assert_string_equal(last(t)->output, "x\\q");
}

/* --- policy and the missing back-ends -------------------------------------- */

static void test_policy(void **state)
{
	struct t *t = *state;
	char *argv[] = {"true"};
	struct action acts[] = {
	    {.kind = ACT_DUMP, .on = ACT_ON_FIRE, .method = "auto"},
	    {.kind = ACT_RESTART, .on = ACT_ON_FIRE},
	    {.kind = ACT_ALERT, .on = ACT_ON_FIRE},
	};
	struct rule r = make_rule("R", acts, 3);
	/* default policy: dump and restart are not allowed; alert is the event itself */
	fire(t, EV_RULE_FIRED, &r, NULL, 0);
	assert_int_equal(t->nrecs, 2);
	assert_rec(&t->recs[0], EV_ACTION_SKIPPED, "not allowed");
	assert_int_equal(t->recs[0].akind, ACT_DUMP);
	assert_rec(&t->recs[1], EV_ACTION_SKIPPED, "not allowed");
	assert_int_equal(t->recs[1].akind, ACT_RESTART);

	/* allowed: they fail with what is missing on this console */
	t->policy.allow_dump = true;
	t->policy.allow_restart = true;
	fire(t, EV_RULE_FIRED, &r, NULL, 0);
	assert_int_equal(t->nrecs, 6);
	assert_rec(&t->recs[2], EV_ACTION_STARTED, NULL);
	assert_rec(&t->recs[3], EV_ACTION_FAILED,
	           "no SAC client on this console and no control plane configured");
	assert_rec(&t->recs[5], EV_ACTION_FAILED, "no control plane configured");
	for (size_t i = 0; i < t->nrecs; i++)
		if (t->recs[i].reason)
			assert_null(strstr(t->recs[i].reason, "not implemented"));

	struct action more[] = {
	    {.kind = ACT_DUMP, .on = ACT_ON_FIRE, .method = "nmi"},
	    {.kind = ACT_DUMP, .on = ACT_ON_FIRE, .method = "sac"},
	    {.kind = ACT_SAC, .on = ACT_ON_FIRE, .text = "t"},
	};
	struct rule r2 = make_rule("R2", more, 3);
	t->cap_sac = true; /* even a console that says it has one: actions cannot reach it yet */
	fire(t, EV_RULE_FIRED, &r2, NULL, 0);
	assert_int_equal(t->nrecs, 12);
	assert_rec(&t->recs[7], EV_ACTION_FAILED, "no control plane configured");
	assert_rec(&t->recs[9], EV_ACTION_FAILED, "no SAC client on this console");
	assert_rec(&t->recs[11], EV_ACTION_FAILED, "no SAC client on this console");

	/* exec and send can be denied */
	t->policy.allow_exec = false;
	t->policy.allow_send = false;
	struct action denied[] = {
	    {.kind = ACT_EXEC, .on = ACT_ON_FIRE, .argv = argv, .argc = 1},
	    {.kind = ACT_SEND, .on = ACT_ON_FIRE, .text = "x"},
	};
	struct rule r3 = make_rule("R3", denied, 2);
	fire(t, EV_RULE_FIRED, &r3, NULL, 0);
	assert_int_equal(t->nrecs, 14);
	assert_rec(&t->recs[12], EV_ACTION_SKIPPED, "not allowed");
	assert_rec(&t->recs[13], EV_ACTION_SKIPPED, "not allowed");
	assert_int_equal(actions_running(t->a), 0);
	assert_int_equal(t->sent.len, 0);
}

static void test_require_and_triggers(void **state)
{
	struct t *t = *state;
	struct action acts[] = {
	    {.kind = ACT_SEND,
	     .on = ACT_ON_FIRE,
	     .text = "F",
	     .require = (char *[]){"break", "sac"},
	     .nrequire = 2},
	    {.kind = ACT_SEND, .on = ACT_ON_PENDING, .text = "P"},
	    {.kind = ACT_SEND, .on = ACT_ON_RESOLVE, .text = "R"},
	};
	struct rule r = make_rule("R", acts, 3);
	fire(t, EV_RULE_FIRED, &r, NULL, 0);
	assert_int_equal(t->nrecs, 1);
	assert_rec(last(t), EV_ACTION_SKIPPED, "missing capability 'sac'");
	t->cap_sac = true;
	fire(t, EV_RULE_PENDING, &r, NULL, 0);
	fire(t, EV_RULE_FIRED, &r, NULL, 0);
	fire(t, EV_RULE_RESOLVED, &r, NULL, 0);
	fire(t, EV_RULE_UNCERTAIN, &r, NULL, 0); /* nothing runs on uncertain */
	assert_string_equal(t->sent.data, "PFR");
	assert_string_equal(last(t)->trigger, "rule.resolved");
	assert_int_equal(t->nrecs, 7);
}

/* --- cooldown, budget, delay ----------------------------------------------- */

static void test_cooldown(void **state)
{
	struct t *t = *state;
	struct action act = {.kind = ACT_SEND, .on = ACT_ON_FIRE, .text = "x", .cooldown_ns = MS(150)};
	struct rule r = make_rule("R", &act, 1);
	fire(t, EV_RULE_FIRED, &r, NULL, 0);
	assert_rec(last(t), EV_ACTION_DONE, NULL);
	fire(t, EV_RULE_FIRED, &r, NULL, 0);
	assert_int_equal(last(t)->kind, EV_ACTION_SKIPPED);
	assert_non_null(strstr(last(t)->reason, "cooldown ("));
	assert_string_equal(t->sent.data, "x");
	/* another rule with the same action is not affected: per (rule, action) */
	struct rule other = make_rule("OTHER", &act, 1);
	fire(t, EV_RULE_FIRED, &other, NULL, 0);
	assert_rec(last(t), EV_ACTION_DONE, NULL);
	/* a reload gives new rule structs with the same id: the cooldown holds */
	struct action copy = act;
	struct rule reloaded = make_rule("R", &copy, 1);
	fire(t, EV_RULE_FIRED, &reloaded, NULL, 0);
	assert_int_equal(last(t)->kind, EV_ACTION_SKIPPED);
	run_for(t, 200);
	fire(t, EV_RULE_FIRED, &r, NULL, 0);
	assert_rec(last(t), EV_ACTION_DONE, NULL);
	assert_string_equal(t->sent.data, "xxx");
}

static void test_max_per_epoch(void **state)
{
	struct t *t = *state;
	struct action act = {.kind = ACT_SEND, .on = ACT_ON_FIRE, .text = "x", .max_per_epoch = 2};
	struct rule r = make_rule("R", &act, 1);
	fire(t, EV_RULE_FIRED, &r, NULL, 0);
	fire(t, EV_RULE_FIRED, &r, NULL, 0);
	fire(t, EV_RULE_FIRED, &r, NULL, 0);
	assert_rec(last(t), EV_ACTION_SKIPPED, "max_per_epoch reached (2)");
	assert_string_equal(t->sent.data, "xx");
	epoch(t);
	fire(t, EV_RULE_FIRED, &r, NULL, 0);
	assert_rec(last(t), EV_ACTION_DONE, NULL);
	assert_string_equal(t->sent.data, "xxx");
}

static void test_delay(void **state)
{
	struct t *t = *state;
	struct action act = {.kind = ACT_SEND, .on = ACT_ON_FIRE, .text = "x", .delay_ns = MS(100)};
	struct rule r = make_rule("R", &act, 1);

	/* runs after the delay */
	int64_t t0 = loop_now(t->l);
	fire(t, EV_RULE_FIRED, &r, NULL, 0);
	assert_int_equal(t->nrecs, 0);
	fire(t, EV_RULE_FIRED, &r, NULL, 0); /* one waiting run per (rule, action) */
	assert_rec(last(t), EV_ACTION_SKIPPED, "already waiting for its delay");
	run_until_ends(t, 1, 2000);
	assert_true(loop_now(t->l) - t0 >= MS(100));
	assert_rec(last(t), EV_ACTION_DONE, NULL);
	assert_string_equal(t->recs[t->nrecs - 2].trigger, "rule.fired");
	assert_int_equal(t->recs[t->nrecs - 2].kind, EV_ACTION_STARTED);
	assert_string_equal(t->sent.data, "x");

	/* cancelled by the rule resolving first */
	size_t before = t->nrecs;
	fire(t, EV_RULE_FIRED, &r, NULL, 0);
	fire(t, EV_RULE_RESOLVED, &r, NULL, 0);
	assert_int_equal(t->nrecs, before + 1);
	assert_rec(last(t), EV_ACTION_SKIPPED, "cancelled: the rule resolved");
	/* another rule's resolve does not cancel it */
	struct rule other = make_rule("OTHER", &act, 1);
	fire(t, EV_RULE_FIRED, &r, NULL, 0);
	struct event res = {.kind = EV_RULE_RESOLVED, .rule = &other, .exit_status = -1};
	actions_on_event(t->a, &res);
	/* ... but a new epoch does */
	epoch(t);
	assert_rec(last(t), EV_ACTION_SKIPPED, "cancelled: a new epoch started");
	run_for(t, 250);
	assert_string_equal(t->sent.data, "x");
	assert_int_equal(t->nrecs, before + 2);
}

static void test_delayed_exec_survives_rule_free(void **state)
{
	struct t *t = *state;
	/* the rule set may be replaced (reload) while a delayed run waits */
	char *prog = write_script(t, "hook", "echo \"$EMSAGENT_RULE $EMSAGENT_CAP_PCT\"");
	struct action *act = calloc(1, sizeof(*act));
	act->kind = ACT_EXEC;
	act->on = ACT_ON_FIRE;
	act->argc = 1;
	act->argv = calloc(1, sizeof(char *));
	act->argv[0] = strdup(prog);
	act->delay_ns = MS(50);
	struct rule *r = calloc(1, sizeof(*r));
	r->id = strdup("GONE-SOON");
	r->actions = act;
	r->nactions = 1;
	struct kv caps[] = {{"pct", "77"}};
	fire(t, EV_RULE_FIRED, r, caps, 1);
	free(act->argv[0]);
	free(act->argv);
	free(act);
	free(r->id);
	free(r);
	run_until_ends(t, 1, 5000);
	assert_rec(last(t), EV_ACTION_DONE, NULL);
	assert_string_equal(last(t)->rule, "GONE-SOON");
	assert_string_equal(last(t)->output, "GONE-SOON 77\n");
	free(prog);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_exec_stdin_env_output),
	    T(test_exec_exit_status),
	    T(test_exec_not_found_and_path),
	    T(test_exec_timeout),
	    T(test_exec_timeout_kill),
	    T(test_exec_output_bounded_stdin_unread),
	    T(test_exec_concurrency_cap),
	    T(test_free_with_delayed_and_running),
	    T(test_send_unescape),
	    T(test_send_action),
	    T(test_policy),
	    T(test_require_and_triggers),
	    T(test_cooldown),
	    T(test_max_per_epoch),
	    T(test_delay),
	    T(test_delayed_exec_survives_rule_free),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
