/*
 * rules_priv.h — what the rule loader's files share and nobody else needs.
 *
 * rules.c      names, free, lookups, did-you-mean
 * rules_yaml.c typed access to libyaml document nodes with FILE:LINE:COL errors
 * rules_det.c  one detector map (match:, ignore:, epochs[].match)
 * rules_load.c documents by kind; a rule's fields, detectors and actions
 * rules_when.c the when: map
 * rules_tests.c embedded tests
 * rules_docs.c macros, ignore and epochs documents
 * rules_pack.c files and directories, then the pack-wide pass (macros,
 *              tables, regex checks) once every file has been read
 * rules_regex.c the regex dialect: anchors, forbidden constructs, tails
 * rules_lint.c  warnings
 */
#ifndef EMSAGENT_RULES_PRIV_H
#define EMSAGENT_RULES_PRIV_H

#include <yaml.h>

#include "emsagent/rules.h"

/* Bounds on what a pack may make the loader do. */
#define RL_MAX_FILE_BYTES  (16u << 20)
#define RL_MAX_FILES       10000
#define RL_MAX_DIR_DEPTH   16
#define RL_MAX_ERRORS      200
#define RL_MAX_REGEX_BYTES (64u << 10)
#define RL_MAX_MACRO_DEPTH 32
#define RL_MAX_LIST        100000
#define RL_MAX_NESTING     64

struct rl_macro {
	char *name, *text;
	struct src_loc loc;
};

/* Facts the structs have no room for, kept until the pack-wide pass: where a
 * regex scalar was written (key: the raw regex string) and which table an
 * enum capture names (key: the capture's name string). Strings do not move
 * while the rule arrays grow, and nothing keyed here is freed before the
 * pass, so the address identifies the object. */
struct rl_reloc {
	const void *key;
	struct src_loc loc;
	char *aux;
};

struct rl_ctx {
	struct ruleset *rs;
	struct diags *d;
	size_t cap_rules, cap_ignores, cap_epochs, cap_tables, cap_files;
	struct rl_macro *macros;
	size_t nmacros, cap_macros;
	struct rl_reloc *relocs;
	size_t nrelocs, cap_relocs;
	size_t nerrors;
	/* the document being read */
	yaml_document_t *doc;
	const char *file; /* owned by rs->files */
	const char *src;  /* the file's text, to place errors inside block scalars */
	size_t srclen;
};

/* rules.c */
void rl_free_detector(struct detector *det);
void rl_free_rule(struct rule *r);
void rl_free_strv(char **v, size_t n);
/* The candidate closest to s by edit distance, or NULL when none is close. */
const char *rl_suggest(const char *s, const char *const *cands, size_t n);
int rl_det_ref(const struct detector *dets, size_t ndets, const char *name);

/* rules_yaml.c */
void rl_error(struct rl_ctx *c, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void rl_error_loc(struct rl_ctx *c, const struct src_loc *loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
struct src_loc rl_loc(const struct rl_ctx *c, const yaml_node_t *n);
yaml_node_t *rl_node(struct rl_ctx *c, int idx);
const char *rl_type_name(const yaml_node_t *n);
/* Plain empty scalar (`key:` with nothing after it). */
bool rl_is_null(const yaml_node_t *n);
/* Checks a mapping: keys are strings, none repeated, every one in allowed
 * (did-you-mean otherwise). Returns the number of problems. */
int rl_check_keys(struct rl_ctx *c, const yaml_node_t *map, const char *const *allowed, size_t nallowed,
                  const char *what);
/* The value of key in map, or NULL; *keyn (optional) gets the key node. */
yaml_node_t *rl_get(struct rl_ctx *c, const yaml_node_t *map, const char *key, yaml_node_t **keyn);
/* Typed getters: 0 ok, -1 after reporting at the node. */
int rl_expect_map(struct rl_ctx *c, const yaml_node_t *n, const char *what);
int rl_str(struct rl_ctx *c, const yaml_node_t *n, const char *what, bool allow_empty, char **out);
int rl_strv(struct rl_ctx *c, const yaml_node_t *n, const char *what, bool single_ok, char ***out,
            size_t *nout);
int rl_bool(struct rl_ctx *c, const yaml_node_t *n, const char *what, bool *out);
int rl_uint(struct rl_ctx *c, const yaml_node_t *n, const char *what, unsigned long max, unsigned long *out);
int rl_duration(struct rl_ctx *c, const yaml_node_t *n, const char *what, int64_t *out);
/* One of names; returns the index or -1 after "bad WHAT 'x' (expected a, b or c)". */
int rl_enum(struct rl_ctx *c, const yaml_node_t *n, const char *what, const char *const *names,
            size_t nnames);
/* Source line/column of line k (0-based) of a scalar's value, pointing at needle
 * in that line when it can be placed; the scalar's own position otherwise. */
size_t rl_seq_len(const yaml_node_t *n);
size_t rl_map_len(const yaml_node_t *n);
const char *rl_sval(const yaml_node_t *n); /* scalar text or NULL */
void rl_missing(struct rl_ctx *c, const yaml_node_t *map, const char *key, const char *what);
struct src_loc rl_scalar_line_loc(const struct rl_ctx *c, const yaml_node_t *n, size_t k, const char *needle);

/* rules_det.c */
enum rl_det_owner { RL_DET_RULE, RL_DET_IGNORE, RL_DET_EPOCH };
/* Fills det (its name already set) from a detector map; namen is where the
 * detector is named (for errors about the whole detector). Allocations stay
 * in det even on error (the caller frees the whole set). 0 or -1. */
int rl_parse_detector(struct rl_ctx *c, const yaml_node_t *namen, const yaml_node_t *map,
                      enum rl_det_owner owner, struct detector *det);
/* After all of a rule's detectors exist: unless_near names -> indexes.
 * matchmap is the rule's match: map (dets are in its order). */
void rl_det_resolve_near(struct rl_ctx *c, const yaml_node_t *matchmap, struct detector *dets, size_t ndets);
/* A detector name at n -> index; reports unknown names with a suggestion. */
int rl_det_lookup(struct rl_ctx *c, const yaml_node_t *n, const struct detector *dets, size_t ndets,
                  const char *what);
bool rl_det_has_capture(const struct detector *det, const char *name);
bool rl_valid_name(const char *s);
bool rl_rule_has_capture(const struct rule *r, const char *name);
/* "unknown capture 'x' in WHAT" with a suggestion from the rule's captures. */
void rl_unknown_capture(struct rl_ctx *c, const yaml_node_t *n, const struct rule *r, const char *name,
                        const char *what);

/* rules_load.c */
void rl_load_document(struct rl_ctx *c, yaml_node_t *root);
/* rules_when.c, rules_tests.c (need the rule's detectors parsed first) */
void rl_parse_when(struct rl_ctx *c, const yaml_node_t *n, struct rule *r);
void rl_parse_tests(struct rl_ctx *c, const yaml_node_t *n, struct rule *r);
/* rules_docs.c */
void rl_load_macros(struct rl_ctx *c, const yaml_node_t *root);
void rl_load_ignore(struct rl_ctx *c, const yaml_node_t *root);
void rl_load_epochs(struct rl_ctx *c, const yaml_node_t *root);

/* rules_pack.c */
void rl_add_reloc(struct rl_ctx *c, const void *key, struct src_loc loc, const char *aux);
const struct rl_reloc *rl_find_reloc(const struct rl_ctx *c, const void *key);

/* rules_regex.c */
/* Construct outside the common PCRE2/Vectorscan dialect, or NULL; *off = where. */
const char *re_dialect_problem(const char *re, size_t *off);
/* True when the regex ends (at its top level) in an unbounded repetition. */
bool re_trailing_unbounded(const char *re);

#endif
