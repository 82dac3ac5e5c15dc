/*
 * ems.h — Windows EMS XML records on the serial line (sac-ems.md §5).
 *
 * The kernel sends a bugcheck as BEL BEL BEL "<?xml>" BEL "<BP>" ... "</BP>"
 * BEL, and SAC emits "<machine-info>" ... "</machine-info>" (also nested in
 * every <BP>). Neither is well-formed XML, so this is a tolerant, bounded,
 * tag-level scanner that works on normalised lines (BELs are already gone).
 *
 * Lifecycle: ems_init → ems_feed_line for every line → records come out of
 * the callback as soon as the closing tag is seen → ems_finish at end of
 * input (an open record is emitted with truncated = true). Every field is a
 * fixed-size, NUL-terminated array: a guest cannot make this allocate.
 * Owned by the normaliser, which calls it for each completed line.
 */
#ifndef EMSAGENT_EMS_H
#define EMSAGENT_EMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EMS_MAX_RECORD_LINES 64
#define EMS_MAX_RECORD_BYTES 8192

enum ems_kind { EMS_MACHINE_INFO, EMS_BUGCHECK };

struct ems_machine_info {
	char name[128];
	char guid[64];
	char arch[32];
	char os_version[32];
	char os_build[32];
	char os_product[128];
	char os_sp[64];
};

struct ems_record {
	enum ems_kind kind;
	bool has_stopcode; /* EMS_BUGCHECK: STOPCODE property was present and parsed */
	uint32_t stopcode;
	char stopcode_text[24]; /* as sent, quotes removed, e.g. "0xE2" */
	bool has_machine_info;
	struct ems_machine_info mi;
	bool truncated;  /* closing tag never came (size bound or end of input) */
	uint64_t offset; /* byte offset of the line that opened the record */
};

typedef void (*ems_record_fn)(void *ctx, const struct ems_record *rec);

struct ems_parser {
	ems_record_fn fn;
	void *ctx;
	/* private */
	int state;         /* 0 = outside, 1 = in <BP>, 2 = in standalone <machine-info> */
	bool in_mi;        /* inside a machine-info block (standalone or nested) */
	bool in_stop_prop; /* inside <PROPERTY NAME="STOPCODE"> (its <VALUE> may follow on a later line) */
	unsigned lines;
	size_t bytes;
	struct ems_record cur;
};

void ems_init(struct ems_parser *p, ems_record_fn fn, void *ctx);
/* One normalised line (no terminator); offset is the line's input offset. */
void ems_feed_line(struct ems_parser *p, const char *s, size_t len, uint64_t offset);
void ems_finish(struct ems_parser *p);

/* Well-known bugcheck name for a stop code, or NULL. */
const char *ems_stopcode_name(uint32_t code);

#endif
