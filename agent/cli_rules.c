/*
 * cli_rules.c — `emsagent rules check|test|list [DIR...]`.
 */
#include <getopt.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emsagent/cli.h"
#include "emsagent/ruletest.h"
#include "emsagent/util.h"

static void rules_usage(FILE *out)
{
	fprintf(out,
	        "usage: emsagent rules check [--werror] [DIR|FILE...]\n"
	        "       emsagent rules test [--rule ID] [-v] [DIR|FILE...]\n"
	        "       emsagent rules list [--json] [DIR|FILE...]\n"
	        "       emsagent rules show ID [DIR|FILE...]\n\n"
	        "check  load, compile and lint the packs; errors as FILE:LINE:COL (exit 2),\n"
	        "       warnings too (exit 2 with --werror)\n"
	        "test   run every rule's embedded tests; ends with 'N passed, N failed'\n"
	        "       (exit 1 when any failed)\n"
	        "list   one line per rule: id, level, title\n"
	        "show   one rule for people: what happened, what to do, references\n\n"
	        "Without DIR: %s\n",
	        cli_default_rules());
}

static int rules_check(const char *const *paths, size_t n, bool werror)
{
	struct ruleset rs = {0};
	struct diags d = {0};
	int rc = rules_load(&rs, paths, n, &d);
	struct match_db *db = NULL;
	if (rc == 0) {
		db = match_compile(&rs, &d);
		if (db)
			rules_lint(&rs, &d);
		else
			rc = -1;
	}
	diags_print(&d, stderr);
	size_t ndet = 0, ntests = 0;
	for (size_t i = 0; i < rs.nrules; i++) {
		ndet += rs.rules[i].ndets;
		ntests += rs.rules[i].ntests;
	}
	int status = 0;
	if (rc < 0 || d.nerrors) {
		fprintf(stderr, "emsagent rules check: %zu error%s, %zu warning%s\n", d.nerrors,
		        d.nerrors == 1 ? "" : "s", d.nwarnings, d.nwarnings == 1 ? "" : "s");
		status = EXIT_USAGE;
	} else {
		printf("%zu rules, %zu detectors, %zu epoch markers, %zu ignores, %zu tests; %zu warning%s\n",
		       rs.nrules, ndet, rs.nepochs, rs.nignores, ntests, d.nwarnings,
		       d.nwarnings == 1 ? "" : "s");
		if (werror && d.nwarnings)
			status = EXIT_USAGE;
	}
	diags_free(&d);
	match_db_free(db);
	rules_free(&rs);
	return status;
}

static int rules_test(const char *const *paths, size_t n, const char *only, bool verbose)
{
	struct ruleset rs = {0};
	struct match_db *db = NULL;
	if (cli_load_rules(paths, n, &rs, &db, false) < 0)
		return EXIT_USAGE;
	unsigned passed = 0, failed = 0, matched_rules = 0;
	for (size_t i = 0; i < rs.nrules; i++) {
		const struct rule *r = &rs.rules[i];
		if (only && strcmp(only, r->id) != 0)
			continue;
		matched_rules++;
		for (size_t k = 0; k < r->ntests; k++) {
			const struct rule_test *t = &r->tests[k];
			struct ruletest_result res;
			ruletest_run(&rs, db, r, t, &res);
			if (res.passed) {
				passed++;
				if (verbose)
					printf("ok   %s: %s\n", r->id, t->name);
			} else {
				failed++;
				printf("FAIL %s:%u:%u: %s: %s: %s\n", t->loc.file ? t->loc.file : "?",
				       t->loc.line, t->loc.col, r->id, t->name, res.why);
			}
		}
	}
	int status = failed ? EXIT_FINDINGS : 0;
	if (only && matched_rules == 0) {
		cli_error("rules test", "no rule with id '%s'", only);
		status = EXIT_USAGE;
	}
	printf("%u passed, %u failed\n", passed, failed);
	match_db_free(db);
	rules_free(&rs);
	return status;
}

/* Prints text wrapped at width, each line led by indent (first: first_indent). */
static void wrap(const char *text, const char *first_indent, const char *indent, size_t width)
{
	size_t col = (size_t)printf("%s", first_indent);
	size_t start = col;
	const char *p = text;
	while (*p) {
		while (*p == ' ' || *p == '\n')
			p++;
		size_t w = strcspn(p, " \n");
		if (!w)
			break;
		if (col > start && col + 1 + w > width) {
			col = (size_t)printf("\n%s", indent) - 1;
			start = col;
		} else if (col > start) {
			putchar(' ');
			col++;
		}
		printf("%.*s", (int)w, p);
		col += w;
		p += w;
	}
	putchar('\n');
}

static int rules_show(const char *const *paths, size_t n, const char *id)
{
	struct ruleset rs = {0};
	struct match_db *db = NULL;
	if (cli_load_rules(paths, n, &rs, &db, false) < 0)
		return EXIT_USAGE;
	const struct rule *r = rules_find(&rs, id);
	int status = 0;
	if (!r) {
		cli_error("rules show", "no rule with id '%s'", id);
		status = EXIT_USAGE;
	} else {
		printf("%s  [%s, %s, %s]\n", r->id, rule_level_name(r->level), rule_os_name(r->os),
		       rule_status_name(r->status));
		printf("%s\n", r->title);
		if (r->loc.file)
			printf("%s:%u\n", r->loc.file, r->loc.line);
		if (r->summary) {
			printf("\nWhat happened:\n");
			wrap(r->summary, "   ", "   ", 78);
		}
		if (r->nremediation) {
			printf("\nWhat to do:\n");
			for (size_t i = 0; i < r->nremediation; i++) {
				char lead[32];
				snprintf(lead, sizeof(lead), "   %zu. ", i + 1);
				wrap(r->remediation[i], lead, "      ", 78);
			}
		}
		if (r->nrefs) {
			printf("\nReferences:\n");
			for (size_t i = 0; i < r->nrefs; i++)
				printf("   - %s: %s\n", r->refs[i].title ? r->refs[i].title : "",
				       r->refs[i].url ? r->refs[i].url : "");
		}
	}
	match_db_free(db);
	rules_free(&rs);
	return status;
}

static int rules_list(const char *const *paths, size_t n, bool json)
{
	struct ruleset rs = {0};
	struct match_db *db = NULL;
	if (cli_load_rules(paths, n, &rs, &db, false) < 0)
		return EXIT_USAGE;
	for (size_t i = 0; i < rs.nrules; i++) {
		const struct rule *r = &rs.rules[i];
		if (json) {
			struct json_object *o = json_object_new_object();
			json_object_object_add(o, "id", json_object_new_string(r->id));
			json_object_object_add(o, "level", json_object_new_string(rule_level_name(r->level)));
			json_object_object_add(o, "status",
			                       json_object_new_string(rule_status_name(r->status)));
			json_object_object_add(o, "os", json_object_new_string(rule_os_name(r->os)));
			json_object_object_add(o, "title", json_object_new_string(r->title));
			json_object_object_add(o, "file",
			                       json_object_new_string(r->loc.file ? r->loc.file : ""));
			puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
			                                           JSON_C_TO_STRING_NOSLASHESCAPE));
			json_object_put(o);
		} else {
			printf("%-58s %-8s %s\n", r->id, rule_level_name(r->level), r->title);
		}
	}
	match_db_free(db);
	rules_free(&rs);
	return 0;
}

int cli_rules(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		rules_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	const char *sub = argv[1];
	if (strcmp(sub, "check") != 0 && strcmp(sub, "test") != 0 && strcmp(sub, "list") != 0 &&
	    strcmp(sub, "show") != 0) {
		cli_error("rules", "unknown subcommand '%s' (check, test, list or show)", sub);
		return EXIT_USAGE;
	}
	static const struct option longopts[] = {
	    {"werror", no_argument, NULL, 'W'},  {"rule", required_argument, NULL, 'R'},
	    {"verbose", no_argument, NULL, 'v'}, {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},    {NULL, 0, NULL, 0},
	};
	bool werror = false, verbose = false, json = false;
	const char *only = NULL;
	int c;
	optind = 1;
	opterr = 0;
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, ":vjh", longopts, NULL)) != -1) {
		switch (c) {
		case 'W':
			werror = true;
			break;
		case 'R':
			only = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			rules_usage(stdout);
			return 0;
		case ':':
			cli_error("rules", "option '%s' needs a value", argv[optind - 1]);
			return EXIT_USAGE;
		default:
			cli_error("rules", "unknown option '%s' for '%s' (try --help)", argv[optind - 1],
			          sub);
			return EXIT_USAGE;
		}
	}
	const char *show_id = NULL;
	if (strcmp(sub, "show") == 0) {
		if (optind >= argc) {
			cli_error("rules show", "which rule? give its ID (see 'emsagent rules list')");
			return EXIT_USAGE;
		}
		show_id = argv[optind++];
	}
	const char *def[1] = {cli_default_rules()};
	const char *const *paths = def;
	size_t n = 1;
	if (optind < argc) {
		paths = (const char *const *)(argv + optind);
		n = (size_t)(argc - optind);
	}
	if ((werror && strcmp(sub, "check") != 0) || ((only || verbose) && strcmp(sub, "test") != 0) ||
	    (json && strcmp(sub, "list") != 0)) {
		cli_error("rules", "that option does not apply to '%s' (try --help)", sub);
		return EXIT_USAGE;
	}
	if (strcmp(sub, "check") == 0)
		return rules_check(paths, n, werror);
	if (strcmp(sub, "test") == 0)
		return rules_test(paths, n, only, verbose);
	if (show_id)
		return rules_show(paths, n, show_id);
	return rules_list(paths, n, json);
}
