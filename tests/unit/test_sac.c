/*
 * test_sac.c — the SAC client against the simulated guest, in-process: the
 * client's writes go to sacsim_input, the simulator's output is fed back to
 * the client, and time is a fake clock moved to whichever deadline comes
 * first. Every exchange is deterministic and takes no real time.
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
#include <sys/stat.h>
#include <unistd.h>

#include "emsagent/event.h"
#include "emsagent/sac.h"
#include "emsagent/util.h"
#include "sacsim.h"

#define MS  NS_PER_MS
#define SEC NS_PER_SEC

struct h {
	struct sacsim *sim;
	struct sac *sac;
	int64_t now;
	int64_t sac_deadline;
	bool unplugged;     /* the guest hears nothing */
	bool deaf;          /* the client hears nothing */
	struct buf pending; /* guest output not yet fed to the client */
	struct buf heard;   /* everything the client received (what a capture would log) */
	struct buf sent;    /* everything the client wrote */
	struct buf evlog;   /* every event, as JSON lines */
	unsigned nev[EV__COUNT];
	char last_channel_ev[64];
	/* the last result */
	bool done;
	unsigned ndone;
	enum sac_err err;
	struct buf out;
	char channel[64];
	char detail[256];
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

static int c_send_fail(void *ctx, const void *buf, size_t n)
{
	(void)ctx;
	(void)buf;
	(void)n;
	return -EIO;
}

static void c_timer(void *ctx, int64_t d)
{
	struct h *h = ctx;
	h->sac_deadline = d;
}

static void c_emit(void *ctx, const struct event *ev)
{
	struct h *h = ctx;
	h->nev[ev->kind]++;
	if (ev->kind == EV_SAC_CHANNEL)
		snprintf(h->last_channel_ev, sizeof(h->last_channel_ev), "%s %s", ev->reason, ev->channel);
	struct json_object *o = event_to_json(ev);
	buf_printf(&h->evlog, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

static void on_done(void *ctx, const struct sac_result *r)
{
	struct h *h = ctx;
	h->done = true;
	h->ndone++;
	h->err = r->err;
	buf_reset(&h->out);
	buf_append(&h->out, r->output, r->output_len);
	assert_int_equal(strlen(r->output), r->output_len);
	snprintf(h->channel, sizeof(h->channel), "%s", r->channel ? r->channel : "");
	snprintf(h->detail, sizeof(h->detail), "%s", r->detail ? r->detail : "");
}

static struct h *h_new_cfg(const struct sacsim_cfg *cfg, int64_t repeat_delay)
{
	struct h *h = xcalloc(1, sizeof(*h));
	h->sac_deadline = INT64_MAX;
	h->now = 1 * SEC;
	buf_append(&h->out, "", 0);
	if (cfg)
		h->sim = sacsim_new(cfg, sim_out, h);
	struct sac_env env = {
	    .ctx = h,
	    .console = "vm1",
	    .send = c_send,
	    .set_timer = c_timer,
	    .emit = c_emit,
	    .emit_ems = true,
	    .char_delay_ns = -1,
	    .repeat_delay_ns = repeat_delay,
	    .wake_ns = 0,
	};
	h->sac = sac_new(&env);
	return h;
}

static void h_free(struct h *h)
{
	/* TEST_SAC_DUMP=1 shows each exchange, for debugging a failing test */
	if (getenv("TEST_SAC_DUMP"))
		fprintf(stderr, "--- heard:\n%s\n--- events:\n%s\n", h->heard.data ? h->heard.data : "",
		        h->evlog.data ? h->evlog.data : "");
	sac_free(h->sac);
	if (h->sim)
		sacsim_free(h->sim);
	buf_free(&h->pending);
	buf_free(&h->heard);
	buf_free(&h->sent);
	buf_free(&h->evlog);
	buf_free(&h->out);
	free(h);
}

/* Delivers output, then moves time to the next deadline; until cond or limit. */
static void h_run(struct h *h, bool (*cond)(struct h *), int64_t limit)
{
	int64_t end = h->now + limit;
	for (int guard = 0; guard < 1000000; guard++) {
		if (cond && cond(h))
			return;
		if (h->pending.len) {
			struct buf b = h->pending;
			h->pending = (struct buf){0};
			if (!h->deaf) {
				buf_append(&h->heard, b.data, b.len);
				sac_feed(h->sac, b.data, b.len, h->now);
			}
			buf_free(&b);
			continue;
		}
		int64_t next = h->sac_deadline;
		if (h->sim) {
			int64_t sd = sacsim_next_deadline(h->sim);
			if (sd < next)
				next = sd;
		}
		if (next > end)
			next = end;
		if (next < h->now)
			next = h->now;
		h->now = next;
		if (h->sim)
			sacsim_tick(h->sim, h->now);
		if (h->now >= h->sac_deadline)
			sac_tick(h->sac, h->now);
		if (h->now >= end && !h->pending.len)
			return;
	}
	fail_msg("h_run did not settle");
}

static bool is_done(struct h *h)
{
	return h->done;
}

static void h_wait_done(struct h *h, int64_t limit)
{
	h_run(h, is_done, limit);
	assert_true(h->done);
}

static bool is_ready(struct h *h)
{
	struct sac_state st;
	sac_get_state(h->sac, &st);
	return st.ready && st.at_prompt;
}

static bool is_cmd_available(struct h *h)
{
	struct sac_state st;
	sac_get_state(h->sac, &st);
	return st.cmd_available && st.at_prompt;
}

/* A booted guest whose CMD service is up, and a client that saw it all. */
static struct h *booted(struct sacsim_cfg *cfg, int64_t repeat_delay)
{
	struct h *h = h_new_cfg(cfg, repeat_delay);
	sacsim_boot(h->sim, h->now);
	h_run(h, is_cmd_available, 60 * SEC);
	assert_true(is_cmd_available(h));
	return h;
}

static void run_ok(struct h *h, const char *cmd)
{
	h->done = false;
	assert_int_equal(sac_run(h->sac, cmd, 30 * SEC, on_done, h, h->now), SAC_OK);
	h_wait_done(h, 60 * SEC);
}

static void default_cfg(struct sacsim_cfg *cfg)
{
	sacsim_cfg_default(cfg);
	cfg->cmd_delay_ns = 5 * SEC;
}

/* ---- tests ---- */

static void test_ready_and_events(void **state)
{
	(void)state;
	struct sacsim_cfg cfg;
	default_cfg(&cfg);
	struct h *h = booted(&cfg, 0);
	assert_int_equal(h->nev[EV_SAC_READY], 1);
	assert_int_equal(h->nev[EV_SAC_CMD_AVAILABLE], 1);
	assert_non_null(strstr(h->evlog.data, "\"event\":\"sac.ready\""));
	assert_non_null(strstr(h->evlog.data, "\"event\":\"sac.cmd_available\""));
	struct sac_state st;
	sac_get_state(h->sac, &st);
	assert_string_equal(st.current, "SAC");
	assert_false(st.crashed);
	assert_int_equal(st.nchannels, 1);
	h_free(h);
}

static void test_run_commands(void **state)
{
	(void)state;
	static const char *const tasks[] = {"TrustedInstaller.exe", "TiWorker.exe", NULL};
	struct sacsim_cfg cfg;
	default_cfg(&cfg);
	cfg.tasks = tasks;
	struct h *h = booted(&cfg, 0);

	run_ok(h, "t");
	assert_int_equal(h->err, SAC_OK);
	assert_non_null(strstr(h->out.data, "TrustedInstaller.exe"));
	assert_non_null(strstr(h->out.data, "Pid Name"));
	assert_null(strstr(h->out.data, "SAC>")); /* the echo and the prompt are not output */

	run_ok(h, "id");
	assert_int_equal(h->err, SAC_OK);
	assert_non_null(strstr(h->out.data, "           Computer Name: WIN-EMSSIM01"));

	run_ok(h, "?");
	assert_int_equal(h->err, SAC_OK);
	assert_non_null(strstr(h->out.data, "crashdump            Crash the system."));

	run_ok(h, "ch");
	assert_int_equal(h->err, SAC_OK);
	assert_non_null(strstr(h->out.data, "0 (AV)    SAC"));

	run_ok(h, "f");
	assert_string_equal(h->out.data, "Thread information is now ON.");

	run_ok(h, "lock");
	assert_int_equal(h->err, SAC_OK);
	struct sac_state st;
	sac_get_state(h->sac, &st);
	assert_true(st.locked);

	run_ok(h, "nonsense");
	assert_int_equal(h->err, SAC_ERR_COMMAND);
	assert_string_equal(h->detail, "Unrecognized command.  Try the 'help' command for more details.");
	h_free(h);
}

static void test_paging(void **state)
{
	(void)state;
	struct sacsim_cfg cfg;
	default_cfg(&cfg);
	struct h *h = booted(&cfg, 0);
	run_ok(h, "d");
	assert_int_equal(h->err, SAC_OK);
	struct buf plain = {0};
	buf_append(&plain, h->out.data, h->out.len);
	run_ok(h, "p");
	assert_string_equal(h->out.data, "Paging is now ON.");
	size_t before = h->heard.len;
	run_ok(h, "d");
	assert_int_equal(h->err, SAC_OK);
	/* the pager stopped the listing at least once and was answered; the output is the same */
	assert_non_null(strstr(h->heard.data + before, "----Press <Enter> for more----"));
	assert_null(strstr(h->out.data, "Press <Enter>"));
	assert_string_equal(h->out.data, plain.data);
	assert_true(h->out.len > 200);
	buf_free(&plain);
	h_free(h);
}

static void test_busy_and_invalid(void **state)
{
	(void)state;
	struct sacsim_cfg cfg;
	default_cfg(&cfg);
	struct h *h = booted(&cfg, 0);
	assert_int_equal(sac_run(h->sac, "t", 30 * SEC, on_done, h, h->now), SAC_OK);
	assert_true(sac_busy(h->sac));
	assert_int_equal(sac_run(h->sac, "id", 30 * SEC, on_done, h, h->now), SAC_ERR_BUSY);
	assert_int_equal(sac_cmd_open(h->sac, 30 * SEC, on_done, h, h->now), SAC_ERR_BUSY);
	assert_false(h->done); /* never called from the starting call */
	h_wait_done(h, 60 * SEC);
	assert_int_equal(h->ndone, 1);
	assert_int_equal(sac_run(h->sac, "", SEC, on_done, h, h->now), SAC_ERR_INVALID);
	assert_int_equal(sac_run(h->sac, "t\x1b\t0", SEC, on_done, h, h->now), SAC_ERR_INVALID);
	char big[SAC_CMD_MAX + 2];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	assert_int_equal(sac_run(h->sac, big, SEC, on_done, h, h->now), SAC_ERR_INVALID);
	h_free(h);
}

static void test_cmd_errors(void **state)
{
	(void)state;
	struct sacsim_cfg cfg;
	/* the service has not registered yet */
	default_cfg(&cfg);
	cfg.cmd_delay_ns = -1;
	struct h *h = h_new_cfg(&cfg, 0);
	sacsim_boot(h->sim, h->now);
	h_run(h, is_ready, 10 * SEC);
	assert_int_equal(sac_cmd_open(h->sac, 30 * SEC, on_done, h, h->now), SAC_OK);
	h_wait_done(h, 60 * SEC);
	assert_int_equal(h->err, SAC_ERR_NO_CMD_SERVICE);
	assert_non_null(strstr(h->detail, "Unable to launch a Command Prompt"));
	h_free(h);

	/* launching disabled */
	default_cfg(&cfg);
	cfg.cmd_disabled = true;
	h = booted(&cfg, 0);
	assert_int_equal(sac_cmd_open(h->sac, 30 * SEC, on_done, h, h->now), SAC_OK);
	h_wait_done(h, 60 * SEC);
	assert_int_equal(h->err, SAC_ERR_CMD_DISABLED);
	h_free(h);

	/* the channel table is full */
	default_cfg(&cfg);
	cfg.max_channels = 2;
	h = booted(&cfg, 0);
	assert_int_equal(sac_cmd_open(h->sac, 30 * SEC, on_done, h, h->now), SAC_OK);
	h_wait_done(h, 60 * SEC);
	assert_int_equal(h->err, SAC_OK);
	assert_string_equal(h->channel, "Cmd0001");
	h->done = false;
	assert_int_equal(sac_cmd_open(h->sac, 30 * SEC, on_done, h, h->now), SAC_OK);
	h_wait_done(h, 60 * SEC);
	assert_int_equal(h->err, SAC_ERR_MAX_CHANNELS);
	assert_string_equal(h->channel, "");

	/* channel errors */
	run_ok(h, "ch -sn Cmd0042");
	assert_int_equal(h->err, SAC_ERR_CHANNEL_NOT_FOUND);
	run_ok(h, "ch -si 7");
	assert_int_equal(h->err, SAC_ERR_NO_CHANNEL_AT_INDEX);
	struct sac_secret pw = {.pw = "P@ssw0rd!", .len = 9};
	h->done = false;
	assert_int_equal(
	    sac_cmd_login(h->sac, "Cmd0009", "Administrator", NULL, &pw, 30 * SEC, on_done, h, h->now),
	    SAC_OK);
	h_wait_done(h, 60 * SEC);
	assert_int_equal(h->err, SAC_ERR_CHANNEL_NOT_FOUND);
	h_free(h);
}

static void login(struct h *h, const char *chan, const char *password, enum sac_err expect)
{
	struct sac_secret pw = {0};
	snprintf(pw.pw, sizeof(pw.pw), "%s", password);
	pw.len = strlen(password);
	h->done = false;
	assert_int_equal(sac_cmd_login(h->sac, chan, "Administrator", "", &pw, 60 * SEC, on_done, h, h->now),
	                 SAC_OK);
	sac_secret_clear(&pw);
	h_wait_done(h, 120 * SEC);
	if (h->err != expect)
		fprintf(stderr, "login: %s (%s)\n--- heard:\n%s\n--- sent:\n%s\n", sac_strerror(h->err),
		        h->detail, h->heard.data, h->sent.data);
	assert_int_equal(h->err, expect);
}

static void open_chan(struct h *h, const char *expect)
{
	h->done = false;
	assert_int_equal(sac_cmd_open(h->sac, 30 * SEC, on_done, h, h->now), SAC_OK);
	h_wait_done(h, 60 * SEC);
	assert_int_equal(h->err, SAC_OK);
	assert_string_equal(h->channel, expect);
}

static void cmd_ok(struct h *h, const char *cmd)
{
	h->done = false;
	assert_int_equal(sac_cmd_run(h->sac, cmd, 30 * SEC, on_done, h, h->now), SAC_OK);
	h_wait_done(h, 60 * SEC);
	assert_int_equal(h->err, SAC_OK);
}

static void close_chan(struct h *h, const char *chan)
{
	h->done = false;
	assert_int_equal(sac_cmd_close(h->sac, chan, 60 * SEC, on_done, h, h->now), SAC_OK);
	h_wait_done(h, 120 * SEC);
	assert_int_equal(h->err, SAC_OK);
}

static void test_cmd_channel_session(void **state)
{
	(void)state;
	struct sacsim_cfg cfg;
	default_cfg(&cfg);
	struct h *h = booted(&cfg, 0);
	assert_int_equal(sac_cmd_run(h->sac, "ver", SEC, on_done, h, h->now), SAC_ERR_NOT_LOGGED_IN);
	open_chan(h, "Cmd0001");
	assert_non_null(strstr(h->evlog.data, "\"channel\":\"Cmd0001\""));
	login(h, "Cmd0001", "P@ssw0rd!", SAC_OK);
	struct sac_state st;
	sac_get_state(h->sac, &st);
	assert_true(st.logged_in);
	assert_string_equal(st.current, "Cmd0001");
	assert_string_equal(sacsim_channel(h->sim), "Cmd0001");

	cmd_ok(h, "hostname");
	assert_string_equal(h->out.data, "WIN-EMSSIM01\n");
	cmd_ok(h, "ipconfig");
	assert_memory_equal(h->out.data, "\nWindows IP Configuration\n\n", 27); /* leading blank line kept */
	assert_non_null(strstr(h->out.data, "   IPv4 Address. . . . . . . . . . . : "));
	assert_null(strstr(h->out.data, "system32>"));
	cmd_ok(h, "echo hello there");
	assert_string_equal(h->out.data, "hello there\n");

	/* a SAC command from inside the channel: Esc Tab 0 first, then the command */
	run_ok(h, "ch");
	assert_int_equal(h->err, SAC_OK);
	assert_non_null(strstr(h->out.data, "1 (AV)    Cmd0001"));
	assert_non_null(memmem(h->sent.data, h->sent.len, "\x1b\t0\r", 4));
	assert_string_equal(sacsim_channel(h->sim), "SAC");
	sac_get_state(h->sac, &st);
	assert_int_equal(st.nchannels, 2);
	assert_string_equal(st.channels[1], "Cmd0001");

	/* back in (already logged in: no credentials asked), then exit */
	login(h, "Cmd0001", "P@ssw0rd!", SAC_OK);
	cmd_ok(h, "ver");
	assert_non_null(strstr(h->out.data, "Microsoft Windows [Version 10.0.20348"));
	close_chan(h, "Cmd0001");
	assert_non_null(strstr(h->sent.data, "exit\r"));
	assert_null(strstr(h->sent.data, "ch -ci"));
	sac_get_state(h->sac, &st);
	assert_string_equal(st.current, "SAC");
	assert_int_equal(st.nchannels, 1);
	assert_false(st.logged_in);
	assert_int_equal(sacsim_nchannels(h->sim), 1);
	assert_non_null(strstr(h->last_channel_ev, "closed Cmd0001"));
	run_ok(h, "ch");
	assert_null(strstr(h->out.data, "Cmd0001"));
	h_free(h);
}

static void test_login_failure_and_close_by_index(void **state)
{
	(void)state;
	struct sacsim_cfg cfg;
	default_cfg(&cfg);
	struct h *h = booted(&cfg, 0);
	open_chan(h, "Cmd0001");
	open_chan(h, "Cmd0002");
	login(h, "Cmd0002", "wrong-password", SAC_ERR_AUTH);
	struct sac_state st;
	sac_get_state(h->sac, &st);
	assert_false(st.logged_in);
	assert_int_equal(sac_cmd_run(h->sac, "ver", SEC, on_done, h, h->now), SAC_ERR_NOT_LOGGED_IN);
	/* not in the channel: closed from SAC by its index */
	close_chan(h, "Cmd0002");
	assert_non_null(strstr(h->sent.data, "ch -ci 2\r"));
	assert_int_equal(sacsim_nchannels(h->sim), 2);
	h->done = false;
	assert_int_equal(sac_cmd_close(h->sac, "Cmd0002", 60 * SEC, on_done, h, h->now), SAC_OK);
	h_wait_done(h, 120 * SEC);
	assert_int_equal(h->err, SAC_ERR_CHANNEL_NOT_FOUND);
	assert_int_equal(sac_cmd_close(h->sac, "SAC", SEC, on_done, h, h->now), SAC_ERR_INVALID);
	/* a good login afterwards still works */
	login(h, "Cmd0001", "P@ssw0rd!", SAC_OK);
	cmd_ok(h, "hostname");
	assert_string_equal(h->out.data, "WIN-EMSSIM01\n");
	h_free(h);
}

static void test_password_never_leaks(void **state)
{
	(void)state;
	const char *secret = "Zq7-Unmistakable-Secret";
	struct sacsim_cfg cfg;
	default_cfg(&cfg);
	cfg.password = secret;
	struct h *h = booted(&cfg, 0);
	open_chan(h, "Cmd0001");
	struct buf results = {0};
	login(h, "Cmd0001", "Zq7-Unmistakable-Wrong", SAC_ERR_AUTH);
	buf_printf(&results, "%s|%s|%s\n", h->out.data, h->detail, sac_strerror(h->err));
	login(h, "Cmd0001", secret, SAC_OK);
	buf_printf(&results, "%s|%s|%s\n", h->out.data, h->detail, sac_strerror(h->err));
	cmd_ok(h, "echo done");
	buf_printf(&results, "%s|%s\n", h->out.data, h->detail);
	close_chan(h, "Cmd0001");
	/* it was typed (else the login could not have worked)... */
	assert_non_null(memmem(h->sent.data, h->sent.len, secret, strlen(secret)));
	/* ...and it is nowhere else: not what the console showed, not an event, not a result */
	assert_null(memmem(h->heard.data, h->heard.len, "Unmistakable", 12));
	assert_null(strstr(h->evlog.data, "Unmistakable"));
	assert_null(strstr(results.data, "Unmistakable"));
	assert_non_null(strstr(h->heard.data, "Password: *"));
	buf_free(&results);
	h_free(h);
}

static void test_crash(void **state)
{
	(void)state;
	struct sacsim_cfg cfg;
	default_cfg(&cfg);
	struct h *h = booted(&cfg, 0);
	run_ok(h, "crashdump");
	assert_int_equal(h->err, SAC_ERR_CRASHED);
	struct sac_state st;
	sac_get_state(h->sac, &st);
	assert_true(st.crashed);
	assert_true(st.has_stopcode);
	assert_int_equal(st.stopcode, 0xE2);
	assert_true(st.has_machine_info);
	assert_string_equal(st.mi.name, "WIN-EMSSIM01");
	assert_int_equal(h->nev[EV_EMS_BUGCHECK], 1);
	assert_non_null(strstr(h->evlog.data, "\"event\":\"ems.bugcheck\""));
	/* !SAC> has no t, cmd or channels */
	assert_int_equal(sac_run(h->sac, "t", SEC, on_done, h, h->now), SAC_ERR_CRASHED);
	assert_int_equal(sac_cmd_open(h->sac, SEC, on_done, h, h->now), SAC_ERR_CRASHED);
	run_ok(h, "?");
	assert_int_equal(h->err, SAC_OK);
	assert_non_null(strstr(h->out.data, "restart  Restart the system immediately."));
	h_free(h);
}

static void test_nmi_while_idle(void **state)
{
	(void)state;
	struct sacsim_cfg cfg;
	default_cfg(&cfg);
	struct h *h = booted(&cfg, 0);
	sacsim_crash(h->sim, 0x80, h->now);
	h_run(h, NULL, SEC);
	struct sac_state st;
	sac_get_state(h->sac, &st);
	assert_true(st.crashed);
	assert_int_equal(st.stopcode, 0x80);
	assert_non_null(strstr(h->evlog.data, "0x80"));
	run_ok(h, "help");
	assert_int_equal(h->err, SAC_OK);
	assert_non_null(strstr(h->out.data, "d        Display all log entries, paging is on."));
	run_ok(h, "d");
	assert_int_equal(h->err, SAC_OK);
	assert_null(strstr(h->out.data, "Press <Enter>"));
	h_free(h);
}

static void test_drop_repeat_needs_pacing(void **state)
{
	(void)state;
	struct sacsim_cfg cfg;
	default_cfg(&cfg);
	cfg.drop_repeat_ns = 500 * MS;
	/* with pacing: "ch -sn Cmd0001" has "00", the password "ss"; all arrive */
	struct h *h = booted(&cfg, 600 * MS);
	open_chan(h, "Cmd0001");
	login(h, "Cmd0001", "P@ssw0rd!", SAC_OK);
	cmd_ok(h, "echo committee");
	assert_string_equal(h->out.data, "committee\n");
	h_free(h);

	/* without: the guest loses the second 0 and finds no such channel */
	h = booted(&cfg, 0);
	open_chan(h, "Cmd0001");
	struct sac_secret pw = {.pw = "P@ssw0rd!", .len = 9};
	h->done = false;
	assert_int_equal(
	    sac_cmd_login(h->sac, "Cmd0001", "Administrator", "", &pw, 30 * SEC, on_done, h, h->now), SAC_OK);
	h_wait_done(h, 60 * SEC);
	assert_int_equal(h->err, SAC_ERR_CHANNEL_NOT_FOUND);
	h_free(h);
}

static void test_silent_console_woken(void **state)
{
	(void)state;
	struct sacsim_cfg cfg;
	default_cfg(&cfg);
	struct h *h = h_new_cfg(&cfg, 0);
	/* the guest booted before we attached: we heard none of it */
	h->deaf = true;
	sacsim_boot(h->sim, h->now);
	h_run(h, NULL, 30 * SEC);
	h->deaf = false;
	assert_int_equal(h->heard.len, 0);
	run_ok(h, "s");
	assert_int_equal(h->err, SAC_OK);
	assert_non_null(strstr(h->out.data, "Date: "));
	assert_int_equal(h->sent.data[0], '\r'); /* woken with CR first */
	assert_null(memchr(h->sent.data, 0x1b, h->sent.len));
	h_free(h);
}

static bool sent_i(struct h *h)
{
	return h->sent.len && memmem(h->sent.data, h->sent.len, "i\r", 2) != NULL;
}

/* SAC prints events whenever they happen, also between a command's echo and
 * its output: the event's redrawn SAC> is not the end of the command. */
static void test_event_inside_command(void **state)
{
	(void)state;
	static const char *const ev[] = {
	    "\r\nEVENT: The CMD command is now available.\r\nSAC>",
	    "\r\nEVENT:   A new channel has been created.  Use \"ch -?\" for channel help.\r\n"
	    "Channel: Cmd0001\r\nSAC>",
	};
	for (size_t v = 0; v < 2 * ARRAY_LEN(ev); v++) {
		struct h *h = h_new_cfg(NULL, 0);
		sac_feed(h->sac, "SAC>", 4, h->now);
		assert_int_equal(sac_run(h->sac, "i", 10 * SEC, on_done, h, h->now), SAC_OK);
		h_run(h, sent_i, 5 * SEC);
		assert_true(sent_i(h));
		sac_feed(h->sac, "i\r\n", 3, h->now);
		const char *e = ev[v % ARRAY_LEN(ev)];
		if (v < ARRAY_LEN(ev)) {
			/* the event's prompt ends a read */
			sac_feed(h->sac, e, strlen(e), h->now);
			const char *rest =
			    "\r\nSAC is retrieving IP Addresses...\r\n"
			    "Net: 10, Ip=10.0.0.4  Subnet=255.255.255.0  Gateway=10.0.0.1\r\nSAC>";
			sac_feed(h->sac, rest, strlen(rest), h->now);
		} else {
			/* all in one read, the output right after the event's prompt */
			struct buf b = {0};
			buf_printf(&b,
			           "%sSAC is retrieving IP Addresses...\r\n"
			           "Net: 10, Ip=10.0.0.4  Subnet=255.255.255.0  Gateway=10.0.0.1\r\nSAC>",
			           e);
			sac_feed(h->sac, b.data, b.len, h->now);
			buf_free(&b);
		}
		h_wait_done(h, 5 * SEC);
		if (!strstr(h->out.data, "Net: 10"))
			print_error("variant %zu: err %d output [%s]\n", v, h->err, h->out.data);
		assert_int_equal(h->err, SAC_OK);
		assert_non_null(strstr(h->out.data, "Net: 10, Ip=10.0.0.4"));
		assert_non_null(strstr(h->out.data, "SAC is retrieving IP Addresses..."));
		assert_null(strstr(h->out.data, "EVENT"));
		assert_null(strstr(h->out.data, "Channel:"));
		assert_null(strstr(h->out.data, "SAC>"));
		/* the tracker still saw the event */
		struct sac_state st;
		sac_get_state(h->sac, &st);
		assert_true(st.cmd_available);
		h_free(h);
	}
}

static void test_not_sac_and_timeout(void **state)
{
	(void)state;
	/* nothing answers at all */
	struct h *h = h_new_cfg(NULL, 0);
	assert_int_equal(sac_run(h->sac, "t", 30 * SEC, on_done, h, h->now), SAC_OK);
	h_wait_done(h, 60 * SEC);
	assert_int_equal(h->err, SAC_ERR_NOT_SAC);
	assert_non_null(strstr(h->detail, "Esc Tab 0"));
	assert_non_null(memmem(h->sent.data, h->sent.len, "\r\x1b\t0\r", 5));
	h_free(h);

	/* the prompt was there, then the guest stopped answering */
	struct sacsim_cfg cfg;
	default_cfg(&cfg);
	h = booted(&cfg, 0);
	h->unplugged = true;
	int64_t t0 = h->now;
	assert_int_equal(sac_run(h->sac, "t", 10 * SEC, on_done, h, h->now), SAC_OK);
	h_wait_done(h, 60 * SEC);
	assert_int_equal(h->err, SAC_ERR_TIMEOUT);
	assert_true(h->now - t0 >= 10 * SEC && h->now - t0 < 11 * SEC);
	assert_non_null(strstr(h->detail, "SAC> prompt"));
	h_free(h);
}

static void test_send_failure_and_cancel(void **state)
{
	(void)state;
	struct h *h = xcalloc(1, sizeof(*h));
	h->now = SEC;
	h->sac_deadline = INT64_MAX;
	struct sac_env env = {
	    .ctx = h, .send = c_send_fail, .set_timer = c_timer, .char_delay_ns = -1, .repeat_delay_ns = -1};
	h->sac = sac_new(&env);
	assert_int_equal(sac_run(h->sac, "t", 30 * SEC, on_done, h, h->now), SAC_OK);
	assert_false(h->done);
	h_run(h, is_done, 60 * SEC);
	assert_int_equal(h->err, SAC_ERR_SEND);
	assert_non_null(strstr(h->detail, "Input/output error"));
	/* freeing with an operation running cancels it */
	h->done = false;
	assert_int_equal(sac_run(h->sac, "t", 30 * SEC, on_done, h, h->now), SAC_OK);
	sac_free(h->sac);
	h->sac = NULL;
	assert_true(h->done);
	assert_int_equal(h->err, SAC_ERR_CANCELLED);
	buf_free(&h->out);
	free(h);
}

static void test_switch_screen_then_recover(void **state)
{
	(void)state;
	struct sacsim_cfg cfg;
	default_cfg(&cfg);
	struct h *h = booted(&cfg, 0);
	open_chan(h, "Cmd0001");
	run_ok(h, "ch -si 1");
	assert_int_equal(h->err, SAC_OK);
	assert_non_null(strstr(h->out.data, "Name:                  Cmd0001"));
	/* the next command finds no prompt and returns to SAC with Esc Tab 0 */
	run_ok(h, "id");
	assert_int_equal(h->err, SAC_OK);
	assert_non_null(strstr(h->out.data, "Computer Name: WIN-EMSSIM01"));
	assert_string_equal(sacsim_channel(h->sim), "SAC");
	h_free(h);
}

static void test_reboot_resets_state(void **state)
{
	(void)state;
	struct sacsim_cfg cfg;
	default_cfg(&cfg);
	struct h *h = booted(&cfg, 0);
	open_chan(h, "Cmd0001");
	sacsim_crash(h->sim, 0xE2, h->now);
	h_run(h, NULL, SEC);
	sacsim_boot(h->sim, h->now);
	h_run(h, is_ready, 10 * SEC);
	struct sac_state st;
	sac_get_state(h->sac, &st);
	assert_false(st.crashed);
	assert_false(st.cmd_available);
	assert_int_equal(st.nchannels, 1);
	assert_int_equal(h->nev[EV_SAC_READY], 2);
	h_run(h, is_cmd_available, 30 * SEC);
	assert_int_equal(h->nev[EV_SAC_CMD_AVAILABLE], 2);
	h_free(h);
}

static void test_secret_sources(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_sac_XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof(path), "%s/pw", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("Hunter2-Secret\r\nsecond line\n", f);
	fclose(f);
	struct sac_secret s;
	char err[512];
	chmod(path, 0644);
	assert_int_equal(sac_secret_from_file(path, &s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "0644"));
	assert_non_null(strstr(err, "chmod 600"));
	assert_null(strstr(err, "Hunter2"));
	assert_int_equal(s.len, 0);
	chmod(path, 0600);
	assert_int_equal(sac_secret_from_file(path, &s, err, sizeof(err)), 0);
	assert_int_equal(s.len, 14);
	assert_memory_equal(s.pw, "Hunter2-Secret", 14);
	sac_secret_clear(&s);
	assert_int_equal(s.len, 0);
	assert_int_equal(s.pw[0], 0);
	/* a file of someone else's (root owns it if we are not root; else chown it away) */
	if (geteuid() == 0) {
		assert_int_equal(chown(path, 1, 1), 0);
		assert_int_equal(sac_secret_from_file(path, &s, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "owned by uid 1"));
	}
	/* an empty file, a missing file, a directory */
	f = fopen(path, "w");
	fclose(f);
	if (geteuid() == 0)
		assert_int_equal(chown(path, 0, 0), 0);
	chmod(path, 0600);
	assert_int_equal(sac_secret_from_file(path, &s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "empty"));
	unlink(path);
	assert_int_equal(sac_secret_from_file(path, &s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file"));
	assert_int_equal(sac_secret_from_file(dir, &s, err, sizeof(err)), -1);
	rmdir(dir);

	setenv("TEST_SAC_PW", "EnvSecret-42", 1);
	assert_int_equal(sac_secret_from_env("TEST_SAC_PW", &s, err, sizeof(err)), 0);
	assert_int_equal(s.len, 12);
	unsetenv("TEST_SAC_PW");
	assert_int_equal(sac_secret_from_env("TEST_SAC_PW", &s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "TEST_SAC_PW is not set"));
	setenv("TEST_SAC_PW", "bad\x1bvalue", 1);
	assert_int_equal(sac_secret_from_env("TEST_SAC_PW", &s, err, sizeof(err)), -1);
	assert_null(strstr(err, "bad"));
	unsetenv("TEST_SAC_PW");
}

static void test_strerror(void **state)
{
	(void)state;
	for (int e = 0; e < SAC_ERR__COUNT; e++) {
		assert_non_null(sac_strerror((enum sac_err)e));
		assert_true(strlen(sac_err_name((enum sac_err)e)) > 1);
	}
	assert_string_equal(sac_err_name(SAC_ERR_MAX_CHANNELS), "max_channels");
	assert_string_equal(sac_strerror((enum sac_err)999), "unknown SAC error");
	assert_string_equal(event_kind_name(EV_SAC_CHANNEL), "sac.channel");
	assert_string_equal(event_kind_name(EV_SAC_READY), "sac.ready");
	assert_string_equal(event_kind_name(EV_SAC_CMD_AVAILABLE), "sac.cmd_available");
}

/* A captured-style session fed as raw bytes (sac-ems.md §6, §1.4, §2): the
 * tracker alone, no simulator, split at every possible point. */
static const char transcript[] =
    "\033[2J\r\n\r\nComputer is booting, SAC started and initialized.\r\n\r\n"
    "Use the \"ch -?\" command for information about using channels.\r\n"
    "Use the \"?\" command for general help.\r\n\r\n\r\nSAC>"
    "\r\nEVENT: The CMD command is now available.\r\nSAC>"
    "cmd\r\nThe Command Prompt session was successfully launched.\r\nSAC>"
    "\r\nEVENT:   A new channel has been created.  Use \"ch -?\" for channel help.\r\nChannel: "
    "Cmd0001\r\nSAC>"
    "ch\r\nChannel List\r\n\r\n(Use \"ch -?\" for information on using channels)\r\n\r\n"
    "# Status  Channel Name\r\n0 (AV)    SAC\r\n1 (AV)    Cmd0001\r\nSAC>"
    "lock\r\nLocked access to all Command Prompt channels.\r\nSAC>"
    "\r\nEVENT:   A channel has been closed.\r\nChannel: Cmd0001\r\nSAC>"
    "\a\a\a<?xml>\a<BP>\r\n<INSTANCE CLASSNAME=\"BLUESCREEN\">\r\n"
    "<PROPERTY NAME=\"STOPCODE\" TYPE=\"string\"><VALUE>\"0xE2\"</VALUE></PROPERTY>"
    "<machine-info>\r\n<name>WIN-CAPTURED</name>\r\n<guid>00000000-0000-0000-0000-000000000000</guid>\r\n"
    "<processor-architecture>AMD64</processor-architecture>\r\n<os-version>10.0</os-version>\r\n"
    "<os-build-number>17763</os-build-number>\r\n<os-product>Windows Server 2019</os-product>\r\n"
    "<os-service-pack>None</os-service-pack>\r\n</machine-info>\r\n\r\n</INSTANCE>\r\n</BP>\a"
    "\n\r!SAC>";

static void test_transcript_states(void **state)
{
	(void)state;
	size_t len = sizeof(transcript) - 1;
	for (size_t split = 0; split <= len; split += 7) {
		struct h *h = h_new_cfg(NULL, 0);
		sac_feed(h->sac, transcript, split, h->now);
		if (split == 0 || split == len) {
			struct sac_state st0;
			sac_get_state(h->sac, &st0);
			assert_int_equal(st0.crashed, split == len);
		}
		sac_feed(h->sac, transcript + split, len - split, h->now);
		struct sac_state st;
		sac_get_state(h->sac, &st);
		assert_true(st.ready);
		assert_true(st.cmd_available);
		assert_true(st.locked);
		assert_true(st.crashed);
		assert_true(st.has_stopcode);
		assert_int_equal(st.stopcode, 0xE2);
		assert_true(st.has_machine_info);
		assert_string_equal(st.mi.name, "WIN-CAPTURED");
		assert_string_equal(st.mi.os_build, "17763");
		assert_int_equal(st.nchannels, 1); /* Cmd0001 was listed, then closed */
		assert_string_equal(st.channels[0], "SAC");
		assert_int_equal(h->nev[EV_SAC_READY], 1);
		assert_int_equal(h->nev[EV_SAC_CMD_AVAILABLE], 1);
		assert_int_equal(h->nev[EV_SAC_CHANNEL], 2);
		assert_int_equal(h->nev[EV_EMS_BUGCHECK], 1);
		assert_non_null(strstr(h->evlog.data, "\"channel\":\"Cmd0001\",\"reason\":\"created\"") ||
		                strstr(h->evlog.data, "\"reason\":\"created\""));
		assert_non_null(strstr(h->evlog.data, "\"reason\":\"closed\""));
		assert_int_equal(h->sent.len, 0); /* watching never types */
		/* at !SAC> only its own commands are allowed */
		assert_int_equal(sac_run(h->sac, "t", SEC, on_done, h, h->now), SAC_ERR_CRASHED);
		assert_int_equal(sac_cmd_login(h->sac, "Cmd0001", "a", NULL,
		                               &(struct sac_secret){.pw = "x", .len = 1}, SEC, on_done, h,
		                               h->now),
		                 SAC_ERR_CRASHED);
		h_free(h);
	}
}

/* The session in tests/data/sac-session.log (written from sac-ems.md §6,
 * §1.4 and the captured session §8 describes: banner, CMD event, ch with one
 * and two channels, cmd, ch -sn Cmd0001, the switching screen with the
 * captured GUIDs, the login dialog, the cmd prompt) read by a watching
 * client, in one piece and byte by byte. */
static void test_data_transcript(void **state)
{
	(void)state;
	struct buf b = {0};
	FILE *f = fopen("tests/data/sac-session.log", "rb");
	assert_non_null(f);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&b, chunk, n);
	fclose(f);
	assert_true(b.len > 1000);
	for (int pass = 0; pass < 2; pass++) {
		struct h *h = h_new_cfg(NULL, 0);
		if (pass == 0) {
			sac_feed(h->sac, b.data, b.len, h->now);
		} else {
			for (size_t i = 0; i < b.len; i++)
				sac_feed(h->sac, b.data + i, 1, h->now);
		}
		struct sac_state st;
		sac_get_state(h->sac, &st);
		assert_true(st.ready);
		assert_true(st.cmd_available);
		assert_false(st.crashed);
		assert_int_equal(st.nchannels, 2);
		assert_string_equal(st.channels[0], "SAC");
		assert_string_equal(st.channels[1], "Cmd0001");
		assert_int_equal(h->nev[EV_SAC_READY], 1);
		assert_int_equal(h->nev[EV_SAC_CMD_AVAILABLE], 1);
		assert_true(h->nev[EV_SAC_CHANNEL] >= 1);
		assert_non_null(strstr(h->evlog.data, "\"channel\":\"Cmd0001\""));
		assert_int_equal(h->sent.len, 0); /* watching never types */
		h_free(h);
	}
	buf_free(&b);
}

/* Whatever a guest prints, the client stays bounded and the operation ends. */
static void test_garbage(void **state)
{
	(void)state;
	struct h *h = h_new_cfg(NULL, 0);
	assert_int_equal(sac_run(h->sac, "t", 5 * SEC, on_done, h, h->now), SAC_OK);
	uint32_t x = 12345;
	char buf[512];
	for (int round = 0; round < 400 && !h->done; round++) {
		for (size_t i = 0; i < sizeof(buf); i++) {
			x = x * 1103515245u + 12345u;
			unsigned v = (x >> 16) & 0xff;
			/* plenty of line ends, prompts' letters and escapes */
			buf[i] = v < 40 ? "\r\n\033[SAC>!:\\ \a<BP>"[v % 16] : (char)v;
		}
		sac_feed(h->sac, buf, sizeof(buf), h->now);
		h->now += 20 * MS;
		if (h->now >= h->sac_deadline)
			sac_tick(h->sac, h->now);
	}
	h_run(h, is_done, 60 * SEC);
	assert_true(h->done);
	assert_true(h->out.len <= SAC_MAX_OUTPUT);
	h_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ready_and_events),
	    cmocka_unit_test(test_run_commands),
	    cmocka_unit_test(test_paging),
	    cmocka_unit_test(test_busy_and_invalid),
	    cmocka_unit_test(test_cmd_errors),
	    cmocka_unit_test(test_cmd_channel_session),
	    cmocka_unit_test(test_login_failure_and_close_by_index),
	    cmocka_unit_test(test_password_never_leaks),
	    cmocka_unit_test(test_crash),
	    cmocka_unit_test(test_nmi_while_idle),
	    cmocka_unit_test(test_drop_repeat_needs_pacing),
	    cmocka_unit_test(test_silent_console_woken),
	    cmocka_unit_test(test_not_sac_and_timeout),
	    cmocka_unit_test(test_send_failure_and_cancel),
	    cmocka_unit_test(test_switch_screen_then_recover),
	    cmocka_unit_test(test_reboot_resets_state),
	    cmocka_unit_test(test_secret_sources),
	    cmocka_unit_test(test_strerror),
	    cmocka_unit_test(test_transcript_states),
	    cmocka_unit_test(test_data_transcript),
	    cmocka_unit_test(test_event_inside_command),
	    cmocka_unit_test(test_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
