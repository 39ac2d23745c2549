#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "explain.h"
#include "ledger.h"
#include "legacy.h"
#include "owner.h"
#include "queue.h"
#include "sandbox.h"
#include "secret.h"
#include "signature.h"
#include "sys.h"
#include "text.h"
#include "utc.h"

#ifndef MMOLOVE_VERSION
#define MMOLOVE_VERSION "0.0.0"
#endif

static const char usage[] =
"usage: mmolove.cgi --sign [--t UNIX] < body\n"
"       mmolove.cgi --sign-legacy USERNAME [TS]\n"
"       mmolove.cgi --verify 'X-MMOLove-Signature value' < body\n"
"       mmolove.cgi --check\n"
"       mmolove.cgi --drain [--now]\n"
"       mmolove.cgi --ledger [--state STATE] [--user NAME] "
"[--since YYYY-MM-DD] [--json]\n"
"       mmolove.cgi --replay HEART_ID [--now] [--force]\n"
"       mmolove.cgi --prune DAYS\n"
"       mmolove.cgi --top YYYY-MM [N] [--json]\n"
"       mmolove.cgi --help | --version\n"
"\n"
"Run by a web server (CGI or FastCGI), mmolove.cgi verifies MMOLove's\n"
"signed vote callbacks and runs the configured grant program at most once\n"
"per vote.  From a shell, it signs test deliveries, verifies captured\n"
"ones, checks the configuration, runs queued grants, and lists, replays\n"
"and prunes the ledger of votes (states: pending failed paid refused\n"
"queued dead unknown).\n"
"\n"
"Configuration: the file in MMOLOVE_CONFIG, else " MMOLOVE_DEFAULT_CONFIG
"\n(MMOLOVE_<KEY> environment variables override its keys).\n";

struct setup {
	struct config	 cfg;
	struct secret_set secrets;
};

static int
load(struct setup *s, int want_secrets)
{
	char why[320];

	if (config_load(&s->cfg, why, sizeof(why)) == -1 ||
	    (want_secrets && secret_load(&s->secrets, s->cfg.secret_file, why,
	    sizeof(why)) == -1)) {
		(void)fprintf(stderr, "mmolove.cgi: %s\n", why);
		return -1;
	}
	return 0;
}

/* Reads all of stdin into buf (bounded); returns the length or -1. */
static ssize_t
read_stdin(char *buf, size_t cap)
{
	ssize_t n = read_full(STDIN_FILENO, buf, cap);

	if (n == -1)
		(void)fprintf(stderr, "mmolove.cgi: reading stdin: %s\n",
		    strerror(errno));
	else if ((size_t)n == cap) {
		(void)fprintf(stderr, "mmolove.cgi: body over %zu bytes\n",
		    cap - 1);
		n = -1;
	}
	return n;
}

static int
parse_time_arg(const char *arg, long long *t)
{
	if (parse_unix_time(arg, strlen(arg), t) == -1) {
		(void)fprintf(stderr, "mmolove.cgi: not a unix time: %s\n", arg);
		return -1;
	}
	return 0;
}

static int
cmd_sign(int argc, char *argv[])
{
	static char body[CONFIG_MAX_BODY_LIMIT + 1];
	struct setup s;
	char header[128];
	long long t = (long long)time(NULL);
	ssize_t len;
	int rc = 1;

	if (argc == 4 && strcmp(argv[2], "--t") == 0) {
		if (parse_time_arg(argv[3], &t) == -1)
			return 2;
	} else if (argc != 2) {
		(void)fputs(usage, stderr);
		return 2;
	}
	if (load(&s, 1) == -1)
		return 1;
	if ((len = read_stdin(body, sizeof(body))) != -1) {
		signature_sign(&s.secrets.keys[0], t, body, (size_t)len,
		    header, sizeof(header));
		(void)printf("%s\n", header);
		rc = 0;
	}
	secret_wipe(&s.secrets);
	return rc;
}

static int
cmd_sign_legacy(int argc, char *argv[])
{
	struct setup s;
	char query[4 * EVENT_NAME_MAX + 128];
	long long ts = (long long)time(NULL);
	const char *problem;
	int rc = 1;

	if (argc != 3 && argc != 4) {
		(void)fputs(usage, stderr);
		return 2;
	}
	if (argc == 4 && parse_time_arg(argv[3], &ts) == -1)
		return 2;
	if ((problem = name_problem((unsigned char *)argv[2], strlen(argv[2]),
	    EVENT_NAME_MAX)) != NULL) {
		(void)fprintf(stderr, "mmolove.cgi: username %s\n", problem);
		return 2;
	}
	if (load(&s, 1) == -1)
		return 1;
	if (legacy_sign(&s.secrets.keys[0], argv[2], ts, query,
	    sizeof(query)) == 0) {
		(void)printf("%s\n", query);
		rc = 0;
	}
	secret_wipe(&s.secrets);
	return rc;
}

static int
cmd_verify(int argc, char *argv[])
{
	static char body[CONFIG_MAX_BODY_LIMIT + 1];
	struct signature_header sig;
	struct setup s;
	char why[96];
	long long age;
	ssize_t len;
	int rc = 1;

	if (argc != 3) {
		(void)fputs(usage, stderr);
		return 2;
	}
	if (signature_parse(argv[2], &sig, why, sizeof(why)) != SIGNATURE_OK) {
		(void)printf("FAIL: garbled header: %s\n", why);
		return 1;
	}
	if (load(&s, 1) == -1 ||
	    (len = read_stdin(body, sizeof(body))) == -1)
		return 1;
	age = signature_age(&sig, time(NULL));
	if (signature_check(&sig, &s.secrets, body, (size_t)len) !=
	    SIGNATURE_OK)
		(void)printf("FAIL: no v1 matches a configured secret over "
		    "these %zd body bytes\n", len);
	else {
		(void)printf("OK: signed %lld s %s; tolerance %ld s: %s now\n",
		    age < 0 ? -age : age, age < 0 ? "in the future" : "ago",
		    s.cfg.tolerance, signature_fresh(age, s.cfg.tolerance) ?
		    "it would be accepted" : "a live delivery this old would "
		    "be refused as stale");
		rc = 0;
	}
	/* The request path ignores them too; say so, or a typo goes unseen. */
	if (sig.v1_ignored > 0)
		(void)printf("note: %zu v1 ignored: not 64 lower-case hex "
		    "digits\n", sig.v1_ignored);
	secret_wipe(&s.secrets);
	return rc;
}

static void
check(int *problems, int ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
check(int *problems, int ok, const char *fmt, ...)
{
	va_list ap;

	(void)printf("%s ", ok ? "ok     " : "PROBLEM");
	va_start(ap, fmt);
	(void)vprintf(fmt, ap);
	va_end(ap);
	(void)printf("\n");
	if (!ok)
		(*problems)++;
}

/* A secret line that is probably wrong, yet accepted: a warning. */
static void
secret_warning(void *arg, const char *msg)
{
	(void)arg;
	(void)printf("warning secret_file: %s\n", msg);
}

/*
 * secret_load() is the one judge of the file, its mode included, so
 * --check refuses exactly what a request would, in the same words.
 */
static void
check_secret(int *problems, const struct config *cfg)
{
	struct secret_set set;
	char why[320];
	int from_env = getenv("MMOLOVE_CALLBACK_SECRET") != NULL;

	if (secret_load(&set, cfg->secret_file, why, sizeof(why)) == -1) {
		check(problems, 0, "secret: %s", why);
		return;
	}
	check(problems, 1, "secret: %zu accepted (%s%s)", set.count, from_env ?
	    "MMOLOVE_CALLBACK_SECRET" : cfg->secret_file, from_env ? "" :
	    ", neither readable nor writable by others");
	secret_wipe(&set);
	if (from_env)
		return;
	(void)secret_lint(cfg->secret_file, secret_warning, NULL);
}

static void
check_grant(int *problems, const struct config *cfg)
{
	struct stat st;

	if (cfg->grant[0] == '\0') {
		check(problems, 0, "grant: not set");
		return;
	}
	if (stat(cfg->grant, &st) == -1) {
		check(problems, 0, "grant %s: %s", cfg->grant, strerror(errno));
		return;
	}
	check(problems, S_ISREG(st.st_mode) && access(cfg->grant, X_OK) == 0,
	    "grant %s is an executable file", cfg->grant);
	check(problems, cfg->grant[0] == '/', "grant is an absolute path");
}

static void
check_state_dir(int *problems, const struct config *cfg)
{
	struct ledger l;
	char why[320];
	int rc;

	if (ledger_open(&l, cfg->state_dir, why, sizeof(why)) == -1) {
		check(problems, 0, "state_dir: %s", why);
		return;
	}
	/* A whole record, synced: an empty file fits on a full disk. */
	rc = ledger_probe(&l, why, sizeof(why));
	if (rc == 0)
		check(problems, 1, "state_dir %s/votes is writable, with room "
		    "for a new record", cfg->state_dir);
	else
		check(problems, 0, "state_dir %s/votes is not writable, or "
		    "full: %s (every new vote answers 500)", cfg->state_dir,
		    why);
	ledger_close(&l);
}

static void
check_log(int *problems, const struct config *cfg)
{
	int fd;

	if (cfg->log[0] == '\0') {
		check(problems, 1, "log: standard error (the web server's error log)");
		return;
	}
	fd = open(cfg->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	check(problems, fd != -1, "log %s is writable%s%s", cfg->log, fd == -1 ? ": " :
	    "", fd == -1 ? strerror(errno) : "");
	if (fd != -1)
		(void)close(fd);
}

/*
 * What the end of the log says went wrong lately (explain.h): warnings
 * about the past, so they leave the exit status alone.
 */
static void
check_recent(const struct config *cfg)
{
	char why[320], say[1024];
	struct explain x;
	size_t i;

	if (cfg->log[0] == '\0')
		return;
	if (explain_log(&x, cfg->log, (long long)time(NULL), why,
	    sizeof(why)) == -1) {
		(void)printf("note    recent failures not read from the log: "
		    "%s\n", why);
		return;
	}
	for (i = 0; i < x.count; i++) {
		explain_say(&x.groups[i], say, sizeof(say));
		(void)printf("warning log: %s\n", say);
	}
	if (x.ungrouped > 0)
		(void)printf("warning log: %u more failures of other kinds: "
		    "jq -c 'select(.status >= 300)' %s\n", x.ungrouped,
		    cfg->log);
}

/*
 * suEXEC (shared hosting) refuses a program, with a bare 500 and nothing
 * in our log, unless it and its directory are the user's own and writable
 * by nobody else.  A program a non-root user deploys under their own name
 * is checked for that; a system-wide install (root's) is not suEXEC's.
 */
static void
check_own_file(int *problems, const char *what, const char *path,
    const struct stat *st, uid_t uid)
{
	if (st->st_uid != uid)
		check(problems, 0, "%s %s is not yours (owner uid %u): suEXEC "
		    "refuses it; upload it again as yourself", what, path,
		    (unsigned)st->st_uid);
	else if (st->st_mode & 022)
		check(problems, 0, "%s %s is writable by group or others (mode "
		    "%04o): suEXEC refuses it; chmod 0755 %s", what, path,
		    st->st_mode & 07777, path);
	else
		check(problems, 1, "%s %s is yours, writable by you alone "
		    "(mode %04o)", what, path, st->st_mode & 07777);
}

static void
check_program(int *problems)
{
	char exe[PATH_MAX], dir[PATH_MAX];
	struct stat st_exe, st_dir;
	char *slash;
	ssize_t n;
	uid_t uid = geteuid();

	if (uid == 0)
		return;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return;
	exe[n] = '\0';
	(void)memcpy(dir, exe, (size_t)n + 1);
	if ((slash = strrchr(dir, '/')) == NULL)
		return;
	*(slash == dir ? slash + 1 : slash) = '\0';
	if (stat(exe, &st_exe) == -1 || stat(dir, &st_dir) == -1 ||
	    (st_exe.st_uid != uid && st_dir.st_uid != uid))
		return;
	check_own_file(problems, "program", exe, &st_exe, uid);
	check_own_file(problems, "program's directory", dir, &st_dir, uid);
}

static void
check_ledger(int *problems, const struct config *cfg)
{
	struct ledger_health h;

	owner_check_ledger(cfg, &h);
	if (h.unreadable)
		return;		/* check_state_dir() said why */
	check(problems, h.corrupt == 0, "ledger: %u vote records, %u corrupt "
	    "or unreadable%s", h.records, h.corrupt, h.corrupt ? " (never "
	    "read as unpaid: deliveries of these votes answer 500 until you "
	    "repair or remove the file)" : "");
	if (h.unknown || h.dead)
		(void)printf("warning %u unknown and %u dead votes wait for you: "
		    "mmolove.cgi --ledger --state unknown (or dead)\n",
		    h.unknown, h.dead);
}

/*
 * Whether this kernel takes the front's seccomp filter: tried in a
 * child, which it would confine for good.  Refused, every request
 * would be a 500 (sandbox_error).
 */
static void
check_sandbox(int *problems)
{
	char why[200] = "";
	int fd[2], status;
	ssize_t n;
	pid_t pid;

	/* Nothing buffered may be written twice, by the child too. */
	(void)fflush(stdout);
	if (pipe(fd) == -1 || (pid = fork()) == -1) {
		check(problems, 0, "sandbox: cannot try it: %s",
		    strerror(errno));
		return;
	}
	if (pid == 0) {
		(void)close(fd[0]);
		if (sandbox_enter(why, sizeof(why)) == -1)
			(void)write_all(fd[1], why, strlen(why));
		_exit(0);
	}
	(void)close(fd[1]);
	n = read(fd[0], why, sizeof(why) - 1);
	why[n > 0 ? n : 0] = '\0';
	(void)close(fd[0]);
	(void)waitpid(pid, &status, 0);
	check(problems, why[0] == '\0', "sandbox: %s", why[0] == '\0' ?
	    "the kernel takes the front's seccomp filter" : why);
}

static int
cmd_check(void)
{
	struct setup s;
	int problems = 0;

	if (load(&s, 0) == -1) {
		check(&problems, 0, "configuration does not load");
		return 1;
	}
	check(&problems, 1, "configuration: %s%s", s.cfg.path, s.cfg.file_found ? "" :
	    " (not found: environment and defaults only)");
	check_secret(&problems, &s.cfg);
	check_grant(&problems, &s.cfg);
	check_state_dir(&problems, &s.cfg);
	check_ledger(&problems, &s.cfg);
	check_log(&problems, &s.cfg);
	check_recent(&s.cfg);
	check_program(&problems);
	check_sandbox(&problems);
	if (geteuid() == 0 && !s.cfg.allow_root)
		(void)printf("note    run as root, requests are refused (500) "
		    "unless allow_root = yes: --check tests as the current "
		    "user, so run it as the web server's user\n");
	(void)printf("%s\n", problems == 0 ? "configuration OK" :
	    "configuration has problems");
	return problems == 0 ? 0 : 1;
}

static int
cmd_drain(int argc, char *argv[])
{
	struct setup s;

	if (argc > 3 || (argc == 3 && strcmp(argv[2], "--now") != 0)) {
		(void)fputs(usage, stderr);
		return OWNER_USAGE;
	}
	if (load(&s, 0) == -1)
		return 1;
	return queue_drain(&s.cfg, argc == 3);
}

/* The value after argv[*i], or NULL (usage printed). */
static const char *
option_value(int argc, char *argv[], int *i)
{
	if (*i + 1 >= argc) {
		(void)fprintf(stderr, "mmolove.cgi: %s needs a value\n",
		    argv[*i]);
		return NULL;
	}
	return argv[++*i];
}

static int
ledger_option(struct ledger_query *q, int argc, char *argv[], int *i)
{
	const char *v;

	if (strcmp(argv[*i], "--json") == 0) {
		q->json = true;
		return 0;
	}
	if ((v = option_value(argc, argv, i)) == NULL)
		return -1;
	if (strcmp(argv[*i - 1], "--state") == 0 &&
	    (q->state = ledger_state_parse(v)) > STATE_NONE)
		return 0;
	if (strcmp(argv[*i - 1], "--user") == 0) {
		q->user = v;
		return 0;
	}
	if (strcmp(argv[*i - 1], "--since") == 0 &&
	    utc_parse_date(v, &q->since) == 0)
		return 0;
	(void)fprintf(stderr, "mmolove.cgi: %s %s: not understood\n",
	    argv[*i - 1], v);
	return -1;
}

static int
cmd_ledger(int argc, char *argv[])
{
	struct ledger_query q = { -1, NULL, 0, false };
	struct setup s;
	int i;

	for (i = 2; i < argc; i++)
		if (ledger_option(&q, argc, argv, &i) == -1) {
			(void)fputs(usage, stderr);
			return OWNER_USAGE;
		}
	if (load(&s, 0) == -1)
		return 1;
	return owner_ledger(&s.cfg, &q);
}

static int
cmd_replay(int argc, char *argv[])
{
	const char *heart_id = NULL;
	bool now = false, force = false;
	struct setup s;
	int i;

	for (i = 2; i < argc; i++)
		if (strcmp(argv[i], "--now") == 0)
			now = true;
		else if (strcmp(argv[i], "--force") == 0)
			force = true;
		else if (heart_id == NULL && argv[i][0] != '-')
			heart_id = argv[i];
		else
			heart_id = "";
	if (heart_id == NULL || heart_id[0] == '\0') {
		(void)fputs(usage, stderr);
		return OWNER_USAGE;
	}
	if (load(&s, 0) == -1)
		return 1;
	return owner_replay(&s.cfg, heart_id, now, force);
}

static int
cmd_prune(int argc, char *argv[])
{
	struct setup s;
	char *end;
	long days;

	if (argc != 3 || argv[2][0] < '0' || argv[2][0] > '9' ||
	    (days = strtol(argv[2], &end, 10), *end != '\0')) {
		(void)fputs(usage, stderr);
		return OWNER_USAGE;
	}
	if (load(&s, 0) == -1)
		return 1;
	return owner_prune(&s.cfg, days);
}

static int
cmd_top(int argc, char *argv[])
{
	long long start;
	long count = 10;
	bool json = argc > 2 && strcmp(argv[argc - 1], "--json") == 0;
	int args = argc - (json ? 1 : 0);
	struct setup s;
	char *end;

	if (args < 3 || args > 4 || strlen(argv[2]) != 7 ||
	    utc_parse_date(argv[2], &start) == -1 || (args == 4 &&
	    (argv[3][0] < '1' || argv[3][0] > '9' || strlen(argv[3]) > 9 ||
	    (count = strtol(argv[3], &end, 10), *end != '\0')))) {
		(void)fputs(usage, stderr);
		return OWNER_USAGE;
	}
	if (load(&s, 0) == -1)
		return 1;
	return owner_top(&s.cfg, argv[2], count, json);
}

int
cli_main(int argc, char *argv[])
{
	const char *cmd = argc > 1 ? argv[1] : "";

	if (strcmp(cmd, "--sign") == 0)
		return cmd_sign(argc, argv);
	if (strcmp(cmd, "--sign-legacy") == 0)
		return cmd_sign_legacy(argc, argv);
	if (strcmp(cmd, "--verify") == 0)
		return cmd_verify(argc, argv);
	if (strcmp(cmd, "--check") == 0 && argc == 2)
		return cmd_check();
	if (strcmp(cmd, "--drain") == 0)
		return cmd_drain(argc, argv);
	if (strcmp(cmd, "--ledger") == 0)
		return cmd_ledger(argc, argv);
	if (strcmp(cmd, "--replay") == 0)
		return cmd_replay(argc, argv);
	if (strcmp(cmd, "--prune") == 0)
		return cmd_prune(argc, argv);
	if (strcmp(cmd, "--top") == 0)
		return cmd_top(argc, argv);
	if (strcmp(cmd, "--version") == 0 && argc == 2) {
		(void)printf("mmolove.cgi %s\n", MMOLOVE_VERSION);
		return 0;
	}
	if (strcmp(cmd, "--help") == 0 && argc == 2) {
		(void)fputs(usage, stdout);
		return 0;
	}
	(void)fputs(usage, stderr);
	return 2;
}
