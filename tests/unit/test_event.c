/* event.h: the fields of a signed POST body. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#include "../../src/event.h"
#include "../../src/json.h"
#include "../../src/text.h"

#define REQUIRED "\"event\":\"heart.counted\",\"username\":\"PlayerOne\"," \
		"\"heart_id\":\"h_1\""

static char why[200];

/* event_parse over an exact-length heap copy of body. */
static int
parse_bytes(const char *body, size_t len, struct event *ev)
{
	char *copy = exact_copy(body, len);
	int rc;

	why[0] = '\0';
	rc = event_parse(copy, len, ev, why, sizeof(why));
	free(copy);
	trace("parse %.100s: %d %s | note: %s\n", body, rc, why,
	    ev->note);
	if (rc == -1)
		assert_true(why[0] != '\0');
	else {
		/* What event.h promises of every success: a vote event's
		 * names are clean; another event's are clean or empty. */
		if (event_is_vote(ev) || ev->vote.username[0] != '\0')
			assert_null(name_problem((unsigned char *)ev->vote.username,
			    strlen(ev->vote.username), EVENT_NAME_MAX));
		if (event_is_vote(ev) || ev->vote.heart_id[0] != '\0')
			assert_null(name_problem((unsigned char *)ev->vote.heart_id,
			    strlen(ev->vote.heart_id), EVENT_NAME_MAX));
		assert_null(name_problem((unsigned char *)ev->vote.event,
		    strlen(ev->vote.event), EVENT_FIELD_MAX));
		assert_true(ev->vote.streak_day >= 0);
	}
	return rc;
}

static int
parse(const char *body, struct event *ev)
{
	return parse_bytes(body, strlen(body), ev);
}

/* What a test expects of the optional fields, read without a note. */
struct optional {
	const char	*server_id;
	const char	*period;
	const char	*timestamp;
	long long	 streak_day;
	enum flag	 first_heart;
	enum flag	 streak_milestone;
	enum flag	 account_linked;
	const char	*monthly_streak;
	const char	*loyalty_level;
};

static void
expect_optional(const struct event *ev, const struct optional *want)
{
	assert_string_equal(ev->vote.server_id, want->server_id);
	assert_string_equal(ev->vote.period, want->period);
	assert_string_equal(ev->vote.timestamp, want->timestamp);
	assert_int_equal(ev->vote.streak_day, want->streak_day);
	assert_int_equal(ev->vote.first_heart, want->first_heart);
	assert_int_equal(ev->vote.streak_milestone, want->streak_milestone);
	assert_int_equal(ev->vote.account_linked, want->account_linked);
	assert_string_equal(ev->vote.monthly_streak, want->monthly_streak);
	assert_string_equal(ev->vote.loyalty_level, want->loyalty_level);
	assert_string_equal(ev->note, "");
}

static void
expect_refused(const char *const *bad, size_t n)
{
	struct event ev;
	size_t i;

	for (i = 0; i < n; i++)
		if (parse(bad[i], &ev) != -1)
			fail_msg("accepted: %s", bad[i]);
}

static void
test_happy_path(void **state)
{
	static const struct optional want = { "srv_123", "2026-06",
	    "1733500000", 7, FLAG_TRUE, FLAG_FALSE, FLAG_TRUE, "3", "12" };
	struct event ev;

	(void)state;
	assert_int_equal(parse("{\"event\":\"heart.counted\","
	    "\"server_id\":\"srv_123\",\"username\":\"PlayerOne\","
	    "\"heart_id\":\"h_1\",\"period\":\"2026-06\","
	    "\"timestamp\":1733500000,\"streak_day\":7,\"first_heart\":true,"
	    "\"streak_milestone\":false,\"account_linked\":true,"
	    "\"monthly_streak\":3,\"loyalty_level\":12}", &ev), 0);
	assert_string_equal(ev.vote.event, "heart.counted");
	assert_string_equal(ev.vote.username, "PlayerOne");
	assert_string_equal(ev.vote.heart_id, "h_1");
	expect_optional(&ev, &want);
}

static void
test_minimal(void **state)
{
	static const struct optional none = { "", "", "", 0, FLAG_ABSENT,
	    FLAG_ABSENT, FLAG_ABSENT, "", "" };
	struct event ev;

	(void)state;
	assert_int_equal(parse("{" REQUIRED "}", &ev), 0);
	assert_string_equal(ev.vote.username, "PlayerOne");
	expect_optional(&ev, &none);
	/* White space anywhere, members in any order. */
	assert_int_equal(parse(" \n{ \"heart_id\" : \"h_2\" ,\r\n\t"
	    "\"username\":\"x\" , \"event\" :\"heart.test\" }\n ", &ev), 0);
	assert_string_equal(ev.vote.heart_id, "h_2");
	assert_string_equal(ev.vote.event, "heart.test");
	/* The all-zero heart_id of heart.test. */
	assert_int_equal(parse("{\"event\":\"heart.test\",\"username\":"
	    "\"test-user\",\"heart_id\":"
	    "\"00000000-0000-0000-0000-000000000000\"}", &ev), 0);
	assert_string_equal(ev.vote.heart_id,
	    "00000000-0000-0000-0000-000000000000");
}

static void
expect_no_streak(const char *value)
{
	char body[256];
	struct event ev;

	(void)snprintf(body, sizeof(body), "{" REQUIRED ",\"streak_day\":%s}",
	    value);
	assert_int_equal(parse(body, &ev), 0);
	assert_int_equal(ev.vote.streak_day, 0);
	assert_non_null(strstr(ev.note, "streak_day"));
}

static void
test_streak_day(void **state)
{
	struct event ev;

	(void)state;
	assert_int_equal(parse("{" REQUIRED "}", &ev), 0);
	assert_int_equal(ev.vote.streak_day, 0);
	assert_string_equal(ev.note, "");
	expect_no_streak("null");
	expect_no_streak("0");
	expect_no_streak("-0");
	expect_no_streak("-7");
	expect_no_streak("7.5");
	expect_no_streak("7.0");
	expect_no_streak("\"7\"");
	expect_no_streak("1e2");
	expect_no_streak("true");
	expect_no_streak("[7]");
	expect_no_streak("{\"d\":7}");
	expect_no_streak("1234567890123456");		/* 16 digits */
	assert_int_equal(parse("{" REQUIRED ",\"streak_day\":7}", &ev), 0);
	assert_int_equal(ev.vote.streak_day, 7);
	assert_string_equal(ev.note, "");
	assert_int_equal(parse("{" REQUIRED ",\"streak_day\":210}", &ev), 0);
	assert_int_equal(ev.vote.streak_day, 210);
	assert_int_equal(parse("{" REQUIRED ",\"streak_day\":999999999999999}",
	    &ev), 0);
	assert_int_equal(ev.vote.streak_day, 999999999999999LL);
}

static void
test_repeated_known_key(void **state)
{
	struct event ev;

	(void)state;
	assert_int_equal(parse("{" REQUIRED ",\"username\":\"other\"}", &ev),
	    -1);
	assert_non_null(strstr(why, "username"));
	assert_int_equal(parse("{" REQUIRED ",\"heart_id\":\"h_1\"}", &ev),
	    -1);
	assert_int_equal(parse("{" REQUIRED ",\"event\":\"heart.test\"}",
	    &ev), -1);
	assert_int_equal(parse("{" REQUIRED ",\"streak_day\":7,"
	    "\"streak_day\":7}", &ev), -1);
	assert_int_equal(parse("{" REQUIRED ",\"first_heart\":true,"
	    "\"first_heart\":false}", &ev), -1);
	/* The same key spelt with an escape is the same key. */
	assert_int_equal(parse("{" REQUIRED ",\"user\\u006eame\":\"other\"}",
	    &ev), -1);
}

static void
test_unknown_keys(void **state)
{
	struct event ev;

	(void)state;
	assert_int_equal(parse("{\"extra\":{\"username\":\"evil\",\"x\":[1,"
	    "{\"heart_id\":\"no\",\"event\":{}}]}," REQUIRED ",\"more\":"
	    "[{\"username\":\"evil2\"},[[\"heart_id\"]],null,true,1.5e3],"
	    "\"zz\":1,\"zz\":\"two\",\"zz\":{\"zz\":[]},\"\":0,"
	    "\"Username\":\"evil3\",\"username \":\"evil4\"}", &ev), 0);
	assert_string_equal(ev.vote.username, "PlayerOne");
	assert_string_equal(ev.vote.heart_id, "h_1");
	assert_string_equal(ev.vote.event, "heart.counted");
	/* A key too long for any known name, or with a bad escape. */
	assert_int_equal(parse("{" REQUIRED ",\"a_very_long_key_name_that_is_"
	    "longer_than_any_field\":1,\"\\ud800\":2}", &ev), 0);
	/* Nested values right before a known key do not hide it. */
	assert_int_equal(parse("{\"a\":{\"b\":{\"c\":[1,{\"d\":2}]}},"
	    "\"username\":\"u\",\"b\":[[]],\"heart_id\":\"h\",\"c\":{},"
	    "\"event\":\"e\",\"streak_day\":14}", &ev), 0);
	assert_string_equal(ev.vote.username, "u");
	assert_string_equal(ev.vote.heart_id, "h");
	assert_string_equal(ev.vote.event, "e");
	assert_int_equal(ev.vote.streak_day, 14);
}

static void
test_escaped_keys_and_values(void **state)
{
	struct event ev;

	(void)state;
	assert_int_equal(parse("{\"event\":\"heart.counted\",\"user\\u006eame"
	    "\":\"Pl\\u00e4yer \\\"One\\\" \\ud83d\\ude00\",\"heart\\u005fid\":"
	    "\"h\\/1\"}", &ev), 0);
	assert_string_equal(ev.vote.username,
	    "Pl\xc3\xa4yer \"One\" \xf0\x9f\x98\x80");
	assert_string_equal(ev.vote.heart_id, "h/1");
}

static void
test_bad_names(void **state)
{
	char body[512], name[200];
	struct event ev;
	static const char *const bad[] = {
		"{\"event\":\"heart.counted\",\"heart_id\":\"h\"}",
		"{\"event\":\"heart.counted\",\"username\":\"u\"}",
		"{\"username\":\"u\",\"heart_id\":\"h\"}",
		"{" REQUIRED ",\"username\":\"u\"}",
		"{\"event\":\"heart.counted\",\"username\":\"\","
		    "\"heart_id\":\"h\"}",
		"{\"event\":\"heart.counted\",\"username\":5,\"heart_id\":\"h\"}",
		"{\"event\":\"heart.counted\",\"username\":null,"
		    "\"heart_id\":\"h\"}",
		"{\"event\":\"heart.counted\",\"username\":[\"u\"],"
		    "\"heart_id\":\"h\"}",
		"{\"event\":\"heart.counted\",\"username\":{},\"heart_id\":\"h\"}",
		"{\"event\":\"heart.counted\",\"username\":\"u\","
		    "\"heart_id\":true}",
		"{\"event\":\"heart.counted\",\"username\":\"a\\u0001\","
		    "\"heart_id\":\"h\"}",
		"{\"event\":\"heart.counted\",\"username\":\"a\\u0000\","
		    "\"heart_id\":\"h\"}",
		"{\"event\":\"heart.counted\",\"username\":\"a\\n\","
		    "\"heart_id\":\"h\"}",
		"{\"event\":\"heart.counted\",\"username\":\"a\\u007f\","
		    "\"heart_id\":\"h\"}",
		"{\"event\":\"heart.counted\",\"username\":\"a\xff\","
		    "\"heart_id\":\"h\"}",
		"{\"event\":\"heart.counted\",\"username\":\"\xc0\x80\","
		    "\"heart_id\":\"h\"}",
		"{\"event\":\"heart.counted\",\"username\":\"\\ud83d\","
		    "\"heart_id\":\"h\"}",
		"{\"event\":\"heart.counted\",\"username\":\"\\ude00\","
		    "\"heart_id\":\"h\"}",
		"{\"event\":\"heart.counted\",\"username\":\"u\","
		    "\"heart_id\":\"h\\u001b[0m\"}",
		"{\"event\":\"heart.counted\",\"username\":\"a\\u009b31m\","
		    "\"heart_id\":\"h\"}",
		"{\"event\":\"heart.counted\",\"username\":\"a\xc2\x85\","
		    "\"heart_id\":\"h\"}",
		"{\"event\":\"\",\"username\":\"u\",\"heart_id\":\"h\"}",
		"{\"event\":1,\"username\":\"u\",\"heart_id\":\"h\"}",
		"{\"event\":\"heart\\tcounted\",\"username\":\"u\","
		    "\"heart_id\":\"h\"}",
	};
	size_t i;

	(void)state;
	expect_refused(bad, nitems(bad));

	/* 128 bytes once unescaped are fine, 129 are not. */
	memset(name, 'n', 128);
	name[128] = '\0';
	(void)snprintf(body, sizeof(body), "{\"event\":\"heart.counted\","
	    "\"username\":\"%s\",\"heart_id\":\"%s\"}", name, name);
	assert_int_equal(parse(body, &ev), 0);
	assert_int_equal(strlen(ev.vote.username), 128);
	assert_int_equal(strlen(ev.vote.heart_id), 128);
	name[128] = 'n';
	name[129] = '\0';
	(void)snprintf(body, sizeof(body), "{\"event\":\"heart.counted\","
	    "\"username\":\"%s\",\"heart_id\":\"h\"}", name);
	assert_int_equal(parse(body, &ev), -1);
	(void)snprintf(body, sizeof(body), "{\"event\":\"heart.counted\","
	    "\"username\":\"u\",\"heart_id\":\"%s\"}", name);
	assert_int_equal(parse(body, &ev), -1);
	/* 64 escaped two-byte characters: 384 bytes of JSON, 128 of name. */
	{
		size_t used = (size_t)snprintf(body, sizeof(body),
		    "{\"event\":\"heart.test\",\"heart_id\":\"h\","
		    "\"username\":\"");

		for (i = 0; i < 64; i++)
			used += (size_t)snprintf(body + used,
			    sizeof(body) - used, "\\u00e9");
		(void)snprintf(body + used, sizeof(body) - used, "\"}");
		assert_int_equal(parse(body, &ev), 0);
		assert_int_equal(strlen(ev.vote.username), 128);
		(void)snprintf(body + used, sizeof(body) - used, "x\"}");
		assert_int_equal(parse(body, &ev), -1);
	}
	/* An event that is not about a vote needs no names, and bad ones
	 * are dropped, not fatal: MMOLove must not retry it for ever. */
	assert_int_equal(parse("{\"event\":\"server.renamed\"}", &ev), 0);
	assert_string_equal(ev.vote.event, "server.renamed");
	assert_int_equal(parse("{\"event\":\"heart.removed\","
	    "\"username\":\"a\\u0001\",\"heart_id\":5}", &ev), 0);
	assert_string_equal(ev.vote.username, "");
	assert_string_equal(ev.vote.heart_id, "");
}

static void
test_not_an_object(void **state)
{
	struct event ev;
	static const char *const bad[] = {
		"",
		"[]",
		"\"x\"",
		"{" REQUIRED "} x",
		"{" REQUIRED "}{}",
		"{" REQUIRED ",}",
		"{" REQUIRED,
		"{\"event\":\"heart.counted\" \"username\":\"u\",\"heart_id\":1}",
	};

	(void)state;
	expect_refused(bad, nitems(bad));
	/* A NUL byte inside or after the body. */
	assert_int_equal(parse_bytes("{" REQUIRED "}\0", sizeof("{" REQUIRED
	    "}"), &ev), -1);
	assert_int_equal(parse_bytes("{\"a\":\"\0\"," REQUIRED "}",
	    sizeof("{\"a\":\"\0\"," REQUIRED "}") - 1, &ev), -1);
	assert_int_equal(parse_bytes("{\"a\":\"\\\0\"," REQUIRED "}",
	    sizeof("{\"a\":\"\\\0\"," REQUIRED "}") - 1, &ev), -1);
}

static void
test_flags(void **state)
{
	struct event ev;

	(void)state;
	assert_int_equal(parse("{" REQUIRED ",\"first_heart\":false,"
	    "\"streak_milestone\":true,\"account_linked\":false}", &ev), 0);
	assert_int_equal(ev.vote.first_heart, FLAG_FALSE);
	assert_int_equal(ev.vote.streak_milestone, FLAG_TRUE);
	assert_int_equal(ev.vote.account_linked, FLAG_FALSE);
	assert_string_equal(ev.note, "");

	assert_int_equal(parse("{" REQUIRED ",\"first_heart\":\"yes\","
	    "\"streak_milestone\":1,\"account_linked\":null}", &ev), 0);
	assert_int_equal(ev.vote.first_heart, FLAG_ABSENT);
	assert_int_equal(ev.vote.streak_milestone, FLAG_ABSENT);
	assert_int_equal(ev.vote.account_linked, FLAG_ABSENT);
	assert_non_null(strstr(ev.note, "first_heart"));
	assert_non_null(strstr(ev.note, "streak_milestone"));
	assert_non_null(strstr(ev.note, "account_linked"));
}

static void
test_optional_integers_and_text(void **state)
{
	struct event ev;

	(void)state;
	assert_int_equal(parse("{" REQUIRED ",\"monthly_streak\":0,"
	    "\"loyalty_level\":-2,\"timestamp\":0}", &ev), 0);
	assert_string_equal(ev.vote.monthly_streak, "0");
	assert_string_equal(ev.vote.loyalty_level, "-2");
	assert_string_equal(ev.vote.timestamp, "0");
	assert_string_equal(ev.note, "");

	assert_int_equal(parse("{" REQUIRED ",\"monthly_streak\":\"3\","
	    "\"loyalty_level\":1.5,\"timestamp\":\"1733500000\"}", &ev), 0);
	assert_string_equal(ev.vote.monthly_streak, "");
	assert_string_equal(ev.vote.loyalty_level, "");
	assert_string_equal(ev.vote.timestamp, "");
	assert_non_null(strstr(ev.note, "monthly_streak"));
	assert_non_null(strstr(ev.note, "loyalty_level"));

	assert_int_equal(parse("{" REQUIRED ",\"monthly_streak\":999999999999999,"
	    "\"loyalty_level\":-999999999999999}", &ev), 0);
	assert_string_equal(ev.vote.monthly_streak, "999999999999999");
	assert_string_equal(ev.vote.loyalty_level, "-999999999999999");

	/* Optional text of the wrong kind is dropped, never a 400. */
	assert_int_equal(parse("{" REQUIRED ",\"server_id\":7,"
	    "\"period\":\"a\\u0001b\"}", &ev), 0);
	assert_string_equal(ev.vote.server_id, "");
	assert_string_equal(ev.vote.period, "");
	assert_non_null(strstr(ev.note, "server_id"));
	assert_non_null(strstr(ev.note, "period"));

	/* Optional text over EVENT_FIELD_MAX bytes is dropped too. */
	{
		char body[512];

		(void)snprintf(body, sizeof(body), "{" REQUIRED ",\"server_id\":"
		    "\"%0*d\",\"period\":\"%0*d\"}", EVENT_FIELD_MAX + 1, 0,
		    EVENT_FIELD_MAX, 0);
		assert_int_equal(parse(body, &ev), 0);
		assert_string_equal(ev.vote.server_id, "");
		assert_int_equal(strlen(ev.vote.period), EVENT_FIELD_MAX);
		assert_non_null(strstr(ev.note, "server_id"));
	}

	/* Many oddities: the note stays bounded and terminated. */
	assert_int_equal(parse("{" REQUIRED ",\"server_id\":7,\"period\":7,"
	    "\"timestamp\":\"x\",\"streak_day\":\"x\",\"first_heart\":1,"
	    "\"streak_milestone\":1,\"account_linked\":1,\"monthly_streak\":"
	    "\"x\",\"loyalty_level\":\"x\"}", &ev), 0);
	assert_true(strlen(ev.note) < EVENT_NOTE_MAX);
}

/* {"x":[elem,elem,...],REQUIRED} with n array elements. */
static char *
array_body(size_t n, const char *elem)
{
	size_t elen = strlen(elem), cap = 64 + sizeof(REQUIRED) +
	    (elen + 1) * n, used, i;
	char *s = malloc(cap);

	assert_non_null(s);
	used = (size_t)snprintf(s, cap, "{\"x\":[");
	for (i = 0; i < n; i++) {
		memcpy(s + used, elem, elen);
		used += elen;
		s[used++] = ',';
	}
	if (n > 0)
		used--;
	(void)snprintf(s + used, cap - used, "]," REQUIRED "}");
	return s;
}

static char *
tokens_body(size_t n)
{
	return array_body(n, "0");
}

static void
test_many_tokens(void **state)
{
	/*
	 * 1 object + 6 for the required pairs + "x" + the array = 9: the
	 * second body just fills EVENT_TOKENS_MAX; beyond it the tokens are
	 * allocated and the body is still read, never refused.
	 */
	static const size_t counts[] = { 0, EVENT_TOKENS_MAX - 9,
	    EVENT_TOKENS_MAX - 8, 5000 };
	struct event ev;
	char *body;
	size_t n;

	(void)state;
	for (n = 0; n < nitems(counts); n++) {
		body = tokens_body(counts[n]);
		assert_int_equal(parse(body, &ev), 0);
		assert_string_equal(ev.vote.username, "PlayerOne");
		assert_string_equal(ev.vote.heart_id, "h_1");
		free(body);
	}
}

/* {REQUIRED,"k0":<value>,...,"k<n-1>":<value><tail>}. */
static char *
keys_body(size_t n, const char *value, const char *tail)
{
	size_t cap = 64 + sizeof(REQUIRED) + n * (16 + strlen(value)) +
	    strlen(tail), used, i;
	char *s = malloc(cap);

	assert_non_null(s);
	used = (size_t)snprintf(s, cap, "{" REQUIRED);
	for (i = 0; i < n; i++)
		used += (size_t)snprintf(s + used, cap - used, ",\"k%zu\":%s",
		    i, value);
	(void)snprintf(s + used, cap - used, "%s}", tail);
	return s;
}

/*
 * Bodies of the sizes that once took jsmn seconds (it walked back over
 * every token at each member): all read, and a known key after all the
 * unknown ones is still seen, once.
 */
static void
test_many_unknown_keys(void **state)
{
	struct event ev;
	char *body;

	(void)state;
	body = keys_body(80000, "0", ",\"streak_day\":7");
	assert_int_equal(parse(body, &ev), 0);
	assert_int_equal(ev.vote.streak_day, 7);
	free(body);
	body = keys_body(20000, "{\"a\":[{},[]]}", ",\"streak_day\":3");
	assert_int_equal(parse(body, &ev), 0);
	assert_int_equal(ev.vote.streak_day, 3);
	free(body);
	body = keys_body(80000, "{}", ",\"username\":\"Mallory\"");
	assert_int_equal(parse(body, &ev), -1);
	assert_non_null(strstr(why, "username appears twice"));
	free(body);
	/* jsmn walked back at every closing bracket too. */
	body = array_body(300000, "{}");
	assert_int_equal(parse(body, &ev), 0);
	assert_string_equal(ev.vote.username, "PlayerOne");
	free(body);
}

/* {"x":<value nested depth deep>,REQUIRED}: arrays, or objects. */
static char *
deep_body(size_t depth, bool objects)
{
	size_t cap = 64 + sizeof(REQUIRED) + 6 * depth, used, i;
	char *s = malloc(cap);

	assert_non_null(s);
	used = (size_t)snprintf(s, cap, "{\"x\":");
	for (i = 1; i < depth; i++)
		used += (size_t)snprintf(s + used, cap - used, "%s",
		    objects ? "{\"y\":" : "[");
	used += (size_t)snprintf(s + used, cap - used, "%s",
	    objects ? "{}" : "[]");
	for (i = 1; i < depth; i++)
		s[used++] = objects ? '}' : ']';
	(void)snprintf(s + used, cap - used, "," REQUIRED "}");
	return s;
}

/*
 * SPEC: unknown values nested at least 64 deep are ignored; the outer
 * object is one more level of JSON_DEPTH_MAX.
 */
static void
test_unknown_keys_deep(void **state)
{
	static const size_t fine[] = { 40, 64, JSON_DEPTH_MAX - 1 };
	struct event ev;
	char *body;
	size_t i;
	int objects;

	(void)state;
	for (objects = 0; objects <= 1; objects++) {
		for (i = 0; i < nitems(fine); i++) {
			body = deep_body(fine[i], objects);
			assert_int_equal(parse(body, &ev), 0);
			assert_string_equal(ev.vote.username, "PlayerOne");
			free(body);
		}
		body = deep_body(JSON_DEPTH_MAX, objects);
		assert_int_equal(parse(body, &ev), -1);
		assert_non_null(strstr(why, "nested more than"));
		free(body);
	}
}

/* event_claims over an exact-length heap copy of body. */
static void
claims_of(const char *body, size_t len, struct event_claims *c)
{
	char *copy = exact_copy(body, len);

	memset(c, 0x5a, sizeof(*c));
	event_claims(copy, len, c);
	free(copy);
	trace("claims %.80s: %s | %s | %s\n", body, c->event, c->heart_id,
	    c->username);
}

static void
expect_claims(const char *body, const char *event, const char *heart_id,
    const char *username)
{
	struct event_claims c;

	claims_of(body, strlen(body), &c);
	assert_string_equal(c.event, event);
	assert_string_equal(c.heart_id, heart_id);
	assert_string_equal(c.username, username);
}

static void
test_claims(void **state)
{
	char body[1024], big[300];

	(void)state;
	expect_claims("{" REQUIRED "}", "heart.counted", "h_1", "PlayerOne");
	/* Escapes decoded, in keys and values; other keys ignored. */
	expect_claims("{\"u\\u0073ername\":\"J\\u00f6ns \\\"x\\\"\","
	    "\"server_id\":\"s\",\"heart_id\":\"h\\/2\"}", "", "h/2",
	    "J\xc3\xb6ns \"x\"");
	/* The first of a repeated key; a value that is not a string is none. */
	expect_claims("{\"heart_id\":\"a\",\"heart_id\":\"b\","
	    "\"username\":7,\"event\":null}", "", "a", "");
	/* Only top-level keys: nested ones claim nothing. */
	expect_claims("{\"x\":{\"heart_id\":\"inner\"},\"y\":[\"username\","
	    "\"u\"],\"username\":\"outer\"}", "", "", "outer");
	/* Not JSON, or broken after the claims: what was read stands. */
	expect_claims("", "", "", "");
	expect_claims("[\"heart_id\",\"h\"]", "", "", "");
	expect_claims("heart_id=h_1", "", "", "");
	expect_claims("{\"heart_id\":\"h_1\",\"username\":\"P\",", "", "h_1",
	    "P");
	expect_claims("{\"heart_id\":\"h_1\" \"username\":\"P\"}", "", "h_1",
	    "");
	/* Controls are kept for the log to escape; bytes as they are. */
	expect_claims("{\"username\":\"a\\u0000b\\nc\xff\"}", "", "",
	    "a");
	/* Long values are cut to EVENT_NAME_MAX bytes. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	(void)snprintf(body, sizeof(body), "{\"username\":\"%s\"}", big);
	{
		struct event_claims c;

		claims_of(body, strlen(body), &c);
		assert_int_equal(strlen(c.username), EVENT_NAME_MAX);
	}
}

/* Keys beyond the first EVENT_CLAIM_TOKENS tokens are not read. */
static void
test_claims_bounded(void **state)
{
	struct event_claims c;
	char body[4096];
	size_t used;
	int i;

	(void)state;
	used = (size_t)snprintf(body, sizeof(body), "{\"heart_id\":\"h\"");
	for (i = 0; i < EVENT_CLAIM_TOKENS; i++)
		used += (size_t)snprintf(body + used, sizeof(body) - used,
		    ",\"k%d\":1", i);
	(void)snprintf(body + used, sizeof(body) - used,
	    ",\"username\":\"late\"}");
	claims_of(body, strlen(body), &c);
	assert_string_equal(c.heart_id, "h");
	assert_string_equal(c.username, "");
}

int
run_event_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_happy_path),
		cmocka_unit_test(test_minimal),
		cmocka_unit_test(test_streak_day),
		cmocka_unit_test(test_repeated_known_key),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_escaped_keys_and_values),
		cmocka_unit_test(test_bad_names),
		cmocka_unit_test(test_not_an_object),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_optional_integers_and_text),
		cmocka_unit_test(test_many_tokens),
		cmocka_unit_test(test_many_unknown_keys),
		cmocka_unit_test(test_unknown_keys_deep),
		cmocka_unit_test(test_claims),
		cmocka_unit_test(test_claims_bounded),
	};

	return cmocka_run_group_tests_name("event", tests, NULL, NULL);
}
