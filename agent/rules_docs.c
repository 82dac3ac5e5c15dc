/*
 * rules_docs.c — the documents that are not rules: kind: macros (macros and
 * enum tables, pack-wide, checked for duplicates here and expanded in the
 * pack pass), kind: ignore and kind: epochs (named detectors).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rules_priv.h"

void rl_load_macros(struct rl_ctx *c, const yaml_node_t *root)
{
	static const char *const keys[] = {"schema", "kind", "macros", "tables"};
	struct ruleset *rs = c->rs;
	rl_check_keys(c, root, keys, ARRAY_LEN(keys), "a macros document");
	yaml_node_t *m = rl_get(c, root, "macros", NULL), *t = rl_get(c, root, "tables", NULL);
	if (!m && !t)
		rl_error(c, root, "a macros document needs 'macros' or 'tables'");
	if (m && rl_expect_map(c, m, "macros") == 0) {
		for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
			yaml_node_t *k = rl_node(c, p->key), *v = rl_node(c, p->value);
			char *name, *text;
			if (rl_str(c, k, "a macro name", false, &name) < 0)
				continue;
			if (!rl_valid_name(name)) {
				rl_error(c, k, "bad macro name '%s' (letters, digits and _)", name);
				free(name);
				continue;
			}
			size_t i;
			for (i = 0; i < c->nmacros; i++)
				if (strcmp(c->macros[i].name, name) == 0)
					break;
			if (i < c->nmacros) {
				rl_error(c, k, "duplicate macro '%s' (first defined at %s:%u:%u)", name,
				         c->macros[i].loc.file, c->macros[i].loc.line, c->macros[i].loc.col);
				free(name);
				continue;
			}
			if (rl_str(c, v, "a macro", false, &text) < 0) {
				free(name);
				continue;
			}
			xgrow((void **)&c->macros, &c->cap_macros, c->nmacros + 1, sizeof(*c->macros));
			c->macros[c->nmacros++] =
			    (struct rl_macro){.name = name, .text = text, .loc = rl_loc(c, k)};
		}
	}
	if (t && rl_expect_map(c, t, "tables") == 0) {
		for (yaml_node_pair_t *p = t->data.mapping.pairs.start; p < t->data.mapping.pairs.top; p++) {
			yaml_node_t *k = rl_node(c, p->key), *v = rl_node(c, p->value);
			char *name;
			if (rl_str(c, k, "a table name", false, &name) < 0)
				continue;
			if (!rl_valid_name(name)) {
				rl_error(c, k, "bad table name '%s' (letters, digits and _)", name);
				free(name);
				continue;
			}
			size_t i;
			for (i = 0; i < rs->ntables; i++)
				if (strcmp(rs->tables[i].name, name) == 0)
					break;
			if (i < rs->ntables) {
				rl_error(c, k, "duplicate table '%s' (first defined at %s:%u:%u)", name,
				         rs->tables[i].loc.file, rs->tables[i].loc.line,
				         rs->tables[i].loc.col);
				free(name);
				continue;
			}
			if (rl_expect_map(c, v, "a table") < 0 || rl_map_len(v) > 4096) {
				if (v->type == YAML_MAPPING_NODE)
					rl_error(c, v, "a table has at most 4096 entries");
				free(name);
				continue;
			}
			xgrow((void **)&rs->tables, &c->cap_tables, rs->ntables + 1, sizeof(*rs->tables));
			struct enum_table *tb = &rs->tables[rs->ntables++];
			size_t cnt = rl_map_len(v);
			*tb = (struct enum_table){.name = name, .loc = rl_loc(c, k)};
			tb->keys = xcalloc(cnt ? cnt : 1, sizeof(char *));
			tb->values = xcalloc(cnt ? cnt : 1, sizeof(char *));
			for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top;
			     q++) {
				yaml_node_t *tk = rl_node(c, q->key), *tv = rl_node(c, q->value);
				char *key, *val;
				if (rl_str(c, tk, "a table key", false, &key) < 0)
					continue;
				bool dup = false;
				for (size_t j = 0; j < tb->n && !dup; j++)
					dup = strcasecmp(tb->keys[j], key) == 0;
				if (dup) {
					rl_error(c, tk, "duplicate key '%s' in table '%s'", key, name);
					free(key);
					continue;
				}
				if (rl_str(c, tv, "a table value", true, &val) < 0) {
					free(key);
					continue;
				}
				tb->keys[tb->n] = key;
				tb->values[tb->n++] = val;
			}
		}
	}
}

void rl_load_ignore(struct rl_ctx *c, const yaml_node_t *root)
{
	static const char *const keys[] = {"schema", "kind", "ignore"};
	struct ruleset *rs = c->rs;
	rl_check_keys(c, root, keys, ARRAY_LEN(keys), "an ignore document");
	yaml_node_t *m = rl_get(c, root, "ignore", NULL);
	if (!m) {
		rl_missing(c, root, "ignore", "an ignore document");
		return;
	}
	if (rl_expect_map(c, m, "ignore") < 0)
		return;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		yaml_node_t *k = rl_node(c, p->key), *v = rl_node(c, p->value);
		char *name;
		if (rl_str(c, k, "an ignore name", false, &name) < 0)
			continue;
		if (!rl_valid_name(name))
			rl_error(c, k, "bad ignore name '%s' (letters, digits and _)", name);
		int prev = rl_det_ref(rs->ignores, rs->nignores, name);
		if (prev >= 0)
			rl_error(c, k, "duplicate ignore '%s' (first defined at %s:%u:%u)", name,
			         rs->ignores[prev].loc.file, rs->ignores[prev].loc.line,
			         rs->ignores[prev].loc.col);
		xgrow((void **)&rs->ignores, &c->cap_ignores, rs->nignores + 1, sizeof(*rs->ignores));
		struct detector *det = &rs->ignores[rs->nignores];
		memset(det, 0, sizeof(*det));
		det->index = (int)rs->nignores++;
		det->name = name;
		rl_parse_detector(c, k, v, RL_DET_IGNORE, det);
	}
}

void rl_load_epochs(struct rl_ctx *c, const yaml_node_t *root)
{
	static const char *const keys[] = {"schema", "kind", "epochs"};
	static const char *const mkeys[] = {"name", "stage", "match"};
	struct ruleset *rs = c->rs;
	rl_check_keys(c, root, keys, ARRAY_LEN(keys), "an epochs document");
	yaml_node_t *l = rl_get(c, root, "epochs", NULL);
	if (!l) {
		rl_missing(c, root, "epochs", "an epochs document");
		return;
	}
	if (l->type != YAML_SEQUENCE_NODE) {
		rl_error(c, l, "epochs must be a list of markers, not %s", rl_type_name(l));
		return;
	}
	for (yaml_node_item_t *it = l->data.sequence.items.start; it < l->data.sequence.items.top; it++) {
		yaml_node_t *m = rl_node(c, *it);
		if (rl_expect_map(c, m, "an epoch marker") < 0)
			continue;
		rl_check_keys(c, m, mkeys, ARRAY_LEN(mkeys), "an epoch marker");
		xgrow((void **)&rs->epochs, &c->cap_epochs, rs->nepochs + 1, sizeof(*rs->epochs));
		struct epoch_marker *em = &rs->epochs[rs->nepochs];
		memset(em, 0, sizeof(*em));
		em->det.index = (int)rs->nepochs++;
		yaml_node_t *v, *mk;
		if ((v = rl_get(c, m, "name", NULL)) && rl_str(c, v, "epoch name", false, &em->name) == 0) {
			for (size_t i = 0; i + 1 < rs->nepochs; i++) {
				if (rs->epochs[i].name && strcmp(rs->epochs[i].name, em->name) == 0) {
					rl_error(c, v,
					         "duplicate epoch marker '%s' (first defined at %s:%u:%u)",
					         em->name, rs->epochs[i].det.loc.file,
					         rs->epochs[i].det.loc.line, rs->epochs[i].det.loc.col);
					break;
				}
			}
		} else if (!v) {
			rl_missing(c, m, "name", "an epoch marker");
		}
		if ((v = rl_get(c, m, "stage", NULL))) {
			unsigned long st;
			if (rl_uint(c, v, "stage", 1000000, &st) == 0)
				em->stage = (int)st;
		} else {
			rl_missing(c, m, "stage", "an epoch marker");
		}
		em->det.name = xstrdup(em->name ? em->name : "");
		em->det.loc = rl_loc(c, m);
		if ((v = rl_get(c, m, "match", &mk)))
			rl_parse_detector(c, mk, v, RL_DET_EPOCH, &em->det);
		else
			rl_missing(c, m, "match", "an epoch marker");
	}
}
