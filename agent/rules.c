/*
 * rules.c — the small pieces of the rules module every caller uses: enum
 * names, freeing a rule set and lookups.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "emsagent/rules.h"
#include "rules_priv.h"

static const char *const level_names[] = {"info", "low", "medium", "high", "critical"};
static const char *const status_names[] = {"experimental", "test", "stable", "deprecated"};
static const char *const os_names[] = {"any", "windows", "linux"};
static const char *const op_names[] = {"contains", "prefix", "line", "fullword", "regex", "ems"};
static const char *const when_names[] = {"any", "all", "sequence", "count", "absent"};
static const char *const action_names[] = {"alert", "exec", "send", "sac", "dump", "restart"};
static const char *const expect_names[] = {"fire", "no_fire", "uncertain", "pending", "resolved"};

#define NAME_OF(tab, v) ((size_t)(v) < ARRAY_LEN(tab) ? (tab)[(size_t)(v)] : "?")

const char *rule_level_name(enum rule_level l)
{
	return NAME_OF(level_names, l);
}

int rule_level_parse(const char *s, enum rule_level *out)
{
	for (size_t i = 0; s && i < ARRAY_LEN(level_names); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum rule_level)i;
			return 0;
		}
	}
	return -1;
}

const char *rule_status_name(enum rule_status s)
{
	return NAME_OF(status_names, s);
}

const char *rule_os_name(enum rule_os o)
{
	return NAME_OF(os_names, o);
}

const char *det_op_name(enum det_op op)
{
	return NAME_OF(op_names, op);
}

const char *when_kind_name(enum when_kind k)
{
	return NAME_OF(when_names, k);
}

const char *action_kind_name(enum action_kind k)
{
	return NAME_OF(action_names, k);
}

const char *test_expect_name(enum test_expect e)
{
	return NAME_OF(expect_names, e);
}

void rl_free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void rl_free_detector(struct detector *det)
{
	free(det->name);
	rl_free_strv(det->lits, det->nlits);
	free(det->regex);
	free(det->stopcodes);
	for (size_t i = 0; i < det->ncaps; i++)
		free(det->caps[i].name);
	free(det->caps);
	rl_free_strv(det->unless, det->nunless);
	rl_free_strv(det->block_end, det->nblock_end);
	memset(det, 0, sizeof(*det));
}

static void free_when(struct when *w)
{
	free(w->of);
	free(w->steps);
	free(w->distinct);
	free(w->resolve_on);
	rl_free_strv(w->group_by, w->ngroup);
	memset(w, 0, sizeof(*w));
}

static void free_action(struct action *a)
{
	rl_free_strv(a->argv, a->argc);
	free(a->text);
	free(a->method);
	rl_free_strv(a->require, a->nrequire);
}

static void free_test(struct rule_test *t)
{
	free(t->name);
	free(t->input);
	for (size_t i = 0; i < t->ncaptures; i++) {
		free(t->captures[i].key);
		free(t->captures[i].value);
	}
	free(t->captures);
	free(t->title);
}

void rl_free_rule(struct rule *r)
{
	free(r->id);
	free(r->title);
	rl_free_strv(r->tags, r->ntags);
	free(r->summary);
	rl_free_strv(r->remediation, r->nremediation);
	for (size_t i = 0; i < r->nrefs; i++) {
		free(r->refs[i].title);
		free(r->refs[i].url);
	}
	free(r->refs);
	for (size_t i = 0; i < r->ndets; i++)
		rl_free_detector(&r->dets[i]);
	free(r->dets);
	free_when(&r->when);
	for (size_t i = 0; i < r->nactions; i++)
		free_action(&r->actions[i]);
	free(r->actions);
	for (size_t i = 0; i < r->ntests; i++)
		free_test(&r->tests[i]);
	free(r->tests);
	memset(r, 0, sizeof(*r));
}

void rules_free(struct ruleset *rs)
{
	if (!rs)
		return;
	for (size_t i = 0; i < rs->nrules; i++)
		rl_free_rule(&rs->rules[i]);
	free(rs->rules);
	for (size_t i = 0; i < rs->nignores; i++)
		rl_free_detector(&rs->ignores[i]);
	free(rs->ignores);
	for (size_t i = 0; i < rs->nepochs; i++) {
		free(rs->epochs[i].name);
		rl_free_detector(&rs->epochs[i].det);
	}
	free(rs->epochs);
	for (size_t i = 0; i < rs->ntables; i++) {
		free(rs->tables[i].name);
		rl_free_strv(rs->tables[i].keys, rs->tables[i].n);
		rl_free_strv(rs->tables[i].values, rs->tables[i].n);
	}
	free(rs->tables);
	rl_free_strv(rs->files, rs->nfiles);
	memset(rs, 0, sizeof(*rs));
}

const struct rule *rules_find(const struct ruleset *rs, const char *id)
{
	for (size_t i = 0; id && i < rs->nrules; i++)
		if (strcmp(rs->rules[i].id, id) == 0)
			return &rs->rules[i];
	return NULL;
}

int rl_det_ref(const struct detector *dets, size_t ndets, const char *name)
{
	for (size_t i = 0; name && i < ndets; i++)
		if (dets[i].name && strcmp(dets[i].name, name) == 0)
			return (int)i;
	return -1;
}

int rule_det_index(const struct rule *r, const char *name)
{
	return rl_det_ref(r->dets, r->ndets, name);
}
