/*
 * transport_serial.c — serial devices through libserialport: serial:PATH
 * and bare device paths (/dev/ttyS0, /dev/ttyUSB0, /dev/serial/by-id/…).
 *
 * Line settings come from the transport options (default 115200 8N1, no
 * flow control, EMS's setting). Access is exclusive twice over: flock, which
 * cooperating tools (minicom, picocom, another emsagent) honour, and
 * TIOCEXCL, which makes the kernel refuse other opens. A busy port names
 * the process holding it, found by scanning /proc/PID/fd.
 *
 * Reads are non-blocking (sp_nonblocking_read on the fd the loop polls):
 * sp_blocking_read would wait for all N bytes. Because libserialport folds
 * "no data" and "end of file" into one 0, a 0 is checked against poll() so
 * a vanished USB adapter reads as "gone" instead of spinning the loop.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <libserialport.h>

#include "emsagent/transport.h"
#include "emsagent/util.h"
#include "transport_priv.h"

/* A BREAK blocks the loop for its length: keep it to what SysRq needs. */
#define BREAK_DEFAULT_MS 250u
#define BREAK_MAX_MS     500u

struct serial_priv {
	struct sp_port *port;
};

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

static void read_comm(const char *pid, char *comm, size_t commsz)
{
	char path[300]; /* d_name is at most 255 bytes */
	snprintf(path, sizeof(path), "/proc/%s/comm", pid);
	comm[0] = '\0';
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, comm, commsz - 1);
	close(fd);
	if (n <= 0) {
		comm[0] = '\0';
		return;
	}
	comm[n] = '\0';
	comm[strcspn(comm, "\n")] = '\0';
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	if (S_ISCHR(a->st_mode) || S_ISBLK(a->st_mode))
		return (a->st_mode & S_IFMT) == (b->st_mode & S_IFMT) && a->st_rdev == b->st_rdev;
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

int transport_find_holder(const char *path, int skip_fd, pid_t *pid, char *comm, size_t commsz)
{
	struct stat want;
	if (stat(path, &want) < 0)
		return -errno;
	DIR *proc = opendir("/proc");
	if (!proc)
		return -errno;
	pid_t self = getpid();
	int found = 0;
	struct dirent *pe;
	while (!found && (pe = readdir(proc)) != NULL) {
		if (!all_digits(pe->d_name))
			continue;
		char fddir[300];
		snprintf(fddir, sizeof(fddir), "/proc/%s/fd", pe->d_name);
		DIR *fds = opendir(fddir);
		if (!fds)
			continue; /* gone, or not ours to look at */
		long p = strtol(pe->d_name, NULL, 10);
		struct dirent *fe;
		while ((fe = readdir(fds)) != NULL) {
			if (!all_digits(fe->d_name))
				continue;
			long fdn = strtol(fe->d_name, NULL, 10);
			if (p == self && (fdn == skip_fd || fdn == dirfd(fds)))
				continue;
			char link[600];
			snprintf(link, sizeof(link), "%s/%s", fddir, fe->d_name);
			struct stat st;
			if (stat(link, &st) == 0 && same_file(&want, &st)) {
				*pid = (pid_t)p;
				if (comm && commsz)
					read_comm(pe->d_name, comm, commsz);
				found = 1;
				break;
			}
		}
		closedir(fds);
	}
	closedir(proc);
	return found;
}

/* Who holds a busy device, for people. */
static void describe_busy(struct transport *t, const char *path, int skip_fd)
{
	pid_t holder = 0;
	char comm[64] = "";
	if (transport_find_holder(path, skip_fd, &holder, comm, sizeof(comm)) == 1)
		snprintf(t->err, sizeof(t->err), "%s is in use by pid %ld (%s)", path, (long)holder,
		         comm[0] ? comm : "?");
	else
		snprintf(t->err, sizeof(t->err),
		         "%s is in use by another process (locked or opened exclusively)", path);
}

/* libserialport's own message for the last failure, into t->err. */
static int sp_fail(struct transport *t, enum sp_return r, const char *what)
{
	int e = EIO;
	if (r == SP_ERR_FAIL) {
		e = sp_last_error_code();
		if (e <= 0)
			e = EIO;
		char *msg = sp_last_error_message();
		snprintf(t->err, sizeof(t->err), "%s: %s: %s", t->target, what, msg ? msg : strerror(e));
		sp_free_error_message(msg);
	} else if (r == SP_ERR_ARG) {
		e = EINVAL;
		snprintf(t->err, sizeof(t->err), "%s: %s: not supported by this device", t->target, what);
	} else if (r == SP_ERR_SUPP) {
		e = ENOTSUP;
		snprintf(t->err, sizeof(t->err), "%s: %s: not supported on this system", t->target, what);
	} else {
		e = ENOMEM;
		snprintf(t->err, sizeof(t->err), "%s: %s: out of memory", t->target, what);
	}
	return -e;
}

static int apply_settings(struct transport *t, struct sp_port *port)
{
	const struct transport_opts *o = &t->opts;
	enum sp_return r;
	char what[64];
	if (o->baud > INT_MAX) {
		snprintf(t->err, sizeof(t->err), "%s: baud rate %u too high", t->target, o->baud);
		return -EINVAL;
	}
	snprintf(what, sizeof(what), "cannot set %u baud", o->baud);
	if ((r = sp_set_baudrate(port, (int)o->baud)) != SP_OK)
		return sp_fail(t, r, what);
	snprintf(what, sizeof(what), "cannot set %u data bits", o->data_bits);
	if (o->data_bits < 5 || o->data_bits > 8 || (r = sp_set_bits(port, (int)o->data_bits)) != SP_OK)
		return o->data_bits < 5 || o->data_bits > 8 ? sp_fail(t, SP_ERR_ARG, what)
		                                            : sp_fail(t, r, what);

	enum sp_parity par;
	switch (o->parity) {
	case 'n':
		par = SP_PARITY_NONE;
		break;
	case 'e':
		par = SP_PARITY_EVEN;
		break;
	case 'o':
		par = SP_PARITY_ODD;
		break;
	case 'm':
		par = SP_PARITY_MARK;
		break;
	case 's':
		par = SP_PARITY_SPACE;
		break;
	default:
		snprintf(t->err, sizeof(t->err), "%s: unknown parity '%c'", t->target,
		         isprint((unsigned char)o->parity) ? o->parity : '?');
		return -EINVAL;
	}
	if ((r = sp_set_parity(port, par)) != SP_OK)
		return sp_fail(t, r, "cannot set the parity");
	snprintf(what, sizeof(what), "cannot set %u stop bits", o->stop_bits);
	if (o->stop_bits != 1 && o->stop_bits != 2)
		return sp_fail(t, SP_ERR_ARG, what);
	if ((r = sp_set_stopbits(port, (int)o->stop_bits)) != SP_OK)
		return sp_fail(t, r, what);

	enum sp_flowcontrol fc;
	switch (o->flow) {
	case FLOW_NONE:
		fc = SP_FLOWCONTROL_NONE;
		break;
	case FLOW_XONXOFF:
		fc = SP_FLOWCONTROL_XONXOFF;
		break;
	case FLOW_RTSCTS:
		fc = SP_FLOWCONTROL_RTSCTS;
		break;
	default:
		return sp_fail(t, SP_ERR_ARG, "unknown flow control");
	}
	if ((r = sp_set_flowcontrol(port, fc)) != SP_OK)
		return sp_fail(t, r, "cannot set the flow control");
	return 0;
}

/*
 * The console is data, not a terminal session: no echo, no line editing, no
 * signals from ^C, no CR/LF translation either way. libserialport already
 * does most of this; doing it here makes it independent of its version.
 * IXON/IXOFF are left as the flow setting made them.
 */
static int make_raw(struct transport *t, int fd)
{
	struct termios tio;
	if (tcgetattr(fd, &tio) < 0)
		goto fail;
	tio.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL | ICANON | ISIG | IEXTEN);
	tio.c_oflag &= ~(tcflag_t)OPOST;
	tio.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXANY);
	tio.c_cflag |= CLOCAL | CREAD;
	tio.c_cc[VMIN] = 1;
	tio.c_cc[VTIME] = 0;
	if (tcsetattr(fd, TCSANOW, &tio) < 0)
		goto fail;
	return 0;
fail:;
	int e = errno;
	snprintf(t->err, sizeof(t->err), "%s: cannot set raw mode: %s", t->target, strerror(e));
	return -e;
}

static void serial_release(struct transport *t)
{
	struct serial_priv *p = t->priv;
	if (p) {
		if (t->fd >= 0)
			ioctl(t->fd, TIOCNXCL);
		sp_close(p->port); /* also drops the flock: it closes the fd */
		sp_free_port(p->port);
		free(p);
	}
	t->priv = NULL;
	t->fd = -1;
}

static int serial_open(struct transport *t)
{
	const char *path = t->target;
	struct stat st;
	if (stat(path, &st) < 0) {
		int e = errno;
		if (e == ENOENT)
			snprintf(t->err, sizeof(t->err),
			         "%s: no such device (not plugged in or not created yet)", path);
		else
			snprintf(t->err, sizeof(t->err), "%s: %s", path, strerror(e));
		return -e;
	}
	if (!S_ISCHR(st.st_mode)) {
		snprintf(t->err, sizeof(t->err), "%s is not a serial device (not a character device)", path);
		return -ENOTTY;
	}
	struct sp_port *port = NULL;
	if (sp_get_port_by_name(path, &port) != SP_OK) {
		if (strncmp(path, "/dev/pts/", 9) == 0)
			snprintf(t->err, sizeof(t->err), "%s is a pty, not a serial port (use pty:%s)", path,
			         path);
		else
			snprintf(t->err, sizeof(t->err), "%s is not a serial port libserialport knows", path);
		return -ENODEV;
	}
	enum sp_return r = sp_open(port, SP_MODE_READ_WRITE);
	if (r != SP_OK) {
		int rc = sp_fail(t, r, "cannot open");
		sp_free_port(port);
		if (rc == -EBUSY) {
			describe_busy(t, path, -1);
		} else if (rc == -EACCES) {
			snprintf(t->err, sizeof(t->err),
			         "%s: permission denied (is this user in group dialout?)", path);
		} else if (rc == -ENOTTY) {
			/* e.g. a pty given as serial:, where TIOCMGET fails */
			snprintf(t->err, sizeof(t->err), "%s does not behave as a serial port (%s)", path,
			         strerror(ENOTTY));
		}
		return rc;
	}
	struct serial_priv *p = xcalloc(1, sizeof(*p));
	p->port = port;
	t->priv = p;
	int fd = -1;
	if ((r = sp_get_port_handle(port, &fd)) != SP_OK || fd < 0) {
		int rc = sp_fail(t, r == SP_OK ? SP_ERR_FAIL : r, "no file descriptor");
		serial_release(t);
		return rc;
	}
	t->fd = fd;
	/* Children we start (exec actions) must not inherit the console. */
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		int e = errno;
		snprintf(t->err, sizeof(t->err), "%s: cannot make it non-blocking: %s", path, strerror(e));
		serial_release(t);
		return -e;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		if (e == EWOULDBLOCK) {
			describe_busy(t, path, fd);
			e = EBUSY;
		} else {
			snprintf(t->err, sizeof(t->err), "%s: cannot lock: %s", path, strerror(e));
		}
		/* not ours: do not clear someone else's TIOCEXCL */
		sp_close(port);
		sp_free_port(port);
		free(p);
		t->priv = NULL;
		t->fd = -1;
		return -e;
	}
	if (ioctl(fd, TIOCEXCL) < 0) {
		int e = errno;
		snprintf(t->err, sizeof(t->err), "%s: cannot get exclusive access: %s", path, strerror(e));
		serial_release(t);
		return -e;
	}
	int rc = apply_settings(t, port);
	if (rc == 0)
		rc = make_raw(t, fd);
	if (rc < 0) {
		serial_release(t);
		return rc;
	}
	return 0;
}

static ssize_t serial_read(struct transport *t, void *buf, size_t n)
{
	struct serial_priv *p = t->priv;
	if (n > INT_MAX)
		n = INT_MAX;
	enum sp_return r = sp_nonblocking_read(p->port, buf, n);
	if (r > 0)
		return r;
	if (r == 0) {
		struct pollfd pfd = {.fd = t->fd, .events = POLLIN};
		/* Not POLLIN: bytes may have arrived since the read. A hung-up
		 * tty always adds POLLHUP/POLLERR. */
		if (poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLHUP | POLLERR | POLLNVAL))) {
			snprintf(t->err, sizeof(t->err), "%s: the device went away", t->target);
			return 0;
		}
		return -EAGAIN;
	}
	int rc = sp_fail(t, r, "read failed");
	if (rc == -EIO || rc == -ENXIO || rc == -ENODEV) {
		snprintf(t->err, sizeof(t->err), "%s: the device went away (%s)", t->target, strerror(-rc));
		return 0;
	}
	return rc;
}

static ssize_t serial_write(struct transport *t, const void *buf, size_t n)
{
	struct serial_priv *p = t->priv;
	if (n > INT_MAX)
		n = INT_MAX;
	enum sp_return r = sp_nonblocking_write(p->port, buf, n);
	if (r > 0)
		return r;
	if (r == 0)
		return n == 0 ? 0 : -EAGAIN;
	return sp_fail(t, r, "write failed");
}

/*
 * A BREAK is the line held low for a while; libserialport has no timed
 * form, so this blocks for its length. Bounded to BREAK_MAX_MS so one
 * console's BREAK cannot stall the others for long (Linux SysRq needs only
 * that the line be seen low; Windows EMS ignores BREAK).
 */
static int serial_send_break(struct transport *t, unsigned ms)
{
	struct serial_priv *p = t->priv;
	if (ms == 0)
		ms = BREAK_DEFAULT_MS;
	if (ms > BREAK_MAX_MS)
		ms = BREAK_MAX_MS;
	enum sp_return r = sp_start_break(p->port);
	if (r != SP_OK)
		return sp_fail(t, r, "cannot start a BREAK");
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	r = sp_end_break(p->port);
	if (r != SP_OK)
		return sp_fail(t, r, "cannot end the BREAK");
	return 0;
}

static void serial_close(struct transport *t)
{
	serial_release(t);
}

const struct transport_ops transport_serial_ops = {
    .kind = "serial",
    .caps = TRANSPORT_CAN_WRITE | TRANSPORT_CAN_BREAK | TRANSPORT_IS_DEVICE,
    .open = serial_open,
    .read = serial_read,
    .write = serial_write,
    .send_break = serial_send_break,
    .close = serial_close,
};
