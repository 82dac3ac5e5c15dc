/*
 * test_control.c — the control planes: URL parsing and every refusal; the
 * native QMP client against a scripted fake server forked per test
 * (greeting, capabilities, each command, an error reply, a reply split
 * across writes, an event before the reply, a peer that never answers, a
 * peer that hangs up) and against the real guest simulator when it is
 * built; every CLI kind against stub scripts first on PATH that record
 * their argv (the exact argv is checked), a missing tool, a non-zero exit,
 * a timeout, the IPMI password-file mode check and cancellation.
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "emsagent/control.h"
#include "emsagent/loop.h"
#include "emsagent/util.h"

#define MS(x) ((int64_t)(x)*NS_PER_MS)

/* ---- harness -------------------------------------------------------------- */

struct res {
	int calls;
	bool ok;
	char reason[512];
	char output[2048];
	char status[64];
	bool has_status;
};

static void on_done(void *ctx, const struct control_result *r)
{
	struct res *x = ctx;
	x->calls++;
	x->ok = r->ok;
	snprintf(x->reason, sizeof(x->reason), "%s", r->reason ? r->reason : "");
	snprintf(x->output, sizeof(x->output), "%.*s", (int)(r->output_len < 2000 ? r->output_len : 2000),
	         r->output ? r->output : "");
	x->has_status = r->status != NULL;
	snprintf(x->status, sizeof(x->status), "%s", r->status ? r->status : "");
}

static void stop_when_done(struct loop *l, void *ctx)
{
	struct res *x = ctx;
	if (x->calls)
		loop_stop(l, 0);
	else
		loop_timer_in(l, MS(5), stop_when_done, x);
}

static void give_up(struct loop *l, void *ctx)
{
	(void)ctx;
	loop_stop(l, 1);
}

/* Runs action a on url to the end; returns the result. */
static struct res run(const char *url, enum control_action a, const char *arg, int64_t timeout)
{
	struct res x = {0};
	struct control *c = NULL;
	char err[256] = "";
	int rc = control_parse(url, &c, err, sizeof(err));
	if (rc != 0)
		fail_msg("parse %s: %s", url, err);
	struct loop *l = loop_new();
	rc = control_run(c, l, a, arg, timeout, on_done, &x, err, sizeof(err));
	if (rc != 0)
		fail_msg("run %s: %s", url, err);
	assert_int_equal(x.calls, 0); /* never from inside control_run */
	loop_timer_in(l, MS(1), stop_when_done, &x);
	loop_timer_in(l, 20 * NS_PER_SEC, give_up, NULL);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(x.calls, 1);
	control_free(c);
	loop_free(l);
	assert_int_equal(x.calls, 1); /* not again on free */
	return x;
}

static char tmpdir[64];

static int setup_dir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_control.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	alarm(60);
	return 0;
}

static int teardown_dir(void **state)
{
	(void)state;
	alarm(0);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return xstrdup("");
	struct buf b = {0};
	char chunk[1024];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&b, chunk, n);
	fclose(f);
	if (!b.data)
		return xstrdup("");
	return b.data;
}

/* ---- URL parsing ---------------------------------------------------------- */

static void expect_bad(const char *url, const char *needle)
{
	struct control *c = (struct control *)1;
	char err[256] = "";
	assert_int_equal(control_parse(url, &c, err, sizeof(err)), -1);
	assert_null(c);
	if (!strstr(err, needle))
		fail_msg("%s: error '%s' lacks '%s'", url ? url : "(null)", err, needle);
}

static void expect_good(const char *url, const char *kind, unsigned caps)
{
	struct control *c = NULL;
	char err[256] = "";
	if (control_parse(url, &c, err, sizeof(err)) != 0)
		fail_msg("%s: %s", url, err);
	assert_string_equal(control_kind(c), kind);
	assert_int_equal(control_caps(c), caps);
	control_free(c);
}

#define CAN(a) CONTROL_CAN(CONTROL_##a)

static void test_parse(void **state)
{
	(void)state;
	expect_good("qmp:/run/vm.qmp", "qmp", CAN(NMI) | CAN(RESET) | CAN(STATUS));
	expect_good("qmp:tcp:127.0.0.1:4444", "qmp", CAN(NMI) | CAN(RESET) | CAN(STATUS));
	expect_good("qmp:tcp:[::1]:4444", "qmp", CAN(NMI) | CAN(RESET) | CAN(STATUS));
	expect_good("virsh:win10", "virsh", CAN(NMI) | CAN(RESET) | CAN(STATUS));
	expect_good("virsh:win10?uri=qemu:///system", "virsh", CAN(NMI) | CAN(RESET) | CAN(STATUS));
	expect_good("azure:rg1/vm1", "azure", CAN(NMI) | CAN(RESET) | CAN(SYSRQ));
	expect_good("aws:i-0123456789abcdef0", "aws", CAN(NMI) | CAN(RESET));
	expect_good("ipmi:10.0.0.5?user=admin&password_file=/etc/pw", "ipmi",
	            CAN(NMI) | CAN(RESET) | CAN(STATUS));
	expect_good("ipmi:bmc1", "ipmi", CAN(NMI) | CAN(RESET) | CAN(STATUS));
	expect_good("hyperv:My VM 1", "hyperv", CAN(NMI) | CAN(RESET) | CAN(STATUS));
	expect_good("exec:/bin/echo {action}", "exec", CAN(NMI) | CAN(RESET) | CAN(SYSRQ) | CAN(STATUS));

	expect_bad(NULL, "empty");
	expect_bad("", "empty");
	expect_bad("qmp", "no kind");
	expect_bad(":x", "no kind");
	expect_bad("vnc:host", "unknown control kind 'vnc'");
	expect_bad("qmp:", "nothing after");
	expect_bad("qmp:relative/path", "absolute");
	expect_bad("qmp:tcp:host", "HOST:PORT");
	expect_bad("qmp:tcp:host:0", "bad port");
	expect_bad("qmp:tcp:host:99999", "bad port");
	expect_bad("qmp:tcp:host:12x", "bad port");
	expect_bad("qmp:tcp::4444", "HOST:PORT");
	char longp[200];
	memset(longp, 'a', sizeof(longp));
	memcpy(longp, "qmp:/", 5);
	longp[sizeof(longp) - 1] = '\0';
	expect_bad(longp, "too long");
	expect_bad("virsh:-rf", "bad domain");
	expect_bad("virsh:a b", "bad domain");
	expect_bad("virsh:dom?url=x", "unknown parameter 'url'");
	expect_bad("virsh:dom?uri=a&uri=b", "twice");
	expect_bad("virsh:dom?uri", "malformed");
	expect_bad("virsh:dom?uri=", "malformed");
	expect_bad("azure:rg", "RESOURCE_GROUP/VM");
	expect_bad("azure:rg/vm/x", "RESOURCE_GROUP/VM");
	expect_bad("azure:/vm", "bad resource group");
	expect_bad("azure:rg/", "bad VM name");
	expect_bad("aws:i-123;rm", "bad instance id");
	expect_bad("ipmi:host?pass=x", "unknown parameter");
	expect_bad("ipmi:host?user=a&user=b", "twice");
	expect_bad("hyperv:it's", "quotes");
	expect_bad("hyperv:a\"b", "quotes");
	expect_bad("hyperv:$(evil)", "quotes");
	expect_bad("exec:'unterminated", "exec");

	assert_string_equal(control_action_name(CONTROL_NMI), "nmi");
	assert_string_equal(control_action_name(CONTROL_RESET), "reset");
	assert_string_equal(control_action_name(CONTROL_SYSRQ), "sysrq");
	assert_string_equal(control_action_name(CONTROL_STATUS), "status");
}

static void test_run_refusals(void **state)
{
	(void)state;
	struct control *c;
	char err[256];
	struct loop *l = loop_new();
	struct res x = {0};
	assert_int_equal(control_parse("aws:i-1", &c, err, sizeof(err)), 0);
	assert_int_equal(control_run(c, l, CONTROL_STATUS, NULL, 0, on_done, &x, err, sizeof(err)), -1);
	assert_string_equal(err, "aws cannot do status");
	assert_int_equal(control_run(c, l, CONTROL_SYSRQ, "c", 0, on_done, &x, err, sizeof(err)), -1);
	assert_string_equal(err, "aws cannot do sysrq");
	control_free(c);
	assert_int_equal(control_parse("azure:rg/vm", &c, err, sizeof(err)), 0);
	assert_int_equal(control_run(c, l, CONTROL_SYSRQ, NULL, 0, on_done, &x, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "one key"));
	assert_int_equal(control_run(c, l, CONTROL_SYSRQ, "c; rm", 0, on_done, &x, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "one key"));
	control_free(c);
	assert_int_equal(x.calls, 0);
	loop_free(l);
}

/* ---- QMP against a fake server --------------------------------------------- */

enum fake_mode {
	FAKE_OK,
	FAKE_ERROR,
	FAKE_SPLIT,
	FAKE_EVENT_FIRST,
	FAKE_SILENT,
	FAKE_HANGUP,
	FAKE_NO_GREETING
};

static void put(int fd, const char *s)
{
	size_t n = strlen(s);
	while (n) {
		ssize_t w = write(fd, s, n);
		if (w <= 0)
			_exit(3);
		s += w;
		n -= (size_t)w;
	}
}

/* Reads one line (the client's command) into line; false on EOF. */
static bool get_line(int fd, char *line, size_t sz)
{
	size_t n = 0;
	while (n + 1 < sz) {
		char ch;
		ssize_t r = read(fd, &ch, 1);
		if (r <= 0)
			return false;
		if (ch == '\n')
			break;
		line[n++] = ch;
	}
	line[n] = '\0';
	return true;
}

static void fake_serve(int lfd, enum fake_mode mode, const char *log)
{
	int fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		_exit(2);
	FILE *lf = fopen(log, "w");
	if (!lf)
		_exit(2);
	if (mode == FAKE_SILENT) {
		sleep(30);
		_exit(0);
	}
	if (mode == FAKE_NO_GREETING) {
		put(fd, "{\"return\": {}}\r\n");
		sleep(5);
		_exit(0);
	}
	put(fd, "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 8}}, "
	        "\"capabilities\": []}}\r\n");
	char line[512];
	while (get_line(fd, line, sizeof(line))) {
		fprintf(lf, "%s\n", line);
		fflush(lf);
		if (strstr(line, "qmp_capabilities")) {
			put(fd, "{\"return\": {}, \"id\": \"emsagent-caps\"}\r\n");
			continue;
		}
		if (mode == FAKE_HANGUP)
			_exit(0);
		if (mode == FAKE_ERROR) {
			put(fd, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"Injecting NMI is "
			        "unsupported\"}}\r\n");
			continue;
		}
		if (mode == FAKE_EVENT_FIRST)
			put(fd, "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": "
			        "\"RESET\"}\r\n");
		const char *reply = strstr(line, "query-status")
		                        ? "{\"return\": {\"status\": \"paused\", \"running\": false}, "
		                          "\"id\": \"emsagent-cmd\"}\r\n"
		                        : "{\"return\": {}, \"id\": \"emsagent-cmd\"}\r\n";
		if (mode == FAKE_SPLIT) {
			/* in three pieces with pauses, the line end last */
			size_t n = strlen(reply);
			char part[256];
			snprintf(part, sizeof(part), "%.*s", (int)(n / 2), reply);
			put(fd, part);
			usleep(50000);
			snprintf(part, sizeof(part), "%.*s", (int)(n - n / 2 - 2), reply + n / 2);
			put(fd, part);
			usleep(50000);
			put(fd, "\r\n");
		} else {
			put(fd, reply);
		}
	}
	fclose(lf);
	_exit(0);
}

struct fake {
	pid_t pid;
	char sock[128], log[128], url[160];
};

static void fake_start(struct fake *f, enum fake_mode mode)
{
	snprintf(f->sock, sizeof(f->sock), "%s/qmp.sock", tmpdir);
	snprintf(f->log, sizeof(f->log), "%s/qmp.log", tmpdir);
	snprintf(f->url, sizeof(f->url), "qmp:%s", f->sock);
	unlink(f->sock);
	int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%.100s", f->sock);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	f->pid = fork();
	assert_true(f->pid >= 0);
	if (f->pid == 0)
		fake_serve(lfd, mode, f->log);
	close(lfd);
}

static void fake_end(struct fake *f)
{
	kill(f->pid, SIGKILL);
	waitpid(f->pid, NULL, 0);
}

static void test_qmp_commands(void **state)
{
	(void)state;
	struct fake f;
	fake_start(&f, FAKE_OK);
	struct res x = run(f.url, CONTROL_NMI, NULL, 5 * NS_PER_SEC);
	fake_end(&f);
	assert_true(x.ok);
	assert_string_equal(x.reason, "");
	assert_non_null(strstr(x.output, "\"return\""));
	assert_false(x.has_status);
	char *log = slurp(f.log);
	assert_string_equal(log, "{\"execute\": \"qmp_capabilities\", \"id\": \"emsagent-caps\"}\r\n"
	                         "{\"execute\": \"inject-nmi\", \"id\": \"emsagent-cmd\"}\r\n");
	free(log);

	fake_start(&f, FAKE_OK);
	x = run(f.url, CONTROL_RESET, NULL, 5 * NS_PER_SEC);
	fake_end(&f);
	assert_true(x.ok);
	log = slurp(f.log);
	assert_non_null(strstr(log, "\"system_reset\""));
	free(log);

	fake_start(&f, FAKE_OK);
	x = run(f.url, CONTROL_STATUS, NULL, 5 * NS_PER_SEC);
	fake_end(&f);
	assert_true(x.ok);
	assert_true(x.has_status);
	assert_string_equal(x.status, "paused");
	log = slurp(f.log);
	assert_non_null(strstr(log, "\"query-status\""));
	free(log);
}

static void test_qmp_error(void **state)
{
	(void)state;
	struct fake f;
	fake_start(&f, FAKE_ERROR);
	struct res x = run(f.url, CONTROL_NMI, NULL, 5 * NS_PER_SEC);
	fake_end(&f);
	assert_false(x.ok);
	assert_string_equal(x.reason, "GenericError: Injecting NMI is unsupported");
	assert_non_null(strstr(x.output, "\"error\""));
}

static void test_qmp_split_and_event(void **state)
{
	(void)state;
	struct fake f;
	fake_start(&f, FAKE_SPLIT);
	struct res x = run(f.url, CONTROL_STATUS, NULL, 5 * NS_PER_SEC);
	fake_end(&f);
	assert_true(x.ok);
	assert_string_equal(x.status, "paused");

	fake_start(&f, FAKE_EVENT_FIRST);
	x = run(f.url, CONTROL_NMI, NULL, 5 * NS_PER_SEC);
	fake_end(&f);
	assert_true(x.ok);
	assert_null(strstr(x.output, "RESET")); /* the event is not the answer */
}

static void test_qmp_failures(void **state)
{
	(void)state;
	struct fake f;
	fake_start(&f, FAKE_SILENT);
	struct res x = run(f.url, CONTROL_NMI, NULL, MS(300));
	fake_end(&f);
	assert_false(x.ok);
	assert_string_equal(x.reason, "timeout after 0.3s");

	fake_start(&f, FAKE_HANGUP);
	x = run(f.url, CONTROL_NMI, NULL, 5 * NS_PER_SEC);
	fake_end(&f);
	assert_false(x.ok);
	assert_string_equal(x.reason, "QMP connection closed before the reply");

	fake_start(&f, FAKE_NO_GREETING);
	x = run(f.url, CONTROL_NMI, NULL, 5 * NS_PER_SEC);
	fake_end(&f);
	assert_false(x.ok);
	assert_non_null(strstr(x.reason, "QMP greeting expected"));

	char url[160];
	snprintf(url, sizeof(url), "qmp:%s/nothing.sock", tmpdir);
	x = run(url, CONTROL_NMI, NULL, 5 * NS_PER_SEC);
	assert_false(x.ok);
	assert_non_null(strstr(x.reason, "No such file or directory"));

	x = run("qmp:tcp:127.0.0.1:1", CONTROL_NMI, NULL, 5 * NS_PER_SEC);
	assert_false(x.ok);
	assert_non_null(strstr(x.reason, "Connection refused"));
}

/* The real simulator, when it is built: inject-nmi → ok. */
static void test_qmp_guestsim(void **state)
{
	(void)state;
	const char *sim = "build/sim/guestsim";
	if (access(sim, X_OK) != 0)
		skip();
	char sock[128], url[160];
	snprintf(sock, sizeof(sock), "%s/sim.qmp", tmpdir);
	snprintf(url, sizeof(url), "qmp:%s", sock);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);
		dup2(nul, 0);
		dup2(nul, 1);
		dup2(nul, 2);
		execl(sim, sim, "--pty", "--qmp", sock, "--scenario", "tests/sim/scenarios/healthy.yaml",
		      "--time-scale", "100", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200 && access(sock, F_OK) != 0; i++)
		usleep(20000);
	struct res x = run(url, CONTROL_STATUS, NULL, 5 * NS_PER_SEC);
	assert_true(x.ok);
	assert_true(x.has_status);
	x = run(url, CONTROL_NMI, NULL, 5 * NS_PER_SEC);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	if (!x.ok)
		fail_msg("guestsim inject-nmi: %s", x.reason);
}

/* ---- CLI kinds against stubs ---------------------------------------------- */

static char saved_path[4096];

/* Writes a stub NAME into tmpdir: records its argv (one per line) into
 * tmpdir/NAME.argv, then behaves as STUB_MODE says. */
static void stub(const char *name)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fprintf(
	    f,
	    "#!/bin/sh\n"
	    "printf '%%s\\n' \"%s\" \"$@\" > '%s/%s.argv'\n"
	    "case \"$STUB_MODE\" in\n"
	    "fail) echo 'partial output'; printf '\\nerror: failed to get domain\\nmore\\n' >&2; exit 3;;\n"
	    "hang) exec /bin/sleep 30;;\n"
	    "status) echo '%s';;\n"
	    "*) echo done;;\n"
	    "esac\n",
	    name, tmpdir, name, strcmp(name, "ipmitool") == 0 ? "Chassis Power is on" : "running");
	fclose(f);
	chmod(p, 0755);
}

static int setup_stubs(void **state)
{
	if (setup_dir(state) != 0)
		return -1;
	const char *old = getenv("PATH");
	snprintf(saved_path, sizeof(saved_path), "%s", old ? old : "");
	setenv("PATH", tmpdir, 1); /* only the stubs: a missing tool is missing */
	unsetenv("STUB_MODE");
	return 0;
}

static int teardown_stubs(void **state)
{
	setenv("PATH", saved_path, 1);
	unsetenv("STUB_MODE");
	return teardown_dir(state);
}

static void expect_argv(const char *tool, const char *want)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s.argv", tmpdir, tool);
	char *got = slurp(p);
	assert_string_equal(got, want);
	free(got);
	unlink(p);
}

static void run_ok(const char *url, enum control_action a, const char *arg)
{
	struct res x = run(url, a, arg, 5 * NS_PER_SEC);
	if (!x.ok)
		fail_msg("%s %s: %s", url, control_action_name(a), x.reason);
}

static void test_cli_virsh(void **state)
{
	(void)state;
	stub("virsh");
	run_ok("virsh:win10", CONTROL_NMI, NULL);
	expect_argv("virsh", "virsh\ninject-nmi\nwin10\n");
	run_ok("virsh:win10?uri=qemu+ssh://h/system", CONTROL_RESET, NULL);
	expect_argv("virsh", "virsh\n-c\nqemu+ssh://h/system\nreset\nwin10\n");
	setenv("STUB_MODE", "status", 1);
	struct res x = run("virsh:win10", CONTROL_STATUS, NULL, 5 * NS_PER_SEC);
	assert_true(x.ok);
	assert_string_equal(x.status, "running");
	assert_string_equal(x.output, "running\n");
	expect_argv("virsh", "virsh\ndomstate\nwin10\n");
}

static void test_cli_azure_aws(void **state)
{
	(void)state;
	stub("az");
	stub("aws");
	run_ok("azure:rg-1/vm-1", CONTROL_NMI, NULL);
	expect_argv("az", "az\nserial-console\nsend\nnmi\n-g\nrg-1\n-n\nvm-1\n");
	run_ok("azure:rg-1/vm-1", CONTROL_RESET, NULL);
	expect_argv("az", "az\nserial-console\nsend\nreset\n-g\nrg-1\n-n\nvm-1\n");
	run_ok("azure:rg-1/vm-1", CONTROL_SYSRQ, "c");
	expect_argv("az", "az\nserial-console\nsend\nsysrq\n-g\nrg-1\n-n\nvm-1\n--sysrqinput\nc\n");
	run_ok("aws:i-0abc", CONTROL_NMI, NULL);
	expect_argv("aws", "aws\nec2\nsend-diagnostic-interrupt\n--instance-id\ni-0abc\n");
	run_ok("aws:i-0abc", CONTROL_RESET, NULL);
	expect_argv("aws", "aws\nec2\nreboot-instances\n--instance-ids\ni-0abc\n");
}

static void test_cli_ipmi(void **state)
{
	(void)state;
	stub("ipmitool");
	char pw[160], url[256];
	snprintf(pw, sizeof(pw), "%s/pw", tmpdir);
	int fd = open(pw, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "secret\n", 7), 7);
	close(fd);
	chmod(pw, 0600);
	snprintf(url, sizeof(url), "ipmi:10.0.0.5?user=admin&password_file=%s", pw);
	run_ok(url, CONTROL_NMI, NULL);
	char want[512];
	snprintf(want, sizeof(want),
	         "ipmitool\n-I\nlanplus\n-H\n10.0.0.5\n-U\nadmin\n-f\n%s\nchassis\npower\ndiag\n", pw);
	expect_argv("ipmitool", want);
	run_ok(url, CONTROL_RESET, NULL);
	snprintf(want, sizeof(want),
	         "ipmitool\n-I\nlanplus\n-H\n10.0.0.5\n-U\nadmin\n-f\n%s\nchassis\npower\nreset\n", pw);
	expect_argv("ipmitool", want);
	setenv("STUB_MODE", "status", 1);
	struct res x = run(url, CONTROL_STATUS, NULL, 5 * NS_PER_SEC);
	assert_true(x.ok);
	assert_string_equal(x.status, "on");
	unsetenv("STUB_MODE");
	/* no password file: from the environment */
	run_ok("ipmi:bmc1", CONTROL_NMI, NULL);
	expect_argv("ipmitool", "ipmitool\n-I\nlanplus\n-H\nbmc1\n-E\nchassis\npower\ndiag\n");
	/* a readable password file is refused, the tool not run */
	chmod(pw, 0644);
	x = run(url, CONTROL_NMI, NULL, 5 * NS_PER_SEC);
	assert_false(x.ok);
	assert_non_null(strstr(x.reason, "is mode 0644; make it 0600"));
	expect_argv("ipmitool", "");
	snprintf(url, sizeof(url), "ipmi:h?password_file=%s/none", tmpdir);
	x = run(url, CONTROL_NMI, NULL, 5 * NS_PER_SEC);
	assert_false(x.ok);
	assert_non_null(strstr(x.reason, "No such file"));
}

static void test_cli_hyperv(void **state)
{
	(void)state;
	struct res x = run("hyperv:Web 1", CONTROL_NMI, NULL, 5 * NS_PER_SEC);
	assert_false(x.ok);
	assert_string_equal(x.reason, "pwsh or powershell not found");
	stub("powershell");
	run_ok("hyperv:Web 1", CONTROL_NMI, NULL);
	expect_argv(
	    "powershell",
	    "powershell\n-NoProfile\n-Command\nDebug-VM -Name 'Web 1' -InjectNonMaskableInterrupt -Force\n");
	stub("pwsh"); /* preferred when both are there */
	run_ok("hyperv:Web 1", CONTROL_RESET, NULL);
	expect_argv("pwsh", "pwsh\n-NoProfile\n-Command\nRestart-VM -Name 'Web 1' -Force\n");
	expect_argv("powershell", "");
}

static void test_cli_exec(void **state)
{
	(void)state;
	stub("mytool");
	run_ok("exec:mytool --do={action} 'a b' {action}", CONTROL_RESET, NULL);
	expect_argv("mytool", "mytool\n--do=reset\na b\nreset\n");
	run_ok("exec:mytool {action}{action}", CONTROL_SYSRQ, "c");
	expect_argv("mytool", "mytool\nsysrqsysrq\n");
}

static void test_cli_failures(void **state)
{
	(void)state;
	struct res x = run("virsh:dom", CONTROL_NMI, NULL, 5 * NS_PER_SEC);
	assert_false(x.ok);
	assert_string_equal(x.reason, "virsh not found");
	x = run("aws:i-1", CONTROL_NMI, NULL, 5 * NS_PER_SEC);
	assert_string_equal(x.reason, "aws not found");

	stub("virsh");
	setenv("STUB_MODE", "fail", 1);
	x = run("virsh:dom", CONTROL_NMI, NULL, 5 * NS_PER_SEC);
	assert_false(x.ok);
	assert_string_equal(x.reason, "exit 3: error: failed to get domain");
	assert_string_equal(x.output, "partial output\n");

	setenv("STUB_MODE", "hang", 1);
	int64_t t0 = 0;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
	x = run("virsh:dom", CONTROL_NMI, NULL, MS(200));
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int64_t took = ts.tv_sec * NS_PER_SEC + ts.tv_nsec - t0;
	assert_false(x.ok);
	assert_string_equal(x.reason, "timeout after 0.2s");
	assert_true(took < 2 * NS_PER_SEC); /* SIGTERM sufficed */

	/* not executable */
	char p[160];
	snprintf(p, sizeof(p), "%s/virsh", tmpdir);
	chmod(p, 0644);
	x = run("virsh:dom", CONTROL_NMI, NULL, 5 * NS_PER_SEC);
	assert_false(x.ok);
	assert_non_null(strstr(x.reason, "cannot run virsh"));
}

static void test_cancel_and_busy(void **state)
{
	(void)state;
	stub("virsh");
	setenv("STUB_MODE", "hang", 1);
	struct control *c;
	char err[256];
	struct loop *l = loop_new();
	struct res x = {0};
	assert_int_equal(control_parse("virsh:dom", &c, err, sizeof(err)), 0);
	assert_int_equal(control_run(c, l, CONTROL_NMI, NULL, 10 * NS_PER_SEC, on_done, &x, err, sizeof(err)),
	                 0);
	assert_int_equal(control_run(c, l, CONTROL_RESET, NULL, 0, on_done, &x, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "already running"));
	loop_timer_in(l, MS(100), give_up, NULL);
	loop_run(l);
	assert_int_equal(x.calls, 0);
	control_free(c);
	assert_int_equal(x.calls, 1);
	assert_false(x.ok);
	assert_string_equal(x.reason, "cancelled");
	loop_free(l);

	/* a request failing before any I/O is also cancelled cleanly */
	l = loop_new();
	memset(&x, 0, sizeof(x));
	assert_int_equal(control_parse("aws:i-1", &c, err, sizeof(err)), 0);
	assert_int_equal(control_run(c, l, CONTROL_NMI, NULL, 0, on_done, &x, err, sizeof(err)), 0);
	control_free(c);
	assert_int_equal(x.calls, 1);
	assert_string_equal(x.reason, "cancelled");
	loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_run_refusals),
	    cmocka_unit_test_setup_teardown(test_qmp_commands, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_qmp_error, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_qmp_split_and_event, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_qmp_failures, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_qmp_guestsim, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_cli_virsh, setup_stubs, teardown_stubs),
	    cmocka_unit_test_setup_teardown(test_cli_azure_aws, setup_stubs, teardown_stubs),
	    cmocka_unit_test_setup_teardown(test_cli_ipmi, setup_stubs, teardown_stubs),
	    cmocka_unit_test_setup_teardown(test_cli_hyperv, setup_stubs, teardown_stubs),
	    cmocka_unit_test_setup_teardown(test_cli_exec, setup_stubs, teardown_stubs),
	    cmocka_unit_test_setup_teardown(test_cli_failures, setup_stubs, teardown_stubs),
	    cmocka_unit_test_setup_teardown(test_cancel_and_busy, setup_stubs, teardown_stubs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
