/*
 * request_io: how one request reaches the handler and its answer leaves.
 *
 * Promises: the same handler serves a CGI process (environment, stdin,
 * stdout) and a FastCGI request (its own parameters and streams); a
 * request's parameters come only from that request.
 */
#ifndef MMOLOVE_REQUEST_IO_H
#define MMOLOVE_REQUEST_IO_H

#include <sys/types.h>

#include <stddef.h>

struct request_io {
	void		*ctx;
	/* A CGI meta-variable, or NULL if the request has none. */
	const char	*(*param)(void *ctx, const char *name);
	/* Reads body bytes: >0 read, 0 at the end, -1 on error. */
	ssize_t		 (*read)(void *ctx, char *buf, size_t len);
	/* Writes all of buf, or returns -1. */
	int		 (*write)(void *ctx, const char *buf, size_t len);
};

/* The CGI flavour: getenv(3), fd 0 and fd 1. */
void	request_io_cgi(struct request_io *io);

#endif
