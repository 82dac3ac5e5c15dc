/*
 * rules_det.c — one detector map (a rule's match: entry, an ignore entry, an
 * epoch marker's match:) into a struct detector. Everything that can be
 * checked from the map alone is checked here; regexes (which need the pack's
 * macros) and enum tables (defined in any file) wait for the pack-wide pass.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rules_priv.h"

static const char *const det_keys[] = {
    "contains", "prefix", "line",    "fullword", "regex",       "ems",   "nocase",   "at",
    "partial",  "anchor", "capture", "unless",   "unless_near", "block", "stopcode",
};
#define NOPS 6 /* the first NOPS det_keys are the operators, in enum det_op order */

static const char *const ems_kinds[] = {"bugcheck", "machine-info"};
static const char *const mi_fields[] = {"name",     "guid",       "arch",  "os_version",
                                        "os_build", "os_product", "os_sp", "stopcode"};
#define N_MI_FIELDS 7 /* stopcode (last) only for bugchecks */

bool rl_valid_name(const char *s)
{
	if (!s || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (const char *p = s + 1; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_')
			return false;
	return strlen(s) <= 128;
}

bool rl_det_has_capture(const struct detector *det, const char *name)
{
	for (size_t i = 0; i < det->ncaps; i++)
		if (strcmp(det->caps[i].name, name) == 0)
			return true;
	return false;
}

int rl_det_lookup(struct rl_ctx *c, const yaml_node_t *n, const struct detector *dets, size_t ndets,
                  const char *what)
{
	char *name;
	if (rl_str(c, n, what, false, &name) < 0)
		return -1;
	int idx = rl_det_ref(dets, ndets, name);
	if (idx < 0) {
		const char **cands = xcalloc(ndets ? ndets : 1, sizeof(char *));
		for (size_t i = 0; i < ndets; i++)
			cands[i] = dets[i].name;
		const char *sug = rl_suggest(name, cands, ndets);
		if (sug)
			rl_error(c, n, "unknown detector '%s' (did you mean '%s'?)", name, sug);
		else
			rl_error(c, n, "unknown detector '%s' in %s", name, what);
		free(cands);
	}
	free(name);
	return idx;
}

static int parse_lits(struct rl_ctx *c, const yaml_node_t *n, const char *what, char ***v, size_t *nv)
{
	if (rl_strv(c, n, what, true, v, nv) < 0)
		return -1;
	if (*nv == 0) {
		rl_error(c, n, "%s must list at least one string", what);
		return -1;
	}
	return 0;
}

static int parse_stopcodes(struct rl_ctx *c, const yaml_node_t *n, struct detector *det)
{
	size_t cnt = 1;
	if (n->type == YAML_SEQUENCE_NODE)
		cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	else if (n->type != YAML_SCALAR_NODE) {
		rl_error(c, n, "stopcode must be a number or a list of numbers, not %s", rl_type_name(n));
		return -1;
	}
	if (cnt == 0 || cnt > 4096) {
		rl_error(c, n, "stopcode must list between 1 and 4096 numbers");
		return -1;
	}
	det->stopcodes = xcalloc(cnt, sizeof(uint32_t));
	int rc = 0;
	for (size_t i = 0; i < cnt; i++) {
		const yaml_node_t *it =
		    n->type == YAML_SEQUENCE_NODE ? rl_node(c, n->data.sequence.items.start[i]) : n;
		if (!it || it->type != YAML_SCALAR_NODE) {
			rl_error(c, it, "stopcode must be a number, not %s", rl_type_name(it));
			rc = -1;
			continue;
		}
		const char *s = (const char *)it->data.scalar.value;
		char *end;
		errno = 0;
		unsigned long long v = isdigit((unsigned char)s[0]) ? strtoull(s, &end, 0) : 0;
		if (!isdigit((unsigned char)s[0]) || *end || errno || v > UINT32_MAX) {
			rl_error(c, it, "stopcode must be a number like 0xE2 or 226, not '%s'", s);
			rc = -1;
			continue;
		}
		det->stopcodes[det->nstopcodes++] = (uint32_t)v;
	}
	return rc;
}

static int parse_captures(struct rl_ctx *c, const yaml_node_t *n, struct detector *det, bool have_op)
{
	if (rl_expect_map(c, n, "capture") < 0)
		return -1;
	size_t cnt = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	if (cnt > 64) {
		rl_error(c, n, "capture has too many entries (%zu; at most 64)", cnt);
		return -1;
	}
	det->caps = xcalloc(cnt ? cnt : 1, sizeof(*det->caps));
	int rc = 0;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = rl_node(c, p->key), *v = rl_node(c, p->value);
		char *name, *type;
		if (rl_str(c, k, "a capture name", false, &name) < 0) {
			rc = -1;
			continue;
		}
		if (!rl_valid_name(name)) {
			rl_error(c, k, "bad capture name '%s' (use letters, digits and _)", name);
			free(name);
			rc = -1;
			continue;
		}
		if (rl_det_has_capture(det, name)) {
			rl_error(c, k, "duplicate capture '%s'", name);
			free(name);
			rc = -1;
			continue;
		}
		if (have_op && det->op == DET_EMS) {
			size_t nf = det->ems == EMS_DET_BUGCHECK ? ARRAY_LEN(mi_fields) : N_MI_FIELDS;
			size_t i;
			for (i = 0; i < nf; i++)
				if (strcmp(name, mi_fields[i]) == 0)
					break;
			if (i == nf) {
				const char *sug = rl_suggest(name, mi_fields, nf);
				rl_error(c, k, "capture '%s' is not a field of ems %s records%s%s%s", name,
				         ems_kinds[det->ems], sug ? " (did you mean '" : "", sug ? sug : "",
				         sug ? "'?)" : "");
				free(name);
				rc = -1;
				continue;
			}
		}
		struct capture_spec *cs = &det->caps[det->ncaps++];
		cs->name = name;
		cs->loc = rl_loc(c, k);
		if (rl_str(c, v, "a capture type", false, &type) < 0) {
			rc = -1;
			continue;
		}
		if (strcmp(type, "str") == 0) {
			cs->type = CAP_STR;
		} else if (strcmp(type, "int") == 0) {
			cs->type = CAP_INT;
		} else if (strcmp(type, "hex") == 0) {
			cs->type = CAP_HEX;
		} else if (strncmp(type, "enum:", 5) == 0 && rl_valid_name(type + 5)) {
			cs->type = CAP_ENUM;
			rl_add_reloc(c, cs->name, rl_loc(c, v), type + 5);
		} else {
			rl_error(c, v, "bad capture type '%s' (expected str, int, hex or enum:TABLE)", type);
			rc = -1;
		}
		free(type);
	}
	return rc;
}

static int parse_unless_near(struct rl_ctx *c, const yaml_node_t *n, struct detector *det)
{
	static const char *const keys[] = {"match", "within"};
	if (rl_expect_map(c, n, "unless_near") < 0 ||
	    rl_check_keys(c, n, keys, ARRAY_LEN(keys), "unless_near"))
		return -1;
	det->has_unless_near = true;
	det->unless_near_det = DET_REF_NONE;
	yaml_node_t *m = rl_get(c, n, "match", NULL), *w = rl_get(c, n, "within", NULL);
	int rc = 0;
	if (!m) {
		rl_error(c, n, "missing required key 'match' in unless_near");
		rc = -1;
	}
	if (!w) {
		rl_error(c, n, "missing required key 'within' in unless_near");
		return -1;
	}
	if (w->type == YAML_SCALAR_NODE && isdigit((unsigned char)w->data.scalar.value[0]) &&
	    strspn((const char *)w->data.scalar.value, "0123456789") == w->data.scalar.length) {
		unsigned long lines;
		if (rl_uint(c, w, "unless_near.within (lines)", 1000000, &lines) < 0)
			return -1;
		if (lines == 0) {
			rl_error(c, w, "unless_near.within must be at least 1 line");
			return -1;
		}
		det->unless_near_lines = (unsigned)lines;
	} else if (rl_duration(c, w, "unless_near.within", &det->unless_near_ns) < 0) {
		return -1;
	} else if (det->unless_near_ns <= 0) {
		rl_error(c, w, "unless_near.within must be longer than 0");
		return -1;
	}
	return rc;
}

static int parse_block(struct rl_ctx *c, const yaml_node_t *n, struct detector *det)
{
	static const char *const keys[] = {"end", "max_lines", "max_time"};
	if (rl_expect_map(c, n, "block") < 0 || rl_check_keys(c, n, keys, ARRAY_LEN(keys), "block"))
		return -1;
	det->has_block = true;
	det->block_max_lines = 200;
	int rc = 0;
	yaml_node_t *v;
	if ((v = rl_get(c, n, "end", NULL)) &&
	    parse_lits(c, v, "block.end", &det->block_end, &det->nblock_end) < 0)
		rc = -1;
	if ((v = rl_get(c, n, "max_lines", NULL))) {
		unsigned long ml;
		if (rl_uint(c, v, "block.max_lines", 100000, &ml) < 0) {
			rc = -1;
		} else if (ml == 0) {
			rl_error(c, v, "block.max_lines must be at least 1");
			rc = -1;
		} else {
			det->block_max_lines = (unsigned)ml;
		}
	}
	if ((v = rl_get(c, n, "max_time", NULL))) {
		if (rl_duration(c, v, "block.max_time", &det->block_max_ns) < 0)
			rc = -1;
	}
	return rc;
}

int rl_parse_detector(struct rl_ctx *c, const yaml_node_t *namen, const yaml_node_t *map,
                      enum rl_det_owner owner, struct detector *det)
{
	size_t before = c->y.nerrors;
	det->loc = rl_loc(c, namen);
	det->unless_near_det = DET_REF_NONE;
	if (rl_expect_map(c, map, "a detector") < 0)
		return -1;
	rl_check_keys(c, map, det_keys, ARRAY_LEN(det_keys), "a detector");

	/* exactly one operator */
	const yaml_node_t *opk = NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = rl_node(c, p->key), *v = rl_node(c, p->value);
		if (k->type != YAML_SCALAR_NODE)
			continue;
		int op = -1;
		for (int i = 0; i < NOPS; i++)
			if (strcmp((const char *)k->data.scalar.value, det_keys[i]) == 0)
				op = i;
		if (op < 0)
			continue;
		if (opk) {
			if (strcmp((const char *)opk->data.scalar.value, det_keys[op]) != 0)
				rl_error(c, k,
				         "detector '%s' has two operators ('%s' and '%s'); a detector has "
				         "exactly one",
				         det->name, opk->data.scalar.value, det_keys[op]);
			continue;
		}
		opk = k;
		det->op = (enum det_op)op;
		switch (det->op) {
		case DET_REGEX:
			if (rl_str(c, v, "regex", false, &det->regex) == 0)
				rl_add_reloc(c, det->regex, rl_loc(c, v), NULL);
			break;
		case DET_EMS: {
			int e = rl_enum(c, v, "ems record kind", ems_kinds, ARRAY_LEN(ems_kinds));
			if (e >= 0)
				det->ems = (enum ems_det_kind)e;
			break;
		}
		default:
			parse_lits(c, v, det_keys[op], &det->lits, &det->nlits);
			break;
		}
	}
	if (!opk)
		rl_error(
		    c, namen,
		    "detector '%s' has no operator (one of contains, prefix, line, fullword, regex, ems)",
		    det->name);
	const char *opname = opk ? (const char *)opk->data.scalar.value : NULL;

	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = rl_node(c, p->key), *v = rl_node(c, p->value);
		if (k->type != YAML_SCALAR_NODE)
			continue;
		const char *ks = (const char *)k->data.scalar.value;
		if (strcmp(ks, "nocase") == 0) {
			rl_bool(c, v, "nocase", &det->nocase);
		} else if (strcmp(ks, "partial") == 0) {
			rl_bool(c, v, "partial", &det->partial);
		} else if (strcmp(ks, "at") == 0) {
			static const char *const at[] = {"line-start"};
			if (rl_enum(c, v, "at", at, 1) == 0)
				det->line_start = true;
		} else if (strcmp(ks, "anchor") == 0) {
			if (opk && det->op != DET_REGEX)
				rl_error(c, k, "anchor: applies only to regex detectors (this one uses '%s')",
				         opname);
			else if (det->nlits == 0)
				parse_lits(c, v, "anchor", &det->lits, &det->nlits);
		} else if (strcmp(ks, "capture") == 0) {
			if (opk && det->op != DET_REGEX && det->op != DET_EMS)
				rl_error(
				    c, k,
				    "capture: applies only to regex and ems detectors (this one uses '%s')",
				    opname);
			else if (!det->caps)
				parse_captures(c, v, det, opk != NULL);
		} else if (strcmp(ks, "unless") == 0) {
			if (!det->unless)
				parse_lits(c, v, "unless", &det->unless, &det->nunless);
		} else if (strcmp(ks, "unless_near") == 0) {
			if (owner != RL_DET_RULE)
				rl_error(c, k, "unless_near: applies only to a rule's detectors");
			else if (opk && det->op == DET_EMS)
				rl_error(c, k, "unless_near: does not apply to ems detectors");
			else if (!det->has_unless_near)
				parse_unless_near(c, v, det);
		} else if (strcmp(ks, "block") == 0) {
			if (owner != RL_DET_RULE)
				rl_error(c, k, "block: applies only to a rule's detectors");
			else if (opk && det->op == DET_EMS)
				rl_error(c, k, "block: does not apply to ems detectors");
			else if (!det->has_block)
				parse_block(c, v, det);
		} else if (strcmp(ks, "stopcode") == 0) {
			if (opk && !(det->op == DET_EMS && det->ems == EMS_DET_BUGCHECK))
				rl_error(c, k, "stopcode: applies only to 'ems: bugcheck' detectors");
			else if (!det->stopcodes)
				parse_stopcodes(c, v, det);
		}
	}
	return c->y.nerrors == before ? 0 : -1;
}

void rl_det_resolve_near(struct rl_ctx *c, const yaml_node_t *matchmap, struct detector *dets, size_t ndets)
{
	size_t i = 0;
	for (yaml_node_pair_t *p = matchmap->data.mapping.pairs.start;
	     p < matchmap->data.mapping.pairs.top && i < ndets; p++, i++) {
		if (!dets[i].has_unless_near)
			continue;
		yaml_node_t *un = rl_get(c, rl_node(c, p->value), "unless_near", NULL);
		yaml_node_t *m = rl_get(c, un, "match", NULL);
		if (m)
			dets[i].unless_near_det = rl_det_lookup(c, m, dets, ndets, "unless_near.match");
	}
}

bool rl_rule_has_capture(const struct rule *r, const char *name)
{
	for (size_t i = 0; i < r->ndets; i++)
		if (rl_det_has_capture(&r->dets[i], name))
			return true;
	return false;
}

void rl_unknown_capture(struct rl_ctx *c, const yaml_node_t *n, const struct rule *r, const char *name,
                        const char *what)
{
	const char *cands[64];
	size_t nc = 0;
	for (size_t i = 0; i < r->ndets; i++)
		for (size_t k = 0; k < r->dets[i].ncaps && nc < ARRAY_LEN(cands); k++)
			cands[nc++] = r->dets[i].caps[k].name;
	const char *sug = rl_suggest(name, cands, nc);
	if (sug)
		rl_error(c, n, "unknown capture '%s' in %s (did you mean '%s'?)", name, what, sug);
	else
		rl_error(c, n, "unknown capture '%s' in %s (no detector of this rule captures it)", name,
		         what);
}
