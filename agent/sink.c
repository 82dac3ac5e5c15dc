/*
 * sink.c — the event sinks (sink.h): stdout/stderr, an appended file,
 * syslog.
 *
 * An event is rendered at most once per form (text, coloured text, JSON)
 * whatever the number of sinks. A failing sink never stops the others or
 * the loop: the first failure is reported on stderr, every later event is
 * tried again, and the number lost is reported when it works again.
 */
#define _GNU_SOURCE
#include "emsagent/sink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "emsagent/util.h"

#define SYSLOG_MSG_MAX 2048

struct sink {
	enum sink_type type;
	enum sink_format format;
	char *path; /* file */
	int fd;     /* file: -1 while it cannot be opened */
	int facility;
	int min_level;
	bool color;
	bool failing;
	unsigned long lost;
};

struct sinks {
	struct sink *v;
	size_t n, cap;
	bool syslog_open;
};

/* One event's renderings, made on first use. */
struct rendered {
	char *form[3]; /* text, coloured text, JSON */
	size_t len[3];
};
enum { FORM_TEXT, FORM_COLOR, FORM_JSON };

static const char *sink_name(const struct sink *k)
{
	switch (k->type) {
	case SINK_STDOUT:
		return "stdout";
	case SINK_STDERR:
		return "stderr";
	case SINK_FILE:
		return k->path;
	case SINK_SYSLOG:
		return "syslog";
	}
	return "?";
}

static const char *render(struct rendered *r, const struct event *ev, int form)
{
	if (!r->form[form]) {
		FILE *f = open_memstream(&r->form[form], &r->len[form]);
		if (!f)
			return NULL;
		if (form == FORM_JSON)
			event_write_json(ev, f);
		else
			event_write_text(ev, f, form == FORM_COLOR);
		if (fclose(f) != 0) {
			free(r->form[form]);
			r->form[form] = NULL;
			return NULL;
		}
	}
	return r->form[form];
}

static void rendered_free(struct rendered *r)
{
	for (size_t i = 0; i < ARRAY_LEN(r->form); i++)
		free(r->form[i]);
}

static void sink_failed(struct sink *k, int err)
{
	k->lost++;
	if (k->failing)
		return;
	k->failing = true;
	fprintf(stderr, "emsagent: event sink %s: %s (events are lost until it works again)\n", sink_name(k),
	        strerror(err ? err : EIO));
}

static void sink_ok(struct sink *k)
{
	if (!k->failing)
		return;
	fprintf(stderr, "emsagent: event sink %s works again (%lu event%s lost)\n", sink_name(k), k->lost,
	        k->lost == 1 ? "" : "s");
	k->failing = false;
	k->lost = 0;
}

static int open_file(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

/* The whole event in one write (short writes only on a full disk). */
static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (w == 0)
			return -EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int sink_syslog_facility(const char *name)
{
	static const struct {
		const char *name;
		int facility;
	} tab[] = {
	    {"daemon", LOG_DAEMON}, {"user", LOG_USER},     {"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1},
	    {"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},
	    {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7},
	};
	if (!name || !*name)
		return LOG_DAEMON;
	for (size_t i = 0; i < ARRAY_LEN(tab); i++)
		if (strcmp(name, tab[i].name) == 0)
			return tab[i].facility;
	return -1;
}

static int syslog_priority(const struct event *ev)
{
	if (!ev->rule)
		return LOG_INFO;
	switch (ev->rule->level) {
	case LEVEL_CRITICAL:
		return LOG_CRIT;
	case LEVEL_HIGH:
		return LOG_ERR;
	case LEVEL_MEDIUM:
		return LOG_WARNING;
	case LEVEL_LOW:
		return LOG_NOTICE;
	case LEVEL_INFO:
		return LOG_INFO;
	}
	return LOG_INFO;
}

/* Text rendering → one line: the indented follow-up lines are joined with
 * " | ", the final newline dropped. */
static void one_line(const char *text, size_t len, char *out, size_t outsz)
{
	size_t o = 0;
	if (!outsz)
		return;
	for (size_t i = 0; i < len && o + 1 < outsz; i++) {
		if (text[i] != '\n') {
			out[o++] = text[i];
			continue;
		}
		size_t j = i + 1;
		while (j < len && (text[j] == ' ' || text[j] == '\t'))
			j++;
		if (j >= len)
			break;
		for (const char *sep = " | "; *sep && o + 1 < outsz; sep++)
			out[o++] = *sep;
		i = j - 1;
	}
	out[o] = '\0';
}

int sink_syslog_format(const struct event *ev, char *out, size_t outsz)
{
	struct rendered r = {0};
	const char *text = render(&r, ev, FORM_TEXT);
	if (text)
		one_line(text, r.len[FORM_TEXT], out, outsz);
	else if (outsz)
		snprintf(out, outsz, "%s", event_kind_name(ev->kind));
	rendered_free(&r);
	return syslog_priority(ev);
}

struct sinks *sinks_new(void)
{
	return xcalloc(1, sizeof(struct sinks));
}

int sinks_add(struct sinks *s, const struct sink_spec *spec, char *err, size_t errsz)
{
	struct sink k = {.type = spec->type, .format = spec->format, .fd = -1, .min_level = spec->min_level};
	if (spec->format != SINK_TEXT && spec->format != SINK_JSON) {
		snprintf(err, errsz, "event sink: unknown format %d", (int)spec->format);
		return -1;
	}
	if (spec->min_level < -1 || spec->min_level > LEVEL_CRITICAL) {
		snprintf(err, errsz, "event sink: level %d out of range", spec->min_level);
		return -1;
	}
	const char *no_color = getenv("NO_COLOR");
	bool color_ok = spec->color && spec->format == SINK_TEXT && !(no_color && *no_color);
	switch (spec->type) {
	case SINK_STDOUT:
		k.color = color_ok && isatty(STDOUT_FILENO);
		break;
	case SINK_STDERR:
		k.color = color_ok && isatty(STDERR_FILENO);
		break;
	case SINK_FILE:
		if (!spec->path || !*spec->path) {
			snprintf(err, errsz, "event sink file: no path given");
			return -1;
		}
		k.fd = open_file(spec->path);
		if (k.fd < 0) {
			snprintf(err, errsz, "event sink file %s: %s", spec->path, strerror(errno));
			return -1;
		}
		k.path = xstrdup(spec->path);
		break;
	case SINK_SYSLOG:
		k.facility = sink_syslog_facility(spec->facility);
		if (k.facility < 0) {
			snprintf(err, errsz,
			         "event sink syslog: unknown facility '%s' (daemon, user, local0 … local7)",
			         spec->facility);
			return -1;
		}
		/* One connection per process; each message carries its own
		 * facility, so syslog sinks with different ones coexist. */
		if (!s->syslog_open) {
			openlog("emsagent", LOG_PID, k.facility);
			s->syslog_open = true;
		}
		break;
	default:
		snprintf(err, errsz, "event sink: unknown type %d", (int)spec->type);
		return -1;
	}
	xgrow((void **)&s->v, &s->cap, s->n + 1, sizeof(*s->v));
	s->v[s->n++] = k;
	return 0;
}

static void emit_stream(struct sink *k, FILE *fp, struct rendered *r, const struct event *ev)
{
	int form = k->format == SINK_JSON ? FORM_JSON : k->color ? FORM_COLOR : FORM_TEXT;
	const char *text = render(r, ev, form);
	if (!text) {
		sink_failed(k, ENOMEM);
		return;
	}
	errno = 0;
	size_t n = fwrite(text, 1, r->len[form], fp);
	if (n != r->len[form] || fflush(fp) != 0 || ferror(fp)) {
		int e = errno;
		clearerr(fp);
		sink_failed(k, e);
		return;
	}
	sink_ok(k);
}

static void emit_file(struct sink *k, struct rendered *r, const struct event *ev)
{
	if (k->fd < 0) {
		k->fd = open_file(k->path);
		if (k->fd < 0) {
			sink_failed(k, errno);
			return;
		}
	}
	int form = k->format == SINK_JSON ? FORM_JSON : FORM_TEXT;
	const char *text = render(r, ev, form);
	int rc = text ? write_all(k->fd, text, r->len[form]) : -ENOMEM;
	if (rc < 0) {
		sink_failed(k, -rc);
		return;
	}
	sink_ok(k);
}

static void emit_syslog(struct sink *k, struct rendered *r, const struct event *ev)
{
	const char *text = render(r, ev, FORM_TEXT);
	if (!text) {
		sink_failed(k, ENOMEM);
		return;
	}
	char msg[SYSLOG_MSG_MAX];
	one_line(text, r->len[FORM_TEXT], msg, sizeof(msg));
	/* syslog(3) reports no errors: a lost syslog daemon is not detectable here. */
	syslog(k->facility | syslog_priority(ev), "%s", msg);
}

void sinks_emit(struct sinks *s, const struct event *ev)
{
	struct rendered r = {0};
	for (size_t i = 0; i < s->n; i++) {
		struct sink *k = &s->v[i];
		if (ev->rule && k->min_level >= 0 && (int)ev->rule->level < k->min_level)
			continue;
		switch (k->type) {
		case SINK_STDOUT:
			emit_stream(k, stdout, &r, ev);
			break;
		case SINK_STDERR:
			emit_stream(k, stderr, &r, ev);
			break;
		case SINK_FILE:
			emit_file(k, &r, ev);
			break;
		case SINK_SYSLOG:
			emit_syslog(k, &r, ev);
			break;
		}
	}
	rendered_free(&r);
}

void sinks_reopen(struct sinks *s)
{
	for (size_t i = 0; i < s->n; i++) {
		struct sink *k = &s->v[i];
		if (k->type != SINK_FILE)
			continue;
		if (k->fd >= 0)
			close(k->fd);
		k->fd = open_file(k->path);
		/* Reported like a failed write; the next event tries again. */
		if (k->fd < 0 && !k->failing) {
			k->failing = true;
			fprintf(
			    stderr,
			    "emsagent: event sink %s: reopen: %s (events are lost until it works again)\n",
			    k->path, strerror(errno));
		}
	}
}

void sinks_flush(struct sinks *s)
{
	for (size_t i = 0; i < s->n; i++) {
		struct sink *k = &s->v[i];
		if (k->type == SINK_STDOUT)
			fflush(stdout);
		else if (k->type == SINK_STDERR)
			fflush(stderr);
	}
}

void sinks_free(struct sinks *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		if (s->v[i].fd >= 0)
			close(s->v[i].fd);
		free(s->v[i].path);
	}
	if (s->syslog_open)
		closelog();
	free(s->v);
	free(s);
}
