/*
 * event.h — what the agent reports (design §8), and its two renderings:
 * one JSON object per line (json-c does all escaping) and a readable line.
 *
 * An event is a view: every pointer in it borrows from the caller and is
 * only valid during the callback that hands it over. Sinks that keep events
 * render them first.
 */
#ifndef EMSAGENT_EVENT_H
#define EMSAGENT_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "emsagent/ems.h"
#include "emsagent/rules.h"

enum event_kind {
	EV_CONSOLE_CONNECTED,
	EV_CONSOLE_DISCONNECTED,
	EV_EPOCH_STARTED,
	EV_RULE_PENDING,
	EV_RULE_FIRED,
	EV_RULE_RESOLVED,
	EV_RULE_UNCERTAIN,
	EV_EMS_MACHINE_INFO,
	EV_EMS_BUGCHECK,
	EV_ACTION_STARTED,
	EV_ACTION_DONE,
	EV_ACTION_FAILED,
	EV_ACTION_SKIPPED,
	EV_AGENT_RELOADED,    /* rules/config reloaded (reason set when the new set was refused) */
	EV_SAC_READY,         /* a SAC> prompt was seen (once per boot of SAC) */
	EV_SAC_CMD_AVAILABLE, /* "EVENT: The CMD command is now available." */
	EV_SAC_CHANNEL,       /* a SAC channel was created, closed or switched to (channel, reason) */
	EV_DUMP_REQUESTED,    /* a crash dump was asked for (title: the method; reason: why auto chose it) */
	EV_DUMP_STARTED,      /* the trigger went out (crashdump typed, NMI injected, BREAK + c sent) */
	EV_DUMP_VERIFIED,     /* the console showed the crash (ems: the <BP> record, or line: the panic) */
	EV_DUMP_FAILED,       /* not triggered or not verified in time (reason: what was and was not seen) */
	EV__COUNT
};
const char *event_kind_name(enum event_kind k);

struct event {
	enum event_kind kind;
	int64_t time_ns;
	unsigned time_flags; /* LINE_TIME_KNOWN / LINE_TIME_WALL */
	const char *console; /* may be NULL */
	const struct rule *rule;
	const char *title; /* rendered title (rule events) */
	unsigned epoch;
	const char *marker; /* epoch.started: the marker's name */
	uint64_t offset;    /* raw byte offset of the line that caused it */
	uint64_t lineno;
	const char *line; /* that line's text, may be NULL */
	size_t line_len;
	const struct kv *captures;
	size_t ncaptures;
	const char *reason; /* resolved / uncertain: why */
	bool has_block;
	const char *block; /* multi-line capture, lines joined by \n */
	size_t block_len;
	bool block_truncated;
	const struct ems_record *ems;
	int64_t held_ns; /* absent rules: how long the stage was held */
	unsigned count;  /* count rules: how many were counted */
	/* console labels (config), carried by every event of a console */
	const struct kv *labels;
	size_t nlabels;
	/* action.* events */
	const struct action *action;
	const char *trigger; /* the event that caused the action: "rule.fired", ... */
	int exit_status;     /* action.done/failed of exec: the child's exit status, -1 if none */
	const char *output;  /* captured output (exec) or what was sent, bounded */
	size_t output_len;
	/* sac.channel: the channel's name ("SAC", "Cmd0001") */
	const char *channel;
};

/* Builds the JSON object (caller puts it). */
struct json_object *event_to_json(const struct event *ev);
/* EMS machine-info's fields that were sent, as a JSON object. */
struct json_object *event_machine_info_json(const struct ems_machine_info *mi);
/* Members of a JSON object, for readers of events and replies: the string
 * at key (NULL when missing or not a string), the boolean (false when
 * missing), the integer (dflt when missing). o may be NULL. */
const char *json_get_str(struct json_object *o, const char *key);
bool json_get_bool(struct json_object *o, const char *key);
int64_t json_get_int(struct json_object *o, const char *key, int64_t dflt);
/* One JSON object and a newline. */
void event_write_json(const struct event *ev, FILE *out);
/* One or more readable lines; colour when color is true. */
void event_write_text(const struct event *ev, FILE *out, bool color);
/* "2026-11-21T10:15:02.123Z" for wall times, "+123.456s" for relative ones, "-" when unknown. */
void event_format_time(int64_t t, unsigned flags, char *out, size_t outsz);

#endif
