/*
 * util.h — small shared helpers: checked allocation, growable byte buffers,
 * diagnostics with file:line:col, durations.
 *
 * Allocation failure aborts (there is no sane recovery for a console agent
 * that cannot allocate a few bytes); nothing here ever calls exit().
 */
#ifndef EMSAGENT_UTIL_H
#define EMSAGENT_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define NS_PER_SEC   INT64_C(1000000000)
#define NS_PER_MS    INT64_C(1000000)

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
/* Grows *v (element size esz, capacity *cap) to hold at least need elements. */
void xgrow(void **v, size_t *cap, size_t need, size_t esz);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Formats a one-line reason into a caller's err buffer (nothing when err is
 * NULL or errsz 0): the usual way modules report why something failed. */
void errbuf_set(char *err, size_t errsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Growable byte buffer; always NUL-terminated after any append. */
struct buf {
	char *data;
	size_t len, cap;
};
void buf_append(struct buf *b, const void *p, size_t n);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_reset(struct buf *b);
void buf_free(struct buf *b);

/* Diagnostics: errors and warnings that point at a place in a file. */
enum diag_sev { DIAG_ERROR, DIAG_WARNING };
struct diag {
	enum diag_sev sev;
	char *file;         /* may be NULL */
	unsigned line, col; /* 1-based; 0 = unknown */
	char *msg;
};
struct diags {
	struct diag *v;
	size_t n, cap;
	size_t nerrors, nwarnings;
};
void diags_add(struct diags *d, enum diag_sev sev, const char *file, unsigned line, unsigned col,
               const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void diags_vadd(struct diags *d, enum diag_sev sev, const char *file, unsigned line, unsigned col,
                const char *fmt, va_list ap) __attribute__((format(printf, 6, 0)));
/* Prints "file:line:col: error: msg" lines, one per diagnostic. */
void diags_print(const struct diags *d, FILE *out);
void diags_free(struct diags *d);

/*
 * Durations: "250ms", "30s", "15m", "8h", "1d", "1h30m", or a bare number of
 * seconds. Returns 0 and sets *ns, or -1 on a malformed string.
 */
int parse_duration(const char *s, int64_t *ns);
/* Formats a duration compactly ("31m", "1h5m", "2.5s") into out. */
void format_duration(int64_t ns, char *out, size_t outsz);

/* Finds a program as execvp would (a name with '/' as is, else along PATH,
 * an empty entry meaning the current directory): 0 with its path in out,
 * or -ENOENT, -EACCES (found but not runnable) or another -errno. Looking
 * before forking gives "not found" as a reason instead of a child's 127. */
int exec_resolve(const char *prog, struct buf *out);

/* How every child of the agent starts (exec actions, control-plane tools):
 * default signal dispositions, nothing blocked, its own process group (so
 * a timeout can stop what it started). Initialises both objects; the caller
 * adds its stdio, then addclosefrom_np(3) so no other fd of the agent's goes
 * along, and destroys them. */
#include <spawn.h>
void spawn_child_init(posix_spawn_file_actions_t *fa, posix_spawnattr_t *at);

/* Case-insensitive (ASCII) memmem; NULL when not found. */
const char *memmem_nocase(const char *hay, size_t hlen, const char *needle, size_t nlen);

#endif
