/*
 * sink.h — where events go: stdout or stderr (text or JSON lines), a file
 * (JSON lines, O_APPEND, reopened on SIGHUP), syslog (text, priority from
 * the level). One sink set per agent; every console writes through it.
 * A sink that fails (disk full) reports once on stderr and keeps trying;
 * it never stops the loop (events it could not take are counted and the
 * count reported when it works again).
 * Text on stdout/stderr is coloured only when spec.color is set, the stream
 * is a terminal and NO_COLOR is unset or empty. A file sink writes in
 * spec.format (the config defaults files to JSON), each event in one
 * write(2) so concurrent appenders never interleave inside an event. Rule
 * events below min_level are not sent; other events always are.
 * Lifecycle: sinks_new → sinks_add per configured sink → sinks_emit per
 * event → sinks_reopen on SIGHUP, sinks_flush on exit → sinks_free.
 */
#ifndef EMSAGENT_SINK_H
#define EMSAGENT_SINK_H

#include <stdbool.h>
#include <stddef.h>

#include "emsagent/event.h"

enum sink_type { SINK_STDOUT, SINK_STDERR, SINK_FILE, SINK_SYSLOG };
enum sink_format { SINK_TEXT, SINK_JSON };

struct sink_spec {
	enum sink_type type;
	enum sink_format format;
	char *path;     /* SINK_FILE */
	char *facility; /* SINK_SYSLOG: daemon (default), local0..local7, user */
	int min_level;  /* rule events below this level are not sent (-1 = all) */
	bool color;     /* text on a terminal */
};

struct sinks;

struct sinks *sinks_new(void);
/* 0, or -1 with a one-line reason in err. */
int sinks_add(struct sinks *s, const struct sink_spec *spec, char *err, size_t errsz);
void sinks_emit(struct sinks *s, const struct event *ev);
void sinks_reopen(struct sinks *s);
void sinks_flush(struct sinks *s);
void sinks_free(struct sinks *s);

/* Syslog: the facility for a name (daemon when NULL or empty), or -1. */
int sink_syslog_facility(const char *name);
/* The message a syslog sink sends for ev — the text rendering without
 * colour on one line, later lines joined with " | ", at most outsz-1
 * bytes — and its priority (LOG_CRIT … LOG_INFO) as the return value. */
int sink_syslog_format(const struct event *ev, char *out, size_t outsz);

#endif
