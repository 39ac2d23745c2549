#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "sys.h"

enum value_kind {
	KIND_PATH,
	KIND_NUMBER,
	KIND_SIZE,
	KIND_BOOL,
	KIND_CHOICE		/* an int: the index of its name in choices */
};

struct key {
	const char	*name;
	enum value_kind	 kind;
	size_t		 offset;
	long		 min;
	long		 max;
	const char *const *choices;
};

static const char *const grant_modes[] = { "sync", "queue", NULL };
static const char *const unknown_outcomes[] = { "hold", "retry", NULL };

#define FIELD(f) offsetof(struct config, f)
#define CONFIG_FILE_MAX	65536

static const struct key keys[] = {
	{ "secret_file", KIND_PATH, FIELD(secret_file), 0, 0, NULL },
	{ "grant", KIND_PATH, FIELD(grant), 0, 0, NULL },
	{ "state_dir", KIND_PATH, FIELD(state_dir), 0, 0, NULL },
	{ "log", KIND_PATH, FIELD(log), 0, 0, NULL },
	{ "tolerance", KIND_NUMBER, FIELD(tolerance), 0, 31536000, NULL },
	{ "legacy", KIND_BOOL, FIELD(legacy), 0, 0, NULL },
	{ "legacy_tolerance", KIND_NUMBER, FIELD(legacy_tolerance), 0,
	    31536000, NULL },
	{ "grant_mode", KIND_CHOICE, FIELD(grant_mode), 0, 0, grant_modes },
	{ "unknown_outcome", KIND_CHOICE, FIELD(unknown_outcome), 0, 0,
	    unknown_outcomes },
	{ "queue_max_age", KIND_NUMBER, FIELD(queue_max_age), 0,
	    315360000, NULL },
	{ "grant_timeout", KIND_NUMBER, FIELD(grant_timeout), 1, 3600,
	    NULL },
	{ "max_body", KIND_SIZE, FIELD(max_body), 64,
	    CONFIG_MAX_BODY_LIMIT, NULL },
	{ "reward_base", KIND_NUMBER, FIELD(reward_base), 0, 1000000000,
	    NULL },
	{ "reward_weekly", KIND_NUMBER, FIELD(reward_weekly), 0,
	    1000000000, NULL },
	{ "reward_monthly", KIND_NUMBER, FIELD(reward_monthly), 0,
	    1000000000, NULL },
	{ "allow_root", KIND_BOOL, FIELD(allow_root), 0, 0, NULL },
};

void
config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	(void)snprintf(cfg->state_dir, sizeof(cfg->state_dir), "%s",
	    "/var/lib/mmolove");
	cfg->tolerance = 300;
	cfg->legacy_tolerance = 86400;
	cfg->grant_mode = GRANT_SYNC;
	cfg->unknown_outcome = UNKNOWN_HOLD;
	cfg->queue_max_age = 604800;
	cfg->grant_timeout = 10;
	cfg->max_body = 65536;
	cfg->reward_base = 100;
	cfg->reward_weekly = 200;
	cfg->reward_monthly = 1000;
}

static const struct key *
key_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static int
parse_bool(const char *v, bool *out)
{
	if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "on") == 0 ||
	    strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0)
		*out = true;
	else if (strcasecmp(v, "no") == 0 || strcasecmp(v, "off") == 0 ||
	    strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0)
		*out = false;
	else
		return -1;
	return 0;
}

static int
parse_number(const char *v, long min, long max, long *out)
{
	char *end;
	long n;

	if (!isdigit((unsigned char)v[0]))
		return -1;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max)
		return -1;
	*out = n;
	return 0;
}

/* Stores one value; the caller names where it came from in errors. */
static int
config_set(struct config *cfg, const struct key *k, const char *v,
    char *err, size_t errlen)
{
	char *field = (char *)cfg + k->offset;
	long n;

	switch (k->kind) {
	case KIND_PATH:
		if (strlen(v) >= CONFIG_PATH_MAX) {
			(void)snprintf(err, errlen, "%s: path longer than %d "
			    "bytes", k->name, CONFIG_PATH_MAX - 1);
			return -1;
		}
		(void)snprintf(field, CONFIG_PATH_MAX, "%s", v);
		return 0;
	case KIND_BOOL:
		if (parse_bool(v, (bool *)(void *)field) == 0)
			return 0;
		(void)snprintf(err, errlen, "%s: expected yes/no or on/off, "
		    "got \"%.64s\"", k->name, v);
		return -1;
	case KIND_CHOICE:
		for (n = 0; k->choices[n] != NULL; n++)
			if (strcmp(v, k->choices[n]) == 0) {
				*(int *)(void *)field = (int)n;
				return 0;
			}
		(void)snprintf(err, errlen, "%s: expected %s or %s, got "
		    "\"%.64s\"", k->name, k->choices[0], k->choices[1], v);
		return -1;
	case KIND_NUMBER:
	case KIND_SIZE:
		if (parse_number(v, k->min, k->max, &n) == -1) {
			(void)snprintf(err, errlen, "%s: expected a whole "
			    "number from %ld to %ld, got \"%.64s\"", k->name,
			    k->min, k->max, v);
			return -1;
		}
		if (k->kind == KIND_SIZE)
			*(size_t *)(void *)field = (size_t)n;
		else
			*(long *)(void *)field = n;
		return 0;
	}
	return -1;
}

static char *
trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static int
config_line(struct config *cfg, char *line, unsigned lineno, char *err,
    size_t errlen)
{
	const struct key *k;
	char *eq, *name, *value, why[200];

	name = trim(line);
	if (*name == '\0' || *name == '#')
		return 0;
	if ((eq = strchr(name, '=')) == NULL) {
		(void)snprintf(err, errlen, "%s:%u: expected key = value",
		    cfg->path, lineno);
		return -1;
	}
	*eq = '\0';
	name = trim(name);
	value = trim(eq + 1);
	if ((k = key_find(name)) == NULL) {
		(void)snprintf(err, errlen, "%s:%u: unknown key \"%.64s\"",
		    cfg->path, lineno, name);
		return -1;
	}
	if (config_set(cfg, k, value, why, sizeof(why)) == -1) {
		(void)snprintf(err, errlen, "%s:%u: %s", cfg->path, lineno,
		    why);
		return -1;
	}
	return 0;
}

int
config_parse(struct config *cfg, char *text, size_t len, char *err,
    size_t errlen)
{
	char *line, *nl;
	unsigned lineno = 0;

	text[len] = '\0';
	for (line = text; line < text + len; line = nl + 1) {
		if ((nl = memchr(line, '\n', (size_t)(text + len - line))) ==
		    NULL)
			nl = text + len;
		*nl = '\0';
		lineno++;
		if (strlen(line) != (size_t)(nl - line)) {
			(void)snprintf(err, errlen, "%s:%u: NUL byte",
			    cfg->path, lineno);
			return -1;
		}
		if (config_line(cfg, line, lineno, err, errlen) == -1)
			return -1;
	}
	return 0;
}

/* The whole file in one read: stdio would allocate, and configs are small. */
static int
config_file(struct config *cfg, bool explicit, char *err, size_t errlen)
{
	char buf[CONFIG_FILE_MAX + 1];
	ssize_t len;

	if ((len = read_path(cfg->path, buf, sizeof(buf))) == -1) {
		/* Environment-only setups need no file at the default path. */
		if (errno == ENOENT && !explicit)
			return 0;
		(void)snprintf(err, errlen, "cannot read config %s: %s",
		    cfg->path, strerror(errno));
		return -1;
	}
	cfg->file_found = true;
	if (len > CONFIG_FILE_MAX) {
		(void)snprintf(err, errlen, "config %s is over %d bytes",
		    cfg->path, CONFIG_FILE_MAX);
		return -1;
	}
	return config_parse(cfg, buf, (size_t)len, err, errlen);
}

static int
config_environment(struct config *cfg, char *err, size_t errlen)
{
	char var[64], why[200];
	const char *v;
	size_t i, j;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		(void)snprintf(var, sizeof(var), "MMOLOVE_%s", keys[i].name);
		for (j = 8; var[j] != '\0'; j++)
			var[j] = (char)toupper((unsigned char)var[j]);
		if ((v = getenv(var)) == NULL)
			continue;
		if (config_set(cfg, &keys[i], v, why, sizeof(why)) == -1) {
			(void)snprintf(err, errlen, "environment %s: %s", var,
			    why);
			return -1;
		}
	}
	return 0;
}

int
config_load(struct config *cfg, char *err, size_t errlen)
{
	const char *path = getenv("MMOLOVE_CONFIG");
	bool explicit = path != NULL && *path != '\0';

	config_defaults(cfg);
	if (!explicit)
		path = MMOLOVE_DEFAULT_CONFIG;
	if (strlen(path) >= sizeof(cfg->path)) {
		(void)snprintf(err, errlen, "MMOLOVE_CONFIG: path too long");
		return -1;
	}
	(void)snprintf(cfg->path, sizeof(cfg->path), "%s", path);
	if (config_file(cfg, explicit, err, errlen) == -1)
		return -1;
	return config_environment(cfg, err, errlen);
}
