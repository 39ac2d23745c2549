/*
 * digest: SHA-256, HMAC-SHA256 and constant-time comparison, all done by
 * OpenSSL's libcrypto.
 *
 * Promises: no allocation, no global state.  An hmac_key holds the
 * hashing state after the key's inner and outer pads, so the key bytes
 * themselves are not kept and a FastCGI worker pays the key set-up once.
 */
#ifndef MMOLOVE_DIGEST_H
#define MMOLOVE_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

#define DIGEST_LEN	32
#define DIGEST_HEX_LEN	64

/*
 * Opaque-sized room for two SHA-256 states; digest.c checks at compile
 * time that OpenSSL's SHA256_CTX fits.
 */
struct hmac_key {
	_Alignas(16) unsigned char inner[128];
	_Alignas(16) unsigned char outer[128];
};

struct hmac_run {
	_Alignas(16) unsigned char state[128];
	const struct hmac_key *key;
};

void	hmac_key_init(struct hmac_key *key, const void *secret, size_t len);
void	hmac_begin(struct hmac_run *run, const struct hmac_key *key);
void	hmac_update(struct hmac_run *run, const void *data, size_t len);
void	hmac_end(struct hmac_run *run, unsigned char mac[DIGEST_LEN]);

void	sha256(const void *data, size_t len, unsigned char out[DIGEST_LEN]);

/* Constant-time equality of two digests. */
bool	digest_equal(const unsigned char a[DIGEST_LEN],
	    const unsigned char b[DIGEST_LEN]);

/* Lower-case hex; out holds 2 * len + 1 bytes. */
void	hex_encode(const unsigned char *in, size_t len, char *out);
/* Exactly 2 * outlen lower-case hex digits in; returns 0 or -1. */
int	hex_decode_lower(const char *in, size_t inlen, unsigned char *out,
	    size_t outlen);

/* Overwrites memory the compiler may not optimise away. */
void	wipe(void *p, size_t len);

#endif
