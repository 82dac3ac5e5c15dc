/*
 * test_scenario.c — cmocka tests of the scenario loader (scenario.c): every
 * shipped scenario's settings, the timeline forms, and errors at
 * FILE:LINE:COL. Built and run by test_guestsim.sh (it links scenario.c and
 * sacsim.c, which live outside the agent library).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "scenario.h"

static char *diag_text(const struct diags *d)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);
	assert_non_null(f);
	diags_print(d, f);
	fclose(f);
	return s;
}

/* Loads text that must fail and checks the first diagnostic line starts with want. */
static void expect_error(const char *yaml, const char *want)
{
	struct scenario sc;
	struct diags d = {0};
	assert_int_equal(scenario_load_string("s.yaml", yaml, strlen(yaml), ".", &sc, &d), -1);
	char *got = diag_text(&d);
	if (strncmp(got, want, strlen(want)) != 0)
		fail_msg("wanted '%s'\ngot    '%s'", want, got);
	free(got);
	diags_free(&d);
	assert_null(sc.steps);
	assert_int_equal(sc.nsteps, 0);
	scenario_free(&sc);
}

static void load_ok(const char *path, struct scenario *sc)
{
	struct diags d = {0};
	int rc = scenario_load(path, sc, &d);
	if (rc != 0) {
		char *got = diag_text(&d);
		fail_msg("%s: %s", path, got);
	}
	diags_free(&d);
}

static void test_default(void **state)
{
	(void)state;
	struct scenario sc;
	scenario_default(&sc);
	assert_true(sc.cfg.sac_enabled);
	assert_int_equal(sc.cfg.cmd_delay_ns, 30 * NS_PER_SEC);
	assert_int_equal(sc.nsteps, 0);
	assert_int_equal(sc.repeat, 0);
	scenario_free(&sc);
}

static void test_healthy(void **state)
{
	(void)state;
	struct scenario sc;
	load_ok("tests/sim/scenarios/healthy.yaml", &sc);
	assert_string_equal(sc.name, "healthy");
	assert_true(sc.cfg.sac_enabled);
	assert_int_equal(sc.cfg.cmd_delay_ns, 30 * NS_PER_SEC);
	assert_int_equal(sc.nsteps, 0);
	scenario_free(&sc);
}

static void test_preparing_hang(void **state)
{
	(void)state;
	struct scenario sc;
	load_ok("tests/sim/scenarios/preparing-hang.yaml", &sc);
	assert_int_equal(sc.cfg.cmd_delay_ns, -1);
	assert_int_equal(sc.ntasks, 2);
	assert_string_equal(sc.cfg.tasks[0], "TrustedInstaller.exe");
	assert_string_equal(sc.cfg.tasks[1], "TiWorker.exe");
	assert_null(sc.cfg.tasks[2]);
	assert_int_equal(sc.nsteps, 1);
	assert_int_equal(sc.steps[0].kind, SCENARIO_PRINT);
	assert_int_equal(sc.steps[0].at, 20 * NS_PER_SEC);
	const char *want = "Preparing to configure Windows. Do not turn off your computer.\r\n";
	assert_int_equal(sc.steps[0].len, strlen(want));
	assert_memory_equal(sc.steps[0].text, want, strlen(want));
	scenario_free(&sc);
}

static void test_setup_scenarios(void **state)
{
	(void)state;
	struct scenario sc;
	load_ok("tests/sim/scenarios/could-not-finish.yaml", &sc);
	assert_string_equal(sc.cfg.machine_name, "not yet initialized");
	assert_string_equal(sc.cfg.tasks[0], "windeploy.exe");
	assert_string_equal(sc.cfg.tasks[1], "msoobe.exe");
	assert_non_null(memmem(sc.steps[0].text, sc.steps[0].len,
	                       "Windows could not finish configuring the system.", 48));
	scenario_free(&sc);
	load_ok("tests/sim/scenarios/oobe.yaml", &sc);
	assert_int_equal(sc.ntasks, 3);
	assert_string_equal(sc.cfg.tasks[1], "sysprep.exe");
	assert_int_equal(sc.cfg.cmd_delay_ns, -1);
	scenario_free(&sc);
	load_ok("tests/sim/scenarios/starting-windows-hang.yaml", &sc);
	assert_int_equal(sc.cfg.cmd_delay_ns, -1);
	assert_int_equal(sc.nsteps, 0);
	scenario_free(&sc);
	load_ok("tests/sim/scenarios/update-rollback.yaml", &sc);
	assert_int_equal(sc.nsteps, 2);
	assert_non_null(memmem(sc.steps[1].text, sc.steps[1].len,
	                       "Failure configuring Windows updates. Reverting changes.", 54));
	scenario_free(&sc);
}

static void test_bugcheck_loop(void **state)
{
	(void)state;
	struct scenario sc;
	load_ok("tests/sim/scenarios/bugcheck-loop.yaml", &sc);
	assert_true(sc.cfg.auto_reboot);
	assert_int_equal(sc.repeat, 3);
	assert_int_equal(sc.nsteps, 1);
	assert_int_equal(sc.steps[0].kind, SCENARIO_CRASH);
	assert_int_equal(sc.steps[0].code, 0x7B);
	assert_int_equal(sc.reboot_delay, 10 * NS_PER_SEC);
	scenario_free(&sc);
}

static void test_sac_disabled(void **state)
{
	(void)state;
	struct scenario sc;
	load_ok("tests/sim/scenarios/sac-disabled.yaml", &sc);
	assert_false(sc.cfg.sac_enabled);
	assert_int_equal(sc.nsteps, 1);
	const struct scenario_step *st = &sc.steps[0];
	assert_non_null(memmem(st->text, st->len, "Microsoft Azure VM Health Report - Start", 40));
	assert_non_null(memmem(st->text, st->len, "Microsoft Azure VM Health Report - End", 38));
	/* the JSON line is one line: continuation lines were folded */
	assert_non_null(memmem(st->text, st->len, "}},\"extensionHandlers\":[],\"vmHealth\"", 36));
	scenario_free(&sc);
}

static void test_all_fields(void **state)
{
	(void)state;
	const char *y = "name: full\n"
	                "machine_name: HOST1\nguid: 11111111-2222-3333-4444-555555555555\narch: ARM64\n"
	                "os_version: '6.3'\nos_build: '9600'\nos_product: Windows Server 2012 R2\n"
	                "user: admin\ndomain: CORP\npassword: ''\n"
	                "boot_manager: yes\ncmd_disabled: true\nmirror_stop_text: on\npaging: true\n"
	                "cmd_delay: 2m\ndrop_repeat: 50ms\nmax_channels: 3\nreboot_delay: 1s\n"
	                "timeline:\n  - {at: 0s, print: \"a\\0b\"}\n  - {at: 1h, reboot: true}\n  - {at: 1h, "
	                "crash: 0xDEADBEEF}\n"
	                "  - {repeat: 7}\n";
	struct scenario sc;
	struct diags d = {0};
	assert_int_equal(scenario_load_string("f.yaml", y, strlen(y), ".", &sc, &d), 0);
	diags_free(&d);
	assert_string_equal(sc.cfg.machine_name, "HOST1");
	assert_string_equal(sc.cfg.arch, "ARM64");
	assert_string_equal(sc.cfg.os_version, "6.3");
	assert_string_equal(sc.cfg.os_product, "Windows Server 2012 R2");
	assert_string_equal(sc.cfg.domain, "CORP");
	assert_string_equal(sc.cfg.password, "");
	assert_true(sc.cfg.boot_manager && sc.cfg.cmd_disabled && sc.cfg.mirror_stop_text && sc.cfg.paging);
	assert_int_equal(sc.cfg.cmd_delay_ns, 120 * NS_PER_SEC);
	assert_int_equal(sc.cfg.drop_repeat_ns, 50 * NS_PER_MS);
	assert_int_equal(sc.cfg.max_channels, 3);
	assert_int_equal(sc.nsteps, 3);
	assert_int_equal(sc.steps[0].len, 3); /* the NUL survives */
	assert_memory_equal(sc.steps[0].text, "a\0b", 3);
	assert_int_equal(sc.steps[1].kind, SCENARIO_REBOOT);
	assert_int_equal(sc.steps[2].code, 0xDEADBEEFu);
	assert_int_equal(sc.repeat, 7);
	scenario_free(&sc);
}

static void test_print_file(void **state)
{
	(void)state;
	char dir[] = "/tmp/scenario-test.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *txt = xasprintf("%s/boot.txt", dir), *yml = xasprintf("%s/s.yaml", dir);
	FILE *f = fopen(txt, "w");
	assert_non_null(f);
	fputs("line one\r\nline two\r\n", f);
	fclose(f);
	f = fopen(yml, "w");
	assert_non_null(f);
	fputs("timeline:\n  - {at: 0s, print_file: boot.txt}\n", f);
	fclose(f);
	struct scenario sc;
	load_ok(yml, &sc);
	assert_int_equal(sc.steps[0].len, 20);
	assert_memory_equal(sc.steps[0].text, "line one\r\nline two\r\n", 20);
	scenario_free(&sc);
	unlink(txt);
	unlink(yml);
	rmdir(dir);
	free(txt);
	free(yml);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("name: x\ntaks: [a]\n",
	             "s.yaml:2:1: error: unknown key 'taks' in a scenario (did you mean 'tasks'?)");
	expect_error("cmd_delay: soon\n", "s.yaml:1:12: error: bad duration 'soon' for cmd_delay");
	expect_error("drop_repeat: never\n", "s.yaml:1:14: error: bad duration 'never' for drop_repeat");
	expect_error("timeline:\n  - {at: 1s, crash: 0}\n", "s.yaml:2:21: error: bad stop code '0'");
	expect_error("timeline:\n  - {at: 1s, crash: 0x100000000}\n",
	             "s.yaml:2:21: error: bad stop code '0x100000000'");
	expect_error("timeline:\n  - {at: 1s, crash: -5}\n", "s.yaml:2:21: error: bad stop code '-5'");
	expect_error("timeline:\n  - {at: 9s, reboot: true}\n  - {at: 2s, print: x}\n",
	             "s.yaml:3:10: error: the timeline must be in time order: 2s comes after a step at 9s");
	expect_error("timeline:\n  - {at: 1s}\n", "s.yaml:2:5: error: a timeline step needs one of print");
	expect_error("timeline:\n  - {at: 1s, reboot: false}\n",
	             "s.yaml:2:22: error: reboot: false does nothing");
	expect_error("timeline:\n  - {at: 1s, print: ''}\n", "s.yaml:2:21: error: print must not be empty");
	expect_error("timeline:\n  - {at: 1s, print: [a]}\n",
	             "s.yaml:2:21: error: print must be a string, not a list");
	expect_error("timeline:\n  - {repeat: 0}\n", "s.yaml:2:14: error: repeat must be at least 1");
	expect_error("timeline:\n  - {at: 1s, repeat: 2}\n",
	             "s.yaml:2:10: error: a {repeat: N} step has no 'at'");
	expect_error("timeline:\n  - 5s\n", "s.yaml:2:5: error: a timeline step must be a map");
	expect_error("tasks: [a, '']\n", "s.yaml:1:12: error: empty string in tasks");
	expect_error("tasks: x.exe\n", "s.yaml:1:8: error: tasks must be a list of strings");
	expect_error("max_channels: 101\n", "s.yaml:1:15: error: max_channels must be at most 100");
	expect_error("sac_enabled: perhaps\n",
	             "s.yaml:1:14: error: sac_enabled must be true or false, not 'perhaps'");
	expect_error("- a\n", "s.yaml:1:1: error: a scenario must be a map");
	expect_error("", "s.yaml: error: the scenario is empty");
	expect_error("name: a\n---\nname: b\n", "s.yaml:3:1: error: a scenario is one YAML document");
	expect_error("name: a\nname: b\n", "s.yaml:2:1: error: duplicate key 'name'");
	expect_error("name: {\n", "s.yaml:2:1: error: YAML:");
}

static void test_missing_file(void **state)
{
	(void)state;
	struct scenario sc;
	struct diags d = {0};
	assert_int_equal(scenario_load("/nonexistent/x.yaml", &sc, &d), -1);
	char *got = diag_text(&d);
	assert_string_equal(got, "/nonexistent/x.yaml: error: No such file or directory\n");
	free(got);
	diags_free(&d);
	scenario_free(&sc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_default),        cmocka_unit_test(test_healthy),
	    cmocka_unit_test(test_preparing_hang), cmocka_unit_test(test_setup_scenarios),
	    cmocka_unit_test(test_bugcheck_loop),  cmocka_unit_test(test_sac_disabled),
	    cmocka_unit_test(test_all_fields),     cmocka_unit_test(test_print_file),
	    cmocka_unit_test(test_errors),         cmocka_unit_test(test_missing_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
