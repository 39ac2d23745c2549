/*
 * mmolove.cgi: MMOLove's vote callback for game-server owners.
 *
 * This file only picks the mode.  Started by a web server (a CGI
 * meta-variable in the environment, or a FastCGI listening socket on
 * standard input) it serves requests and ignores its arguments: Apache
 * turns a query string without '=' into argv.  Otherwise it is the
 * command-line tool.  Everything else lives in src/, one concern a file.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "src/cli.h"
#include "src/fastcgi.h"
#include "src/privsep.h"
#include "src/request.h"

#ifdef MMOLOVE_BENCH_INPROCESS
/*
 * Exists only for `make bench`'s comparison (bench/bench.mk builds it
 * into build/bench/inprocess.cgi, never installed): a CGI request or a
 * FastCGI worker's requests served in one process, without the front's
 * fork and seccomp filter, so the bench can show what the sandbox costs.
 */
static int
serve_cgi(void)
{
	static struct server srv;
	struct request_io io;

	server_init(&srv);
	request_io_cgi(&io);
	request_handle(&srv, &io);
	server_free(&srv);
	return 0;
}
#define serve_fastcgi	fastcgi_serve_inprocess
#else
static int
serve_cgi(void)
{
	static struct server srv;

	privsep_cgi(&srv);
	server_free(&srv);
	return 0;
}
#define serve_fastcgi	fastcgi_serve
#endif

/*
 * Descriptors 0-2 open, on /dev/null if the parent closed them, so no
 * file or pipe of ours is ever mistaken for a standard stream: open(2)
 * returns the lowest free descriptor, so one above 2 means all is well.
 */
static int
standard_streams(void)
{
	int fd;

	do {
		if ((fd = open("/dev/null", O_RDWR)) == -1)
			return -1;
	} while (fd <= 2);
	return close(fd);
}

int
main(int argc, char *argv[])
{
	/* A web server may hand us these ignored; we need both defaults
	 * back: SIGCHLD to reap the grant, SIGPIPE ignored so a vanished
	 * client cannot kill us between the grant and the log line. */
	(void)signal(SIGCHLD, SIG_DFL);
	(void)signal(SIGPIPE, SIG_IGN);
	/* Whatever the grant creates is not for other users either. */
	(void)umask(027);
	if (standard_streams() == -1)
		return 1;

	if (fastcgi_listening())
		return serve_fastcgi();
	if (getenv("GATEWAY_INTERFACE") != NULL ||
	    getenv("REQUEST_METHOD") != NULL)
		return serve_cgi();
	return cli_main(argc, argv);
}
