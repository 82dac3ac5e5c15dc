/*
 * sink.h — where events go: stdout or stderr (text or JSON lines), a file
 * (JSON lines, O_APPEND, reopened on SIGHUP), syslog (text, priority from
 * the level). One sink set per agent; every console writes through it.
 * A sink that fails (disk full) reports once on stderr and keeps trying;
 * it never stops the loop.
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
	char *path;	/* SINK_FILE */
	char *facility; /* SINK_SYSLOG: daemon (default), local0..local7, user */
	int min_level;	/* rule events below this level are not sent (-1 = all) */
	bool color;	/* text on a terminal */
};

struct sinks;

struct sinks *sinks_new(void);
/* 0, or -1 with a one-line reason in err. */
int sinks_add(struct sinks *s, const struct sink_spec *spec, char *err, size_t errsz);
void sinks_emit(struct sinks *s, const struct event *ev);
void sinks_reopen(struct sinks *s);
void sinks_flush(struct sinks *s);
void sinks_free(struct sinks *s);

#endif
