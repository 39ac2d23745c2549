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

void	grant_run(const char *program, const struct vote *vote,
	    long timeout_seconds, struct grant_result *result);

#endif
