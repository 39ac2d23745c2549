#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "secret.h"
#include "sys.h"

/* Room for every accepted line at its longest, plus line ends. */
#define FILE_MAX	(SECRET_MAX * (SECRET_LEN_MAX + 2))

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

static int
secret_from_file(struct secret_set *set, const char *path, char *err,
    size_t errlen)
{
	char buf[FILE_MAX + 1], *line, *nl;
	ssize_t len;
	int rc = 0;

	if ((len = read_path(path, buf, sizeof(buf))) == -1) {
		(void)snprintf(err, errlen, "cannot read secret_file %s: %s",
		    path, strerror(errno));
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
