/*
 * config.c — the watch configuration file (config.h, doc/watch.md): one YAML
 * document of kind `watch`, read with the shared typed helpers (yamlx.c) so
 * every mistake is reported at FILE:LINE:COL, typos with a suggestion.
 *
 * Merging: `defaults:` is checked once on its own; then every console starts
 * from console_cfg_default, gets the defaults map applied, and then its own
 * map, so "a console's value wins" is simply the later assignment. Maps that
 * merge key by key (labels, capture, reconnect) do so because assignments are
 * per key; lists (rules) and the policy are replaced whole.
 * Any error anywhere frees everything: the caller gets a whole config or none.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "emsagent/config.h"
#include "yamlx.h"

/* Bounds on what a config may make the loader hold. */
#define CFG_MAX_FILE_BYTES (1u << 20)
#define CFG_MAX_CONSOLES   10000
#define CFG_MAX_SINKS      64
#define CFG_MAX_LABELS     64
#define CFG_MAX_RULE_PATHS 64
#define CFG_MAX_NAME       64
#define CFG_MAX_VALUE      1024
#define CFG_MAX_PATH       4096
#define CFG_BAUD_MIN       50
#define CFG_BAUD_MAX       4000000
#define CFG_MAX_KEEP       1000
#define CFG_MAX_WRITERS    64
#define CFG_MIN_QUEUE      4096
#define CFG_MAX_QUEUE      (1ull << 30)

struct cfg_ctx {
	struct yamlx y;
	struct watch_cfg *cfg;
};

/* Every key a console map may hold; defaults take all but name and port. */
enum ckey {
	CK_NAME,
	CK_PORT,
	CK_BAUD,
	CK_DATA_BITS,
	CK_PARITY,
	CK_STOP_BITS,
	CK_FLOW,
	CK_REALTIME,
	CK_LABELS,
	CK_RULES,
	CK_CONTROL,
	CK_POLICY,
	CK_CAPTURE,
	CK_LOG_DIR,
	CK_IDLE,
	CK_RECONNECT,
	CK_SAC,
	CK_SHARE,
};
static const char *const console_keys[] = {
    "name",  "port",    "baud",   "data_bits", "parity",  "stop_bits", "flow",      "realtime", "labels",
    "rules", "control", "policy", "capture",   "log_dir", "idle",      "reconnect", "sac",      "share",
};

static const char *const parity_names[] = {"none", "even", "odd", "mark", "space"};
static const char parity_chars[] = {'n', 'e', 'o', 'm', 's'};
static const char *const flow_names[] = {"none", "xonxoff", "rtscts"};
static const char *const policy_kinds[] = {"dump", "restart", "exec", "send"};
static const char *const sink_types[] = {"stdout", "stderr", "file", "syslog"};
static const char *const sink_formats[] = {"text", "json"};
static const char *const facilities[] = {"daemon", "user",   "local0", "local1", "local2",
                                         "local3", "local4", "local5", "local6", "local7"};
static const char *const level_names[] = {"info", "low", "medium", "high", "critical"};
/* Control-plane schemes (design §10); the planes themselves come later. */
static const char *const control_schemes[] = {"qmp", "virsh", "azure", "aws", "ipmi", "hyperv", "exec"};

/* --- small pieces --------------------------------------------------------- */

static bool safe_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.' && *s != '-')
			return false;
	return true;
}

int config_parse_size(const char *s, uint64_t *out)
{
	if (!s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	unsigned shift = 0;
	switch (toupper((unsigned char)*end)) {
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	case 'T':
		shift = 40;
		break;
	default:
		break;
	}
	if (shift)
		end++;
	/* optional unit spelling after the multiplier: B, iB */
	if (shift && (end[0] == 'i' || end[0] == 'I') && (end[1] == 'B' || end[1] == 'b'))
		end += 2;
	else if (*end == 'B' || *end == 'b')
		end++;
	if (*end)
		return -1;
	if (shift && v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

static void set_str(char **dst, char *v)
{
	free(*dst);
	*dst = v;
}

static void set_cstr(const char **dst, char *v)
{
	free((char *)*dst);
	*dst = v;
}

/* A string no longer than max bytes; 0 or -1 after reporting. */
static int get_str(struct cfg_ctx *c, const yaml_node_t *n, const char *what, size_t max, char **out)
{
	char *s;
	if (yx_str(&c->y, n, what, false, &s) < 0)
		return -1;
	if (strlen(s) > max) {
		yx_error(&c->y, n, "%s is too long (%zu bytes; at most %zu)", what, strlen(s), max);
		free(s);
		return -1;
	}
	*out = s;
	return 0;
}

static int get_abs_path(struct cfg_ctx *c, const yaml_node_t *n, const char *what, char **out)
{
	char *s;
	if (get_str(c, n, what, CFG_MAX_PATH, &s) < 0)
		return -1;
	if (s[0] != '/') {
		yx_error(&c->y, n, "%s must be an absolute path, not '%s'", what, s);
		free(s);
		return -1;
	}
	*out = s;
	return 0;
}

/* "250ms" below a second (format_duration would say "0.25s"). */
static void fmt_dur(int64_t ns, char *out, size_t outsz)
{
	if (ns < NS_PER_SEC && ns % NS_PER_MS == 0)
		snprintf(out, outsz, "%lldms", (long long)(ns / NS_PER_MS));
	else
		format_duration(ns, out, outsz);
}

/* A duration within [min, max]. */
static int get_duration(struct cfg_ctx *c, const yaml_node_t *n, const char *what, int64_t min, int64_t max,
                        int64_t *out)
{
	int64_t v;
	if (yx_duration(&c->y, n, what, &v) < 0)
		return -1;
	char a[32], b[32];
	if (v < min) {
		fmt_dur(min, a, sizeof(a));
		yx_error(&c->y, n, "%s must be at least %s", what, a);
		return -1;
	}
	if (v > max) {
		fmt_dur(max, b, sizeof(b));
		yx_error(&c->y, n, "%s must be at most %s", what, b);
		return -1;
	}
	*out = v;
	return 0;
}

static int get_map(struct cfg_ctx *c, const yaml_node_t *n, const char *what, const char *const *keys,
                   size_t nkeys)
{
	if (yx_expect_map(&c->y, n, what) < 0)
		return -1;
	return yx_check_keys(&c->y, n, keys, nkeys, what) ? -1 : 0;
}

/* --- console keys --------------------------------------------------------- */

static int parse_labels(struct cfg_ctx *c, const yaml_node_t *n, struct console_cfg *cc)
{
	if (yx_expect_map(&c->y, n, "labels") < 0)
		return -1;
	if (yx_map_len(n) > CFG_MAX_LABELS) {
		yx_error(&c->y, n, "too many labels (%zu; at most %d)", yx_map_len(n), CFG_MAX_LABELS);
		return -1;
	}
	int rc = 0;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yx_node(&c->y, p->key), *v = yx_node(&c->y, p->value);
		char *key, *val;
		if (get_str(c, k, "a label name", CFG_MAX_NAME, &key) < 0) {
			rc = -1;
			continue;
		}
		if (!safe_name(key)) {
			yx_error(&c->y, k, "bad label name '%s' (use letters, digits, '_', '.', '-')", key);
			free(key);
			rc = -1;
			continue;
		}
		/* numbers and booleans are fine label values: keep their text */
		if (get_str(c, v, "a label value", CFG_MAX_VALUE, &val) < 0) {
			free(key);
			rc = -1;
			continue;
		}
		size_t i;
		for (i = 0; i < cc->nlabels; i++)
			if (strcmp(cc->labels[i].key, key) == 0)
				break;
		if (i < cc->nlabels) {
			/* a repeat within one map is an error; over defaults it is the point */
			bool here = false;
			for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++)
				if (yx_sval(yx_node(&c->y, q->key)) &&
				    strcmp(yx_sval(yx_node(&c->y, q->key)), key) == 0)
					here = true;
			if (here) {
				yx_error(&c->y, k, "duplicate label '%s'", key);
				free(key);
				free(val);
				rc = -1;
				continue;
			}
			free(key);
			set_str(&cc->labels[i].value, val);
			continue;
		}
		cc->labels = xrealloc(cc->labels, (cc->nlabels + 1) * sizeof(*cc->labels));
		cc->labels[cc->nlabels++] = (struct kv){.key = key, .value = val};
	}
	return rc;
}

static int parse_policy(struct cfg_ctx *c, const yaml_node_t *n, struct action_policy *pol)
{
	static const char *const keys[] = {"allow", "deny"};
	if (get_map(c, n, "policy", keys, ARRAY_LEN(keys)) < 0)
		return -1;
	struct action_policy p;
	action_policy_default(&p);
	bool *flag[] = {&p.allow_dump, &p.allow_restart, &p.allow_exec, &p.allow_send};
	const yaml_node_t *allowed_at[ARRAY_LEN(policy_kinds)] = {0};
	int rc = 0;
	for (size_t which = 0; which < 2; which++) {
		yaml_node_t *list = yx_get(&c->y, n, keys[which], NULL);
		if (!list)
			continue;
		const char *what = which == 0 ? "policy.allow" : "policy.deny";
		if (list->type == YAML_SCALAR_NODE && !yx_is_null(list)) {
			yx_error(&c->y, list, "%s must be a list such as [dump, restart], not a string",
			         what);
			rc = -1;
			continue;
		}
		if (yx_is_null(list))
			continue;
		if (list->type != YAML_SEQUENCE_NODE) {
			yx_error(&c->y, list, "%s must be a list, not %s", what, yx_type_name(list));
			rc = -1;
			continue;
		}
		for (yaml_node_item_t *it = list->data.sequence.items.start;
		     it < list->data.sequence.items.top; it++) {
			yaml_node_t *item = yx_node(&c->y, *it);
			int k = yx_enum(&c->y, item, "action kind", policy_kinds, ARRAY_LEN(policy_kinds));
			if (k < 0) {
				rc = -1;
				continue;
			}
			if (which == 0) {
				allowed_at[k] = item;
				*flag[k] = true;
			} else if (allowed_at[k]) {
				yx_error(&c->y, item, "'%s' is both allowed (line %u) and denied",
				         policy_kinds[k], (unsigned)allowed_at[k]->start_mark.line + 1);
				rc = -1;
			} else {
				*flag[k] = false;
			}
		}
	}
	if (rc == 0)
		*pol = p;
	return rc;
}

static int parse_capture(struct cfg_ctx *c, const yaml_node_t *n, struct console_cfg *cc)
{
	static const char *const keys[] = {"dir", "pattern", "raw", "text", "max_size", "keep", "flush"};
	if (get_map(c, n, "capture", keys, ARRAY_LEN(keys)) < 0)
		return -1;
	int rc = 0;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		const char *k = yx_sval(yx_node(&c->y, p->key));
		yaml_node_t *v = yx_node(&c->y, p->value);
		char *s;
		if (strcmp(k, "dir") == 0) {
			if (get_abs_path(c, v, "capture.dir", &s) < 0) {
				rc = -1;
				continue;
			}
			set_cstr(&cc->capture.dir, s);
			cc->capture_on = true;
		} else if (strcmp(k, "pattern") == 0) {
			if (get_str(c, v, "capture.pattern", CFG_MAX_NAME * 4, &s) < 0) {
				rc = -1;
				continue;
			}
			/* a pattern names files inside dir, never somewhere else */
			if (strchr(s, '/')) {
				yx_error(&c->y, v, "capture.pattern is a file name and must not contain '/'");
				free(s);
				rc = -1;
				continue;
			}
			set_cstr(&cc->capture.pattern, s);
		} else if (strcmp(k, "raw") == 0) {
			rc |= yx_bool(&c->y, v, "capture.raw", &cc->capture.raw);
		} else if (strcmp(k, "text") == 0) {
			rc |= yx_bool(&c->y, v, "capture.text", &cc->capture.text);
		} else if (strcmp(k, "max_size") == 0) {
			const char *sv = yx_sval(v);
			uint64_t sz;
			if (!sv || config_parse_size(sv, &sz) < 0) {
				if (sv)
					yx_error(
					    &c->y, v,
					    "bad size '%s' for capture.max_size (use e.g. 64M, 1G, 4096)",
					    sv);
				else
					yx_error(&c->y, v, "capture.max_size must be a size, not %s",
					         yx_type_name(v));
				rc = -1;
				continue;
			}
			cc->capture.max_bytes = sz;
		} else if (strcmp(k, "flush") == 0) {
			/* 0 writes every read through at once */
			if (get_duration(c, v, "capture.flush", 0, 10 * NS_PER_SEC, &cc->capture.flush_ns) <
			    0) {
				rc = -1;
				continue;
			}
		} else { /* keep */
			unsigned long keep;
			if (yx_uint(&c->y, v, "capture.keep", CFG_MAX_KEEP, &keep) < 0) {
				rc = -1;
				continue;
			}
			cc->capture.keep = (unsigned)keep;
		}
	}
	return rc;
}

/* sac: {char_delay: 2ms, repeat_delay: 1.5s} — typing pace of the SAC client
 * (SAC's input ring is 1 KiB; Server 2016/2019 drop fast repeated keys). */
static int parse_sac(struct cfg_ctx *c, const yaml_node_t *n, struct console_cfg *cc)
{
	static const char *const keys[] = {"char_delay", "repeat_delay"};
	if (get_map(c, n, "sac", keys, ARRAY_LEN(keys)) < 0)
		return -1;
	int rc = 0;
	yaml_node_t *cd = yx_get(&c->y, n, "char_delay", NULL), *rd = yx_get(&c->y, n, "repeat_delay", NULL);
	if (cd && get_duration(c, cd, "sac.char_delay", 0, NS_PER_SEC, &cc->sac_char_delay_ns) < 0)
		rc = -1;
	if (rd && get_duration(c, rd, "sac.repeat_delay", 0, 10 * NS_PER_SEC, &cc->sac_repeat_delay_ns) < 0)
		rc = -1;
	return rc;
}

static int parse_reconnect(struct cfg_ctx *c, const yaml_node_t *n, struct console_cfg *cc)
{
	static const char *const keys[] = {"min", "max"};
	if (get_map(c, n, "reconnect", keys, ARRAY_LEN(keys)) < 0)
		return -1;
	int rc = 0;
	yaml_node_t *mn = yx_get(&c->y, n, "min", NULL), *mx = yx_get(&c->y, n, "max", NULL);
	if (mn &&
	    get_duration(c, mn, "reconnect.min", NS_PER_MS, 3600 * NS_PER_SEC, &cc->reconnect_min_ns) < 0)
		rc = -1;
	if (mx &&
	    get_duration(c, mx, "reconnect.max", NS_PER_MS, 86400 * NS_PER_SEC, &cc->reconnect_max_ns) < 0)
		rc = -1;
	return rc;
}

/* "4K", "1M", "1G", or bytes: how a limit is shown. */
static void fmt_size(uint64_t v, char *out, size_t outsz)
{
	static const char units[] = "KMGT";
	unsigned i = 0;
	while (v && v % 1024 == 0 && i < 4) {
		v /= 1024;
		i++;
	}
	if (i)
		snprintf(out, outsz, "%llu%c", (unsigned long long)v, units[i - 1]);
	else
		snprintf(out, outsz, "%llu", (unsigned long long)v);
}

/* A size within [min, max] (config_parse_size's spellings). */
static int get_size(struct cfg_ctx *c, const yaml_node_t *n, const char *what, uint64_t min, uint64_t max,
                    const char *example, uint64_t *out)
{
	const char *sv = yx_sval(n);
	uint64_t sz;
	if (!sv) {
		yx_error(&c->y, n, "%s must be a size, not %s", what, yx_type_name(n));
		return -1;
	}
	if (config_parse_size(sv, &sz) < 0) {
		yx_error(&c->y, n, "bad size '%s' for %s (use e.g. %s)", sv, what, example);
		return -1;
	}
	char lim[32];
	if (sz < min) {
		fmt_size(min, lim, sizeof(lim));
		yx_error(&c->y, n, "%s must be at least %s, not %s", what, lim, sv);
		return -1;
	}
	if (sz > max) {
		fmt_size(max, lim, sizeof(lim));
		yx_error(&c->y, n, "%s must be at most %s, not %s", what, lim, sv);
		return -1;
	}
	*out = sz;
	return 0;
}

/* A file mode as chmod takes it: octal digits ("0660", 660, "0o660"). */
static int get_mode(struct cfg_ctx *c, const yaml_node_t *n, unsigned *out)
{
	const char *sv = yx_sval(n);
	if (!sv) {
		yx_error(&c->y, n, "share.mode must be an octal mode such as 0660, not %s", yx_type_name(n));
		return -1;
	}
	const char *p = sv;
	if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O'))
		p += 2;
	unsigned long v = 0;
	bool ok = *p != '\0';
	for (; *p && ok; p++) {
		if (*p < '0' || *p > '7')
			ok = false;
		else if ((v = v * 8 + (unsigned long)(*p - '0')) > 07777)
			break;
	}
	if (!ok) {
		yx_error(&c->y, n, "bad share.mode '%s' (an octal mode such as 0660)", sv);
		return -1;
	}
	if (v > 0777) {
		yx_error(&c->y, n, "share.mode must be at most 0777, not %s", sv);
		return -1;
	}
	/* connecting to a unix socket needs write permission on it */
	if (!(v & 0200)) {
		yx_error(&c->y, n,
		         "share.mode %s leaves the watcher's own user unable to attach (0600 at least)", sv);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

static int parse_writers(struct cfg_ctx *c, const yaml_node_t *n, struct share_opts *so)
{
	char **v;
	size_t nv;
	if (yx_strv(&c->y, n, "share.writers", true, &v, &nv) < 0)
		return -1;
	if (nv > CFG_MAX_WRITERS) {
		yx_error(&c->y, n, "share.writers names too many writers (%zu; at most %d)", nv,
		         CFG_MAX_WRITERS);
		yx_free_strv(v, nv);
		return -1;
	}
	for (size_t i = 0; i < nv; i++) {
		const char *w = v[i];
		const char *name = strncmp(w, "group:", 6) == 0 ? w + 6 : w;
		bool ok = *name != '\0' && strlen(name) <= CFG_MAX_NAME;
		for (const char *q = name; ok && *q; q++)
			if (*q == ':' || *q == '/' || isspace((unsigned char)*q))
				ok = false;
		if (!ok) {
			const yaml_node_t *item = n->type == YAML_SEQUENCE_NODE
			                              ? yx_node(&c->y, n->data.sequence.items.start[i])
			                              : n;
			yx_error(&c->y, item,
			         "bad writer '%s' in share.writers (a user name, a uid, or group:NAME)", w);
			yx_free_strv(v, nv);
			return -1;
		}
	}
	yx_free_strv(so->writers, so->nwriters);
	so->writers = v;
	so->nwriters = nv;
	return 0;
}

/* share: {dir, mode, group, writers, replay, queue}, or share: off. */
static int parse_share(struct cfg_ctx *c, const yaml_node_t *n, struct console_cfg *cc)
{
	static const char *const keys[] = {"dir", "mode", "group", "writers", "replay", "queue"};
	struct share_opts *so = &cc->share;
	if (n && n->type == YAML_SCALAR_NODE && !yx_is_null(n)) {
		static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
		for (size_t i = 0; i < ARRAY_LEN(yes); i++) {
			if (strcasecmp(yx_sval(n), yes[i]) == 0 || strcasecmp(yx_sval(n), no[i]) == 0) {
				so->off = strcasecmp(yx_sval(n), no[i]) == 0;
				return 0;
			}
		}
		yx_error(&c->y, n, "share must be a map or off, not '%s'", yx_sval(n));
		return -1;
	}
	if (get_map(c, n, "share", keys, ARRAY_LEN(keys)) < 0)
		return -1;
	so->off = false; /* a console that says how to share wants it shared */
	int rc = 0;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		const char *k = yx_sval(yx_node(&c->y, p->key));
		yaml_node_t *v = yx_node(&c->y, p->value);
		char *s;
		uint64_t sz;
		if (strcmp(k, "dir") == 0) {
			if (get_abs_path(c, v, "share.dir", &s) < 0)
				rc = -1;
			else
				set_str(&so->dir, s);
		} else if (strcmp(k, "mode") == 0) {
			rc |= get_mode(c, v, &so->mode);
		} else if (strcmp(k, "group") == 0) {
			if (get_str(c, v, "share.group", CFG_MAX_NAME, &s) < 0)
				rc = -1;
			else
				set_str(&so->group, s);
		} else if (strcmp(k, "writers") == 0) {
			rc |= parse_writers(c, v, so);
		} else if (strcmp(k, "replay") == 0) {
			if (get_size(c, v, "share.replay", 0, SHARE_MAX_REPLAY, "4K, 64K, 1M", &sz) < 0)
				rc = -1;
			else
				so->replay = (size_t)sz;
		} else { /* queue */
			if (get_size(c, v, "share.queue", CFG_MIN_QUEUE, CFG_MAX_QUEUE, "256K, 1M, 16M",
			             &sz) < 0)
				rc = -1;
			else
				so->max_queue = (size_t)sz;
		}
	}
	return rc;
}

static int parse_control(struct cfg_ctx *c, const yaml_node_t *n, struct console_cfg *cc)
{
	char *s;
	if (get_str(c, n, "control", CFG_MAX_PATH, &s) < 0)
		return -1;
	const char *colon = strchr(s, ':');
	size_t len = colon ? (size_t)(colon - s) : 0;
	for (size_t i = 0; colon && i < ARRAY_LEN(control_schemes); i++) {
		if (strlen(control_schemes[i]) == len && strncmp(s, control_schemes[i], len) == 0 &&
		    colon[1]) {
			set_str(&cc->control, s);
			return 0;
		}
	}
	char scheme[32];
	snprintf(scheme, sizeof(scheme), "%.*s", (int)(len < sizeof(scheme) ? len : sizeof(scheme) - 1), s);
	const char *sug = colon ? yx_suggest(scheme, control_schemes, ARRAY_LEN(control_schemes)) : NULL;
	if (!colon || !colon[1])
		yx_error(&c->y, n,
		         "bad control URL '%s' (expected KIND:TARGET with KIND one of qmp, virsh, azure, "
		         "aws, ipmi, hyperv, exec)",
		         s);
	else if (sug)
		yx_error(&c->y, n, "unknown control kind '%s' (did you mean '%s'?)", scheme, sug);
	else
		yx_error(&c->y, n,
		         "unknown control kind '%s' (expected qmp, virsh, azure, aws, ipmi, hyperv or exec)",
		         scheme);
	free(s);
	return -1;
}

/* One key of a console (or defaults) map onto cc. */
static int apply_key(struct cfg_ctx *c, enum ckey key, const yaml_node_t *v, struct console_cfg *cc)
{
	unsigned long u;
	char *s;
	int k;
	switch (key) {
	case CK_NAME:
		if (get_str(c, v, "name", CFG_MAX_NAME, &s) < 0)
			return -1;
		if (!safe_name(s)) {
			yx_error(&c->y, v, "bad console name '%s' (use letters, digits, '_', '.', '-')", s);
			free(s);
			return -1;
		}
		set_str(&cc->name, s);
		cc->loc = yx_loc(&c->y, v);
		return 0;
	case CK_PORT:
		if (get_str(c, v, "port", CFG_MAX_PATH, &s) < 0)
			return -1;
		set_str(&cc->port, s);
		return 0;
	case CK_BAUD:
		if (yx_uint(&c->y, v, "baud", CFG_BAUD_MAX, &u) < 0)
			return -1;
		if (u < CFG_BAUD_MIN) {
			yx_error(&c->y, v, "baud must be at least %d, not %lu", CFG_BAUD_MIN, u);
			return -1;
		}
		cc->topts.baud = (unsigned)u;
		return 0;
	case CK_DATA_BITS:
		if (yx_uint(&c->y, v, "data_bits", 8, &u) < 0)
			return -1;
		if (u < 5) {
			yx_error(&c->y, v, "data_bits must be 5, 6, 7 or 8, not %lu", u);
			return -1;
		}
		cc->topts.data_bits = (unsigned)u;
		return 0;
	case CK_PARITY:
		if ((k = yx_enum(&c->y, v, "parity", parity_names, ARRAY_LEN(parity_names))) < 0)
			return -1;
		cc->topts.parity = parity_chars[k];
		return 0;
	case CK_STOP_BITS:
		if (yx_uint(&c->y, v, "stop_bits", 2, &u) < 0)
			return -1;
		if (u < 1) {
			yx_error(&c->y, v, "stop_bits must be 1 or 2, not %lu", u);
			return -1;
		}
		cc->topts.stop_bits = (unsigned)u;
		return 0;
	case CK_FLOW:
		if ((k = yx_enum(&c->y, v, "flow", flow_names, ARRAY_LEN(flow_names))) < 0)
			return -1;
		cc->topts.flow = (enum transport_flow)k;
		return 0;
	case CK_REALTIME:
		return yx_bool(&c->y, v, "realtime", &cc->topts.replay_realtime);
	case CK_LABELS:
		return parse_labels(c, v, cc);
	case CK_RULES: {
		char **paths;
		size_t n;
		if (yx_strv(&c->y, v, "rules", true, &paths, &n) < 0)
			return -1;
		if (n == 0 || n > CFG_MAX_RULE_PATHS) {
			yx_error(&c->y, v, "rules must name 1 to %d files or directories",
			         CFG_MAX_RULE_PATHS);
			yx_free_strv(paths, n);
			return -1;
		}
		yx_free_strv(cc->rules, cc->nrules);
		cc->rules = paths;
		cc->nrules = n;
		return 0;
	}
	case CK_CONTROL:
		return parse_control(c, v, cc);
	case CK_POLICY:
		return parse_policy(c, v, &cc->policy);
	case CK_CAPTURE:
		return parse_capture(c, v, cc);
	case CK_LOG_DIR:
		if (get_abs_path(c, v, "log_dir", &s) < 0)
			return -1;
		set_cstr(&cc->capture.dir, s);
		cc->capture_on = true;
		return 0;
	case CK_IDLE:
		return get_duration(c, v, "idle", NS_PER_MS, 60 * NS_PER_SEC, &cc->idle_ns);
	case CK_RECONNECT:
		return parse_reconnect(c, v, cc);
	case CK_SAC:
		return parse_sac(c, v, cc);
	case CK_SHARE:
		return parse_share(c, v, cc);
	}
	return -1;
}

/* Applies a console map (or defaults, which may not name a console or port). */
static int apply_map(struct cfg_ctx *c, const yaml_node_t *map, struct console_cfg *cc, bool defaults)
{
	const char *what = defaults ? "defaults" : "a console";
	if (get_map(c, map, what, console_keys, ARRAY_LEN(console_keys)) < 0)
		return -1;
	int rc = 0;
	yaml_node_t *logdir_k = NULL, *capture = yx_get(&c->y, map, "capture", NULL);
	yx_get(&c->y, map, "log_dir", &logdir_k);
	if (logdir_k && capture && yx_get(&c->y, capture, "dir", NULL)) {
		yx_error(&c->y, logdir_k, "give either log_dir or capture.dir, not both");
		rc = -1;
	}
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yx_node(&c->y, p->key);
		const char *ks = yx_sval(k);
		size_t i;
		for (i = 0; i < ARRAY_LEN(console_keys); i++)
			if (strcmp(ks, console_keys[i]) == 0)
				break;
		if (defaults && (i == CK_NAME || i == CK_PORT)) {
			yx_error(&c->y, k, "'%s' belongs to each console, not to defaults", ks);
			rc = -1;
			continue;
		}
		if (apply_key(c, (enum ckey)i, yx_node(&c->y, p->value), cc) < 0)
			rc = -1;
	}
	return rc;
}

/* What only makes sense once defaults and the console's own keys are merged.
 * *pkey gets the port as "kind:target", so two spellings of one port
 * (/dev/pts/3 and pty:/dev/pts/3) are seen to be the same. */
static int check_console(struct cfg_ctx *c, const yaml_node_t *map, struct console_cfg *cc, char **pkey)
{
	int rc = 0;
	if (!cc->name) {
		yx_missing(&c->y, map, "name", "a console");
		rc = -1;
	}
	yaml_node_t *portn = yx_get(&c->y, map, "port", NULL);
	if (!cc->port) {
		if (!portn)
			yx_missing(&c->y, map, "port", "a console");
		rc = -1;
	} else {
		struct transport *t = NULL;
		char err[256];
		if (transport_parse(cc->port, &cc->topts, &t, err, sizeof(err)) < 0) {
			yx_error(&c->y, portn, "bad port '%s': %s", cc->port, err);
			rc = -1;
		} else {
			*pkey = xasprintf("%s:%s", t->ops->kind, t->target);
		}
		transport_free(t);
	}
	if (cc->reconnect_min_ns > cc->reconnect_max_ns) {
		char a[32], b[32];
		fmt_dur(cc->reconnect_min_ns, a, sizeof(a));
		fmt_dur(cc->reconnect_max_ns, b, sizeof(b));
		yaml_node_t *rn = yx_get(&c->y, map, "reconnect", NULL);
		yx_error(&c->y, rn ? rn : map, "reconnect.min (%s) is longer than reconnect.max (%s)", a, b);
		rc = -1;
	}
	if (cc->capture_on && !cc->capture.raw && !cc->capture.text) {
		yaml_node_t *cn = yx_get(&c->y, map, "capture", NULL);
		yx_error(&c->y, cn ? cn : map, "capture has both raw and text off: nothing would be written");
		rc = -1;
	}
	return rc;
}

/* --- sinks ---------------------------------------------------------------- */

static int parse_sink(struct cfg_ctx *c, const yaml_node_t *n, struct sink_spec *sp)
{
	static const char *const keys[] = {"type", "format", "path", "facility", "level", "color"};
	if (get_map(c, n, "a sink", keys, ARRAY_LEN(keys)) < 0)
		return -1;
	int rc = 0, k;
	yaml_node_t *tn = yx_get(&c->y, n, "type", NULL);
	if (!tn) {
		yx_missing(&c->y, n, "type", "a sink");
		return -1;
	}
	if ((k = yx_enum(&c->y, tn, "sink type", sink_types, ARRAY_LEN(sink_types))) < 0)
		return -1;
	sp->type = (enum sink_type)k;
	sp->format = sp->type == SINK_FILE ? SINK_JSON : SINK_TEXT;
	sp->min_level = -1;
	yaml_node_t *fk, *pk, *fck, *ck;
	yaml_node_t *fn = yx_get(&c->y, n, "format", &fk), *pn = yx_get(&c->y, n, "path", &pk);
	yaml_node_t *facn = yx_get(&c->y, n, "facility", &fck), *ln = yx_get(&c->y, n, "level", NULL);
	yaml_node_t *cn = yx_get(&c->y, n, "color", &ck);
	if (fn) {
		if ((k = yx_enum(&c->y, fn, "sink format", sink_formats, ARRAY_LEN(sink_formats))) < 0)
			rc = -1;
		else
			sp->format = (enum sink_format)k;
	}
	if (sp->type == SINK_FILE) {
		if (!pn) {
			yx_missing(&c->y, n, "path", "a file sink");
			rc = -1;
		} else if (get_abs_path(c, pn, "sink path", &sp->path) < 0) {
			rc = -1;
		}
	} else if (pn) {
		yx_error(&c->y, pk, "only a file sink has a path");
		rc = -1;
	}
	if (sp->type == SINK_SYSLOG) {
		if (facn) {
			if ((k = yx_enum(&c->y, facn, "syslog facility", facilities, ARRAY_LEN(facilities))) <
			    0)
				rc = -1;
			else
				sp->facility = xstrdup(facilities[k]);
		} else {
			sp->facility = xstrdup("daemon");
		}
	} else if (facn) {
		yx_error(&c->y, fck, "only a syslog sink has a facility");
		rc = -1;
	}
	if (ln) {
		if ((k = yx_enum(&c->y, ln, "level", level_names, ARRAY_LEN(level_names))) < 0)
			rc = -1;
		else
			sp->min_level = k;
	}
	if (cn) {
		if (sp->type != SINK_STDOUT && sp->type != SINK_STDERR) {
			yx_error(&c->y, ck, "only stdout and stderr sinks have colour");
			rc = -1;
		} else if (yx_bool(&c->y, cn, "color", &sp->color) < 0) {
			rc = -1;
		} else if (sp->color && sp->format == SINK_JSON) {
			yx_error(&c->y, cn, "color applies to text, not to json");
			rc = -1;
		}
	}
	return rc;
}

static void sink_spec_free(struct sink_spec *sp)
{
	free(sp->path);
	free(sp->facility);
}

static int parse_sinks(struct cfg_ctx *c, const yaml_node_t *n)
{
	struct watch_cfg *cfg = c->cfg;
	if (!n || n->type != YAML_SEQUENCE_NODE) {
		yx_error(&c->y, n, "sinks must be a list of maps, not %s", yx_type_name(n));
		return -1;
	}
	size_t cnt = yx_seq_len(n);
	if (cnt > CFG_MAX_SINKS) {
		yx_error(&c->y, n, "too many sinks (%zu; at most %d)", cnt, CFG_MAX_SINKS);
		return -1;
	}
	cfg->sinks = xcalloc(cnt ? cnt : 1, sizeof(*cfg->sinks));
	int rc = 0;
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		struct sink_spec *sp = &cfg->sinks[cfg->nsinks++];
		if (parse_sink(c, yx_node(&c->y, *it), sp) < 0)
			rc = -1;
	}
	/* one file written by two sinks would interleave partial lines */
	for (size_t i = 0; i < cfg->nsinks; i++) {
		for (size_t j = 0; j < i; j++) {
			if (cfg->sinks[i].path && cfg->sinks[j].path &&
			    strcmp(cfg->sinks[i].path, cfg->sinks[j].path) == 0) {
				yx_error(&c->y, yx_node(&c->y, n->data.sequence.items.start[i]),
				         "sink path '%s' is already used by sink %zu", cfg->sinks[i].path,
				         j + 1);
				rc = -1;
				break;
			}
		}
	}
	return rc;
}

/* --- consoles and the document -------------------------------------------- */

static int parse_consoles(struct cfg_ctx *c, const yaml_node_t *n, const yaml_node_t *defaults)
{
	struct watch_cfg *cfg = c->cfg;
	if (!n || n->type != YAML_SEQUENCE_NODE) {
		yx_error(&c->y, n, "consoles must be a list of maps, not %s", yx_type_name(n));
		return -1;
	}
	size_t cnt = yx_seq_len(n);
	if (cnt == 0) {
		yx_error(&c->y, n, "consoles must name at least one console");
		return -1;
	}
	if (cnt > CFG_MAX_CONSOLES) {
		yx_error(&c->y, n, "too many consoles (%zu; at most %d)", cnt, CFG_MAX_CONSOLES);
		return -1;
	}
	cfg->consoles = xcalloc(cnt, sizeof(*cfg->consoles));
	char **pkeys = xcalloc(cnt, sizeof(char *));
	int rc = 0;
	for (size_t i = 0; i < cnt; i++) {
		yaml_node_t *map = yx_node(&c->y, n->data.sequence.items.start[i]);
		struct console_cfg *cc = &cfg->consoles[cfg->nconsoles++];
		console_cfg_default(cc);
		cc->loc = yx_loc(&c->y, map);
		/* defaults were checked on their own already: this cannot fail */
		if (defaults)
			apply_map(c, defaults, cc, true);
		if (apply_map(c, map, cc, false) < 0 || check_console(c, map, cc, &pkeys[i]) < 0) {
			rc = -1;
			continue;
		}
		for (size_t j = 0; j < i; j++) {
			const struct console_cfg *o = &cfg->consoles[j];
			if (o->name && strcmp(o->name, cc->name) == 0) {
				yx_error(&c->y, yx_get(&c->y, map, "name", NULL),
				         "duplicate console name '%s' (first at line %u)", cc->name,
				         o->loc.line);
				rc = -1;
			} else if (pkeys[j] && strcmp(pkeys[j], pkeys[i]) == 0) {
				yx_error(&c->y, yx_get(&c->y, map, "port", NULL),
				         "port '%s' is already watched by console '%s'", cc->port, o->name);
				rc = -1;
			}
		}
	}
	yx_free_strv(pkeys, cnt);
	return rc;
}

static void load_root(struct cfg_ctx *c, yaml_node_t *root)
{
	static const char *const keys[] = {"schema", "kind", "defaults", "sinks", "consoles"};
	if (yx_expect_map(&c->y, root, "the watch configuration") < 0)
		return;
	if (yx_check_keys(&c->y, root, keys, ARRAY_LEN(keys), "the watch configuration"))
		return;
	yaml_node_t *schema = yx_get(&c->y, root, "schema", NULL), *kind = yx_get(&c->y, root, "kind", NULL);
	if (!schema) {
		yx_missing(&c->y, root, "schema", "the watch configuration");
	} else if (!yx_sval(schema) || strcmp(yx_sval(schema), "emsagent/v1") != 0) {
		yx_error(&c->y, schema, "unsupported schema '%s' (expected emsagent/v1)",
		         yx_sval(schema) ? yx_sval(schema) : yx_type_name(schema));
	}
	if (!kind) {
		yx_missing(&c->y, root, "kind", "the watch configuration");
	} else if (!yx_sval(kind) || strcmp(yx_sval(kind), "watch") != 0) {
		yx_error(&c->y, kind, "kind must be 'watch' in a watch configuration, not '%s'",
		         yx_sval(kind) ? yx_sval(kind) : yx_type_name(kind));
	}
	size_t before = c->y.nerrors;
	yaml_node_t *defaults = yx_get(&c->y, root, "defaults", NULL);
	if (defaults && yx_is_null(defaults))
		defaults = NULL; /* `defaults:` with nothing under it */
	if (defaults) {
		struct console_cfg scratch;
		console_cfg_default(&scratch);
		apply_map(c, defaults, &scratch, true);
		console_cfg_free(&scratch);
	}
	yaml_node_t *sinks = yx_get(&c->y, root, "sinks", NULL);
	if (sinks && !yx_is_null(sinks))
		parse_sinks(c, sinks);
	yaml_node_t *consoles = yx_get(&c->y, root, "consoles", NULL);
	if (!consoles)
		yx_missing(&c->y, root, "consoles", "the watch configuration");
	else if (c->y.nerrors == before) /* consoles apply the defaults: they must be sound */
		parse_consoles(c, consoles, defaults);
}

static bool load_doc(void *ctx, yaml_node_t *root, size_t index)
{
	struct cfg_ctx *c = ctx;
	if (index == 0) {
		load_root(c, root);
		return true;
	}
	yx_error(&c->y, root, "a watch configuration is one YAML document; this is a second one");
	return false;
}

static void load_stream(struct cfg_ctx *c, const char *text, size_t len)
{
	const char *file = c->cfg->path;
	size_t before = c->y.nerrors;
	size_t ndocs = yx_each_document(&c->y, file, text, len, 2, load_doc, c);
	if (ndocs == 0 && c->y.nerrors == before)
		yx_file_error(&c->y, file, "%s", "the configuration is empty");
}

static int finish(struct cfg_ctx *c)
{
	if (c->y.nerrors) {
		config_free(c->cfg);
		return -1;
	}
	return 0;
}

int config_load_string(const char *name, const char *yaml, struct watch_cfg *cfg, struct diags *d)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->path = xstrdup(name ? name : "<string>");
	struct cfg_ctx c = {.y.d = d, .cfg = cfg};
	size_t len = yaml ? strlen(yaml) : 0;
	if (len > CFG_MAX_FILE_BYTES)
		yx_file_error(&c.y, cfg->path, "%s", "the configuration is larger than 1 MiB");
	else
		load_stream(&c, yaml ? yaml : "", len);
	return finish(&c);
}

int config_load(const char *path, struct watch_cfg *cfg, struct diags *d)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->path = xstrdup(path);
	struct cfg_ctx c = {.y.d = d, .cfg = cfg};
	FILE *f = fopen(path, "rb");
	if (!f) {
		yx_file_error(&c.y, cfg->path, "cannot open: %s", strerror(errno));
		return finish(&c);
	}
	struct buf b = {0};
	char chunk[16384];
	size_t n;
	bool too_big = false;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (b.len + n > CFG_MAX_FILE_BYTES) {
			too_big = true;
			break;
		}
		buf_append(&b, chunk, n);
	}
	int read_errno = ferror(f) ? errno : 0; /* EISDIR for a directory */
	fclose(f);
	if (too_big)
		yx_file_error(&c.y, cfg->path, "%s", "the configuration is larger than 1 MiB");
	else if (read_errno)
		yx_file_error(&c.y, cfg->path, "cannot read: %s", strerror(read_errno));
	else if (b.data && strlen(b.data) != b.len)
		yx_file_error(&c.y, cfg->path, "%s", "the configuration contains a NUL byte");
	else
		load_stream(&c, b.data ? b.data : "", b.len);
	buf_free(&b);
	return finish(&c);
}

/* --- defaults and freeing ------------------------------------------------- */

void console_cfg_default(struct console_cfg *c)
{
	memset(c, 0, sizeof(*c));
	transport_opts_default(&c->topts);
	action_policy_default(&c->policy);
	c->capture.raw = true;
	c->capture.text = false;
	c->capture.keep = 5;
	c->capture.flush_ns = 100 * NS_PER_MS;
	c->idle_ns = 250 * NS_PER_MS;
	c->reconnect_min_ns = NS_PER_SEC;
	c->reconnect_max_ns = 30 * NS_PER_SEC;
	c->sac_char_delay_ns = -1; /* the client's default */
	c->sac_repeat_delay_ns = -1;
	c->share.mode = 0660;
	c->share.replay = SHARE_DEFAULT_REPLAY;
	c->share.max_queue = 1024 * 1024;
}

void console_cfg_free(struct console_cfg *c)
{
	free(c->name);
	free(c->port);
	for (size_t i = 0; i < c->nlabels; i++) {
		free(c->labels[i].key);
		free(c->labels[i].value);
	}
	free(c->labels);
	yx_free_strv(c->rules, c->nrules);
	free(c->control);
	free((char *)c->capture.dir);
	free((char *)c->capture.pattern);
	free(c->share.dir);
	free(c->share.group);
	yx_free_strv(c->share.writers, c->share.nwriters);
	memset(c, 0, sizeof(*c));
}

void config_free(struct watch_cfg *cfg)
{
	for (size_t i = 0; i < cfg->nconsoles; i++)
		console_cfg_free(&cfg->consoles[i]);
	free(cfg->consoles);
	for (size_t i = 0; i < cfg->nsinks; i++)
		sink_spec_free(&cfg->sinks[i]);
	free(cfg->sinks);
	free(cfg->path);
	memset(cfg, 0, sizeof(*cfg));
}
