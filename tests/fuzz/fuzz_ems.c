/*
 * fuzz_ems.c — libFuzzer harness for the EMS record scanner and the
 * timestamp prefix parser, fed directly (not through the normaliser), so
 * they also see bytes the normaliser would have removed: NUL, ESC, CR, very
 * long lines.
 *
 * The input is cut into lines at '\n'; each line goes to ems_feed_line and
 * ts_parse_prefix. Checks: every record field is NUL-terminated within its
 * array, a record's offset is one the harness gave, the prefix body lies
 * within the line and ISO/syslog/printk values are sane.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "emsagent/clock.h"
#include "emsagent/ems.h"
#include "emsagent/line.h"

struct ctx {
	uint64_t max_off;
};

static void check_str(const char *s, size_t size)
{
	if (!memchr(s, '\0', size))
		abort();
}

static void on_rec(void *vctx, const struct ems_record *rec)
{
	const struct ctx *c = vctx;
	if (rec->offset > c->max_off)
		abort();
	if (rec->kind != EMS_BUGCHECK && rec->kind != EMS_MACHINE_INFO)
		abort();
	if (rec->kind == EMS_MACHINE_INFO && (!rec->has_machine_info || rec->has_stopcode))
		abort();
	check_str(rec->stopcode_text, sizeof(rec->stopcode_text));
	check_str(rec->mi.name, sizeof(rec->mi.name));
	check_str(rec->mi.guid, sizeof(rec->mi.guid));
	check_str(rec->mi.arch, sizeof(rec->mi.arch));
	check_str(rec->mi.os_version, sizeof(rec->mi.os_version));
	check_str(rec->mi.os_build, sizeof(rec->mi.os_build));
	check_str(rec->mi.os_product, sizeof(rec->mi.os_product));
	check_str(rec->mi.os_sp, sizeof(rec->mi.os_sp));
	const char *name = rec->has_stopcode ? ems_stopcode_name(rec->stopcode) : NULL;
	if (name && !*name)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctx c = {0};
	struct ems_parser p;
	struct clock clk;
	ems_init(&p, on_rec, &c);
	clock_init(&clk, CLOCK_LOG);
	const char *s = (const char *)data;
	size_t o = 0;
	while (o < size) {
		const char *nl = memchr(s + o, '\n', size - o);
		size_t len = nl ? (size_t)(nl - (s + o)) : size - o;
		c.max_off = o;
		ems_feed_line(&p, s + o, len, o);

		struct ts_prefix tp;
		ts_parse_prefix(s + o, len, &tp);
		if (tp.body > len || tp.printk_ns < 0)
			abort();
		if (tp.wall_no_year && (tp.wall_month < 1 || tp.wall_month > 12 || tp.wall_in_month_ns < 0))
			abort();
		int64_t t;
		unsigned f;
		int64_t before = clk.now;
		unsigned before_f = clk.flags;
		clock_line(&clk, &tp, 0, 0, &t, &f);
		/* within one time base, log time never goes back */
		if ((before_f & f & LINE_TIME_KNOWN) && ((before_f ^ f) & LINE_TIME_WALL) == 0 && t < before)
			abort();
		o += len + (nl != NULL);
	}
	ems_finish(&p);
	return 0;
}
