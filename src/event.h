/*
 * event: the fields of a signed POST body.
 *
 * Promises: the body must be exactly one JSON object (json.h); the keys
 * vote.h's vote_fields[] reads from a body may appear once, unknown keys are ignored; strings are unescaped
 * into bounded buffers.  `event` is required; for the two vote events
 * (heart.counted, heart.test) `username` and `heart_id` are required
 * and must be clean names (text.h's name_problem), while an event of
 * another name, which is only logged, needs neither.  The optional
 * fields never make a vote invalid: a field of the wrong type is
 * dropped and noted.  Only called on a body whose signature holds.
 */
#ifndef MMOLOVE_EVENT_H
#define MMOLOVE_EVENT_H

#include <stdbool.h>
#include <stddef.h>

#include "vote.h"

#define EVENT_TOKENS_MAX	512	/* on the stack; more are allocated */
#define EVENT_NOTE_MAX		160

#define EVENT_COUNTED		"heart.counted"
#define EVENT_TEST		"heart.test"

/* The body's fields land in a vote (vote.h's table says which). */
struct event {
	struct vote	 vote;		/* mode, key and reward left unset */
	char		 note[EVENT_NOTE_MAX];	/* oddities worth logging */
};

/*
 * Parses body into ev.  Returns 0, or -1 with a one-line reason in why
 * (the 400 case).  Fields read before an error stay in ev for the log.
 */
int	event_parse(const char *body, size_t len, struct event *ev,
	    char *why, size_t whylen);

/*
 * What an unverified body says it is, for a refused delivery's log line,
 * so an owner can match it to MMOLove's delivery log.
 */
#define EVENT_CLAIM_TOKENS	64	/* the first tokens of the body only */

struct event_claims {
	char	 event[EVENT_NAME_MAX + 1];
	char	 heart_id[EVENT_NAME_MAX + 1];
	char	 username[EVENT_NAME_MAX + 1];
};

/*
 * Fills c with the string values of the top-level keys event, heart_id
 * and username among the body's first EVENT_CLAIM_TOKENS JSON tokens,
 * each cut to EVENT_NAME_MAX bytes; empty when absent or not a string.
 * Any bytes are accepted (the body may be anyone's), nothing is
 * allocated, and the result is for the log only: it decides nothing.
 */
void	event_claims(const char *body, size_t len, struct event_claims *c);

/* True for heart.counted and heart.test, the events about a vote. */
bool	event_is_vote(const struct event *ev);

#endif
