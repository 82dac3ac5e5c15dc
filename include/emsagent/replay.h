/*
 * replay.h — a raw capture read back with the times its index recorded
 * (capture.h), for `scan --index` and anything else that replays a capture.
 *
 * The raw file is read in fixed-size blocks and handed on in chunks that
 * each lie within one index record's span, with that record's wall time;
 * bytes before the first record have no known time. So that a line is
 * dated by the byte where it began (not by the read that completed it), a
 * chunk is split after its first line end (CR or LF): the part up to there
 * carries the time at which the unfinished line began, the rest the chunk's
 * own time. The index is streamed too (one line at a time, bounded), so
 * memory does not grow with the input; records that go backwards or do not
 * parse are skipped and counted.
 * Who calls it: cli_scan.c.
 */
#ifndef EMSAGENT_REPLAY_H
#define EMSAGENT_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "emsagent/pipeline.h"

#define REPLAY_BLOCK (256 * 1024)

struct replay_stats {
	uint64_t bytes;     /* raw bytes read */
	uint64_t records;   /* index records used */
	uint64_t bad_lines; /* malformed index lines, and records whose offset went backwards */
	uint64_t untimed;   /* bytes before the first record (no known time) */
};

/* A chunk: time_known is false before the first record (realtime_ns is 0 then). */
typedef void (*replay_chunk_fn)(void *ctx, const void *buf, size_t n, int64_t realtime_ns, bool time_known);

/*
 * Reads raw_fd to its end and idx_fd as far as it goes, calling fn per
 * chunk. 0, or -1 with a one-line reason in err (a read error; what was read
 * before it has been handed on). st may be NULL.
 */
int replay_run(int raw_fd, int idx_fd, replay_chunk_fn fn, void *ctx, struct replay_stats *st, char *err,
               size_t errsz);

/*
 * The same into a pipeline (made with CLOCK_LOG): pipeline_feed(p, chunk,
 * n, realtime_ns), with 0 for bytes of unknown time. The pipeline uses that
 * time for lines without a timestamp of their own (see clock_line). Does
 * not call pipeline_finish.
 */
int replay_pipeline(struct pipeline *p, int raw_fd, int idx_fd, struct replay_stats *st, char *err,
                    size_t errsz);

#endif
