/*
 * request: one callback, start to finish.
 *
 * Promises: a request flows one way: read -> verify -> parse -> decide
 * -> claim -> grant -> record -> answer, and every request, however it
 * ends, leaves exactly one audit log line.  The grant runs only for an
 * authentic heart.counted whose vote the ledger shows unpaid, while this
 * process holds the vote's claim.  struct server is everything that
 * lives longer than one request, read at start (a FastCGI worker keeps
 * it, and follows edits of the configuration and secret file through
 * server_refresh(), reload.h, between requests); within a request only
 * its body buffer and log sink change.
 */
#ifndef MMOLOVE_REQUEST_H
#define MMOLOVE_REQUEST_H

#include <stdbool.h>

#include "config.h"
#include "ledger.h"
#include "log.h"
#include "message.h"
#include "pay.h"
#include "reload.h"
#include "request_io.h"
#include "secret.h"
#include "vote.h"

struct server {
	struct config	 cfg;
	struct secret_set secrets;
	struct ledger	 ledger;
	struct log_sink	 log;
	bool		 as_root;	/* euid 0: fixed for the process's life */
	bool		 broken;	/* unusable configuration: 500s */
	char		 broken_why[320];
	struct reload_watch watch;
	char		 body[CONFIG_MAX_BODY_LIMIT + 1];
};

#define SERVER_NO_GRANT "no grant program: set grant in the configuration"

/*
 * Reads configuration and secrets; a failure makes every answer a 500.
 * A server is large (the body buffer): give it static storage, whose
 * untouched pages cost nothing.
 */
void	server_init(struct server *srv);
void	server_free(struct server *srv);

/*
 * The whole request in this one process, unconfined: front_gather(),
 * then the decision below, then the answer and the log line.  For the
 * unit tests and fuzzing; servers run the two stages in two processes
 * (privsep.h).
 */
void	request_handle(struct server *srv, const struct request_io *io);

/* The back's side of one request, from a front's message. */
struct request {
	struct server		*srv;
	struct request_msg	*msg;		/* the log points into it */
	long long		 started_ms;
	int			 status;
	const char		*allow;
	const char		*answer;
	struct log_entry	 log;
	struct vote		 vote;
	struct payer		 payer;		/* the log points into it */
};

void	request_begin(struct request *rq, struct server *srv);
/* Checks m (message_check), then decides: verify, parse, pay. */
void	request_decide(struct request *rq, struct request_msg *m);
/* A 500 whose reason names the sandbox (the front died or failed). */
void	request_fail(struct request *rq, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	request_answer(const struct request *rq, struct answer_msg *a);
/* The log line; answered: whether the web server took the answer. */
void	request_end(struct request *rq, bool answered);
/* Writes a's response to io: 0, or -1 if not taken whole. */
int	request_respond(const struct request_io *io,
	    const struct answer_msg *a);

/* Whether the server may run grants (what request_handle() checks). */
bool	server_may_grant(const struct server *srv);

#endif
