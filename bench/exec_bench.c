/*
 * exec_bench: the bench's direct-exec driver and request signer.
 *
 *   exec_bench run -s SECRET -o OUT.tsv [-n RUNS] [-e KEY=VALUE]...
 *                  [-E STDERR_FILE] [-P NAME:COMMAND]... [-D] CASE...
 *       CASE is NAME:BODY:RUNS:[KEY=VALUE ...] PROGRAM [ARG...] (split on
 *       spaces; leading KEY=VALUE words are this case's own environment,
 *       over -e's), BODY `test` (a signed heart.test), `paid` (a signed
 *       heart.counted with a heart_id never used before), `paid=PREFIX/N`
 *       (the same for the heart_id PREFIX<k>, k drawn at random below N:
 *       a duplicate when those votes are in the ledger) or `cmd` (a
 *       command line, not a CGI request: no CGI environment, nothing on
 *       standard input, ok when it exits 0), RUNS 0 for the -n default.
 *       -P runs COMMAND (split on spaces, same environment) before each
 *       run of case NAME, off the clock, and stops if it fails; -D syncs
 *       and drops the page cache (root) before every run, off the clock,
 *       after -P's command.  Runs every case in
 *       interleaved rounds (the start of each round rotates, and a case
 *       with fewer runs is spread evenly over the rounds), each run the
 *       way a web server runs a CGI program: posix_spawn with a CGI
 *       environment, the body through a pipe on standard input, standard
 *       output read to EOF, wait4() to reap.  The clock runs from just
 *       before posix_spawn to just after wait4; signing happens before.
 *       Writes one TSV line per case: name runs ok median p90 p99 mean
 *       min max (ms), the child's peak RSS (ru_maxrss, KiB) median
 *       and max (it includes this driver's size: see rss_probe.c), and
 *       the median of its minor page faults (ru_minflt, grant
 *       included), then the median of its block reads (ru_inblock, in
 *       512-byte units: what came from the disk, not the page cache),
 *       then the 10th percentile time (ms: less moved than the median
 *       by a busy machine's scheduler).
 *       A run whose output does not start with `Status: 200` is counted
 *       as not ok; the first one is shown on stderr.
 *
 *   exec_bench sign -s SECRET [-k test|paid] [-n N] [-p PREFIX]
 *       Prints N lines `SIGNATURE<TAB>BODY`, signed now with the first
 *       line of SECRET, for wrk's Lua scripts; paid bodies carry the
 *       heart_ids PREFIX-0 .. PREFIX-(N-1).
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#define MAX_CASES 16
#define MAX_ENV 32
#define MAX_CASE_ENV 8
#define MAX_ARGS 24
#define BODY_MAX 1024
#define nitems_(a) (sizeof(a) / sizeof((a)[0]))

static char secret[512];
static size_t secret_len;

static _Noreturn void
die(const char *what)
{
	fprintf(stderr, "exec_bench: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void
load_secret(const char *path)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		die(path);
	if (fgets(secret, sizeof(secret), f) == NULL) {
		fprintf(stderr, "exec_bench: %s is empty\n", path);
		exit(2);
	}
	(void)fclose(f);
	n = strlen(secret);
	while (n > 0 && (secret[n - 1] == '\n' || secret[n - 1] == '\r' ||
	    secret[n - 1] == ' ' || secret[n - 1] == '\t'))
		n--;
	secret_len = n;
}

/* Fills body (and returns its length) and the X-MMOLove-Signature value. */
static size_t
make_body(const char *kind, const char *heart_id, char *body, char *sig,
    size_t siglen)
{
	unsigned char mac[EVP_MAX_MD_SIZE], msg[BODY_MAX + 32];
	unsigned int maclen = 0;
	long now = (long)time(NULL);
	int blen, tlen;
	char hex[2 * EVP_MAX_MD_SIZE + 1];

	if (strcmp(kind, "test") == 0)
		blen = snprintf(body, BODY_MAX,
		    "{\"event\":\"heart.test\",\"server_id\":\"srv_bench\","
		    "\"username\":\"test-user\",\"heart_id\":"
		    "\"00000000-0000-0000-0000-000000000000\","
		    "\"period\":\"2026-06\",\"timestamp\":%ld}", now);
	else
		blen = snprintf(body, BODY_MAX,
		    "{\"event\":\"heart.counted\",\"server_id\":\"srv_bench\","
		    "\"username\":\"PlayerOne\",\"heart_id\":\"%s\","
		    "\"period\":\"2026-06\",\"timestamp\":%ld,"
		    "\"streak_day\":7}", heart_id, now);
	if (blen < 0 || blen >= BODY_MAX) {
		fprintf(stderr, "exec_bench: body too long\n");
		exit(2);
	}
	tlen = snprintf((char *)msg, sizeof(msg), "%ld.", now);
	memcpy(msg + tlen, body, (size_t)blen);
	if (HMAC(EVP_sha256(), secret, (int)secret_len, msg,
	    (size_t)tlen + (size_t)blen, mac, &maclen) == NULL) {
		fprintf(stderr, "exec_bench: HMAC failed\n");
		exit(2);
	}
	for (unsigned int i = 0; i < maclen; i++)
		(void)snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	(void)snprintf(sig, siglen, "t=%ld,v1=%s", now, hex);
	return (size_t)blen;
}

struct bcase {
	char name[64];
	char kind[8];		/* test, paid, cmd */
	char prefix[64];	/* paid=PREFIX/N: heart_ids PREFIX<k>, k < N */
	long among;		/* N; 0: a new heart_id each run */
	const char *program;
	char *argv[MAX_ARGS];
	char *env[MAX_CASE_ENV + 1];	/* the case's own KEY=VALUE */
	char **prep;		/* -P: argv run before each run, or NULL */
	int runs, done, ok, stride;
	double *ms;
	long *rss, *minflt, *inblock;
};

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int
cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static double
pct(const double *v, int n, double p)
{
	int i = (int)((p / 100.0) * n + 0.999999) - 1;

	if (i < 0)
		i = 0;
	if (i >= n)
		i = n - 1;
	return v[i];
}

static double
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* What a web server sets for any CGI request; PATH for every run. */
static char *const cgi_env[] = {
	(char *)"GATEWAY_INTERFACE=CGI/1.1",
	(char *)"REQUEST_METHOD=POST",
	(char *)"SERVER_PROTOCOL=HTTP/1.1",
	(char *)"SERVER_SOFTWARE=exec_bench",
	(char *)"SERVER_NAME=127.0.0.1",
	(char *)"SERVER_PORT=80",
	(char *)"SCRIPT_NAME=/cgi-bin/callback",
	(char *)"REQUEST_URI=/cgi-bin/callback",
	(char *)"QUERY_STRING=",
	(char *)"REMOTE_ADDR=127.0.0.1",
	(char *)"REMOTE_PORT=40000",
	(char *)"CONTENT_TYPE=application/json",
};
static char *user_env[MAX_ENV];		/* -e */
static int user_envc;
/* One run's environment: the case's, -e's, then the CGI request's. */
static char *envv[MAX_CASE_ENV + MAX_ENV + nitems_(cgi_env) + 5];
static char env_cl[64], env_sig[256], env_event[64];
static int errfd = -1;
static int shown_failure;
static int drop_caches;

static bool
same_key(const char *a, const char *b)
{
	size_t n = strcspn(a, "=");

	return strncmp(a, b, n) == 0 && b[n] == '=';
}

static void
build_env(const struct bcase *c)
{
	int n = 0;

	for (int i = 0; c->env[i] != NULL; i++)
		envv[n++] = c->env[i];
	for (int i = 0; i < user_envc; i++) {
		bool mine = false;

		for (int j = 0; c->env[j] != NULL; j++)
			mine |= same_key(c->env[j], user_env[i]);
		if (!mine)
			envv[n++] = user_env[i];
	}
	envv[n++] = (char *)"PATH=/usr/local/bin:/usr/bin:/bin";
	if (strcmp(c->kind, "cmd") != 0) {
		for (size_t i = 0; i < nitems_(cgi_env); i++)
			envv[n++] = cgi_env[i];
		envv[n++] = env_cl;
		envv[n++] = env_sig;
		envv[n++] = env_event;
	}
	envv[n] = NULL;
}

/* -P's command, then -D's sync and drop: what a run must not time. */
static void
before_run(const struct bcase *c)
{
	static const char three[] = "3\n";
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status, fd;

	if (c->prep != NULL) {
		if (posix_spawn_file_actions_init(&fa) != 0 ||
		    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null",
		    O_RDONLY, 0) != 0 ||
		    posix_spawn_file_actions_adddup2(&fa, errfd, 1) != 0 ||
		    posix_spawn_file_actions_adddup2(&fa, errfd, 2) != 0)
			die("posix_spawn_file_actions");
		errno = posix_spawn(&pid, c->prep[0], &fa, NULL, c->prep, envv);
		if (errno != 0)
			die(c->prep[0]);
		(void)posix_spawn_file_actions_destroy(&fa);
		while (waitpid(pid, &status, 0) == -1)
			if (errno != EINTR)
				die("waitpid");
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "exec_bench: %s: %s failed (status %d)\n",
			    c->name, c->prep[0], status);
			exit(2);
		}
	}
	if (drop_caches) {
		sync();
		if ((fd = open("/proc/sys/vm/drop_caches", O_WRONLY |
		    O_CLOEXEC)) == -1 || write(fd, three, sizeof(three) - 1) !=
		    (ssize_t)(sizeof(three) - 1) || close(fd) == -1)
			die("/proc/sys/vm/drop_caches");
	}
}

/* One spawn -> reap of c with this body; records time and peak RSS. */
static void
run_once(struct bcase *c, const char *body, size_t blen)
{
	int in[2], out[2], status;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t dfl;
	char buf[4096], head[256];
	size_t hlen = 0;
	ssize_t n;
	struct rusage ru;
	pid_t pid;
	double t0, t1;
	const char *p = body;
	size_t left = blen;
	bool ok;

	build_env(c);
	before_run(c);
	if (pipe2(in, O_CLOEXEC) == -1 || pipe2(out, O_CLOEXEC) == -1)
		die("pipe");
	if (posix_spawn_file_actions_init(&fa) != 0 ||
	    posix_spawn_file_actions_adddup2(&fa, in[0], 0) != 0 ||
	    posix_spawn_file_actions_adddup2(&fa, out[1], 1) != 0 ||
	    posix_spawn_file_actions_adddup2(&fa, errfd, 2) != 0)
		die("posix_spawn_file_actions");
	/* A child starts with SIGPIPE at its default, as under a web server. */
	(void)sigemptyset(&dfl);
	(void)sigaddset(&dfl, SIGPIPE);
	if (posix_spawnattr_init(&attr) != 0 ||
	    posix_spawnattr_setsigdefault(&attr, &dfl) != 0 ||
	    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF) != 0)
		die("posix_spawnattr");

	t0 = now_ms();
	errno = posix_spawn(&pid, c->program, &fa, &attr, c->argv, envv);
	if (errno != 0)
		die(c->program);
	(void)close(in[0]);
	(void)close(out[1]);
	while (left > 0) {
		n = write(in[1], p, left);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;	/* the child stopped reading: its business */
		p += n;
		left -= (size_t)n;
	}
	(void)close(in[1]);
	while ((n = read(out[0], buf, sizeof(buf))) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (hlen < sizeof(head) - 1) {
			size_t k = (size_t)n;

			if (k > sizeof(head) - 1 - hlen)
				k = sizeof(head) - 1 - hlen;
			memcpy(head + hlen, buf, k);
			hlen += k;
		}
	}
	(void)close(out[0]);
	while (wait4(pid, &status, 0, &ru) == -1)
		if (errno != EINTR)
			die("wait4");
	t1 = now_ms();
	(void)posix_spawn_file_actions_destroy(&fa);
	(void)posix_spawnattr_destroy(&attr);

	head[hlen] = '\0';
	c->ms[c->done] = t1 - t0;
	c->rss[c->done] = ru.ru_maxrss;
	c->minflt[c->done] = ru.ru_minflt;
	c->inblock[c->done] = ru.ru_inblock;
	c->done++;
	ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (strcmp(c->kind, "cmd") != 0)
		ok = ok && strncmp(head, "Status: 200", 11) == 0;
	if (ok)
		c->ok++;
	else if (!shown_failure) {
		shown_failure = 1;
		fprintf(stderr, "exec_bench: %s: not a %s (exit status %d): "
		    "%.200s\n", c->name, strcmp(c->kind, "cmd") == 0 ?
		    "success" : "200", status, head);
	}
}

static _Noreturn void
usage(void)
{
	fprintf(stderr,
	    "usage: exec_bench run -s SECRET -o OUT.tsv [-n RUNS] "
	    "[-e KEY=VALUE]... [-E STDERR_FILE] [-P NAME:COMMAND]... [-D]\n"
	    "                      NAME:BODY:RUNS:[KEY=VALUE ...] "
	    "PROGRAM [ARG...]...\n"
	    "       exec_bench sign -s SECRET [-k test|paid] [-n N] "
	    "[-p PREFIX]\n");
	exit(2);
}

/* Splits s on spaces into v (at most max words, then NULL); the count. */
static int
split(char *s, char **v, int max)
{
	char *save = NULL, *w = strtok_r(s, " ", &save);
	int a = 0;

	while (w != NULL) {
		if (a == max)
			usage();
		v[a++] = w;
		w = strtok_r(NULL, " ", &save);
	}
	v[a] = NULL;
	return a;
}

/* BODY: test, paid, paid=PREFIX/N or cmd. */
static void
parse_kind(struct bcase *c, const char *body)
{
	const char *slash;
	char *end;

	if (strncmp(body, "paid=", 5) == 0 &&
	    (slash = strrchr(body, '/')) != NULL &&
	    (size_t)(slash - body - 5) < sizeof(c->prefix)) {
		memcpy(c->prefix, body + 5, (size_t)(slash - body - 5));
		c->among = strtol(slash + 1, &end, 10);
		if (*end != '\0' || c->among < 1)
			usage();
		body = "paid";
	}
	if (strcmp(body, "test") != 0 && strcmp(body, "paid") != 0 &&
	    strcmp(body, "cmd") != 0)
		usage();
	(void)snprintf(c->kind, sizeof(c->kind), "%s", body);
}

static int
cmd_run(int argc, char **argv)
{
	struct bcase cases[MAX_CASES];
	char *preps[MAX_CASES];
	int ncases = 0, npreps = 0, runs = 300, opt, rounds = 0;
	const char *out_path = NULL, *secret_path = NULL, *err_path = "/dev/null";
	char body[BODY_MAX], heart_id[128], sig[160];
	FILE *out;
	unsigned long serial = 0, draw = 0x9e3779b97f4a7c15UL;

	while ((opt = getopt(argc, argv, "s:o:n:e:E:P:D")) != -1) {
		switch (opt) {
		case 's': secret_path = optarg; break;
		case 'o': out_path = optarg; break;
		case 'n': runs = atoi(optarg); break;
		case 'e':
			if (user_envc >= MAX_ENV)
				usage();
			user_env[user_envc++] = optarg;
			break;
		case 'E': err_path = optarg; break;
		case 'P':
			if (npreps >= MAX_CASES)
				usage();
			preps[npreps++] = optarg;
			break;
		case 'D': drop_caches = 1; break;
		default: usage();
		}
	}
	if (secret_path == NULL || out_path == NULL || runs < 1 ||
	    optind >= argc)
		usage();
	load_secret(secret_path);
	if ((errfd = open(err_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0644)) == -1)
		die(err_path);
	if ((out = fopen(out_path, "w")) == NULL)
		die(out_path);

	for (int i = optind; i < argc; i++) {
		struct bcase *c = &cases[ncases];
		char *spec = argv[i], *f[4], *words[MAX_CASE_ENV + MAX_ARGS + 1];
		int k = 0, nw, e = 0;

		if (ncases == MAX_CASES)
			usage();
		for (char *s = spec; k < 4; k++) {
			f[k] = s;
			if (k == 3)
				break;
			if ((s = strchr(s, ':')) == NULL)
				usage();
			*s++ = '\0';
		}
		memset(c, 0, sizeof(*c));
		(void)snprintf(c->name, sizeof(c->name), "%s", f[0]);
		parse_kind(c, f[1]);
		c->runs = atoi(f[2]) > 0 ? atoi(f[2]) : runs;
		/* [KEY=VALUE ...] PROGRAM [ARG...], split on spaces. */
		nw = split(f[3], words, MAX_CASE_ENV + MAX_ARGS);
		while (e < nw && e < MAX_CASE_ENV && words[e][0] != '/' &&
		    strchr(words[e], '=') != NULL) {
			c->env[e] = words[e];
			e++;
		}
		if (e == nw || nw - e >= MAX_ARGS)
			usage();
		for (k = e; k <= nw; k++)
			c->argv[k - e] = words[k];
		c->program = c->argv[0];
		if (access(c->program, X_OK) != 0)
			die(c->program);
		c->ms = calloc((size_t)c->runs, sizeof(double));
		c->rss = calloc((size_t)c->runs, sizeof(long));
		c->minflt = calloc((size_t)c->runs, sizeof(long));
		c->inblock = calloc((size_t)c->runs, sizeof(long));
		if (c->ms == NULL || c->rss == NULL || c->minflt == NULL ||
		    c->inblock == NULL)
			die("calloc");
		if (c->runs > rounds)
			rounds = c->runs;
		ncases++;
	}
	/* -P NAME:COMMAND, for a case named above. */
	for (int i = 0; i < npreps; i++) {
		char *colon = strchr(preps[i], ':');
		int j;

		if (colon == NULL)
			usage();
		*colon = '\0';
		for (j = 0; j < ncases; j++)
			if (strcmp(cases[j].name, preps[i]) == 0)
				break;
		if (j == ncases || (cases[j].prep = calloc(MAX_ARGS + 1,
		    sizeof(char *))) == NULL || split(colon + 1, cases[j].prep,
		    MAX_ARGS) == 0)
			usage();
	}
	for (int i = 0; i < ncases; i++)
		cases[i].stride = rounds / cases[i].runs;

	/* Interleaved rounds: each round starts one case further on. */
	for (int r = 0; r < rounds; r++) {
		for (int j = 0; j < ncases; j++) {
			struct bcase *c = &cases[(r + j) % ncases];
			size_t blen = 0;

			if (c->done >= c->runs || r % c->stride != 0)
				continue;
			if (c->among > 0) {
				/* xorshift64: any of the N, evenly enough. */
				draw ^= draw << 13;
				draw ^= draw >> 7;
				draw ^= draw << 17;
				(void)snprintf(heart_id, sizeof(heart_id),
				    "%s%lu", c->prefix,
				    draw % (unsigned long)c->among);
			} else
				(void)snprintf(heart_id, sizeof(heart_id),
				    "bench-%ld-%ld-%lu", (long)getpid(),
				    (long)time(NULL), serial++);
			if (strcmp(c->kind, "cmd") != 0) {
				blen = make_body(c->kind, heart_id, body, sig,
				    sizeof(sig));
				(void)snprintf(env_sig, sizeof(env_sig),
				    "HTTP_X_MMOLOVE_SIGNATURE=%s", sig);
				(void)snprintf(env_cl, sizeof(env_cl),
				    "CONTENT_LENGTH=%zu", blen);
				(void)snprintf(env_event, sizeof(env_event),
				    "HTTP_X_MMOLOVE_EVENT=%s",
				    strcmp(c->kind, "test") == 0 ?
				    "heart.test" : "heart.counted");
			}
			run_once(c, body, blen);
		}
	}

	for (int i = 0; i < ncases; i++) {
		struct bcase *c = &cases[i];
		double sum = 0;

		qsort(c->ms, (size_t)c->done, sizeof(double), cmp_double);
		qsort(c->rss, (size_t)c->done, sizeof(long), cmp_long);
		qsort(c->minflt, (size_t)c->done, sizeof(long), cmp_long);
		qsort(c->inblock, (size_t)c->done, sizeof(long), cmp_long);
		for (int k = 0; k < c->done; k++)
			sum += c->ms[k];
		fprintf(out, "%s\t%d\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f"
		    "\t%ld\t%ld\t%ld\t%ld\t%.3f\n", c->name, c->done, c->ok,
		    pct(c->ms, c->done, 50), pct(c->ms, c->done, 90),
		    pct(c->ms, c->done, 99), sum / c->done, c->ms[0],
		    c->ms[c->done - 1], c->rss[c->done / 2], c->rss[c->done - 1],
		    c->minflt[c->done / 2], c->inblock[c->done / 2],
		    pct(c->ms, c->done, 10));
	}
	if (fclose(out) != 0)
		die(out_path);
	return 0;
}

static int
cmd_sign(int argc, char **argv)
{
	const char *secret_path = NULL, *kind = "test", *prefix = "h";
	char body[BODY_MAX], sig[160], heart_id[128];
	long n = 1;
	int opt;

	while ((opt = getopt(argc, argv, "s:k:n:p:")) != -1) {
		switch (opt) {
		case 's': secret_path = optarg; break;
		case 'k': kind = optarg; break;
		case 'n': n = atol(optarg); break;
		case 'p': prefix = optarg; break;
		default: usage();
		}
	}
	if (secret_path == NULL || n < 1 ||
	    (strcmp(kind, "test") != 0 && strcmp(kind, "paid") != 0))
		usage();
	load_secret(secret_path);
	for (long i = 0; i < n; i++) {
		(void)snprintf(heart_id, sizeof(heart_id), "%s-%ld", prefix, i);
		(void)make_body(kind, heart_id, body, sig, sizeof(sig));
		printf("%s\t%s\n", sig, body);
	}
	return fflush(stdout) == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	(void)signal(SIGPIPE, SIG_IGN);
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(argv[1], "sign") == 0)
		return cmd_sign(argc - 1, argv + 1);
	usage();
	return 2;
}
