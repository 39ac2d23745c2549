#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "request_io.h"
#include "sys.h"

static const char *
cgi_param(void *ctx, const char *name)
{
	(void)ctx;
	return getenv(name);
}

static ssize_t
cgi_read(void *ctx, char *buf, size_t len)
{
	ssize_t n;

	(void)ctx;
	while ((n = read(STDIN_FILENO, buf, len)) == -1 && errno == EINTR)
		;
	return n;
}

static int
cgi_write(void *ctx, const char *buf, size_t len)
{
	(void)ctx;
	return write_all(STDOUT_FILENO, buf, len);
}

void
request_io_cgi(struct request_io *io)
{
	io->ctx = NULL;
	io->param = cgi_param;
	io->read = cgi_read;
	io->write = cgi_write;
}
