/*
 * scenario.c — loads a simulated guest's scenario YAML (see scenario.h).
 *
 * Schema (one document, a map):
 *   name, description            strings (description is free text)
 *   machine_name, guid, arch, os_version, os_build, os_product,
 *   user, domain, password       strings for the sacsim_cfg
 *   sac_enabled, boot_manager, cmd_disabled, auto_reboot,
 *   mirror_stop_text, paging     booleans
 *   cmd_delay                    a duration, or "never"
 *   drop_repeat                  a duration (0 = off)
 *   max_channels                 2..100
 *   reboot_delay                 a duration (crash → auto reboot)
 *   tasks                        a list of process names
 *   timeline                     a list of steps, in time order:
 *       {at: 5s, print: "text\r\n"}   {at: 0s, print_file: F}
 *       {at: 10m, crash: 0x7B}        {at: 1h, reboot: true}
 *       {repeat: N}  (last; the timeline plays on the first N boots)
 * It reuses the agent's yamlx walker so errors read like the rule loader's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario.h"
#include "yamlx.h"

static const char *const top_keys[] = {
    "name",         "description",  "machine_name", "guid",
    "arch",         "os_version",   "os_build",     "os_product",
    "user",         "domain",       "password",     "sac_enabled",
    "boot_manager", "cmd_disabled", "auto_reboot",  "mirror_stop_text",
    "paging",       "cmd_delay",    "drop_repeat",  "max_channels",
    "reboot_delay", "tasks",        "timeline",
};
static const char *const step_keys[] = {"at", "print", "print_file", "crash", "reboot", "repeat"};
static const char *const action_keys[] = {"print", "print_file", "crash", "reboot", "repeat"};

struct sc_ctx {
	struct yamlx y;
	struct scenario *sc;
	const char *basedir;
};

void scenario_default(struct scenario *sc)
{
	memset(sc, 0, sizeof(*sc));
	sacsim_cfg_default(&sc->cfg);
	sc->cfg.sac_enabled = true;
	sc->cfg.cmd_delay_ns = 30 * NS_PER_SEC;
	sc->reboot_delay = 5 * NS_PER_SEC;
}

void scenario_free(struct scenario *sc)
{
	free(sc->name);
	free(sc->description);
	for (size_t i = 0; i < sc->nstrs; i++)
		free(sc->strs[i]);
	for (size_t i = 0; i < sc->ntasks; i++)
		free(sc->tasks[i]);
	free(sc->tasks);
	for (size_t i = 0; i < sc->nsteps; i++)
		free(sc->steps[i].text);
	free(sc->steps);
	memset(sc, 0, sizeof(*sc));
}

/* Reads a whole file of at most SCENARIO_MAX_FILE bytes; 0 or -errno. */
static int read_file(const char *path, char **out, size_t *outlen)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	char *text = xmalloc(SCENARIO_MAX_FILE + 1);
	size_t len = fread(text, 1, SCENARIO_MAX_FILE + 1, f);
	int err = ferror(f) ? -EIO : 0;
	fclose(f);
	if (!err && len > SCENARIO_MAX_FILE)
		err = -EFBIG;
	if (err) {
		free(text);
		return err;
	}
	text[len] = '\0';
	*out = text;
	*outlen = len;
	return 0;
}

/* A cfg string: kept in sc->strs so the cfg pointer stays valid. */
static void cfg_str(struct sc_ctx *c, const yaml_node_t *n, const char *what, bool allow_empty,
                    const char **field)
{
	char *s;
	if (yx_str(&c->y, n, what, allow_empty, &s) < 0)
		return;
	if (strlen(s) > 256) {
		yx_error(&c->y, n, "%s is too long (%zu bytes; at most 256)", what, strlen(s));
		free(s);
		return;
	}
	if (c->sc->nstrs >= ARRAY_LEN(c->sc->strs)) { /* cannot happen: one slot per key */
		free(s);
		return;
	}
	c->sc->strs[c->sc->nstrs++] = s;
	*field = s;
}

static void parse_crash_code(struct sc_ctx *c, const yaml_node_t *n, uint32_t *code)
{
	const char *s = yx_sval(n);
	if (!s || !*s) {
		yx_error(&c->y, n, "crash must be a stop code such as 0x7B, not %s", yx_type_name(n));
		return;
	}
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (*s == '-' || *end || errno || v == 0 || v > UINT32_MAX) {
		yx_error(&c->y, n, "bad stop code '%s' (a number 1..0xFFFFFFFF such as 0x7B)", s);
		return;
	}
	*code = (uint32_t)v;
}

static void parse_print_file(struct sc_ctx *c, const yaml_node_t *n, struct scenario_step *st)
{
	char *name;
	if (yx_str(&c->y, n, "print_file", false, &name) < 0)
		return;
	char *path = name[0] == '/' ? xstrdup(name) : xasprintf("%s/%s", c->basedir, name);
	char *text;
	size_t len;
	int rc = read_file(path, &text, &len);
	if (rc == -EFBIG)
		yx_error(&c->y, n, "print_file '%s' is larger than %zu bytes", name, SCENARIO_MAX_FILE);
	else if (rc < 0)
		yx_error(&c->y, n, "print_file '%s': %s", path, strerror(-rc));
	else {
		st->text = text;
		st->len = len;
	}
	free(path);
	free(name);
}

/* One timeline step. Returns true when it was a {repeat: N}. */
static bool parse_step(struct sc_ctx *c, const yaml_node_t *n, struct scenario_step *st, int64_t prev_at)
{
	if (yx_expect_map(&c->y, n, "a timeline step") < 0)
		return false;
	if (yx_check_keys(&c->y, n, step_keys, ARRAY_LEN(step_keys), "a timeline step"))
		return false;
	const yaml_node_t *act = NULL;
	const char *actname = NULL;
	for (size_t i = 0; i < ARRAY_LEN(action_keys); i++) {
		yaml_node_t *v = yx_get(&c->y, n, action_keys[i], NULL);
		if (!v)
			continue;
		if (act) {
			yx_error(&c->y, v, "a timeline step does one thing; it has both '%s' and '%s'",
			         actname, action_keys[i]);
			return false;
		}
		act = v;
		actname = action_keys[i];
	}
	if (!act) {
		yx_error(&c->y, n, "a timeline step needs one of print, print_file, crash, reboot or repeat");
		return false;
	}
	yaml_node_t *at = yx_get(&c->y, n, "at", NULL);
	if (strcmp(actname, "repeat") == 0) {
		unsigned long r;
		if (at)
			yx_error(&c->y, at, "a {repeat: N} step has no 'at'");
		else if (yx_uint(&c->y, act, "repeat", SCENARIO_MAX_REPEAT, &r) == 0) {
			if (r == 0)
				yx_error(&c->y, act,
				         "repeat must be at least 1 (leave it out to play on every boot)");
			else
				c->sc->repeat = (unsigned)r;
		}
		return true;
	}
	if (!at) {
		yx_missing(&c->y, n, "at", "a timeline step");
		return false;
	}
	if (yx_duration(&c->y, at, "at", &st->at) < 0)
		return false;
	if (st->at < prev_at) {
		char a[32], b[32];
		format_duration(st->at, a, sizeof(a));
		format_duration(prev_at, b, sizeof(b));
		yx_error(&c->y, at, "the timeline must be in time order: %s comes after a step at %s", a, b);
		return false;
	}
	if (strcmp(actname, "print") == 0) {
		st->kind = SCENARIO_PRINT;
		if (act->type != YAML_SCALAR_NODE) {
			yx_error(&c->y, act, "print must be a string, not %s", yx_type_name(act));
			return false;
		}
		/* Scalars may carry NULs ("\0"); keep the exact bytes. */
		size_t len = act->data.scalar.length;
		if (len > SCENARIO_MAX_FILE) {
			yx_error(&c->y, act, "print text is larger than %zu bytes", SCENARIO_MAX_FILE);
			return false;
		}
		if (len == 0) {
			yx_error(&c->y, act, "print must not be empty");
			return false;
		}
		st->text = xmalloc(len + 1);
		memcpy(st->text, act->data.scalar.value, len);
		st->text[len] = '\0';
		st->len = len;
	} else if (strcmp(actname, "print_file") == 0) {
		st->kind = SCENARIO_PRINT;
		parse_print_file(c, act, st);
	} else if (strcmp(actname, "crash") == 0) {
		st->kind = SCENARIO_CRASH;
		parse_crash_code(c, act, &st->code);
	} else {
		bool b = false;
		st->kind = SCENARIO_REBOOT;
		if (yx_bool(&c->y, act, "reboot", &b) == 0 && !b)
			yx_error(&c->y, act, "reboot: false does nothing; leave the step out");
	}
	return false;
}

static void parse_timeline(struct sc_ctx *c, const yaml_node_t *n)
{
	if (yx_is_null(n))
		return;
	if (n->type != YAML_SEQUENCE_NODE) {
		yx_error(&c->y, n, "timeline must be a list of steps, not %s", yx_type_name(n));
		return;
	}
	size_t cnt = yx_seq_len(n);
	if (cnt > SCENARIO_MAX_STEPS) {
		yx_error(&c->y, n, "timeline has too many steps (%zu; at most %d)", cnt, SCENARIO_MAX_STEPS);
		return;
	}
	struct scenario *sc = c->sc;
	sc->steps = xcalloc(cnt ? cnt : 1, sizeof(*sc->steps));
	int64_t prev = 0;
	bool repeated = false;
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		yaml_node_t *item = yx_node(&c->y, *it);
		if (repeated) {
			yx_error(&c->y, item, "{repeat: N} must be the last step of the timeline");
			return;
		}
		struct scenario_step *st = &sc->steps[sc->nsteps];
		memset(st, 0, sizeof(*st));
		size_t before = c->y.nerrors;
		if (parse_step(c, item, st, prev)) {
			repeated = true;
			continue;
		}
		if (c->y.nerrors != before) {
			free(st->text);
			st->text = NULL;
			continue;
		}
		prev = st->at;
		sc->nsteps++;
	}
}

static void parse_tasks(struct sc_ctx *c, const yaml_node_t *n)
{
	char **v;
	size_t nv;
	if (yx_strv(&c->y, n, "tasks", false, &v, &nv) < 0)
		return;
	if (nv > 64) {
		yx_error(&c->y, n, "too many tasks (%zu; at most 64)", nv);
		yx_free_strv(v, nv);
		return;
	}
	for (size_t i = 0; i < nv; i++) {
		/* `t` prints names in a fixed column; keep them process-name shaped. */
		if (strlen(v[i]) > 64 || strpbrk(v[i], "\r\n\t\x1b")) {
			yx_error(&c->y, n, "task name '%.64s' must be one line of at most 64 characters",
			         v[i]);
			yx_free_strv(v, nv);
			return;
		}
	}
	c->sc->tasks = xcalloc(nv + 1, sizeof(char *));
	memcpy(c->sc->tasks, v, nv * sizeof(char *));
	free(v);
	c->sc->ntasks = nv;
	c->sc->cfg.tasks = (const char *const *)c->sc->tasks;
}

static void parse_duration_key(struct sc_ctx *c, const yaml_node_t *v, const char *what, int64_t *out,
                               bool never_ok)
{
	const char *s = yx_sval(v);
	if (never_ok && s && strcmp(s, "never") == 0) {
		*out = -1;
		return;
	}
	int64_t d;
	if (yx_duration(&c->y, v, what, &d) == 0)
		*out = d;
}

static void load_root(struct sc_ctx *c, const yaml_node_t *root)
{
	struct scenario *sc = c->sc;
	struct sacsim_cfg *cfg = &sc->cfg;
	if (yx_expect_map(&c->y, root, "a scenario") < 0)
		return;
	yx_check_keys(&c->y, root, top_keys, ARRAY_LEN(top_keys), "a scenario");
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		const char *k = yx_sval(yx_node(&c->y, p->key));
		yaml_node_t *v = yx_node(&c->y, p->value);
		bool b;
		if (!k)
			continue;
		if (strcmp(k, "name") == 0) {
			free(sc->name);
			sc->name = NULL;
			yx_str(&c->y, v, "name", false, &sc->name);
		} else if (strcmp(k, "description") == 0) {
			free(sc->description);
			sc->description = NULL;
			yx_str(&c->y, v, "description", true, &sc->description);
		} else if (strcmp(k, "machine_name") == 0) {
			cfg_str(c, v, k, false, &cfg->machine_name);
		} else if (strcmp(k, "guid") == 0) {
			cfg_str(c, v, k, false, &cfg->guid);
		} else if (strcmp(k, "arch") == 0) {
			cfg_str(c, v, k, false, &cfg->arch);
		} else if (strcmp(k, "os_version") == 0) {
			cfg_str(c, v, k, false, &cfg->os_version);
		} else if (strcmp(k, "os_build") == 0) {
			cfg_str(c, v, k, false, &cfg->os_build);
		} else if (strcmp(k, "os_product") == 0) {
			cfg_str(c, v, k, false, &cfg->os_product);
		} else if (strcmp(k, "user") == 0) {
			cfg_str(c, v, k, false, &cfg->user);
		} else if (strcmp(k, "domain") == 0) {
			cfg_str(c, v, k, true, &cfg->domain);
		} else if (strcmp(k, "password") == 0) {
			cfg_str(c, v, k, true, &cfg->password);
		} else if (strcmp(k, "sac_enabled") == 0) {
			if (yx_bool(&c->y, v, k, &b) == 0)
				cfg->sac_enabled = b;
		} else if (strcmp(k, "boot_manager") == 0) {
			if (yx_bool(&c->y, v, k, &b) == 0)
				cfg->boot_manager = b;
		} else if (strcmp(k, "cmd_disabled") == 0) {
			if (yx_bool(&c->y, v, k, &b) == 0)
				cfg->cmd_disabled = b;
		} else if (strcmp(k, "auto_reboot") == 0) {
			if (yx_bool(&c->y, v, k, &b) == 0)
				cfg->auto_reboot = b;
		} else if (strcmp(k, "mirror_stop_text") == 0) {
			if (yx_bool(&c->y, v, k, &b) == 0)
				cfg->mirror_stop_text = b;
		} else if (strcmp(k, "paging") == 0) {
			if (yx_bool(&c->y, v, k, &b) == 0)
				cfg->paging = b;
		} else if (strcmp(k, "cmd_delay") == 0) {
			parse_duration_key(c, v, k, &cfg->cmd_delay_ns, true);
		} else if (strcmp(k, "drop_repeat") == 0) {
			parse_duration_key(c, v, k, &cfg->drop_repeat_ns, false);
		} else if (strcmp(k, "reboot_delay") == 0) {
			parse_duration_key(c, v, k, &sc->reboot_delay, false);
		} else if (strcmp(k, "max_channels") == 0) {
			unsigned long u;
			if (yx_uint(&c->y, v, k, 100, &u) == 0) {
				if (u < 2)
					yx_error(
					    &c->y, v,
					    "max_channels counts the SAC channel too: at least 2, not %lu",
					    u);
				else
					cfg->max_channels = (unsigned)u;
			}
		} else if (strcmp(k, "tasks") == 0) {
			parse_tasks(c, v);
		} else if (strcmp(k, "timeline") == 0) {
			parse_timeline(c, v);
		}
	}
}

int scenario_load_string(const char *name, const char *text, size_t len, const char *basedir,
                         struct scenario *sc, struct diags *d)
{
	struct sc_ctx c = {.y = {.d = d, .file = name, .src = text, .srclen = len},
	                   .sc = sc,
	                   .basedir = basedir ? basedir : "."};
	scenario_default(sc);
	if (yx_check_nesting(&c.y, name, text, len) < 0)
		return -1;
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser)) {
		yx_file_error(&c.y, name, "%s", "cannot start the YAML parser");
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	for (size_t ndocs = 0; ndocs < 2; ndocs++) {
		yaml_document_t doc;
		if (!yaml_parser_load(&parser, &doc)) {
			yx_parser_error(&c.y, name, &parser);
			break;
		}
		yaml_node_t *root = yaml_document_get_root_node(&doc);
		if (!root) {
			if (ndocs == 0)
				yx_file_error(&c.y, name, "%s", "the scenario is empty");
			yaml_document_delete(&doc);
			break;
		}
		c.y.doc = &doc;
		if (ndocs == 0)
			load_root(&c, root);
		else
			yx_error(&c.y, root, "a scenario is one YAML document; this is a second one");
		c.y.doc = NULL;
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&parser);
	if (c.y.nerrors) {
		scenario_free(sc);
		return -1;
	}
	return 0;
}

int scenario_load(const char *path, struct scenario *sc, struct diags *d)
{
	char *text;
	size_t len;
	int rc = read_file(path, &text, &len);
	if (rc < 0) {
		scenario_default(sc);
		scenario_free(sc);
		diags_add(d, DIAG_ERROR, path, 0, 0, "%s",
		          rc == -EFBIG ? "scenario larger than 1 MiB" : strerror(-rc));
		return -1;
	}
	const char *slash = strrchr(path, '/');
	char *dir = slash ? xstrndup(path, (size_t)(slash - path) + (slash == path)) : xstrdup(".");
	rc = scenario_load_string(path, text, len, dir, sc, d);
	free(dir);
	free(text);
	return rc;
}
