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

/* Handles one "key=value" pair, already trimmed. */
static int
signature_pair(const char *p, size_t len, struct signature_header *sig,
    int *have_t, char *err, size_t errlen)
{
	const char *eq = memchr(p, '=', len);
	size_t klen, vlen;
	const char *v;

	if (eq == NULL) {
		(void)snprintf(err, errlen, "a part has no '='");
		return -1;
	}
	klen = (size_t)(eq - p);
	v = eq + 1;
	vlen = len - klen - 1;
	if (klen == 1 && p[0] == 't') {
		if (*have_t) {
			(void)snprintf(err, errlen, "t given twice");
			return -1;
		}
		if (parse_unix_time(v, vlen, &sig->t) == -1) {
			(void)snprintf(err, errlen, "t is not a unix time");
			return -1;
		}
		memcpy(sig->t_text, v, vlen);
		sig->t_text[vlen] = '\0';
		*have_t = 1;
	} else if (klen == 2 && p[0] == 'v' && p[1] == '1') {
		if (sig->v1_count == SIGNATURE_V1_MAX) {
			(void)snprintf(err, errlen, "more than %d v1 values",
			    SIGNATURE_V1_MAX);
			return -1;
		}
		if (hex_decode_lower(v, vlen, sig->v1[sig->v1_count],
		    DIGEST_LEN) == -1) {
			(void)snprintf(err, errlen, "v1 is not 64 lower-case "
			    "hex digits");
			return -1;
		}
		sig->v1_count++;
	}
	return 0;
}

enum signature_result
signature_parse(const char *header, struct signature_header *sig, char *err,
    size_t errlen)
{
	const char *p, *end, *comma;
	int have_t = 0;

	memset(sig, 0, sizeof(*sig));
	if (header == NULL)
		return SIGNATURE_MISSING;
	for (p = header; ; p = comma + 1) {
		if ((comma = strchr(p, ',')) == NULL)
			comma = p + strlen(p);
		end = comma;
		while (p < end && is_space(*p))
			p++;
		while (end > p && is_space(end[-1]))
			end--;
		if (signature_pair(p, (size_t)(end - p), sig, &have_t, err,
		    errlen) == -1)
			return SIGNATURE_GARBLED;
		if (*comma == '\0')
			break;
	}
	if (!have_t) {
		(void)snprintf(err, errlen, "no t");
		return SIGNATURE_GARBLED;
	}
	if (sig->v1_count == 0) {
		(void)snprintf(err, errlen, "no v1");
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

enum signature_result
signature_check(const struct signature_header *sig,
    const struct secret_set *secrets, const void *body, size_t len)
{
	unsigned char mac[DIGEST_LEN];
	size_t i, j;
	int match = 0;

	/* Every pair is compared, so timing says nothing about which. */
	for (i = 0; i < secrets->count; i++) {
		signature_mac(&secrets->keys[i], sig->t_text, body, len, mac);
		for (j = 0; j < sig->v1_count; j++)
			match |= digest_equal(mac, sig->v1[j]);
	}
	wipe(mac, sizeof(mac));
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
