#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "message.h"

#define END(field)	((field)[sizeof(field) - 1] = '\0')

void
message_copy(char *dst, size_t len, const char *src)
{
	(void)snprintf(dst, len, "%s", src != NULL ? src : "");
}

/* Flags and codes a front might have set to anything. */
static int
codes_ok(const struct request_msg *m)
{
	return m->kind == MSG_REQUEST &&
	    (m->sandbox_failed == 0 || m->sandbox_failed == 1) &&
	    (m->has_method == 0 || m->has_method == 1) &&
	    (m->has_remote == 0 || m->has_remote == 1) &&
	    m->body >= 0 && m->body < MSG_BODY_COUNT &&
	    (m->sig == SIGNATURE_OK || m->sig == SIGNATURE_MISSING ||
	    m->sig == SIGNATURE_GARBLED) &&
	    m->legacy >= LEGACY_OK && m->legacy <= LEGACY_BAD_SIG;
}

int
message_check(struct request_msg *m, size_t max_body, char *why,
    size_t whylen)
{
	long long ts;

	END(m->method);
	END(m->remote);
	END(m->why);
	END(m->t_text);
	END(m->ts_text);
	END(m->claims.event);
	END(m->claims.heart_id);
	END(m->claims.username);
	if (!codes_ok(m))
		(void)snprintf(why, whylen, "a code out of range");
	else if (m->body == MSG_BODY_READ && m->body_len > max_body)
		(void)snprintf(why, whylen, "a body over max_body");
	else if (m->body != MSG_BODY_READ && m->body_len != 0)
		(void)snprintf(why, whylen, "a body with a refusal");
	else if (m->v1_count > MSG_V1_MAX)
		(void)snprintf(why, whylen, "too many v1 values");
	else if (m->username_len > LEGACY_VALUE_MAX)
		(void)snprintf(why, whylen, "a username over its bound");
	else if (m->legacy == LEGACY_OK && parse_unix_time(m->ts_text,
	    strlen(m->ts_text), &ts) == -1)
		(void)snprintf(why, whylen, "a ts that is not a unix time");
	else {
		m->username[m->username_len] = '\0';
		return 0;
	}
	return -1;
}

