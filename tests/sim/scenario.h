/*
 * scenario.h — a simulated Windows guest's situation, loaded from YAML
 * (tests/sim/scenarios/NAME.yaml): the sacsim_cfg it boots with and a timeline
 * of things "the OS" does after each boot (print a line, bug-check, reboot).
 *
 * Every error points at FILE:LINE:COL. A loaded scenario owns every string
 * its cfg points at, so it must outlive the sacsim built from it.
 * Lifecycle: scenario_load (or scenario_default) → use cfg/steps →
 * scenario_free. Who uses it: guestsim.c.
 */
#ifndef EMSAGENT_SIM_SCENARIO_H
#define EMSAGENT_SIM_SCENARIO_H

#include <stddef.h>
#include <stdint.h>

#include "emsagent/util.h"
#include "sacsim.h"

#define SCENARIO_MAX_FILE   ((size_t)1 << 20) /* a scenario or a print_file is text, not a disk */
#define SCENARIO_MAX_STEPS  10000
#define SCENARIO_MAX_REPEAT 100000

enum scenario_kind {
	SCENARIO_PRINT,  /* the OS prints text (print: or print_file:) */
	SCENARIO_CRASH,  /* bug check with code */
	SCENARIO_REBOOT, /* the guest restarts by itself */
};

struct scenario_step {
	int64_t at; /* after boot, in simulated ns */
	enum scenario_kind kind;
	char *text; /* SCENARIO_PRINT: bytes (may hold NULs when read from a file) */
	size_t len;
	uint32_t code; /* SCENARIO_CRASH */
};

struct scenario {
	char *name, *description;
	struct sacsim_cfg cfg; /* its strings point into the fields below or static defaults */
	char *strs[16];        /* owned strings cfg points at */
	size_t nstrs;
	char **tasks; /* NULL-terminated; cfg.tasks points here */
	size_t ntasks;
	struct scenario_step *steps;
	size_t nsteps;
	unsigned repeat;      /* the timeline plays on the first `repeat` boots; 0 = every boot */
	int64_t reboot_delay; /* crash with auto_reboot → next boot, simulated ns (dump writing, POST) */
};

/* The healthy default guest: SAC on, CMD event after 30 s, empty timeline. */
void scenario_default(struct scenario *sc);
/* 0, or -1 with errors in d (sc is then empty, safe to free). Relative
 * print_file names are taken from the scenario file's directory. */
int scenario_load(const char *path, struct scenario *sc, struct diags *d);
/* The same from text; name is used in messages, basedir for print_file ("." if NULL). */
int scenario_load_string(const char *name, const char *text, size_t len, const char *basedir,
                         struct scenario *sc, struct diags *d);
void scenario_free(struct scenario *sc);

#endif
