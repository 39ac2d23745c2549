/*
 * rss_probe OUTFILE PROGRAM [ARG...]: runs PROGRAM in a fresh process
 * (its environment and standard descriptors inherited), and appends its
 * peak resident set (wait4's ru_maxrss, KiB) to OUTFILE.
 *
 * Why a probe: a child's ru_maxrss starts at the high-water mark of the
 * memory it was forked from (the kernel carries it over at exec), and
 * posix_spawn shares the whole parent's memory until the exec.  Measured
 * from the bench's driver, every figure would carry the driver's own
 * size.  This probe is linked statically and touches almost nothing, so
 * what it reports is PROGRAM's own peak, plus a few dozen KiB.
 */
#include <sys/resource.h>
#include <sys/wait.h>

#include <stdio.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	struct rusage ru;
	pid_t pid;
	int status;
	FILE *out;

	if (argc < 3) {
		fputs("usage: rss_probe OUTFILE PROGRAM [ARG...]\n", stderr);
		return 2;
	}
	if ((pid = fork()) == -1)
		return 2;
	if (pid == 0) {
		execv(argv[2], argv + 2);
		_exit(127);
	}
	while (wait4(pid, &status, 0, &ru) == -1)
		;
	if ((out = fopen(argv[1], "a")) != NULL) {
		fprintf(out, "%ld\n", ru.ru_maxrss);
		(void)fclose(out);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
