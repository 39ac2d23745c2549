#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "secret.h"
#include "sys.h"

/* Room for every accepted line at its longest, plus line ends. */
#define FILE_MAX	(SECRET_MAX * (SECRET_LEN_MAX + 2))

/*
 * Mode bits that refuse a secret_file, as ssh refuses a key or an
 * authorized_keys file others could read or change: any access by
 * others, and a group that may write (whoever can change the secret can
 * forge votes).  A group that only reads is the intended root:www-data
 * 0640.
 */
#define MODE_REFUSED	(S_IRWXO | S_IWGRP)

/*
 * No core file may hold a key.  Not dumpable: no core, and no ptrace or
 * /proc/PID/mem by other processes of our user (execve(2) makes a grant
 * dumpable again).  A soft RLIMIT_CORE of 0 as well, for a system whose
 * fs.suid_dumpable = 2 still dumps non-dumpable processes.  The hard
 * limit stays, so a grant may raise its own soft limit (grant.h).
 */
static int
core_dumps_off(char *err, size_t errlen)
{
	struct rlimit rl;

	if (prctl(PR_SET_DUMPABLE, 0UL, 0UL, 0UL, 0UL) == -1) {
		(void)snprintf(err, errlen, "prctl(PR_SET_DUMPABLE): %s",
		    strerror(errno));
		return -1;
	}
	if (getrlimit(RLIMIT_CORE, &rl) == -1) {
		(void)snprintf(err, errlen, "getrlimit(RLIMIT_CORE): %s",
		    strerror(errno));
		return -1;
	}
	rl.rlim_cur = 0;
	if (setrlimit(RLIMIT_CORE, &rl) == -1) {
		(void)snprintf(err, errlen, "setrlimit(RLIMIT_CORE): %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}

static int
secret_add(struct secret_set *set, const char *s, size_t len, char *err,
    size_t errlen)
{
	while (len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' ||
	    s[len - 1] == '\r'))
		len--;
	if (len == 0)
		return 0;
	if (len > SECRET_LEN_MAX) {
		(void)snprintf(err, errlen, "a secret is longer than %d bytes",
		    SECRET_LEN_MAX);
		return -1;
	}
	if (set->count == SECRET_MAX) {
		(void)snprintf(err, errlen, "more than %d secrets", SECRET_MAX);
		return -1;
	}
	hmac_key_init(&set->keys[set->count++], s, len);
	return 0;
}

static int
secret_from_environment(struct secret_set *set, char *value, char *err,
    size_t errlen)
{
	int rc = secret_add(set, value, strlen(value), err, errlen);

	/* Scrub the bytes in place: unsetenv() alone leaves them in memory. */
	wipe(value, strlen(value));
	if (unsetenv("MMOLOVE_CALLBACK_SECRET") == -1 && rc == 0) {
		(void)snprintf(err, errlen, "unsetenv: %s", strerror(errno));
		return -1;
	}
	if (rc == 0 && set->count == 0) {
		(void)snprintf(err, errlen, "MMOLOVE_CALLBACK_SECRET is empty");
		return -1;
	}
	return rc;
}

/* What a refused mode lets others do, in words. */
static const char *
mode_problem(mode_t mode)
{
	if (mode & S_IROTH)
		return "anyone may read it";
	if (mode & S_IWOTH)
		return "anyone may change it";
	if (mode & S_IWGRP)
		return "its group may change it";
	return "others have access to it";
}

/*
 * Opens the file and checks the mode of what was opened (fstat, not a
 * stat of the path that a rename could change in between).
 */
static int
secret_file_open(const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1 ||
	    fstat(fd, &st) == -1) {
		(void)snprintf(err, errlen, "cannot read secret_file %s: %s",
		    path, strerror(errno));
		if (fd != -1)
			(void)close(fd);
		return -1;
	}
	if (st.st_mode & MODE_REFUSED) {
		(void)snprintf(err, errlen, "secret_file %s has mode %04o: %s; "
		    "refused, as ssh refuses such keys: chmod 0640 (or 0600) "
		    "%s", path, (unsigned)(st.st_mode & 07777),
		    mode_problem(st.st_mode), path);
		(void)close(fd);
		return -1;
	}
	return fd;
}

static int
secret_from_file(struct secret_set *set, const char *path, char *err,
    size_t errlen)
{
	char buf[FILE_MAX + 1], *line, *nl;
	ssize_t len;
	int fd, saved, rc = 0;

	if ((fd = secret_file_open(path, err, errlen)) == -1)
		return -1;
	len = read_full(fd, buf, sizeof(buf));
	saved = errno;
	(void)close(fd);
	if (len == -1) {
		(void)snprintf(err, errlen, "cannot read secret_file %s: %s",
		    path, strerror(saved));
		/* A read may have failed part-way: wipe all it could hold. */
		wipe(buf, sizeof(buf));
		return -1;
	}
	if ((size_t)len > FILE_MAX) {
		(void)snprintf(err, errlen, "secret_file %s is too large",
		    path);
		rc = -1;
	}
	for (line = buf; rc == 0 && line < buf + len; line = nl + 1) {
		if ((nl = memchr(line, '\n', (size_t)(buf + len - line))) ==
		    NULL)
			nl = buf + len;
		rc = secret_add(set, line, (size_t)(nl - line), err, errlen);
	}
	/* Only what was read: the rest of buf was never touched. */
	wipe(buf, (size_t)len);
	if (rc == 0 && set->count == 0) {
		(void)snprintf(err, errlen, "secret_file %s holds no secret",
		    path);
		rc = -1;
	}
	return rc;
}

int
secret_load(struct secret_set *set, const char *secret_file, char *err,
    size_t errlen)
{
	char *value = getenv("MMOLOVE_CALLBACK_SECRET");

	set->count = 0;
	if (core_dumps_off(err, errlen) == -1)
		return -1;
	if (value != NULL)
		return secret_from_environment(set, value, err, errlen);
	if (secret_file == NULL || *secret_file == '\0') {
		(void)snprintf(err, errlen, "no secret: set secret_file in the "
		    "configuration (or MMOLOVE_CALLBACK_SECRET)");
		return -1;
	}
	return secret_from_file(set, secret_file, err, errlen);
}

void
secret_wipe(struct secret_set *set)
{
	wipe(set, sizeof(*set));
}
