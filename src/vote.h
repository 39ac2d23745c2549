/*
 * vote: one authentic vote, decided and ready to pay.
 *
 * Promises: every text field is a clean name (valid UTF-8, no control
 * characters, bounded), so it can be passed as argv, environment or a
 * ledger line as it is.  `key` is the idempotency key: "post:" heart_id,
 * or "legacy:" ts ":" username.  vote_fields[] is the one list of the
 * vote's fields: the ledger's record lines and the grant's environment
 * are both made from it, each value shown by vote_value().
 */
#ifndef MMOLOVE_VOTE_H
#define MMOLOVE_VOTE_H

#include <stdbool.h>
#include <stddef.h>

#include "event.h"

#define VOTE_KEY_MAX	(16 + EVENT_NAME_MAX + EVENT_INT_TEXT)
#define VOTE_VALUE_MAX	VOTE_KEY_MAX	/* the longest value, as text */

enum vote_mode {
	VOTE_POST,
	VOTE_LEGACY
};

struct vote {
	enum vote_mode	 mode;
	char		 key[VOTE_KEY_MAX];
	char		 event[EVENT_FIELD_MAX + 1];
	char		 username[EVENT_NAME_MAX + 1];
	char		 heart_id[EVENT_NAME_MAX + 1];
	long long	 reward;
	char		 server_id[EVENT_FIELD_MAX + 1];
	char		 period[EVENT_FIELD_MAX + 1];
	char		 timestamp[EVENT_INT_TEXT];
	long long	 streak_day;		/* 0: none */
	enum flag	 first_heart;
	enum flag	 streak_milestone;
	enum flag	 account_linked;
	char		 monthly_streak[EVENT_INT_TEXT];
	char		 loyalty_level[EVENT_INT_TEXT];
};

enum vote_kind {
	VOTE_TEXT,		/* char[size] */
	VOTE_NUMBER,		/* long long */
	VOTE_FLAG,		/* enum flag: -1 absent, 0, 1 */
	VOTE_MODE		/* enum vote_mode, by name */
};

/* When the grant's environment carries a field. */
enum vote_env {
	ENV_NEVER,
	ENV_ALWAYS,
	ENV_IF_SET		/* text non-empty, number > 0, flag present */
};

struct vote_field {
	const char	*key;		/* ledger line */
	const char	*env;		/* grant environment variable */
	enum vote_env	 when;
	enum vote_kind	 kind;
	size_t		 offset;
	size_t		 size;
};

extern const struct vote_field vote_fields[];
extern const size_t vote_field_count;

const char	*vote_mode_name(enum vote_mode mode);

/*
 * The field's value as text into buf (at least VOTE_VALUE_MAX bytes):
 * for the environment, flags are "1"/"0"; in the ledger -1/0/1.
 * Returns false when the environment does not carry it (ENV_IF_SET).
 */
bool	vote_value(const struct vote *v, const struct vote_field *f,
	    bool for_env, char *buf, size_t cap);

/* Sets the field from len bytes of text; returns 0, or -1 if malformed. */
int	vote_set(struct vote *v, const struct vote_field *f, const char *s,
	    size_t len);

#endif
