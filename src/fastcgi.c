#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "fastcgi.h"
#include "request.h"

/*
 * The only state a signal handler may touch: whether a request is in
 * hand, and whether SIGTERM asked us to stop after it.
 */
static volatile sig_atomic_t serving;
static volatile sig_atomic_t stopping;

static void
on_term(int sig)
{
	(void)sig;
	if (!serving)
		_exit(0);
	stopping = 1;
}

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
	if (FCGX_PutStr(buf, (int)len, out) != (int)len)
		return -1;
	return FCGX_FFlush(out) == 0 ? 0 : -1;
}

static int
catch_term(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	(void)sigemptyset(&sa.sa_mask);
	return sigaction(SIGTERM, &sa, NULL);
}

int
fastcgi_serve(void)
{
	static struct server srv;
	struct request_io io;
	FCGX_Request req;

	if (catch_term() == -1 || FCGX_Init() != 0 ||
	    FCGX_InitRequest(&req, STDIN_FILENO, 0) != 0)
		return 1;
	server_init(&srv);
	io.ctx = &req;
	io.param = fcgi_param;
	io.read = fcgi_read;
	io.write = fcgi_write;
	while (!stopping && FCGX_Accept_r(&req) >= 0) {
		serving = 1;
		request_handle(&srv, &io);
		FCGX_Finish_r(&req);
		serving = 0;
	}
	server_free(&srv);
	return 0;
}
