/*
 * config: the owner's settings, read once per process.
 *
 * Promises: a `key = value` file (path in MMOLOVE_CONFIG, else the
 * build-time default) is read, then every MMOLOVE_<KEY> environment
 * variable overrides its key.  Unknown keys and malformed values are
 * errors, so a typo never silently falls back to a default.  Nothing
 * here reads the secret itself; see secret.h.
 */
#ifndef MMOLOVE_CONFIG_H
#define MMOLOVE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#ifndef MMOLOVE_DEFAULT_CONFIG
#define MMOLOVE_DEFAULT_CONFIG "/etc/mmolove/mmolove.conf"
#endif

#define CONFIG_MAX_BODY_LIMIT (1024 * 1024)
/*
 * Longest path a key may hold.  Not PATH_MAX: five 4 KiB arrays are
 * pages a CGI process must fault in at every request, for paths that
 * are never that long.
 */
#define CONFIG_PATH_MAX	1024

/* The choice keys' values: the order of their names in config.c. */
enum grant_mode {
	GRANT_SYNC,
	GRANT_QUEUE
};

enum unknown_outcome {
	UNKNOWN_HOLD,		/* answer 200, never run again until --replay */
	UNKNOWN_RETRY		/* run again: for grants idempotent on heart_id */
};

struct config {
	char		 path[CONFIG_PATH_MAX];	/* the file read, or tried */
	bool		 file_found;
	char		 secret_file[CONFIG_PATH_MAX];
	char		 grant[CONFIG_PATH_MAX];
	char		 state_dir[CONFIG_PATH_MAX];
	char		 log[CONFIG_PATH_MAX];		/* empty: stderr */
	long		 tolerance;
	bool		 legacy;
	long		 legacy_tolerance;
	int		 grant_mode;		/* enum grant_mode */
	int		 unknown_outcome;	/* enum unknown_outcome */
	long		 queue_max_age;
	long		 grant_timeout;
	size_t		 max_body;
	long		 reward_base;
	long		 reward_weekly;
	long		 reward_monthly;
	bool		 allow_root;
};

/* The built-in value of every key; path empty, no file found. */
void	config_defaults(struct config *cfg);

/*
 * Sets the keys that len bytes of `key = value` lines name, over what
 * cfg holds (cfg->path names the text in errors).  text has room for
 * len + 1 bytes: it is cut into lines in place.  Returns 0, or -1 with a
 * one-line reason in err; the keys before the bad line are then set.
 * config_load() reads the file through this.
 */
int	config_parse(struct config *cfg, char *text, size_t len, char *err,
	    size_t errlen);

/*
 * Fills cfg from the file and the environment.  On failure returns -1
 * and writes a one-line reason into err; cfg then holds what was read
 * so far, which is enough to find the log.
 */
int	config_load(struct config *cfg, char *err, size_t errlen);

#endif
