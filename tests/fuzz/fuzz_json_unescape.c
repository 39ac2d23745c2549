/*
 * libFuzzer harness: json_unescape() on outside bytes.
 *
 * The first byte picks the output capacity (0..255); the rest is the
 * inside of a JSON string.  The output buffer is exactly cap bytes of
 * heap, so ASan sees any write past it.  Invariants (a violation
 * traps): the output never exceeds cap nor the input's length; input
 * without a backslash comes out unchanged; valid UTF-8 in gives valid
 * UTF-8 out; a result that fits in cap also fits in exactly its length
 * and not one byte less; and when json_validate() accepts the string
 * inside an object, json_unescape() fails only on a surrogate escape.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/json.h"
#include "../../src/text.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

/* True if s holds \uD800-\uDFFF (either case). */
static int
has_surrogate_escape(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i + 3 < len; i++)
		if (s[i] == '\\' && s[i + 1] == 'u' &&
		    (s[i + 2] == 'd' || s[i + 2] == 'D') &&
		    is_hex(s[i + 3]) && !(s[i + 3] >= '0' && s[i + 3] <= '7'))
			return 1;
	return 0;
}

static int
unescape(const char *s, size_t len, size_t cap, unsigned char **out,
    size_t *outlen)
{
	const char *why = NULL;
	int rc;

	*out = malloc(cap);
	if (*out == NULL && cap > 0)
		abort();
	*outlen = (size_t)-1;
	rc = json_unescape(s, len, *out, cap, outlen, &why);
	if (rc != 0 && rc != -1)
		__builtin_trap();
	if (rc == -1 && why == NULL)
		__builtin_trap();
	if (rc == 0 && *outlen > cap)
		__builtin_trap();
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data + 1;
	unsigned char *out, *again;
	size_t cap, len, outlen, againlen;
	const char *why;
	char *wrapped;

	if (size < 1)
		return 0;
	cap = data[0];
	len = size - 1;

	if (unescape(s, len, cap, &out, &outlen) == 0) {
		if (outlen > len)
			__builtin_trap();
		if (memchr(s, '\\', len) == NULL &&
		    (outlen != len || memcmp(out, s, len) != 0))
			__builtin_trap();
		if (utf8_valid((const unsigned char *)s, len) &&
		    !utf8_valid(out, outlen))
			__builtin_trap();
		/* Exactly its length is room enough, one byte less is not. */
		if (unescape(s, len, outlen, &again, &againlen) != 0 ||
		    againlen != outlen || memcmp(again, out, outlen) != 0)
			__builtin_trap();
		free(again);
		if (outlen > 0) {
			if (unescape(s, len, outlen - 1, &again,
			    &againlen) != -1)
				__builtin_trap();
			free(again);
		}
	}
	free(out);

	/* {"k":"<s>"}: what the validator passes, unescape must decode. */
	wrapped = malloc(len + 8);
	if (wrapped == NULL)
		return 0;
	memcpy(wrapped, "{\"k\":\"", 6);
	memcpy(wrapped + 6, s, len);
	memcpy(wrapped + 6 + len, "\"}", 2);
	if (json_validate(wrapped, len + 8, &why) == 0) {
		if (unescape(s, len, len, &out, &outlen) == -1 &&
		    !has_surrogate_escape(s, len))
			__builtin_trap();
		free(out);
	}
	free(wrapped);
	return 0;
}
