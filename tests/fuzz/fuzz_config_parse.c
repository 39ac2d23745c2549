/*
 * libFuzzer harness: config_parse() on a configuration file's bytes,
 * the code config_load() reads every file through.
 *
 * The text is an exact-size heap copy (plus the byte config_parse()
 * may write its NUL into), so ASan sees any read or write beyond it.
 * Invariants (a violation traps): the result is 0 or -1; a failure
 * names the file and why in a NUL-terminated message; a success leaves
 * every value within the bounds README.md and SPEC.md document (kept
 * here, apart from config.c's own table, as the documentation states
 * them), every path NUL-terminated inside its field, every choice one of
 * its names and every bool 0 or 1; and the settings written back out as
 * `key = value` lines parse again to exactly the same settings.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define YEAR	31536000L

/* The documented range of each number; max_body is a size_t. */
struct bound {
	const char	*name;
	size_t		 offset;
	long		 min;
	long		 max;
};

#define FIELD(f) offsetof(struct config, f)

static const struct bound numbers[] = {
	{ "tolerance", FIELD(tolerance), 0, YEAR },
	{ "legacy_tolerance", FIELD(legacy_tolerance), 0, YEAR },
	{ "queue_max_age", FIELD(queue_max_age), 0, 10 * YEAR },
	{ "grant_timeout", FIELD(grant_timeout), 1, 3600 },
	{ "reward_base", FIELD(reward_base), 0, 1000000000 },
	{ "reward_weekly", FIELD(reward_weekly), 0, 1000000000 },
	{ "reward_monthly", FIELD(reward_monthly), 0, 1000000000 },
};

static const struct { const char *name; size_t offset; } paths[] = {
	{ "secret_file", FIELD(secret_file) },
	{ "grant", FIELD(grant) },
	{ "state_dir", FIELD(state_dir) },
	{ "log", FIELD(log) },
};

static const struct { const char *name; size_t offset; } bools[] = {
	{ "legacy", FIELD(legacy) },
	{ "allow_root", FIELD(allow_root) },
};

static const char *const grant_modes[] = { "sync", "queue" };
static const char *const unknown_outcomes[] = { "hold", "retry" };

#define NITEMS(a) (sizeof(a) / sizeof((a)[0]))

static void
check_bounds(const struct config *c)
{
	const char *base = (const char *)c;
	unsigned char b;
	long n;
	size_t i;

	for (i = 0; i < NITEMS(numbers); i++) {
		memcpy(&n, base + numbers[i].offset, sizeof(n));
		if (n < numbers[i].min || n > numbers[i].max)
			__builtin_trap();
	}
	for (i = 0; i < NITEMS(paths); i++)
		if (memchr(base + paths[i].offset, '\0', CONFIG_PATH_MAX) ==
		    NULL)
			__builtin_trap();
	/* Read as a byte: a bool holding anything but 0 or 1 is UB. */
	for (i = 0; i < NITEMS(bools); i++) {
		memcpy(&b, base + bools[i].offset, 1);
		if (b > 1)
			__builtin_trap();
	}
	if (c->max_body < 64 || c->max_body > CONFIG_MAX_BODY_LIMIT)
		__builtin_trap();
	if (c->grant_mode != GRANT_SYNC && c->grant_mode != GRANT_QUEUE)
		__builtin_trap();
	if (c->unknown_outcome != UNKNOWN_HOLD &&
	    c->unknown_outcome != UNKNOWN_RETRY)
		__builtin_trap();
}

/* Appends one line; the buffer is sized for every key at its longest. */
static void
line(char *buf, size_t cap, size_t *used, const char *key, const char *v)
{
	int n = snprintf(buf + *used, cap - *used, "%s = %s\n", key, v);

	if (n < 0 || (size_t)n >= cap - *used)
		__builtin_trap();
	*used += (size_t)n;
}

static size_t
render(const struct config *c, char *buf, size_t cap)
{
	const char *base = (const char *)c;
	char num[32];
	size_t used = 0, i;
	long n;

	for (i = 0; i < NITEMS(paths); i++)
		line(buf, cap, &used, paths[i].name, base + paths[i].offset);
	for (i = 0; i < NITEMS(numbers); i++) {
		memcpy(&n, base + numbers[i].offset, sizeof(n));
		(void)snprintf(num, sizeof(num), "%ld", n);
		line(buf, cap, &used, numbers[i].name, num);
	}
	for (i = 0; i < NITEMS(bools); i++)
		line(buf, cap, &used, bools[i].name,
		    base[bools[i].offset] ? "yes" : "no");
	(void)snprintf(num, sizeof(num), "%zu", c->max_body);
	line(buf, cap, &used, "max_body", num);
	line(buf, cap, &used, "grant_mode", grant_modes[c->grant_mode]);
	line(buf, cap, &used, "unknown_outcome",
	    unknown_outcomes[c->unknown_outcome]);
	return used;
}

static bool
same(const struct config *a, const struct config *b)
{
	size_t i;

	for (i = 0; i < NITEMS(paths); i++)
		if (strcmp((const char *)a + paths[i].offset,
		    (const char *)b + paths[i].offset) != 0)
			return false;
	for (i = 0; i < NITEMS(numbers); i++)
		if (memcmp((const char *)a + numbers[i].offset,
		    (const char *)b + numbers[i].offset, sizeof(long)) != 0)
			return false;
	return a->legacy == b->legacy && a->allow_root == b->allow_root &&
	    a->max_body == b->max_body && a->grant_mode == b->grant_mode &&
	    a->unknown_outcome == b->unknown_outcome;
}

static void
round_trip(const struct config *c)
{
	static struct config again;
	static char text[NITEMS(paths) * (CONFIG_PATH_MAX + 32) + 1024];
	char err[400];
	size_t len;

	len = render(c, text, sizeof(text) - 1);
	config_defaults(&again);
	(void)snprintf(again.path, sizeof(again.path), "%s", c->path);
	if (config_parse(&again, text, len, err, sizeof(err)) != 0 ||
	    !same(c, &again))
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config cfg;
	static const char path[] = "fuzz.conf";
	char *text, err[400];
	int rc;

	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	config_defaults(&cfg);
	memcpy(cfg.path, path, sizeof(path));
	memset(err, 'X', sizeof(err));
	rc = config_parse(&cfg, text, size, err, sizeof(err));
	free(text);
	if (rc == -1) {
		if (memchr(err, '\0', sizeof(err)) == NULL ||
		    strncmp(err, path, sizeof(path) - 1) != 0)
			__builtin_trap();
		return 0;
	}
	if (rc != 0)
		__builtin_trap();
	check_bounds(&cfg);
	round_trip(&cfg);
	return 0;
}
