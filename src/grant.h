/*
 * grant: runs the owner's grant program for one vote.
 *
 * Promises: execve(2) of `grant username heart_id reward`, never a
 * shell; standard input /dev/null; standard output and error captured
 * (bounded) for the log and never shown to the HTTP client; a fresh
 * environment of PATH and the MMOLOVE_* variables of SPEC.md only; no
 * descriptor beyond 0-2; default signal dispositions and an empty signal
 * mask; its own process group, killed whole when it outlives the
 * timeout.
 */
#ifndef MMOLOVE_GRANT_H
#define MMOLOVE_GRANT_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>

#include "vote.h"

#define GRANT_OUTPUT_MAX	2048
#define GRANT_EXIT_REFUSED	65	/* EX_DATAERR: refused for good */

enum grant_outcome {
	GRANT_GRANTED,		/* exit 0 */
	GRANT_REFUSED,		/* exit 65 */
	GRANT_FAILED,		/* other exit, or a signal */
	GRANT_TIMED_OUT,
	GRANT_ERROR		/* could not be started */
};

struct grant_result {
	enum grant_outcome outcome;
	int		 exit_code;	/* -1 if it did not exit */
	int		 signal;	/* 0 if not killed by one */
	char		 output[GRANT_OUTPUT_MAX + 1];
	size_t		 output_len;
	bool		 output_truncated;
	char		 error[160];	/* GRANT_ERROR: why */
};

/* A started grant, until grant_finish() has reaped it. */
struct grant_run {
	pid_t		 pid;
	int		 out;		/* our end of its output pipe */
};

/*
 * Starts the grant.  Returns 0, or -1 with result filled in (outcome
 * GRANT_ERROR and why), when it could not be started.  Between start
 * and finish the caller may do work that overlaps the grant's.
 */
int	grant_start(const char *program, const struct vote *vote,
	    struct grant_run *run, struct grant_result *result);

/* Collects output and exit status, killing the group past the timeout. */
void	grant_finish(struct grant_run *run, long timeout_seconds,
	    struct grant_result *result);

/* grant_start() then grant_finish(). */
void	grant_run(const char *program, const struct vote *vote,
	    long timeout_seconds, struct grant_result *result);

#endif
