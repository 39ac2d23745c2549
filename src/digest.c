/*
 * OpenSSL 3 routes HMAC(), EVP_MAC and EVP_Digest through its provider
 * machinery: the first call loads the default provider and parses
 * openssl.cnf, which costs a CGI process about 2 ms, more than the rest
 * of a request.  The SHA256_* functions are deprecated in 3.0 but call
 * the same assembly directly, so HMAC (RFC 2104) is composed here from
 * them: OpenSSL still does all the hashing and the constant-time
 * comparison, we only arrange the pads.
 */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "digest.h"
#include "text.h"

_Static_assert(sizeof(SHA256_CTX) <= sizeof(((struct hmac_key *)0)->inner),
    "SHA256_CTX must fit in struct hmac_key");

#define BLOCK	64	/* SHA-256 block size */

static SHA256_CTX *
ctx(unsigned char *room)
{
	return (SHA256_CTX *)(void *)room;
}

void
hmac_key_init(struct hmac_key *key, const void *secret, size_t len)
{
	unsigned char block[BLOCK], pad[BLOCK];
	size_t i;

	memset(block, 0, sizeof(block));
	if (len > BLOCK)
		sha256(secret, len, block);
	else
		memcpy(block, secret, len);

	for (i = 0; i < BLOCK; i++)
		pad[i] = block[i] ^ 0x36;
	SHA256_Init(ctx(key->inner));
	SHA256_Update(ctx(key->inner), pad, BLOCK);

	for (i = 0; i < BLOCK; i++)
		pad[i] = block[i] ^ 0x5c;
	SHA256_Init(ctx(key->outer));
	SHA256_Update(ctx(key->outer), pad, BLOCK);

	wipe(block, sizeof(block));
	wipe(pad, sizeof(pad));
}

void
hmac_begin(struct hmac_run *run, const struct hmac_key *key)
{
	memcpy(run->state, key->inner, sizeof(run->state));
	run->key = key;
}

void
hmac_update(struct hmac_run *run, const void *data, size_t len)
{
	SHA256_Update(ctx(run->state), data, len);
}

void
hmac_end(struct hmac_run *run, unsigned char mac[DIGEST_LEN])
{
	unsigned char inner[DIGEST_LEN];

	SHA256_Final(inner, ctx(run->state));
	memcpy(run->state, run->key->outer, sizeof(run->state));
	SHA256_Update(ctx(run->state), inner, sizeof(inner));
	SHA256_Final(mac, ctx(run->state));
	wipe(run->state, sizeof(run->state));
	wipe(inner, sizeof(inner));
}

/* Not SHA256(): in OpenSSL 3 that one-shot goes through EVP_Q_digest. */
void
sha256(const void *data, size_t len, unsigned char out[DIGEST_LEN])
{
	SHA256_CTX c;

	SHA256_Init(&c);
	SHA256_Update(&c, data, len);
	SHA256_Final(out, &c);
}

bool
digest_equal(const unsigned char a[DIGEST_LEN],
    const unsigned char b[DIGEST_LEN])
{
	return CRYPTO_memcmp(a, b, DIGEST_LEN) == 0;
}

void
hex_encode(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}

/* Lower-case only: SPEC's v1 is "64 lower-case hex". */
static int
hex_value(char c)
{
	return c >= 'A' && c <= 'F' ? -1 : hex_digit(c);
}

int
hex_decode_lower(const char *in, size_t inlen, unsigned char *out,
    size_t outlen)
{
	size_t i;
	int hi, lo;

	if (inlen != 2 * outlen)
		return -1;
	for (i = 0; i < outlen; i++) {
		hi = hex_value(in[2 * i]);
		lo = hex_value(in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

void
wipe(void *p, size_t len)
{
	OPENSSL_cleanse(p, len);
}
