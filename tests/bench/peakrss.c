/*
 * peakrss.c — runs one command and reports its wall time and peak resident
 * set size, for tests/bench/run.sh.
 *
 * Usage: peakrss RESULT_FILE COMMAND [ARG...]
 *
 * The command inherits stdin, stdout and stderr, so the caller redirects
 * them as usual. When it ends, one line "SECONDS MAXRSS_KIB STATUS" goes to
 * RESULT_FILE: the wall time from just before fork to just after the child was
 * reaped (CLOCK_MONOTONIC), the child's ru_maxrss from wait4 (KiB on Linux;
 * it counts file pages the child mapped and touched, too), and its exit
 * status (128 + signal number when it was killed). peakrss exits with that
 * same status, or 127 when it could not run the command at all.
 *
 * Why not GNU time: it is not installed everywhere, and measuring with the
 * kernel's own accounting here needs nothing but a C compiler.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: peakrss RESULT_FILE COMMAND [ARG...]\n");
		return 127;
	}
	/* Open the result file first so that a bad path fails before the
	 * command runs, not after a long benchmark. */
	FILE *res = fopen(argv[1], "w");
	if (res == NULL) {
		fprintf(stderr, "peakrss: %s: %s\n", argv[1], strerror(errno));
		return 127;
	}
	double t0 = now_s();
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "peakrss: fork: %s\n", strerror(errno));
		fclose(res);
		return 127;
	}
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		fprintf(stderr, "peakrss: %s: %s\n", argv[2], strerror(errno));
		_exit(127);
	}
	int status = 0;
	struct rusage ru;
	memset(&ru, 0, sizeof(ru));
	pid_t w;
	do {
		w = wait4(pid, &status, 0, &ru);
	} while (w < 0 && errno == EINTR);
	double t1 = now_s();
	if (w < 0) {
		fprintf(stderr, "peakrss: wait4: %s\n", strerror(errno));
		fclose(res);
		return 127;
	}
	int code = WIFEXITED(status)     ? WEXITSTATUS(status)
	           : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
	                                 : 127;
	fprintf(res, "%.6f %ld %d\n", t1 - t0, ru.ru_maxrss, code);
	if (fclose(res) != 0) {
		fprintf(stderr, "peakrss: %s: %s\n", argv[1], strerror(errno));
		return 127;
	}
	return code;
}
