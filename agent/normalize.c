/*
 * normalize.c — console bytes to lines (design §6, contract in normalize.h).
 *
 * A byte-at-a-time state machine handles escapes, line terminators and
 * control bytes; between them, runs of plain text are found with SSE2 (or a
 * class table) and copied into the line in the same pass, because plain
 * text is nearly all of a console's output and the normaliser must not be
 * the bottleneck. The same pass notes a '<', so that the EMS parser only
 * sees the lines that can matter to it.
 *
 * Every piece of state survives across norm_feed calls (escape state, the
 * CR/LF partner still to swallow, the line being built), so any split of the
 * input gives the same lines as one big buffer.
 *
 * Choices the contract leaves open, made here:
 *  - a line's offset is that of the first byte consumed after the previous
 *    line ended (a swallowed CR/LF partner, and bytes that add no text
 *    while that partner may still come, do not count); an empty line ended
 *    by a terminator has the terminator's offset;
 *  - a CR/LF partner is swallowed across bytes that add no text (NUL
 *    padding, BEL, escape sequences), as a terminal would show it;
 *  - a CR or LF inside an escape sequence or an OSC/DCS string abandons the
 *    sequence and ends the line: a stray ESC ] can never swallow lines;
 *  - cutting at LINE_MAX_LEN happens when a byte arrives for a full line, so
 *    a line of exactly LINE_MAX_LEN bytes is not cut.
 */
#include "emsagent/normalize.h"

#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "emsagent/util.h"

/* An escape sequence longer than this is garbage: give up and go back to text. */
#define ESC_MAX 256

enum esc_state {
	ST_TEXT,
	ST_ESC,       /* after ESC */
	ST_ESC_INTER, /* ESC + intermediates (ESC ( B, ESC # 8): waiting for the final byte */
	ST_CSI,       /* ESC [ params intermediates final */
	ST_OSC,       /* ESC ] ... BEL or ESC \ */
	ST_STR,       /* DCS/SOS/PM/APC ... ESC \ */
	ST_STR_ESC,   /* ESC inside OSC/STR: '\' ends the string */
};

#define C_BS  0x08
#define C_TAB 0x09
#define C_LF  0x0A
#define C_CR  0x0D
#define C_CAN 0x18
#define C_SUB 0x1A
#define C_ESC 0x1B
#define C_DEL 0x7F
#define C_BEL 0x07

#define TIME_BITS     (LINE_TIME_KNOWN | LINE_TIME_WALL)
#define CSI_PARAM_CAP 65535u

struct norm {
	norm_line_fn on_line;
	norm_ems_fn on_ems;
	void *ctx;
	uint64_t off;    /* raw bytes consumed before the current feed */
	uint64_t lineno; /* complete lines emitted */
	int64_t t_ns;    /* time of the current feed call */
	unsigned t_flags;

	/* the current line */
	size_t len;
	bool started; /* line_off is valid */
	bool cont;    /* continues a cut line */
	bool dirty;   /* changed since it was last offered as partial */
	uint64_t line_off;
	unsigned char pair; /* CR or LF to swallow (the partner of the last terminator), or 0 */

	/* escape parsing */
	enum esc_state st;
	size_t esc_len;
	unsigned csi_p[2]; /* first two numeric parameters (row;col for H) */
	unsigned csi_np;   /* index of the parameter being read */
	unsigned row;      /* cursor row from the last addressing, 0 = unknown */
	bool csi_private;  /* '?', '<', '=', '>' first: private modes, all dropped */
	bool csi_inter;    /* intermediate bytes: not a sequence we act on */

	struct ems_parser ems;
	bool lt;              /* the current line may hold a '<' (so a tag) */
	unsigned ems_pending; /* plain lines the EMS parser must still see */
	char line[LINE_MAX_LEN + 1];
};

static void ems_cb(void *ctx, const struct ems_record *rec)
{
	struct norm *n = ctx;
	if (n->on_ems)
		n->on_ems(n->ctx, rec);
}

struct norm *norm_new(norm_line_fn on_line, norm_ems_fn on_ems, void *ctx)
{
	struct norm *n = xcalloc(1, sizeof(*n));
	n->on_line = on_line;
	n->on_ems = on_ems;
	n->ctx = ctx;
	ems_init(&n->ems, ems_cb, n);
	return n;
}

void norm_free(struct norm *n)
{
	free(n);
}

uint64_t norm_offset(const struct norm *n)
{
	return n->off;
}

static void start_line(struct norm *n, uint64_t o)
{
	if (!n->started) {
		n->started = true;
		n->line_off = o;
	}
}

static void clear_line(struct norm *n)
{
	n->len = 0;
	n->lt = false;
	n->started = false;
	n->cont = false;
	n->dirty = false;
}

/* Completes the current line; at_off is the offset an unstarted (empty)
 * line is given: the byte that ended it. */
static void emit_line(struct norm *n, unsigned flags, uint64_t at_off)
{
	struct line ln;
	n->line[n->len] = '\0';
	ln.text = n->line;
	ln.len = n->len;
	ln.body = 0;
	ln.offset = n->started ? n->line_off : at_off;
	ln.lineno = ++n->lineno;
	ln.time_ns = n->t_ns;
	ln.flags = flags | (n->cont ? LINE_CONT : 0u) | (n->t_flags & TIME_BITS);
	if (n->on_line)
		n->on_line(n->ctx, &ln);
	/* EMS records are made of tags, so a line without '<' only counts
	 * towards the bounds of a record that is open; and a record is cut
	 * after EMS_MAX_RECORD_LINES lines. So the parser needs to see a line
	 * without '<' only within that many lines after one with '<', and
	 * most console lines skip it. */
	if (n->lt) {
		ems_feed_line(&n->ems, n->line, n->len, ln.offset);
		n->ems_pending = EMS_MAX_RECORD_LINES;
	} else if (n->ems_pending) {
		n->ems_pending--;
		ems_feed_line(&n->ems, n->line, n->len, ln.offset);
	}
	clear_line(n);
}

/* The line is full and byte o wants in: cut here, continue as a new line. */
static void cut_line(struct norm *n, uint64_t o)
{
	emit_line(n, LINE_CUT, o);
	n->cont = true;
	n->started = true;
	n->line_off = o;
}

static void append_byte(struct norm *n, unsigned char b, uint64_t o)
{
	n->pair = 0;
	start_line(n, o);
	if (n->len == LINE_MAX_LEN)
		cut_line(n, o);
	n->line[n->len++] = (char)b;
	n->dirty = true;
	if (b == '<')
		n->lt = true;
}

/* k plain bytes at offset o were copied to the end of the line (they fit);
 * lt: they hold a '<'. */
static void append_copied(struct norm *n, size_t k, uint64_t o, bool lt)
{
	n->pair = 0;
	start_line(n, o);
	n->len += k;
	n->dirty = true;
	if (lt)
		n->lt = true;
}

/* Backspace: one character back, a whole UTF-8 sequence when the line ends
 * in a complete one; lone or broken bytes go one at a time. */
static void erase_last(struct norm *n)
{
	if (n->len == 0)
		return;
	n->dirty = true;
	const unsigned char *s = (const unsigned char *)n->line;
	size_t k = n->len, cont = 0;
	while (k > 0 && cont < 3 && (s[k - 1] & 0xC0) == 0x80) {
		k--;
		cont++;
	}
	if (cont && k > 0) {
		unsigned char lead = s[k - 1];
		size_t want = lead >= 0xC0 && lead < 0xE0   ? 1
		              : lead >= 0xE0 && lead < 0xF0 ? 2
		              : lead >= 0xF0 && lead < 0xF8 ? 3
		                                            : 0;
		if (want == cont) {
			n->len = k - 1;
			return;
		}
	}
	n->len--;
}

/* ESC[2J, cursor addressing, ESC c ...: the screen position jumps, so
 * whatever was on the line is complete. */
static void escape_ends_line(struct norm *n, uint64_t o)
{
	if (n->len > 0)
		emit_line(n, 0, o);
	else
		clear_line(n);
}

/* Cursor forward: the skipped cells look like a blank to a reader. */
static void forward_blank(struct norm *n, uint64_t o)
{
	if (n->len == 0)
		return;
	char last = n->line[n->len - 1];
	if (last != ' ' && last != '\t')
		append_byte(n, ' ', o);
}

static void csi_dispatch(struct norm *n, unsigned char final, uint64_t o)
{
	if (n->csi_private || n->csi_inter)
		return;
	unsigned p = n->csi_p[0];
	switch (final) {
	case 'J': /* erase display: only whole-screen clears end the line */
		if (p == 2 || p == 3) {
			escape_ends_line(n, o);
			n->row = 0;
		}
		break;
	case 'H': /* cursor position: another row ends the line, the same row is a gap */
	case 'f': {
		unsigned row = p ? p : 1, col = n->csi_p[1] ? n->csi_p[1] : 1;
		if (n->row && row == n->row && col > 1)
			forward_blank(n, o);
		else
			escape_ends_line(n, o);
		n->row = row;
		break;
	}
	case 'd': /* line absolute */
		escape_ends_line(n, o);
		n->row = p ? p : 1;
		break;
	case 'A': /* up, down, next/previous line */
	case 'B':
	case 'E':
	case 'F':
		escape_ends_line(n, o);
		n->row = 0;
		break;
	case 'G': /* column absolute: column 1 starts the line over */
	case '`':
		if (p <= 1)
			escape_ends_line(n, o);
		else
			forward_blank(n, o);
		break;
	case 'C': /* forward, forward tab */
	case 'a':
	case 'I':
		forward_blank(n, o);
		break;
	default: /* SGR, erase in line, modes, ... */
		break;
	}
}

/* A line terminator: ends the line unless it is the partner of the one before. */
static void terminator(struct norm *n, unsigned char b, uint64_t o)
{
	if (n->pair == b) {
		n->pair = 0;
		return;
	}
	emit_line(n, 0, o);
	n->row = 0; /* the cursor left the addressed row */
	n->pair = b == C_CR ? C_LF : C_CR;
}

static void text_byte(struct norm *n, unsigned char b, uint64_t o)
{
	if (b == C_CR || b == C_LF) {
		terminator(n, b, o);
		return;
	}
	if (b >= 0x20 && b != C_DEL) {
		append_byte(n, b, o);
		return;
	}
	if (b == C_TAB) {
		append_byte(n, b, o);
		return;
	}
	/* Bytes that add no text start a line only when no CR/LF partner is
	 * pending, so NUL padding after CR does not become the next line's start. */
	if (!n->pair)
		start_line(n, o);
	if (b == C_ESC) {
		n->st = ST_ESC;
		n->esc_len = 1;
	} else if (b == C_BS) {
		erase_last(n);
	}
	/* NUL, BEL, DEL and the other C0 bytes vanish. */
}

static void esc_byte(struct norm *n, unsigned char b, uint64_t o)
{
	switch (b) {
	case '[':
		n->st = ST_CSI;
		n->csi_p[0] = n->csi_p[1] = 0;
		n->csi_np = 0;
		n->csi_private = false;
		n->csi_inter = false;
		return;
	case ']':
		n->st = ST_OSC;
		return;
	case 'P': /* DCS, SOS, PM, APC */
	case 'X':
	case '^':
	case '_':
		n->st = ST_STR;
		return;
	case 'c': /* full reset */
	case 'D': /* index, next line, reverse index: another row */
	case 'E':
	case 'M':
		n->st = ST_TEXT;
		escape_ends_line(n, o);
		n->row = 0;
		return;
	default:
		break;
	}
	if (b >= 0x20 && b <= 0x2F)
		n->st = ST_ESC_INTER;
	else if (b >= 0x30 && b <= 0x7E)
		n->st = ST_TEXT; /* two-byte sequence (ESC 7, ESC =, ...): dropped */
	                         /* DEL and C0 bytes inside a sequence are ignored. */
}

static void csi_byte(struct norm *n, unsigned char b, uint64_t o)
{
	if (b >= 0x30 && b <= 0x3F) {
		if (b >= '<' && b <= '?') {
			n->csi_private = true;
		} else if (b >= '0' && b <= '9') {
			if (n->csi_np < 2) {
				unsigned *v = &n->csi_p[n->csi_np];
				*v = *v * 10 + (unsigned)(b - '0');
				if (*v > CSI_PARAM_CAP)
					*v = CSI_PARAM_CAP;
			}
		} else if (n->csi_np < 2) {
			n->csi_np++; /* ';' or ':' */
		}
	} else if (b >= 0x20 && b <= 0x2F) {
		n->csi_inter = true;
	} else if (b >= 0x40 && b <= 0x7E) {
		n->st = ST_TEXT;
		csi_dispatch(n, b, o);
	}
}

/* One byte in any state but ST_TEXT. */
static void seq_byte(struct norm *n, unsigned char b, uint64_t o)
{
	if (++n->esc_len > ESC_MAX || b == C_CR || b == C_LF) {
		n->st = ST_TEXT;
		text_byte(n, b, o);
		return;
	}
	if (b == C_CAN || b == C_SUB) {
		n->st = ST_TEXT;
		return;
	}
	if (n->st == ST_STR_ESC) {
		if (b == '\\') {
			n->st = ST_TEXT;
			return;
		}
		/* Not a string terminator: the string is abandoned and this ESC
		 * starts a new sequence (so "\e]0;t\e[1m" resynchronises). */
		n->st = ST_ESC;
		n->esc_len = 2;
	}
	if (n->st == ST_OSC || n->st == ST_STR) {
		if (b == C_ESC)
			n->st = ST_STR_ESC;
		else if (b == C_BEL && n->st == ST_OSC)
			n->st = ST_TEXT;
		return;
	}
	if (b == C_ESC) {
		n->st = ST_ESC;
		n->esc_len = 1;
		return;
	}
	if (b >= 0x80) {
		/* Not part of any 7-bit sequence: abandon it, keep the byte. */
		n->st = ST_TEXT;
		text_byte(n, b, o);
		return;
	}
	switch (n->st) {
	case ST_ESC:
		esc_byte(n, b, o);
		break;
	case ST_ESC_INTER:
		if (b >= 0x30 && b <= 0x7E)
			n->st = ST_TEXT;
		break;
	case ST_CSI:
		csi_byte(n, b, o);
		break;
	default:
		break;
	}
}

static const unsigned char special_class[256] = {
    [0x00] = 1, [0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1, [0x06] = 1,
    [0x07] = 1, [0x08] = 1, [0x09] = 1, [0x0A] = 1, [0x0B] = 1, [0x0C] = 1, [0x0D] = 1,
    [0x0E] = 1, [0x0F] = 1, [0x10] = 1, [0x11] = 1, [0x12] = 1, [0x13] = 1, [0x14] = 1,
    [0x15] = 1, [0x16] = 1, [0x17] = 1, [0x18] = 1, [0x19] = 1, [0x1A] = 1, [0x1B] = 1,
    [0x1C] = 1, [0x1D] = 1, [0x1E] = 1, [0x1F] = 1, [0x7F] = 1,
};

/*
 * Length of the run of plain bytes (not C0, not DEL) at src, at most k,
 * copied to dst as it is found (one pass over the bytes instead of a search
 * and a memcpy). dst has room for k bytes and nothing is written past them,
 * but bytes after the run may be written too: they are not part of the line.
 * *lt is set when the run holds a '<' (for the EMS parser).
 */
static size_t plain_copy(char *dst, const unsigned char *src, size_t k, bool *lt)
{
	size_t i = 0;
#ifdef __SSE2__
	const __m128i c0_max = _mm_set1_epi8(0x1F);
	const __m128i del = _mm_set1_epi8(0x7F);
	const __m128i lt_byte = _mm_set1_epi8('<');
	__m128i lt_acc = _mm_setzero_si128();
	for (; i + 32 <= k; i += 32) {
		__m128i a = _mm_loadu_si128((const __m128i *)(const void *)(src + i));
		__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(src + i + 16));
		_mm_storeu_si128((__m128i *)(void *)(dst + i), a);
		_mm_storeu_si128((__m128i *)(void *)(dst + i + 16), b);
		/* unsigned x <= 0x1F  <=>  min(x, 0x1F) == x */
		__m128i sa = _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(a, c0_max), a), _mm_cmpeq_epi8(a, del));
		__m128i sb = _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(b, c0_max), b), _mm_cmpeq_epi8(b, del));
		__m128i la = _mm_cmpeq_epi8(a, lt_byte), lb = _mm_cmpeq_epi8(b, lt_byte);
		unsigned m = (unsigned)_mm_movemask_epi8(sa) | (unsigned)_mm_movemask_epi8(sb) << 16;
		if (m) {
			unsigned l = (unsigned)_mm_movemask_epi8(la) | (unsigned)_mm_movemask_epi8(lb) << 16;
			unsigned at = (unsigned)__builtin_ctz(m);
			if ((l & ((1u << at) - 1)) || _mm_movemask_epi8(lt_acc))
				*lt = true;
			return i + at;
		}
		lt_acc = _mm_or_si128(lt_acc, _mm_or_si128(la, lb));
	}
	for (; i + 16 <= k; i += 16) {
		__m128i a = _mm_loadu_si128((const __m128i *)(const void *)(src + i));
		_mm_storeu_si128((__m128i *)(void *)(dst + i), a);
		__m128i sa = _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(a, c0_max), a), _mm_cmpeq_epi8(a, del));
		__m128i la = _mm_cmpeq_epi8(a, lt_byte);
		unsigned m = (unsigned)_mm_movemask_epi8(sa);
		if (m) {
			unsigned l = (unsigned)_mm_movemask_epi8(la);
			unsigned at = (unsigned)__builtin_ctz(m);
			if ((l & ((1u << at) - 1)) || _mm_movemask_epi8(lt_acc))
				*lt = true;
			return i + at;
		}
		lt_acc = _mm_or_si128(lt_acc, la);
	}
	if (_mm_movemask_epi8(lt_acc))
		*lt = true;
#endif
	for (; i < k; i++) {
		if (special_class[src[i]])
			return i;
		dst[i] = (char)src[i];
		if (src[i] == '<')
			*lt = true;
	}
	return k;
}

void norm_feed(struct norm *n, const void *buf, size_t len, int64_t time_ns, unsigned time_flags)
{
	const unsigned char *p = buf;
	n->t_ns = time_ns;
	n->t_flags = time_flags;
	size_t i = 0;
	while (i < len) {
		if (n->st == ST_TEXT) {
			/* plain text straight into the line, as far as it has room;
			 * the byte after it is special, or it arrives for a full line
			 * (text_byte cuts the line then) */
			size_t room = LINE_MAX_LEN - n->len, lim = len - i < room ? len - i : room;
			bool lt = false;
			size_t k = plain_copy(n->line + n->len, p + i, lim, &lt);
			if (k) {
				append_copied(n, k, n->off + i, lt);
				i += k;
				if (i == len)
					break;
			}
			text_byte(n, p[i], n->off + i);
		} else {
			seq_byte(n, p[i], n->off + i);
		}
		i++;
	}
	n->off += len;
}

static void offer_partial(struct norm *n, int64_t time_ns, unsigned time_flags)
{
	if (n->len == 0 || !n->dirty)
		return;
	struct line ln;
	n->line[n->len] = '\0';
	ln.text = n->line;
	ln.len = n->len;
	ln.body = 0;
	ln.offset = n->line_off;
	ln.lineno = n->lineno + 1; /* the number it will have when complete */
	ln.time_ns = time_ns;
	ln.flags = LINE_PARTIAL | (n->cont ? LINE_CONT : 0u) | (time_flags & TIME_BITS);
	n->dirty = false;
	if (n->on_line)
		n->on_line(n->ctx, &ln);
}

void norm_flush_partial(struct norm *n, int64_t time_ns, unsigned time_flags)
{
	offer_partial(n, time_ns, time_flags);
}

void norm_finish(struct norm *n, int64_t time_ns, unsigned time_flags)
{
	offer_partial(n, time_ns, time_flags);
	clear_line(n);
	n->st = ST_TEXT;
	n->pair = 0;
	ems_finish(&n->ems);
}
