/*
 * dump.c — a crash dump request: choose the method, send the trigger, watch
 * the console until the crash shows or the timeout passes (dump.h).
 *
 * Verification reads only text that arrived after the trigger was started,
 * so an old !SAC> or an earlier bugcheck on the screen never counts.
 */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emsagent/dump.h"
#include "emsagent/normalize.h"
#include "emsagent/util.h"

struct dump {
	struct dump_env env;
	enum dump_method method;
	int64_t timeout_ns;
	struct norm *norm;
	enum dump_outcome outcome;
	bool started;   /* the trigger is under way: text from now on counts */
	bool triggered; /* the trigger is known to have gone out */
	bool finishing; /* guards against a second ending from inside a callback */
	int64_t deadline;
	int64_t now;
	char auto_why[160];
	/* what was seen after the trigger, for the failure reason */
	uint64_t lines_seen;
	bool saw_windows; /* any EMS record or SAC prompt */
	bool saw_live;    /* a SAC> prompt (not !SAC>): the machine ran after the request began */
	bool saw_other_bp;
	uint32_t other_stopcode;
	bool saw_panic; /* a Linux panic line that is not the one expected */
	char panic_line[160];
	bool verified_pending; /* verification seen during a feed; finished after it */
	struct ems_record bp;
	bool have_bp;
	char evidence[200];
};

static const char *const method_names[] = {
    [DUMP_AUTO] = "auto", [DUMP_SAC] = "sac", [DUMP_NMI] = "nmi", [DUMP_SYSRQ] = "sysrq"};

const char *dump_method_name(enum dump_method m)
{
	return (unsigned)m < ARRAY_LEN(method_names) ? method_names[m] : "?";
}

int dump_method_parse(const char *s, enum dump_method *out)
{
	for (size_t i = 0; i < ARRAY_LEN(method_names); i++)
		if (s && strcmp(s, method_names[i]) == 0) {
			*out = (enum dump_method)i;
			return 0;
		}
	return -1;
}

static void emit(struct dump *d, enum event_kind k, const char *reason, const struct ems_record *rec,
                 const char *line)
{
	if (!d->env.emit)
		return;
	char title[64];
	snprintf(title, sizeof(title), "crash dump by %s", dump_method_name(d->method));
	struct event ev = {
	    .kind = k,
	    .time_ns = d->now,
	    .time_flags = LINE_TIME_KNOWN,
	    .console = d->env.console,
	    .title = title,
	    .reason = reason,
	    .ems = rec,
	    .line = line,
	    .line_len = line ? strlen(line) : 0,
	    .exit_status = -1,
	};
	d->env.emit(d->env.ctx, &ev);
}

static uint32_t expected_stop(const struct dump *d)
{
	return d->method == DUMP_SAC ? DUMP_STOP_SAC : DUMP_STOP_NMI;
}

static void finish(struct dump *d, enum dump_outcome o, const char *reason)
{
	if (d->outcome != DUMP_RUNNING || d->finishing)
		return;
	d->finishing = true;
	d->outcome = o;
	if (d->env.set_timer)
		d->env.set_timer(d->env.ctx, INT64_MAX);
	if (o == DUMP_VERIFIED)
		emit(d, EV_DUMP_VERIFIED, reason, d->have_bp ? &d->bp : NULL,
		     d->have_bp ? NULL : d->evidence);
	else
		emit(d, EV_DUMP_FAILED, reason, NULL, NULL);
	struct dump_result r = {
	    .outcome = o,
	    .method = d->method,
	    .reason = reason,
	    .has_stopcode = d->have_bp,
	    .stopcode = d->have_bp ? d->bp.stopcode : 0,
	    .evidence = d->evidence[0] ? d->evidence : NULL,
	};
	if (d->env.done)
		d->env.done(d->env.ctx, &r);
}

/* ---- what the console shows ---- */

static void on_ems(void *ctx, const struct ems_record *rec)
{
	struct dump *d = ctx;
	if (!d->started || d->outcome != DUMP_RUNNING)
		return;
	d->saw_windows = true;
	if (rec->kind != EMS_BUGCHECK || !rec->has_stopcode)
		return;
	if (d->method == DUMP_SYSRQ || rec->stopcode != expected_stop(d)) {
		d->saw_other_bp = true;
		d->other_stopcode = rec->stopcode;
		return;
	}
	if (d->verified_pending)
		return;
	d->bp = *rec;
	d->have_bp = true;
	d->verified_pending = true;
	snprintf(d->evidence, sizeof(d->evidence), "<BP> STOPCODE 0x%X", rec->stopcode);
}

static bool has(const struct line *ln, const char *needle)
{
	return memmem(ln->text, ln->len, needle, strlen(needle)) != NULL;
}

static void on_line(void *ctx, const struct line *ln)
{
	struct dump *d = ctx;
	if (!d->started || d->outcome != DUMP_RUNNING || d->verified_pending)
		return;
	if (!(ln->flags & LINE_PARTIAL))
		d->lines_seen++;
	const char *hit = NULL;
	bool crash_prompt = ln->len >= 5 && memcmp(ln->text + ln->len - 5, "!SAC>", 5) == 0;
	if (!crash_prompt && ln->len >= 4 && memcmp(ln->text + ln->len - 4, "SAC>", 4) == 0)
		d->saw_live = true;
	if (crash_prompt)
		d->saw_windows = true;
	/* !SAC> is the kernel's console after a bugcheck. For sac it counts only
	 * when SAC> was seen first: waking a machine that had crashed before
	 * shows !SAC> too, and crashdump is then never typed. */
	if (d->method != DUMP_SYSRQ && crash_prompt && (d->method != DUMP_SAC || d->saw_live)) {
		hit = "!SAC>";
	} else if (d->method == DUMP_NMI &&
	           (has(ln, "Kernel panic - not syncing: NMI") || has(ln, "NMI received"))) {
		hit = ln->text;
	} else if (d->method == DUMP_SYSRQ &&
	           (has(ln, "sysrq: Trigger a crash") || has(ln, "SysRq : Trigger a crash") ||
	            has(ln, "Kernel panic - not syncing: sysrq triggered crash"))) {
		hit = ln->text;
	} else if (has(ln, "Kernel panic - not syncing")) {
		d->saw_panic = true;
		snprintf(d->panic_line, sizeof(d->panic_line), "%.*s", (int)(ln->len < 150 ? ln->len : 150),
		         ln->text);
	}
	if (hit) {
		d->verified_pending = true;
		snprintf(d->evidence, sizeof(d->evidence), "%.150s", hit);
	}
}

/* ---- the outcome ---- */

static void verified(struct dump *d)
{
	char why[256];
	if (d->have_bp) {
		const char *name = ems_stopcode_name(d->bp.stopcode);
		snprintf(why, sizeof(why), "bugcheck 0x%X%s%s seen on the console", d->bp.stopcode,
		         name ? " " : "", name ? name : "");
	} else {
		snprintf(why, sizeof(why), "seen on the console: %s", d->evidence);
	}
	d->triggered = true;
	finish(d, DUMP_VERIFIED, why);
}

static void timed_out(struct dump *d)
{
	char why[512], dur[32];
	format_duration(d->timeout_ns, dur, sizeof(dur));
	size_t n;
	switch (d->method) {
	case DUMP_SAC:
		n = (size_t)snprintf(why, sizeof(why),
		                     "no <BP> record with stop code 0x%X and no !SAC> within %s",
		                     DUMP_STOP_SAC, dur);
		break;
	case DUMP_NMI:
		n = (size_t)snprintf(
		    why, sizeof(why),
		    "no <BP> record with stop code 0x%X, no !SAC> and no Linux NMI panic within %s",
		    DUMP_STOP_NMI, dur);
		break;
	default:
		n = (size_t)snprintf(why, sizeof(why),
		                     "no \"sysrq: Trigger a crash\" and no sysrq panic within %s", dur);
		break;
	}
	if (n >= sizeof(why))
		n = sizeof(why) - 1;
	if (d->saw_other_bp)
		n += (size_t)snprintf(why + n, sizeof(why) - n,
		                      "; saw a bugcheck with stop code 0x%X instead", d->other_stopcode);
	else if (d->saw_panic)
		n += (size_t)snprintf(why + n, sizeof(why) - n, "; saw \"%s\"", d->panic_line);
	if (n >= sizeof(why))
		n = sizeof(why) - 1;
	if (d->lines_seen == 0)
		snprintf(why + n, sizeof(why) - n, "; the console printed nothing after the trigger");
	else
		snprintf(why + n, sizeof(why) - n, "; %llu line(s) after the trigger",
		         (unsigned long long)d->lines_seen);
	finish(d, DUMP_NOT_VERIFIED, why);
}

/* ---- the triggers ---- */

static void sac_done(void *ctx, const struct sac_result *r)
{
	struct dump *d = ctx;
	if (d->outcome != DUMP_RUNNING)
		return;
	if (r->err == SAC_ERR_CRASHED && !d->saw_live) {
		/* the client found !SAC> when it woke the console: nothing was typed */
		finish(d, DUMP_NOT_TRIGGERED,
		       "the machine had already crashed (!SAC>): crashdump is not available there");
		return;
	}
	switch (r->err) {
	case SAC_OK:
	case SAC_ERR_CRASHED:
	case SAC_ERR_TIMEOUT:
		/* crashdump was typed; the console decides (our own timer, same deadline) */
		d->triggered = true;
		return;
	default: {
		char why[400];
		snprintf(why, sizeof(why), "SAC crashdump could not be sent: %s%s%s", sac_strerror(r->err),
		         r->detail ? ": " : "", r->detail ? r->detail : "");
		finish(d, DUMP_NOT_TRIGGERED, why);
		return;
	}
	}
}

static bool can_break(const struct dump *d)
{
	return d->env.send_break || (d->env.control_caps & CONTROL_CAN(CONTROL_SYSRQ));
}

static void choose(struct dump *d)
{
	struct sac_state st = {0};
	if (d->env.sac)
		sac_get_state(d->env.sac, &st);
	bool windows = st.ready || st.crashed || d->saw_windows;
	if (st.ready && !st.crashed) {
		d->method = DUMP_SAC;
		snprintf(d->auto_why, sizeof(d->auto_why), "auto chose sac: SAC is ready");
	} else if (d->env.control_caps & CONTROL_CAN(CONTROL_NMI)) {
		d->method = DUMP_NMI;
		snprintf(d->auto_why, sizeof(d->auto_why),
		         "auto chose nmi: the control plane %s can inject an NMI",
		         d->env.control_kind ? d->env.control_kind : "");
	} else if (!windows && can_break(d)) {
		d->method = DUMP_SYSRQ;
		snprintf(d->auto_why, sizeof(d->auto_why), "auto chose sysrq: no SAC seen and %s",
		         d->env.send_break ? "the console can carry a BREAK"
		                           : "the control plane can send SysRq");
	} else {
		/* nothing known yet: SAC wakes the console and says whether it is there */
		d->method = DUMP_SAC;
		snprintf(d->auto_why, sizeof(d->auto_why), "auto chose sac: no control plane with NMI%s",
		         windows ? "" : " and no BREAK");
	}
}

static const char SYSRQ_ALTERNATIVES[] =
    "this console cannot carry a BREAK: use a telnet chardev (telnet:HOST:PORT), QEMU's mux "
    "chardev on a pty (Ctrl-A b), or a control plane with SysRq (--control azure:RG/VM)";

static int trigger(struct dump *d, char *err, size_t errsz)
{
	int64_t now = d->now;
	switch (d->method) {
	case DUMP_SAC: {
		if (!d->env.sac) {
			errbuf_set(err, errsz, "sac needs a console that can be typed into");
			return -1;
		}
		struct sac_state st;
		sac_get_state(d->env.sac, &st);
		if (st.crashed) {
			errbuf_set(err, errsz,
			           "the machine has already crashed (!SAC>): crashdump is not available");
			return -1;
		}
		d->saw_live = st.ready && st.at_prompt;
		enum sac_err e = sac_run(d->env.sac, "crashdump", d->timeout_ns, sac_done, d, now);
		if (e != SAC_OK) {
			errbuf_set(err, errsz, "SAC crashdump could not be sent: %s", sac_strerror(e));
			return -1;
		}
		return 0;
	}
	case DUMP_NMI:
		if (!d->env.control || !(d->env.control_caps & CONTROL_CAN(CONTROL_NMI))) {
			errbuf_set(err, errsz,
			           "nmi needs a control plane that can inject an NMI (--control qmp:PATH, "
			           "virsh:DOMAIN, azure:RG/VM, aws:ID, ipmi:HOST, hyperv:VM, exec:…)");
			return -1;
		}
		return d->env.control(d->env.ctx, CONTROL_NMI, NULL, err, errsz) < 0 ? -1 : 0;
	case DUMP_SYSRQ:
		if (d->env.control && (d->env.control_caps & CONTROL_CAN(CONTROL_SYSRQ)))
			return d->env.control(d->env.ctx, CONTROL_SYSRQ, "c", err, errsz) < 0 ? -1 : 0;
		if (!d->env.send_break || !d->env.send) {
			errbuf_set(err, errsz, "%s", SYSRQ_ALTERNATIVES);
			return -1;
		}
		int rc = d->env.send_break(d->env.ctx);
		if (rc < 0) {
			errbuf_set(err, errsz, "sending a BREAK failed: %s", strerror(-rc));
			return -1;
		}
		/* the key must follow the BREAK within seconds: send it at once */
		rc = d->env.send(d->env.ctx, "c", 1);
		if (rc < 0) {
			errbuf_set(err, errsz, "sending the SysRq key failed: %s", strerror(-rc));
			return -1;
		}
		d->triggered = true;
		return 0;
	case DUMP_AUTO:
		break;
	}
	errbuf_set(err, errsz, "no method chosen");
	return -1;
}

/* ---- the request ---- */

struct dump *dump_new(const struct dump_env *env, enum dump_method method, int64_t timeout_ns)
{
	struct dump *d = xcalloc(1, sizeof(*d));
	d->env = *env;
	d->method = method;
	d->timeout_ns = timeout_ns > 0 ? timeout_ns : DUMP_DEFAULT_TIMEOUT_NS;
	d->norm = norm_new(on_line, on_ems, d);
	d->deadline = INT64_MAX;
	return d;
}

void dump_free(struct dump *d)
{
	if (!d)
		return;
	norm_free(d->norm);
	free(d);
}

int dump_start(struct dump *d, int64_t now, char *err, size_t errsz)
{
	d->now = now;
	if (d->started || d->outcome != DUMP_RUNNING) {
		errbuf_set(err, errsz, "this dump request was already started");
		return -1;
	}
	if (d->method == DUMP_AUTO)
		choose(d);
	emit(d, EV_DUMP_REQUESTED, d->auto_why[0] ? d->auto_why : NULL, NULL, NULL);
	d->started = true;
	char why[512];
	if (trigger(d, why, sizeof(why)) < 0) {
		d->outcome = DUMP_NOT_TRIGGERED;
		emit(d, EV_DUMP_FAILED, why, NULL, NULL);
		errbuf_set(err, errsz, "%s", why);
		return -1;
	}
	emit(d, EV_DUMP_STARTED, d->auto_why[0] ? d->auto_why : NULL, NULL, NULL);
	d->deadline = now + d->timeout_ns;
	if (d->env.set_timer)
		d->env.set_timer(d->env.ctx, d->deadline);
	return 0;
}

void dump_feed(struct dump *d, const void *buf, size_t n, int64_t now)
{
	d->now = now;
	if (d->outcome != DUMP_RUNNING)
		return;
	norm_feed(d->norm, buf, n, now, LINE_TIME_KNOWN);
	/* prompts (!SAC>) never end in a newline */
	norm_flush_partial(d->norm, now, LINE_TIME_KNOWN);
	if (d->verified_pending)
		verified(d);
}

void dump_tick(struct dump *d, int64_t now)
{
	d->now = now;
	if (d->outcome != DUMP_RUNNING || !d->started)
		return;
	if (now >= d->deadline) {
		timed_out(d);
	} else if (d->env.set_timer) {
		d->env.set_timer(d->env.ctx, d->deadline);
	}
}

void dump_control_done(struct dump *d, bool ok, const char *reason, int64_t now)
{
	d->now = now;
	if (d->outcome != DUMP_RUNNING)
		return;
	if (ok) {
		d->triggered = true;
		return;
	}
	char why[512];
	snprintf(why, sizeof(why), "the control plane%s%s could not %s: %s", d->env.control_kind ? " " : "",
	         d->env.control_kind ? d->env.control_kind : "",
	         d->method == DUMP_SYSRQ ? "send SysRq" : "inject an NMI", reason ? reason : "failed");
	finish(d, DUMP_NOT_TRIGGERED, why);
}

enum dump_outcome dump_outcome(const struct dump *d)
{
	return d->outcome;
}

enum dump_method dump_method(const struct dump *d)
{
	return d->method;
}
