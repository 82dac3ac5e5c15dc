/*
 * attach.h — the engineer at the COM port (issue 6): what `emsagent
 * attach` does with keys, console bytes and events, apart from where they
 * come from and go.
 *
 * Owns: the escape-key state machine and the one command table (`?` help,
 * the README's key table and `emsagent attach --keys` are generated from
 * it), questions (y/N, the SysRq key), inline notices (queued until the
 * console is between lines; a prompt left half-drawn for a second gets the
 * notice on a line of its own and is drawn again under it), the paced input
 * queue (--char-delay, --line-delay), the screen's and the log's
 * timestamps, the --log file and the --events file.
 * Borrows (struct attach_io): writing to the port, requests to whoever
 * holds the port (a console here, or the watcher over its socket), the
 * user's terminal, a timer, and quitting. It never reads a clock for
 * deadlines (the caller passes the loop's time) and never blocks except on
 * writing the terminal and its own files.
 *
 * Console text is untrusted: notices strip control bytes from everything
 * they show, are bounded, and no console byte can run a command — commands
 * come only from the user's keys after the escape key.
 */
#ifndef EMSAGENT_ATTACH_H
#define EMSAGENT_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct json_object;

#define ATTACH_ESCAPE_DEFAULT 0x1d         /* Ctrl-] */
#define ATTACH_QUEUE_HIGH     (64u * 1024) /* stop reading stdin above this */
#define ATTACH_QUEUE_MAX      (1024u * 1024)

struct attach_io {
	void *ctx;
	/* Bytes for the port: 0, -EAGAIN (try again shortly), -errno. */
	int (*port_write)(void *ctx, const void *buf, size_t n);
	/* A request ("break", "sysrq", "nmi", "dump", "restart", "channels",
	 * "status"); arg may be NULL. 0 and attach_reply later (or during the
	 * call), or -1 with the reason in err. */
	int (*request)(void *ctx, const char *op, const char *arg, char *err, size_t errsz);
	/* To the user's terminal (stdout). */
	void (*out)(void *ctx, const void *buf, size_t n);
	/* Call attach_tick at deadline (monotonic ns); INT64_MAX: none. */
	void (*set_timer)(void *ctx, int64_t deadline);
	/* The user asked to leave, or stdin ended and everything went out. */
	void (*quit)(void *ctx, int status);
};

struct attach_cfg {
	const char *name;    /* the console, for prompts and the default log name */
	const char *machine; /* how `n`/`d`/`r` name the machine: "vm1 (qmp:/run/vm1.qmp)" */
	int escape;          /* the escape byte, or -1 for none */
	bool listen_only;    /* nothing typed reaches the port */
	bool quiet_alerts;   /* no inline notices of events */
	bool color;          /* notices in colour (the caller checks NO_COLOR and isatty) */
	bool timestamps;     /* stamp lines on the screen and in the log */
	int64_t char_delay_ns, line_delay_ns;
	const char *log_path;    /* --log: opened at start; `l` toggles */
	const char *events_path; /* --events: every event as a JSON line */
};

struct attach;

/* NULL with the reason in err (a log or events file that cannot be opened). */
struct attach *attach_new(const struct attach_cfg *cfg, const struct attach_io *io, char *err, size_t errsz);
void attach_free(struct attach *a);

/* The user's keys (stdin), as read. */
void attach_keys(struct attach *a, const void *buf, size_t n, int64_t now);
/* stdin ended: quit once the input queue has gone out (after linger_ns of
 * further output), or at once when there is nothing to send. */
void attach_keys_eof(struct attach *a, int64_t now, int64_t linger_ns);
/* The console's bytes, as read. */
void attach_console(struct attach *a, const void *buf, size_t n, int64_t now);
/* An event of the console (event_to_json's object; borrowed). */
void attach_event(struct attach *a, struct json_object *ev, int64_t now);
/* The answer to a request made through io.request. output may be NULL;
 * status: the "status" object (borrowed) or NULL. */
void attach_reply(struct attach *a, const char *op, bool ok, const char *reason, const char *output,
                  struct json_object *status);
/* Something to tell the user (connected, lost, read-only…): a notice. */
void attach_notice(struct attach *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The deadline asked for through io.set_timer has come. */
void attach_tick(struct attach *a, int64_t now);
/* The paced queue is above ATTACH_QUEUE_HIGH: stop reading stdin. */
bool attach_input_full(const struct attach *a);
/* The notices still queued go out now (before quitting). */
void attach_flush_notices(struct attach *a);

/* "Ctrl-]", "Ctrl-A", "none"; and the reverse for --escape (^X, C-x,
 * ctrl-x, none): 0 or -1. */
void attach_escape_name(int escape, char *out, size_t outsz);
int attach_escape_parse(const char *s, int *escape);
/* The key table (key, what it does), one line each: for --keys and `?`. */
void attach_write_keys(FILE *out, int escape);

#endif
