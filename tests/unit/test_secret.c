/* secret.h: the signing secrets, from secret_file or the environment. */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

#include "../../src/secret.h"

/* True if key computes the same HMAC as a key made from raw. */
static bool
same_key(const struct hmac_key *key, const char *raw)
{
	struct hmac_key want;
	struct hmac_run run;
	unsigned char a[DIGEST_LEN], b[DIGEST_LEN];

	hmac_key_init(&want, raw, strlen(raw));
	hmac_begin(&run, key);
	hmac_update(&run, "message", 7);
	hmac_end(&run, a);
	hmac_begin(&run, &want);
	hmac_update(&run, "message", 7);
	hmac_end(&run, b);
	return memcmp(a, b, DIGEST_LEN) == 0;
}

struct fixture {
	struct temp_fixture tmp;	/* tmp.path: the secret_file */
	char	 err[400];
	struct secret_set set;
};

static struct fixture_spec spec = { sizeof(struct fixture), "secret" };

static int
load_file(struct fixture *f, const char *text)
{
	write_file(f->tmp.path, text, strlen(text));
	f->err[0] = '\0';
	return secret_load(&f->set, f->tmp.path, f->err, sizeof(f->err));
}

static void
test_file_rotation(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load_file(f, "  first \t\n\n \r\nsecond\r\nthird"), 0);
	assert_int_equal(f->set.count, 3);
	assert_true(same_key(&f->set.keys[0], "first"));
	assert_true(same_key(&f->set.keys[1], "second"));
	assert_true(same_key(&f->set.keys[2], "third"));
	assert_false(same_key(&f->set.keys[0], "first "));
	secret_wipe(&f->set);
	assert_int_equal(f->set.count, 0);
}

static void
test_file_problems(void **state)
{
	struct fixture *f = *state;
	char missing[400];
	char *big;

	assert_int_equal(load_file(f, ""), -1);
	assert_int_equal(load_file(f, "\n \n\t\n"), -1);
	/* One secret too many. */
	assert_int_equal(load_file(f, "1\n2\n3\n4\n5\n6\n7\n8\n"), 0);
	assert_int_equal(f->set.count, SECRET_MAX);
	assert_int_equal(load_file(f, "1\n2\n3\n4\n5\n6\n7\n8\n9\n"), -1);
	/* One byte too long. */
	big = malloc(SECRET_LEN_MAX + 2);
	assert_non_null(big);
	memset(big, 's', SECRET_LEN_MAX + 1);
	big[SECRET_LEN_MAX] = '\0';
	assert_int_equal(load_file(f, big), 0);
	big[SECRET_LEN_MAX] = 's';
	big[SECRET_LEN_MAX + 1] = '\0';
	assert_int_equal(load_file(f, big), -1);
	/* The error never holds secret bytes. */
	assert_null(strstr(f->err, "sssss"));
	free(big);

	(void)snprintf(missing, sizeof(missing), "%s/none", f->tmp.dir);
	assert_int_equal(secret_load(&f->set, missing, f->err,
	    sizeof(f->err)), -1);
	assert_int_equal(secret_load(&f->set, NULL, f->err, sizeof(f->err)),
	    -1);
	assert_int_equal(secret_load(&f->set, "", f->err, sizeof(f->err)),
	    -1);
}

static void
test_environment(void **state)
{
	struct fixture *f = *state;

	/* The variable wins over the file, and is gone once read. */
	assert_int_equal(setenv("MMOLOVE_CALLBACK_SECRET", " from-env ", 1),
	    0);
	assert_int_equal(load_file(f, "from-file\n"), 0);
	assert_int_equal(f->set.count, 1);
	assert_true(same_key(&f->set.keys[0], "from-env"));
	assert_true(f->set.from_env);
	assert_null(getenv("MMOLOVE_CALLBACK_SECRET"));

	assert_int_equal(setenv("MMOLOVE_CALLBACK_SECRET", "", 1), 0);
	assert_int_equal(load_file(f, "from-file\n"), -1);
	assert_null(getenv("MMOLOVE_CALLBACK_SECRET"));
}

static void
test_same(void **state)
{
	struct fixture *f = *state;
	struct secret_set other;

	assert_int_equal(load_file(f, "one\ntwo\n"), 0);
	assert_false(f->set.from_env);
	assert_int_equal(secret_load(&other, f->tmp.path, f->err,
	    sizeof(f->err)), 0);
	assert_true(secret_same(&f->set, &other));
	/* Same secrets, other order: --sign's first line differs. */
	assert_int_equal(load_file(f, "two\none\n"), 0);
	assert_false(secret_same(&f->set, &other));
	assert_int_equal(load_file(f, "one\n"), 0);
	assert_false(secret_same(&f->set, &other));
	assert_int_equal(load_file(f, "one\ntwO\n"), 0);
	assert_false(secret_same(&f->set, &other));
	secret_wipe(&other);
}

struct said {
	int	 count;
	char	 all[2048];
};

static void
collect(void *arg, const char *msg)
{
	struct said *s = arg;
	size_t used = strlen(s->all);

	(void)snprintf(s->all + used, sizeof(s->all) - used, "%s\n", msg);
	s->count++;
}

static int
lint(struct fixture *f, const char *text, struct said *s)
{
	int n;

	write_file(f->tmp.path, text, strlen(text));
	memset(s, 0, sizeof(*s));
	n = secret_lint(f->tmp.path, collect, s);
	assert_int_equal(n, s->count);
	return n;
}

#define HEX64 "0123456789abcdef0123456789abcdef" \
	"0123456789abcdef0123456789abcdef"

static void
test_lint(void **state)
{
	struct fixture *f = *state;
	struct said s;
	char missing[400];

	/* Minted secrets, one a line, old and new: nothing to say. */
	assert_int_equal(lint(f, HEX64 "\n" HEX64 "\r\n\n", &s), 0);
	assert_int_equal(lint(f, "  short-one \n", &s), 0);
	/* No newline at the end: `cat >>` would glue the next one on. */
	assert_int_equal(lint(f, HEX64, &s), 1);
	assert_non_null(strstr(s.all, "no newline"));
	/* What that glue made: one line of two secrets. */
	assert_int_equal(lint(f, HEX64 HEX64 "\n", &s), 1);
	assert_non_null(strstr(s.all, "line 1 is 128 characters"));
	assert_non_null(strstr(s.all, "glued"));
	/* Short secrets glued: twice another line, on line 3. */
	assert_int_equal(lint(f, "abcdefgh\n\nabcdefghabcdefgh\n", &s), 1);
	assert_non_null(strstr(s.all, "line 3 is 16 characters, line 1 "
	    "only 8"));
	/* A blank inside, a byte a copy brought along (U+00A0). */
	assert_int_equal(lint(f, "abc def\nabc\xc2\xa0" "def\n", &s), 2);
	assert_non_null(strstr(s.all, "line 1 has a space"));
	assert_non_null(strstr(s.all, "line 2 has a byte"));
	/* Never a byte of a secret in what it says. */
	assert_int_equal(lint(f, "zqzqzqzqzqzqzqzqzqzqzqzqzqzqzqzqzqzqzqzq"
	    "zqzqzqzqzqzqzqzqzqzqzqzqzqzqzqzq xyzzy", &s), 3);
	assert_null(strstr(s.all, "zqzq"));
	assert_null(strstr(s.all, "xyzzy"));
	(void)snprintf(missing, sizeof(missing), "%s/none", f->tmp.dir);
	assert_int_equal(secret_lint(missing, collect, &s), -1);
}

/* Modes a secret_file may have, and modes it is refused with. */
static const mode_t modes_ok[] = { 0600, 0640, 0400, 0440, 0700, 0750 };
static const mode_t modes_refused[] = { 0644, 0604, 0602, 0601, 0620, 0660,
    0666, 0777, 0642 };

static void
expect_refused(struct fixture *f, mode_t mode)
{
	char want[64];

	assert_int_equal(chmod(f->tmp.path, mode), 0);
	f->err[0] = '\0';
	assert_int_equal(secret_load(&f->set, f->tmp.path, f->err,
	    sizeof(f->err)), -1);
	trace("mode %04o: %s\n", (unsigned)mode, f->err);
	/* The file, its mode in octal, and the fix; never the secret. */
	(void)snprintf(want, sizeof(want), "mode %04o", (unsigned)mode);
	assert_non_null(strstr(f->err, f->tmp.path));
	assert_non_null(strstr(f->err, want));
	assert_non_null(strstr(f->err, "chmod 0640"));
	assert_null(strstr(f->err, "s3cr3t"));
}

static void
test_file_mode(void **state)
{
	struct fixture *f = *state;
	char link[400];
	size_t i;

	assert_int_equal(load_file(f, "s3cr3t\n"), 0);
	for (i = 0; i < nitems(modes_ok); i++) {
		assert_int_equal(chmod(f->tmp.path, modes_ok[i]), 0);
		assert_int_equal(secret_load(&f->set, f->tmp.path, f->err,
		    sizeof(f->err)), 0);
		assert_true(same_key(&f->set.keys[0], "s3cr3t"));
	}
	for (i = 0; i < nitems(modes_refused); i++)
		expect_refused(f, modes_refused[i]);
	/* The mode judged is the opened file's, not a symbolic link's. */
	(void)snprintf(link, sizeof(link), "%s/link", f->tmp.dir);
	assert_int_equal(symlink(f->tmp.path, link), 0);
	assert_int_equal(chmod(f->tmp.path, 0640), 0);
	assert_int_equal(secret_load(&f->set, link, f->err, sizeof(f->err)),
	    0);
	assert_int_equal(chmod(f->tmp.path, 0644), 0);
	assert_int_equal(secret_load(&f->set, link, f->err, sizeof(f->err)),
	    -1);
	assert_non_null(strstr(f->err, "mode 0644"));
}

/* Dumpable, with a soft core limit as high as the hard one allows. */
static void
dumps_on(void)
{
	struct rlimit rl;

	assert_int_equal(prctl(PR_SET_DUMPABLE, 1UL, 0UL, 0UL, 0UL), 0);
	assert_int_equal(getrlimit(RLIMIT_CORE, &rl), 0);
	rl.rlim_cur = rl.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_CORE, &rl), 0);
}

static void
expect_dumps_off(rlim_t hard)
{
	struct rlimit rl;

	assert_int_equal(prctl(PR_GET_DUMPABLE, 0UL, 0UL, 0UL, 0UL), 0);
	assert_int_equal(getrlimit(RLIMIT_CORE, &rl), 0);
	assert_true(rl.rlim_cur == 0);
	/* The hard limit stays: a grant may raise its own soft limit. */
	assert_true(rl.rlim_max == hard);
}

static void
test_core_dumps_off(void **state)
{
	struct fixture *f = *state;
	struct rlimit rl;

	assert_int_equal(getrlimit(RLIMIT_CORE, &rl), 0);
	dumps_on();
	assert_int_equal(load_file(f, "s3cr3t\n"), 0);
	expect_dumps_off(rl.rlim_max);
	dumps_on();
	assert_int_equal(setenv("MMOLOVE_CALLBACK_SECRET", "env", 1), 0);
	assert_int_equal(load_file(f, "s3cr3t\n"), 0);
	expect_dumps_off(rl.rlim_max);
	/* Even a load that fails has turned them off first. */
	dumps_on();
	assert_int_equal(load_file(f, "\n"), -1);
	expect_dumps_off(rl.rlim_max);
	secret_wipe(&f->set);
}

int
run_secret_tests(void)
{
	const struct CMUnitTest tests[] = {
		env_fixture_test(test_file_rotation, &spec),
		env_fixture_test(test_file_problems, &spec),
		env_fixture_test(test_environment, &spec),
		env_fixture_test(test_same, &spec),
		env_fixture_test(test_lint, &spec),
		env_fixture_test(test_file_mode, &spec),
		env_fixture_test(test_core_dumps_off, &spec),
	};

	return cmocka_run_group_tests_name("secret", tests, NULL, NULL);
}
