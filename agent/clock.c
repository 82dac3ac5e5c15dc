/*
 * clock.c — line times: timestamp prefixes in logs (ISO-8601, syslog,
 * printk) and the three clock modes of clock.h.
 *
 * The prefix parser is strict on purpose: a line only gets a time from text
 * that is exactly a valid timestamp, so console noise such as "[abc]" or
 * "2026-13-40" never moves the clock. Calendar arithmetic is done here
 * (days from civil date) so the result does not depend on TZ or libc.
 *
 * Speed matters here (every line of a scan comes through): the bytes of the
 * last stamp up to its seconds are remembered (struct ts_cache) with what
 * they meant, as are the last year and month a syslog stamp was placed in,
 * so a log whose lines repeat the second costs a memcmp per line.
 */
#define _GNU_SOURCE
#include "emsagent/clock.h"

#include <string.h>
#include <time.h>

#include "emsagent/line.h"
#include "emsagent/util.h"

#define TIME_BITS (LINE_TIME_KNOWN | LINE_TIME_WALL)

/* Printk seconds are bounded (~31 years of uptime) and wall years too, so
 * that every time, and a printk base plus a printk stamp, fits in int64 ns
 * (which ends in 2262). */
#define PRINTK_MAX_SEC_DIGITS 9
#define YEAR_MIN              1900
#define YEAR_MAX              2200

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Exactly n digits at s[*i]; advances *i. */
static bool take_digits(const char *s, size_t len, size_t *i, int n, int *out)
{
	if (*i + (size_t)n > len)
		return false;
	int v = 0;
	for (int k = 0; k < n; k++) {
		char c = s[*i + (size_t)k];
		if (!is_digit(c))
			return false;
		v = v * 10 + (c - '0');
	}
	*i += (size_t)n;
	*out = v;
	return true;
}

/* A fraction after '.' or ',': 1+ digits, the first 9 count, the rest are
 * accepted and ignored (some loggers print picoseconds). */
static bool take_fraction(const char *s, size_t len, size_t *i, int64_t *ns)
{
	size_t j = *i;
	int64_t v = 0;
	int n = 0;
	while (j < len && is_digit(s[j])) {
		if (n < 9) {
			v = v * 10 + (s[j] - '0');
			n++;
		}
		j++;
	}
	if (j == *i)
		return false;
	for (; n < 9; n++)
		v *= 10;
	*i = j;
	*ns = v;
	return true;
}

static bool is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
	static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m == 2 && is_leap(y))
		return 29;
	return dm[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (m 1-12, d 1-31). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t mp = (m + 9) % 12;
	int64_t doy = (153 * mp + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Year of a time in ns since the epoch (UTC). */
static int64_t year_of(int64_t ns)
{
	const int64_t ns_per_day = 86400 * NS_PER_SEC;
	int64_t days = ns / ns_per_day;
	if (ns % ns_per_day < 0)
		days--; /* floor, for times before 1970 */
	/* Inverse of days_from_civil, year part only. */
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t m = mp < 10 ? mp + 3 : mp - 9;
	return yoe + era * 400 + (m <= 2);
}

/* "HH:MM:" (the seconds follow); sets the seconds of the day up to the minute. */
static bool take_hm(const char *s, size_t len, size_t *i, int64_t *sod)
{
	int hh, mm;
	size_t j = *i;
	if (!take_digits(s, len, &j, 2, &hh) || j >= len || s[j++] != ':' ||
	    !take_digits(s, len, &j, 2, &mm) || j >= len || s[j++] != ':')
		return false;
	if (hh > 23 || mm > 59)
		return false;
	*sod = (int64_t)hh * 3600 + mm * 60;
	*i = j;
	return true;
}

/* "SS" after take_hm. 60 is a leap second; it is counted as the first
 * second of the next minute. */
static bool take_ss(const char *s, size_t len, size_t *i, int64_t *sec)
{
	int ss;
	if (!take_digits(s, len, i, 2, &ss) || ss > 60)
		return false;
	*sec = ss;
	return true;
}

/* The optional .fff/,fff after the seconds; false when it is malformed. */
static bool take_opt_fraction(const char *s, size_t len, size_t *i, int64_t *frac)
{
	*frac = 0;
	if (*i < len && (s[*i] == '.' || s[*i] == ',')) {
		size_t k = *i + 1;
		if (!take_fraction(s, len, &k, frac))
			return false;
		*i = k;
	}
	return true;
}

/* A timestamp must stand alone: what follows is the end or a blank. */
static bool at_boundary(const char *s, size_t len, size_t i)
{
	return i == len || is_blank(s[i]);
}

/*
 * A stamp is parsed in two parts: the head, up to the minutes and the ':'
 * after them, whose bytes repeat from line to line (and which ts_cache
 * remembers), and the tail (seconds, fraction, zone, the blank after it).
 * The head looks at no byte past its own end, so equal head bytes always
 * mean the same head.
 */
enum { TS_NONE, TS_ISO, TS_SYSLOG };

#define ISO_DATE_LEN 10 /* "2026-11-21" */
#define ISO_HEAD_LEN 17 /* "2026-11-21T10:15:" */
#define ISO_MIN_LEN  19 /* "2026-11-21T10:15:02" */

/* "2026-11-21T10:15:": seconds since the epoch (before a zone offset). */
static bool iso_head(struct ts_cache *tc, const char *s, size_t len, int64_t *head_s)
{
	if (len < ISO_MIN_LEN)
		return false; /* a shorter text cannot hold a stamp */
	int64_t days;
	if (tc && tc->has_date && memcmp(s, tc->date, ISO_DATE_LEN) == 0) {
		days = tc->days;
	} else {
		size_t i = 0;
		int y, mo, d;
		if (!take_digits(s, len, &i, 4, &y) || s[i++] != '-' || !take_digits(s, len, &i, 2, &mo) ||
		    s[i++] != '-' || !take_digits(s, len, &i, 2, &d))
			return false;
		if (y < YEAR_MIN || y > YEAR_MAX || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
			return false;
		days = days_from_civil(y, mo, d);
		if (tc) {
			memcpy(tc->date, s, ISO_DATE_LEN);
			tc->days = days;
			tc->has_date = true;
		}
	}
	if (s[ISO_DATE_LEN] != 'T' && s[ISO_DATE_LEN] != 't' && s[ISO_DATE_LEN] != ' ')
		return false;
	size_t i = ISO_DATE_LEN + 1;
	int64_t sod;
	if (!take_hm(s, len, &i, &sod))
		return false;
	*head_s = days * 86400 + sod;
	return true;
}

/* After an ISO head at i: seconds, fraction, zone, boundary; returns the
 * end or 0. */
static size_t iso_tail(const char *s, size_t len, size_t i, int64_t head_s, int64_t *wall)
{
	int64_t sec, frac;
	if (!take_ss(s, len, &i, &sec) || !take_opt_fraction(s, len, &i, &frac))
		return 0;
	int64_t off_s = 0;
	if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i < len && (s[i] == '+' || s[i] == '-')) {
		int sign = s[i] == '-' ? -1 : 1;
		int oh, om = 0;
		size_t j = i + 1;
		if (!take_digits(s, len, &j, 2, &oh))
			return 0;
		if (j < len && s[j] == ':') {
			j++;
			if (!take_digits(s, len, &j, 2, &om))
				return 0;
		} else if (j + 1 < len && is_digit(s[j]) && is_digit(s[j + 1])) {
			take_digits(s, len, &j, 2, &om);
		}
		if (oh > 23 || om > 59)
			return 0;
		off_s = sign * ((int64_t)oh * 3600 + om * 60);
		i = j;
	}
	if (!at_boundary(s, len, i))
		return 0;
	*wall = (head_s + sec - off_s) * NS_PER_SEC + frac;
	return i;
}

/* The month of a syslog stamp's first three bytes (1-12), or 0. */
static int syslog_month(const char *s)
{
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	if (s[0] < 'A' || s[0] > 'S')
		return 0; /* no month starts so: most lines end here */
	for (int k = 0; k < 12; k++)
		if (s[0] == months[k][0] && s[1] == months[k][1] && s[2] == months[k][2])
			return k + 1;
	return 0;
}

/* "Nov 21 10:15:02", "Nov  1 10:15:02" (also "Nov 1 ..."): the month and
 * the seconds since it began; returns the end of the head or 0. */
static size_t syslog_head(const char *s, size_t len, int *month, int64_t *head_s)
{
	if (len < 3)
		return 0;
	int mo = syslog_month(s);
	if (!mo)
		return 0;
	size_t i = 3;
	if (i >= len || s[i++] != ' ')
		return 0;
	if (i < len && s[i] == ' ')
		i++; /* space-padded day */
	int d = 0;
	if (i < len && is_digit(s[i])) {
		d = s[i++] - '0';
		if (i < len && is_digit(s[i]))
			d = d * 10 + (s[i++] - '0');
	} else {
		return 0;
	}
	/* The year is unknown here, so February 29 is allowed. */
	if (d < 1 || d > (mo == 2 ? 29 : days_in_month(2001, mo)))
		return 0;
	if (i >= len || s[i++] != ' ')
		return 0;
	int64_t sod;
	if (!take_hm(s, len, &i, &sod))
		return 0;
	*month = mo;
	*head_s = (int64_t)(d - 1) * 86400 + sod;
	return i;
}

static inline bool same_word(const char *a, const char *b)
{
	uint64_t x, y;
	memcpy(&x, a, 8);
	memcpy(&y, b, 8);
	return x == y;
}

/* Equal bytes; inline, as keys are short (12 to TS_KEY_MAX bytes) and
 * compared on every line: overlapping 8-byte words cover them. */
static inline bool same_bytes(const char *a, const char *b, size_t n)
{
	if (n >= 8 && n <= 24)
		return same_word(a, b) && same_word(a + n - 8, b + n - 8) &&
		       (n <= 16 || same_word(a + 8, b + 8));
	return memcmp(a, b, n) == 0;
}

/* The head of a wall stamp at s, from the cache when its bytes repeat;
 * returns the head's kind and sets *end. */
static int wall_head(struct ts_cache *tc, const char *s, size_t len, size_t *end, int64_t *head_s, int *month)
{
	/* ISO stamps start with a digit, syslog ones with a month's capital:
	 * most other lines are told apart here */
	if (len == 0 || !(is_digit(s[0]) || (s[0] >= 'A' && s[0] <= 'S')))
		return TS_NONE;
	if (tc && tc->kind != TS_NONE && len >= tc->key_len && same_bytes(s, tc->key, tc->key_len)) {
		*end = tc->key_len;
		*head_s = tc->head_s;
		*month = tc->month;
		return tc->kind;
	}
	int kind = TS_NONE;
	if (iso_head(tc, s, len, head_s)) {
		kind = TS_ISO;
		*end = ISO_HEAD_LEN;
		*month = 0;
	} else if ((*end = syslog_head(s, len, month, head_s)) != 0) {
		kind = TS_SYSLOG;
	}
	if (tc && kind != TS_NONE && *end <= TS_KEY_MAX) {
		tc->kind = (unsigned char)kind;
		tc->key_len = (unsigned char)*end;
		memcpy(tc->key, s, *end);
		tc->head_s = *head_s;
		tc->month = *month;
	}
	return kind;
}

/* "[    0.000000]" (spaces, seconds, optional fraction); returns the end or 0.
 * A caller field "[T123]" / "[ C1]" right after it is skipped too. */
static size_t parse_printk(const char *s, size_t len, int64_t *ns)
{
	size_t i = 0;
	if (i >= len || s[i++] != '[')
		return 0;
	while (i < len && s[i] == ' ')
		i++;
	int64_t sec = 0;
	size_t start = i;
	while (i < len && is_digit(s[i])) {
		if (i - start >= PRINTK_MAX_SEC_DIGITS)
			return 0;
		sec = sec * 10 + (s[i] - '0');
		i++;
	}
	if (i == start)
		return 0;
	int64_t frac = 0;
	if (i < len && s[i] == '.') {
		i++;
		if (!take_fraction(s, len, &i, &frac))
			return 0;
	}
	if (i >= len || s[i++] != ']')
		return 0;
	/* CONFIG_PRINTK_CALLER adds "[    T1]" or "[    C0]". */
	if (i < len && s[i] == '[') {
		size_t j = i + 1;
		while (j < len && s[j] == ' ')
			j++;
		if (j < len && (s[j] == 'T' || s[j] == 'C')) {
			size_t k = j + 1;
			while (k < len && k - j <= 10 && is_digit(s[k]))
				k++;
			if (k > j + 1 && k < len && s[k] == ']')
				i = k + 1;
		}
	}
	*ns = sec * NS_PER_SEC + frac;
	return i;
}

/* Days from 1970-01-01 to the first of each month of 1970 (no leap year). */
static const int days_1970[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};

void ts_parse_prefix_cached(struct ts_cache *tc, const char *s, size_t len, struct ts_prefix *out)
{
	memset(out, 0, sizeof(*out));
	size_t i = 0, e = 0;
	int64_t head_s = 0;
	int mo = 0;
	switch (wall_head(tc, s, len, &e, &head_s, &mo)) {
	case TS_ISO: {
		int64_t wall;
		if ((e = iso_tail(s, len, e, head_s, &wall)) != 0) {
			out->has_wall = true;
			out->wall_ns = wall;
			i = e;
		}
		break;
	}
	case TS_SYSLOG: {
		int64_t sec, frac;
		if (take_ss(s, len, &e, &sec) && take_opt_fraction(s, len, &e, &frac) &&
		    at_boundary(s, len, e)) {
			out->has_wall = true;
			out->wall_no_year = true;
			out->wall_month = mo;
			out->wall_in_month_ns = (head_s + sec) * NS_PER_SEC + frac;
			out->wall_ns = days_1970[mo - 1] * 86400 * NS_PER_SEC + out->wall_in_month_ns;
			i = e;
		}
		break;
	}
	default:
		break;
	}
	if (out->has_wall)
		while (i < len && is_blank(s[i]))
			i++;
	int64_t pk;
	if ((e = parse_printk(s + i, len - i, &pk)) != 0) {
		out->has_printk = true;
		out->printk_ns = pk;
		i += e;
		while (i < len && is_blank(s[i]))
			i++;
	}
	out->body = i;
}

void ts_parse_prefix(const char *s, size_t len, struct ts_prefix *out)
{
	ts_parse_prefix_cached(NULL, s, len, out);
}

void clock_prefix(struct clock *c, const char *s, size_t len, struct ts_prefix *out)
{
	ts_parse_prefix_cached(&c->tcache, s, len, out);
}

void clock_init(struct clock *c, enum clock_mode mode)
{
	memset(c, 0, sizeof(*c));
	c->mode = mode;
	/* a log's syslog stamps are most likely from this year, not from 1970 */
	if (mode == CLOCK_LOG)
		clock_set_year_hint(c, (int)year_of(clock_realtime_ns()));
}

void clock_set_year_hint(struct clock *c, int year)
{
	c->year_hint = year >= YEAR_MIN && year < YEAR_MAX ? year : 0;
}

int64_t clock_monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

int64_t clock_realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

/* Hands out t, never earlier than what was handed out before in the same base. */
static void hand_out(struct clock *c, int64_t t, unsigned flags, int64_t *out_t, unsigned *out_flags)
{
	flags &= TIME_BITS;
	if ((c->flags & LINE_TIME_KNOWN) && (c->flags & LINE_TIME_WALL) == (flags & LINE_TIME_WALL) &&
	    t < c->now)
		t = c->now;
	c->now = t;
	c->flags = flags;
	*out_t = t;
	*out_flags = flags;
}

/* ns of the first of month m of year y; the last answer is kept, as
 * consecutive syslog lines are nearly always in the same month. */
static int64_t month_start(struct clock *c, int64_t y, int m)
{
	if (!c->month_valid || c->month_year != y || c->month_m != m) {
		c->month_ns = days_from_civil(y, m, 1) * 86400 * NS_PER_SEC;
		c->month_year = y;
		c->month_m = m;
		c->month_valid = true;
	}
	return c->month_ns;
}

/* year_of(ns), without the division while ns stays in the same year. */
static int64_t year_cached(struct clock *c, int64_t ns)
{
	if (c->year_valid && ns >= c->year_lo && ns < c->year_hi)
		return c->year;
	int64_t y = year_of(ns);
	if (y >= YEAR_MIN && y < YEAR_MAX) {
		c->year = y;
		c->year_lo = days_from_civil(y, 1, 1) * 86400 * NS_PER_SEC;
		c->year_hi = days_from_civil(y + 1, 1, 1) * 86400 * NS_PER_SEC;
		c->year_valid = true;
	}
	return y;
}

/* A syslog stamp in the year of the last known wall time; a stamp that
 * would land far before it belongs to the next year (Dec 31 → Jan 1).
 * Before any wall time: the year hint, or 1970 without one. */
static int64_t syslog_time(struct clock *c, const struct ts_prefix *p)
{
	if (!(c->flags & LINE_TIME_WALL) || !(c->flags & LINE_TIME_KNOWN)) {
		if (!c->year_hint)
			return p->wall_ns;
		return month_start(c, c->year_hint, p->wall_month) + p->wall_in_month_ns;
	}
	int64_t y = year_cached(c, c->now);
	if (y < YEAR_MIN || y >= YEAR_MAX)
		return p->wall_ns;
	int64_t t = month_start(c, y, p->wall_month) + p->wall_in_month_ns;
	if (t < c->now - 180 * 86400 * NS_PER_SEC)
		t = month_start(c, y + 1, p->wall_month) + p->wall_in_month_ns;
	return t;
}

static void clock_log_line(struct clock *c, const struct ts_prefix *p, int64_t feed_time, unsigned feed_flags,
                           int64_t *t, unsigned *flags)
{
	if (p->has_wall) {
		int64_t w = p->wall_no_year ? syslog_time(c, p) : p->wall_ns;
		hand_out(c, w, LINE_TIME_KNOWN | LINE_TIME_WALL, t, flags);
		if (p->has_printk) {
			/* Both stamps on one line pin the printk base exactly. */
			c->printk_anchored = true;
			c->printk_base = *t - p->printk_ns;
			c->printk_flags = LINE_TIME_WALL;
			c->last_printk = p->printk_ns;
		}
		return;
	}
	if (p->has_printk) {
		if (!c->printk_anchored || p->printk_ns < c->last_printk) {
			/* First stamp, new boot (the counter went back) or a new
			 * epoch: this boot started at the last known time. */
			bool known = c->flags & LINE_TIME_KNOWN;
			c->printk_base = known ? c->now : 0;
			c->printk_flags = known ? (c->flags & LINE_TIME_WALL) : 0;
			c->printk_anchored = true;
		}
		c->last_printk = p->printk_ns;
		int64_t base = c->printk_base;
		int64_t at = base > INT64_MAX - p->printk_ns ? INT64_MAX : base + p->printk_ns;
		hand_out(c, at, LINE_TIME_KNOWN | c->printk_flags, t, flags);
		return;
	}
	/* A replayed capture dates its bytes by its index (replay.h): a wall
	 * feed time stands in for a missing timestamp prefix. */
	if ((feed_flags & (LINE_TIME_KNOWN | LINE_TIME_WALL)) == (LINE_TIME_KNOWN | LINE_TIME_WALL)) {
		hand_out(c, feed_time, feed_flags, t, flags);
		return;
	}
	*t = c->now;
	*flags = c->flags;
}

void clock_line(struct clock *c, const struct ts_prefix *p, int64_t feed_time, unsigned feed_flags,
                int64_t *t, unsigned *flags)
{
	if (c->mode == CLOCK_LOG) {
		clock_log_line(c, p, feed_time, feed_flags, t, flags);
		return;
	}
	if (feed_flags & LINE_TIME_KNOWN) {
		hand_out(c, feed_time, feed_flags, t, flags);
		return;
	}
	*t = c->now;
	*flags = c->flags;
}

void clock_new_epoch(struct clock *c)
{
	c->printk_anchored = false;
}

void clock_advance(struct clock *c, int64_t d)
{
	if (d > 0)
		c->now = (c->now > 0 && d > INT64_MAX - c->now) ? INT64_MAX : c->now + d;
	c->flags |= LINE_TIME_KNOWN;
}
