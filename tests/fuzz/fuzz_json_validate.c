/*
 * libFuzzer harness: json_validate() on outside bytes.
 *
 * Invariants (a violation traps): a rejection names a reason; an
 * accepted input holds no NUL byte, starts with '{' and ends with '}'
 * (white space aside), jsmn (strict, with parent links, as event.c
 * uses it) parses it as one object spanning exactly those bytes, more
 * white space after it is still accepted, and the input cut just before
 * its final '}' is not.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define JSMN_STATIC
#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#include "../../src/json.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *why = NULL;
	size_t first = 0, last = size;
	jsmntok_t *tok;
	jsmn_parser parser;
	char *more;
	int n;

	if (json_validate(s, size, &why) != 0) {
		if (why == NULL)
			__builtin_trap();
		return 0;
	}
	if (memchr(s, '\0', size) != NULL)
		__builtin_trap();
	while (first < size && is_space(s[first]))
		first++;
	while (last > first && is_space(s[last - 1]))
		last--;
	if (last - first < 2 || s[first] != '{' || s[last - 1] != '}')
		__builtin_trap();

	/* Whatever json_validate passes, jsmn must read the same way. */
	tok = malloc((size + 1) * sizeof(*tok));
	if (tok == NULL)
		return 0;
	jsmn_init(&parser);
	n = jsmn_parse(&parser, s, size, tok, (unsigned)(size + 1));
	if (n < 1 || tok[0].type != JSMN_OBJECT ||
	    (size_t)tok[0].start != first || (size_t)tok[0].end != last)
		__builtin_trap();
	free(tok);

	/* Trailing white space is fine; the object cut short is not. */
	if ((more = malloc(size + 2)) == NULL)
		return 0;
	memcpy(more, s, size);
	more[size] = ' ';
	more[size + 1] = '\n';
	if (json_validate(more, size + 2, &why) != 0)
		__builtin_trap();
	if (json_validate(more, last - 1, &why) == 0)
		__builtin_trap();
	free(more);
	return 0;
}
