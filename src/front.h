/*
 * front: the stage that touches unauthenticated bytes.
 *
 * Promises: front_gather() reads one request from a request_io (the CGI
 * variables the decision uses, the body up to max_body, the signature
 * header, the legacy query) into a bounded message (message.h) and
 * decides nothing that needs a secret: it holds none.  It reads the
 * whole body, or drains a refused one up to CONFIG_MAX_BODY_LIMIT (a
 * CGI program that exits with its input unread makes Apache's mod_cgid
 * reset the connection).  It runs in the sandboxed front process
 * (privsep.h) or, for tests and fuzzing, in the one process of
 * request_handle().
 */
#ifndef MMOLOVE_FRONT_H
#define MMOLOVE_FRONT_H

#include "config.h"
#include "message.h"
#include "request_io.h"

/* Fills m; body (max_body + 1 bytes at least) receives body_len bytes. */
void	front_gather(const struct config *cfg, const struct request_io *io,
	    struct request_msg *m, char *body);

/*
 * Without a sandbox: only the method and address (for the log line),
 * the body dropped unread, and why the sandbox failed.
 */
void	front_refuse(const struct request_io *io, struct request_msg *m,
	    const char *why, char *scratch, size_t len);

/* Reads and drops the body CONTENT_LENGTH announces, bounded. */
void	front_drain(const struct request_io *io, char *scratch, size_t len);

#endif
