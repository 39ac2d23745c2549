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

/* True for heart.counted and heart.test, the events about a vote. */
bool	event_is_vote(const struct event *ev);

#endif
