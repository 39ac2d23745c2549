#include <sys/syscall.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <time.h>
#include <unistd.h>

#include "grant.h"
#include "sys.h"

#define ENV_MAX		16
#define ENV_ROOM	2048
#define TICK_MS		50	/* exit polling when pidfd is unavailable */
#define KERNEL_SIGSET_SIZE 8	/* the kernel's sigset_t: 64 signals */

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

/* Every field is bounded (vote.h), so ENV_ROOM always fits them all. */
static void
env_build(struct environment *env, const struct vote *v)
{
	char value[VOTE_VALUE_MAX];
	size_t i;

	env->count = env->used = 0;
	env->vars[0] = NULL;
	env_add(env, "PATH", "/usr/local/bin:/usr/bin:/bin");
	for (i = 0; i < vote_field_count; i++)
		if (vote_fields[i].env != NULL &&
		    vote_value(v, &vote_fields[i], true, value, sizeof(value)))
			env_add(env, vote_fields[i].env, value);
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
		r->outcome = GRANT_SIGNALED;
	}
}

static pid_t
reap(pid_t pid, int *status)
{
	pid_t done;

	while ((done = waitpid(pid, status, 0)) == -1 && errno == EINTR)
		;
	return done;
}

/*
 * Reads output until the child exits or the deadline passes.  The pipe
 * may stay open after the grant exits (a background descendant), so the
 * child's exit, not end of file, ends the wait.
 */
static void
grant_wait(pid_t pid, int out, long long deadline, struct grant_result *r)
{
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
		done = reap(pid, &status);
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

/* What the child needs, all prepared before fork(2). */
struct child {
	char		*argv[5];
	struct environment env;
	int		 devnull;
	int		 out;
	int		 gate;
	int		 exec_status;
	int		 parent_ends[3];	/* closed first: the gate's writer
					 * must be the parent alone */
};

/*
 * Any fd above 2 is closed at execve(2): every one of ours, and any the
 * web server left us (under spawn-fcgi fd 0 was the listening socket).
 */
static void
child_close_on_exec(int exec_status)
{
	int fd;

	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	for (fd = 3; fd < 1024; fd++)
		if (fd != exec_status)
			(void)close(fd);
}

/*
 * glibc refuses sigaction(2) on the two signals it keeps for itself (32
 * and 33), yet a parent may have left them ignored, and ignored they
 * would reach the grant.  The kernel's own call takes them: an all-zero
 * kernel sigaction is SIG_DFL, no flags, an empty mask, on every
 * architecture whatever the struct's layout.
 */
static void
signal_default_raw(int sig)
{
	unsigned long zero[8];

	memset(zero, 0, sizeof(zero));
	(void)syscall(SYS_rt_sigaction, sig, zero, NULL, KERNEL_SIGSET_SIZE);
}

/*
 * In the forked child: only async-signal-safe calls.  It waits for the
 * gate, so it runs nothing unless its parent recorded it first.
 */
static void __attribute__((noreturn))
child_run(struct child *c)
{
	struct sigaction dfl;
	sigset_t none;
	char go;
	int sig, err;

	(void)setpgid(0, 0);
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	/* An ignored signal would stay ignored across execve(2). */
	for (sig = 1; sig < NSIG; sig++)
		if (sigaction(sig, &dfl, NULL) == -1 && errno == EINVAL)
			signal_default_raw(sig);
	(void)sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	(void)close(c->parent_ends[0]);
	(void)close(c->parent_ends[1]);
	(void)close(c->parent_ends[2]);
	if (dup2(c->devnull, 0) == -1 || dup2(c->out, 1) == -1 ||
	    dup2(c->out, 2) == -1)
		_exit(127);
	if (read(c->gate, &go, 1) != 1)
		_exit(127);
	child_close_on_exec(c->exec_status);
	(void)execve(c->argv[0], c->argv, c->env.vars);
	err = errno;
	if (write(c->exec_status, &err, sizeof(err)) != (ssize_t)sizeof(err))
		_exit(126);
	_exit(127);
}

/* Field 22 of /proc/PID/stat, and field 3 (the state letter). */
static int
proc_start(pid_t pid, long long *ticks, char *state)
{
	char path[40], buf[1024], *p;
	ssize_t n;
	int field;

	(void)snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((n = read_path(path, buf, sizeof(buf) - 1)) <= 0)
		return -1;
	buf[n] = '\0';
	/* The command name, in parentheses, may hold spaces: skip it. */
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ')
		return -1;
	*state = p[2];
	for (field = 2; field < 22 && p != NULL; field++)
		p = strchr(p + 1, ' ');
	if (p == NULL)
		return -1;
	*ticks = strtoll(p + 1, NULL, 10);
	return 0;
}

static void
boot_id(char id[GRANT_BOOT_ID_MAX])
{
	ssize_t n = read_path("/proc/sys/kernel/random/boot_id", id,
	    GRANT_BOOT_ID_MAX - 1);

	id[n > 0 ? n : 0] = '\0';
	if (n > 0 && id[n - 1] == '\n')
		id[n - 1] = '\0';
}

static int
pipe_pair(int fd[2], const char *what, struct grant_result *r)
{
	if (pipe2(fd, O_CLOEXEC) == 0)
		return 0;
	(void)snprintf(r->error, sizeof(r->error), "%s pipe: %s", what,
	    strerror(errno));
	return -1;
}

static void
close_all(int *fds, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		if (fds[i] != -1)
			(void)close(fds[i]);
}

/* out[2], gate[2], status[2] and /dev/null, or -1 with nothing open. */
static int
child_fds(int fds[7], struct grant_result *r)
{
	memset(fds, -1, 7 * sizeof(int));
	if (pipe_pair(fds, "output", r) == -1 ||
	    pipe_pair(fds + 2, "gate", r) == -1 ||
	    pipe_pair(fds + 4, "status", r) == -1)
		goto fail;
	/* Only our end is non-blocking: the grant writes as usual. */
	if (fcntl(fds[0], F_SETFL, O_NONBLOCK) == -1 ||
	    (fds[6] = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1) {
		(void)snprintf(r->error, sizeof(r->error), "cannot prepare "
		    "the grant's descriptors: %s", strerror(errno));
		goto fail;
	}
	return 0;
fail:
	close_all(fds, 7);
	return -1;
}

static void
child_prepare(struct child *c, const char *program, const struct vote *vote,
    char reward[24], const int fds[7])
{
	(void)snprintf(reward, 24, "%lld", vote->reward);
	c->argv[0] = (char *)(uintptr_t)program;
	c->argv[1] = (char *)(uintptr_t)vote->username;
	c->argv[2] = (char *)(uintptr_t)vote->heart_id;
	c->argv[3] = reward;
	c->argv[4] = NULL;
	env_build(&c->env, vote);
	c->out = fds[1];
	c->gate = fds[2];
	c->exec_status = fds[5];
	c->devnull = fds[6];
	c->parent_ends[0] = fds[0];
	c->parent_ends[1] = fds[3];
	c->parent_ends[2] = fds[4];
}

int
grant_prepare(const char *program, const struct vote *vote,
    long timeout_seconds, struct grant_run *run, struct grant_group *group,
    struct grant_result *r)
{
	struct child c;
	char reward[24], state;
	int fds[7];

	memset(r, 0, sizeof(*r));
	r->exit_code = -1;
	r->outcome = GRANT_ERROR;
	run->pid = -1;
	run->out = run->gate = run->exec_status = -1;
	if (child_fds(fds, r) == -1)
		return -1;
	child_prepare(&c, program, vote, reward, fds);
	if ((run->pid = fork()) == -1) {
		(void)snprintf(r->error, sizeof(r->error), "fork: %s",
		    strerror(errno));
		close_all(fds, 7);
		return -1;
	}
	if (run->pid == 0)
		child_run(&c);
	/* Both sides set the group, so it exists whoever runs first. */
	(void)setpgid(run->pid, run->pid);
	run->out = fds[0];
	run->gate = fds[3];
	run->exec_status = fds[4];
	(void)close(fds[1]);
	(void)close(fds[2]);
	(void)close(fds[5]);
	(void)close(fds[6]);
	memset(group, 0, sizeof(*group));
	group->pgid = run->pid;
	if (proc_start(run->pid, &group->start_ticks, &state) == -1)
		group->start_ticks = 0;
	boot_id(group->boot_id);
	group->deadline = (long long)time(NULL) + timeout_seconds + 1;
	return 0;
}

static void
close_fd(int *fd)
{
	if (*fd != -1)
		(void)close(*fd);
	*fd = -1;
}

int
grant_release(struct grant_run *run, struct grant_result *r)
{
	int err = 0, status;
	ssize_t n;

	run->started_ms = monotonic_ms();
	n = write(run->gate, "g", 1);
	close_fd(&run->gate);
	if (n == 1)
		while ((n = read(run->exec_status, &err, sizeof(err))) == -1 &&
		    errno == EINTR)
			;
	close_fd(&run->exec_status);
	if (n == 0)
		return 0;	/* end of file: execve(2) closed it */
	(void)snprintf(r->error, sizeof(r->error), "cannot run the grant "
	    "program: %s", n == (ssize_t)sizeof(err) ? strerror(err) :
	    "its process vanished before it started");
	(void)reap(run->pid, &status);
	close_fd(&run->out);
	r->outcome = GRANT_ERROR;
	return -1;
}

void
grant_abort(struct grant_run *run)
{
	int status;

	close_fd(&run->gate);
	close_fd(&run->exec_status);
	close_fd(&run->out);
	if (run->pid > 0)
		(void)reap(run->pid, &status);
	run->pid = -1;
}

void
grant_finish(struct grant_run *run, long timeout_seconds,
    struct grant_result *r)
{
	r->outcome = GRANT_ERROR;
	grant_wait(run->pid, run->out, run->started_ms +
	    timeout_seconds * 1000, r);
	close_fd(&run->out);
}

/* Is any process of the group alive and not a zombie?  Scans /proc. */
static bool
group_member_alive(long long pgid)
{
	char path[300], buf[1024], *p;
	struct dirent *de;
	DIR *proc;
	ssize_t n;
	bool alive = false;

	if ((proc = opendir("/proc")) == NULL)
		return true;	/* cannot tell: say alive, never run twice */
	while (!alive && (de = readdir(proc)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		(void)snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if ((n = read_path(path, buf, sizeof(buf) - 1)) <= 0)
			continue;
		buf[n] = '\0';
		/* ") S ppid pgrp": state, then the group two fields on. */
		if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ' ||
		    p[2] == 'Z' || p[2] == 'X')
			continue;
		p = strchr(p + 4, ' ');
		alive = p != NULL && strtoll(p + 1, NULL, 10) == pgid;
	}
	(void)closedir(proc);
	return alive;
}

bool
grant_group_alive(const struct grant_group *g)
{
	char now_boot[GRANT_BOOT_ID_MAX], state;
	long long ticks;

	if (g->pgid <= 1)
		return false;
	/* Another boot only when both ids are known: else it may live. */
	boot_id(now_boot);
	if (now_boot[0] != '\0' && g->boot_id[0] != '\0' &&
	    strcmp(now_boot, g->boot_id) != 0)
		return false;
	if (kill((pid_t)-g->pgid, 0) == -1 && errno == ESRCH)
		return false;
	/*
	 * A pid that is some group's id is never reused while the group
	 * lasts, so a leader of another start time means ours is gone.
	 */
	if (proc_start((pid_t)g->pgid, &ticks, &state) == 0) {
		if (g->start_ticks != 0 && ticks != g->start_ticks)
			return false;
		if (state != 'Z' && state != 'X')
			return true;
	}
	/* The leader is gone or a zombie: are other members left? */
	return group_member_alive(g->pgid);
}

void
grant_group_kill(const struct grant_group *g)
{
	if (grant_group_alive(g))
		(void)kill((pid_t)-g->pgid, SIGKILL);
}
