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
#include "reload.h"
#include "request_io.h"
#include "secret.h"

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

void	request_handle(struct server *srv, const struct request_io *io);

/* Whether the server may run grants (what request_handle() checks). */
bool	server_may_grant(const struct server *srv);

#endif
