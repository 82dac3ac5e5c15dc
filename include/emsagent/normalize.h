/*
 * normalize.h — console bytes in, lines as a person would have seen them out
 * (design §6).
 *
 * Owns: the current line buffer (bounded by LINE_MAX_LEN), the escape-
 * sequence state, the CR/LF pairing state, and the EMS record parser.
 * Lifecycle: norm_new → norm_feed (any split of the input; feeding one byte at
 * a time yields exactly the lines one big buffer does) → norm_flush_partial
 * on idle → norm_finish at end of input → norm_free.
 * Who calls it: the pipeline (one per console).
 *
 * Rules it applies: CSI/OSC/DCS/single-ESC sequences removed; ESC[2J, ESC[H,
 * cursor addressing to another row or to column 1 and ESC c end the current
 * line; CR LF, LF CR, lone CR, lone LF each end a line once; BS erases the
 * last character; NUL and other C0 bytes except TAB are dropped; invalid UTF-8
 * is kept; lines over LINE_MAX_LEN are cut (LINE_CUT) and continued
 * (LINE_CONT). Completed lines also go through the EMS parser, whose records
 * come out of on_ems (a line that can change nothing there, one without '<'
 * and far enough from the last one that no record can still be open, is
 * not handed to it: the records are those of feeding every line).
 */
#ifndef EMSAGENT_NORMALIZE_H
#define EMSAGENT_NORMALIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "emsagent/ems.h"
#include "emsagent/line.h"

/* Called for each line; ln->body is 0 and ln->time_ns/flags time bits are
 * those given to the feed call that completed the line. */
typedef void (*norm_line_fn)(void *ctx, const struct line *ln);
typedef void (*norm_ems_fn)(void *ctx, const struct ems_record *rec);

struct norm;

struct norm *norm_new(norm_line_fn on_line, norm_ems_fn on_ems, void *ctx);
void norm_free(struct norm *n);
/* time_flags: LINE_TIME_KNOWN / LINE_TIME_WALL bits copied into lines. */
void norm_feed(struct norm *n, const void *buf, size_t len, int64_t time_ns, unsigned time_flags);
/* Offers the incomplete line, if it is non-empty and changed since it was
 * last offered, as a LINE_PARTIAL line. It stays the current line. */
void norm_flush_partial(struct norm *n, int64_t time_ns, unsigned time_flags);
/* End of input: the incomplete line (if any, and unless it was already
 * offered unchanged by norm_flush_partial) is emitted as LINE_PARTIAL, an
 * open EMS record as truncated. The incomplete line is then discarded. */
void norm_finish(struct norm *n, int64_t time_ns, unsigned time_flags);
/* Raw bytes consumed so far. */
uint64_t norm_offset(const struct norm *n);

#endif
