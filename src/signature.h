/*
 * signature: the X-MMOLove-Signature header of a signed POST.
 *
 * Promises: the header is parsed as SPEC.md says (comma-separated
 * key=value pairs, spaces around them, one `t` of decimal digits, one or
 * more `v1`, unknown keys ignored).  A `v1` that is not exactly 64
 * lower-case hex digits is ignored too, as Stripe's verifiers do with the
 * same header shape: it cannot be anyone's MAC, and refusing the whole
 * header for it would refuse the good `v1` beside it.  At least one
 * well-formed `v1` is needed.  v1 = HMAC-SHA256(secret, t "." body) over
 * the exact body bytes, every secret against every well-formed v1,
 * compared in constant time.  Freshness is a
 * separate question (signature_age) so --verify can report it without
 * holding it against a capture.
 */
#ifndef MMOLOVE_SIGNATURE_H
#define MMOLOVE_SIGNATURE_H

#include <stddef.h>
#include <time.h>

#include "digest.h"
#include "secret.h"

#define UNIX_TIME_DIGITS_MAX	11	/* year 2286: far from overflow */

/* The log's reason for a 401 whose v1 matches no secret (explain.c). */
#define SIGNATURE_WHY_MISMATCH	"no v1 matches a configured secret " \
	"(wrong secret, or body altered)"


struct signature_header {
	const char	*text;		/* the header; v1 values are read here */
	long long	 t;
	char		 t_text[16];	/* t as sent: the MAC covers these bytes */
	size_t		 v1_count;	/* well-formed ones, however many */
	size_t		 v1_ignored;	/* not 64 lower-case hex digits */
};

enum signature_result {
	SIGNATURE_OK,
	SIGNATURE_MISSING,	/* no header at all */
	SIGNATURE_GARBLED,	/* header does not parse, or no well-formed v1 */
	SIGNATURE_MISMATCH	/* parses, but no v1 matches any secret */
};

/*
 * Parses header, which must outlive sig; on SIGNATURE_GARBLED writes why
 * into err.
 */
enum signature_result signature_parse(const char *header,
	    struct signature_header *sig, char *err, size_t errlen);

/* True if any well-formed v1 is HMAC(secret, t "." body) for any secret. */
enum signature_result signature_check(const struct signature_header *sig,
	    const struct secret_set *secrets, const void *body, size_t len);

/* Decodes the first max well-formed v1 values into v1; their count. */
size_t	signature_v1s(const struct signature_header *sig,
	    unsigned char (*v1)[DIGEST_LEN], size_t max);

/* signature_check() over v1 values already decoded. */
enum signature_result signature_check_v1(const char *t_text,
	    const unsigned char (*v1)[DIGEST_LEN], size_t count,
	    const struct secret_set *secrets, const void *body, size_t len);

/* now - t, in seconds: negative for a timestamp in the future. */
long long signature_age(const struct signature_header *sig, time_t now);

/* True if age is within tolerance either way; tolerance 0 is off. */
int	signature_fresh(long long age, long tolerance);

/* Writes "t=<t>,v1=<hex>" for the first secret into out. */
void	signature_sign(const struct hmac_key *key, long long t,
	    const void *body, size_t len, char *out, size_t outlen);

/* Parses a whole decimal unix time (digits only, bounded). */
int	parse_unix_time(const char *s, size_t len, long long *out);

#endif
