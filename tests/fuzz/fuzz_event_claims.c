/*
 * libFuzzer harness: event_claims() on any bytes, as a 401's body.
 *
 * Invariants (a violation traps): each claim is NUL-terminated within
 * EVENT_NAME_MAX bytes; and for a body event_parse() accepts as a vote,
 * a claim that was read is the value the parse read.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../src/event.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
bounded(const char *claim, size_t size)
{
	if (memchr(claim, '\0', size) == NULL ||
	    strlen(claim) > EVENT_NAME_MAX)
		__builtin_trap();
}

static void
agrees(const char *claim, const char *parsed)
{
	if (claim[0] != '\0' && strcmp(claim, parsed) != 0)
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	struct event_claims c;
	struct event ev;
	char why[200];

	memset(&c, 'X', sizeof(c));
	event_claims(body, size, &c);
	bounded(c.event, sizeof(c.event));
	bounded(c.heart_id, sizeof(c.heart_id));
	bounded(c.username, sizeof(c.username));
	if (event_parse(body, size, &ev, why, sizeof(why)) == 0 &&
	    event_is_vote(&ev) && memchr(body, '\0', size) == NULL) {
		agrees(c.event, ev.vote.event);
		agrees(c.heart_id, ev.vote.heart_id);
		agrees(c.username, ev.vote.username);
	}
	return 0;
}
