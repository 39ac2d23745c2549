/*
 * The bench's FastCGI floors, built with the product's hardening flags
 * and linked with the same libfcgi.
 *
 * noop.fcgi: an FCGX_Accept_r loop that reads each request's body and
 * answers `Status: 200`, text/plain, `ok`.
 *
 * noop.fcgi paid DIR: the same, plus what a paid vote cannot avoid, on
 * each request: one posix_spawn of /bin/true, reaped, and one new file
 * created in DIR (the ledger's filesystem), written and fsynced once.
 *
 * noop.fcgi fsync DIR: the durable-write floor of a queue-mode delivery
 * (row j): on each request one new file in DIR, written and fsynced
 * once, and no exec.
 */
#include <sys/wait.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

extern char **environ;

static int
exec_and_fsync(const char *dir, unsigned long serial, int exec)
{
	static char true_path[] = "/bin/true";
	char *argv[] = { true_path, NULL };
	char path[4096], rec[128];
	pid_t pid;
	int status, fd, len;

	if (exec && (posix_spawn(&pid, true_path, NULL, NULL, argv,
	    environ) != 0 || waitpid(pid, &status, 0) != pid || status != 0))
		return -1;
	len = snprintf(path, sizeof(path), "%s/ffloor-%ld-%lu", dir,
	    (long)getpid(), serial);
	if (len < 0 || (size_t)len >= sizeof(path))
		return -1;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd == -1)
		return -1;
	len = snprintf(rec, sizeof(rec), "paid %ld\n", (long)time(NULL));
	if (write(fd, rec, (size_t)len) != len || fsync(fd) != 0) {
		(void)close(fd);
		return -1;
	}
	return close(fd);
}

int
main(int argc, char **argv)
{
	static const char ok[] =
	    "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nok\n";
	static const char fail[] =
	    "Status: 500 Internal Server Error\r\n"
	    "Content-Type: text/plain\r\n\r\nerror\n";
	int exec = argc == 3 && strcmp(argv[1], "paid") == 0;
	const char *dir = argc == 3 && (exec || strcmp(argv[1], "fsync") == 0) ?
	    argv[2] : NULL;
	unsigned long serial = 0;
	FCGX_Request req;
	char buf[65536];

	(void)signal(SIGCHLD, SIG_DFL);
	(void)signal(SIGPIPE, SIG_IGN);
	if (FCGX_Init() != 0 || FCGX_InitRequest(&req, STDIN_FILENO, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&req) >= 0) {
		const char *answer = ok;

		while (FCGX_GetStr(buf, (int)sizeof(buf), req.in) > 0)
			;
		if (dir != NULL && exec_and_fsync(dir, serial++, exec) != 0)
			answer = fail;
		(void)FCGX_PutStr(answer, (int)strlen(answer), req.out);
		FCGX_Finish_r(&req);
	}
	return 0;
}
