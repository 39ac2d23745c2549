/*
 * response: what the web server gets back.
 *
 * Promises: a CGI response of a Status line, Content-Type text/plain,
 * an Allow header when one is given, and a one-line body.  Nothing from
 * the request, the grant or the configuration is ever echoed: the
 * client learns the outcome, never the reason, which goes to the log.
 */
#ifndef MMOLOVE_RESPONSE_H
#define MMOLOVE_RESPONSE_H

#include "request_io.h"

/* Returns 0, or -1 if the web server did not take the whole response. */
int	response_send(const struct request_io *io, int status,
	    const char *allow, const char *body);

const char *response_reason(int status);

#endif
