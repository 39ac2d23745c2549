#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vote.h"

/*
 * Each entry is checked against the member's type at compile time:
 * _Generic has no default, so a table entry of the wrong kind does not
 * build.
 */
#define AS(f, type) (offsetof(struct vote, f) + \
	0 * _Generic(((struct vote *)0)->f, type: 0u)), \
	sizeof(((struct vote *)0)->f)
#define TEXT(f)		VOTE_TEXT, AS(f, char *)
#define NUMBER(f)	VOTE_NUMBER, AS(f, long long)
#define FLAG(f)		VOTE_FLAG, AS(f, enum flag)
#define MODE(f)		VOTE_MODE, AS(f, enum vote_mode)

const struct vote_field vote_fields[] = {
	{ "mode", FROM_NOWHERE, "MMOLOVE_MODE", ENV_ALWAYS, MODE(mode) },
	{ "key", FROM_NOWHERE, NULL, ENV_NEVER, TEXT(key) },
	{ "event", FROM_REQUIRED, "MMOLOVE_EVENT", ENV_ALWAYS, TEXT(event) },
	{ "username", FROM_NAME, "MMOLOVE_USERNAME", ENV_ALWAYS,
	    TEXT(username) },
	{ "heart_id", FROM_NAME, "MMOLOVE_HEART_ID", ENV_ALWAYS,
	    TEXT(heart_id) },
	{ "reward", FROM_NOWHERE, "MMOLOVE_REWARD", ENV_ALWAYS,
	    NUMBER(reward) },
	{ "server_id", FROM_TEXT, "MMOLOVE_SERVER_ID", ENV_ALWAYS,
	    TEXT(server_id) },
	{ "period", FROM_TEXT, "MMOLOVE_PERIOD", ENV_ALWAYS, TEXT(period) },
	{ "timestamp", FROM_INT, "MMOLOVE_TIMESTAMP", ENV_ALWAYS,
	    TEXT(timestamp) },
	{ "streak_day", FROM_STREAK, "MMOLOVE_STREAK_DAY", ENV_IF_SET,
	    NUMBER(streak_day) },
	{ "first_heart", FROM_FLAG, "MMOLOVE_FIRST_HEART", ENV_IF_SET,
	    FLAG(first_heart) },
	{ "streak_milestone", FROM_FLAG, "MMOLOVE_STREAK_MILESTONE",
	    ENV_IF_SET, FLAG(streak_milestone) },
	{ "account_linked", FROM_FLAG, "MMOLOVE_ACCOUNT_LINKED", ENV_IF_SET,
	    FLAG(account_linked) },
	{ "monthly_streak", FROM_INT, "MMOLOVE_MONTHLY_STREAK", ENV_IF_SET,
	    TEXT(monthly_streak) },
	{ "loyalty_level", FROM_INT, "MMOLOVE_LOYALTY_LEVEL", ENV_IF_SET,
	    TEXT(loyalty_level) },
};

const size_t vote_field_count = sizeof(vote_fields) / sizeof(vote_fields[0]);

static const char *const mode_names[] = { "post", "legacy" };

const char *
vote_mode_name(enum vote_mode mode)
{
	return mode == VOTE_LEGACY ? mode_names[1] : mode_names[0];
}

bool
vote_value(const struct vote *v, const struct vote_field *f, bool for_env,
    char *buf, size_t cap)
{
	const char *at = (const char *)v + f->offset;
	long long n = 0;
	enum flag flag;
	bool set = true;

	switch (f->kind) {
	case VOTE_TEXT:
		(void)snprintf(buf, cap, "%s", at);
		set = at[0] != '\0';
		break;
	case VOTE_NUMBER:
		memcpy(&n, at, sizeof(n));
		(void)snprintf(buf, cap, "%lld", n);
		set = n > 0;
		break;
	case VOTE_FLAG:
		memcpy(&flag, at, sizeof(flag));
		(void)snprintf(buf, cap, "%d", (int)flag);
		set = flag != FLAG_ABSENT;
		break;
	case VOTE_MODE:
		(void)snprintf(buf, cap, "%s", vote_mode_name(v->mode));
		break;
	}
	return !for_env || f->when == ENV_ALWAYS ||
	    (f->when == ENV_IF_SET && set);
}

static int
parse_number(const char *s, size_t len, long long *n)
{
	char num[24], *end;

	if (len == 0 || len >= sizeof(num))
		return -1;
	memcpy(num, s, len);
	num[len] = '\0';
	*n = strtoll(num, &end, 10);
	return *end == '\0' ? 0 : -1;
}

int
vote_set(struct vote *v, const struct vote_field *f, const char *s,
    size_t len)
{
	char *at = (char *)v + f->offset;
	long long n;
	enum flag flag;

	switch (f->kind) {
	case VOTE_TEXT:
		if (len >= f->size || memchr(s, '\0', len) != NULL)
			return -1;
		memcpy(at, s, len);
		at[len] = '\0';
		return 0;
	case VOTE_NUMBER:
		if (parse_number(s, len, &n) == -1)
			return -1;
		memcpy(at, &n, sizeof(n));
		return 0;
	case VOTE_FLAG:
		if (parse_number(s, len, &n) == -1 || n < -1 || n > 1)
			return -1;
		flag = n == 1 ? FLAG_TRUE : n == 0 ? FLAG_FALSE : FLAG_ABSENT;
		memcpy(at, &flag, sizeof(flag));
		return 0;
	case VOTE_MODE:
		if (len == 4 && memcmp(s, "post", 4) == 0)
			v->mode = VOTE_POST;
		else if (len == 6 && memcmp(s, "legacy", 6) == 0)
			v->mode = VOTE_LEGACY;
		else
			return -1;
		return 0;
	}
	return -1;
}
