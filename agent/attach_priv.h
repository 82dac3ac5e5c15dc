/*
 * attach_priv.h — the attach core's state, shared by attach.c (keys,
 * console bytes, notices, the paced queue, commands) and attach_show.c
 * (how events, replies and status are put into words). Not for other
 * modules: they use attach.h.
 */
#ifndef EMSAGENT_ATTACH_PRIV_H
#define EMSAGENT_ATTACH_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "emsagent/attach.h"
#include "emsagent/util.h"

#define NOTICE_MAX       320          /* bytes of one notice line */
#define NOTICES_MAX      64           /* queued while the console is mid-line */
#define PARTIAL_MAX      256          /* a half-drawn line kept for redrawing */
#define MIDLINE_QUIET_NS (NS_PER_SEC) /* a prompt this quiet gets notices under it */
#define RETRY_NS         (10 * NS_PER_MS)

enum kstate { K_NORMAL, K_ESC, K_ASK_YN, K_ASK_SYSRQ };

/* Colour classes of notices. */
enum ncls { N_INFO = 'i', N_GOOD = 'g', N_WARN = 'w', N_BAD = 'b', N_ASK = 'a' };

struct attach {
	struct attach_cfg cfg;
	struct attach_io io;
	enum kstate ks;
	const char *ask_op; /* the dangerous request a y/N question is about */

	/* typed bytes on their way to the port, paced */
	struct buf q;
	size_t qhead;
	int64_t next_send;
	int last_err;
	bool eof;
	int64_t linger_ns, quit_at;
	bool warned_listen;

	/* the screen */
	bool col0;      /* the console's last byte ended a line */
	int esc;        /* inside an escape sequence: 0 no, 1 after ESC, 2 CSI, 3 OSC/DCS, 4 OSC after ESC */
	unsigned esc_n; /* its length so far (bounded) */
	char partial[PARTIAL_MAX];
	size_t npartial;
	bool partial_ok;
	int64_t last_console;
	bool timestamps;

	/* notices waiting for the end of a console line: "C text\0" each */
	struct buf pending;
	unsigned npending, dropped;

	/* the log and the events file */
	int log_fd;
	char *log_path;
	bool log_col0;
	FILE *events;

	uint64_t bytes_in, bytes_out;
	int64_t deadline;
	bool quitting; /* q was pressed: nothing more goes to the port */
};

/* A notice of class cls (enum ncls), printf-style; sanitized and bounded. */
void attach_note(struct attach *a, char cls, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Bytes for the log file as they are (nothing when no log is open). */
void attach_log_write(struct attach *a, const void *buf, size_t n);
/* "[HH:MM:SS.mmm] " (local, the screen) or "[YYYY-MM-DDTHH:MM:SS.mmmZ] "
 * (full: UTC, the log), for now. */
void attach_stamp(char *s, size_t sz, bool full);
/* Control bytes out of text bound for a terminal (keep_nl: '\n' stays). */
void attach_sanitize(char *s, size_t n, bool keep_nl);

#endif
