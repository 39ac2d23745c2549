/*
 * libFuzzer harness: event_parse() on a signed POST body.
 *
 * Invariants (a violation traps): a failure writes a reason; a success
 * implies json_validate() accepts the body, event is a clean name
 * (text.h's name_problem), and so are username and heart_id for a vote
 * event (clean or empty for any other), optional text fields
 * are clean or empty, integer fields hold an integer or nothing,
 * streak_day is not negative, flags hold one of their three values, and
 * every field is NUL-terminated inside its buffer.  And jsmn never
 * refuses a body json_validate() accepted.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../src/event.h"
#include "../../src/json.h"
#include "../../src/text.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
terminated(const char *field, size_t size)
{
	if (memchr(field, '\0', size) == NULL)
		__builtin_trap();
}

static void
clean(const char *field, size_t size, size_t max, int required)
{
	size_t len;

	terminated(field, size);
	len = strlen(field);
	if (len == 0 && !required)
		return;
	if (name_problem((const unsigned char *)field, len, max) != NULL)
		__builtin_trap();
}

static void
integer(const char *field, size_t size)
{
	size_t i = 0;

	terminated(field, size);
	if (field[0] == '\0')
		return;
	if (field[0] == '-')
		i = 1;
	if (field[i] == '\0')
		__builtin_trap();
	for (; field[i] != '\0'; i++)
		if (field[i] < '0' || field[i] > '9')
			__builtin_trap();
}

static void
flag(enum flag f)
{
	if (f != FLAG_ABSENT && f != FLAG_FALSE && f != FLAG_TRUE)
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data, *problem;
	struct event ev;
	char why[200];
	int rc, valid;

	memset(why, 'X', sizeof(why));
	rc = event_parse(body, size, &ev, why, sizeof(why));
	valid = json_validate(body, size, &problem) == 0;
	terminated(ev.note, sizeof(ev.note));
	if (rc == -1) {
		terminated(why, sizeof(why));
		if (why[0] == '\0')
			__builtin_trap();
		/* The message event.c gives when jsmn refuses the body. */
		if (valid && strcmp(why, "body is not one JSON object") == 0)
			__builtin_trap();
		return 0;
	}
	if (rc != 0 || !valid)
		__builtin_trap();
	clean(ev.vote.event, sizeof(ev.vote.event), EVENT_FIELD_MAX, 1);
	clean(ev.vote.username, sizeof(ev.vote.username), EVENT_NAME_MAX,
	    event_is_vote(&ev));
	clean(ev.vote.heart_id, sizeof(ev.vote.heart_id), EVENT_NAME_MAX,
	    event_is_vote(&ev));
	clean(ev.vote.server_id, sizeof(ev.vote.server_id), EVENT_FIELD_MAX, 0);
	clean(ev.vote.period, sizeof(ev.vote.period), EVENT_FIELD_MAX, 0);
	integer(ev.vote.timestamp, sizeof(ev.vote.timestamp));
	integer(ev.vote.monthly_streak, sizeof(ev.vote.monthly_streak));
	integer(ev.vote.loyalty_level, sizeof(ev.vote.loyalty_level));
	if (ev.vote.streak_day < 0)
		__builtin_trap();
	flag(ev.vote.first_heart);
	flag(ev.vote.streak_milestone);
	flag(ev.vote.account_linked);
	return 0;
}
