/*
 * event.c — event names and the two renderings (design §8): JSON lines built
 * with json-c (no hand-written escaping) and readable text for people.
 */
#include "emsagent/event.h"

#include <json-c/json.h>
#include <string.h>
#include <time.h>

#include "emsagent/line.h"
#include "emsagent/util.h"

static const char *const kind_names[EV__COUNT] = {
    [EV_CONSOLE_CONNECTED] = "console.connected",
    [EV_CONSOLE_DISCONNECTED] = "console.disconnected",
    [EV_EPOCH_STARTED] = "epoch.started",
    [EV_RULE_PENDING] = "rule.pending",
    [EV_RULE_FIRED] = "rule.fired",
    [EV_RULE_RESOLVED] = "rule.resolved",
    [EV_RULE_UNCERTAIN] = "rule.uncertain",
    [EV_EMS_MACHINE_INFO] = "ems.machine_info",
    [EV_EMS_BUGCHECK] = "ems.bugcheck",
    [EV_ACTION_STARTED] = "action.started",
    [EV_ACTION_DONE] = "action.done",
    [EV_ACTION_FAILED] = "action.failed",
    [EV_ACTION_SKIPPED] = "action.skipped",
    [EV_AGENT_RELOADED] = "agent.reloaded",
    [EV_SAC_READY] = "sac.ready",
    [EV_SAC_CMD_AVAILABLE] = "sac.cmd_available",
    [EV_SAC_CHANNEL] = "sac.channel",
    [EV_DUMP_REQUESTED] = "dump.requested",
    [EV_DUMP_STARTED] = "dump.started",
    [EV_DUMP_VERIFIED] = "dump.verified",
    [EV_DUMP_FAILED] = "dump.failed",
};

const char *event_kind_name(enum event_kind k)
{
	return (unsigned)k < EV__COUNT && kind_names[k] ? kind_names[k] : "unknown";
}

void event_format_time(int64_t t, unsigned flags, char *out, size_t outsz)
{
	if (!(flags & LINE_TIME_KNOWN)) {
		snprintf(out, outsz, "-");
		return;
	}
	if (flags & LINE_TIME_WALL) {
		time_t secs = (time_t)(t / NS_PER_SEC);
		int64_t ms = (t % NS_PER_SEC) / NS_PER_MS;
		if (ms < 0) {
			ms += 1000;
			secs--;
		}
		struct tm tm;
		if (!gmtime_r(&secs, &tm)) {
			snprintf(out, outsz, "-");
			return;
		}
		char date[32];
		strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(out, outsz, "%s.%03lldZ", date, (long long)ms);
		return;
	}
	snprintf(out, outsz, "+%.3fs", (double)t / (double)NS_PER_SEC);
}

/* json-c wants NUL-terminated strings; console lines may hold any byte, and
 * json-c escapes control bytes but passes invalid UTF-8 through, which would
 * make the output invalid JSON. Replace invalid sequences with U+FFFD. */
static struct json_object *json_text(const char *s, size_t n)
{
	struct buf b = {0};
	size_t i = 0;
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		size_t need = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
		bool ok = need > 0 && i + need <= n;
		for (size_t k = 1; ok && k < need; k++)
			ok = ((unsigned char)s[i + k] & 0xC0) == 0x80;
		if (ok && need == 1 && c == 0)
			ok = false;
		if (ok) {
			buf_append(&b, s + i, need);
			i += need;
		} else {
			buf_append(&b, "\xEF\xBF\xBD", 3);
			i++;
		}
	}
	struct json_object *o = json_object_new_string_len(b.data ? b.data : "", (int)b.len);
	buf_free(&b);
	return o;
}

/* Seconds with microsecond precision, printed as such (not 312.45650000000001). */
static struct json_object *json_seconds(int64_t ns)
{
	char repr[40];
	snprintf(repr, sizeof(repr), "%.6f", (double)ns / 1e9);
	return json_object_new_double_s((double)ns / 1e9, repr);
}

static void put_str(struct json_object *o, const char *key, const char *val)
{
	if (val)
		json_object_object_add(o, key, json_text(val, strlen(val)));
}

const char *json_get_str(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

bool json_get_bool(struct json_object *o, const char *key)
{
	struct json_object *v;
	return o && json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

int64_t json_get_int(struct json_object *o, const char *key, int64_t dflt)
{
	struct json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v))
		return dflt;
	return json_object_get_int64(v);
}

struct json_object *event_machine_info_json(const struct ems_machine_info *mi)
{
	struct json_object *o = json_object_new_object();
	struct {
		const char *k, *v;
	} f[] = {
	    {"name", mi->name},         {"guid", mi->guid},
	    {"arch", mi->arch},         {"os_version", mi->os_version},
	    {"os_build", mi->os_build}, {"os_product", mi->os_product},
	    {"os_sp", mi->os_sp},
	};
	for (size_t i = 0; i < ARRAY_LEN(f); i++)
		if (f[i].v[0])
			put_str(o, f[i].k, f[i].v);
	return o;
}

struct json_object *event_to_json(const struct event *ev)
{
	struct json_object *o = json_object_new_object();
	char tbuf[64];
	if (ev->time_flags & LINE_TIME_KNOWN) {
		if (ev->time_flags & LINE_TIME_WALL) {
			event_format_time(ev->time_ns, ev->time_flags, tbuf, sizeof(tbuf));
			put_str(o, "time", tbuf);
		} else {
			json_object_object_add(o, "uptime", json_seconds(ev->time_ns));
		}
	}
	put_str(o, "console", ev->console);
	if (ev->nlabels) {
		struct json_object *labels = json_object_new_object();
		for (size_t i = 0; i < ev->nlabels; i++)
			put_str(labels, ev->labels[i].key, ev->labels[i].value);
		json_object_object_add(o, "labels", labels);
	}
	put_str(o, "event", event_kind_name(ev->kind));
	if (ev->rule) {
		put_str(o, "rule", ev->rule->id);
		put_str(o, "level", rule_level_name(ev->rule->level));
	}
	put_str(o, "title", ev->title);
	if (ev->marker)
		put_str(o, "marker", ev->marker);
	if (ev->channel)
		put_str(o, "channel", ev->channel);
	json_object_object_add(o, "epoch", json_object_new_int64(ev->epoch));
	json_object_object_add(o, "offset", json_object_new_int64((int64_t)ev->offset));
	if (ev->lineno)
		json_object_object_add(o, "lineno", json_object_new_int64((int64_t)ev->lineno));
	if (ev->line)
		json_object_object_add(o, "line", json_text(ev->line, ev->line_len));
	if (ev->rule || ev->ncaptures) {
		struct json_object *caps = json_object_new_object();
		for (size_t i = 0; i < ev->ncaptures; i++)
			put_str(caps, ev->captures[i].key, ev->captures[i].value);
		json_object_object_add(o, "captures", caps);
	}
	put_str(o, "reason", ev->reason);
	if (ev->kind == EV_RULE_FIRED && ev->held_ns > 0)
		json_object_object_add(o, "held_s", json_seconds(ev->held_ns));
	if (ev->count)
		json_object_object_add(o, "count", json_object_new_int64(ev->count));
	if (ev->has_block) {
		json_object_object_add(o, "block", json_text(ev->block ? ev->block : "", ev->block_len));
		json_object_object_add(o, "block_complete", json_object_new_boolean(!ev->block_truncated));
	}
	if (ev->ems) {
		const struct ems_record *r = ev->ems;
		if (r->kind == EMS_BUGCHECK && r->has_stopcode) {
			char code[16];
			snprintf(code, sizeof(code), "0x%X", r->stopcode);
			put_str(o, "stopcode", code);
			const char *name = ems_stopcode_name(r->stopcode);
			if (name)
				put_str(o, "stopcode_name", name);
		}
		if (r->has_machine_info)
			json_object_object_add(o, "machine_info", event_machine_info_json(&r->mi));
		if (r->truncated)
			json_object_object_add(o, "truncated", json_object_new_boolean(1));
	}
	if (ev->action) {
		put_str(o, "action", action_kind_name(ev->action->kind));
		put_str(o, "trigger", ev->trigger);
		if (ev->kind == EV_ACTION_DONE || ev->kind == EV_ACTION_FAILED) {
			if (ev->exit_status >= 0)
				json_object_object_add(o, "exit_status",
				                       json_object_new_int(ev->exit_status));
		}
		if (ev->output)
			json_object_object_add(o, "output", json_text(ev->output, ev->output_len));
	}
	if (ev->rule && (ev->kind == EV_RULE_FIRED || ev->kind == EV_RULE_UNCERTAIN)) {
		put_str(o, "summary", ev->rule->summary);
		struct json_object *rem = json_object_new_array();
		for (size_t i = 0; i < ev->rule->nremediation; i++)
			json_object_array_add(
			    rem, json_text(ev->rule->remediation[i], strlen(ev->rule->remediation[i])));
		json_object_object_add(o, "remediation", rem);
	}
	return o;
}

void event_write_json(const struct event *ev, FILE *out)
{
	struct json_object *o = event_to_json(ev);
	fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
	      out);
	fputc('\n', out);
	json_object_put(o);
}

/* Prints console text for people: control bytes and invalid UTF-8 never
 * reach the terminal (a guest must not drive the reader's terminal). */
static void write_safe(FILE *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\t' || (c >= 0x20 && c != 0x7F && c < 0x80))
			fputc(c, out);
		else if (c >= 0x80)
			fputc(
			    c,
			    out); /* UTF-8 text is kept; C1 controls cannot appear as single bytes in UTF-8 */
		else
			fprintf(out, "\\x%02x", c);
	}
}

static const char *level_color(enum rule_level l)
{
	switch (l) {
	case LEVEL_CRITICAL:
		return "\033[1;31m";
	case LEVEL_HIGH:
		return "\033[31m";
	case LEVEL_MEDIUM:
		return "\033[33m";
	case LEVEL_LOW:
		return "\033[36m";
	default:
		return "\033[2m";
	}
}

void event_write_text(const struct event *ev, FILE *out, bool color)
{
	char tbuf[64];
	event_format_time(ev->time_ns, ev->time_flags, tbuf, sizeof(tbuf));
	const char *on = "", *off = "";
	if (color && ev->rule) {
		on = level_color(ev->rule->level);
		off = "\033[0m";
	}
	fprintf(out, "%s ", tbuf);
	if (ev->console)
		fprintf(out, "%s ", ev->console);
	fprintf(out, "%s%s", on, event_kind_name(ev->kind));
	if (ev->rule)
		fprintf(out, " %s [%s]", ev->rule->id, rule_level_name(ev->rule->level));
	fputs(off, out);
	if (ev->title) {
		fputs(": ", out);
		write_safe(out, ev->title, strlen(ev->title));
	}
	if (ev->kind == EV_EPOCH_STARTED)
		fprintf(out, " epoch %u (%s)", ev->epoch, ev->marker ? ev->marker : "?");
	if (ev->channel) {
		fputs(" channel ", out);
		write_safe(out, ev->channel, strlen(ev->channel));
	}
	if (ev->action) {
		fprintf(out, " %s", action_kind_name(ev->action->kind));
		if ((ev->kind == EV_ACTION_DONE || ev->kind == EV_ACTION_FAILED) && ev->exit_status >= 0)
			fprintf(out, " exit %d", ev->exit_status);
	}
	if (ev->ems && ev->ems->kind == EMS_BUGCHECK && ev->ems->has_stopcode) {
		const char *name = ems_stopcode_name(ev->ems->stopcode);
		fprintf(out, " stop code 0x%X%s%s", ev->ems->stopcode, name ? " " : "", name ? name : "");
	}
	if (ev->ems && ev->ems->has_machine_info && ev->ems->mi.name[0]) {
		fputs(" machine ", out);
		write_safe(out, ev->ems->mi.name, strlen(ev->ems->mi.name));
	}
	if (ev->reason) {
		fputs(" (", out);
		write_safe(out, ev->reason, strlen(ev->reason));
		fputc(')', out);
	}
	fputc('\n', out);
	if (ev->line && ev->line_len && ev->kind != EV_EPOCH_STARTED) {
		fprintf(out, "    line %llu, offset %llu: ", (unsigned long long)ev->lineno,
		        (unsigned long long)ev->offset);
		write_safe(out, ev->line, ev->line_len > 200 ? 200 : ev->line_len);
		fputc('\n', out);
	}
	if (ev->rule && ev->kind == EV_RULE_FIRED && ev->rule->nremediation) {
		fputs("    first step: ", out);
		write_safe(out, ev->rule->remediation[0], strlen(ev->rule->remediation[0]));
		fputc('\n', out);
	}
}
