#include <string.h>

#include "json.h"
#include "text.h"

#define STRINGIFY(x)	STRINGIFY_(x)
#define STRINGIFY_(x)	#x

/*
 * The scan keeps its own stack of open containers, one bit each (set for
 * an object), rather than recursing: its depth is bounded by the size
 * of this array, not by the C stack, and needs no allocation.
 */
struct scan {
	const char	*s;
	size_t		 len;
	size_t		 pos;
	const char	*why;
	unsigned	 depth;		/* containers open */
	unsigned char	 object[(JSON_DEPTH_MAX + 7) / 8];
};

/* What the scan expects next. */
enum next {
	NEXT_FAIL = -1,
	NEXT_VALUE,		/* a value */
	NEXT_AFTER,		/* ',' or a closing bracket, after a value */
	NEXT_END		/* nothing: the outermost value is complete */
};

static int
fail(struct scan *sc, const char *why)
{
	if (sc->why == NULL)
		sc->why = why;
	return -1;
}

static enum next
next_fail(struct scan *sc, const char *why)
{
	(void)fail(sc, why);
	return NEXT_FAIL;
}

static void
skip_space(struct scan *sc)
{
	while (sc->pos < sc->len && (sc->s[sc->pos] == ' ' ||
	    sc->s[sc->pos] == '\t' || sc->s[sc->pos] == '\n' ||
	    sc->s[sc->pos] == '\r'))
		sc->pos++;
}

static int
peek(struct scan *sc)
{
	return sc->pos < sc->len ? (unsigned char)sc->s[sc->pos] : -1;
}

static int
scan_string(struct scan *sc)
{
	int c, i;

	sc->pos++;	/* opening quote */
	while ((c = peek(sc)) != '"') {
		if (c == -1)
			return fail(sc, "unterminated string");
		if (c < 0x20)
			return fail(sc, "raw control character in a string");
		sc->pos++;
		if (c != '\\')
			continue;
		c = peek(sc);
		sc->pos++;
		if (c == 'u') {
			for (i = 0; i < 4; i++, sc->pos++)
				if (hex_digit(peek(sc)) < 0)
					return fail(sc, "bad \\u escape");
		} else if (c <= 0 || strchr("\"\\/bfnrt", c) == NULL)
			return fail(sc, "bad escape");
	}
	sc->pos++;
	return 0;
}

static int
scan_digits(struct scan *sc)
{
	size_t start = sc->pos;

	while (peek(sc) >= '0' && peek(sc) <= '9')
		sc->pos++;
	return sc->pos > start ? 0 : fail(sc, "bad number");
}

static int
scan_number(struct scan *sc)
{
	if (peek(sc) == '-')
		sc->pos++;
	if (peek(sc) == '0')
		sc->pos++;
	else if (scan_digits(sc) == -1)
		return -1;
	if (peek(sc) == '.') {
		sc->pos++;
		if (scan_digits(sc) == -1)
			return -1;
	}
	if (peek(sc) == 'e' || peek(sc) == 'E') {
		sc->pos++;
		if (peek(sc) == '+' || peek(sc) == '-')
			sc->pos++;
		if (scan_digits(sc) == -1)
			return -1;
	}
	return 0;
}

static int
scan_literal(struct scan *sc, const char *word)
{
	size_t n = strlen(word);

	if (sc->len - sc->pos < n || memcmp(sc->s + sc->pos, word, n) != 0)
		return fail(sc, "unexpected character");
	sc->pos += n;
	return 0;
}

static int
in_object(const struct scan *sc)
{
	unsigned d = sc->depth - 1;

	return sc->object[d / 8] >> (d % 8) & 1;
}

static int
closer(const struct scan *sc)
{
	return in_object(sc) ? '}' : ']';
}

/* A member's key and its ':', before its value. */
static enum next
member_key(struct scan *sc)
{
	skip_space(sc);
	if (peek(sc) != '"')
		return next_fail(sc, "object key is not a string");
	if (scan_string(sc) == -1)
		return NEXT_FAIL;
	skip_space(sc);
	if (peek(sc) != ':')
		return next_fail(sc, "missing ':' after a key");
	sc->pos++;
	return NEXT_VALUE;
}

/* At '{' or '[': one level deeper, unless that is too deep. */
static enum next
open_container(struct scan *sc)
{
	unsigned d = sc->depth;
	int object = peek(sc) == '{';

	if (d >= JSON_DEPTH_MAX)
		return next_fail(sc, "objects and arrays nested more than "
		    STRINGIFY(JSON_DEPTH_MAX) " deep");
	if (object)
		sc->object[d / 8] |= (unsigned char)(1u << (d % 8));
	else
		sc->object[d / 8] &= (unsigned char)~(1u << (d % 8));
	sc->depth++;
	sc->pos++;
	skip_space(sc);
	if (peek(sc) == closer(sc)) {
		sc->pos++;
		sc->depth--;
		return NEXT_AFTER;
	}
	return object ? member_key(sc) : NEXT_VALUE;
}

static enum next
scan_scalar(struct scan *sc, int c)
{
	int rc;

	if (c == '"')
		rc = scan_string(sc);
	else if (c == '-' || (c >= '0' && c <= '9'))
		rc = scan_number(sc);
	else if (c == 't')
		rc = scan_literal(sc, "true");
	else if (c == 'f')
		rc = scan_literal(sc, "false");
	else if (c == 'n')
		rc = scan_literal(sc, "null");
	else
		rc = fail(sc, c == -1 ? "empty" : "unexpected character");
	return rc == -1 ? NEXT_FAIL : NEXT_AFTER;
}

static enum next
scan_value(struct scan *sc)
{
	int c;

	skip_space(sc);
	c = peek(sc);
	if (c == '{' || c == '[')
		return open_container(sc);
	return scan_scalar(sc, c);
}

/* After a value: the next member or element, or the container's end. */
static enum next
scan_after(struct scan *sc)
{
	if (sc->depth == 0)
		return NEXT_END;
	skip_space(sc);
	if (peek(sc) == ',') {
		sc->pos++;
		return in_object(sc) ? member_key(sc) : NEXT_VALUE;
	}
	if (peek(sc) == closer(sc)) {
		sc->pos++;
		sc->depth--;
		return NEXT_AFTER;
	}
	return next_fail(sc, "missing ',' or closing bracket");
}

/* One whole value, however deeply its containers nest. */
static int
scan_one(struct scan *sc)
{
	enum next n = NEXT_VALUE;

	while (n != NEXT_END) {
		if (n == NEXT_FAIL)
			return -1;
		n = n == NEXT_VALUE ? scan_value(sc) : scan_after(sc);
	}
	return 0;
}

int
json_validate(const char *s, size_t len, const char **why)
{
	struct scan sc;

	memset(&sc, 0, sizeof(sc));
	sc.s = s;
	sc.len = len;
	skip_space(&sc);
	if (peek(&sc) != '{') {
		*why = "not a JSON object";
		return -1;
	}
	if (scan_one(&sc) == -1) {
		*why = sc.why;
		return -1;
	}
	skip_space(&sc);
	if (sc.pos != len) {
		*why = "text after the JSON object";
		return -1;
	}
	return 0;
}

static long
hex4(const char *s)
{
	long v = 0;
	int i, d;

	for (i = 0; i < 4; i++) {
		if ((d = hex_digit(s[i])) < 0)
			return -1;
		v = v << 4 | d;
	}
	return v;
}

static size_t
utf8_put(unsigned long cp, unsigned char *out)
{
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xc0 | cp >> 6);
		out[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (unsigned char)(0xe0 | cp >> 12);
		out[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (unsigned char)(0xf0 | cp >> 18);
	out[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Reads \uXXXX (and its low half, if a high surrogate) at s[*i]. */
static long
unicode_escape(const char *s, size_t len, size_t *i)
{
	long hi, lo;

	if (len - *i < 4 || (hi = hex4(s + *i)) < 0)
		return -1;
	*i += 4;
	if (hi >= 0xdc00 && hi <= 0xdfff)
		return -1;
	if (hi < 0xd800 || hi > 0xdbff)
		return hi;
	if (len - *i < 6 || s[*i] != '\\' || s[*i + 1] != 'u' ||
	    (lo = hex4(s + *i + 2)) < 0xdc00 || lo > 0xdfff)
		return -1;
	*i += 6;
	return 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
}

static int
simple_escape(char c, unsigned char *out)
{
	static const char from[] = "\"\\/bfnrt";
	static const char to[] = "\"\\/\b\f\n\r\t";
	const char *p;

	if (c == '\0' || (p = strchr(from, c)) == NULL)
		return -1;
	*out = (unsigned char)to[p - from];
	return 0;
}

int
json_unescape(const char *s, size_t len, unsigned char *out, size_t cap,
    size_t *outlen, const char **why)
{
	unsigned char buf[4];
	size_t i = 0, n, used = 0;
	long cp;

	while (i < len) {
		if (s[i] != '\\') {
			buf[0] = (unsigned char)s[i++];
			n = 1;
		} else if (i + 1 < len && s[i + 1] == 'u') {
			i += 2;
			if ((cp = unicode_escape(s, len, &i)) < 0) {
				*why = "a bad or lone-surrogate \\u escape";
				return -1;
			}
			n = utf8_put((unsigned long)cp, buf);
		} else {
			if (i + 1 >= len || simple_escape(s[i + 1], buf) == -1) {
				*why = "a bad escape";
				return -1;
			}
			i += 2;
			n = 1;
		}
		if (cap - used < n) {
			*why = "is too long";
			return -1;
		}
		memcpy(out + used, buf, n);
		used += n;
	}
	*outlen = used;
	return 0;
}

/* The longest escape: a surrogate pair, \uXXXX\uXXXX. */
#define ESCAPE_MAX	12

bool
json_unescape_prefix(const char *s, size_t len, char *out, size_t cap)
{
	size_t n = len < cap - 1 ? len : cap - 1, outlen;
	size_t floor = n > ESCAPE_MAX ? n - ESCAPE_MAX : 0;
	const char *why;
	int split;

	/* Each byte out costs at least one byte in: out cannot overflow. */
	while (json_unescape(s, n, (unsigned char *)out, cap - 1, &outlen,
	    &why) == -1) {
		if (n == floor) {
			out[0] = '\0';
			return len > 0;
		}
		n--;
	}
	/* A cut may split a raw multi-byte character: 3 bytes at most. */
	for (split = 0; n < len && split < 3 && outlen > 0 &&
	    !utf8_valid((unsigned char *)out, outlen); split++)
		outlen--;
	out[outlen] = '\0';
	return n < len;
}
