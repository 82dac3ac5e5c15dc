/*
 * term.c — raw mode for attach's terminal, and its settings put back on
 * every exit: normal, atexit, fatal signals.
 */
#include "emsagent/term.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* The one piece of process state: what to give back, reachable from a
 * signal handler. */
static struct termios saved;
static volatile sig_atomic_t saved_fd = -1;

int term_write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				/* A terminal shared with a non-blocking reader: wait. */
				struct timespec ts = {0, 1000000};
				nanosleep(&ts, NULL);
				continue;
			}
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

void term_restore(void)
{
	int fd = saved_fd;
	if (fd < 0)
		return;
	saved_fd = -1;
	/* SGR reset, cursor shown, keypad and cursor keys back to normal:
	 * only the write(2) and tcsetattr(3) here are signal-safe, and enough. */
	static const char reset[] = "\033[0m\033[?25h\033[?1l\033>";
	ssize_t w = write(fd, reset, sizeof(reset) - 1);
	(void)w;
	while (tcsetattr(fd, TCSADRAIN, &saved) < 0 && errno == EINTR)
		;
}

bool term_is_raw(void)
{
	return saved_fd >= 0;
}

static void on_fatal(int signo)
{
	term_restore();
	signal(signo, SIG_DFL);
	raise(signo);
}

static void at_exit(void)
{
	term_restore();
}

int term_raw(int fd)
{
	if (!isatty(fd))
		return -ENOTTY;
	struct termios t;
	if (tcgetattr(fd, &t) < 0)
		return -errno;
	saved = t;
	static bool hooked;
	if (!hooked) {
		hooked = true;
		atexit(at_exit);
		static const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
		for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++) {
			struct sigaction sa;
			memset(&sa, 0, sizeof(sa));
			sa.sa_handler = on_fatal;
			sa.sa_flags = SA_RESETHAND;
			sigemptyset(&sa.sa_mask);
			sigaction(fatal[i], &sa, NULL);
		}
	}
	saved_fd = fd;
	cfmakeraw(&t);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(fd, TCSADRAIN, &t) < 0) {
		int e = errno;
		saved_fd = -1;
		return -e;
	}
	return 0;
}
