/*
 * sac.c — the SAC client (contract in sac.h; byte-level behaviour from
 * sac-ems.md).
 *
 * Two layers over one normaliser. The tracker reads every line (complete or
 * partial) and keeps the console's state — prompt, CMD availability, crash,
 * channels, lock — and raises sac.* events. The operation layer runs the one
 * current operation as a small stage machine driven by the same lines and by
 * deadlines. Typed bytes go through a paced queue; a byte is sent when its
 * time has come, so a guest that drops fast or repeated keys still gets the
 * command. Nothing here reads a clock or blocks: time comes with every feed
 * and tick. This file holds the operations, the pacing and the public
 * entry points; the tracker is in sac_track.c, passwords in sac_secret.c.
 */
#include "sac_priv.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "emsagent/line.h"
#include "emsagent/normalize.h"
#include "emsagent/util.h"

/* ---- paced output ---- */

static void update_timer(struct sac *c)
{
	int64_t d = INT64_MAX;
	if (c->qpos < c->q.len)
		d = c->next_send;
	if (c->op.kind != OP_NONE) {
		if (c->op.pending || c->send_errno)
			d = c->now;
		if (c->op.deadline < d)
			d = c->op.deadline;
		if (c->op.stage_deadline < d)
			d = c->op.stage_deadline;
	}
	if (d != c->armed) {
		c->armed = d;
		if (c->env.set_timer)
			c->env.set_timer(c->env.ctx, d);
	}
}

static void queue_reset(struct sac *c)
{
	/* the queue may have held a password */
	if (c->q.data)
		wipe(c->q.data, c->q.cap);
	c->q.len = 0;
	c->qpos = 0;
	c->secret_end = 0;
}

/* Sends what is due now. */
static void pump(struct sac *c)
{
	while (c->qpos < c->q.len && !c->send_errno) {
		if (c->now < c->next_send)
			return;
		unsigned char b = (unsigned char)c->q.data[c->qpos];
		if (c->env.repeat_delay_ns > 0 && (int)b == c->last_byte &&
		    c->now < c->last_sent_at + c->env.repeat_delay_ns) {
			c->next_send = c->last_sent_at + c->env.repeat_delay_ns;
			return;
		}
		/* Without a per-byte delay, send the run up to the next repeated byte at once. */
		size_t n = 1;
		if (c->env.char_delay_ns == 0) {
			while (c->qpos + n < c->q.len) {
				unsigned char nb = (unsigned char)c->q.data[c->qpos + n];
				if (c->env.repeat_delay_ns > 0 &&
				    nb == (unsigned char)c->q.data[c->qpos + n - 1])
					break;
				n++;
			}
		}
		int r = c->env.send ? c->env.send(c->env.ctx, c->q.data + c->qpos, n) : -ENOTCONN;
		if (r < 0) {
			c->send_errno = -r;
			queue_reset(c);
			return;
		}
		c->last_byte = (unsigned char)c->q.data[c->qpos + n - 1];
		c->last_sent_at = c->now;
		c->qpos += n;
		c->next_send = c->now + c->env.char_delay_ns;
	}
	if (c->qpos >= c->q.len && c->q.len)
		queue_reset(c);
}

static void type(struct sac *c, const char *s, size_t n)
{
	if (c->qpos >= c->q.len)
		queue_reset(c);
	buf_append(&c->q, s, n);
	pump(c);
}

static void type_str(struct sac *c, const char *s)
{
	type(c, s, strlen(s));
}

/* ---- finishing ---- */

static void op_clear(struct op *op)
{
	buf_free(&op->out);
	wipe(op, sizeof(*op));
	op->kind = OP_NONE;
	op->stage_deadline = INT64_MAX;
	op->deadline = INT64_MAX;
}

static void finish(struct sac *c, enum sac_err err, const char *detail)
{
	if (c->op.kind == OP_NONE)
		return;
	struct op *op = &c->op;
	/* Keep what the callback sees, then clear: the callback may start the next operation. */
	struct buf out = op->out;
	op->out = (struct buf){0};
	char chan[SAC_NAME_MAX] = "";
	if (op->kind == OP_CMD_OPEN && err == SAC_OK)
		copy_name(chan, op->chan, strlen(op->chan));
	char det[256] = "";
	if (detail)
		snprintf(det, sizeof(det), "%s", detail);
	else if (op->detail[0])
		snprintf(det, sizeof(det), "%s", op->detail);
	sac_done_fn done = op->done;
	void *ctx = op->ctx;
	bool truncated = op->truncated;
	if (c->qpos < c->secret_end)
		queue_reset(c); /* a password not yet typed must not be typed after its operation */
	op_clear(op);
	struct sac_result r = {
	    .err = err,
	    .output = out.data ? out.data : "",
	    .output_len = out.len,
	    .output_truncated = truncated,
	    .channel = chan[0] ? chan : NULL,
	    .detail = det[0] ? det : NULL,
	};
	if (done)
		done(ctx, &r);
	buf_free(&out);
}

static void collect(struct sac *c, const char *s, size_t n)
{
	struct op *op = &c->op;
	if (op->truncated)
		return;
	if (op->out.len + n + 1 > SAC_MAX_OUTPUT) {
		op->truncated = true;
		return;
	}
	/* counted, not judged by length: leading empty lines are output too */
	if (op->nlines++)
		buf_putc(&op->out, '\n');
	buf_append(&op->out, s, n);
}

/* The guest's own error texts, as named errors (sac-ems.md §2, §3). */
static enum sac_err classify_output(const char *s, size_t n, char *detail, size_t dsz)
{
	static const struct {
		const char *text;
		enum sac_err err;
	} known[] = {
	    {"Unable to launch a Command Prompt", SAC_ERR_NO_CMD_SERVICE},
	    {"The SAC Command Console session failed to be created", SAC_ERR_CMD_FAILED},
	    {"Launching of Command Prompt channels is disabled.", SAC_ERR_CMD_DISABLED},
	    {"The maximum number of channels has been reached.", SAC_ERR_MAX_CHANNELS},
	    {"Error: Could not find a channel with that name.", SAC_ERR_CHANNEL_NOT_FOUND},
	    {"Error: There is no channel present at the specified index.", SAC_ERR_NO_CHANNEL_AT_INDEX},
	    {"Unrecognized command.", SAC_ERR_COMMAND},
	    {"A parameter was incorrect or missing.", SAC_ERR_COMMAND},
	    {"Type ? or Help for a list of commands.", SAC_ERR_COMMAND},
	    {"Error: The SAC channel cannot be closed.", SAC_ERR_COMMAND},
	    /* the command ran and SAC says it did not work */
	    {"SAC failed to ", SAC_ERR_FAILED},
	    {"SAC could not ", SAC_ERR_FAILED},
	    {"SAC cannot raise the ", SAC_ERR_FAILED},
	    {"The specified IP address is invalid.", SAC_ERR_FAILED},
	    {"The specified subnet mask is invalid.", SAC_ERR_FAILED},
	    {"The specified gateway IP address is invalid.", SAC_ERR_FAILED},
	    {"Error, missing network interface number.", SAC_ERR_FAILED},
	    {"The year is restricted from 1980 to 2099.", SAC_ERR_FAILED},
	    {"Could not retrieve IP Address(es).", SAC_ERR_FAILED},
	    {"Computer identification information is unavailable.", SAC_ERR_FAILED},
	    {"That process has been killed and is being cleaned up by the system.", SAC_ERR_FAILED},
	    {"A duplicate process id is being cleaned up by the system.", SAC_ERR_FAILED},
	    {"Failed with status 0x", SAC_ERR_FAILED},
	    {"Error! Failed to remove channel!", SAC_ERR_FAILED},
	};
	for (size_t i = 0; i < ARRAY_LEN(known); i++) {
		size_t l = strlen(known[i].text);
		for (size_t k = 0; l <= n && k + l <= n; k++) {
			if (memcmp(s + k, known[i].text, l) != 0)
				continue;
			/* the detail is the guest's whole line */
			size_t b = k, e = k + l;
			while (b > 0 && s[b - 1] != '\n')
				b--;
			while (e < n && s[e] != '\n')
				e++;
			snprintf(detail, dsz, "%.*s", (int)(e - b), s + b);
			return known[i].err;
		}
	}
	return SAC_OK;
}

/* ---- stage helpers ---- */

static void set_stage(struct sac *c, enum stage s, int64_t within)
{
	c->op.stage = s;
	c->op.stage_deadline = within > 0 ? c->now + within : INT64_MAX;
	c->op.echo_seen = false;
	c->op.in_event = false;
	c->op.after_prompt = false;
	c->op.event_prompt = false;
}

static void send_recover(struct sac *c)
{
	/* Esc Tab 0 returns to the SAC channel from anywhere; CR redraws the prompt. */
	c->switch_screen = false;
	c->st.at_prompt = false;
	type(c, "\x1b\t0\r", 4);
	sac_set_current(c, "SAC");
	c->op.recovered = true;
	set_stage(c, S_RECOVER, c->env.wake_ns);
}

static bool crash_command_ok(const char *cmd)
{
	/* the only commands of the !SAC> console (sac-ems.md §4) */
	return strcasecmp(cmd, "?") == 0 || strcasecmp(cmd, "help") == 0 || strcasecmp(cmd, "d") == 0 ||
	       strcasecmp(cmd, "restart") == 0;
}

static void type_command(struct sac *c, const char *cmd, enum stage s)
{
	c->st.at_prompt = false;
	c->at_crash_prompt = false;
	type_str(c, cmd);
	type(c, "\r", 1);
	set_stage(c, s, 0);
}

/* The prompt is there: the operation's own first step. */
static void start_main(struct sac *c)
{
	struct op *op = &c->op;
	char line[SAC_CMD_MAX + 32];
	switch (op->kind) {
	case OP_RUN:
		if (c->at_crash_prompt && !crash_command_ok(op->cmd)) {
			op->pending = true;
			op->pending_err = SAC_ERR_CRASHED;
			return;
		}
		type_command(c, op->cmd, S_COLLECT);
		break;
	case OP_CMD_OPEN:
		op->created_seq0 = c->created_seq;
		type_command(c, "cmd", S_COLLECT);
		break;
	case OP_LOGIN:
		snprintf(line, sizeof(line), "ch -sn %s", op->chan);
		type_command(c, line, S_SWITCH);
		break;
	case OP_CLOSE:
		op->fallback = true;
		type_command(c, "ch", S_CLOSE_LIST);
		break;
	case OP_CMD_RUN:
	case OP_NONE:
		break;
	}
}

/* Makes sure a SAC> prompt is showing, then starts the operation. */
static void begin(struct sac *c)
{
	if (c->at_crash_prompt) {
		if (c->op.kind == OP_RUN) {
			start_main(c);
		} else {
			c->op.pending = true;
			c->op.pending_err = SAC_ERR_CRASHED;
		}
		return;
	}
	if (c->st.at_prompt && !c->switch_screen && strcmp(c->st.current, "SAC") == 0) {
		start_main(c);
		return;
	}
	if (c->switch_screen || strcmp(c->st.current, "SAC") != 0) {
		send_recover(c);
		return;
	}
	type(c, "\r", 1);
	set_stage(c, S_WAKE, c->env.wake_ns);
}

/* ---- the operation layer ---- */

/* A key on the switching screen shows the channel named there. */
static void press_key_on_switch(struct sac *c)
{
	c->switch_screen = false;
	type(c, "\r", 1);
	if (c->switch_name[0])
		sac_set_current(c, c->switch_name);
}

static void end_collect(struct sac *c)
{
	struct op *op = &c->op;
	char det[256] = "";
	enum sac_err e = classify_output(op->out.data ? op->out.data : "", op->out.len, det, sizeof(det));
	if (op->kind == OP_RUN) {
		finish(c, e, det[0] ? det : NULL);
		return;
	}
	/* OP_CMD_OPEN */
	if (e != SAC_OK) {
		finish(c, e, det);
		return;
	}
	if (c->created_seq != op->created_seq0) {
		copy_name(op->chan, c->last_created, strlen(c->last_created));
		finish(c, SAC_OK, NULL);
		return;
	}
	set_stage(c, S_OPEN_CHAN, 0);
}

/* SAC prints an event as an empty line, "EVENT: …" (and "Channel: …"),
 * and a fresh SAC> whenever it happens — also between a command's echo and
 * its output. While a command's output is being read its own SAC> has not
 * come yet, so such a block is not part of it (ch -ci / -cn print event
 * texts as their answer, so they are left alone). True when the line belongs to such a block; a line
 * that carries the redrawn prompt in front of real output is trimmed. */
static bool async_event_line(struct sac *c, const char **s, size_t *n)
{
	struct op *op = &c->op;
	if (strncmp(op->cmd, "ch -c", 5) == 0)
		return false;
	if (op->event_prompt) {
		/* the event's prompt, seen as a partial line, now complete */
		op->event_prompt = false;
		if (starts(*s, *n, "SAC>")) {
			*s += 4;
			*n -= 4;
			if (*n == 0)
				return true;
		}
	}
	if (eq(*s, *n, "SAC>")) {
		/* a prompt with more after it in the same read: the event's
		 * redrawn prompt, or the command's own one (its output is over) */
		if (op->in_event)
			op->in_event = false;
		else
			op->after_prompt = true;
		return true;
	}
	if (starts(*s, *n, "EVENT:")) {
		/* the block's leading empty line was taken for output */
		while (op->out.len && op->nlines && op->out.data[op->out.len - 1] == '\n') {
			op->out.len--;
			op->nlines--;
		}
		if (op->nlines == 1 && op->out.len == 0)
			op->nlines = 0;
		if (op->out.data)
			op->out.data[op->out.len] = '\0';
		if (!op->after_prompt)
			op->in_event = true;
		return true;
	}
	if ((op->in_event || op->after_prompt) && starts(*s, *n, "Channel: "))
		return true;
	if (op->in_event && starts(*s, *n, "SAC>")) {
		op->in_event = false;
		*s += 4;
		*n -= 4;
	}
	return op->after_prompt; /* nothing after the command's prompt is its output */
}

static void on_sac_collect_line(struct sac *c, const char *s, size_t n, bool partial)
{
	struct op *op = &c->op;
	if (partial) {
		if (contains(s, n, T_MORE)) {
			type(c, "\r", 1); /* answer the pager */
			return;
		}
		if (op->echo_seen && eq(s, n, "SAC>")) {
			if (op->in_event) {
				/* the prompt SAC redraws after an event, not the
				 * command's: its output is still to come (and this
				 * line comes again once it is complete) */
				op->in_event = false;
				op->event_prompt = true;
				return;
			}
			end_collect(c);
			return;
		}
		if (eq(s, n, "!SAC>")) {
			if (op->echo_seen && op->kind == OP_RUN && crash_command_ok(op->cmd))
				finish(c,
				       classify_output(op->out.data ? op->out.data : "", op->out.len,
				                       op->detail, sizeof(op->detail)),
				       NULL);
			else if (op->echo_seen)
				finish(c, SAC_ERR_CRASHED, "the machine crashed (!SAC>)");
			return;
		}
		return;
	}
	if (!op->echo_seen) {
		if (is_echo(s, n))
			op->echo_seen = true;
		return;
	}
	if (contains(s, n, T_MORE))
		return;
	if (async_event_line(c, &s, &n))
		return;
	collect(c, s, n);
	if (op->kind == OP_RUN && eq(s, n, T_ANY_KEY)) {
		/* ch -si / -sn: the switching screen is the answer; the next operation returns to SAC */
		finish(c, SAC_OK, NULL);
	}
}

static void login_failed(struct sac *c, enum sac_err e, const char *why)
{
	/* Leave the login dialog for SAC, and report once SAC> is back, so the
	 * console is ready for the next operation when the caller hears of it. */
	c->st.logged_in = false;
	c->op.fail_err = e;
	snprintf(c->op.detail, sizeof(c->op.detail), "%s", why);
	send_recover(c);
}

static void on_login_line(struct sac *c, const char *s, size_t n, bool partial)
{
	struct op *op = &c->op;
	switch (op->stage) {
	case S_SWITCH:
		if (!partial && eq(s, n, T_ANY_KEY)) {
			press_key_on_switch(c);
			set_stage(c, S_USER, 0);
			return;
		}
		if (!partial && starts(s, n, "Error:")) {
			char det[256];
			enum sac_err e = classify_output(s, n, det, sizeof(det));
			finish(c, e != SAC_OK ? e : SAC_ERR_COMMAND, det);
			return;
		}
		if (partial && eq(s, n, "SAC>") && op->echo_seen)
			finish(c, SAC_ERR_COMMAND, "no switching screen after ch -sn");
		if (!partial && is_echo(s, n))
			op->echo_seen = true;
		return;
	/* Prompts only count as the incomplete last line: switching into a
	 * channel repaints its old transcript, whose complete lines may hold
	 * earlier prompts and an earlier "Unable to authenticate." */
	case S_USER:
		if (partial && starts(s, n, "Username:")) {
			type_str(c, op->user);
			type(c, "\r", 1);
			set_stage(c, S_DOMAIN, 0);
		} else if (partial && is_cmd_prompt(s, n)) {
			/* the channel was already logged in */
			c->st.logged_in = true;
			c->st.locked = false;
			finish(c, SAC_OK, NULL);
		}
		return;
	case S_DOMAIN:
		if (partial && (starts(s, n, "Domain  :") || starts(s, n, "Domain :"))) {
			type_str(c, op->domain);
			type(c, "\r", 1);
			set_stage(c, S_PASS, 0);
		}
		return;
	case S_PASS:
		if (partial && starts(s, n, "Password:")) {
			type(c, op->pw.pw, op->pw.len);
			c->secret_end = c->q.len;
			type(c, "\r", 1);
			sac_secret_clear(&op->pw);
			set_stage(c, S_AUTH, 0);
		}
		return;
	case S_AUTH:
		if (memmem_nocase(s, n, "Unable to authenticate", 22)) {
			login_failed(c, SAC_ERR_AUTH, "the guest refused the credentials");
			return;
		}
		if (partial && is_cmd_prompt(s, n)) {
			c->st.logged_in = true;
			c->st.locked = false;
			finish(c, SAC_OK, NULL);
		}
		return;
	default:
		return;
	}
}

static void on_cmd_collect_line(struct sac *c, const char *s, size_t n, bool partial)
{
	struct op *op = &c->op;
	if (partial) {
		if (starts(s, n, "Username:")) {
			c->st.logged_in = false;
			c->st.locked = true;
			finish(c, SAC_ERR_LOCKED, "the channel asks for credentials again");
			return;
		}
		if (op->echo_seen && is_cmd_prompt(s, n))
			finish(c, SAC_OK, NULL);
		return;
	}
	if (!op->echo_seen) {
		/* the echo: the prompt followed by what we typed */
		if (n >= 3 && isalpha((unsigned char)s[0]) && s[1] == ':' && s[2] == '\\' &&
		    contains(s, n, op->cmd))
			op->echo_seen = true;
		return;
	}
	collect(c, s, n);
}

/* Close: the list came; find the channel's index and close it by number. */
static void close_by_index(struct sac *c)
{
	struct op *op = &c->op;
	const char *o = op->out.data ? op->out.data : "";
	size_t len = op->out.len;
	size_t i = 0;
	while (i < len) {
		size_t e = i;
		while (e < len && o[e] != '\n')
			e++;
		unsigned idx;
		char name[SAC_NAME_MAX];
		if (sac_parse_list_row(o + i, e - i, &idx, name) && strcmp(name, op->chan) == 0) {
			char line[64];
			snprintf(line, sizeof(line), "ch -ci %u", idx);
			buf_reset(&op->out);
			op->nlines = 0;
			type_command(c, line, S_CLOSE_CI);
			return;
		}
		i = e + 1;
	}
	finish(c, SAC_ERR_CHANNEL_NOT_FOUND, "the channel is not in SAC's channel list");
}

static void on_close_line(struct sac *c, const char *s, size_t n, bool partial)
{
	struct op *op = &c->op;
	switch (op->stage) {
	case S_EXIT_SWITCH:
		if (!partial && eq(s, n, T_ANY_KEY)) {
			c->switch_screen = false;
			c->st.logged_in = false;
			type(c, "\r", 1);
			sac_set_current(c, "SAC");
			set_stage(c, S_EXIT_PROMPT, c->env.wake_ns);
		} else if (partial && eq(s, n, "SAC>")) {
			c->st.logged_in = false;
			finish(c, SAC_OK, NULL);
		}
		return;
	case S_EXIT_PROMPT:
		if (partial && eq(s, n, "SAC>"))
			finish(c, SAC_OK, NULL);
		return;
	case S_CLOSE_LIST:
	case S_CLOSE_CI:
		if (partial) {
			if (op->echo_seen && eq(s, n, "SAC>")) {
				if (op->stage == S_CLOSE_LIST) {
					close_by_index(c);
				} else {
					char det[256] = "";
					enum sac_err e = classify_output(op->out.data ? op->out.data : "",
					                                 op->out.len, det, sizeof(det));
					finish(c, e, det[0] ? det : NULL);
				}
			}
			return;
		}
		if (!op->echo_seen) {
			if (is_echo(s, n))
				op->echo_seen = true;
			return;
		}
		collect(c, s, n);
		return;
	default:
		return;
	}
}

static void on_op_line(struct sac *c, const char *s, size_t n, bool partial)
{
	struct op *op = &c->op;
	if (op->kind == OP_NONE || op->pending)
		return;
	switch (op->stage) {
	case S_WAKE:
	case S_RECOVER:
		if (partial && eq(s, n, "SAC>") && op->fail_err != SAC_OK) {
			finish(c, op->fail_err, NULL);
		} else if (partial && eq(s, n, "SAC>")) {
			start_main(c);
		} else if (partial && eq(s, n, "!SAC>")) {
			start_main(c);
			if (op->kind != OP_RUN)
				finish(c, SAC_ERR_CRASHED, "the machine is at the !SAC> console");
		} else if (op->stage == S_WAKE &&
		           ((partial && (is_cmd_prompt(s, n) || starts(s, n, "Username:"))) ||
		            c->switch_screen)) {
			/* not at SAC: in a cmd channel or its login, or on a switching screen */
			send_recover(c);
		}
		return;
	case S_COLLECT:
		on_sac_collect_line(c, s, n, partial);
		return;
	case S_OPEN_CHAN:
		if (c->created_seq != op->created_seq0) {
			copy_name(op->chan, c->last_created, strlen(c->last_created));
			finish(c, SAC_OK, NULL);
		}
		return;
	case S_SWITCH:
	case S_USER:
	case S_DOMAIN:
	case S_PASS:
	case S_AUTH:
		on_login_line(c, s, n, partial);
		return;
	case S_CMD_COLLECT:
		on_cmd_collect_line(c, s, n, partial);
		return;
	case S_EXIT_SWITCH:
	case S_EXIT_PROMPT:
	case S_CLOSE_LIST:
	case S_CLOSE_CI:
		on_close_line(c, s, n, partial);
		return;
	}
}

static void on_line(void *ctx, const struct line *ln)
{
	struct sac *c = ctx;
	const char *s = ln->text;
	size_t n = ln->len;
	trim(&s, &n);
	bool partial = (ln->flags & LINE_PARTIAL) != 0;
	sac_track(c, s, n, partial);
	/* Output lines keep their leading blanks (tables are aligned); prompts are matched trimmed. */
	if (c->op.kind != OP_NONE && !partial &&
	    (c->op.stage == S_COLLECT || c->op.stage == S_CMD_COLLECT || c->op.stage == S_CLOSE_LIST ||
	     c->op.stage == S_CLOSE_CI) &&
	    c->op.echo_seen) {
		size_t m = ln->len;
		while (m && (ln->text[m - 1] == ' ' || ln->text[m - 1] == '\t'))
			m--;
		on_op_line(c, ln->text, m, partial);
		return;
	}
	on_op_line(c, s, n, partial);
}

/* ---- public ---- */

struct sac *sac_new(const struct sac_env *env)
{
	struct sac *c = xcalloc(1, sizeof(*c));
	c->env = *env;
	if (c->env.char_delay_ns < 0)
		c->env.char_delay_ns = SAC_DEFAULT_CHAR_DELAY_NS;
	if (c->env.repeat_delay_ns < 0)
		c->env.repeat_delay_ns = SAC_DEFAULT_REPEAT_DELAY_NS;
	if (c->env.wake_ns <= 0)
		c->env.wake_ns = SAC_DEFAULT_WAKE_NS;
	c->norm = norm_new(on_line, sac_on_ems, c);
	/* Sized for the longest typed text up front, so a queued password is never left behind by a realloc.
	 */
	xgrow((void **)&c->q.data, &c->q.cap, 2 * SAC_CMD_MAX + 1024, 1);
	c->q.data[0] = 0;
	c->last_byte = -1;
	c->armed = INT64_MAX;
	op_clear(&c->op);
	sac_reset_boot(c);
	return c;
}

void sac_free(struct sac *c)
{
	if (!c)
		return;
	finish(c, SAC_ERR_CANCELLED, NULL);
	queue_reset(c);
	buf_free(&c->q);
	norm_free(c->norm);
	free(c);
}

void sac_feed(struct sac *c, const void *buf, size_t n, int64_t now)
{
	if (now > c->now)
		c->now = now;
	norm_feed(c->norm, buf, n, c->now, LINE_TIME_KNOWN);
	/* prompts never end in a newline: look at the incomplete line at once */
	norm_flush_partial(c->norm, c->now, LINE_TIME_KNOWN);
	pump(c);
	update_timer(c);
}

static const char *stage_timeout_text(enum stage s)
{
	switch (s) {
	case S_WAKE:
	case S_RECOVER:
		return "no SAC> prompt after CR and Esc Tab 0";
	case S_COLLECT:
	case S_CLOSE_LIST:
	case S_CLOSE_CI:
		return "the SAC> prompt did not come back after the command";
	case S_OPEN_CHAN:
		return "no \"Channel: CmdNNNN\" after cmd";
	case S_SWITCH:
		return "no channel switching screen after ch -sn";
	case S_USER:
		return "no Username: prompt in the cmd channel";
	case S_DOMAIN:
		return "no Domain prompt in the cmd channel";
	case S_PASS:
		return "no Password: prompt in the cmd channel";
	case S_AUTH:
		return "no command prompt after the password";
	case S_CMD_COLLECT:
		return "the cmd prompt did not come back after the command";
	case S_EXIT_SWITCH:
		return "the channel did not close after exit";
	case S_EXIT_PROMPT:
		return "no SAC> prompt after closing the channel";
	}
	return "timed out";
}

void sac_tick(struct sac *c, int64_t now)
{
	if (now > c->now)
		c->now = now;
	pump(c);
	struct op *op = &c->op;
	if (op->kind != OP_NONE) {
		if (c->send_errno) {
			char det[128];
			snprintf(det, sizeof(det), "write to the console: %s", strerror(c->send_errno));
			c->send_errno = 0;
			finish(c, SAC_ERR_SEND, det);
		} else if (op->pending) {
			finish(c, op->pending_err, NULL);
		} else if (c->now >= op->deadline) {
			finish(c,
			       op->stage == S_WAKE || op->stage == S_RECOVER ? SAC_ERR_NOT_SAC
			                                                     : SAC_ERR_TIMEOUT,
			       stage_timeout_text(op->stage));
		} else if (c->now >= op->stage_deadline) {
			switch (op->stage) {
			case S_WAKE:
				send_recover(c);
				break;
			case S_RECOVER:
				if (op->fail_err != SAC_OK)
					finish(c, op->fail_err, NULL);
				else
					finish(c, SAC_ERR_NOT_SAC, stage_timeout_text(op->stage));
				break;
			case S_EXIT_SWITCH:
				/* exit did not work: close from SAC by index */
				send_recover(c);
				break;
			case S_EXIT_PROMPT:
				type(c, "\r", 1);
				op->stage_deadline = INT64_MAX;
				break;
			default:
				op->stage_deadline = INT64_MAX;
				break;
			}
		}
	} else {
		c->send_errno = 0;
	}
	update_timer(c);
}

static enum sac_err op_start(struct sac *c, enum op_kind kind, int64_t timeout_ns, sac_done_fn done,
                             void *ctx, int64_t now)
{
	if (c->op.kind != OP_NONE)
		return SAC_ERR_BUSY;
	if (now > c->now)
		c->now = now;
	op_clear(&c->op);
	c->op.kind = kind;
	c->op.done = done;
	c->op.ctx = ctx;
	c->op.deadline = timeout_ns > 0 ? c->now + timeout_ns : INT64_MAX;
	c->send_errno = 0;
	return SAC_OK;
}

static bool valid_command(const char *cmd)
{
	if (!cmd || !cmd[0])
		return false;
	size_t n = strlen(cmd);
	if (n > SAC_CMD_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)cmd[i] < 0x20 || cmd[i] == 0x7f)
			return false; /* control bytes would edit the line or switch channels */
	return true;
}

enum sac_err sac_run(struct sac *c, const char *command, int64_t timeout_ns, sac_done_fn done, void *ctx,
                     int64_t now)
{
	if (!valid_command(command))
		return SAC_ERR_INVALID;
	if (c->op.kind != OP_NONE)
		return SAC_ERR_BUSY;
	if (c->at_crash_prompt && !crash_command_ok(command))
		return SAC_ERR_CRASHED;
	op_start(c, OP_RUN, timeout_ns, done, ctx, now);
	snprintf(c->op.cmd, sizeof(c->op.cmd), "%s", command);
	begin(c);
	update_timer(c);
	return SAC_OK;
}

enum sac_err sac_cmd_open(struct sac *c, int64_t timeout_ns, sac_done_fn done, void *ctx, int64_t now)
{
	if (c->op.kind != OP_NONE)
		return SAC_ERR_BUSY;
	if (c->at_crash_prompt)
		return SAC_ERR_CRASHED;
	op_start(c, OP_CMD_OPEN, timeout_ns, done, ctx, now);
	begin(c);
	update_timer(c);
	return SAC_OK;
}

enum sac_err sac_cmd_login(struct sac *c, const char *channel, const char *user, const char *domain,
                           const struct sac_secret *password, int64_t timeout_ns, sac_done_fn done, void *ctx,
                           int64_t now)
{
	if (!channel || !valid_name(channel) || !user || !valid_command(user) || strlen(user) >= 256 ||
	    !password || password->len >= sizeof(password->pw))
		return SAC_ERR_INVALID;
	if (domain && domain[0] && (!valid_command(domain) || strlen(domain) >= 256))
		return SAC_ERR_INVALID;
	for (size_t i = 0; i < password->len; i++)
		if ((unsigned char)password->pw[i] < 0x20 || password->pw[i] == 0x7f)
			return SAC_ERR_INVALID;
	if (c->op.kind != OP_NONE)
		return SAC_ERR_BUSY;
	if (c->at_crash_prompt)
		return SAC_ERR_CRASHED;
	op_start(c, OP_LOGIN, timeout_ns, done, ctx, now);
	struct op *op = &c->op;
	snprintf(op->chan, sizeof(op->chan), "%s", channel);
	snprintf(op->user, sizeof(op->user), "%s", user);
	snprintf(op->domain, sizeof(op->domain), "%s", domain ? domain : "");
	memcpy(op->pw.pw, password->pw, password->len);
	op->pw.len = password->len;
	begin(c);
	update_timer(c);
	return SAC_OK;
}

enum sac_err sac_cmd_run(struct sac *c, const char *command, int64_t timeout_ns, sac_done_fn done, void *ctx,
                         int64_t now)
{
	if (!valid_command(command))
		return SAC_ERR_INVALID;
	if (c->op.kind != OP_NONE)
		return SAC_ERR_BUSY;
	if (!c->st.logged_in || strcmp(c->st.current, "SAC") == 0)
		return SAC_ERR_NOT_LOGGED_IN;
	op_start(c, OP_CMD_RUN, timeout_ns, done, ctx, now);
	snprintf(c->op.cmd, sizeof(c->op.cmd), "%s", command);
	type_str(c, command);
	type(c, "\r", 1);
	set_stage(c, S_CMD_COLLECT, 0);
	update_timer(c);
	return SAC_OK;
}

enum sac_err sac_cmd_close(struct sac *c, const char *channel, int64_t timeout_ns, sac_done_fn done,
                           void *ctx, int64_t now)
{
	if (!channel || !valid_name(channel) || strcmp(channel, "SAC") == 0)
		return SAC_ERR_INVALID;
	if (c->op.kind != OP_NONE)
		return SAC_ERR_BUSY;
	if (c->at_crash_prompt)
		return SAC_ERR_CRASHED;
	op_start(c, OP_CLOSE, timeout_ns, done, ctx, now);
	snprintf(c->op.chan, sizeof(c->op.chan), "%s", channel);
	if (c->st.logged_in && strcmp(c->st.current, channel) == 0) {
		type_str(c, "exit\r");
		/* if exit does not bring the switching screen, fall back to ch -ci from SAC */
		set_stage(c, S_EXIT_SWITCH, c->env.wake_ns);
	} else {
		begin(c);
	}
	update_timer(c);
	return SAC_OK;
}

void sac_get_state(const struct sac *c, struct sac_state *st)
{
	*st = c->st;
	if (c->at_crash_prompt)
		st->crashed = true;
}

bool sac_busy(const struct sac *c)
{
	return c->op.kind != OP_NONE;
}
