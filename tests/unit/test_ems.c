/*
 * test_ems.c — the EMS record scanner: the exact <BP> bytes of sac-ems.md
 * §5.2 through the normaliser, the Cyclades sample line by line, standalone
 * machine-info, stop code spellings, entities, field cuts, the size bounds,
 * records that never close, garbage, and the stop code name table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "emsagent/ems.h"
#include "emsagent/normalize.h"
#include "emsagent/util.h"

struct recs {
	struct ems_record *v;
	size_t n, cap;
	size_t nlines;       /* lines seen (through the normaliser) */
	size_t lines_at[16]; /* nlines when each record came out */
	char partial[64];    /* last partial line */
};

static void on_rec(void *ctx, const struct ems_record *rec)
{
	struct recs *r = ctx;
	xgrow((void **)&r->v, &r->cap, r->n + 1, sizeof(*r->v));
	if (r->n < ARRAY_LEN(r->lines_at))
		r->lines_at[r->n] = r->nlines;
	r->v[r->n++] = *rec;
}

static void on_line(void *ctx, const struct line *ln)
{
	struct recs *r = ctx;
	if (ln->flags & LINE_PARTIAL)
		snprintf(r->partial, sizeof(r->partial), "%s", ln->text);
	else
		r->nlines++;
}

static void recs_free(struct recs *r)
{
	free(r->v);
	memset(r, 0, sizeof(*r));
}

/* Feeds NUL-separated lines (no terminators) straight to the parser. */
static void feed_lines(struct ems_parser *p, const char *const *lines, size_t n, uint64_t first_off)
{
	uint64_t off = first_off;
	for (size_t i = 0; i < n; i++) {
		ems_feed_line(p, lines[i], strlen(lines[i]), off);
		off += strlen(lines[i]) + 2;
	}
}

/* The kernel's bytes, exactly (sac-ems.md §5.2), with SAC's machine-info. */
static const char bp_bytes[] =
    "\a\a\a<?xml>\a<BP>"
    "\r\n<INSTANCE CLASSNAME=\"BLUESCREEN\">"
    "\r\n<PROPERTY NAME=\"STOPCODE\" TYPE=\"string\"><VALUE>\"0xE2\"</VALUE></PROPERTY>"
    "<machine-info>\r\n"
    "<name>WIN-SRV&amp;01</name>\r\n"
    "<guid>4c4c4544-0035-4d10-8052-b3c04f4e3732</guid>\r\n"
    "<processor-architecture>AMD64</processor-architecture>\r\n"
    "<os-version>10.0</os-version>\r\n"
    "<os-build-number>20348</os-build-number>\r\n"
    "<os-product>Windows Server 2022 Datacenter</os-product>\r\n"
    "<os-service-pack>None</os-service-pack>\r\n"
    "</machine-info>\r\n"
    "\r\n</INSTANCE>\r\n</BP>\a"
    "\n\r!SAC>";

static void check_bp_record(const struct ems_record *r)
{
	assert_int_equal(r->kind, EMS_BUGCHECK);
	assert_true(r->has_stopcode);
	assert_int_equal(r->stopcode, 0xE2);
	assert_string_equal(r->stopcode_text, "0xE2");
	assert_true(r->has_machine_info);
	assert_string_equal(r->mi.name, "WIN-SRV&01");
	assert_string_equal(r->mi.guid, "4c4c4544-0035-4d10-8052-b3c04f4e3732");
	assert_string_equal(r->mi.arch, "AMD64");
	assert_string_equal(r->mi.os_version, "10.0");
	assert_string_equal(r->mi.os_build, "20348");
	assert_string_equal(r->mi.os_product, "Windows Server 2022 Datacenter");
	assert_string_equal(r->mi.os_sp, "None");
	assert_false(r->truncated);
}

static void test_bp_through_normaliser(void **state)
{
	(void)state;
	struct recs r = {0};
	struct norm *n = norm_new(on_line, on_rec, &r);
	norm_feed(n, "boot text\r\n", 11, 0, 0);
	norm_feed(n, bp_bytes, sizeof(bp_bytes) - 1, 0, 0);
	/* the record is out as soon as "</BP>" ends its line */
	assert_int_equal(r.n, 1);
	check_bp_record(&r.v[0]);
	/* the offset is that of the line that opened it: the first BEL */
	assert_int_equal(r.v[0].offset, 11);
	/* right after the "</BP>" line (line 15), before anything else */
	assert_int_equal(r.lines_at[0], 15);
	norm_finish(n, 0, 0);
	assert_string_equal(r.partial, "!SAC>");
	assert_int_equal(r.n, 1);
	norm_free(n);
	recs_free(&r);

	/* byte by byte gives the same */
	memset(&r, 0, sizeof(r));
	n = norm_new(on_line, on_rec, &r);
	for (size_t i = 0; i < sizeof(bp_bytes) - 1; i++)
		norm_feed(n, bp_bytes + i, 1, 0, 0);
	norm_finish(n, 0, 0);
	assert_int_equal(r.n, 1);
	check_bp_record(&r.v[0]);
	assert_int_equal(r.v[0].offset, 0);
	norm_free(n);
	recs_free(&r);
}

/* The crash never finishes: the kernel stops mid-record. */
static void test_bp_cut_off_through_normaliser(void **state)
{
	(void)state;
	struct recs r = {0};
	struct norm *n = norm_new(on_line, on_rec, &r);
	size_t cut = (size_t)(strstr(bp_bytes, "<os-version>") - bp_bytes);
	norm_feed(n, bp_bytes, cut, 0, 0);
	assert_int_equal(r.n, 0);
	norm_finish(n, 0, 0);
	assert_int_equal(r.n, 1);
	assert_true(r.v[0].truncated);
	assert_true(r.v[0].has_stopcode);
	assert_int_equal(r.v[0].stopcode, 0xE2);
	assert_string_equal(r.v[0].mi.arch, "AMD64");
	assert_string_equal(r.v[0].mi.os_version, "");
	norm_free(n);
	recs_free(&r);

	/* garbage (escapes, BS, noise) around and inside the record */
	static const char noisy[] =
	    "\x1b[2J\x1b[1;1Hjunk <BP\r\n<<<>>></BP>\r\n"
	    "\a\a\a<?xml>\a<BP>\x1b[0m\r\n"
	    "<PROPERTY NAME=\"STOPCODE\" TYPE=\"string\"><VALUE>\"0x7\b7B\"</VALUE>\r\n"
	    "</PROPERTY>\x1b]0;t\a\r\n"
	    "<machine-info>\r\n<name>a\0b\x7f</name>\r\n</machine-info>\r\n"
	    "</BP>\a\n\r!SAC>";
	memset(&r, 0, sizeof(r));
	n = norm_new(on_line, on_rec, &r);
	norm_feed(n, noisy, sizeof(noisy) - 1, 0, 0);
	norm_finish(n, 0, 0);
	assert_int_equal(r.n, 1);
	assert_false(r.v[0].truncated);
	assert_int_equal(r.v[0].stopcode, 0x7B);
	assert_string_equal(r.v[0].mi.name, "ab");
	norm_free(n);
	recs_free(&r);
}

/* The Cyclades sample, one element per line, STOPCODE and </PROPERTY> apart. */
static void test_cyclades_sample(void **state)
{
	(void)state;
	static const char *const lines[] = {
	    "<?xml>",
	    "<BP>",
	    "<INSTANCE CLASSNAME=\"BLUESCREEN\">",
	    "<PROPERTY NAME=\"STOPCODE\" TYPE=\"string\"><VALUE>\"0xE2\"</VALUE>",
	    "</PROPERTY>",
	    "<machine-info>",
	    "<name>NTHEAD-800I-1</name>",
	    "<guid>00000000-0000-0000-0000-000000000000</guid>",
	    "<processor-architecture>x86</processor-architecture>",
	    "<os-version>5.2</os-version>",
	    "<os-build-number>3735</os-build-number>",
	    "<os-product>Windows Server 2003 Enterprise Edition</os-product>",
	    "<os-service-pack>None</os-service-pack>",
	    "</machine-info>",
	    "</INSTANCE>",
	    "</BP>",
	};
	struct recs r = {0};
	struct ems_parser p;
	ems_init(&p, on_rec, &r);
	feed_lines(&p, lines, ARRAY_LEN(lines), 1000);
	assert_int_equal(r.n, 1);
	const struct ems_record *e = &r.v[0];
	assert_int_equal(e->kind, EMS_BUGCHECK);
	assert_int_equal(e->offset, 1000 + 8); /* the "<BP>" line, not "<?xml>" */
	assert_int_equal(e->stopcode, 0xE2);
	assert_string_equal(e->mi.name, "NTHEAD-800I-1");
	assert_string_equal(e->mi.guid, "00000000-0000-0000-0000-000000000000");
	assert_string_equal(e->mi.arch, "x86");
	assert_string_equal(e->mi.os_version, "5.2");
	assert_string_equal(e->mi.os_build, "3735");
	assert_string_equal(e->mi.os_product, "Windows Server 2003 Enterprise Edition");
	assert_string_equal(e->mi.os_sp, "None");
	assert_false(e->truncated);
	ems_finish(&p);
	assert_int_equal(r.n, 1);
	recs_free(&r);
}

static void test_standalone_machine_info(void **state)
{
	(void)state;
	static const char *const lines[] = {
	    "<?xml><machine-info>",
	    "<name>not yet initialized</name>",
	    "<processor-architecture>ARM64</processor-architecture>",
	    "<name>ignored-outside</name></machine-info> trailing",
	    "<name>outside any record</name>",
	};
	struct recs r = {0};
	struct ems_parser p;
	ems_init(&p, on_rec, &r);
	feed_lines(&p, lines, ARRAY_LEN(lines), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.v[0].kind, EMS_MACHINE_INFO);
	assert_true(r.v[0].has_machine_info);
	assert_false(r.v[0].has_stopcode);
	/* a later element of the same name wins: the value as last sent */
	assert_string_equal(r.v[0].mi.name, "ignored-outside");
	assert_string_equal(r.v[0].mi.arch, "ARM64");
	assert_false(r.v[0].truncated);
	ems_finish(&p);
	assert_int_equal(r.n, 1);
	recs_free(&r);

	/* the whole record on one line, case-insensitive tags */
	memset(&r, 0, sizeof(r));
	ems_init(&p, on_rec, &r);
	const char *one = "<MACHINE-INFO><Name>x</Name><OS-VERSION> 6.3 </OS-VERSION></Machine-Info>";
	ems_feed_line(&p, one, strlen(one), 5);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.v[0].mi.name, "x");
	assert_string_equal(r.v[0].mi.os_version, "6.3");
	assert_int_equal(r.v[0].offset, 5);
	recs_free(&r);
}

static const struct ems_record *one_bp(struct recs *r, const char *stop_line)
{
	struct ems_parser p;
	memset(r, 0, sizeof(*r));
	ems_init(&p, on_rec, r);
	const char *lines[] = {"<BP>", stop_line, "</BP>"};
	feed_lines(&p, lines, 3, 0);
	assert_int_equal(r->n, 1);
	return &r->v[0];
}

static void test_stopcode_spellings(void **state)
{
	(void)state;
	static const struct {
		const char *line;
		bool ok;
		uint32_t code;
		const char *text;
	} cases[] = {
	    {"<PROPERTY NAME=\"STOPCODE\" TYPE=\"string\"><VALUE>\"0xE2\"</VALUE></PROPERTY>", true, 0xE2,
	     "0xE2"},
	    {"<PROPERTY NAME=\"STOPCODE\"><VALUE>0x80</VALUE></PROPERTY>", true, 0x80, "0x80"},
	    {"<property name='stopcode'><value>'0xef'</value></property>", true, 0xEF, "0xef"},
	    {"<PROPERTY NAME=STOPCODE><VALUE>0XC000021A</VALUE>", true, 0xC000021A, "0XC000021A"},
	    {"<PROPERTY NAME=\"STOPCODE\"><VALUE> \"1E\" </VALUE>", true, 0x1E, "1E"},
	    {"<PROPERTY  TYPE=\"string\"  NAME = \"STOPCODE\"><VALUE>\"0x0000007B\"</VALUE>", true, 0x7B,
	     "0x0000007B"},
	    {"<PROPERTY NAME=\"STOPCODE\"><VALUE>\"0xZZ\"</VALUE>", false, 0, "0xZZ"},
	    {"<PROPERTY NAME=\"STOPCODE\"><VALUE>\"0x123456789\"</VALUE>", false, 0, "0x123456789"},
	    {"<PROPERTY NAME=\"STOPCODE\"><VALUE>\"\"</VALUE>", false, 0, ""},
	    {"<PROPERTY NAME=\"STOPCODE\"><VALUE>\"0x</VALUE>", false, 0, "0x"},
	    /* another property's VALUE is not the stop code */
	    {"<PROPERTY NAME=\"IPADDRESS\"><VALUE>\"10.0.0.1\"</VALUE></PROPERTY>", false, 0, ""},
	    {"<PROPERTY CLASSNAME=\"STOPCODE\" NAME=\"X\"><VALUE>\"0xE2\"</VALUE>", false, 0, ""},
	    /* a VALUE after </PROPERTY> is not either */
	    {"<PROPERTY NAME=\"STOPCODE\"></PROPERTY><VALUE>\"0xE2\"</VALUE>", false, 0, ""},
	    /* far too long: cut to the field */
	    {"<PROPERTY NAME=\"STOPCODE\"><VALUE>\"0x11111111111111111111111111111111\"</VALUE>", false, 0,
	     "0x111111111111111111111"},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct recs r;
		const struct ems_record *e = one_bp(&r, cases[i].line);
		if (e->has_stopcode != cases[i].ok || e->stopcode != cases[i].code ||
		    strcmp(e->stopcode_text, cases[i].text) != 0)
			fail_msg("case %zu: has %d code %#x text \"%s\"", i, e->has_stopcode, e->stopcode,
			         e->stopcode_text);
		recs_free(&r);
	}
}

static void test_entities_and_cuts(void **state)
{
	(void)state;
	struct recs r = {0};
	struct ems_parser p;
	ems_init(&p, on_rec, &r);
	char big[600];
	int o = snprintf(big, sizeof(big), "<os-product>");
	for (int i = 0; i < 200; i++)
		big[o++] = 'P';
	snprintf(big + o, sizeof(big) - (size_t)o, "</os-product>");
	char utf[300];
	o = snprintf(utf, sizeof(utf), "<os-service-pack>");
	for (int i = 0; i < 40; i++) {
		utf[o++] = '\xc3'; /* é: two bytes, the cut falls inside one */
		utf[o++] = '\xa9';
	}
	snprintf(utf + o, sizeof(utf) - (size_t)o, "</os-service-pack>");
	const char *lines[] = {
	    "<machine-info>",
	    "<name>A&amp;B &lt;x&gt; &quot;q&quot; &apos;s&apos; &AMP; &foo; & end</name>",
	    "<guid>  spaced\t</guid>",
	    big,
	    utf,
	    "<os-version>unterminated",
	    "<os-build-number></os-build-number>",
	    "</machine-info>",
	};
	feed_lines(&p, lines, ARRAY_LEN(lines), 0);
	assert_int_equal(r.n, 1);
	const struct ems_machine_info *mi = &r.v[0].mi;
	assert_string_equal(mi->name, "A&B <x> \"q\" 's' & &foo; & end");
	assert_string_equal(mi->guid, "spaced");
	assert_int_equal(strlen(mi->os_product), sizeof(mi->os_product) - 1);
	assert_int_equal(mi->os_product[0], 'P');
	/* 63 bytes fit; the 63rd would be half an é, so 62 */
	assert_int_equal(strlen(mi->os_sp), 62);
	assert_int_equal((unsigned char)mi->os_sp[61], 0xa9);
	assert_string_equal(mi->os_version, "unterminated");
	assert_string_equal(mi->os_build, "");
	recs_free(&r);
}

static void test_bounds(void **state)
{
	(void)state;
	struct recs r = {0};
	struct ems_parser p;
	ems_init(&p, on_rec, &r);
	/* by lines: the opening line + 63 more fit, the 65th line cuts */
	ems_feed_line(&p, "<BP>", 4, 0);
	for (unsigned i = 1; i < EMS_MAX_RECORD_LINES; i++)
		ems_feed_line(&p, "x", 1, i);
	assert_int_equal(r.n, 0);
	ems_feed_line(&p, "<BP>", 4, 64); /* over the bound: emitted, and this line scanned afresh */
	assert_int_equal(r.n, 1);
	assert_true(r.v[0].truncated);
	assert_int_equal(r.v[0].offset, 0);
	ems_feed_line(&p, "<PROPERTY NAME=\"STOPCODE\"><VALUE>\"0x50\"</VALUE></PROPERTY>", 59, 65);
	ems_feed_line(&p, "</BP>", 5, 66);
	assert_int_equal(r.n, 2);
	assert_false(r.v[1].truncated);
	assert_int_equal(r.v[1].offset, 64);
	assert_int_equal(r.v[1].stopcode, 0x50);

	/* by bytes */
	char line[4000];
	memset(line, 'y', sizeof(line));
	ems_feed_line(&p, "<machine-info>", 14, 100);
	ems_feed_line(&p, line, sizeof(line), 101);
	ems_feed_line(&p, line, sizeof(line), 102);
	assert_int_equal(r.n, 2);
	ems_feed_line(&p, line, sizeof(line), 103);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.v[2].kind, EMS_MACHINE_INFO);
	assert_true(r.v[2].truncated);

	/* a new <BP> while one is open: the open one is truncated */
	ems_feed_line(&p, "<BP><machine-info><name>first</name>", 36, 200);
	ems_feed_line(&p, "<?xml><BP>", 10, 201);
	assert_int_equal(r.n, 4);
	assert_true(r.v[3].truncated);
	assert_string_equal(r.v[3].mi.name, "first");
	/* and the new one starts clean */
	ems_feed_line(&p, "</BP>", 5, 202);
	assert_int_equal(r.n, 5);
	assert_false(r.v[4].truncated);
	assert_false(r.v[4].has_machine_info);
	assert_string_equal(r.v[4].mi.name, "");

	/* finish: an open record comes out truncated, then nothing */
	ems_feed_line(&p, "<machine-info>", 14, 300);
	ems_finish(&p);
	assert_int_equal(r.n, 6);
	assert_true(r.v[5].truncated);
	ems_finish(&p);
	assert_int_equal(r.n, 6);
	recs_free(&r);
}

static void test_garbage(void **state)
{
	(void)state;
	static const char *const lines[] = {
	    "",
	    "</BP>",
	    "</machine-info>",
	    "<BP",
	    "<<<<<<<<<<BP",
	    "BP> <B P> <bp x=>",
	    "<name>no record</name>",
	    ">>>> <<<< <> </> <//> <\t>",
	    "<VALUE>\"0xE2\"</VALUE>",
	};
	struct recs r = {0};
	struct ems_parser p;
	ems_init(&p, on_rec, &r);
	feed_lines(&p, lines, ARRAY_LEN(lines), 0);
	ems_finish(&p);
	/* "<bp x=>" opens a record (a tag named BP with junk attributes) */
	assert_int_equal(r.n, 1);
	assert_true(r.v[0].truncated);
	assert_false(r.v[0].has_stopcode); /* the VALUE was not inside a STOPCODE PROPERTY */
	recs_free(&r);

	/* many '<' without '>' stay linear and find the real tag at the end */
	memset(&r, 0, sizeof(r));
	ems_init(&p, on_rec, &r);
	size_t n = 100000;
	char *s = xmalloc(n + 16);
	memset(s, '<', n);
	memcpy(s + n, "<BP></BP>", 9);
	ems_feed_line(&p, s, n + 9, 0);
	assert_int_equal(r.n, 1);
	assert_false(r.v[0].truncated);
	free(s);

	/* no callback set: nothing breaks */
	ems_init(&p, NULL, NULL);
	ems_feed_line(&p, "<BP></BP><machine-info>", 23, 0);
	ems_finish(&p);
	recs_free(&r);
}

static void test_stopcode_names(void **state)
{
	(void)state;
	static const struct {
		uint32_t code;
		const char *name;
	} want[] = {
	    {0x0A, "IRQL_NOT_LESS_OR_EQUAL"},
	    {0x1E, "KMODE_EXCEPTION_NOT_HANDLED"},
	    {0x3B, "SYSTEM_SERVICE_EXCEPTION"},
	    {0x50, "PAGE_FAULT_IN_NONPAGED_AREA"},
	    {0x7B, "INACCESSIBLE_BOOT_DEVICE"},
	    {0x7E, "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED"},
	    {0x7F, "UNEXPECTED_KERNEL_MODE_TRAP"},
	    {0x80, "NMI_HARDWARE_FAILURE"},
	    {0x9F, "DRIVER_POWER_STATE_FAILURE"},
	    {0xA5, "ACPI_BIOS_ERROR"},
	    {0xC2, "BAD_POOL_CALLER"},
	    {0xD1, "DRIVER_IRQL_NOT_LESS_OR_EQUAL"},
	    {0xE2, "MANUALLY_INITIATED_CRASH"},
	    {0xEF, "CRITICAL_PROCESS_DIED"},
	    {0xF4, "CRITICAL_OBJECT_TERMINATION"},
	    {0x101, "CLOCK_WATCHDOG_TIMEOUT"},
	    {0x116, "VIDEO_TDR_FAILURE"},
	    {0x124, "WHEA_UNCORRECTABLE_ERROR"},
	    {0x133, "DPC_WATCHDOG_VIOLATION"},
	    {0x139, "KERNEL_SECURITY_CHECK_FAILURE"},
	    {0x154, "UNEXPECTED_STORE_EXCEPTION"},
	    {0xC000021A, "STATUS_SYSTEM_PROCESS_TERMINATED"},
	    {0x01, "APC_INDEX_MISMATCH"},
	    {0xDEADDEAD, "MANUALLY_INITIATED_CRASH1"},
	};
	for (size_t i = 0; i < ARRAY_LEN(want); i++) {
		const char *got = ems_stopcode_name(want[i].code);
		if (!got || strcmp(got, want[i].name) != 0)
			fail_msg("%#x: got %s, want %s", want[i].code, got ? got : "NULL", want[i].name);
	}
	assert_null(ems_stopcode_name(0));
	assert_null(ems_stopcode_name(0x2));
	assert_null(ems_stopcode_name(0xFFFFFFFF));
	/* every code from 0 to 0x200 either has no name or a plausible one: the
	 * table's binary search must not skip entries, so count them */
	size_t named = 0;
	for (uint32_t c = 0; c < 0x200; c++)
		if (ems_stopcode_name(c))
			named++;
	assert_true(named >= 70);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bp_through_normaliser),
	    cmocka_unit_test(test_bp_cut_off_through_normaliser),
	    cmocka_unit_test(test_cyclades_sample),
	    cmocka_unit_test(test_standalone_machine_info),
	    cmocka_unit_test(test_stopcode_spellings),
	    cmocka_unit_test(test_entities_and_cuts),
	    cmocka_unit_test(test_bounds),
	    cmocka_unit_test(test_garbage),
	    cmocka_unit_test(test_stopcode_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
