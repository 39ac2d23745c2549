/*
 * libFuzzer harness: signature_parse() on an X-MMOLove-Signature value
 * (a NUL-terminated copy, as the web server hands it over).
 *
 * Invariants (a violation traps): a header never reads as missing; a
 * garbled one names why; a parsed one keeps the header, has at least
 * one well-formed v1 and a t of 1..11 digits whose value is t, and one
 * more malformed v1 after it changes neither; checking it against
 * a key does not crash; and what signature_sign() writes for that t
 * (over the input as body) parses back and checks OK.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/signature.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A malformed v1 appended to a parsed header is ignored, nothing more. */
static void
malformed_v1_ignored(const char *header, const struct signature_header *sig,
    const struct secret_set *set, const uint8_t *data, size_t size)
{
	static const char more[] = ",v1=bad_signature";
	struct signature_header again;
	size_t len = strlen(header);
	char *longer, err[128];

	if ((longer = malloc(len + sizeof(more))) == NULL)
		return;
	memcpy(longer, header, len);
	memcpy(longer + len, more, sizeof(more));
	if (signature_parse(longer, &again, err, sizeof(err)) !=
	    SIGNATURE_OK || again.t != sig->t ||
	    strcmp(again.t_text, sig->t_text) != 0 ||
	    again.v1_count != sig->v1_count ||
	    again.v1_ignored != sig->v1_ignored + 1 ||
	    signature_check(&again, set, data, size) !=
	    signature_check(sig, set, data, size))
		__builtin_trap();
	free(longer);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct secret_set set;
	struct signature_header sig, back;
	char *header, err[128], out[160];
	enum signature_result r;
	long long t;
	size_t len, i;

	if (set.count == 0)
		hmac_key_init(&set.keys[set.count++], "fuzz-secret", 11);
	if ((header = malloc(size + 1)) == NULL)
		return 0;
	memcpy(header, data, size);
	header[size] = '\0';

	memset(err, 'X', sizeof(err));
	r = signature_parse(header, &sig, err, sizeof(err));
	if (r == SIGNATURE_GARBLED) {
		if (memchr(err, '\0', sizeof(err)) == NULL || err[0] == '\0')
			__builtin_trap();
		free(header);
		return 0;
	}
	if (r != SIGNATURE_OK)
		__builtin_trap();
	if (sig.v1_count < 1 || sig.text != header)
		__builtin_trap();
	if (memchr(sig.t_text, '\0', sizeof(sig.t_text)) == NULL)
		__builtin_trap();
	len = strlen(sig.t_text);
	if (len < 1 || len > UNIX_TIME_DIGITS_MAX)
		__builtin_trap();
	for (i = 0; i < len; i++)
		if (sig.t_text[i] < '0' || sig.t_text[i] > '9')
			__builtin_trap();
	if (parse_unix_time(sig.t_text, len, &t) != 0 || t != sig.t ||
	    sig.t < 0)
		__builtin_trap();
	malformed_v1_ignored(header, &sig, &set, data, size);
	(void)signature_fresh(signature_age(&sig, 1733500000), 300);

	signature_sign(&set.keys[0], sig.t, data, size, out, sizeof(out));
	if (signature_parse(out, &back, err, sizeof(err)) != SIGNATURE_OK ||
	    back.t != sig.t || back.v1_count != 1 ||
	    signature_check(&back, &set, data, size) != SIGNATURE_OK)
		__builtin_trap();
	free(header);
	return 0;
}
