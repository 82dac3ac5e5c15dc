/*
 * replay.c — a raw capture read back in chunks dated by its index
 * (replay.h). Both files are streamed: the raw one in fixed blocks, the
 * index one bounded line at a time, one record of look-ahead.
 */
#include "emsagent/replay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emsagent/capture.h"
#include "emsagent/util.h"

#define IDX_LINE_MAX 128 /* a record is at most ~62 bytes; longer lines are malformed */

struct idx_reader {
	int fd;
	char buf[8192];
	size_t pos, len;
	bool eof, failed;
	int err;
	uint64_t last_offset;
	bool have_last;
};

/* The next line (without its newline) into out; 1, 0 at the end, -errno. */
static int idx_line(struct idx_reader *r, char *out, size_t outsz, size_t *outlen, bool *toolong)
{
	size_t n = 0;
	bool any = false;
	*toolong = false;
	for (;;) {
		if (r->pos == r->len) {
			if (r->eof) {
				*outlen = n;
				return any ? 1 : 0;
			}
			ssize_t k = read(r->fd, r->buf, sizeof(r->buf));
			if (k < 0) {
				if (errno == EINTR)
					continue;
				return -errno;
			}
			if (k == 0) {
				r->eof = true;
				continue;
			}
			r->pos = 0;
			r->len = (size_t)k;
		}
		any = true;
		const char *start = r->buf + r->pos;
		const char *nl = memchr(start, '\n', r->len - r->pos);
		size_t take = nl ? (size_t)(nl - start) : r->len - r->pos;
		size_t room = outsz - 1 - n;
		size_t copy = take;
		if (copy > room) {
			copy = room;
			*toolong = true;
		}
		memcpy(out + n, start, copy);
		n += copy;
		r->pos += take + (nl ? 1 : 0);
		if (nl) {
			out[n] = '\0';
			*outlen = n;
			return 1;
		}
	}
}

/* The next usable record: 1, or 0 when there is none (end or read error). */
static int idx_next(struct idx_reader *r, struct capture_index_rec *rec, struct replay_stats *st)
{
	if (r->fd < 0 || r->failed)
		return 0;
	char line[IDX_LINE_MAX];
	for (;;) {
		size_t n = 0;
		bool toolong = false;
		int rc = idx_line(r, line, sizeof(line), &n, &toolong);
		if (rc < 0) {
			r->failed = true;
			r->err = -rc;
			return 0;
		}
		if (rc == 0)
			return 0;
		if (toolong) {
			st->bad_lines++;
			continue;
		}
		int p = capture_index_parse(line, n, rec);
		if (p == 1)
			continue;
		/* A record that goes back belongs to another file (the raw one
		 * was truncated or replaced): its times would date wrong bytes. */
		if (p < 0 || (r->have_last && rec->offset < r->last_offset)) {
			st->bad_lines++;
			continue;
		}
		r->have_last = true;
		r->last_offset = rec->offset;
		return 1;
	}
}

struct emitter {
	replay_chunk_fn fn;
	void *ctx;
	bool line_open; /* the last byte handed on was not a line end */
	int64_t line_t; /* the time at which that unfinished line began */
	bool line_known;
};

static const char *first_eol(const char *p, size_t n)
{
	const char *lf = memchr(p, '\n', n);
	const char *cr = memchr(p, '\r', lf ? (size_t)(lf - p) : n);
	return cr ? cr : lf;
}

static void emit(struct emitter *e, const char *p, size_t n, int64_t t, bool known)
{
	const char *eol = first_eol(p, n);
	if (!eol) {
		if (!e->line_open) {
			e->line_open = true;
			e->line_t = t;
			e->line_known = known;
		}
		e->fn(e->ctx, p, n, t, known);
		return;
	}
	size_t head = (size_t)(eol - p) + 1;
	if (e->line_open && (e->line_t != t || e->line_known != known)) {
		/* The line that ends here began under an earlier record. */
		e->fn(e->ctx, p, head, e->line_t, e->line_known);
		if (n > head)
			e->fn(e->ctx, p + head, n - head, t, known);
	} else {
		e->fn(e->ctx, p, n, t, known);
	}
	char last = p[n - 1];
	e->line_open = last != '\n' && last != '\r';
	e->line_t = t;
	e->line_known = known;
}

int replay_run(int raw_fd, int idx_fd, replay_chunk_fn fn, void *ctx, struct replay_stats *st, char *err,
               size_t errsz)
{
	struct replay_stats local;
	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	struct idx_reader *r = xcalloc(1, sizeof(*r));
	r->fd = idx_fd;
	struct emitter e = {.fn = fn, .ctx = ctx};
	char *buf = xmalloc(REPLAY_BLOCK);
	struct capture_index_rec cur = {0}, next;
	bool known = false;
	bool have_next = idx_next(r, &next, st);
	uint64_t pos = 0;
	int rc = 0;
	for (;;) {
		ssize_t k = read(raw_fd, buf, REPLAY_BLOCK);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			if (err && errsz)
				snprintf(err, errsz, "read error at byte %llu: %s", (unsigned long long)pos,
				         strerror(errno));
			rc = -1;
			break;
		}
		if (k == 0)
			break;
		st->bytes += (uint64_t)k;
		size_t i = 0;
		while (i < (size_t)k) {
			while (have_next && next.offset <= pos) {
				cur = next;
				known = true;
				st->records++;
				have_next = idx_next(r, &next, st);
			}
			size_t end = (size_t)k;
			if (have_next && next.offset - pos < end - i)
				end = i + (size_t)(next.offset - pos);
			if (!known)
				st->untimed += end - i;
			emit(&e, buf + i, end - i, known ? cur.realtime_ns : 0, known);
			pos += end - i;
			i = end;
		}
	}
	if (!rc && r->failed) {
		if (err && errsz)
			snprintf(err, errsz, "index read error: %s (the rest was read without times)",
			         strerror(r->err));
		rc = -1;
	}
	free(buf);
	free(r);
	return rc;
}

static void feed_pipeline(void *ctx, const void *buf, size_t n, int64_t realtime_ns, bool time_known)
{
	pipeline_feed(ctx, buf, n, time_known ? realtime_ns : 0);
}

int replay_pipeline(struct pipeline *p, int raw_fd, int idx_fd, struct replay_stats *st, char *err,
                    size_t errsz)
{
	return replay_run(raw_fd, idx_fd, feed_pipeline, p, st, err, errsz);
}
