/*
 * capture.h — a console's logs on disk: every byte as received, a time
 * index that dates any byte, and an optional readable log.
 *
 * Files, for a console NAME in DIR with the name pattern P (strftime, plus
 * %N = console name; default "%N.log"):
 *   DIR/P        raw bytes exactly as received (O_APPEND)
 *   DIR/P.idx    time index, text, one record per line:
 *                "OFFSET REALTIME_NS MONO_NS\n" — OFFSET is the raw file's size
 *                when the bytes that follow arrived; a record is written
 *                whenever 10 ms or more passed since the last one, and at
 *                every (re)connect, gap and rotation;
 *                "# gap REALTIME_NS reason\n" notes a disconnect.
 *   DIR/P.txt    (text: true) readable log: one line per normalised line,
 *                prefixed by an ISO-8601 UTC time, escapes already stripped.
 * Rotation: when the raw file would pass max_bytes, the three files are
 * renamed to .1 (older ones shifted, at most `keep`) and new ones begun; a
 * strftime pattern that names a new file (a new day) starts a new set too.
 * Nothing is dropped: a write that fails is retried on the next call and
 * reported, never silently lost.
 * Lifecycle: capture_open → capture_bytes / capture_line / capture_gap as
 * things happen → capture_reopen on SIGHUP (logrotate) → capture_flush on
 * SIGTERM/SIGINT → capture_close. Who calls it: console.c.
 */
#ifndef EMSAGENT_CAPTURE_H
#define EMSAGENT_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "emsagent/line.h"

struct capture_opts {
	const char *dir;     /* required */
	const char *pattern; /* default "%N.log" */
	bool raw;	     /* default true */
	bool text;	     /* default false */
	uint64_t max_bytes;  /* 0 = no size rotation */
	unsigned keep;	     /* rotated sets kept, default 5 */
};

struct capture;

/* Returns NULL with a one-line reason in err. */
struct capture *capture_open(const char *console, const struct capture_opts *o, char *err, size_t errsz);
/* Raw bytes as received, at this wall/monotonic time. 0 or -errno. */
int capture_bytes(struct capture *c, const void *buf, size_t n, int64_t realtime_ns, int64_t mono_ns);
/* A normalised line for the readable log (no-op when text is off). */
int capture_line(struct capture *c, const struct line *ln, int64_t realtime_ns);
/* A disconnect, reconnect or other gap in the stream. */
int capture_gap(struct capture *c, const char *reason, int64_t realtime_ns);
int capture_reopen(struct capture *c);
int capture_flush(struct capture *c);
void capture_close(struct capture *c);
/* Paths of the current files (for events and tests). */
const char *capture_raw_path(const struct capture *c);

/* Reading an index back (scan --index, file: replay at recorded speed). */
struct capture_index_rec {
	uint64_t offset;
	int64_t realtime_ns, mono_ns;
};
/* Parses one index line; 0 ok, 1 a comment/gap line, -1 malformed. */
int capture_index_parse(const char *line, size_t len, struct capture_index_rec *rec);

#endif
