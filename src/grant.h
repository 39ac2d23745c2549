/*
 * grant: runs the owner's grant program for one vote.
 *
 * Promises: execve(2) of `grant username heart_id reward`, never a
 * shell; standard input /dev/null; standard output and error captured
 * (bounded) for the log and never shown to the HTTP client; a fresh
 * environment of PATH and the MMOLOVE_* variables of SPEC.md only; no
 * descriptor beyond 0-2; default signal dispositions and an empty signal
 * mask; the handler's soft core limit of 0 (secret.h) and its hard
 * limit, to which the grant may raise it (its folder is the handler's,
 * often a web-served one, and it holds its own passwords: cores are its
 * owner's choice); its own process group, killed whole when it outlives
 * the timeout.  A grant is started in two steps: grant_prepare() forks
 * a child that waits, so its process group is known and can be recorded
 * before anything runs; grant_release() lets it execve(2).  If the
 * caller dies in between, the child exits without running the program.
 * grant_group_alive() tells from any process whether such a group (or
 * what is left of it) still runs, and never mistakes a reused pid: it
 * reads only the state, group and start time of /proc/PID/stat, which
 * any process may read of another, dumpable or not (a handler, or its
 * child before execve, is not).
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
	GRANT_FAILED,		/* another exit status */
	GRANT_SIGNALED,		/* killed by a signal: it may have acted */
	GRANT_TIMED_OUT,	/* killed at the timeout: it may have acted */
	GRANT_ERROR		/* could not be started: it did not run */
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

#define GRANT_BOOT_ID_MAX	40

/* The process group of a started grant, recorded to tell if it lives. */
struct grant_group {
	long long	 pgid;		/* 0: none started */
	long long	 start_ticks;	/* its leader's start, /proc/PID/stat */
	long long	 deadline;	/* unix time it is killed at */
	char		 boot_id[GRANT_BOOT_ID_MAX];
};

/* A prepared grant, until grant_finish() or grant_abort() reaps it. */
struct grant_run {
	pid_t		 pid;
	int		 out;		/* our end of its output pipe */
	int		 gate;		/* writing a byte lets it run */
	int		 exec_status;	/* its errno if execve fails; EOF if not */
	long long	 started_ms;
};

/*
 * Forks the waiting child and fills group (pgid, start, boot id and the
 * deadline timeout_seconds from now).  Returns 0, or -1 with result
 * filled in (outcome GRANT_ERROR and why).
 */
int	grant_prepare(const char *program, const struct vote *vote,
	    long timeout_seconds, struct grant_run *run,
	    struct grant_group *group, struct grant_result *result);

/*
 * Lets the child run the program.  Returns 0, or -1 with result filled
 * in (GRANT_ERROR) when execve(2) failed: the program never ran.
 */
int	grant_release(struct grant_run *run, struct grant_result *result);

/* Never lets it run: the child exits at once and is reaped. */
void	grant_abort(struct grant_run *run);

/* Collects output and exit status, killing the group past the timeout. */
void	grant_finish(struct grant_run *run, long timeout_seconds,
	    struct grant_result *result);

/* True while any process of the group runs (on this boot). */
bool	grant_group_alive(const struct grant_group *group);

/* SIGKILLs what is left of the group, if it is still the same group. */
void	grant_group_kill(const struct grant_group *group);

#endif
