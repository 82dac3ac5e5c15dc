/*
 * sac_secret.c — where the cmd-channel password comes from (sac.h): a file
 * only its owner can read, or an environment variable the caller names.
 *
 * A password file readable by others is refused rather than used, the way
 * ssh refuses a private key with loose permissions: using it would make the
 * leak look acceptable. Error messages name the file and the reason, never
 * any of its contents.
 */
#include "emsagent/sac.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void sac_secret_clear(struct sac_secret *s)
{
	explicit_bzero(s, sizeof(*s));
}

/* Takes the first line of raw (without CR/LF); -1 when it is empty or too long. */
static int take_line(struct sac_secret *s, const char *raw, size_t n, char *err, size_t errsz,
                     const char *what)
{
	size_t len = 0;
	while (len < n && raw[len] != '\n' && raw[len] != '\r')
		len++;
	if (len == 0) {
		snprintf(err, errsz, "%s: the password is empty", what);
		return -1;
	}
	if (len >= sizeof(s->pw)) {
		snprintf(err, errsz, "%s: the password is longer than %zu bytes", what, sizeof(s->pw) - 1);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char b = (unsigned char)raw[i];
		if (b < 0x20 || b == 0x7f) {
			/* a control byte would edit the guest's line or switch channels */
			snprintf(err, errsz, "%s: the password contains a control character", what);
			return -1;
		}
	}
	memcpy(s->pw, raw, len);
	s->pw[len] = 0;
	s->len = len;
	return 0;
}

int sac_secret_from_file(const char *path, struct sac_secret *s, char *err, size_t errsz)
{
	sac_secret_clear(s);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errsz, "password file %s: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		snprintf(err, errsz, "password file %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errsz, "password file %s: not a regular file", path);
		close(fd);
		return -1;
	}
	if (st.st_uid != geteuid()) {
		snprintf(err, errsz, "password file %s: owned by uid %u, not by you (uid %u)", path,
		         (unsigned)st.st_uid, (unsigned)geteuid());
		close(fd);
		return -1;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errsz, "password file %s: mode %04o lets others read it; chmod 600 it", path,
		         (unsigned)(st.st_mode & 07777));
		close(fd);
		return -1;
	}
	char raw[sizeof(s->pw) + 2];
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, raw + n, sizeof(raw) - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errsz, "password file %s: %s", path, strerror(errno));
			explicit_bzero(raw, sizeof(raw));
			close(fd);
			return -1;
		}
		if (r == 0 || (n += (size_t)r) == sizeof(raw))
			break;
	}
	close(fd);
	char what[300];
	snprintf(what, sizeof(what), "password file %s", path);
	int rc = take_line(s, raw, n, err, errsz, what);
	explicit_bzero(raw, sizeof(raw));
	return rc;
}

int sac_secret_from_env(const char *var, struct sac_secret *s, char *err, size_t errsz)
{
	sac_secret_clear(s);
	if (!var || !var[0]) {
		snprintf(err, errsz, "no environment variable named for the password");
		return -1;
	}
	const char *v = getenv(var);
	if (!v) {
		snprintf(err, errsz, "environment variable %s is not set", var);
		return -1;
	}
	char what[300];
	snprintf(what, sizeof(what), "environment variable %s", var);
	return take_line(s, v, strlen(v), err, errsz, what);
}
