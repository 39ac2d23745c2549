/*
 * signature.h: the X-MMOLove-Signature header.
 *
 * Vectors computed with OpenSSL's command line:
 *   printf '%s' "1733500000.$BODY" | openssl dgst -sha256 -hmac whsec_test_secret
 *     -> 8e78d02ee6fd35965f217ec92b28a8f0067d2b1cec788f82f9c80337fd10af78
 *   printf '%s' "1733500000.$BODY" | openssl dgst -sha256 -hmac old_secret
 *     -> b7784573efb8ef2f9b44cbbdc81b3b9479706055bd929b6ec0e60c634bbb84f3
 * with $BODY the SPEC.md example body below, on one line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#include "../../src/signature.h"

#define BODY	"{\"event\":\"heart.counted\",\"server_id\":\"srv_123\"," \
		"\"username\":\"PlayerOne\",\"heart_id\":\"h_1\"," \
		"\"period\":\"2026-06\",\"timestamp\":1733500000," \
		"\"streak_day\":7}"
#define T	"1733500000"
#define V1_NEW	"8e78d02ee6fd35965f217ec92b28a8f0067d2b1cec788f82f9c80337fd10af78"
#define V1_OLD	"b7784573efb8ef2f9b44cbbdc81b3b9479706055bd929b6ec0e60c634bbb84f3"
#define V1_ZERO	"0000000000000000000000000000000000000000000000000000000000000000"
#define V1_UPPER "8E78D02EE6FD35965F217EC92B28A8F0067D2B1CEC788F82F9C80337FD10AF78"
#define V1_SHORT "8e78d02ee6fd35965f217ec92b28a8f0067d2b1cec788f82f9c80337fd10af7"

static enum signature_result
parse(const char *header, struct signature_header *sig)
{
	char err[128];
	enum signature_result r;

	err[0] = '\0';
	r = signature_parse(header, sig, err, sizeof(err));
	trace("parse \"%s\": %d %s\n", header, (int)r, err);
	if (r == SIGNATURE_GARBLED)
		assert_true(err[0] != '\0');
	return r;
}

static enum signature_result
check(const char *header, const struct secret_set *set, const char *body)
{
	struct signature_header sig;
	char *copy = exact_copy(body, strlen(body));
	enum signature_result r;

	assert_int_equal(parse(header, &sig), SIGNATURE_OK);
	r = signature_check(&sig, set, copy, strlen(body));
	free(copy);
	return r;
}

static void
test_parse_ok(void **state)
{
	struct signature_header sig;

	(void)state;
	assert_int_equal(parse("t=" T ",v1=" V1_NEW, &sig), SIGNATURE_OK);
	assert_int_equal(sig.t, 1733500000LL);
	assert_string_equal(sig.t_text, T);
	assert_int_equal(sig.v1_count, 1);

	/* Order does not matter. */
	assert_int_equal(parse("v1=" V1_NEW ",t=" T, &sig), SIGNATURE_OK);
	assert_int_equal(sig.t, 1733500000LL);
	assert_int_equal(sig.v1_count, 1);
}

static void
test_parse_spaces(void **state)
{
	struct signature_header sig;

	(void)state;
	assert_int_equal(parse("  t=" T " ,\tv1=" V1_NEW "\t ", &sig),
	    SIGNATURE_OK);
	assert_int_equal(sig.t, 1733500000LL);
	assert_string_equal(sig.t_text, T);
	assert_int_equal(sig.v1_count, 1);
	assert_int_equal(parse("t=" T ", v1=" V1_NEW, &sig), SIGNATURE_OK);
}

static void
test_parse_several_v1(void **state)
{
	struct signature_header sig;
	struct secret_set set;
	char header[2048];
	size_t i, used;

	(void)state;
	assert_int_equal(parse("t=" T ",v1=" V1_OLD ",v1=" V1_NEW, &sig),
	    SIGNATURE_OK);
	assert_int_equal(sig.v1_count, 2);

	/* However many v1 there are, no well-formed one is ignored. */
	secrets_of(&set, "whsec_test_secret", NULL);
	used = (size_t)snprintf(header, sizeof(header), "t=" T);
	for (i = 0; i < 20; i++)
		used += (size_t)snprintf(header + used, sizeof(header) - used,
		    ",v1=" V1_ZERO);
	(void)snprintf(header + used, sizeof(header) - used, ",v1=" V1_NEW);
	assert_int_equal(parse(header, &sig), SIGNATURE_OK);
	assert_int_equal(sig.v1_count, 21);
	assert_int_equal(signature_check(&sig, &set, BODY, strlen(BODY)),
	    SIGNATURE_OK);
}

static void
test_parse_unknown_keys(void **state)
{
	struct signature_header sig;

	(void)state;
	assert_int_equal(parse("t=" T ",v0=zzz,v2=" V1_ZERO ",foo=,x=y=z,"
	    "V1=nothex,T=abc,v1=" V1_NEW, &sig), SIGNATURE_OK);
	assert_int_equal(sig.v1_count, 1);
	assert_string_equal(sig.t_text, T);
}

static void
test_parse_garbled(void **state)
{
	struct signature_header sig;
	static const char *const bad[] = {
		"",
		" ",
		"v1=" V1_NEW,					/* no t */
		"t=" T,						/* no v1 */
		"t=" T ",v2=" V1_NEW,				/* no v1 */
		"t=" T ",t=" T ",v1=" V1_NEW,			/* t twice */
		"t=1,t=" T ",v1=" V1_NEW,
		"t=,v1=" V1_NEW,
		"t=12a,v1=" V1_NEW,
		"t=-1,v1=" V1_NEW,
		"t=+1,v1=" V1_NEW,
		"t= 1,v1=" V1_NEW,
		"t=1 2,v1=" V1_NEW,
		"t=1.5,v1=" V1_NEW,
		"t=0x10,v1=" V1_NEW,
		"t=123456789012,v1=" V1_NEW,			/* 12 digits */
		/* Only malformed v1: ignored, so no v1 is left to check. */
		"t=" T ",v1=" V1_SHORT,
		"t=" T ",v1=" V1_NEW "0",
		"t=" T ",v1=",
		"t=" T ",v1=" V1_UPPER,
		"t=" T ",v1=" V1_SHORT "g",
		"t=" T ",v1=bad_signature",
		"t=" T ",v1=" V1_SHORT ",v1=" V1_UPPER ",v1=x",
		"i'm not even a real signature header",
		"t=" T ",v1=" V1_NEW ",junk",			/* part without '=' */
		"t" T ",v1=" V1_NEW,
		"t=" T ",,v1=" V1_NEW,				/* empty part */
		"t=" T ";v1=" V1_NEW,
	};
	size_t i;

	(void)state;
	for (i = 0; i < nitems(bad); i++)
		if (parse(bad[i], &sig) != SIGNATURE_GARBLED)
			fail_msg("not garbled: \"%s\"", bad[i]);
	assert_int_equal(signature_parse(NULL, &sig, NULL, 0),
	    SIGNATURE_MISSING);
}

/* The reason a header with only malformed v1 gives, for the log. */
static void
test_parse_no_well_formed_v1(void **state)
{
	struct signature_header sig;
	char err[128];

	(void)state;
	assert_int_equal(signature_parse("t=" T ",v1=bad_signature,v1=" V1_UPPER,
	    &sig, err, sizeof(err)), SIGNATURE_GARBLED);
	assert_int_equal(sig.v1_count, 0);
	assert_int_equal(sig.v1_ignored, 2);
	assert_non_null(strstr(err, "no well-formed v1"));
	assert_non_null(strstr(err, "2 ignored"));
	/* No v1 at all says so, not "well-formed". */
	assert_int_equal(signature_parse("t=" T ",v0=" V1_NEW, &sig, err,
	    sizeof(err)), SIGNATURE_GARBLED);
	assert_string_equal(err, "no v1");
}

/*
 * Stripe's verifiers skip a v1 that is not a MAC's hex: one beside a
 * good v1 neither refuses the header nor counts as a match.
 */
static void
test_check_malformed_v1_ignored(void **state)
{
	static const char *const malformed[] = {
		"bad_signature", V1_UPPER, V1_SHORT, V1_NEW "0", "",
		" " V1_NEW, V1_SHORT "g",
	};
	struct signature_header sig;
	struct secret_set set;
	char header[256];
	size_t i;

	(void)state;
	secrets_of(&set, "whsec_test_secret", NULL);
	assert_int_equal(parse("t=" T ",v1=" V1_NEW ",v1=bad_signature",
	    &sig), SIGNATURE_OK);
	assert_int_equal(sig.v1_count, 1);
	assert_int_equal(sig.v1_ignored, 1);
	for (i = 0; i < nitems(malformed); i++) {
		/* Before the good v1, and after it. */
		(void)snprintf(header, sizeof(header), "t=" T ",v1=%s,v1="
		    V1_NEW, malformed[i]);
		assert_int_equal(check(header, &set, BODY), SIGNATURE_OK);
		(void)snprintf(header, sizeof(header), "t=" T ",v1=" V1_NEW
		    ",v1=%s", malformed[i]);
		assert_int_equal(check(header, &set, BODY), SIGNATURE_OK);
		/* Beside a well-formed wrong v1 it matches nothing. */
		(void)snprintf(header, sizeof(header), "t=" T ",v1=%s,v1="
		    V1_ZERO, malformed[i]);
		assert_int_equal(check(header, &set, BODY),
		    SIGNATURE_MISMATCH);
	}
	/* The right MAC in upper case is not the MAC: never a match. */
	assert_int_equal(check("t=" T ",v1=" V1_UPPER ",v1=" V1_OLD, &set,
	    BODY), SIGNATURE_MISMATCH);
	/* t stays strict whatever the v1 are. */
	assert_int_equal(parse("t=12a,v1=" V1_NEW ",v1=bad_signature", &sig),
	    SIGNATURE_GARBLED);
	assert_int_equal(parse("t=" T ",t=" T ",v1=" V1_NEW ",v1=x", &sig),
	    SIGNATURE_GARBLED);
}

static void
test_parse_t_bounds(void **state)
{
	struct signature_header sig;
	long long t;

	(void)state;
	assert_int_equal(parse("t=0,v1=" V1_NEW, &sig), SIGNATURE_OK);
	assert_int_equal(sig.t, 0);
	assert_int_equal(parse("t=99999999999,v1=" V1_NEW, &sig),
	    SIGNATURE_OK);
	assert_int_equal(sig.t, 99999999999LL);
	/* Leading zeros are digits, kept as sent for the MAC. */
	assert_int_equal(parse("t=01733500000,v1=" V1_NEW, &sig),
	    SIGNATURE_OK);
	assert_int_equal(sig.t, 1733500000LL);
	assert_string_equal(sig.t_text, "01733500000");

	assert_int_equal(parse_unix_time("1733500000", 10, &t), 0);
	assert_int_equal(t, 1733500000LL);
	assert_int_equal(parse_unix_time("", 0, &t), -1);
	assert_int_equal(parse_unix_time("123456789012", 12, &t), -1);
	assert_int_equal(parse_unix_time("12 ", 3, &t), -1);
	/* Only len bytes are read. */
	assert_int_equal(parse_unix_time("12x", 2, &t), 0);
	assert_int_equal(t, 12);
}

static void
test_check_vector(void **state)
{
	struct secret_set set;

	(void)state;
	secrets_of(&set, "whsec_test_secret", NULL);
	assert_int_equal(check("t=" T ",v1=" V1_NEW, &set, BODY),
	    SIGNATURE_OK);
	/* One v1 of several is enough. */
	assert_int_equal(check("t=" T ",v1=" V1_ZERO ",v1=" V1_NEW, &set,
	    BODY), SIGNATURE_OK);
	assert_int_equal(check("t=" T ",v1=" V1_NEW ",v1=" V1_ZERO, &set,
	    BODY), SIGNATURE_OK);
	/* Another secret's MAC, a zero MAC. */
	assert_int_equal(check("t=" T ",v1=" V1_OLD, &set, BODY),
	    SIGNATURE_MISMATCH);
	assert_int_equal(check("t=" T ",v1=" V1_ZERO, &set, BODY),
	    SIGNATURE_MISMATCH);
	/* The body or t altered by one byte. */
	assert_int_equal(check("t=1733500001,v1=" V1_NEW, &set, BODY),
	    SIGNATURE_MISMATCH);
	assert_int_equal(check("t=01733500000,v1=" V1_NEW, &set, BODY),
	    SIGNATURE_MISMATCH);
	assert_int_equal(check("t=" T ",v1=" V1_NEW, &set, BODY " "),
	    SIGNATURE_MISMATCH);
	{
		char body[] = BODY;

		body[sizeof(body) - 3] = '8';	/* "streak_day":8 */
		assert_int_equal(check("t=" T ",v1=" V1_NEW, &set, body),
		    SIGNATURE_MISMATCH);
	}
	/* No secret at all matches nothing. */
	memset(&set, 0, sizeof(set));
	assert_int_equal(check("t=" T ",v1=" V1_NEW, &set, BODY),
	    SIGNATURE_MISMATCH);
}

static void
test_check_rotation(void **state)
{
	struct secret_set set;

	(void)state;
	/* Two secrets configured, the second one matches. */
	secrets_of(&set, "old_secret", "whsec_test_secret");
	assert_int_equal(check("t=" T ",v1=" V1_NEW, &set, BODY),
	    SIGNATURE_OK);
	assert_int_equal(check("t=" T ",v1=" V1_OLD, &set, BODY),
	    SIGNATURE_OK);
	secrets_of(&set, "whsec_test_secret", "old_secret");
	assert_int_equal(check("t=" T ",v1=" V1_OLD, &set, BODY),
	    SIGNATURE_OK);
	secrets_of(&set, "nope", "old_secret");
	assert_int_equal(check("t=" T ",v1=" V1_NEW, &set, BODY),
	    SIGNATURE_MISMATCH);
	/* Both sides rotating: several v1 against several secrets. */
	secrets_of(&set, "nope", "old_secret");
	assert_int_equal(check("t=" T ",v1=" V1_NEW ",v1=" V1_OLD, &set,
	    BODY), SIGNATURE_OK);
}

static void
test_age_and_fresh(void **state)
{
	struct signature_header sig;

	(void)state;
	assert_int_equal(parse("t=" T ",v1=" V1_NEW, &sig), SIGNATURE_OK);
	assert_int_equal(signature_age(&sig, (time_t)1733500000), 0);
	assert_int_equal(signature_age(&sig, (time_t)1733500300), 300);
	assert_true(signature_age(&sig, (time_t)1733499000) == -1000);

	assert_true(signature_fresh(0, 300));
	assert_true(signature_fresh(300, 300));
	assert_false(signature_fresh(301, 300));
	assert_true(signature_fresh(-300, 300));
	assert_false(signature_fresh(-301, 300));
	assert_false(signature_fresh(1000000000, 300));
	assert_false(signature_fresh(-1000000000, 300));
	assert_true(signature_fresh(1, 1));
	assert_false(signature_fresh(2, 1));
	/* tolerance 0: off, whatever the age. */
	assert_true(signature_fresh(0, 0));
	assert_true(signature_fresh(1000000000, 0));
	assert_true(signature_fresh(-1000000000, 0));
	assert_true(signature_fresh(99999999999LL, 0));
}

static void
test_sign(void **state)
{
	struct secret_set set;
	char out[160];

	(void)state;
	secrets_of(&set, "whsec_test_secret", NULL);
	signature_sign(&set.keys[0], 1733500000LL, BODY, strlen(BODY), out,
	    sizeof(out));
	assert_string_equal(out, "t=" T ",v1=" V1_NEW);
	/* Round trip, for another t and an empty body. */
	signature_sign(&set.keys[0], 42, "", 0, out, sizeof(out));
	assert_int_equal(check(out, &set, ""), SIGNATURE_OK);
	assert_int_equal(strncmp(out, "t=42,v1=", 8), 0);
	assert_int_equal(strlen(out), 8 + DIGEST_HEX_LEN);
	signature_sign(&set.keys[0], 0, "{}", 2, out, sizeof(out));
	assert_int_equal(check(out, &set, "{}"), SIGNATURE_OK);
	assert_int_equal(check(out, &set, "{ }"), SIGNATURE_MISMATCH);
}

int
run_signature_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_spaces),
		cmocka_unit_test(test_parse_several_v1),
		cmocka_unit_test(test_parse_unknown_keys),
		cmocka_unit_test(test_parse_garbled),
		cmocka_unit_test(test_parse_no_well_formed_v1),
		cmocka_unit_test(test_parse_t_bounds),
		cmocka_unit_test(test_check_vector),
		cmocka_unit_test(test_check_rotation),
		cmocka_unit_test(test_check_malformed_v1_ignored),
		cmocka_unit_test(test_age_and_fresh),
		cmocka_unit_test(test_sign),
	};

	return cmocka_run_group_tests_name("signature", tests, NULL, NULL);
}
