/*
 * legacy.h: the GET ?username=&ts=&sig= callback.
 *
 * Vectors computed with OpenSSL's command line:
 *   printf '%s' 'PlayerOne|1733500000' | openssl dgst -sha256 -hmac whsec_test_secret
 *     -> ecd60e35e8f609e7aca3451a90e5c69f69045490543d38159c4c7f11ce0c42c3
 *   printf '%s' 'Player One|1733500000' | openssl dgst -sha256 -hmac whsec_test_secret
 *     -> 7b4470ed508fed0302065fa48b772e2e4691c2c6717bdf4d259fc82301355968
 *   printf '%s' PlayerOne | openssl dgst -sha256
 *     -> a8ba9c4725e2a3d8f7fcd9c3b88ea36fd61efa84d1bcc82e9c355272a97fd291
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#include "../../src/legacy.h"

#define SIG_P1	"ecd60e35e8f609e7aca3451a90e5c69f69045490543d38159c4c7f11ce0c42c3"
#define SIG_P_1	"7b4470ed508fed0302065fa48b772e2e4691c2c6717bdf4d259fc82301355968"
#define SIG_0	"0000000000000000000000000000000000000000000000000000000000000000"
#define Q_P1	"username=PlayerOne&ts=1733500000&sig=" SIG_P1

static enum legacy_result
parse(const char *query, struct legacy_query *q)
{
	char why[160];
	enum legacy_result r;

	why[0] = '\0';
	r = legacy_parse(query, q, why, sizeof(why));
	trace("parse \"%.80s\": %d %s\n", query != NULL ? query :
	    "(null)", (int)r, why);
	if (r != LEGACY_OK)
		assert_true(why[0] != '\0');
	return r;
}

static void
test_parse_ok(void **state)
{
	struct legacy_query q;
	unsigned char want[DIGEST_LEN];

	(void)state;
	assert_int_equal(parse(Q_P1, &q), LEGACY_OK);
	assert_string_equal(q.username, "PlayerOne");
	assert_string_equal(q.ts_text, "1733500000");
	assert_int_equal(q.ts, 1733500000LL);
	assert_true(q.has_sig);
	unhex(SIG_P1, want, sizeof(want));
	assert_memory_equal(q.sig, want, DIGEST_LEN);

	/* Any order, unknown parameters (even malformed ones) ignored. */
	assert_int_equal(parse("a=1&sig=" SIG_P1 "&x&ts=1733500000&&y=%zz&"
	    "username=PlayerOne&user=evil&Username=evil&sig2=1&", &q),
	    LEGACY_OK);
	assert_string_equal(q.username, "PlayerOne");
	assert_int_equal(q.ts, 1733500000LL);
}

static void
test_parse_decoding(void **state)
{
	struct legacy_query q;

	(void)state;
	assert_int_equal(parse("username=Player+One&ts=1&sig=" SIG_0, &q),
	    LEGACY_OK);
	assert_string_equal(q.username, "Player One");
	assert_int_equal(parse("username=%c3%A9t%C3%a9&ts=1&sig=" SIG_0, &q),
	    LEGACY_OK);
	assert_string_equal(q.username, "\xc3\xa9t\xc3\xa9");
	assert_int_equal(parse("username=a%2Bb%26c%3Dd%25e%23f%20g&ts=1&sig="
	    SIG_0, &q), LEGACY_OK);
	assert_string_equal(q.username, "a+b&c=d%e#f g");
	assert_int_equal(parse("username=%F0%9F%98%80&ts=1&sig=" SIG_0, &q),
	    LEGACY_OK);
	assert_string_equal(q.username, "\xf0\x9f\x98\x80");
	/* Upper-case sig digits are accepted (they decode the same). */
	assert_int_equal(parse("username=PlayerOne&ts=1733500000&sig="
	    "ECD60E35E8F609E7ACA3451A90E5C69F69045490543D38159C4C7F11CE0C42C3",
	    &q), LEGACY_OK);
}

static void
test_parse_bad_query(void **state)
{
	struct legacy_query q;
	char query[1024];
	static const char *const bad[] = {
		"username=a%&ts=1&sig=" SIG_0,
		"username=a%4&ts=1&sig=" SIG_0,
		"username=%4&ts=1&sig=" SIG_0,
		"username=a%zz&ts=1&sig=" SIG_0,
		"username=a%4g&ts=1&sig=" SIG_0,
		"username=a%g4&ts=1&sig=" SIG_0,
		"username=a&username=a&ts=1&sig=" SIG_0,
		"username=a&ts=1&ts=1&sig=" SIG_0,
		"username=a&ts=1&sig=" SIG_0 "&sig=" SIG_0,
		"username=a&ts=1&sig=" SIG_0 "&sig",
		"username=a&ts=&sig=" SIG_0,
		"username=a&ts=12a&sig=" SIG_0,
		"username=a&ts=-1&sig=" SIG_0,
		"username=a&ts=+1&sig=" SIG_0,
		"username=a&ts=1.5&sig=" SIG_0,
		"username=a&ts=%31%32x&sig=" SIG_0,
		"username=a&ts=123456789012&sig=" SIG_0,
		"ts=1&sig=" SIG_0,			/* no username */
		"username=a&sig=" SIG_0,		/* no ts */
		"",
		"&&&",
	};
	/* Well-formed queries whose name is judged after the signature. */
	static const char *const bad_names[] = {
		"username=%00&ts=1&sig=" SIG_0,
		"username=a%00b&ts=1&sig=" SIG_0,
		"username=a%0Ab&ts=1&sig=" SIG_0,
		"username=a%0d&ts=1&sig=" SIG_0,
		"username=a%7F&ts=1&sig=" SIG_0,
		"username=a%09&ts=1&sig=" SIG_0,
		"username=a%C2%9B31m&ts=1&sig=" SIG_0,	/* C1 CSI */
		"username=%FF&ts=1&sig=" SIG_0,
		"username=%C3&ts=1&sig=" SIG_0,
		"username=%C0%80&ts=1&sig=" SIG_0,
		"username=%ED%A0%80&ts=1&sig=" SIG_0,
		"username=&ts=1&sig=" SIG_0,
		"username&ts=1&sig=" SIG_0,
	};
	size_t i;

	(void)state;
	for (i = 0; i < nitems(bad); i++)
		if (parse(bad[i], &q) != LEGACY_BAD_QUERY)
			fail_msg("not a bad query: %s", bad[i]);
	assert_int_equal(parse(NULL, &q), LEGACY_BAD_QUERY);
	for (i = 0; i < nitems(bad_names); i++)
		if (parse(bad_names[i], &q) != LEGACY_OK ||
		    legacy_name(&q) == NULL)
			fail_msg("name not refused: %s", bad_names[i]);

	/* 128 bytes of name are fine, 129 are not. */
	(void)snprintf(query, sizeof(query), "username=%0128d&ts=1&sig=" SIG_0,
	    0);
	assert_int_equal(parse(query, &q), LEGACY_OK);
	assert_int_equal(strlen(q.username), 128);
	assert_null(legacy_name(&q));
	(void)snprintf(query, sizeof(query), "username=%0129d&ts=1&sig=" SIG_0,
	    0);
	assert_int_equal(parse(query, &q), LEGACY_OK);
	assert_non_null(legacy_name(&q));
	/* 64 two-byte characters, every byte %-escaped: 128 bytes. */
	{
		size_t used = (size_t)snprintf(query, sizeof(query),
		    "username=");

		for (i = 0; i < 64; i++)
			used += (size_t)snprintf(query + used,
			    sizeof(query) - used, "%%C3%%A9");
		(void)snprintf(query + used, sizeof(query) - used,
		    "&ts=1&sig=" SIG_0);
		assert_int_equal(parse(query, &q), LEGACY_OK);
		assert_int_equal(strlen(q.username), 128);
		assert_null(legacy_name(&q));
		/* Longer than any %-escaped 128-byte name: refused unread. */
		(void)snprintf(query + used, sizeof(query) - used,
		    "%%41&ts=1&sig=" SIG_0);
		assert_int_equal(parse(query, &q), LEGACY_BAD_QUERY);
	}
}

static void
test_parse_sig(void **state)
{
	struct legacy_query q;

	(void)state;
	assert_int_equal(parse("username=a&ts=1", &q), LEGACY_NO_SIG);
	assert_int_equal(parse("username=a&ts=1&sign=" SIG_0, &q),
	    LEGACY_NO_SIG);
	assert_int_equal(parse("username=a&ts=1&sig=", &q), LEGACY_BAD_SIG);
	assert_int_equal(parse("username=a&ts=1&sig=abc", &q), LEGACY_BAD_SIG);
	assert_int_equal(parse("username=a&ts=1&sig=" SIG_0 "0", &q),
	    LEGACY_BAD_SIG);
	assert_int_equal(parse("username=a&ts=1&sig="
	    "000000000000000000000000000000000000000000000000000000000000000g",
	    &q), LEGACY_BAD_SIG);
}

static void
test_check(void **state)
{
	struct secret_set set;
	struct legacy_query q;

	(void)state;
	secrets_of(&set, "whsec_test_secret", NULL);
	assert_int_equal(parse(Q_P1, &q), LEGACY_OK);
	assert_int_equal(legacy_check(&q, &set), LEGACY_OK);
	/* The decoded username is what is signed. */
	assert_int_equal(parse("username=Player+One&ts=1733500000&sig="
	    SIG_P_1, &q), LEGACY_OK);
	assert_int_equal(legacy_check(&q, &set), LEGACY_OK);
	assert_int_equal(parse("username=Player%20One&ts=1733500000&sig="
	    SIG_P_1, &q), LEGACY_OK);
	assert_int_equal(legacy_check(&q, &set), LEGACY_OK);
	/* Anything altered. */
	assert_int_equal(parse("username=PlayerOne&ts=1733500001&sig=" SIG_P1,
	    &q), LEGACY_OK);
	assert_int_equal(legacy_check(&q, &set), LEGACY_BAD_SIG);
	assert_int_equal(parse("username=Playerone&ts=1733500000&sig=" SIG_P1,
	    &q), LEGACY_OK);
	assert_int_equal(legacy_check(&q, &set), LEGACY_BAD_SIG);
	assert_int_equal(parse("username=PlayerOne&ts=1733500000&sig=" SIG_0,
	    &q), LEGACY_OK);
	assert_int_equal(legacy_check(&q, &set), LEGACY_BAD_SIG);
	/* Rotation: the second secret matches. */
	assert_int_equal(parse(Q_P1, &q), LEGACY_OK);
	secrets_of(&set, "old_secret", "whsec_test_secret");
	assert_int_equal(legacy_check(&q, &set), LEGACY_OK);
	secrets_of(&set, "old_secret", NULL);
	assert_int_equal(legacy_check(&q, &set), LEGACY_BAD_SIG);
	memset(&set, 0, sizeof(set));
	assert_int_equal(legacy_check(&q, &set), LEGACY_BAD_SIG);
}

static void
test_heart_id(void **state)
{
	struct legacy_query q;
	char id[64];

	(void)state;
	assert_int_equal(parse(Q_P1, &q), LEGACY_OK);
	legacy_heart_id(&q, id, sizeof(id));
	assert_string_equal(id, "legacy-1733500000-a8ba9c4725e2a3d8");
	/* 48 bytes hold the longest: 11 digits of ts. */
	assert_int_equal(parse("username=PlayerOne&ts=99999999999&sig=" SIG_0,
	    &q), LEGACY_OK);
	legacy_heart_id(&q, id, 48);
	assert_string_equal(id, "legacy-99999999999-a8ba9c4725e2a3d8");
}

static void
roundtrip(const struct secret_set *set, const char *username, long long ts)
{
	struct legacy_query q;
	char query[1024];

	assert_int_equal(legacy_sign(&set->keys[0], username, ts, query,
	    sizeof(query)), 0);
	trace("signed %s\n", query);
	assert_int_equal(parse(query, &q), LEGACY_OK);
	assert_string_equal(q.username, username);
	assert_int_equal(q.ts, ts);
	assert_int_equal(legacy_check(&q, set), LEGACY_OK);
}

static void
test_sign(void **state)
{
	struct secret_set set;
	char query[1024], name[129];

	(void)state;
	secrets_of(&set, "whsec_test_secret", NULL);
	assert_int_equal(legacy_sign(&set.keys[0], "PlayerOne", 1733500000LL,
	    query, sizeof(query)), 0);
	assert_string_equal(query, Q_P1);

	roundtrip(&set, "PlayerOne", 1733500000LL);
	roundtrip(&set, "Player One", 1733500000LL);
	roundtrip(&set, "a&b=c", 1);
	roundtrip(&set, "1+1=2", 1);
	roundtrip(&set, "100%", 1);
	roundtrip(&set, "#hash?q=1", 1);
	roundtrip(&set, "\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80", 1733500000LL);
	roundtrip(&set, "~user_name.-", 0);
	roundtrip(&set, "\"quoted\" <tag> 'x' ;,/\\", 99999999999LL);
	memset(name, 'x', 128);
	name[128] = '\0';
	roundtrip(&set, name, 1733500000LL);
	memset(name, '&', 128);
	roundtrip(&set, name, 1733500000LL);

	/* Too small a buffer is an error, not a cut query. */
	assert_int_equal(legacy_sign(&set.keys[0], "PlayerOne", 1, query, 20),
	    -1);
	assert_int_equal(legacy_sign(&set.keys[0], "PlayerOne", 1, query, 5),
	    -1);
}

int
run_legacy_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_decoding),
		cmocka_unit_test(test_parse_bad_query),
		cmocka_unit_test(test_parse_sig),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_heart_id),
		cmocka_unit_test(test_sign),
	};

	return cmocka_run_group_tests_name("legacy", tests, NULL, NULL);
}
