#include <stdio.h>
#include <string.h>

#include "signature.h"

int
parse_unix_time(const char *s, size_t len, long long *out)
{
	long long n = 0;
	size_t i;

	if (len == 0 || len > UNIX_TIME_DIGITS_MAX)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		n = n * 10 + (s[i] - '0');
	}
	*out = n;
	return 0;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t';
}

struct pair {
	const char	*key;
	size_t		 klen;
	const char	*value;
	size_t		 vlen;
};

/*
 * Steps to the next comma-separated pair at *p, trimmed of spaces.
 * Returns 1 with a pair, 0 at the end, -1 for a part without '='.
 */
static int
next_pair(const char **p, struct pair *pair)
{
	const char *start = *p, *end, *comma, *eq;

	if (start == NULL)
		return 0;
	if ((comma = strchr(start, ',')) == NULL)
		comma = start + strlen(start);
	*p = *comma == ',' ? comma + 1 : NULL;
	end = comma;
	while (start < end && is_space(*start))
		start++;
	while (end > start && is_space(end[-1]))
		end--;
	if ((eq = memchr(start, '=', (size_t)(end - start))) == NULL)
		return -1;
	pair->key = start;
	pair->klen = (size_t)(eq - start);
	pair->value = eq + 1;
	pair->vlen = (size_t)(end - eq - 1);
	return 1;
}

static int
is_key(const struct pair *pair, const char *key)
{
	return pair->klen == strlen(key) &&
	    memcmp(pair->key, key, pair->klen) == 0;
}

static int
signature_t(const struct pair *pair, struct signature_header *sig,
    char *err, size_t errlen)
{
	if (sig->t_text[0] != '\0') {
		(void)snprintf(err, errlen, "t given twice");
		return -1;
	}
	if (parse_unix_time(pair->value, pair->vlen, &sig->t) == -1) {
		(void)snprintf(err, errlen, "t is not a unix time");
		return -1;
	}
	memcpy(sig->t_text, pair->value, pair->vlen);
	sig->t_text[pair->vlen] = '\0';
	return 0;
}

/* A v1 value signature_check() can compare: 64 lower-case hex digits. */
static int
is_v1(const struct pair *pair)
{
	unsigned char mac[DIGEST_LEN];

	return hex_decode_lower(pair->value, pair->vlen, mac, DIGEST_LEN) == 0;
}

/* Why a header without a usable v1 is refused, for the log. */
static void
no_v1(const struct signature_header *sig, char *err, size_t errlen)
{
	if (sig->v1_ignored == 0)
		(void)snprintf(err, errlen, "no v1");
	else
		(void)snprintf(err, errlen, "no well-formed v1 (%zu ignored: "
		    "not 64 lower-case hex digits)", sig->v1_ignored);
}

enum signature_result
signature_parse(const char *header, struct signature_header *sig, char *err,
    size_t errlen)
{
	struct pair pair;
	const char *p = header;
	int rc;

	memset(sig, 0, sizeof(*sig));
	if (header == NULL)
		return SIGNATURE_MISSING;
	sig->text = header;
	while ((rc = next_pair(&p, &pair)) == 1) {
		if (is_key(&pair, "t")) {
			if (signature_t(&pair, sig, err, errlen) == -1)
				return SIGNATURE_GARBLED;
		} else if (is_key(&pair, "v1")) {
			if (is_v1(&pair))
				sig->v1_count++;
			else
				sig->v1_ignored++;
		}
	}
	if (rc == -1) {
		(void)snprintf(err, errlen, "a part has no '='");
		return SIGNATURE_GARBLED;
	}
	if (sig->t_text[0] == '\0') {
		(void)snprintf(err, errlen, "no t");
		return SIGNATURE_GARBLED;
	}
	if (sig->v1_count == 0) {
		no_v1(sig, err, errlen);
		return SIGNATURE_GARBLED;
	}
	return SIGNATURE_OK;
}

static void
signature_mac(const struct hmac_key *key, const char *t, const void *body,
    size_t len, unsigned char mac[DIGEST_LEN])
{
	struct hmac_run run;

	hmac_begin(&run, key);
	hmac_update(&run, t, strlen(t));
	hmac_update(&run, ".", 1);
	hmac_update(&run, body, len);
	hmac_end(&run, mac);
}

size_t
signature_v1s(const struct signature_header *sig,
    unsigned char (*v1)[DIGEST_LEN], size_t max)
{
	struct pair pair;
	const char *p = sig->text;
	size_t n = 0;

	while (n < max && next_pair(&p, &pair) == 1)
		if (is_key(&pair, "v1") && hex_decode_lower(pair.value,
		    pair.vlen, v1[n], DIGEST_LEN) == 0)
			n++;
	return n;
}

/*
 * Every v1 is compared against every secret's MAC, so timing says
 * nothing about which matched.
 */
enum signature_result
signature_check_v1(const char *t_text, const unsigned char (*v1)[DIGEST_LEN],
    size_t count, const struct secret_set *secrets, const void *body,
    size_t len)
{
	unsigned char macs[SECRET_MAX][DIGEST_LEN];
	size_t i, j;
	int match = 0;

	for (i = 0; i < secrets->count; i++)
		signature_mac(&secrets->keys[i], t_text, body, len, macs[i]);
	for (j = 0; j < count; j++)
		for (i = 0; i < secrets->count; i++)
			match |= digest_equal(macs[i], v1[j]);
	wipe(macs, sizeof(macs));
	return match ? SIGNATURE_OK : SIGNATURE_MISMATCH;
}

enum signature_result
signature_check(const struct signature_header *sig,
    const struct secret_set *secrets, const void *body, size_t len)
{
	unsigned char macs[SECRET_MAX][DIGEST_LEN], v1[DIGEST_LEN];
	struct pair pair;
	const char *p = sig->text;
	size_t i;
	int match = 0;

	for (i = 0; i < secrets->count; i++)
		signature_mac(&secrets->keys[i], sig->t_text, body, len,
		    macs[i]);
	/* However many v1 there are, each is compared (see above). */
	while (next_pair(&p, &pair) == 1) {
		if (!is_key(&pair, "v1") || hex_decode_lower(pair.value,
		    pair.vlen, v1, DIGEST_LEN) == -1)
			continue;
		for (i = 0; i < secrets->count; i++)
			match |= digest_equal(macs[i], v1);
	}
	wipe(macs, sizeof(macs));
	return match ? SIGNATURE_OK : SIGNATURE_MISMATCH;
}

long long
signature_age(const struct signature_header *sig, time_t now)
{
	return (long long)now - sig->t;
}

int
signature_fresh(long long age, long tolerance)
{
	if (tolerance == 0)
		return 1;
	return age <= tolerance && age >= -(long long)tolerance;
}

void
signature_sign(const struct hmac_key *key, long long t, const void *body,
    size_t len, char *out, size_t outlen)
{
	unsigned char mac[DIGEST_LEN];
	char hex[DIGEST_HEX_LEN + 1], text[24];

	(void)snprintf(text, sizeof(text), "%lld", t);
	signature_mac(key, text, body, len, mac);
	hex_encode(mac, sizeof(mac), hex);
	(void)snprintf(out, outlen, "t=%lld,v1=%s", t, hex);
}
