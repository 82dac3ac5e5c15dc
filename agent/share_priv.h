/*
 * share_priv.h — between the share server (share.c) and who may reach it
 * (share_access.c): the socket file with its directory, mode and group, and
 * the writers named by share.writers, resolved once to ids.
 */
#ifndef EMSAGENT_SHARE_PRIV_H
#define EMSAGENT_SHARE_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "emsagent/share.h"

struct share_writer {
	bool group; /* id is a gid; else a uid */
	unsigned id;
};

/* share.writers as ids (user and group names looked up now, so the loop
 * never asks NSS anything). 0, or -1 with the unknown name in err. */
int share_writers_resolve(const struct share_opts *o, struct share_writer **out, size_t *n, char *err,
                          size_t errsz);
/* Root, the watcher's own user, or a listed uid or group (the peer's
 * primary gid or a supplementary group of pid, from /proc). */
bool share_is_writer(const struct share_writer *w, size_t n, uid_t uid, gid_t gid, pid_t pid);

/* The socket file that the server listens on. */
struct share_sock {
	int fd; /* listening, non-blocking, close-on-exec */
	dev_t dev;
	ino_t ino;
};
/* Creates dir (0755) when missing, replaces a stale socket at path (never a
 * live one, never another kind of file), binds, sets o->mode and o->group,
 * listens. name is the console's, for the messages. 0, or -1 with the
 * reason in err and nothing left behind. */
int share_sock_open(struct share_sock *ss, const char *name, const char *dir, const char *path,
                    const struct share_opts *o, char *err, size_t errsz);
/* Removes path only while it is still the file share_sock_open made. */
void share_sock_unlink(const struct share_sock *ss, const char *path);

#endif
