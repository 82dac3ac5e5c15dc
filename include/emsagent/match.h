/*
 * match.h — the compiled pattern database and the line matcher (design §7).
 *
 * Owns: one Vectorscan literal database holding every literal and regex
 * anchor of every detector (rules, ignores, epoch markers), scanned in
 * streaming mode over batches of lines; the PCRE2 programs (JIT) that confirm
 * regex detectors on candidate lines only and extract captures.
 *
 * What a hit means here (all of it is decided in this module, per line):
 *  - every detector looks at the line *body* (after timestamp prefixes);
 *  - contains: a literal occurs; prefix: the body starts with it; line: the
 *    body, less trailing blanks, equals it; fullword: it occurs with no word
 *    character ([A-Za-z0-9_]) on either side; regex: the PCRE2 program
 *    matches the body (tried only when an anchor occurs);
 *  - nocase, at: line-start, unless (same-line literals) are applied;
 *  - partial lines (LINE_PARTIAL) only produce hits for `partial: true`
 *    detectors;
 *  - captures are typed: int → decimal text (a "0x" number is accepted),
 *    hex → "0x%X" upper-case text (with or without "0x" in the input), both
 *    with has_num/num when the text parses (else the raw text, has_num
 *    false); enum → the table's value, or the raw text when the table has
 *    no entry; str → the raw text. Values longer than fit are cut.
 * Not here: unless_near, block, when — those need history (engine).
 *
 * Lifecycle: match_compile(ruleset) → match_stream_new per console →
 * match_push / match_push_ems in input order → match_flush (also done
 * automatically when the batch is full) → callbacks in the same order, one
 * per pushed item, hits or not → match_stream_free / match_db_free.
 */
#ifndef EMSAGENT_MATCH_H
#define EMSAGENT_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "emsagent/ems.h"
#include "emsagent/line.h"
#include "emsagent/rules.h"

enum det_owner { OWNER_RULE, OWNER_IGNORE, OWNER_EPOCH };

/* One detector in the database. */
struct det_slot {
	enum det_owner owner;
	int rule; /* OWNER_RULE: rule index; else -1 */
	int idx;  /* OWNER_RULE: detector index in the rule; OWNER_IGNORE/EPOCH: index in ruleset */
	const struct detector *det;
};

#define MATCH_CAP_VALUE_MAX 256

struct capture_val {
	const char *name;                /* the capture spec's name (owned by the ruleset) */
	char value[MATCH_CAP_VALUE_MAX]; /* typed, printable; cut to fit */
	bool has_num;                    /* int / hex captures */
	int64_t num;
};

struct match_hit {
	uint32_t slot; /* index into the db's slots */
	const struct det_slot *s;
	size_t start, end; /* span in ln->text of the (first) match */
	const struct capture_val *caps;
	size_t ncaps;
};

struct match_db;
struct match_stream;

/* Compiles; errors (PCRE2 or Vectorscan rejecting a pattern) go to d with the
 * detector's location. Returns NULL on error. */
struct match_db *match_compile(const struct ruleset *rs, struct diags *d);
void match_db_free(struct match_db *db);
size_t match_db_nslots(const struct match_db *db);
const struct det_slot *match_db_slot(const struct match_db *db, size_t i);
/* Slot index of a rule's detector (for the engine's tables). */
uint32_t match_db_rule_slot(const struct match_db *db, int rule, int det);
/* Bytes of compiled database (for diagnostics and the benchmark). */
size_t match_db_size(const struct match_db *db);

typedef void (*match_line_fn)(void *ctx, const struct line *ln, const struct match_hit *hits, size_t nhits);
typedef void (*match_ems_fn)(void *ctx, const struct ems_record *rec, const struct match_hit *hits,
                             size_t nhits);

struct match_stream *match_stream_new(const struct match_db *db, match_line_fn on_line, match_ems_fn on_ems,
                                      void *ctx);
void match_stream_free(struct match_stream *ms);
/* Queues a copy of the line (its text too). */
void match_push(struct match_stream *ms, const struct line *ln);
/* Queues a copy of an EMS record, keeping it in order with the lines. */
void match_push_ems(struct match_stream *ms, const struct ems_record *rec);
/* Scans what is queued and makes the callbacks, in order. A callback may
 * push more items; they are scanned within the same flush, after the others
 * (after such a push its own ln->text may have moved: read it first).
 * The line and hit pointers handed to a callback (captures too) are valid
 * only during that call. */
void match_flush(struct match_stream *ms);
/* Caps the per-batch array of (line, literal) hits (default
 * MATCH_HIT_CAP_DEFAULT, minimum 1). A line whose hits no longer fit is
 * evaluated by plain search over every literal detector instead: memory stays
 * bounded whatever the input. For tests and tuning. */
#define MATCH_HIT_CAP_DEFAULT 8192
void match_stream_set_hit_cap(struct match_stream *ms, size_t cap);

#endif
