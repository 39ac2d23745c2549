/*
 * vote.h: the one table of a vote's fields, shown as ledger lines and as
 * the grant's environment.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "unit.h"

#include "../../src/vote.h"

static const struct vote_field *
field(const char *key)
{
	size_t i;

	for (i = 0; i < vote_field_count; i++)
		if (strcmp(vote_fields[i].key, key) == 0)
			return &vote_fields[i];
	fail_msg("no field %s", key);
	return NULL;
}

/* Sets key from text, then shows it: the ledger's text comes back. */
static void
expect_round_trip(struct vote *v, const char *key, const char *text)
{
	char buf[VOTE_VALUE_MAX];

	if (vote_set(v, field(key), text, strlen(text)) != 0)
		fail_msg("%s=%s refused", key, text);
	assert_true(vote_value(v, field(key), false, buf, sizeof(buf)));
	assert_string_equal(buf, text);
}

static void
expect_refused(const char *key, const char *text, size_t len)
{
	struct vote v, before;

	memset(&v, 0x5a, sizeof(v));
	before = v;
	if (vote_set(&v, field(key), text, len) != -1)
		fail_msg("%s=%.*s accepted", key, (int)len, text);
	/* A refused value leaves the field as it was. */
	assert_memory_equal(&v, &before, sizeof(v));
}

static void
test_each_kind_round_trips(void **state)
{
	char longest[EVENT_NAME_MAX + 1];
	struct vote v;

	(void)state;
	memset(&v, 0, sizeof(v));
	expect_round_trip(&v, "username", "Pl\xc3\xa4yer = One");
	assert_string_equal(v.username, "Pl\xc3\xa4yer = One");
	expect_round_trip(&v, "username", "");
	memset(longest, 'u', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	expect_round_trip(&v, "username", longest);
	expect_round_trip(&v, "reward", "1100");
	assert_int_equal(v.reward, 1100);
	expect_round_trip(&v, "reward", "-9223372036854775808");
	assert_int_equal(v.reward, LLONG_MIN);
	expect_round_trip(&v, "streak_day", "0");
	expect_round_trip(&v, "first_heart", "1");
	assert_int_equal(v.first_heart, FLAG_TRUE);
	expect_round_trip(&v, "first_heart", "0");
	assert_int_equal(v.first_heart, FLAG_FALSE);
	expect_round_trip(&v, "first_heart", "-1");
	assert_int_equal(v.first_heart, FLAG_ABSENT);
	expect_round_trip(&v, "mode", "legacy");
	assert_int_equal(v.mode, VOTE_LEGACY);
	expect_round_trip(&v, "mode", "post");
	assert_int_equal(v.mode, VOTE_POST);
}

static void
test_malformed_refused(void **state)
{
	char toolong[EVENT_NAME_MAX + 2];

	(void)state;
	memset(toolong, 'u', sizeof(toolong) - 1);
	toolong[sizeof(toolong) - 1] = '\0';
	expect_refused("username", toolong, strlen(toolong));
	expect_refused("username", "a\0b", 3);
	expect_refused("reward", "", 0);
	expect_refused("reward", "12x", 3);
	expect_refused("reward", "1.5", 3);
	expect_refused("reward", "123456789012345678901234", 24);
	/* A line's newline is never part of its number. */
	expect_refused("reward", "1\n", 2);
	expect_refused("first_heart", "2", 1);
	expect_refused("first_heart", "-2", 2);
	expect_refused("first_heart", "true", 4);
	expect_refused("mode", "POST", 4);
	expect_refused("mode", "posts", 5);
	expect_refused("mode", "", 0);
}

/* vote_value(for_env): whether the grant's environment carries it. */
static bool
carried(const struct vote *v, const char *key, char *buf, size_t cap)
{
	return vote_value(v, field(key), true, buf, cap);
}

static void
test_environment_rule(void **state)
{
	char buf[VOTE_VALUE_MAX];
	struct vote v;

	(void)state;
	memset(&v, 0, sizeof(v));
	v.first_heart = v.streak_milestone = v.account_linked = FLAG_ABSENT;
	/* ENV_IF_SET: an empty text, a number not above 0, no flag: hidden. */
	assert_false(carried(&v, "monthly_streak", buf, sizeof(buf)));
	assert_false(carried(&v, "streak_day", buf, sizeof(buf)));
	v.streak_day = -3;
	assert_false(carried(&v, "streak_day", buf, sizeof(buf)));
	assert_false(carried(&v, "first_heart", buf, sizeof(buf)));
	/* ...and shown once set; a false flag is set, as "0". */
	(void)snprintf(v.monthly_streak, sizeof(v.monthly_streak), "3");
	assert_true(carried(&v, "monthly_streak", buf, sizeof(buf)));
	assert_string_equal(buf, "3");
	v.streak_day = 7;
	assert_true(carried(&v, "streak_day", buf, sizeof(buf)));
	assert_string_equal(buf, "7");
	v.first_heart = FLAG_FALSE;
	assert_true(carried(&v, "first_heart", buf, sizeof(buf)));
	assert_string_equal(buf, "0");
	v.first_heart = FLAG_TRUE;
	assert_true(carried(&v, "first_heart", buf, sizeof(buf)));
	assert_string_equal(buf, "1");
	/* ENV_ALWAYS: even empty or zero. */
	assert_true(carried(&v, "server_id", buf, sizeof(buf)));
	assert_string_equal(buf, "");
	assert_true(carried(&v, "reward", buf, sizeof(buf)));
	assert_string_equal(buf, "0");
	assert_true(carried(&v, "mode", buf, sizeof(buf)));
	assert_string_equal(buf, "post");
	/* ENV_NEVER: the key is the ledger's, never the grant's. */
	(void)snprintf(v.key, sizeof(v.key), "post:h_1");
	assert_false(carried(&v, "key", buf, sizeof(buf)));
	assert_null(field("key")->env);
	/* The ledger shows every field, set or not. */
	v.account_linked = FLAG_ABSENT;
	assert_true(vote_value(&v, field("account_linked"), false, buf,
	    sizeof(buf)));
	assert_string_equal(buf, "-1");
}

static void
test_table(void **state)
{
	struct vote v, back;
	char buf[VOTE_VALUE_MAX];
	size_t i, j;

	(void)state;
	for (i = 0; i < vote_field_count; i++) {
		const struct vote_field *f = &vote_fields[i];

		assert_true(f->offset + f->size <= sizeof(struct vote));
		assert_true(f->env == NULL ||
		    strncmp(f->env, "MMOLOVE_", 8) == 0);
		assert_true((f->env == NULL) == (f->when == ENV_NEVER));
		for (j = 0; j < i; j++)
			assert_string_not_equal(f->key, vote_fields[j].key);
	}
	/* Every field's ledger text sets a blank vote back to the same. */
	memset(&v, 0, sizeof(v));
	v.mode = VOTE_LEGACY;
	(void)snprintf(v.key, sizeof(v.key), "legacy:1733500000:bob");
	(void)snprintf(v.event, sizeof(v.event), "heart.counted");
	(void)snprintf(v.username, sizeof(v.username), "bob");
	(void)snprintf(v.heart_id, sizeof(v.heart_id), "legacy-1");
	v.reward = 100;
	(void)snprintf(v.server_id, sizeof(v.server_id), "s");
	(void)snprintf(v.period, sizeof(v.period), "2026-06");
	(void)snprintf(v.timestamp, sizeof(v.timestamp), "1733500000");
	v.streak_day = 30;
	v.first_heart = FLAG_ABSENT;
	v.streak_milestone = FLAG_TRUE;
	v.account_linked = FLAG_FALSE;
	(void)snprintf(v.monthly_streak, sizeof(v.monthly_streak), "2");
	(void)snprintf(v.loyalty_level, sizeof(v.loyalty_level), "-1");
	memset(&back, 0, sizeof(back));
	for (i = 0; i < vote_field_count; i++) {
		(void)vote_value(&v, &vote_fields[i], false, buf, sizeof(buf));
		assert_int_equal(vote_set(&back, &vote_fields[i], buf,
		    strlen(buf)), 0);
	}
	assert_memory_equal(&v, &back, sizeof(v));
}

int
run_vote_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_kind_round_trips),
		cmocka_unit_test(test_malformed_refused),
		cmocka_unit_test(test_environment_rule),
		cmocka_unit_test(test_table),
	};

	return cmocka_run_group_tests_name("vote", tests, NULL, NULL);
}
