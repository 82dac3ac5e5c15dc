/*
 * test_dump.c — dump requests against the simulated Windows guest,
 * in-process (the SAC client and the dump read the same bytes, time is a
 * fake clock), with a fake control plane and a fake BREAK, plus Linux panic
 * text fed by hand.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emsagent/dump.h"
#include "emsagent/event.h"
#include "emsagent/sac.h"
#include "emsagent/util.h"
#include "sacsim.h"

#define SEC NS_PER_SEC

struct h {
	struct sacsim *sim;
	struct sac *sac;
	struct dump *dump;
	int64_t now;
	int64_t sac_deadline, dump_deadline;
	bool unplugged; /* the guest hears nothing */
	struct buf pending;
	struct buf sent;
	struct buf evlog;
	unsigned nev[EV__COUNT];
	/* fake control plane */
	unsigned caps;
	int control_rc;
	unsigned ncontrol;
	enum control_action last_action;
	char last_arg[8];
	/* fake BREAK */
	bool breakable;
	unsigned nbreak;
	size_t sent_at_break;
	/* the result */
	unsigned ndone;
	enum dump_outcome outcome;
	enum dump_method method;
	char reason[512];
	char evidence[200];
	bool has_stopcode;
	uint32_t stopcode;
};

static void sim_out(void *ctx, const void *buf, size_t n)
{
	struct h *h = ctx;
	buf_append(&h->pending, buf, n);
}

static int c_send(void *ctx, const void *buf, size_t n)
{
	struct h *h = ctx;
	buf_append(&h->sent, buf, n);
	if (h->sim && !h->unplugged)
		sacsim_input(h->sim, buf, n, h->now);
	return 0;
}

static int c_break(void *ctx)
{
	struct h *h = ctx;
	h->nbreak++;
	h->sent_at_break = h->sent.len;
	return 0;
}

static void sac_timer(void *ctx, int64_t d)
{
	((struct h *)ctx)->sac_deadline = d;
}

static void dump_timer(void *ctx, int64_t d)
{
	((struct h *)ctx)->dump_deadline = d;
}

static void c_emit(void *ctx, const struct event *ev)
{
	struct h *h = ctx;
	h->nev[ev->kind]++;
	struct json_object *o = event_to_json(ev);
	buf_printf(&h->evlog, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

static int c_control(void *ctx, enum control_action a, const char *arg, char *err, size_t errsz)
{
	struct h *h = ctx;
	h->ncontrol++;
	h->last_action = a;
	snprintf(h->last_arg, sizeof(h->last_arg), "%s", arg ? arg : "");
	if (h->control_rc < 0)
		snprintf(err, errsz, "qmp: cannot connect to /nonexistent: No such file or directory");
	return h->control_rc;
}

static void on_done(void *ctx, const struct dump_result *r)
{
	struct h *h = ctx;
	h->ndone++;
	h->outcome = r->outcome;
	h->method = r->method;
	snprintf(h->reason, sizeof(h->reason), "%s", r->reason ? r->reason : "");
	snprintf(h->evidence, sizeof(h->evidence), "%s", r->evidence ? r->evidence : "");
	h->has_stopcode = r->has_stopcode;
	h->stopcode = r->stopcode;
}

/* A harness: with_sim boots a simulated Windows guest. */
static struct h *h_new(bool with_sim, enum dump_method m, unsigned caps, bool breakable, int64_t timeout)
{
	struct h *h = xcalloc(1, sizeof(*h));
	h->now = 1 * SEC;
	h->sac_deadline = h->dump_deadline = INT64_MAX;
	h->caps = caps;
	h->breakable = breakable;
	if (with_sim) {
		struct sacsim_cfg cfg;
		sacsim_cfg_default(&cfg);
		h->sim = sacsim_new(&cfg, sim_out, h);
	}
	struct sac_env se = {.ctx = h,
	                     .console = "vm1",
	                     .send = c_send,
	                     .set_timer = sac_timer,
	                     .char_delay_ns = -1,
	                     .repeat_delay_ns = -1};
	h->sac = sac_new(&se);
	struct dump_env de = {
	    .ctx = h,
	    .console = "vm1",
	    .send = c_send,
	    .send_break = breakable ? c_break : NULL,
	    .sac = h->sac,
	    .control_kind = caps ? "qmp" : NULL,
	    .control_caps = caps,
	    .control = caps ? c_control : NULL,
	    .set_timer = dump_timer,
	    .emit = c_emit,
	    .done = on_done,
	};
	h->dump = dump_new(&de, m, timeout);
	if (h->sim)
		sacsim_boot(h->sim, h->now);
	return h;
}

static void h_free(struct h *h)
{
	if (getenv("TEST_DUMP_SHOW"))
		fprintf(stderr, "--- events:\n%s\n", h->evlog.data ? h->evlog.data : "");
	dump_free(h->dump);
	sac_free(h->sac);
	if (h->sim)
		sacsim_free(h->sim);
	buf_free(&h->pending);
	buf_free(&h->sent);
	buf_free(&h->evlog);
	free(h);
}

/* Console bytes, to both readers, the SAC client first (as the console does). */
static void h_feed(struct h *h, const char *s, size_t n)
{
	sac_feed(h->sac, s, n, h->now);
	dump_feed(h->dump, s, n, h->now);
}

/* Delivers output and moves time to the next deadline, until done or limit. */
static void h_run(struct h *h, int64_t limit)
{
	int64_t end = h->now + limit;
	for (int guard = 0; guard < 1000000; guard++) {
		if (h->ndone)
			return;
		if (h->pending.len) {
			struct buf b = h->pending;
			h->pending = (struct buf){0};
			h_feed(h, b.data, b.len);
			buf_free(&b);
			continue;
		}
		int64_t next = h->sac_deadline < h->dump_deadline ? h->sac_deadline : h->dump_deadline;
		if (h->sim && sacsim_next_deadline(h->sim) < next)
			next = sacsim_next_deadline(h->sim);
		if (next > end)
			next = end;
		if (next < h->now)
			next = h->now;
		h->now = next;
		if (h->sim)
			sacsim_tick(h->sim, h->now);
		if (h->now >= h->sac_deadline)
			sac_tick(h->sac, h->now);
		if (h->now >= h->dump_deadline)
			dump_tick(h->dump, h->now);
		if (h->now >= end && !h->pending.len)
			return;
	}
	fail_msg("h_run did not settle");
}

static void start_ok(struct h *h)
{
	char err[512] = "";
	int rc = dump_start(h->dump, h->now, err, sizeof(err));
	if (rc != 0)
		fail_msg("dump_start: %s", err);
	assert_int_equal(h->ndone, 0); /* never from inside dump_start */
}

static bool evlog_has(struct h *h, const char *s)
{
	return h->evlog.data && strstr(h->evlog.data, s);
}

static void test_method_names(void **state)
{
	(void)state;
	enum dump_method m = DUMP_AUTO;
	assert_int_equal(dump_method_parse("sac", &m), 0);
	assert_int_equal(m, DUMP_SAC);
	assert_int_equal(dump_method_parse("nmi", &m), 0);
	assert_int_equal(m, DUMP_NMI);
	assert_int_equal(dump_method_parse("sysrq", &m), 0);
	assert_int_equal(m, DUMP_SYSRQ);
	assert_int_equal(dump_method_parse("auto", &m), 0);
	assert_int_equal(m, DUMP_AUTO);
	assert_int_equal(dump_method_parse("NMI", &m), -1);
	assert_int_equal(dump_method_parse("", &m), -1);
	assert_int_equal(dump_method_parse(NULL, &m), -1);
	assert_string_equal(dump_method_name(DUMP_SYSRQ), "sysrq");
	assert_string_equal(event_kind_name(EV_DUMP_VERIFIED), "dump.verified");
	assert_string_equal(event_kind_name(EV_DUMP_FAILED), "dump.failed");
}

static void test_sac_verified(void **state)
{
	(void)state;
	struct h *h = h_new(true, DUMP_SAC, 0, false, 0);
	h_run(h, 2 * SEC); /* boot to SAC> */
	start_ok(h);
	h_run(h, 200 * SEC);
	assert_int_equal(h->ndone, 1);
	assert_int_equal(h->outcome, DUMP_VERIFIED);
	assert_int_equal(h->method, DUMP_SAC);
	assert_true(h->has_stopcode);
	assert_int_equal(h->stopcode, 0xE2);
	assert_string_equal(h->evidence, "<BP> STOPCODE 0xE2");
	assert_non_null(strstr(h->reason, "0xE2"));
	assert_non_null(memmem(h->sent.data, h->sent.len, "crashdump\r", 10));
	assert_int_equal(sacsim_state(h->sim), SACSIM_CRASHED);
	assert_int_equal(h->nev[EV_DUMP_REQUESTED], 1);
	assert_int_equal(h->nev[EV_DUMP_STARTED], 1);
	assert_int_equal(h->nev[EV_DUMP_VERIFIED], 1);
	assert_int_equal(h->nev[EV_DUMP_FAILED], 0);
	assert_true(evlog_has(h, "\"stopcode\":\"0xE2\""));
	assert_true(evlog_has(h, "crash dump by sac"));
	/* more console text changes nothing: done exactly once */
	h_feed(h, "\r\n!SAC>", 7);
	dump_tick(h->dump, h->now + 500 * SEC);
	assert_int_equal(h->ndone, 1);
	assert_int_equal(dump_outcome(h->dump), DUMP_VERIFIED);
	h_free(h);
}

/* The client types crashdump and SAC answers, but the dump never sees the
 * crash (a console that drops what follows): a timeout with the reason. */
static void test_sac_never_shows(void **state)
{
	(void)state;
	struct h *h = h_new(true, DUMP_SAC, 0, false, 30 * SEC);
	h_run(h, 2 * SEC);
	start_ok(h);
	/* the crash text reaches only the SAC client */
	int64_t end = h->now + 60 * SEC;
	while (!h->ndone && h->now < end) {
		if (h->pending.len) {
			struct buf b = h->pending;
			h->pending = (struct buf){0};
			sac_feed(h->sac, b.data, b.len, h->now);
			buf_free(&b);
			continue;
		}
		int64_t next = h->sac_deadline < h->dump_deadline ? h->sac_deadline : h->dump_deadline;
		if (next > end)
			next = end;
		h->now = next > h->now ? next : h->now;
		sacsim_tick(h->sim, h->now);
		if (h->now >= h->sac_deadline)
			sac_tick(h->sac, h->now);
		if (h->now >= h->dump_deadline)
			dump_tick(h->dump, h->now);
	}
	assert_int_equal(h->ndone, 1);
	assert_int_equal(h->outcome, DUMP_NOT_VERIFIED);
	assert_non_null(strstr(h->reason, "no <BP> record with stop code 0xE2 and no !SAC> within 30s"));
	assert_non_null(strstr(h->reason, "printed nothing after the trigger"));
	assert_int_equal(h->nev[EV_DUMP_FAILED], 1);
	assert_int_equal(h->nev[EV_DUMP_VERIFIED], 0);
	h_free(h);
}

/* A console where nobody answers: SAC cannot be woken, so nothing was sent. */
static void test_sac_no_sac(void **state)
{
	(void)state;
	struct h *h = h_new(false, DUMP_SAC, 0, false, 30 * SEC);
	start_ok(h);
	h_run(h, 60 * SEC);
	assert_int_equal(h->ndone, 1);
	assert_int_equal(h->outcome, DUMP_NOT_TRIGGERED);
	assert_non_null(strstr(h->reason, "SAC crashdump could not be sent"));
	assert_null(memmem(h->sent.data ? h->sent.data : "", h->sent.len, "crashdump", 9));
	h_free(h);
}

static void test_nmi_verified(void **state)
{
	(void)state;
	struct h *h = h_new(true, DUMP_NMI, CONTROL_CAN(CONTROL_NMI) | CONTROL_CAN(CONTROL_RESET), false, 0);
	h_run(h, 2 * SEC);
	/* an old bugcheck on the screen before the trigger does not count */
	start_ok(h);
	assert_int_equal(h->ncontrol, 1);
	assert_int_equal(h->last_action, CONTROL_NMI);
	dump_control_done(h->dump, true, NULL, h->now);
	sacsim_crash(h->sim, 0x80, h->now);
	h_run(h, 10 * SEC);
	assert_int_equal(h->ndone, 1);
	assert_int_equal(h->outcome, DUMP_VERIFIED);
	assert_int_equal(h->stopcode, 0x80);
	assert_true(evlog_has(h, "\"stopcode\":\"0x80\""));
	h_free(h);
}

static void test_nmi_wrong_stopcode(void **state)
{
	(void)state;
	struct h *h = h_new(true, DUMP_NMI, CONTROL_CAN(CONTROL_NMI), false, 20 * SEC);
	h_run(h, 2 * SEC);
	start_ok(h);
	dump_control_done(h->dump, true, NULL, h->now);
	/* a bugcheck record with another code, without the !SAC> that follows */
	const char bp[] = "\a\a\a<?xml>\a<BP>\r\n<INSTANCE CLASSNAME=\"BLUESCREEN\">\r\n"
	                  "<PROPERTY NAME=\"STOPCODE\" TYPE=\"string\"><VALUE>\"0x1E\"</VALUE></PROPERTY>\r\n"
	                  "</INSTANCE>\r\n</BP>\r\n\a";
	h_feed(h, bp, sizeof(bp) - 1);
	assert_int_equal(h->ndone, 0);
	h_run(h, 30 * SEC);
	assert_int_equal(h->ndone, 1);
	assert_int_equal(h->outcome, DUMP_NOT_VERIFIED);
	assert_non_null(strstr(h->reason, "stop code 0x1E instead"));
	assert_non_null(strstr(h->reason, "within 20s"));
	h_free(h);
}

static void test_nmi_control_fails(void **state)
{
	(void)state;
	/* refused at once: dump_start fails, dump.failed, no done */
	struct h *h = h_new(false, DUMP_NMI, CONTROL_CAN(CONTROL_NMI), false, 0);
	h->control_rc = -1;
	char err[512] = "";
	assert_int_equal(dump_start(h->dump, h->now, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot connect"));
	assert_int_equal(h->ndone, 0);
	assert_int_equal(h->nev[EV_DUMP_FAILED], 1);
	assert_int_equal(dump_outcome(h->dump), DUMP_NOT_TRIGGERED);
	h_free(h);

	/* refused later: done with not triggered and the control plane's reason */
	h = h_new(false, DUMP_NMI, CONTROL_CAN(CONTROL_NMI), false, 0);
	start_ok(h);
	dump_control_done(h->dump, false, "GenericError: not running", h->now);
	assert_int_equal(h->ndone, 1);
	assert_int_equal(h->outcome, DUMP_NOT_TRIGGERED);
	assert_non_null(strstr(h->reason, "qmp could not inject an NMI: GenericError: not running"));
	h_free(h);

	/* no control plane with NMI at all */
	h = h_new(false, DUMP_NMI, CONTROL_CAN(CONTROL_RESET), false, 0);
	assert_int_equal(dump_start(h->dump, h->now, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "--control"));
	assert_int_equal(h->ncontrol, 0);
	h_free(h);
}

static void test_nmi_linux(void **state)
{
	(void)state;
	struct h *h = h_new(false, DUMP_NMI, CONTROL_CAN(CONTROL_NMI), false, 0);
	/* panic text before the trigger does not count */
	h_feed(h, "Kernel panic - not syncing: NMI: Not continuing\r\n", 49);
	start_ok(h);
	dump_control_done(h->dump, true, NULL, h->now);
	h_feed(h, "[   12.3] Uhhuh. NMI received for unknown reason 3c on CPU 0.\r\n", 63);
	assert_int_equal(h->ndone, 1);
	assert_int_equal(h->outcome, DUMP_VERIFIED);
	assert_false(h->has_stopcode);
	assert_non_null(strstr(h->evidence, "NMI received for unknown reason"));
	assert_true(evlog_has(h, "NMI received"));
	h_free(h);
}

static void test_sysrq_break(void **state)
{
	(void)state;
	struct h *h = h_new(false, DUMP_SYSRQ, 0, true, 0);
	start_ok(h);
	assert_int_equal(h->nbreak, 1);
	assert_int_equal(h->sent_at_break, 0); /* the BREAK, then c */
	assert_int_equal(h->sent.len, 1);
	assert_int_equal(h->sent.data[0], 'c');
	/* the key split over two reads; a prompt in between */
	h_feed(h, "# [  99.1] sysrq: Trig", 22);
	assert_int_equal(h->ndone, 0);
	h_feed(h, "ger a crash\r\n[  99.1] Kernel panic - not syncing: sysrq triggered crash\r\n", 73);
	assert_int_equal(h->ndone, 1);
	assert_int_equal(h->outcome, DUMP_VERIFIED);
	assert_non_null(strstr(h->evidence, "sysrq: Trigger a crash"));
	h_free(h);
}

static void test_sysrq_no_break(void **state)
{
	(void)state;
	struct h *h = h_new(false, DUMP_SYSRQ, 0, false, 0);
	char err[512] = "";
	assert_int_equal(dump_start(h->dump, h->now, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot carry a BREAK"));
	assert_non_null(strstr(err, "telnet"));
	assert_non_null(strstr(err, "Ctrl-A b"));
	assert_non_null(strstr(err, "--control"));
	assert_int_equal(h->sent.len, 0);
	h_free(h);

	/* the control plane's SysRq is used when there is one */
	h = h_new(false, DUMP_SYSRQ, CONTROL_CAN(CONTROL_SYSRQ), false, 0);
	start_ok(h);
	assert_int_equal(h->last_action, CONTROL_SYSRQ);
	assert_string_equal(h->last_arg, "c");
	h_free(h);
}

static void test_sysrq_timeout(void **state)
{
	(void)state;
	struct h *h = h_new(false, DUMP_SYSRQ, 0, true, 5 * SEC);
	start_ok(h);
	h_feed(h, "login: \r\nKernel panic - not syncing: Attempted to kill init!\r\n", 62);
	h_run(h, 10 * SEC);
	assert_int_equal(h->ndone, 1);
	assert_int_equal(h->outcome, DUMP_NOT_VERIFIED);
	assert_non_null(strstr(h->reason, "within 5s"));
	assert_non_null(strstr(h->reason, "Attempted to kill init"));
	assert_non_null(strstr(h->reason, "2 line(s) after the trigger"));
	h_free(h);
}

static void test_auto(void **state)
{
	(void)state;
	/* SAC ready → sac */
	struct h *h = h_new(true, DUMP_AUTO, CONTROL_CAN(CONTROL_NMI), true, 0);
	h_run(h, 2 * SEC);
	start_ok(h);
	assert_int_equal(dump_method(h->dump), DUMP_SAC);
	assert_true(evlog_has(h, "auto chose sac: SAC is ready"));
	h_run(h, 200 * SEC);
	assert_int_equal(h->outcome, DUMP_VERIFIED);
	assert_int_equal(h->method, DUMP_SAC);
	h_free(h);

	/* no SAC, a control plane with NMI → nmi */
	h = h_new(false, DUMP_AUTO, CONTROL_CAN(CONTROL_NMI), true, 0);
	start_ok(h);
	assert_int_equal(dump_method(h->dump), DUMP_NMI);
	assert_int_equal(h->ncontrol, 1);
	assert_true(evlog_has(h, "auto chose nmi"));
	h_free(h);

	/* no SAC, no control plane, a BREAK → sysrq */
	h = h_new(false, DUMP_AUTO, 0, true, 0);
	start_ok(h);
	assert_int_equal(dump_method(h->dump), DUMP_SYSRQ);
	assert_int_equal(h->nbreak, 1);
	assert_true(evlog_has(h, "auto chose sysrq"));
	h_free(h);

	/* nothing known: sac, which wakes the console (and fails when nobody answers) */
	h = h_new(false, DUMP_AUTO, 0, false, 0);
	start_ok(h);
	assert_int_equal(dump_method(h->dump), DUMP_SAC);
	h_run(h, 60 * SEC);
	assert_int_equal(h->outcome, DUMP_NOT_TRIGGERED);
	h_free(h);
}

/* A machine that crashed before the client looked: waking it shows !SAC>,
 * crashdump is never typed, and that old crash does not verify anything. */
static void test_sac_already_crashed(void **state)
{
	(void)state;
	struct h *h = h_new(true, DUMP_SAC, 0, false, 30 * SEC);
	sacsim_crash(h->sim, 0x50, h->now);
	buf_reset(&h->pending); /* neither reader saw it */
	h_run(h, 1 * SEC);
	start_ok(h);
	h_run(h, 60 * SEC);
	assert_int_equal(h->ndone, 1);
	assert_int_equal(h->outcome, DUMP_NOT_TRIGGERED);
	assert_non_null(strstr(h->reason, "already crashed"));
	assert_null(memmem(h->sent.data ? h->sent.data : "", h->sent.len, "crashdump", 9));
	assert_int_equal(h->nev[EV_DUMP_VERIFIED], 0);

	/* and when the client already knows, dump_start refuses at once */
	struct h *h2 = h_new(true, DUMP_SAC, 0, false, 30 * SEC);
	h_run(h2, 2 * SEC);
	sacsim_crash(h2->sim, 0x50, h2->now);
	h_run(h2, 1 * SEC);
	char err[256];
	assert_int_equal(dump_start(h2->dump, h2->now, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "already crashed"));
	h_free(h2);
	h_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_method_names),
	    cmocka_unit_test(test_sac_verified),
	    cmocka_unit_test(test_sac_never_shows),
	    cmocka_unit_test(test_sac_no_sac),
	    cmocka_unit_test(test_sac_already_crashed),
	    cmocka_unit_test(test_nmi_verified),
	    cmocka_unit_test(test_nmi_wrong_stopcode),
	    cmocka_unit_test(test_nmi_control_fails),
	    cmocka_unit_test(test_nmi_linux),
	    cmocka_unit_test(test_sysrq_break),
	    cmocka_unit_test(test_sysrq_no_break),
	    cmocka_unit_test(test_sysrq_timeout),
	    cmocka_unit_test(test_auto),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
