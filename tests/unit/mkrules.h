/*
 * mkrules.h — builds a struct ruleset by hand for unit tests, without the
 * YAML loader (test_match, test_engine).
 *
 * Arrays are allocated once at fixed capacities (MK_MAX_*), so a pointer
 * returned by one call stays valid while more rules, detectors, tables,
 * ignores or epoch markers are added. Everything is freed by mk_free (not
 * rules_free: the two must not be mixed). Exceeding a capacity aborts the
 * test: that is a bug in the test, not a condition to handle.
 *
 * Usage:
 *	struct ruleset rs = {0};
 *	int r = mk_rule(&rs, "R1");
 *	struct detector *d = mk_det(&rs, r, "a", DET_CONTAINS, "foo", "bar", NULL);
 *	d->nocase = true;
 *	mk_unless(d, "baz", NULL);
 *	struct detector *x = mk_regex(&rs, r, "b", "code (?<c>0x[0-9A-F]+)", "code ", NULL);
 *	mk_cap(x, "c", CAP_HEX, NULL);
 *	...
 *	mk_free(&rs);
 */
#ifndef EMSAGENT_TESTS_MKRULES_H
#define EMSAGENT_TESTS_MKRULES_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emsagent/rules.h"
#include "emsagent/util.h"

#define MK_MAX_RULES   64
#define MK_MAX_DETS    64 /* per rule */
#define MK_MAX_IGNORES 32
#define MK_MAX_EPOCHS  32
#define MK_MAX_TABLES  16
#define MK_MAX_CAPS    16 /* per detector */
#define MK_FILE        "<mkrules>"

static inline void mk_fail(const char *what)
{
	fprintf(stderr, "mkrules: %s\n", what);
	abort();
}

static inline void mk_files(struct ruleset *rs)
{
	if (rs->files)
		return;
	rs->files = xcalloc(1, sizeof(*rs->files));
	rs->files[0] = xstrdup(MK_FILE);
	rs->nfiles = 1;
}

/* NULL-terminated list of strings → malloc'd array of copies. */
static inline char **mk_strv(va_list ap, size_t *n)
{
	char **v = NULL;
	size_t cap = 0;
	*n = 0;
	for (const char *s = va_arg(ap, const char *); s; s = va_arg(ap, const char *)) {
		xgrow((void **)&v, &cap, *n + 1, sizeof(*v));
		v[(*n)++] = xstrdup(s);
	}
	return v;
}

static inline void mk_det_init(struct ruleset *rs, struct detector *d, const char *name, enum det_op op,
                               int index, unsigned line)
{
	mk_files(rs);
	memset(d, 0, sizeof(*d));
	d->name = xstrdup(name);
	d->op = op;
	d->loc.file = rs->files[0];
	d->loc.line = line;
	d->loc.col = 1;
	d->unless_near_det = -1;
	d->block_max_lines = 200;
	d->index = index;
}

/* Appends a rule (when: any of every detector); returns its index. */
static inline int mk_rule(struct ruleset *rs, const char *id)
{
	mk_files(rs);
	if (!rs->rules)
		rs->rules = xcalloc(MK_MAX_RULES, sizeof(*rs->rules));
	if (rs->nrules >= MK_MAX_RULES)
		mk_fail("too many rules");
	struct rule *r = &rs->rules[rs->nrules];
	memset(r, 0, sizeof(*r));
	r->id = xstrdup(id);
	r->title = xstrdup(id);
	r->level = LEVEL_HIGH;
	r->status = STATUS_STABLE;
	r->os = OS_ANY;
	r->dets = xcalloc(MK_MAX_DETS, sizeof(*r->dets));
	r->when.kind = WHEN_ANY;
	r->when.after = DET_REF_NONE;
	r->when.absent_of = DET_REF_NONE;
	r->loc.file = rs->files[0];
	r->loc.line = (unsigned)rs->nrules * 100 + 1;
	r->loc.col = 1;
	r->index = (int)rs->nrules;
	return (int)rs->nrules++;
}

static inline struct detector *mk_rule_det(struct ruleset *rs, int rule, const char *name, enum det_op op)
{
	if (rule < 0 || (size_t)rule >= rs->nrules)
		mk_fail("no such rule");
	struct rule *r = &rs->rules[rule];
	if (r->ndets >= MK_MAX_DETS)
		mk_fail("too many detectors");
	struct detector *d = &r->dets[r->ndets];
	mk_det_init(rs, d, name, op, (int)r->ndets, r->loc.line + 1 + (unsigned)r->ndets);
	r->ndets++;
	return d;
}

/* contains / prefix / line / fullword detector with a NULL-terminated list of literals. */
static inline struct detector *mk_det(struct ruleset *rs, int rule, const char *name, enum det_op op, ...)
{
	struct detector *d = mk_rule_det(rs, rule, name, op);
	va_list ap;
	va_start(ap, op);
	d->lits = mk_strv(ap, &d->nlits);
	va_end(ap);
	return d;
}

/* regex detector; anchors NULL-terminated (at least one, as the loader guarantees). */
static inline struct detector *mk_regex(struct ruleset *rs, int rule, const char *name, const char *re, ...)
{
	struct detector *d = mk_rule_det(rs, rule, name, DET_REGEX);
	d->regex = xstrdup(re);
	va_list ap;
	va_start(ap, re);
	d->lits = mk_strv(ap, &d->nlits);
	va_end(ap);
	return d;
}

/* ems detector; stopcodes: n codes (n = 0: any). */
static inline struct detector *mk_ems(struct ruleset *rs, int rule, const char *name, enum ems_det_kind kind,
                                      size_t n, const uint32_t *codes)
{
	struct detector *d = mk_rule_det(rs, rule, name, DET_EMS);
	d->ems = kind;
	if (n) {
		d->stopcodes = xcalloc(n, sizeof(*d->stopcodes));
		memcpy(d->stopcodes, codes, n * sizeof(*codes));
		d->nstopcodes = n;
	}
	return d;
}

/* kind: ignore detector (contains/prefix/line/fullword; for regex set ->regex after). */
static inline struct detector *mk_ignore(struct ruleset *rs, const char *name, enum det_op op, ...)
{
	if (!rs->ignores)
		rs->ignores = xcalloc(MK_MAX_IGNORES, sizeof(*rs->ignores));
	if (rs->nignores >= MK_MAX_IGNORES)
		mk_fail("too many ignores");
	struct detector *d = &rs->ignores[rs->nignores];
	mk_det_init(rs, d, name, op, (int)rs->nignores, 9000 + (unsigned)rs->nignores);
	rs->nignores++;
	va_list ap;
	va_start(ap, op);
	d->lits = mk_strv(ap, &d->nlits);
	va_end(ap);
	return d;
}

/* kind: epochs marker; returns its detector. */
static inline struct detector *mk_epoch(struct ruleset *rs, const char *name, int stage, enum det_op op, ...)
{
	if (!rs->epochs)
		rs->epochs = xcalloc(MK_MAX_EPOCHS, sizeof(*rs->epochs));
	if (rs->nepochs >= MK_MAX_EPOCHS)
		mk_fail("too many epoch markers");
	struct epoch_marker *m = &rs->epochs[rs->nepochs];
	memset(m, 0, sizeof(*m));
	m->name = xstrdup(name);
	m->stage = stage;
	mk_det_init(rs, &m->det, name, op, (int)rs->nepochs, 8000 + (unsigned)rs->nepochs);
	rs->nepochs++;
	va_list ap;
	va_start(ap, op);
	m->det.lits = mk_strv(ap, &m->det.nlits);
	va_end(ap);
	return &m->det;
}

/* Sets the detector's unless literals (NULL-terminated), replacing any. */
static inline void mk_unless(struct detector *d, ...)
{
	for (size_t i = 0; i < d->nunless; i++)
		free(d->unless[i]);
	free(d->unless);
	va_list ap;
	va_start(ap, d);
	d->unless = mk_strv(ap, &d->nunless);
	va_end(ap);
}

/* Sets the detector's block end literals (NULL-terminated) and turns block on. */
static inline void mk_block(struct detector *d, unsigned max_lines, int64_t max_ns, ...)
{
	for (size_t i = 0; i < d->nblock_end; i++)
		free(d->block_end[i]);
	free(d->block_end);
	va_list ap;
	va_start(ap, max_ns);
	d->block_end = mk_strv(ap, &d->nblock_end);
	va_end(ap);
	d->has_block = true;
	d->block_max_lines = max_lines;
	d->block_max_ns = max_ns;
}

/* Adds a typed capture; table only for CAP_ENUM. */
static inline struct capture_spec *mk_cap(struct detector *d, const char *name, enum cap_type type,
                                          const struct enum_table *table)
{
	if (!d->caps)
		d->caps = xcalloc(MK_MAX_CAPS, sizeof(*d->caps));
	if (d->ncaps >= MK_MAX_CAPS)
		mk_fail("too many captures");
	struct capture_spec *c = &d->caps[d->ncaps++];
	c->name = xstrdup(name);
	c->type = type;
	c->table = table;
	c->loc = d->loc;
	return c;
}

/* Adds an enum table from NULL-terminated key, value pairs. */
static inline struct enum_table *mk_table(struct ruleset *rs, const char *name, ...)
{
	mk_files(rs);
	if (!rs->tables)
		rs->tables = xcalloc(MK_MAX_TABLES, sizeof(*rs->tables));
	if (rs->ntables >= MK_MAX_TABLES)
		mk_fail("too many tables");
	struct enum_table *t = &rs->tables[rs->ntables];
	memset(t, 0, sizeof(*t));
	t->name = xstrdup(name);
	t->loc.file = rs->files[0];
	t->loc.line = 7000 + (unsigned)rs->ntables;
	t->loc.col = 1;
	rs->ntables++;
	size_t cap = 0, vcap = 0;
	va_list ap;
	va_start(ap, name);
	for (const char *k = va_arg(ap, const char *); k; k = va_arg(ap, const char *)) {
		const char *v = va_arg(ap, const char *);
		if (!v)
			mk_fail("table key without a value");
		xgrow((void **)&t->keys, &cap, t->n + 1, sizeof(*t->keys));
		xgrow((void **)&t->values, &vcap, t->n + 1, sizeof(*t->values));
		t->keys[t->n] = xstrdup(k);
		t->values[t->n] = xstrdup(v);
		t->n++;
	}
	va_end(ap);
	return t;
}

static inline void mk_free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static inline void mk_free_det(struct detector *d)
{
	free(d->name);
	mk_free_strv(d->lits, d->nlits);
	free(d->regex);
	free(d->stopcodes);
	for (size_t i = 0; i < d->ncaps; i++)
		free(d->caps[i].name);
	free(d->caps);
	mk_free_strv(d->unless, d->nunless);
	mk_free_strv(d->block_end, d->nblock_end);
}

/* Frees everything the mk_ helpers allocated (and what tests put in when.of /
 * resolve_on / steps / group_by / distinct with malloc), and zeroes the set. */
static inline void mk_free(struct ruleset *rs)
{
	for (size_t i = 0; i < rs->nrules; i++) {
		struct rule *r = &rs->rules[i];
		free(r->id);
		free(r->title);
		for (size_t k = 0; k < r->ndets; k++)
			mk_free_det(&r->dets[k]);
		free(r->dets);
		free(r->when.of);
		free(r->when.steps);
		free(r->when.distinct);
		free(r->when.resolve_on);
		mk_free_strv(r->when.group_by, r->when.ngroup);
	}
	free(rs->rules);
	for (size_t i = 0; i < rs->nignores; i++)
		mk_free_det(&rs->ignores[i]);
	free(rs->ignores);
	for (size_t i = 0; i < rs->nepochs; i++) {
		free(rs->epochs[i].name);
		mk_free_det(&rs->epochs[i].det);
	}
	free(rs->epochs);
	for (size_t i = 0; i < rs->ntables; i++) {
		struct enum_table *t = &rs->tables[i];
		free(t->name);
		mk_free_strv(t->keys, t->n);
		mk_free_strv(t->values, t->n);
	}
	free(rs->tables);
	mk_free_strv(rs->files, rs->nfiles);
	memset(rs, 0, sizeof(*rs));
}

#endif
