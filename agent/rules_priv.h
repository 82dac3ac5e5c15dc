/*
 * rules_priv.h — what the rule loader's files share and nobody else needs.
 *
 * rules.c      names, free, lookups
 * (yamlx.c    typed access to libyaml document nodes, shared with config.c)
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
#include "yamlx.h"

/* Bounds on what a pack may make the loader do. */
#define RL_MAX_FILE_BYTES  (16u << 20)
#define RL_MAX_FILES       10000
#define RL_MAX_DIR_DEPTH   16
#define RL_MAX_REGEX_BYTES (64u << 10)
#define RL_MAX_MACRO_DEPTH 32

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
	struct yamlx y; /* diagnostics, the file and document being read */
	struct ruleset *rs;
	size_t cap_rules, cap_ignores, cap_epochs, cap_tables, cap_files;
	struct rl_macro *macros;
	size_t nmacros, cap_macros;
	struct rl_reloc *relocs;
	size_t nrelocs, cap_relocs;
};

/* rules.c */
void rl_free_detector(struct detector *det);
void rl_free_rule(struct rule *r);
void rl_free_strv(char **v, size_t n);
int rl_det_ref(const struct detector *dets, size_t ndets, const char *name);

/* YAML access (yamlx.c): thin names over the shared helpers so the walkers
 * read as before; each takes the loader context. */
#define rl_error(c, n, ...)       yx_error(&(c)->y, (n), __VA_ARGS__)
#define rl_error_loc(c, loc, ...) yx_error_loc(&(c)->y, (loc), __VA_ARGS__)
static inline struct src_loc rl_loc(const struct rl_ctx *c, const yaml_node_t *n)
{
	return yx_loc(&c->y, n);
}
static inline yaml_node_t *rl_node(struct rl_ctx *c, int idx)
{
	return yx_node(&c->y, idx);
}
static inline const char *rl_type_name(const yaml_node_t *n)
{
	return yx_type_name(n);
}
static inline bool rl_is_null(const yaml_node_t *n)
{
	return yx_is_null(n);
}
static inline int rl_check_keys(struct rl_ctx *c, const yaml_node_t *map, const char *const *allowed,
                                size_t nallowed, const char *what)
{
	return yx_check_keys(&c->y, map, allowed, nallowed, what);
}
static inline yaml_node_t *rl_get(struct rl_ctx *c, const yaml_node_t *map, const char *key,
                                  yaml_node_t **keyn)
{
	return yx_get(&c->y, map, key, keyn);
}
static inline int rl_expect_map(struct rl_ctx *c, const yaml_node_t *n, const char *what)
{
	return yx_expect_map(&c->y, n, what);
}
static inline int rl_str(struct rl_ctx *c, const yaml_node_t *n, const char *what, bool allow_empty,
                         char **out)
{
	return yx_str(&c->y, n, what, allow_empty, out);
}
static inline int rl_strv(struct rl_ctx *c, const yaml_node_t *n, const char *what, bool single_ok,
                          char ***out, size_t *nout)
{
	return yx_strv(&c->y, n, what, single_ok, out, nout);
}
static inline int rl_bool(struct rl_ctx *c, const yaml_node_t *n, const char *what, bool *out)
{
	return yx_bool(&c->y, n, what, out);
}
static inline int rl_uint(struct rl_ctx *c, const yaml_node_t *n, const char *what, unsigned long max,
                          unsigned long *out)
{
	return yx_uint(&c->y, n, what, max, out);
}
static inline int rl_duration(struct rl_ctx *c, const yaml_node_t *n, const char *what, int64_t *out)
{
	return yx_duration(&c->y, n, what, out);
}
static inline int rl_enum(struct rl_ctx *c, const yaml_node_t *n, const char *what, const char *const *names,
                          size_t nnames)
{
	return yx_enum(&c->y, n, what, names, nnames);
}
static inline size_t rl_seq_len(const yaml_node_t *n)
{
	return yx_seq_len(n);
}
static inline size_t rl_map_len(const yaml_node_t *n)
{
	return yx_map_len(n);
}
static inline const char *rl_sval(const yaml_node_t *n)
{
	return yx_sval(n);
}
static inline void rl_missing(struct rl_ctx *c, const yaml_node_t *map, const char *key, const char *what)
{
	yx_missing(&c->y, map, key, what);
}
static inline struct src_loc rl_scalar_line_loc(const struct rl_ctx *c, const yaml_node_t *n, size_t k,
                                                const char *needle)
{
	return yx_scalar_line_loc(&c->y, n, k, needle);
}
static inline const char *rl_suggest(const char *s, const char *const *cands, size_t n)
{
	return yx_suggest(s, cands, n);
}

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
