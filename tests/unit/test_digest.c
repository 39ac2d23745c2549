/*
 * digest.h: HMAC-SHA256 against RFC 4231, SHA-256, hex.
 *
 * The RFC 4231 results were also checked with
 *   printf 'Hi There' | openssl dgst -sha256 -mac HMAC \
 *       -macopt hexkey:0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b
 *   printf 'what do ya want for nothing?' | openssl dgst -sha256 -hmac Jefe
 * and likewise for cases 6 and 7 (hexkey: 131 bytes of aa).
 */
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#include "../../src/digest.h"

static void
expect_hmac(const void *key, size_t keylen, const char *data,
    const char *want_hex)
{
	unsigned char mac[DIGEST_LEN], want[DIGEST_LEN];
	struct hmac_key k;
	struct hmac_run run;
	size_t i, len = strlen(data);

	unhex(want_hex, want, sizeof(want));
	hmac_key_init(&k, key, keylen);

	hmac_begin(&run, &k);
	hmac_update(&run, data, len);
	hmac_end(&run, mac);
	assert_memory_equal(mac, want, DIGEST_LEN);

	/* The key is reusable, and updates may come in any pieces. */
	hmac_begin(&run, &k);
	for (i = 0; i < len; i++)
		hmac_update(&run, data + i, 1);
	hmac_update(&run, data, 0);
	hmac_end(&run, mac);
	assert_memory_equal(mac, want, DIGEST_LEN);
}

/* expect_hmac() with a key of keylen bytes, each of them byte. */
static void
expect_hmac_filled(unsigned char byte, size_t keylen, const char *data,
    const char *want_hex)
{
	unsigned char key[131];

	assert_true(keylen <= sizeof(key));
	memset(key, byte, keylen);
	expect_hmac(key, keylen, data, want_hex);
}

static void
test_rfc4231_case1(void **state)
{
	(void)state;
	expect_hmac_filled(0x0b, 20, "Hi There",
	    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

static void
test_rfc4231_case2(void **state)
{
	(void)state;
	expect_hmac("Jefe", 4, "what do ya want for nothing?",
	    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void
test_rfc4231_case6(void **state)
{
	(void)state;
	expect_hmac_filled(0xaa, 131,
	    "Test Using Larger Than Block-Size Key - Hash Key First",
	    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

static void
test_rfc4231_case7(void **state)
{
	(void)state;
	expect_hmac_filled(0xaa, 131,
	    "This is a test using a larger than block-size key and a larger "
	    "than block-size data. The key needs to be hashed before being "
	    "used by the HMAC algorithm.",
	    "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

static void
test_sha256(void **state)
{
	unsigned char d[DIGEST_LEN], want[DIGEST_LEN];

	(void)state;
	sha256("abc", 3, d);
	unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	    want, sizeof(want));
	assert_memory_equal(d, want, DIGEST_LEN);
	sha256("", 0, d);
	unhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	    want, sizeof(want));
	assert_memory_equal(d, want, DIGEST_LEN);
}

static void
test_digest_equal(void **state)
{
	unsigned char a[DIGEST_LEN], b[DIGEST_LEN];

	(void)state;
	memset(a, 0x5a, sizeof(a));
	memcpy(b, a, sizeof(b));
	assert_true(digest_equal(a, b));
	b[DIGEST_LEN - 1] ^= 1;
	assert_false(digest_equal(a, b));
	b[DIGEST_LEN - 1] ^= 1;
	b[0] ^= 0x80;
	assert_false(digest_equal(a, b));
}

static void
test_hex(void **state)
{
	static const unsigned char bytes[] = { 0x00, 0x01, 0x7f, 0x80, 0xab,
	    0xff };
	unsigned char out[8];
	char hex[2 * sizeof(bytes) + 1];

	(void)state;
	memset(hex, 'X', sizeof(hex));
	hex_encode(bytes, sizeof(bytes), hex);
	assert_string_equal(hex, "00017f80abff");
	hex_encode(bytes, 0, hex);
	assert_string_equal(hex, "");

	assert_int_equal(hex_decode_lower("00017f80abff", 12, out,
	    sizeof(bytes)), 0);
	assert_memory_equal(out, bytes, sizeof(bytes));
	assert_int_equal(hex_decode_lower("", 0, out, 0), 0);
	/* Upper case, non-hex, wrong length. */
	assert_int_equal(hex_decode_lower("00017F80ABFF", 12, out, 6), -1);
	assert_int_equal(hex_decode_lower("0g", 2, out, 1), -1);
	assert_int_equal(hex_decode_lower("g0", 2, out, 1), -1);
	assert_int_equal(hex_decode_lower(" 0", 2, out, 1), -1);
	assert_int_equal(hex_decode_lower("000", 3, out, 1), -1);
	assert_int_equal(hex_decode_lower("0", 1, out, 1), -1);
	assert_int_equal(hex_decode_lower("0000", 4, out, 1), -1);
}

static void
test_wipe(void **state)
{
	unsigned char buf[40], zero[40];

	(void)state;
	memset(buf, 0xee, sizeof(buf));
	memset(zero, 0, sizeof(zero));
	wipe(buf, sizeof(buf));
	assert_memory_equal(buf, zero, sizeof(buf));
}

int
run_digest_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4231_case1),
		cmocka_unit_test(test_rfc4231_case2),
		cmocka_unit_test(test_rfc4231_case6),
		cmocka_unit_test(test_rfc4231_case7),
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_digest_equal),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_wipe),
	};

	return cmocka_run_group_tests_name("digest", tests, NULL, NULL);
}
