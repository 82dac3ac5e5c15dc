/*
 * test_clock.c — timestamp prefixes (ISO-8601, syslog, printk), what is
 * rejected, and the clock modes: feed time, log time, monotonicity, printk
 * re-anchoring, syslog years and the year hint, the virtual clock, and
 * that the prefix cache never changes an answer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "emsagent/clock.h"
#include "emsagent/line.h"
#include "emsagent/util.h"

#define S(x)  ((int64_t)(x)*NS_PER_SEC)
#define MS(x) ((int64_t)(x)*NS_PER_MS)

/* 2026-11-21T10:15:02Z */
#define T_2026_11_21 INT64_C(1795256102)

static struct ts_prefix parse(const char *s)
{
	struct ts_prefix p;
	memset(&p, 0xAA, sizeof(p)); /* the parser must set everything */
	ts_parse_prefix(s, strlen(s), &p);
	return p;
}

static void assert_no_stamp(const char *s)
{
	struct ts_prefix p = parse(s);
	if (p.has_wall || p.has_printk || p.body != 0)
		fail_msg("accepted as a timestamp: \"%s\" (body %zu)", s, p.body);
}

static void test_iso_forms(void **state)
{
	(void)state;
	struct ts_prefix p = parse("2026-11-21T10:15:02Z hello");
	assert_true(p.has_wall);
	assert_false(p.wall_no_year);
	assert_false(p.has_printk);
	assert_int_equal(p.wall_ns, S(T_2026_11_21));
	assert_int_equal(p.body, 21);

	p = parse("2026-11-21T10:15:02.123Z x");
	assert_int_equal(p.wall_ns, S(T_2026_11_21) + MS(123));
	assert_int_equal(p.body, 25);

	p = parse("2026-11-21 10:15:02,5 x");
	assert_true(p.has_wall);
	assert_int_equal(p.wall_ns, S(T_2026_11_21) + MS(500));
	assert_int_equal(p.body, 22);

	/* a zone offset: 11:15:02+01:00 is 10:15:02Z */
	p = parse("2026-11-21T11:15:02+01:00\tmsg");
	assert_int_equal(p.wall_ns, S(T_2026_11_21));
	assert_int_equal(p.body, 26);
	p = parse("2026-11-21T04:45:02-0530 msg");
	assert_int_equal(p.wall_ns, S(T_2026_11_21));

	/* no zone: UTC; nine-plus fraction digits: ns precision, rest ignored */
	p = parse("2026-11-21T10:15:02.123456789123 a");
	assert_int_equal(p.wall_ns, S(T_2026_11_21) + 123456789);

	/* the whole line is a stamp */
	p = parse("2026-11-21T10:15:02Z");
	assert_true(p.has_wall);
	assert_int_equal(p.body, 20);

	/* leap day in a leap year, and before 1970 */
	p = parse("2024-02-29T00:00:00Z x");
	assert_true(p.has_wall);
	assert_int_equal(p.wall_ns, S(1709164800));
	p = parse("1969-12-31T23:00:00Z x");
	assert_int_equal(p.wall_ns, S(-3600));
}

static void test_syslog_forms(void **state)
{
	(void)state;
	struct ts_prefix p = parse("Nov 21 10:15:02 host kernel: x");
	assert_true(p.has_wall);
	assert_true(p.wall_no_year);
	assert_int_equal(p.wall_month, 11);
	/* without a year the stamp is placed in 1970 */
	assert_int_equal(p.wall_ns, S(28030502));
	assert_int_equal(p.body, 16);
	assert_int_equal(p.wall_in_month_ns, S(20 * 86400 + 10 * 3600 + 15 * 60 + 2));

	p = parse("Nov  1 00:00:01 x");
	assert_true(p.has_wall);
	assert_int_equal(p.wall_in_month_ns, S(1));
	assert_int_equal(p.body, 16);

	p = parse("Jan 5 23:59:59 x");
	assert_true(p.has_wall);
	assert_int_equal(p.wall_month, 1);
	assert_int_equal(p.wall_in_month_ns, S(4 * 86400 + 86399));

	/* February 29 may be valid in the year the clock supplies */
	p = parse("Feb 29 12:00:00 x");
	assert_true(p.has_wall);
}

static void test_printk_forms(void **state)
{
	(void)state;
	struct ts_prefix p = parse("[    0.000000] Linux version");
	assert_false(p.has_wall);
	assert_true(p.has_printk);
	assert_int_equal(p.printk_ns, 0);
	assert_int_equal(p.body, 15);

	p = parse("[   12.345678] x");
	assert_int_equal(p.printk_ns, S(12) + 345678000);

	p = parse("[12345] x");
	assert_true(p.has_printk);
	assert_int_equal(p.printk_ns, S(12345));

	/* after an ISO stamp and after a syslog stamp */
	p = parse("2026-11-21T10:15:02Z [    1.500000] eth0: link up");
	assert_true(p.has_wall);
	assert_true(p.has_printk);
	assert_int_equal(p.printk_ns, MS(1500));
	assert_int_equal(p.body, 36);
	p = parse("Nov 21 10:15:02 [    2.000000]   body");
	assert_true(p.has_wall && p.has_printk);
	assert_int_equal(p.body, 33);

	/* the CONFIG_PRINTK_CALLER field */
	p = parse("[    3.000000][    T1] init");
	assert_true(p.has_printk);
	assert_int_equal(p.printk_ns, S(3));
	assert_int_equal(p.body, 23);

	/* a bracket that is not a caller field stays in the body */
	p = parse("[    3.000000][x] init");
	assert_int_equal(p.body, 14);
}

static void test_rejects(void **state)
{
	(void)state;
	assert_no_stamp("2026-13-40T10:15:02Z x");
	assert_no_stamp("2026-11-31T10:15:02Z x"); /* November has 30 days */
	assert_no_stamp("2026-02-29T10:15:02Z x"); /* 2026 is no leap year */
	assert_no_stamp("2026-11-21T24:00:00Z x");
	assert_no_stamp("2026-11-21T10:60:00Z x");
	assert_no_stamp("2026-11-21T10:15:61Z x");
	assert_no_stamp("2026-11-21T10:15:02+25:00 x");
	assert_no_stamp("2026-11-21T10:15:02Zjunk");
	assert_no_stamp("2026-11-21T10:15:02. x");
	assert_no_stamp("2026-11-21 x");
	assert_no_stamp("2026-11-21T10:15 x");
	assert_no_stamp("26-11-21T10:15:02Z x");
	assert_no_stamp("Foo 21 10:15:02 x");
	assert_no_stamp("Nov 32 10:15:02 x");
	assert_no_stamp("Nov 00 10:15:02 x");
	assert_no_stamp("Apr 31 10:15:02 x");
	assert_no_stamp("nov 21 10:15:02 x");
	assert_no_stamp("Nov 21 10:15 x");
	assert_no_stamp("Nov 21 10:15:02x");
	assert_no_stamp("[abc] x");
	assert_no_stamp("[] x");
	assert_no_stamp("[ 1.2 x");
	assert_no_stamp("[ 1.] x");
	assert_no_stamp("[ -1.0] x");
	assert_no_stamp("[1234567890.0] x");       /* more seconds digits than a boot can have */
	assert_no_stamp("0026-11-21T10:15:02Z x"); /* outside the years int64 ns can hold */
	assert_no_stamp("2300-01-01T00:00:00Z x");
	assert_no_stamp("");
	assert_no_stamp("plain text");
	assert_no_stamp(" 2026-11-21T10:15:02Z leading blank");

	/* a good wall stamp followed by a bad printk: the printk part is body */
	struct ts_prefix p = parse("2026-11-21T10:15:02Z [abc] x");
	assert_true(p.has_wall);
	assert_false(p.has_printk);
	assert_int_equal(p.body, 21);
}

/* Prefixes must not read past len even when the text goes on. */
static void test_length_bound(void **state)
{
	(void)state;
	const char *s = "2026-11-21T10:15:02Z x";
	struct ts_prefix p;
	ts_parse_prefix(s, 19, &p); /* cut inside the zone: "…10:15:02" */
	assert_true(p.has_wall);
	assert_int_equal(p.body, 19);
	ts_parse_prefix(s, 10, &p);
	assert_false(p.has_wall);
	ts_parse_prefix("[ 1.0] x", 5, &p);
	assert_false(p.has_printk);
}

static void line_time(struct clock *c, const char *s, int64_t feed, unsigned ff, int64_t *t, unsigned *f)
{
	struct ts_prefix p;
	ts_parse_prefix(s, strlen(s), &p);
	clock_line(c, &p, feed, ff, t, f);
}

static void test_live_and_virtual(void **state)
{
	(void)state;
	struct clock c;
	int64_t t;
	unsigned f;
	clock_init(&c, CLOCK_LIVE);
	/* live time is the feed time, timestamps in the text are ignored */
	line_time(&c, "2026-11-21T10:15:02Z x", S(5), LINE_TIME_KNOWN, &t, &f);
	assert_int_equal(t, S(5));
	assert_int_equal(f, LINE_TIME_KNOWN);
	line_time(&c, "x", S(7), LINE_TIME_KNOWN, &t, &f);
	assert_int_equal(t, S(7));
	assert_int_equal(c.now, S(7));
	/* a feed without a time: the last one */
	line_time(&c, "x", 0, 0, &t, &f);
	assert_int_equal(t, S(7));
	assert_int_equal(f, LINE_TIME_KNOWN);

	clock_init(&c, CLOCK_VIRTUAL);
	line_time(&c, "x", 0, 0, &t, &f);
	assert_int_equal(f, 0); /* nothing known yet */
	clock_advance(&c, 31 * 60 * NS_PER_SEC);
	assert_int_equal(c.now, S(31 * 60));
	assert_true(c.flags & LINE_TIME_KNOWN);
	line_time(&c, "x", c.now, LINE_TIME_KNOWN, &t, &f);
	assert_int_equal(t, S(31 * 60));
	assert_int_equal(f, LINE_TIME_KNOWN);
	clock_advance(&c, -5); /* time does not go back */
	assert_int_equal(c.now, S(31 * 60));
	clock_advance(&c, INT64_MAX);
	assert_int_equal(c.now, INT64_MAX);
}

static void test_log_wall(void **state)
{
	(void)state;
	struct clock c;
	int64_t t;
	unsigned f;
	clock_init(&c, CLOCK_LOG);
	/* before any stamp: time unknown, feed time ignored */
	line_time(&c, "boot", S(99), LINE_TIME_KNOWN, &t, &f);
	assert_int_equal(f, 0);
	line_time(&c, "2026-11-21T10:15:02Z a", S(99), LINE_TIME_KNOWN, &t, &f);
	assert_int_equal(t, S(T_2026_11_21));
	assert_int_equal(f, LINE_TIME_KNOWN | LINE_TIME_WALL);
	/* no stamp: the last known time */
	line_time(&c, "b", 0, 0, &t, &f);
	assert_int_equal(t, S(T_2026_11_21));
	assert_int_equal(f, LINE_TIME_KNOWN | LINE_TIME_WALL);
	/* a stamp in the past does not move time back */
	line_time(&c, "2026-11-21T09:15:02Z c", 0, 0, &t, &f);
	assert_int_equal(t, S(T_2026_11_21));
	line_time(&c, "2026-11-21T10:15:03Z d", 0, 0, &t, &f);
	assert_int_equal(t, S(T_2026_11_21 + 1));
}

static void test_log_syslog_year(void **state)
{
	(void)state;
	struct clock c;
	int64_t t;
	unsigned f;
	clock_init(&c, CLOCK_LOG);
	/* no year known and no hint: 1970 */
	clock_set_year_hint(&c, 0);
	line_time(&c, "Nov 21 10:15:02 a", 0, 0, &t, &f);
	assert_int_equal(t, S(28030502));

	/* a year from an earlier ISO stamp */
	clock_init(&c, CLOCK_LOG);
	line_time(&c, "2026-11-21T10:00:00Z a", 0, 0, &t, &f);
	line_time(&c, "Nov 21 10:15:02 b", 0, 0, &t, &f);
	assert_int_equal(t, S(T_2026_11_21));
	assert_int_equal(f, LINE_TIME_KNOWN | LINE_TIME_WALL);
	/* the year turns over */
	line_time(&c, "Dec 31 23:59:59 c", 0, 0, &t, &f);
	assert_int_equal(t, S(1798761599));
	line_time(&c, "Jan  1 00:00:05 d", 0, 0, &t, &f);
	assert_int_equal(t, S(1798761605));
}

static void test_log_printk(void **state)
{
	(void)state;
	struct clock c;
	int64_t t;
	unsigned f;
	clock_init(&c, CLOCK_LOG);
	/* printk only, nothing else known: relative to boot */
	line_time(&c, "[    1.000000] a", 0, 0, &t, &f);
	assert_int_equal(t, S(1));
	assert_int_equal(f, LINE_TIME_KNOWN);
	line_time(&c, "[    2.500000] b", 0, 0, &t, &f);
	assert_int_equal(t, MS(2500));
	line_time(&c, "no stamp", 0, 0, &t, &f);
	assert_int_equal(t, MS(2500));
	assert_int_equal(f, LINE_TIME_KNOWN);
	/* the counter goes back: a new boot, anchored at the last time */
	line_time(&c, "[    0.000000] Linux version", 0, 0, &t, &f);
	assert_int_equal(t, MS(2500));
	line_time(&c, "[    0.500000] c", 0, 0, &t, &f);
	assert_int_equal(t, S(3));
	/* clock_new_epoch re-anchors even when the counter goes on */
	clock_new_epoch(&c);
	line_time(&c, "[    1.000000] d", 0, 0, &t, &f);
	assert_int_equal(t, S(4));
	line_time(&c, "[    2.000000] e", 0, 0, &t, &f);
	assert_int_equal(t, S(5));
}

static void test_log_printk_wall_anchor(void **state)
{
	(void)state;
	struct clock c;
	int64_t t;
	unsigned f;
	clock_init(&c, CLOCK_LOG);
	/* both stamps on a line pin the base; printk-only lines follow it */
	line_time(&c, "2026-11-21T10:15:02Z [   10.000000] a", 0, 0, &t, &f);
	assert_int_equal(t, S(T_2026_11_21));
	line_time(&c, "[   12.000000] b", 0, 0, &t, &f);
	assert_int_equal(t, S(T_2026_11_21 + 2));
	assert_int_equal(f, LINE_TIME_KNOWN | LINE_TIME_WALL);
	/* a wall time first, then printk alone: anchored at that wall time */
	clock_init(&c, CLOCK_LOG);
	line_time(&c, "2026-11-21T10:15:02Z up", 0, 0, &t, &f);
	line_time(&c, "[    3.000000] x", 0, 0, &t, &f);
	assert_int_equal(t, S(T_2026_11_21 + 3));
	assert_int_equal(f, LINE_TIME_KNOWN | LINE_TIME_WALL);
}

/* Whatever the stamps do, handed-out times never go backwards. */
static void test_log_monotonic(void **state)
{
	(void)state;
	static const char *const lines[] = {
	    "[    5.000000] a",
	    "2026-11-21T10:15:02Z b",
	    "[    1.000000] c",
	    "2026-11-21T10:00:00Z d",
	    "Nov 21 09:00:00 e",
	    "[    0.100000] f",
	    "x",
	    "[    9.000000] g",
	    "2026-11-21T10:15:00Z [    0.000000] h",
	    "[    0.000001] i",
	};
	struct clock c;
	clock_init(&c, CLOCK_LOG);
	int64_t prev = INT64_MIN, t;
	unsigned prevf = 0, f;
	for (size_t i = 0; i < ARRAY_LEN(lines); i++) {
		if (i == 6)
			clock_new_epoch(&c);
		line_time(&c, lines[i], 0, 0, &t, &f);
		assert_true(f & LINE_TIME_KNOWN);
		if ((f & LINE_TIME_WALL) == (prevf & LINE_TIME_WALL) && t < prev)
			fail_msg("line %zu (\"%s\") went back: %lld < %lld", i, lines[i], (long long)t,
			         (long long)prev);
		prev = t;
		prevf = f;
	}
}

/* Before any wall time, syslog stamps take the year hint: by default the
 * current UTC year, or one that is set; a wall time, once known, wins. */
static void test_log_syslog_year_hint(void **state)
{
	(void)state;
	struct clock c;
	int64_t t;
	unsigned f;

	/* the default: this year (worked out here with gmtime_r) */
	time_t now = time(NULL);
	struct tm tm;
	assert_non_null(gmtime_r(&now, &tm));
	int year = tm.tm_year + 1900;
	clock_init(&c, CLOCK_LOG);
	line_time(&c, "Mar  1 00:00:00 a", 0, 0, &t, &f);
	assert_int_equal(f, LINE_TIME_KNOWN | LINE_TIME_WALL);
	struct tm want = {.tm_year = year - 1900, .tm_mon = 2, .tm_mday = 1};
	assert_int_equal(t, S(timegm(&want)));

	/* a set hint; February 29 is a real day in a leap year */
	clock_init(&c, CLOCK_LOG);
	clock_set_year_hint(&c, 2024);
	line_time(&c, "Feb 29 12:00:00 a", 0, 0, &t, &f);
	assert_int_equal(t, S(1709208000)); /* 2024-02-29T12:00:00Z */
	/* and the next stamps follow the year of that time */
	line_time(&c, "Dec 31 23:59:59 b", 0, 0, &t, &f);
	assert_int_equal(t, S(1735689599)); /* 2024-12-31T23:59:59Z */
	line_time(&c, "Jan  1 00:00:01 c", 0, 0, &t, &f);
	assert_int_equal(t, S(1735689601)); /* 2025-01-01 */

	/* an ISO stamp before: its year, not the hint */
	clock_init(&c, CLOCK_LOG);
	clock_set_year_hint(&c, 2001);
	line_time(&c, "2026-11-21T10:00:00Z a", 0, 0, &t, &f);
	line_time(&c, "Nov 21 10:15:02 b", 0, 0, &t, &f);
	assert_int_equal(t, S(T_2026_11_21));

	/* a printk time is no wall time: the hint still decides */
	clock_init(&c, CLOCK_LOG);
	clock_set_year_hint(&c, 2026);
	line_time(&c, "[    5.000000] a", 0, 0, &t, &f);
	assert_int_equal(f, LINE_TIME_KNOWN);
	line_time(&c, "Nov 21 10:15:02 b", 0, 0, &t, &f);
	assert_int_equal(t, S(T_2026_11_21));
	assert_int_equal(f, LINE_TIME_KNOWN | LINE_TIME_WALL);

	/* years the clock cannot hold remove the hint */
	clock_init(&c, CLOCK_LOG);
	clock_set_year_hint(&c, 3000);
	line_time(&c, "Nov 21 10:15:02 a", 0, 0, &t, &f);
	assert_int_equal(t, S(28030502));
	clock_init(&c, CLOCK_LOG);
	clock_set_year_hint(&c, -5);
	line_time(&c, "Nov 21 10:15:02 a", 0, 0, &t, &f);
	assert_int_equal(t, S(28030502));

	/* live and virtual clocks have no hint (their times come from the feed) */
	clock_init(&c, CLOCK_VIRTUAL);
	assert_int_equal(c.year_hint, 0);
}

static void assert_same_prefix(const struct ts_prefix *a, const struct ts_prefix *b, const char *s)
{
	if (a->body != b->body || a->has_wall != b->has_wall || a->wall_ns != b->wall_ns ||
	    a->has_printk != b->has_printk || a->printk_ns != b->printk_ns ||
	    a->wall_no_year != b->wall_no_year || a->wall_month != b->wall_month ||
	    a->wall_in_month_ns != b->wall_in_month_ns)
		fail_msg("cached parse differs for \"%s\": body %zu/%zu wall %d/%d %lld/%lld printk %d/%d", s,
		         a->body, b->body, a->has_wall, b->has_wall, (long long)a->wall_ns,
		         (long long)b->wall_ns, a->has_printk, b->has_printk);
}

/* clock_prefix (with its cache) says exactly what ts_parse_prefix says,
 * whatever came before: lines that repeat the cached bytes and then go
 * wrong, shorter lines, the other kind of stamp. */
static void test_prefix_cache(void **state)
{
	(void)state;
	static const char *const lines[] = {
	    "2026-11-21T10:15:02Z a",
	    "2026-11-21T10:15:03.5Z b",
	    "2026-11-21T10:15:61Z c", /* same head, bad seconds */
	    "2026-11-21T10:15:0",     /* same head, cut */
	    "2026-11-21T10:15:",
	    "2026-11-21T10:15:04+01:00 d",
	    "2026-11-21T10:15:05Zjunk",
	    "2026-11-21T10:16:00 [   1.5] e", /* same date, new minute */
	    "2026-11-21 10:16:00 f",
	    "2026-11-21x10:16:00 g", /* same date, bad separator */
	    "2026-11-22T00:00:00Z h",
	    "2026-02-29T00:00:00Z i", /* no such day: never cached */
	    "Nov 21 10:15:02 j",
	    "Nov 21 10:15:03.25 k",
	    "Nov 21 10:15:99 l",
	    "Nov 21 10:15:0",
	    "Nov 21 10:15:04x",
	    "Nov 21 10:15:05\t[    3.000000] m",
	    "Nov  1 10:15:05 n",
	    "Nov 1 10:15:05 o",
	    "Nov 1 10:15:06 p",
	    "2026-11-21T10:15:06Z q",
	    "Nov 1 10:15:07 r",
	    "[    4.000000] s",
	    "plain",
	    "",
	    "Nov 1 10:15:08",
	};
	struct clock c;
	clock_init(&c, CLOCK_LOG);
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < ARRAY_LEN(lines); i++) {
			struct ts_prefix a, b;
			memset(&a, 0x55, sizeof(a));
			clock_prefix(&c, lines[i], strlen(lines[i]), &a);
			ts_parse_prefix(lines[i], strlen(lines[i]), &b);
			assert_same_prefix(&a, &b, lines[i]);
		}
	}

	/* random mutations of stamps, each parsed after its neighbour */
	static const char *const seeds[] = {"2026-11-21T10:15:02.123+01:00 x", "Dec 31 23:59:60,5 y",
	                                    "1999-12-31 23:59:59Z [ 12.5] z", "Feb 29 00:00:00 w"};
	static const char alphabet[] = "0123456789 :-+.,TZz[]JanFebDec";
	uint64_t r = 0x1234567;
	char buf[64];
	clock_init(&c, CLOCK_LOG);
	for (int n = 0; n < 200000; n++) {
		r = r * 6364136223846793005ull + 1442695040888963407ull;
		const char *seed = seeds[(r >> 33) % ARRAY_LEN(seeds)];
		size_t len = strlen(seed);
		memcpy(buf, seed, len + 1);
		for (int m = (int)((r >> 40) % 3); m > 0; m--) {
			r = r * 6364136223846793005ull + 1442695040888963407ull;
			buf[(r >> 33) % len] = alphabet[(r >> 45) % (sizeof(alphabet) - 1)];
		}
		if ((r >> 50) % 4 == 0)
			len = (r >> 20) % (len + 1); /* cut */
		struct ts_prefix a, b;
		clock_prefix(&c, buf, len, &a);
		ts_parse_prefix(buf, len, &b);
		buf[len] = '\0';
		assert_same_prefix(&a, &b, buf);
	}
}

/* The year and month caches of syslog placement follow the clock. */
static void test_log_syslog_caches(void **state)
{
	(void)state;
	struct clock c;
	int64_t t;
	unsigned f;
	clock_init(&c, CLOCK_LOG);
	line_time(&c, "2024-12-31T23:00:00Z a", 0, 0, &t, &f);
	/* alternate months and years: each answer computed afresh must match */
	line_time(&c, "Dec 31 23:30:00 b", 0, 0, &t, &f);
	assert_int_equal(t, S(1735687800)); /* 2024-12-31T23:30:00Z */
	line_time(&c, "Jan  1 00:30:00 c", 0, 0, &t, &f);
	assert_int_equal(t, S(1735691400)); /* 2025-01-01T00:30:00Z */
	line_time(&c, "Jan  1 00:31:00 d", 0, 0, &t, &f);
	assert_int_equal(t, S(1735691460));
	line_time(&c, "Feb  1 00:00:00 e", 0, 0, &t, &f);
	assert_int_equal(t, S(1738368000));               /* 2025-02-01 */
	line_time(&c, "Jan 31 00:00:00 f", 0, 0, &t, &f); /* earlier: held at the last time */
	assert_int_equal(t, S(1738368000));
	line_time(&c, "2027-06-01T00:00:00Z g", 0, 0, &t, &f);
	line_time(&c, "Jun  1 00:00:01 h", 0, 0, &t, &f);
	assert_int_equal(t, S(1811808001)); /* 2027-06-01T00:00:01Z */
}

static void test_monotonic_realtime(void **state)
{
	(void)state;
	int64_t a = clock_monotonic_ns(), b = clock_monotonic_ns();
	assert_true(b >= a);
	assert_true(clock_realtime_ns() > S(1600000000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_iso_forms),
	    cmocka_unit_test(test_syslog_forms),
	    cmocka_unit_test(test_printk_forms),
	    cmocka_unit_test(test_rejects),
	    cmocka_unit_test(test_length_bound),
	    cmocka_unit_test(test_live_and_virtual),
	    cmocka_unit_test(test_log_wall),
	    cmocka_unit_test(test_log_syslog_year),
	    cmocka_unit_test(test_log_printk),
	    cmocka_unit_test(test_log_printk_wall_anchor),
	    cmocka_unit_test(test_log_monotonic),
	    cmocka_unit_test(test_monotonic_realtime),
	    cmocka_unit_test(test_log_syslog_year_hint),
	    cmocka_unit_test(test_prefix_cache),
	    cmocka_unit_test(test_log_syslog_caches),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
