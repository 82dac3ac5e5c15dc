/*
 * transport_telnet.c — telnet:HOST:PORT (QEMU telnet chardevs, ser2net,
 * terminal servers): RFC 854/855 option negotiation, IAC escaping both ways,
 * BREAK as IAC BRK, and RFC 2217 COM-PORT-OPTION when the server offers it
 * (line settings from the transport's opts; BREAK as SET-CONTROL on/off so it
 * reaches the real serial line behind the server).
 *
 * Negotiation follows RFC 1143's Q method without the queue bit: a state per
 * option and side (NO, YES, WANTNO, WANTYES), answering only requests that
 * change a state, so no peer can drive us into an answer loop. We want
 * BINARY and SUPPRESS-GO-AHEAD both ways and COM-PORT-OPTION; everything
 * else is refused. Subnegotiations are stripped with a bounded length.
 *
 * The TCP part (connect, keepalive, close) is transport_sock.c's.
 */
#define _GNU_SOURCE
#include "emsagent/transport.h"
#include "emsagent/util.h"
#include "transport_priv.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

enum {
	TN_SE = 240,
	TN_NOP = 241,
	TN_DM = 242,
	TN_BRK = 243,
	TN_SB = 250,
	TN_WILL = 251,
	TN_WONT = 252,
	TN_DO = 253,
	TN_DONT = 254,
	TN_IAC = 255,
};

enum { OPT_BINARY = 0, OPT_SGA = 3, OPT_COMPORT = 44 };

/* RFC 2217 client-to-server commands and values. */
enum {
	CPO_SET_BAUDRATE = 1,
	CPO_SET_DATASIZE = 2,
	CPO_SET_PARITY = 3,
	CPO_SET_STOPSIZE = 4,
	CPO_SET_CONTROL = 5,
};
enum {
	CPO_FLOW_NONE = 1,
	CPO_FLOW_XONXOFF = 2,
	CPO_FLOW_HARDWARE = 3,
	CPO_BREAK_ON = 5,
	CPO_BREAK_OFF = 6,
};

enum q_state { Q_NO, Q_YES, Q_WANTNO, Q_WANTYES };

enum parse_state { P_DATA, P_IAC, P_WILL, P_WONT, P_DO, P_DONT, P_SB, P_SB_IAC };

/* A subnegotiation longer than this is a peer that forgot IAC SE: give up
 * on it rather than swallow the console's text forever. */
#define SB_MAX 1024
/* Our own answers and escape tails waiting for the socket; a peer that
 * floods negotiation without reading is cut off at this size. */
#define OUTQ_MAX (64 * 1024)
/* Raw bytes read or encoded per system call. */
#define CHUNK 4096
/* A read call gives the loop back after this much pure protocol traffic. */
#define READ_BUDGET (64 * 1024)

struct telnet {
	uint8_t us[256];  /* options on our side (WILL/WONT) */
	uint8_t him[256]; /* options on the server's side (DO/DONT) */
	enum parse_state st;
	size_t sb_len;
	bool cr;           /* the last data byte was a CR in non-binary receive mode */
	bool comport_sent; /* RFC 2217 line settings went out on this connection */
	int fail;          /* sticky -errno once the queue overflowed */
	unsigned char *q;  /* output queue: answers, escape tails */
	size_t qcap, qoff, qlen;
};

static bool wanted(uint8_t opt)
{
	return opt == OPT_BINARY || opt == OPT_SGA || opt == OPT_COMPORT;
}

static bool comport_on(const struct telnet *tn)
{
	return tn->us[OPT_COMPORT] == Q_YES || tn->him[OPT_COMPORT] == Q_YES;
}

static int q_put(struct telnet *tn, const unsigned char *p, size_t n)
{
	if (tn->fail)
		return tn->fail;
	if (tn->qlen - tn->qoff + n > OUTQ_MAX) {
		tn->fail = -ENOBUFS;
		return tn->fail;
	}
	if (tn->qoff) {
		memmove(tn->q, tn->q + tn->qoff, tn->qlen - tn->qoff);
		tn->qlen -= tn->qoff;
		tn->qoff = 0;
	}
	void *v = tn->q;
	xgrow(&v, &tn->qcap, tn->qlen + n, 1);
	tn->q = v;
	memcpy(tn->q + tn->qlen, p, n);
	tn->qlen += n;
	return 0;
}

/* Sends what is queued: 0 when empty, -EAGAIN when the socket is full. */
static int q_flush(struct transport *t)
{
	struct telnet *tn = t->priv;
	while (tn->qoff < tn->qlen) {
		ssize_t w = send(t->fd, tn->q + tn->qoff, tn->qlen - tn->qoff, MSG_NOSIGNAL);
		if (w > 0) {
			tn->qoff += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return -EAGAIN;
		int e = w < 0 ? errno : EIO;
		snprintf(t->err, sizeof(t->err), "%s: write: %s", t->url, strerror(e));
		return -e;
	}
	tn->qoff = tn->qlen = 0;
	return 0;
}

static void send_cmd(struct telnet *tn, uint8_t cmd, uint8_t opt)
{
	const unsigned char b[3] = {TN_IAC, cmd, opt};
	(void)q_put(tn, b, sizeof(b)); /* an overflow is sticky in tn->fail */
}

/* IAC SB COM-PORT-OPTION cmd value… IAC SE, with 0xFF in the value doubled. */
static void send_comport(struct telnet *tn, uint8_t cmd, const unsigned char *val, size_t n)
{
	unsigned char b[4 + 2 * 4 + 2];
	size_t k = 0;
	b[k++] = TN_IAC;
	b[k++] = TN_SB;
	b[k++] = OPT_COMPORT;
	b[k++] = cmd;
	for (size_t i = 0; i < n && i < 4; i++) {
		b[k++] = val[i];
		if (val[i] == TN_IAC)
			b[k++] = TN_IAC;
	}
	b[k++] = TN_IAC;
	b[k++] = TN_SE;
	(void)q_put(tn, b, k);
}

static void send_comport1(struct telnet *tn, uint8_t cmd, uint8_t v)
{
	send_comport(tn, cmd, &v, 1);
}

/* The server agreed to RFC 2217: set the line as the opts say, once. */
static void comport_start(struct transport *t)
{
	struct telnet *tn = t->priv;
	if (tn->comport_sent || !comport_on(tn))
		return;
	tn->comport_sent = true;
	const struct transport_opts *o = &t->opts;
	const unsigned char baud[4] = {(unsigned char)(o->baud >> 24), (unsigned char)(o->baud >> 16),
	                               (unsigned char)(o->baud >> 8), (unsigned char)o->baud};
	send_comport(tn, CPO_SET_BAUDRATE, baud, sizeof(baud));
	send_comport1(tn, CPO_SET_DATASIZE, (uint8_t)o->data_bits);
	uint8_t par = 1;
	switch (o->parity) {
	case 'o':
		par = 2;
		break;
	case 'e':
		par = 3;
		break;
	case 'm':
		par = 4;
		break;
	case 's':
		par = 5;
		break;
	default:
		par = 1;
		break;
	}
	send_comport1(tn, CPO_SET_PARITY, par);
	send_comport1(tn, CPO_SET_STOPSIZE, o->stop_bits == 2 ? 2 : 1);
	send_comport1(tn, CPO_SET_CONTROL,
	              o->flow == FLOW_XONXOFF  ? CPO_FLOW_XONXOFF
	              : o->flow == FLOW_RTSCTS ? CPO_FLOW_HARDWARE
	                                       : CPO_FLOW_NONE);
}

/* The four RFC 1143 receive rules; "side" is us[] for DO/DONT, him[] for
 * WILL/WONT. A request that changes nothing gets no answer. */
static void negotiate(struct transport *t, uint8_t verb, uint8_t opt)
{
	struct telnet *tn = t->priv;
	bool positive = verb == TN_WILL || verb == TN_DO;
	bool remote = verb == TN_WILL || verb == TN_WONT;
	uint8_t *s = remote ? &tn->him[opt] : &tn->us[opt];
	uint8_t yes = remote ? TN_DO : TN_WILL, no = remote ? TN_DONT : TN_WONT;

	if (positive) {
		switch (*s) {
		case Q_NO:
			if (wanted(opt)) {
				*s = Q_YES;
				send_cmd(tn, yes, opt);
			} else {
				send_cmd(tn, no, opt);
			}
			break;
		case Q_WANTNO: /* the peer answered our refusal with a yes: it is wrong, stay off */
			*s = Q_NO;
			break;
		case Q_WANTYES:
			*s = Q_YES;
			break;
		default:
			break;
		}
	} else {
		switch (*s) {
		case Q_YES:
			*s = Q_NO;
			send_cmd(tn, no, opt);
			break;
		case Q_WANTNO:
		case Q_WANTYES:
			*s = Q_NO;
			break;
		default:
			break;
		}
	}
	if (opt == OPT_COMPORT)
		comport_start(t);
}

/*
 * Telnet stream → console bytes. out must hold n bytes (decoding only ever
 * shrinks). State carries over between calls, so a command split across
 * reads is handled.
 */
static size_t decode(struct transport *t, const unsigned char *in, size_t n, unsigned char *out)
{
	struct telnet *tn = t->priv;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = in[i];
		switch (tn->st) {
		case P_DATA:
			if (c == TN_IAC) {
				tn->st = P_IAC;
				break;
			}
			/* NVT: CR NUL means a bare CR; only outside BINARY. */
			if (tn->cr && c == '\0') {
				tn->cr = false;
				break;
			}
			tn->cr = c == '\r' && tn->him[OPT_BINARY] != Q_YES;
			out[o++] = c;
			break;
		case P_SB_IAC:
			if (c == TN_SE) {
				tn->st = P_DATA;
				break;
			}
			if (c == TN_IAC) {
				tn->st = P_SB;
				tn->sb_len++;
				break;
			}
			/* IAC <command> inside SB: the SB was never closed. End it
			 * and take the command as one. */
			tn->st = P_IAC;
			/* fall through */
		case P_IAC:
			tn->cr = false;
			switch (c) {
			case TN_IAC:
				out[o++] = TN_IAC;
				tn->st = P_DATA;
				break;
			case TN_WILL:
				tn->st = P_WILL;
				break;
			case TN_WONT:
				tn->st = P_WONT;
				break;
			case TN_DO:
				tn->st = P_DO;
				break;
			case TN_DONT:
				tn->st = P_DONT;
				break;
			case TN_SB:
				tn->st = P_SB;
				tn->sb_len = 0;
				break;
			default: /* NOP, DM, BRK, AYT, GA, a stray SE…: nothing to do */
				tn->st = P_DATA;
				break;
			}
			break;
		case P_WILL:
		case P_WONT:
		case P_DO:
		case P_DONT: {
			static const uint8_t verbs[] = {
			    [P_WILL] = TN_WILL, [P_WONT] = TN_WONT, [P_DO] = TN_DO, [P_DONT] = TN_DONT};
			uint8_t verb = verbs[tn->st];
			tn->st = P_DATA;
			negotiate(t, verb, c);
			break;
		}
		case P_SB:
			if (c == TN_IAC) {
				tn->st = P_SB_IAC;
				break;
			}
			if (++tn->sb_len > SB_MAX)
				tn->st = P_DATA;
			break;
		}
	}
	return o;
}

static int telnet_open(struct transport *t)
{
	int rc = transport_tcp_ops.open(t);
	if (rc < 0)
		return rc;
	struct telnet *tn = xcalloc(1, sizeof(*tn));
	t->priv = tn;
	/* Ask for what we want at once. RFC 2217 has the client say WILL and
	 * the server DO; some servers offer it themselves (WILL) and wait for
	 * our DO. Either agreement turns it on. */
	static const uint8_t opts[] = {OPT_BINARY, OPT_SGA, OPT_COMPORT};
	for (size_t i = 0; i < ARRAY_LEN(opts); i++) {
		tn->us[opts[i]] = Q_WANTYES;
		tn->him[opts[i]] = Q_WANTYES;
		send_cmd(tn, TN_WILL, opts[i]);
		send_cmd(tn, TN_DO, opts[i]);
	}
	rc = q_flush(t);
	if (rc < 0 && rc != -EAGAIN)
		return rc; /* transport_open closes it */
	return 0;
}

static ssize_t telnet_read(struct transport *t, void *buf, size_t n)
{
	struct telnet *tn = t->priv;
	unsigned char raw[CHUNK];
	size_t spent = 0;
	/* Flush errors are left to recv: a peer that closed may still have
	 * sent bytes we must not lose before we see its end. */
	(void)q_flush(t);
	for (;;) {
		if (tn->fail) {
			snprintf(t->err, sizeof(t->err),
			         "%s: the server floods option negotiation without reading", t->url);
			return tn->fail;
		}
		ssize_t r = recv(t->fd, raw, n < sizeof(raw) ? n : sizeof(raw), 0);
		if (r == 0)
			return 0;
		if (r < 0) {
			int e = errno;
			if (e == EINTR)
				continue;
			if (e != EAGAIN)
				snprintf(t->err, sizeof(t->err), "%s: read: %s", t->url, strerror(e));
			return -e;
		}
		size_t o = decode(t, raw, (size_t)r, buf);
		(void)q_flush(t);
		/* Data first; an overflow is reported by the next call. */
		if (o > 0)
			return (ssize_t)o;
		/* Only protocol so far: read on, but hand the loop back in time. */
		spent += (size_t)r;
		if (spent >= READ_BUDGET)
			return -EAGAIN;
	}
}

/* The wire form of one console byte. */
static size_t encode1(const unsigned char *p, size_t i, size_t n, bool binary, unsigned char out[2])
{
	unsigned char c = p[i];
	out[0] = c;
	if (c == TN_IAC) {
		out[1] = TN_IAC;
		return 2;
	}
	/* NVT: a CR not followed by LF goes as CR NUL. At the end of the buffer
	 * the next byte is unknown; CR NUL LF still reads as CR LF. */
	if (c == '\r' && !binary && (i + 1 >= n || p[i + 1] != '\n')) {
		out[1] = '\0';
		return 2;
	}
	return 1;
}

/*
 * Returns console bytes accepted. A byte whose escape pair went out only
 * half keeps its tail in the queue (and counts as accepted): the tail is
 * sent before anything else, so pairs are never torn. A zero-length write
 * only pushes the queue out (transport_write uses it to drain).
 */
static ssize_t telnet_write(struct transport *t, const void *buf, size_t n)
{
	struct telnet *tn = t->priv;
	const unsigned char *p = buf;
	if (tn->fail) {
		snprintf(t->err, sizeof(t->err), "%s: the server floods option negotiation without reading",
		         t->url);
		return tn->fail;
	}
	int rc = q_flush(t);
	if (rc < 0)
		return rc;
	bool binary = tn->us[OPT_BINARY] == Q_YES;
	unsigned char enc[2 * CHUNK];
	size_t done = 0;
	while (done < n) {
		size_t k = 0, i = done;
		while (i < n && k + 2 <= sizeof(enc))
			k += encode1(p, i++, n, binary, enc + k);
		ssize_t w = send(t->fd, enc, k, MSG_NOSIGNAL);
		if (w < 0) {
			int e = errno;
			if (e == EINTR)
				continue;
			if (done)
				return (ssize_t)done;
			if (e != EAGAIN)
				snprintf(t->err, sizeof(t->err), "%s: write: %s", t->url, strerror(e));
			return -e;
		}
		if ((size_t)w == k) {
			done = i;
			continue;
		}
		/* Short send: count whole bytes, queue a torn pair's tail. */
		size_t sent = 0;
		for (size_t j = done; j < i; j++) {
			unsigned char one[2];
			size_t l = encode1(p, j, n, binary, one);
			if (sent + l <= (size_t)w) {
				sent += l;
				done = j + 1;
				continue;
			}
			if (sent < (size_t)w) {
				size_t part = (size_t)w - sent;
				(void)q_put(tn, one + part, l - part);
				done = j + 1;
			}
			break;
		}
		return (ssize_t)done;
	}
	return (ssize_t)done;
}

static void sleep_ms(unsigned ms)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
		;
}

/*
 * With RFC 2217 the server holds its serial line in BREAK between
 * SET-CONTROL on and off, so the length is ours to time: like tcsendbreak,
 * this waits (at most 1 s; 0 means 250 ms). Without it, IAC BRK is a single
 * event whose length the server chooses, and ms is unused.
 */
static int telnet_send_break(struct transport *t, unsigned ms)
{
	struct telnet *tn = t->priv;
	int rc;
	if (comport_on(tn)) {
		if (ms == 0)
			ms = 250;
		if (ms > 1000)
			ms = 1000;
		send_comport1(tn, CPO_SET_CONTROL, CPO_BREAK_ON);
		rc = q_flush(t);
		if (rc < 0 && rc != -EAGAIN)
			return rc;
		sleep_ms(ms);
		send_comport1(tn, CPO_SET_CONTROL, CPO_BREAK_OFF);
	} else {
		const unsigned char brk[2] = {TN_IAC, TN_BRK};
		(void)q_put(tn, brk, sizeof(brk));
	}
	if (tn->fail) {
		snprintf(t->err, sizeof(t->err), "%s: output queue full", t->url);
		return tn->fail;
	}
	rc = q_flush(t);
	return rc == -EAGAIN ? 0 : rc;
}

static void telnet_close(struct transport *t)
{
	struct telnet *tn = t->priv;
	transport_tcp_ops.close(t);
	if (tn) {
		free(tn->q);
		free(tn);
	}
	t->priv = NULL;
}

const struct transport_ops transport_telnet_ops = {
    .kind = "telnet",
    .caps = TRANSPORT_CAN_WRITE | TRANSPORT_CAN_BREAK | TRANSPORT_IS_DEVICE,
    .open = telnet_open,
    .read = telnet_read,
    .write = telnet_write,
    .send_break = telnet_send_break,
    .close = telnet_close,
};
