/*
 * console.c — one watched console: transport → capture + pipeline → events
 * → sinks and actions, all driven by the loop.
 *
 * Times: the pipeline runs on the monotonic clock (hang timers must not jump
 * with the wall clock); events are re-stamped with the wall time of the same
 * instant before they leave, so people and logs see real dates.
 * A lost port is not the end of the boot: the pipeline keeps its state
 * across a reconnect, and the gap is an event and a note in the capture.
 */
#include "emsagent/console.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "emsagent/action.h"
#include "emsagent/capture.h"
#include "emsagent/control.h"
#include "emsagent/dump.h"
#include "emsagent/clock.h"
#include "emsagent/pipeline.h"
#include "emsagent/sac.h"
#include "emsagent/transport.h"
#include "emsagent/util.h"

#define CONSOLE_READ_SIZE      65536
#define CONSOLE_READS_PER_WAKE 16 /* then yield to the other consoles */

#define CONSOLE_FINDINGS 8 /* kept for status */

struct console_req;

struct finding {
	int64_t time_ns;
	char event[16];
	char rule[96];
	char level[16];
	char title[200];
};

typedef void (*backend_done_fn)(void *dctx, bool ok, const char *reason, const char *output, size_t len);

struct console {
	struct loop *loop;
	const struct console_cfg *cfg;
	struct sinks *sinks;
	const struct ruleset *rs;
	const struct match_db *db;

	struct transport *t;
	bool connected;
	bool finished;      /* replay input ended */
	bool reported_down; /* console.disconnected sent for the current outage */
	char last_err[256];
	int64_t backoff_ns;
	int64_t connected_at;
	uint64_t retry_timer;
	void (*on_finished)(void *ctx);
	void *finished_ctx;

	struct capture *cap;
	struct pipeline *p;
	struct actions *act;
	struct sac *sac;     /* the SAC client: passive until an action or a user asks */
	struct control *ctl; /* the machine's control plane, or NULL */
	struct dump *dump;   /* the dump in progress (at most one), or NULL */
	bool dump_over;      /* it has answered: freed once out of its callbacks */
	uint64_t dump_timer;
	backend_done_fn dump_done, restart_done;
	void *dump_dctx, *restart_dctx;
	uint64_t sac_timer;
	struct sac_job *sac_jobs;
	uint64_t idle_timer;
	int64_t last_input; /* monotonic time of the last bytes read */
	int capture_rc;     /* the capture's last status, to report changes only */
	uint64_t rule_timer;
	int64_t rule_deadline;
	char *buf;

	struct {
		console_bytes_fn bytes;
		console_event_fn event;
		void *ctx;
		int id;
	} obs[CONSOLE_MAX_OBSERVERS];
	int next_obs_id;
	struct console_req *reqs; /* requests of people, pending */
	unsigned epoch;
	struct finding findings[CONSOLE_FINDINGS]; /* a ring: the newest at nfindings-1 */
	unsigned nfindings;
};

static int64_t mono_to_wall(int64_t mono)
{
	return clock_realtime_ns() - (clock_monotonic_ns() - mono);
}

/* Every event of this console leaves through here: wall time, labels. */
static void emit(struct console *c, const struct event *in)
{
	struct event ev = *in;
	if (!ev.console)
		ev.console = c->cfg->name;
	ev.labels = c->cfg->labels;
	ev.nlabels = c->cfg->nlabels;
	if ((ev.time_flags & LINE_TIME_KNOWN) && !(ev.time_flags & LINE_TIME_WALL)) {
		ev.time_ns = mono_to_wall(ev.time_ns);
		ev.time_flags |= LINE_TIME_WALL;
	} else if (!(ev.time_flags & LINE_TIME_KNOWN)) {
		ev.time_ns = clock_realtime_ns();
		ev.time_flags = LINE_TIME_KNOWN | LINE_TIME_WALL;
	}
	sinks_emit(c->sinks, &ev);
	if (ev.kind == EV_EPOCH_STARTED || ev.rule)
		c->epoch = ev.epoch;
	if (ev.rule && (ev.kind == EV_RULE_FIRED || ev.kind == EV_RULE_UNCERTAIN)) {
		struct finding *f = &c->findings[c->nfindings++ % CONSOLE_FINDINGS];
		f->time_ns = ev.time_ns;
		snprintf(f->event, sizeof(f->event), "%s", event_kind_name(ev.kind));
		snprintf(f->rule, sizeof(f->rule), "%s", ev.rule->id);
		snprintf(f->level, sizeof(f->level), "%s", rule_level_name(ev.rule->level));
		snprintf(f->title, sizeof(f->title), "%s", ev.title ? ev.title : "");
	}
	for (size_t i = 0; i < CONSOLE_MAX_OBSERVERS; i++)
		if (c->obs[i].event)
			c->obs[i].event(c->obs[i].ctx, &ev);
}

static void schedule_rule_timer(struct console *c);
struct console_req;
static void req_finish(struct console_req *r, bool ok, const char *reason, const char *output, size_t len);

static void on_engine_event(void *ctx, const struct event *ev)
{
	struct console *c = ctx;
	emit(c, ev);
	if (c->act)
		actions_on_event(c->act, ev);
}

static void on_line(void *ctx, const struct line *ln)
{
	struct console *c = ctx;
	int64_t wall = (ln->flags & LINE_TIME_KNOWN) ? mono_to_wall(ln->time_ns) : clock_realtime_ns();
	capture_line(c->cap, ln, wall);
}

/* labels.os picks the rules: windows or linux, plus every os: any rule;
 * another value runs only the os: any rules; no label runs them all. */
static void apply_os(struct console *c)
{
	for (size_t i = 0; i < c->cfg->nlabels; i++) {
		if (strcmp(c->cfg->labels[i].key, "os") != 0)
			continue;
		const char *v = c->cfg->labels[i].value;
		enum rule_os os = strcasecmp(v, "windows") == 0 ? OS_WINDOWS
		                  : strcasecmp(v, "linux") == 0 ? OS_LINUX
		                                                : (enum rule_os) - 1;
		engine_set_os(pipeline_engine(c->p), os);
	}
}

/* --- the SAC client ---------------------------------------------------- */

struct sac_job {
	struct sac_job *next;
	struct console *c;
	void (*done)(void *dctx, bool ok, const char *reason, const char *output, size_t len);
	void *dctx;
};

static void on_sac_timer(struct loop *l, void *ctx)
{
	struct console *c = ctx;
	c->sac_timer = 0;
	sac_tick(c->sac, loop_now(l));
}

static void sac_set_timer(void *ctx, int64_t deadline)
{
	struct console *c = ctx;
	loop_timer_set(c->loop, &c->sac_timer, deadline, on_sac_timer, c);
}

static void sac_emit(void *ctx, const struct event *ev)
{
	emit(ctx, ev);
}

static void on_sac_result(void *ctx, const struct sac_result *r)
{
	struct sac_job *j = ctx;
	struct console *c = j->c;
	for (struct sac_job **pp = &c->sac_jobs; *pp; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	char reason[320];
	if (r->err != SAC_OK)
		snprintf(reason, sizeof(reason), "%s%s%s", sac_strerror(r->err), r->detail ? ": " : "",
		         r->detail ? r->detail : "");
	j->done(j->dctx, r->err == SAC_OK, r->err == SAC_OK ? NULL : reason, r->output, r->output_len);
	free(j);
}

static int act_sac_run(void *ctx, const char *command, int64_t timeout_ns,
                       void (*done)(void *dctx, bool ok, const char *reason, const char *output, size_t len),
                       void *dctx, char *reason, size_t reasonsz)
{
	struct console *c = ctx;
	if (!c->connected) {
		snprintf(reason, reasonsz, "the console is not connected");
		return -1;
	}
	struct sac_job *j = xcalloc(1, sizeof(*j));
	j->c = c;
	j->done = done;
	j->dctx = dctx;
	enum sac_err e = sac_run(c->sac, command, timeout_ns, on_sac_result, j, loop_now(c->loop));
	if (e != SAC_OK) {
		snprintf(reason, reasonsz, "%s", sac_strerror(e));
		free(j);
		return -1;
	}
	j->next = c->sac_jobs;
	c->sac_jobs = j;
	return 0;
}

/* --- dumps and restarts (policy was checked by the actions) -------------- */

static int act_send(void *ctx, const void *buf, size_t n);
static int act_break(void *ctx, unsigned ms);

static void reap_dump(struct console *c)
{
	if (!c->dump || !c->dump_over)
		return;
	if (c->dump_timer)
		loop_timer_cancel(c->loop, c->dump_timer);
	c->dump_timer = 0;
	dump_free(c->dump);
	c->dump = NULL;
	c->dump_over = false;
}

static void on_dump_timer(struct loop *l, void *ctx)
{
	struct console *c = ctx;
	c->dump_timer = 0;
	if (c->dump) {
		dump_tick(c->dump, loop_now(l));
		reap_dump(c);
	}
}

static void dump_set_timer(void *ctx, int64_t deadline)
{
	struct console *c = ctx;
	loop_timer_set(c->loop, &c->dump_timer, deadline, on_dump_timer, c);
}

static int dump_break(void *ctx)
{
	return act_break(ctx, 250);
}

static void on_dump_result(void *ctx, const struct dump_result *r)
{
	struct console *c = ctx;
	c->dump_over = true;
	backend_done_fn done = c->dump_done;
	c->dump_done = NULL;
	if (done) {
		const char *ev = r->evidence ? r->evidence : "";
		done(c->dump_dctx, r->outcome == DUMP_VERIFIED, r->reason, ev, strlen(ev));
	}
}

static void on_dump_control(void *ctx, const struct control_result *r)
{
	struct console *c = ctx;
	if (!c->dump)
		return;
	dump_control_done(c->dump, r->ok, r->reason, loop_now(c->loop));
	reap_dump(c);
}

static int dump_control(void *ctx, enum control_action a, const char *arg, char *err, size_t errsz)
{
	struct console *c = ctx;
	if (!c->ctl) {
		snprintf(err, errsz, "no control plane configured");
		return -1;
	}
	return control_run(c->ctl, c->loop, a, arg, 0, on_dump_control, c, err, errsz);
}

static int act_dump_run(void *ctx, const char *method, int64_t timeout_ns, backend_done_fn done, void *dctx,
                        char *reason, size_t reasonsz)
{
	struct console *c = ctx;
	if (c->dump) {
		/* one dump at a time: never trigger a second while one runs */
		snprintf(reason, reasonsz, "a dump is already in progress on this console");
		return -1;
	}
	enum dump_method m = DUMP_AUTO;
	if (method && dump_method_parse(method, &m) < 0) {
		snprintf(reason, reasonsz, "unknown dump method '%s'", method);
		return -1;
	}
	unsigned caps = transport_caps(c->t);
	struct dump_env env = {
	    .ctx = c,
	    .console = c->cfg->name,
	    .send = act_send,
	    .send_break = (c->connected && (caps & TRANSPORT_CAN_BREAK)) ? dump_break : NULL,
	    .sac = c->sac,
	    .control_kind = c->ctl ? control_kind(c->ctl) : NULL,
	    .control_caps = c->ctl ? control_caps(c->ctl) : 0,
	    .control = dump_control,
	    .set_timer = dump_set_timer,
	    .emit = sac_emit,
	    .done = on_dump_result,
	};
	c->dump = dump_new(&env, m, timeout_ns);
	c->dump_done = done;
	c->dump_dctx = dctx;
	c->dump_over = false;
	if (dump_start(c->dump, loop_now(c->loop), reason, reasonsz) < 0) {
		c->dump_done = NULL;
		c->dump_over = true;
		reap_dump(c);
		return -1;
	}
	return 0;
}

static void on_restart_control(void *ctx, const struct control_result *r)
{
	struct console *c = ctx;
	backend_done_fn done = c->restart_done;
	c->restart_done = NULL;
	if (done)
		done(c->restart_dctx, r->ok, r->reason, r->output ? r->output : "", r->output_len);
}

static int act_restart_run(void *ctx, int64_t timeout_ns, backend_done_fn done, void *dctx, char *reason,
                           size_t reasonsz)
{
	struct console *c = ctx;
	if (!c->ctl || !(control_caps(c->ctl) & CONTROL_CAN(CONTROL_RESET))) {
		snprintf(reason, reasonsz,
		         c->ctl ? "the control plane cannot reset" : "no control plane configured");
		return -1;
	}
	if (c->restart_done) {
		snprintf(reason, reasonsz, "a restart is already in progress on this console");
		return -1;
	}
	if (control_run(c->ctl, c->loop, CONTROL_RESET, NULL, timeout_ns, on_restart_control, c, reason,
	                reasonsz) < 0)
		return -1;
	c->restart_done = done;
	c->restart_dctx = dctx;
	return 0;
}

static void on_action_event(void *ctx, const struct event *ev)
{
	emit(ctx, ev);
}

static void console_event(struct console *c, enum event_kind kind, const char *reason)
{
	struct event ev = {.kind = kind, .reason = reason, .time_flags = 0, .exit_status = -1};
	emit(c, &ev);
}

/* --- what actions may use ------------------------------------------------ */

static int act_send(void *ctx, const void *buf, size_t n)
{
	struct console *c = ctx;
	if (!c->connected)
		return -ENOTCONN;
	if (!(transport_caps(c->t) & TRANSPORT_CAN_WRITE))
		return -ENOTSUP;
	ssize_t w = transport_write(c->t, buf, n);
	if (w < 0)
		return (int)w;
	return (size_t)w == n ? 0 : -EAGAIN;
}

static int act_break(void *ctx, unsigned ms)
{
	struct console *c = ctx;
	if (!c->connected)
		return -ENOTCONN;
	return transport_send_break(c->t, ms);
}

static bool act_has_cap(void *ctx, const char *cap)
{
	struct console *c = ctx;
	unsigned caps = c->t ? transport_caps(c->t) : 0;
	if (strcmp(cap, "write") == 0)
		return c->connected && (caps & TRANSPORT_CAN_WRITE);
	if (strcmp(cap, "break") == 0)
		return c->connected && (caps & TRANSPORT_CAN_BREAK);
	if (strcmp(cap, "sac") == 0) {
		struct sac_state st;
		sac_get_state(c->sac, &st);
		return c->connected && st.ready && !st.crashed;
	}
	/* "control" arrives with the control planes. */
	return false;
}

/* --- timers --------------------------------------------------------------- */

static void on_rule_timer(struct loop *l, void *ctx)
{
	struct console *c = ctx;
	c->rule_timer = 0;
	c->rule_deadline = INT64_MAX;
	engine_tick(pipeline_engine(c->p), loop_now(l), LINE_TIME_KNOWN);
	schedule_rule_timer(c);
}

static void schedule_rule_timer(struct console *c)
{
	int64_t d = engine_next_deadline(pipeline_engine(c->p));
	/* A hang timer restarted by every line moves its deadline later on
	 * every read; a loop timer already set earlier is left alone (it
	 * fires, finds nothing due, and is set again) instead of being
	 * cancelled and re-added per read. */
	if (d == c->rule_deadline || (c->rule_timer && d > c->rule_deadline))
		return;
	if (c->rule_timer)
		loop_timer_cancel(c->loop, c->rule_timer);
	c->rule_timer = 0;
	c->rule_deadline = d;
	if (d != INT64_MAX)
		c->rule_timer = loop_timer_at(c->loop, d, on_rule_timer, c);
}

static void on_idle_timer(struct loop *l, void *ctx)
{
	struct console *c = ctx;
	c->idle_timer = 0;
	/* One timer per quiet period, not one per read: while bytes keep
	 * coming it is moved on to the new deadline when it fires. */
	int64_t due = c->last_input + c->cfg->idle_ns;
	if (loop_now(l) < due) {
		c->idle_timer = loop_timer_at(l, due, on_idle_timer, c);
		return;
	}
	pipeline_idle(c->p, loop_now(l));
	/* Quiet now: what the capture holds back goes to disk. */
	if (c->cap)
		capture_flush(c->cap);
	schedule_rule_timer(c);
}

/* --- connection ----------------------------------------------------------- */

static void try_open(struct console *c);

static void on_retry(struct loop *l, void *ctx)
{
	(void)l;
	struct console *c = ctx;
	c->retry_timer = 0;
	try_open(c);
}

static void schedule_retry(struct console *c)
{
	if (c->retry_timer)
		return;
	c->retry_timer = loop_timer_in(c->loop, c->backoff_ns, on_retry, c);
	c->backoff_ns *= 2;
	if (c->backoff_ns > c->cfg->reconnect_max_ns)
		c->backoff_ns = c->cfg->reconnect_max_ns;
}

static void disconnect(struct console *c, const char *why)
{
	if (c->connected) {
		loop_del_fd(c->loop, c->t->fd);
		if (c->t->pid > 0)
			loop_unwatch_child(c->loop, c->t->pid);
		transport_close(c->t);
		c->connected = false;
		/* A prompt left on the line is still worth matching. */
		pipeline_idle(c->p, loop_now(c->loop));
		schedule_rule_timer(c);
		if (c->cap)
			capture_gap(c->cap, why, clock_realtime_ns());
		snprintf(c->last_err, sizeof(c->last_err), "%s", why);
		console_event(c, EV_CONSOLE_DISCONNECTED, why);
		c->reported_down = true;
		/* A connection that held for a while starts the back-off over. */
		if (loop_now(c->loop) - c->connected_at > 60 * NS_PER_SEC)
			c->backoff_ns = c->cfg->reconnect_min_ns;
	}
	if (transport_caps(c->t) & TRANSPORT_IS_REPLAY) {
		if (!c->finished) {
			c->finished = true;
			pipeline_finish(c->p);
			if (c->on_finished)
				c->on_finished(c->finished_ctx);
		}
		return;
	}
	schedule_retry(c);
}

static void on_child(struct loop *l, pid_t pid, int status, void *ctx)
{
	(void)l;
	(void)pid;
	(void)status;
	struct console *c = ctx;
	/* The exec transport's program ended; its socket reports EOF too, but
	 * a child that leaves a grandchild holding the socket must not keep
	 * the console "connected" to nothing. */
	if (c->connected)
		disconnect(c, "the console command exited");
}

static void on_readable(struct loop *l, int fd, unsigned events, void *ctx)
{
	(void)fd;
	struct console *c = ctx;
	for (int i = 0; i < CONSOLE_READS_PER_WAKE && c->connected; i++) {
		ssize_t n = transport_read(c->t, c->buf, CONSOLE_READ_SIZE);
		if (n == -EAGAIN || n == -EWOULDBLOCK || n == -EINTR)
			break;
		if (n <= 0) {
			char why[320];
			const char *err = c->t->err[0] ? c->t->err
			                  : n == 0     ? "end of input"
			                               : strerror((int)-n);
			/* The transport's own reasons name the port already. */
			if (strstr(err, c->t->target))
				snprintf(why, sizeof(why), "%s", err);
			else
				snprintf(why, sizeof(why), "%s: %s", c->cfg->port, err);
			disconnect(c, why);
			return;
		}
		/* The loop's time of this wake-up: one clock read per wake,
		 * not per console (hundreds of consoles wake together). */
		int64_t now = loop_now(l);
		c->last_input = now;
		if (c->cap) {
			int rc = capture_bytes(c->cap, c->buf, (size_t)n, loop_realtime(l), now);
			/* The capture keeps refused bytes and retries; say so when
			 * its state changes, not on every read. */
			if (rc != c->capture_rc) {
				if (rc < 0)
					fprintf(stderr, "emsagent watch: %s: capture: %s (retrying)\n",
					        c->cfg->name, strerror(-rc));
				else
					fprintf(stderr, "emsagent watch: %s: capture: writing again\n",
					        c->cfg->name);
				c->capture_rc = rc;
			}
		}
		for (size_t k = 0; k < CONSOLE_MAX_OBSERVERS; k++)
			if (c->obs[k].bytes)
				c->obs[k].bytes(c->obs[k].ctx, c->buf, (size_t)n);
		pipeline_feed(c->p, c->buf, (size_t)n, now);
		sac_feed(c->sac, c->buf, (size_t)n, now);
		if (c->dump) {
			dump_feed(c->dump, c->buf, (size_t)n, now);
			reap_dump(c);
		}
		/* A short read drained the port; the loop is level-triggered, so
		 * anything that arrives meanwhile wakes us again. */
		if ((size_t)n < CONSOLE_READ_SIZE)
			break;
	}
	if ((events & (LOOP_HUP | LOOP_ERR)) && c->connected && !(events & LOOP_IN)) {
		char why[320];
		snprintf(why, sizeof(why), "%s: hung up", c->cfg->port);
		disconnect(c, why);
		return;
	}
	if (!c->idle_timer)
		c->idle_timer = loop_timer_at(l, c->last_input + c->cfg->idle_ns, on_idle_timer, c);
	schedule_rule_timer(c);
}

static void try_open(struct console *c)
{
	int rc = transport_open(c->t);
	if (rc < 0) {
		const char *why = c->t->err[0] ? c->t->err : strerror(-rc);
		/* Report an outage once, and again only when its reason changes. */
		if (!c->reported_down || strcmp(why, c->last_err) != 0) {
			snprintf(c->last_err, sizeof(c->last_err), "%s", why);
			console_event(c, EV_CONSOLE_DISCONNECTED, c->last_err);
			c->reported_down = true;
		}
		if (transport_caps(c->t) & TRANSPORT_IS_REPLAY) {
			c->finished = true; /* a missing replay file will not appear */
			if (c->on_finished)
				c->on_finished(c->finished_ctx);
			return;
		}
		schedule_retry(c);
		return;
	}
	rc = loop_add_fd(c->loop, c->t->fd, LOOP_IN, on_readable, c);
	if (rc < 0) {
		snprintf(c->t->err, sizeof(c->t->err), "cannot watch the port: %s", strerror(-rc));
		transport_close(c->t);
		schedule_retry(c);
		return;
	}
	if (c->t->pid > 0)
		loop_watch_child(c->loop, c->t->pid, on_child, c);
	c->connected = true;
	c->reported_down = false;
	c->connected_at = loop_now(c->loop);
	if (c->cap)
		capture_gap(c->cap, "connected", clock_realtime_ns());
	console_event(c, EV_CONSOLE_CONNECTED, NULL);
}

/* --- lifecycle -------------------------------------------------------------- */

struct console *console_new(struct loop *l, const struct console_cfg *cfg, const struct ruleset *rs,
                            const struct match_db *db, struct sinks *sinks, char *err, size_t errsz)
{
	struct transport *t = NULL;
	if (transport_parse(cfg->port, &cfg->topts, &t, err, errsz) < 0)
		return NULL;
	struct control *ctl = NULL;
	if (cfg->control && control_parse(cfg->control, &ctl, err, errsz) < 0) {
		transport_free(t);
		return NULL;
	}
	struct console *c = xcalloc(1, sizeof(*c));
	c->ctl = ctl;
	c->loop = l;
	c->cfg = cfg;
	c->sinks = sinks;
	c->rs = rs;
	c->db = db;
	c->t = t;
	c->backoff_ns = cfg->reconnect_min_ns;
	c->rule_deadline = INT64_MAX;
	if (cfg->capture_on) {
		c->cap = capture_open(cfg->name, &cfg->capture, err, errsz);
		if (!c->cap) {
			transport_free(t);
			free(c);
			return NULL;
		}
	}
	c->buf = xmalloc(CONSOLE_READ_SIZE);
	c->p = pipeline_new(rs, db, CLOCK_LIVE, cfg->name, on_engine_event, c);
	apply_os(c);
	if (c->cap)
		pipeline_set_line_hook(c->p, on_line, c);
	struct action_env env = {
	    .loop = l,
	    .console = cfg->name,
	    .labels = cfg->labels,
	    .nlabels = cfg->nlabels,
	    .policy = &cfg->policy,
	    .ctx = c,
	    .send = act_send,
	    .send_break = act_break,
	    .has_cap = act_has_cap,
	    .emit = on_action_event,
	    .sac_run = act_sac_run,
	    .dump_run = act_dump_run,
	    .restart_run = act_restart_run,
	};
	c->act = actions_new(&env);
	struct sac_env senv = {
	    .ctx = c,
	    .console = cfg->name,
	    .send = act_send,
	    .set_timer = sac_set_timer,
	    .emit = sac_emit,
	    .emit_ems = false, /* the engine reports EMS records already */
	    .char_delay_ns = cfg->sac_char_delay_ns,
	    .repeat_delay_ns = cfg->sac_repeat_delay_ns,
	    .wake_ns = 0,
	};
	c->sac = sac_new(&senv);
	return c;
}

void console_start(struct console *c)
{
	try_open(c);
}

void console_set_rules(struct console *c, const struct ruleset *rs, const struct match_db *db)
{
	if (c->rule_timer)
		loop_timer_cancel(c->loop, c->rule_timer);
	c->rule_timer = 0;
	c->rule_deadline = INT64_MAX;
	/* Whatever the old engine still held (an open block, a partial line)
	 * is matched by the old rules before they go. */
	pipeline_idle(c->p, loop_now(c->loop));
	pipeline_free(c->p);
	c->rs = rs;
	c->db = db;
	c->p = pipeline_new(rs, db, CLOCK_LIVE, c->cfg->name, on_engine_event, c);
	apply_os(c);
	if (c->cap)
		pipeline_set_line_hook(c->p, on_line, c);
}

void console_reopen_logs(struct console *c)
{
	if (c->cap && capture_reopen(c->cap) < 0)
		fprintf(stderr, "emsagent watch: %s: cannot reopen the capture logs\n", c->cfg->name);
}

void console_flush(struct console *c)
{
	if (c->cap)
		capture_flush(c->cap);
}

bool console_finished(const struct console *c)
{
	return c->finished;
}

void console_on_finished(struct console *c, void (*fn)(void *ctx), void *ctx)
{
	c->on_finished = fn;
	c->finished_ctx = ctx;
}

void console_free(struct console *c)
{
	if (!c)
		return;
	if (c->connected) {
		loop_del_fd(c->loop, c->t->fd);
		if (c->t->pid > 0)
			loop_unwatch_child(c->loop, c->t->pid);
		transport_close(c->t);
	}
	if (c->retry_timer)
		loop_timer_cancel(c->loop, c->retry_timer);
	if (c->idle_timer)
		loop_timer_cancel(c->loop, c->idle_timer);
	if (c->rule_timer)
		loop_timer_cancel(c->loop, c->rule_timer);
	/* The back-ends first: cancelling what they run finishes the actions
	 * waiting on them, while those still exist. */
	if (c->dump) {
		c->dump_over = true;
		reap_dump(c);
	}
	control_free(c->ctl);
	sac_free(c->sac);
	if (c->sac_timer)
		loop_timer_cancel(c->loop, c->sac_timer);
	actions_free(c->act);
	/* Requests whose back-end did not answer on the way out. */
	while (c->reqs)
		req_finish(c->reqs, false, "the console was closed", NULL, 0);
	pipeline_free(c->p);
	if (c->cap) {
		capture_flush(c->cap);
		capture_close(c->cap);
	}
	transport_free(c->t);
	free(c->buf);
	free(c);
}

/* --- for people: front ends and the share server ------------------------------ */

const char *console_name(const struct console *c)
{
	return c->cfg->name;
}

const char *console_port(const struct console *c)
{
	return c->cfg->port;
}

bool console_connected(const struct console *c)
{
	return c->connected;
}

int console_observe(struct console *c, console_bytes_fn on_bytes, console_event_fn on_event, void *ctx)
{
	for (size_t i = 0; i < CONSOLE_MAX_OBSERVERS; i++) {
		if (c->obs[i].bytes || c->obs[i].event)
			continue;
		c->obs[i].bytes = on_bytes;
		c->obs[i].event = on_event;
		c->obs[i].ctx = ctx;
		c->obs[i].id = ++c->next_obs_id;
		return c->obs[i].id;
	}
	return -1;
}

void console_unobserve(struct console *c, int id)
{
	for (size_t i = 0; i < CONSOLE_MAX_OBSERVERS; i++)
		if (c->obs[i].id == id && (c->obs[i].bytes || c->obs[i].event))
			memset(&c->obs[i], 0, sizeof(c->obs[i]));
}

int console_write(struct console *c, const void *buf, size_t n)
{
	return act_send(c, buf, n);
}

int console_break(struct console *c, unsigned ms)
{
	if (c->connected && !(transport_caps(c->t) & TRANSPORT_CAN_BREAK))
		return -ENOTSUP;
	return act_break(c, ms);
}

static const char *const op_names[] = {
    [CONSOLE_OP_BREAK] = "break", [CONSOLE_OP_SYSRQ] = "sysrq",     [CONSOLE_OP_NMI] = "nmi",
    [CONSOLE_OP_DUMP] = "dump",   [CONSOLE_OP_RESTART] = "restart", [CONSOLE_OP_CHANNELS] = "channels",
};

const char *console_op_name(enum console_op op)
{
	return (size_t)op < ARRAY_LEN(op_names) ? op_names[op] : "?";
}

int console_op_parse(const char *name, enum console_op *op)
{
	for (size_t i = 0; i < ARRAY_LEN(op_names); i++)
		if (strcmp(name, op_names[i]) == 0) {
			*op = (enum console_op)i;
			return 0;
		}
	return -1;
}

/* A person's request in flight. Its answer always comes from the loop,
 * never from inside console_request. */
struct console_req {
	struct console_req *next;
	struct console *c;
	enum console_op op;
	console_done_fn done; /* NULL once forgotten */
	void *ctx;
	uint64_t timer;
	char key;
	bool ok;
	char *reason;
	char *output;
};

static void req_unlink(struct console_req *r)
{
	for (struct console_req **pp = &r->c->reqs; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
}

static void req_finish(struct console_req *r, bool ok, const char *reason, const char *output, size_t len)
{
	req_unlink(r);
	if (r->timer)
		loop_timer_cancel(r->c->loop, r->timer);
	if (r->done)
		r->done(r->ctx, ok, reason, output ? output : "", output ? len : 0);
	free(r->reason);
	free(r->output);
	free(r);
}

static void req_backend_done(void *dctx, bool ok, const char *reason, const char *output, size_t len)
{
	req_finish(dctx, ok, reason, output, len);
}

static void req_control_done(void *ctx, const struct control_result *res)
{
	req_finish(ctx, res->ok, res->reason, res->output, res->output ? res->output_len : 0);
}

/* An answer known at once, delivered on the next turn of the loop. */
static void on_req_later(struct loop *l, void *ctx)
{
	(void)l;
	struct console_req *r = ctx;
	r->timer = 0;
	req_finish(r, r->ok, r->reason, r->output, r->output ? strlen(r->output) : 0);
}

static void req_answer_later(struct console_req *r, bool ok, const char *reason, char *output)
{
	r->ok = ok;
	r->reason = reason ? xstrdup(reason) : NULL;
	r->output = output;
	r->timer = loop_timer_in(r->c->loop, 0, on_req_later, r);
}

/* SysRq over the line: BREAK, then the key while the kernel waits for it. */
static void on_sysrq_key(struct loop *l, void *ctx)
{
	(void)l;
	struct console_req *r = ctx;
	r->timer = 0;
	int rc = act_send(r->c, &r->key, 1);
	char why[128];
	if (rc < 0)
		snprintf(why, sizeof(why), "BREAK went out but the key did not: %s", strerror(-rc));
	req_finish(r, rc == 0, rc == 0 ? NULL : why, NULL, 0);
}

static char *channel_list(const struct console *c)
{
	struct sac_state st;
	sac_get_state(c->sac, &st);
	struct buf b = {0};
	for (unsigned i = 0; i < st.nchannels; i++) {
		char line[SAC_NAME_MAX + 32];
		int n = snprintf(line, sizeof(line), "%u %s%s\n", i, st.channels[i],
		                 strcmp(st.channels[i], st.current) == 0 ? " (shown)" : "");
		buf_append(&b, line, (size_t)n);
	}
	if (!b.data)
		return xstrdup("");
	buf_putc(&b, '\0');
	return b.data;
}

int console_request(struct console *c, enum console_op op, const char *arg, console_done_fn done, void *ctx,
                    char *err, size_t errsz)
{
	struct console_req *r = xcalloc(1, sizeof(*r));
	r->c = c;
	r->op = op;
	r->done = done;
	r->ctx = ctx;
	r->next = c->reqs;
	c->reqs = r;
	int rc = 0;
	unsigned ccaps = c->ctl ? control_caps(c->ctl) : 0;
	switch (op) {
	case CONSOLE_OP_BREAK:
		rc = console_break(c, 250);
		if (rc == -ENOTSUP)
			snprintf(err, errsz, "this port (%s) has no BREAK", c->cfg->port);
		else if (rc == -ENOTCONN)
			snprintf(err, errsz, "the console is not connected");
		else if (rc < 0)
			snprintf(err, errsz, "BREAK failed: %s", c->t->err[0] ? c->t->err : strerror(-rc));
		else
			req_answer_later(r, true, NULL, NULL);
		break;
	case CONSOLE_OP_SYSRQ:
		if (!arg || strlen(arg) != 1 || (unsigned char)arg[0] < 0x21 ||
		    (unsigned char)arg[0] > 0x7e) {
			snprintf(err, errsz, "a SysRq key is one printable character");
			rc = -1;
		} else if (ccaps & CONTROL_CAN(CONTROL_SYSRQ)) {
			rc = control_run(c->ctl, c->loop, CONTROL_SYSRQ, arg, 0, req_control_done, r, err,
			                 errsz);
		} else if (!c->connected) {
			snprintf(err, errsz, "the console is not connected");
			rc = -1;
		} else if (!(transport_caps(c->t) & TRANSPORT_CAN_BREAK)) {
			snprintf(err, errsz,
			         "%s cannot send BREAK and no control plane with SysRq is configured",
			         c->t->ops->kind);
			rc = -1;
		} else if ((rc = transport_send_break(c->t, 250)) < 0) {
			snprintf(err, errsz, "BREAK failed: %s", c->t->err[0] ? c->t->err : strerror(-rc));
		} else {
			r->key = arg[0];
			r->timer = loop_timer_in(c->loop, 100 * NS_PER_MS, on_sysrq_key, r);
		}
		break;
	case CONSOLE_OP_NMI:
		if (!(ccaps & CONTROL_CAN(CONTROL_NMI))) {
			snprintf(err, errsz,
			         c->ctl ? "the control plane (%s) cannot inject an NMI"
			                : "no control plane: give --control (qmp:, virsh:, azure:, ...)",
			         c->ctl ? control_kind(c->ctl) : "");
			rc = -1;
		} else {
			rc = control_run(c->ctl, c->loop, CONTROL_NMI, NULL, 0, req_control_done, r, err,
			                 errsz);
		}
		break;
	case CONSOLE_OP_DUMP:
		rc = act_dump_run(c, arg, 0, req_backend_done, r, err, errsz);
		break;
	case CONSOLE_OP_RESTART:
		rc = act_restart_run(c, 0, req_backend_done, r, err, errsz);
		break;
	case CONSOLE_OP_CHANNELS: {
		struct sac_state st;
		sac_get_state(c->sac, &st);
		bool may_type = !arg || strcmp(arg, "seen") != 0;
		if (may_type && c->connected && st.ready && !st.crashed && st.at_prompt &&
		    strcmp(st.current, "SAC") == 0 && !sac_busy(c->sac)) {
			rc = act_sac_run(c, "ch", 10 * NS_PER_SEC, req_backend_done, r, err, errsz);
		} else {
			char *list = channel_list(c);
			req_answer_later(r, true, NULL, list);
		}
		break;
	}
	default:
		snprintf(err, errsz, "unknown request");
		rc = -1;
	}
	if (rc < 0) {
		req_unlink(r);
		if (r->timer)
			loop_timer_cancel(c->loop, r->timer);
		free(r->output);
		free(r->reason);
		free(r);
		return -1;
	}
	return 0;
}

void console_forget(struct console *c, void *ctx)
{
	for (struct console_req *r = c->reqs; r; r = r->next)
		if (r->ctx == ctx)
			r->done = NULL;
}

static void put_string(struct json_object *o, const char *k, const char *v)
{
	if (v)
		json_object_object_add(o, k, json_object_new_string(v));
}

struct json_object *console_status(const struct console *c)
{
	struct json_object *o = json_object_new_object();
	put_string(o, "console", c->cfg->name);
	put_string(o, "port", c->cfg->port);
	put_string(o, "kind", c->t->ops->kind);
	char settings[64];
	const struct transport_opts *to = &c->t->opts;
	static const char *const flows[] = {"none", "xonxoff", "rtscts"};
	snprintf(settings, sizeof(settings), "%u %u%c%u flow %s", to->baud, to->data_bits,
	         (char)(to->parity - 'a' + 'A'), to->stop_bits, flows[to->flow]);
	put_string(o, "settings", settings);
	json_object_object_add(o, "connected", json_object_new_boolean(c->connected));
	if (!c->connected && c->last_err[0])
		put_string(o, "error", c->last_err);
	unsigned caps = transport_caps(c->t);
	json_object_object_add(o, "can_write", json_object_new_boolean(!!(caps & TRANSPORT_CAN_WRITE)));
	json_object_object_add(o, "can_break", json_object_new_boolean(!!(caps & TRANSPORT_CAN_BREAK)));
	put_string(o, "control", c->ctl ? control_kind(c->ctl) : NULL);
	struct sac_state st;
	sac_get_state(c->sac, &st);
	struct json_object *sac = json_object_new_object();
	json_object_object_add(sac, "ready", json_object_new_boolean(st.ready));
	json_object_object_add(sac, "crashed", json_object_new_boolean(st.crashed));
	json_object_object_add(sac, "cmd_available", json_object_new_boolean(st.cmd_available));
	json_object_object_add(sac, "locked", json_object_new_boolean(st.locked));
	if (st.current[0])
		put_string(sac, "channel", st.current);
	struct json_object *chans = json_object_new_array();
	for (unsigned i = 0; i < st.nchannels; i++)
		json_object_array_add(chans, json_object_new_string(st.channels[i]));
	json_object_object_add(sac, "channels", chans);
	if (st.has_stopcode) {
		char sc[16];
		snprintf(sc, sizeof(sc), "0x%X", st.stopcode);
		put_string(sac, "stopcode", sc);
	}
	json_object_object_add(o, "sac", sac);
	if (st.has_machine_info)
		json_object_object_add(o, "machine_info", event_machine_info_json(&st.mi));
	json_object_object_add(o, "epoch", json_object_new_int64(c->epoch));
	json_object_object_add(o, "dump_running", json_object_new_boolean(c->dump != NULL));
	struct json_object *fs = json_object_new_array();
	unsigned n = c->nfindings < CONSOLE_FINDINGS ? c->nfindings : CONSOLE_FINDINGS;
	for (unsigned i = 0; i < n; i++) {
		const struct finding *f = &c->findings[(c->nfindings - n + i) % CONSOLE_FINDINGS];
		struct json_object *fo = json_object_new_object();
		char t[64];
		event_format_time(f->time_ns, LINE_TIME_KNOWN | LINE_TIME_WALL, t, sizeof(t));
		put_string(fo, "time", t);
		put_string(fo, "event", f->event);
		put_string(fo, "rule", f->rule);
		put_string(fo, "level", f->level);
		put_string(fo, "title", f->title);
		json_object_array_add(fs, fo);
	}
	json_object_object_add(o, "findings", fs);
	return o;
}
