/*
 * clock.h — where a line's time comes from (design §2, §7).
 *
 * Three modes, one interface: CLOCK_LIVE (the monotonic clock; line time is
 * the time the bytes arrived), CLOCK_LOG (offline: timestamps found at the
 * start of log lines), CLOCK_VIRTUAL (tests: time moves only when told, as
 * rule tests do with "@+31m" marks).
 *
 * ts_parse_prefix recognises, at the start of a line and in this order:
 * an ISO-8601 date-time ("2026-11-21T10:15:02.123Z", "2026-11-21 10:15:02",
 * optional fraction and zone), or a syslog date ("Nov 21 10:15:02"), each
 * followed by blanks; then optionally a printk stamp ("[   12.345678]").
 * body is the offset after all of them and the blanks that follow: that is
 * where "at: line-start" looks.
 *
 * In CLOCK_LOG mode line times never go backwards. A printk stamp counts
 * from the start of its epoch: clock_new_epoch() tells the clock a new boot
 * began, so the printk base is re-anchored to the last known time. A syslog
 * stamp has no year: it takes the year of the last known wall time, or,
 * before there is one, the year hint (CLOCK_LOG starts with the current UTC
 * year; clock_set_year_hint changes it).
 *
 * clock_prefix is ts_parse_prefix with a memory: logs print the same date
 * and second on many lines in a row, so the bytes of the last wall stamp up
 * to its seconds (and the last ISO date) are kept with what they meant, and
 * a line that repeats them is not parsed again. The result is the same.
 */
#ifndef EMSAGENT_CLOCK_H
#define EMSAGENT_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ts_prefix {
	size_t body;
	bool has_wall;   /* ISO-8601 or syslog */
	int64_t wall_ns; /* ns since the Unix epoch, UTC (syslog: placed in 1970; clock_line places it) */
	bool has_printk;
	int64_t printk_ns; /* time since boot */
	/* Syslog stamps carry no year: the month (1-12) and the time since the
	 * start of that month, so clock_line can place them in the clock's year. */
	bool wall_no_year;
	int wall_month;
	int64_t wall_in_month_ns;
};

void ts_parse_prefix(const char *s, size_t len, struct ts_prefix *out);

/* The last wall stamp's bytes up to its seconds, and what they said. */
#define TS_KEY_MAX 20
struct ts_cache {
	unsigned char kind; /* 0 empty, 1 ISO-8601, 2 syslog */
	unsigned char key_len;
	char key[TS_KEY_MAX];
	int64_t
	    head_s; /* ISO: seconds since the epoch before the zone offset; syslog: since the month began */
	int month;  /* syslog */
	bool has_date; /* ISO: the last valid date "YYYY-MM-DD" and its day number */
	char date[10];
	int64_t days;
};

/* ts_parse_prefix that remembers the last stamp in tc (tc may be NULL). */
void ts_parse_prefix_cached(struct ts_cache *tc, const char *s, size_t len, struct ts_prefix *out);

enum clock_mode { CLOCK_LIVE, CLOCK_LOG, CLOCK_VIRTUAL };

struct clock {
	enum clock_mode mode;
	int64_t now;    /* last time handed out */
	unsigned flags; /* LINE_TIME_KNOWN / LINE_TIME_WALL for `now` */
	/* CLOCK_LOG state */
	bool printk_anchored;
	int64_t printk_base;
	int64_t last_printk;
	unsigned printk_flags; /* LINE_TIME_WALL when the printk base is a wall time */
	int year_hint;         /* syslog year before any wall time; 0 = 1970 */
	struct ts_cache tcache;
	/* the year of the last syslog placement: [year_lo, year_hi) in ns */
	bool year_valid;
	int64_t year, year_lo, year_hi;
	/* the start of the last month a syslog stamp was placed in */
	bool month_valid;
	int64_t month_year;
	int month_m;
	int64_t month_ns;
};

/* CLOCK_LOG defaults the year hint to the current UTC year. */
void clock_init(struct clock *c, enum clock_mode mode);
/* The year syslog stamps get while no wall time is known; a year outside
 * 1900..2199 (e.g. 0) removes the hint: such stamps are placed in 1970. */
void clock_set_year_hint(struct clock *c, int year);
/* ts_parse_prefix with the clock's cache (same result, less work). */
void clock_prefix(struct clock *c, const char *s, size_t len, struct ts_prefix *out);
/* CLOCK_MONOTONIC in ns. */
int64_t clock_monotonic_ns(void);
/* CLOCK_REALTIME in ns (for printing live event times). */
int64_t clock_realtime_ns(void);
/*
 * Decides a line's time. p is the line's parsed prefix; feed_time/feed_flags
 * are what the normaliser put in the line (live/virtual). Sets *t and *flags
 * (LINE_TIME_KNOWN, LINE_TIME_WALL) and updates c->now.
 */
void clock_line(struct clock *c, const struct ts_prefix *p, int64_t feed_time, unsigned feed_flags,
                int64_t *t, unsigned *flags);
/* A new boot began: the next printk stamp re-anchors its base to c->now. */
void clock_new_epoch(struct clock *c);
/* CLOCK_VIRTUAL: move time forward by d ns (marks time as known). */
void clock_advance(struct clock *c, int64_t d);

#endif
