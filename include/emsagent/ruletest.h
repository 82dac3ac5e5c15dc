/*
 * ruletest.h — runs a rule's embedded tests (doc/rules.md "Tests").
 *
 * Each test feeds its input through a fresh pipeline over the whole rule set
 * (epochs, ignores and every other rule take part, as on a real console) on a
 * virtual clock, or on the log's own timestamps with `clock: log`, and judges
 * only the events of the rule under test.
 * Who calls it: `emsagent rules test`.
 */
#ifndef EMSAGENT_RULETEST_H
#define EMSAGENT_RULETEST_H

#include <stdbool.h>
#include <stddef.h>

#include "emsagent/match.h"
#include "emsagent/rules.h"

struct ruletest_result {
	bool passed;
	char why[512]; /* on failure: what was expected and what happened */
	unsigned fired, uncertain, resolved, pending_events;
};

/* Runs one test of rule r. */
void ruletest_run(const struct ruleset *rs, const struct match_db *db, const struct rule *r,
                  const struct rule_test *t, struct ruletest_result *res);

/* Decodes \r \n \t \e \a \b \0 \\ \xHH in s[0..n) into out; returns -1 on a
 * bad escape (offset of it in *bad). */
int ruletest_unescape(const char *s, size_t n, struct buf *out, size_t *bad);

#endif
