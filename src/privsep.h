/*
 * privsep: a request served by two processes, the front and the back.
 *
 * Promises: the back (the process the web server started, or the
 * FastCGI worker) keeps the secrets, the ledger, the log and the
 * grants, and never reads a byte from the web server.  The front is its
 * child: before it touches any outside byte it wipes its copy of the
 * secrets, closes the log and the ledger, and enters the sandbox
 * (sandbox.h), so a grant, started by the back, never inherits the
 * filter.  The front reads the request (front.h), sends the message,
 * writes the back's answer and tells the back whether the web server
 * took it; the back writes the log line.  If the sandbox cannot be set
 * up the front reads nothing but says so, and the back answers 500
 * with a log line naming the sandbox.  If the front dies (a forbidden
 * call kills it), the back logs one line (500) naming the sandbox and
 * the signal, answers 500 itself where it can, and no grant runs.  A
 * CGI front is forked before the back reads its configuration and
 * secrets (it reads the configuration itself, for max_body, and scrubs
 * MMOLOVE_CALLBACK_SECRET from its environment); it sends its message
 * and exits: the back, which shares the
 * web server's standard output, writes the answer itself (its bytes are
 * the back's own), saving a round trip and a wait.
 */
#ifndef MMOLOVE_PRIVSEP_H
#define MMOLOVE_PRIVSEP_H

#include <sys/types.h>

#include <stdbool.h>

#include "message.h"
#include "request.h"

struct front {
	pid_t	 pid;
	int	 fd;		/* our end of the socketpair */
	bool	 stopping;	/* STOP was sent (FastCGI) */
	bool	 go;		/* the front may take a connection */
	int	 deaths;	/* in a row, with no request served */
};

/* A front's exit status when the listening socket failed. */
#define FRONT_EXIT_LISTEN	2

/*
 * Forks the front.  In the parent returns its pid; in the child returns
 * 0, the secrets wiped, log and ledger closed, with f->fd its end.
 * -1 with errno if it could not.
 */
pid_t	front_fork(struct server *srv, struct front *f);

/*
 * In the front: enters the sandbox; NULL, or why not (a static
 * buffer: the front then reads nothing, see front_refuse).
 */
const char *front_confine(void);

/* What the back asked of a FastCGI front meanwhile (answer_kind). */
#define FRONT_STOP	1
#define FRONT_PAUSE	2

/*
 * In the front, once the request is gathered: sends it, writes the
 * back's answer to io, reports whether it was taken.  -1 if the back
 * is gone, else the FRONT_ bits of what the back asked meanwhile.
 */
int	front_exchange(int fd, const struct request_msg *m, const char *body,
	    const struct request_io *io);

/* In a FastCGI front: tells the back it paused (MSG_PAUSED). */
int	front_paused(int fd);

/* In the back: GO, PAUSE or STOP to the front; 0 or -1. */
int	back_tell(struct front *f, enum answer_kind kind);

/*
 * In the back: one request from the front, start to finish, the
 * answer written to out (CGI) or sent to the front (out NULL).  0; 2 if
 * the front said it paused; 1 if it exited as asked (STOP), -1 if it
 * died (logged, with a 500 on out when given) and must be replaced.
 */
int	back_serve(struct server *srv, struct front *f,
	    const struct request_io *out);

/* The whole CGI request, srv not yet initialised: fork, front, back. */
void	privsep_cgi(struct server *srv);

#endif
