/*
 * fastcgi: the FastCGI responder, with libfcgi.
 *
 * Promises: configuration and secrets are read at start, and again
 * when their files change (reload.h: looked at before each request or
 * idle moment, at most once a second); each request is served from its
 * own parameters and streams only (nothing of one request reaches the
 * next, and no request parameter overrides the configuration); SIGTERM (or SIGQUIT) lets the request in hand
 * finish, then the worker exits.  Between requests, a worker pays due
 * queued votes one grant at a time (queue.h).
 */
#ifndef MMOLOVE_FASTCGI_H
#define MMOLOVE_FASTCGI_H

#include <stdbool.h>

/* True if standard input is a listening socket (spawn-fcgi and kin). */
bool	fastcgi_listening(void);

/* Serves requests until SIGTERM or the listening socket fails. */
int	fastcgi_serve(void);

#ifdef MMOLOVE_BENCH_INPROCESS
/* Bench only (bench/bench.mk): every request in this one process. */
int	fastcgi_serve_inprocess(void);
#endif

#endif
