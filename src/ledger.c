#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "ledger.h"
#include "sys.h"

#define RECORD_MAX	4096
#define RECORD_MAGIC	"mmolove-vote 1\n"
#define RECORD_END	"end\n"
#define POLL_MS		10

enum line_kind {
	LINE_TEXT,
	LINE_NUMBER,		/* an integer of the field's width */
	LINE_NAME		/* an enum, written as its name */
};

struct line {
	const char	*key;
	enum line_kind	 kind;
	size_t		 offset;
	size_t		 size;
};

static const char *const state_names[] = {
	"none", "paid", "refused", "queued", NULL
};
static const char *const mode_names[] = { "post", "legacy", NULL };

#define REC(f) offsetof(struct ledger_record, f), \
	sizeof(((struct ledger_record *)0)->f)
#define VOTE(f) offsetof(struct ledger_record, vote.f), \
	sizeof(((struct ledger_record *)0)->vote.f)

static const struct line lines[] = {
	{ "state", LINE_NAME, REC(state) },
	{ "time", LINE_NUMBER, REC(time) },
	{ "attempts", LINE_NUMBER, REC(attempts) },
	{ "next", LINE_NUMBER, REC(next) },
	{ "mode", LINE_NAME, VOTE(mode) },
	{ "key", LINE_TEXT, VOTE(key) },
	{ "event", LINE_TEXT, VOTE(event) },
	{ "username", LINE_TEXT, VOTE(username) },
	{ "heart_id", LINE_TEXT, VOTE(heart_id) },
	{ "reward", LINE_NUMBER, VOTE(reward) },
	{ "server_id", LINE_TEXT, VOTE(server_id) },
	{ "period", LINE_TEXT, VOTE(period) },
	{ "timestamp", LINE_TEXT, VOTE(timestamp) },
	{ "streak_day", LINE_NUMBER, VOTE(streak_day) },
	{ "first_heart", LINE_NUMBER, VOTE(first_heart) },
	{ "streak_milestone", LINE_NUMBER, VOTE(streak_milestone) },
	{ "account_linked", LINE_NUMBER, VOTE(account_linked) },
	{ "monthly_streak", LINE_TEXT, VOTE(monthly_streak) },
	{ "loyalty_level", LINE_TEXT, VOTE(loyalty_level) },
};

const char *
ledger_state_name(enum vote_state state)
{
	return state_names[state];
}

static const char *const *
names_of(const struct line *l)
{
	return strcmp(l->key, "state") == 0 ? state_names : mode_names;
}

static int
name_index(const char *const *names, const char *s, size_t len)
{
	int i;

	for (i = 0; names[i] != NULL; i++)
		if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0)
			return i;
	return -1;
}

int
ledger_open(struct ledger *l, const char *state_dir, char *err,
    size_t errlen)
{
	char path[CONFIG_PATH_MAX + 8];

	if (snprintf(path, sizeof(path), "%s/votes", state_dir) >=
	    (int)sizeof(path)) {
		(void)snprintf(err, errlen, "state_dir is too long");
		return -1;
	}
	/* Usually there already: one system call per request. */
	l->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (l->dirfd != -1)
		return 0;
	if (errno != ENOENT) {
		(void)snprintf(err, errlen, "cannot open %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (mkdir(state_dir, 0700) == -1 && errno != EEXIST) {
		(void)snprintf(err, errlen, "cannot create state_dir %s: %s",
		    state_dir, strerror(errno));
		return -1;
	}
	if (mkdir(path, 0700) == -1 && errno != EEXIST) {
		(void)snprintf(err, errlen, "cannot create %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if ((l->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1) {
		(void)snprintf(err, errlen, "cannot open %s: %s", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

void
ledger_close(struct ledger *l)
{
	if (l->dirfd != -1)
		(void)close(l->dirfd);
	l->dirfd = -1;
}

void
ledger_name(const char *key, char name[DIGEST_HEX_LEN + 1])
{
	unsigned char d[DIGEST_LEN];

	sha256(key, strlen(key), d);
	hex_encode(d, sizeof(d), name);
}

static void
store_number(void *at, size_t size, long long n)
{
	if (size == sizeof(long long))
		*(long long *)at = n;
	else if (size == sizeof(int))
		*(int *)at = (int)n;
}

static int
record_line(struct ledger_record *rec, const char *s, size_t len)
{
	const char *eq = memchr(s, '=', len), *v;
	size_t i, klen, vlen;
	char num[32], *end;
	long long n;
	int index;

	if (eq == NULL)
		return -1;
	klen = (size_t)(eq - s);
	v = eq + 1;
	vlen = len - klen - 1;
	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		if (strlen(lines[i].key) != klen ||
		    memcmp(lines[i].key, s, klen) != 0)
			continue;
		if (lines[i].kind == LINE_TEXT) {
			if (vlen >= lines[i].size)
				return -1;
			memcpy((char *)rec + lines[i].offset, v, vlen);
			((char *)rec + lines[i].offset)[vlen] = '\0';
			return 0;
		}
		if (lines[i].kind == LINE_NAME) {
			if ((index = name_index(names_of(&lines[i]), v, vlen)) ==
			    -1)
				return -1;
			store_number((char *)rec + lines[i].offset,
			    lines[i].size, index);
			return 0;
		}
		if (vlen == 0 || vlen >= sizeof(num))
			return -1;
		memcpy(num, v, vlen);
		num[vlen] = '\0';
		n = strtoll(num, &end, 10);
		if (*end != '\0')
			return -1;
		store_number((char *)rec + lines[i].offset, lines[i].size, n);
		return 0;
	}
	return 0;	/* a line from a newer version: ignored */
}

/* Parses a whole record; anything torn or foreign reads as STATE_NONE. */
static void
record_parse(struct ledger_record *rec, const char *buf, size_t len)
{
	const char *p, *nl;
	size_t magic = sizeof(RECORD_MAGIC) - 1, end = sizeof(RECORD_END) - 1;

	memset(rec, 0, sizeof(*rec));
	if (len < magic + end || memcmp(buf, RECORD_MAGIC, magic) != 0 ||
	    memcmp(buf + len - end, RECORD_END, end) != 0)
		return;
	for (p = buf + magic; p < buf + len - end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(buf + len - p));
		if (record_line(rec, p, (size_t)(nl - p)) == -1) {
			memset(rec, 0, sizeof(*rec));
			return;
		}
	}
}

static int
record_read(int fd, struct ledger_record *rec, char *err, size_t errlen)
{
	char buf[RECORD_MAX];
	ssize_t n;

	n = pread(fd, buf, sizeof(buf), 0);
	if (n == -1) {
		(void)snprintf(err, errlen, "cannot read a vote record: %s",
		    strerror(errno));
		return -1;
	}
	record_parse(rec, buf, (size_t)n);
	return 0;
}

static enum claim_result
claim_lock(int fd, long wait_ms, char *err, size_t errlen)
{
	long long deadline = monotonic_ms() + wait_ms;
	struct timespec pause = { 0, POLL_MS * 1000000L };

	/*
	 * Polled rather than blocking: flock(2) has no timeout, and an alarm
	 * would be process-wide state in a FastCGI worker.
	 */
	while (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			(void)snprintf(err, errlen, "cannot lock a vote "
			    "record: %s", strerror(errno));
			return CLAIM_ERROR;
		}
		if (monotonic_ms() >= deadline)
			return CLAIM_BUSY;
		(void)nanosleep(&pause, NULL);
	}
	return CLAIM_HELD;
}

enum claim_result
ledger_claim(struct ledger *l, const char *name, long wait_ms,
    struct claim *c, struct ledger_record *rec, char *err, size_t errlen)
{
	enum claim_result r;

	(void)snprintf(c->name, sizeof(c->name), "%s", name);
	c->dir_synced = false;
	c->fd = openat(l->dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (c->fd == -1) {
		(void)snprintf(err, errlen, "cannot open vote record %s: %s",
		    name, strerror(errno));
		return CLAIM_ERROR;
	}
	if ((r = claim_lock(c->fd, wait_ms, err, errlen)) == CLAIM_HELD &&
	    record_read(c->fd, rec, err, errlen) == -1)
		r = CLAIM_ERROR;
	if (r != CLAIM_HELD)
		ledger_release(c);
	return r;
}

static int
record_format(const struct ledger_record *rec, char *buf, size_t cap)
{
	size_t used = 0, i;
	const char *at;
	long long n;
	int w;

	w = snprintf(buf, cap, "%s", RECORD_MAGIC);
	for (i = 0; w >= 0 && (size_t)w < cap - used &&
	    i < sizeof(lines) / sizeof(lines[0]); i++) {
		used += (size_t)w;
		at = (const char *)rec + lines[i].offset;
		if (lines[i].kind == LINE_TEXT) {
			w = snprintf(buf + used, cap - used, "%s=%s\n",
			    lines[i].key, at);
			continue;
		}
		n = lines[i].size == sizeof(long long) ?
		    *(const long long *)(const void *)at :
		    *(const int *)(const void *)at;
		if (lines[i].kind == LINE_NAME)
			w = snprintf(buf + used, cap - used, "%s=%s\n",
			    lines[i].key, names_of(&lines[i])[n]);
		else
			w = snprintf(buf + used, cap - used, "%s=%lld\n",
			    lines[i].key, n);
	}
	if (w < 0 || (size_t)w >= cap - used)
		return -1;
	used += (size_t)w;
	w = snprintf(buf + used, cap - used, "%s", RECORD_END);
	if (w < 0 || (size_t)w >= cap - used)
		return -1;
	return (int)(used + (size_t)w);
}

int
ledger_write(struct ledger *l, struct claim *c,
    const struct ledger_record *rec, char *err, size_t errlen)
{
	char buf[RECORD_MAX];
	int len;

	if ((len = record_format(rec, buf, sizeof(buf))) == -1) {
		(void)snprintf(err, errlen, "vote record too large");
		return -1;
	}
	if (pwrite(c->fd, buf, (size_t)len, 0) != len ||
	    ftruncate(c->fd, len) == -1) {
		(void)snprintf(err, errlen, "cannot write vote record %s: %s",
		    c->name, strerror(errno));
		return -1;
	}
	if (fsync(c->fd) == -1 || ledger_sync_dir(l, c) == -1) {
		(void)snprintf(err, errlen, "cannot fsync vote record %s: %s",
		    c->name, strerror(errno));
		return -1;
	}
	return 0;
}

int
ledger_sync_dir(struct ledger *l, struct claim *c)
{
	if (!c->dir_synced && fsync(l->dirfd) == 0)
		c->dir_synced = true;
	return c->dir_synced ? 0 : -1;
}

void
ledger_release(struct claim *c)
{
	if (c->fd != -1)
		(void)close(c->fd);
	c->fd = -1;
}
