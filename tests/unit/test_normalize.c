/*
 * test_normalize.c — the normaliser: line terminators, escapes, backspace,
 * control bytes, the length cap, partial lines, offsets, line numbers and
 * times, and the property that any split of the input (whole, byte by byte,
 * random chunkings with fixed seeds) gives the identical lines and records,
 * and the same EMS records as a parser fed every line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "emsagent/normalize.h"
#include "emsagent/util.h"

struct got_line {
	char *text;
	size_t len;
	unsigned flags;
	uint64_t offset, lineno;
	int64_t time_ns;
};

struct got_ems {
	struct ems_record rec;
	size_t after_lines; /* lines delivered before this record */
};

struct got {
	struct got_line *lines;
	size_t n, cap;
	struct got_ems *ems;
	size_t nems, capems;
};

static void on_line(void *ctx, const struct line *ln)
{
	struct got *g = ctx;
	assert_non_null(ln->text);
	assert_int_equal(ln->text[ln->len], '\0');
	assert_int_equal(ln->body, 0);
	assert_true(ln->len <= LINE_MAX_LEN);
	xgrow((void **)&g->lines, &g->cap, g->n + 1, sizeof(*g->lines));
	struct got_line *l = &g->lines[g->n++];
	l->text = xmalloc(ln->len + 1);
	memcpy(l->text, ln->text, ln->len + 1);
	l->len = ln->len;
	l->flags = ln->flags;
	l->offset = ln->offset;
	l->lineno = ln->lineno;
	l->time_ns = ln->time_ns;
}

static void on_ems(void *ctx, const struct ems_record *rec)
{
	struct got *g = ctx;
	xgrow((void **)&g->ems, &g->capems, g->nems + 1, sizeof(*g->ems));
	g->ems[g->nems].rec = *rec;
	g->ems[g->nems].after_lines = g->n;
	g->nems++;
}

static void got_free(struct got *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->lines[i].text);
	free(g->lines);
	free(g->ems);
	memset(g, 0, sizeof(*g));
}

/* Deterministic xorshift so every run chunks the same way. */
static uint32_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (uint32_t)(*s >> 32);
}

/*
 * Feeds in with chunk sizes: maxchunk 0 = whole, 1 = byte by byte, else
 * random sizes 1..maxchunk from seed. Then norm_finish.
 */
static void feed_split(struct got *g, const char *in, size_t len, size_t maxchunk, uint64_t seed)
{
	memset(g, 0, sizeof(*g));
	struct norm *n = norm_new(on_line, on_ems, g);
	size_t o = 0;
	uint64_t s = seed ? seed : 1;
	while (o < len) {
		size_t k = maxchunk == 0 ? len - o : maxchunk == 1 ? 1 : 1 + rnd(&s) % maxchunk;
		if (k > len - o)
			k = len - o;
		norm_feed(n, in + o, k, 0, 0);
		o += k;
	}
	/* an empty feed changes nothing */
	norm_feed(n, in, 0, 0, 0);
	assert_int_equal(norm_offset(n), len);
	norm_finish(n, 0, 0);
	norm_free(n);
}

static void run(struct got *g, const char *in, size_t len)
{
	feed_split(g, in, len, 0, 0);
}

#define RUN(g, lit) run(g, lit, sizeof(lit) - 1)

static void expect_line(const struct got *g, size_t i, const char *text, size_t len, unsigned flags)
{
	if (i >= g->n)
		fail_msg("line %zu missing (%zu lines)", i, g->n);
	const struct got_line *l = &g->lines[i];
	if (l->len != len || memcmp(l->text, text, len) != 0)
		fail_msg("line %zu: got \"%s\" (%zu), want \"%s\" (%zu)", i, l->text, l->len, text, len);
	if (l->flags != flags)
		fail_msg("line %zu \"%s\": flags %#x, want %#x", i, l->text, l->flags, flags);
}

/* Lines given as a NULL-terminated list of C strings, flags 0 except the
 * last when last_flags is set. */
static void expect_texts(const struct got *g, const char *const *want, unsigned last_flags)
{
	size_t k = 0;
	while (want[k])
		k++;
	if (g->n != k) {
		for (size_t i = 0; i < g->n; i++)
			print_message("  got[%zu] = \"%s\" flags %#x\n", i, g->lines[i].text,
			              g->lines[i].flags);
		fail_msg("got %zu lines, want %zu", g->n, k);
	}
	for (size_t i = 0; i < k; i++)
		expect_line(g, i, want[i], strlen(want[i]), i + 1 == k ? last_flags : 0);
}

static void check_texts(const char *in, size_t len, const char *const *want, unsigned last_flags)
{
	struct got g;
	run(&g, in, len);
	expect_texts(&g, want, last_flags);
	got_free(&g);
}

#define CHECK(lit, last_flags, ...)                                                                          \
	do {                                                                                                 \
		static const char *const want_[] = {__VA_ARGS__, NULL};                                      \
		check_texts(lit, sizeof(lit) - 1, want_, last_flags);                                        \
	} while (0)

static void test_terminators(void **state)
{
	(void)state;
	struct got g;
	RUN(&g, "a\r\nb\n\rc\rd\ne\r\n\r\nf");
	assert_int_equal(g.n, 7);
	static const struct {
		const char *t;
		uint64_t off;
	} want[] = {{"a", 0}, {"b", 3}, {"c", 6}, {"d", 8}, {"e", 10}, {"", 13}, {"f", 15}};
	for (size_t i = 0; i < 7; i++) {
		expect_line(&g, i, want[i].t, strlen(want[i].t), i == 6 ? LINE_PARTIAL : 0);
		assert_int_equal(g.lines[i].offset, want[i].off);
		assert_int_equal(g.lines[i].lineno, i + 1);
	}
	got_free(&g);

	CHECK("10%\r20%\r30%\r\n", 0, "10%", "20%", "30%");
	CHECK("\n\n", 0, "", "");
	CHECK("\r\r", 0, "", "");
	CHECK("\r\n\r\n", 0, "", "");
	CHECK("\n\r\n\r", 0, "", "");
	CHECK("\r\n\n", 0, "", "");
	CHECK("x\n\r\r\n", 0, "x", "");
	/* NUL padding after CR does not break the pair, nor start the next line */
	RUN(&g, "a\r\0\0\nb\n");
	expect_texts(&g, (const char *const[]){"a", "b", NULL}, 0);
	assert_int_equal(g.lines[1].offset, 5);
	got_free(&g);
}

/* The partner of a terminator arrives in the next feed call. */
static void test_pair_across_feeds(void **state)
{
	(void)state;
	struct got g = {0};
	struct norm *n = norm_new(on_line, on_ems, &g);
	norm_feed(n, "a\r", 2, 0, 0);
	assert_int_equal(g.n, 1); /* emitted at the CR, not later */
	norm_feed(n, "\n", 1, 0, 0);
	norm_feed(n, "b\n", 2, 0, 0);
	norm_feed(n, "\r", 1, 0, 0);
	norm_feed(n, "\r", 1, 0, 0);
	norm_finish(n, 0, 0);
	norm_free(n);
	expect_texts(&g, (const char *const[]){"a", "b", "", NULL}, 0);
	assert_int_equal(g.lines[1].offset, 3);
	assert_int_equal(g.lines[2].offset, 6);
	got_free(&g);
}

static void test_csi(void **state)
{
	(void)state;
	CHECK("\x1b[1;31mred\x1b[0m text\n", 0, "red text");
	CHECK("abc\x1b[2Jdef\x1b[3Jghi\n", 0, "abc", "def", "ghi");
	CHECK("abc\x1b[Jdef\x1b[1J\x1b[0Jghi\n", 0, "abcdefghi");
	CHECK("abc\x1b[5;10Hdef\x1b[Hghi\x1b[1;1fjk\n", 0, "abc", "def", "ghi", "jk");
	CHECK("a\x1b[Ab\x1b[2Bc\x1b[Ed\x1b[Fe\x1b[3df\n", 0, "a", "b", "c", "d", "e", "f");
	CHECK("a\x1b[Gb\x1b[1Gc\x1b[10Gd\n", 0, "a", "b", "c d");
	CHECK("a\x1b[Cb\x1b[5Cc \x1b[Cd\x1b[C\n", 0, "a b c d ");
	CHECK("\x1b[Cx\n", 0, "x");
	/* erase in line, cursor back, private modes, intermediates: dropped */
	CHECK("a\x1b[Kb\x1b[2Dc\x1b[?25ld\x1b[?1049he\x1b[>0cf\x1b[!pg\x1b[2 qh\n", 0, "abcdefgh");
	/* private-marker forms of acting finals are not acted on */
	CHECK("a\x1b[?5Cb\x1b[=1Hc\x1b[>2Jd\n", 0, "abcd");
	/* screen set-up as the boot manager sends it: nothing left over */
	CHECK("\x1b[2J\x1b[1;1H\x1b[0m\x1b[37;40mWindows Boot Manager\r\n", 0, "Windows Boot Manager");
	/* a huge parameter does not overflow */
	CHECK("a\x1b[99999999999999999999Hb\n", 0, "a", "b");
	/* addressing within the row the cursor is on is a gap, not a new line
	 * (GRUB draws a menu row as text, a jump to column 79, a border) */
	CHECK("\x1b[5;2H|\x1b[5;3H*Debian GNU/Linux\x1b[5;79H|\x1b[6;2H|\x1b[6;79H|\n", 0,
	      "| *Debian GNU/Linux |", "| |");
	/* column 1 of the same row starts it over; after a newline the row is unknown */
	CHECK("\x1b[3;5Habc\x1b[3;1Hdef\r\n\x1b[3;5Hghi\n", 0, "abc", "def", "ghi");
	/* a screen clear forgets the row */
	CHECK("\x1b[4;1Hab\x1b[2J\x1b[4;9Hcd\n", 0, "ab", "cd");
	/* the row survives parameters past the second */
	CHECK("\x1b[7;2;9Hx\x1b[7;20Hy\n", 0, "x y");
}

static void test_esc_other(void **state)
{
	(void)state;
	CHECK("a\x1b"
	      "cb\n",
	      0, "a", "b");
	CHECK("a\x1b"
	      "Db\x1b"
	      "Ec\x1bMd\n",
	      0, "a", "b", "c", "d");
	CHECK("a\x1b"
	      "7b\x1b"
	      "8c\x1b(Bd\x1b#8e\x1b=f\x1b>g\n",
	      0, "abcdefg");
	/* OSC ended by BEL or ST, DCS/SOS/PM/APC by ST */
	CHECK("t\x1b]0;title\x07u\x1b]2;x\x1b\\v\n", 0, "tuv");
	CHECK("w\x1bPq#0;2;0;0;0\x07still\x1b\\x\x1b_apc\x1b\\y\x1b^pm\x1b\\z\x1bXsos\x1b\\!\n", 0, "wxyz!");
	/* CR/LF inside a string or sequence abandon it and end the line */
	CHECK("a\x1b]0;tit\r\nb\n", 0, "a", "b");
	CHECK("a\x1b[12\nb\n", 0, "a", "b");
	/* an ESC inside a string that is not ST starts a new sequence */
	CHECK("a\x1b]0;t\x1b[1mb\n", 0, "ab");
	CHECK("a\x1b]0;t\x1b[Hb\n", 0, "a", "b");
	/* CAN/SUB abort, ESC restarts, DEL inside is ignored */
	CHECK("a\x1b[1\x18"
	      "b\x1b]x\x1a"
	      "c\n",
	      0, "abc");
	CHECK("a\x1b\x1b[1mb\n", 0, "ab");
	CHECK("a\x1b[1\x7fmb\n", 0, "ab");
	/* a byte >= 0x80 abandons a 7-bit sequence and is kept */
	CHECK("a\x1b\xc3\xa9\n", 0, "a\xc3\xa9");
	CHECK("a\x1b[1\xc3\xa9\n", 0, "a\xc3\xa9");
	/* 8-bit C1 CSI is text */
	CHECK("a\x9b"
	      "31mb\n",
	      0,
	      "a\x9b"
	      "31mb");
	CHECK("a\xc2\x9b"
	      "1mb\n",
	      0,
	      "a\xc2\x9b"
	      "1mb");
}

/* An escape sequence is abandoned after 256 bytes and the rest is text. */
static void test_esc_bound(void **state)
{
	(void)state;
	char in[400], want[400];
	size_t o = 0;
	in[o++] = 0x1b;
	in[o++] = ']';
	memset(in + o, 'x', 300);
	o += 300;
	in[o++] = '\n';
	struct got g;
	run(&g, in, o);
	assert_int_equal(g.n, 1);
	/* ESC and ']' are bytes 1 and 2 of the sequence, 254 x's complete it */
	memset(want, 'x', 46);
	expect_line(&g, 0, want, 46, 0);
	got_free(&g);

	o = 0;
	in[o++] = 0x1b;
	in[o++] = '[';
	memset(in + o, '1', 300);
	o += 300;
	in[o++] = 'm';
	in[o++] = '\n';
	run(&g, in, o);
	memset(want, '1', 46);
	want[46] = 'm';
	expect_line(&g, 0, want, 47, 0);
	got_free(&g);
}

static void test_backspace_and_controls(void **state)
{
	(void)state;
	CHECK("abc\b\bX\n", 0, "aX");
	CHECK("caf\xc3\xa9\b!\n", 0, "caf!");
	CHECK("\xe2\x82\xac\b\n", 0, "");
	CHECK("a\xf0\x9f\x98\x80\bb\n", 0, "ab");
	CHECK("ab\x80\b\n", 0, "ab");               /* a lone continuation byte: one byte */
	CHECK("a\xf0\x9f\x98\b\n", 0, "a\xf0\x9f"); /* incomplete sequence: one byte */
	CHECK("\b\bab\n", 0, "ab");
	CHECK("Password: ***\b\b\b\n", 0, "Password: ");
	CHECK("a\0b\x07"
	      "c\x7f"
	      "d\x01\x02\x0b\x0c\x0e\x1f"
	      "e\tf\n",
	      0, "abcde\tf");
	CHECK("\xff\xfe\xc3(\n", 0, "\xff\xfe\xc3(");
}

static void test_long_lines(void **state)
{
	(void)state;
	char *in = xmalloc(3 * LINE_MAX_LEN);
	struct got g;

	memset(in, 'a', 5000);
	in[5000] = '\n';
	run(&g, in, 5001);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.lines[0].len, LINE_MAX_LEN);
	assert_int_equal(g.lines[0].flags, LINE_CUT);
	assert_int_equal(g.lines[0].offset, 0);
	assert_int_equal(g.lines[1].len, 5000 - LINE_MAX_LEN);
	assert_int_equal(g.lines[1].flags, LINE_CONT);
	assert_int_equal(g.lines[1].offset, LINE_MAX_LEN);
	assert_int_equal(g.lines[1].lineno, 2);
	got_free(&g);

	/* exactly the cap: not cut */
	memset(in, 'b', LINE_MAX_LEN);
	in[LINE_MAX_LEN] = '\n';
	run(&g, in, LINE_MAX_LEN + 1);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.lines[0].len, LINE_MAX_LEN);
	assert_int_equal(g.lines[0].flags, 0);
	got_free(&g);

	/* twice and a bit, with escapes inside: CUT, CUT|CONT, CONT */
	size_t o = 0;
	for (size_t i = 0; i < 2 * LINE_MAX_LEN + 10; i++) {
		in[o++] = (char)('a' + i % 26);
		if (i % 1000 == 999) {
			memcpy(in + o, "\x1b[1m", 4);
			o += 4;
		}
	}
	in[o++] = '\r';
	in[o++] = '\n';
	run(&g, in, o);
	assert_int_equal(g.n, 3);
	assert_int_equal(g.lines[0].flags, LINE_CUT);
	assert_int_equal(g.lines[1].flags, LINE_CUT | LINE_CONT);
	assert_int_equal(g.lines[2].flags, LINE_CONT);
	assert_int_equal(g.lines[2].len, 10);
	assert_int_equal(g.lines[1].text[0], 'a' + LINE_MAX_LEN % 26);
	/* the second piece starts at the byte that did not fit: 4 escapes before it */
	assert_int_equal(g.lines[1].offset, LINE_MAX_LEN + 4 * 4);
	got_free(&g);

	/* a partial cut line is offered with LINE_CONT */
	memset(in, 'c', LINE_MAX_LEN + 3);
	run(&g, in, LINE_MAX_LEN + 3);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.lines[1].flags, LINE_CONT | LINE_PARTIAL);
	assert_int_equal(g.lines[1].len, 3);
	got_free(&g);
	free(in);
}

static void test_partial(void **state)
{
	(void)state;
	struct got g = {0};
	struct norm *n = norm_new(on_line, NULL, &g);
	norm_feed(n, "line\r\nSAC>", 10, 100, LINE_TIME_KNOWN);
	assert_int_equal(g.n, 1);
	norm_flush_partial(n, 200, LINE_TIME_KNOWN);
	assert_int_equal(g.n, 2);
	expect_line(&g, 1, "SAC>", 4, LINE_PARTIAL | LINE_TIME_KNOWN);
	assert_int_equal(g.lines[1].lineno, 2);
	assert_int_equal(g.lines[1].offset, 6);
	assert_int_equal(g.lines[1].time_ns, 200);
	/* unchanged: not offered again */
	norm_flush_partial(n, 300, LINE_TIME_KNOWN);
	assert_int_equal(g.n, 2);
	/* an escape that changes nothing is not a change either */
	norm_feed(n, "\x1b[0m", 4, 310, LINE_TIME_KNOWN);
	norm_flush_partial(n, 320, LINE_TIME_KNOWN);
	assert_int_equal(g.n, 2);
	norm_feed(n, "x", 1, 400, LINE_TIME_KNOWN);
	norm_flush_partial(n, 500, LINE_TIME_KNOWN);
	assert_int_equal(g.n, 3);
	expect_line(&g, 2, "SAC>x", 5, LINE_PARTIAL | LINE_TIME_KNOWN);
	assert_int_equal(g.lines[2].lineno, 2);
	/* the completed line still comes, with the number the partials carried */
	norm_feed(n, "\r\n", 2, 600, LINE_TIME_KNOWN | LINE_TIME_WALL);
	assert_int_equal(g.n, 4);
	expect_line(&g, 3, "SAC>x", 5, LINE_TIME_KNOWN | LINE_TIME_WALL);
	assert_int_equal(g.lines[3].lineno, 2);
	assert_int_equal(g.lines[3].offset, 6);
	assert_int_equal(g.lines[3].time_ns, 600);
	/* nothing to offer on an empty line */
	norm_flush_partial(n, 700, LINE_TIME_KNOWN);
	assert_int_equal(g.n, 4);
	/* an offered line is not offered again by finish ... */
	norm_feed(n, "!SAC>", 5, 800, LINE_TIME_KNOWN);
	norm_flush_partial(n, 900, LINE_TIME_KNOWN);
	assert_int_equal(g.n, 5);
	norm_finish(n, 1000, LINE_TIME_KNOWN);
	assert_int_equal(g.n, 5);
	norm_free(n);
	got_free(&g);

	/* ... but a changed or never offered one is */
	memset(&g, 0, sizeof(g));
	n = norm_new(on_line, NULL, &g);
	norm_feed(n, "grub rescue> ", 13, 5, LINE_TIME_KNOWN);
	norm_finish(n, 7, LINE_TIME_KNOWN);
	assert_int_equal(g.n, 1);
	expect_line(&g, 0, "grub rescue> ", 13, LINE_PARTIAL | LINE_TIME_KNOWN);
	assert_int_equal(g.lines[0].lineno, 1);
	assert_int_equal(g.lines[0].time_ns, 7);
	norm_finish(n, 8, 0); /* twice: nothing more */
	assert_int_equal(g.n, 1);
	norm_free(n);
	got_free(&g);
}

/* A line's time is that of the feed call that completed it; only the time
 * bits of time_flags are copied. */
static void test_times(void **state)
{
	(void)state;
	struct got g = {0};
	struct norm *n = norm_new(on_line, NULL, &g);
	norm_feed(n, "abc", 3, 1, LINE_TIME_KNOWN);
	norm_feed(n, "def\nghi", 7, 2, LINE_TIME_KNOWN | LINE_TIME_WALL | LINE_PARTIAL | LINE_CUT | 0x100);
	norm_feed(n, "\n", 1, 3, 0);
	norm_finish(n, 4, 0);
	norm_free(n);
	assert_int_equal(g.n, 2);
	expect_line(&g, 0, "abcdef", 6, LINE_TIME_KNOWN | LINE_TIME_WALL);
	assert_int_equal(g.lines[0].time_ns, 2);
	expect_line(&g, 1, "ghi", 3, 0);
	assert_int_equal(g.lines[1].time_ns, 3);
	assert_int_equal(g.lines[1].offset, 7);
	got_free(&g);
}

static void test_null_callbacks(void **state)
{
	(void)state;
	struct norm *n = norm_new(NULL, NULL, NULL);
	static const char in[] = "a\r\n\a\a\a<?xml>\a<BP>\r\n</BP>\a\n\rSAC>";
	norm_feed(n, in, sizeof(in) - 1, 0, 0);
	norm_flush_partial(n, 0, 0);
	norm_finish(n, 0, 0);
	assert_int_equal(norm_offset(n), sizeof(in) - 1);
	norm_free(n);
}

static void assert_same(const struct got *a, const struct got *b, const char *what)
{
	if (a->n != b->n)
		fail_msg("%s: %zu lines vs %zu", what, a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		const struct got_line *x = &a->lines[i], *y = &b->lines[i];
		if (x->len != y->len || memcmp(x->text, y->text, x->len) != 0 || x->flags != y->flags ||
		    x->offset != y->offset || x->lineno != y->lineno)
			fail_msg("%s: line %zu differs: \"%s\" %#x off %llu no %llu vs \"%s\" %#x off %llu "
			         "no %llu",
			         what, i, x->text, x->flags, (unsigned long long)x->offset,
			         (unsigned long long)x->lineno, y->text, y->flags,
			         (unsigned long long)y->offset, (unsigned long long)y->lineno);
	}
	if (a->nems != b->nems)
		fail_msg("%s: %zu EMS records vs %zu", what, a->nems, b->nems);
	for (size_t i = 0; i < a->nems; i++) {
		const struct ems_record *x = &a->ems[i].rec, *y = &b->ems[i].rec;
		assert_int_equal(a->ems[i].after_lines, b->ems[i].after_lines);
		assert_int_equal(x->kind, y->kind);
		assert_int_equal(x->has_stopcode, y->has_stopcode);
		assert_int_equal(x->stopcode, y->stopcode);
		assert_string_equal(x->stopcode_text, y->stopcode_text);
		assert_int_equal(x->has_machine_info, y->has_machine_info);
		assert_string_equal(x->mi.name, y->mi.name);
		assert_string_equal(x->mi.guid, y->mi.guid);
		assert_string_equal(x->mi.os_build, y->mi.os_build);
		assert_int_equal(x->truncated, y->truncated);
		assert_int_equal(x->offset, y->offset);
	}
}

/* Whole, byte by byte, and random chunkings must agree exactly. */
static void check_split_invariance(const char *in, size_t len, const char *what)
{
	struct got whole, other;
	feed_split(&whole, in, len, 0, 0);
	feed_split(&other, in, len, 1, 0);
	assert_same(&whole, &other, what);
	got_free(&other);
	for (uint64_t seed = 1; seed <= 24; seed++) {
		size_t maxchunk = seed % 3 == 0 ? 2 : seed % 3 == 1 ? 17 : 5000;
		feed_split(&other, in, len, maxchunk, seed * 0x9E3779B97F4A7C15ull);
		assert_same(&whole, &other, what);
		got_free(&other);
	}
	got_free(&whole);
}

static const char tricky_ems[] =
    "\a\a\a<?xml>\a<BP>"
    "\r\n<INSTANCE CLASSNAME=\"BLUESCREEN\">"
    "\r\n<PROPERTY NAME=\"STOPCODE\" TYPE=\"string\"><VALUE>\"0xE2\"</VALUE></PROPERTY>"
    "<machine-info>\r\n<name>VM&amp;1</name>\r\n"
    "<guid>00000000-0000-0000-0000-000000000000</guid>\r\n"
    "<os-build-number>20348</os-build-number>\r\n</machine-info>\r\n"
    "\r\n</INSTANCE>\r\n</BP>\a\n\r!SAC>";

static void test_split_invariance(void **state)
{
	(void)state;
	static const char *const inputs[] = {
	    "a\r\nb\n\rc\rd\ne\r\n\r\nf\r\r\n\n\r\n\r",
	    "10%\r20%\r30%\r\nDone\n\r\n",
	    "\x1b[2J\x1b[1;1H\x1b[0m\x1b[37;40mWindows Boot Manager\x1b[5;10HStart\x1b[K\x1b[6;10Hx\r\n",
	    "t\x1b]0;title\x07u\x1b]2;x\x1b\\v\x1bPq#0\x1b\\w\x1b]0;tit\r\nb\x1b[?25l\x1b(B\x1b"
	    "7\x1b"
	    "8\x1b"
	    "c\n",
	    "abc\b\bX\ncaf\xc3\xa9\b!\n\b\b\x7f\0\a\x01\tz\r\0\0\nq\n",
	    "a\x1b[Cb\x1b[5Cc \x1b[Cd\x1b[1Ge\x1b[10Gf\x1b[2Ag\x1b"
	    "Dh\x1b\x1b[1mi\x1b[1\x18j\x9b"
	    "1mk\n",
	    tricky_ems,
	    "<machine-info>\r\n<name>standalone</name>\r\n</machine-info>\r\n<BP>\r\nnever closed\r\n",
	};
	for (size_t i = 0; i < ARRAY_LEN(inputs); i++) {
		char what[32];
		snprintf(what, sizeof(what), "input %zu", i);
		check_split_invariance(inputs[i], strlen(inputs[i]), what);
	}

	/* all of them in one stream, and long lines cut in the middle of escapes */
	struct buf b = {0};
	for (size_t i = 0; i < ARRAY_LEN(inputs); i++)
		buf_append(&b, inputs[i], strlen(inputs[i]));
	for (size_t i = 0; i < 3 * LINE_MAX_LEN; i++) {
		buf_putc(&b, (char)('a' + i % 26));
		if (i % 777 == 0)
			buf_append(&b, "\x1b[31m\xc3\xa9\b", 8);
	}
	buf_append(&b, "\r\n", 2);
	buf_append(&b, tricky_ems, sizeof(tricky_ems) - 1);
	check_split_invariance(b.data, b.len, "all");

	/* and the EMS record came out of the stream */
	struct got g;
	run(&g, b.data, b.len);
	size_t bugchecks = 0;
	for (size_t i = 0; i < g.nems; i++)
		if (g.ems[i].rec.kind == EMS_BUGCHECK && !g.ems[i].rec.truncated)
			bugchecks++;
	assert_true(bugchecks >= 2);
	got_free(&g);
	buf_free(&b);
}

/* Random bytes weighted towards the interesting ones: nothing breaks, every
 * line is bounded, numbering is dense, any split agrees. */
static void test_random_bytes(void **state)
{
	(void)state;
	static const char alphabet[] =
	    "\x1b\x1b\x1b[[]]\r\r\n\n\b\a\0\x7f\x18\x9b\xc3\xa9;0123456789HJGCABm?P\\_^Xc<>/BP"
	    "machine-info name VALUE\"0xE2\" \t";
	const size_t len = 200000;
	char *in = xmalloc(len);
	uint64_t s = 42;
	for (size_t i = 0; i < len; i++) {
		uint32_t r = rnd(&s);
		in[i] = (r & 0x300) == 0 ? (char)(r & 0xFF) : alphabet[r % (sizeof(alphabet) - 1)];
		if (r % 5000 == 0 && i + 3000 < len) { /* now and then a long run of text */
			memset(in + i, 'L', 3000);
			i += 2999;
		}
	}
	struct got g;
	run(&g, in, len);
	assert_true(g.n > 1000);
	uint64_t prev_off = 0;
	size_t complete = 0;
	for (size_t i = 0; i < g.n; i++) {
		const struct got_line *l = &g.lines[i];
		assert_true(l->len <= LINE_MAX_LEN);
		assert_true(l->offset < len);
		assert_true(l->offset >= prev_off);
		prev_off = l->offset;
		if (!(l->flags & LINE_PARTIAL))
			assert_int_equal(l->lineno, ++complete);
		for (size_t k = 0; k < l->len; k++) {
			unsigned char c = (unsigned char)l->text[k];
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				fail_msg("control byte %#x in line %zu", c, i);
		}
	}
	got_free(&g);
	check_split_invariance(in, 20000, "random");
	free(in);
}

/* The normaliser hands the EMS parser only the lines that can matter to it
 * (those with a '<', and the plain lines an open record may still count).
 * The records, and where they come out among the lines, must be exactly
 * those of a parser fed every complete line. */
struct ref_ems {
	struct got got; /* what the normaliser delivered */
	struct got ref; /* records of the parser fed every line; lines unused but counted */
	struct ems_parser p;
};

static void ref_on_ems(void *ctx, const struct ems_record *rec)
{
	struct ref_ems *r = ctx;
	xgrow((void **)&r->ref.ems, &r->ref.capems, r->ref.nems + 1, sizeof(*r->ref.ems));
	r->ref.ems[r->ref.nems].rec = *rec;
	r->ref.ems[r->ref.nems].after_lines = r->got.n;
	r->ref.nems++;
}

static void ref_on_line(void *ctx, const struct line *ln)
{
	struct ref_ems *r = ctx;
	on_line(&r->got, ln);
	if (!(ln->flags & LINE_PARTIAL))
		ems_feed_line(&r->p, ln->text, ln->len, ln->offset);
}

static void ref_on_norm_ems(void *ctx, const struct ems_record *rec)
{
	struct ref_ems *r = ctx;
	on_ems(&r->got, rec);
}

static void check_ems_like_every_line(const char *in, size_t len, const char *what)
{
	struct ref_ems r;
	memset(&r, 0, sizeof(r));
	ems_init(&r.p, ref_on_ems, &r);
	struct norm *n = norm_new(ref_on_line, ref_on_norm_ems, &r);
	norm_feed(n, in, len, 0, 0);
	norm_finish(n, 0, 0);
	ems_finish(&r.p);
	norm_free(n);
	/* compare the records only: the reference holds no lines */
	r.ref.n = r.got.n;
	if (r.got.nems != r.ref.nems)
		fail_msg("%s: %zu EMS records, the every-line parser gives %zu", what, r.got.nems,
		         r.ref.nems);
	struct got lines_only = r.got;
	lines_only.ems = r.ref.ems;
	assert_same(&r.got, &lines_only, what);
	r.ref.n = 0;
	got_free(&r.got);
	got_free(&r.ref);
}

#define APPEND(b, lit) buf_append(b, lit, sizeof(lit) - 1)

static void test_ems_skips_plain_lines(void **state)
{
	(void)state;
	struct buf b = {0};
	/* a record that never closes: cut by the line bound, 100 plain lines on */
	APPEND(&b, "<BP>\r\n");
	for (int i = 0; i < 100; i++)
		APPEND(&b, "plain line\r\n");
	APPEND(&b, "</BP>\r\n");
	check_ems_like_every_line(b.data, b.len, "unclosed");
	struct got g;
	run(&g, b.data, b.len);
	assert_int_equal(g.nems, 1);
	assert_true(g.ems[0].rec.truncated);
	assert_int_equal(g.ems[0].after_lines, 1 + EMS_MAX_RECORD_LINES);
	got_free(&g);

	/* one that closes after plain lines, well inside the bound */
	buf_reset(&b);
	APPEND(&b, "x\r\n<BP>\r\n");
	for (int i = 0; i < EMS_MAX_RECORD_LINES - 3; i++)
		APPEND(&b, "plain\r\n");
	APPEND(&b, "<PROPERTY NAME=\"STOPCODE\"><VALUE>\"0x50\"</VALUE></PROPERTY></BP>\r\nafter\r\n");
	check_ems_like_every_line(b.data, b.len, "closed");
	run(&g, b.data, b.len);
	assert_int_equal(g.nems, 1);
	assert_false(g.ems[0].rec.truncated);
	assert_true(g.ems[0].rec.has_stopcode);
	assert_int_equal(g.ems[0].rec.stopcode, 0x50);
	got_free(&g);

	/* the '<' in the first part of a cut line, then plain lines */
	buf_reset(&b);
	APPEND(&b, "<machine-info>");
	for (size_t i = 0; i < LINE_MAX_LEN + 100; i++)
		buf_putc(&b, 'a');
	APPEND(&b, "\r\n");
	for (int i = 0; i < 80; i++)
		APPEND(&b, "plain\r\n");
	check_ems_like_every_line(b.data, b.len, "cut");
	/* the '<' in the part after the cut, of the same run of text */
	buf_reset(&b);
	for (size_t i = 0; i < LINE_MAX_LEN + 50; i++)
		buf_putc(&b, 'a');
	APPEND(&b, "<BP>\r\n");
	for (int i = 0; i < 80; i++)
		APPEND(&b, "plain\r\n");
	check_ems_like_every_line(b.data, b.len, "cut after");
	run(&g, b.data, b.len);
	assert_int_equal(g.nems, 1);
	got_free(&g);

	/* a '<' that enters the line as an escape sequence gives up (the byte
	 * after ESC_MAX is kept as text) */
	buf_reset(&b);
	APPEND(&b, "\x1b[");
	for (int i = 0; i < 254; i++)
		buf_putc(&b, '1');
	APPEND(&b, "<BP>\r\n");
	for (int i = 0; i < 80; i++)
		APPEND(&b, "plain\r\n");
	check_ems_like_every_line(b.data, b.len, "escape");
	run(&g, b.data, b.len);
	assert_true(g.n >= 1);
	assert_memory_equal(g.lines[0].text, "<BP>", 4);
	assert_int_equal(g.nems, 1);
	got_free(&g);

	/* the samples above, and random bytes rich in tags */
	check_ems_like_every_line(tricky_ems, sizeof(tricky_ems) - 1, "tricky");
	static const char alphabet[] = "<<<>>>/BP machine-info name \r\n\n\x1b[1;2H\t\a\bplain text";
	char *in = xmalloc(300000);
	uint64_t s = 7;
	for (size_t i = 0; i < 300000; i++) {
		uint32_t r = rnd(&s);
		in[i] = alphabet[r % (sizeof(alphabet) - 1)];
		if (r % 3000 == 0 && i + 6000 < 300000) { /* long plain stretches: records run out */
			for (size_t k = 0; k < 6000; k++)
				in[i + k] = k % 40 == 39 ? '\n' : 'p';
			i += 5999;
		}
	}
	check_ems_like_every_line(in, 300000, "random");
	free(in);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_terminators),
	    cmocka_unit_test(test_pair_across_feeds),
	    cmocka_unit_test(test_csi),
	    cmocka_unit_test(test_esc_other),
	    cmocka_unit_test(test_esc_bound),
	    cmocka_unit_test(test_backspace_and_controls),
	    cmocka_unit_test(test_long_lines),
	    cmocka_unit_test(test_partial),
	    cmocka_unit_test(test_times),
	    cmocka_unit_test(test_null_callbacks),
	    cmocka_unit_test(test_split_invariance),
	    cmocka_unit_test(test_random_bytes),
	    cmocka_unit_test(test_ems_skips_plain_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
