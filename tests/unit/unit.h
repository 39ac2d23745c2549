/*
 * unit: shared declarations of the cmocka unit tests in tests/unit.
 *
 * Each test_<module>.c holds one cmocka group and exports its runner;
 * unit_test.c runs every group (or those named on the command line)
 * and exits non-zero if any test failed.
 */
#ifndef MMOLOVE_UNIT_H
#define MMOLOVE_UNIT_H

/* cmocka.h needs these first. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>

struct secret_set;

int	run_json_tests(void);
int	run_text_tests(void);
int	run_digest_tests(void);
int	run_signature_tests(void);
int	run_legacy_tests(void);
int	run_event_tests(void);
int	run_reward_tests(void);
int	run_config_tests(void);
int	run_ledger_tests(void);
int	run_secret_tests(void);
int	run_vote_tests(void);
int	run_pay_tests(void);
int	run_explain_tests(void);

/* The number of elements of array a, as in OpenBSD's <sys/param.h>. */
#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

/* Helpers, in unit_util.c. */

/* Decodes exactly 2 * len hex digits (either case) into out; fails the test otherwise. */
void	unhex(const char *hex, unsigned char *out, size_t len);

/*
 * A heap copy of exactly len bytes (no terminating NUL), so the
 * sanitizer build catches any read past the length a parser was given.
 */
char	*exact_copy(const void *s, size_t len);

/* Writes len bytes to path (created or truncated, mode 0600). */
void	write_file(const char *path, const void *data, size_t len);

/*
 * The first member of a fixture that works in a fresh temporary
 * directory: dir, and path, a name in it that is not yet created.
 */
struct temp_fixture {
	char	 dir[256];
	char	 path[300];
};

/*
 * A zeroed fixture of size bytes that starts with a struct temp_fixture,
 * its dir made and its path dir/name.
 */
void	*temp_fixture_new(size_t size, const char *name);
/* Removes the fixture's directory with all in it, and frees it. */
void	 temp_fixture_free(void *fixture);

/* The size of a temp fixture, and the name of its path. */
struct fixture_spec {
	size_t		 size;
	const char	*name;
};

/*
 * cmocka set-up and tear-down of a temp fixture made to the spec given as
 * the test's initial state, with no MMOLOVE_* variable set around it.
 */
int	env_fixture_setup(void **state);
int	env_fixture_teardown(void **state);
#define env_fixture_test(t, spec)					\
	cmocka_unit_test_prestate_setup_teardown(t, env_fixture_setup,	\
	    env_fixture_teardown, spec)

/* A set of the secret a, then b unless NULL, as secret_load() keeps them. */
void	secrets_of(struct secret_set *set, const char *a, const char *b);

/* printf to stdout, only when UNIT_VERBOSE is set in the environment. */
void	trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Unsets every MMOLOVE_* variable the code under test reads. */
void	clear_mmolove_environment(void);

#endif
