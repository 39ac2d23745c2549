#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "fastcgi.h"
#include "request.h"

bool
fastcgi_listening(void)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	struct stat st;

	if (fstat(STDIN_FILENO, &st) == -1 || !S_ISSOCK(st.st_mode))
		return false;
	return getpeername(STDIN_FILENO, (struct sockaddr *)&sa, &len) == -1 &&
	    errno == ENOTCONN;
}

static const char *
fcgi_param(void *ctx, const char *name)
{
	return FCGX_GetParam(name, ((FCGX_Request *)ctx)->envp);
}

static ssize_t
fcgi_read(void *ctx, char *buf, size_t len)
{
	int n, want = len > 65536 ? 65536 : (int)len;

	n = FCGX_GetStr(buf, want, ((FCGX_Request *)ctx)->in);
	return n < 0 ? -1 : (ssize_t)n;
}

static int
fcgi_write(void *ctx, const char *buf, size_t len)
{
	FCGX_Stream *out = ((FCGX_Request *)ctx)->out;

	if (len > 65536)
		return -1;
	/* FCGX_Finish_r() sends it: a flush here would cost a write. */
	return FCGX_PutStr(buf, (int)len, out) == (int)len ? 0 : -1;
}

/*
 * SIGTERM is blocked for the worker's life and read from a signalfd: it
 * never interrupts a read or write of the request in hand (libfcgi takes
 * EINTR for a broken stream), and needs no handler or global flag.
 */
static int
term_fd(void)
{
	sigset_t term;

	(void)sigemptyset(&term);
	(void)sigaddset(&term, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &term, NULL) == -1)
		return -1;
	return signalfd(-1, &term, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* Waits for a connection or SIGTERM; true if a connection is waiting. */
static bool
next_connection(int termfd)
{
	struct pollfd pfd[2];

	pfd[0].fd = STDIN_FILENO;
	pfd[0].events = POLLIN;
	pfd[1].fd = termfd;
	pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			return false;
		}
		return pfd[1].revents == 0 && (pfd[0].revents & POLLIN);
	}
}

static bool
term_pending(int termfd)
{
	struct signalfd_siginfo si;

	return read(termfd, &si, sizeof(si)) == (ssize_t)sizeof(si);
}

int
fastcgi_serve(void)
{
	static struct server srv;
	struct request_io io;
	FCGX_Request req;
	int termfd;

	if ((termfd = term_fd()) == -1 || FCGX_Init() != 0 ||
	    FCGX_InitRequest(&req, STDIN_FILENO, 0) != 0)
		return 1;
	server_init(&srv);
	io.ctx = &req;
	io.param = fcgi_param;
	io.read = fcgi_read;
	io.write = fcgi_write;
	/*
	 * With several workers on one socket, another may take the
	 * connection poll saw: accept then waits for the next one, and a
	 * SIGTERM meanwhile is honoured once that request is answered.
	 */
	while (next_connection(termfd) && FCGX_Accept_r(&req) >= 0) {
		request_handle(&srv, &io);
		FCGX_Finish_r(&req);
		if (term_pending(termfd))
			break;
	}
	server_free(&srv);
	(void)close(termfd);
	return 0;
}
