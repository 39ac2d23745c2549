/*
 * message: what the front (front.h) tells the back about one request,
 * and the answer the back sends it to write out.
 *
 * Promises: a fixed-size, fixed-format record, then body_len body bytes,
 * over a socketpair between two processes of the same binary.  The
 * message carries only what the decision uses: a few CGI variables, the
 * body, the signature header parsed into (t, v1 values) and the legacy
 * query parsed into (username, ts, sig); nothing is authentic yet.  The
 * back trusts none of it: message_check() bounds every length, ends
 * every string and range-checks every code before any field is used,
 * and the MACs are computed by the back over exactly the bytes it then
 * uses.  A lying front can make the back refuse, never pay a body that
 * MMOLove did not sign.
 */
#ifndef MMOLOVE_MESSAGE_H
#define MMOLOVE_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "event.h"
#include "legacy.h"
#include "signature.h"

#define MSG_METHOD_MAX	32	/* longer methods are cut: never "POST" */
#define MSG_REMOTE_MAX	64	/* an IPv6 address with scope fits */
#define MSG_WHY_MAX	200
/*
 * Well-formed v1 values carried: every one in a header of up to 8 KiB
 * (the usual web-server bound); a header with more is refused as
 * garbled, never cut short.
 */
#define MSG_V1_MAX	128

/* What the front made of the body (POST only). */
enum msg_body {
	MSG_BODY_READ,		/* body_len bytes follow */
	MSG_BODY_NO_LENGTH,	/* 411 */
	MSG_BODY_BAD_LENGTH,	/* 400 */
	MSG_BODY_TOO_LARGE,	/* 413 */
	MSG_BODY_SHORT,		/* 400 */
	MSG_BODY_COUNT
};

/* What a front sends: a request, or that it paused as asked (FastCGI). */
enum msg_kind { MSG_REQUEST = 1, MSG_PAUSED = 2 };

struct request_msg {
	int32_t		 kind;		/* enum msg_kind */
	int32_t		 sandbox_failed; /* 1: why says why; nothing else */
	int32_t		 has_method;
	char		 method[MSG_METHOD_MAX];
	int32_t		 has_remote;
	char		 remote[MSG_REMOTE_MAX];
	int32_t		 body;		/* enum msg_body */
	uint32_t	 body_len;
	char		 why[MSG_WHY_MAX];	/* the front's reason, for the log */
	int32_t		 sig;		/* enum signature_result: OK, MISSING, GARBLED */
	char		 t_text[sizeof(((struct signature_header *)0)->t_text)];
	uint32_t	 v1_count;
	unsigned char	 v1[MSG_V1_MAX][DIGEST_LEN];
	int32_t		 legacy;	/* enum legacy_result */
	char		 username[LEGACY_VALUE_MAX + 1];
	uint32_t	 username_len;
	char		 ts_text[UNIX_TIME_DIGITS_MAX + 1];
	unsigned char	 legacy_sig[DIGEST_LEN];
	/* What the unverified body claims, for a 401's log line alone. */
	struct event_claims claims;
};

/*
 * What the back sends: the answer to the request, or, to a FastCGI
 * front, GO (take one connection), PAUSE (take none until the next GO:
 * the back is busy with the queue; answered MSG_PAUSED once any request
 * in hand is done; an answer is the next GO) or STOP (exit once any request in hand is done).
 * A front that takes connections only after a GO leaves them, while its
 * back is busy, to the other workers on the socket.
 */
enum answer_kind { ANSWER_RESPONSE = 1, ANSWER_STOP, ANSWER_GO,
	ANSWER_PAUSE };

struct answer_msg {
	int32_t		 kind;
	int32_t		 status;
	char		 allow[16];	/* empty: no Allow header */
	char		 body[32];
};

/*
 * Ends every string and checks every code and length of m (as read from
 * a front) against max_body; -1 with why if m cannot be a front's.
 */
int	message_check(struct request_msg *m, size_t max_body, char *why,
	    size_t whylen);

/* Copies a string into a bounded field, cut if need be; "" for NULL. */
void	message_copy(char *dst, size_t len, const char *src);

#endif
