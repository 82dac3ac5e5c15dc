/*
 * fuzz_normalize.c — libFuzzer harness for the normaliser (and the EMS
 * scanner behind it).
 *
 * Differential: the input is fed once whole and once in chunks whose sizes
 * come from the input itself; both runs must produce the identical sequence
 * of lines (text, flags, offset, line number) and EMS records. Every line
 * is also checked against the contract (bounded, NUL-terminated, no control
 * bytes but TAB, dense line numbers). Any difference aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emsagent/normalize.h"

/* A running digest of everything a run produced, plus counters. */
struct digest {
	uint64_t h;
	uint64_t lines, complete, records;
};

static void mix(struct digest *d, const void *p, size_t n)
{
	const unsigned char *s = p;
	for (size_t i = 0; i < n; i++) {
		d->h ^= s[i];
		d->h *= 0x100000001b3ull; /* FNV-1a */
	}
}

static void on_line(void *ctx, const struct line *ln)
{
	struct digest *d = ctx;
	if (ln->len > LINE_MAX_LEN || ln->text[ln->len] != '\0' || ln->body != 0)
		abort();
	for (size_t i = 0; i < ln->len; i++) {
		unsigned char c = (unsigned char)ln->text[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			abort();
	}
	if (!(ln->flags & LINE_PARTIAL) && ln->lineno != ++d->complete)
		abort();
	d->lines++;
	mix(d, ln->text, ln->len);
	mix(d, &ln->len, sizeof(ln->len));
	mix(d, &ln->flags, sizeof(ln->flags));
	mix(d, &ln->offset, sizeof(ln->offset));
	mix(d, &ln->lineno, sizeof(ln->lineno));
}

static void check_str(const char *s, size_t size)
{
	if (!memchr(s, '\0', size))
		abort();
}

static void on_ems(void *ctx, const struct ems_record *rec)
{
	struct digest *d = ctx;
	check_str(rec->stopcode_text, sizeof(rec->stopcode_text));
	check_str(rec->mi.name, sizeof(rec->mi.name));
	check_str(rec->mi.guid, sizeof(rec->mi.guid));
	check_str(rec->mi.arch, sizeof(rec->mi.arch));
	check_str(rec->mi.os_version, sizeof(rec->mi.os_version));
	check_str(rec->mi.os_build, sizeof(rec->mi.os_build));
	check_str(rec->mi.os_product, sizeof(rec->mi.os_product));
	check_str(rec->mi.os_sp, sizeof(rec->mi.os_sp));
	d->records++;
	mix(d, &rec->kind, sizeof(rec->kind));
	mix(d, &rec->stopcode, sizeof(rec->stopcode));
	mix(d, &rec->truncated, sizeof(rec->truncated));
	mix(d, &rec->offset, sizeof(rec->offset));
	mix(d, rec->stopcode_text, strlen(rec->stopcode_text));
	mix(d, rec->mi.name, strlen(rec->mi.name));
	mix(d, rec->mi.os_build, strlen(rec->mi.os_build));
}

static void run(const uint8_t *data, size_t size, const uint8_t *split, size_t nsplit, struct digest *d)
{
	memset(d, 0, sizeof(*d));
	d->h = 0xcbf29ce484222325ull;
	struct norm *n = norm_new(on_line, on_ems, d);
	size_t o = 0, k = 0;
	while (o < size) {
		size_t c = nsplit ? 1 + split[k++ % nsplit] % 64 : size - o;
		if (c > size - o)
			c = size - o;
		norm_feed(n, data + o, c, (int64_t)o, 0);
		o += c;
	}
	if (norm_offset(n) != size)
		abort();
	norm_finish(n, 0, 0);
	norm_free(n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct digest whole, split;
	run(data, size, NULL, 0, &whole);
	/* chunk sizes from the last bytes of the input, 1..64 */
	size_t nsplit = size < 16 ? size : 16;
	run(data, size, data + size - nsplit, nsplit, &split);
	if (whole.h != split.h || whole.lines != split.lines || whole.records != split.records) {
		fprintf(stderr, "split changed the output: %llu/%llu lines, %llu/%llu records\n",
		        (unsigned long long)whole.lines, (unsigned long long)split.lines,
		        (unsigned long long)whole.records, (unsigned long long)split.records);
		abort();
	}
	return 0;
}
