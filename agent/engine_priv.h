/*
 * engine_priv.h — what the engine's files share and nobody else needs.
 *
 * engine.c       input (lines, EMS records, ticks, end of input), epochs,
 *                ignores, blocks, unless_near, timers, event emission and
 *                title templates
 * engine_block.c block capture: open, collect, close and deliver
 * engine_when.c  rule instances (group_by), the five when forms, resolve_on,
 *                keep_firing_for and the per-instance timers
 *
 * Every number of things a guest can make the engine keep is bounded here.
 */
#ifndef EMSAGENT_ENGINE_PRIV_H
#define EMSAGENT_ENGINE_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "emsagent/engine.h"
#include "emsagent/util.h"

#define ENG_NEVER            INT64_MAX
#define ENGINE_MAX_INSTANCES 256         /* per rule (group_by) */
#define ENGINE_TITLE_MAX     1024        /* rendered title, bytes */
#define ENGINE_BLOCK_MAX     (64 * 1024) /* block text, bytes */
#define ENGINE_MAX_HIT_CAPS  32          /* captures kept from one hit */
#define ENGINE_MAX_INST_CAPS 64          /* captures kept per instance */
#define ENGINE_REASON_MAX    160

/* a + b for deadlines, never reaching ENG_NEVER */
static inline int64_t eng_add(int64_t a, int64_t b)
{
	if (b > 0 && a > INT64_MAX - 1 - b)
		return INT64_MAX - 1;
	return a + b;
}

/* A private copy of a line, for events that happen after the line is gone. */
struct saved_line {
	char *text;
	size_t len, cap;
	uint64_t offset, lineno;
	bool has;
};

/* Where and when something happened, for events (borrowed pointers). */
struct evsrc {
	int64_t t;
	unsigned tflags; /* LINE_TIME_KNOWN / LINE_TIME_WALL */
	const char *line;
	size_t line_len;
	uint64_t offset, lineno;
	bool has_block, block_truncated;
	const char *block;
	size_t block_len;
};

/* A hit as the when logic sees it (after ignore, unless_near and block). */
struct dhit {
	int det; /* detector index, or the rule's ndets for "epoch" */
	const struct capture_val *caps;
	size_t ncaps;
	int64_t t;        /* when the hit happened (windows, timers) */
	bool known;       /* t is meaningful */
	struct evsrc src; /* what events it causes carry: the line, the block, the emission time */
};

/* roles a detector (or "epoch") plays in its rule, as a bitmask */
enum {
	ROLE_TRIGGER = 1u << 0, /* any / all / count */
	ROLE_STEP = 1u << 1,    /* sequence */
	ROLE_AFTER = 1u << 2,   /* absent: starts the stage */
	ROLE_OF = 1u << 3,      /* absent: the output that must keep coming */
	ROLE_RESOLVE = 1u << 4, /* resolve_on */
};

struct cnt_ent {
	int64_t t;
	bool known;
	char *val; /* distinct: the capture value */
};

struct inst {
	char *key; /* group_by values, each NUL-terminated, concatenated */
	size_t key_len;
	uint64_t last_use;
	bool firing;
	bool uncertain_sent; /* rule.uncertain already reported (until epoch reset) */
	int64_t resolve_at;  /* keep_firing_for: scheduled resolution, or ENG_NEVER */
	char reason[ENGINE_REASON_MAX];
	struct saved_line rline; /* the line that asked for that resolution */
	struct kv *caps;         /* captures of the hits that made the current condition */
	size_t ncaps, caps_cap;
	struct saved_line line; /* the line of the trigger (or the absent stage) */
	int64_t held_ns;        /* values for {held} / {count} and the event fields */
	unsigned count;
	/* absent */
	bool armed;            /* the stage was reached and not left (pending, or firing) */
	bool untimed;          /* armed, but no clock yet: no timer runs */
	uint64_t armed_serial; /* the input item that armed it is not output after it */
	bool stage_known;
	int64_t stage_since;
	int64_t timer_at; /* ENG_NEVER when no timer runs */
	int64_t wait_start;
	char *last_val; /* progress: the last value seen */
	/* all: per `of` entry 0 = not seen, 1 = seen at a known time, 2 = seen, time unknown */
	unsigned char *all_st;
	int64_t *all_t;
	/* sequence */
	size_t step; /* the next step expected; 0 = not started */
	int64_t step_t;
	bool step_known, seq_unsure;
	/* count */
	struct cnt_ent *ring; /* oldest first from rhead, rn entries, capacity rcap */
	size_t rhead, rn, rcap;
	unsigned cnt; /* no window and no distinct: a plain counter */
};

/* The last hit of a detector (for unless_near), and the one before the
 * current input item, so that a detector can refer to itself. */
struct hist_ent {
	bool has;
	uint64_t lineno;
	int64_t t;
	bool known;
};
struct hist {
	uint64_t serial;
	struct hist_ent cur, prev;
};

struct block {
	bool open;
	uint64_t serial; /* the input item it last collected: a hit of its detector there belongs to it */
	struct buf text;
	size_t cap;
	unsigned lines;
	int64_t close_at;       /* max_time, or ENG_NEVER */
	struct saved_line line; /* the line that opened it */
	int64_t t;
	bool known;
	unsigned tflags;
	struct capture_val *caps;
	size_t ncaps;
};

struct open_ref {
	int rule, det;
};

struct rule_rt {
	const struct rule *r;
	int index;
	unsigned char *roles; /* ndets + 1 entries; [ndets] is "epoch" */
	struct inst **inst;
	size_t ninst;
	struct hist *hist;    /* ndets */
	struct block *blocks; /* ndets, or NULL when no detector has a block */
	bool any_output;      /* absent of: any-output */
	bool off;             /* not for this console's OS (engine_set_os) */
	unsigned at_least;    /* count, at least 1 */
};

struct engine {
	const struct ruleset *rs;
	const struct match_db *db;
	char *console;
	engine_event_fn fn;
	void *ctx;
	struct rule_rt *rt;
	size_t nrules;
	unsigned epoch;
	bool have_stage;
	int stage; /* highest marker stage seen in the current epoch */
	int64_t now;
	unsigned now_flags;
	uint64_t serial; /* input items (lines and EMS records) seen */
	uint64_t lineno; /* of the last line, for EMS records */
	uint64_t last_offset;
	int64_t next_deadline; /* never later than the earliest deadline */
	bool deadline_dirty;   /* next_deadline may be early (a timer was cancelled) */
	struct open_ref *open; /* open blocks, oldest first */
	size_t nopen, open_cap;
	size_t untimed; /* absent instances armed without a clock */
	/* Rules that need a look at every line, so that a line with no hits
	 * costs nothing per rule: absent rules waiting for any-output, and
	 * absent rules (the only ones that can be armed without a clock). */
	size_t *anyout;
	size_t nanyout;
	size_t *absent;
	size_t nabsent;
	uint64_t use_clock;
	uint64_t dropped; /* hits for a new group_by key that found no free instance */
	bool finished;
	struct buf title;
	struct buf key;
};

/* engine.c */
void eng_schedule(struct engine *e, int64_t deadline);
void eng_unschedule(struct engine *e);
void eng_emit(struct engine *e, struct rule_rt *rr, struct inst *in, enum event_kind kind,
              const struct evsrc *src, const char *reason);
void saved_line_set(struct saved_line *s, const char *text, size_t len, uint64_t offset, uint64_t lineno);
void saved_line_free(struct saved_line *s);
/* An event source made from a saved line at time t. */
void evsrc_from_saved(struct evsrc *src, const struct saved_line *s, int64_t t, unsigned tflags);

/* engine_block.c */
/* Opens a block for the hit (h->det has a block) on line ln; it may close at once. */
void eng_block_open(struct engine *e, struct rule_rt *rr, const struct dhit *h, const struct line *ln);
/* Every open block takes the line; those that end on it are delivered. */
void eng_blocks_collect(struct engine *e, const struct line *ln, const struct evsrc *src);
/* Closes open block k (e->open[k]) and hands its withheld hit to the when
 * logic; `at` gives the time of closing. */
void eng_block_close(struct engine *e, size_t k, const struct evsrc *at, bool truncated);
void eng_block_free(struct block *b);

/* engine_when.c */
void when_hit(struct engine *e, struct rule_rt *rr, const struct dhit *h);
void when_output(struct engine *e, struct rule_rt *rr, const struct evsrc *src);
/* A line with a known time arrived: absent stages armed without a clock start their timers. */
void when_clock_known(struct engine *e, struct rule_rt *rr, int64_t t);
/* Earliest deadline of the instance, or ENG_NEVER. */
int64_t inst_deadline(const struct inst *in);
/* Runs the instance's deadline that is due at `at` (the earliest one). */
void when_timer(struct engine *e, struct rule_rt *rr, struct inst *in, int64_t at, unsigned tflags);
/* New epoch: firing instances are resolved ("new epoch"), all state goes. */
void when_reset(struct engine *e, struct rule_rt *rr, const struct evsrc *src);
/* End of input: pending absent instances are reported uncertain. */
void when_finish(struct engine *e, struct rule_rt *rr);
enum rule_state inst_state(const struct inst *in);
void inst_free(struct inst *in);

#endif
