/*
 * feeder.c — the load for `make bench-live`: many consoles fed at serial
 * line rate, with marker lines whose send times are logged, and the pieces
 * that turn the agent's events into latencies.
 *
 *   feeder serve --dir DIR --consoles N --data FILE [--rate BYTES_PER_S]
 *                [--seconds S] [--marker-every S] --sends FILE
 *                [--connect-timeout S]
 *       Listens on DIR/cNNN.sock (N unix sockets), prints "listening" on
 *       stdout, waits until every console has a client (or the timeout),
 *       prints "feeding N", then writes FILE's text (each console from its
 *       own offset, wrapping) to every console at --rate (default 11520:
 *       115200 baud 8N1) for --seconds (default 60) from one epoll loop
 *       driven by a 10 ms timerfd. Every --marker-every seconds (default 2,
 *       staggered across consoles) a console gets, at a line boundary,
 *       "E2EMARK cNNN sNNNNNN" and "E2ECLEAR cNNN": tests/e2e/bench-rules
 *       fires on the first and resolves on the second. The CLOCK_REALTIME
 *       of the write that carries each marker goes to --sends as
 *       "CONSOLE SEQ NS". Prints "done BYTES MARKERS" at the end.
 *   feeder read
 *       Reads the agent's JSON events on stdin; for every rule.fired with a
 *       marker in it prints "CONSOLE SEQ NS" (NS: CLOCK_REALTIME when the
 *       bytes were read off the pipe).
 *   feeder report SENDS ARRIVALS [GRACE_S]
 *       Joins the two and prints one line:
 *       "markers SENT received GOT missing LOST p50_us X p99_us Y max_us Z";
 *       markers sent in the last GRACE_S (default 1) seconds are not
 *       counted as missing.
 *
 * Standalone (libc only), built by tests/e2e/bench-live.sh with cc.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONSOLES 4096
#define TICK_NS      10000000LL /* 10 ms */
#define LINE_EXTEND  4096       /* how far a chunk may run on to end at a newline */
#define MAX_EVENT    (1u << 20) /* longest event line the reader keeps */

struct con {
	int lfd, fd;
	size_t pos;       /* next byte of the data to send */
	double credit;    /* bytes this console may still send */
	bool at_boundary; /* the last byte sent ended a line */
	char mark[96];    /* marker bytes not yet written */
	size_t mlen, moff;
	int64_t next_mark; /* monotonic ns */
	unsigned seq;
};

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void usage(void)
{
	fprintf(stderr, "usage: feeder serve --dir DIR --consoles N --data FILE --sends FILE [--rate B/S] "
	                "[--seconds S] [--marker-every S] [--connect-timeout S]\n"
	                "       feeder read\n"
	                "       feeder report SENDS ARRIVALS [GRACE_S]\n");
	exit(2);
}

static double num_arg(const char *s)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || *end || end == s || v < 0)
		usage();
	return v;
}

static int listen_unix(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	unlink(path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Writes a console's pending marker; true when it is all out. */
static bool flush_mark(struct con *c)
{
	while (c->moff < c->mlen) {
		ssize_t w = write(c->fd, c->mark + c->moff, c->mlen - c->moff);
		if (w <= 0)
			return false;
		c->moff += (size_t)w;
	}
	return true;
}

static void drop_client(struct con *c, int ep)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->mlen = c->moff = 0;
}

static int serve(int argc, char **argv)
{
	const char *dir = NULL, *data_path = NULL, *sends_path = NULL;
	unsigned n = 0;
	double rate = 11520, seconds = 60, every = 2, connect_to = 30;
	for (int i = 2; i < argc; i += 2) {
		if (i + 1 >= argc)
			usage();
		const char *a = argv[i], *v = argv[i + 1];
		if (!strcmp(a, "--dir"))
			dir = v;
		else if (!strcmp(a, "--consoles"))
			n = (unsigned)num_arg(v);
		else if (!strcmp(a, "--data"))
			data_path = v;
		else if (!strcmp(a, "--sends"))
			sends_path = v;
		else if (!strcmp(a, "--rate"))
			rate = num_arg(v);
		else if (!strcmp(a, "--seconds"))
			seconds = num_arg(v);
		else if (!strcmp(a, "--marker-every"))
			every = num_arg(v);
		else if (!strcmp(a, "--connect-timeout"))
			connect_to = num_arg(v);
		else
			usage();
	}
	if (!dir || !data_path || !sends_path || n == 0 || n > MAX_CONSOLES || every <= 0)
		usage();

	/* 2 fds per console plus a few: lift the soft limit to the hard one. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);

	int dfd = open(data_path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (dfd < 0 || fstat(dfd, &st) < 0 || st.st_size < 65536) {
		fprintf(stderr, "feeder: %s: unusable data file\n", data_path);
		return 1;
	}
	size_t dlen = (size_t)st.st_size;
	const char *data = mmap(NULL, dlen, PROT_READ, MAP_PRIVATE, dfd, 0);
	close(dfd);
	if (data == MAP_FAILED) {
		perror("feeder: mmap");
		return 1;
	}
	FILE *sends = fopen(sends_path, "w");
	if (!sends) {
		perror(sends_path);
		return 1;
	}

	struct con *cons = calloc(n, sizeof(*cons));
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (!cons || ep < 0)
		return 1;
	for (unsigned i = 0; i < n; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/c%03u.sock", dir, i);
		cons[i].fd = -1;
		cons[i].lfd = listen_unix(path);
		if (cons[i].lfd < 0) {
			fprintf(stderr, "feeder: %s: %s\n", path, strerror(errno));
			return 1;
		}
		/* Spread the consoles over the data, each from a line start. */
		size_t off = (size_t)((uint64_t)i * 1000003u * 61u % (dlen - LINE_EXTEND));
		const char *nl = memchr(data + off, '\n', dlen - off);
		cons[i].pos = nl ? (size_t)(nl - data) + 1 : 0;
		cons[i].at_boundary = true;
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = i};
		epoll_ctl(ep, EPOLL_CTL_ADD, cons[i].lfd, &ev);
	}
	printf("listening\n");
	fflush(stdout);

	/* Phase 1: wait for the agent to connect everywhere. */
	unsigned connected = 0;
	int64_t deadline = clock_ns(CLOCK_MONOTONIC) + (int64_t)(connect_to * 1e9);
	while (connected < n) {
		int64_t left = deadline - clock_ns(CLOCK_MONOTONIC);
		if (left <= 0)
			break;
		struct epoll_event evs[64];
		int k = epoll_wait(ep, evs, 64, (int)(left / 1000000 + 1));
		for (int j = 0; j < k; j++) {
			struct con *c = &cons[evs[j].data.u64];
			if (c->fd >= 0)
				continue;
			c->fd = accept4(c->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
			if (c->fd >= 0)
				connected++;
		}
	}
	printf("feeding %u\n", connected);
	fflush(stdout);
	if (connected < n)
		fprintf(stderr, "feeder: only %u of %u consoles connected\n", connected, n);

	/* Phase 2: feed. Listening sockets stay in the set to take reconnects;
	 * client sockets are watched for hang-ups only. */
	for (unsigned i = 0; i < n; i++) {
		if (cons[i].fd < 0)
			continue;
		struct epoll_event ev = {.events = EPOLLRDHUP, .data.u64 = i | (1ull << 32)};
		epoll_ctl(ep, EPOLL_CTL_ADD, cons[i].fd, &ev);
	}
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	struct itimerspec its = {.it_interval = {0, TICK_NS}, .it_value = {0, TICK_NS}};
	timerfd_settime(tfd, 0, &its, NULL);
	struct epoll_event tev = {.events = EPOLLIN, .data.u64 = UINT64_MAX};
	epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev);

	int64_t start = clock_ns(CLOCK_MONOTONIC), last = start;
	int64_t stop = start + (int64_t)(seconds * 1e9);
	int64_t every_ns = (int64_t)(every * 1e9);
	for (unsigned i = 0; i < n; i++)
		cons[i].next_mark = start + every_ns / 2 + (int64_t)((double)every_ns * i / n);
	uint64_t total = 0, markers = 0;
	for (;;) {
		struct epoll_event evs[64];
		int k = epoll_wait(ep, evs, 64, 100);
		bool tick = false;
		for (int j = 0; j < k; j++) {
			uint64_t u = evs[j].data.u64;
			if (u == UINT64_MAX) {
				uint64_t exp;
				if (read(tfd, &exp, sizeof(exp)) > 0)
					tick = true;
			} else if (u >> 32) {
				drop_client(&cons[u & 0xffffffffu], ep);
			} else if (cons[u].fd < 0) {
				struct con *c = &cons[u];
				c->fd = accept4(c->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
				if (c->fd >= 0) {
					struct epoll_event ev = {.events = EPOLLRDHUP,
					                         .data.u64 = u | (1ull << 32)};
					epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
				}
			}
		}
		if (!tick)
			continue;
		int64_t now = clock_ns(CLOCK_MONOTONIC);
		if (now >= stop)
			break;
		double dt = (double)(now - last) / 1e9;
		last = now;
		for (unsigned i = 0; i < n; i++) {
			struct con *c = &cons[i];
			if (c->fd < 0)
				continue;
			/* A console that cannot keep up gets at most 1 s of backlog. */
			c->credit += rate * dt;
			if (c->credit > rate)
				c->credit = rate;
			if (!flush_mark(c))
				continue;
			if (c->at_boundary && now >= c->next_mark) {
				c->mlen = (size_t)snprintf(c->mark, sizeof(c->mark),
				                           "\r\nE2EMARK c%03u s%06u\r\nE2ECLEAR c%03u\r\n", i,
				                           c->seq, i);
				c->moff = 0;
				int64_t sent = clock_ns(CLOCK_REALTIME);
				fprintf(sends, "%u %u %" PRId64 "\n", i, c->seq, sent);
				c->seq++;
				markers++;
				c->next_mark += every_ns;
				c->credit -= (double)c->mlen;
				total += c->mlen;
				if (!flush_mark(c))
					continue;
			}
			while (c->credit >= 1) {
				size_t want = (size_t)c->credit;
				if (c->pos >= dlen)
					c->pos = 0;
				if (want > dlen - c->pos)
					want = dlen - c->pos;
				/* Run on to the end of the line so a marker can follow. */
				const char *nl =
				    memchr(data + c->pos + want - 1, '\n',
				           dlen - c->pos - want + 1 < LINE_EXTEND ? dlen - c->pos - want + 1
				                                                  : LINE_EXTEND);
				if (nl)
					want = (size_t)(nl - (data + c->pos)) + 1;
				ssize_t w = write(c->fd, data + c->pos, want);
				if (w <= 0)
					break;
				c->pos += (size_t)w;
				c->credit -= (double)w;
				total += (uint64_t)w;
				c->at_boundary = data[c->pos - 1] == '\n';
				if ((size_t)w < want)
					break;
			}
		}
	}
	fclose(sends);
	printf("done %" PRIu64 " %" PRIu64 "\n", total, markers);
	fflush(stdout);
	for (unsigned i = 0; i < n; i++) {
		if (cons[i].fd >= 0)
			close(cons[i].fd);
		close(cons[i].lfd);
		char path[4096];
		snprintf(path, sizeof(path), "%s/c%03u.sock", dir, i);
		unlink(path);
	}
	free(cons);
	close(tfd);
	close(ep);
	munmap((void *)data, dlen);
	return 0;
}

/* One event line: a rule.fired of a marker → "CONSOLE SEQ NS". */
static void read_line(const char *s, size_t len, int64_t t)
{
	if (!memmem(s, len, "\"event\":\"rule.fired\"", 20))
		return;
	const char *m = memmem(s, len, "E2EMARK c", 9);
	if (!m)
		return;
	unsigned c, q;
	char tmp[32];
	size_t l = (size_t)(s + len - m) < sizeof(tmp) - 1 ? (size_t)(s + len - m) : sizeof(tmp) - 1;
	memcpy(tmp, m, l);
	tmp[l] = '\0';
	if (sscanf(tmp, "E2EMARK c%u s%u", &c, &q) == 2)
		printf("%u %u %" PRId64 "\n", c, q, t);
}

static int reader(void)
{
	char *buf = malloc(MAX_EVENT);
	size_t have = 0;
	bool skipping = false; /* inside a line longer than MAX_EVENT */
	if (!buf)
		return 1;
	for (;;) {
		ssize_t r = read(0, buf + have, MAX_EVENT - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		int64_t t = clock_ns(CLOCK_REALTIME);
		have += (size_t)r;
		size_t start = 0;
		for (;;) {
			char *nl = memchr(buf + start, '\n', have - start);
			if (!nl)
				break;
			if (!skipping)
				read_line(buf + start, (size_t)(nl - (buf + start)), t);
			skipping = false;
			start = (size_t)(nl - buf) + 1;
		}
		memmove(buf, buf + start, have - start);
		have -= start;
		if (have == MAX_EVENT) {
			have = 0;
			skipping = true;
		}
		fflush(stdout);
	}
	free(buf);
	return 0;
}

struct rec {
	unsigned c, s;
	int64_t t;
};

static int load_recs(const char *path, struct rec **out, size_t *n)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		return -1;
	}
	size_t cap = 1024;
	*n = 0;
	*out = malloc(cap * sizeof(**out));
	struct rec r;
	while (*out && fscanf(f, "%u %u %" SCNd64, &r.c, &r.s, &r.t) == 3) {
		if (*n == cap) {
			cap *= 2;
			struct rec *g = realloc(*out, cap * sizeof(**out));
			if (!g) {
				fclose(f);
				return -1;
			}
			*out = g;
		}
		(*out)[(*n)++] = r;
	}
	fclose(f);
	return *out ? 0 : -1;
}

static int cmp_rec(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;
	if (x->c != y->c)
		return x->c < y->c ? -1 : 1;
	return x->s < y->s ? -1 : x->s > y->s;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static int report(int argc, char **argv)
{
	if (argc < 4)
		usage();
	double grace = argc > 4 ? num_arg(argv[4]) : 1.0;
	struct rec *snd, *arr;
	size_t ns, na;
	if (load_recs(argv[2], &snd, &ns) < 0 || load_recs(argv[3], &arr, &na) < 0)
		return 1;
	qsort(snd, ns, sizeof(*snd), cmp_rec);
	int64_t last = 0;
	for (size_t i = 0; i < ns; i++)
		if (snd[i].t > last)
			last = snd[i].t;
	int64_t *lat = malloc((na + 1) * sizeof(*lat));
	if (!lat)
		return 1;
	size_t nl = 0, missing = 0;
	char *seen = calloc(ns + 1, 1);
	if (!seen)
		return 1;
	for (size_t i = 0; i < na; i++) {
		struct rec *m = bsearch(&arr[i], snd, ns, sizeof(*snd), cmp_rec);
		if (!m || seen[m - snd])
			continue; /* unknown or repeated: not a latency sample */
		seen[m - snd] = 1;
		lat[nl++] = arr[i].t - m->t;
	}
	for (size_t i = 0; i < ns; i++)
		if (!seen[i] && snd[i].t < last - (int64_t)(grace * 1e9))
			missing++;
	qsort(lat, nl, sizeof(*lat), cmp_i64);
	int64_t p50 = nl ? lat[(nl - 1) / 2] : -1, p99 = nl ? lat[(size_t)((double)(nl - 1) * 0.99)] : -1;
	int64_t mx = nl ? lat[nl - 1] : -1;
	printf(
	    "markers %zu received %zu missing %zu p50_us %" PRId64 " p99_us %" PRId64 " max_us %" PRId64 "\n",
	    ns, nl, missing, p50 < 0 ? -1 : p50 / 1000, p99 < 0 ? -1 : p99 / 1000, mx < 0 ? -1 : mx / 1000);
	free(seen);
	free(lat);
	free(snd);
	free(arr);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "serve"))
		return serve(argc, argv);
	if (!strcmp(argv[1], "read"))
		return reader();
	if (!strcmp(argv[1], "report"))
		return report(argc, argv);
	usage();
	return 2;
}
