/*
 * sac.h — the agent's client for the Windows Special Administration Console
 * (design §9; byte-level reference: ../shared/docs/sac-ems.md).
 *
 * One client per console. It owns a normaliser of its own (so prompts that
 * never end in a newline — SAC>, !SAC>, Username: , Password: , the paging
 * prompt, C:\...> — are seen at once), the SAC state read from the stream
 * (prompt seen, CMD available, crashed at !SAC>, channel list, current
 * channel, locked, the last machine-info) and at most one running operation.
 * It never blocks and never reads a clock: the caller feeds it the console's
 * bytes with their time (sac_feed), writes what it asks to write (env.send),
 * and calls sac_tick when the deadline it asked for (env.set_timer) comes.
 * In the agent those are the loop's fd callback and a loop timer; in tests a
 * fake clock and the simulator, in-process.
 *
 * Operations (one at a time; another one while one runs fails with
 * SAC_ERR_BUSY): sac_run (a SAC command: its output up to the next prompt,
 * paging answered, the echoed command line removed), sac_cmd_open (`cmd`,
 * then the new channel's name), sac_cmd_login (switch into a cmd channel and
 * log in), sac_cmd_run (a command in that channel: its output up to the next
 * C:\...> prompt), sac_cmd_close (`exit`, or `ch -ci N` from SAC when that
 * does not work). Before each, a console with no prompt showing is woken with
 * CR, and a lost prompt is recovered with Esc Tab 0 and CR. Typed input is
 * paced (SAC's input ring is 1 KiB, and some guests drop fast repeated keys).
 * Each operation ends with exactly one call of its done callback (also when
 * the client is freed: SAC_ERR_CANCELLED), never from inside the call that
 * started it. Callbacks (done, emit) may start the next operation; they must
 * not free the client.
 *
 * Passwords: struct sac_secret, read from a 0600 file owned by the user or
 * from an environment variable. The client types it and wipes its copies;
 * it appears in no event, result, error message or trace.
 */
#ifndef EMSAGENT_SAC_H
#define EMSAGENT_SAC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "emsagent/ems.h"
#include "emsagent/event.h"

enum sac_err {
	SAC_OK = 0,
	SAC_ERR_NO_CMD_SERVICE, /* "Unable to launch a Command Prompt" (service not registered / timed out) */
	SAC_ERR_CMD_FAILED,     /* "The SAC Command Console session failed to be created." */
	SAC_ERR_CMD_DISABLED,   /* "Launching of Command Prompt channels is disabled." */
	SAC_ERR_MAX_CHANNELS,   /* "The maximum number of channels has been reached." */
	SAC_ERR_CHANNEL_NOT_FOUND,   /* "Error: Could not find a channel with that name." */
	SAC_ERR_NO_CHANNEL_AT_INDEX, /* "Error: There is no channel present at the specified index." */
	SAC_ERR_AUTH,                /* "Unable to authenticate" */
	SAC_ERR_COMMAND,             /* SAC did not accept the command (unrecognized, bad parameter) */
	SAC_ERR_TIMEOUT,             /* the expected prompt or text never came */
	SAC_ERR_CRASHED,             /* the machine is at !SAC> (bugchecked) */
	SAC_ERR_NOT_SAC,             /* no SAC prompt even after waking and recovery */
	SAC_ERR_BUSY,                /* another operation is running */
	SAC_ERR_NOT_LOGGED_IN,       /* cmd_run without a logged-in cmd channel */
	SAC_ERR_LOCKED,              /* the cmd channel asks for credentials again (lock / timeout) */
	SAC_ERR_SEND,                /* writing to the console failed */
	SAC_ERR_INVALID,             /* bad argument (empty or too long command, bad name) */
	SAC_ERR_CANCELLED,           /* the client was freed while the operation ran */
	SAC_ERR_FAILED,              /* SAC ran the command and reported a failure ("SAC failed to ...") */
	SAC_ERR__COUNT
};
const char *sac_strerror(enum sac_err e);
/* A short stable name ("timeout", "max_channels") for JSON and events. */
const char *sac_err_name(enum sac_err e);

/* A password; never printed. Load with sac_secret_from_file/env, wipe with
 * sac_secret_clear. */
struct sac_secret {
	char pw[256];
	size_t len;
};
/* The file must be a regular file owned by the caller's uid with no group or
 * other permission bits (0600 or 0400). The first line is the password (a
 * trailing CR/LF is removed). 0, or -1 with the reason in err (never the
 * password). */
int sac_secret_from_file(const char *path, struct sac_secret *s, char *err, size_t errsz);
/* The value of environment variable var. 0, or -1 with the reason. */
int sac_secret_from_env(const char *var, struct sac_secret *s, char *err, size_t errsz);
void sac_secret_clear(struct sac_secret *s);

#define SAC_DEFAULT_CHAR_DELAY_NS   (2 * INT64_C(1000000))    /* 2 ms between typed bytes */
#define SAC_DEFAULT_REPEAT_DELAY_NS (0)                       /* extra wait before a repeated byte */
#define SAC_DEFAULT_WAKE_NS         (3 * INT64_C(1000000000)) /* how long a wake CR waits for a prompt */
#define SAC_MAX_OUTPUT              (1024 * 1024)             /* output kept per operation */
#define SAC_MAX_CHANNELS            16
#define SAC_NAME_MAX                64
#define SAC_CMD_MAX                 1000 /* longest command typed (SAC's ring is 1 KiB) */

/* What the console lends the client. */
struct sac_env {
	void *ctx;
	const char *console; /* for events; may be NULL */
	/* Writes bytes to the console: 0 or -errno. */
	int (*send)(void *ctx, const void *buf, size_t n);
	/* The client wants sac_tick at deadline_ns (monotonic, the feed's
	 * clock); INT64_MAX cancels. Each call replaces the previous one. */
	void (*set_timer)(void *ctx, int64_t deadline_ns);
	/* sac.* events (and ems.* when emit_ems); may be NULL. */
	void (*emit)(void *ctx, const struct event *ev);
	bool emit_ems;           /* also emit ems.machine_info / ems.bugcheck */
	int64_t char_delay_ns;   /* < 0: default */
	int64_t repeat_delay_ns; /* < 0: default; 1.5 s suits guests that debounce keys */
	int64_t wake_ns;         /* <= 0: default */
};

struct sac_result {
	enum sac_err err;
	const char *output; /* NUL-terminated, lines joined by \n; "" if none */
	size_t output_len;
	bool output_truncated;
	const char *channel; /* sac_cmd_open: the new channel's name; else NULL */
	const char *detail;  /* the guest's own error line, or how a timeout happened; NULL if none */
};
/* Pointers in r are valid only during the call. */
typedef void (*sac_done_fn)(void *ctx, const struct sac_result *r);

struct sac;

struct sac *sac_new(const struct sac_env *env);
/* Cancels a running operation (its callback gets SAC_ERR_CANCELLED). */
void sac_free(struct sac *c);
/* Raw console bytes as received, with the time they arrived. */
void sac_feed(struct sac *c, const void *buf, size_t n, int64_t now);
/* The deadline asked for through set_timer has come (early calls are harmless). */
void sac_tick(struct sac *c, int64_t now);

/* A SAC command ("t", "ch -?", "i"). timeout_ns bounds the whole
 * operation. Returns SAC_OK (done will be called) or an error (it will not). */
enum sac_err sac_run(struct sac *c, const char *command, int64_t timeout_ns, sac_done_fn done, void *ctx,
                     int64_t now);
/* `cmd`; r->channel is the new channel's name. */
enum sac_err sac_cmd_open(struct sac *c, int64_t timeout_ns, sac_done_fn done, void *ctx, int64_t now);
/* Switches into channel (ch -sn) and logs in; domain may be NULL or "". */
enum sac_err sac_cmd_login(struct sac *c, const char *channel, const char *user, const char *domain,
                           const struct sac_secret *password, int64_t timeout_ns, sac_done_fn done, void *ctx,
                           int64_t now);
/* A command in the logged-in cmd channel; output up to the next prompt. */
enum sac_err sac_cmd_run(struct sac *c, const char *command, int64_t timeout_ns, sac_done_fn done, void *ctx,
                         int64_t now);
/* Closes channel (exit when we are in it, else ch -ci from SAC). */
enum sac_err sac_cmd_close(struct sac *c, const char *channel, int64_t timeout_ns, sac_done_fn done,
                           void *ctx, int64_t now);

/* What the client knows about the console. */
struct sac_state {
	bool ready;         /* a SAC> prompt was seen since SAC last started */
	bool at_prompt;     /* the last thing shown is a SAC> prompt */
	bool cmd_available; /* the CMD event was seen (or a cmd channel was created) */
	bool crashed;       /* !SAC> or a bugcheck record since SAC last started */
	bool locked;        /* "Locked access to all Command Prompt channels." */
	bool logged_in;     /* we are logged in to the current cmd channel */
	bool has_machine_info;
	bool has_stopcode;
	uint32_t stopcode;
	struct ems_machine_info mi;
	char current[SAC_NAME_MAX]; /* the channel shown: "SAC", "Cmd0001" */
	unsigned nchannels;
	char channels[SAC_MAX_CHANNELS][SAC_NAME_MAX]; /* index order as SAC numbers them */
};
void sac_get_state(const struct sac *c, struct sac_state *st);
bool sac_busy(const struct sac *c);

#endif
