/*
 * test_transport_local.c — the local transports, each against a peer made
 * here: pty (openpty: raw mode, no echo, bytes unchanged both ways, busy
 * pty names its holder, no BREAK, vanished master), exec (word splitting,
 * `cat` round trip, stderr merged, own process group, signal mask reset,
 * command not found), file (plain, paced by a hand-written time index,
 * malformed index, stdin as a pipe) and serial (error paths libserialport
 * lets us reach without hardware, and the /proc holder lookup).
 * Every test runs under an alarm() guard.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../agent/transport_priv.h"
#include "emsagent/transport.h"
#include "emsagent/util.h"

#define MS(x) ((int64_t)(x)*NS_PER_MS)

static int guard_setup(void **state)
{
	(void)state;
	alarm(20);
	return 0;
}

static int guard_teardown(void **state)
{
	(void)state;
	alarm(0);
	return 0;
}

static int64_t mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

/* A transport of one kind, made by hand: these tests exercise the kinds'
 * tables, not the URL front. */
static struct transport *mk(const struct transport_ops *ops, const char *target)
{
	struct transport *t = xcalloc(1, sizeof(*t));
	t->ops = ops;
	t->url = xasprintf("%s:%s", ops->kind, target);
	t->target = xstrdup(target);
	transport_opts_default(&t->opts);
	t->fd = -1;
	return t;
}

static void rm(struct transport *t)
{
	if (t->fd >= 0 || t->priv || t->pid > 0)
		t->ops->close(t);
	assert_int_equal(t->fd, -1);
	assert_null(t->priv);
	free(t->url);
	free(t->target);
	free(t);
}

/* Reads until want bytes came or timeout_ms passed; returns bytes read, or
 * the first 0 / hard error. */
static ssize_t read_some(struct transport *t, char *buf, size_t want, int timeout_ms)
{
	size_t got = 0;
	int64_t end = mono() + MS(timeout_ms);
	while (got < want) {
		int64_t left = (end - mono()) / NS_PER_MS;
		if (left <= 0)
			break;
		struct pollfd p = {.fd = t->fd, .events = POLLIN};
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		ssize_t r = t->ops->read(t, buf + got, want - got);
		if (r == -EAGAIN)
			continue;
		if (r <= 0)
			return got ? (ssize_t)got : r;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

static ssize_t read_fd_timeout(int fd, char *buf, size_t n, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (poll(&p, 1, timeout_ms) <= 0)
		return 0;
	return read(fd, buf, n);
}

static char tmpdir[64];

static char *write_file(const char *name, const char *data, size_t len)
{
	if (!tmpdir[0]) {
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_tl_XXXXXX");
		assert_non_null(mkdtemp(tmpdir));
	}
	char *path = xasprintf("%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
	return path;
}

/* ---- pty ---- */

static void test_pty_raw_both_ways(void **state)
{
	(void)state;
	int m, s;
	char name[64];
	assert_int_equal(openpty(&m, &s, name, NULL, NULL), 0);
	/* start from a cooked, echoing slave, as a fresh pty is */
	struct termios tio;
	assert_int_equal(tcgetattr(s, &tio), 0);
	tio.c_lflag |= ECHO | ICANON;
	tio.c_iflag |= ICRNL;
	tio.c_oflag |= OPOST | ONLCR;
	assert_int_equal(tcsetattr(s, TCSANOW, &tio), 0);

	struct transport *t = mk(&transport_pty_ops, name);
	assert_int_equal(t->ops->open(t), 0);
	assert_true(t->fd >= 0);
	assert_true(fcntl(t->fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(t->fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(transport_caps(t) & TRANSPORT_CAN_BREAK, 0);
	assert_true(transport_caps(t) & TRANSPORT_CAN_WRITE);
	assert_true(transport_caps(t) & TRANSPORT_IS_DEVICE);

	assert_int_equal(tcgetattr(s, &tio), 0);
	assert_int_equal(tio.c_lflag & (ECHO | ICANON | ISIG), 0);
	assert_int_equal(tio.c_iflag & (ICRNL | IXON), 0);
	assert_int_equal(tio.c_oflag & OPOST, 0);

	char buf[64];
	assert_int_equal(t->ops->read(t, buf, sizeof(buf)), -EAGAIN);

	/* guest → agent: a partial line arrives at once (no line discipline),
	 * CR LF unchanged */
	assert_int_equal(write(m, "SAC>\r\nx\xff", 8), 8);
	assert_int_equal(read_some(t, buf, 8, 1000), 8);
	assert_memory_equal(buf, "SAC>\r\nx\xff", 8);
	/* nothing was echoed back to the guest */
	assert_int_equal(read_fd_timeout(m, buf, sizeof(buf), 50), 0);

	/* agent → guest: LF not turned into CR LF */
	assert_int_equal(t->ops->write(t, "id\n", 3), 3);
	ssize_t r = read_fd_timeout(m, buf, sizeof(buf), 1000);
	assert_int_equal(r, 3);
	assert_memory_equal(buf, "id\n", 3);

	/* no BREAK, with the ways that do work named */
	assert_int_equal(t->ops->send_break(t, 250), -ENOTSUP);
	assert_non_null(strstr(t->err, "telnet"));
	assert_non_null(strstr(t->err, "mux"));
	assert_non_null(strstr(t->err, "control plane"));

	/* the guest side goes away: reads say "gone" */
	close(m);
	assert_int_equal(read_some(t, buf, sizeof(buf), 1000), 0);
	assert_non_null(strstr(t->err, "closed"));
	close(s);
	rm(t);
}

static void test_pty_busy_and_missing(void **state)
{
	(void)state;
	int m, s;
	char name[64];
	assert_int_equal(openpty(&m, &s, name, NULL, NULL), 0);
	struct transport *a = mk(&transport_pty_ops, name);
	struct transport *b = mk(&transport_pty_ops, name);
	assert_int_equal(a->ops->open(a), 0);
	assert_int_equal(b->ops->open(b), -EBUSY);
	assert_int_equal(b->fd, -1);
	char want[96];
	snprintf(want, sizeof(want), "%s is in use by pid %ld (", name, (long)getpid());
	assert_non_null(strstr(b->err, want));
	/* released: the next open works */
	a->ops->close(a);
	assert_int_equal(b->ops->open(b), 0);
	rm(a);
	rm(b);
	close(m);
	close(s);

	struct transport *t = mk(&transport_pty_ops, "/dev/pts/987654");
	assert_int_equal(t->ops->open(t), -ENOENT);
	assert_non_null(strstr(t->err, "/dev/pts/987654: no such pty"));
	rm(t);

	char path[] = "/tmp/test_tl_XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	t = mk(&transport_pty_ops, path);
	assert_int_equal(t->ops->open(t), -ENOTTY);
	assert_non_null(strstr(t->err, "not a terminal"));
	rm(t);
	unlink(path);
}

/* ---- exec: splitting ---- */

static void assert_split(const char *cmd, const char *const *want, size_t n)
{
	char **argv = NULL;
	char err[200] = "";
	if (transport_exec_split(cmd, &argv, err, sizeof(err)) != 0)
		fail_msg("split failed for <%s>: %s", cmd, err);
	size_t i = 0;
	for (; argv[i]; i++) {
		if (i >= n)
			fail_msg("<%s>: extra word <%s>", cmd, argv[i]);
		if (strcmp(argv[i], want[i]) != 0)
			fail_msg("<%s>: word %zu is <%s>, expected <%s>", cmd, i, argv[i], want[i]);
	}
	assert_int_equal(i, n);
	transport_exec_argv_free(argv);
}

static void assert_split_error(const char *cmd, const char *msg)
{
	char **argv = (char **)1;
	char err[300] = "";
	assert_int_equal(transport_exec_split(cmd, &argv, err, sizeof(err)), -1);
	assert_null(argv);
	if (!strstr(err, msg))
		fail_msg("<%s>: error <%s> does not contain <%s>", cmd, err, msg);
}

static void test_exec_split(void **state)
{
	(void)state;
	const char *w1[] = {"virsh", "console", "vm 1"};
	assert_split("virsh console 'vm 1'", w1, 3);
	const char *w2[] = {"a", "b c", "d \"e\" $x \\n", "f g", "", "h'i"};
	assert_split("  a  'b c'\t\"d \\\"e\\\" $x \\n\" f\\ g \"\" h\\'i  ", w2, 6);
	const char *w3[] = {"ipmitool", "-H", "bmc", "-P", "p|w;d", "sol", "activate"};
	assert_split("ipmitool -H bmc -P 'p|w;d' sol activate", w3, 7);
	const char *w4[] = {"x", "a|b", "$HOME", "*"};
	assert_split("x a\\|b $HOME *", w4, 4);
	const char *w5[] = {"abc"};
	assert_split("a'b'\"c\"", w5, 1);

	assert_split_error("cat 'oops", "unterminated single quote at column 5");
	assert_split_error("cat \"oops", "unterminated double quote at column 5");
	assert_split_error("cat x\\", "trailing backslash at column 6");
	assert_split_error("virsh console vm | tee log", "unquoted '|' at column 18");
	assert_split_error("a;b", "unquoted ';'");
	assert_split_error("a > b", "runs without a shell");
	assert_split_error("`id`", "unquoted '`'");
	assert_split_error("", "empty command");
	assert_split_error("   \t ", "empty command");
}

/* ---- exec: running ---- */

static void reap(pid_t pid, int *status)
{
	assert_int_equal(waitpid(pid, status, 0), pid);
}

static void test_exec_cat_round_trip(void **state)
{
	(void)state;
	struct transport *t = mk(&transport_exec_ops, "cat");
	assert_int_equal(t->ops->open(t), 0);
	assert_true(t->pid > 0);
	assert_true(t->fd >= 0);
	assert_true(fcntl(t->fd, F_GETFD) & FD_CLOEXEC);
	assert_true(transport_caps(t) & TRANSPORT_CAN_WRITE);
	assert_true(transport_caps(t) & TRANSPORT_IS_DEVICE);
	assert_int_equal(getpgid(t->pid), t->pid); /* its own group */
	char buf[64];
	assert_int_equal(t->ops->read(t, buf, sizeof(buf)), -EAGAIN);
	assert_int_equal(t->ops->write(t, "ping\r\n", 6), 6);
	assert_int_equal(read_some(t, buf, 6, 2000), 6);
	assert_memory_equal(buf, "ping\r\n", 6);
	assert_int_equal(t->ops->send_break(t, 100), -ENOTSUP);
	pid_t pid = t->pid;
	t->ops->close(t);
	assert_int_equal(t->pid, 0);
	assert_int_equal(t->fd, -1);
	int st;
	reap(pid, &st);
	/* SIGTERM, or cat saw end of input first */
	assert_true((WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM) || (WIFEXITED(st) && WEXITSTATUS(st) == 0));
	rm(t);
}

static void test_exec_quoting_and_stderr(void **state)
{
	(void)state;
	struct transport *t =
	    mk(&transport_exec_ops, "sh -c 'printf \"%s|\" \"$0\" \"$1\"; echo err >&2' 'a b' \"c;d\"");
	assert_int_equal(t->ops->open(t), 0);
	char buf[64] = "";
	ssize_t n = read_some(t, buf, sizeof(buf) - 1, 2000);
	assert_true(n > 0);
	buf[n] = '\0';
	/* words arrive intact, and stderr comes down the same pipe */
	assert_string_equal(buf, "a b|c;d|err\n");
	pid_t pid = t->pid;
	int st;
	reap(pid, &st);
	assert_true(WIFEXITED(st));
	assert_int_equal(read_some(t, buf, sizeof(buf), 1000), 0);
	assert_non_null(strstr(t->err, "closed its output"));
	rm(t);
}

/* The loop blocks signals and ignores SIGPIPE; a child must not inherit
 * that, or close's SIGTERM would never stop it. */
static void test_exec_child_signals_reset(void **state)
{
	(void)state;
	sigset_t term, old;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, &old);
	struct sigaction ign = {.sa_handler = SIG_IGN}, oldterm;
	sigemptyset(&ign.sa_mask);
	sigaction(SIGTERM, &ign, &oldterm);

	struct transport *t = mk(&transport_exec_ops, "sleep 10");
	assert_int_equal(t->ops->open(t), 0);
	pid_t pid = t->pid;
	/* make sure it has exec'd, so the signal meets sleep, not our copy */
	char comm[32] = "", cpath[64];
	snprintf(cpath, sizeof(cpath), "/proc/%ld/comm", (long)pid);
	for (int i = 0; i < 3000 && strcmp(comm, "sleep\n") != 0; i++) {
		FILE *f = fopen(cpath, "r");
		if (f) {
			if (!fgets(comm, sizeof(comm), f))
				comm[0] = '\0';
			fclose(f);
		}
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	assert_string_equal(comm, "sleep\n");
	int64_t t0 = mono();
	t->ops->close(t);
	int st;
	reap(pid, &st);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGTERM);
	assert_true(mono() - t0 < MS(5000));
	rm(t);
	sigaction(SIGTERM, &oldterm, NULL);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

/* Kept where a leak checker following the forked child finds them. */
static struct transport *noexec_t;
static char *noexec_path, *noexec_cmd;

static void test_exec_not_found(void **state)
{
	(void)state;
	/* looked up before forking: no child, a clear error, -ENOENT (the
	 * console retries, as for a device not there yet) */
	const char *cmds[] = {"emsagent-no-such-command-xyz --flag", "/nonexistent/dir/tool"};
	const char *names[] = {"'emsagent-no-such-command-xyz'", "'/nonexistent/dir/tool'"};
	for (size_t i = 0; i < 2; i++) {
		struct transport *t = mk(&transport_exec_ops, cmds[i]);
		assert_int_equal(t->ops->open(t), -ENOENT);
		assert_non_null(strstr(t->err, "command not found"));
		assert_non_null(strstr(t->err, names[i]));
		assert_int_equal(t->pid, 0);
		assert_int_equal(t->fd, -1);
		rm(t);
	}
	/* there but not executable */
	char *plain = write_file("plain-data", "data", 4);
	chmod(plain, 0644);
	struct transport *t = mk(&transport_exec_ops, plain);
	assert_int_equal(t->ops->open(t), -EACCES);
	assert_non_null(strstr(t->err, "cannot run '"));
	assert_int_equal(t->pid, 0);
	rm(t);
	unlink(plain);
	free(plain);

	/* executable but not a program: found only by exec itself (never
	 * handed to a shell), reported through the first read */
	noexec_path = write_file("not a program", "\x01\x02garbage\n", 10);
	chmod(noexec_path, 0755);
	noexec_cmd = xasprintf("'%s' arg", noexec_path);
	noexec_t = mk(&transport_exec_ops, noexec_cmd);
	assert_int_equal(noexec_t->ops->open(noexec_t), 0);
	pid_t pid = noexec_t->pid;
	char buf[8];
	assert_int_equal(read_some(noexec_t, buf, sizeof(buf), 2000), 0);
	assert_non_null(strstr(noexec_t->err, "cannot run '"));
	assert_non_null(strstr(noexec_t->err, "Exec format error"));
	int st;
	reap(pid, &st);
	assert_true(WIFEXITED(st));
	assert_int_not_equal(WEXITSTATUS(st), 0);
	rm(noexec_t);
	noexec_t = NULL;
	unlink(noexec_path);
	free(noexec_path);
	free(noexec_cmd);

	/* a quoting mistake fails the open, with the place */
	t = mk(&transport_exec_ops, "virsh console 'vm");
	assert_int_equal(t->ops->open(t), -EINVAL);
	assert_non_null(strstr(t->err, "unterminated single quote at column 15"));
	assert_int_equal(t->pid, 0);
	rm(t);
}

/* ---- file ---- */

static void test_file_plain(void **state)
{
	(void)state;
	char *path = write_file("plain.log", "line1\nline2\n", 12);
	struct transport *t = mk(&transport_file_ops, path);
	t->opts.replay_realtime = true; /* no index next to it: unpaced */
	assert_int_equal(t->ops->open(t), 0);
	assert_true(transport_caps(t) & TRANSPORT_IS_REPLAY);
	assert_int_equal(transport_caps(t) & TRANSPORT_CAN_WRITE, 0);
	/* the loop's fd for a regular file is pollable and ready */
	struct pollfd p = {.fd = t->fd, .events = POLLIN};
	assert_int_equal(poll(&p, 1, 1000), 1);
	assert_int_equal(transport_file_next_due(t), 0);
	char buf[64];
	assert_int_equal(t->ops->read(t, buf, 7), 7);
	assert_memory_equal(buf, "line1\nl", 7);
	assert_int_equal(t->ops->read(t, buf, sizeof(buf)), 5);
	assert_int_equal(poll(&p, 1, 1000), 1); /* still ready: the end must be seen */
	assert_int_equal(t->ops->read(t, buf, sizeof(buf)), 0);
	assert_true(t->ops->write(t, "x", 1) < 0);
	assert_non_null(strstr(t->err, "read-only"));
	rm(t);
	unlink(path);
	free(path);

	t = mk(&transport_file_ops, "/nonexistent/emsagent.log");
	assert_int_equal(t->ops->open(t), -ENOENT);
	assert_non_null(strstr(t->err, "no such file"));
	rm(t);
	t = mk(&transport_file_ops, "/tmp");
	assert_int_equal(t->ops->open(t), -EISDIR);
	assert_non_null(strstr(t->err, "is a directory"));
	rm(t);
}

/* Waits for the transport's fd and reads; returns bytes and when. */
static ssize_t paced_read(struct transport *t, char *buf, size_t n, int64_t *when)
{
	for (;;) {
		struct pollfd p = {.fd = t->fd, .events = POLLIN};
		assert_int_equal(poll(&p, 1, 2000), 1);
		ssize_t r = t->ops->read(t, buf, n);
		if (r == -EAGAIN)
			continue;
		*when = mono();
		return r;
	}
}

static void test_file_paced(void **state)
{
	(void)state;
	/* AAAA at 0, BBBB at +60 ms (two records at offset 4: the later one,
	 * after a reconnect, dates them), CC at +120 ms by the wall clock
	 * because the monotonic stamp went backwards (an agent restart). */
	char *path = write_file("paced.log", "AAAABBBBCC", 10);
	const char *idx = "0 1795256102000000000 5000000000\n"
	                  "4 1795256102030000000 5030000000\n"
	                  "# gap 1795256102040000000 disconnected\n"
	                  "\n"
	                  "4 1795256102060000000 5060000000\n"
	                  "8 1795256102120000000 1000\n";
	char *ipath = xasprintf("%s.idx", path);
	free(write_file("paced.log.idx", idx, strlen(idx)));
	struct transport *t = mk(&transport_file_ops, path);
	t->opts.replay_realtime = true;
	int64_t t0 = mono();
	assert_int_equal(t->ops->open(t), 0);
	char buf[64];
	int64_t when;
	assert_int_equal(paced_read(t, buf, sizeof(buf), &when), 4);
	assert_memory_equal(buf, "AAAA", 4);
	assert_true(when - t0 < MS(50));
	/* not yet: the next chunk is due about 60 ms after the start */
	assert_int_equal(t->ops->read(t, buf, sizeof(buf)), -EAGAIN);
	int64_t due = transport_file_next_due(t);
	assert_true(due >= t0 + MS(60) && due <= mono() + MS(60));
	struct pollfd p = {.fd = t->fd, .events = POLLIN};
	assert_int_equal(poll(&p, 1, 0), 0); /* the loop would sleep */
	/* a short read takes part of a chunk; the rest follows at once */
	assert_int_equal(paced_read(t, buf, 3, &when), 3);
	assert_true(when >= t0 + MS(60));
	assert_memory_equal(buf, "BBB", 3);
	assert_int_equal(t->ops->read(t, buf, sizeof(buf)), 1);
	assert_int_equal(paced_read(t, buf, sizeof(buf), &when), 2);
	assert_memory_equal(buf, "CC", 2);
	assert_true(when >= t0 + MS(120));
	assert_true(when < t0 + MS(1500));
	assert_int_equal(paced_read(t, buf, sizeof(buf), &when), 0);
	rm(t);

	/* a broken index is an error that says where */
	const char *bad = "0 1 2\nthis is not a record\n";
	free(write_file("paced.log.idx", bad, strlen(bad)));
	t = mk(&transport_file_ops, path);
	t->opts.replay_realtime = true;
	assert_int_equal(t->ops->open(t), -EINVAL);
	assert_non_null(strstr(t->err, "paced.log.idx:2: malformed index record"));
	rm(t);
	/* found later, it stops the replay there */
	const char *late = "0 1 2\n8 1 3\n8 1 x\n";
	free(write_file("paced.log.idx", late, strlen(late)));
	t = mk(&transport_file_ops, path);
	t->opts.replay_realtime = true;
	assert_int_equal(t->ops->open(t), 0);
	assert_int_equal(paced_read(t, buf, sizeof(buf), &when), 8);
	assert_int_equal(t->ops->read(t, buf, sizeof(buf)), -EINVAL);
	assert_non_null(strstr(t->err, "paced.log.idx:3: malformed index record"));
	rm(t);
	const char *back = "0 1 2\n8 3 4\n4 5 6\n";
	free(write_file("paced.log.idx", back, strlen(back)));
	t = mk(&transport_file_ops, path);
	t->opts.replay_realtime = true;
	assert_int_equal(t->ops->open(t), 0);
	assert_int_equal(paced_read(t, buf, sizeof(buf), &when), 8);
	assert_int_equal(t->ops->read(t, buf, sizeof(buf)), -EINVAL);
	assert_non_null(strstr(t->err, ":3: offsets go backwards"));
	assert_int_equal(t->ops->read(t, buf, sizeof(buf)), -EINVAL); /* and stays stopped */
	rm(t);

	/* without replay_realtime the index is ignored */
	t = mk(&transport_file_ops, path);
	assert_int_equal(t->ops->open(t), 0);
	assert_int_equal(t->ops->read(t, buf, sizeof(buf)), 10);
	rm(t);
	unlink(ipath);
	unlink(path);
	free(ipath);
	free(path);
}

static void test_file_stdin_pipe(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	int saved = dup(0);
	assert_int_equal(dup2(p[0], 0), 0);
	close(p[0]);
	struct transport *t = mk(&transport_file_ops, "-");
	assert_int_equal(t->ops->open(t), 0);
	assert_true(t->fd != 0); /* a duplicate: closing it leaves stdin alone */
	char buf[16];
	assert_int_equal(t->ops->read(t, buf, sizeof(buf)), -EAGAIN);
	assert_int_equal(write(p[1], "boot\n", 5), 5);
	assert_int_equal(read_some(t, buf, 5, 1000), 5);
	assert_memory_equal(buf, "boot\n", 5);
	close(p[1]);
	assert_int_equal(read_some(t, buf, sizeof(buf), 1000), 0);
	rm(t);
	/* stdin's flags are as they were */
	assert_int_equal(fcntl(0, F_GETFL) & O_NONBLOCK, 0);
	assert_int_equal(dup2(saved, 0), 0);
	close(saved);
}

/* ---- serial ---- */

static void test_serial_errors(void **state)
{
	(void)state;
	struct transport *t = mk(&transport_serial_ops, "/dev/ttyEMSAGENT-missing");
	assert_true(transport_caps(t) & TRANSPORT_CAN_BREAK);
	assert_int_equal(t->ops->open(t), -ENOENT);
	assert_non_null(strstr(t->err, "/dev/ttyEMSAGENT-missing: no such device"));
	assert_int_equal(t->fd, -1);
	rm(t);

	/* a pty given as a serial port: refused with the way to open it */
	int m, s;
	char name[64];
	assert_int_equal(openpty(&m, &s, name, NULL, NULL), 0);
	t = mk(&transport_serial_ops, name);
	int rc = t->ops->open(t);
	assert_true(rc == -ENODEV || rc == -ENOTTY);
	if (rc == -ENODEV)
		assert_non_null(strstr(t->err, "use pty:"));
	assert_int_equal(t->fd, -1);
	rm(t);
	close(m);
	close(s);

	char path[] = "/tmp/test_tl_XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	t = mk(&transport_serial_ops, path);
	assert_int_equal(t->ops->open(t), -ENOTTY);
	assert_non_null(strstr(t->err, "not a serial device"));
	rm(t);
	unlink(path);
}

/* A real UART when this machine has one we may open (skipped otherwise):
 * settings applied, raw, non-blocking, exclusive with the holder named. */
static void test_serial_real_port(void **state)
{
	(void)state;
	const char *dev = "/dev/ttyS0";
	struct transport *t = mk(&transport_serial_ops, dev);
	t->opts.baud = 9600;
	t->opts.parity = 'e';
	t->opts.stop_bits = 2;
	t->opts.data_bits = 7;
	int rc = t->ops->open(t);
	if (rc < 0) {
		print_message("%s not usable here (%s): skipped\n", dev, t->err);
		rm(t);
		skip();
	}
	struct termios tio;
	assert_int_equal(tcgetattr(t->fd, &tio), 0);
	assert_int_equal(cfgetispeed(&tio), B9600);
	assert_int_equal(tio.c_cflag & CSIZE, CS7);
	assert_true(tio.c_cflag & PARENB);
	assert_false(tio.c_cflag & PARODD);
	assert_true(tio.c_cflag & CSTOPB);
	assert_int_equal(tio.c_lflag & (ECHO | ICANON), 0);
	assert_true(fcntl(t->fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(t->fd, F_GETFD) & FD_CLOEXEC);
	char buf[16];
	rc = (int)t->ops->read(t, buf, sizeof(buf));
	assert_true(rc == -EAGAIN || rc > 0);
	int64_t t0 = mono();
	assert_int_equal(t->ops->send_break(t, 20), 0);
	assert_true(mono() - t0 >= MS(20));

	struct transport *b = mk(&transport_serial_ops, dev);
	assert_int_equal(b->ops->open(b), -EBUSY);
	char want[64];
	snprintf(want, sizeof(want), "is in use by pid %ld (", (long)getpid());
	assert_non_null(strstr(b->err, want));
	rm(b);
	rm(t);
}

static void test_find_holder(void **state)
{
	(void)state;
	int m, s;
	char name[64];
	assert_int_equal(openpty(&m, &s, name, NULL, NULL), 0);
	pid_t pid = 0;
	char comm[32] = "";
	/* we hold it ourselves */
	assert_int_equal(transport_find_holder(name, -1, &pid, comm, sizeof(comm)), 1);
	assert_int_equal(pid, getpid());
	char self[32] = "";
	FILE *f = fopen("/proc/self/comm", "r");
	assert_non_null(f);
	assert_non_null(fgets(self, sizeof(self), f));
	fclose(f);
	self[strcspn(self, "\n")] = '\0';
	assert_string_equal(comm, self);
	/* skipping our only slave fd: the master is another device */
	assert_int_equal(transport_find_holder(name, s, &pid, comm, sizeof(comm)), 0);

	/* another process holds it */
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		dup2(s, 0);
		execl("/bin/sleep", "sleep", "10", (char *)NULL);
		_exit(127);
	}
	close(s);
	/* wait for the exec so comm is "sleep" */
	int64_t end = mono() + MS(3000);
	int rc;
	do {
		rc = transport_find_holder(name, -1, &pid, comm, sizeof(comm));
	} while ((rc != 1 || strcmp(comm, "sleep") != 0) && mono() < end);
	assert_int_equal(rc, 1);
	assert_int_equal(pid, child);
	assert_string_equal(comm, "sleep");
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	assert_int_equal(transport_find_holder(name, -1, &pid, comm, sizeof(comm)), 0);
	assert_int_equal(transport_find_holder("/nonexistent/tty", -1, &pid, comm, sizeof(comm)), -ENOENT);
	close(m);
}

static int cleanup(void **state)
{
	(void)state;
	if (tmpdir[0])
		rmdir(tmpdir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_pty_raw_both_ways, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_pty_busy_and_missing, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_exec_split, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_exec_cat_round_trip, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_exec_quoting_and_stderr, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_exec_child_signals_reset, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_exec_not_found, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_file_plain, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_file_paced, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_file_stdin_pipe, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_serial_errors, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_serial_real_port, guard_setup, guard_teardown),
	    cmocka_unit_test_setup_teardown(test_find_holder, guard_setup, guard_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, cleanup);
}
