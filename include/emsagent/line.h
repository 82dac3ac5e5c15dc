/*
 * line.h — the unit everything downstream of the normaliser works on.
 *
 * A line is normalised console text (no line terminator, escapes removed)
 * with where and when it came from. The text pointer is only valid during the
 * call that hands the line over; copy what you keep. text[len] is always a
 * NUL byte, so C string functions and PCRE2 may look at it, but the text may
 * itself contain bytes >= 0x80 (invalid UTF-8 is kept as is).
 */
#ifndef EMSAGENT_LINE_H
#define EMSAGENT_LINE_H

#include <stddef.h>
#include <stdint.h>

enum line_flags {
	LINE_PARTIAL = 1u << 0,    /* no newline yet: offered after idle time or at end of input */
	LINE_CUT = 1u << 1,        /* cut at the length cap; the rest follows as another line */
	LINE_CONT = 1u << 2,       /* the continuation of a cut line */
	LINE_TIME_KNOWN = 1u << 3, /* time_ns is meaningful (live clock, log timestamp, virtual) */
	LINE_TIME_WALL = 1u << 4,  /* time_ns is ns since the Unix epoch (else relative) */
};

#define LINE_MAX_LEN 4096 /* the normaliser cuts longer lines */

struct line {
	const char *text;
	size_t len;
	size_t body;     /* offset in text after timestamp / printk prefixes ("line start") */
	uint64_t offset; /* byte offset in the raw input where the line began */
	uint64_t lineno; /* 1-based count of lines produced (partials not counted) */
	int64_t time_ns;
	unsigned flags;
};

#endif
