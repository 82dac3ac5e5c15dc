/*
 * capture.h — a console's logs on disk: every byte as received, a time
 * index that dates any byte, and an optional readable log.
 *
 * Files, for a console NAME in DIR with the name pattern P (strftime in UTC,
 * plus %N = console name with any byte outside [A-Za-z0-9_.-] made '_';
 * default "%N.log"; the expanded name may not contain '/'):
 *   DIR/P        raw bytes exactly as received (O_APPEND)
 *   DIR/P.idx    time index, text, one record per line:
 *                "OFFSET REALTIME_NS MONO_NS\n" — OFFSET is the raw file's size
 *                when the bytes that follow arrived; a record is written
 *                whenever 10 ms or more passed since the last one, and at
 *                every (re)connect, gap, reopen and rotation; the bytes from
 *                one record's OFFSET up to the next record's are dated by it;
 *                "# gap REALTIME_NS reason\n" notes a disconnect.
 *   DIR/P.txt    (text: true) readable log: one line per normalised line,
 *                "2026-11-21T10:15:02.123Z text"; partial lines (offered
 *                after idle time) as "TIME [partial] text", gaps as
 *                "TIME [gap] reason"; control bytes, C1 controls and invalid
 *                UTF-8 are written as \xHH so the file is safe to cat.
 *                The raw log is the exact record; this one is for reading.
 * Files are opened O_APPEND|O_CLOEXEC and created 0640; an existing file is
 * continued (its index offsets go on from its size). DIR must exist.
 * Rotation: when the raw file (the text file when raw is off) is not empty
 * and a write would take it past max_bytes, the set is renamed first —
 * P → P.1, P.idx → P.1.idx, P.txt → P.1.txt, older sets shifted to .2 …
 * and the one past `keep` removed — and the write goes wholly into the new
 * files (a single write larger than max_bytes makes a file larger than it).
 * So the concatenation P.keep … P.1 P is the byte stream, and every P.K has
 * its own index P.K.idx (what `scan` picks up next to a file). When the
 * strftime pattern names another file for a write's time (a new day), a
 * new set is started under that name; the old one is left as it is.
 * Nothing is dropped silently: a write that fails is kept (up to
 * CAPTURE_PENDING_MAX bytes per file) and retried first on the next call;
 * rotation and a name change wait until it has gone through. Bytes beyond
 * that bound are given up, counted (capture_dropped) and noted in the index
 * as a gap.
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

#define CAPTURE_PENDING_MAX (1024 * 1024) /* unwritten bytes kept per file */
#define CAPTURE_KEEP_MAX    1000          /* rotated sets */

struct capture_opts {
	const char *dir;     /* required */
	const char *pattern; /* default "%N.log" */
	bool raw;            /* default true */
	bool text;           /* default false */
	uint64_t max_bytes;  /* 0 = no size rotation */
	unsigned keep;       /* rotated sets kept, default 5 (0 here means the default) */
	int64_t flush_ns;    /* write-behind: bytes reach the files at most this late; 0 = every call */
};

struct capture;

/* Returns NULL with a one-line reason in err (missing dir, bad pattern,
 * neither raw nor text, a file that cannot be opened). */
struct capture *capture_open(const char *console, const struct capture_opts *o, char *err, size_t errsz);
/*
 * Raw bytes as received, at this wall/monotonic time. 0 when everything
 * so far is on disk; -errno while some bytes wait for a retry (returned on
 * every call until the retry succeeds: the caller reports transitions).
 * The same for the calls below.
 */
int capture_bytes(struct capture *c, const void *buf, size_t n, int64_t realtime_ns, int64_t mono_ns);
/* A normalised line for the readable log (no-op when text is off). */
int capture_line(struct capture *c, const struct line *ln, int64_t realtime_ns);
/* A disconnect, reconnect or other gap in the stream. */
int capture_gap(struct capture *c, const char *reason, int64_t realtime_ns);
/* Closes and reopens the current files by name (after logrotate moved them). */
int capture_reopen(struct capture *c);
/* Retries what is pending (write(2) is unbuffered: nothing else to flush). */
int capture_flush(struct capture *c);
void capture_close(struct capture *c);
/* Paths of the current files (for events and tests); NULL when that file is off. */
const char *capture_raw_path(const struct capture *c);
const char *capture_index_path(const struct capture *c);
const char *capture_text_path(const struct capture *c);
/* Bytes (raw, index or text) given up because the retry buffer was full. */
uint64_t capture_dropped(const struct capture *c);

/* Reading an index back (scan --index, file: replay at recorded speed). */
struct capture_index_rec {
	uint64_t offset;
	int64_t realtime_ns, mono_ns;
};
/* Parses one index line (a trailing "\n" or "\r\n" is allowed); 0 ok, 1 a
 * comment/gap or empty line, -1 malformed. */
int capture_index_parse(const char *line, size_t len, struct capture_index_rec *rec);

#endif
