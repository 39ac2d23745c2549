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
	char dir[256], path[300], err[512];

	make_temp_dir(dir, sizeof(dir));
	(void)snprintf(path, sizeof(path), "%s/empty.conf", dir);
	write_file(path, "", 0);
	clear_mmolove_environment();
	assert_int_equal(setenv("MMOLOVE_CONFIG", path, 1), 0);
	assert_int_equal(config_load(cfg, err, sizeof(err)), 0);
	clear_mmolove_environment();
	remove_tree(dir);
}

static void
test_reward_defaults(void **state)
{
	struct config cfg;

	(void)state;
	default_config(&cfg);
	assert_int_equal(cfg.reward_base, 100);
	assert_int_equal(cfg.reward_weekly, 200);
	assert_int_equal(cfg.reward_monthly, 1000);
	assert_int_equal(reward_for(&cfg, 0), 100);
	assert_int_equal(reward_for(&cfg, 1), 100);
	assert_int_equal(reward_for(&cfg, 3), 100);
	assert_int_equal(reward_for(&cfg, 6), 100);
	assert_int_equal(reward_for(&cfg, 7), 300);
	assert_int_equal(reward_for(&cfg, 14), 300);
	assert_int_equal(reward_for(&cfg, 29), 100);
	assert_int_equal(reward_for(&cfg, 30), 1100);
	assert_int_equal(reward_for(&cfg, 35), 300);
	assert_int_equal(reward_for(&cfg, 60), 1100);
	/* A multiple of both 7 and 30: the monthly bonus alone. */
	assert_int_equal(reward_for(&cfg, 210), 1100);
	assert_int_equal(reward_for(&cfg, 420), 1100);
	/* Not positive: no streak info, the base. */
	assert_int_equal(reward_for(&cfg, -7), 100);
	assert_int_equal(reward_for(&cfg, -30), 100);
	assert_int_equal(reward_for(&cfg, 999999999999999LL), 100);
}

static void
test_reward_custom(void **state)
{
	struct config cfg;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.reward_base = 5;
	cfg.reward_weekly = 7;
	cfg.reward_monthly = 11;
	assert_int_equal(reward_for(&cfg, 0), 5);
	assert_int_equal(reward_for(&cfg, 7), 12);
	assert_int_equal(reward_for(&cfg, 30), 16);
	assert_int_equal(reward_for(&cfg, 210), 16);
	assert_int_equal(reward_for(&cfg, 8), 5);
	cfg.reward_base = 0;
	cfg.reward_weekly = 0;
	cfg.reward_monthly = 1000000000;
	assert_int_equal(reward_for(&cfg, 7), 0);
	assert_int_equal(reward_for(&cfg, 30), 1000000000);
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
