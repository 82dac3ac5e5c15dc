/*
 * attach_show.c — the words of attach's notices: events (a finding on one
 * line with its article id and first step; the rest of it in the log),
 * replies to requests, and the status of `i`.
 */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "attach_priv.h"
#include "emsagent/event.h"

static char level_cls(const char *level)
{
	if (!level)
		return N_INFO;
	if (strcmp(level, "critical") == 0 || strcmp(level, "high") == 0)
		return N_BAD;
	if (strcmp(level, "medium") == 0)
		return N_WARN;
	return N_INFO;
}

/* The full rule event, for the log: what the short notice leaves out. */
/* One indented detail line in the log, stamped like the rest of it. */
static void log_detail(struct attach *a, const char *label, const char *text)
{
	struct buf b = {0};
	if (a->timestamps) {
		char ts[64];
		attach_stamp(ts, sizeof(ts), true);
		buf_append(&b, ts, strlen(ts));
	}
	size_t n = strlen(text);
	while (n && (text[n - 1] == '\n' || text[n - 1] == ' '))
		n--; /* YAML's folded text ends in a newline */
	buf_printf(&b, "    %s%.*s\n", label, (int)n, text);
	/* Console text (the line) and rule text: one line each, no control
	 * bytes for the log's readers' terminals either. */
	attach_sanitize(b.data, b.len - 1, false);
	attach_log_write(a, b.data, b.len);
	buf_free(&b);
}

/* The full rule event, for the log: what the short notice leaves out. */
static void log_rule_details(struct attach *a, struct json_object *ev)
{
	if (a->log_fd < 0)
		return;
	const char *s = json_get_str(ev, "summary");
	if (s)
		log_detail(a, "", s);
	struct json_object *rem;
	if (json_object_object_get_ex(ev, "remediation", &rem) && json_object_is_type(rem, json_type_array))
		for (size_t i = 0; i < json_object_array_length(rem); i++) {
			char label[32];
			snprintf(label, sizeof(label), "%zu. ", i + 1);
			log_detail(a, label, json_object_get_string(json_object_array_get_idx(rem, i)));
		}
	const char *line = json_get_str(ev, "line");
	if (line)
		log_detail(a, "line: ", line);
}

void attach_event(struct attach *a, struct json_object *ev, int64_t now)
{
	(void)now;
	if (a->events) {
		fputs(json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN), a->events);
		fputc('\n', a->events);
		fflush(a->events);
	}
	if (a->cfg.quiet_alerts)
		return;
	const char *kind = json_get_str(ev, "event");
	if (!kind)
		return;
	const char *rule = json_get_str(ev, "rule"), *title = json_get_str(ev, "title"),
	           *level = json_get_str(ev, "level");
	const char *reason = json_get_str(ev, "reason");
	if (strcmp(kind, "rule.fired") == 0 || strcmp(kind, "rule.uncertain") == 0) {
		const char *first = NULL;
		struct json_object *rem;
		if (json_object_object_get_ex(ev, "remediation", &rem) &&
		    json_object_is_type(rem, json_type_array) && json_object_array_length(rem) > 0)
			first = json_object_get_string(json_object_array_get_idx(rem, 0));
		char lv[16];
		snprintf(lv, sizeof(lv), "%s", level ? level : "info");
		for (char *s = lv; *s; s++)
			*s = (char)(*s >= 'a' && *s <= 'z' ? *s - 32 : *s);
		attach_note(a, level_cls(level), "%s%s %s: %s%s%s",
		            strcmp(kind, "rule.uncertain") == 0 ? "maybe " : "", lv, rule ? rule : "?",
		            title ? title : "", first ? " -- first: " : "", first ? first : "");
		log_rule_details(a, ev);
	} else if (strcmp(kind, "rule.resolved") == 0) {
		attach_note(a, N_GOOD, "resolved %s%s%s", rule ? rule : "?", reason ? ": " : "",
		            reason ? reason : "");
	} else if (strcmp(kind, "epoch.started") == 0) {
		attach_note(a, N_INFO, "new boot: epoch %lld (%s)", (long long)json_get_int(ev, "epoch", 0),
		            json_get_str(ev, "marker") ? json_get_str(ev, "marker") : "?");
	} else if (strcmp(kind, "ems.bugcheck") == 0) {
		attach_note(a, N_BAD, "bug check reported over EMS%s%s",
		            json_get_str(ev, "stopcode") ? ": " : "",
		            json_get_str(ev, "stopcode") ? json_get_str(ev, "stopcode") : "");
	} else if (strncmp(kind, "dump.", 5) == 0) {
		attach_note(a,
		            strcmp(kind, "dump.failed") == 0     ? N_BAD
		            : strcmp(kind, "dump.verified") == 0 ? N_GOOD
		                                                 : N_INFO,
		            "%s%s%s%s%s", kind, title ? " " : "", title ? title : "", reason ? ": " : "",
		            reason ? reason : "");
	} else if (strcmp(kind, "action.done") == 0 || strcmp(kind, "action.failed") == 0 ||
	           strcmp(kind, "action.skipped") == 0 || strcmp(kind, "action.started") == 0) {
		attach_note(a, strcmp(kind, "action.failed") == 0 ? N_BAD : N_INFO, "%s %s%s%s%s%s", kind,
		            json_get_str(ev, "action") ? json_get_str(ev, "action") : "", rule ? " for " : "",
		            rule ? rule : "", reason ? ": " : "", reason ? reason : "");
	} else if (strcmp(kind, "console.disconnected") == 0) {
		attach_note(a, N_BAD, "console lost%s%s", reason ? ": " : "", reason ? reason : "");
	} else if (strcmp(kind, "console.connected") == 0) {
		attach_note(a, N_GOOD, "console connected");
	}
}

static void show_status(struct attach *a, struct json_object *st)
{
	const char *port = json_get_str(st, "port"), *kind = json_get_str(st, "kind"),
	           *settings = json_get_str(st, "settings");
	bool connected = json_get_bool(st, "connected");
	attach_note(a, N_INFO, "port %s (%s), %s, %s%s%s", port ? port : "?", kind ? kind : "?",
	            settings ? settings : "?", connected ? "connected" : "not connected",
	            json_get_str(st, "error") ? ": " : "",
	            json_get_str(st, "error") ? json_get_str(st, "error") : "");
	attach_note(a, N_INFO, "control plane: %s",
	            json_get_str(st, "control") ? json_get_str(st, "control") : "none");
	struct json_object *sac;
	if (json_object_object_get_ex(st, "sac", &sac)) {
		struct buf b = {0};
		struct json_object *ch;
		if (json_object_object_get_ex(sac, "channels", &ch) &&
		    json_object_is_type(ch, json_type_array))
			for (size_t i = 0; i < json_object_array_length(ch); i++)
				buf_printf(&b, "%s%s", i ? ", " : "",
				           json_object_get_string(json_object_array_get_idx(ch, i)));
		bool ready = json_get_bool(sac, "ready");
		bool crashed = json_get_bool(sac, "crashed");
		const char *stop = json_get_str(sac, "stopcode");
		attach_note(a, crashed ? N_BAD : N_INFO, "SAC: %s%s%s%s, channel %s, channels [%s]",
		            ready ? "seen" : "not seen", crashed ? ", CRASHED (!SAC>)" : "",
		            stop ? ", stop code " : "", stop ? stop : "",
		            json_get_str(sac, "channel") ? json_get_str(sac, "channel") : "-",
		            b.data ? b.data : "");
		buf_free(&b);
	}
	struct json_object *mi;
	if (json_object_object_get_ex(st, "machine_info", &mi))
		attach_note(a, N_INFO, "machine: %s %s %s build %s %s",
		            json_get_str(mi, "name") ? json_get_str(mi, "name") : "?",
		            json_get_str(mi, "os_product") ? json_get_str(mi, "os_product") : "",
		            json_get_str(mi, "os_version") ? json_get_str(mi, "os_version") : "",
		            json_get_str(mi, "os_build") ? json_get_str(mi, "os_build") : "?",
		            json_get_str(mi, "arch") ? json_get_str(mi, "arch") : "");
	attach_note(a, N_INFO, "epoch %lld%s", (long long)json_get_int(st, "epoch", 0),
	            json_get_bool(st, "dump_running") ? ", a dump is running" : "");
	struct json_object *fs;
	if (json_object_object_get_ex(st, "findings", &fs) && json_object_is_type(fs, json_type_array)) {
		size_t nf = json_object_array_length(fs);
		if (!nf)
			attach_note(a, N_INFO, "no findings yet");
		for (size_t i = 0; i < nf; i++) {
			struct json_object *f = json_object_array_get_idx(fs, i);
			attach_note(a, level_cls(json_get_str(f, "level")), "finding %s %s [%s] %s",
			            json_get_str(f, "time") ? json_get_str(f, "time") : "",
			            json_get_str(f, "rule") ? json_get_str(f, "rule") : "?",
			            json_get_str(f, "level") ? json_get_str(f, "level") : "?",
			            json_get_str(f, "title") ? json_get_str(f, "title") : "");
		}
	}
}

void attach_reply(struct attach *a, const char *op, bool ok, const char *reason, const char *output,
                  struct json_object *status)
{
	if (!ok) {
		attach_note(a, N_BAD, "%s failed: %s", op, reason ? reason : "no reason given");
		return;
	}
	if (strcmp(op, "status") == 0) {
		if (status)
			show_status(a, status);
		return;
	}
	if (strcmp(op, "channels") == 0) {
		attach_note(a, N_INFO, "SAC channels:");
		bool any = false;
		for (const char *s = output ? output : ""; *s;) {
			const char *e = strchr(s, '\n');
			size_t len = e ? (size_t)(e - s) : strlen(s);
			if (len > 0) {
				attach_note(a, N_INFO, "  %.*s", (int)(len > 200 ? 200 : len), s);
				any = true;
			}
			s += len + (e ? 1 : 0);
		}
		if (!any)
			attach_note(a, N_INFO, "  none seen yet");
		return;
	}
	if (strcmp(op, "break") == 0)
		attach_note(a, N_GOOD, "BREAK sent");
	else if (strcmp(op, "sysrq") == 0)
		attach_note(a, N_GOOD, "SysRq sent");
	else if (strcmp(op, "nmi") == 0)
		attach_note(a, N_GOOD, "NMI injected into %s", a->cfg.machine ? a->cfg.machine : a->cfg.name);
	else if (strcmp(op, "dump") == 0)
		attach_note(a, N_GOOD, "dump verified%s%.200s", output && output[0] ? ": " : "",
		            output ? output : "");
	else if (strcmp(op, "restart") == 0)
		attach_note(a, N_GOOD, "restart done");
	else
		attach_note(a, N_GOOD, "%s done", op);
}
