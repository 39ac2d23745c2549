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
 *
 * noop-fsync.cgi (-DFSYNC_FLOOR): noop.cgi plus durable writes and no
 * exec, the floor of a queue-mode delivery (row i).  BENCH_FSYNCS=1
 * (the default): one new file in BENCH_FSYNC_DIR/v, written and fsynced.
 * BENCH_FSYNCS=3: what grant_mode = queue does, with no-op content: an
 * empty marker in BENCH_FSYNC_DIR/q and an fsync of q/, a new file
 * written and fsynced under a temporary name, renamed into
 * BENCH_FSYNC_DIR/v and an fsync of v/.
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
#ifdef FSYNC_FLOOR
#include <stdbool.h>
#include <time.h>
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

#ifdef FSYNC_FLOOR
/* Creates DIR/SUB/NAME (O_EXCL), writes a line unless empty, fsyncs. */
static int
new_file(const char *dir, const char *sub, const char *name, bool empty)
{
	char path[4096], rec[64];
	int fd, len;

	len = snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	if (len < 0 || (size_t)len >= sizeof(path))
		return -1;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd == -1)
		return -1;
	len = snprintf(rec, sizeof(rec), "queued %ld\n", (long)time(NULL));
	if ((!empty && write(fd, rec, (size_t)len) != len) ||
	    (!empty && fsync(fd) != 0)) {
		(void)close(fd);
		return -1;
	}
	return close(fd);
}

static int
sync_dir(const char *dir, const char *sub)
{
	char path[4096];
	int fd, len, rc;

	len = snprintf(path, sizeof(path), "%s/%s", dir, sub);
	if (len < 0 || (size_t)len >= sizeof(path))
		return -1;
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	return close(fd) == 0 ? rc : -1;
}

static int
durable_writes(void)
{
	const char *dir = getenv("BENCH_FSYNC_DIR");
	const char *count = getenv("BENCH_FSYNCS");
	char name[128], tmp[160], from[4096], to[4096];
	struct timespec ts;
	int len;

	if (dir == NULL)
		dir = ".";
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	len = snprintf(name, sizeof(name), "f-%ld-%ld.%09ld", (long)getpid(),
	    (long)ts.tv_sec, ts.tv_nsec);
	if (len < 0 || (size_t)len >= sizeof(name))
		return -1;
	if (count == NULL || strcmp(count, "3") != 0)
		return new_file(dir, "v", name, false);
	(void)snprintf(tmp, sizeof(tmp), ".new-%s", name);
	if (new_file(dir, "q", name, true) != 0 || sync_dir(dir, "q") != 0 ||
	    new_file(dir, "v", tmp, false) != 0)
		return -1;
	(void)snprintf(from, sizeof(from), "%s/v/%s", dir, tmp);
	(void)snprintf(to, sizeof(to), "%s/v/%s", dir, name);
	if (rename(from, to) != 0)
		return -1;
	return sync_dir(dir, "v");
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
#ifdef FSYNC_FLOOR
	static const char fail[] =
	    "Status: 500 Internal Server Error\r\n"
	    "Content-Type: text/plain\r\n\r\nerror\n";

	if (durable_writes() != 0)
		return write_all(fail, sizeof(fail) - 1) == 0 ? 0 : 1;
#endif
	return write_all(ok, sizeof(ok) - 1) == 0 ? 0 : 1;
}
