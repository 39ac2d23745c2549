/* Helpers shared by the unit tests. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

#include "../../src/secret.h"

/* Not text.c's hex_digit: the expected values must not share its bugs. */
static int
hex_nibble(char c)
{
	static const char digits[] = "0123456789abcdef";
	const char *p;

	if (c == '\0')
		return -1;
	p = strchr(digits, tolower((unsigned char)c));
	return p == NULL ? -1 : (int)(p - digits);
}

void
unhex(const char *hex, unsigned char *out, size_t len)
{
	size_t i;
	int hi, lo;

	assert_int_equal(strlen(hex), 2 * len);
	for (i = 0; i < len; i++) {
		hi = hex_nibble(hex[2 * i]);
		lo = hex_nibble(hex[2 * i + 1]);
		assert_true(hi >= 0 && lo >= 0);
		out[i] = (unsigned char)(hi << 4 | lo);
	}
}

char *
exact_copy(const void *s, size_t len)
{
	/* malloc(0) may return NULL: keep one byte, but never read it. */
	char *p = malloc(len > 0 ? len : 1);

	assert_non_null(p);
	if (len > 0)
		memcpy(p, s, len);
	return p;
}

/* mkdtemp() under $TMPDIR (or /tmp). */
static void
make_temp_dir(char *path, size_t size)
{
	const char *tmp = getenv("TMPDIR");
	int n;

	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	n = snprintf(path, size, "%s/mmolove-unit-XXXXXX", tmp);
	assert_true(n > 0 && (size_t)n < size);
	assert_non_null(mkdtemp(path));
}

static int
remove_one(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		(void)rmdir(path);
	else
		(void)unlink(path);
	return 0;
}

/* rm -rf path. */
static void
remove_tree(const char *path)
{
	(void)nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

void
write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

void *
temp_fixture_new(size_t size, const char *name)
{
	struct temp_fixture *t = calloc(1, size);
	int n;

	assert_non_null(t);
	make_temp_dir(t->dir, sizeof(t->dir));
	n = snprintf(t->path, sizeof(t->path), "%s/%s", t->dir, name);
	assert_true(n > 0 && (size_t)n < sizeof(t->path));
	return t;
}

void
temp_fixture_free(void *fixture)
{
	struct temp_fixture *t = fixture;

	remove_tree(t->dir);
	free(t);
}

int
env_fixture_setup(void **state)
{
	const struct fixture_spec *spec = *state;

	*state = temp_fixture_new(spec->size, spec->name);
	clear_mmolove_environment();
	return 0;
}

int
env_fixture_teardown(void **state)
{
	clear_mmolove_environment();
	temp_fixture_free(*state);
	return 0;
}

void
secrets_of(struct secret_set *set, const char *a, const char *b)
{
	memset(set, 0, sizeof(*set));
	hmac_key_init(&set->keys[set->count++], a, strlen(a));
	if (b != NULL)
		hmac_key_init(&set->keys[set->count++], b, strlen(b));
}

void
trace(const char *fmt, ...)
{
	va_list ap;

	if (getenv("UNIT_VERBOSE") == NULL)
		return;
	va_start(ap, fmt);
	(void)vprintf(fmt, ap);
	va_end(ap);
}

void
clear_mmolove_environment(void)
{
	static const char *const names[] = {
		"MMOLOVE_CONFIG", "MMOLOVE_CALLBACK_SECRET",
		"MMOLOVE_SECRET_FILE", "MMOLOVE_GRANT", "MMOLOVE_STATE_DIR",
		"MMOLOVE_LOG", "MMOLOVE_TOLERANCE", "MMOLOVE_LEGACY",
		"MMOLOVE_LEGACY_TOLERANCE", "MMOLOVE_GRANT_MODE",
		"MMOLOVE_GRANT_TIMEOUT", "MMOLOVE_MAX_BODY",
		"MMOLOVE_REWARD_BASE", "MMOLOVE_REWARD_WEEKLY",
		"MMOLOVE_REWARD_MONTHLY", "MMOLOVE_ALLOW_ROOT",
		"MMOLOVE_UNKNOWN_OUTCOME", "MMOLOVE_QUEUE_MAX_AGE",
	};
	size_t i;

	for (i = 0; i < nitems(names); i++)
		assert_int_equal(unsetenv(names[i]), 0);
}
