/*
 * control.c — the control-plane front: parses a --control URL into the
 * kind's fields through one table of operations, runs one request at a time
 * and guarantees its completion callback is called exactly once, always
 * from the loop (a timer when a request fails before any I/O), including
 * "cancelled" when the control is freed mid-request.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control_priv.h"
#include "emsagent/transport.h"

static const struct control_ops *const kinds[] = {
    &control_qmp_ops,  &control_virsh_ops,  &control_azure_ops, &control_aws_ops,
    &control_ipmi_ops, &control_hyperv_ops, &control_exec_ops,
};

const char *control_action_name(enum control_action a)
{
	switch (a) {
	case CONTROL_NMI:
		return "nmi";
	case CONTROL_RESET:
		return "reset";
	case CONTROL_SYSRQ:
		return "sysrq";
	case CONTROL_STATUS:
		return "status";
	}
	return "?";
}

bool control_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > CONTROL_NAME_MAX || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

int control_query(const char *q,
                  int (*fn)(struct control *c, const char *k, const char *v, char *err, size_t errsz),
                  struct control *c, char *err, size_t errsz)
{
	char *copy = xstrdup(q), *save = NULL;
	int rc = 0;
	for (char *pair = strtok_r(copy, "&", &save); pair; pair = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(pair, '=');
		if (!eq || eq == pair || !eq[1]) {
			errbuf_set(err, errsz, "malformed query parameter '%.64s' (want key=value)", pair);
			rc = -1;
			break;
		}
		*eq = '\0';
		if (fn(c, pair, eq + 1, err, errsz) < 0) {
			rc = -1;
			break;
		}
	}
	free(copy);
	return rc;
}

static void control_clear_fields(struct control *c)
{
	free(c->host);
	free(c->path);
	free(c->name);
	free(c->group);
	free(c->uri);
	free(c->user);
	free(c->pwfile);
	if (c->argv)
		transport_exec_argv_free(c->argv);
}

int control_parse(const char *url, struct control **out, char *err, size_t errsz)
{
	*out = NULL;
	if (!url || !*url) {
		errbuf_set(err, errsz, "empty control URL");
		return -1;
	}
	const char *colon = strchr(url, ':');
	if (!colon || colon == url) {
		errbuf_set(err, errsz, "control URL '%.64s' has no kind (want KIND:…, e.g. qmp:/path)", url);
		return -1;
	}
	size_t klen = (size_t)(colon - url);
	const struct control_ops *ops = NULL;
	for (size_t i = 0; i < ARRAY_LEN(kinds); i++)
		if (strlen(kinds[i]->kind) == klen && strncmp(kinds[i]->kind, url, klen) == 0)
			ops = kinds[i];
	if (!ops) {
		errbuf_set(err, errsz,
		           "unknown control kind '%.*s' (known: qmp, virsh, azure, aws, ipmi, hyperv, exec)",
		           (int)(klen > 32 ? 32 : klen), url);
		return -1;
	}
	if (!colon[1]) {
		errbuf_set(err, errsz, "%s: control URL has nothing after '%s:'", ops->kind, ops->kind);
		return -1;
	}
	struct control *c = xcalloc(1, sizeof(*c));
	c->ops = ops;
	c->url = xstrdup(url);
	c->qmp.fd = c->cli.out_fd = c->cli.err_fd = -1;
	char why[256] = "";
	if (ops->parse(c, colon + 1, why, sizeof(why)) < 0) {
		errbuf_set(err, errsz, "%s: %s", ops->kind, why);
		control_clear_fields(c);
		free(c->url);
		free(c);
		return -1;
	}
	*out = c;
	return 0;
}

const char *control_kind(const struct control *c)
{
	return c->ops->kind;
}

unsigned control_caps(const struct control *c)
{
	return c->ops->caps;
}

static void on_timeout(struct loop *l, void *ctx);

int control_run(struct control *c, struct loop *l, enum control_action a, const char *arg, int64_t timeout_ns,
                control_done_fn done, void *ctx, char *err, size_t errsz)
{
	if (c->req.busy) {
		errbuf_set(err, errsz, "%s: a %s request is already running", c->ops->kind,
		           control_action_name(c->req.action));
		return -1;
	}
	if ((unsigned)a > CONTROL_STATUS || !(c->ops->caps & CONTROL_CAN(a))) {
		errbuf_set(err, errsz, "%s cannot do %s", c->ops->kind, control_action_name(a));
		return -1;
	}
	if (a == CONTROL_SYSRQ) {
		/* One key, from the kernel's SysRq set: it ends up in a tool's argv. */
		if (!arg || strlen(arg) != 1 ||
		    !((arg[0] >= 'a' && arg[0] <= 'z') || (arg[0] >= '0' && arg[0] <= '9'))) {
			errbuf_set(err, errsz, "sysrq needs one key a-z or 0-9");
			return -1;
		}
	}
	if (!done || !l) {
		errbuf_set(err, errsz, "control_run needs a loop and a callback");
		return -1;
	}
	if (timeout_ns <= 0)
		timeout_ns = 30 * NS_PER_SEC;
	c->req.busy = true;
	c->req.loop = l;
	c->req.action = a;
	c->req.arg = arg ? xstrdup(arg) : NULL;
	c->req.timeout_ns = timeout_ns;
	c->req.done = done;
	c->req.ctx = ctx;
	char why[256] = "";
	if (c->ops->start(c, why, sizeof(why)) < 0) {
		c->ops->stop(c);
		free(c->req.arg);
		memset(&c->req, 0, sizeof(c->req));
		errbuf_set(err, errsz, "%s", why);
		return -1;
	}
	c->req.timer = loop_timer_in(l, timeout_ns, on_timeout, c);
	return 0;
}

void control_timeout_reason(const struct control *c, char *out, size_t outsz)
{
	char d[32];
	format_duration(c->req.timeout_ns, d, sizeof(d));
	snprintf(out, outsz, "timeout after %s", d);
}

static void on_timeout(struct loop *l, void *ctx)
{
	(void)l;
	struct control *c = ctx;
	c->req.timer = 0;
	char reason[64];
	control_timeout_reason(c, reason, sizeof(reason));
	/* CLI kinds first stop the child gracefully and finish when it is
	 * reaped, so the output so far is still reported. */
	if (c->ops->timeout && c->ops->timeout(c))
		return;
	control_finish(c, false, reason, "", 0, NULL);
}

void control_finish(struct control *c, bool ok, const char *reason, const char *output, size_t output_len,
                    const char *status)
{
	if (!c->req.busy)
		return;
	struct loop *l = c->req.loop;
	loop_timer_cancel(l, c->req.timer);
	loop_timer_cancel(l, c->req.late_timer);
	control_done_fn done = c->req.done;
	void *ctx = c->req.ctx;
	/* Copy what is reported: stop() frees the kind's buffers. */
	char *r = reason ? xstrdup(reason) : NULL;
	char *o = xstrndup(output ? output : "", output ? output_len : 0);
	char *s = status ? xstrdup(status) : NULL;
	c->ops->stop(c);
	free(c->req.arg);
	free(c->req.late_reason);
	memset(&c->req, 0, sizeof(c->req));
	struct control_result res = {
	    .ok = ok,
	    .reason = ok ? NULL : (r ? r : "failed"),
	    .output = o,
	    .output_len = output ? output_len : 0,
	    .status = s,
	};
	done(ctx, &res);
	free(r);
	free(o);
	free(s);
}

static void on_late(struct loop *l, void *ctx)
{
	(void)l;
	struct control *c = ctx;
	c->req.late_timer = 0;
	char *r = c->req.late_reason;
	c->req.late_reason = NULL;
	control_finish(c, false, r, "", 0, NULL);
	free(r);
}

void control_fail_later(struct control *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	free(c->req.late_reason);
	c->req.late_reason = xstrdup(msg);
	if (!c->req.late_timer)
		c->req.late_timer = loop_timer_in(c->req.loop, 0, on_late, c);
}

void control_free(struct control *c)
{
	if (!c)
		return;
	if (c->req.busy)
		control_finish(c, false, "cancelled", "", 0, NULL);
	control_clear_fields(c);
	free(c->url);
	free(c);
}
