/* cli_common.c — what the subcommands share: the default pack, loading. */
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "emsagent/cli.h"
#include "emsagent/util.h"

#ifndef EMSAGENT_DATADIR
#define EMSAGENT_DATADIR "/usr/local/share/emsagent"
#endif

const char *cli_default_rules(void)
{
	struct stat st;
	if (stat("rules/base.yaml", &st) == 0 && S_ISREG(st.st_mode))
		return "rules";
	return EMSAGENT_DATADIR "/rules";
}

void cli_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "emsagent %s: ", cmd);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

int cli_load_rules(const char *const *paths, size_t n, struct ruleset *rs, struct match_db **db,
                   bool print_warnings)
{
	struct diags d = {0};
	int rc = rules_load(rs, paths, n, &d);
	if (rc == 0) {
		*db = match_compile(rs, &d);
		if (!*db) {
			rules_free(rs);
			rc = -1;
		}
	}
	if (rc < 0 || print_warnings)
		diags_print(&d, stderr);
	diags_free(&d);
	return rc;
}
