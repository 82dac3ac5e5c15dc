/*
 * rules_when.c — a rule's when: map: the form (any, all, sequence, count,
 * absent) with detector names resolved to indexes ("epoch" and
 * "any-output"/"progress:" where the schema allows them), and resolve_on,
 * keep_firing_for and group_by.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rules_priv.h"

/* Detector references: a name or a list of names; "epoch" where allowed. */
static int parse_refs(struct rl_ctx *c, const yaml_node_t *n, struct rule *r, bool allow_epoch,
                      const char *what, int **out, size_t *nout)
{
	size_t cnt = 1;
	if (n && n->type == YAML_SEQUENCE_NODE) {
		cnt = rl_seq_len(n);
	} else if (!n || n->type != YAML_SCALAR_NODE) {
		rl_error(c, n, "%s must be a detector name or a list of them, not %s", what, rl_type_name(n));
		return -1;
	}
	if (cnt == 0 || cnt > 1024) {
		rl_error(c, n, "%s must name between 1 and 1024 detectors", what);
		return -1;
	}
	int *v = xcalloc(cnt, sizeof(int));
	*out = v;
	*nout = 0;
	int rc = 0;
	for (size_t i = 0; i < cnt; i++) {
		const yaml_node_t *it =
		    n->type == YAML_SEQUENCE_NODE ? rl_node(c, n->data.sequence.items.start[i]) : n;
		const char *s = rl_sval(it);
		int idx;
		if (s && strcmp(s, "epoch") == 0) {
			if (!allow_epoch) {
				rl_error(c, it,
				         "'epoch' cannot be used in %s (only in any, all.of and count.of)",
				         what);
				rc = -1;
				continue;
			}
			idx = DET_REF_EPOCH;
			r->cross_epoch = true;
		} else if ((idx = rl_det_lookup(c, it, r->dets, r->ndets, what)) < 0) {
			rc = -1;
			continue;
		}
		v[(*nout)++] = idx;
	}
	return rc;
}

static int one_ref(struct rl_ctx *c, const yaml_node_t *n, struct rule *r, const char *what)
{
	if (rl_sval(n) && strcmp(rl_sval(n), "epoch") == 0) {
		rl_error(c, n, "'epoch' cannot be used in %s (only in any, all.of and count.of)", what);
		return DET_REF_NONE;
	}
	int idx = rl_det_lookup(c, n, r->dets, r->ndets, what);
	return idx < 0 ? DET_REF_NONE : idx;
}

static void parse_sequence(struct rl_ctx *c, const yaml_node_t *n, struct rule *r)
{
	struct when *w = &r->when;
	if (!n || n->type != YAML_SEQUENCE_NODE) {
		rl_error(c, n, "sequence must be a list of steps, not %s", rl_type_name(n));
		return;
	}
	size_t cnt = rl_seq_len(n);
	if (cnt < 2 || cnt > 64) {
		rl_error(c, n, "sequence must have between 2 and 64 steps");
		return;
	}
	w->steps = xcalloc(cnt, sizeof(*w->steps));
	for (size_t i = 0; i < cnt; i++) {
		yaml_node_t *it = rl_node(c, n->data.sequence.items.start[i]);
		struct seq_step *st = &w->steps[w->nsteps++];
		st->det = DET_REF_NONE;
		if (it->type == YAML_SCALAR_NODE) {
			st->det = one_ref(c, it, r, "sequence");
			continue;
		}
		static const char *const keys[] = {"then", "within"};
		if (i == 0) {
			rl_error(c, it, "the first step of a sequence is a detector name, not %s",
			         rl_type_name(it));
			continue;
		}
		if (rl_expect_map(c, it, "a sequence step") < 0)
			continue;
		rl_check_keys(c, it, keys, ARRAY_LEN(keys), "a sequence step");
		yaml_node_t *t = rl_get(c, it, "then", NULL), *wi = rl_get(c, it, "within", NULL);
		if (!t)
			rl_missing(c, it, "then", "a sequence step");
		else
			st->det = one_ref(c, t, r, "sequence.then");
		if (wi)
			rl_duration(c, wi, "sequence.within", &st->within_ns);
	}
}

static void parse_count(struct rl_ctx *c, const yaml_node_t *n, struct rule *r)
{
	static const char *const keys[] = {"of", "at_least", "within", "distinct"};
	struct when *w = &r->when;
	if (rl_expect_map(c, n, "count") < 0)
		return;
	rl_check_keys(c, n, keys, ARRAY_LEN(keys), "count");
	yaml_node_t *v;
	if ((v = rl_get(c, n, "of", NULL)))
		parse_refs(c, v, r, true, "count.of", &w->of, &w->nof);
	else
		rl_missing(c, n, "of", "count");
	if ((v = rl_get(c, n, "at_least", NULL))) {
		unsigned long al;
		if (rl_uint(c, v, "count.at_least", 1000000, &al) == 0) {
			if (al == 0)
				rl_error(c, v, "count.at_least must be at least 1");
			w->at_least = (unsigned)al;
		}
	} else {
		rl_missing(c, n, "at_least", "count");
	}
	if ((v = rl_get(c, n, "within", NULL)))
		rl_duration(c, v, "count.within", &w->within_ns);
	if ((v = rl_get(c, n, "distinct", NULL)) &&
	    rl_str(c, v, "count.distinct", false, &w->distinct) == 0) {
		bool found = false;
		for (size_t i = 0; i < w->nof; i++)
			if (w->of[i] >= 0 && rl_det_has_capture(&r->dets[w->of[i]], w->distinct))
				found = true;
		if (!found)
			rl_unknown_capture(c, v, r, w->distinct, "count.distinct");
	}
}

static void parse_absent(struct rl_ctx *c, const yaml_node_t *n, struct rule *r)
{
	static const char *const keys[] = {"after", "of", "for"};
	struct when *w = &r->when;
	w->after = w->absent_of = DET_REF_NONE;
	if (rl_expect_map(c, n, "absent") < 0)
		return;
	rl_check_keys(c, n, keys, ARRAY_LEN(keys), "absent");
	yaml_node_t *v;
	if ((v = rl_get(c, n, "after", NULL)))
		w->after = one_ref(c, v, r, "absent.after");
	else
		rl_missing(c, n, "after", "absent");
	if ((v = rl_get(c, n, "of", NULL))) {
		const char *s = rl_sval(v);
		if (s && strcmp(s, "any-output") == 0) {
			w->absent_of = DET_REF_ANY_OUTPUT;
		} else if (s && strncmp(s, "progress:", 9) == 0) {
			int idx = rl_det_ref(r->dets, r->ndets, s + 9);
			if (idx < 0) {
				const char **cands = xcalloc(r->ndets ? r->ndets : 1, sizeof(char *));
				for (size_t i = 0; i < r->ndets; i++)
					cands[i] = r->dets[i].name;
				const char *sug = rl_suggest(s + 9, cands, r->ndets);
				if (sug)
					rl_error(c, v, "unknown detector '%s' (did you mean '%s'?)", s + 9,
					         sug);
				else
					rl_error(c, v, "unknown detector '%s' in absent.of", s + 9);
				free(cands);
			} else if (r->dets[idx].ncaps == 0) {
				rl_error(c, v,
				         "progress:%s needs a detector with a capture (progress is a changed "
				         "value)",
				         s + 9);
			} else {
				w->absent_of = idx;
				w->absent_progress = true;
			}
		} else {
			w->absent_of = one_ref(c, v, r, "absent.of");
		}
	} else {
		rl_missing(c, n, "of", "absent");
	}
	if ((v = rl_get(c, n, "for", NULL))) {
		if (rl_duration(c, v, "absent.for", &w->for_ns) == 0 && w->for_ns <= 0)
			rl_error(c, v, "absent.for must be longer than 0");
	} else {
		rl_missing(c, n, "for", "absent");
	}
}

void rl_parse_when(struct rl_ctx *c, const yaml_node_t *n, struct rule *r)
{
	static const char *const keys[] = {"any",    "all",        "sequence",        "count",
	                                   "absent", "resolve_on", "keep_firing_for", "group_by"};
	struct when *w = &r->when;
	if (rl_expect_map(c, n, "when") < 0)
		return;
	rl_check_keys(c, n, keys, ARRAY_LEN(keys), "when");
	const yaml_node_t *form = NULL;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = rl_node(c, p->key), *v = rl_node(c, p->value);
		const char *ks = rl_sval(k);
		int kind = -1;
		for (int i = 0; ks && i < 5; i++)
			if (strcmp(ks, keys[i]) == 0)
				kind = i;
		if (kind < 0)
			continue;
		if (form) {
			if (strcmp(rl_sval(form), ks) != 0)
				rl_error(c, k, "when has two forms ('%s' and '%s'); use exactly one",
				         rl_sval(form), ks);
			continue;
		}
		form = k;
		w->kind = (enum when_kind)kind;
		switch (w->kind) {
		case WHEN_ANY:
			parse_refs(c, v, r, true, "any", &w->of, &w->nof);
			break;
		case WHEN_ALL: {
			static const char *const akeys[] = {"of", "within"};
			if (rl_expect_map(c, v, "all") < 0)
				break;
			rl_check_keys(c, v, akeys, ARRAY_LEN(akeys), "all");
			yaml_node_t *of = rl_get(c, v, "of", NULL), *wi = rl_get(c, v, "within", NULL);
			if (of)
				parse_refs(c, of, r, true, "all.of", &w->of, &w->nof);
			else
				rl_missing(c, v, "of", "all");
			if (wi)
				rl_duration(c, wi, "all.within", &w->within_ns);
			break;
		}
		case WHEN_SEQUENCE:
			parse_sequence(c, v, r);
			break;
		case WHEN_COUNT:
			parse_count(c, v, r);
			break;
		case WHEN_ABSENT:
			parse_absent(c, v, r);
			break;
		}
	}
	if (!form)
		rl_error(c, n, "when needs one of any, all, sequence, count or absent");
	yaml_node_t *v;
	if ((v = rl_get(c, n, "resolve_on", NULL)))
		parse_refs(c, v, r, false, "resolve_on", &w->resolve_on, &w->nresolve);
	if ((v = rl_get(c, n, "keep_firing_for", NULL)))
		rl_duration(c, v, "keep_firing_for", &w->keep_firing_ns);
	if ((v = rl_get(c, n, "group_by", NULL)) &&
	    rl_strv(c, v, "group_by", true, &w->group_by, &w->ngroup) == 0) {
		for (size_t i = 0; i < w->ngroup; i++) {
			if (!rl_rule_has_capture(r, w->group_by[i])) {
				const yaml_node_t *it = v->type == YAML_SEQUENCE_NODE
				                            ? rl_node(c, v->data.sequence.items.start[i])
				                            : v;
				rl_unknown_capture(c, it, r, w->group_by[i], "group_by");
			}
		}
	}
}
