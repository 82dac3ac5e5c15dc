/*
 * engine_block.c — block capture (doc/rules.md, detector option `block`):
 * a hit of a block detector is withheld while the following lines are
 * collected, then delivered to the when logic with the block on its event.
 *
 * Bounds: max_lines (default 200) lines, max_lines × (LINE_MAX_LEN + 1) and
 * ENGINE_BLOCK_MAX bytes; reaching the byte cap closes the block truncated.
 * One open block per rule detector; the engine keeps them in opening order.
 */
#define _GNU_SOURCE /* memmem */
#include "engine_priv.h"

#include <stdlib.h>
#include <string.h>

void eng_block_free(struct block *b)
{
	buf_free(&b->text);
	saved_line_free(&b->line);
	free(b->caps);
}

/* ---- open, collect, close ---------------------------------------------- */

/* Appends one line body; false when it did not fit whole (the block is cut). */
static bool block_add(struct block *b, const char *s, size_t n)
{
	size_t need = n + (b->lines ? 1 : 0);
	bool fit = b->text.len + need <= b->cap;
	if (!fit) {
		size_t room = b->cap > b->text.len ? b->cap - b->text.len : 0;
		if (b->lines && room) {
			buf_putc(&b->text, '\n');
			room--;
		}
		buf_append(&b->text, s, n < room ? n : room);
	} else {
		if (b->lines)
			buf_putc(&b->text, '\n');
		buf_append(&b->text, s, n);
	}
	b->lines++;
	return fit;
}

static bool has_end(const struct detector *det, const char *s, size_t n)
{
	for (size_t i = 0; i < det->nblock_end; i++) {
		const char *lit = det->block_end[i];
		size_t ln = strlen(lit);
		if (ln == 0)
			continue;
		if (det->nocase ? memmem_nocase(s, n, lit, ln) != NULL : memmem(s, n, lit, ln) != NULL)
			return true;
	}
	return false;
}

static unsigned block_max_lines(const struct detector *det)
{
	return det->block_max_lines ? det->block_max_lines : 200;
}

/* Closes open block k and gives its withheld hit to the when logic; `at` is
 * when (and, for the line, is ignored: events carry the opening line). */
void eng_block_close(struct engine *e, size_t k, const struct evsrc *at, bool truncated)
{
	struct open_ref o = e->open[k];
	memmove(&e->open[k], &e->open[k + 1], (e->nopen - k - 1) * sizeof(*e->open));
	e->nopen--;
	struct rule_rt *rr = &e->rt[o.rule];
	struct block *b = &rr->blocks[o.det];
	b->open = false;
	if (b->close_at != ENG_NEVER) {
		b->close_at = ENG_NEVER;
		eng_unschedule(e);
	}
	struct dhit h = {
	    .det = o.det,
	    .caps = b->caps,
	    .ncaps = b->ncaps,
	    .t = b->t,
	    .known = b->known,
	};
	evsrc_from_saved(&h.src, &b->line, at->t, at->tflags);
	h.src.has_block = true;
	h.src.block = b->text.data ? b->text.data : "";
	h.src.block_len = b->text.len;
	h.src.block_truncated = truncated;
	when_hit(e, rr, &h);
}

void eng_block_open(struct engine *e, struct rule_rt *rr, const struct dhit *h, const struct line *ln)
{
	const struct detector *det = &rr->r->dets[h->det];
	struct block *b = &rr->blocks[h->det];
	unsigned maxl = block_max_lines(det);
	b->cap = maxl > ENGINE_BLOCK_MAX / (LINE_MAX_LEN + 1) ? (size_t)ENGINE_BLOCK_MAX
	                                                      : (size_t)maxl * (LINE_MAX_LEN + 1);
	b->open = true;
	b->serial = e->serial;
	b->lines = 0;
	buf_reset(&b->text);
	saved_line_set(&b->line, ln->text, ln->len, ln->offset, ln->lineno);
	b->t = h->t;
	b->known = h->known;
	b->tflags = h->src.tflags;
	b->ncaps = h->ncaps;
	b->caps = xrealloc(b->caps, (h->ncaps ? h->ncaps : 1) * sizeof(*b->caps));
	if (h->ncaps)
		memcpy(b->caps, h->caps, h->ncaps * sizeof(*b->caps));
	b->close_at = ENG_NEVER;
	if (det->block_max_ns > 0 && h->known) {
		b->close_at = eng_add(h->t, det->block_max_ns);
		eng_schedule(e, b->close_at);
	}
	xgrow((void **)&e->open, &e->open_cap, e->nopen + 1, sizeof(*e->open));
	e->open[e->nopen++] = (struct open_ref){.rule = rr->index, .det = h->det};
	size_t body = ln->body < ln->len ? ln->body : ln->len;
	bool fit = block_add(b, ln->text + body, ln->len - body);
	if (!fit || b->lines >= maxl)
		eng_block_close(e, e->nopen - 1, &h->src, !fit || det->nblock_end > 0);
}

/* Every open block takes the line; those that end here are delivered. */
void eng_blocks_collect(struct engine *e, const struct line *ln, const struct evsrc *src)
{
	size_t body = ln->body < ln->len ? ln->body : ln->len;
	const char *s = ln->text + body;
	size_t n = ln->len - body;
	size_t k = 0;
	while (k < e->nopen) {
		struct open_ref o = e->open[k];
		struct block *b = &e->rt[o.rule].blocks[o.det];
		const struct detector *det = &e->rt[o.rule].r->dets[o.det];
		b->serial = e->serial;
		bool fit = block_add(b, s, n);
		if (has_end(det, s, n)) {
			eng_block_close(e, k, src, !fit);
		} else if (!fit) {
			eng_block_close(e, k, src, true);
		} else if (b->lines >= block_max_lines(det)) {
			eng_block_close(e, k, src, det->nblock_end > 0);
		} else {
			k++;
		}
		/* a close may open nothing, so the list only ever shrinks at k */
	}
}
