/*
 * pay.h through request.h: the claim -> intent -> grant -> record
 * pipeline, driven by signed deliveries through a fake request_io, and
 * by queue_drain() and pay_named() as --drain and --replay call them.
 *
 * Each test runs a server on a fresh temporary directory: a
 * configuration, a secret file, and a grant script that appends a line
 * per run to "runs" and then does what the file "behave" says (an exit
 * status, or "kill" to die by SIGKILL; no file: exit 0).
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "unit.h"

#include "../../src/digest.h"
#include "../../src/event.h"
#include "../../src/ledger.h"
#include "../../src/pay.h"
#include "../../src/queue.h"
#include "../../src/request.h"
#include "../../src/signature.h"

#define SECRET		"unit-pay-secret"

struct fixture {
	struct temp_fixture tmp;	/* tmp.path: the configuration */
	char		 state_dir[300];
	pid_t		 sleeper;	/* a stray grant group, or 0 */
	int		 status;	/* of the last delivery */
	char		 answer[512];	/* its whole HTTP answer */
	size_t		 answer_len;
};

static struct fixture_spec spec = { sizeof(struct fixture), "mmolove.conf" };

/* Large (its body buffer), so static; one test uses it at a time. */
static struct server srv;
static bool srv_started;

/* dir/name into path. */
static void
file_in(const struct fixture *f, const char *name, char *path, size_t size)
{
	int n = snprintf(path, size, "%s/%s", f->tmp.dir, name);

	assert_true(n > 0 && (size_t)n < size);
}

/* Starts the server with the common settings and then extra's lines. */
static void
start(struct fixture *f, const char *extra)
{
	char path[400], text[2048];
	int n;

	file_in(f, "secret", path, sizeof(path));
	write_file(path, SECRET "\n", strlen(SECRET) + 1);
	file_in(f, "grant", path, sizeof(path));
	n = snprintf(text, sizeof(text), "#!/bin/sh\n"
	    "echo \"$1 $2 $3 $MMOLOVE_HEART_ID\" >> '%s/runs'\n"
	    "b=$(cat '%s/behave' 2>/dev/null)\n"
	    "case \"$b\" in\n"
	    "kill) kill -KILL $$ ;;\n"
	    "'') exit 0 ;;\n"
	    "*) exit \"$b\" ;;\n"
	    "esac\n", f->tmp.dir, f->tmp.dir);
	assert_true(n > 0 && (size_t)n < sizeof(text));
	write_file(path, text, (size_t)n);
	assert_int_equal(chmod(path, 0700), 0);
	file_in(f, "state", f->state_dir, sizeof(f->state_dir));
	n = snprintf(text, sizeof(text), "secret_file = %s/secret\n"
	    "grant = %s/grant\n"
	    "state_dir = %s\n"
	    "log = %s/log\n"
	    "allow_root = yes\n"
	    "grant_timeout = 10\n"
	    "%s", f->tmp.dir, f->tmp.dir, f->state_dir, f->tmp.dir, extra);
	assert_true(n > 0 && (size_t)n < sizeof(text));
	write_file(f->tmp.path, text, (size_t)n);
	assert_int_equal(setenv("MMOLOVE_CONFIG", f->tmp.path, 1), 0);
	server_init(&srv);
	srv_started = true;
	if (srv.broken)
		fail_msg("server_init: %s", srv.broken_why);
}

static int
setup(void **state)
{
	int rc = env_fixture_setup(state);
	struct fixture *f = *state;

	f->sleeper = 0;
	return rc;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	int status;

	if (f->sleeper > 0) {
		(void)kill(-f->sleeper, SIGKILL);
		(void)waitpid(f->sleeper, &status, 0);
	}
	if (srv_started)
		server_free(&srv);
	srv_started = false;
	return env_fixture_teardown(state);
}

/* What the grant does on its next runs: "0", "1", "65", "kill". */
static void
behave(struct fixture *f, const char *what)
{
	char path[400];

	file_in(f, "behave", path, sizeof(path));
	write_file(path, what, strlen(what));
}

/* How many times the grant ran. */
static int
runs(struct fixture *f)
{
	char path[400], buf[4096];
	int fd, count = 0;
	ssize_t n, i;

	file_in(f, "runs", path, sizeof(path));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		assert_int_equal(errno, ENOENT);
		return 0;
	}
	n = read(fd, buf, sizeof(buf));
	assert_true(n >= 0);
	(void)close(fd);
	for (i = 0; i < n; i++)
		count += buf[i] == '\n';
	return count;
}

/* ------------------------------------------------------ the fake request */

struct fake_io {
	const char	*content_length;
	const char	*signature;
	const char	*body;
	size_t		 len;
	size_t		 off;
	struct fixture	*f;
};

static const char *
fake_param(void *ctx, const char *name)
{
	struct fake_io *io = ctx;

	if (strcmp(name, "REQUEST_METHOD") == 0)
		return "POST";
	if (strcmp(name, "CONTENT_LENGTH") == 0)
		return io->content_length;
	if (strcmp(name, "HTTP_X_MMOLOVE_SIGNATURE") == 0)
		return io->signature;
	if (strcmp(name, "REMOTE_ADDR") == 0)
		return "192.0.2.7";
	return NULL;
}

/* A few bytes at a time, as a pipe may give them. */
static ssize_t
fake_read(void *ctx, char *buf, size_t len)
{
	struct fake_io *io = ctx;
	size_t n = io->len - io->off;

	if (n > len)
		n = len;
	if (n > 7)
		n = 7;
	memcpy(buf, io->body + io->off, n);
	io->off += n;
	return (ssize_t)n;
}

static int
fake_write(void *ctx, const char *buf, size_t len)
{
	struct fixture *f = ((struct fake_io *)ctx)->f;

	if (len >= sizeof(f->answer) - f->answer_len)
		return -1;
	memcpy(f->answer + f->answer_len, buf, len);
	f->answer_len += len;
	f->answer[f->answer_len] = '\0';
	return 0;
}

/* A signed heart.counted for heart_id by alice; returns the status. */
static int
deliver(struct fixture *f, const char *heart_id)
{
	struct hmac_key key;
	struct request_io io;
	struct fake_io fake;
	char body[256], sig[128], cl[24];
	int n;

	n = snprintf(body, sizeof(body), "{\"event\":\"heart.counted\","
	    "\"username\":\"alice\",\"heart_id\":\"%s\"}", heart_id);
	assert_true(n > 0 && (size_t)n < sizeof(body));
	hmac_key_init(&key, SECRET, strlen(SECRET));
	signature_sign(&key, (long long)time(NULL), body, (size_t)n, sig,
	    sizeof(sig));
	(void)snprintf(cl, sizeof(cl), "%d", n);
	memset(&fake, 0, sizeof(fake));
	fake.content_length = cl;
	fake.signature = sig;
	fake.body = body;
	fake.len = (size_t)n;
	fake.f = f;
	io.ctx = &fake;
	io.param = fake_param;
	io.read = fake_read;
	io.write = fake_write;
	f->answer_len = 0;
	f->answer[0] = '\0';
	request_handle(&srv, &io);
	if (sscanf(f->answer, "Status: %d ", &f->status) != 1)
		fail_msg("no status in the answer: %s", f->answer);
	assert_int_equal(fake.off, fake.len);
	trace("%s: %s", heart_id, f->answer);
	return f->status;
}

/* The last delivery's answer body was text. */
static void
expect_answer(const struct fixture *f, const char *text)
{
	const char *body = strstr(f->answer, "\r\n\r\n");

	assert_non_null(body);
	assert_string_equal(body + 4, text);
}

/* The last log line says outcome (and, unless NULL, has mention). */
static void
expect_logged(struct fixture *f, const char *outcome, const char *mention)
{
	char path[400], buf[32768], want[64];
	const char *line;
	ssize_t n;
	int fd;

	file_in(f, "log", path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	assert_true(n > 0 && buf[n - 1] == '\n');
	buf[n - 1] = '\0';
	line = strrchr(buf, '\n');
	line = line != NULL ? line + 1 : buf;
	(void)snprintf(want, sizeof(want), "\"outcome\":\"%s\"", outcome);
	if (strstr(line, want) == NULL ||
	    (mention != NULL && strstr(line, mention) == NULL))
		fail_msg("want %s %s in: %s", want, mention ? mention : "",
		    line);
}

/* The state of heart_id's record, read as --ledger does. */
static enum vote_state
state_of(const char *heart_id, struct ledger_record *rec)
{
	char key[160], name[DIGEST_HEX_LEN + 1], err[600];
	struct ledger_record scratch;

	if (rec == NULL)
		rec = &scratch;
	(void)snprintf(key, sizeof(key), "post:%s", heart_id);
	ledger_name(key, name);
	switch (ledger_peek(&srv.ledger, name, rec, err, sizeof(err))) {
	case LEDGER_OK:
		return rec->state;
	case LEDGER_NEW:
		return STATE_NONE;
	default:
		fail_msg("peek %s: %s", heart_id, err);
		return STATE_NONE;
	}
}

static bool
queue_marked(const struct fixture *f, const char *heart_id)
{
	char key[160], name[DIGEST_HEX_LEN + 1], path[400];
	struct stat st;

	(void)snprintf(key, sizeof(key), "post:%s", heart_id);
	ledger_name(key, name);
	(void)snprintf(path, sizeof(path), "%s/queue/%s", f->state_dir, name);
	return stat(path, &st) == 0;
}

/* pay_named() as --replay or --drain would call it. */
static enum pay_outcome
pay_by_name(const char *heart_id, enum pay_how how)
{
	char key[160], name[DIGEST_HEX_LEN + 1];
	struct log_entry e;
	struct payer p;
	enum pay_outcome o;

	(void)snprintf(key, sizeof(key), "post:%s", heart_id);
	ledger_name(key, name);
	memset(&e, 0, sizeof(e));
	memset(&p, 0, sizeof(p));
	p.cfg = &srv.cfg;
	p.ledger = &srv.ledger;
	p.log = &e;
	o = pay_named(&p, name, how);
	trace("pay_named %s: %s (%s)\n", heart_id, pay_answer(o)->outcome,
	    e.reason);
	return o;
}

/*
 * What a call writes to fd (1 or 2) goes into a pipe until restored: a
 * pipe, not a file, so it holds even when no file may grow.  Only for
 * calls that write less than a pipe's buffer.
 */
struct capture {
	int	 fd;
	int	 saved;
	int	 pipe;		/* its reading end */
};

static void
capture_start(struct capture *cap, int fd)
{
	int p[2];

	(void)fflush(NULL);
	cap->fd = fd;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	cap->pipe = p[0];
	cap->saved = dup(fd);
	assert_true(cap->saved >= 0);
	assert_int_equal(dup2(p[1], fd), fd);
	(void)close(p[1]);
}

/* Restores fd and fails unless what was written mentions want. */
static void
capture_expect(struct capture *cap, const char *want)
{
	char buf[8192];
	size_t len = 0;
	ssize_t n;

	(void)fflush(NULL);
	assert_int_equal(dup2(cap->saved, cap->fd), cap->fd);
	(void)close(cap->saved);
	while (len < sizeof(buf) - 1 &&
	    (n = read(cap->pipe, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	(void)close(cap->pipe);
	buf[len] = '\0';
	if (strstr(buf, want) == NULL)
		fail_msg("want \"%s\" in: %s", want, buf);
}

/* queue_drain(), its summary line checked. */
static int
drain(bool now, const char *summary)
{
	struct capture cap;
	int rc;

	capture_start(&cap, 1);
	rc = queue_drain(&srv.cfg, now);
	capture_expect(&cap, summary);
	return rc;
}

/* ------------------------------------------------------------ the tests */

static void
test_first_vote_paid_once(void **state)
{
	struct fixture *f = *state;
	char path[400], buf[256];
	int fd;
	ssize_t n;

	start(f, "");
	assert_int_equal(deliver(f, "h_1"), 200);
	expect_answer(f, "ok\n");
	expect_logged(f, "paid", "\"grant_exit\":0");
	assert_int_equal(runs(f), 1);
	assert_int_equal(state_of("h_1", NULL), STATE_PAID);
	/* argv username heart_id reward, and the environment. */
	file_in(f, "runs", path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "alice h_1 100 h_1\n");

	assert_int_equal(deliver(f, "h_1"), 200);
	expect_answer(f, "duplicate\n");
	expect_logged(f, "duplicate", NULL);
	assert_int_equal(runs(f), 1);
	/* Another vote is another grant. */
	assert_int_equal(deliver(f, "h_2"), 200);
	assert_int_equal(runs(f), 2);
}

static void
test_failed_grant_runs_again(void **state)
{
	struct fixture *f = *state;
	struct ledger_record rec;

	start(f, "");
	behave(f, "1");
	assert_int_equal(deliver(f, "h_1"), 502);
	expect_logged(f, "grant_failed", "\"grant_exit\":1");
	assert_int_equal(state_of("h_1", &rec), STATE_FAILED);
	assert_int_equal(rec.group.pgid, 0);
	behave(f, "0");
	assert_int_equal(deliver(f, "h_1"), 200);
	expect_logged(f, "paid", NULL);
	assert_int_equal(runs(f), 2);
	assert_int_equal(state_of("h_1", &rec), STATE_PAID);
	assert_int_equal(rec.attempts, 2);
}

static void
test_refused_for_good(void **state)
{
	struct fixture *f = *state;

	start(f, "");
	behave(f, "65");
	assert_int_equal(deliver(f, "h_1"), 200);
	expect_answer(f, "refused\n");
	expect_logged(f, "refused", NULL);
	assert_int_equal(state_of("h_1", NULL), STATE_REFUSED);
	behave(f, "0");
	assert_int_equal(deliver(f, "h_1"), 200);
	expect_logged(f, "duplicate", NULL);
	assert_int_equal(runs(f), 1);
}

static void
test_killed_grant_held(void **state)
{
	struct fixture *f = *state;

	start(f, "");
	behave(f, "kill");
	assert_int_equal(deliver(f, "h_1"), 200);
	expect_logged(f, "unknown", "\"grant_signal\":9");
	assert_int_equal(state_of("h_1", NULL), STATE_UNKNOWN);
	/* Held: never run again by a delivery. */
	behave(f, "0");
	assert_int_equal(deliver(f, "h_1"), 200);
	expect_logged(f, "unknown", "--replay h_1");
	assert_int_equal(runs(f), 1);
	assert_int_equal(state_of("h_1", NULL), STATE_UNKNOWN);
}

static void
test_killed_grant_retried(void **state)
{
	struct fixture *f = *state;

	start(f, "unknown_outcome = retry\n");
	behave(f, "kill");
	assert_int_equal(deliver(f, "h_1"), 502);
	expect_logged(f, "grant_killed", NULL);
	assert_int_equal(state_of("h_1", NULL), STATE_UNKNOWN);
	behave(f, "0");
	assert_int_equal(deliver(f, "h_1"), 200);
	expect_logged(f, "paid", NULL);
	assert_int_equal(runs(f), 2);
}

/* The settings change: the server starts again under extra's lines. */
static void
restart(struct fixture *f, const char *extra)
{
	server_free(&srv);
	srv_started = false;
	start(f, extra);
}

/*
 * Under retry a killed grant's vote is queued to run again; switched to
 * hold, it is held back, by a delivery and by --drain, until replayed.
 */
static void
test_once_unknown_held_after_switch(void **state)
{
	struct fixture *f = *state;

	start(f, "unknown_outcome = retry\n");
	behave(f, "kill");
	assert_int_equal(deliver(f, "h_1"), 502);
	restart(f, "unknown_outcome = retry\ngrant_mode = queue\n");
	assert_int_equal(deliver(f, "h_1"), 200);
	expect_logged(f, "queued", NULL);
	assert_int_equal(state_of("h_1", NULL), STATE_QUEUED);
	restart(f, "");
	behave(f, "0");
	assert_int_equal(deliver(f, "h_1"), 200);
	expect_logged(f, "unknown", "--replay h_1");
	assert_int_equal(state_of("h_1", NULL), STATE_UNKNOWN);
	assert_int_equal(pay_by_name("h_1", PAY_DRAIN_NOW), PAY_HELD);
	assert_int_equal(runs(f), 1);
	/* The owner's replay is the word that it did not act. */
	assert_int_equal(pay_by_name("h_1", PAY_REPLAY), PAY_DUE);
	assert_int_equal(deliver(f, "h_1"), 200);
	expect_logged(f, "paid", NULL);
	assert_int_equal(runs(f), 2);
}

static void
test_queue_then_drain(void **state)
{
	struct fixture *f = *state;

	start(f, "grant_mode = queue\n");
	assert_int_equal(deliver(f, "h_1"), 200);
	expect_answer(f, "ok\n");
	expect_logged(f, "queued", NULL);
	assert_int_equal(runs(f), 0);
	assert_int_equal(state_of("h_1", NULL), STATE_QUEUED);
	assert_true(queue_marked(f, "h_1"));
	assert_int_equal(deliver(f, "h_1"), 200);
	expect_logged(f, "duplicate", NULL);

	assert_int_equal(drain(false, "drained: 1 paid,"), 0);
	expect_logged(f, "paid", "\"method\":\"drain\"");
	assert_int_equal(runs(f), 1);
	assert_int_equal(state_of("h_1", NULL), STATE_PAID);
	assert_false(queue_marked(f, "h_1"));
	/* Drained: nothing left to do. */
	assert_int_equal(drain(false, "drained: 0 paid,"), 0);
	assert_int_equal(runs(f), 1);
}

static void
test_drain_grant_error_stays_queued(void **state)
{
	struct fixture *f = *state;
	char grant[400];

	start(f, "grant_mode = queue\n");
	assert_int_equal(deliver(f, "h_1"), 200);
	/* The grant cannot be run for a while (root too needs an x bit). */
	file_in(f, "grant", grant, sizeof(grant));
	assert_int_equal(chmod(grant, 0600), 0);
	assert_int_equal(drain(true, "with errors"), 1);
	expect_logged(f, "config_error", "cannot run the grant program");
	assert_int_equal(runs(f), 0);
	/* Still queued, so the next --drain pays it once it can. */
	assert_int_equal(state_of("h_1", NULL), STATE_QUEUED);
	assert_true(queue_marked(f, "h_1"));
	assert_int_equal(chmod(grant, 0700), 0);
	assert_int_equal(drain(true, "drained: 1 paid,"), 0);
	assert_int_equal(runs(f), 1);
	assert_int_equal(state_of("h_1", NULL), STATE_PAID);
}

static void
test_replay_now_pays_unknown_once(void **state)
{
	struct fixture *f = *state;

	start(f, "");
	behave(f, "kill");
	assert_int_equal(deliver(f, "h_1"), 200);
	assert_int_equal(state_of("h_1", NULL), STATE_UNKNOWN);
	behave(f, "0");
	assert_int_equal(pay_by_name("h_1", PAY_REPLAY_NOW), PAY_PAID);
	assert_int_equal(runs(f), 2);
	assert_int_equal(state_of("h_1", NULL), STATE_PAID);
	/* Paid: neither a delivery nor a plain replay runs it again. */
	assert_int_equal(deliver(f, "h_1"), 200);
	expect_logged(f, "duplicate", NULL);
	assert_int_equal(pay_by_name("h_1", PAY_REPLAY_NOW),
	    PAY_NOT_REPLAYABLE);
	assert_int_equal(pay_by_name("h_nothing", PAY_REPLAY_NOW),
	    PAY_NOT_FOUND);
	assert_int_equal(runs(f), 2);
}

static void
test_replay_now_failure_is_drained(void **state)
{
	struct fixture *f = *state;

	start(f, "");
	behave(f, "kill");
	assert_int_equal(deliver(f, "h_1"), 200);
	/* The owner's replay fails too: queued, so --drain retries it. */
	behave(f, "1");
	assert_int_equal(pay_by_name("h_1", PAY_REPLAY_NOW), PAY_FAILED);
	assert_int_equal(state_of("h_1", NULL), STATE_QUEUED);
	assert_true(queue_marked(f, "h_1"));
	behave(f, "0");
	assert_int_equal(drain(true, "drained: 1 paid,"), 0);
	assert_int_equal(runs(f), 3);
	assert_int_equal(state_of("h_1", NULL), STATE_PAID);
	assert_false(queue_marked(f, "h_1"));
}

/* ------------------------------------------------- orphaned attempts */

/* Field 22 of /proc/PID/stat: the process's start, in clock ticks. */
static long long
start_ticks(pid_t pid)
{
	char path[64], buf[1024], *p, *save = NULL;
	int fd, field;
	ssize_t n;

	(void)snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
	/* Fields from 3 on follow the name's last ')'. */
	p = strrchr(buf, ')');
	assert_non_null(p);
	p = strtok_r(p + 1, " ", &save);
	for (field = 3; field < 22 && p != NULL; field++)
		p = strtok_r(NULL, " ", &save);
	assert_non_null(p);
	return strtoll(p, NULL, 10);
}

static void
this_boot(char id[GRANT_BOOT_ID_MAX])
{
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, id, GRANT_BOOT_ID_MAX - 1);
	(void)close(fd);
	assert_true(n > 1 && id[n - 1] == '\n');
	id[n - 1] = '\0';
}

/* A `sleep 30` leading its own process group, as a grant would. */
static pid_t
spawn_sleeper(struct fixture *f)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		(void)setpgid(0, 0);
		(void)execlp("sleep", "sleep", "30", (char *)NULL);
		_exit(127);
	}
	(void)setpgid(pid, pid);
	f->sleeper = pid;
	return pid;
}

/* A pid no process has now: one that has just been reaped. */
static pid_t
dead_pid(void)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return pid;
}

/* heart_id's record says pending: a handler died while pgid ran. */
static void
write_pending(const char *heart_id, pid_t pgid, long long ticks,
    long long deadline)
{
	struct ledger_record rec, none;
	char name[DIGEST_HEX_LEN + 1], err[600];
	struct claim c;

	memset(&rec, 0, sizeof(rec));
	rec.state = STATE_PENDING;
	rec.time = (long long)time(NULL);
	rec.attempts = 1;
	rec.group.pgid = pgid;
	rec.group.start_ticks = ticks;
	rec.group.deadline = deadline;
	this_boot(rec.group.boot_id);
	rec.vote.mode = VOTE_POST;
	(void)snprintf(rec.vote.key, sizeof(rec.vote.key), "post:%s",
	    heart_id);
	(void)snprintf(rec.vote.event, sizeof(rec.vote.event), "%s",
	    EVENT_COUNTED);
	(void)snprintf(rec.vote.username, sizeof(rec.vote.username), "alice");
	(void)snprintf(rec.vote.heart_id, sizeof(rec.vote.heart_id), "%s",
	    heart_id);
	rec.vote.reward = 100;
	rec.vote.first_heart = rec.vote.streak_milestone =
	    rec.vote.account_linked = FLAG_ABSENT;
	ledger_name(rec.vote.key, name);
	assert_int_equal(ledger_claim(&srv.ledger, name, 0, &c, &none, err,
	    sizeof(err)), LEDGER_NEW);
	if (ledger_write(&srv.ledger, &c, &rec, err, sizeof(err)) != LEDGER_OK)
		fail_msg("%s", err);
	ledger_release(&c);
}

static void
test_orphan_of_dead_group_held(void **state)
{
	struct fixture *f = *state;

	start(f, "");
	write_pending("h_1", dead_pid(), 1, (long long)time(NULL) + 60);
	assert_int_equal(deliver(f, "h_1"), 200);
	expect_logged(f, "unknown", "outcome unknown");
	assert_int_equal(runs(f), 0);
	assert_int_equal(state_of("h_1", NULL), STATE_UNKNOWN);
}

static void
test_orphan_of_dead_group_retried(void **state)
{
	struct fixture *f = *state;

	start(f, "unknown_outcome = retry\n");
	write_pending("h_1", dead_pid(), 1, (long long)time(NULL) + 60);
	assert_int_equal(deliver(f, "h_1"), 200);
	expect_logged(f, "paid", "outcome unknown");
	assert_int_equal(runs(f), 1);
	assert_int_equal(state_of("h_1", NULL), STATE_PAID);
}

static void
test_orphan_past_deadline_killed(void **state)
{
	struct fixture *f = *state;
	pid_t pid;
	int status;

	start(f, "");
	pid = spawn_sleeper(f);
	write_pending("h_1", pid, start_ticks(pid), (long long)time(NULL) - 1);
	assert_int_equal(deliver(f, "h_1"), 200);
	expect_logged(f, "unknown", "killed process group");
	assert_int_equal(runs(f), 0);
	assert_int_equal(state_of("h_1", NULL), STATE_UNKNOWN);
	/* Killed before the delivery went on: already a zombie to reap. */
	assert_int_equal(waitpid(pid, &status, WNOHANG), pid);
	f->sleeper = 0;
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

static void
test_orphan_still_running_busy(void **state)
{
	struct fixture *f = *state;
	struct ledger_record rec;
	pid_t pid;
	int status;

	start(f, "");
	pid = spawn_sleeper(f);
	write_pending("h_1", pid, start_ticks(pid), (long long)time(NULL) + 60);
	/* --drain does not wait for it, nor kill it before its deadline. */
	assert_int_equal(pay_by_name("h_1", PAY_DRAIN_NOW), PAY_BUSY);
	assert_int_equal(waitpid(pid, &status, WNOHANG), 0);
	assert_int_equal(state_of("h_1", &rec), STATE_PENDING);
	assert_int_equal(rec.group.pgid, pid);
	assert_int_equal(runs(f), 0);
}

static void
test_orphan_pid_reused(void **state)
{
	struct fixture *f = *state;
	pid_t pid;
	int status;

	start(f, "");
	pid = spawn_sleeper(f);
	/* A group of that pid lives, but its leader started at another time. */
	write_pending("h_1", pid, start_ticks(pid) - 1,
	    (long long)time(NULL) - 1);
	assert_int_equal(deliver(f, "h_1"), 200);
	expect_logged(f, "unknown", NULL);
	assert_int_equal(state_of("h_1", NULL), STATE_UNKNOWN);
	/* Not ours: left alone. */
	assert_int_equal(waitpid(pid, &status, WNOHANG), 0);
}

/* ------------------------------------------------- ledger failures */

static void
test_corrupt_record_never_paid(void **state)
{
	struct fixture *f = *state;
	char name[DIGEST_HEX_LEN + 1], path[400];

	start(f, "");
	ledger_name("post:h_1", name);
	(void)snprintf(path, sizeof(path), "%s/votes/%s", f->state_dir, name);
	write_file(path, "", 0);
	assert_int_equal(deliver(f, "h_1"), 500);
	expect_logged(f, "ledger_corrupt", path);
	assert_int_equal(runs(f), 0);
}

static void
test_intent_unwritable_new_vote(void **state)
{
	struct fixture *f = *state;
	char votes[400];

	start(f, "");
	/*
	 * As root no permission stops a write: remove votes/ under the
	 * open ledger instead, so the new record cannot be created there.
	 */
	(void)snprintf(votes, sizeof(votes), "%s/votes", f->state_dir);
	assert_int_equal(rmdir(votes), 0);
	assert_int_equal(deliver(f, "h_1"), 500);
	expect_logged(f, "ledger_error", "the grant did not run");
	assert_int_equal(runs(f), 0);
}

static void
test_intent_unwritable_old_vote(void **state)
{
	struct fixture *f = *state;
	struct rlimit old, none;
	struct sigaction ignore, was;
	struct capture cap;
	int status;

	start(f, "");
	behave(f, "1");
	assert_int_equal(deliver(f, "h_1"), 502);
	behave(f, "0");
	/*
	 * No file may grow past 0 bytes: the intent's pwrite at offset 0
	 * fails with EFBIG even as root (and so does the log's line, which
	 * then goes to standard error).
	 */
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	none = old;
	none.rlim_cur = 0;
	memset(&ignore, 0, sizeof(ignore));
	ignore.sa_handler = SIG_IGN;
	assert_int_equal(sigaction(SIGXFSZ, &ignore, &was), 0);
	capture_start(&cap, 2);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &none), 0);
	status = deliver(f, "h_1");
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_int_equal(sigaction(SIGXFSZ, &was, NULL), 0);
	capture_expect(&cap, "\"outcome\":\"ledger_error\"");
	assert_int_equal(status, 500);
	assert_int_equal(runs(f), 1);
	assert_int_equal(state_of("h_1", NULL), STATE_FAILED);
	/* Once the disk takes writes again, the vote is paid. */
	assert_int_equal(deliver(f, "h_1"), 200);
	assert_int_equal(runs(f), 2);
}

int
run_pay_tests(void)
{
#define T(t) cmocka_unit_test_prestate_setup_teardown(t, setup, teardown, \
	    &spec)
	const struct CMUnitTest tests[] = {
		T(test_first_vote_paid_once),
		T(test_failed_grant_runs_again),
		T(test_refused_for_good),
		T(test_killed_grant_held),
		T(test_killed_grant_retried),
		T(test_queue_then_drain),
		T(test_drain_grant_error_stays_queued),
		T(test_once_unknown_held_after_switch),
		T(test_replay_now_pays_unknown_once),
		T(test_replay_now_failure_is_drained),
		T(test_orphan_of_dead_group_held),
		T(test_orphan_of_dead_group_retried),
		T(test_orphan_past_deadline_killed),
		T(test_orphan_still_running_busy),
		T(test_orphan_pid_reused),
		T(test_corrupt_record_never_paid),
		T(test_intent_unwritable_new_vote),
		T(test_intent_unwritable_old_vote),
	};
#undef T

	return cmocka_run_group_tests_name("pay", tests, NULL, NULL);
}
