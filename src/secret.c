#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
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

/* A line without its surrounding blanks (and a CRLF file's CR). */
static size_t
trim(const char **s, size_t len)
{
	while (len > 0 && (**s == ' ' || **s == '\t')) {
		(*s)++;
		len--;
	}
	while (len > 0 && ((*s)[len - 1] == ' ' || (*s)[len - 1] == '\t' ||
	    (*s)[len - 1] == '\r'))
		len--;
	return len;
}

static int
secret_add(struct secret_set *set, const char *s, size_t len, char *err,
    size_t errlen)
{
	len = trim(&s, len);
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

int
secret_scrub_environment(void)
{
	char *value = getenv("MMOLOVE_CALLBACK_SECRET");

	if (value == NULL)
		return 0;
	/* Scrub the bytes in place: unsetenv() alone leaves them in memory. */
	wipe(value, strlen(value));
	return unsetenv("MMOLOVE_CALLBACK_SECRET");
}

static int
secret_from_environment(struct secret_set *set, char *value, char *err,
    size_t errlen)
{
	int rc = secret_add(set, value, strlen(value), err, errlen);

	if (secret_scrub_environment() == -1 && rc == 0) {
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
	set->from_env = value != NULL;
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

/* Keys are compared by what they compute: their room holds stray bytes. */
static void
key_mark(const struct hmac_key *key, unsigned char mac[DIGEST_LEN])
{
	struct hmac_run run;

	hmac_begin(&run, key);
	hmac_update(&run, "secret_same", 11);
	hmac_end(&run, mac);
}

bool
secret_same(const struct secret_set *a, const struct secret_set *b)
{
	unsigned char ma[DIGEST_LEN], mb[DIGEST_LEN];
	size_t i;

	if (a->count != b->count)
		return false;
	for (i = 0; i < a->count; i++) {
		key_mark(&a->keys[i], ma);
		key_mark(&b->keys[i], mb);
		if (!digest_equal(ma, mb))
			return false;
	}
	return true;
}

/* One line, trimmed as secret_add() trims it. */
struct lint_line {
	unsigned	 number;
	size_t		 len;
	bool		 blank_inside;
	bool		 odd_byte;
};

static void
lint_scan(struct lint_line *l, const char *line, size_t len)
{
	const unsigned char *s;
	size_t i;

	len = trim(&line, len);
	s = (const unsigned char *)line;
	l->len = len;
	l->blank_inside = l->odd_byte = false;
	for (i = 0; i < len; i++)
		if (s[i] == ' ' || s[i] == '\t')
			l->blank_inside = true;
		else if (s[i] < 0x21 || s[i] > 0x7e)
			l->odd_byte = true;
}

static void
say(void (*warn)(void *, const char *), void *arg, int *n,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
say(void (*warn)(void *, const char *), void *arg, int *n,
    const char *fmt, ...)
{
	char msg[320];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	warn(arg, msg);
	(*n)++;
}

/* The shortest line but this one, or 0 if there is none. */
static size_t
shortest_other(const struct lint_line *lines, size_t count, size_t skip,
    unsigned *number)
{
	size_t i, best = 0;

	for (i = 0; i < count; i++)
		if (i != skip && (best == 0 || lines[i].len < best)) {
			best = lines[i].len;
			*number = lines[i].number;
		}
	return best;
}

static void
lint_judge(const struct lint_line *lines, size_t count,
    void (*warn)(void *, const char *), void *arg, int *n)
{
	const struct lint_line *l;
	unsigned other = 0;
	size_t i, shortest;

	for (i = 0; i < count; i++) {
		l = &lines[i];
		shortest = shortest_other(lines, count, i, &other);
		if (l->len > SECRET_SHOWN_MAX)
			say(warn, arg, n, "line %u is %zu characters, more "
			    "than the %d of a 256-bit key in hex: two secrets "
			    "glued together? Put each on its own line",
			    l->number, l->len, SECRET_SHOWN_MAX);
		else if (shortest > 0 && l->len >= 2 * shortest)
			say(warn, arg, n, "line %u is %zu characters, line %u "
			    "only %zu: two secrets glued together? Put each on "
			    "its own line", l->number, l->len, other, shortest);
		if (l->blank_inside)
			say(warn, arg, n, "line %u has a space or tab inside: "
			    "two secrets on one line? Put each on its own "
			    "line", l->number);
		if (l->odd_byte)
			say(warn, arg, n, "line %u has a byte that is not "
			    "printable ASCII (a stray character from copying?): "
			    "paste the secret again", l->number);
	}
}

int
secret_lint(const char *path, void (*warn)(void *, const char *), void *arg)
{
	char buf[FILE_MAX + 1], *line, *nl;
	struct lint_line lines[SECRET_MAX];
	size_t count = 0;
	unsigned number = 0;
	ssize_t len;
	bool unended;
	int n = 0;

	if ((len = read_path(path, buf, sizeof(buf))) == -1) {
		wipe(buf, sizeof(buf));
		return -1;
	}
	unended = len > 0 && buf[len - 1] != '\n';
	for (line = buf; line < buf + len && count < SECRET_MAX;
	    line = nl + 1) {
		if ((nl = memchr(line, '\n', (size_t)(buf + len - line))) ==
		    NULL)
			nl = buf + len;
		number++;
		lint_scan(&lines[count], line,
		    (size_t)(nl - line));
		lines[count].number = number;
		if (lines[count].len > 0)
			count++;
	}
	wipe(buf, (size_t)len);
	lint_judge(lines, count, warn, arg, &n);
	if (unended)
		say(warn, arg, &n, "the last line has no newline: a secret "
		    "added with `cat >>` would be glued onto it; add one "
		    "(echo >> %s)", path);
	return n;
}
