/*
 * json: the strict half of JSON handling that jsmn leaves to us.
 *
 * jsmn tokenizes but accepts `{"a"}`, trailing commas, missing commas
 * and `{}{}`.  json_validate() is a full RFC 8259 grammar check, run
 * before jsmn, that the whole input is exactly one object.
 * json_unescape() turns a string token's inside into bytes, with
 * surrogate pairs joined into UTF-8.  No allocation, no recursion.
 *
 * Nesting is bounded: SPEC.md's unknown keys may hold objects and arrays
 * nested at least 64 deep, and JSON_DEPTH_MAX leaves four times that.
 * The bound also bounds jsmn (event.c), which climbs parent links, up to
 * twice the depth, at each closing bracket: a max_body of 1 MiB holding
 * nothing but nests 255 deep parses in about 0.2 s; at 1024 it would be
 * 0.7 s, while 80 000 flat keys take 20 ms.
 */
#ifndef MMOLOVE_JSON_H
#define MMOLOVE_JSON_H

#include <stdbool.h>
#include <stddef.h>

#define JSON_DEPTH_MAX	256	/* containers, the outer object too */

/* 0 if s is one JSON object and nothing else but white space; else -1. */
int	json_validate(const char *s, size_t len, const char **why);

/*
 * Decodes the inside of a JSON string (between the quotes) into out.
 * Returns 0, or -1 with why: a bad escape, a lone surrogate, or more
 * than cap bytes.
 */
int	json_unescape(const char *s, size_t len, unsigned char *out,
	    size_t cap, size_t *outlen, const char **why);

/*
 * The longest decodable start of the same inside, cut to at most cap - 1
 * bytes, never inside an escape or a UTF-8 sequence, NUL-terminated.
 * For showing text that need not be whole (log lines, unverified
 * claims).  Returns true if it had to cut, or something undecodable
 * was dropped.
 */
bool	json_unescape_prefix(const char *s, size_t len, char *out, size_t cap);

#endif
