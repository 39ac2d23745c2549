#include <stdio.h>
#include <string.h>

#include "text.h"

/*
 * Length of the well-formed UTF-8 sequence at s (Unicode table 3-7), or
 * 0 if the bytes there are not one.
 */
static size_t
utf8_sequence(const unsigned char *s, size_t len)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 4;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (len < need)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < need; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return need;
}

bool
utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0, n;

	while (i < len) {
		if ((n = utf8_sequence(s + i, len - i)) == 0)
			return false;
		i += n;
	}
	return true;
}

int
hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool
has_control(const unsigned char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] == 0x7f)
			return true;
	return false;
}

/* U+0080..U+009F, encoded C2 80..C2 9F: C1 controls such as CSI. */
static bool
has_c1_control(const unsigned char *s, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i++)
		if (s[i] == 0xc2 && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f)
			return true;
	return false;
}

const char *
name_problem(const unsigned char *s, size_t len, size_t max)
{
	if (len == 0)
		return "is empty";
	if (len > max)
		return "is too long";
	if (has_control(s, len))
		return "has a control character";
	if (!utf8_valid(s, len))
		return "is not valid UTF-8";
	if (has_c1_control(s, len))
		return "has a control character";
	return NULL;
}

static bool
append(char *buf, size_t cap, size_t *used, const char *s, size_t len)
{
	if (*used + len >= cap)
		return false;
	memcpy(buf + *used, s, len);
	*used += len;
	buf[*used] = '\0';
	return true;
}

bool
json_escape_append(char *buf, size_t cap, size_t *used,
    const unsigned char *s, size_t len)
{
	char esc[8];
	size_t i = 0, n;
	bool ok;

	while (i < len) {
		if (s[i] == '"' || s[i] == '\\') {
			esc[0] = '\\';
			esc[1] = (char)s[i];
			ok = append(buf, cap, used, esc, 2);
			n = 1;
		} else if (s[i] < 0x20 || s[i] == 0x7f) {
			(void)snprintf(esc, sizeof(esc), "\\u%04x", s[i]);
			ok = append(buf, cap, used, esc, 6);
			n = 1;
		} else if ((n = utf8_sequence(s + i, len - i)) == 0) {
			ok = append(buf, cap, used, "\\ufffd", 6);
			n = 1;
		} else if (n == 2 && s[i] == 0xc2 && s[i + 1] <= 0x9f) {
			/* C1 (CSI...): escaped, so `cat` of a log is safe. */
			(void)snprintf(esc, sizeof(esc), "\\u%04x", s[i + 1]);
			ok = append(buf, cap, used, esc, 6);
		} else
			ok = append(buf, cap, used, (const char *)s + i, n);
		if (!ok)
			return false;
		i += n;
	}
	return true;
}

int
decimal_value(const char *s, size_t len, size_t max_digits, long long *out)
{
	size_t i = len > 0 && s[0] == '-';
	long long n = 0;

	if (i == len || len - i > max_digits)
		return -1;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		n = n * 10 + (s[i] - '0');
	}
	*out = s[0] == '-' ? -n : n;
	return 0;
}
