/*
 * match_cap.c — typed captures (match.h): int, hex, enum and str values from
 * the text a regex group or an EMS record field holds, and the mapping of
 * capture names to regex groups.
 *
 * Numbers are parsed strictly (digits only, no locale, no octal, no
 * overflow); text that does not parse keeps its raw form with has_num false,
 * as a guest may print anything in a field that is usually a number.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "match_priv.h"

/* ---- number parsing for typed captures (strict, no locale, no octal) ---- */

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = match_lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Digits only (base 10 or 16), at least one, no overflow. */
static bool parse_digits(const char *s, size_t n, unsigned base, uint64_t *out)
{
	if (n == 0)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		int d = hexval((unsigned char)s[i]);
		if (d < 0 || (unsigned)d >= base)
			return false;
		if (v > (UINT64_MAX - (unsigned)d) / base)
			return false;
		v = v * base + (unsigned)d;
	}
	*out = v;
	return true;
}

static void trim_both(const char **s, size_t *n)
{
	while (*n && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*n)--;
	}
	*n = trim_blanks(*s, *n);
}

static bool has_0x(const char *s, size_t n)
{
	return n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
}

/* "0x.." hex or decimal; no sign. */
static bool parse_unsigned(const char *s, size_t n, uint64_t *out)
{
	trim_both(&s, &n);
	if (has_0x(s, n))
		return parse_digits(s + 2, n - 2, 16, out);
	return parse_digits(s, n, 10, out);
}

/* int captures: optional sign, then decimal or "0x" hex. A leading 0 is
 * decimal, not octal: consoles print "09" meaning nine. */
static bool parse_int(const char *s, size_t n, int64_t *out)
{
	trim_both(&s, &n);
	bool neg = false;
	if (n && (*s == '-' || *s == '+')) {
		neg = *s == '-';
		s++;
		n--;
	}
	uint64_t u;
	if (!parse_unsigned(s, n, &u) || (n && (s[0] == ' ' || s[0] == '\t')))
		return false;
	if (neg) {
		if (u > (uint64_t)INT64_MAX + 1)
			return false;
		*out = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
	} else {
		if (u > (uint64_t)INT64_MAX)
			return false;
		*out = (int64_t)u;
	}
	return true;
}

static bool parse_hex(const char *s, size_t n, uint64_t *out)
{
	trim_both(&s, &n);
	if (has_0x(s, n)) {
		s += 2;
		n -= 2;
	}
	return parse_digits(s, n, 16, out);
}

static void set_text(struct capture_val *cv, const char *s, size_t n)
{
	if (n > MATCH_CAP_VALUE_MAX - 1)
		n = MATCH_CAP_VALUE_MAX - 1;
	memcpy(cv->value, s, n);
	cv->value[n] = '\0';
}

void match_cap_fill(struct capture_val *cv, const struct capture_spec *cs, const char *raw, size_t rlen)
{
	cv->name = cs->name;
	cv->has_num = false;
	cv->num = 0;
	set_text(cv, raw, rlen);
	switch (cs->type) {
	case CAP_STR:
		break;
	case CAP_INT: {
		int64_t v;
		if (parse_int(raw, rlen, &v)) {
			cv->has_num = true;
			cv->num = v;
			snprintf(cv->value, sizeof(cv->value), "%" PRId64, v);
		}
		break;
	}
	case CAP_HEX: {
		uint64_t v;
		if (parse_hex(raw, rlen, &v)) {
			cv->has_num = true;
			cv->num = (int64_t)v;
			snprintf(cv->value, sizeof(cv->value), "0x%" PRIX64, v);
		}
		break;
	}
	case CAP_ENUM: {
		const struct enum_table *t = cs->table;
		if (!t)
			break;
		uint64_t rv = 0;
		bool rnum = parse_unsigned(raw, rlen, &rv);
		for (size_t i = 0; i < t->n; i++) {
			const char *k = t->keys[i];
			size_t kl = strlen(k);
			uint64_t kv;
			if ((kl == rlen && eq_bytes(k, raw, kl, true)) ||
			    (rnum && parse_unsigned(k, kl, &kv) && kv == rv)) {
				set_text(cv, t->values[i], strlen(t->values[i]));
				break;
			}
		}
		break;
	}
	}
}

/* ---- EMS record fields ---- */

/* The record field a capture names, or NULL when the record has none. */
static const char *ems_field(const struct ems_record *rec, const char *name, char *tmp, size_t tmpsz)
{
	const struct ems_machine_info *mi = &rec->mi;
	if (strcmp(name, "stopcode") == 0) {
		if (rec->kind != EMS_BUGCHECK)
			return NULL;
		if (rec->stopcode_text[0])
			return rec->stopcode_text;
		if (!rec->has_stopcode)
			return NULL;
		snprintf(tmp, tmpsz, "0x%" PRIX32, rec->stopcode);
		return tmp;
	}
	if (!rec->has_machine_info && rec->kind != EMS_MACHINE_INFO)
		return NULL;
	static const struct {
		const char *name;
		size_t off;
	} fields[] = {
	    {"name", offsetof(struct ems_machine_info, name)},
	    {"guid", offsetof(struct ems_machine_info, guid)},
	    {"arch", offsetof(struct ems_machine_info, arch)},
	    {"os_version", offsetof(struct ems_machine_info, os_version)},
	    {"os_build", offsetof(struct ems_machine_info, os_build)},
	    {"os_product", offsetof(struct ems_machine_info, os_product)},
	    {"os_sp", offsetof(struct ems_machine_info, os_sp)},
	};
	for (size_t i = 0; i < ARRAY_LEN(fields); i++)
		if (strcmp(name, fields[i].name) == 0) {
			const char *v = (const char *)mi + fields[i].off;
			return v[0] ? v : NULL;
		}
	return NULL;
}

size_t match_cap_ems(const struct detector *det, const struct ems_record *rec, struct capture_val *caps)
{
	size_t ncaps = 0;
	for (size_t c = 0; c < det->ncaps; c++) {
		char tmp[24];
		const char *v = ems_field(rec, det->caps[c].name, tmp, sizeof(tmp));
		if (v)
			match_cap_fill(&caps[ncaps++], &det->caps[c], v, strnlen(v, MATCH_CAP_VALUE_MAX));
	}
	return ncaps;
}

/* ---- regex groups ---- */

int match_cap_groups(const pcre2_code *re, const struct detector *det, int **capgrp, struct diags *d)
{
	if (!det->ncaps)
		return 0;
	*capgrp = xcalloc(det->ncaps, sizeof(**capgrp));
	for (size_t k = 0; k < det->ncaps; k++) {
		int g = pcre2_substring_number_from_name(re, (PCRE2_SPTR)det->caps[k].name);
		if (g <= 0) {
			const struct capture_spec *cs = &det->caps[k];
			diags_add(d, DIAG_ERROR, cs->loc.file ? cs->loc.file : det->loc.file,
			          cs->loc.file ? cs->loc.line : det->loc.line,
			          cs->loc.file ? cs->loc.col : det->loc.col,
			          "detector '%s': capture '%s' is not a (unique) named group (?<%s>...) of "
			          "the regex",
			          det->name, cs->name, cs->name);
			return -1;
		}
		(*capgrp)[k] = g;
	}
	return 0;
}
