/* grant_stub.h: the grant launcher's API, recording instead of forking. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "grant_stub.h"

struct grant_stub grant_stub;

/* A group that never lives: pgid 1 is never a grant's (grant.c). */
#define STUB_PGID	1

int
grant_prepare(const char *program, const struct vote *vote,
    long timeout_seconds, struct grant_run *run, struct grant_group *group,
    struct grant_result *r)
{
	(void)program;
	memset(r, 0, sizeof(*r));
	r->exit_code = -1;
	r->outcome = GRANT_ERROR;
	memset(run, 0, sizeof(*run));
	run->pid = -1;
	run->out = run->gate = run->exec_status = -1;
	if (grant_stub.step == STUB_PREPARE_FAILS) {
		(void)snprintf(r->error, sizeof(r->error), "fork: stubbed "
		    "failure");
		return -1;
	}
	grant_stub.prepared++;
	grant_stub.vote = *vote;
	memset(group, 0, sizeof(*group));
	group->pgid = STUB_PGID;
	group->start_ticks = 1;
	(void)snprintf(group->boot_id, sizeof(group->boot_id), "fuzz");
	group->deadline = (long long)time(NULL) + timeout_seconds + 1;
	return 0;
}

int
grant_release(struct grant_run *run, struct grant_result *r)
{
	(void)run;
	if (grant_stub.step == STUB_RELEASE_FAILS) {
		(void)snprintf(r->error, sizeof(r->error), "cannot run the "
		    "grant program: stubbed failure");
		r->outcome = GRANT_ERROR;
		return -1;
	}
	grant_stub.released++;
	if (grant_stub.on_release != NULL)
		grant_stub.on_release(&grant_stub.vote);
	return 0;
}

void
grant_abort(struct grant_run *run)
{
	run->pid = -1;
	grant_stub.aborted++;
}

/* Exit code and signal of each outcome, as grant.c would report them. */
static const struct { int exit_code, signal; } ends[] = {
	[GRANT_GRANTED] = { 0, 0 },
	[GRANT_REFUSED] = { GRANT_EXIT_REFUSED, 0 },
	[GRANT_FAILED] = { 1, 0 },
	[GRANT_SIGNALED] = { -1, 9 },
	[GRANT_TIMED_OUT] = { -1, 9 },
	[GRANT_ERROR] = { -1, 0 },
};

void
grant_finish(struct grant_run *run, long timeout_seconds,
    struct grant_result *r)
{
	int n;

	(void)run;
	(void)timeout_seconds;
	r->outcome = grant_stub.outcome;
	r->exit_code = ends[r->outcome].exit_code;
	r->signal = ends[r->outcome].signal;
	/* The name goes into the output, and so through the log's escaping. */
	n = snprintf(r->output, sizeof(r->output), "granted %lld to %s\n",
	    grant_stub.vote.reward, grant_stub.vote.username);
	r->output_len = n < 0 ? 0 : (size_t)n;
	r->output_truncated = false;
}

bool
grant_group_alive(const struct grant_group *group)
{
	(void)group;
	return false;
}

void
grant_group_kill(const struct grant_group *group)
{
	(void)group;
}
