/* text.h: utf8_valid, has_control, name_problem, json_escape_append. */
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#include "../../src/text.h"

static bool
valid(const char *s, size_t len)
{
	char *copy = exact_copy(s, len);
	bool ok = utf8_valid((const unsigned char *)copy, len);

	free(copy);
	return ok;
}

#define VALID(lit)	valid(lit, sizeof(lit) - 1)

static void
test_utf8_valid(void **state)
{
	(void)state;
	assert_true(VALID(""));
	assert_true(VALID("plain ASCII ~\x7f"));
	assert_true(VALID("\0"));			/* NUL is UTF-8 */
	assert_true(VALID("\xc2\x80"));			/* U+0080 */
	assert_true(VALID("\xc3\xa9"));			/* e acute */
	assert_true(VALID("\xdf\xbf"));			/* U+07FF */
	assert_true(VALID("\xe0\xa0\x80"));		/* U+0800 */
	assert_true(VALID("\xe2\x82\xac"));		/* euro */
	assert_true(VALID("\xed\x9f\xbf"));		/* U+D7FF */
	assert_true(VALID("\xee\x80\x80"));		/* U+E000 */
	assert_true(VALID("\xef\xbf\xbf"));		/* U+FFFF */
	assert_true(VALID("\xf0\x90\x80\x80"));		/* U+10000 */
	assert_true(VALID("\xf0\x9f\x98\x80"));		/* emoji */
	assert_true(VALID("\xf4\x8f\xbf\xbf"));		/* U+10FFFF */
	assert_true(VALID("a\xc3\xa9" "b\xe2\x82\xac" "c\xf0\x9f\x98\x80"));

	/* Overlong forms. */
	assert_false(VALID("\xc0\x80"));
	assert_false(VALID("\xc0\xaf"));
	assert_false(VALID("\xc1\xbf"));
	assert_false(VALID("\xe0\x80\x80"));
	assert_false(VALID("\xe0\x9f\xbf"));
	assert_false(VALID("\xf0\x80\x80\x80"));
	assert_false(VALID("\xf0\x8f\xbf\xbf"));
	/* Surrogates. */
	assert_false(VALID("\xed\xa0\x80"));
	assert_false(VALID("\xed\xbf\xbf"));
	assert_false(VALID("\xed\xa0\xbd\xed\xb8\x80"));	/* CESU-8 */
	/* Above U+10FFFF, and bytes that never appear. */
	assert_false(VALID("\xf4\x90\x80\x80"));
	assert_false(VALID("\xf5\x80\x80\x80"));
	assert_false(VALID("\xf8\x88\x80\x80\x80"));
	assert_false(VALID("\xfe"));
	assert_false(VALID("\xff"));
	/* Lone continuation bytes, truncated and broken sequences. */
	assert_false(VALID("\x80"));
	assert_false(VALID("a\xbf"));
	assert_false(VALID("\xc3"));
	assert_false(VALID("a\xc3"));
	assert_false(VALID("\xe2\x82"));
	assert_false(VALID("\xf0\x9f\x98"));
	assert_false(VALID("\xf0\x9f"));
	assert_false(VALID("\xc3\x41"));
	assert_false(VALID("\xe2\x28\xa1"));
	assert_false(VALID("\xe2\x82\x28"));
	assert_false(VALID("\xf0\x9f\x98\x28"));
	assert_false(VALID("\xc3\xa9\xc3"));
}

static void
test_has_control(void **state)
{
	(void)state;
	assert_false(has_control((const unsigned char *)"", 0));
	assert_false(has_control((const unsigned char *)"Player One ~", 12));
	assert_false(has_control((const unsigned char *)"\xc3\xa9\x80", 3));
	assert_true(has_control((const unsigned char *)"\0", 1));
	assert_true(has_control((const unsigned char *)"a\0b", 3));
	assert_true(has_control((const unsigned char *)"a\tb", 3));
	assert_true(has_control((const unsigned char *)"a\n", 2));
	assert_true(has_control((const unsigned char *)"\r", 1));
	assert_true(has_control((const unsigned char *)"\x1f", 1));
	assert_true(has_control((const unsigned char *)"\x1b[0m", 4));
	assert_true(has_control((const unsigned char *)"x\x7f", 2));
	/* The length bounds the scan. */
	assert_false(has_control((const unsigned char *)"ab\n", 2));
}

static const char *
problem(const char *s, size_t len, size_t max)
{
	char *copy = exact_copy(s, len);
	const char *why = name_problem((const unsigned char *)copy, len, max);

	free(copy);
	return why;
}

static void
test_name_problem(void **state)
{
	char name[200];
	const char *why;

	(void)state;
	memset(name, 'a', sizeof(name));
	assert_null(problem("PlayerOne", 9, 128));
	assert_null(problem("\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80", 10, 128));
	assert_null(problem(name, 1, 128));
	assert_null(problem(name, 128, 128));

	why = problem(name, 0, 128);
	assert_non_null(why);
	assert_non_null(strstr(why, "empty"));
	why = problem(name, 129, 128);
	assert_non_null(why);
	assert_non_null(strstr(why, "long"));
	why = problem("a\nb", 3, 128);
	assert_non_null(why);
	assert_non_null(strstr(why, "control"));
	assert_non_null(problem("a\0b", 3, 128));
	assert_non_null(problem("\x7f", 1, 128));
	why = problem("a\xff", 2, 128);
	assert_non_null(why);
	assert_non_null(strstr(why, "UTF-8"));
	assert_non_null(problem("\xed\xa0\x80", 3, 128));
	assert_non_null(problem("\xc0\x80", 2, 128));
	/* C1 controls (U+0080..U+009F), CSI among them, are controls too. */
	why = problem("a\xc2\x9b" "31m", 6, 128);
	assert_non_null(why);
	assert_non_null(strstr(why, "control"));
	assert_non_null(problem("\xc2\x80", 2, 128));
	assert_non_null(problem("\xc2\x9f", 2, 128));
	assert_null(problem("\xc2\xa0", 2, 128));	/* no-break space */
	assert_null(problem("\xc3\x80", 2, 128));
	/* 64 two-byte characters are 128 bytes: fine; one more byte is not. */
	{
		char u[130];
		size_t i;

		for (i = 0; i < 128; i += 2) {
			u[i] = '\xc3';
			u[i + 1] = '\xa9';
		}
		u[128] = 'x';
		assert_null(problem(u, 128, 128));
		assert_non_null(problem(u, 129, 128));
		/* cut in the middle of a character */
		assert_non_null(problem(u, 127, 128));
	}
}

/* Appends s (len bytes) into a fresh buffer of cap bytes. */
static bool
escape(const char *s, size_t len, size_t cap, char *out, size_t *used)
{
	char *buf = malloc(cap > 0 ? cap : 1);
	char *copy = exact_copy(s, len);
	bool ok;

	assert_non_null(buf);
	buf[0] = '\0';
	*used = 0;
	ok = json_escape_append(buf, cap, used, (const unsigned char *)copy,
	    len);
	assert_true(*used < cap || (cap == 0 && *used == 0));
	if (cap > 0) {
		assert_int_equal(buf[*used], '\0');
		memcpy(out, buf, *used + 1);
	}
	free(copy);
	free(buf);
	return ok;
}

static void
expect_escape(const char *s, size_t len, const char *want)
{
	char out[256];
	size_t used;

	assert_true(escape(s, len, sizeof(out), out, &used));
	assert_string_equal(out, want);
	assert_int_equal(used, strlen(want));
}

static void
test_json_escape_append(void **state)
{
	(void)state;
	expect_escape("", 0, "");
	expect_escape("PlayerOne", 9, "PlayerOne");
	expect_escape("a\"b\\c", 5, "a\\\"b\\\\c");
	expect_escape("/", 1, "/");
	expect_escape("\x01", 1, "\\u0001");
	expect_escape("\x1f", 1, "\\u001f");
	expect_escape("a\nb\tc\rd", 7, "a\\u000ab\\u0009c\\u000dd");
	expect_escape("\0", 1, "\\u0000");
	expect_escape("\x7f", 1, "\\u007f");
	/* Valid UTF-8 is kept as it is. */
	expect_escape("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9,
	    "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	/* Each byte of an invalid sequence becomes U+FFFD. */
	expect_escape("\xff", 1, "\\ufffd");
	expect_escape("a\xc3", 2, "a\\ufffd");
	expect_escape("\xc0\x80", 2, "\\ufffd\\ufffd");
	expect_escape("\xed\xa0\x80", 3, "\\ufffd\\ufffd\\ufffd");
	expect_escape("\xe2\x82" "A", 3, "\\ufffd\\ufffdA");
	expect_escape("\xf4\x90\x80\x80", 4,
	    "\\ufffd\\ufffd\\ufffd\\ufffd");
	/* C1 controls (U+0080..U+009F: CSI and the like) are escaped. */
	expect_escape("a\xc2\x9b" "b\xc2\x80\xc2\x9f", 8,
	    "a\\u009bb\\u0080\\u009f");
	expect_escape("\xc2\xa0", 2, "\xc2\xa0");
}

static void
test_json_escape_appends_at_used(void **state)
{
	char buf[32] = "x=";
	size_t used = 2;

	(void)state;
	assert_true(json_escape_append(buf, sizeof(buf), &used,
	    (const unsigned char *)"\"y\"", 3));
	assert_string_equal(buf, "x=\\\"y\\\"");
	assert_int_equal(used, 7);
	assert_true(json_escape_append(buf, sizeof(buf), &used,
	    (const unsigned char *)"z", 1));
	assert_string_equal(buf, "x=\\\"y\\\"z");
}

/* An append into too small a buffer, and what it leaves there. */
struct cut_case {
	const char	*name;
	const char	*s;
	size_t		 len;
	size_t		 cap;
	bool		 ok;
	const char	*want;
};

static void
expect_cut(const struct cut_case *c)
{
	char out[64];
	size_t used;
	bool ok = escape(c->s, c->len, c->cap, out, &used);

	if (ok != c->ok || strcmp(out, c->want) != 0 ||
	    used != strlen(c->want))
		fail_msg("%s: %s \"%s\" (%zu bytes), want %s \"%s\"", c->name,
		    ok ? "true" : "false", out, used, c->ok ? "true" : "false",
		    c->want);
}

static void
test_json_escape_truncates(void **state)
{
	static const struct cut_case cases[] = {
		{ "exactly fits, with the NUL", "abc", 3, 4, true, "abc" },
		{ "one byte short", "abcd", 4, 4, false, "abc" },
		/* A character or an escape is never split. */
		{ "two-byte cut", "abc\xc3\xa9", 5, 5, false, "abc" },
		{ "two-byte fits", "abc\xc3\xa9", 5, 6, true, "abc\xc3\xa9" },
		{ "four-byte cut", "a\xf0\x9f\x98\x80", 5, 5, false, "a" },
		{ "escaped quote cut", "a\"", 2, 3, false, "a" },
		{ "\\u escape cut", "a\x01", 2, 7, false, "a" },
		{ "\\u escape fits", "a\x01", 2, 8, true, "a\\u0001" },
		{ "U+FFFD cut", "a\xff", 2, 7, false, "a" },
		{ "no room at all", "a", 1, 1, false, "" },
	};
	char out[64];
	size_t i, used;

	(void)state;
	for (i = 0; i < nitems(cases); i++)
		expect_cut(&cases[i]);
	/* Whatever was cut, what is there is still valid UTF-8. */
	{
		static const char s[] = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
		    "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
		size_t cap;

		for (cap = 1; cap < sizeof(s) + 1; cap++) {
			(void)escape(s, sizeof(s) - 1, cap, out, &used);
			assert_true(utf8_valid((unsigned char *)out, used));
		}
	}
}

int
run_text_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_valid),
		cmocka_unit_test(test_has_control),
		cmocka_unit_test(test_name_problem),
		cmocka_unit_test(test_json_escape_append),
		cmocka_unit_test(test_json_escape_appends_at_used),
		cmocka_unit_test(test_json_escape_truncates),
	};

	return cmocka_run_group_tests_name("text", tests, NULL, NULL);
}
