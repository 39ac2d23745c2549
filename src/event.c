#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * jsmn is a header-only library: this file holds its one instance.
 * Without parent links jsmn finds the enclosing container by walking
 * back over every token so far, at each ',' after a member and each
 * closing bracket: quadratic in the body (80 000 unknown keys took
 * seconds).  With them it climbs parent indexes, at most twice the
 * nesting depth json_validate() bounds.
 */
#define JSMN_STATIC
#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#include "event.h"
#include "json.h"
#include "text.h"

struct parse {
	const char	*body;
	struct event	*ev;
	char		*why;
	size_t		 whylen;
	char		 name_why[96];	/* first unclean vote name, if any */
};

static void
note(struct event *ev, const char *key, const char *what)
{
	size_t used = strlen(ev->note);

	(void)snprintf(ev->note + used, sizeof(ev->note) - used, "%s%s %s",
	    used > 0 ? "; " : "", key, what);
}

static const char *
token_text(const struct parse *p, const jsmntok_t *t, size_t *len)
{
	*len = (size_t)(t->end - t->start);
	return p->body + t->start;
}

/* Unescapes a string token into out (NUL-terminated); NULL or why not. */
static const char *
string_value(const struct parse *p, const jsmntok_t *t, char *out,
    size_t size, size_t max)
{
	const char *s, *why = NULL;
	size_t len, outlen;

	if (t->type != JSMN_STRING)
		return "is not a string";
	s = token_text(p, t, &len);
	/* One byte more than max, so "too long" is told apart from "fits". */
	if (json_unescape(s, len, (unsigned char *)out, size - 1, &outlen,
	    &why) == -1) {
		out[0] = '\0';
		return why;
	}
	out[outlen] = '\0';
	if ((why = name_problem((unsigned char *)out, outlen, max)) != NULL)
		out[0] = '\0';
	return why;
}

/* A JSON integer literal: no fraction, no exponent, at most 15 digits. */
static int
integer_value(const struct parse *p, const jsmntok_t *t, long long *out)
{
	const char *s;
	size_t len;

	if (t->type != JSMN_PRIMITIVE)
		return -1;
	s = token_text(p, t, &len);
	return decimal_value(s, len, 15, out);
}

static void
streak_value(const struct parse *p, const jsmntok_t *t, long long *streak)
{
	size_t len;
	const char *s = token_text(p, t, &len);
	long long n;

	*streak = 0;
	if (t->type == JSMN_PRIMITIVE && len == 4 && memcmp(s, "null", 4) == 0)
		note(p->ev, "streak_day", "is null: no streak bonus");
	else if (integer_value(p, t, &n) == -1)
		note(p->ev, "streak_day", t->type == JSMN_STRING ?
		    "is a string, not an integer: no streak bonus" :
		    "is not an integer: no streak bonus");
	else if (n <= 0)
		note(p->ev, "streak_day", "is not positive: no streak bonus");
	else
		*streak = n;
}

static void
flag_value(const struct parse *p, const jsmntok_t *t, const char *key,
    enum flag *flag)
{
	size_t len;
	const char *s = token_text(p, t, &len);

	if (t->type == JSMN_PRIMITIVE && len == 4 && memcmp(s, "true", 4) == 0)
		*flag = FLAG_TRUE;
	else if (t->type == JSMN_PRIMITIVE && len == 5 &&
	    memcmp(s, "false", 5) == 0)
		*flag = FLAG_FALSE;
	else
		note(p->ev, key, "is not a boolean: dropped");
}

static int
field_value(struct parse *p, const struct vote_field *f, const jsmntok_t *t)
{
	char *at = (char *)&p->ev->vote + f->offset;
	const char *why;
	long long n;

	switch (f->from) {
	case FROM_NAME:
		/* Judged once the event is known: other events need none. */
		why = string_value(p, t, at, f->size, EVENT_NAME_MAX);
		if (why != NULL && p->name_why[0] == '\0')
			(void)snprintf(p->name_why, sizeof(p->name_why), "%s %s",
			    f->key, why);
		return 0;
	case FROM_REQUIRED:
		why = string_value(p, t, at, f->size, EVENT_FIELD_MAX);
		if (why != NULL) {
			(void)snprintf(p->why, p->whylen, "%s %s", f->key, why);
			return -1;
		}
		return 0;
	case FROM_TEXT:
		if ((why = string_value(p, t, at, f->size, EVENT_FIELD_MAX)) !=
		    NULL)
			note(p->ev, f->key, "dropped: it is not a clean string");
		return 0;
	case FROM_INT:
		if (integer_value(p, t, &n) == -1)
			note(p->ev, f->key, "is not an integer: dropped");
		else
			(void)snprintf(at, f->size, "%lld", n);
		return 0;
	case FROM_FLAG:
		flag_value(p, t, f->key, (enum flag *)(void *)at);
		return 0;
	case FROM_STREAK:
		streak_value(p, t, (long long *)(void *)at);
		return 0;
	case FROM_NOWHERE:
		break;		/* field_index() never names one */
	}
	return -1;
}

/* Index of the known field a key names, or -1 if it names none. */
static int
field_index(const struct parse *p, const jsmntok_t *key)
{
	char name[32];
	const char *why;
	size_t len, outlen, i;
	const char *s = token_text(p, key, &len);

	if (json_unescape(s, len, (unsigned char *)name, sizeof(name) - 1,
	    &outlen, &why) == -1)
		return -1;
	name[outlen] = '\0';
	for (i = 0; i < vote_field_count; i++)
		if (vote_fields[i].from != FROM_NOWHERE &&
		    strlen(vote_fields[i].key) == outlen &&
		    memcmp(vote_fields[i].key, name, outlen) == 0)
			return (int)i;
	return -1;
}

/*
 * Index of the token after t and everything nested inside it.  Each
 * token is stepped over once in the whole walk over the members.
 */
static int
token_skip(const jsmntok_t *tok, int count, int i)
{
	int end = tok[i].end;

	for (i++; i < count && tok[i].start < end; i++)
		;
	return i;
}

static int
event_fields(struct parse *p, const jsmntok_t *tok, int count)
{
	unsigned seen = 0;
	bool vote;
	size_t i;
	int k, f;

	for (k = 1; k < count; k = token_skip(tok, count, k + 1)) {
		if (k + 1 >= count)
			break;
		if ((f = field_index(p, &tok[k])) == -1)
			continue;
		if (seen & 1u << f) {
			(void)snprintf(p->why, p->whylen, "%s appears twice",
			    vote_fields[f].key);
			return -1;
		}
		seen |= 1u << f;
		if (field_value(p, &vote_fields[f], &tok[k + 1]) == -1)
			return -1;
	}
	vote = event_is_vote(p->ev);
	for (i = 0; i < vote_field_count; i++)
		if ((vote_fields[i].from == FROM_REQUIRED ||
		    (vote_fields[i].from == FROM_NAME && vote)) &&
		    !(seen & 1u << i)) {
			(void)snprintf(p->why, p->whylen, "%s is missing",
			    vote_fields[i].key);
			return -1;
		}
	if (vote && p->name_why[0] != '\0') {
		(void)snprintf(p->why, p->whylen, "%s", p->name_why);
		return -1;
	}
	return 0;
}

bool
event_is_vote(const struct event *ev)
{
	return strcmp(ev->vote.event, EVENT_COUNTED) == 0 ||
	    strcmp(ev->vote.event, EVENT_TEST) == 0;
}

/*
 * Tokens for the body: on the stack for any body MMOLove sends today;
 * a body whose unknown fields hold more is still read, with tokens
 * allocated to its exact count (bounded by max_body), never refused.
 */
static int
event_tokens(struct parse *p, size_t len, jsmntok_t *stack, size_t room)
{
	jsmn_parser parser;
	jsmntok_t *tok = stack;
	int count, rc;

	jsmn_init(&parser);
	count = jsmn_parse(&parser, p->body, len, tok, (unsigned)room);
	if (count == JSMN_ERROR_NOMEM) {
		jsmn_init(&parser);
		count = jsmn_parse(&parser, p->body, len, NULL, 0);
		if (count > 0 &&
		    (tok = calloc((size_t)count, sizeof(*tok))) == NULL) {
			(void)snprintf(p->why, p->whylen, "out of memory for "
			    "%d JSON tokens", count);
			return -1;
		}
		jsmn_init(&parser);
		if (count > 0)
			count = jsmn_parse(&parser, p->body, len, tok,
			    (unsigned)count);
	}
	if (count < 1 || tok[0].type != JSMN_OBJECT) {
		(void)snprintf(p->why, p->whylen, "body is not one JSON object");
		rc = -1;
	} else
		rc = event_fields(p, tok, count);
	if (tok != stack)
		free(tok);
	return rc;
}

int
event_parse(const char *body, size_t len, struct event *ev, char *why,
    size_t whylen)
{
	struct parse p = { body, ev, why, whylen, "" };
	jsmntok_t tok[EVENT_TOKENS_MAX];
	const char *problem;

	memset(ev, 0, sizeof(*ev));
	ev->vote.first_heart = ev->vote.streak_milestone =
	    ev->vote.account_linked = FLAG_ABSENT;
	if (json_validate(body, len, &problem) == -1) {
		(void)snprintf(why, whylen, "body is not one JSON object: %s",
		    problem);
		return -1;
	}
	return event_tokens(&p, len, tok, EVENT_TOKENS_MAX);
}

/* Where a claimed key's value goes, or NULL for any other key. */
static char *
claim_slot(struct event_claims *c, const char *raw, size_t len)
{
	static const struct {
		const char	*key;
		size_t		 offset;
	} slots[] = {
		{ "event", offsetof(struct event_claims, event) },
		{ "heart_id", offsetof(struct event_claims, heart_id) },
		{ "username", offsetof(struct event_claims, username) },
	};
	unsigned char key[16];
	const char *why;
	size_t n, i;

	if (json_unescape(raw, len, key, sizeof(key), &n, &why) == -1)
		return NULL;
	for (i = 0; i < sizeof(slots) / sizeof(slots[0]); i++)
		if (strlen(slots[i].key) == n &&
		    memcmp(slots[i].key, key, n) == 0)
			return (char *)c + slots[i].offset;
	return NULL;
}

void
event_claims(const char *body, size_t len, struct event_claims *c)
{
	jsmntok_t tok[EVENT_CLAIM_TOKENS];
	jsmn_parser parser;
	char *slot;
	int i, n;

	memset(c, 0, sizeof(*c));
	jsmn_init(&parser);
	/* Whatever the result, the tokens made so far are whole strings. */
	(void)jsmn_parse(&parser, body, len, tok, EVENT_CLAIM_TOKENS);
	n = (int)parser.toknext;
	if (n < 1 || tok[0].type != JSMN_OBJECT)
		return;
	/* A key is a string whose parent is the outer object. */
	for (i = 1; i + 1 < n; i++) {
		if (tok[i].parent != 0 || tok[i + 1].parent != i ||
		    tok[i + 1].type != JSMN_STRING)
			continue;
		slot = claim_slot(c, body + tok[i].start,
		    (size_t)(tok[i].end - tok[i].start));
		if (slot != NULL && slot[0] == '\0')
			(void)json_unescape_prefix(body + tok[i + 1].start,
			    (size_t)(tok[i + 1].end - tok[i + 1].start), slot,
			    EVENT_NAME_MAX + 1);
	}
}
