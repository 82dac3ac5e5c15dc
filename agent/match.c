/*
 * match.c — one Vectorscan literal database for every detector, a streaming
 * scan over batches of lines and PCRE2 confirmation. Typed captures are in
 * match_cap.c.
 *
 * Vectorscan is only a filter: it says which literals occur in which line of
 * a batch. Every candidate detector of a line is then decided here by a plain
 * search restricted to the literals that occurred (so which occurrence
 * Vectorscan happened to report never matters), and regex detectors by PCRE2
 * on the body. Lines without any literal cost one callback and nothing else.
 */
#define _GNU_SOURCE
#include "emsagent/match.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <hs/hs.h>

#include "emsagent/util.h"
#include "match_priv.h"

/* A batch is scanned when its text passes this size or it holds this many
 * items: big enough to amortise the scan call, small enough for the cache. */
#define BATCH_BYTES (64u * 1024u)
#define BATCH_ITEMS 1024u
/* Bounds for PCRE2 on untrusted lines: a pathological regex/line pair gives
 * up (no hit) instead of eating CPU or memory. */
#define PCRE_MATCH_LIMIT    1000000u
#define PCRE_DEPTH_LIMIT    10000u
#define PCRE_HEAP_LIMIT_KIB 4096u
#define PCRE_JIT_STACK_MIN  (32u * 1024u)
#define PCRE_JIT_STACK_MAX  (512u * 1024u)

/* One distinct literal of the database (its Vectorscan id is its index). */
struct lit_ent {
	const char *s; /* borrowed from the ruleset */
	size_t len;
	bool nocase;
	uint32_t ref0, nref; /* slots using it: db->refs[ref0 .. ref0+nref) */
};

struct slot_info {
	struct det_slot s;
	uint32_t *litid; /* per det->lits[k]: its literal id */
	pcre2_code *re;  /* DET_REGEX */
	int *capgrp;     /* DET_REGEX: per det->caps[k]: group number */
	size_t capbase;  /* first capture_val of this slot in a stream's array */
};

struct match_db {
	struct slot_info *slots;
	size_t nslots;
	uint32_t *rule_base; /* first slot of each rule */
	size_t *rule_ndets;
	size_t nrules;
	struct lit_ent *lits;
	size_t nlits;
	uint32_t *refs;
	size_t nrefs;
	uint32_t *ems_slots; /* DET_EMS, in slot order */
	size_t nems;
	uint32_t *always; /* slots tried on every line (regex without anchor, blank `line`) */
	size_t nalways;
	uint32_t *litslots; /* every slot with literals, in slot order: the overflow path */
	size_t nlitslots;
	size_t total_caps;
	uint32_t max_groups; /* largest capture count of any regex */
	bool any_regex;
	hs_database_t *hs;
};

struct qline {
	struct line ln; /* text is NULL: it is at tstart in the batch buffer */
	size_t tstart;  /* offset of the text in the batch buffer */
	bool overflow;  /* too many hits: decide every literal detector by plain search */
};

struct qitem {
	bool ems;
	uint32_t idx; /* into lines or recs */
};

struct lhit {
	uint32_t line, lit;
};

struct match_stream {
	const struct match_db *db;
	match_line_fn on_line;
	match_ems_fn on_ems;
	void *ctx;

	hs_stream_t *hs_stream;
	hs_scratch_t *scratch;
	bool hs_broken;             /* no stream or scratch: every line goes the plain way */
	unsigned long long scanned; /* stream offset of the next byte to scan */

	char *text;
	size_t tlen, tcap;
	struct qline *lines;
	size_t nlines, lcap;
	struct ems_record *recs;
	size_t nrecs, rcap;
	struct qitem *items;
	size_t nitems, icap;

	struct lhit *hits;
	size_t nhits, hit_cap, hits_alloc;

	/* scan context for the Vectorscan callback */
	unsigned long long scan_base; /* stream offset of text[scan_tfrom] */
	size_t scan_tfrom, lfrom, lto, cursor;
	bool hits_unsorted;

	uint64_t serial_base; /* line serials: unique per line ever scanned, 0 = none */
	uint64_t *lit_seen;   /* per literal: serial of the last line it was recorded for */
	uint64_t *lit_line;   /* per literal: serial of the line being evaluated, if it hit */
	uint64_t *slot_mark;  /* per slot: serial of the line it is already a candidate of */
	uint32_t *cand;
	struct match_hit *out;
	struct capture_val *caps;

	pcre2_match_data *md;
	pcre2_match_context *mctx;
	pcre2_jit_stack *jit;

	bool in_flush;
};

/* ---- small text helpers ---- */

static inline bool is_word(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static const char *find(const char *hay, size_t hlen, const char *needle, size_t nlen, bool nocase)
{
	if (nlen == 0 || nlen > hlen)
		return NULL;
	return nocase ? memmem_nocase(hay, hlen, needle, nlen) : memmem(hay, hlen, needle, nlen);
}

/* ---- compile ---- */

struct lit_index {
	uint32_t *tab; /* literal id + 1; 0 = empty */
	size_t cap;
};

static uint64_t lit_hash(const char *s, size_t n, bool nocase)
{
	uint64_t h = 1469598103934665603ull ^ (nocase ? 0x9e3779b97f4a7c15ull : 0);
	for (size_t i = 0; i < n; i++) {
		h ^= nocase ? match_lower((unsigned char)s[i]) : (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h;
}

static void lit_index_grow(struct match_db *db, struct lit_index *ix)
{
	size_t ncap = ix->cap ? ix->cap * 2 : 64;
	uint32_t *nt = xcalloc(ncap, sizeof(*nt));
	for (size_t i = 0; i < ix->cap; i++) {
		if (!ix->tab[i])
			continue;
		const struct lit_ent *e = &db->lits[ix->tab[i] - 1];
		size_t h = (size_t)lit_hash(e->s, e->len, e->nocase) & (ncap - 1);
		while (nt[h])
			h = (h + 1) & (ncap - 1);
		nt[h] = ix->tab[i];
	}
	free(ix->tab);
	ix->tab = nt;
	ix->cap = ncap;
}

/* Returns the id of (s, nocase), adding it when new. Caseless literals that
 * differ only in case are one literal. */
static uint32_t lit_intern(struct match_db *db, struct lit_index *ix, size_t *litcap, const char *s, size_t n,
                           bool nocase)
{
	if ((db->nlits + 1) * 2 > ix->cap)
		lit_index_grow(db, ix);
	size_t h = (size_t)lit_hash(s, n, nocase) & (ix->cap - 1);
	while (ix->tab[h]) {
		const struct lit_ent *e = &db->lits[ix->tab[h] - 1];
		if (e->nocase == nocase && e->len == n && eq_bytes(e->s, s, n, nocase))
			return ix->tab[h] - 1;
		h = (h + 1) & (ix->cap - 1);
	}
	xgrow((void **)&db->lits, litcap, db->nlits + 1, sizeof(*db->lits));
	struct lit_ent *e = &db->lits[db->nlits];
	e->s = s;
	e->len = n;
	e->nocase = nocase;
	e->ref0 = e->nref = 0;
	ix->tab[h] = (uint32_t)db->nlits + 1;
	return (uint32_t)db->nlits++;
}

static const char *op_name(enum det_op op)
{
	static const char *const names[] = {"contains", "prefix", "line", "fullword", "regex", "ems"};
	return (unsigned)op < ARRAY_LEN(names) ? names[op] : "?";
}

/* State of one match_compile: capacities of the growing arrays and the
 * (literal, slot) pairs that become the refs. */
struct build {
	struct match_db *db;
	struct diags *d;
	struct lit_index ix;
	size_t slotcap, litcap, emscap, alwayscap, litslotcap;
	uint32_t *pairs;
	size_t npairs, paircap;
};

static void det_error(struct diags *d, const struct detector *det, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* An error at the detector's place, prefixed with its name. */
static void det_error(struct diags *d, const struct detector *det, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diags_add(d, DIAG_ERROR, det->loc.file, det->loc.line, det->loc.col, "detector '%s': %s",
	          det->name ? det->name : "?", msg);
}

static void add_u32(uint32_t **v, size_t *n, size_t *cap, uint32_t x)
{
	xgrow((void **)v, cap, *n + 1, sizeof(**v));
	(*v)[(*n)++] = x;
}

static int compile_regex(struct match_db *db, struct slot_info *si, struct diags *d)
{
	const struct detector *det = si->s.det;
	if (!det->regex) {
		det_error(d, det, "regex operator without a regex");
		return -1;
	}
	uint32_t opts = 0;
	if (det->nocase)
		opts |= PCRE2_CASELESS;
	if (det->line_start)
		opts |= PCRE2_ANCHORED;
	int err;
	PCRE2_SIZE erroff;
	si->re = pcre2_compile((PCRE2_SPTR)det->regex, PCRE2_ZERO_TERMINATED, opts, &err, &erroff, NULL);
	if (!si->re) {
		PCRE2_UCHAR msg[256];
		if (pcre2_get_error_message(err, msg, sizeof(msg)) < 0)
			snprintf((char *)msg, sizeof(msg), "error %d", err);
		char where[48];
		snprintf(where, sizeof(where), " (at offset %zu)", (size_t)erroff);
		det_error(d, det, "bad regex: %s%s", (const char *)msg, where);
		return -1;
	}
	/* Without JIT the interpreter still works; JIT is only speed. */
	(void)pcre2_jit_compile(si->re, PCRE2_JIT_COMPLETE);
	uint32_t ngroups = 0;
	if (pcre2_pattern_info(si->re, PCRE2_INFO_CAPTURECOUNT, &ngroups) == 0 && ngroups > db->max_groups)
		db->max_groups = ngroups;
	db->any_regex = true;
	return match_cap_groups(si->re, det, &si->capgrp, d);
}

/* Adds one detector as a slot; interns its literals. */
static int add_slot(struct build *bd, enum det_owner owner, int rule, int idx, const struct detector *det)
{
	struct match_db *db = bd->db;
	struct diags *d = bd->d;
	xgrow((void **)&db->slots, &bd->slotcap, db->nslots + 1, sizeof(*db->slots));
	uint32_t sid = (uint32_t)db->nslots++;
	struct slot_info *si = &db->slots[sid];
	memset(si, 0, sizeof(*si));
	si->s.owner = owner;
	si->s.rule = rule;
	si->s.idx = idx;
	si->s.det = det;
	si->capbase = db->total_caps;

	if (det->op == DET_EMS) {
		add_u32(&db->ems_slots, &db->nems, &bd->emscap, sid);
		db->total_caps += det->ncaps;
		return 0;
	}
	int rc = 0;
	if (det->op == DET_REGEX) {
		rc = compile_regex(db, si, d);
		db->total_caps += det->ncaps;
	} else if (det->nlits == 0) {
		det_error(d, det, "%s has no literal to look for", op_name(det->op));
		return -1;
	}
	bool always = det->op == DET_REGEX && det->nlits == 0;
	if (det->nlits) {
		si->litid = xcalloc(det->nlits, sizeof(*si->litid));
		add_u32(&db->litslots, &db->nlitslots, &bd->litslotcap, sid);
	}
	for (size_t k = 0; k < det->nlits; k++) {
		const char *lit = det->lits[k];
		if (!lit || !*lit) {
			det_error(d, det, "empty literal (literal %zu of %zu)", k + 1, det->nlits);
			rc = -1;
			continue;
		}
		size_t len = strlen(lit);
		if (det->op == DET_LINE) {
			/* The body less its trailing blanks must equal the literal
			 * less its own, so only that part has to occur. A blank
			 * literal equals an empty line, which no scan can find:
			 * that detector is tried on every line. */
			len = trim_blanks(lit, len);
			if (len == 0) {
				always = true;
				si->litid[k] = UINT32_MAX;
				continue;
			}
		}
		uint32_t id = lit_intern(db, &bd->ix, &bd->litcap, lit, len, det->nocase);
		si->litid[k] = id;
		xgrow((void **)&bd->pairs, &bd->paircap, bd->npairs + 2, sizeof(*bd->pairs));
		bd->pairs[bd->npairs++] = id;
		bd->pairs[bd->npairs++] = sid;
	}
	if (always)
		add_u32(&db->always, &db->nalways, &bd->alwayscap, sid);
	return rc;
}

/* Groups the (literal, slot) pairs by literal into refs, without repeats. */
static void build_refs(struct match_db *db, const uint32_t *pairs, size_t npairs)
{
	size_t n = npairs / 2;
	for (size_t i = 0; i < n; i++)
		db->lits[pairs[2 * i]].nref++;
	uint32_t acc = 0;
	for (size_t l = 0; l < db->nlits; l++) {
		db->lits[l].ref0 = acc;
		acc += db->lits[l].nref;
		db->lits[l].nref = 0;
	}
	db->refs = xcalloc(acc ? acc : 1, sizeof(*db->refs));
	for (size_t i = 0; i < n; i++) {
		struct lit_ent *e = &db->lits[pairs[2 * i]];
		uint32_t sid = pairs[2 * i + 1];
		/* pairs come in slot order, so a repeat is always the last one */
		if (e->nref && db->refs[e->ref0 + e->nref - 1] == sid)
			continue;
		db->refs[e->ref0 + e->nref++] = sid;
	}
	db->nrefs = acc;
}

static int compile_hs(struct match_db *db, struct diags *d)
{
	if (db->nlits == 0)
		return 0;
	const char **exprs = xcalloc(db->nlits, sizeof(*exprs));
	unsigned *flags = xcalloc(db->nlits, sizeof(*flags));
	unsigned *ids = xcalloc(db->nlits, sizeof(*ids));
	size_t *lens = xcalloc(db->nlits, sizeof(*lens));
	for (size_t i = 0; i < db->nlits; i++) {
		exprs[i] = db->lits[i].s;
		flags[i] = db->lits[i].nocase ? HS_FLAG_CASELESS : 0;
		ids[i] = (unsigned)i;
		lens[i] = db->lits[i].len;
	}
	hs_compile_error_t *err = NULL;
	hs_error_t rc = hs_compile_lit_multi(exprs, flags, ids, lens, (unsigned)db->nlits, HS_MODE_STREAM,
	                                     NULL, &db->hs, &err);
	int ret = 0;
	if (rc != HS_SUCCESS) {
		const char *msg = err && err->message ? err->message : "unknown error";
		int ei = err ? err->expression : -1;
		const struct detector *det = NULL;
		if (ei >= 0 && (size_t)ei < db->nlits && db->lits[ei].nref)
			det = db->slots[db->refs[db->lits[ei].ref0]].s.det;
		if (det)
			diags_add(d, DIAG_ERROR, det->loc.file, det->loc.line, det->loc.col,
			          "detector '%s': literal \"%s\" rejected by Vectorscan: %s", det->name,
			          db->lits[ei].s, msg);
		else
			diags_add(d, DIAG_ERROR, NULL, 0, 0,
			          "Vectorscan cannot compile the literal database: %s", msg);
		db->hs = NULL;
		ret = -1;
	}
	if (err)
		hs_free_compile_error(err);
	free(exprs);
	free(flags);
	free(ids);
	free(lens);
	return ret;
}

struct match_db *match_compile(const struct ruleset *rs, struct diags *d)
{
	struct match_db *db = xcalloc(1, sizeof(*db));
	struct build bd = {.db = db, .d = d};
	int rc = 0;

	db->nrules = rs->nrules;
	db->rule_base = xcalloc(rs->nrules ? rs->nrules : 1, sizeof(*db->rule_base));
	db->rule_ndets = xcalloc(rs->nrules ? rs->nrules : 1, sizeof(*db->rule_ndets));
	for (size_t r = 0; r < rs->nrules; r++) {
		const struct rule *ru = &rs->rules[r];
		db->rule_base[r] = (uint32_t)db->nslots;
		db->rule_ndets[r] = ru->ndets;
		for (size_t k = 0; k < ru->ndets; k++)
			if (add_slot(&bd, OWNER_RULE, (int)r, (int)k, &ru->dets[k]) < 0)
				rc = -1;
	}
	for (size_t i = 0; i < rs->nignores; i++)
		if (add_slot(&bd, OWNER_IGNORE, -1, (int)i, &rs->ignores[i]) < 0)
			rc = -1;
	for (size_t i = 0; i < rs->nepochs; i++)
		if (add_slot(&bd, OWNER_EPOCH, -1, (int)i, &rs->epochs[i].det) < 0)
			rc = -1;
	free(bd.ix.tab);
	build_refs(db, bd.pairs, bd.npairs);
	free(bd.pairs);
	if (rc == 0)
		rc = compile_hs(db, d);
	if (rc < 0) {
		match_db_free(db);
		return NULL;
	}
	return db;
}

void match_db_free(struct match_db *db)
{
	if (!db)
		return;
	for (size_t i = 0; i < db->nslots; i++) {
		free(db->slots[i].litid);
		free(db->slots[i].capgrp);
		pcre2_code_free(db->slots[i].re);
	}
	free(db->slots);
	free(db->rule_base);
	free(db->rule_ndets);
	free(db->lits);
	free(db->refs);
	free(db->ems_slots);
	free(db->always);
	free(db->litslots);
	if (db->hs)
		hs_free_database(db->hs);
	free(db);
}

size_t match_db_nslots(const struct match_db *db)
{
	return db->nslots;
}

const struct det_slot *match_db_slot(const struct match_db *db, size_t i)
{
	return i < db->nslots ? &db->slots[i].s : NULL;
}

uint32_t match_db_rule_slot(const struct match_db *db, int rule, int det)
{
	if (rule < 0 || (size_t)rule >= db->nrules || det < 0 || (size_t)det >= db->rule_ndets[rule])
		return UINT32_MAX;
	return db->rule_base[rule] + (uint32_t)det;
}

size_t match_db_size(const struct match_db *db)
{
	size_t n = sizeof(*db);
	if (db->hs) {
		size_t hsz = 0;
		if (hs_database_size(db->hs, &hsz) == HS_SUCCESS)
			n += hsz;
	}
	n += db->nslots * sizeof(*db->slots) + db->nlits * sizeof(*db->lits) + db->nrefs * sizeof(*db->refs);
	n += (db->nems + db->nalways + db->nlitslots + 2 * db->nrules) * sizeof(uint32_t);
	for (size_t i = 0; i < db->nslots; i++) {
		const struct slot_info *si = &db->slots[i];
		const struct detector *det = si->s.det;
		if (si->litid)
			n += det->nlits * sizeof(*si->litid);
		if (si->capgrp)
			n += det->ncaps * sizeof(*si->capgrp);
		if (si->re) {
			size_t sz = 0;
			if (pcre2_pattern_info(si->re, PCRE2_INFO_SIZE, &sz) == 0)
				n += sz;
			sz = 0;
			if (pcre2_pattern_info(si->re, PCRE2_INFO_JITSIZE, &sz) == 0)
				n += sz;
		}
	}
	return n;
}

/* ---- stream ---- */

static void alloc_stream_arrays(struct match_stream *ms)
{
	const struct match_db *db = ms->db;
	ms->lit_seen = xcalloc(db->nlits ? db->nlits : 1, sizeof(*ms->lit_seen));
	ms->lit_line = xcalloc(db->nlits ? db->nlits : 1, sizeof(*ms->lit_line));
	ms->slot_mark = xcalloc(db->nslots ? db->nslots : 1, sizeof(*ms->slot_mark));
	ms->cand = xcalloc(db->nslots ? db->nslots : 1, sizeof(*ms->cand));
	ms->out = xcalloc(db->nslots ? db->nslots : 1, sizeof(*ms->out));
	ms->caps = xcalloc(db->total_caps ? db->total_caps : 1, sizeof(*ms->caps));
	ms->hit_cap = MATCH_HIT_CAP_DEFAULT;
}

struct match_stream *match_stream_new(const struct match_db *db, match_line_fn on_line, match_ems_fn on_ems,
                                      void *ctx)
{
	struct match_stream *ms = xcalloc(1, sizeof(*ms));
	ms->db = db;
	ms->on_line = on_line;
	ms->on_ems = on_ems;
	ms->ctx = ctx;
	alloc_stream_arrays(ms);
	if (db->hs) {
		if (hs_alloc_scratch(db->hs, &ms->scratch) != HS_SUCCESS ||
		    hs_open_stream(db->hs, 0, &ms->hs_stream) != HS_SUCCESS)
			ms->hs_broken = true; /* still correct, only slower */
	}
	if (db->any_regex) {
		ms->md = pcre2_match_data_create(db->max_groups + 1, NULL);
		ms->mctx = pcre2_match_context_create(NULL);
		if (ms->mctx) {
			pcre2_set_match_limit(ms->mctx, PCRE_MATCH_LIMIT);
			pcre2_set_depth_limit(ms->mctx, PCRE_DEPTH_LIMIT);
			pcre2_set_heap_limit(ms->mctx, PCRE_HEAP_LIMIT_KIB);
			ms->jit = pcre2_jit_stack_create(PCRE_JIT_STACK_MIN, PCRE_JIT_STACK_MAX, NULL);
			if (ms->jit)
				pcre2_jit_stack_assign(ms->mctx, NULL, ms->jit);
		}
		if (!ms->md) {
			fputs("emsagent: out of memory\n", stderr);
			abort();
		}
	}
	return ms;
}

void match_stream_free(struct match_stream *ms)
{
	if (!ms)
		return;
	if (ms->hs_stream)
		hs_close_stream(ms->hs_stream, NULL, NULL, NULL);
	if (ms->scratch)
		hs_free_scratch(ms->scratch);
	pcre2_match_data_free(ms->md);
	pcre2_match_context_free(ms->mctx);
	pcre2_jit_stack_free(ms->jit);
	free(ms->text);
	free(ms->lines);
	free(ms->recs);
	free(ms->items);
	free(ms->hits);
	free(ms->lit_seen);
	free(ms->lit_line);
	free(ms->slot_mark);
	free(ms->cand);
	free(ms->out);
	free(ms->caps);
	free(ms);
}

void match_stream_set_hit_cap(struct match_stream *ms, size_t cap)
{
	ms->hit_cap = cap ? cap : 1;
}

static bool batch_full(const struct match_stream *ms)
{
	return ms->tlen >= BATCH_BYTES || ms->nitems >= BATCH_ITEMS;
}

static void push_item(struct match_stream *ms, bool ems, size_t idx)
{
	if (ms->nitems >= ms->icap)
		xgrow((void **)&ms->items, &ms->icap, ms->nitems + 1, sizeof(*ms->items));
	ms->items[ms->nitems].ems = ems;
	ms->items[ms->nitems].idx = (uint32_t)idx;
	ms->nitems++;
}

void match_push(struct match_stream *ms, const struct line *ln)
{
	size_t len = ln->text ? ln->len : 0;
	/* NUL after each line: it is the C string end the callbacks rely on,
	 * and no literal (a C string) can match across it into the next line.
	 * The capacity checks are inline: this runs for every line. */
	if (ms->tcap - ms->tlen < len + 1)
		xgrow((void **)&ms->text, &ms->tcap, ms->tlen + len + 1, 1);
	if (len)
		memcpy(ms->text + ms->tlen, ln->text, len);
	ms->text[ms->tlen + len] = '\0';
	if (ms->nlines >= ms->lcap)
		xgrow((void **)&ms->lines, &ms->lcap, ms->nlines + 1, sizeof(*ms->lines));
	/* Field by field, not a struct copy: the caller has just written *ln
	 * field by field, and wider loads of it would stall the CPU. */
	struct qline *q = &ms->lines[ms->nlines];
	q->ln.text = NULL;
	q->ln.len = len;
	q->ln.body = ln->body < len ? ln->body : len;
	q->ln.offset = ln->offset;
	q->ln.lineno = ln->lineno;
	q->ln.time_ns = ln->time_ns;
	q->ln.flags = ln->flags;
	q->tstart = ms->tlen;
	q->overflow = false;
	ms->tlen += len + 1;
	push_item(ms, false, ms->nlines++);
	if (!ms->in_flush && batch_full(ms))
		match_flush(ms);
}

void match_push_ems(struct match_stream *ms, const struct ems_record *rec)
{
	xgrow((void **)&ms->recs, &ms->rcap, ms->nrecs + 1, sizeof(*ms->recs));
	ms->recs[ms->nrecs] = *rec;
	push_item(ms, true, ms->nrecs++);
	if (!ms->in_flush && batch_full(ms))
		match_flush(ms);
}

/* Vectorscan match callback: record (line, literal) once per line. Matches
 * arrive (nearly always) in end-offset order, so a cursor finds the line. */
static int on_hs_match(unsigned int id, unsigned long long from, unsigned long long to, unsigned int flags,
                       void *ctx)
{
	(void)from;
	(void)flags;
	struct match_stream *ms = ctx;
	if (to <= ms->scan_base || id >= ms->db->nlits)
		return 0;
	size_t off = ms->scan_tfrom + (size_t)(to - 1 - ms->scan_base);
	size_t i = ms->cursor;
	if (off >= ms->lines[i].tstart) {
		while (i + 1 < ms->lto && ms->lines[i + 1].tstart <= off)
			i++;
	} else {
		size_t lo = ms->lfrom, hi = i; /* answer in [lo, hi) */
		while (hi - lo > 1) {
			size_t mid = lo + (hi - lo) / 2;
			if (ms->lines[mid].tstart <= off)
				lo = mid;
			else
				hi = mid;
		}
		i = lo;
		ms->hits_unsorted = true;
	}
	ms->cursor = i;
	struct qline *q = &ms->lines[i];
	uint64_t serial = ms->serial_base + i + 1;
	if (ms->lit_seen[id] == serial || q->overflow)
		return 0;
	ms->lit_seen[id] = serial;
	if (ms->nhits >= ms->hit_cap) {
		q->overflow = true;
		return 0;
	}
	if (ms->nhits >= ms->hits_alloc)
		xgrow((void **)&ms->hits, &ms->hits_alloc, ms->nhits + 1, sizeof(*ms->hits));
	ms->hits[ms->nhits].line = (uint32_t)i;
	ms->hits[ms->nhits].lit = id;
	ms->nhits++;
	return 0;
}

static int cmp_lhit(const void *a, const void *b)
{
	const struct lhit *x = a, *y = b;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->lit < y->lit ? -1 : x->lit > y->lit;
}

/* Scans text[tfrom, tend) covering lines [lfrom, lto). */
static void scan_range(struct match_stream *ms, size_t tfrom, size_t tend, size_t lfrom, size_t lto)
{
	ms->nhits = 0;
	ms->hits_unsorted = false;
	if (lfrom == lto || !ms->db->hs)
		return;
	if (ms->hs_broken) {
		for (size_t i = lfrom; i < lto; i++)
			ms->lines[i].overflow = true;
		return;
	}
	ms->scan_base = ms->scanned;
	ms->scan_tfrom = tfrom;
	ms->lfrom = lfrom;
	ms->lto = lto;
	ms->cursor = lfrom;
	size_t n = tend - tfrom;
	hs_error_t rc = HS_SUCCESS;
	/* the length argument is 32-bit: feed huge ranges in pieces */
	for (size_t done = 0; done < n && rc == HS_SUCCESS;) {
		size_t piece = n - done > (1u << 30) ? (1u << 30) : n - done;
		rc = hs_scan_stream(ms->hs_stream, ms->text + tfrom + done, (unsigned)piece, 0, ms->scratch,
		                    on_hs_match, ms);
		done += piece;
	}
	ms->scanned += n;
	if (rc != HS_SUCCESS) {
		/* The filter failed: decide these lines the slow, certain way. */
		for (size_t i = lfrom; i < lto; i++)
			ms->lines[i].overflow = true;
		return;
	}
	if (ms->hits_unsorted)
		qsort(ms->hits, ms->nhits, sizeof(*ms->hits), cmp_lhit);
}

/* ---- evaluation of one detector on one line ---- */

/* Earliest occurrence of one of det's literals satisfying its operator.
 * only_hit: look only at literals Vectorscan saw in this line. */
static bool eval_lits(const struct match_stream *ms, const struct slot_info *si, const char *body,
                      size_t blen, bool only_hit, uint64_t serial, size_t *ms_out, size_t *me_out)
{
	const struct detector *det = si->s.det;
	bool nc = det->nocase, found = false;
	size_t best_s = 0, best_e = 0;
	size_t tblen = trim_blanks(body, blen);
	for (size_t k = 0; k < det->nlits; k++) {
		const char *lit = det->lits[k];
		bool blank_line = false;
		size_t ll = lit ? strlen(lit) : 0;
		if (det->op == DET_LINE)
			blank_line = trim_blanks(lit, ll) == 0;
		if (only_hit && !blank_line && ms->lit_line[si->litid[k]] != serial)
			continue;
		if (ll == 0)
			continue;
		size_t s, e;
		switch (det->op) {
		case DET_CONTAINS:
			if (det->line_start) {
				if (ll > blen || !eq_bytes(body, lit, ll, nc))
					continue;
				s = 0;
			} else {
				const char *p = find(body, blen, lit, ll, nc);
				if (!p)
					continue;
				s = (size_t)(p - body);
			}
			e = s + ll;
			break;
		case DET_PREFIX:
			if (ll > blen || !eq_bytes(body, lit, ll, nc))
				continue;
			s = 0;
			e = ll;
			break;
		case DET_LINE: {
			size_t tl = trim_blanks(lit, ll);
			if (tl != tblen || !eq_bytes(body, lit, tl, nc))
				continue;
			s = 0;
			e = tblen;
			break;
		}
		case DET_FULLWORD: {
			bool ok = false;
			size_t from = 0;
			s = 0;
			while (from + ll <= blen) {
				const char *p;
				if (det->line_start) {
					if (from > 0 || !eq_bytes(body, lit, ll, nc))
						break;
					p = body;
				} else {
					p = find(body + from, blen - from, lit, ll, nc);
					if (!p)
						break;
				}
				s = (size_t)(p - body);
				bool left = s == 0 || !is_word((unsigned char)body[s - 1]);
				bool right = s + ll == blen || !is_word((unsigned char)body[s + ll]);
				if (left && right) {
					ok = true;
					break;
				}
				from = s + 1;
				if (det->line_start)
					break;
			}
			if (!ok)
				continue;
			e = s + ll;
			break;
		}
		default:
			continue;
		}
		if (!found || s < best_s) {
			found = true;
			best_s = s;
			best_e = e;
		}
	}
	if (found) {
		*ms_out = best_s;
		*me_out = best_e;
	}
	return found;
}

/* Overflow path: does one of a regex's anchors occur in the line (anywhere,
 * as Vectorscan would have seen it)? */
static bool anchor_in(const struct detector *det, const struct line *ln)
{
	for (size_t k = 0; k < det->nlits; k++) {
		const char *a = det->lits[k];
		size_t al = a ? strlen(a) : 0;
		if (al && find(ln->text, ln->len, a, al, det->nocase))
			return true;
	}
	return false;
}

static bool suppressed(const struct detector *det, const char *body, size_t blen)
{
	for (size_t k = 0; k < det->nunless; k++) {
		const char *u = det->unless[k];
		size_t ul = u ? strlen(u) : 0;
		if (ul && find(body, blen, u, ul, det->nocase))
			return true;
	}
	return false;
}

/* Decides one slot on one line; fills *h (captures into ms->caps). */
static bool eval_slot(struct match_stream *ms, uint32_t sid, const struct line *ln, bool only_hit,
                      uint64_t serial, struct match_hit *h)
{
	const struct slot_info *si = &ms->db->slots[sid];
	const struct detector *det = si->s.det;
	if ((ln->flags & LINE_PARTIAL) && !det->partial)
		return false;
	const char *body = ln->text + ln->body;
	size_t blen = ln->len - ln->body;
	size_t s = 0, e = 0;
	size_t ncaps = 0;
	struct capture_val *caps = &ms->caps[si->capbase];

	if (det->op == DET_REGEX) {
		if (!si->re || !ms->md)
			return false;
		if (!only_hit && det->nlits && !anchor_in(det, ln))
			return false; /* same answer as when Vectorscan filters */
		int rc = pcre2_match(si->re, (PCRE2_SPTR)body, blen, 0, 0, ms->md, ms->mctx);
		if (rc < 0) /* no match, or a resource limit: both mean no hit */
			return false;
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(ms->md);
		uint32_t nov = pcre2_get_ovector_count(ms->md);
		s = ov[0];
		e = ov[1];
		if (suppressed(det, body, blen))
			return false;
		for (size_t k = 0; k < det->ncaps; k++) {
			uint32_t g = (uint32_t)si->capgrp[k];
			if (g >= nov || ov[2 * g] == PCRE2_UNSET || ov[2 * g + 1] < ov[2 * g])
				continue; /* the group did not take part in the match */
			match_cap_fill(&caps[ncaps++], &det->caps[k], body + ov[2 * g],
			               ov[2 * g + 1] - ov[2 * g]);
		}
	} else {
		if (!eval_lits(ms, si, body, blen, only_hit, serial, &s, &e))
			return false;
		if (suppressed(det, body, blen))
			return false;
	}
	h->slot = sid;
	h->s = &si->s;
	h->start = ln->body + s;
	h->end = ln->body + e;
	h->caps = ncaps ? caps : NULL;
	h->ncaps = ncaps;
	return true;
}

static void add_cand(struct match_stream *ms, size_t *nc, uint32_t sid, uint64_t serial)
{
	if (ms->slot_mark[sid] == serial)
		return;
	ms->slot_mark[sid] = serial;
	ms->cand[(*nc)++] = sid;
}

static void sort_u32(uint32_t *v, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		uint32_t x = v[i];
		size_t j = i;
		while (j > 0 && v[j - 1] > x) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = x;
	}
}

/* Evaluates line li whose Vectorscan hits start at *hp; makes its callback. */
static void eval_line(struct match_stream *ms, size_t li, size_t *hp)
{
	const struct match_db *db = ms->db;
	struct qline *q = &ms->lines[li];
	/* A copy, made field by field: a callback that pushes may move the
	 * lines array, and a struct copy right after a store to it stalls. */
	struct line ln;
	ln.text = ms->text + q->tstart;
	ln.len = q->ln.len;
	ln.body = q->ln.body;
	ln.offset = q->ln.offset;
	ln.lineno = q->ln.lineno;
	ln.time_ns = q->ln.time_ns;
	ln.flags = q->ln.flags;
	uint64_t serial = ms->serial_base + li + 1;
	size_t nc = 0;
	bool overflow = q->overflow;

	if (overflow) {
		for (size_t k = 0; k < db->nlitslots; k++)
			add_cand(ms, &nc, db->litslots[k], serial);
	}
	while (*hp < ms->nhits && ms->hits[*hp].line == li) {
		uint32_t id = ms->hits[(*hp)++].lit;
		if (overflow)
			continue;
		ms->lit_line[id] = serial;
		const struct lit_ent *le = &db->lits[id];
		for (uint32_t r = 0; r < le->nref; r++)
			add_cand(ms, &nc, db->refs[le->ref0 + r], serial);
	}
	for (size_t k = 0; k < db->nalways; k++)
		add_cand(ms, &nc, db->always[k], serial);

	size_t nh = 0;
	if (nc) {
		sort_u32(ms->cand, nc);
		for (size_t k = 0; k < nc; k++)
			if (eval_slot(ms, ms->cand[k], &ln, !overflow, serial, &ms->out[nh]))
				nh++;
	}
	if (ms->on_line)
		ms->on_line(ms->ctx, &ln, nh ? ms->out : NULL, nh);
}

static bool ems_slot_matches(const struct detector *det, const struct ems_record *rec)
{
	if (det->ems == EMS_DET_MACHINE_INFO)
		return rec->kind == EMS_MACHINE_INFO;
	if (rec->kind != EMS_BUGCHECK)
		return false;
	if (det->nstopcodes == 0)
		return true;
	if (!rec->has_stopcode)
		return false;
	for (size_t k = 0; k < det->nstopcodes; k++)
		if (det->stopcodes[k] == rec->stopcode)
			return true;
	return false;
}

static void eval_ems(struct match_stream *ms, const struct ems_record *rec)
{
	const struct match_db *db = ms->db;
	size_t nh = 0;
	for (size_t k = 0; k < db->nems; k++) {
		uint32_t sid = db->ems_slots[k];
		const struct slot_info *si = &db->slots[sid];
		const struct detector *det = si->s.det;
		if (!ems_slot_matches(det, rec))
			continue;
		struct capture_val *caps = &ms->caps[si->capbase];
		size_t ncaps = match_cap_ems(det, rec, caps);
		struct match_hit *h = &ms->out[nh++];
		h->slot = sid;
		h->s = &si->s;
		h->start = h->end = 0;
		h->caps = ncaps ? caps : NULL;
		h->ncaps = ncaps;
	}
	if (ms->on_ems)
		ms->on_ems(ms->ctx, rec, nh ? ms->out : NULL, nh);
}

void match_flush(struct match_stream *ms)
{
	if (ms->in_flush)
		return; /* a callback pushed: the running flush picks it up */
	ms->in_flush = true;
	size_t ifrom = 0, lfrom = 0, tfrom = 0;
	/* Items pushed by callbacks land after the range being evaluated and
	 * are scanned in a further round. */
	while (ifrom < ms->nitems) {
		size_t ito = ms->nitems, lto = ms->nlines, tto = ms->tlen;
		scan_range(ms, tfrom, tto, lfrom, lto);
		size_t hp = 0;
		for (size_t it = ifrom; it < ito; it++) {
			const struct qitem *qi = &ms->items[it];
			if (qi->ems) {
				/* a copy: a callback that pushes may move the array */
				struct ems_record rec = ms->recs[qi->idx];
				eval_ems(ms, &rec);
			} else
				eval_line(ms, qi->idx, &hp);
		}
		ifrom = ito;
		lfrom = lto;
		tfrom = tto;
	}
	/* line indexes were unique within this flush; the next one counts on */
	ms->serial_base += ms->nlines;
	ms->nitems = ms->nlines = ms->nrecs = ms->tlen = 0;
	ms->nhits = 0;
	/* One giant line must not pin its buffer for the stream's lifetime. */
	if (ms->tcap > 4 * BATCH_BYTES) {
		free(ms->text);
		ms->text = NULL;
		ms->tcap = 0;
	}
	ms->in_flush = false;
}
