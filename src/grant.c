#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <time.h>
#include <unistd.h>

#include "grant.h"
#include "sys.h"

#define ENV_MAX		16
#define ENV_ROOM	2048
#define TICK_MS		50	/* exit polling when pidfd is unavailable */

struct environment {
	char		*vars[ENV_MAX + 1];
	size_t		 count;
	char		 room[ENV_ROOM];
	size_t		 used;
};

static void
env_add(struct environment *env, const char *name, const char *value)
{
	int n;

	if (env->count == ENV_MAX)
		return;
	n = snprintf(env->room + env->used, sizeof(env->room) - env->used,
	    "%s=%s", name, value);
	if (n < 0 || (size_t)n >= sizeof(env->room) - env->used)
		return;
	env->vars[env->count++] = env->room + env->used;
	env->used += (size_t)n + 1;
	env->vars[env->count] = NULL;
}

static void
env_flag(struct environment *env, const char *name, enum flag flag)
{
	if (flag != FLAG_ABSENT)
		env_add(env, name, flag == FLAG_TRUE ? "1" : "0");
}

static void
env_optional(struct environment *env, const char *name, const char *value)
{
	if (value[0] != '\0')
		env_add(env, name, value);
}

/* Every field is bounded (vote.h), so ENV_ROOM always fits them all. */
static void
env_build(struct environment *env, const struct vote *v, const char *reward)
{
	char streak[24];

	env->count = env->used = 0;
	env->vars[0] = NULL;
	env_add(env, "PATH", "/usr/local/bin:/usr/bin:/bin");
	env_add(env, "MMOLOVE_EVENT", v->event);
	env_add(env, "MMOLOVE_USERNAME", v->username);
	env_add(env, "MMOLOVE_HEART_ID", v->heart_id);
	env_add(env, "MMOLOVE_REWARD", reward);
	env_add(env, "MMOLOVE_SERVER_ID", v->server_id);
	env_add(env, "MMOLOVE_PERIOD", v->period);
	env_add(env, "MMOLOVE_TIMESTAMP", v->timestamp);
	if (v->streak_day > 0) {
		(void)snprintf(streak, sizeof(streak), "%lld", v->streak_day);
		env_add(env, "MMOLOVE_STREAK_DAY", streak);
	}
	env_add(env, "MMOLOVE_MODE", vote_mode_name(v->mode));
	env_flag(env, "MMOLOVE_FIRST_HEART", v->first_heart);
	env_flag(env, "MMOLOVE_STREAK_MILESTONE", v->streak_milestone);
	env_flag(env, "MMOLOVE_ACCOUNT_LINKED", v->account_linked);
	env_optional(env, "MMOLOVE_MONTHLY_STREAK", v->monthly_streak);
	env_optional(env, "MMOLOVE_LOYALTY_LEVEL", v->loyalty_level);
}

static int
spawn_setup(posix_spawnattr_t *attr, posix_spawn_file_actions_t *fa,
    int out)
{
	sigset_t every, none;

	/*
	 * sigfillset() leaves out glibc's two internal signals (32, 33),
	 * and posix_spawn then leaves them ignored in the child, where
	 * they would stay ignored across execve: a set with every bit on
	 * resets them too.
	 */
	memset(&every, 0xff, sizeof(every));
	(void)sigemptyset(&none);
	if (posix_spawnattr_init(attr) != 0)
		return -1;
	if (posix_spawn_file_actions_init(fa) != 0) {
		(void)posix_spawnattr_destroy(attr);
		return -1;
	}
	/* Own process group, so a timeout can kill all the grant started. */
	if (posix_spawnattr_setflags(attr, POSIX_SPAWN_SETPGROUP |
	    POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK) != 0 ||
	    posix_spawnattr_setpgroup(attr, 0) != 0 ||
	    posix_spawnattr_setsigdefault(attr, &every) != 0 ||
	    posix_spawnattr_setsigmask(attr, &none) != 0 ||
	    posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY,
	    0) != 0 ||
	    posix_spawn_file_actions_adddup2(fa, out, 1) != 0 ||
	    posix_spawn_file_actions_adddup2(fa, out, 2) != 0 ||
	    /* Under spawn-fcgi fd 0 was the listening socket: 0-2 are
	     * replaced above, and everything else goes here. */
	    posix_spawn_file_actions_addclosefrom_np(fa, 3) != 0) {
		(void)posix_spawn_file_actions_destroy(fa);
		(void)posix_spawnattr_destroy(attr);
		return -1;
	}
	return 0;
}

/* Keeps the first GRANT_OUTPUT_MAX bytes; returns 0 at end of file. */
static ssize_t
output_read(int fd, struct grant_result *r)
{
	char scratch[512];
	size_t room = GRANT_OUTPUT_MAX - r->output_len;
	ssize_t n;

	if (room > 0)
		n = read(fd, r->output + r->output_len, room);
	else
		n = read(fd, scratch, sizeof(scratch));
	if (n > 0 && room > 0)
		r->output_len += (size_t)n;
	else if (n > 0)
		r->output_truncated = true;
	r->output[r->output_len] = '\0';
	return n;
}

static void
exit_status(int status, struct grant_result *r)
{
	if (WIFEXITED(status)) {
		r->exit_code = WEXITSTATUS(status);
		r->outcome = r->exit_code == 0 ? GRANT_GRANTED :
		    r->exit_code == GRANT_EXIT_REFUSED ? GRANT_REFUSED :
		    GRANT_FAILED;
	} else {
		r->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
		r->outcome = GRANT_FAILED;
	}
}

/*
 * Reads output until the child exits or the deadline passes.  The pipe
 * may stay open after the grant exits (a background descendant), so the
 * child's exit, not end of file, ends the wait.
 */
static void
grant_wait(pid_t pid, int out, long timeout_seconds, struct grant_result *r)
{
	long long deadline = monotonic_ms() + timeout_seconds * 1000;
	struct pollfd pfd[2];
	int status, pidfd, wait_ms, drain;
	pid_t done = 0;

	pidfd = pidfd_open(pid, 0);
	pfd[0].fd = out;
	pfd[0].events = POLLIN;
	pfd[1].fd = pidfd;
	pfd[1].events = POLLIN;
	while ((done = waitpid(pid, &status, WNOHANG)) == 0) {
		wait_ms = (int)(deadline - monotonic_ms());
		if (wait_ms <= 0)
			break;
		if (pidfd == -1 && wait_ms > TICK_MS)
			wait_ms = TICK_MS;
		if (poll(pfd, 2, wait_ms) == -1 && errno != EINTR)
			break;
		if ((pfd[0].revents & (POLLIN | POLLHUP)) &&
		    output_read(out, r) <= 0)
			pfd[0].fd = -1;
	}
	if (done == 0) {
		/* The whole group: a grant's own children die with it. */
		(void)kill(-pid, SIGKILL);
		while ((done = waitpid(pid, &status, 0)) == -1 &&
		    errno == EINTR)
			;
		r->outcome = GRANT_TIMED_OUT;
		r->signal = SIGKILL;
	} else if (done == pid)
		exit_status(status, r);
	else {
		(void)snprintf(r->error, sizeof(r->error), "waitpid: %s",
		    strerror(errno));
		r->outcome = GRANT_ERROR;
	}
	/* What is already in the pipe, boundedly: a descendant may go on. */
	for (drain = 0; pfd[0].fd != -1 && drain < 64; drain++)
		if (output_read(out, r) <= 0)
			break;
	if (pidfd != -1)
		(void)close(pidfd);
}

int
grant_start(const char *program, const struct vote *vote,
    struct grant_run *run, struct grant_result *r)
{
	posix_spawnattr_t attr;
	posix_spawn_file_actions_t fa;
	struct environment env;
	char reward[24], *argv[5];
	int pipefd[2], rc;

	memset(r, 0, sizeof(*r));
	r->exit_code = -1;
	r->outcome = GRANT_ERROR;
	run->pid = -1;
	run->out = -1;
	(void)snprintf(reward, sizeof(reward), "%ld", vote->reward);
	argv[0] = (char *)(uintptr_t)program;
	argv[1] = (char *)(uintptr_t)vote->username;
	argv[2] = (char *)(uintptr_t)vote->heart_id;
	argv[3] = reward;
	argv[4] = NULL;
	env_build(&env, vote, reward);

	/* Only our end is non-blocking: the grant writes as usual. */
	if (pipe2(pipefd, O_CLOEXEC) == -1) {
		(void)snprintf(r->error, sizeof(r->error), "pipe: %s",
		    strerror(errno));
		return -1;
	}
	if (fcntl(pipefd[0], F_SETFL, O_NONBLOCK) == -1 ||
	    spawn_setup(&attr, &fa, pipefd[1]) == -1) {
		(void)snprintf(r->error, sizeof(r->error), "cannot prepare "
		    "the grant's process: %s", strerror(errno));
		(void)close(pipefd[0]);
		(void)close(pipefd[1]);
		return -1;
	}
	rc = posix_spawn(&run->pid, program, &fa, &attr, argv, env.vars);
	(void)posix_spawn_file_actions_destroy(&fa);
	(void)posix_spawnattr_destroy(&attr);
	(void)close(pipefd[1]);
	if (rc != 0) {
		(void)snprintf(r->error, sizeof(r->error), "cannot run %s: %s",
		    program, strerror(rc));
		(void)close(pipefd[0]);
		run->pid = -1;
		return -1;
	}
	run->out = pipefd[0];
	return 0;
}

void
grant_finish(struct grant_run *run, long timeout_seconds,
    struct grant_result *r)
{
	grant_wait(run->pid, run->out, timeout_seconds, r);
	(void)close(run->out);
	run->out = -1;
}

void
grant_run(const char *program, const struct vote *vote,
    long timeout_seconds, struct grant_result *r)
{
	struct grant_run run;

	if (grant_start(program, vote, &run, r) == 0)
		grant_finish(&run, timeout_seconds, r);
}
