/*
 * share_access.c — who reaches a shared console and who may write to it
 * (share_priv.h): the socket file (its directory, a stale socket replaced,
 * mode and group) and the writers of share.writers.
 *
 * A socket path is only ever replaced when it is a socket nobody answers on;
 * a live socket is another watcher's, anything else is someone's file.
 */
#define _GNU_SOURCE
#include "share_priv.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define SHARE_BACKLOG 64

/* --- writers ------------------------------------------------------------- */

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static int resolve_group(const char *name, gid_t *out)
{
	if (all_digits(name)) {
		*out = (gid_t)strtoul(name, NULL, 10);
		return 0;
	}
	struct group *g = getgrnam(name);
	if (!g)
		return -1;
	*out = g->gr_gid;
	return 0;
}

int share_writers_resolve(const struct share_opts *o, struct share_writer **out, size_t *n, char *err,
                          size_t errsz)
{
	struct share_writer *v = xcalloc(o->nwriters ? o->nwriters : 1, sizeof(*v));
	for (size_t i = 0; i < o->nwriters; i++) {
		const char *w = o->writers[i];
		if (strncmp(w, "group:", 6) == 0) {
			gid_t g;
			if (resolve_group(w + 6, &g) < 0) {
				errbuf_set(err, errsz, "share.writers: no such group '%s'", w + 6);
				free(v);
				return -1;
			}
			v[i].group = true;
			v[i].id = (unsigned)g;
		} else if (all_digits(w)) {
			v[i].id = (unsigned)strtoul(w, NULL, 10);
		} else {
			struct passwd *pw = getpwnam(w);
			if (!pw) {
				errbuf_set(err, errsz, "share.writers: no such user '%s'", w);
				free(v);
				return -1;
			}
			v[i].id = (unsigned)pw->pw_uid;
		}
	}
	*out = v;
	*n = o->nwriters;
	return 0;
}

/* The supplementary groups of pid, from /proc (SO_PEERCRED has only the
 * primary one). */
static bool pid_in_group(pid_t pid, gid_t g)
{
	if (pid <= 0)
		return false;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	char line[4096];
	bool found = false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "Groups:", 7) != 0)
			continue;
		char *p = line + 7, *end;
		for (;;) {
			errno = 0;
			unsigned long v = strtoul(p, &end, 10);
			if (end == p || errno)
				break;
			if ((gid_t)v == g)
				found = true;
			p = end;
		}
		break;
	}
	fclose(f);
	return found;
}

bool share_is_writer(const struct share_writer *w, size_t n, uid_t uid, gid_t gid, pid_t pid)
{
	if (uid == 0 || uid == geteuid())
		return true;
	for (size_t i = 0; i < n; i++) {
		if (!w[i].group && uid == (uid_t)w[i].id)
			return true;
		if (w[i].group && (gid == (gid_t)w[i].id || pid_in_group(pid, (gid_t)w[i].id)))
			return true;
	}
	return false;
}

/* --- the socket file ----------------------------------------------------- */

/* mkdir -p; the directories made here get 0755 whatever the umask. */
static int make_dir(const char *dir, char *err, size_t errsz)
{
	char *p = xstrdup(dir);
	int rc = 0;
	for (char *q = p + 1;; q++) {
		if (*q != '/' && *q != '\0')
			continue;
		char save = *q;
		*q = '\0';
		if (mkdir(p, 0755) == 0) {
			/* failing leaves a stricter mode: it only limits who attaches */
			(void)chmod(p, 0755);
		} else if (errno != EEXIST) {
			errbuf_set(err, errsz, "cannot create the socket directory %s: %s", p,
			           strerror(errno));
			rc = -1;
			break;
		}
		*q = save;
		if (!save)
			break;
	}
	free(p);
	struct stat st;
	if (rc == 0 && (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))) {
		errbuf_set(err, errsz, "the socket directory %s is not a directory", dir);
		rc = -1;
	}
	return rc;
}

/* What is at path already: 0 when nothing (or a stale socket, removed),
 * -1 with the reason when it must not be replaced. */
static int clear_path(const char *name, const struct sockaddr_un *sa, char *err, size_t errsz)
{
	const char *path = sa->sun_path;
	struct stat st;
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		errbuf_set(err, errsz, "cannot look at %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		errbuf_set(err, errsz, "%s exists and is not a socket; not replacing it", path);
		return -1;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		errbuf_set(err, errsz, "socket: %s", strerror(errno));
		return -1;
	}
	int rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	int e = errno;
	close(fd);
	/* A full backlog (EAGAIN) still means someone listens. */
	if (rc == 0 || e == EAGAIN || e == EINPROGRESS) {
		errbuf_set(err, errsz, "another watcher already serves %s on %s", name, path);
		return -1;
	}
	if (e != ECONNREFUSED) {
		errbuf_set(err, errsz, "cannot tell whether %s is in use: %s", path, strerror(e));
		return -1;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		errbuf_set(err, errsz, "cannot remove the stale socket %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int share_sock_open(struct share_sock *ss, const char *name, const char *dir, const char *path,
                    const struct share_opts *o, char *err, size_t errsz)
{
	memset(ss, 0, sizeof(*ss));
	ss->fd = -1;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path)) {
		errbuf_set(err, errsz,
		           "the socket path %s is too long (%zu bytes; a unix socket path has at most %zu): "
		           "give a shorter share.dir",
		           path, strlen(path), sizeof(sa.sun_path) - 1);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	gid_t gid = (gid_t)-1;
	if (o->group && resolve_group(o->group, &gid) < 0) {
		errbuf_set(err, errsz, "share.group: no such group '%s'", o->group);
		return -1;
	}
	if (make_dir(dir, err, errsz) < 0 || clear_path(name, &sa, err, errsz) < 0)
		return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		errbuf_set(err, errsz, "socket: %s", strerror(errno));
		return -1;
	}
	/* Born owner-only, then opened up to the mode asked for: nobody gets
	 * in through the umask's default while the group is being set. */
	mode_t old = umask(0177);
	int rc = bind(fd, (const struct sockaddr *)&sa, sizeof(sa));
	int e = errno;
	umask(old);
	if (rc < 0) {
		if (e == EADDRINUSE)
			errbuf_set(err, errsz, "another watcher already serves %s on %s", name, path);
		else
			errbuf_set(err, errsz, "cannot bind %s: %s", path, strerror(e));
		close(fd);
		return -1;
	}
	struct stat st;
	if (lstat(path, &st) < 0) {
		errbuf_set(err, errsz, "the socket %s went away: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) < 0) {
		errbuf_set(err, errsz, "cannot give %s to group %s: %s", path, o->group, strerror(errno));
		goto unbind;
	}
	if (chmod(path, o->mode ? (mode_t)o->mode : 0660) < 0) {
		errbuf_set(err, errsz, "cannot chmod %s: %s", path, strerror(errno));
		goto unbind;
	}
	if (listen(fd, SHARE_BACKLOG) < 0) {
		errbuf_set(err, errsz, "cannot listen on %s: %s", path, strerror(errno));
		goto unbind;
	}
	ss->fd = fd;
	ss->dev = st.st_dev;
	ss->ino = st.st_ino;
	return 0;
unbind:
	unlink(path);
	close(fd);
	return -1;
}

void share_sock_unlink(const struct share_sock *ss, const char *path)
{
	struct stat st;
	if (ss->ino && lstat(path, &st) == 0 && st.st_dev == ss->dev && st.st_ino == ss->ino)
		unlink(path);
}
