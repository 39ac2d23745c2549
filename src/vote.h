/*
 * vote: one authentic vote, decided and ready to pay.
 *
 * Promises: every text field is a clean name (valid UTF-8, no control
 * characters, bounded), so it can be passed as argv, environment or a
 * ledger line as it is.  `key` is the idempotency key: "post:" heart_id,
 * or "legacy:" ts ":" username.
 */
#ifndef MMOLOVE_VOTE_H
#define MMOLOVE_VOTE_H

#include "event.h"

#define VOTE_KEY_MAX	(16 + EVENT_NAME_MAX + EVENT_INT_TEXT)

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
	long		 reward;
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

const char	*vote_mode_name(enum vote_mode mode);

#endif
