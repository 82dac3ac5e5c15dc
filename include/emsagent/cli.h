/*
 * cli.h — the subcommands' entry points (thin fronts over the modules) and
 * what they share: finding the default rule pack, loading and compiling it.
 *
 * Exit statuses, for every subcommand: 0 success / nothing found, 1 findings
 * (scan) or failed tests (rules test), 2 usage, input or rule errors.
 */
#ifndef EMSAGENT_CLI_H
#define EMSAGENT_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "emsagent/match.h"
#include "emsagent/rules.h"

#define EXIT_FINDINGS 1
#define EXIT_USAGE    2

int cli_scan(int argc, char **argv);
int cli_rules(int argc, char **argv);
int cli_ports(int, char **);
int cli_watch(int argc, char **argv);
int cli_restart(int argc, char **argv);
int cli_sac(int argc, char **argv);
int cli_dump(int argc, char **argv);
int cli_attach(int argc, char **argv);

/* The pack used when no --rules is given: ./rules when run from a source
 * tree (it holds base.yaml), else the installed one. */
const char *cli_default_rules(void);
/* Loads and compiles; prints diagnostics to stderr. Returns 0, or -1 (errors
 * printed, nothing loaded). */
int cli_load_rules(const char *const *paths, size_t n, struct ruleset *rs, struct match_db **db,
                   bool print_warnings);
/* A console name from a port: the last path part or host:port, made safe
 * for file names ([A-Za-z0-9_.-]). Caller frees. */
char *cli_name_from_port(const char *port);
/* A serial setting given as --OPT ARG (baud, data-bits, stop-bits, parity,
 * flow) into o: 0, or -1 with the error printed. */
struct transport_opts;
int cli_serial_opt(const char *cmd, const char *opt, const char *arg, struct transport_opts *o);
/* --color WHEN: *color = 1 always, 0 never, -1 auto; or -1 with the error
 * printed. */
int cli_color_opt(const char *cmd, const char *arg, int *color);
/* Whether standard output gets colour for a --color setting: always,
 * never, or (auto) when it is a terminal and NO_COLOR is unset or empty. */
bool cli_color_on(int color);
/* --label K=V into *out (strings allocated); or -1 with the error printed. */
struct kv;
int cli_label_opt(const char *cmd, const char *arg, struct kv *out);
void cli_labels_free(struct kv *labels, size_t n);
/* Prints "emsagent CMD: message" to stderr. */
void cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
