/*
 * libFuzzer harness: legacy_parse() on a QUERY_STRING (a NUL-terminated
 * copy, as the web server hands it over).
 *
 * Invariants (a violation traps): the result is one of the four; a
 * failure names why; a parsed query whose name legacy_name() accepts
 * has a clean username (name_problem),
 * a ts of 1..11 digits whose value is ts, and a sig; legacy_heart_id()
 * is legacy-<ts>-<16 hex> and fits 48 bytes; and legacy_sign() of that
 * username and ts parses back to the same and checks OK.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/legacy.h"
#include "../../src/text.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct secret_set set;
	struct legacy_query q, back;
	char *query, why[160], id[48], want[48], out[1024];
	enum legacy_result r;
	long long ts;
	size_t len, i;

	if (set.count == 0)
		hmac_key_init(&set.keys[set.count++], "fuzz-secret", 11);
	if ((query = malloc(size + 1)) == NULL)
		return 0;
	memcpy(query, data, size);
	query[size] = '\0';

	memset(why, 'X', sizeof(why));
	r = legacy_parse(query, &q, why, sizeof(why));
	free(query);
	if (r == LEGACY_BAD_QUERY || r == LEGACY_NO_SIG ||
	    r == LEGACY_BAD_SIG) {
		if (memchr(why, '\0', sizeof(why)) == NULL || why[0] == '\0')
			__builtin_trap();
		return 0;
	}
	if (r != LEGACY_OK || !q.has_sig)
		__builtin_trap();
	if (q.username_len > LEGACY_VALUE_MAX ||
	    q.username[q.username_len] != '\0')
		__builtin_trap();
	/* The name is judged after the signature; unfit names stop here. */
	if (legacy_name(&q) != NULL)
		return 0;
	if (strlen(q.username) != q.username_len ||
	    name_problem((const unsigned char *)q.username, q.username_len,
	    EVENT_NAME_MAX) != NULL)
		__builtin_trap();
	if (memchr(q.ts_text, '\0', sizeof(q.ts_text)) == NULL)
		__builtin_trap();
	len = strlen(q.ts_text);
	for (i = 0; i < len; i++)
		if (q.ts_text[i] < '0' || q.ts_text[i] > '9')
			__builtin_trap();
	if (parse_unix_time(q.ts_text, len, &ts) != 0 || ts != q.ts)
		__builtin_trap();
	(void)legacy_check(&q, &set);

	legacy_heart_id(&q, id, sizeof(id));
	(void)snprintf(want, sizeof(want), "legacy-%s-", q.ts_text);
	if (strncmp(id, want, strlen(want)) != 0 ||
	    strlen(id) != strlen(want) + 16 ||
	    strspn(id + strlen(want), "0123456789abcdef") != 16)
		__builtin_trap();

	if (legacy_sign(&set.keys[0], q.username, q.ts, out, sizeof(out)) !=
	    0)
		__builtin_trap();
	if (legacy_parse(out, &back, why, sizeof(why)) != LEGACY_OK ||
	    strcmp(back.username, q.username) != 0 || back.ts != q.ts ||
	    legacy_check(&back, &set) != LEGACY_OK)
		__builtin_trap();
	return 0;
}
