/*
 * legacy: the GET ?username=&ts=&sig= callback, for owners who turned
 * on MMOLove's legacy mode.
 *
 * Promises: QUERY_STRING is parsed strictly (%XX and + decoded; a bad
 * escape, a repeated or missing username/ts/sig, or a ts that is not
 * digits is an error; unknown parameters are ignored); sig =
 * HMAC-SHA256(secret, username "|" ts) over the decoded username,
 * compared in constant time against every secret.  Like a POST body,
 * the name is judged only once the signature holds (legacy_name): a
 * control character, invalid UTF-8 or over 128 bytes.  The vote's key
 * is the pair (username, ts); the grant sees
 * legacy-<ts>-<first 16 hex of SHA-256(username)> as its heart_id.
 */
#ifndef MMOLOVE_LEGACY_H
#define MMOLOVE_LEGACY_H

#include <stdbool.h>
#include <stddef.h>

#include "digest.h"
#include "event.h"
#include "secret.h"
#include "signature.h"

/* Longest raw parameter value: every byte of a name as %XX. */
#define LEGACY_VALUE_MAX	(3 * EVENT_NAME_MAX)

/* The log's reason for a 401 whose sig matches no secret (explain.c). */
#define LEGACY_WHY_MISMATCH	"sig matches no configured secret"


struct legacy_query {
	char		 username[LEGACY_VALUE_MAX + 1];	/* decoded */
	size_t		 username_len;			/* may hold NULs */
	char		 ts_text[UNIX_TIME_DIGITS_MAX + 1];
	long long	 ts;
	bool		 has_sig;
	unsigned char	 sig[DIGEST_LEN];
};

enum legacy_result {
	LEGACY_OK,
	LEGACY_BAD_QUERY,	/* 400 */
	LEGACY_NO_SIG,		/* 401 */
	LEGACY_BAD_SIG		/* 401: malformed, or no secret matches */
};

enum legacy_result legacy_parse(const char *query, struct legacy_query *q,
	    char *why, size_t whylen);
enum legacy_result legacy_check(const struct legacy_query *q,
	    const struct secret_set *secrets);

/* NULL if the signed name is fit to pay, else why not. */
const char *legacy_name(const struct legacy_query *q);

/* legacy-<ts>-<16 hex>; out holds at least 48 bytes. */
void	legacy_heart_id(const struct legacy_query *q, char *out, size_t len);

/* "username=<encoded>&ts=<ts>&sig=<hex>" signed with key. */
int	legacy_sign(const struct hmac_key *key, const char *username,
	    long long ts, char *out, size_t len);

#endif
