/*
 * config.h: the configuration file and its environment overrides.  Each
 * test writes a file in a fresh temporary directory and points
 * MMOLOVE_CONFIG at it; every MMOLOVE_* variable is cleared around each
 * test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#include "../../src/config.h"

struct fixture {
	struct temp_fixture tmp;	/* tmp.path: the configuration file */
	char	 err[600];
	struct config cfg;
};

static struct fixture_spec spec = { sizeof(struct fixture), "mmolove.conf" };

/* Loads len bytes of text as the configuration file. */
static int
load_bytes(struct fixture *f, const char *text, size_t len)
{
	int rc;

	write_file(f->tmp.path, text, len);
	assert_int_equal(setenv("MMOLOVE_CONFIG", f->tmp.path, 1), 0);
	f->err[0] = '\0';
	rc = config_load(&f->cfg, f->err, sizeof(f->err));
	trace("load: %d %s\n", rc, f->err);
	if (rc == -1)
		assert_true(f->err[0] != '\0');
	return rc;
}

/* Loads the string text as the configuration file. */
static int
load(struct fixture *f, const char *text)
{
	return load_bytes(f, text, strlen(text));
}

static void
test_defaults(void **state)
{
	struct fixture *f = *state;
	struct config *c = &f->cfg;

	assert_int_equal(load(f, ""), 0);
	assert_true(c->file_found);
	assert_string_equal(c->path, f->tmp.path);
	assert_string_equal(c->secret_file, "");
	assert_string_equal(c->grant, "");
	assert_string_equal(c->state_dir, "/var/lib/mmolove");
	assert_string_equal(c->log, "");
	assert_int_equal(c->tolerance, 300);
	assert_false(c->legacy);
	assert_int_equal(c->legacy_tolerance, 86400);
	assert_int_equal(c->grant_mode, GRANT_SYNC);
	assert_int_equal(c->grant_timeout, 10);
	assert_int_equal(c->max_body, 65536);
	assert_int_equal(c->reward_base, 100);
	assert_int_equal(c->reward_weekly, 200);
	assert_int_equal(c->reward_monthly, 1000);
	assert_false(c->allow_root);
}

static void
test_every_key(void **state)
{
	struct fixture *f = *state;
	struct config *c = &f->cfg;

	assert_int_equal(load(f,
	    "# mmolove.conf\n"
	    "\n"
	    "   \t\n"
	    "  # an indented comment = with an equals sign\n"
	    "secret_file = /etc/mmolove/secret\n"
	    "grant=/usr/local/bin/grant points\n"
	    "\tstate_dir\t=\t/srv/mmolove state \t\n"
	    "log = /var/log/mmolove.log\r\n"
	    "tolerance = 60\n"
	    "legacy = on\n"
	    "legacy_tolerance = 0\n"
	    "grant_mode = queue\n"
	    "grant_timeout = 3600\n"
	    "max_body = 64\n"
	    "reward_base = 0\n"
	    "reward_weekly = 7\n"
	    "reward_monthly = 1000000000\n"
	    "allow_root = yes\n"
	    "# last line, no newline"), 0);
	assert_string_equal(c->secret_file, "/etc/mmolove/secret");
	assert_string_equal(c->grant, "/usr/local/bin/grant points");
	assert_string_equal(c->state_dir, "/srv/mmolove state");
	assert_string_equal(c->log, "/var/log/mmolove.log");
	assert_int_equal(c->tolerance, 60);
	assert_true(c->legacy);
	assert_int_equal(c->legacy_tolerance, 0);
	assert_int_equal(c->grant_mode, GRANT_QUEUE);
	assert_int_equal(c->grant_timeout, 3600);
	assert_int_equal(c->max_body, 64);
	assert_int_equal(c->reward_base, 0);
	assert_int_equal(c->reward_weekly, 7);
	assert_int_equal(c->reward_monthly, 1000000000);
	assert_true(c->allow_root);
	/* A last line without its newline still counts. */
	assert_int_equal(load(f, "tolerance = 42"), 0);
	assert_int_equal(c->tolerance, 42);
}

static void
test_booleans(void **state)
{
	struct fixture *f = *state;
	static const char *const yes[] = { "yes", "on", "true", "1", "YES",
	    "On", "TRUE" };
	static const char *const no[] = { "no", "off", "false", "0", "NO",
	    "Off" };
	char text[64];
	size_t i;

	for (i = 0; i < nitems(yes); i++) {
		(void)snprintf(text, sizeof(text), "legacy = %s\n", yes[i]);
		assert_int_equal(load(f, text), 0);
		assert_true(f->cfg.legacy);
	}
	for (i = 0; i < nitems(no); i++) {
		(void)snprintf(text, sizeof(text), "allow_root = %s\n", no[i]);
		assert_int_equal(load(f, text), 0);
		assert_false(f->cfg.allow_root);
	}
}

static void
test_unknown_key(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "# ok\ntolerance = 5\ntolerence = 5\n"), -1);
	assert_non_null(strstr(f->err, "tolerence"));
	assert_non_null(strstr(f->err, ":3:"));
	assert_non_null(strstr(f->err, f->tmp.path));
	/* Keys are case-sensitive; a line without '=' is an error too. */
	assert_int_equal(load(f, "Tolerance = 5\n"), -1);
	assert_non_null(strstr(f->err, ":1:"));
	assert_int_equal(load(f, "\n\ntolerance 5\n"), -1);
	assert_non_null(strstr(f->err, ":3:"));
	assert_int_equal(load(f, "= 5\n"), -1);
}

static void
test_bad_values(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = {
		"tolerance = abc\n",
		"tolerance = 10x\n",
		"tolerance = -1\n",
		"tolerance = +5\n",
		"tolerance = 0x10\n",
		"tolerance = 1.5\n",
		"tolerance =\n",
		"tolerance = 99999999999999999999999\n",
		"tolerance = 31536001\n",
		"legacy_tolerance = 31536001\n",
		"grant_timeout = 0\n",
		"grant_timeout = 3601\n",
		"max_body = 63\n",
		"max_body = 1048577\n",
		"reward_base = 1000000001\n",
		"reward_weekly = -1\n",
		"legacy = maybe\n",
		"legacy = \n",
		"allow_root = 2\n",
		"grant_mode = async\n",
	};
	size_t i;

	for (i = 0; i < nitems(bad); i++)
		if (load(f, bad[i]) != -1 || strstr(f->err, ":1:") == NULL)
			fail_msg("accepted, or no line number: %s", bad[i]);
	/* The limits themselves are fine. */
	assert_int_equal(load(f, "tolerance = 31536000\nmax_body = 1048576\n"
	    "grant_timeout = 1\n"), 0);
	assert_int_equal(f->cfg.tolerance, 31536000);
	assert_int_equal(f->cfg.max_body, CONFIG_MAX_BODY_LIMIT);
	assert_int_equal(f->cfg.grant_timeout, 1);
}

static void
test_environment_overrides(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(setenv("MMOLOVE_TOLERANCE", "120", 1), 0);
	assert_int_equal(setenv("MMOLOVE_STATE_DIR", "/tmp/elsewhere", 1), 0);
	assert_int_equal(setenv("MMOLOVE_LEGACY", "on", 1), 0);
	assert_int_equal(setenv("MMOLOVE_GRANT_MODE", "queue", 1), 0);
	assert_int_equal(setenv("MMOLOVE_MAX_BODY", "1024", 1), 0);
	assert_int_equal(load(f, "tolerance = 60\nstate_dir = /srv/x\n"
	    "legacy = off\n"), 0);
	assert_int_equal(f->cfg.tolerance, 120);
	assert_string_equal(f->cfg.state_dir, "/tmp/elsewhere");
	assert_true(f->cfg.legacy);
	assert_int_equal(f->cfg.grant_mode, GRANT_QUEUE);
	assert_int_equal(f->cfg.max_body, 1024);

	/* A bad value in the environment is named. */
	assert_int_equal(setenv("MMOLOVE_TOLERANCE", "soon", 1), 0);
	assert_int_equal(load(f, "tolerance = 60\n"), -1);
	assert_non_null(strstr(f->err, "MMOLOVE_TOLERANCE"));
	assert_int_equal(setenv("MMOLOVE_TOLERANCE", "", 1), 0);
	assert_int_equal(load(f, ""), -1);
	assert_int_equal(unsetenv("MMOLOVE_TOLERANCE"), 0);
	assert_int_equal(setenv("MMOLOVE_ALLOW_ROOT", "perhaps", 1), 0);
	assert_int_equal(load(f, ""), -1);
	assert_non_null(strstr(f->err, "MMOLOVE_ALLOW_ROOT"));
}

static void
test_missing_file(void **state)
{
	struct fixture *f = *state;
	char missing[400];

	(void)snprintf(missing, sizeof(missing), "%s/no-such.conf", f->tmp.dir);
	assert_int_equal(setenv("MMOLOVE_CONFIG", missing, 1), 0);
	assert_int_equal(config_load(&f->cfg, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, missing));
	/* A directory is not a configuration file either. */
	assert_int_equal(setenv("MMOLOVE_CONFIG", f->tmp.dir, 1), 0);
	assert_int_equal(config_load(&f->cfg, f->err, sizeof(f->err)), -1);
}

static void
test_long_line(void **state)
{
	struct fixture *f = *state;
	size_t len = 8192;
	char *text = malloc(len + 1);

	assert_non_null(text);
	memcpy(text, "grant = /", 9);
	memset(text + 9, 'x', len - 10);
	text[len - 1] = '\n';
	text[len] = '\0';
	assert_int_equal(load(f, text), -1);
	free(text);
}

static void
test_nul_and_size(void **state)
{
	struct fixture *f = *state;
	static const char nul[] = "tolerance = 5\0junk\n";
	char *big;
	size_t len = 70000, i;

	assert_int_equal(load_bytes(f, nul, sizeof(nul) - 1), -1);
	/* A file of comments far larger than any configuration. */
	big = malloc(len + 1);
	assert_non_null(big);
	for (i = 0; i < len; i++)
		big[i] = i % 64 == 63 ? '\n' : '#';
	big[len] = '\0';
	assert_int_equal(load(f, big), -1);
	free(big);
}

/*
 * config_parse(), the entry point the fuzzer drives: over what cfg holds,
 * its text cut in place, never read past len (the exact-size buffer
 * lets the sanitized run see it), and a bad line keeps what came before.
 */
static void
test_parse_buffer(void **state)
{
	static const char good[] = "tolerance = 5\n\tlegacy=on  \r\n# x";
	struct fixture *f = *state;
	char *text = malloc(sizeof(good));

	assert_non_null(text);
	config_defaults(&f->cfg);
	f->cfg.reward_base = 7;
	memcpy(text, good, sizeof(good) - 1);
	assert_int_equal(config_parse(&f->cfg, text, sizeof(good) - 1, f->err,
	    sizeof(f->err)), 0);
	assert_int_equal(f->cfg.tolerance, 5);
	assert_true(f->cfg.legacy);
	assert_int_equal(f->cfg.reward_base, 7);
	memcpy(text, "max_body = 64\nmax_body = 63\n", 29);
	(void)snprintf(f->cfg.path, sizeof(f->cfg.path), "buf");
	assert_int_equal(config_parse(&f->cfg, text, 29, f->err,
	    sizeof(f->err)), -1);
	assert_string_equal(f->err, "buf:2: max_body: expected a whole number "
	    "from 64 to 1048576, got \"63\"");
	assert_int_equal(f->cfg.max_body, 64);
	free(text);
}

int
run_config_tests(void)
{
	const struct CMUnitTest tests[] = {
		env_fixture_test(test_defaults, &spec),
		env_fixture_test(test_every_key, &spec),
		env_fixture_test(test_booleans, &spec),
		env_fixture_test(test_unknown_key, &spec),
		env_fixture_test(test_bad_values, &spec),
		env_fixture_test(test_environment_overrides, &spec),
		env_fixture_test(test_missing_file, &spec),
		env_fixture_test(test_long_line, &spec),
		env_fixture_test(test_nul_and_size, &spec),
		env_fixture_test(test_parse_buffer, &spec),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
