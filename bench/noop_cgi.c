/*
 * The bench's CGI floors, built with the product's hardening flags.
 *
 * noop.cgi: what any CGI program must do at least.  Reads standard
 * input to EOF (at most CONTENT_LENGTH bytes) and answers
 * `Status: 200`, text/plain, `ok`.
 *
 * noop-paid.cgi (-DPAID_FLOOR): the same, plus what a paid vote cannot
 * avoid: one posix_spawn of /bin/true, reaped, and one new file created
 * in BENCH_FSYNC_DIR (the ledger's filesystem), written and fsynced once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef PAID_FLOOR
#include <spawn.h>
#include <time.h>
#include <sys/wait.h>
#endif

static int
write_all(const char *s, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDOUT_FILENO, s, len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

#ifdef PAID_FLOOR
extern char **environ;

static int
exec_and_fsync(void)
{
	static char true_path[] = "/bin/true";
	char *argv[] = { true_path, NULL };
	const char *dir = getenv("BENCH_FSYNC_DIR");
	char path[4096], rec[128];
	struct timespec ts;
	pid_t pid;
	int status, fd, len;

	if (posix_spawn(&pid, true_path, NULL, NULL, argv, environ) != 0 ||
	    waitpid(pid, &status, 0) != pid || status != 0)
		return -1;
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	len = snprintf(path, sizeof(path), "%s/floor-%ld-%ld.%09ld",
	    dir != NULL ? dir : ".", (long)getpid(), (long)ts.tv_sec,
	    ts.tv_nsec);
	if (len < 0 || (size_t)len >= sizeof(path))
		return -1;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd == -1)
		return -1;
	len = snprintf(rec, sizeof(rec), "paid %ld\n", (long)ts.tv_sec);
	if (write(fd, rec, (size_t)len) != len || fsync(fd) != 0) {
		(void)close(fd);
		return -1;
	}
	return close(fd);
}
#endif

int
main(void)
{
	static const char ok[] =
	    "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nok\n";
	const char *cl = getenv("CONTENT_LENGTH");
	long want = cl != NULL ? strtol(cl, NULL, 10) : -1;
	char buf[65536];
	ssize_t n;

	while (want != 0) {
		size_t ask = sizeof(buf);

		if (want > 0 && (size_t)want < ask)
			ask = (size_t)want;
		n = read(STDIN_FILENO, buf, ask);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (want > 0)
			want -= n;
	}
#ifdef PAID_FLOOR
	static const char fail[] =
	    "Status: 500 Internal Server Error\r\n"
	    "Content-Type: text/plain\r\n\r\nerror\n";

	if (exec_and_fsync() != 0)
		return write_all(fail, sizeof(fail) - 1) == 0 ? 0 : 1;
#endif
	return write_all(ok, sizeof(ok) - 1) == 0 ? 0 : 1;
}
