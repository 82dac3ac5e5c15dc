/* util.c — checked allocation, byte buffers, diagnostics, durations. */
#define _GNU_SOURCE
#include "emsagent/util.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

static void oom(void)
{
	fputs("emsagent: out of memory\n", stderr);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

void xgrow(void **v, size_t *cap, size_t need, size_t esz)
{
	if (need <= *cap)
		return;
	size_t nc = *cap ? *cap : 8;
	while (nc < need) {
		if (nc > SIZE_MAX / 2 / esz)
			oom();
		nc *= 2;
	}
	*v = xrealloc(*v, nc * esz);
	*cap = nc;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		oom();
	va_end(ap);
	return s;
}

void errbuf_set(char *err, size_t errsz, const char *fmt, ...)
{
	if (!err || !errsz)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

void buf_append(struct buf *b, const void *p, size_t n)
{
	xgrow((void **)&b->data, &b->cap, b->len + n + 1, 1);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void buf_putc(struct buf *b, char c)
{
	buf_append(b, &c, 1);
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom();
	buf_append(b, s, (size_t)n);
	free(s);
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void diags_vadd(struct diags *d, enum diag_sev sev, const char *file, unsigned line, unsigned col,
                const char *fmt, va_list ap)
{
	xgrow((void **)&d->v, &d->cap, d->n + 1, sizeof(*d->v));
	struct diag *g = &d->v[d->n++];
	g->sev = sev;
	g->file = file ? xstrdup(file) : NULL;
	g->line = line;
	g->col = col;
	if (vasprintf(&g->msg, fmt, ap) < 0)
		oom();
	if (sev == DIAG_ERROR)
		d->nerrors++;
	else
		d->nwarnings++;
}

void diags_add(struct diags *d, enum diag_sev sev, const char *file, unsigned line, unsigned col,
               const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	diags_vadd(d, sev, file, line, col, fmt, ap);
	va_end(ap);
}

void diags_print(const struct diags *d, FILE *out)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct diag *g = &d->v[i];
		const char *sev = g->sev == DIAG_ERROR ? "error" : "warning";
		if (g->file && g->line)
			fprintf(out, "%s:%u:%u: %s: %s\n", g->file, g->line, g->col ? g->col : 1, sev,
			        g->msg);
		else if (g->file)
			fprintf(out, "%s: %s: %s\n", g->file, sev, g->msg);
		else
			fprintf(out, "%s: %s\n", sev, g->msg);
	}
}

void diags_free(struct diags *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].msg);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}

int parse_duration(const char *s, int64_t *ns)
{
	if (!s || !*s)
		return -1;
	const char *p = s;
	int64_t total = 0;
	bool any = false;
	while (*p) {
		if (!isdigit((unsigned char)*p) && *p != '.')
			return -1;
		char *end;
		errno = 0;
		double v = strtod(p, &end);
		if (end == p || errno || v < 0)
			return -1;
		p = end;
		int64_t unit;
		if (strncmp(p, "ms", 2) == 0) {
			unit = NS_PER_MS;
			p += 2;
		} else if (*p == 's') {
			unit = NS_PER_SEC;
			p++;
		} else if (*p == 'm') {
			unit = 60 * NS_PER_SEC;
			p++;
		} else if (*p == 'h') {
			unit = 3600 * NS_PER_SEC;
			p++;
		} else if (*p == 'd') {
			unit = 86400 * NS_PER_SEC;
			p++;
		} else if (*p == '\0' && !any) {
			unit = NS_PER_SEC; /* a bare number is seconds */
		} else {
			return -1;
		}
		double part = v * (double)unit;
		if (part > (double)INT64_MAX / 2 || (double)total + part > (double)INT64_MAX / 2)
			return -1;
		total += (int64_t)part;
		any = true;
	}
	*ns = total;
	return 0;
}

void format_duration(int64_t ns, char *out, size_t outsz)
{
	if (ns < 0)
		ns = 0;
	int64_t s = ns / NS_PER_SEC;
	if (ns < 60 * NS_PER_SEC) {
		if (ns % NS_PER_SEC == 0)
			snprintf(out, outsz, "%llds", (long long)s);
		else
			snprintf(out, outsz, "%.3gs", (double)ns / (double)NS_PER_SEC);
		return;
	}
	int64_t d = s / 86400, h = s % 86400 / 3600, m = s % 3600 / 60, sec = s % 60;
	size_t o = 0;
	out[0] = '\0';
	if (d && o < outsz)
		o += (size_t)snprintf(out + o, outsz - o, "%lldd", (long long)d);
	if (h && o < outsz)
		o += (size_t)snprintf(out + o, outsz - o, "%lldh", (long long)h);
	if (m && o < outsz)
		o += (size_t)snprintf(out + o, outsz - o, "%lldm", (long long)m);
	if (sec && !d && o < outsz)
		snprintf(out + o, outsz - o, "%llds", (long long)sec);
}

const char *memmem_nocase(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
	if (nlen == 0)
		return hay;
	if (nlen > hlen)
		return NULL;
	int f0 = tolower((unsigned char)needle[0]);
	for (size_t i = 0; i + nlen <= hlen; i++) {
		if (tolower((unsigned char)hay[i]) != f0)
			continue;
		size_t k = 1;
		while (k < nlen && tolower((unsigned char)hay[i + k]) == tolower((unsigned char)needle[k]))
			k++;
		if (k == nlen)
			return hay + i;
	}
	return NULL;
}

int exec_resolve(const char *prog, struct buf *out)
{
	struct stat st;
	buf_reset(out);
	if (strchr(prog, '/')) {
		if (stat(prog, &st) < 0)
			return -errno;
		if (!S_ISREG(st.st_mode) || access(prog, X_OK) < 0)
			return -EACCES;
		buf_append(out, prog, strlen(prog));
		return 0;
	}
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	int err = -ENOENT;
	for (const char *p = path;; p++) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		buf_reset(out);
		if (len)
			buf_append(out, p, len);
		else
			buf_putc(out, '.'); /* an empty PATH entry is the current directory */
		buf_printf(out, "/%s", prog);
		if (stat(out->data, &st) == 0 && S_ISREG(st.st_mode)) {
			if (access(out->data, X_OK) == 0)
				return 0;
			err = -EACCES; /* keep looking; report this if nothing else is found */
		}
		if (!end)
			break;
		p = end;
	}
	buf_reset(out);
	return err;
}

void spawn_child_init(posix_spawn_file_actions_t *fa, posix_spawnattr_t *at)
{
	posix_spawn_file_actions_init(fa);
	posix_spawnattr_init(at);
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(at, &none);
	posix_spawnattr_setsigdefault(at, &all);
	posix_spawnattr_setpgroup(at, 0);
	posix_spawnattr_setflags(at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
}
