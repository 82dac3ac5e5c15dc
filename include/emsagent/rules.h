/*
 * rules.h — the emsagent/v1 signature schema as C structs, and the loader
 * that builds them from YAML (design §7; reference: doc/rules.md).
 *
 * Owns: every rule, detector, epoch marker, ignore, enum table and embedded
 * test of a rule set, and all their strings. Macros are expanded at load time
 * and not kept.
 * Lifecycle: rules_load (files and directories, *.yaml / *.yml, recursively,
 * in sorted order) → use, read-only, from any number of engines → rules_free.
 * Nothing half-loaded is returned: on any error rules_load returns -1, the
 * set is empty, and every problem is in the diags as FILE:LINE:COL.
 * rules_lint adds warnings (check's job) without failing the load.
 * Who calls it: cli_scan, cli_rules, later the watch config.
 */
#ifndef EMSAGENT_RULES_H
#define EMSAGENT_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "emsagent/util.h"

enum rule_level { LEVEL_INFO, LEVEL_LOW, LEVEL_MEDIUM, LEVEL_HIGH, LEVEL_CRITICAL };
enum rule_status { STATUS_EXPERIMENTAL, STATUS_TEST, STATUS_STABLE, STATUS_DEPRECATED };
enum rule_os { OS_ANY, OS_WINDOWS, OS_LINUX };

const char *rule_level_name(enum rule_level l);
int rule_level_parse(const char *s, enum rule_level *out); /* 0 ok, -1 unknown */
const char *rule_status_name(enum rule_status s);
const char *rule_os_name(enum rule_os o);

struct src_loc {
	const char *file; /* owned by the ruleset */
	unsigned line, col;
};

/* A named value table for `capture: {x: enum:TABLE}` (defined in kind: macros
 * documents under `tables:`). Keys compare case-insensitively, and
 * numerically when both key and value parse as integers ("0xE2" == "0x000000e2"). */
struct enum_table {
	char *name;
	char **keys, **values;
	size_t n;
	struct src_loc loc;
};

enum cap_type { CAP_STR, CAP_INT, CAP_HEX, CAP_ENUM };
struct capture_spec {
	char *name;
	enum cap_type type;
	const struct enum_table *table; /* CAP_ENUM */
	struct src_loc loc;
};

enum det_op { DET_CONTAINS, DET_PREFIX, DET_LINE, DET_FULLWORD, DET_REGEX, DET_EMS };
const char *det_op_name(enum det_op op);

enum ems_det_kind { EMS_DET_BUGCHECK, EMS_DET_MACHINE_INFO };

/* Special detector indexes in when references (besides 0..ndets-1). */
#define DET_REF_NONE       (-1)
#define DET_REF_ANY_OUTPUT (-2) /* absent.of: any-output */
#define DET_REF_EPOCH      (-3) /* "epoch": a new boot started (cross-epoch rules) */

struct detector {
	char *name;
	struct src_loc loc;
	enum det_op op;
	/* contains / prefix / line / fullword: alternatives (any of them).
	 * regex: the anchor literals (any of them must occur in the line
	 * for the regex to be tried); given by `anchor:` or derived. */
	char **lits;
	size_t nlits;
	char *regex;         /* DET_REGEX: after macro expansion */
	bool anchor_derived; /* anchor came from the regex itself */
	/* DET_EMS */
	enum ems_det_kind ems;
	uint32_t *stopcodes; /* empty = any */
	size_t nstopcodes;
	/* options */
	bool nocase;
	bool line_start; /* at: line-start — match must begin at line body */
	bool partial;    /* also try on partial (unterminated) lines */
	struct capture_spec *caps;
	size_t ncaps;
	char **unless; /* same-line suppression literals (nocase follows the detector) */
	size_t nunless;
	bool has_unless_near;
	int unless_near_det;        /* index in the rule's dets */
	unsigned unless_near_lines; /* within N lines before (0 = not by lines) */
	int64_t unless_near_ns;     /* or within a duration before (0 = not by time) */
	bool has_block;
	char **block_end; /* the block ends at a line containing one of these */
	size_t nblock_end;
	unsigned block_max_lines; /* default 200 */
	int64_t block_max_ns;     /* 0 = no time bound */
	int index;                /* position in its owner's array */
};

enum when_kind { WHEN_ANY, WHEN_ALL, WHEN_SEQUENCE, WHEN_COUNT, WHEN_ABSENT };
const char *when_kind_name(enum when_kind k);

struct seq_step {
	int det;           /* detector index */
	int64_t within_ns; /* 0 = no bound (step 0 has none) */
};

struct when {
	enum when_kind kind;
	int *of; /* any/all/count: detector indexes or DET_REF_EPOCH; any: n=0 means every detector */
	size_t nof;
	int64_t within_ns;      /* all / count window; 0 = the whole epoch */
	struct seq_step *steps; /* sequence */
	size_t nsteps;
	unsigned at_least;    /* count */
	char *distinct;       /* count: capture name whose distinct values are counted, or NULL */
	int after;            /* absent: detector that starts the timer */
	int absent_of;        /* absent: detector index or DET_REF_ANY_OUTPUT */
	bool absent_progress; /* absent: of: progress:DET — only a changed capture value counts */
	int64_t for_ns;       /* absent */
	int *resolve_on;
	size_t nresolve;
	int64_t keep_firing_ns;
	char **group_by; /* capture names */
	size_t ngroup;
};

enum action_kind { ACT_ALERT, ACT_EXEC, ACT_SEND, ACT_SAC, ACT_DUMP, ACT_RESTART };
enum action_on { ACT_ON_FIRE, ACT_ON_PENDING, ACT_ON_RESOLVE };
const char *action_kind_name(enum action_kind k);

struct kv {
	char *key, *value;
};

struct action {
	enum action_kind kind;
	enum action_on on;
	int64_t delay_ns, cooldown_ns, timeout_ns;
	unsigned max_per_epoch; /* 0 = unlimited */
	char **argv;            /* exec */
	size_t argc;
	char *text;     /* send: text with escapes; sac: command */
	char *method;   /* dump: auto|sac|nmi|sysrq */
	char **require; /* capability names the console must have */
	size_t nrequire;
	struct src_loc loc;
};

enum test_expect { EXPECT_FIRE, EXPECT_NO_FIRE, EXPECT_UNCERTAIN, EXPECT_PENDING, EXPECT_RESOLVED };
const char *test_expect_name(enum test_expect e);

struct rule_test {
	char *name;
	char *input;    /* lines; "@+DURATION" lines advance the virtual clock */
	bool escapes;   /* input uses \r \n \t \e \a \b \\ \xHH escapes */
	bool clock_log; /* clock: log — time from the lines' own timestamps; no @+ marks */
	enum test_expect expect;
	int count;           /* expected number of rule.fired events; -1 = not checked */
	struct kv *captures; /* expected captures of the first fired event */
	size_t ncaptures;
	char *title; /* expected rendered title of the first fired event, or NULL */
	struct src_loc loc;
};

struct reference {
	char *title, *url;
};

struct rule {
	char *id;
	char *title; /* template: {capture}, {held}, {count}, {epoch}, {rule} */
	enum rule_level level;
	enum rule_status status;
	enum rule_os os;
	char **tags;
	size_t ntags;
	char *summary;
	char **remediation;
	size_t nremediation;
	struct reference *refs;
	size_t nrefs;
	struct detector *dets;
	size_t ndets;
	struct when when;
	struct action *actions;
	size_t nactions;
	struct rule_test *tests;
	size_t ntests;
	bool cross_epoch; /* references "epoch": state survives epoch changes */
	struct src_loc loc;
	int index;
};

struct epoch_marker {
	char *name;
	int stage; /* a marker starts a new epoch unless the current epoch has only seen lower stages */
	struct detector det;
};

struct ruleset {
	struct rule *rules;
	size_t nrules;
	struct detector *ignores; /* kind: ignore — lines matching one are not offered to rules */
	size_t nignores;
	struct epoch_marker *epochs;
	size_t nepochs;
	struct enum_table *tables;
	size_t ntables;
	char **files; /* every file name a src_loc points at */
	size_t nfiles;
};

/* Loads files and directories. Returns 0, or -1 with errors in d (and an
 * empty set). Warnings may be added on success. */
int rules_load(struct ruleset *rs, const char *const *paths, size_t npaths, struct diags *d);
/* Loads one YAML document stream from memory (tests); name is used in locations. */
int rules_load_string(struct ruleset *rs, const char *name, const char *yaml, struct diags *d);
/* Lint warnings: short or common anchors, trailing unbounded repetition, stable
 * rules without both a positive and a negative test, unused detectors. */
void rules_lint(const struct ruleset *rs, struct diags *d);
void rules_free(struct ruleset *rs);

const struct rule *rules_find(const struct ruleset *rs, const char *id);
int rule_det_index(const struct rule *r, const char *name); /* -1 when absent */

/*
 * Derives anchor literals from a regex: the longest run of literal
 * characters that every match must contain (top level, no alternation at that
 * level). Returns 0 and sets *out (malloc'd) or -1 when there is none of at
 * least min_len bytes.
 */
int regex_derive_anchor(const char *re, size_t min_len, char **out);

#endif
