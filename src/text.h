/*
 * text: byte-string rules shared by every parser of outside input.
 *
 * Promises: pure functions over (pointer, length), no allocation.
 */
#ifndef MMOLOVE_TEXT_H
#define MMOLOVE_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Strict UTF-8: no overlongs, no surrogates, nothing above U+10FFFF. */
bool	utf8_valid(const unsigned char *s, size_t len);

/* The value of a hex digit of either case, or -1. */
int	hex_digit(int c);

/*
 * A decimal integer: an optional '-' and 1..max_digits digits, nothing
 * else (JSON's integers, the log's numbers).  0, or -1 if it is not one.
 */
int	decimal_value(const char *s, size_t len, size_t max_digits,
	    long long *out);

/* True if any byte is a C0 control (including NUL) or DEL. */
bool	has_control(const unsigned char *s, size_t len);

/*
 * A name fit to pass on as argv and environment: 1..max bytes, valid
 * UTF-8, no control characters (C0, DEL, or C1: U+0080..U+009F, which a
 * terminal may take as escapes).  Returns NULL or why not.
 */
const char *name_problem(const unsigned char *s, size_t len, size_t max);

/*
 * Appends s as the inside of a JSON string to buf (at *used, capacity
 * cap), escaping quotes, backslashes, controls (C0, DEL, C1) and
 * invalid UTF-8 (as U+FFFD).  Truncates at a character boundary when full; returns false
 * if it had to.
 */
bool	json_escape_append(char *buf, size_t cap, size_t *used,
	    const unsigned char *s, size_t len);

#endif
