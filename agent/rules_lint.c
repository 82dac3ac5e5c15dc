/*
 * rules_lint.c — warnings about a pack that loads but will cost time or
 * mislead: literals too short or too common to be worth scanning for, regex
 * tails that only burn cycles, rules shipped as stable without tests that
 * show them firing and staying quiet, detectors a when: never looks at.
 * Nothing here fails a load; `rules check` prints these beside the errors.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rules_priv.h"

#define LINT_MIN_LITERAL 4

/* Words that appear in so many console lines that a literal made only of
 * them wakes the detector all the time. */
static const char *const common_words[] = {
    "error", "errors", "the", "failed", "fail", "failure", "warning", "warn",     "info", "debug",
    "ok",    "done",   "a",   "an",     "and",  "or",      "of",      "to",       "in",   "is",
    "on",    "at",     "for", "with",   "not",  "no",      "start",   "starting",
};

/* Whole literals (blanks around ignored) seen on nearly every screen. */
static const char *const common_literals[] = {"SAC>"};

static bool is_common_word(const char *w, size_t n)
{
	for (size_t i = 0; i < ARRAY_LEN(common_words); i++)
		if (strlen(common_words[i]) == n && strncasecmp(common_words[i], w, n) == 0)
			return true;
	return false;
}

/* True when every word of the literal is a common word. */
static bool only_common_words(const char *lit)
{
	const char *b = lit, *e = lit + strlen(lit);
	while (b < e && isspace((unsigned char)*b))
		b++;
	while (e > b && isspace((unsigned char)e[-1]))
		e--;
	for (size_t i = 0; i < ARRAY_LEN(common_literals); i++)
		if (strlen(common_literals[i]) == (size_t)(e - b) &&
		    strncasecmp(common_literals[i], b, (size_t)(e - b)) == 0)
			return true;
	size_t words = 0;
	const char *p = lit;
	while (*p) {
		while (*p && !isalnum((unsigned char)*p))
			p++;
		const char *w = p;
		while (isalnum((unsigned char)*p))
			p++;
		if (p == w)
			break;
		if (!is_common_word(w, (size_t)(p - w)))
			return false;
		words++;
	}
	return words > 0;
}

static void lint_detector(const struct detector *det, struct diags *d)
{
	const struct src_loc *l = &det->loc;
	const char *kind =
	    det->op == DET_REGEX ? (det->anchor_derived ? "derived anchor" : "anchor") : "literal";
	for (size_t i = 0; i < det->nlits; i++) {
		const char *lit = det->lits[i];
		if (strlen(lit) < LINT_MIN_LITERAL)
			diags_add(d, DIAG_WARNING, l->file, l->line, l->col,
			          "detector '%s': %s '%s' is shorter than %d bytes; the scanner will wake it "
			          "on many lines",
			          det->name, kind, lit, LINT_MIN_LITERAL);
		else if (only_common_words(lit))
			diags_add(
			    d, DIAG_WARNING, l->file, l->line, l->col,
			    "detector '%s': %s '%s' is made only of common words; it will match many lines",
			    det->name, kind, lit);
	}
	if (det->op == DET_REGEX && det->regex && re_trailing_unbounded(det->regex))
		diags_add(d, DIAG_WARNING, l->file, l->line, l->col,
		          "detector '%s': regex ends in an unbounded repetition (like .* or \\S+), which "
		          "matches nothing "
		          "more but costs time; drop it or capture it",
		          det->name);
}

static void mark(bool *used, size_t n, int ref)
{
	if (ref >= 0 && (size_t)ref < n)
		used[ref] = true;
}

static void lint_unused(const struct rule *r, struct diags *d)
{
	const struct when *w = &r->when;
	if (w->kind == WHEN_ANY && w->nof == 0)
		return; /* when omitted: every detector counts */
	bool *used = xcalloc(r->ndets ? r->ndets : 1, sizeof(bool));
	for (size_t i = 0; i < w->nof; i++)
		mark(used, r->ndets, w->of[i]);
	for (size_t i = 0; i < w->nsteps; i++)
		mark(used, r->ndets, w->steps[i].det);
	mark(used, r->ndets, w->after);
	mark(used, r->ndets, w->absent_of);
	for (size_t i = 0; i < w->nresolve; i++)
		mark(used, r->ndets, w->resolve_on[i]);
	for (size_t i = 0; i < r->ndets; i++)
		if (r->dets[i].has_unless_near)
			mark(used, r->ndets, r->dets[i].unless_near_det);
	for (size_t i = 0; i < r->ndets; i++) {
		if (used[i])
			continue;
		const struct src_loc *l = &r->dets[i].loc;
		diags_add(d, DIAG_WARNING, l->file, l->line, l->col,
		          "detector '%s' is never used by when: of rule '%s'", r->dets[i].name, r->id);
	}
	free(used);
}

static void lint_rule(const struct rule *r, struct diags *d)
{
	const struct src_loc *l = &r->loc;
	for (size_t i = 0; i < r->ndets; i++)
		lint_detector(&r->dets[i], d);
	if (!r->summary)
		diags_add(d, DIAG_WARNING, l->file, l->line, l->col, "rule '%s' has no summary", r->id);
	if (r->nremediation == 0)
		diags_add(d, DIAG_WARNING, l->file, l->line, l->col, "rule '%s' has no remediation", r->id);
	if (r->status == STATUS_STABLE) {
		bool pos = false, neg = false;
		for (size_t i = 0; i < r->ntests; i++) {
			if (r->tests[i].expect == EXPECT_NO_FIRE)
				neg = true;
			else
				pos = true;
		}
		if (!pos)
			diags_add(d, DIAG_WARNING, l->file, l->line, l->col,
			          "stable rule '%s' has no positive test (expect: fire, resolved, pending or "
			          "uncertain)",
			          r->id);
		if (!neg)
			diags_add(d, DIAG_WARNING, l->file, l->line, l->col,
			          "stable rule '%s' has no negative test (expect: no_fire)", r->id);
	}
	lint_unused(r, d);
}

void rules_lint(const struct ruleset *rs, struct diags *d)
{
	for (size_t i = 0; i < rs->nrules; i++)
		lint_rule(&rs->rules[i], d);
	for (size_t i = 0; i < rs->nignores; i++)
		lint_detector(&rs->ignores[i], d);
	for (size_t i = 0; i < rs->nepochs; i++)
		lint_detector(&rs->epochs[i].det, d);
}
