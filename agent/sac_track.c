/*
 * sac_track.c — the SAC client's tracker: reads every line the console
 * shows (complete or partial) and keeps what it says about the guest —
 * prompt, CMD availability, crash, channels, lock, machine-info — raising
 * sac.* (and, when asked, ems.*) events. It never sends anything; the
 * operations in sac.c do.
 */
#include "sac_priv.h"

#include "emsagent/line.h"

static const char *const err_texts[SAC_ERR__COUNT] = {
    [SAC_OK] = "ok",
    [SAC_ERR_NO_CMD_SERVICE] = "the service that launches Command Prompt channels is not available yet",
    [SAC_ERR_CMD_FAILED] = "the SAC Command Console session failed to be created",
    [SAC_ERR_CMD_DISABLED] = "launching of Command Prompt channels is disabled on the guest",
    [SAC_ERR_MAX_CHANNELS] = "the maximum number of SAC channels has been reached",
    [SAC_ERR_CHANNEL_NOT_FOUND] = "no SAC channel with that name",
    [SAC_ERR_NO_CHANNEL_AT_INDEX] = "no SAC channel at that index",
    [SAC_ERR_AUTH] = "unable to authenticate in the cmd channel",
    [SAC_ERR_COMMAND] = "SAC did not accept the command",
    [SAC_ERR_TIMEOUT] = "timed out waiting for the console",
    [SAC_ERR_CRASHED] = "the machine has crashed (!SAC> console)",
    [SAC_ERR_NOT_SAC] = "no SAC prompt on this console",
    [SAC_ERR_BUSY] = "another SAC operation is running on this console",
    [SAC_ERR_NOT_LOGGED_IN] = "not logged in to a cmd channel",
    [SAC_ERR_LOCKED] = "the cmd channel is locked and asks for credentials again",
    [SAC_ERR_SEND] = "writing to the console failed",
    [SAC_ERR_INVALID] = "invalid argument",
    [SAC_ERR_CANCELLED] = "cancelled",
    [SAC_ERR_FAILED] = "SAC reported a failure",
};

static const char *const err_names[SAC_ERR__COUNT] = {
    [SAC_OK] = "ok",
    [SAC_ERR_NO_CMD_SERVICE] = "no_cmd_service",
    [SAC_ERR_CMD_FAILED] = "cmd_failed",
    [SAC_ERR_CMD_DISABLED] = "cmd_disabled",
    [SAC_ERR_MAX_CHANNELS] = "max_channels",
    [SAC_ERR_CHANNEL_NOT_FOUND] = "channel_not_found",
    [SAC_ERR_NO_CHANNEL_AT_INDEX] = "no_channel_at_index",
    [SAC_ERR_AUTH] = "auth_failed",
    [SAC_ERR_COMMAND] = "command_rejected",
    [SAC_ERR_TIMEOUT] = "timeout",
    [SAC_ERR_CRASHED] = "crashed",
    [SAC_ERR_NOT_SAC] = "not_sac",
    [SAC_ERR_BUSY] = "busy",
    [SAC_ERR_NOT_LOGGED_IN] = "not_logged_in",
    [SAC_ERR_LOCKED] = "locked",
    [SAC_ERR_SEND] = "send_failed",
    [SAC_ERR_INVALID] = "invalid",
    [SAC_ERR_CANCELLED] = "cancelled",
    [SAC_ERR_FAILED] = "sac_failed",
};

const char *sac_strerror(enum sac_err e)
{
	return (unsigned)e < SAC_ERR__COUNT ? err_texts[e] : "unknown SAC error";
}

const char *sac_err_name(enum sac_err e)
{
	return (unsigned)e < SAC_ERR__COUNT ? err_names[e] : "unknown";
}

/* ---- events ---- */

void sac_emit(struct sac *c, enum event_kind kind, const char *channel, const char *reason,
              const struct ems_record *rec)
{
	if (!c->env.emit)
		return;
	struct event ev = {0};
	ev.kind = kind;
	ev.time_ns = c->now;
	ev.time_flags = LINE_TIME_KNOWN;
	ev.console = c->env.console;
	ev.channel = channel;
	ev.reason = reason;
	ev.ems = rec;
	ev.exit_status = -1;
	c->env.emit(c->env.ctx, &ev);
}

void sac_set_current(struct sac *c, const char *name)
{
	if (strcmp(c->st.current, name) == 0)
		return;
	copy_name(c->st.current, name, strlen(name));
	sac_emit(c, EV_SAC_CHANNEL, c->st.current, "switched", NULL);
}

/* ---- the tracker ---- */

void sac_reset_boot(struct sac *c)
{
	c->st.ready = false;
	c->st.at_prompt = false;
	c->st.cmd_available = false;
	c->st.crashed = false;
	c->st.locked = false;
	c->st.logged_in = false;
	c->at_crash_prompt = false;
	c->switch_screen = false;
	c->st.nchannels = 1;
	copy_name(c->st.channels[0], "SAC", 3);
	copy_name(c->st.current, "SAC", 3);
}

static void chan_add(struct sac *c, const char *name)
{
	for (unsigned i = 0; i < c->st.nchannels; i++)
		if (strcmp(c->st.channels[i], name) == 0)
			return;
	if (c->st.nchannels < SAC_MAX_CHANNELS) {
		copy_name(c->st.channels[c->st.nchannels], name, strlen(name));
		c->st.nchannels++;
	}
}

static void chan_remove(struct sac *c, const char *name)
{
	for (unsigned i = 0; i < c->st.nchannels; i++) {
		if (strcmp(c->st.channels[i], name) != 0)
			continue;
		memmove(c->st.channels[i], c->st.channels[i + 1],
		        (size_t)(c->st.nchannels - i - 1) * sizeof(c->st.channels[0]));
		c->st.nchannels--;
		return;
	}
}

/* "1 (AV)    Cmd0001" */
bool sac_parse_list_row(const char *s, size_t n, unsigned *idx, char *name)
{
	size_t i = 0;
	unsigned v = 0;
	while (i < n && isdigit((unsigned char)s[i]) && i < 4)
		v = v * 10 + (unsigned)(s[i++] - '0');
	if (i == 0 || i + 6 > n || s[i] != ' ' || s[i + 1] != '(' || s[i + 4] != ')')
		return false;
	i += 5;
	while (i < n && s[i] == ' ')
		i++;
	if (i >= n)
		return false;
	copy_name(name, s + i, n - i);
	*idx = v;
	return true;
}

void sac_track(struct sac *c, const char *s, size_t n, bool partial)
{
	/* A prompt shows SAC is up: the incomplete last line is a prompt showing
	 * now; a complete line starting with one (an echo, or a prompt an event
	 * ended) is one that showed earlier in the same chunk of input. */
	bool bang = n && s[0] == '!';
	if (eq(s, n, "SAC>") || (!partial && is_echo(s, n) && !bang)) {
		c->switch_screen = false;
		c->in_list = false;
		sac_set_current(c, "SAC");
		if (!c->st.ready) {
			c->st.ready = true;
			sac_emit(c, EV_SAC_READY, NULL, NULL, NULL);
		}
		c->st.at_prompt = partial;
		c->at_crash_prompt = false;
		return;
	}
	if (n)
		c->st.at_prompt = false;
	if (eq(s, n, "!SAC>") || (!partial && is_echo(s, n))) {
		c->st.crashed = true;
		c->at_crash_prompt = partial;
		return;
	}
	if (partial)
		return;
	if (n)
		c->at_crash_prompt = false;
	if (eq(s, n, T_BANNER)) {
		sac_reset_boot(c);
		return;
	}
	if (eq(s, n, T_CMD_AVAIL)) {
		if (!c->st.cmd_available) {
			c->st.cmd_available = true;
			sac_emit(c, EV_SAC_CMD_AVAILABLE, NULL, NULL, NULL);
		}
		return;
	}
	if (eq(s, n, T_CMD_UNAVAIL)) {
		c->st.cmd_available = false;
		return;
	}
	if (starts(s, n, T_NEW_CHAN)) {
		c->chan_event = 1;
		return;
	}
	if (starts(s, n, T_CLOSED_CHAN)) {
		c->chan_event = 2;
		return;
	}
	if (starts(s, n, "EVENT:")) {
		c->chan_event = 0;
		return;
	}
	if (starts(s, n, "Channel:") && c->chan_event) {
		const char *p = s + 8;
		size_t m = n - 8;
		trim(&p, &m);
		char name[SAC_NAME_MAX];
		copy_name(name, p, m);
		if (c->chan_event == 1) {
			chan_add(c, name);
			c->created_seq++;
			copy_name(c->last_created, name, strlen(name));
			c->st.cmd_available = true;
			sac_emit(c, EV_SAC_CHANNEL, name, "created", NULL);
		} else {
			chan_remove(c, name);
			if (strcmp(c->st.current, name) == 0) {
				c->st.logged_in = false;
			}
			sac_emit(c, EV_SAC_CHANNEL, name, "closed", NULL);
		}
		c->chan_event = 0;
		return;
	}
	if (eq(s, n, T_LIST_HEAD)) {
		c->in_list = true;
		c->st.nchannels = 0;
		return;
	}
	if (c->in_list) {
		unsigned idx;
		char name[SAC_NAME_MAX];
		if (sac_parse_list_row(s, n, &idx, name)) {
			if (c->st.nchannels < SAC_MAX_CHANNELS)
				copy_name(c->st.channels[c->st.nchannels++], name, strlen(name));
			return;
		}
		c->in_list = false;
	}
	if (starts(s, n, T_SWITCH_NAME)) {
		const char *p = s + 5;
		size_t m = n - 5;
		trim(&p, &m);
		copy_name(c->switch_name, p, m);
		return;
	}
	if (eq(s, n, T_ANY_KEY)) {
		c->switch_screen = true;
		return;
	}
	if (eq(s, n, T_LOCKED)) {
		c->st.locked = true;
		c->st.logged_in = false;
		return;
	}
}

void sac_on_ems(void *ctx, const struct ems_record *rec)
{
	struct sac *c = ctx;
	if (rec->has_machine_info) {
		c->st.has_machine_info = true;
		c->st.mi = rec->mi;
	}
	if (rec->kind == EMS_BUGCHECK) {
		c->st.crashed = true;
		c->st.at_prompt = false;
		c->st.logged_in = false;
		if (rec->has_stopcode) {
			c->st.has_stopcode = true;
			c->st.stopcode = rec->stopcode;
		}
	}
	if (c->env.emit_ems)
		sac_emit(c, rec->kind == EMS_BUGCHECK ? EV_EMS_BUGCHECK : EV_EMS_MACHINE_INFO, NULL, NULL,
		         rec);
}
