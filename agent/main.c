/*
 * main.c — dispatches subcommands from one table; `emsagent --help` and
 * `emsagent help` are generated from it.
 */
#include <stdio.h>
#include <string.h>

#include "emsagent/cli.h"

#ifndef EMSAGENT_VERSION
#define EMSAGENT_VERSION "0.1.0"
#endif

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *args;
	const char *help;
};

static const struct command commands[] = {
    {"scan", cli_scan, "[--rules DIR]... [--json] [--level L] FILE...|-",
     "scan saved console logs with the signature packs"},
    {"attach", cli_attach, "[--rw] [--log FILE] [--control URL] PORT|NAME",
     "the console in your terminal: alerts inline, one key for BREAK, SysRq, NMI, SAC"},
    {"watch", cli_watch, "[-c FILE] [--json] [--log-dir DIR] PORT...", "watch live consoles unattended"},
    {"rules", cli_rules, "check|test|list [DIR...]", "validate, test or list signature packs"},
    {"ports", cli_ports, "[--json]", "list serial ports"},
    {"sac", cli_sac, "PORT COMMAND... | PORT info", "run SAC commands on a Windows EMS console"},
    {"dump", cli_dump, "PORT [--method sac|nmi|sysrq|auto] [--control URL] [--yes]",
     "trigger a crash dump and verify it on the console"},
    {"restart", cli_restart, "--control URL [--yes] [PORT]", "reset the machine through its control plane"},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: emsagent COMMAND [OPTIONS] [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %s %s\n      %s\n", commands[i].name, commands[i].args, commands[i].help);
	fprintf(out, "\n'emsagent COMMAND --help' for a command's options.\n"
	             "exit status: 0 ok, 1 findings or failed tests, 2 usage or input errors\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
		printf("emsagent %s\n", EMSAGENT_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(cmd, commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "emsagent: unknown command '%s'\n", cmd);
	usage(stderr);
	return EXIT_USAGE;
}
