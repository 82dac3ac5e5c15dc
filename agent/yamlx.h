/*
 * yamlx.h — typed access to libyaml documents with every error at
 * FILE:LINE:COL, shared by the YAML loaders (rules, watch config).
 *
 * A struct yamlx is the reading position: the diagnostics to fill, the file
 * name and text being read, and the current document. Every getter either
 * produces a value or reports one error at the node that is wrong and
 * returns -1, so walkers keep going after an error to find the next one.
 * Errors are capped (YX_MAX_ERRORS) so a garbage file cannot flood the output.
 * Who uses it: rules_*.c (through the rl_* wrappers in rules_priv.h), config.c.
 */
#ifndef EMSAGENT_YAMLX_H
#define EMSAGENT_YAMLX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

#include "emsagent/rules.h"
#include "emsagent/util.h"

#define YX_MAX_ERRORS  200
#define YX_MAX_LIST    100000
#define YX_MAX_NESTING 64

struct yamlx {
	struct diags *d;
	yaml_document_t *doc; /* the document being read */
	const char *file;     /* name used in locations */
	const char *src;      /* the file's text, to place errors inside block scalars */
	size_t srclen;
	size_t nerrors; /* errors reported so far (also those past the cap) */
};

void yx_error(struct yamlx *y, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void yx_error_loc(struct yamlx *y, const struct src_loc *loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* An error about a whole file (no line). */
void yx_file_error(struct yamlx *y, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* libyaml's own parse error, at its problem mark. */
void yx_parser_error(struct yamlx *y, const char *file, const yaml_parser_t *parser);
/* Refuses streams nested deeper than YX_MAX_NESTING before building documents
 * (libyaml's loader is quadratic on absurd nesting). 0, or -1 after reporting. */
int yx_check_nesting(struct yamlx *y, const char *file, const char *text, size_t len);
/* Called for each document of a stream with its root node (y->doc is set);
 * returns false to stop reading. */
typedef bool (*yx_doc_fn)(void *ctx, yaml_node_t *root, size_t index);
/* Parses every document of text (nesting checked first, parser errors
 * reported at their place), at most max_docs of them (more is an error).
 * Returns the number of documents handed to fn. */
size_t yx_each_document(struct yamlx *y, const char *file, const char *text, size_t len, size_t max_docs,
                        yx_doc_fn fn, void *ctx);

struct src_loc yx_loc(const struct yamlx *y, const yaml_node_t *n);
yaml_node_t *yx_node(struct yamlx *y, int idx);
const char *yx_type_name(const yaml_node_t *n);
/* Plain empty scalar (`key:` with nothing after it). */
bool yx_is_null(const yaml_node_t *n);
/* Checks a mapping: keys are strings, none repeated, every one in allowed
 * (did-you-mean otherwise). Returns the number of problems. */
int yx_check_keys(struct yamlx *y, const yaml_node_t *map, const char *const *allowed, size_t nallowed,
                  const char *what);
/* The value of key in map, or NULL; *keyn (optional) gets the key node. */
yaml_node_t *yx_get(struct yamlx *y, const yaml_node_t *map, const char *key, yaml_node_t **keyn);
/* Typed getters: 0 ok, -1 after reporting at the node. */
int yx_expect_map(struct yamlx *y, const yaml_node_t *n, const char *what);
int yx_str(struct yamlx *y, const yaml_node_t *n, const char *what, bool allow_empty, char **out);
int yx_strv(struct yamlx *y, const yaml_node_t *n, const char *what, bool single_ok, char ***out,
            size_t *nout);
int yx_bool(struct yamlx *y, const yaml_node_t *n, const char *what, bool *out);
int yx_uint(struct yamlx *y, const yaml_node_t *n, const char *what, unsigned long max, unsigned long *out);
int yx_duration(struct yamlx *y, const yaml_node_t *n, const char *what, int64_t *out);
/* One of names; returns the index or -1 after "bad WHAT 'x' (expected a, b or c)". */
int yx_enum(struct yamlx *y, const yaml_node_t *n, const char *what, const char *const *names, size_t nnames);
size_t yx_seq_len(const yaml_node_t *n);
size_t yx_map_len(const yaml_node_t *n);
const char *yx_sval(const yaml_node_t *n); /* scalar text or NULL */
void yx_missing(struct yamlx *y, const yaml_node_t *map, const char *key, const char *what);
/* Source line/column of line k (0-based) of a scalar's value, pointing at needle
 * in that line when it can be placed; the scalar's own position otherwise. */
struct src_loc yx_scalar_line_loc(const struct yamlx *y, const yaml_node_t *n, size_t k, const char *needle);
/* The candidate closest to s by edit distance, or NULL when none is close. */
const char *yx_suggest(const char *s, const char *const *cands, size_t n);
void yx_free_strv(char **v, size_t n);

#endif
