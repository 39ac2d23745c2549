/*
 * ledger.h: one record per vote under state_dir/votes, claimed by flock.
 *
 *   printf '%s' post:h_1 | openssl dgst -sha256
 *     -> e12b91d69dade68dfed8758456d0e9545cf92281af075613fb150d675d659e26
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "unit.h"

#include "../../src/ledger.h"

struct fixture {
	struct temp_fixture tmp;	/* tmp.path: the state_dir */
	char		 err[400];
	struct ledger	 ledger;
};

static int
setup(void **state)
{
	struct fixture *f = temp_fixture_new(sizeof(*f), "state");

	f->ledger.dirfd = -1;
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
	assert_int_equal(ledger_open(&f->ledger, f->tmp.path, f->err,
	    sizeof(f->err)), 0);
	assert_true(f->ledger.dirfd >= 0);
}

static bool
is_dir(const char *path, mode_t *mode)
{
	struct stat st;

	if (stat(path, &st) == -1)
		return false;
	*mode = st.st_mode & 07777;
	return S_ISDIR(st.st_mode);
}

static enum claim_result
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

/* The path of a vote's record file. */
static void
record_path(struct fixture *f, const char *key, char *path, size_t size)
{
	char name[DIGEST_HEX_LEN + 1];

	ledger_name(key, name);
	(void)snprintf(path, size, "%s/votes/%s", f->tmp.path, name);
}

static void
test_open_creates_dirs(void **state)
{
	struct fixture *f = *state;
	char votes[400];
	mode_t mode;

	assert_false(is_dir(f->tmp.path, &mode));
	open_ledger(f);
	assert_true(is_dir(f->tmp.path, &mode));
	assert_int_equal(mode, 0700);
	(void)snprintf(votes, sizeof(votes), "%s/votes", f->tmp.path);
	assert_true(is_dir(votes, &mode));
	assert_int_equal(mode, 0700);
	/* Opening again finds them. */
	ledger_close(&f->ledger);
	assert_int_equal(f->ledger.dirfd, -1);
	open_ledger(f);
}

static void
test_open_fails(void **state)
{
	struct fixture *f = *state;
	char path[400];

	(void)snprintf(path, sizeof(path), "%s/missing/state", f->tmp.dir);
	assert_int_equal(ledger_open(&f->ledger, path, f->err,
	    sizeof(f->err)), -1);
	assert_true(f->err[0] != '\0');
	assert_int_equal(f->ledger.dirfd, -1);
	/* state_dir is a file. */
	(void)snprintf(path, sizeof(path), "%s/file", f->tmp.dir);
	write_file(path, "x", 1);
	assert_int_equal(ledger_open(&f->ledger, path, f->err,
	    sizeof(f->err)), -1);
	assert_int_equal(f->ledger.dirfd, -1);
}

static void
test_name(void **state)
{
	char name[DIGEST_HEX_LEN + 1];

	(void)state;
	ledger_name("post:h_1", name);
	assert_string_equal(name,
	    "e12b91d69dade68dfed8758456d0e9545cf92281af075613fb150d675d659e26");
	/* No byte of the key reaches the name. */
	ledger_name("post:../../etc/passwd", name);
	assert_int_equal(strlen(name), DIGEST_HEX_LEN);
	assert_int_equal(strspn(name, "0123456789abcdef"), DIGEST_HEX_LEN);
}

static void
test_state_names(void **state)
{
	(void)state;
	assert_string_equal(ledger_state_name(STATE_NONE), "none");
	assert_string_equal(ledger_state_name(STATE_PAID), "paid");
	assert_string_equal(ledger_state_name(STATE_REFUSED), "refused");
	assert_string_equal(ledger_state_name(STATE_QUEUED), "queued");
}

static void
test_claim_new(void **state)
{
	struct fixture *f = *state;
	struct ledger_record rec;
	struct claim c;
	char path[400];
	struct stat st;

	open_ledger(f);
	assert_int_equal(claim(f, "post:h_1", 0, &c, &rec), CLAIM_HELD);
	assert_int_equal(rec.state, STATE_NONE);
	assert_string_equal(rec.vote.key, "");
	assert_string_equal(c.name,
	    "e12b91d69dade68dfed8758456d0e9545cf92281af075613fb150d675d659e26");
	record_path(f, "post:h_1", path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	ledger_release(&c);
	assert_int_equal(c.fd, -1);
	/* Released without a write: still nothing recorded. */
	assert_int_equal(claim(f, "post:h_1", 0, &c, &rec), CLAIM_HELD);
	assert_int_equal(rec.state, STATE_NONE);
	ledger_release(&c);
}

static void
sample_record(struct ledger_record *rec)
{
	memset(rec, 0, sizeof(*rec));
	rec->state = STATE_PAID;
	rec->time = (time_t)1733500123;
	rec->attempts = 3;
	rec->next = (time_t)1733503723;
	rec->vote.mode = VOTE_POST;
	(void)snprintf(rec->vote.key, sizeof(rec->vote.key), "post:h=1 \xc3\xa9");
	(void)snprintf(rec->vote.event, sizeof(rec->vote.event),
	    "heart.counted");
	(void)snprintf(rec->vote.username, sizeof(rec->vote.username),
	    "Pl\xc3\xa4yer = One & #2");
	(void)snprintf(rec->vote.heart_id, sizeof(rec->vote.heart_id),
	    "h=1 \xc3\xa9");
	rec->vote.reward = 1100;
	(void)snprintf(rec->vote.server_id, sizeof(rec->vote.server_id),
	    "srv_123");
	(void)snprintf(rec->vote.period, sizeof(rec->vote.period), "2026-06");
	(void)snprintf(rec->vote.timestamp, sizeof(rec->vote.timestamp),
	    "1733500000");
	rec->vote.streak_day = 210;
	rec->vote.first_heart = FLAG_TRUE;
	rec->vote.streak_milestone = FLAG_FALSE;
	rec->vote.account_linked = FLAG_ABSENT;
	(void)snprintf(rec->vote.monthly_streak,
	    sizeof(rec->vote.monthly_streak), "7");
	(void)snprintf(rec->vote.loyalty_level,
	    sizeof(rec->vote.loyalty_level), "-2");
}

static void
assert_same_record(const struct ledger_record *a,
    const struct ledger_record *b)
{
	assert_int_equal(a->state, b->state);
	assert_int_equal(a->time, b->time);
	assert_int_equal(a->attempts, b->attempts);
	assert_int_equal(a->next, b->next);
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

static void
write_record(struct fixture *f, struct claim *c,
    const struct ledger_record *rec)
{
	assert_int_equal(ledger_write(&f->ledger, c, rec, f->err,
	    sizeof(f->err)), 0);
}

/* rec's vote, claimed afresh, reads back as rec. */
static void
expect_read_back(struct fixture *f, const struct ledger_record *rec)
{
	struct ledger_record back;
	struct claim c;

	assert_int_equal(claim(f, rec->vote.key, 0, &c, &back), CLAIM_HELD);
	assert_same_record(rec, &back);
	ledger_release(&c);
}

static void
test_write_and_read_back(void **state)
{
	struct fixture *f = *state;
	struct ledger_record rec, back;
	struct claim c;
	enum vote_state s;

	open_ledger(f);
	sample_record(&rec);
	assert_int_equal(claim(f, rec.vote.key, 0, &c, &back), CLAIM_HELD);
	assert_int_equal(back.state, STATE_NONE);
	write_record(f, &c, &rec);
	ledger_release(&c);
	expect_read_back(f, &rec);

	/* Every state, and a legacy vote, round-trips too. */
	for (s = STATE_NONE; s <= STATE_QUEUED; s++) {
		rec.state = s;
		rec.vote.mode = VOTE_LEGACY;
		rec.vote.first_heart = FLAG_FALSE;
		rec.vote.account_linked = FLAG_TRUE;
		assert_int_equal(claim(f, rec.vote.key, 0, &c, &back),
		    CLAIM_HELD);
		write_record(f, &c, &rec);
		ledger_release(&c);
		expect_read_back(f, &rec);
	}
}

static void
test_rewrite_shorter(void **state)
{
	struct fixture *f = *state;
	struct ledger_record rec, back;
	struct claim c;

	open_ledger(f);
	sample_record(&rec);
	rec.state = STATE_QUEUED;
	memset(rec.vote.username, 'u', EVENT_NAME_MAX);
	rec.vote.username[EVENT_NAME_MAX] = '\0';
	assert_int_equal(claim(f, rec.vote.key, 0, &c, &back), CLAIM_HELD);
	write_record(f, &c, &rec);
	/* Written again, shorter, under the same claim. */
	(void)snprintf(rec.vote.username, sizeof(rec.vote.username), "u");
	rec.state = STATE_PAID;
	write_record(f, &c, &rec);
	ledger_release(&c);
	expect_read_back(f, &rec);
}

/* A record file a test writes by hand, and the state it must read as. */
struct record_case {
	const char	*name;
	const char	*text;
	enum vote_state	 want;
};

static void
expect_state_of_file(struct fixture *f, const struct record_case *rc)
{
	struct ledger_record rec;
	struct claim c;
	char path[400];

	record_path(f, "post:t", path, sizeof(path));
	write_file(path, rc->text, strlen(rc->text));
	if (claim(f, "post:t", 0, &c, &rec) != CLAIM_HELD)
		fail_msg("%s: not claimed: %s", rc->name, f->err);
	ledger_release(&c);
	if (rec.state != rc->want)
		fail_msg("%s: state %d, want %d", rc->name, (int)rec.state,
		    (int)rc->want);
}

static void
test_torn_and_foreign_records(void **state)
{
	static const struct record_case cases[] = {
		/* The hand-written record is right when whole... */
		{ "whole", "mmolove-vote 1\nstate=paid\nkey=post:t\n"
		    "future_field=1\nend\n", STATE_PAID },
		/* ...and unpaid when its end line is missing or cut. */
		{ "no end", "mmolove-vote 1\nstate=paid\nkey=post:t\n",
		    STATE_NONE },
		{ "end cut", "mmolove-vote 1\nstate=paid\nkey=post:t\nen",
		    STATE_NONE },
		{ "end unterminated",
		    "mmolove-vote 1\nstate=paid\nkey=post:t\nend", STATE_NONE },
		{ "state cut", "mmolove-vote 1\nstate=pa", STATE_NONE },
		{ "header only", "mmolove-vote 1\n", STATE_NONE },
		{ "empty", "", STATE_NONE },
		/* Foreign or damaged content. */
		{ "foreign", "hello\nend\n", STATE_NONE },
		{ "version 2", "mmolove-vote 2\nstate=paid\nend\n",
		    STATE_NONE },
		{ "bad state", "mmolove-vote 1\nstate=bogus\nend\n",
		    STATE_NONE },
		{ "bad time", "mmolove-vote 1\nstate=paid\ntime=12x\nend\n",
		    STATE_NONE },
		{ "no equals", "mmolove-vote 1\nstate=paid\nno equals sign\n"
		    "end\n", STATE_NONE },
		/* A new record over a longer old one, cut before its end. */
		{ "over a longer one", "mmolove-vote 1\nstate=paid\nend\n"
		    "key=post:t-and-more-of-the-old-record\nend\n",
		    STATE_NONE },
	};
	struct fixture *f = *state;
	size_t i;

	open_ledger(f);
	for (i = 0; i < nitems(cases); i++)
		expect_state_of_file(f, &cases[i]);
}

static void
test_claim_busy(void **state)
{
	struct fixture *f = *state;
	struct ledger_record rec;
	struct claim a, b;
	struct timespec t0, t1;
	long long ms;

	open_ledger(f);
	assert_int_equal(claim(f, "post:busy", 0, &a, &rec), CLAIM_HELD);
	/*
	 * flock locks belong to the open file description, so a second
	 * ledger_claim() (a second open()) conflicts even in this process.
	 */
	assert_int_equal(claim(f, "post:busy", 0, &b, &rec), CLAIM_BUSY);
	assert_int_equal(b.fd, -1);
	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(claim(f, "post:busy", 60, &b, &rec), CLAIM_BUSY);
	(void)clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (long long)(t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 55);
	assert_true(ms < 5000);
	/* Another vote is not held up. */
	assert_int_equal(claim(f, "post:other", 0, &b, &rec), CLAIM_HELD);
	ledger_release(&b);
	/* Released: the next claim gets it. */
	ledger_release(&a);
	assert_int_equal(claim(f, "post:busy", 0, &b, &rec), CLAIM_HELD);
	ledger_release(&b);
}

static void
test_claim_error(void **state)
{
	struct fixture *f = *state;
	struct ledger_record rec;
	struct claim c;
	char path[400];

	open_ledger(f);
	/* A symlink where the record should be is not followed. */
	record_path(f, "post:link", path, sizeof(path));
	assert_int_equal(symlink("/etc/passwd", path), 0);
	assert_int_equal(claim(f, "post:link", 0, &c, &rec), CLAIM_ERROR);
	assert_true(f->err[0] != '\0');
}

int
run_ledger_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_creates_dirs, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_open_fails, setup,
		    teardown),
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_state_names),
		cmocka_unit_test_setup_teardown(test_claim_new, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_write_and_read_back, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rewrite_shorter, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_torn_and_foreign_records,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_claim_busy, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_claim_error, setup,
		    teardown),
	};

	return cmocka_run_group_tests_name("ledger", tests, NULL, NULL);
}
