/*
 * rules_load.c — one YAML document of a pack into the rule set: dispatch on
 * kind, and a rule's own fields, detectors and actions (when: is in
 * rules_when.c, tests: in rules_tests.c, other kinds in rules_docs.c).
 *
 * Walkers report every problem they find and keep going, so one run of
 * `rules check` shows all of a file's mistakes. Whatever they allocate is
 * attached to the rule set straight away (even when invalid), which keeps
 * the single rules_free the only cleanup path.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rules_priv.h"

#define SCHEMA_V1 "emsagent/v1"

static const char *const kind_names[] = {"rule", "macros", "ignore", "epochs"};
enum doc_kind { KIND_RULE, KIND_MACROS, KIND_IGNORE, KIND_EPOCHS };

static const char *const rule_keys[] = {"schema",     "kind",  "id",   "title",   "level",
                                        "status",     "os",    "tags", "summary", "remediation",
                                        "references", "match", "when", "actions", "tests"};
static const char *const level_names[] = {"info", "low", "medium", "high", "critical"};
static const char *const status_names[] = {"experimental", "test", "stable", "deprecated"};
static const char *const os_names[] = {"any", "windows", "linux"};
static const char *const do_names[] = {"alert", "exec", "send", "sac", "dump", "restart"};
static const char *const on_names[] = {"fire", "pending", "resolve"};
static const char *const method_names[] = {"auto", "sac", "nmi", "sysrq"};

/* ---- actions ---- */

static void parse_action(struct rl_ctx *c, const yaml_node_t *n, const struct rule *r, struct action *a)
{
	static const char *const keys[] = {"do",      "on",   "delay", "cooldown", "timeout", "max_per_epoch",
	                                   "require", "argv", "text",  "command",  "method"};
	a->loc = rl_loc(c, n);
	if (rl_expect_map(c, n, "an action") < 0)
		return;
	rl_check_keys(c, n, keys, ARRAY_LEN(keys), "an action");
	yaml_node_t *v, *k;
	int kind = -1;
	if ((v = rl_get(c, n, "do", NULL)))
		kind = rl_enum(c, v, "action", do_names, ARRAY_LEN(do_names));
	else
		rl_missing(c, n, "do", "an action");
	if (kind >= 0)
		a->kind = (enum action_kind)kind;
	if ((v = rl_get(c, n, "on", NULL))) {
		int on = rl_enum(c, v, "on", on_names, ARRAY_LEN(on_names));
		if (on >= 0)
			a->on = (enum action_on)on;
		if (on == ACT_ON_PENDING && r->when.kind != WHEN_ABSENT)
			rl_error(c, v, "on: pending never happens here: only absent rules are ever pending");
	}
	if ((v = rl_get(c, n, "delay", NULL)))
		rl_duration(c, v, "delay", &a->delay_ns);
	if ((v = rl_get(c, n, "cooldown", NULL)))
		rl_duration(c, v, "cooldown", &a->cooldown_ns);
	if ((v = rl_get(c, n, "timeout", NULL)))
		rl_duration(c, v, "timeout", &a->timeout_ns);
	/* A crash dump per boot is plenty: that is dump's default budget. */
	if (a->kind == ACT_DUMP)
		a->max_per_epoch = 1;
	if ((v = rl_get(c, n, "max_per_epoch", NULL))) {
		unsigned long m;
		if (rl_uint(c, v, "max_per_epoch", 1000000, &m) == 0)
			a->max_per_epoch = (unsigned)m;
	}
	if ((v = rl_get(c, n, "require", NULL)))
		rl_strv(c, v, "require", true, &a->require, &a->nrequire);

	/* per-kind keys: which kind each belongs to */
	static const struct {
		const char *key;
		enum action_kind kind;
		bool required;
	} own[] = {{"argv", ACT_EXEC, true},
	           {"text", ACT_SEND, true},
	           {"command", ACT_SAC, true},
	           {"method", ACT_DUMP, false}};
	for (size_t i = 0; i < ARRAY_LEN(own); i++) {
		v = rl_get(c, n, own[i].key, &k);
		if (kind < 0)
			continue;
		if (v && a->kind != own[i].kind) {
			rl_error(c, k, "'%s' does not apply to do: %s (it belongs to do: %s)", own[i].key,
			         do_names[a->kind], do_names[own[i].kind]);
			continue;
		}
		if (a->kind != own[i].kind)
			continue;
		if (!v) {
			if (own[i].required)
				rl_error(c, n, "missing required key '%s' for do: %s", own[i].key,
				         do_names[a->kind]);
			continue;
		}
		switch (own[i].kind) {
		case ACT_EXEC:
			if (rl_strv(c, v, "argv", false, &a->argv, &a->argc) == 0 && a->argc == 0)
				rl_error(c, v, "argv must name a program");
			break;
		case ACT_SEND:
			rl_str(c, v, "text", false, &a->text);
			break;
		case ACT_SAC:
			rl_str(c, v, "command", false, &a->text);
			break;
		default: {
			int m = rl_enum(c, v, "dump method", method_names, ARRAY_LEN(method_names));
			if (m >= 0)
				a->method = xstrdup(method_names[m]);
			break;
		}
		}
	}
	if (kind == ACT_DUMP && !a->method)
		a->method = xstrdup("auto");
}

static void parse_actions(struct rl_ctx *c, const yaml_node_t *n, struct rule *r)
{
	if (!n) { /* the default: an alert when the rule fires */
		r->actions = xcalloc(1, sizeof(*r->actions));
		r->nactions = 1;
		r->actions[0].kind = ACT_ALERT;
		r->actions[0].on = ACT_ON_FIRE;
		r->actions[0].loc = r->loc;
		return;
	}
	if (n->type != YAML_SEQUENCE_NODE) {
		rl_error(c, n, "actions must be a list, not %s", rl_type_name(n));
		return;
	}
	size_t cnt = rl_seq_len(n);
	if (cnt > 64) {
		rl_error(c, n, "too many actions (%zu; at most 64)", cnt);
		return;
	}
	r->actions = xcalloc(cnt ? cnt : 1, sizeof(*r->actions));
	for (size_t i = 0; i < cnt; i++)
		parse_action(c, rl_node(c, n->data.sequence.items.start[i]), r, &r->actions[r->nactions++]);
}

/* ---- rule ---- */

static void parse_match(struct rl_ctx *c, const yaml_node_t *n, struct rule *r)
{
	if (rl_expect_map(c, n, "match") < 0)
		return;
	size_t cnt = rl_map_len(n);
	if (cnt == 0 || cnt > 256) {
		rl_error(c, n, "match must define between 1 and 256 detectors");
		return;
	}
	r->dets = xcalloc(cnt, sizeof(*r->dets));
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = rl_node(c, p->key), *v = rl_node(c, p->value);
		struct detector *det = &r->dets[r->ndets];
		det->index = (int)r->ndets++;
		if (rl_str(c, k, "a detector name", false, &det->name) < 0)
			continue;
		if (!rl_valid_name(det->name)) {
			rl_error(c, k,
			         "bad detector name '%s' (letters, digits and _, not starting with a digit)",
			         det->name);
		} else if (strcmp(det->name, "epoch") == 0) {
			rl_error(c, k, "'epoch' is reserved (it names a new boot in when:)");
		} else {
			for (size_t i = 0; i + 1 < r->ndets; i++) {
				if (r->dets[i].name && strcmp(r->dets[i].name, det->name) == 0) {
					rl_error(c, k, "duplicate detector '%s' (first at line %u)",
					         det->name, r->dets[i].loc.line);
					break;
				}
			}
		}
		rl_parse_detector(c, k, v, RL_DET_RULE, det);
	}
	rl_det_resolve_near(c, n, r->dets, r->ndets);
}

static bool valid_id(const char *s)
{
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_.:-", *p))
			return false;
	return *s && strlen(s) <= 256;
}

static void parse_references(struct rl_ctx *c, const yaml_node_t *n, struct rule *r)
{
	static const char *const keys[] = {"title", "url"};
	if (n->type != YAML_SEQUENCE_NODE) {
		rl_error(c, n, "references must be a list, not %s", rl_type_name(n));
		return;
	}
	size_t cnt = rl_seq_len(n);
	if (cnt > 256) {
		rl_error(c, n, "too many references (%zu; at most 256)", cnt);
		return;
	}
	r->refs = xcalloc(cnt ? cnt : 1, sizeof(*r->refs));
	for (size_t i = 0; i < cnt; i++) {
		yaml_node_t *it = rl_node(c, n->data.sequence.items.start[i]);
		struct reference *ref = &r->refs[r->nrefs++];
		if (rl_expect_map(c, it, "a reference") < 0)
			continue;
		rl_check_keys(c, it, keys, ARRAY_LEN(keys), "a reference");
		yaml_node_t *v;
		if ((v = rl_get(c, it, "title", NULL)))
			rl_str(c, v, "reference title", false, &ref->title);
		if ((v = rl_get(c, it, "url", NULL)))
			rl_str(c, v, "reference url", false, &ref->url);
		else
			rl_missing(c, it, "url", "a reference");
	}
}

static struct rule *new_rule(struct rl_ctx *c)
{
	struct ruleset *rs = c->rs;
	xgrow((void **)&rs->rules, &c->cap_rules, rs->nrules + 1, sizeof(*rs->rules));
	struct rule *r = &rs->rules[rs->nrules];
	memset(r, 0, sizeof(*r));
	r->index = (int)rs->nrules++;
	return r;
}

static void load_rule(struct rl_ctx *c, const yaml_node_t *root)
{
	rl_check_keys(c, root, rule_keys, ARRAY_LEN(rule_keys), "a rule");
	struct rule *r = new_rule(c);
	r->loc = rl_loc(c, root);
	yaml_node_t *v;
	int e;
	if ((v = rl_get(c, root, "id", NULL))) {
		if (rl_str(c, v, "id", false, &r->id) == 0) {
			r->loc = rl_loc(c, v);
			if (!valid_id(r->id))
				rl_error(c, v, "bad rule id '%s' (letters, digits and _ . : -)", r->id);
			for (size_t i = 0; i + 1 < c->rs->nrules; i++) {
				const struct rule *o = &c->rs->rules[i];
				if (o->id && strcmp(o->id, r->id) == 0) {
					rl_error(c, v, "duplicate rule id '%s' (first defined at %s:%u:%u)",
					         r->id, o->loc.file, o->loc.line, o->loc.col);
					break;
				}
			}
		}
	} else {
		rl_missing(c, root, "id", "a rule");
	}
	if ((v = rl_get(c, root, "title", NULL)))
		rl_str(c, v, "title", false, &r->title);
	else
		rl_missing(c, root, "title", "a rule");
	if ((v = rl_get(c, root, "level", NULL))) {
		if ((e = rl_enum(c, v, "level", level_names, ARRAY_LEN(level_names))) >= 0)
			r->level = (enum rule_level)e;
	} else {
		rl_missing(c, root, "level", "a rule");
	}
	if ((v = rl_get(c, root, "status", NULL)) &&
	    (e = rl_enum(c, v, "status", status_names, ARRAY_LEN(status_names))) >= 0)
		r->status = (enum rule_status)e;
	if ((v = rl_get(c, root, "os", NULL)) &&
	    (e = rl_enum(c, v, "os", os_names, ARRAY_LEN(os_names))) >= 0)
		r->os = (enum rule_os)e;
	if ((v = rl_get(c, root, "tags", NULL)))
		rl_strv(c, v, "tags", false, &r->tags, &r->ntags);
	if ((v = rl_get(c, root, "summary", NULL)))
		rl_str(c, v, "summary", false, &r->summary);
	if ((v = rl_get(c, root, "remediation", NULL)))
		rl_strv(c, v, "remediation", true, &r->remediation, &r->nremediation);
	if ((v = rl_get(c, root, "references", NULL)))
		parse_references(c, v, r);
	if ((v = rl_get(c, root, "match", NULL)))
		parse_match(c, v, r);
	else
		rl_missing(c, root, "match", "a rule");
	r->when.after = r->when.absent_of = DET_REF_NONE;
	if ((v = rl_get(c, root, "when", NULL)))
		rl_parse_when(c, v, r);
	parse_actions(c, rl_get(c, root, "actions", NULL), r);
	if ((v = rl_get(c, root, "tests", NULL)))
		rl_parse_tests(c, v, r);
}

void rl_load_document(struct rl_ctx *c, yaml_node_t *root)
{
	if (!root || rl_is_null(root))
		return; /* an empty document (a stray ---) */
	if (root->type != YAML_MAPPING_NODE) {
		rl_error(c, root, "a document must be a map, not %s", rl_type_name(root));
		return;
	}
	yaml_node_t *v = rl_get(c, root, "schema", NULL);
	if (!v) {
		rl_missing(c, root, "schema", "a document");
	} else if (!rl_sval(v) || strcmp(rl_sval(v), SCHEMA_V1) != 0) {
		if (rl_sval(v))
			rl_error(c, v, "unsupported schema '%s' (expected %s)", rl_sval(v), SCHEMA_V1);
		else
			rl_error(c, v, "schema must be a string, not %s", rl_type_name(v));
	}
	int kind = KIND_RULE;
	if ((v = rl_get(c, root, "kind", NULL)) &&
	    (kind = rl_enum(c, v, "kind", kind_names, ARRAY_LEN(kind_names))) < 0)
		return;
	switch (kind) {
	case KIND_RULE:
		load_rule(c, root);
		break;
	case KIND_MACROS:
		rl_load_macros(c, root);
		break;
	case KIND_IGNORE:
		rl_load_ignore(c, root);
		break;
	default:
		rl_load_epochs(c, root);
		break;
	}
}
