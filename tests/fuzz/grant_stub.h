/*
 * grant_stub: grant.h's API without a process, for fuzz_request only.
 *
 * Promises: linked in place of src/grant.c (never in a product build),
 * it starts nothing: grant_release() calls the harness's on_release with
 * the vote grant_prepare() was given, and grant_finish() reports the
 * outcome the harness chose.  One grant at a time, as a request runs
 * them; its state is the harness's to set before each request.
 */
#ifndef MMOLOVE_GRANT_STUB_H
#define MMOLOVE_GRANT_STUB_H

#include <stdbool.h>

#include "../../src/grant.h"

enum stub_step {
	STUB_RUNS,		/* prepared, released, finished with outcome */
	STUB_PREPARE_FAILS,	/* as if fork(2) failed */
	STUB_RELEASE_FAILS	/* as if execve(2) failed: it never ran */
};

struct grant_stub {
	enum stub_step	 step;
	enum grant_outcome outcome;	/* what a run that finishes gives */
	void		(*on_release)(const struct vote *vote);
	int		 prepared;	/* counts, for the harness */
	int		 released;
	int		 aborted;
	struct vote	 vote;		/* the last one prepared */
};

extern struct grant_stub grant_stub;

#endif
