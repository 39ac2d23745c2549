/*
 * json: the strict half of JSON handling that jsmn leaves to us.
 *
 * jsmn tokenizes but accepts `{"a"}`, trailing commas, missing commas
 * and `{}{}`.  json_validate() is a full RFC 8259 grammar check, run
 * before jsmn, that the whole input is exactly one object.
 * json_unescape() turns a string token's inside into bytes, with
 * surrogate pairs joined into UTF-8.  No allocation; nesting is bounded.
 */
#ifndef MMOLOVE_JSON_H
#define MMOLOVE_JSON_H

#include <stddef.h>

#define JSON_DEPTH_MAX	32

/* 0 if s is one JSON object and nothing else but white space; else -1. */
int	json_validate(const char *s, size_t len, const char **why);

/*
 * Decodes the inside of a JSON string (between the quotes) into out.
 * Returns 0, or -1 with why: a bad escape, a lone surrogate, or more
 * than cap bytes.
 */
int	json_unescape(const char *s, size_t len, unsigned char *out,
	    size_t cap, size_t *outlen, const char **why);

#endif
