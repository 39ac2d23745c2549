/* reward.h: the points a vote is worth. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

#include "../../src/config.h"
#include "../../src/reward.h"
#include "../../src/vote.h"

/* The defaults, as config_load() gives them from an empty file. */
static void
default_config(struct config *cfg)
{
	struct temp_fixture *t = temp_fixture_new(sizeof(*t), "empty.conf");
	char err[512];

	write_file(t->path, "", 0);
	clear_mmolove_environment();
	assert_int_equal(setenv("MMOLOVE_CONFIG", t->path, 1), 0);
	assert_int_equal(config_load(cfg, err, sizeof(err)), 0);
	clear_mmolove_environment();
	temp_fixture_free(t);
}

/* A streak_day and the points it is worth. */
struct reward_case {
	long long	 streak_day;
	long		 want;
};

/* reward_for() of each case's streak_day; a wrong one is named. */
static void
expect_rewards(const struct config *cfg, const struct reward_case *c,
    size_t n)
{
	size_t i;
	long got;

	for (i = 0; i < n; i++)
		if ((got = reward_for(cfg, c[i].streak_day)) != c[i].want)
			fail_msg("reward_for(%lld) = %ld, want %ld",
			    c[i].streak_day, got, c[i].want);
}

static void
test_reward_defaults(void **state)
{
	static const struct reward_case cases[] = {
		{ 0, 100 }, { 1, 100 }, { 3, 100 }, { 6, 100 }, { 7, 300 },
		{ 14, 300 }, { 29, 100 }, { 30, 1100 }, { 35, 300 },
		{ 60, 1100 },
		/* A multiple of both 7 and 30: the monthly bonus alone. */
		{ 210, 1100 }, { 420, 1100 },
		/* Not positive: no streak info, the base. */
		{ -7, 100 }, { -30, 100 }, { 999999999999999LL, 100 },
	};
	struct config cfg;

	(void)state;
	default_config(&cfg);
	assert_int_equal(cfg.reward_base, 100);
	assert_int_equal(cfg.reward_weekly, 200);
	assert_int_equal(cfg.reward_monthly, 1000);
	expect_rewards(&cfg, cases, nitems(cases));
}

static void
test_reward_custom(void **state)
{
	static const struct reward_case small[] = {
		{ 0, 5 }, { 7, 12 }, { 30, 16 }, { 210, 16 }, { 8, 5 },
	};
	static const struct reward_case monthly_only[] = {
		{ 7, 0 }, { 30, 1000000000 },
	};
	struct config cfg;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.reward_base = 5;
	cfg.reward_weekly = 7;
	cfg.reward_monthly = 11;
	expect_rewards(&cfg, small, nitems(small));
	cfg.reward_base = 0;
	cfg.reward_weekly = 0;
	cfg.reward_monthly = 1000000000;
	expect_rewards(&cfg, monthly_only, nitems(monthly_only));
}

static void
test_vote_mode_name(void **state)
{
	(void)state;
	assert_string_equal(vote_mode_name(VOTE_POST), "post");
	assert_string_equal(vote_mode_name(VOTE_LEGACY), "legacy");
}

int
run_reward_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reward_defaults),
		cmocka_unit_test(test_reward_custom),
		cmocka_unit_test(test_vote_mode_name),
	};

	return cmocka_run_group_tests_name("reward", tests, NULL, NULL);
}
