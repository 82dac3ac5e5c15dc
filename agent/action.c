/*
 * action.c — what a console does when its rules say so (action.h): the
 * decisions (trigger, policy, require, cooldown, budget, delay), the kinds
 * that need no child (alert, send, and the ones whose back-ends are not
 * there yet), and every action.* event. Children live in action_exec.c.
 *
 * Order of the checks, each one an action.skipped with its reason when it
 * says no: policy, cooldown, max_per_epoch, an earlier delayed run still
 * waiting; then the delay; then, when the action is about to run,
 * require and the concurrency cap (the console may have changed meanwhile).
 * Cooldowns and budgets count runs that started, not decisions.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "action_priv.h"
#include "emsagent/clock.h"
#include "emsagent/line.h"

void action_policy_default(struct action_policy *p)
{
	p->allow_dump = false;
	p->allow_restart = false;
	p->allow_exec = true;
	p->allow_send = true;
}

/* --- send text ------------------------------------------------------------ */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int action_send_unescape(const char *text, char *out, size_t outsz, size_t *outlen, size_t *break_at,
                         size_t max_breaks, size_t *nbreaks)
{
	size_t n = 0, nb = 0;
	for (const char *p = text; *p; p++) {
		int ch = (unsigned char)*p;
		if (ch == '\\') {
			p++;
			switch (*p) {
			case 'r':
				ch = '\r';
				break;
			case 'n':
				ch = '\n';
				break;
			case 't':
				ch = '\t';
				break;
			case 'e':
				ch = 0x1b;
				break;
			case '\\':
				ch = '\\';
				break;
			case 'x': {
				int hi = p[1] ? hexval(p[1]) : -1, lo = hi >= 0 && p[2] ? hexval(p[2]) : -1;
				if (hi < 0 || lo < 0)
					return -1;
				ch = hi * 16 + lo;
				p += 2;
				break;
			}
			case 'b':
				/* a BREAK is not a byte: it is marked at the position it goes */
				if (nb >= max_breaks)
					return -1;
				break_at[nb++] = n;
				continue;
			default: /* unknown escape or a lone trailing backslash */
				return -1;
			}
		}
		if (n >= outsz)
			return -1;
		out[n++] = (char)ch;
	}
	if (n < outsz)
		out[n] = '\0';
	*outlen = n;
	*nbreaks = nb;
	return 0;
}

/* --- events --------------------------------------------------------------- */

struct act_view {
	const struct rule *rule;
	const struct action *act;
	const char *trigger;
	const char *title;
	unsigned epoch;
	uint64_t offset, lineno;
};

static void emit_view(struct actions *a, const struct act_view *v, enum event_kind kind, const char *reason,
                      int exit_status, const char *output, size_t output_len)
{
	struct event ev = {
	    .kind = kind,
	    .time_ns = loop_now(a->env.loop),
	    .time_flags = LINE_TIME_KNOWN, /* monotonic: the console makes it a wall time */
	    .console = a->env.console,
	    .labels = a->env.labels,
	    .nlabels = a->env.nlabels,
	    .rule = v->rule,
	    .title = v->title,
	    .epoch = v->epoch,
	    .offset = v->offset,
	    .lineno = v->lineno,
	    .action = v->act,
	    .trigger = v->trigger,
	    .reason = reason,
	    .exit_status = exit_status,
	    .output = output,
	    .output_len = output_len,
	};
	if (a->env.emit)
		a->env.emit(a->env.ctx, &ev);
}

static struct act_view view_of_event(const struct event *ev, const struct action *act)
{
	return (struct act_view){.rule = ev->rule,
	                         .act = act,
	                         .trigger = event_kind_name(ev->kind),
	                         .title = ev->title,
	                         .epoch = ev->epoch,
	                         .offset = ev->offset,
	                         .lineno = ev->lineno};
}

static struct act_view view_of_job(const struct act_job *j)
{
	return (struct act_view){.rule = &j->rule,
	                         .act = &j->act,
	                         .trigger = j->trigger,
	                         .title = j->title,
	                         .epoch = j->epoch,
	                         .offset = j->offset,
	                         .lineno = j->lineno};
}

static void emit_job(struct act_job *j, enum event_kind kind, const char *reason, int exit_status,
                     const char *output, size_t output_len)
{
	struct act_view v = view_of_job(j);
	emit_view(j->a, &v, kind, reason, exit_status, output, output_len);
}

/* --- jobs ----------------------------------------------------------------- */

static char **strv_dup(char *const *v, size_t n)
{
	char **out = xcalloc(n ? n : 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		out[i] = xstrdup(v[i]);
	return out;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

static void add_env(struct act_job *j, size_t *cap, struct buf *b)
{
	/* One huge value would make the exec fail (E2BIG): keep a prefix. */
	const char *eq = strchr(b->data, '=');
	if (eq && b->len - (size_t)(eq + 1 - b->data) > ACT_ENV_VALUE_MAX)
		b->data[(eq + 1 - b->data) + ACT_ENV_VALUE_MAX] = '\0';
	xgrow((void **)&j->envv, cap, j->nenv + 1, sizeof(char *));
	j->envv[j->nenv++] = xstrdup(b->data);
	buf_reset(b);
}

/* "EMSAGENT_" + prefix + name upper-cased, other than [A-Z0-9_] made '_'. */
static void act_env_name(struct buf *b, const char *prefix, const char *name)
{
	buf_printf(b, "EMSAGENT_%s", prefix);
	for (const char *p = name; *p; p++) {
		char ch = (char)toupper((unsigned char)*p);
		buf_putc(b, (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ? ch : '_');
	}
}

/* The triggering event, as the child sees it on stdin and in its environment. */
static void job_capture_event(struct act_job *j, const struct event *in)
{
	struct actions *a = j->a;
	struct event ev = *in;
	if (!ev.console)
		ev.console = a->env.console;
	ev.labels = a->env.labels;
	ev.nlabels = a->env.nlabels;
	if ((ev.time_flags & LINE_TIME_KNOWN) && !(ev.time_flags & LINE_TIME_WALL)) {
		ev.time_ns = clock_realtime_ns() - (clock_monotonic_ns() - ev.time_ns);
		ev.time_flags |= LINE_TIME_WALL;
	}
	struct json_object *o = event_to_json(&ev);
	const char *s =
	    json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	j->json = xasprintf("%s\n", s);
	j->json_len = strlen(j->json);
	json_object_put(o);

	/* Console text only ever lands in values, never in names or argv. */
	size_t cap = 0;
	struct buf b = {0};
	buf_printf(&b, "EMSAGENT_CONSOLE=%s", ev.console ? ev.console : "");
	add_env(j, &cap, &b);
	buf_printf(&b, "EMSAGENT_EVENT=%s", event_kind_name(ev.kind));
	add_env(j, &cap, &b);
	buf_printf(&b, "EMSAGENT_RULE=%s", ev.rule ? ev.rule->id : "");
	add_env(j, &cap, &b);
	buf_printf(&b, "EMSAGENT_LEVEL=%s", ev.rule ? rule_level_name(ev.rule->level) : "");
	add_env(j, &cap, &b);
	buf_printf(&b, "EMSAGENT_TITLE=%s", ev.title ? ev.title : "");
	add_env(j, &cap, &b);
	buf_printf(&b, "EMSAGENT_EPOCH=%u", ev.epoch);
	add_env(j, &cap, &b);
	for (size_t i = 0; i < ev.nlabels; i++) {
		act_env_name(&b, "LABEL_", ev.labels[i].key);
		buf_printf(&b, "=%s", ev.labels[i].value ? ev.labels[i].value : "");
		add_env(j, &cap, &b);
	}
	for (size_t i = 0; i < ev.ncaptures; i++) {
		act_env_name(&b, "CAP_", ev.captures[i].key);
		buf_printf(&b, "=%s", ev.captures[i].value ? ev.captures[i].value : "");
		add_env(j, &cap, &b);
	}
	buf_free(&b);
}

static struct act_job *job_new(struct actions *a, const struct event *ev, const struct action *act,
                               size_t slot)
{
	struct act_job *j = xcalloc(1, sizeof(*j));
	j->a = a;
	j->slot = slot;
	j->in_fd = j->out_fd = -1;
	j->rule.id = xstrdup(ev->rule->id);
	j->rule.level = ev->rule->level;
	j->rule.status = ev->rule->status;
	j->rule.os = ev->rule->os;
	j->act = *act;
	j->act.argv = act->argc ? strv_dup(act->argv, act->argc) : NULL;
	j->act.text = act->text ? xstrdup(act->text) : NULL;
	j->act.method = act->method ? xstrdup(act->method) : NULL;
	j->act.require = act->nrequire ? strv_dup(act->require, act->nrequire) : NULL;
	j->act.loc.file = NULL; /* it points into the rule set */
	j->trigger = event_kind_name(ev->kind);
	j->title = ev->title ? xstrdup(ev->title) : NULL;
	j->rule.title = j->title;
	j->epoch = ev->epoch;
	j->offset = ev->offset;
	j->lineno = ev->lineno;
	if (act->kind == ACT_EXEC)
		job_capture_event(j, ev);
	j->next = a->jobs;
	a->jobs = j;
	return j;
}

static void job_unlink(struct act_job *j)
{
	for (struct act_job **pp = &j->a->jobs; *pp; pp = &(*pp)->next) {
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	}
}

static void job_free(struct act_job *j)
{
	free(j->rule.id);
	strv_free(j->act.argv, j->act.argc);
	free(j->act.text);
	free(j->act.method);
	strv_free(j->act.require, j->act.nrequire);
	free(j->title);
	free(j->json);
	strv_free(j->envv, j->nenv);
	buf_free(&j->out);
	free(j);
}

void act_job_finish(struct act_job *j, enum event_kind kind, const char *reason, int exit_status,
                    const char *output, size_t output_len)
{
	if (j->state == JOB_RUNNING && j->act.kind == ACT_EXEC && j->a->running)
		j->a->running--;
	job_unlink(j);
	emit_job(j, kind, reason, exit_status, output, output_len);
	job_free(j);
}

/* --- slots ---------------------------------------------------------------- */

static size_t slot_of(struct actions *a, const char *rule_id, size_t idx)
{
	for (size_t i = 0; i < a->nslots; i++)
		if (a->slots[i].idx == idx && strcmp(a->slots[i].rule_id, rule_id) == 0)
			return i;
	if (a->nslots >= ACT_MAX_SLOTS) {
		/* Bounded: the oldest entry goes (cooldowns of rules long gone). */
		free(a->slots[0].rule_id);
		memmove(a->slots, a->slots + 1, (a->nslots - 1) * sizeof(*a->slots));
		a->nslots--;
		for (struct act_job *j = a->jobs; j; j = j->next)
			j->slot = j->slot ? j->slot - 1 : SIZE_MAX;
	}
	xgrow((void **)&a->slots, &a->cap_slots, a->nslots + 1, sizeof(*a->slots));
	a->slots[a->nslots] = (struct act_slot){.rule_id = xstrdup(rule_id), .idx = idx};
	return a->nslots++;
}

static void slot_count_run(struct actions *a, size_t slot)
{
	if (slot >= a->nslots)
		return;
	a->slots[slot].ran = true;
	a->slots[slot].last_ns = loop_now(a->env.loop);
	a->slots[slot].epoch_runs++;
}

/* --- running one action --------------------------------------------------- */

static bool has_cap(struct actions *a, const char *cap)
{
	return a->env.has_cap && a->env.has_cap(a->env.ctx, cap);
}

static void run_send(struct act_job *j)
{
	struct actions *a = j->a;
	char out[ACT_SEND_MAX];
	size_t n, breaks[ACT_SEND_MAX_BREAKS], nb;
	const char *text = j->act.text ? j->act.text : "";
	if (action_send_unescape(text, out, sizeof(out), &n, breaks, ARRAY_LEN(breaks), &nb) < 0) {
		act_job_finish(j, EV_ACTION_FAILED,
		               "bad send text (an unknown escape, more than 32 \\b or more than 4096 bytes)",
		               -1, text, strlen(text));
		return;
	}
	/* Refuse before writing anything rather than send half a sequence. */
	if (nb && !has_cap(a, "break")) {
		act_job_finish(j, EV_ACTION_FAILED, "this console cannot send a BREAK", -1, text,
		               strlen(text));
		return;
	}
	size_t pos = 0;
	char reason[128];
	for (size_t k = 0; k <= nb; k++) {
		size_t end = k < nb ? breaks[k] : n;
		if (end > pos) {
			int rc = a->env.send ? a->env.send(a->env.ctx, out + pos, end - pos) : -ENOTSUP;
			if (rc < 0) {
				snprintf(reason, sizeof(reason), "cannot send: %s", strerror(-rc));
				act_job_finish(j, EV_ACTION_FAILED, reason, -1, text, strlen(text));
				return;
			}
			pos = end;
		}
		if (k < nb) {
			int rc = a->env.send_break ? a->env.send_break(a->env.ctx, ACT_BREAK_MS) : -ENOTSUP;
			if (rc < 0) {
				snprintf(reason, sizeof(reason), "cannot send a BREAK: %s", strerror(-rc));
				act_job_finish(j, EV_ACTION_FAILED, reason, -1, text, strlen(text));
				return;
			}
		}
	}
	act_job_finish(j, EV_ACTION_DONE, NULL, -1, text, strlen(text));
}

/* sac, dump and restart need back-ends this version does not have: the
 * reason names what is missing on this console. */
static const char *missing_backend(const struct act_job *j)
{
	switch (j->act.kind) {
	case ACT_SAC:
		return "no SAC client on this console";
	case ACT_RESTART:
		return "no control plane configured";
	default: /* dump */
		if (j->act.method && strcmp(j->act.method, "sac") == 0)
			return "no SAC client on this console";
		if (j->act.method &&
		    (strcmp(j->act.method, "nmi") == 0 || strcmp(j->act.method, "sysrq") == 0))
			return "no control plane configured";
		return "no SAC client on this console and no control plane configured";
	}
}

/* The answer of a console back-end (SAC, dump, restart): ok or the reason. */
static void on_backend_done(void *dctx, bool ok, const char *reason, const char *output, size_t len)
{
	act_job_finish(dctx, ok ? EV_ACTION_DONE : EV_ACTION_FAILED, ok ? NULL : reason, -1, output, len);
}

static void job_run(struct act_job *j)
{
	struct actions *a = j->a;
	char reason[160];
	for (size_t i = 0; i < j->act.nrequire; i++) {
		if (!has_cap(a, j->act.require[i])) {
			snprintf(reason, sizeof(reason), "missing capability '%.64s'", j->act.require[i]);
			act_job_finish(j, EV_ACTION_SKIPPED, reason, -1, NULL, 0);
			return;
		}
	}
	if (j->act.kind == ACT_EXEC && a->running >= ACT_MAX_RUNNING) {
		act_job_finish(j, EV_ACTION_SKIPPED, "too many running", -1, NULL, 0);
		return;
	}
	j->state = JOB_RUNNING;
	slot_count_run(a, j->slot);
	emit_job(j, EV_ACTION_STARTED, NULL, -1, NULL, 0);
	switch (j->act.kind) {
	case ACT_EXEC:
		a->running++;
		if (act_exec_start(j, reason, sizeof(reason)) < 0)
			act_job_finish(j, EV_ACTION_FAILED, reason, -1, NULL, 0);
		return;
	case ACT_SEND:
		run_send(j);
		return;
	case ACT_SAC:
		if (a->env.sac_run) {
			int64_t timeout = j->act.timeout_ns > 0 ? j->act.timeout_ns : 60 * NS_PER_SEC;
			if (a->env.sac_run(a->env.ctx, j->act.text ? j->act.text : "", timeout,
			                   on_backend_done, j, reason, sizeof(reason)) < 0)
				act_job_finish(j, EV_ACTION_FAILED, reason, -1, NULL, 0);
			return;
		}
		act_job_finish(j, EV_ACTION_FAILED, missing_backend(j), -1, NULL, 0);
		return;
	case ACT_DUMP:
		if (a->env.dump_run) {
			if (a->env.dump_run(a->env.ctx, j->act.method, j->act.timeout_ns, on_backend_done, j,
			                    reason, sizeof(reason)) < 0)
				act_job_finish(j, EV_ACTION_FAILED, reason, -1, NULL, 0);
			return;
		}
		act_job_finish(j, EV_ACTION_FAILED, missing_backend(j), -1, NULL, 0);
		return;
	case ACT_RESTART:
		if (a->env.restart_run) {
			if (a->env.restart_run(a->env.ctx, j->act.timeout_ns, on_backend_done, j, reason,
			                       sizeof(reason)) < 0)
				act_job_finish(j, EV_ACTION_FAILED, reason, -1, NULL, 0);
			return;
		}
		act_job_finish(j, EV_ACTION_FAILED, missing_backend(j), -1, NULL, 0);
		return;
	default:
		act_job_finish(j, EV_ACTION_FAILED, missing_backend(j), -1, NULL, 0);
		return;
	}
}

static void on_delay(struct loop *l, void *ctx)
{
	(void)l;
	struct act_job *j = ctx;
	j->delay_timer = 0;
	job_run(j);
}

static bool allowed(const struct action_policy *p, enum action_kind k)
{
	switch (k) {
	case ACT_DUMP:
		return p->allow_dump;
	case ACT_RESTART:
		return p->allow_restart;
	case ACT_EXEC:
		return p->allow_exec;
	case ACT_SEND:
		return p->allow_send;
	default:
		return true;
	}
}

static void decide(struct actions *a, const struct event *ev, const struct action *act, size_t idx)
{
	struct act_view v = view_of_event(ev, act);
	struct action_policy def;
	const struct action_policy *pol = a->env.policy;
	if (!pol) {
		action_policy_default(&def);
		pol = &def;
	}
	if (!allowed(pol, act->kind)) {
		emit_view(a, &v, EV_ACTION_SKIPPED, "not allowed", -1, NULL, 0);
		return;
	}
	size_t slot = slot_of(a, ev->rule->id, idx);
	struct act_slot *s = &a->slots[slot];
	int64_t now = loop_now(a->env.loop);
	char reason[96];
	if (act->cooldown_ns > 0 && s->ran && now - s->last_ns < act->cooldown_ns) {
		char left[32];
		format_duration(act->cooldown_ns - (now - s->last_ns), left, sizeof(left));
		snprintf(reason, sizeof(reason), "cooldown (%s left)", left);
		emit_view(a, &v, EV_ACTION_SKIPPED, reason, -1, NULL, 0);
		return;
	}
	if (act->max_per_epoch && s->epoch_runs >= act->max_per_epoch) {
		snprintf(reason, sizeof(reason), "max_per_epoch reached (%u)", act->max_per_epoch);
		emit_view(a, &v, EV_ACTION_SKIPPED, reason, -1, NULL, 0);
		return;
	}
	for (struct act_job *j = a->jobs; j; j = j->next) {
		if (j->state == JOB_WAITING && j->slot == slot) {
			emit_view(a, &v, EV_ACTION_SKIPPED, "already waiting for its delay", -1, NULL, 0);
			return;
		}
	}
	struct act_job *j = job_new(a, ev, act, slot);
	if (act->delay_ns > 0) {
		j->delay_timer = loop_timer_in(a->env.loop, act->delay_ns, on_delay, j);
		return;
	}
	job_run(j);
}

/* Delayed runs that have not started yet; rule_id NULL = every rule. */
static void cancel_waiting(struct actions *a, const char *rule_id, const char *reason)
{
	struct act_job *j = a->jobs;
	while (j) {
		struct act_job *next = j->next;
		if (j->state == JOB_WAITING && (!rule_id || strcmp(j->rule.id, rule_id) == 0)) {
			loop_timer_cancel(a->env.loop, j->delay_timer);
			j->delay_timer = 0;
			act_job_finish(j, EV_ACTION_SKIPPED, reason, -1, NULL, 0);
		}
		j = next;
	}
}

/* --- the interface -------------------------------------------------------- */

struct actions *actions_new(const struct action_env *env)
{
	struct actions *a = xcalloc(1, sizeof(*a));
	a->env = *env;
	return a;
}

void actions_on_event(struct actions *a, const struct event *ev)
{
	if (!a || !ev)
		return;
	enum action_on on;
	switch (ev->kind) {
	case EV_EPOCH_STARTED:
		cancel_waiting(a, NULL, "cancelled: a new epoch started");
		for (size_t i = 0; i < a->nslots; i++)
			a->slots[i].epoch_runs = 0;
		return;
	case EV_RULE_PENDING:
		on = ACT_ON_PENDING;
		break;
	case EV_RULE_FIRED:
		on = ACT_ON_FIRE;
		break;
	case EV_RULE_RESOLVED:
		if (ev->rule)
			cancel_waiting(a, ev->rule->id, "cancelled: the rule resolved");
		on = ACT_ON_RESOLVE;
		break;
	default:
		return;
	}
	const struct rule *r = ev->rule;
	if (!r)
		return;
	for (size_t i = 0; i < r->nactions; i++) {
		const struct action *act = &r->actions[i];
		/* alert: the rule event itself is the alert */
		if (act->on == on && act->kind != ACT_ALERT)
			decide(a, ev, act, i);
	}
}

unsigned actions_running(const struct actions *a)
{
	return a ? a->running : 0;
}

void actions_free(struct actions *a)
{
	if (!a)
		return;
	struct act_job *j = a->jobs;
	while (j) {
		struct act_job *next = j->next;
		if (j->state == JOB_WAITING)
			loop_timer_cancel(a->env.loop, j->delay_timer);
		else if (j->act.kind == ACT_EXEC)
			act_exec_abandon(j);
		job_free(j);
		j = next;
	}
	for (size_t i = 0; i < a->nslots; i++)
		free(a->slots[i].rule_id);
	free(a->slots);
	free(a);
}
