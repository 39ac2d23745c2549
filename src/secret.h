/*
 * secret: the signing secrets, read once and wiped after use.
 *
 * Promises: MMOLOVE_CALLBACK_SECRET, when set, is the only secret and is
 * scrubbed from the process environment as soon as it is read; otherwise
 * every non-empty line of secret_file is one accepted secret (rotation),
 * surrounding white space removed.  Each secret is kept as a prepared
 * HMAC key, so the raw bytes never outlive secret_load().  Callers wipe
 * the set with secret_wipe() when done; nothing here logs a secret, and
 * secret_lint() names lines by number and length only.
 * Before any secret is read, the process is made non-dumpable with a
 * soft RLIMIT_CORE of 0, for the rest of its life (fork(2) keeps both;
 * execve(2) of a grant restores dumpable, not the limit): no core file
 * ever holds a key, and a failure to turn dumps off is a failure to
 * load.  A secret_file that others may read or change, or its group
 * change (mode & 0027), is refused, with its mode and the fix in err;
 * group-readable (root:www-data 0640) is fine.
 */
#ifndef MMOLOVE_SECRET_H
#define MMOLOVE_SECRET_H

#include <stdbool.h>
#include <stddef.h>

#include "digest.h"

#define SECRET_MAX	8	/* lines kept from secret_file */
#define SECRET_LEN_MAX	1024	/* bytes in one secret */

struct secret_set {
	size_t		 count;
	bool		 from_env;	/* MMOLOVE_CALLBACK_SECRET: read once */
	struct hmac_key	 keys[SECRET_MAX];
};

/*
 * Loads the secrets.  Returns 0, or -1 with a reason in err (never
 * containing secret bytes).
 */
int	secret_load(struct secret_set *set, const char *secret_file,
	    char *err, size_t errlen);
void	secret_wipe(struct secret_set *set);
/* Wipes and removes MMOLOVE_CALLBACK_SECRET from the environment. */
int	secret_scrub_environment(void);

/* True if both sets hold the same secrets in the same order. */
bool	secret_same(const struct secret_set *a, const struct secret_set *b);

/*
 * The secret file as --check judges its shape: calls warn with a
 * sentence for each line that does not look like one secret as a
 * dashboard shows it (longer than SECRET_SHOWN_MAX, or twice another
 * line: two secrets glued together; blanks or bytes that are not
 * printable ASCII inside it), and for a last line with no newline, which
 * a secret appended with `cat >>` would be glued to.  Returns the number
 * of warnings, or -1 if the file could not be read.
 */
/* A 256-bit key in hex; HMAC-SHA256 gains nothing from a longer one. */
#define SECRET_SHOWN_MAX 64

int	secret_lint(const char *path, void (*warn)(void *, const char *),
	    void *arg);

#endif
