/* test_util.c — durations, buffers, diagnostics, case-insensitive search. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "emsagent/util.h"

static void test_durations(void **state)
{
	(void)state;
	int64_t ns;
	assert_int_equal(parse_duration("30m", &ns), 0);
	assert_true(ns == 30 * 60 * NS_PER_SEC);
	assert_int_equal(parse_duration("250ms", &ns), 0);
	assert_true(ns == 250 * NS_PER_MS);
	assert_int_equal(parse_duration("1h30m", &ns), 0);
	assert_true(ns == 90 * 60 * NS_PER_SEC);
	assert_int_equal(parse_duration("8h", &ns), 0);
	assert_true(ns == 8 * 3600 * NS_PER_SEC);
	assert_int_equal(parse_duration("1d", &ns), 0);
	assert_true(ns == 86400 * NS_PER_SEC);
	assert_int_equal(parse_duration("15", &ns), 0);
	assert_true(ns == 15 * NS_PER_SEC);
	assert_int_equal(parse_duration("1.5s", &ns), 0);
	assert_true(ns == 1500 * NS_PER_MS);
	const char *bad[] = {"",     "m",   "30x",  "-5s",    "5 m",
	                     "1h30", "abc", "30mm", "1e400s", "99999999999999d"};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		assert_int_equal(parse_duration(bad[i], &ns), -1);
}

static void test_format_duration(void **state)
{
	(void)state;
	char b[32];
	format_duration(31 * 60 * NS_PER_SEC, b, sizeof(b));
	assert_string_equal(b, "31m");
	format_duration((3600 + 5 * 60) * NS_PER_SEC, b, sizeof(b));
	assert_string_equal(b, "1h5m");
	format_duration(2500 * NS_PER_MS, b, sizeof(b));
	assert_string_equal(b, "2.5s");
	format_duration(42 * NS_PER_SEC, b, sizeof(b));
	assert_string_equal(b, "42s");
}

static void test_buf(void **state)
{
	(void)state;
	struct buf b = {0};
	for (int i = 0; i < 1000; i++)
		buf_printf(&b, "%d,", i);
	assert_true(b.len > 3000);
	assert_int_equal(b.data[b.len], '\0');
	assert_memory_equal(b.data, "0,1,2,", 6);
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	buf_append(&b, "a\0b", 3);
	assert_int_equal(b.len, 3);
	assert_int_equal(b.data[1], '\0');
	buf_free(&b);
}

static void test_diags(void **state)
{
	(void)state;
	struct diags d = {0};
	diags_add(&d, DIAG_ERROR, "r.yaml", 14, 7, "unknown key '%s'", "afterr");
	diags_add(&d, DIAG_WARNING, "r.yaml", 2, 0, "short anchor");
	assert_int_equal(d.nerrors, 1);
	assert_int_equal(d.nwarnings, 1);
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	diags_print(&d, f);
	fclose(f);
	assert_string_equal(out,
	                    "r.yaml:14:7: error: unknown key 'afterr'\nr.yaml:2:1: warning: short anchor\n");
	free(out);
	diags_free(&d);
	assert_int_equal(d.n, 0);
}

static void test_memmem_nocase(void **state)
{
	(void)state;
	const char *h = "Kernel PANIC - not syncing";
	assert_ptr_equal(memmem_nocase(h, strlen(h), "panic", 5), h + 7);
	assert_null(memmem_nocase(h, strlen(h), "panics", 6));
	assert_null(memmem_nocase(h, 3, "Kernel", 6));
	assert_ptr_equal(memmem_nocase(h, strlen(h), "", 0), h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_durations),     cmocka_unit_test(test_format_duration),
	    cmocka_unit_test(test_buf),           cmocka_unit_test(test_diags),
	    cmocka_unit_test(test_memmem_nocase),
	};
	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
