/*
 * vote: one authentic vote, decided and ready to pay.
 *
 * Promises: every text field is a clean name (valid UTF-8, no control
 * characters, bounded), so it can be passed as argv, environment or a
 * ledger line as it is.  `key` is the idempotency key: "post:" heart_id,
 * or "legacy:" ts ":" username.  vote_fields[] is the one list of the
 * vote's fields: event.c parses the body's keys by it, and the ledger's
 * record lines and the grant's environment are made from it, each value
 * shown by vote_value().
 */
#ifndef MMOLOVE_VOTE_H
#define MMOLOVE_VOTE_H

#include <stdbool.h>
#include <stddef.h>

#define EVENT_NAME_MAX		128	/* username, heart_id: SPEC's bound */
#define EVENT_FIELD_MAX		128	/* server_id, period, event name */
#define EVENT_INT_TEXT		24

enum flag {
	FLAG_ABSENT = -1,
	FLAG_FALSE = 0,
	FLAG_TRUE = 1
};

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

/* Where the signed body gives a field, and what is done if it is wrong. */
enum vote_source {
	FROM_NOWHERE,		/* not in the body: mode, key, reward */
	FROM_NAME,		/* username, heart_id: 400 if a vote's aren't clean */
	FROM_REQUIRED,		/* event: 400 if not a clean string */
	FROM_TEXT,		/* dropped and noted if not a clean string */
	FROM_INT,		/* kept as text; dropped and noted if not an integer */
	FROM_FLAG,		/* dropped and noted if not a boolean */
	FROM_STREAK		/* positive integer, or "no streak info" */
};

/* When the grant's environment carries a field. */
enum vote_env {
	ENV_NEVER,
	ENV_ALWAYS,
	ENV_IF_SET		/* text non-empty, number > 0, flag present */
};

struct vote_field {
	const char	*key;		/* body key and ledger line */
	enum vote_source from;
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
