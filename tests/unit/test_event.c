/* test_event.c — JSON and text renderings of events. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "emsagent/event.h"
#include "emsagent/line.h"
#include "emsagent/util.h"

static char *render(const struct event *ev, bool json, bool color)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	if (json)
		event_write_json(ev, f);
	else
		event_write_text(ev, f, color);
	fclose(f);
	return out;
}

static struct rule sample_rule(void)
{
	static char *rem[] = {"Collect a memory dump first.", "Then restart."};
	struct rule r = {0};
	r.id = "OSStartUp-PREPARING_CONFIGURE_WINDOWS";
	r.title = "t";
	r.level = LEVEL_CRITICAL;
	r.summary = "Windows is stuck.";
	r.remediation = rem;
	r.nremediation = 2;
	return r;
}

static void test_json_fields(void **state)
{
	(void)state;
	struct rule r = sample_rule();
	struct kv caps[] = {{"pct", "40"}};
	/* 2026-11-21T10:15:02.123Z */
	int64_t t = INT64_C(1795256102) * NS_PER_SEC + 123 * NS_PER_MS;
	struct event ev = {
	    .kind = EV_RULE_FIRED,
	    .time_ns = t,
	    .time_flags = LINE_TIME_KNOWN | LINE_TIME_WALL,
	    .console = "vm1",
	    .rule = &r,
	    .title = "Hung for 31m",
	    .epoch = 3,
	    .offset = 123456,
	    .lineno = 42,
	    .line = "Preparing \"to\" configure\x01 \xff\xfe Windows",
	    .line_len = strlen("Preparing \"to\" configure\x01 \xff\xfe Windows"),
	    .captures = caps,
	    .ncaptures = 1,
	    .held_ns = 31 * 60 * NS_PER_SEC,
	};
	char *s = render(&ev, true, false);
	assert_non_null(strchr(s, '\n'));
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o = json_tokener_parse_ex(tok, s, (int)strlen(s));
	assert_non_null(o);
	json_tokener_free(tok);
	struct json_object *v;
	assert_true(json_object_object_get_ex(o, "event", &v));
	assert_string_equal(json_object_get_string(v), "rule.fired");
	assert_true(json_object_object_get_ex(o, "time", &v));
	assert_string_equal(json_object_get_string(v), "2026-11-21T10:15:02.123Z");
	assert_true(json_object_object_get_ex(o, "rule", &v));
	assert_string_equal(json_object_get_string(v), "OSStartUp-PREPARING_CONFIGURE_WINDOWS");
	assert_true(json_object_object_get_ex(o, "level", &v));
	assert_string_equal(json_object_get_string(v), "critical");
	assert_true(json_object_object_get_ex(o, "epoch", &v));
	assert_int_equal(json_object_get_int(v), 3);
	assert_true(json_object_object_get_ex(o, "offset", &v));
	assert_int_equal(json_object_get_int64(v), 123456);
	assert_true(json_object_object_get_ex(o, "captures", &v));
	struct json_object *pct;
	assert_true(json_object_object_get_ex(v, "pct", &pct));
	assert_string_equal(json_object_get_string(pct), "40");
	assert_true(json_object_object_get_ex(o, "remediation", &v));
	assert_int_equal(json_object_array_length(v), 2);
	/* Invalid UTF-8 became U+FFFD; the control byte is escaped by json-c. */
	assert_true(json_object_object_get_ex(o, "line", &v));
	const char *line = json_object_get_string(v);
	assert_non_null(strstr(line, "\xEF\xBF\xBD\xEF\xBF\xBD Windows"));
	assert_non_null(strstr(line, "\"to\""));
	assert_null(strstr(s, "\xff"));
	json_object_put(o);
	free(s);
}

static void test_json_relative_and_ems(void **state)
{
	(void)state;
	struct ems_record rec = {
	    .kind = EMS_BUGCHECK, .has_stopcode = true, .stopcode = 0xE2, .has_machine_info = true};
	snprintf(rec.mi.name, sizeof(rec.mi.name), "WIN-SRV1");
	struct event ev = {
	    .kind = EV_EMS_BUGCHECK, .time_ns = 12 * NS_PER_SEC, .time_flags = LINE_TIME_KNOWN, .ems = &rec};
	char *s = render(&ev, true, false);
	struct json_object *o = json_tokener_parse(s);
	assert_non_null(o);
	struct json_object *v;
	assert_false(json_object_object_get_ex(o, "time", &v));
	assert_true(json_object_object_get_ex(o, "uptime", &v));
	assert_true(json_object_get_double(v) > 11.9 && json_object_get_double(v) < 12.1);
	assert_true(json_object_object_get_ex(o, "stopcode", &v));
	assert_string_equal(json_object_get_string(v), "0xE2");
	assert_true(json_object_object_get_ex(o, "machine_info", &v));
	struct json_object *name;
	assert_true(json_object_object_get_ex(v, "name", &name));
	assert_string_equal(json_object_get_string(name), "WIN-SRV1");
	json_object_put(o);
	free(s);
}

static void test_text_is_terminal_safe(void **state)
{
	(void)state;
	struct rule r = sample_rule();
	struct event ev = {.kind = EV_RULE_FIRED,
	                   .rule = &r,
	                   .title = "evil \033]0;pwned\a title",
	                   .line = "a\033[2Jb",
	                   .line_len = 6,
	                   .lineno = 7};
	char *s = render(&ev, false, false);
	assert_null(strchr(s, '\033'));
	assert_null(strchr(s, '\a'));
	assert_non_null(strstr(s, "rule.fired OSStartUp-PREPARING_CONFIGURE_WINDOWS [critical]"));
	assert_non_null(strstr(s, "\\x1b"));
	assert_non_null(strstr(s, "first step: Collect a memory dump first."));
	free(s);
	s = render(&ev, false, true);
	assert_non_null(strstr(s, "\033[1;31mrule.fired"));
	free(s);
}

static void test_time_format(void **state)
{
	(void)state;
	char b[64];
	event_format_time(0, 0, b, sizeof(b));
	assert_string_equal(b, "-");
	event_format_time(1500 * NS_PER_MS, LINE_TIME_KNOWN, b, sizeof(b));
	assert_string_equal(b, "+1.500s");
	event_format_time(0, LINE_TIME_KNOWN | LINE_TIME_WALL, b, sizeof(b));
	assert_string_equal(b, "1970-01-01T00:00:00.000Z");
	assert_string_equal(event_kind_name(EV_RULE_UNCERTAIN), "rule.uncertain");
	assert_string_equal(event_kind_name((enum event_kind)999), "unknown");
	/* Every kind has its own name (a kind added without one would print
	 * as "unknown" and no consumer could tell events apart). */
	for (int k = 0; k < EV__COUNT; k++) {
		assert_string_not_equal(event_kind_name((enum event_kind)k), "unknown");
		for (int j = 0; j < k; j++)
			assert_string_not_equal(event_kind_name((enum event_kind)k),
			                        event_kind_name((enum event_kind)j));
	}
	assert_string_equal(event_kind_name(EV_ACTION_SKIPPED), "action.skipped");
	assert_string_equal(event_kind_name(EV_AGENT_RELOADED), "agent.reloaded");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_json_fields),
	    cmocka_unit_test(test_json_relative_and_ems),
	    cmocka_unit_test(test_text_is_terminal_safe),
	    cmocka_unit_test(test_time_format),
	};
	return cmocka_run_group_tests_name("event", tests, NULL, NULL);
}
