/*
 * capture.c — a console's capture logs (capture.h): raw bytes, the time
 * index, the readable log, size and date rotation, reopen, and retry of
 * writes the disk refused.
 *
 * Every write goes straight to write(2) on an O_APPEND descriptor: nothing
 * that was handed over sits in a user-space buffer, so a crash loses
 * nothing and SIGTERM only has to retry what a failing disk refused. What
 * was refused waits in a bounded per-file buffer and goes out first on the
 * next call; the index counts it as already written (its offsets are the
 * raw file's size plus what is pending), which stays true because a
 * rotation or a name change waits until the buffers are empty.
 */
#define _GNU_SOURCE
#include "emsagent/capture.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "emsagent/util.h"

#define INDEX_EVERY_NS  (10 * NS_PER_MS)
#define ROTATE_RETRY_NS (10 * NS_PER_SEC)
#define NAME_MAX_LEN    200 /* leaves room for ".NNNN.idx" under NAME_MAX (255) */
#define DEFAULT_KEEP    5
#define REASON_MAX      200 /* bytes of a gap reason kept */
/* Write-behind: a console at 115200 baud delivers a few dozen bytes per
 * read; writing each read (and its index record) costs two syscalls per
 * read per console. Bytes are staged and written at most opts.flush_ns
 * after they arrived, at STAGE_MAX, and at every flush, rotation, reopen, day
 * change and close — so on SIGTERM/SIGINT nothing is lost, and a crash can
 * lose at most that much of the capture. */
#define STAGE_MAX (64 * 1024)

enum { CF_RAW, CF_IDX, CF_TXT, CF__N };
static const char *const cf_suffix[CF__N] = {"", ".idx", ".txt"};

struct cfile {
	bool on;
	int fd; /* -1 while closed: opened again on the next write */
	char *path;
	uint64_t size;    /* bytes in the file */
	struct buf pend;  /* refused bytes, oldest first, whole writes only */
	struct buf stage; /* accepted, not yet written (write-behind) */
	int err;          /* errno of the last failure, 0 when healthy */
};

struct capture {
	char *dir;
	char *fmt; /* the pattern with %N substituted, ready for strftime */
	bool dated;
	uint64_t max_bytes;
	unsigned keep;
	char *name;       /* current file name inside dir */
	int64_t name_sec; /* the second the name was last worked out for */
	struct cfile f[CF__N];
	bool need_rec; /* the next raw bytes get an index record whatever the time */
	int64_t last_rec_mono;
	int64_t rotate_after; /* monotonic: a failed rotation waits until then */
	int64_t stage_since;  /* monotonic time of the oldest staged byte, 0 = none */
	int64_t flush_ns;     /* 0: write-through */
	uint64_t dropped;
	struct buf scratch;
};

/* ---- small helpers ---- */

static int64_t mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

static int64_t clock_realtime_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	if (a % b != 0 && a < 0)
		q--;
	return q;
}

/* "2026-11-21T10:15:02.123Z" */
static void format_utc_ms(int64_t ns, char *out, size_t outsz)
{
	int64_t sec = floor_div(ns, NS_PER_SEC);
	int64_t ms = (ns - sec * NS_PER_SEC) / NS_PER_MS;
	time_t t = (time_t)sec;
	struct tm tm;
	if (!gmtime_r(&t, &tm)) {
		snprintf(out, outsz, "-");
		return;
	}
	size_t k = strftime(out, outsz, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + k, outsz - k, ".%03dZ", (int)ms);
}

/* Length of the valid UTF-8 sequence at s (its code point in *cp), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t v, min;
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
		v = c & 0x1F;
		min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		v = c & 0x0F;
		min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		v = c & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return len;
}

/*
 * Console text made safe for a terminal: TAB and printable ASCII as they
 * are, valid UTF-8 as it is except the C1 controls (U+0080–U+009F, which
 * some terminals obey), everything else as \xHH.
 */
static void append_escaped(struct buf *b, const char *text, size_t n)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0;
	while (i < n) {
		unsigned char c = s[i];
		if (c == '\t' || (c >= 0x20 && c < 0x7F)) {
			size_t j = i + 1;
			while (j < n && (s[j] == '\t' || (s[j] >= 0x20 && s[j] < 0x7F)))
				j++;
			buf_append(b, s + i, j - i);
			i = j;
			continue;
		}
		uint32_t cp = 0;
		size_t len = c >= 0x80 ? utf8_seq(s + i, n - i, &cp) : 0;
		if (len && cp > 0x9F) {
			buf_append(b, s + i, len);
			i += len;
			continue;
		}
		if (!len)
			len = 1;
		for (size_t k = 0; k < len; k++)
			buf_printf(b, "\\x%02x", s[i + k]);
		i += len;
	}
}

static bool console_char_ok(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '.' || ch == '-';
}

/*
 * Substitutes %N (the console name, made safe for a file name) so the rest
 * can go to strftime as it is. Sets *dated when a strftime conversion is
 * left, i.e. the name can change with time. -1 on a trailing '%'.
 */
static int prepare_pattern(const char *pattern, const char *console, char **out, bool *dated)
{
	struct buf b = {0};
	*dated = false;
	for (const char *p = pattern; *p; p++) {
		if (*p != '%') {
			buf_putc(&b, *p);
			continue;
		}
		if (!p[1]) {
			buf_free(&b);
			return -1;
		}
		p++;
		if (*p == 'N') {
			const char *name = console && *console ? console : "console";
			for (const char *q = name; *q; q++)
				buf_putc(&b, console_char_ok(*q) ? *q : '_');
		} else {
			if (*p != '%')
				*dated = true;
			buf_putc(&b, '%');
			buf_putc(&b, *p);
		}
	}
	if (!b.data)
		buf_putc(&b, '\0'); /* an empty pattern: caught by expand_name */
	*out = b.data;
	return 0;
}

/* The file name for second sec; 0, or -1 with a reason. */
static int expand_name(const char *fmt, int64_t sec, char *out, size_t outsz, const char **why)
{
	time_t t = (time_t)sec;
	struct tm tm;
	if (!gmtime_r(&t, &tm)) {
		*why = "the time cannot be converted";
		return -1;
	}
	/* The pattern comes from the configuration by design (strftime is
	 * the point); %N was substituted and strftime has no varargs to abuse. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	size_t n = strftime(out, outsz, fmt, &tm);
#pragma GCC diagnostic pop
	if (n == 0) {
		*why = "it expands to nothing or to more than 200 bytes";
		return -1;
	}
	if (n > NAME_MAX_LEN) {
		*why = "it expands to more than 200 bytes";
		return -1;
	}
	if (memchr(out, '/', n)) {
		*why = "it names a file in another directory ('/')";
		return -1;
	}
	if (strcmp(out, ".") == 0 || strcmp(out, "..") == 0) {
		*why = "it names a directory";
		return -1;
	}
	return 0;
}

/* ---- one file ---- */

static int cf_open(struct cfile *f)
{
	int fd = open(f->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	f->fd = fd;
	f->size = (uint64_t)st.st_size;
	return 0;
}

static void cf_close(struct cfile *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

/* Writes as much of p as the file takes; returns how much went. */
static size_t cf_put(struct cfile *f, const char *p, size_t n)
{
	size_t done = 0;
	while (done < n) {
		ssize_t w = write(f->fd, p + done, n - done);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			f->err = errno;
			break;
		}
		if (w == 0) {
			f->err = EIO;
			break;
		}
		done += (size_t)w;
	}
	f->size += done;
	return done;
}

/* Sends what is pending (opening the file again if it is closed). */
static int cf_drain(struct cfile *f)
{
	if (f->fd < 0) {
		int rc = cf_open(f);
		if (rc < 0) {
			f->err = -rc;
			return rc;
		}
	}
	if (f->pend.len) {
		size_t done = cf_put(f, f->pend.data, f->pend.len);
		memmove(f->pend.data, f->pend.data + done, f->pend.len - done);
		f->pend.len -= done;
		f->pend.data[f->pend.len] = '\0';
	}
	if (f->pend.len)
		return -(f->err ? f->err : EIO);
	f->err = 0;
	return 0;
}

/* Appends one write (a record, a line or a read's bytes) in order, now. */
static int cf_write_now(struct capture *c, struct cfile *f, const void *p, size_t n)
{
	if (n == 0)
		return f->pend.len ? -(f->err ? f->err : EIO) : 0;
	if (f->pend.len || f->fd < 0)
		cf_drain(f);
	if (!f->pend.len && f->fd >= 0) {
		size_t done = cf_put(f, p, n);
		if (done == n) {
			f->err = 0;
			return 0;
		}
		p = (const char *)p + done;
		n -= done;
	}
	/* Whole writes only: half an index record would corrupt the index. */
	if (n <= CAPTURE_PENDING_MAX - f->pend.len)
		buf_append(&f->pend, p, n);
	else
		c->dropped += n;
	return -(f->err ? f->err : EIO);
}

static int stage_flush(struct capture *c, struct cfile *f)
{
	if (!f->stage.len)
		return 0;
	int rc = cf_write_now(c, f, f->stage.data, f->stage.len);
	buf_reset(&f->stage);
	return rc;
}

static int stage_flush_all(struct capture *c)
{
	int rc = 0;
	for (int k = 0; k < CF__N; k++) {
		int r = stage_flush(c, &c->f[k]);
		if (!rc)
			rc = r;
	}
	c->stage_since = 0;
	return rc;
}

/* Appends one write in order: staged, or at once when write-through. */
static int cf_write(struct capture *c, struct cfile *f, const void *p, size_t n)
{
	if (c->flush_ns <= 0 || n == 0)
		return cf_write_now(c, f, p, n);
	if (!c->stage_since)
		c->stage_since = mono_now();
	buf_append(&f->stage, p, n);
	if (f->stage.len >= STAGE_MAX)
		return stage_flush(c, f);
	return f->pend.len ? -(f->err ? f->err : EIO) : 0;
}

static bool any_pending(const struct capture *c)
{
	for (int k = 0; k < CF__N; k++)
		if (c->f[k].on && c->f[k].pend.len)
			return true;
	return false;
}

/* ---- the set of files ---- */

static void set_paths(struct capture *c)
{
	for (int k = 0; k < CF__N; k++) {
		free(c->f[k].path);
		c->f[k].path = c->f[k].on ? xasprintf("%s/%s%s", c->dir, c->name, cf_suffix[k]) : NULL;
	}
}

/* Opens every file of the current set; the first error, or 0. Files that
 * fail stay closed and are tried again on their next write. */
static int open_set(struct capture *c)
{
	int rc = 0;
	for (int k = 0; k < CF__N; k++) {
		struct cfile *f = &c->f[k];
		if (!f->on)
			continue;
		int r = cf_open(f);
		if (r < 0) {
			f->err = -r;
			if (!rc)
				rc = r;
		}
	}
	c->need_rec = true;
	return rc;
}

static void close_set(struct capture *c)
{
	for (int k = 0; k < CF__N; k++)
		cf_close(&c->f[k]);
}

/* A new day (or whatever the pattern counts) starts a new set of files. */
static void follow_name(struct capture *c, int64_t realtime_ns)
{
	if (!c->dated)
		return;
	int64_t sec = floor_div(realtime_ns, NS_PER_SEC);
	if (sec == c->name_sec || any_pending(c))
		return;
	c->name_sec = sec;
	char name[256];
	const char *why;
	/* A time the pattern cannot name keeps the current files. */
	if (expand_name(c->fmt, sec, name, sizeof(name), &why) < 0 || strcmp(name, c->name) == 0)
		return;
	stage_flush_all(c);
	if (any_pending(c))
		return; /* the old day's files take their bytes first */
	close_set(c);
	free(c->name);
	c->name = xstrdup(name);
	set_paths(c);
	open_set(c);
}

static struct cfile *primary(struct capture *c)
{
	return c->f[CF_RAW].on ? &c->f[CF_RAW] : &c->f[CF_TXT];
}

/* Renames NAME.K to NAME.K+1 for one file kind; a missing one is fine. */
static int shift(const struct capture *c, int k, unsigned from)
{
	char *a = from ? xasprintf("%s/%s.%u%s", c->dir, c->name, from, cf_suffix[k])
	               : xasprintf("%s/%s%s", c->dir, c->name, cf_suffix[k]);
	char *b = xasprintf("%s/%s.%u%s", c->dir, c->name, from + 1, cf_suffix[k]);
	int rc = rename(a, b) < 0 && errno != ENOENT ? -errno : 0;
	free(a);
	free(b);
	return rc;
}

/* Size rotation. rename(2) replaces the target, so the set past `keep` goes
 * away by being overwritten; the current raw file moves first so that a
 * failure leaves the set as it was (and the files are simply reopened). */
static int rotate(struct capture *c)
{
	close_set(c);
	int rc = 0;
	for (unsigned from = c->keep - 1; from >= 1 && !rc; from--)
		for (int k = 0; k < CF__N && !rc; k++)
			if (c->f[k].on)
				rc = shift(c, k, from);
	int first = c->f[CF_RAW].on ? CF_RAW : CF_TXT;
	if (!rc)
		rc = shift(c, first, 0);
	if (!rc)
		for (int k = 0; k < CF__N; k++)
			if (c->f[k].on && k != first) {
				int r = shift(c, k, 0);
				if (!rc)
					rc = r;
			}
	int r = open_set(c);
	return rc ? rc : r;
}

static int maybe_rotate(struct capture *c, size_t n)
{
	if (!c->max_bytes)
		return 0;
	struct cfile *p = primary(c);
	uint64_t size = p->size + p->pend.len + p->stage.len;
	if (size == 0 || size + n <= c->max_bytes || any_pending(c))
		return 0;
	int64_t now = mono_now();
	if (c->rotate_after && now < c->rotate_after)
		return 0;
	/* Staged bytes belong to the files being rotated away. */
	stage_flush_all(c);
	if (any_pending(c))
		return 0;
	int rc = rotate(c);
	c->rotate_after = rc < 0 ? now + ROTATE_RETRY_NS : 0;
	return rc;
}

/* ---- the interface ---- */

struct capture *capture_open(const char *console, const struct capture_opts *o, char *err, size_t errsz)
{
	if (!o || !o->dir || !*o->dir) {
		errbuf_set(err, errsz, "capture: no directory given");
		return NULL;
	}
	if (!o->raw && !o->text) {
		errbuf_set(err, errsz, "capture: neither the raw nor the text log is on: nothing to write");
		return NULL;
	}
	if (o->keep > CAPTURE_KEEP_MAX) {
		errbuf_set(err, errsz, "capture: keep %u is more than %u", o->keep, CAPTURE_KEEP_MAX);
		return NULL;
	}
	struct stat st;
	if (stat(o->dir, &st) < 0) {
		errbuf_set(err, errsz, "capture directory %s: %s%s", o->dir, strerror(errno),
		           errno == ENOENT ? " (it must exist; the agent does not create it)" : "");
		return NULL;
	}
	if (!S_ISDIR(st.st_mode)) {
		errbuf_set(err, errsz, "capture directory %s: not a directory", o->dir);
		return NULL;
	}
	const char *pattern = o->pattern && *o->pattern ? o->pattern : "%N.log";
	char *fmt = NULL;
	bool dated;
	if (prepare_pattern(pattern, console, &fmt, &dated) < 0) {
		errbuf_set(err, errsz, "capture pattern '%s': ends in a lone '%%'", pattern);
		return NULL;
	}
	int64_t now = clock_realtime_now();
	char name[256];
	const char *why = NULL;
	if (expand_name(fmt, floor_div(now, NS_PER_SEC), name, sizeof(name), &why) < 0) {
		errbuf_set(err, errsz, "capture pattern '%s': %s", pattern, why);
		free(fmt);
		return NULL;
	}
	struct capture *c = xcalloc(1, sizeof(*c));
	c->dir = xstrdup(o->dir);
	c->fmt = fmt;
	c->dated = dated;
	c->max_bytes = o->max_bytes;
	c->flush_ns = o->flush_ns;
	c->keep = o->keep ? o->keep : DEFAULT_KEEP;
	c->name = xstrdup(name);
	c->name_sec = floor_div(now, NS_PER_SEC);
	for (int k = 0; k < CF__N; k++)
		c->f[k].fd = -1;
	c->f[CF_RAW].on = o->raw;
	c->f[CF_IDX].on = o->raw;
	c->f[CF_TXT].on = o->text;
	set_paths(c);
	for (int k = 0; k < CF__N; k++) {
		struct cfile *f = &c->f[k];
		if (!f->on)
			continue;
		int rc = cf_open(f);
		if (rc < 0) {
			errbuf_set(err, errsz, "cannot open capture file %s: %s", f->path, strerror(-rc));
			capture_close(c);
			return NULL;
		}
	}
	c->need_rec = true;
	return c;
}

int capture_bytes(struct capture *c, const void *buf, size_t n, int64_t realtime_ns, int64_t mono_ns)
{
	if (!c->f[CF_RAW].on || n == 0)
		return capture_flush(c);
	if (c->flush_ns > 0 && !c->stage_since)
		c->stage_since = mono_ns; /* the caller's clock: no clock read per call */
	follow_name(c, realtime_ns);
	int rc = maybe_rotate(c, n);
	struct cfile *raw = &c->f[CF_RAW];
	uint64_t off = raw->size + raw->pend.len + raw->stage.len;
	if (c->need_rec || mono_ns - c->last_rec_mono >= INDEX_EVERY_NS || mono_ns < c->last_rec_mono) {
		char rec[80];
		int k = snprintf(rec, sizeof(rec), "%" PRIu64 " %" PRId64 " %" PRId64 "\n", off, realtime_ns,
		                 mono_ns);
		int r = cf_write(c, &c->f[CF_IDX], rec, (size_t)k);
		if (!rc)
			rc = r;
		c->need_rec = false;
		c->last_rec_mono = mono_ns;
	}
	uint64_t dropped = c->dropped;
	int r = cf_write(c, raw, buf, n);
	if (!rc)
		rc = r;
	if (c->dropped != dropped) {
		/* The bytes that follow start at the same offset: date them
		 * afresh, and say in the index that some are missing. */
		char note[160];
		int k = snprintf(note, sizeof(note),
		                 "# gap %" PRId64 " capture write failed (%s), %" PRIu64 " bytes dropped\n",
		                 realtime_ns, strerror(raw->err ? raw->err : EIO), c->dropped - dropped);
		cf_write(c, &c->f[CF_IDX], note, (size_t)k);
		c->need_rec = true;
	}
	if (c->stage_since && mono_ns - c->stage_since >= c->flush_ns) {
		int r2 = stage_flush_all(c);
		if (!rc)
			rc = r2;
	}
	return rc;
}

int capture_line(struct capture *c, const struct line *ln, int64_t realtime_ns)
{
	if (!c->f[CF_TXT].on)
		return 0;
	follow_name(c, realtime_ns);
	struct buf *b = &c->scratch;
	buf_reset(b);
	char t[40];
	format_utc_ms(realtime_ns, t, sizeof(t));
	buf_printf(b, "%s %s", t, (ln->flags & LINE_PARTIAL) ? "[partial] " : "");
	append_escaped(b, ln->text, ln->len);
	buf_putc(b, '\n');
	int rc = c->f[CF_RAW].on ? 0 : maybe_rotate(c, b->len);
	int r = cf_write(c, &c->f[CF_TXT], b->data, b->len);
	return rc ? rc : r;
}

int capture_gap(struct capture *c, const char *reason, int64_t realtime_ns)
{
	follow_name(c, realtime_ns);
	c->need_rec = true;
	struct buf *b = &c->scratch;
	buf_reset(b);
	size_t rlen = reason ? strnlen(reason, REASON_MAX) : 0;
	int rc = 0;
	if (c->f[CF_IDX].on) {
		buf_printf(b, "# gap %" PRId64 " ", realtime_ns);
		append_escaped(b, rlen ? reason : "-", rlen ? rlen : 1);
		buf_putc(b, '\n');
		rc = cf_write(c, &c->f[CF_IDX], b->data, b->len);
	}
	if (c->f[CF_TXT].on) {
		buf_reset(b);
		char t[40];
		format_utc_ms(realtime_ns, t, sizeof(t));
		buf_printf(b, "%s [gap] ", t);
		append_escaped(b, rlen ? reason : "-", rlen ? rlen : 1);
		buf_putc(b, '\n');
		int r = cf_write(c, &c->f[CF_TXT], b->data, b->len);
		if (!rc)
			rc = r;
	}
	return rc;
}

int capture_reopen(struct capture *c)
{
	stage_flush_all(c);
	int rc = 0;
	for (int k = 0; k < CF__N; k++) {
		struct cfile *f = &c->f[k];
		if (!f->on)
			continue;
		/* What is pending belongs to the old file: one more try there. */
		if (f->pend.len && f->fd >= 0)
			cf_drain(f);
		cf_close(f);
		int r = cf_open(f);
		if (r < 0) {
			f->err = -r;
			if (!rc)
				rc = r;
		}
	}
	c->need_rec = true;
	return rc;
}

int capture_flush(struct capture *c)
{
	int rc = stage_flush_all(c);
	for (int k = 0; k < CF__N; k++) {
		struct cfile *f = &c->f[k];
		/* Only what waits: a closed file with nothing for it stays
		 * closed (closing after a failed open must create nothing). */
		if (!f->on || !f->pend.len)
			continue;
		int r = cf_drain(f);
		if (!rc)
			rc = r;
	}
	return rc;
}

void capture_close(struct capture *c)
{
	if (!c)
		return;
	capture_flush(c);
	for (int k = 0; k < CF__N; k++) {
		cf_close(&c->f[k]);
		free(c->f[k].path);
		buf_free(&c->f[k].pend);
		buf_free(&c->f[k].stage);
	}
	buf_free(&c->scratch);
	free(c->name);
	free(c->fmt);
	free(c->dir);
	free(c);
}

const char *capture_raw_path(const struct capture *c)
{
	return c->f[CF_RAW].path;
}

const char *capture_index_path(const struct capture *c)
{
	return c->f[CF_IDX].path;
}

const char *capture_text_path(const struct capture *c)
{
	return c->f[CF_TXT].path;
}

uint64_t capture_dropped(const struct capture *c)
{
	return c->dropped;
}

/* ---- reading the index ---- */

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

static bool take_u64(const char *s, size_t len, size_t *i, uint64_t *out)
{
	size_t j = *i;
	uint64_t v = 0;
	while (j < len && s[j] >= '0' && s[j] <= '9') {
		unsigned d = (unsigned)(s[j] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
		j++;
	}
	if (j == *i)
		return false;
	*i = j;
	*out = v;
	return true;
}

static bool take_i64(const char *s, size_t len, size_t *i, int64_t *out)
{
	size_t j = *i;
	bool neg = j < len && s[j] == '-';
	if (neg)
		j++;
	uint64_t v;
	if (!take_u64(s, len, &j, &v) || v > (uint64_t)INT64_MAX)
		return false;
	*out = neg ? -(int64_t)v : (int64_t)v;
	*i = j;
	return true;
}

static bool take_blanks(const char *s, size_t len, size_t *i)
{
	size_t j = *i;
	while (j < len && is_blank(s[j]))
		j++;
	if (j == *i)
		return false;
	*i = j;
	return true;
}

int capture_index_parse(const char *line, size_t len, struct capture_index_rec *rec)
{
	if (len && line[len - 1] == '\n')
		len--;
	if (len && line[len - 1] == '\r')
		len--;
	size_t i = 0;
	while (i < len && is_blank(line[i]))
		i++;
	if (i == len || line[i] == '#')
		return 1;
	struct capture_index_rec r;
	if (!take_u64(line, len, &i, &r.offset) || !take_blanks(line, len, &i) ||
	    !take_i64(line, len, &i, &r.realtime_ns) || !take_blanks(line, len, &i) ||
	    !take_i64(line, len, &i, &r.mono_ns))
		return -1;
	while (i < len && is_blank(line[i]))
		i++;
	if (i != len)
		return -1;
	*rec = r;
	return 0;
}
