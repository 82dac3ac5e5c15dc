/*
 * control_cli.c — control planes reached through a vendor's command-line
 * tool (virsh, az, aws, ipmitool, pwsh/powershell) or the user's own
 * command (exec:). Each request builds an argv (never a shell: names from a
 * URL are single words and checked), looks the program up in PATH first so
 * a missing tool is its own reason, and runs it as a child in the loop in
 * its own process group with stdout and stderr on separate pipes (bounded).
 * Reasons: "TOOL not found", "exit N: <first stderr line>", "timeout after
 * T" (SIGTERM to the group, SIGKILL after a grace time).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control_priv.h"
#include "emsagent/transport.h"

extern char **environ;

/* ---- URL parsing ---------------------------------------------------------- */

static int need_name(const char *what, const char *s, char *err, size_t errsz)
{
	if (!control_name_ok(s)) {
		errbuf_set(err, errsz, "bad %s '%.64s' (one word of printable ASCII, not starting with '-')",
		           what, s);
		return -1;
	}
	return 0;
}

static int virsh_param(struct control *c, const char *k, const char *v, char *err, size_t errsz)
{
	if (strcmp(k, "uri") != 0) {
		errbuf_set(err, errsz, "unknown parameter '%.32s' (known: uri)", k);
		return -1;
	}
	if (c->uri) {
		errbuf_set(err, errsz, "uri given twice");
		return -1;
	}
	c->uri = xstrdup(v);
	return need_name("uri", v, err, errsz);
}

/* Splits "NAME?QUERY" and checks NAME. */
static int name_and_query(struct control *c, const char *rest, const char *what,
                          int (*param)(struct control *, const char *, const char *, char *, size_t),
                          char *err, size_t errsz)
{
	const char *q = strchr(rest, '?');
	c->name = q ? xstrndup(rest, (size_t)(q - rest)) : xstrdup(rest);
	if (need_name(what, c->name, err, errsz) < 0)
		return -1;
	if (q && control_query(q + 1, param, c, err, errsz) < 0)
		return -1;
	return 0;
}

static int virsh_parse(struct control *c, const char *rest, char *err, size_t errsz)
{
	return name_and_query(c, rest, "domain", virsh_param, err, errsz);
}

static int azure_parse(struct control *c, const char *rest, char *err, size_t errsz)
{
	const char *slash = strchr(rest, '/');
	if (!slash || strchr(slash + 1, '/')) {
		errbuf_set(err, errsz, "want azure:RESOURCE_GROUP/VM");
		return -1;
	}
	c->group = xstrndup(rest, (size_t)(slash - rest));
	c->name = xstrdup(slash + 1);
	if (need_name("resource group", c->group, err, errsz) < 0 ||
	    need_name("VM name", c->name, err, errsz) < 0)
		return -1;
	return 0;
}

static int aws_parse(struct control *c, const char *rest, char *err, size_t errsz)
{
	for (const char *p = rest; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '-')) {
			errbuf_set(err, errsz, "bad instance id '%.64s' (want e.g. i-0123456789abcdef0)",
			           rest);
			return -1;
		}
	c->name = xstrdup(rest);
	return need_name("instance id", c->name, err, errsz);
}

static int ipmi_param(struct control *c, const char *k, const char *v, char *err, size_t errsz)
{
	char **slot = strcmp(k, "user") == 0 ? &c->user : strcmp(k, "password_file") == 0 ? &c->pwfile : NULL;
	if (!slot) {
		errbuf_set(err, errsz, "unknown parameter '%.32s' (known: user, password_file)", k);
		return -1;
	}
	if (*slot) {
		errbuf_set(err, errsz, "%s given twice", k);
		return -1;
	}
	*slot = xstrdup(v);
	return need_name(k, v, err, errsz);
}

static int ipmi_parse(struct control *c, const char *rest, char *err, size_t errsz)
{
	return name_and_query(c, rest, "host", ipmi_param, err, errsz);
}

static int hyperv_parse(struct control *c, const char *rest, char *err, size_t errsz)
{
	/* The name goes inside a single-quoted PowerShell string; refuse every
	 * character that could end or escape it rather than escape them. */
	size_t n = strlen(rest);
	if (n > CONTROL_NAME_MAX) {
		errbuf_set(err, errsz, "VM name too long");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)rest[i];
		if (ch < 0x20 || ch >= 0x7f || ch == '\'' || ch == '"' || ch == '`' || ch == '$') {
			errbuf_set(err, errsz,
			           "VM name may not contain quotes, '$', '`' or non-ASCII characters");
			return -1;
		}
	}
	c->name = xstrdup(rest);
	return 0;
}

static int exec_parse(struct control *c, const char *rest, char *err, size_t errsz)
{
	if (transport_exec_split(rest, &c->argv, err, errsz) < 0)
		return -1;
	if (!c->argv[0]) {
		errbuf_set(err, errsz, "exec: needs a command");
		return -1;
	}
	return 0;
}

/* ---- argv per kind and action --------------------------------------------- */

struct argv_b {
	char **v;
	size_t n, cap;
};

static void av_add(struct argv_b *a, const char *s)
{
	xgrow((void **)&a->v, &a->cap, a->n + 2, sizeof(char *));
	a->v[a->n++] = xstrdup(s);
	a->v[a->n] = NULL;
}

static void av_free(struct argv_b *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
}

static void build_argv(const struct control *c, enum control_action act, const char *arg, struct argv_b *a)
{
	const char *k = c->ops->kind;
	if (strcmp(k, "virsh") == 0) {
		av_add(a, "virsh");
		if (c->uri) {
			av_add(a, "-c");
			av_add(a, c->uri);
		}
		av_add(a, act == CONTROL_NMI ? "inject-nmi" : act == CONTROL_RESET ? "reset" : "domstate");
		av_add(a, c->name);
	} else if (strcmp(k, "azure") == 0) {
		const char *what[] = {
		    "az",   "serial-console",
		    "send", act == CONTROL_NMI ? "nmi" : act == CONTROL_RESET ? "reset" : "sysrq",
		    "-g",   c->group,
		    "-n",   c->name};
		for (size_t i = 0; i < ARRAY_LEN(what); i++)
			av_add(a, what[i]);
		if (act == CONTROL_SYSRQ) {
			av_add(a, "--sysrqinput");
			av_add(a, arg);
		}
	} else if (strcmp(k, "aws") == 0) {
		av_add(a, "aws");
		av_add(a, "ec2");
		av_add(a, act == CONTROL_NMI ? "send-diagnostic-interrupt" : "reboot-instances");
		av_add(a, act == CONTROL_NMI ? "--instance-id" : "--instance-ids");
		av_add(a, c->name);
	} else if (strcmp(k, "ipmi") == 0) {
		const char *head[] = {"ipmitool", "-I", "lanplus", "-H", c->name};
		for (size_t i = 0; i < ARRAY_LEN(head); i++)
			av_add(a, head[i]);
		if (c->user) {
			av_add(a, "-U");
			av_add(a, c->user);
		}
		if (c->pwfile) {
			av_add(a, "-f");
			av_add(a, c->pwfile);
		} else {
			av_add(a, "-E"); /* the password from IPMI_PASSWORD */
		}
		av_add(a, "chassis");
		av_add(a, "power");
		av_add(a, act == CONTROL_NMI ? "diag" : act == CONTROL_RESET ? "reset" : "status");
	} else if (strcmp(k, "hyperv") == 0) {
		av_add(a, "pwsh"); /* replaced by the program found */
		av_add(a, "-NoProfile");
		av_add(a, "-Command");
		char *cmd = act == CONTROL_NMI
		                ? xasprintf("Debug-VM -Name '%s' -InjectNonMaskableInterrupt -Force", c->name)
		            : act == CONTROL_RESET ? xasprintf("Restart-VM -Name '%s' -Force", c->name)
		                                   : xasprintf("(Get-VM -Name '%s').State", c->name);
		av_add(a, cmd);
		free(cmd);
	} else { /* exec */
		const char *name = control_action_name(act);
		for (char **w = c->argv; *w; w++) {
			struct buf b = {0};
			const char *p = *w, *hit;
			while ((hit = strstr(p, "{action}"))) {
				buf_append(&b, p, (size_t)(hit - p));
				buf_append(&b, name, strlen(name));
				p = hit + 8;
			}
			buf_append(&b, p, strlen(p));
			av_add(a, b.data);
			buf_free(&b);
		}
	}
}

/* ---- running the child ---------------------------------------------------- */

static void keep(struct buf *b, size_t max, const char *p, size_t n, unsigned long long *dropped)
{
	size_t room = b->len < max ? max - b->len : 0;
	size_t k = n < room ? n : room;
	if (k)
		buf_append(b, p, k);
	if (dropped)
		*dropped += n - k;
}

static void close_pipe(struct control *c, int *fd)
{
	if (*fd < 0)
		return;
	loop_del_fd(c->req.loop, *fd);
	close(*fd);
	*fd = -1;
}

static void drain(struct control *c, int *fd)
{
	struct control_cli_state *s = &c->cli;
	char chunk[4096];
	for (;;) {
		ssize_t n = read(*fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
				close_pipe(c, fd);
			return;
		}
		if (fd == &s->out_fd)
			keep(&s->out, CONTROL_OUTPUT_MAX, chunk, (size_t)n, &s->dropped);
		else
			keep(&s->err, CONTROL_STDERR_MAX, chunk, (size_t)n, NULL);
	}
}

static void on_pipe(struct loop *l, int fd, unsigned events, void *ctx)
{
	(void)l;
	(void)events;
	struct control *c = ctx;
	drain(c, fd == c->cli.out_fd ? &c->cli.out_fd : &c->cli.err_fd);
}

/* The first non-empty line of s, trimmed, into out. */
static void first_line(const char *s, size_t len, char *out, size_t outsz)
{
	size_t i = 0;
	out[0] = '\0';
	while (i < len) {
		while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
			i++;
		size_t j = i;
		while (j < len && s[j] != '\n')
			j++;
		size_t e = j;
		while (e > i && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r'))
			e--;
		if (e > i) {
			size_t n = e - i < outsz - 1 ? e - i : outsz - 1;
			for (size_t k = 0; k < n; k++)
				out[k] = (unsigned char)s[i + k] < 0x20 ? ' ' : s[i + k];
			out[n] = '\0';
			return;
		}
		i = j;
	}
}

static void on_child(struct loop *l, pid_t pid, int status, void *ctx)
{
	(void)l;
	(void)pid;
	struct control *c = ctx;
	struct control_cli_state *s = &c->cli;
	s->exited = true;
	s->pid = 0;
	/* Everything the child wrote is in the pipes; a grandchild keeping
	 * them open must not hold the request. */
	if (s->out_fd >= 0)
		drain(c, &s->out_fd);
	if (s->err_fd >= 0)
		drain(c, &s->err_fd);
	if (s->dropped)
		buf_printf(&s->out, "\n[%llu more bytes of output not kept]", s->dropped);
	char line[256], reason[400], status_word[256] = "";
	first_line(s->err.data ? s->err.data : "", s->err.len, line, sizeof(line));
	bool ok = false;
	if (s->timed_out) {
		control_timeout_reason(c, reason, sizeof(reason));
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		ok = true;
		reason[0] = '\0';
	} else if (WIFEXITED(status)) {
		if (line[0])
			snprintf(reason, sizeof(reason), "exit %d: %s", WEXITSTATUS(status), line);
		else
			snprintf(reason, sizeof(reason), "exit %d", WEXITSTATUS(status));
	} else if (WIFSIGNALED(status)) {
		snprintf(reason, sizeof(reason), "killed by signal %d", WTERMSIG(status));
	} else {
		snprintf(reason, sizeof(reason), "ended with status 0x%x", (unsigned)status);
	}
	const char *st = NULL;
	if (ok && c->req.action == CONTROL_STATUS) {
		first_line(s->out.data ? s->out.data : "", s->out.len, line, sizeof(line));
		/* ipmitool says "Chassis Power is on"; the others print the state */
		const char *p = strncmp(line, "Chassis Power is ", 17) == 0 ? line + 17 : line;
		snprintf(status_word, sizeof(status_word), "%s", p);
		st = status_word[0] ? status_word : NULL;
	}
	control_finish(c, ok, ok ? NULL : reason, s->out.data ? s->out.data : "", s->out.len, st);
}

static void on_kill(struct loop *l, void *ctx)
{
	(void)l;
	struct control *c = ctx;
	c->cli.kill_timer = 0;
	if (c->cli.pid > 0)
		kill(-c->cli.pid, SIGKILL);
}

static bool cli_timeout(struct control *c)
{
	struct control_cli_state *s = &c->cli;
	if (s->pid <= 0)
		return false;
	s->timed_out = true;
	kill(-s->pid, SIGTERM);
	s->kill_timer = loop_timer_in(c->req.loop, CONTROL_KILL_GRACE, on_kill, c);
	return true;
}

static int cli_start(struct control *c, char *err, size_t errsz)
{
	struct control_cli_state *s = &c->cli;
	if (strcmp(c->ops->kind, "ipmi") == 0 && c->pwfile) {
		/* ipmitool would read a world-readable password without a word;
		 * a BMC password is worth refusing for. */
		struct stat st;
		if (stat(c->pwfile, &st) < 0) {
			control_fail_later(c, "password file %s: %s", c->pwfile, strerror(errno));
			return 0;
		}
		if (!S_ISREG(st.st_mode) || (st.st_mode & 077)) {
			control_fail_later(c, "password file %s is mode %04o; make it 0600 (chmod 600)",
			                   c->pwfile, (unsigned)(st.st_mode & 07777));
			return 0;
		}
	}
	struct argv_b a = {0};
	build_argv(c, c->req.action, c->req.arg, &a);
	struct buf file = {0};
	int rc;
	if (strcmp(c->ops->kind, "hyperv") == 0) {
		rc = exec_resolve("pwsh", &file);
		if (rc < 0)
			rc = exec_resolve("powershell", &file);
		if (rc < 0) {
			control_fail_later(c, "pwsh or powershell not found");
			goto out_ok;
		}
	} else {
		rc = exec_resolve(a.v[0], &file);
		if (rc == -ENOENT) {
			control_fail_later(c, "%.128s not found", a.v[0]);
			goto out_ok;
		}
		if (rc < 0) {
			control_fail_later(c, "cannot run %.128s: %s", a.v[0], strerror(-rc));
			goto out_ok;
		}
	}
	int outp[2] = {-1, -1}, errp[2] = {-1, -1};
	if (pipe2(outp, O_CLOEXEC | O_NONBLOCK) < 0 || pipe2(errp, O_CLOEXEC | O_NONBLOCK) < 0) {
		errbuf_set(err, errsz, "pipe: %s", strerror(errno));
		goto fail;
	}
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	spawn_child_init(&fa, &at);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, outp[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, errp[1], STDERR_FILENO);
	posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
	pid_t pid;
	rc = posix_spawn(&pid, file.data, &fa, &at, a.v, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(outp[1]);
	close(errp[1]);
	outp[1] = errp[1] = -1;
	if (rc != 0) {
		close(outp[0]);
		close(errp[0]);
		control_fail_later(c, "cannot run %.128s: %s", a.v[0], strerror(rc));
		goto out_ok;
	}
	s->pid = pid;
	s->exited = false;
	s->out_fd = outp[0];
	s->err_fd = errp[0];
	if (loop_add_fd(c->req.loop, s->out_fd, LOOP_IN, on_pipe, c) < 0 ||
	    loop_add_fd(c->req.loop, s->err_fd, LOOP_IN, on_pipe, c) < 0 ||
	    loop_watch_child(c->req.loop, pid, on_child, c) < 0) {
		errbuf_set(err, errsz, "cannot watch %.64s in the loop", a.v[0]);
		av_free(&a);
		buf_free(&file);
		return -1; /* stop() kills and reaps what was started */
	}
out_ok:
	av_free(&a);
	buf_free(&file);
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	av_free(&a);
	buf_free(&file);
	return -1;
}

static void cli_stop(struct control *c)
{
	struct control_cli_state *s = &c->cli;
	if (s->pid > 0) {
		/* Cancelled while running: the group goes now; reap it so it
		 * does not linger as a zombie (SIGKILL cannot be refused). */
		loop_unwatch_child(c->req.loop, s->pid);
		kill(-s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
	}
	loop_timer_cancel(c->req.loop, s->kill_timer);
	close_pipe(c, &s->out_fd);
	close_pipe(c, &s->err_fd);
	buf_free(&s->out);
	buf_free(&s->err);
	free(s->status);
	memset(s, 0, sizeof(*s));
	s->out_fd = s->err_fd = -1;
}

#define CLI_OPS(NAME, CAPS, PARSE)                                                                           \
	const struct control_ops control_##NAME##_ops = {                                                    \
	    .kind = #NAME,                                                                                   \
	    .caps = (CAPS),                                                                                  \
	    .parse = PARSE,                                                                                  \
	    .start = cli_start,                                                                              \
	    .stop = cli_stop,                                                                                \
	    .timeout = cli_timeout,                                                                          \
	}

#define CAN(a) CONTROL_CAN(CONTROL_##a)
CLI_OPS(virsh, CAN(NMI) | CAN(RESET) | CAN(STATUS), virsh_parse);
CLI_OPS(azure, CAN(NMI) | CAN(RESET) | CAN(SYSRQ), azure_parse);
CLI_OPS(aws, CAN(NMI) | CAN(RESET), aws_parse);
CLI_OPS(ipmi, CAN(NMI) | CAN(RESET) | CAN(STATUS), ipmi_parse);
CLI_OPS(hyperv, CAN(NMI) | CAN(RESET) | CAN(STATUS), hyperv_parse);
CLI_OPS(exec, CAN(NMI) | CAN(RESET) | CAN(SYSRQ) | CAN(STATUS), exec_parse);
