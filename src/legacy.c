#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "legacy.h"
#include "text.h"

/* Decodes %XX and '+'; returns the length, or -1 on a bad escape/size. */
static long
url_decode(const char *s, size_t len, char *out, size_t cap)
{
	size_t i, n = 0;
	int hi, lo;

	for (i = 0; i < len; i++) {
		if (n == cap)
			return -1;
		if (s[i] == '+')
			out[n++] = ' ';
		else if (s[i] != '%')
			out[n++] = s[i];
		else {
			if (i + 2 >= len || (hi = hex_digit(s[i + 1])) < 0 ||
			    (lo = hex_digit(s[i + 2])) < 0)
				return -1;
			out[n++] = (char)(hi << 4 | lo);
			i += 2;
		}
	}
	return (long)n;
}

enum param {
	PARAM_USERNAME,
	PARAM_TS,
	PARAM_SIG,
	PARAM_OTHER
};

static enum param
param_name(const char *s, size_t len)
{
	if (len == 8 && memcmp(s, "username", 8) == 0)
		return PARAM_USERNAME;
	if (len == 2 && memcmp(s, "ts", 2) == 0)
		return PARAM_TS;
	if (len == 3 && memcmp(s, "sig", 3) == 0)
		return PARAM_SIG;
	return PARAM_OTHER;
}

static enum legacy_result
legacy_value(struct legacy_query *q, enum param p, const char *v, size_t vlen,
    char *why, size_t whylen)
{
	char buf[LEGACY_VALUE_MAX + 1];
	long n;
	size_t i;

	if (vlen > LEGACY_VALUE_MAX ||
	    (n = url_decode(v, vlen, buf, LEGACY_VALUE_MAX)) < 0) {
		(void)snprintf(why, whylen, "a bad %%-escape or an over-long "
		    "parameter");
		return LEGACY_BAD_QUERY;
	}
	if (p == PARAM_USERNAME) {
		memcpy(q->username, buf, (size_t)n);
		q->username[n] = '\0';
		q->username_len = (size_t)n;
	} else if (p == PARAM_TS) {
		if (parse_unix_time(buf, (size_t)n, &q->ts) == -1) {
			(void)snprintf(why, whylen, "ts is not a unix time");
			return LEGACY_BAD_QUERY;
		}
		memcpy(q->ts_text, buf, (size_t)n);
		q->ts_text[n] = '\0';
	} else {
		for (i = 0; i < (size_t)n; i++)
			buf[i] = (char)tolower((unsigned char)buf[i]);
		if (hex_decode_lower(buf, (size_t)n, q->sig, DIGEST_LEN) ==
		    -1) {
			(void)snprintf(why, whylen, "sig is not 64 hex digits");
			return LEGACY_BAD_SIG;
		}
		q->has_sig = true;
	}
	return LEGACY_OK;
}

enum legacy_result
legacy_parse(const char *query, struct legacy_query *q, char *why,
    size_t whylen)
{
	static const char *const names[] = { "username", "ts", "sig" };
	const char *p, *end, *eq, *value;
	unsigned seen = 0;
	enum legacy_result r;
	enum param which;

	memset(q, 0, sizeof(*q));
	for (p = query != NULL ? query : ""; *p != '\0';
	    p = *end == '&' ? end + 1 : end) {
		end = p + strcspn(p, "&");
		eq = memchr(p, '=', (size_t)(end - p));
		value = eq != NULL ? eq + 1 : end;
		which = param_name(p, (size_t)((eq != NULL ? eq : end) - p));
		if (which == PARAM_OTHER)
			continue;
		if (seen & 1u << which) {
			(void)snprintf(why, whylen, "%s given twice",
			    names[which]);
			return LEGACY_BAD_QUERY;
		}
		seen |= 1u << which;
		r = legacy_value(q, which, value, (size_t)(end - value), why,
		    whylen);
		if (r != LEGACY_OK)
			return r;
	}
	if (!(seen & 1u << PARAM_USERNAME) || !(seen & 1u << PARAM_TS)) {
		(void)snprintf(why, whylen, "%s is missing",
		    !(seen & 1u << PARAM_USERNAME) ? "username" : "ts");
		return LEGACY_BAD_QUERY;
	}
	if (!q->has_sig) {
		(void)snprintf(why, whylen, "sig is missing");
		return LEGACY_NO_SIG;
	}
	return LEGACY_OK;
}

static void
legacy_mac(const struct hmac_key *key, const char *username, size_t len,
    const char *ts, unsigned char mac[DIGEST_LEN])
{
	struct hmac_run run;

	hmac_begin(&run, key);
	hmac_update(&run, username, len);
	hmac_update(&run, "|", 1);
	hmac_update(&run, ts, strlen(ts));
	hmac_end(&run, mac);
}

enum legacy_result
legacy_check(const struct legacy_query *q, const struct secret_set *secrets)
{
	unsigned char mac[DIGEST_LEN];
	size_t i;
	int match = 0;

	for (i = 0; i < secrets->count; i++) {
		legacy_mac(&secrets->keys[i], q->username, q->username_len,
		    q->ts_text, mac);
		match |= digest_equal(mac, q->sig);
	}
	wipe(mac, sizeof(mac));
	return match ? LEGACY_OK : LEGACY_BAD_SIG;
}

const char *
legacy_name(const struct legacy_query *q)
{
	return name_problem((const unsigned char *)q->username,
	    q->username_len, EVENT_NAME_MAX);
}

void
legacy_heart_id(const struct legacy_query *q, char *out, size_t len)
{
	unsigned char d[DIGEST_LEN];
	char hex[DIGEST_HEX_LEN + 1];

	sha256(q->username, strlen(q->username), d);
	hex_encode(d, sizeof(d), hex);
	(void)snprintf(out, len, "legacy-%s-%.16s", q->ts_text, hex);
}

int
legacy_sign(const struct hmac_key *key, const char *username, long long ts,
    char *out, size_t len)
{
	static const char digits[] = "0123456789ABCDEF";
	unsigned char mac[DIGEST_LEN], c;
	char hex[DIGEST_HEX_LEN + 1], ts_text[24];
	size_t used = 0;
	int n;

	(void)snprintf(ts_text, sizeof(ts_text), "%lld", ts);
	legacy_mac(key, username, strlen(username), ts_text, mac);
	hex_encode(mac, sizeof(mac), hex);
	n = snprintf(out, len, "username=");
	if (n < 0 || (size_t)n >= len)
		return -1;
	used = (size_t)n;
	for (; *username != '\0'; username++) {
		c = (unsigned char)*username;
		if (len - used < 4)
			return -1;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
		    c == '~')
			out[used++] = (char)c;
		else {
			out[used++] = '%';
			out[used++] = digits[c >> 4];
			out[used++] = digits[c & 0xf];
		}
	}
	n = snprintf(out + used, len - used, "&ts=%s&sig=%s", ts_text, hex);
	return n < 0 || (size_t)n >= len - used ? -1 : 0;
}
