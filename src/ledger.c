#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "ledger.h"
#include "sys.h"

#define MAGIC		"mmolove-vote 2\n"
#define MAGIC_V1	"mmolove-vote 1\n"	/* 0.1: no checksum, no padding */
#define SUM_KEY		"sum="
#define BODY_AT		(sizeof(MAGIC) - 1 + sizeof(SUM_KEY) - 1 + \
			    DIGEST_HEX_LEN + 1)
#define END_LINE	"end\n"
#define POLL_MS		10

static const char *const state_names[] = {
	"none", "pending", "failed", "paid", "refused", "queued", "dead",
	"unknown"
};

enum rec_kind {
	REC_STATE,		/* enum vote_state, by name */
	REC_NUMBER,		/* long long */
	REC_TEXT		/* char[size] */
};

struct rec_line {
	const char	*key;
	enum rec_kind	 kind;
	size_t		 offset;
	size_t		 size;
};

/* As in vote.c: _Generic refuses an entry whose member has another type. */
#define AS(f, type) (offsetof(struct ledger_record, f) + \
	0 * _Generic(((struct ledger_record *)0)->f, type: 0u)), \
	sizeof(((struct ledger_record *)0)->f)

/* The record's own lines; the vote's follow, from vote_fields[]. */
static const struct rec_line rec_lines[] = {
	{ "state", REC_STATE, AS(state, enum vote_state) },
	{ "time", REC_NUMBER, AS(time, long long) },
	{ "attempts", REC_NUMBER, AS(attempts, long long) },
	{ "queued_at", REC_NUMBER, AS(queued_at, long long) },
	{ "next", REC_NUMBER, AS(next, long long) },
	{ "unknown_at", REC_NUMBER, AS(unknown_at, long long) },
	{ "grant_pgid", REC_NUMBER, AS(group.pgid, long long) },
	{ "grant_start", REC_NUMBER, AS(group.start_ticks, long long) },
	{ "grant_deadline", REC_NUMBER, AS(group.deadline, long long) },
	{ "grant_boot", REC_TEXT, AS(group.boot_id, char *) },
};

#define REC_LINES	(sizeof(rec_lines) / sizeof(rec_lines[0]))

const char *
ledger_state_name(enum vote_state state)
{
	return state_names[state];
}

int
ledger_state_parse(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++)
		if (strcmp(state_names[i], name) == 0)
			return (int)i;
	return -1;
}

static int
open_dir(int *fd, const char *path, char *err, size_t errlen)
{
	/* No link in the ledger's own folders: they are ours alone. */
	*fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	/* Another process may create it between our open and mkdir. */
	if (*fd == -1 && errno == ENOENT &&
	    (mkdir(path, 0700) == 0 || errno == EEXIST))
		*fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
	if (*fd != -1)
		return 0;
	(void)snprintf(err, errlen, "cannot open %s: %s", path,
	    errno == ELOOP || errno == ENOTDIR ? "it is a symbolic link or "
	    "not a directory" : strerror(errno));
	return -1;
}

int
ledger_open(struct ledger *l, const char *state_dir, char *err,
    size_t errlen)
{
	char path[CONFIG_PATH_MAX + 8];

	l->dirfd = l->queuefd = -1;
	l->seq = 0;
	if (snprintf(l->votes, sizeof(l->votes), "%s/votes", state_dir) >=
	    (int)sizeof(l->votes)) {
		(void)snprintf(err, errlen, "state_dir is too long");
		return -1;
	}
	(void)snprintf(path, sizeof(path), "%s/queue", state_dir);
	/* Usually all there: no mkdir(2) per request. */
	if ((l->dirfd = open(l->votes, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1 && errno == ENOENT &&
	    mkdir(state_dir, 0700) == -1 && errno != EEXIST) {
		(void)snprintf(err, errlen, "cannot create state_dir %s: %s",
		    state_dir, strerror(errno));
		return -1;
	}
	if ((l->dirfd == -1 && open_dir(&l->dirfd, l->votes, err, errlen) ==
	    -1) || open_dir(&l->queuefd, path, err, errlen) == -1) {
		ledger_close(l);
		return -1;
	}
	return 0;
}

void
ledger_close(struct ledger *l)
{
	if (l->dirfd != -1)
		(void)close(l->dirfd);
	if (l->queuefd != -1)
		(void)close(l->queuefd);
	l->dirfd = l->queuefd = -1;
}

void
ledger_name(const char *key, char name[DIGEST_HEX_LEN + 1])
{
	unsigned char d[DIGEST_LEN];

	sha256(key, strlen(key), d);
	hex_encode(d, sizeof(d), name);
}

/* ---------------------------------------------------------------- format */

static int
rec_line_set(struct ledger_record *rec, const struct rec_line *k,
    const char *v, size_t len)
{
	char *at = (char *)rec + k->offset, text[24], *end;
	long long n;
	int state;

	if (k->kind == REC_TEXT) {
		if (len >= k->size)
			return -1;
		memcpy(at, v, len);
		at[len] = '\0';
		return 0;
	}
	if (len == 0 || len >= sizeof(text))
		return -1;
	memcpy(text, v, len);
	text[len] = '\0';
	if (k->kind == REC_STATE) {
		if ((state = ledger_state_parse(text)) == -1)
			return -1;
		*(enum vote_state *)(void *)at = (enum vote_state)state;
		return 0;
	}
	n = strtoll(text, &end, 10);
	if (*end != '\0')
		return -1;
	memcpy(at, &n, sizeof(n));
	return 0;
}

/* One key=value line; a key this version does not know is skipped. */
static int
record_line(struct ledger_record *rec, const char *s, size_t len,
    bool *has_state)
{
	const char *eq = memchr(s, '=', len);
	size_t i, klen;

	if (eq == NULL)
		return -1;
	klen = (size_t)(eq - s);
	for (i = 0; i < REC_LINES; i++)
		if (strlen(rec_lines[i].key) == klen &&
		    memcmp(rec_lines[i].key, s, klen) == 0) {
			*has_state |= i == 0;
			return rec_line_set(rec, &rec_lines[i], eq + 1,
			    len - klen - 1);
		}
	for (i = 0; i < vote_field_count; i++)
		if (strlen(vote_fields[i].key) == klen &&
		    memcmp(vote_fields[i].key, s, klen) == 0)
			return vote_set(&rec->vote, &vote_fields[i], eq + 1,
			    len - klen - 1);
	return 0;
}

/* The lines between from and to (which ends with END_LINE). */
static int
record_lines(struct ledger_record *rec, const char *from, const char *to)
{
	const char *nl;
	bool has_state = false;

	memset(rec, 0, sizeof(*rec));
	for (; from < to - (sizeof(END_LINE) - 1); from = nl + 1) {
		nl = memchr(from, '\n', (size_t)(to - from));
		if (record_line(rec, from, (size_t)(nl - from), &has_state) ==
		    -1)
			return -1;
	}
	return has_state && rec->state != STATE_NONE ? 0 : -1;
}

/* Just past the END_LINE that is a line of its own, or NULL. */
static const char *
end_of_lines(const char *buf, size_t len)
{
	const char *p = buf, *nl;
	size_t end = sizeof(END_LINE) - 1;

	while (p < buf + len) {
		if ((size_t)(buf + len - p) >= end &&
		    memcmp(p, END_LINE, end) == 0)
			return p + end;
		if ((nl = memchr(p, '\n', (size_t)(buf + len - p))) == NULL)
			return NULL;
		p = nl + 1;
	}
	return NULL;
}

static int
record_parse_v1(struct ledger_record *rec, const char *buf, size_t len)
{
	size_t magic = sizeof(MAGIC_V1) - 1, end = sizeof(END_LINE) - 1;

	if (len < magic + end ||
	    memcmp(buf + len - end, END_LINE, end) != 0)
		return -1;
	if (record_lines(rec, buf + magic, buf + len) == -1)
		return -1;
	/* 0.1 wrote only these; anything else there is not its record. */
	return rec->state == STATE_PAID || rec->state == STATE_REFUSED ||
	    rec->state == STATE_QUEUED ? 0 : -1;
}

/* Whole, checksummed, NUL-padded, or -1: never a guess. */
static int
record_parse(struct ledger_record *rec, const char *buf, size_t len)
{
	unsigned char sum[DIGEST_LEN], want[DIGEST_LEN];
	const char *end, *p;

	if (len >= sizeof(MAGIC_V1) - 1 &&
	    memcmp(buf, MAGIC_V1, sizeof(MAGIC_V1) - 1) == 0)
		return record_parse_v1(rec, buf, len);
	if (len != LEDGER_RECORD_SIZE || memcmp(buf, MAGIC,
	    sizeof(MAGIC) - 1) != 0 || memcmp(buf + sizeof(MAGIC) - 1,
	    SUM_KEY, sizeof(SUM_KEY) - 1) != 0 || buf[BODY_AT - 1] != '\n' ||
	    hex_decode_lower(buf + BODY_AT - 1 - DIGEST_HEX_LEN,
	    DIGEST_HEX_LEN, want, sizeof(want)) == -1)
		return -1;
	if ((end = end_of_lines(buf + BODY_AT, len - BODY_AT)) == NULL)
		return -1;
	for (p = end; p < buf + len; p++)
		if (*p != '\0')
			return -1;
	sha256(buf + BODY_AT, (size_t)(end - (buf + BODY_AT)), sum);
	if (!digest_equal(sum, want))
		return -1;
	return record_lines(rec, buf + BODY_AT, end);
}

static int
append(char *buf, size_t *used, const char *key, const char *value)
{
	int n = snprintf(buf + *used, LEDGER_RECORD_SIZE - *used, "%s=%s\n",
	    key, value);

	if (n < 0 || (size_t)n >= LEDGER_RECORD_SIZE - *used)
		return -1;
	*used += (size_t)n;
	return 0;
}

static void
rec_line_value(const struct ledger_record *rec, const struct rec_line *k,
    char *value, size_t cap)
{
	const char *at = (const char *)rec + k->offset;
	enum vote_state state;
	long long n;

	switch (k->kind) {
	case REC_TEXT:
		(void)snprintf(value, cap, "%s", at);
		break;
	case REC_STATE:
		memcpy(&state, at, sizeof(state));
		(void)snprintf(value, cap, "%s", ledger_state_name(state));
		break;
	case REC_NUMBER:
		memcpy(&n, at, sizeof(n));
		(void)snprintf(value, cap, "%lld", n);
		break;
	}
}

/* The whole LEDGER_RECORD_SIZE bytes, or -1 if it would not fit. */
static int
record_format(const struct ledger_record *rec, char *buf)
{
	char value[VOTE_VALUE_MAX], hex[DIGEST_HEX_LEN + 1];
	unsigned char sum[DIGEST_LEN];
	size_t used = BODY_AT, i;
	int rc = 0;

	memset(buf, 0, LEDGER_RECORD_SIZE);
	for (i = 0; i < REC_LINES && rc == 0; i++) {
		rec_line_value(rec, &rec_lines[i], value, sizeof(value));
		rc = append(buf, &used, rec_lines[i].key, value);
	}
	for (i = 0; i < vote_field_count && rc == 0; i++) {
		(void)vote_value(&rec->vote, &vote_fields[i], false, value,
		    sizeof(value));
		rc = append(buf, &used, vote_fields[i].key, value);
	}
	if (rc == -1 || used + sizeof(END_LINE) > LEDGER_RECORD_SIZE)
		return -1;
	memcpy(buf + used, END_LINE, sizeof(END_LINE) - 1);
	used += sizeof(END_LINE) - 1;
	sha256(buf + BODY_AT, used - BODY_AT, sum);
	hex_encode(sum, sizeof(sum), hex);
	/* The header last: snprintf()'s NUL would land on the first line. */
	memcpy(buf, MAGIC SUM_KEY, sizeof(MAGIC SUM_KEY) - 1);
	memcpy(buf + BODY_AT - 1 - DIGEST_HEX_LEN, hex, DIGEST_HEX_LEN);
	buf[BODY_AT - 1] = '\n';
	return 0;
}

/* ----------------------------------------------------------------- files */

static enum ledger_status
corrupt(const struct ledger *l, const char *name, const char *why, char *err,
    size_t errlen)
{
	(void)snprintf(err, errlen, "vote record %s/%s %s: it is not read as "
	    "unpaid; see mmolove.cgi --check", l->votes, name, why);
	return LEDGER_CORRUPT;
}

static enum ledger_status
failed(const struct ledger *l, const char *name, const char *what, char *err,
    size_t errlen)
{
	(void)snprintf(err, errlen, "cannot %s vote record %s/%s: %s", what,
	    l->votes, name, strerror(errno));
	return LEDGER_ERROR;
}

/* Reads and checks an open record; LEDGER_OK, _CORRUPT or _ERROR. */
static enum ledger_status
record_read(const struct ledger *l, int fd, const char *name,
    struct ledger_record *rec, char *err, size_t errlen)
{
	char buf[LEDGER_RECORD_SIZE + 1];
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st) == -1)
		return failed(l, name, "stat", err, errlen);
	if (!S_ISREG(st.st_mode))
		return corrupt(l, name, "is not a regular file", err, errlen);
	if (st.st_nlink > 1)
		return corrupt(l, name, "has another hard link", err, errlen);
	if ((n = pread(fd, buf, sizeof(buf), 0)) == -1)
		return failed(l, name, "read", err, errlen);
	if (n == 0)
		return corrupt(l, name, "is empty", err, errlen);
	if (record_parse(rec, buf, (size_t)n) == -1)
		return corrupt(l, name, n != LEDGER_RECORD_SIZE ? "is truncated "
		    "or overlong" : "fails its checksum or format", err, errlen);
	return LEDGER_OK;
}

/* Polled: flock(2) has no timeout, and an alarm is process-wide state. */
static int
lock_within(int fd, int how, long wait_ms)
{
	long long deadline = monotonic_ms() + wait_ms;
	struct timespec pause = { 0, POLL_MS * 1000000L };

	while (flock(fd, how | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK && errno != EINTR)
			return -1;
		if (monotonic_ms() >= deadline) {
			errno = EWOULDBLOCK;
			return -1;
		}
		(void)nanosleep(&pause, NULL);
	}
	return 0;
}

/* Opens an existing record; -1 with errno (ENOENT: none). */
static int
record_open(const struct ledger *l, const char *name, int flags)
{
	return openat(l->dirfd, name, flags | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC);
}

static enum ledger_status
open_failed(const struct ledger *l, const char *name, char *err,
    size_t errlen)
{
	if (errno == ELOOP)
		return corrupt(l, name, "is a symbolic link", err, errlen);
	if (errno == EISDIR)
		return corrupt(l, name, "is a directory", err, errlen);
	return failed(l, name, "open", err, errlen);
}

enum ledger_status
ledger_claim(struct ledger *l, const char *name, long wait_ms,
    struct claim *c, struct ledger_record *rec, char *err, size_t errlen)
{
	enum ledger_status st;
	struct stat sb;

	(void)snprintf(c->name, sizeof(c->name), "%s", name);
	memset(rec, 0, sizeof(*rec));
	for (;;) {
		if ((c->fd = record_open(l, name, O_RDWR)) == -1)
			return errno == ENOENT ? LEDGER_NEW :
			    open_failed(l, name, err, errlen);
		if (lock_within(c->fd, LOCK_EX, wait_ms) == -1) {
			st = errno == EWOULDBLOCK ? LEDGER_BUSY :
			    failed(l, name, "lock", err, errlen);
			break;
		}
		/* Removed (--prune, an undone claim) while we waited. */
		if (fstat(c->fd, &sb) == 0 && sb.st_nlink == 0) {
			ledger_release(c);
			continue;
		}
		if ((st = record_read(l, c->fd, name, rec, err, errlen)) ==
		    LEDGER_OK)
			return LEDGER_OK;
		break;
	}
	ledger_release(c);
	return st;
}

enum ledger_status
ledger_peek(struct ledger *l, const char *name, struct ledger_record *rec,
    char *err, size_t errlen)
{
	enum ledger_status st;
	int fd;

	memset(rec, 0, sizeof(*rec));
	if ((fd = record_open(l, name, O_RDONLY)) == -1)
		return errno == ENOENT ? LEDGER_NEW :
		    open_failed(l, name, err, errlen);
	/* Shared, so a record being rewritten is not read half-way. */
	if (lock_within(fd, LOCK_SH, 100) == -1)
		st = errno == EWOULDBLOCK ? LEDGER_BUSY :
		    failed(l, name, "lock", err, errlen);
	else
		st = record_read(l, fd, name, rec, err, errlen);
	(void)close(fd);
	return st;
}

/*
 * A new record: written and synced under a name of its own, then put in
 * place by a rename that never replaces, so the vote's name only ever
 * holds a whole record, and two first deliveries cannot both create it.
 */
static enum ledger_status
record_create(struct ledger *l, struct claim *c, const char *buf, char *err,
    size_t errlen)
{
	char tmp[64];
	int fd, rc;

	(void)snprintf(tmp, sizeof(tmp), ".new-%ld-%u", (long)getpid(),
	    l->seq++);
	fd = openat(l->dirfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	/*
	 * Our pid in the name: one there already was left by a killed
	 * process that had it before us, and was never a vote's record.
	 */
	if (fd == -1 && errno == EEXIST && unlinkat(l->dirfd, tmp, 0) == 0)
		fd = openat(l->dirfd, tmp, O_RDWR | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1)
		return failed(l, c->name, "create", err, errlen);
	if (flock(fd, LOCK_EX) == -1 || pwrite(fd, buf, LEDGER_RECORD_SIZE,
	    0) != LEDGER_RECORD_SIZE || fsync(fd) == -1) {
		(void)failed(l, c->name, "write a new", err, errlen);
		goto fail;
	}
	rc = renameat2(l->dirfd, tmp, l->dirfd, c->name, RENAME_NOREPLACE);
	if (rc == -1 && errno == EEXIST) {
		(void)unlinkat(l->dirfd, tmp, 0);
		(void)close(fd);
		return LEDGER_RACE;
	}
	if (rc == -1) {
		(void)failed(l, c->name, "rename into place a new", err, errlen);
		goto fail;
	}
	c->fd = fd;
	if (fsync(l->dirfd) == -1)
		return failed(l, c->name, "fsync the folder of", err, errlen);
	return LEDGER_OK;
fail:
	(void)unlinkat(l->dirfd, tmp, 0);
	(void)close(fd);
	return LEDGER_ERROR;
}

enum ledger_status
ledger_write(struct ledger *l, struct claim *c,
    const struct ledger_record *rec, char *err, size_t errlen)
{
	char buf[LEDGER_RECORD_SIZE];

	if (record_format(rec, buf) == -1) {
		(void)snprintf(err, errlen, "vote record %s/%s would not fit "
		    "in %d bytes", l->votes, c->name, LEDGER_RECORD_SIZE);
		return LEDGER_ERROR;
	}
	if (c->fd == -1)
		return record_create(l, c, buf, err, errlen);
	/* Same size, same blocks: an overwrite needs no new space. */
	if (pwrite(c->fd, buf, LEDGER_RECORD_SIZE, 0) != LEDGER_RECORD_SIZE)
		return failed(l, c->name, "write", err, errlen);
	if (fdatasync(c->fd) == -1)
		return failed(l, c->name, "fsync", err, errlen);
	return LEDGER_OK;
}

void
ledger_undo(struct ledger *l, struct claim *c,
    const struct ledger_record *before)
{
	char buf[LEDGER_RECORD_SIZE];

	if (c->fd == -1)
		return;
	if (before->state == STATE_NONE) {
		(void)unlinkat(l->dirfd, c->name, 0);
		(void)fsync(l->dirfd);
	} else if (record_format(before, buf) == 0 &&
	    pwrite(c->fd, buf, LEDGER_RECORD_SIZE, 0) == LEDGER_RECORD_SIZE)
		(void)fdatasync(c->fd);
}

int
ledger_probe(struct ledger *l, char *err, size_t errlen)
{
	char buf[LEDGER_RECORD_SIZE], tmp[64];
	int fd, rc = -1;

	memset(buf, 0, sizeof(buf));
	(void)snprintf(tmp, sizeof(tmp), ".probe-%ld", (long)getpid());
	fd = openat(l->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd != -1 && pwrite(fd, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf)
	    && fsync(fd) == 0)
		rc = 0;
	else
		(void)snprintf(err, errlen, "%s", strerror(errno));
	if (fd != -1) {
		(void)close(fd);
		(void)unlinkat(l->dirfd, tmp, 0);
	}
	return rc;
}

unsigned
ledger_sweep(struct ledger *l, long long before)
{
	struct dirent *de;
	struct stat st;
	unsigned removed = 0;
	DIR *dir;
	int fd;

	if ((fd = dup(l->dirfd)) == -1 || lseek(fd, 0, SEEK_SET) == -1 ||
	    (dir = fdopendir(fd)) == NULL) {
		if (fd != -1)
			(void)close(fd);
		return 0;
	}
	while ((de = readdir(dir)) != NULL)
		if (strncmp(de->d_name, ".new-", 5) == 0 &&
		    fstatat(l->dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
		    0 && (long long)st.st_mtime < before &&
		    unlinkat(l->dirfd, de->d_name, 0) == 0)
			removed++;
	(void)closedir(dir);
	return removed;
}

int
ledger_remove(struct ledger *l, struct claim *c)
{
	return unlinkat(l->dirfd, c->name, 0);
}

void
ledger_release(struct claim *c)
{
	if (c->fd != -1)
		(void)close(c->fd);
	c->fd = -1;
}

int
ledger_queue_mark(struct ledger *l, const char *name, char *err,
    size_t errlen)
{
	int fd = openat(l->queuefd, name, O_WRONLY | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC, 0600);

	if (fd == -1 || close(fd) == -1 || fsync(l->queuefd) == -1) {
		(void)snprintf(err, errlen, "cannot mark vote %s queued: %s",
		    name, strerror(errno));
		return -1;
	}
	return 0;
}

void
ledger_queue_unmark(struct ledger *l, const char *name)
{
	/* A marker left behind only costs --drain one look. */
	(void)unlinkat(l->queuefd, name, 0);
}

void
ledger_queue_unmark_stale(struct ledger *l, const char *name,
    long long before)
{
	struct stat st;

	if (fstatat(l->queuefd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    (long long)st.st_mtime < before)
		(void)unlinkat(l->queuefd, name, 0);
}

static bool
is_vote_name(const char *name)
{
	size_t i;

	for (i = 0; name[i] != '\0'; i++)
		if (!((name[i] >= '0' && name[i] <= '9') ||
		    (name[i] >= 'a' && name[i] <= 'f')))
			return false;
	return i == DIGEST_HEX_LEN;
}

int
ledger_each(struct ledger *l, bool queue_only,
    int (*fn)(void *arg, const char *name), void *arg, char *err,
    size_t errlen)
{
	struct dirent *de;
	DIR *dir;
	int fd;

	/* readdir gets its own descriptor: closedir closes it. */
	if ((fd = dup(queue_only ? l->queuefd : l->dirfd)) == -1 ||
	    lseek(fd, 0, SEEK_SET) == -1 || (dir = fdopendir(fd)) == NULL) {
		(void)snprintf(err, errlen, "cannot list %s%s: %s", l->votes,
		    queue_only ? "/../queue" : "", strerror(errno));
		if (fd != -1)
			(void)close(fd);
		return -1;
	}
	while ((de = readdir(dir)) != NULL)
		if (is_vote_name(de->d_name) && fn(arg, de->d_name) != 0)
			break;
	(void)closedir(dir);
	return 0;
}
