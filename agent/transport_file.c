/*
 * transport_file.c — file:PATH and "-" (stdin): read-only replay of a saved
 * console, for scan-like runs and tests.
 *
 * epoll cannot watch a regular file, so for one the fd handed to the loop
 * is a timerfd standing in for it: armed in the past, it stays readable and
 * the file streams as fast as it is read; with replay_realtime and a time
 * index PATH.idx next to it (capture.h), the timerfd is armed for when the
 * next recorded chunk is due and reads return -EAGAIN until then, so the
 * bytes come out with the timing they were captured with. Pipes, FIFOs and
 * terminals (also as stdin) are handed to the loop as they are, unpaced.
 *
 * Pacing follows the index's monotonic stamps; where they go backwards (the
 * capture spans agent restarts) the wall-clock difference is used, and where
 * both do, no wait at all. Several records at one offset (reconnects with
 * nothing in between) date the bytes by the last of them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "emsagent/capture.h"
#include "emsagent/transport.h"
#include "emsagent/util.h"
#include "transport_priv.h"

#define IDX_LINE_MAX 256

struct file_priv {
	int src;      /* the data */
	int tfd;      /* the loop's stand-in for a regular file, or -1 */
	int stdin_fl; /* stdin's file status flags to put back, or -1 */
	bool paced;
	FILE *idx;
	char *idx_path;
	unsigned idx_line;
	bool idx_eof;
	/* the segment being delivered: [pos, limit) due at seg_due */
	uint64_t pos, limit;
	int64_t start, virt, seg_due;
	struct capture_index_rec cur; /* the record that dated the segment */
	bool cur_valid;
	struct capture_index_rec next; /* the pending record: where the segment ends */
	bool have_next;
	int failed; /* a broken index stops the replay: -errno, kept */
};

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

/* Arms the stand-in fd to become readable at the monotonic time at. */
static int arm(struct file_priv *p, int64_t at)
{
	uint64_t drain;
	/* a fired expiry would keep it readable: clear it first */
	ssize_t r = read(p->tfd, &drain, sizeof(drain));
	(void)r;
	if (at < 1)
		at = 1; /* all-zero would disarm it */
	struct itimerspec its = {.it_value = {.tv_sec = at / NS_PER_SEC, .tv_nsec = at % NS_PER_SEC}};
	return timerfd_settime(p->tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0 ? -errno : 0;
}

/* Reads the next data record of the index into p->next. 0, or -EINVAL. */
static int idx_next(struct transport *t, struct file_priv *p)
{
	char line[IDX_LINE_MAX];
	p->have_next = false;
	while (!p->idx_eof) {
		if (!fgets(line, sizeof(line), p->idx)) {
			p->idx_eof = true;
			break;
		}
		p->idx_line++;
		size_t len = strlen(line);
		if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
			snprintf(t->err, sizeof(t->err), "%s:%u: index line too long", p->idx_path,
			         p->idx_line);
			return -EINVAL;
		}
		int rc = capture_index_parse(line, len, &p->next);
		if (rc == 1)
			continue;
		if (rc < 0) {
			snprintf(t->err, sizeof(t->err), "%s:%u: malformed index record", p->idx_path,
			         p->idx_line);
			return -EINVAL;
		}
		p->have_next = true;
		return 0;
	}
	return 0;
}

static int64_t gap_between(const struct capture_index_rec *a, const struct capture_index_rec *b)
{
	if (b->mono_ns >= a->mono_ns)
		return b->mono_ns - a->mono_ns;
	if (b->realtime_ns >= a->realtime_ns)
		return b->realtime_ns - a->realtime_ns;
	return 0;
}

/*
 * The current segment is used up (pos == limit == the pending record's
 * offset): date the next one by the pending record — the last of several at
 * the same offset — and bound it by the first record after it.
 */
static int advance(struct transport *t, struct file_priv *p)
{
	if (!p->have_next) {
		p->limit = UINT64_MAX; /* no more records: the rest comes now */
		return 0;
	}
	struct capture_index_rec rec = p->next;
	int rc;
	for (;;) {
		if ((rc = idx_next(t, p)) < 0)
			return rc;
		if (!p->have_next || p->next.offset > rec.offset)
			break;
		if (p->next.offset < rec.offset) {
			snprintf(t->err, sizeof(t->err), "%s:%u: offsets go backwards", p->idx_path,
			         p->idx_line);
			return -EINVAL;
		}
		rec = p->next;
	}
	if (p->cur_valid) {
		int64_t g = gap_between(&p->cur, &rec);
		/* saturate: a corrupt stamp must not overflow the deadline */
		p->virt = g > INT64_MAX / 4 - p->virt ? INT64_MAX / 4 : p->virt + g;
	}
	p->seg_due = p->start + p->virt;
	p->cur = rec;
	p->cur_valid = true;
	p->limit = p->have_next ? p->next.offset : UINT64_MAX;
	return 0;
}

static void file_release(struct transport *t)
{
	struct file_priv *p = t->priv;
	if (p) {
		if (p->stdin_fl >= 0)
			fcntl(p->src, F_SETFL, p->stdin_fl);
		if (p->src >= 0)
			close(p->src);
		if (p->tfd >= 0)
			close(p->tfd);
		if (p->idx)
			fclose(p->idx);
		free(p->idx_path);
		free(p);
	}
	t->priv = NULL;
	t->fd = -1;
}

static int fail(struct transport *t, int e)
{
	file_release(t);
	return -e;
}

static int open_index(struct transport *t, struct file_priv *p)
{
	p->idx_path = xasprintf("%s.idx", t->target);
	p->idx = fopen(p->idx_path, "re");
	if (!p->idx) {
		if (errno == ENOENT)
			return 0; /* no index: stream unpaced */
		int e = errno;
		snprintf(t->err, sizeof(t->err), "%s: %s", p->idx_path, strerror(e));
		return -e;
	}
	p->paced = true;
	p->start = mono_ns();
	p->seg_due = p->start;
	int rc = idx_next(t, p);
	if (rc < 0)
		return rc;
	/* bytes before the first record (none in a well-formed capture) go first */
	if (p->have_next && p->next.offset > 0) {
		p->limit = p->next.offset;
		return 0;
	}
	return advance(t, p);
}

static int file_open(struct transport *t)
{
	bool is_stdin = strcmp(t->target, "-") == 0;
	struct file_priv *p = xcalloc(1, sizeof(*p));
	p->src = p->tfd = p->stdin_fl = -1;
	t->priv = p;
	if (is_stdin) {
		p->src = fcntl(0, F_DUPFD_CLOEXEC, 3);
		if (p->src < 0) {
			snprintf(t->err, sizeof(t->err), "standard input is not open");
			return fail(t, EBADF);
		}
	} else {
		/* O_NONBLOCK: opening a FIFO must not wait for a writer */
		p->src = open(t->target, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
		if (p->src < 0) {
			int e = errno;
			if (e == ENOENT)
				snprintf(t->err, sizeof(t->err), "%s: no such file", t->target);
			else
				snprintf(t->err, sizeof(t->err), "%s: %s", t->target, strerror(e));
			return fail(t, e);
		}
	}
	struct stat st;
	if (fstat(p->src, &st) < 0) {
		int e = errno;
		snprintf(t->err, sizeof(t->err), "%s: %s", t->target, strerror(e));
		return fail(t, e);
	}
	if (S_ISDIR(st.st_mode)) {
		snprintf(t->err, sizeof(t->err), "%s is a directory", t->target);
		return fail(t, EISDIR);
	}
	if (!S_ISREG(st.st_mode)) {
		int fl = fcntl(p->src, F_GETFL);
		if (is_stdin && fl >= 0 && !(fl & O_NONBLOCK)) {
			/* stdin's description is shared with whoever started us */
			p->stdin_fl = fl;
			fcntl(p->src, F_SETFL, fl | O_NONBLOCK);
		}
		t->fd = p->src;
		return 0;
	}
	p->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (p->tfd < 0) {
		int e = errno;
		snprintf(t->err, sizeof(t->err), "%s: timerfd: %s", t->target, strerror(e));
		return fail(t, e);
	}
	if (!is_stdin && t->opts.replay_realtime) {
		int rc = open_index(t, p);
		if (rc < 0)
			return fail(t, -rc);
	}
	int rc = arm(p, p->paced ? p->seg_due : 1);
	if (rc < 0) {
		snprintf(t->err, sizeof(t->err), "%s: timerfd: %s", t->target, strerror(-rc));
		return fail(t, -rc);
	}
	t->fd = p->tfd;
	return 0;
}

static ssize_t plain_read(struct transport *t, int fd, void *buf, size_t n)
{
	ssize_t r = read(fd, buf, n);
	if (r >= 0) {
		if (r == 0)
			snprintf(t->err, sizeof(t->err), "%s: end of input", t->target);
		return r;
	}
	int e = errno;
	if (e == EAGAIN || e == EINTR)
		return -EAGAIN;
	snprintf(t->err, sizeof(t->err), "%s: read: %s", t->target, strerror(e));
	return -e;
}

static ssize_t file_read(struct transport *t, void *buf, size_t n)
{
	struct file_priv *p = t->priv;
	if (!p->paced)
		return plain_read(t, p->src, buf, n);
	if (p->failed)
		return p->failed;
	int rc;
	while (p->pos >= p->limit)
		if ((rc = advance(t, p)) < 0)
			return p->failed = rc;
	int64_t now = mono_ns();
	if (now < p->seg_due) {
		if ((rc = arm(p, p->seg_due)) < 0)
			return rc;
		return -EAGAIN;
	}
	uint64_t room = p->limit - p->pos;
	if (n > room)
		n = (size_t)room;
	ssize_t r = plain_read(t, p->src, buf, n);
	if (r <= 0) {
		arm(p, 1); /* keep it readable so the end is seen */
		return r;
	}
	p->pos += (uint64_t)r;
	if (p->pos >= p->limit) {
		/* the bytes read are delivered either way; an index error is
		 * reported by the next read */
		if ((rc = advance(t, p)) < 0) {
			p->failed = rc;
			arm(p, 1);
		} else {
			arm(p, p->seg_due);
		}
	}
	return r;
}

int64_t transport_file_next_due(struct transport *t)
{
	if (!t || t->ops != &transport_file_ops || !t->priv)
		return 0;
	struct file_priv *p = t->priv;
	if (!p->paced || p->seg_due <= mono_ns())
		return 0;
	return p->seg_due;
}

static ssize_t file_write(struct transport *t, const void *buf, size_t n)
{
	(void)buf;
	(void)n;
	snprintf(t->err, sizeof(t->err), "%s is a replay: read-only", t->url);
	return -EBADF;
}

static int file_send_break(struct transport *t, unsigned ms)
{
	(void)ms;
	snprintf(t->err, sizeof(t->err), "%s is a replay: no BREAK", t->url);
	return -ENOTSUP;
}

static void file_close(struct transport *t)
{
	file_release(t);
}

const struct transport_ops transport_file_ops = {
    .kind = "file",
    .caps = TRANSPORT_IS_REPLAY,
    .open = file_open,
    .read = file_read,
    .write = file_write,
    .send_break = file_send_break,
    .close = file_close,
};
