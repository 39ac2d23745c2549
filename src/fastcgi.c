#include <sys/signalfd.h>
#include <sys/time.h>
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
#include "front.h"
#include "privsep.h"
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

enum wake { WAKE_FRONT, WAKE_IDLE, WAKE_STOP };

/*
 * The back waits up to timeout_ms for a request from its front or for
 * SIGTERM.  WAKE_IDLE: the time passed with no request waiting.
 */
static enum wake
next_wake(int frontfd, int termfd, int timeout_ms)
{
	struct pollfd pfd[2];
	int n;

	pfd[0].fd = frontfd;
	pfd[0].events = POLLIN;
	pfd[1].fd = termfd;
	pfd[1].events = POLLIN;
	while ((n = poll(pfd, 2, timeout_ms)) == -1)
		if (errno != EINTR)
			return WAKE_STOP;
	if (n == 0)
		return WAKE_IDLE;
	if (pfd[0].revents != 0)
		return WAKE_FRONT;
	return WAKE_STOP;
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

/*
 * A connection has FRONT_BOUND_S to deliver its whole request (records
 * and body) once the front takes it: SIGALRM, whose handler does
 * nothing but is installed without SA_RESTART, interrupts the read, and
 * libfcgi takes EINTR for a broken stream and closes it.  The timer
 * repeats so that a connection libfcgi takes next, in the same call,
 * gets its own bound.
 */
#define FRONT_BOUND_S	10

static void
on_alarm(int sig)
{
	(void)sig;
}

static int
bound(long seconds)
{
	struct itimerval it;

	memset(&it, 0, sizeof(it));
	it.it_value.tv_sec = it.it_interval.tv_sec = seconds;
	return setitimer(ITIMER_REAL, &it, NULL);
}

static int
front_alarm(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	(void)sigemptyset(&sa.sa_mask);
	return sigaction(SIGALRM, &sa, NULL);
}

/*
 * The front waits for the back's GO (answering PAUSE with PAUSED); false
 * on STOP, or if the back is gone.
 */
static bool
front_await_go(int backfd)
{
	struct answer_msg a;

	for (;;) {
		if (read_exact(backfd, &a, sizeof(a)) == -1 ||
		    a.kind == ANSWER_STOP)
			return false;
		if (a.kind == ANSWER_GO)
			return true;
		if (a.kind == ANSWER_PAUSE && front_paused(backfd) == -1)
			return false;
	}
}

/*
 * After a GO: true once a connection waits, false if the back spoke
 * and none does.  A waiting connection comes first: the back's PAUSE
 * may follow its GO at once (a backlog drains at full speed), and the
 * connection must not wait behind the next queued grant.
 */
static bool
front_wait(int backfd)
{
	struct pollfd pfd[2];

	pfd[0].fd = STDIN_FILENO;
	pfd[0].events = POLLIN;
	pfd[1].fd = backfd;
	pfd[1].events = POLLIN;
	while (poll(pfd, 2, -1) == -1)
		if (errno != EINTR)
			return false;
	return (pfd[0].revents & POLLIN) || pfd[1].revents == 0;
}

/*
 * One connection, if one is still there: -3 none (another worker took
 * it), -2 the listening socket failed, -1 the back is gone, else what
 * the back asked meanwhile (front_exchange).
 */
static int
front_one(struct server *srv, FCGX_Request *req, int backfd,
    const char *unconfined)
{
	static struct request_msg m;
	struct request_io io = { req, fcgi_param, fcgi_read, fcgi_write };
	int rc;

	if (bound(FRONT_BOUND_S) == -1)
		return -2;
	if ((rc = FCGX_Accept_r(req)) < 0) {
		(void)bound(0);
		return rc == -EAGAIN || rc == -EWOULDBLOCK ? -3 : -2;
	}
	if (unconfined == NULL)
		front_gather(&srv->cfg, &io, &m, srv->body);
	else
		front_refuse(&io, &m, unconfined, srv->body,
		    sizeof(srv->body));
	(void)bound(0);
	rc = front_exchange(backfd, &m, srv->body, &io);
	FCGX_Finish_r(req);
	return rc;
}

/*
 * The back spoke while the front waited for a connection: PAUSE (say
 * PAUSED, then wait for the next GO: 0) or STOP (1).
 */
static int
front_await_go_again(int backfd)
{
	struct answer_msg a;

	if (read_exact(backfd, &a, sizeof(a)) == -1 || a.kind != ANSWER_PAUSE)
		return 1;
	return front_paused(backfd) == -1;
}

/*
 * After a GO, until one request is done: 0 (the answer was the next
 * GO), FRONT_PAUSED (wait for a GO), else the front's exit status
 * (FRONT_EXIT_LISTEN: the worker ends too).
 */
#define FRONT_PAUSED	3

static int
front_turn(struct server *srv, FCGX_Request *req, int backfd,
    const char *unconfined)
{
	int rc;

	do {
		if (!front_wait(backfd))
			return front_await_go_again(backfd) == 0 ?
			    FRONT_PAUSED : 1;
	} while ((rc = front_one(srv, req, backfd, unconfined)) == -3);
	if (rc == -2)
		return FRONT_EXIT_LISTEN;
	if (rc == -1 || (rc & FRONT_STOP))
		return 1;
	if (rc & FRONT_PAUSE)
		return front_paused(backfd) == -1 ? 1 : FRONT_PAUSED;
	return 0;
}

/*
 * The front's life: libfcgi set up, then the sandbox, then a request at
 * each GO (an answer is the next GO) until the back says STOP or goes
 * away.
 */
static void
front_main(struct server *srv, int backfd)
{
	FCGX_Request req;
	const char *unconfined;
	int rc = 0;

	if (front_alarm() == -1 || FCGX_Init() != 0 ||
	    FCGX_InitRequest(&req, STDIN_FILENO, 0) != 0)
		_exit(FRONT_EXIT_LISTEN);
	unconfined = front_confine();
	if (!front_await_go(backfd))
		_exit(0);
	while ((rc = front_turn(srv, &req, backfd, unconfined)) == 0 ||
	    (rc == FRONT_PAUSED && front_await_go(backfd)))
		;
	_exit(rc == FRONT_EXIT_LISTEN ? FRONT_EXIT_LISTEN : 0);
}

/* A new front; false if none could be started (the worker ends). */
static bool
front_start(struct server *srv, struct front *f, int termfd)
{
	switch (front_fork(srv, f)) {
	case -1:
		return false;
	case 0:
		(void)close(termfd);
		front_main(srv, f->fd);
		break;
	default:
		break;
	}
	return true;
}

static bool front_again(struct server *, struct front *, int, int);

/* SIGTERM: the front finishes the request in hand, then exits. */
static void
front_stop(struct front *f)
{
	if (!f->stopping && back_tell(f, ANSWER_STOP) == -1)
		(void)kill(f->pid, SIGKILL);
	f->stopping = true;
}

/*
 * An idle moment: the front is paused first (a request it took before
 * the PAUSE is served), so no connection waits on this worker while it
 * pays a queued vote.  The back's status (back_serve) if the front
 * went away meanwhile, else 0.
 */
static int
back_idle(struct server *srv, struct front *f, struct queue_idle *qi,
    long long *idle_at)
{
	int rc;

	if (back_tell(f, ANSWER_PAUSE) == -1)
		return back_serve(srv, f, NULL);
	while ((rc = back_serve(srv, f, NULL)) == 0)
		;
	if (rc != 2)
		return rc;
	*idle_at = idle(srv, qi);
	f->go = false;
	return 0;
}

/* One wake of the back; nonzero: the worker ends. */
static int
back_turn(struct server *srv, struct front *f, struct queue_idle *qi,
    long long *idle_at, int termfd)
{
	enum wake w;
	int rc = 0;

	if (!f->go && !f->stopping && back_tell(f, ANSWER_GO) == 0)
		f->go = true;
	w = next_wake(f->fd, termfd, until(*idle_at));
	if (w != WAKE_STOP)
		server_refresh(srv);
	if (w == WAKE_STOP && f->stopping)
		return 1;
	if (w == WAKE_STOP)
		front_stop(f);
	else if (w == WAKE_IDLE && !f->stopping)
		rc = back_idle(srv, f, qi, idle_at);
	else if (w == WAKE_IDLE)
		*idle_at = monotonic_ms() + IDLE_MS;
	else
		rc = back_serve(srv, f, NULL);
	if (rc != 0 && rc != 2 && !front_again(srv, f, termfd, rc))
		return 1;
	if (term_pending(termfd))
		front_stop(f);
	return 0;
}

/*
 * The front is gone: on to a new one, unless stopping, or fronts die
 * before serving anything (the worker ends, its supervisor restarts it;
 * each death was logged).
 */
#define FRONT_DEATHS_MAX	3

static bool
front_again(struct server *srv, struct front *f, int termfd, int status)
{
	if (f->stopping || status == 1 || ++f->deaths > FRONT_DEATHS_MAX)
		return false;
	return front_start(srv, f, termfd);
}

int
fastcgi_serve(void)
{
	static struct server srv;
	struct queue_idle qi;
	struct front f;
	long long idle_at;
	int termfd;

	if ((termfd = term_fd()) == -1)
		return 1;
	server_init(&srv);
	memset(&qi, 0, sizeof(qi));
	memset(&f, 0, sizeof(f));
	idle_at = monotonic_ms() + IDLE_MS;
	/*
	 * With several workers on one socket, another may take the
	 * connection poll saw: the socket is non-blocking, so accept then
	 * fails with EAGAIN and the front goes back to poll.  The back
	 * never touches the socket: its idle check comes when no request
	 * from its front is waiting.
	 */
	if (nonblocking(STDIN_FILENO) == -1 || !front_start(&srv, &f,
	    termfd)) {
		server_free(&srv);
		(void)close(termfd);
		return 1;
	}
	while (back_turn(&srv, &f, &qi, &idle_at, termfd) == 0)
		;
	server_free(&srv);
	(void)close(termfd);
	return 0;
}

#ifdef MMOLOVE_BENCH_INPROCESS
/*
 * Exists only for `make bench`'s comparison (build/bench/inprocess.cgi,
 * never installed): the worker without its front, each request read
 * and decided in this process, unconfined, as request_handle() does.
 * No idle queue payments and no graceful SIGTERM: the bench runs sync
 * grants and stops its workers between rows.
 */
int
fastcgi_serve_inprocess(void)
{
	static struct server srv;
	FCGX_Request req;
	struct request_io io = { &req, fcgi_param, fcgi_read, fcgi_write };

	server_init(&srv);
	if (FCGX_Init() != 0 || FCGX_InitRequest(&req, STDIN_FILENO, 0) != 0) {
		server_free(&srv);
		return 1;
	}
	while (FCGX_Accept_r(&req) >= 0) {
		server_refresh(&srv);
		request_handle(&srv, &io);
		FCGX_Finish_r(&req);
	}
	server_free(&srv);
	return 0;
}
#endif
