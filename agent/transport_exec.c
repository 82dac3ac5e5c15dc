/*
 * transport_exec.c — exec:COMMAND: a child's stdio is the console (virsh
 * console DOM, ipmitool … sol activate, az serial-console connect).
 *
 * COMMAND is split into words with a shell's quoting ('…', "…", \) and run
 * with execvp — never by a shell: nothing is expanded, and unquoted shell
 * operators are refused rather than passed on as surprising arguments.
 *
 * The child gets one end of a socketpair as stdin, stdout and stderr: its
 * complaints ("error: failed to get domain") land in the console stream and
 * the capture, in order with its output, instead of in the agent's own log
 * where hundreds of consoles would interleave. It runs in its own process
 * group with default signal dispositions and an empty signal mask (the loop
 * blocks and ignores some; exec would pass that on). close sends SIGTERM to
 * the group and forgets the pid; the loop reaps it.
 *
 * The command is looked up on PATH here, before forking, as execvp would
 * (PATH unset: /usr/local/bin:/usr/bin:/bin): a command that is not there
 * fails the open with -ENOENT ("command not found"), one that may not be run
 * with -EACCES, and no child is made. The child then uses execv on the path
 * found, so a file without a #! line is refused (ENOEXEC) instead of being
 * handed to /bin/sh as execvp would. What still fails at exec time (the file
 * vanished, ENOEXEC, E2BIG) comes back through a close-on-exec pipe: the
 * child writes errno there and exits 127 or 126, the first read returns 0
 * and t->err says why — open never waits for the child's exec.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "emsagent/transport.h"
#include "emsagent/util.h"
#include "transport_priv.h"

#define EXEC_MAX_WORDS 1024

struct exec_priv {
	int errfd; /* read end of the exec-error pipe, -1 once read */
	int exec_errno;
	char *argv0;
};

static bool is_operator(char c)
{
	return c == '|' || c == '&' || c == ';' || c == '<' || c == '>' || c == '(' || c == ')' || c == '`';
}

void transport_exec_argv_free(char **argv)
{
	if (!argv)
		return;
	for (char **a = argv; *a; a++)
		free(*a);
	free(argv);
}

int transport_exec_split(const char *cmd, char ***argv_out, char *err, size_t errsz)
{
	*argv_out = NULL;
	char **argv = NULL;
	size_t n = 0, cap = 0;
	struct buf w = {0};
	bool in_word = false;
	const char *p = cmd;
	for (;;) {
		char c = *p;
		if (c == '\0' || c == ' ' || c == '\t' || c == '\n') {
			if (in_word) {
				if (n + 1 >= EXEC_MAX_WORDS) {
					errbuf_set(err, errsz, "more than %d words in the command",
					           EXEC_MAX_WORDS - 1);
					goto fail;
				}
				xgrow((void **)&argv, &cap, n + 2, sizeof(*argv));
				argv[n++] = xstrndup(w.data ? w.data : "", w.len);
				argv[n] = NULL;
				buf_reset(&w);
				in_word = false;
			}
			if (c == '\0')
				break;
			p++;
			continue;
		}
		in_word = true;
		size_t col = (size_t)(p - cmd) + 1;
		if (c == '\'') {
			const char *end = strchr(p + 1, '\'');
			if (!end) {
				errbuf_set(err, errsz, "unterminated single quote at column %zu", col);
				goto fail;
			}
			buf_append(&w, p + 1, (size_t)(end - p - 1));
			p = end + 1;
		} else if (c == '"') {
			p++;
			for (;;) {
				if (*p == '\0') {
					errbuf_set(err, errsz, "unterminated double quote at column %zu",
					           col);
					goto fail;
				}
				if (*p == '"') {
					p++;
					break;
				}
				/* inside "…" a backslash escapes only what a shell lets it */
				if (*p == '\\' && p[1] && strchr("\\\"$`", p[1])) {
					buf_putc(&w, p[1]);
					p += 2;
					continue;
				}
				buf_putc(&w, *p++);
			}
		} else if (c == '\\') {
			if (p[1] == '\0') {
				errbuf_set(err, errsz, "trailing backslash at column %zu", col);
				goto fail;
			}
			buf_putc(&w, p[1]);
			p += 2;
		} else if (is_operator(c)) {
			errbuf_set(err, errsz,
			           "unquoted '%c' at column %zu: the command runs without a shell, so pipes, "
			           "redirections and lists do not work (quote it to pass it as an argument)",
			           c, col);
			goto fail;
		} else {
			buf_putc(&w, c);
			p++;
		}
	}
	buf_free(&w);
	if (n == 0) {
		errbuf_set(err, errsz, "empty command");
		free(argv);
		return -1;
	}
	*argv_out = argv;
	return 0;
fail:
	buf_free(&w);
	if (argv) {
		argv[n] = NULL;
		transport_exec_argv_free(argv);
	}
	return -1;
}

/* In the child, between fork and exec: async-signal-safe calls only. */
static void child_exec(int sock, int errfd, const char *path, char **argv)
{
	setpgid(0, 0);
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			signal(s, SIG_DFL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (dup2(sock, 0) < 0 || dup2(sock, 1) < 0 || dup2(sock, 2) < 0)
		goto fail;
	/* whatever else this process had open (other consoles, logs) stays here */
	close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
	execv(path, argv);
fail:;
	int e = errno;
	ssize_t wr = write(errfd, &e, sizeof(e));
	(void)wr;
	_exit(e == ENOENT ? 127 : 126);
}

/* Finds argv0 as execvp would. The path (to free), or NULL with *err. */
static char *resolve(const char *argv0, int *err)
{
	struct buf b = {0};
	int rc = exec_resolve(argv0, &b);
	if (rc < 0) {
		*err = -rc;
		buf_free(&b);
		return NULL;
	}
	return b.data;
}

static void exec_priv_free(struct exec_priv *p)
{
	if (!p)
		return;
	if (p->errfd >= 0)
		close(p->errfd);
	free(p->argv0);
	free(p);
}

static int exec_open(struct transport *t)
{
	char **argv = NULL;
	char why[200];
	if (transport_exec_split(t->target, &argv, why, sizeof(why)) < 0) {
		snprintf(t->err, sizeof(t->err), "exec:%s: %s", t->target, why);
		return -EINVAL;
	}
	int rerr = 0;
	char *path = resolve(argv[0], &rerr);
	if (!path) {
		if (rerr == ENOENT)
			snprintf(t->err, sizeof(t->err), "exec: '%s': command not found", argv[0]);
		else
			snprintf(t->err, sizeof(t->err), "exec: cannot run '%s': %s", argv[0],
			         strerror(rerr));
		transport_exec_argv_free(argv);
		return -rerr;
	}
	int sv[2], ep[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		int e = errno;
		snprintf(t->err, sizeof(t->err), "exec: socketpair: %s", strerror(e));
		free(path);
		transport_exec_argv_free(argv);
		return -e;
	}
	if (pipe2(ep, O_CLOEXEC) < 0) {
		int e = errno;
		snprintf(t->err, sizeof(t->err), "exec: pipe: %s", strerror(e));
		close(sv[0]);
		close(sv[1]);
		free(path);
		transport_exec_argv_free(argv);
		return -e;
	}
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		snprintf(t->err, sizeof(t->err), "exec: fork: %s", strerror(e));
		close(sv[0]);
		close(sv[1]);
		close(ep[0]);
		close(ep[1]);
		free(path);
		transport_exec_argv_free(argv);
		return -e;
	}
	if (pid == 0)
		child_exec(sv[1], ep[1], path, argv);
	free(path);
	/* Both sides set the group, so it exists whichever runs first. */
	setpgid(pid, pid);
	close(sv[1]);
	close(ep[1]);
	fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
	fcntl(ep[0], F_SETFL, fcntl(ep[0], F_GETFL) | O_NONBLOCK);
	struct exec_priv *p = xcalloc(1, sizeof(*p));
	p->errfd = ep[0];
	p->argv0 = xstrdup(argv[0]);
	transport_exec_argv_free(argv);
	t->priv = p;
	t->fd = sv[0];
	t->pid = pid;
	return 0;
}

/* The child's output ended: say whether it ever ran. */
static void explain_end(struct transport *t)
{
	struct exec_priv *p = t->priv;
	if (p->errfd >= 0) {
		int e = 0;
		ssize_t r = read(p->errfd, &e, sizeof(e));
		if (r == (ssize_t)sizeof(e))
			p->exec_errno = e;
		if (r >= 0) { /* data or EOF: the exec has been decided */
			close(p->errfd);
			p->errfd = -1;
		}
	}
	if (p->exec_errno == ENOENT)
		snprintf(t->err, sizeof(t->err), "exec: '%s': command not found (exit 127)", p->argv0);
	else if (p->exec_errno)
		snprintf(t->err, sizeof(t->err), "exec: cannot run '%s': %s (exit 126)", p->argv0,
		         strerror(p->exec_errno));
	else
		snprintf(t->err, sizeof(t->err), "exec: '%s' closed its output (exited?)", p->argv0);
}

static ssize_t exec_read(struct transport *t, void *buf, size_t n)
{
	ssize_t r = recv(t->fd, buf, n, MSG_DONTWAIT);
	if (r > 0)
		return r;
	if (r < 0) {
		int e = errno;
		if (e == EAGAIN || e == EINTR)
			return -EAGAIN;
		if (e != ECONNRESET) {
			snprintf(t->err, sizeof(t->err), "exec: read: %s", strerror(e));
			return -e;
		}
	}
	explain_end(t);
	return 0;
}

static ssize_t exec_write(struct transport *t, const void *buf, size_t n)
{
	ssize_t w = send(t->fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (w >= 0)
		return w;
	int e = errno;
	if (e == EAGAIN || e == EINTR)
		return -EAGAIN;
	if (e == EPIPE || e == ECONNRESET)
		explain_end(t);
	else
		snprintf(t->err, sizeof(t->err), "exec: write: %s", strerror(e));
	return -e;
}

static int exec_send_break(struct transport *t, unsigned ms)
{
	(void)ms;
	snprintf(t->err, sizeof(t->err), "exec:%s: a command's stdio carries no BREAK", t->target);
	return -ENOTSUP;
}

static void exec_close(struct transport *t)
{
	if (t->pid > 0 && kill(-t->pid, SIGTERM) < 0)
		kill(t->pid, SIGTERM);
	t->pid = 0;
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	exec_priv_free(t->priv);
	t->priv = NULL;
}

const struct transport_ops transport_exec_ops = {
    .kind = "exec",
    .caps = TRANSPORT_CAN_WRITE | TRANSPORT_IS_DEVICE,
    .open = exec_open,
    .read = exec_read,
    .write = exec_write,
    .send_break = exec_send_break,
    .close = exec_close,
};
