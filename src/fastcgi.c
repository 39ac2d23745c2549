#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "fastcgi.h"
#include "queue.h"
#include "request.h"
#include "sys.h"

/* An idle worker looks for a due queued vote this often. */
#define IDLE_MS	1000

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
 * SIGQUIT too, the graceful stop of nginx and php-fpm: multiwatch 1.0.0
 * (Debian 12), which supervises the workers of scripts/
 * mmolove-fcgi.service, sends it for "-s TERM".
 */
static int
term_fd(void)
{
	sigset_t term;

	(void)sigemptyset(&term);
	(void)sigaddset(&term, SIGTERM);
	(void)sigaddset(&term, SIGQUIT);
	if (sigprocmask(SIG_BLOCK, &term, NULL) == -1)
		return -1;
	return signalfd(-1, &term, SFD_CLOEXEC | SFD_NONBLOCK);
}

enum wake { WAKE_CONNECTION, WAKE_IDLE, WAKE_STOP };

/*
 * Waits up to timeout_ms for a connection or SIGTERM.  WAKE_IDLE: the
 * time passed with no connection waiting.
 */
static enum wake
next_wake(int termfd, int timeout_ms)
{
	struct pollfd pfd[2];
	int n;

	pfd[0].fd = STDIN_FILENO;
	pfd[0].events = POLLIN;
	pfd[1].fd = termfd;
	pfd[1].events = POLLIN;
	while ((n = poll(pfd, 2, timeout_ms)) == -1)
		if (errno != EINTR)
			return WAKE_STOP;
	if (n == 0)
		return WAKE_IDLE;
	if (pfd[1].revents != 0 || !(pfd[0].revents & POLLIN))
		return WAKE_STOP;
	return WAKE_CONNECTION;
}

/* Milliseconds until the next idle check, for poll(2). */
static int
until(long long when_ms)
{
	long long left = when_ms - monotonic_ms();

	return left <= 0 ? 0 : left > IDLE_MS ? IDLE_MS : (int)left;
}

/*
 * An idle moment: at most one queued vote is paid (queue.h), so a
 * connection that arrives meanwhile waits for one grant at most.  Both
 * grant modes: in sync mode queue/ holds only the votes --replay made
 * due, and paying them is what --replay asked for.  Returns when the
 * next idle check is due: at once after a vote was tried (a backlog
 * drains at full speed while nobody calls), else a second on.
 */
static long long
idle(struct server *srv, struct queue_idle *qi)
{
	if (server_may_grant(srv) &&
	    queue_drain_one(&srv->cfg, &srv->ledger, &srv->log, qi) == 1)
		return monotonic_ms();
	return monotonic_ms() + IDLE_MS;
}

/*
 * O_NONBLOCK is shared by every worker on the socket (one open file),
 * which all want it; accepted connections do not inherit it on Linux.
 */
static int
nonblocking(int fd)
{
	int fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1)
		return -1;
	return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
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
	struct queue_idle qi;
	struct request_io io;
	FCGX_Request req;
	long long idle_at;
	enum wake w;
	int termfd, rc;

	if ((termfd = term_fd()) == -1 || FCGX_Init() != 0 ||
	    FCGX_InitRequest(&req, STDIN_FILENO, 0) != 0)
		return 1;
	server_init(&srv);
	io.ctx = &req;
	io.param = fcgi_param;
	io.read = fcgi_read;
	io.write = fcgi_write;
	memset(&qi, 0, sizeof(qi));
	idle_at = monotonic_ms() + IDLE_MS;
	/*
	 * With several workers on one socket, another may take the
	 * connection poll saw: the socket is non-blocking, so accept then
	 * fails with EAGAIN and the worker goes back to poll, where SIGTERM
	 * and idle moments reach it (blocked in accept, it would see
	 * neither until the next connection).  The idle check comes at
	 * least once a second even under steady traffic, but only when
	 * poll found no connection waiting.
	 */
	if (nonblocking(STDIN_FILENO) == -1) {
		server_free(&srv);
		(void)close(termfd);
		return 1;
	}
	while ((w = next_wake(termfd, until(idle_at))) != WAKE_STOP) {
		server_refresh(&srv);
		if (w == WAKE_IDLE)
			idle_at = idle(&srv, &qi);
		else if ((rc = FCGX_Accept_r(&req)) >= 0) {
			request_handle(&srv, &io);
			FCGX_Finish_r(&req);
		} else if (rc != -EAGAIN && rc != -EWOULDBLOCK)
			break;
		if (term_pending(termfd))
			break;
	}
	server_free(&srv);
	(void)close(termfd);
	return 0;
}
