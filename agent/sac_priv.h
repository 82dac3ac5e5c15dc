/*
 * sac_priv.h — what the SAC client's files share (sac.c: operations and
 * pacing; sac_track.c: the state tracker, events and error texts). Not a
 * public interface: the contract is sac.h.
 */
#ifndef EMSAGENT_SAC_PRIV_H
#define EMSAGENT_SAC_PRIV_H

#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "emsagent/normalize.h"
#include "emsagent/sac.h"
#include "emsagent/util.h"

/* Texts the guest prints (sac-ems.md §3). */
#define T_BANNER      "Computer is booting, SAC started and initialized."
#define T_CMD_AVAIL   "EVENT: The CMD command is now available."
#define T_CMD_UNAVAIL "EVENT: The CMD command is unavailable."
#define T_NEW_CHAN    "EVENT:   A new channel has been created."
#define T_CLOSED_CHAN "EVENT:   A channel has been closed."
#define T_ANY_KEY     "Use any other key to view this channel."
#define T_MORE        "----Press <Enter> for more----"
#define T_LOCKED      "Locked access to all Command Prompt channels."
#define T_LIST_HEAD   "# Status  Channel Name"
#define T_SWITCH_NAME "Name:"

enum op_kind { OP_NONE, OP_RUN, OP_CMD_OPEN, OP_LOGIN, OP_CMD_RUN, OP_CLOSE };

enum stage {
	S_WAKE,        /* sent CR, waiting for a prompt */
	S_RECOVER,     /* sent Esc Tab 0 CR, waiting for SAC> */
	S_COLLECT,     /* typed a SAC command, collecting up to the prompt */
	S_OPEN_CHAN,   /* `cmd` succeeded, waiting for "Channel: CmdNNNN" */
	S_SWITCH,      /* typed ch -sn, waiting for the switching screen */
	S_USER,        /* waiting for "Username:" */
	S_DOMAIN,      /* waiting for "Domain  :" */
	S_PASS,        /* waiting for "Password:" */
	S_AUTH,        /* password typed, waiting for a cmd prompt or the refusal */
	S_CMD_COLLECT, /* typed a cmd.exe command, collecting up to C:\...> */
	S_EXIT_SWITCH, /* typed exit, waiting for the switching screen */
	S_EXIT_PROMPT, /* pressed a key, waiting for SAC> */
	S_CLOSE_LIST,  /* typed ch, collecting the channel list */
	S_CLOSE_CI,    /* typed ch -ci N, collecting up to SAC> */
};

struct op {
	enum op_kind kind;
	enum stage stage;
	int64_t deadline;       /* of the whole operation */
	int64_t stage_deadline; /* INT64_MAX when the stage has none of its own */
	sac_done_fn done;
	void *ctx;
	char cmd[SAC_CMD_MAX + 1];
	char chan[SAC_NAME_MAX];
	char user[256];
	char domain[256];
	struct sac_secret pw;
	struct buf out;
	bool truncated;
	size_t nlines; /* lines collected into out */
	bool echo_seen;
	bool in_event;     /* an asynchronous EVENT block interrupted the output */
	bool after_prompt; /* the command's own SAC> came, followed by more in the same read */
	bool event_prompt; /* an event's SAC> was offered as a partial line: its completion is not output */
	bool recovered;
	bool fallback;         /* close: the exit path failed, closing from SAC */
	enum sac_err fail_err; /* != SAC_OK: reported when the recovery after a failure has reached SAC> */
	unsigned created_seq0;
	char detail[256];
	/* a result decided outside feed/tick (e.g. while starting): given at the next tick */
	bool pending;
	enum sac_err pending_err;
};

struct sac {
	struct sac_env env;
	struct norm *norm;
	int64_t now;
	struct sac_state st;
	bool at_crash_prompt;
	int chan_event;       /* 1: created, 2: closed; the next "Channel:" line says which */
	unsigned created_seq; /* channels created so far */
	char last_created[SAC_NAME_MAX];
	bool in_list;
	bool switch_screen; /* "Use any other key to view this channel." is showing */
	char switch_name[SAC_NAME_MAX];
	/* paced output */
	struct buf q;
	size_t qpos;
	int64_t next_send;
	int64_t last_sent_at;
	int last_byte;     /* -1: none yet */
	size_t secret_end; /* the queue holds a password up to here */
	int send_errno;
	int64_t armed;
	struct op op;
};

/* ---- small text helpers ---- */

static inline void trim(const char **s, size_t *n)
{
	while (*n && ((*s)[0] == ' ' || (*s)[0] == '\t')) {
		(*s)++;
		(*n)--;
	}
	while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
		(*n)--;
}

static inline bool eq(const char *s, size_t n, const char *lit)
{
	size_t l = strlen(lit);
	return n == l && memcmp(s, lit, l) == 0;
}

static inline bool starts(const char *s, size_t n, const char *lit)
{
	size_t l = strlen(lit);
	return n >= l && memcmp(s, lit, l) == 0;
}

static inline bool contains(const char *s, size_t n, const char *lit)
{
	size_t l = strlen(lit);
	if (l > n)
		return false;
	for (size_t i = 0; i + l <= n; i++)
		if (memcmp(s + i, lit, l) == 0)
			return true;
	return false;
}

/* The echo of a typed line: the prompt and something after it. A bare prompt
 * line (a prompt ended by an event or an extra CR) is not an echo. */
static inline bool is_echo(const char *s, size_t n)
{
	const char *p = "SAC>";
	if (n && s[0] == '!') {
		s++;
		n--;
	}
	return n > 4 && memcmp(s, p, 4) == 0;
}

/* A cmd.exe prompt: "C:\Windows\system32>" (a drive, a path, '>'). */
static inline bool is_cmd_prompt(const char *s, size_t n)
{
	return n >= 4 && isalpha((unsigned char)s[0]) && s[1] == ':' && s[2] == '\\' && s[n - 1] == '>';
}

/* A channel name as SAC makes them (Cmd0001): printable, no blanks. */
static inline bool valid_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= SAC_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isgraph((unsigned char)s[i]))
			return false;
	return true;
}

static inline void copy_name(char *dst, const char *s, size_t n)
{
	if (n >= SAC_NAME_MAX)
		n = SAC_NAME_MAX - 1;
	memcpy(dst, s, n);
	dst[n] = 0;
}

static inline void wipe(void *p, size_t n)
{
	explicit_bzero(p, n);
}

/* sac_track.c */
void sac_emit(struct sac *c, enum event_kind kind, const char *channel, const char *reason,
              const struct ems_record *rec);
/* Makes name the channel shown (a sac.channel "switched" event when it changes). */
void sac_set_current(struct sac *c, const char *name);
/* SAC (re)started: one channel, nothing seen yet. */
void sac_reset_boot(struct sac *c);
/* A row of `ch` output: "1 (AV)    Cmd0001". */
bool sac_parse_list_row(const char *s, size_t n, unsigned *idx, char *name);
/* Every line, before the operation sees it (s trimmed). */
void sac_track(struct sac *c, const char *s, size_t n, bool partial);
/* The normaliser's EMS records. */
void sac_on_ems(void *ctx, const struct ems_record *rec);

#endif
