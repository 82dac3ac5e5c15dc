/*
 * transport.h — a console's byte pipe, whatever it is (design §5): one
 * table of operations, implemented once per kind in transport_<kind>.c; the
 * loop never knows which kind it holds.
 *
 * URLs: /dev/ttyS0, /dev/ttyUSB0, serial:PATH (libserialport);
 * /dev/pts/N, pty:PATH (termios, raw); tcp:HOST:PORT; unix:PATH;
 * telnet:HOST:PORT (options, IAC escaping, IAC BRK, RFC 2217 when offered);
 * exec:COMMAND (a child's stdio through a socketpair; argv split like a
 * shell's words but never run by a shell); file:PATH and "-" (read-only
 * replay). A bare path is a serial device, or a pty when under /dev/pts/.
 *
 * Lifecycle: transport_parse (syntax only; errors say what is wrong with the
 * URL) → transport_open (non-blocking fd, exclusive where the kind allows;
 * may fail with -ENOENT for a device not there yet: the console retries) →
 * read/write when the loop says → transport_close → transport_free.
 * All I/O is non-blocking: read returns -EAGAIN when nothing is there and 0
 * when the peer is gone.
 */
#ifndef EMSAGENT_TRANSPORT_H
#define EMSAGENT_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum transport_flow { FLOW_NONE, FLOW_XONXOFF, FLOW_RTSCTS };

struct transport_opts {
	unsigned baud;      /* default 115200 */
	unsigned data_bits; /* 5..8, default 8 */
	char parity;        /* 'n', 'e', 'o', 'm', 's'; default 'n' */
	unsigned stop_bits; /* 1 or 2 */
	enum transport_flow flow;
	bool replay_realtime; /* file: pace by the capture's time index */
};
void transport_opts_default(struct transport_opts *o);

enum transport_caps {
	TRANSPORT_CAN_WRITE = 1u << 0,
	TRANSPORT_CAN_BREAK = 1u << 1, /* a BREAK really reaches the peer */
	TRANSPORT_IS_DEVICE = 1u << 2, /* reopen on loss makes sense (devices, sockets, exec) */
	TRANSPORT_IS_REPLAY = 1u << 3, /* end of input is the end (file, -) */
};

struct transport;

struct transport_ops {
	const char *kind;
	unsigned caps;
	int (*open)(struct transport *t);                          /* 0 or -errno; sets t->fd */
	ssize_t (*read)(struct transport *t, void *buf, size_t n); /* >0, 0 = gone, -errno */
	ssize_t (*write)(struct transport *t, const void *buf, size_t n);
	int (*send_break)(struct transport *t, unsigned ms); /* 0 or -errno (-ENOTSUP) */
	void (*close)(struct transport *t);
};

struct transport {
	const struct transport_ops *ops;
	char *url;    /* as given */
	char *target; /* the part after the scheme: path, host:port, command */
	struct transport_opts opts;
	int fd;    /* -1 when closed */
	pid_t pid; /* exec: the child, for the loop to watch; else 0 */
	void *priv;
	char err[256]; /* the last error, for people: "/dev/ttyS0 is in use by pid 123 (minicom)" */
};

/* Returns 0, or -1 with a one-line reason in err. */
int transport_parse(const char *url, const struct transport_opts *o, struct transport **out, char *err,
                    size_t errsz);
int transport_open(struct transport *t);
ssize_t transport_read(struct transport *t, void *buf, size_t n);
/* Writes all of buf or fails; short writes on a non-blocking fd are retried
 * by polling briefly (at most ~100 ms in all) — callers queue large writes
 * themselves. transport_write(t, NULL, 0) pushes out bytes a kind held back
 * (telnet: the second byte of an escape pair when the socket filled). */
ssize_t transport_write(struct transport *t, const void *buf, size_t n);
int transport_send_break(struct transport *t, unsigned ms);
void transport_close(struct transport *t);
void transport_free(struct transport *t);
unsigned transport_caps(const struct transport *t);

/*
 * Helpers of the local kinds, public for the console and for tests.
 *
 * file: with replay_realtime — the monotonic time (ns) at which the next
 * chunk of the capture is due (its fd becomes readable then, too); 0 when a
 * read would not wait (not paced, data due now, or not a file: transport).
 */
int64_t transport_file_next_due(struct transport *t);
/* exec: splits COMMAND into words like a shell ('…', "…", backslash) but
 * expands nothing and refuses unquoted shell operators (| & ; < > ( ) `).
 * 0 and a NULL-terminated *argv (free with transport_exec_argv_free), or -1
 * with a reason in err. */
int transport_exec_split(const char *command, char ***argv, char *err, size_t errsz);
void transport_exec_argv_free(char **argv);
/* Which process has the device at path open (any fd but skip_fd of our own
 * process): 1 with *pid and its command name, 0 if none seen, -errno. */
int transport_find_holder(const char *path, int skip_fd, pid_t *pid, char *comm, size_t commsz);

#endif
