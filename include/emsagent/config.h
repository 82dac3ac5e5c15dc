/*
 * config.h — the watch configuration file (YAML), with every error at
 * FILE:LINE:COL like the rules (design §5, §10; doc/watch.md).
 *
 *   schema: emsagent/v1
 *   kind: watch
 *   defaults: {baud: 115200, rules: [DIR], log_dir: DIR, idle: 250ms, ...}
 *   sinks: [{type: stdout|stderr|file|syslog, format: text|json, path, facility, level}]
 *   consoles:
 *     - name: vm1                      # [A-Za-z0-9_.-]+, unique
 *       port: /dev/ttyS0                # any transport URL
 *       baud: 115200, data_bits: 8, parity: none, stop_bits: 1, flow: none
 *       labels: {os: windows, site: ams}
 *       rules: [/etc/emsagent/rules]     # replaces the default packs
 *       control: qmp:/run/vm1.qmp        # (crash-dump issue)
 *       policy: {allow: [dump, restart]} # exec and send are allowed unless denied
 *       capture: {dir: /var/log/emsagent, pattern: "%N-%Y%m%d.log", text: true, max_size: 64M, keep: 5}
 *       log_dir: /var/log/emsagent      # short for capture: {dir: ...}
 *       idle: 250ms
 *       reconnect: {min: 1s, max: 30s}
 *       sac: {char_delay: 2ms, repeat_delay: 1.5s}
 *       share: {dir: /run/emsagent, mode: "0660", group: ops, writers: [alice, "group:ops"],
 *               replay: 4K, queue: 1M}      # or share: off
 * Every console key but name and port may also stand in `defaults:`; a
 * console's own value wins (labels and capture merge key by key). The full
 * reference is doc/watch.md.
 */
#ifndef EMSAGENT_CONFIG_H
#define EMSAGENT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "emsagent/action.h"
#include "emsagent/capture.h"
#include "emsagent/rules.h"
#include "emsagent/share.h"
#include "emsagent/sink.h"
#include "emsagent/transport.h"
#include "emsagent/util.h"

struct console_cfg {
	char *name;
	char *port;
	struct transport_opts topts;
	struct kv *labels;
	size_t nlabels;
	char **rules; /* pack paths; empty = the agent's default */
	size_t nrules;
	char *control; /* control-plane URL or NULL */
	struct action_policy policy;
	bool capture_on;             /* a capture dir was configured */
	struct capture_opts capture; /* strings owned by the config */
	int64_t idle_ns;             /* partial-line flush, default 250 ms */
	int64_t reconnect_min_ns;    /* default 1 s */
	int64_t reconnect_max_ns;    /* default 30 s */
	int64_t sac_char_delay_ns;   /* SAC client typing pace; -1 = its default */
	int64_t sac_repeat_delay_ns; /* extra wait before a repeated key; -1 = default */
	struct share_opts share;     /* the attach socket (strings owned by the config) */
	struct src_loc loc;
};

struct watch_cfg {
	struct console_cfg *consoles;
	size_t nconsoles;
	struct sink_spec *sinks;
	size_t nsinks;
	char *path; /* the file it came from */
};

/* 0, or -1 with errors in d (nothing half-loaded). */
int config_load(const char *path, struct watch_cfg *cfg, struct diags *d);
int config_load_string(const char *name, const char *yaml, struct watch_cfg *cfg, struct diags *d);
void config_free(struct watch_cfg *cfg);
/* Fills one console's defaults (used for consoles given on the command line). */
void console_cfg_default(struct console_cfg *c);
/* Frees what one console owns (config_free does this for every console). */
void console_cfg_free(struct console_cfg *c);
/* Sizes: "4096" (bytes), "512K", "64M", "1G", "2T" (powers of 1024; "KiB",
 * "MB", "k" are accepted too). 0 and sets *out, or -1 when malformed or too big. */
int config_parse_size(const char *s, uint64_t *out);

#endif
