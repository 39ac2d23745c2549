/*
 * ledger.h: one 4096-byte checksummed record per vote under
 * state_dir/votes, claimed by flock.
 *
 *   printf '%s' post:h_1 | openssl dgst -sha256
 *     -> e12b91d69dade68dfed8758456d0e9545cf92281af075613fb150d675d659e26
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "unit.h"

#include "../../src/digest.h"
#include "../../src/ledger.h"

/* The record's layout, spelled out here rather than taken from ledger.c. */
#define HEADER		"mmolove-vote 2\nsum="
#define BODY_AT		(sizeof(HEADER) - 1 + DIGEST_HEX_LEN + 1)

#define KEY_A		"post:h_1"
#define NAME_A		\
	"e12b91d69dade68dfed8758456d0e9545cf92281af075613fb150d675d659e26"

struct fixture {
	struct temp_fixture tmp;	/* tmp.path: the state_dir */
	char		 err[600];
	struct ledger	 ledger;
};

static int
setup(void **state)
{
	struct fixture *f = temp_fixture_new(sizeof(*f), "state");

	f->ledger.dirfd = f->ledger.queuefd = -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	ledger_close(&f->ledger);
	temp_fixture_free(f);
	return 0;
}

static void
open_ledger(struct fixture *f)
{
	f->err[0] = '\0';
	if (ledger_open(&f->ledger, f->tmp.path, f->err, sizeof(f->err)) != 0)
		fail_msg("ledger_open: %s", f->err);
	assert_true(f->ledger.dirfd >= 0);
	assert_true(f->ledger.queuefd >= 0);
}

/* state_dir/<dir>/<the key's name>. */
static void
path_of(const struct fixture *f, const char *dir, const char *key,
    char *path, size_t size)
{
	char name[DIGEST_HEX_LEN + 1];
	int n;

	ledger_name(key, name);
	n = snprintf(path, size, "%s/%s/%s", f->tmp.path, dir, name);
	assert_true(n > 0 && (size_t)n < size);
}

static enum ledger_status
claim(struct fixture *f, const char *key, long wait_ms, struct claim *c,
    struct ledger_record *rec)
{
	char name[DIGEST_HEX_LEN + 1];

	ledger_name(key, name);
	memset(rec, 0x5a, sizeof(*rec));
	f->err[0] = '\0';
	return ledger_claim(&f->ledger, name, wait_ms, c, rec, f->err,
	    sizeof(f->err));
}

static enum ledger_status
peek(struct fixture *f, const char *key, struct ledger_record *rec)
{
	char name[DIGEST_HEX_LEN + 1];

	ledger_name(key, name);
	memset(rec, 0x5a, sizeof(*rec));
	f->err[0] = '\0';
	return ledger_peek(&f->ledger, name, rec, f->err, sizeof(f->err));
}

static void
write_record(struct fixture *f, struct claim *c,
    const struct ledger_record *rec)
{
	f->err[0] = '\0';
	if (ledger_write(&f->ledger, c, rec, f->err, sizeof(f->err)) !=
	    LEDGER_OK)
		fail_msg("ledger_write: %s", f->err);
}

/* A new vote's first record, under a claim released at once. */
static void
create(struct fixture *f, const struct ledger_record *rec)
{
	struct ledger_record none;
	struct claim c;

	assert_int_equal(claim(f, rec->vote.key, 0, &c, &none), LEDGER_NEW);
	write_record(f, &c, rec);
	ledger_release(&c);
}

#define SET(field, text) \
	(void)snprintf(field, sizeof(field), "%s", text)

/* Every line set, none to its zero value; numbers at their extremes. */
static void
sample_record(struct ledger_record *rec, const char *key)
{
	memset(rec, 0, sizeof(*rec));
	rec->state = STATE_PENDING;
	rec->time = 1733500123;
	rec->attempts = 3;
	rec->queued_at = -1;
	rec->next = LLONG_MIN;
	rec->group.pgid = 4242;
	rec->group.start_ticks = LLONG_MAX;
	rec->group.deadline = 1733500140;
	SET(rec->group.boot_id, "0b3c2d7e-5f7a-4a8e-9d7c-1f2e3d4c5b6a");
	rec->vote.mode = VOTE_POST;
	SET(rec->vote.key, key);
	SET(rec->vote.event, "heart.counted");
	/* An '=' in a value: only the first one ends the key. */
	SET(rec->vote.username, "Pl\xc3\xa4yer = One & #2");
	SET(rec->vote.heart_id, "h=1 \xc3\xa9");
	rec->vote.reward = 1000000000;
	SET(rec->vote.server_id, "srv_123");
	SET(rec->vote.period, "2026-06");
	SET(rec->vote.timestamp, "1733500000");
	rec->vote.streak_day = 210;
	rec->vote.first_heart = FLAG_TRUE;
	rec->vote.streak_milestone = FLAG_FALSE;
	rec->vote.account_linked = FLAG_ABSENT;
	SET(rec->vote.monthly_streak, "7");
	SET(rec->vote.loyalty_level, "-2");
}

static void
assert_same_record(const struct ledger_record *a,
    const struct ledger_record *b)
{
	assert_int_equal(a->state, b->state);
	assert_int_equal(a->time, b->time);
	assert_int_equal(a->attempts, b->attempts);
	assert_int_equal(a->queued_at, b->queued_at);
	assert_int_equal(a->next, b->next);
	assert_int_equal(a->group.pgid, b->group.pgid);
	assert_int_equal(a->group.start_ticks, b->group.start_ticks);
	assert_int_equal(a->group.deadline, b->group.deadline);
	assert_string_equal(a->group.boot_id, b->group.boot_id);
	assert_int_equal(a->vote.mode, b->vote.mode);
	assert_string_equal(a->vote.key, b->vote.key);
	assert_string_equal(a->vote.event, b->vote.event);
	assert_string_equal(a->vote.username, b->vote.username);
	assert_string_equal(a->vote.heart_id, b->vote.heart_id);
	assert_int_equal(a->vote.reward, b->vote.reward);
	assert_string_equal(a->vote.server_id, b->vote.server_id);
	assert_string_equal(a->vote.period, b->vote.period);
	assert_string_equal(a->vote.timestamp, b->vote.timestamp);
	assert_int_equal(a->vote.streak_day, b->vote.streak_day);
	assert_int_equal(a->vote.first_heart, b->vote.first_heart);
	assert_int_equal(a->vote.streak_milestone, b->vote.streak_milestone);
	assert_int_equal(a->vote.account_linked, b->vote.account_linked);
	assert_string_equal(a->vote.monthly_streak, b->vote.monthly_streak);
	assert_string_equal(a->vote.loyalty_level, b->vote.loyalty_level);
}

/* rec's vote, claimed afresh and peeked at, reads back as rec. */
static void
expect_read_back(struct fixture *f, const struct ledger_record *rec)
{
	struct ledger_record back;
	struct claim c;

	if (claim(f, rec->vote.key, 0, &c, &back) != LEDGER_OK)
		fail_msg("claim: %s", f->err);
	assert_same_record(rec, &back);
	ledger_release(&c);
	assert_int_equal(peek(f, rec->vote.key, &back), LEDGER_OK);
	assert_same_record(rec, &back);
}

/* The whole file at path into buf (at least LEDGER_RECORD_SIZE + 2). */
static size_t
read_all(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, cap);
	assert_true(n >= 0);
	assert_int_equal(close(fd), 0);
	return (size_t)n;
}

/* Names a list callback saw. */
struct names {
	char	 name[8][DIGEST_HEX_LEN + 1];
	size_t	 count;
	size_t	 stop_after;		/* 0: never stop */
};

static int
collect(void *arg, const char *name)
{
	struct names *n = arg;

	assert_true(n->count < nitems(n->name));
	(void)snprintf(n->name[n->count++], sizeof(n->name[0]), "%s", name);
	return n->stop_after != 0 && n->count >= n->stop_after;
}

static bool
listed(const struct names *n, const char *key)
{
	char name[DIGEST_HEX_LEN + 1];
	size_t i;

	ledger_name(key, name);
	for (i = 0; i < n->count; i++)
		if (strcmp(n->name[i], name) == 0)
			return true;
	return false;
}

static void
list(struct fixture *f, bool queue_only, struct names *n)
{
	memset(n, 0, sizeof(*n));
	assert_int_equal(ledger_each(&f->ledger, queue_only, collect, n,
	    f->err, sizeof(f->err)), 0);
}

/* ------------------------------------------------------------ the tests */

static void
test_open_creates_dirs(void **state)
{
	static const char *const subdirs[] = { "", "/votes", "/queue" };
	struct fixture *f = *state;
	char path[400];
	struct stat st;
	size_t i;

	open_ledger(f);
	for (i = 0; i < nitems(subdirs); i++) {
		(void)snprintf(path, sizeof(path), "%s%s", f->tmp.path,
		    subdirs[i]);
		assert_int_equal(lstat(path, &st), 0);
		assert_true(S_ISDIR(st.st_mode));
		assert_int_equal(st.st_mode & 07777, 0700);
	}
	/* Opening again finds them. */
	ledger_close(&f->ledger);
	assert_int_equal(f->ledger.dirfd, -1);
	assert_int_equal(f->ledger.queuefd, -1);
	open_ledger(f);
}

static void
test_open_fails(void **state)
{
	struct fixture *f = *state;
	char path[400], votes[400];

	(void)snprintf(path, sizeof(path), "%s/missing/state", f->tmp.dir);
	assert_int_equal(ledger_open(&f->ledger, path, f->err,
	    sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, path));
	assert_int_equal(f->ledger.dirfd, -1);
	/* state_dir is a file. */
	(void)snprintf(path, sizeof(path), "%s/file", f->tmp.dir);
	write_file(path, "x", 1);
	assert_int_equal(ledger_open(&f->ledger, path, f->err,
	    sizeof(f->err)), -1);
	assert_int_equal(f->ledger.dirfd, -1);
	/* votes/ a symbolic link, even to a directory: refused, named. */
	assert_int_equal(mkdir(f->tmp.path, 0700), 0);
	(void)snprintf(votes, sizeof(votes), "%s/votes", f->tmp.path);
	assert_int_equal(symlink(f->tmp.dir, votes), 0);
	assert_int_equal(ledger_open(&f->ledger, f->tmp.path, f->err,
	    sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, votes));
	assert_non_null(strstr(f->err, "symbolic link"));
	assert_int_equal(f->ledger.dirfd, -1);
	assert_int_equal(f->ledger.queuefd, -1);
}

static void
test_name(void **state)
{
	char name[DIGEST_HEX_LEN + 1];

	(void)state;
	ledger_name(KEY_A, name);
	assert_string_equal(name, NAME_A);
	/* No byte of the key reaches the name. */
	ledger_name("post:../../etc/passwd", name);
	assert_int_equal(strlen(name), DIGEST_HEX_LEN);
	assert_int_equal(strspn(name, "0123456789abcdef"), DIGEST_HEX_LEN);
}

static void
test_state_names(void **state)
{
	static const char *const names[] = { "none", "pending", "failed",
	    "paid", "refused", "queued", "dead", "unknown" };
	size_t i;

	(void)state;
	assert_int_equal(nitems(names), STATE_UNKNOWN + 1);
	for (i = 0; i < nitems(names); i++) {
		assert_string_equal(ledger_state_name((enum vote_state)i),
		    names[i]);
		assert_int_equal(ledger_state_parse(names[i]), (int)i);
	}
	assert_int_equal(ledger_state_parse("Paid"), -1);
	assert_int_equal(ledger_state_parse("paid "), -1);
	assert_int_equal(ledger_state_parse(""), -1);
}

static void
test_absent_is_new(void **state)
{
	struct fixture *f = *state;
	struct ledger_record rec;
	struct claim c;
	char path[400];
	struct stat st;

	open_ledger(f);
	assert_int_equal(claim(f, KEY_A, 0, &c, &rec), LEDGER_NEW);
	assert_int_equal(c.fd, -1);
	assert_string_equal(c.name, NAME_A);
	assert_int_equal(rec.state, STATE_NONE);
	assert_int_equal(rec.attempts, 0);
	assert_string_equal(rec.vote.key, "");
	/* Unlike 0.1, a claim alone creates nothing. */
	path_of(f, "votes", KEY_A, path, sizeof(path));
	assert_int_equal(lstat(path, &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(peek(f, KEY_A, &rec), LEDGER_NEW);
	assert_int_equal(rec.state, STATE_NONE);
}

static void
test_round_trip(void **state)
{
	static const enum vote_state states[] = { STATE_PENDING,
	    STATE_FAILED, STATE_PAID, STATE_REFUSED, STATE_QUEUED, STATE_DEAD,
	    STATE_UNKNOWN };
	struct fixture *f = *state;
	struct ledger_record rec, back;
	struct claim c;
	size_t i;

	open_ledger(f);
	sample_record(&rec, KEY_A);
	create(f, &rec);
	expect_read_back(f, &rec);

	/* Each state, a legacy vote and other flags, under one claim. */
	assert_int_equal(claim(f, KEY_A, 0, &c, &back), LEDGER_OK);
	for (i = 0; i < nitems(states); i++) {
		rec.state = states[i];
		rec.vote.mode = VOTE_LEGACY;
		rec.vote.first_heart = FLAG_ABSENT;
		rec.vote.streak_milestone = FLAG_TRUE;
		rec.vote.account_linked = FLAG_FALSE;
		rec.attempts = (long long)i;
		write_record(f, &c, &rec);
		ledger_release(&c);
		expect_read_back(f, &rec);
		assert_int_equal(claim(f, KEY_A, 0, &c, &back), LEDGER_OK);
	}
	ledger_release(&c);
}

static void
test_longest_record_round_trip(void **state)
{
	struct fixture *f = *state;
	struct ledger_record rec;
	char path[400];
	struct stat st;

	open_ledger(f);
	sample_record(&rec, "");
	/* Every text at its bound: the record still fits its 4096 bytes. */
	memset(rec.vote.key, 'k', sizeof(rec.vote.key) - 1);
	memset(rec.vote.event, 'e', sizeof(rec.vote.event) - 1);
	memset(rec.vote.username, 'u', sizeof(rec.vote.username) - 1);
	memset(rec.vote.heart_id, 'h', sizeof(rec.vote.heart_id) - 1);
	memset(rec.vote.server_id, 's', sizeof(rec.vote.server_id) - 1);
	memset(rec.vote.period, 'p', sizeof(rec.vote.period) - 1);
	memset(rec.vote.timestamp, '9', sizeof(rec.vote.timestamp) - 1);
	memset(rec.vote.monthly_streak, '8',
	    sizeof(rec.vote.monthly_streak) - 1);
	memset(rec.vote.loyalty_level, '7',
	    sizeof(rec.vote.loyalty_level) - 1);
	memset(rec.group.boot_id, 'b', sizeof(rec.group.boot_id) - 1);
	rec.vote.reward = rec.vote.streak_day = rec.time = LLONG_MIN;
	create(f, &rec);
	expect_read_back(f, &rec);
	path_of(f, "votes", rec.vote.key, path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, LEDGER_RECORD_SIZE);
}

static void
test_exact_format(void **state)
{
	struct fixture *f = *state;
	struct ledger_record rec;
	char path[400], buf[LEDGER_RECORD_SIZE + 2], hex[DIGEST_HEX_LEN + 1];
	unsigned char sum[DIGEST_LEN];
	const char *body;
	struct stat st;
	size_t n, len, i;

	open_ledger(f);
	sample_record(&rec, KEY_A);
	rec.state = STATE_PAID;
	create(f, &rec);
	path_of(f, "votes", KEY_A, path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_nlink, 1);
	n = read_all(path, buf, sizeof(buf));
	assert_int_equal(n, LEDGER_RECORD_SIZE);

	body = "state=paid\n"
	    "time=1733500123\n"
	    "attempts=3\n"
	    "queued_at=-1\n"
	    "next=-9223372036854775808\n"
	    "unknown_at=0\n"
	    "grant_pgid=4242\n"
	    "grant_start=9223372036854775807\n"
	    "grant_deadline=1733500140\n"
	    "grant_boot=0b3c2d7e-5f7a-4a8e-9d7c-1f2e3d4c5b6a\n"
	    "mode=post\n"
	    "key=post:h_1\n"
	    "event=heart.counted\n"
	    "username=Pl\xc3\xa4yer = One & #2\n"
	    "heart_id=h=1 \xc3\xa9\n"
	    "reward=1000000000\n"
	    "server_id=srv_123\n"
	    "period=2026-06\n"
	    "timestamp=1733500000\n"
	    "streak_day=210\n"
	    "first_heart=1\n"
	    "streak_milestone=0\n"
	    "account_linked=-1\n"
	    "monthly_streak=7\n"
	    "loyalty_level=-2\n"
	    "end\n";
	len = strlen(body);
	assert_memory_equal(buf, HEADER, sizeof(HEADER) - 1);
	assert_int_equal(buf[BODY_AT - 1], '\n');
	assert_memory_equal(buf + BODY_AT, body, len);
	/* The sum covers the first key=value line through "end\n". */
	sha256(body, len, sum);
	hex_encode(sum, sizeof(sum), hex);
	assert_memory_equal(buf + sizeof(HEADER) - 1, hex, DIGEST_HEX_LEN);
	for (i = BODY_AT + len; i < LEDGER_RECORD_SIZE; i++)
		if (buf[i] != '\0')
			fail_msg("byte %zu of the padding is %#x", i,
			    (unsigned)(unsigned char)buf[i]);
}

static void
test_new_file_created_whole(void **state)
{
	struct fixture *f = *state;
	struct ledger_record rec, back;
	struct claim c, other;
	struct names n;
	DIR *dir;
	struct dirent *de;
	char votes[400];

	open_ledger(f);
	sample_record(&rec, KEY_A);
	assert_int_equal(claim(f, KEY_A, 0, &c, &back), LEDGER_NEW);
	write_record(f, &c, &rec);
	/* The creating write leaves the claim holding the new file. */
	assert_true(c.fd >= 0);
	assert_int_equal(claim(f, KEY_A, 0, &other, &back), LEDGER_BUSY);
	ledger_release(&c);
	/* Only the record: no .new-* file left behind. */
	(void)snprintf(votes, sizeof(votes), "%s/votes", f->tmp.path);
	assert_non_null(dir = opendir(votes));
	while ((de = readdir(dir)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			assert_string_equal(de->d_name, NAME_A);
	(void)closedir(dir);
	list(f, false, &n);
	assert_int_equal(n.count, 1);
	/* A record is never in queue/ unless marked. */
	list(f, true, &n);
	assert_int_equal(n.count, 0);
}

/* A killed process with our pid left its temporary file: not in our way. */
static void
test_stale_temporary_file(void **state)
{
	struct fixture *f = *state;
	struct ledger_record rec, back;
	struct claim c;
	char stale[400];
	int fd;

	open_ledger(f);
	(void)snprintf(stale, sizeof(stale), "%s/votes/.new-%ld-%u",
	    f->tmp.path, (long)getpid(), f->ledger.seq);
	assert_true((fd = open(stale, O_WRONLY | O_CREAT | O_EXCL, 0600)) >= 0);
	assert_int_equal(close(fd), 0);
	sample_record(&rec, KEY_A);
	assert_int_equal(claim(f, KEY_A, 0, &c, &back), LEDGER_NEW);
	write_record(f, &c, &rec);
	ledger_release(&c);
	assert_int_equal(claim(f, KEY_A, 0, &c, &back), LEDGER_OK);
	assert_int_equal(back.state, rec.state);
	ledger_release(&c);
	assert_int_equal(access(stale, F_OK), -1);
}

static void
test_race_on_create(void **state)
{
	struct fixture *f = *state;
	struct ledger_record first, second, back;
	struct claim a, b;
	DIR *dir;
	struct dirent *de;
	char votes[400];

	open_ledger(f);
	sample_record(&first, KEY_A);
	first.state = STATE_PAID;
	second = first;
	second.state = STATE_PENDING;
	second.attempts = 99;
	/* Two first deliveries both see no record... */
	assert_int_equal(claim(f, KEY_A, 0, &a, &back), LEDGER_NEW);
	assert_int_equal(claim(f, KEY_A, 0, &b, &back), LEDGER_NEW);
	/* ...the first to write creates it, the second is told. */
	write_record(f, &a, &first);
	assert_int_equal(ledger_write(&f->ledger, &b, &second, f->err,
	    sizeof(f->err)), LEDGER_RACE);
	assert_int_equal(b.fd, -1);
	ledger_release(&a);
	expect_read_back(f, &first);
	(void)snprintf(votes, sizeof(votes), "%s/votes", f->tmp.path);
	assert_non_null(dir = opendir(votes));
	while ((de = readdir(dir)) != NULL)
		if (strncmp(de->d_name, ".new-", 5) == 0)
			fail_msg("left behind: %s", de->d_name);
	(void)closedir(dir);
}

/* A 0.1 record, as 0.1 wrote it, with its state and mode. */
static void
write_v1(struct fixture *f, const char *key, const char *state,
    const char *mode)
{
	char path[400], text[1024];
	int n;

	n = snprintf(text, sizeof(text), "mmolove-vote 1\n"
	    "state=%s\ntime=1733500123\nattempts=2\nnext=1733500183\n"
	    "mode=%s\nkey=%s\nevent=heart.counted\nusername=alice\n"
	    "heart_id=h_1\nreward=1100\nserver_id=srv\nperiod=2026-06\n"
	    "timestamp=1733500000\nstreak_day=7\nfirst_heart=1\n"
	    "streak_milestone=0\naccount_linked=-1\nmonthly_streak=\n"
	    "loyalty_level=3\nend\n", state, mode, key);
	assert_true(n > 0 && (size_t)n < sizeof(text));
	path_of(f, "votes", key, path, sizeof(path));
	write_file(path, text, (size_t)n);
}

static void
test_v1_records_read(void **state)
{
	static const struct {
		const char	*name;
		enum vote_state	 state;
	} v1[] = {
		{ "paid", STATE_PAID },
		{ "refused", STATE_REFUSED },
		{ "queued", STATE_QUEUED },
	};
	struct fixture *f = *state;
	struct ledger_record rec;
	struct claim c;
	char path[400], buf[LEDGER_RECORD_SIZE + 2];
	size_t i;

	open_ledger(f);
	for (i = 0; i < nitems(v1); i++) {
		write_v1(f, KEY_A, v1[i].name, "post");
		if (claim(f, KEY_A, 0, &c, &rec) != LEDGER_OK)
			fail_msg("v1 %s: %s", v1[i].name, f->err);
		ledger_release(&c);
		assert_int_equal(rec.state, v1[i].state);
		assert_int_equal(rec.time, 1733500123);
		assert_int_equal(rec.attempts, 2);
		assert_int_equal(rec.next, 1733500183);
		assert_int_equal(rec.vote.mode, VOTE_POST);
		assert_string_equal(rec.vote.key, KEY_A);
		assert_string_equal(rec.vote.username, "alice");
		assert_string_equal(rec.vote.heart_id, "h_1");
		assert_int_equal(rec.vote.reward, 1100);
		assert_int_equal(rec.vote.streak_day, 7);
		assert_int_equal(rec.vote.first_heart, FLAG_TRUE);
		assert_int_equal(rec.vote.streak_milestone, FLAG_FALSE);
		assert_int_equal(rec.vote.account_linked, FLAG_ABSENT);
		assert_string_equal(rec.vote.monthly_streak, "");
		assert_string_equal(rec.vote.loyalty_level, "3");
		/* 0.1 had no group: none is made up. */
		assert_int_equal(rec.group.pgid, 0);
		assert_int_equal(peek(f, KEY_A, &rec), LEDGER_OK);
		assert_int_equal(rec.state, v1[i].state);
	}
	write_v1(f, "legacy:1733500000:bob", "paid", "legacy");
	assert_int_equal(claim(f, "legacy:1733500000:bob", 0, &c, &rec),
	    LEDGER_OK);
	assert_int_equal(rec.vote.mode, VOTE_LEGACY);
	/* The next write makes it a whole v2 record in place. */
	rec.state = STATE_UNKNOWN;
	write_record(f, &c, &rec);
	ledger_release(&c);
	expect_read_back(f, &rec);
	path_of(f, "votes", "legacy:1733500000:bob", path, sizeof(path));
	assert_int_equal(read_all(path, buf, sizeof(buf)), LEDGER_RECORD_SIZE);
	assert_memory_equal(buf, HEADER, sizeof(HEADER) - 1);
}

/* Claim and peek both find the vote's file corrupt, and name it. */
static void
expect_corrupt(struct fixture *f, const char *key, const char *what)
{
	struct ledger_record rec;
	struct claim c;
	char path[400];

	path_of(f, "votes", key, path, sizeof(path));
	if (claim(f, key, 0, &c, &rec) != LEDGER_CORRUPT)
		fail_msg("%s: not corrupt to a claim: %s", what, f->err);
	assert_int_equal(c.fd, -1);
	if (strstr(f->err, path) == NULL ||
	    strstr(f->err, "not read as unpaid") == NULL)
		fail_msg("%s: %s", what, f->err);
	trace("%s: %s\n", what, f->err);
	if (peek(f, key, &rec) != LEDGER_CORRUPT ||
	    strstr(f->err, path) == NULL)
		fail_msg("%s: not corrupt to a peek: %s", what, f->err);
}

static void
test_v1_none_and_odd_refused(void **state)
{
	struct fixture *f = *state;
	char path[400];
	static const char *const bad[] = {
		"mmolove-vote 1\nstate=paid\nkey=post:h_1\n",
		"mmolove-vote 1\nstate=paid\nkey=post:h_1\nen",
		"mmolove-vote 1\nstate=paid\nno equals sign\nend\n",
		"mmolove-vote 1\nstate=paid\ntime=12x\nend\n",
		"mmolove-vote 1\nkey=post:h_1\nend\n",
		"mmolove-vote 1\n",
	};
	size_t i;

	open_ledger(f);
	/* 0.1 wrote "none" for a claim never settled: not "unpaid" now. */
	write_v1(f, KEY_A, "none", "post");
	expect_corrupt(f, KEY_A, "v1 none");
	/* States 0.1 never wrote. */
	write_v1(f, KEY_A, "pending", "post");
	expect_corrupt(f, KEY_A, "v1 pending");
	write_v1(f, KEY_A, "unknown", "post");
	expect_corrupt(f, KEY_A, "v1 unknown");
	write_v1(f, KEY_A, "paid", "neither");
	expect_corrupt(f, KEY_A, "v1 bad mode");
	path_of(f, "votes", KEY_A, path, sizeof(path));
	for (i = 0; i < nitems(bad); i++) {
		write_file(path, bad[i], strlen(bad[i]));
		expect_corrupt(f, KEY_A, bad[i]);
	}
}

/* One way to damage a good record's bytes. */
struct damage {
	const char	*what;
	size_t		 len;		/* the file's new length */
	long		 at;		/* flip bits here; -1: none */
	unsigned char	 bits;
};

static void
test_corrupt_records(void **state)
{
	static const struct damage damages[] = {
		{ "empty", 0, -1, 0 },
		{ "1 byte short", LEDGER_RECORD_SIZE - 1, -1, 0 },
		{ "1 NUL byte long", LEDGER_RECORD_SIZE + 1, -1, 0 },
		{ "magic", LEDGER_RECORD_SIZE, 0, 0x20 },
		/* "mmolove-vote 2" -> "mmolove-vote 1": not a v1 record. */
		{ "version", LEDGER_RECORD_SIZE, 13, 0x03 },
		{ "sum key", LEDGER_RECORD_SIZE, 16, 0x01 },
		{ "sum digit", LEDGER_RECORD_SIZE, 40, 0x01 },
		{ "sum newline", LEDGER_RECORD_SIZE, BODY_AT - 1, 0x01 },
		{ "state line", LEDGER_RECORD_SIZE, BODY_AT + 7, 0x01 },
		{ "a body byte", LEDGER_RECORD_SIZE, BODY_AT + 200, 0x04 },
		{ "padding", LEDGER_RECORD_SIZE, 3000, 0x01 },
		{ "padding to a newline", LEDGER_RECORD_SIZE, 3001, '\n' },
		{ "last byte", LEDGER_RECORD_SIZE, LEDGER_RECORD_SIZE - 1,
		    0x80 },
	};
	struct fixture *f = *state;
	struct ledger_record rec;
	char path[400], good[LEDGER_RECORD_SIZE + 2],
	    bad[LEDGER_RECORD_SIZE + 2], now[LEDGER_RECORD_SIZE + 2];
	size_t i;

	open_ledger(f);
	sample_record(&rec, KEY_A);
	rec.state = STATE_PAID;
	create(f, &rec);
	path_of(f, "votes", KEY_A, path, sizeof(path));
	assert_int_equal(read_all(path, good, sizeof(good)),
	    LEDGER_RECORD_SIZE);
	good[LEDGER_RECORD_SIZE] = '\0';
	for (i = 0; i < nitems(damages); i++) {
		memcpy(bad, good, sizeof(bad));
		if (damages[i].at >= 0)
			bad[damages[i].at] ^= (char)damages[i].bits;
		write_file(path, bad, damages[i].len);
		expect_corrupt(f, KEY_A, damages[i].what);
		/* Neither claim nor peek touched it. */
		assert_int_equal(read_all(path, now, sizeof(now)),
		    damages[i].len);
		assert_memory_equal(now, bad, damages[i].len);
	}
	/* Garbage of the right size. */
	for (i = 0; i < LEDGER_RECORD_SIZE; i++)
		bad[i] = (char)(i * 131 + 7);
	write_file(path, bad, LEDGER_RECORD_SIZE);
	expect_corrupt(f, KEY_A, "garbage");
	/* The good bytes again: it was only the damage. */
	write_file(path, good, LEDGER_RECORD_SIZE);
	expect_read_back(f, &rec);
}

static void
test_record_copied_from_another_vote(void **state)
{
	struct fixture *f = *state;
	struct ledger_record rec, back;
	struct claim c;
	char from[400], to[400], buf[LEDGER_RECORD_SIZE + 2];

	open_ledger(f);
	sample_record(&rec, KEY_A);
	rec.state = STATE_PAID;
	create(f, &rec);
	path_of(f, "votes", KEY_A, from, sizeof(from));
	path_of(f, "votes", "post:h_2", to, sizeof(to));
	write_file(to, buf, read_all(from, buf, sizeof(buf)));
	/*
	 * Still a whole record: the checksum covers the content, not the
	 * name.  Copying one needs write access to votes/, which is the
	 * owner's; the payer pays the delivered vote, never the record's,
	 * so this vote then merely reads as "paid" (a duplicate).
	 */
	assert_int_equal(claim(f, "post:h_2", 0, &c, &back), LEDGER_OK);
	assert_int_equal(back.state, STATE_PAID);
	assert_string_equal(back.vote.key, KEY_A);
	ledger_release(&c);
}

static void
test_not_a_plain_file(void **state)
{
	struct fixture *f = *state;
	struct ledger_record rec;
	char path[400], elsewhere[400], buf[LEDGER_RECORD_SIZE + 2];
	size_t n;

	open_ledger(f);
	sample_record(&rec, KEY_A);
	rec.state = STATE_PAID;
	create(f, &rec);
	path_of(f, "votes", KEY_A, path, sizeof(path));
	n = read_all(path, buf, sizeof(buf));

	/* A hard link: the same good record, under two names. */
	(void)snprintf(elsewhere, sizeof(elsewhere), "%s/copy", f->tmp.dir);
	assert_int_equal(link(path, elsewhere), 0);
	expect_corrupt(f, KEY_A, "hard link");
	assert_non_null(strstr(f->err, "hard link"));
	assert_int_equal(unlink(elsewhere), 0);
	expect_read_back(f, &rec);

	/* A symbolic link to a good record, then to nothing. */
	assert_int_equal(unlink(path), 0);
	write_file(elsewhere, buf, n);
	assert_int_equal(symlink(elsewhere, path), 0);
	expect_corrupt(f, KEY_A, "symbolic link");
	assert_non_null(strstr(f->err, "symbolic link"));
	assert_int_equal(unlink(elsewhere), 0);
	expect_corrupt(f, KEY_A, "dangling symbolic link");
	assert_int_equal(unlink(path), 0);

	/* A directory, and a FIFO (which must not block the claim). */
	assert_int_equal(mkdir(path, 0700), 0);
	expect_corrupt(f, KEY_A, "directory");
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(mkfifo(path, 0600), 0);
	expect_corrupt(f, KEY_A, "fifo");
	assert_non_null(strstr(f->err, "not a regular file"));
}

static void
test_undo(void **state)
{
	struct fixture *f = *state;
	struct ledger_record before, rec, back;
	struct claim c;
	char path[400];
	struct stat st;

	open_ledger(f);
	sample_record(&rec, KEY_A);
	path_of(f, "votes", KEY_A, path, sizeof(path));

	/* Undo of a write that never created anything: nothing to do. */
	assert_int_equal(claim(f, KEY_A, 0, &c, &before), LEDGER_NEW);
	ledger_undo(&f->ledger, &c, &before);
	assert_int_equal(lstat(path, &st), -1);

	/* A new vote's intent: undone, the vote is new again. */
	write_record(f, &c, &rec);
	assert_int_equal(lstat(path, &st), 0);
	ledger_undo(&f->ledger, &c, &before);
	ledger_release(&c);
	assert_int_equal(lstat(path, &st), -1);
	assert_int_equal(claim(f, KEY_A, 0, &c, &back), LEDGER_NEW);

	/* An old vote's: the record that was there comes back. */
	rec.state = STATE_FAILED;
	create(f, &rec);
	assert_int_equal(claim(f, KEY_A, 0, &c, &before), LEDGER_OK);
	rec.state = STATE_PENDING;
	rec.attempts++;
	write_record(f, &c, &rec);
	ledger_undo(&f->ledger, &c, &before);
	ledger_release(&c);
	rec.state = STATE_FAILED;
	rec.attempts--;
	expect_read_back(f, &rec);
}

static void
test_remove(void **state)
{
	struct fixture *f = *state;
	struct ledger_record rec, back;
	struct claim c;

	open_ledger(f);
	sample_record(&rec, KEY_A);
	create(f, &rec);
	assert_int_equal(claim(f, KEY_A, 0, &c, &back), LEDGER_OK);
	assert_int_equal(ledger_remove(&f->ledger, &c), 0);
	ledger_release(&c);
	assert_int_equal(claim(f, KEY_A, 0, &c, &back), LEDGER_NEW);
}

static void
test_queue_markers(void **state)
{
	struct fixture *f = *state;
	struct ledger_record rec;
	struct names n;
	char name[DIGEST_HEX_LEN + 1], path[400];
	struct stat st;

	open_ledger(f);
	sample_record(&rec, "post:recorded");
	create(f, &rec);
	ledger_name("post:q1", name);
	assert_int_equal(ledger_queue_mark(&f->ledger, name, f->err,
	    sizeof(f->err)), 0);
	ledger_name("post:q2", name);
	assert_int_equal(ledger_queue_mark(&f->ledger, name, f->err,
	    sizeof(f->err)), 0);
	/* Marking twice is harmless. */
	assert_int_equal(ledger_queue_mark(&f->ledger, name, f->err,
	    sizeof(f->err)), 0);
	path_of(f, "queue", "post:q2", path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 0);

	list(f, true, &n);
	assert_int_equal(n.count, 2);
	assert_true(listed(&n, "post:q1") && listed(&n, "post:q2"));
	list(f, false, &n);
	assert_int_equal(n.count, 1);
	assert_true(listed(&n, "post:recorded"));

	ledger_name("post:q1", name);
	ledger_queue_unmark(&f->ledger, name);
	ledger_queue_unmark(&f->ledger, name);
	list(f, true, &n);
	assert_int_equal(n.count, 1);
	assert_true(listed(&n, "post:q2"));
}

/* A marker without a record goes only once it is old: a delivery may be
 * between its marker and its record right now. */
static void
test_queue_marker_stale(void **state)
{
	struct fixture *f = *state;
	struct timespec old[2] = { { 1000, 0 }, { 1000, 0 } };
	char name[DIGEST_HEX_LEN + 1], path[400];
	long long now = (long long)time(NULL);
	struct names n;

	open_ledger(f);
	ledger_name("post:q1", name);
	assert_int_equal(ledger_queue_mark(&f->ledger, name, f->err,
	    sizeof(f->err)), 0);
	ledger_queue_unmark_stale(&f->ledger, name, now - 3600);
	list(f, true, &n);
	assert_int_equal(n.count, 1);
	path_of(f, "queue", "post:q1", path, sizeof(path));
	assert_int_equal(utimensat(AT_FDCWD, path, old, 0), 0);
	ledger_queue_unmark_stale(&f->ledger, name, now - 3600);
	list(f, true, &n);
	assert_int_equal(n.count, 0);
}

static void
test_each_skips_other_names(void **state)
{
	static const char *const others[] = {
		".new-123-0",
		"README",
		"E12B91D69DADE68DFED8758456D0E9545CF92281AF075613FB150D675D659E26",
		"e12b91d69dade68dfed8758456d0e9545cf92281af075613fb150d675d659e2",
		"e12b91d69dade68dfed8758456d0e9545cf92281af075613fb150d675d659e260",
		"e12b91d69dade68dfed8758456d0e9545cf92281af075613fb150d675d659e26~",
		"g12b91d69dade68dfed8758456d0e9545cf92281af075613fb150d675d659e26",
	};
	struct fixture *f = *state;
	struct ledger_record rec;
	struct names n;
	char path[400];
	size_t i;

	open_ledger(f);
	sample_record(&rec, KEY_A);
	create(f, &rec);
	sample_record(&rec, "post:h_2");
	create(f, &rec);
	for (i = 0; i < nitems(others); i++) {
		(void)snprintf(path, sizeof(path), "%s/votes/%s", f->tmp.path,
		    others[i]);
		write_file(path, "x", 1);
		(void)snprintf(path, sizeof(path), "%s/queue/%s", f->tmp.path,
		    others[i]);
		write_file(path, "", 0);
	}
	list(f, false, &n);
	assert_int_equal(n.count, 2);
	assert_true(listed(&n, KEY_A) && listed(&n, "post:h_2"));
	list(f, true, &n);
	assert_int_equal(n.count, 0);
	/* fn returning non-zero stops the walk. */
	memset(&n, 0, sizeof(n));
	n.stop_after = 1;
	assert_int_equal(ledger_each(&f->ledger, false, collect, &n, f->err,
	    sizeof(f->err)), 0);
	assert_int_equal(n.count, 1);
	/* A second walk starts from the top again. */
	list(f, false, &n);
	assert_int_equal(n.count, 2);
}

static long long
elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	(void)clock_gettime(CLOCK_MONOTONIC, &t1);
	return (long long)(t1.tv_sec - t0->tv_sec) * 1000 +
	    (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

static void
test_claim_busy(void **state)
{
	struct fixture *f = *state;
	struct ledger_record rec, back;
	struct claim a, b;
	struct timespec t0;
	long long ms;

	open_ledger(f);
	sample_record(&rec, KEY_A);
	create(f, &rec);
	sample_record(&rec, "post:other");
	create(f, &rec);
	assert_int_equal(claim(f, KEY_A, 0, &a, &back), LEDGER_OK);
	/*
	 * flock locks belong to the open file description, so a second
	 * ledger_claim() (a second open()) conflicts even in this process.
	 */
	assert_int_equal(claim(f, KEY_A, 0, &b, &back), LEDGER_BUSY);
	assert_int_equal(b.fd, -1);
	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(claim(f, KEY_A, 60, &b, &back), LEDGER_BUSY);
	ms = elapsed_ms(&t0);
	assert_true(ms >= 55);
	assert_true(ms < 5000);
	/* Another vote is not held up. */
	assert_int_equal(claim(f, "post:other", 0, &b, &back), LEDGER_OK);
	ledger_release(&b);
	/* Released: the next claim gets it. */
	ledger_release(&a);
	assert_int_equal(claim(f, KEY_A, 0, &b, &back), LEDGER_OK);
	ledger_release(&b);
}

static void
test_peek_shares(void **state)
{
	struct fixture *f = *state;
	struct ledger_record rec, back;
	struct claim c;
	char path[400];
	int reader;

	open_ledger(f);
	sample_record(&rec, KEY_A);
	rec.state = STATE_PAID;
	create(f, &rec);
	path_of(f, "votes", KEY_A, path, sizeof(path));
	/* Another reader's shared lock: peek shares it, a claim waits. */
	reader = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(reader >= 0);
	assert_int_equal(flock(reader, LOCK_SH | LOCK_NB), 0);
	assert_int_equal(peek(f, KEY_A, &back), LEDGER_OK);
	assert_same_record(&rec, &back);
	assert_int_equal(claim(f, KEY_A, 0, &c, &back), LEDGER_BUSY);
	assert_int_equal(close(reader), 0);
	/* A claim's exclusive lock: peek does not read half a rewrite. */
	assert_int_equal(claim(f, KEY_A, 0, &c, &back), LEDGER_OK);
	assert_int_equal(peek(f, KEY_A, &back), LEDGER_BUSY);
	ledger_release(&c);
	/* peek keeps no lock. */
	assert_int_equal(peek(f, KEY_A, &back), LEDGER_OK);
	assert_int_equal(claim(f, KEY_A, 0, &c, &back), LEDGER_OK);
	ledger_release(&c);
}

/* True once process pid has the file open (it waits for the lock then). */
static bool
has_open(pid_t pid, const struct stat *file)
{
	char dir[64], fd_path[400];
	struct dirent *de;
	struct stat st;
	DIR *d;
	bool found = false;

	(void)snprintf(dir, sizeof(dir), "/proc/%ld/fd", (long)pid);
	if ((d = opendir(dir)) == NULL)
		return false;
	while (!found && (de = readdir(d)) != NULL) {
		(void)snprintf(fd_path, sizeof(fd_path), "%s/%s", dir,
		    de->d_name);
		found = stat(fd_path, &st) == 0 && st.st_dev == file->st_dev &&
		    st.st_ino == file->st_ino;
	}
	(void)closedir(d);
	return found;
}

static void
test_claim_of_removed_file_retries(void **state)
{
	struct fixture *f = *state;
	struct ledger_record rec, back;
	struct timespec pause = { 0, 1000000L }, t0;
	struct claim holder;
	char path[400];
	struct stat file;
	int status, ready[2];
	char byte;
	pid_t pid;

	open_ledger(f);
	sample_record(&rec, KEY_A);
	create(f, &rec);
	path_of(f, "votes", KEY_A, path, sizeof(path));
	assert_int_equal(stat(path, &file), 0);
	assert_int_equal(claim(f, KEY_A, 0, &holder, &back), LEDGER_OK);
	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct ledger_record r;
		struct claim c;
		char err[600];
		enum ledger_status st;

		/*
		 * The holder's description is the parent's alone to close;
		 * once it is, any descriptor of the file here is the claim's.
		 */
		(void)close(holder.fd);
		(void)close(ready[0]);
		if (write(ready[1], "r", 1) != 1)
			_exit(2);
		(void)close(ready[1]);
		st = ledger_claim(&f->ledger, NAME_A, 20000, &c, &r, err,
		    sizeof(err));
		_exit(st == LEDGER_NEW && c.fd == -1 ? 0 : 10 + (int)st);
	}
	/* Once the other claimant has the file open, remove it (--prune). */
	assert_int_equal(close(ready[1]), 0);
	assert_int_equal(read(ready[0], &byte, 1), 1);
	assert_int_equal(close(ready[0]), 0);
	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!has_open(pid, &file) && elapsed_ms(&t0) < 10000)
		(void)nanosleep(&pause, NULL);
	assert_true(has_open(pid, &file));
	assert_int_equal(ledger_remove(&f->ledger, &holder), 0);
	ledger_release(&holder);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) != 0)
		fail_msg("the waiting claim got status %d, not LEDGER_NEW",
		    WEXITSTATUS(status) - 10);
}

int
run_ledger_tests(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_open_creates_dirs),
		T(test_open_fails),
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_state_names),
		T(test_absent_is_new),
		T(test_round_trip),
		T(test_longest_record_round_trip),
		T(test_exact_format),
		T(test_new_file_created_whole),
		T(test_stale_temporary_file),
		T(test_race_on_create),
		T(test_v1_records_read),
		T(test_v1_none_and_odd_refused),
		T(test_corrupt_records),
		T(test_record_copied_from_another_vote),
		T(test_not_a_plain_file),
		T(test_undo),
		T(test_remove),
		T(test_queue_markers),
		T(test_queue_marker_stale),
		T(test_each_skips_other_names),
		T(test_claim_busy),
		T(test_peek_shares),
		T(test_claim_of_removed_file_retries),
	};
#undef T

	return cmocka_run_group_tests_name("ledger", tests, NULL, NULL);
}
