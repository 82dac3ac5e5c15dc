/*
 * share.h — one console served to the people attached through the watcher
 * (issue 6): `emsagent watch` listens on a unix socket per console
 * (DIR/NAME.sock) and `emsagent attach NAME` connects to it instead of
 * opening the device the watcher holds.
 *
 * The wire: frames of a 4-byte header — the type (one byte) and the payload
 * length (3 bytes, big-endian, at most SHARE_MAX_FRAME) — then the payload.
 *
 *   client → watcher
 *     'h' hello    JSON {"proto":1,"rw":BOOL,"replay":BYTES}: first, once
 *     'i' input    bytes for the port (refused unless the hello got rw)
 *     'q' request  JSON {"id":N,"op":"break"|"sysrq"|"nmi"|"dump"|"restart"|
 *                  "channels"|"status","arg":STRING?}
 *   watcher → client
 *     'H' hello    JSON {"proto":1,"console":NAME,"port":PORT,"rw":BOOL,
 *                  "rw_refused":REASON?,"replay":BYTES}; then the replay
 *     'D' data     console bytes as read (the replay first, then live)
 *     'E' event    one event of the console as JSON (event_to_json)
 *     'R' reply    JSON {"id":N,"ok":BOOL,"reason":STRING?,"output":STRING?,
 *                  "status":OBJECT?}: the answer to request N
 *     'S' skipped  JSON {"bytes":N,"frames":N}: what this client missed
 *                  because it did not read fast enough
 *     'X' bye      JSON {"reason":STRING}: the watcher is closing this
 *                  console (stopping, reloading); the socket closes after
 *
 * Writing: a client gets rw only when it asks and its peer credentials
 * (SO_PEERCRED) name a writer: root, the watcher's own user, or a user or
 * group listed in share.writers. Everything else is read-only: its 'i'
 * frames are dropped and its dangerous requests refused (never executed).
 * A client that does not read is never waited for: its queue is bounded,
 * what does not fit is counted and reported with 'S' when it drains.
 */
#ifndef EMSAGENT_SHARE_H
#define EMSAGENT_SHARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "emsagent/util.h"

#define SHARE_PROTO          1
#define SHARE_MAX_FRAME      65536u
#define SHARE_HDR            4u
#define SHARE_DEFAULT_REPLAY 4096u
#define SHARE_MAX_REPLAY     (1024u * 1024u)

enum share_frame {
	SHARE_C_HELLO = 'h',
	SHARE_C_INPUT = 'i',
	SHARE_C_REQUEST = 'q',
	SHARE_S_HELLO = 'H',
	SHARE_S_DATA = 'D',
	SHARE_S_EVENT = 'E',
	SHARE_S_REPLY = 'R',
	SHARE_S_SKIPPED = 'S',
	SHARE_S_BYE = 'X',
};

/* Appends one frame to out (payloads over SHARE_MAX_FRAME are split by the
 * caller; share_put asserts they are not). */
void share_put(struct buf *out, char type, const void *payload, size_t len);

/* Incremental decoder: feed it what the socket gave, get whole frames. */
struct share_rx {
	uint8_t hdr[SHARE_HDR];
	size_t have_hdr;
	uint8_t *payload; /* SHARE_MAX_FRAME + 1 bytes (a NUL after the payload) */
	size_t len, have;
	char type;
};
typedef void (*share_frame_fn)(void *ctx, char type, const uint8_t *payload, size_t len);
void share_rx_init(struct share_rx *rx);
void share_rx_free(struct share_rx *rx);
/* Calls fn for every frame completed by buf (payload NUL-terminated).
 * 0, or -1 on a malformed stream (a length over SHARE_MAX_FRAME or a
 * type outside 'A'..'z') with the reason in err; then stop reading. fn
 * returning is the only way frames are consumed; it may not free rx. */
int share_rx_feed(struct share_rx *rx, const void *buf, size_t n, share_frame_fn fn, void *ctx, char *err,
                  size_t errsz);

/* Where the sockets live by default: /run/emsagent for root, else
 * $XDG_RUNTIME_DIR/emsagent, else /tmp/emsagent-UID. EMSAGENT_SHARE_DIR
 * overrides all of them. Returns a static string. */
const char *share_default_dir(void);

/*
 * The server: one per console, owned by the watcher.
 */
struct console;
struct loop;

struct share_opts {
	char *dir;        /* NULL: share_default_dir() */
	unsigned mode;    /* socket file mode, default 0660 */
	char *group;      /* socket file group, NULL: unchanged */
	char **writers;   /* "alice", "1000", "group:ops" */
	size_t nwriters;  /* none: root and the watcher's user */
	size_t replay;    /* bytes kept for replay, default SHARE_DEFAULT_REPLAY */
	size_t max_queue; /* per client, default 1 MiB */
	bool off;         /* share: off */
};

struct share;

/* Creates DIR (0755) if needed and listens on DIR/NAME.sock; a stale
 * socket (nobody listening) is replaced, a live one is an error ("another
 * watcher serves NAME"). NULL with the reason in err. */
struct share *share_new(struct loop *l, struct console *c, const struct share_opts *o, char *err,
                        size_t errsz);
/* The socket's path. */
const char *share_path(const struct share *s);
size_t share_clients(const struct share *s);
/* Says 'X' bye (reason) to every client, closes them and removes the socket. */
void share_free(struct share *s, const char *reason);

#endif
