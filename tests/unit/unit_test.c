/*
 * The unit test runner: every cmocka group, or only those named as
 * arguments (`build/unit_test json ledger`).  Exits 0 only if every test
 * that ran passed.
 */
#include <stdio.h>
#include <string.h>

#include "unit.h"

static const struct group {
	const char	*name;
	int		(*run)(void);
} groups[] = {
	{ "json", run_json_tests },
	{ "text", run_text_tests },
	{ "digest", run_digest_tests },
	{ "signature", run_signature_tests },
	{ "legacy", run_legacy_tests },
	{ "event", run_event_tests },
	{ "reward", run_reward_tests },
	{ "config", run_config_tests },
	{ "secret", run_secret_tests },
	{ "vote", run_vote_tests },
	{ "ledger", run_ledger_tests },
	{ "pay", run_pay_tests },
	{ "explain", run_explain_tests },
};

#define GROUP_COUNT nitems(groups)

static int
wanted(const char *name, int argc, char *argv[])
{
	int i;

	if (argc < 2)
		return 1;
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return 1;
	return 0;
}

int
main(int argc, char *argv[])
{
	int failed = 0, ran = 0, i;
	size_t g;

	for (i = 1; i < argc; i++) {
		for (g = 0; g < GROUP_COUNT; g++)
			if (strcmp(argv[i], groups[g].name) == 0)
				break;
		if (g == GROUP_COUNT) {
			(void)fprintf(stderr, "unit_test: no group %s\n",
			    argv[i]);
			return 2;
		}
	}
	for (g = 0; g < GROUP_COUNT; g++) {
		if (!wanted(groups[g].name, argc, argv))
			continue;
		(void)printf("\n=== %s\n", groups[g].name);
		(void)fflush(stdout);
		failed += groups[g].run();
		ran++;
	}
	(void)printf("unit_test: %d group(s) run, %d test(s) failed\n", ran,
	    failed);
	return failed == 0 ? 0 : 1;
}
