#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "front.h"

static const char *
param(const struct request_io *io, const char *name)
{
	return io->param(io->ctx, name);
}

static void
refuse(struct request_msg *m, enum msg_body verdict, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
refuse(struct request_msg *m, enum msg_body verdict, const char *fmt, ...)
{
	va_list ap;

	m->body = (int32_t)verdict;
	m->body_len = 0;
	va_start(ap, fmt);
	(void)vsnprintf(m->why, sizeof(m->why), fmt, ap);
	va_end(ap);
}

/* CONTENT_LENGTH as a number within max_body, or a refusal in m. */
static int
content_length(const struct request_io *io, size_t max_body,
    struct request_msg *m, size_t *want)
{
	const char *cl = param(io, "CONTENT_LENGTH");
	unsigned long long n;
	char *end;

	if (cl == NULL || *cl == '\0') {
		refuse(m, MSG_BODY_NO_LENGTH, "POST without CONTENT_LENGTH");
		return -1;
	}
	errno = 0;
	n = strtoull(cl, &end, 10);
	if (cl[0] < '0' || cl[0] > '9' || *end != '\0' || errno != 0) {
		refuse(m, MSG_BODY_BAD_LENGTH, "CONTENT_LENGTH is not a number");
		return -1;
	}
	if (n > max_body) {
		refuse(m, MSG_BODY_TOO_LARGE, "body of %llu bytes is over "
		    "max_body %zu", n, max_body);
		return -1;
	}
	*want = (size_t)n;
	return 0;
}

/* Reads exactly CONTENT_LENGTH bytes into body. */
static int
read_body(const struct request_io *io, size_t max_body, struct request_msg *m,
    char *body)
{
	size_t want, have = 0;
	ssize_t got;

	if (content_length(io, max_body, m, &want) == -1)
		return -1;
	while (have < want) {
		got = io->read(io->ctx, body + have, want - have);
		if (got <= 0)
			break;
		have += (size_t)got;
	}
	if (have < want) {
		refuse(m, MSG_BODY_SHORT, "body ended after %zu of the %zu "
		    "bytes CONTENT_LENGTH announced", have, want);
		return -1;
	}
	body[want] = '\0';
	m->body = MSG_BODY_READ;
	m->body_len = (uint32_t)want;
	return 0;
}

/* The header parsed into t and the decoded v1 values. */
static void
gather_signature(const struct request_io *io, struct request_msg *m)
{
	struct signature_header sig;

	m->sig = (int32_t)signature_parse(param(io, "HTTP_X_MMOLOVE_SIGNATURE"), &sig,
	    m->why, sizeof(m->why));
	if (m->sig != SIGNATURE_OK)
		return;
	if (sig.v1_count > MSG_V1_MAX) {
		m->sig = SIGNATURE_GARBLED;
		(void)snprintf(m->why, sizeof(m->why), "more than %d "
		    "well-formed v1", MSG_V1_MAX);
		return;
	}
	memcpy(m->t_text, sig.t_text, sizeof(m->t_text));
	m->v1_count = (uint32_t)signature_v1s(&sig, m->v1, MSG_V1_MAX);
}

static void
gather_legacy(const struct request_io *io, struct request_msg *m)
{
	struct legacy_query q;

	m->legacy = (int32_t)legacy_parse(param(io, "QUERY_STRING"), &q, m->why,
	    sizeof(m->why));
	if (m->legacy != LEGACY_OK)
		return;
	memcpy(m->username, q.username, q.username_len + 1);
	m->username_len = (uint32_t)q.username_len;
	memcpy(m->ts_text, q.ts_text, sizeof(m->ts_text));
	memcpy(m->legacy_sig, q.sig, sizeof(m->legacy_sig));
}

static void
gather_names(const struct request_io *io, struct request_msg *m)
{
	const char *method = param(io, "REQUEST_METHOD");
	const char *remote = param(io, "REMOTE_ADDR");

	m->has_method = method != NULL;
	message_copy(m->method, sizeof(m->method), method);
	m->has_remote = remote != NULL;
	message_copy(m->remote, sizeof(m->remote), remote);
}

void
front_gather(const struct config *cfg, const struct request_io *io,
    struct request_msg *m, char *body)
{
	memset(m, 0, sizeof(*m));
	m->kind = MSG_REQUEST;
	m->body = MSG_BODY_NO_LENGTH;
	m->sig = SIGNATURE_MISSING;
	m->legacy = LEGACY_BAD_QUERY;
	gather_names(io, m);
	if (strcmp(m->method, "POST") == 0) {
		if (read_body(io, cfg->max_body, m, body) == 0) {
			gather_signature(io, m);
			event_claims(body, m->body_len, &m->claims);
		}
		else if (m->body != MSG_BODY_SHORT)
			front_drain(io, body, cfg->max_body + 1);
		return;
	}
	if (strcmp(m->method, "GET") == 0)
		gather_legacy(io, m);
	front_drain(io, body, cfg->max_body + 1);
}

void
front_refuse(const struct request_io *io, struct request_msg *m,
    const char *why, char *scratch, size_t len)
{
	memset(m, 0, sizeof(*m));
	m->kind = MSG_REQUEST;
	m->sig = SIGNATURE_MISSING;
	m->legacy = LEGACY_BAD_QUERY;
	m->body = MSG_BODY_NO_LENGTH;
	m->sandbox_failed = 1;
	message_copy(m->why, sizeof(m->why), why);
	gather_names(io, m);
	front_drain(io, scratch, len);
}

/*
 * Bounded, so an announced gigabyte costs at most CONFIG_MAX_BODY_LIMIT
 * bytes.
 */
void
front_drain(const struct request_io *io, char *scratch, size_t len)
{
	const char *cl = param(io, "CONTENT_LENGTH");
	unsigned long long left;
	ssize_t got;
	char *end;

	if (cl == NULL || cl[0] < '0' || cl[0] > '9')
		return;
	left = strtoull(cl, &end, 10);
	if (*end != '\0' || left > CONFIG_MAX_BODY_LIMIT)
		left = CONFIG_MAX_BODY_LIMIT;
	while (left > 0) {
		got = io->read(io->ctx, scratch, left < len ? (size_t)left :
		    len);
		if (got <= 0)
			break;
		left -= (unsigned long long)got;
	}
}
