/*
 * rules_regex.c — what the loader needs to know about a regex without
 * compiling it: the literal anchor every match must contain (so the fast
 * literal scanner can wake the regex), constructs outside the dialect that
 * PCRE2 and Vectorscan share, and a useless unbounded tail (for lint).
 *
 * The scanner here is deliberately conservative: whatever it does not fully
 * understand ends a literal run rather than risk an anchor that some match
 * does not contain (a wrong anchor would silently hide hits).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "emsagent/rules.h"
#include "rules_priv.h"

enum re_tok {
	RT_LIT,    /* one literal byte (ch) */
	RT_OTHER,  /* one consuming atom that is not a known literal: . [..] \d */
	RT_GROUP,  /* ( ... ) as a unit */
	RT_ASSERT, /* zero-width: ^ $ \b \A ... */
	RT_ALT,    /* | */
	RT_FLAGS,  /* (?i) and friends: change how the rest matches */
	RT_END,
	RT_BAD,
};

struct re_scan {
	const char *re;
	size_t len, pos;
	bool inquote; /* inside \Q ... \E */
};

struct re_atom {
	enum re_tok kind;
	unsigned char ch;
};

#define RE_UNBOUNDED (-1L)

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Index just past the ']' closing the class that opens at re[p]; 0 when unterminated. */
static size_t skip_class(const char *re, size_t len, size_t p)
{
	p++;
	if (p < len && re[p] == '^')
		p++;
	if (p < len && re[p] == ']') /* a leading ] is a literal member */
		p++;
	while (p < len) {
		if (re[p] == '\\') {
			p += 2;
			continue;
		}
		if (re[p] == '[' && p + 1 < len &&
		    (re[p + 1] == ':' || re[p + 1] == '.' || re[p + 1] == '=')) {
			char kind = re[p + 1];
			size_t q = p + 2;
			while (q + 1 < len && !(re[q] == kind && re[q + 1] == ']'))
				q++;
			if (q + 1 < len) {
				p = q + 2;
				continue;
			}
		}
		if (re[p] == ']')
			return p + 1;
		p++;
	}
	return 0;
}

/* Index just past \Q...\E starting at re[p] (pointing at the backslash). */
static size_t skip_quote(const char *re, size_t len, size_t p)
{
	const char *e = NULL;
	for (size_t q = p + 2; q + 1 < len; q++) {
		if (re[q] == '\\' && re[q + 1] == 'E') {
			e = re + q;
			break;
		}
	}
	return e ? (size_t)(e - re) + 2 : len;
}

/* Index just past the ')' matching the '(' at re[p]; 0 when unbalanced. */
static size_t skip_group(const char *re, size_t len, size_t p)
{
	unsigned depth = 0;
	while (p < len) {
		char c = re[p];
		if (c == '\\') {
			if (p + 1 < len && re[p + 1] == 'Q')
				p = skip_quote(re, len, p);
			else
				p += 2;
			continue;
		}
		if (c == '[') {
			size_t q = skip_class(re, len, p);
			if (!q)
				return 0;
			p = q;
			continue;
		}
		if (c == '(')
			depth++;
		else if (c == ')' && --depth == 0)
			return p + 1;
		p++;
	}
	return 0;
}

/* A {n}, {n,} or {n,m} quantifier at re[p]: its length, or 0 when the brace
 * is a literal (PCRE2 10.42 treats anything else as one). */
static size_t brace_quant(const char *re, size_t len, size_t p, unsigned long *min, long *max)
{
	size_t q = p + 1;
	unsigned long a = 0, b = 0;
	size_t digits = 0;
	while (q < len && isdigit((unsigned char)re[q]) && digits < 6) {
		a = a * 10 + (unsigned long)(re[q] - '0');
		q++;
		digits++;
	}
	if (!digits || q >= len)
		return 0;
	if (re[q] == '}') {
		*min = a;
		*max = (long)a;
		return q + 1 - p;
	}
	if (re[q] != ',')
		return 0;
	q++;
	digits = 0;
	while (q < len && isdigit((unsigned char)re[q]) && digits < 6) {
		b = b * 10 + (unsigned long)(re[q] - '0');
		q++;
		digits++;
	}
	if (q >= len || re[q] != '}')
		return 0;
	*min = a;
	*max = digits ? (long)b : RE_UNBOUNDED;
	return q + 1 - p;
}

/* The quantifier at re[p] (with its lazy/possessive suffix): length consumed,
 * 0 when there is none. */
static size_t quantifier(const char *re, size_t len, size_t p, unsigned long *min, long *max)
{
	if (p >= len)
		return 0;
	size_t n;
	switch (re[p]) {
	case '*':
		*min = 0;
		*max = RE_UNBOUNDED;
		n = 1;
		break;
	case '+':
		*min = 1;
		*max = RE_UNBOUNDED;
		n = 1;
		break;
	case '?':
		*min = 0;
		*max = 1;
		n = 1;
		break;
	case '{':
		n = brace_quant(re, len, p, min, max);
		if (!n)
			return 0;
		break;
	default:
		return 0;
	}
	if (p + n < len && (re[p + n] == '?' || re[p + n] == '+'))
		n++;
	return n;
}

/* Escape at re[p] (a backslash): fills a, returns the index after it. */
static size_t scan_escape(const char *re, size_t len, size_t p, struct re_atom *a)
{
	if (p + 1 >= len) {
		a->kind = RT_BAD;
		return len;
	}
	unsigned char e = (unsigned char)re[p + 1];
	size_t q = p + 2;
	if (!isalnum(e)) {
		a->kind = RT_LIT;
		a->ch = e;
		return q;
	}
	switch (e) {
	case 'x': {
		unsigned v = 0;
		if (q < len && re[q] == '{') {
			size_t r = q + 1;
			size_t nd = 0;
			while (r < len && hexval(re[r]) >= 0 && nd < 8) {
				v = v * 16 + (unsigned)hexval(re[r]);
				r++;
				nd++;
			}
			if (r >= len || re[r] != '}' || !nd) {
				a->kind = RT_BAD;
				return len;
			}
			q = r + 1;
		} else {
			size_t nd = 0;
			while (q < len && nd < 2 && hexval(re[q]) >= 0) {
				v = v * 16 + (unsigned)hexval(re[q]);
				q++;
				nd++;
			}
		}
		if (v <= 0xff) {
			a->kind = RT_LIT;
			a->ch = (unsigned char)v;
		} else {
			a->kind = RT_OTHER;
		}
		return q;
	}
	case 't':
		a->kind = RT_LIT;
		a->ch = '\t';
		return q;
	case 'b':
	case 'B':
	case 'A':
	case 'z':
	case 'Z':
	case 'G':
	case 'K':
		a->kind = RT_ASSERT;
		return q;
	case 'p':
	case 'P':
		a->kind = RT_OTHER;
		if (q < len && re[q] == '{') {
			while (q < len && re[q] != '}')
				q++;
			return q < len ? q + 1 : len;
		}
		return q < len ? q + 1 : len;
	case 'c':
		a->kind = RT_OTHER;
		return q < len ? q + 1 : len;
	case 'o':
	case 'g':
	case 'k':
		a->kind = RT_OTHER;
		if (q < len && (re[q] == '{' || re[q] == '<' || re[q] == '\'')) {
			char close = re[q] == '{' ? '}' : re[q] == '<' ? '>' : '\'';
			while (q < len && re[q] != close)
				q++;
			return q < len ? q + 1 : len;
		}
		while (q < len && (isdigit((unsigned char)re[q]) || re[q] == '-'))
			q++;
		return q;
	default:
		/* \d \s \w \N \R \X \C, octal and back-references, \n \r \e ...:
		 * none of them is a literal the scanner can rely on. */
		a->kind = RT_OTHER;
		while (isdigit(e) && q < len && isdigit((unsigned char)re[q]))
			q++;
		return q;
	}
}

/* The next top-level atom. */
static void re_next(struct re_scan *s, struct re_atom *a)
{
	const char *re = s->re;
	for (;;) {
		if (s->pos >= s->len) {
			a->kind = RT_END;
			return;
		}
		if (s->inquote) {
			if (re[s->pos] == '\\' && s->pos + 1 < s->len && re[s->pos + 1] == 'E') {
				s->inquote = false;
				s->pos += 2;
				continue;
			}
			a->kind = RT_LIT;
			a->ch = (unsigned char)re[s->pos++];
			return;
		}
		char c = re[s->pos];
		if (c == '\\' && s->pos + 1 < s->len && (re[s->pos + 1] == 'Q' || re[s->pos + 1] == 'E')) {
			s->inquote = re[s->pos + 1] == 'Q';
			s->pos += 2;
			continue;
		}
		break;
	}
	char c = re[s->pos];
	switch (c) {
	case '\\':
		s->pos = scan_escape(re, s->len, s->pos, a);
		return;
	case '[': {
		size_t q = skip_class(re, s->len, s->pos);
		a->kind = q ? RT_OTHER : RT_BAD;
		s->pos = q ? q : s->len;
		return;
	}
	case '(': {
		size_t q = skip_group(re, s->len, s->pos);
		if (!q) {
			a->kind = RT_BAD;
			s->pos = s->len;
			return;
		}
		/* (?flags) with no ':' changes the rest of the pattern */
		a->kind = RT_GROUP;
		if (s->pos + 1 < s->len && re[s->pos + 1] == '?') {
			size_t r = s->pos + 2;
			while (r < q - 1 && (isalpha((unsigned char)re[r]) || re[r] == '-' || re[r] == '^'))
				r++;
			if (r == q - 1 && r > s->pos + 2)
				a->kind = RT_FLAGS;
		}
		s->pos = q;
		return;
	}
	case ')':
	case '*':
	case '+':
	case '?':
		a->kind = RT_BAD;
		s->pos = s->len;
		return;
	case '|':
		a->kind = RT_ALT;
		s->pos++;
		return;
	case '.':
		a->kind = RT_OTHER;
		s->pos++;
		return;
	case '^':
	case '$':
		a->kind = RT_ASSERT;
		s->pos++;
		return;
	case '{': {
		unsigned long mn;
		long mx;
		if (brace_quant(re, s->len, s->pos, &mn, &mx)) {
			a->kind = RT_BAD; /* a quantifier with nothing to repeat */
			s->pos = s->len;
			return;
		}
		break;
	}
	default:
		break;
	}
	a->kind = RT_LIT;
	a->ch = (unsigned char)c;
	s->pos++;
}

static void keep_best(struct buf *best, const struct buf *cur)
{
	if (cur->len > best->len) {
		buf_reset(best);
		buf_append(best, cur->data, cur->len);
	}
}

int regex_derive_anchor(const char *re, size_t min_len, char **out)
{
	*out = NULL;
	if (!re)
		return -1;
	struct re_scan s = {.re = re, .len = strlen(re)};
	struct buf best = {0}, cur = {0};
	int rc = -1;
	for (;;) {
		struct re_atom a;
		re_next(&s, &a);
		if (a.kind == RT_BAD || a.kind == RT_ALT || a.kind == RT_FLAGS)
			goto out; /* no anchor can be trusted */
		if (a.kind == RT_END)
			break;
		unsigned long mn = 1;
		long mx = 1;
		size_t qn = s.inquote ? 0 : quantifier(re, s.len, s.pos, &mn, &mx);
		s.pos += qn;
		if (a.kind != RT_LIT) {
			keep_best(&best, &cur);
			buf_reset(&cur);
			continue;
		}
		if (!qn) {
			buf_putc(&cur, (char)a.ch);
			continue;
		}
		if (mn == 0) { /* the char may be missing: the run stops before it */
			keep_best(&best, &cur);
			buf_reset(&cur);
			continue;
		}
		/* At least one copy: it ends this run and, being the last copy,
		 * also starts the next one. */
		buf_putc(&cur, (char)a.ch);
		keep_best(&best, &cur);
		buf_reset(&cur);
		buf_putc(&cur, (char)a.ch);
	}
	keep_best(&best, &cur);
	if (best.len >= min_len && best.len > 0 && !memchr(best.data, '\0', best.len)) {
		*out = xstrndup(best.data, best.len);
		rc = 0;
	}
out:
	buf_free(&best);
	buf_free(&cur);
	return rc;
}

bool re_trailing_unbounded(const char *re)
{
	struct re_scan s = {.re = re, .len = strlen(re)};
	bool last = false, any = false;
	for (;;) {
		struct re_atom a;
		re_next(&s, &a);
		if (a.kind == RT_BAD)
			return false;
		if (a.kind == RT_END)
			return any || last;
		if (a.kind == RT_ALT) { /* each alternative ends the regex */
			any = any || last;
			last = false;
			continue;
		}
		unsigned long mn = 1;
		long mx = 1;
		size_t qn = s.inquote ? 0 : quantifier(re, s.len, s.pos, &mn, &mx);
		s.pos += qn;
		if (a.kind == RT_ASSERT || a.kind == RT_FLAGS)
			last = false;
		else
			last = qn && mx == RE_UNBOUNDED;
	}
}

/* What follows "(?" that the common dialect lacks, or NULL. */
static const char *paren_problem(const char *re, size_t len, size_t p)
{
	/* re[p] == '(' and re[p+1] == '?' */
	char c = p + 2 < len ? re[p + 2] : '\0';
	char d = p + 3 < len ? re[p + 3] : '\0';
	if (c == '=' || c == '!')
		return "look-ahead";
	if (c == '<' && (d == '=' || d == '!'))
		return "look-behind";
	if (c == '>')
		return "an atomic group";
	if (c == '(')
		return "a conditional group";
	if (c == '|')
		return "a branch-reset group";
	if (c == 'R' || c == '&' || isdigit((unsigned char)c) ||
	    ((c == '+' || c == '-') && isdigit((unsigned char)d)))
		return "recursion or a subroutine call";
	if (c == 'P' && d == '=')
		return "a back-reference";
	if (c == 'P' && d == '>')
		return "a subroutine call";
	if (c == 'C')
		return "a callout";
	if (c == '*')
		return "a non-atomic assertion";
	return NULL;
}

const char *re_dialect_problem(const char *re, size_t *off)
{
	size_t len = strlen(re);
	size_t p = 0;
	while (p < len) {
		char c = re[p];
		*off = p;
		if (c == '\\') {
			if (p + 1 >= len)
				return NULL; /* PCRE2 reports the trailing backslash */
			char e = re[p + 1];
			if (e == 'Q') {
				p = skip_quote(re, len, p);
				continue;
			}
			if (e >= '1' && e <= '9')
				return "a back-reference";
			if (e == 'g' || e == 'k')
				return "a back-reference";
			if (e == 'C')
				return "\\C";
			if (e == 'R')
				return "\\R";
			if (e == 'K')
				return "\\K";
			struct re_atom a;
			p = scan_escape(re, len, p, &a);
		} else if (c == '[') {
			size_t q = skip_class(re, len, p);
			if (!q)
				return NULL; /* PCRE2 reports it */
			p = q;
		} else if (c == '(') {
			if (p + 1 < len && re[p + 1] == '*')
				return "a (*VERB) or (*OPTION)";
			if (p + 1 < len && re[p + 1] == '?') {
				const char *why = paren_problem(re, len, p);
				if (why)
					return why;
			}
			p++;
			continue;
		} else if (c == '*' || c == '+' || c == '?' || c == '{') {
			unsigned long mn;
			long mx;
			size_t n = quantifier(re, len, p, &mn, &mx);
			if (!n) {
				p++;
				continue;
			}
			if (re[p + n - 1] == '+' && n > 1)
				return "a possessive quantifier";
			p += n;
			continue;
		} else {
			p++;
		}
		/* a quantifier right after an escape or class */
		unsigned long mn;
		long mx;
		size_t n = quantifier(re, len, p, &mn, &mx);
		if (n) {
			*off = p;
			if (n > 1 && re[p + n - 1] == '+')
				return "a possessive quantifier";
			p += n;
		}
	}
	return NULL;
}
