#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "front.h"
#include "privsep.h"
#include "sandbox.h"
#include "sys.h"

/* socketpair and fork: the parent keeps one end, the child the other. */
static pid_t
front_spawn(struct front *f)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return -1;
	if ((pid = fork()) == -1) {
		(void)close(sv[0]);
		(void)close(sv[1]);
		return -1;
	}
	f->stopping = false;
	if (pid != 0) {
		(void)close(sv[1]);
		f->pid = pid;
		f->fd = sv[0];
		return pid;
	}
	(void)close(sv[0]);
	f->pid = 0;
	f->fd = sv[1];
	return 0;
}

pid_t
front_fork(struct server *srv, struct front *f)
{
	pid_t pid;

	if ((pid = front_spawn(f)) != 0)
		return pid;
	secret_wipe(&srv->secrets);
	log_close(&srv->log);
	ledger_close(&srv->ledger);
	return 0;
}

const char *
front_confine(void)
{
	static char why[MSG_WHY_MAX];

	return sandbox_enter(why, sizeof(why)) == 0 ? NULL : why;
}

/*
 * The test build's hook (tests/sandbox_test.py): a request asks the
 * front to make a call the filter forbids.  Absent from the normal
 * build.
 */
static void
test_forbidden_call(const struct request_io *io)
{
#ifdef MMOLOVE_TEST_HOOKS
	const char *h = io->param(io->ctx, "HTTP_X_MMOLOVE_TEST_SYSCALL");
	char *argv[] = { "/bin/true", NULL };

	if (h != NULL && strcmp(h, "execve") == 0)
		(void)execve(argv[0], argv, argv + 1);
	else if (h != NULL && strcmp(h, "socket") == 0)
		(void)socket(AF_INET, SOCK_STREAM, 0);
#else
	(void)io;
#endif
}

/* The back's answer, after any STOP or PAUSE (noted in *asked). */
static int
read_answer(int fd, struct answer_msg *a, int *asked)
{
	for (;;) {
		if (read_exact(fd, a, sizeof(*a)) == -1)
			return -1;
		if (a->kind == ANSWER_STOP)
			*asked |= FRONT_STOP;
		else if (a->kind == ANSWER_PAUSE)
			*asked |= FRONT_PAUSE;
		else
			break;
	}
	a->allow[sizeof(a->allow) - 1] = '\0';
	a->body[sizeof(a->body) - 1] = '\0';
	return a->kind == ANSWER_RESPONSE ? 0 : -1;
}

int
front_exchange(int fd, const struct request_msg *m, const char *body,
    const struct request_io *io)
{
	struct answer_msg a;
	unsigned char taken;
	int asked = 0;

	test_forbidden_call(io);
	if (write_all(fd, m, sizeof(*m)) == -1 ||
	    write_all(fd, body, m->body_len) == -1 ||
	    read_answer(fd, &a, &asked) == -1)
		return -1;
	taken = request_respond(io, &a) == 0;
	if (write_all(fd, &taken, 1) == -1)
		return -1;
	return asked;
}

int
front_paused(int fd)
{
	struct request_msg m;

	memset(&m, 0, sizeof(m));
	m.kind = MSG_PAUSED;
	return write_all(fd, &m, sizeof(m));
}

int
back_tell(struct front *f, enum answer_kind kind)
{
	struct answer_msg a;

	memset(&a, 0, sizeof(a));
	a.kind = (int32_t)kind;
	return write_all(f->fd, &a, sizeof(a));
}

/* How the front ended, for the log line naming the sandbox. */
static int
front_reap(struct front *f, char *why, size_t whylen)
{
	int st;

	(void)close(f->fd);
	f->fd = -1;
	while (waitpid(f->pid, &st, 0) == -1)
		if (errno != EINTR) {
			(void)snprintf(why, whylen, "waitpid: %s",
			    strerror(errno));
			return -1;
		}
	if (WIFEXITED(st) && (WEXITSTATUS(st) == 0 ||
	    WEXITSTATUS(st) == FRONT_EXIT_LISTEN))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		(void)snprintf(why, whylen, "was killed by signal %d (%s)%s",
		    WTERMSIG(st), strsignal(WTERMSIG(st)), WTERMSIG(st) ==
		    SIGSYS ? ": a system call the sandbox forbids" : "");
	else
		(void)snprintf(why, whylen, "exited with status %d",
		    WEXITSTATUS(st));
	return -1;
}

/* The front is gone mid-request: one log line, a 500 where we can. */
static int
front_lost(struct server *srv, struct front *f,
    const struct request_io *fallback)
{
	struct request rq;
	struct request_msg m;
	struct answer_msg a;
	char why[160];
	pid_t pid = f->pid;
	int rc = front_reap(f, why, sizeof(why));

	if ((rc == 0 && f->stopping) || rc == FRONT_EXIT_LISTEN)
		return 1;
	if (rc == 0)
		(void)snprintf(why, sizeof(why), "exited unasked");
	request_begin(&rq, srv);
	memset(&m, 0, sizeof(m));
	rq.msg = &m;
	request_fail(&rq, "sandbox: the front (pid %ld) %s; no answer from it",
	    (long)pid, why);
	request_answer(&rq, &a);
	request_end(&rq, fallback != NULL && request_respond(fallback, &a) ==
	    0);
	return -1;
}

/*
 * The answer, to the front, or (CGI: out) written here: the back shares
 * the web server's standard output, and the answer's bytes are its own.
 */
static int
back_answer(struct front *f, const struct answer_msg *a,
    const struct request_io *out)
{
	unsigned char taken = 0;

	if (out != NULL)
		return request_respond(out, a) == 0;
	if (write_all(f->fd, a, sizeof(*a)) == -1 ||
	    read_exact(f->fd, &taken, 1) == -1)
		return 0;
	return taken == 1;
}

int
back_serve(struct server *srv, struct front *f, const struct request_io *out)
{
	struct request rq;
	struct request_msg m;
	struct answer_msg a;

	request_begin(&rq, srv);
	/* The buffer's bound, not max_body: a reload may have lowered it
	 * since the front, forked earlier, judged this body. */
	if (read_exact(f->fd, &m, sizeof(m)) == -1 || (m.body_len <=
	    CONFIG_MAX_BODY_LIMIT && read_exact(f->fd, srv->body, m.body_len) ==
	    -1))
		return front_lost(srv, f, out);
	if (m.kind == MSG_PAUSED)
		return 2;
	srv->body[m.body_len <= CONFIG_MAX_BODY_LIMIT ? m.body_len : 0] = '\0';
	f->deaths = 0;
	request_decide(&rq, &m);
	request_answer(&rq, &a);
	request_end(&rq, back_answer(f, &a, out));
	return 0;
}

/* The CGI front: one request, then exit. */
static void
front_cgi(struct server *srv, int fd)
{
	static struct request_msg m;
	struct request_io io;
	const char *why;

	request_io_cgi(&io);
	/* Its own reading of the configuration (max_body); an error is the
	 * back's to report.  The environment's secret is not for it. */
	(void)config_load(&srv->cfg, m.why, sizeof(m.why));
	if (secret_scrub_environment() == -1)
		why = "cannot scrub MMOLOVE_CALLBACK_SECRET";
	else
		why = front_confine();
	if (why == NULL)
		front_gather(&srv->cfg, &io, &m, srv->body);
	else
		front_refuse(&io, &m, why, srv->body, sizeof(srv->body));
	test_forbidden_call(&io);
	_exit(write_all(fd, &m, sizeof(m)) == -1 ||
	    write_all(fd, srv->body, m.body_len) == -1);
}

void
privsep_cgi(struct server *srv)
{
	struct request_io io;
	struct front f;
	struct request rq;
	struct answer_msg a;

	request_io_cgi(&io);
	memset(&f, 0, sizeof(f));
	/*
	 * The front is forked first, while this process is small (a cheap
	 * fork, few pages to copy on write) and before any secret is read:
	 * the back reads its files while the front reads the request.
	 */
	switch (front_spawn(&f)) {
	case -1:
		server_init(srv);
		request_begin(&rq, srv);
		request_fail(&rq, "sandbox: cannot start the front: %s",
		    strerror(errno));
		request_answer(&rq, &a);
		front_drain(&io, srv->body, sizeof(srv->body));
		request_end(&rq, request_respond(&io, &a) == 0);
		return;
	case 0:
		front_cgi(srv, f.fd);
		break;
	default:
		server_init(srv);
		/* The front exits once it has sent: no need to wait for it. */
		(void)back_serve(srv, &f, &io);
	}
}
