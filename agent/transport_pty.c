/*
 * transport_pty.c — pseudo-terminals: /dev/pts/N and pty:PATH (QEMU
 * `-serial pty`, test peers). libserialport 0.1.1 cannot open a pty (it
 * wants /sys/class/tty/pts/N and TIOCMGET), so this is plain termios.
 *
 * The slave is put in raw mode: a cooked slave echoes what the guest prints
 * straight back into the guest, which then sees it as typed input. The
 * original settings are put back on close, so a pty shared with a person's
 * terminal is left as it was found. Exclusive by flock; a busy pty names
 * the process holding it.
 *
 * No BREAK: tcsendbreak on a pty succeeds and nothing reaches the guest
 * (docs/qemu-guest.md), so send_break refuses and says what works instead.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "emsagent/transport.h"
#include "transport_priv.h"

static int pty_open(struct transport *t)
{
	const char *path = t->target;
	int fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT)
			snprintf(t->err, sizeof(t->err),
			         "%s: no such pty (not created yet, or its owner exited)", path);
		else if (e == EIO)
			/* a slave whose master is closed cannot be opened */
			snprintf(t->err, sizeof(t->err), "%s: the pty has no master any more", path);
		else
			snprintf(t->err, sizeof(t->err), "%s: %s", path, strerror(e));
		return -e;
	}
	if (!isatty(fd)) {
		snprintf(t->err, sizeof(t->err), "%s is not a terminal", path);
		close(fd);
		return -ENOTTY;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		if (e == EWOULDBLOCK) {
			pid_t holder = 0;
			char comm[64] = "";
			if (transport_find_holder(path, fd, &holder, comm, sizeof(comm)) == 1)
				snprintf(t->err, sizeof(t->err), "%s is in use by pid %ld (%s)", path,
				         (long)holder, comm[0] ? comm : "?");
			else
				snprintf(t->err, sizeof(t->err), "%s is in use by another process (locked)",
				         path);
			e = EBUSY;
		} else {
			snprintf(t->err, sizeof(t->err), "%s: cannot lock: %s", path, strerror(e));
		}
		close(fd);
		return -e;
	}
	struct termios tio;
	if (tcgetattr(fd, &tio) < 0) {
		int e = errno;
		snprintf(t->err, sizeof(t->err), "%s: cannot read its settings: %s", path, strerror(e));
		close(fd);
		return -e;
	}
	cfmakeraw(&tio);
	tio.c_cflag |= CLOCAL | CREAD;
	tio.c_cc[VMIN] = 1;
	tio.c_cc[VTIME] = 0;
	if (tcsetattr(fd, TCSANOW, &tio) < 0) {
		int e = errno;
		snprintf(t->err, sizeof(t->err), "%s: cannot set raw mode: %s", path, strerror(e));
		close(fd);
		return -e;
	}
	t->fd = fd;
	return 0;
}

static ssize_t pty_read(struct transport *t, void *buf, size_t n)
{
	ssize_t r = read(t->fd, buf, n);
	if (r > 0)
		return r;
	if (r == 0) {
		snprintf(t->err, sizeof(t->err), "%s: the other end of the pty closed", t->target);
		return 0;
	}
	int e = errno;
	if (e == EAGAIN || e == EINTR)
		return -EAGAIN;
	/* Linux reports a closed master as EIO on the slave: the peer is gone. */
	if (e == EIO) {
		snprintf(t->err, sizeof(t->err), "%s: the other end of the pty closed", t->target);
		return 0;
	}
	snprintf(t->err, sizeof(t->err), "%s: read: %s", t->target, strerror(e));
	return -e;
}

static ssize_t pty_write(struct transport *t, const void *buf, size_t n)
{
	ssize_t w = write(t->fd, buf, n);
	if (w >= 0)
		return w;
	int e = errno;
	if (e == EAGAIN || e == EINTR)
		return -EAGAIN;
	snprintf(t->err, sizeof(t->err), "%s: write: %s", t->target, strerror(e));
	return -e;
}

static int pty_send_break(struct transport *t, unsigned ms)
{
	(void)ms;
	snprintf(
	    t->err, sizeof(t->err),
	    "%s: a BREAK cannot cross a plain pty; use a telnet chardev (telnet:HOST:PORT sends IAC BRK), "
	    "a pty with mux=on (Ctrl-A b), or the control plane",
	    t->target);
	return -ENOTSUP;
}

static void pty_close(struct transport *t)
{
	if (t->fd >= 0)
		close(t->fd); /* drops the flock */
	t->fd = -1;
}

const struct transport_ops transport_pty_ops = {
    .kind = "pty",
    .caps = TRANSPORT_CAN_WRITE | TRANSPORT_IS_DEVICE,
    .open = pty_open,
    .read = pty_read,
    .write = pty_write,
    .send_break = pty_send_break,
    .close = pty_close,
};
