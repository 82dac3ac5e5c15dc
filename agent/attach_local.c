/*
 * attach_local.c — `emsagent attach PORT`: a console of our own (the
 * transport, the rules, the SAC client, --control), its bytes and events
 * handed to attach.c, and the user's requests run on it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "attach_session.h"
#include "emsagent/cli.h"
#include "emsagent/event.h"

int session_local_write(void *ctx, const void *buf, size_t n)
{
	struct session *s = ctx;
	return console_write(s->con, buf, n);
}

struct local_req {
	struct session *s;
	char op[16];
};

static void local_req_done(void *ctx, bool ok, const char *reason, const char *output, size_t len)
{
	(void)len;
	struct local_req *r = ctx;
	if (!r->s->closing)
		attach_reply(r->s->a, r->op, ok, reason, output, NULL);
	free(r);
}

int session_local_request(void *ctx, const char *op, const char *arg, char *err, size_t errsz)
{
	struct session *s = ctx;
	if (strcmp(op, "status") == 0) {
		struct json_object *st = console_status(s->con);
		attach_reply(s->a, op, true, NULL, NULL, st);
		json_object_put(st);
		return 0;
	}
	enum console_op cop;
	if (console_op_parse(op, &cop) < 0) {
		errbuf_set(err, errsz, "unknown request");
		return -1;
	}
	struct local_req *r = xcalloc(1, sizeof(*r));
	r->s = s;
	snprintf(r->op, sizeof(r->op), "%s", op);
	if (console_request(s->con, cop, arg, local_req_done, r, err, errsz) < 0) {
		free(r);
		return -1;
	}
	return 0;
}

static void local_bytes(void *ctx, const void *buf, size_t n)
{
	struct session *s = ctx;
	if (s->a)
		attach_console(s->a, buf, n, loop_now(s->loop));
}

static void local_event(void *ctx, const struct event *ev)
{
	struct session *s = ctx;
	if (ev->kind == EV_CONSOLE_CONNECTED)
		s->ever_connected = true;
	if (ev->kind == EV_CONSOLE_DISCONNECTED && !s->o->reconnect) {
		const char *why = ev->reason ? ev->reason : "unknown error";
		if (!s->ever_connected && strstr(why, s->ccfg.port))
			session_quit(s, EXIT_USAGE, "%s", why);
		else if (!s->ever_connected)
			session_quit(s, EXIT_USAGE, "cannot open %s: %s", s->ccfg.port, why);
		else
			session_quit(s, 1, "the port went away: %s", why);
		return;
	}
	if (!s->a)
		return;
	struct json_object *o = event_to_json(ev);
	attach_event(s->a, o, loop_now(s->loop));
	json_object_put(o);
}

int session_local_setup(struct session *s, const char *port)
{
	struct attach_opts *o = s->o;
	console_cfg_default(&s->ccfg);
	s->ccfg.port = xstrdup(port);
	s->ccfg.name = o->name ? xstrdup(o->name) : cli_name_from_port(port);
	s->ccfg.topts = o->topts;
	s->ccfg.control = o->control ? xstrdup(o->control) : NULL;
	/* A person is at the keyboard: rules report, they do not act. */
	s->ccfg.policy.allow_dump = s->ccfg.policy.allow_restart = false;
	s->ccfg.policy.allow_exec = s->ccfg.policy.allow_send = false;
	s->ccfg.labels = xcalloc(o->nlabels ? o->nlabels : 1, sizeof(*s->ccfg.labels));
	for (size_t i = 0; i < o->nlabels; i++) {
		s->ccfg.labels[i].key = xstrdup(o->labels[i].key);
		s->ccfg.labels[i].value = xstrdup(o->labels[i].value);
	}
	s->ccfg.nlabels = o->nlabels;
	const char *def = cli_default_rules();
	const char *const *paths = o->nrules ? o->rules : &def;
	if (cli_load_rules(paths, o->nrules ? o->nrules : 1, &s->rs, &s->db, false) < 0)
		return -1;
	s->sinks = sinks_new();
	char err[320];
	s->con = console_new(s->loop, &s->ccfg, &s->rs, s->db, s->sinks, err, sizeof(err));
	if (!s->con) {
		cli_error(ATTACH_CMD, "%s", err);
		return -1;
	}
	console_observe(s->con, local_bytes, local_event, s);
	/* The machine as the user knows it: its --name, else the port. */
	snprintf(s->machine, sizeof(s->machine), "%s%s%s%s", o->name ? o->name : port,
	         o->control ? " via " : "", o->control ? o->control : "", "");
	/* Open now, before the terminal changes: a port that cannot be
	 * opened is a plain error on a normal terminal. */
	console_start(s->con);
	if (s->fatal[0]) {
		cli_error(ATTACH_CMD, "%s", s->fatal);
		s->fatal[0] = '\0';
		return -1;
	}
	return 0;
}

void session_local_free(struct session *s)
{
	s->closing = true;
	console_free(s->con);
	sinks_free(s->sinks);
	if (s->db) {
		match_db_free(s->db);
		rules_free(&s->rs);
	}
	console_cfg_free(&s->ccfg);
}
