/*
 * match_priv.h — what match.c and match_cap.c share and nobody else needs.
 *
 * match.c      the literal database, the batch scan, detector evaluation
 * match_cap.c  typed captures: numbers, enum tables, EMS record fields, and
 *              which regex group each capture is
 */
#ifndef EMSAGENT_MATCH_PRIV_H
#define EMSAGENT_MATCH_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "emsagent/match.h"
#include "emsagent/util.h"

static inline unsigned char match_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* n bytes equal, ASCII case folded when nocase */
static inline bool eq_bytes(const char *a, const char *b, size_t n, bool nocase)
{
	if (!nocase)
		return memcmp(a, b, n) == 0;
	for (size_t i = 0; i < n; i++)
		if (match_lower((unsigned char)a[i]) != match_lower((unsigned char)b[i]))
			return false;
	return true;
}

/* n less the blanks (space, tab) at the end of s */
static inline size_t trim_blanks(const char *s, size_t n)
{
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return n;
}

/* Types one capture from its raw text (match.h says how). */
void match_cap_fill(struct capture_val *cv, const struct capture_spec *cs, const char *raw, size_t rlen);
/* The captures of an EMS detector from a record's fields, into caps (room
 * for det->ncaps); returns how many the record has. */
size_t match_cap_ems(const struct detector *det, const struct ems_record *rec, struct capture_val *caps);
/* Sets *capgrp (det->ncaps entries, allocated) to the group number of each
 * capture of a regex detector; an error in d and -1 when a capture is not a
 * unique named group of re. */
int match_cap_groups(const pcre2_code *re, const struct detector *det, int **capgrp, struct diags *d);

#endif
