/*
 * exec_bench: the bench's direct-exec driver and request signer.
 *
 *   exec_bench run -s SECRET -o OUT.tsv [-n RUNS] [-e KEY=VALUE]...
 *                  [-E STDERR_FILE] CASE...
 *       CASE is NAME:BODY:RUNS:PROGRAM [ARG...] (split on spaces), BODY `test` (a signed heart.test)
 *       or `paid` (a signed heart.counted with a heart_id never used
 *       before), RUNS 0 for the -n default.  Runs every case in
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
 *       included).  A run whose output does not start with `Status: 200`
 *       is counted as not ok; the first one is shown on stderr.
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
#define BODY_MAX 1024

static char secret[512];
static size_t secret_len;

static void
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
	char kind[8];
	const char *program;
	char *argv[16];
	int runs, done, ok, stride;
	double *ms;
	long *rss, *minflt;
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

static char *envv[MAX_ENV + 16];
static int envc_fixed;
static char env_cl[64], env_sig[256], env_event[64];
static int errfd = -1;
static int shown_failure;

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
	c->done++;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
	    strncmp(head, "Status: 200", 11) == 0)
		c->ok++;
	else if (!shown_failure) {
		shown_failure = 1;
		fprintf(stderr, "exec_bench: %s: not a 200 (exit status %d): "
		    "%.200s\n", c->name, status, head);
	}
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: exec_bench run -s SECRET -o OUT.tsv [-n RUNS] "
	    "[-e KEY=VALUE]... [-E STDERR_FILE] NAME:BODY:RUNS:PROGRAM...\n"
	    "       exec_bench sign -s SECRET [-k test|paid] [-n N] "
	    "[-p PREFIX]\n");
	exit(2);
}

static int
cmd_run(int argc, char **argv)
{
	struct bcase cases[MAX_CASES];
	int ncases = 0, runs = 300, opt, rounds = 0;
	const char *out_path = NULL, *secret_path = NULL, *err_path = "/dev/null";
	char body[BODY_MAX], heart_id[128], sig[160];
	FILE *out;
	unsigned long serial = 0;

	envv[envc_fixed++] = (char *)"GATEWAY_INTERFACE=CGI/1.1";
	envv[envc_fixed++] = (char *)"REQUEST_METHOD=POST";
	envv[envc_fixed++] = (char *)"SERVER_PROTOCOL=HTTP/1.1";
	envv[envc_fixed++] = (char *)"SERVER_SOFTWARE=exec_bench";
	envv[envc_fixed++] = (char *)"SERVER_NAME=127.0.0.1";
	envv[envc_fixed++] = (char *)"SERVER_PORT=80";
	envv[envc_fixed++] = (char *)"SCRIPT_NAME=/cgi-bin/callback";
	envv[envc_fixed++] = (char *)"REQUEST_URI=/cgi-bin/callback";
	envv[envc_fixed++] = (char *)"QUERY_STRING=";
	envv[envc_fixed++] = (char *)"REMOTE_ADDR=127.0.0.1";
	envv[envc_fixed++] = (char *)"REMOTE_PORT=40000";
	envv[envc_fixed++] = (char *)"CONTENT_TYPE=application/json";
	envv[envc_fixed++] = (char *)"PATH=/usr/local/bin:/usr/bin:/bin";

	while ((opt = getopt(argc, argv, "s:o:n:e:E:")) != -1) {
		switch (opt) {
		case 's': secret_path = optarg; break;
		case 'o': out_path = optarg; break;
		case 'n': runs = atoi(optarg); break;
		case 'e':
			if (envc_fixed >= MAX_ENV)
				usage();
			envv[envc_fixed++] = optarg;
			break;
		case 'E': err_path = optarg; break;
		default: usage();
		}
	}
	if (secret_path == NULL || out_path == NULL || runs < 1 ||
	    optind >= argc)
		usage();
	load_secret(secret_path);
	envv[envc_fixed] = env_cl;
	envv[envc_fixed + 1] = env_sig;
	envv[envc_fixed + 2] = env_event;
	envv[envc_fixed + 3] = NULL;
	if ((errfd = open(err_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0644)) == -1)
		die(err_path);
	if ((out = fopen(out_path, "w")) == NULL)
		die(out_path);

	for (int i = optind; i < argc; i++) {
		struct bcase *c = &cases[ncases];
		char *spec = argv[i], *f[4];
		int k = 0;

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
		(void)snprintf(c->kind, sizeof(c->kind), "%s", f[1]);
		if (strcmp(c->kind, "test") != 0 && strcmp(c->kind, "paid") != 0)
			usage();
		c->runs = atoi(f[2]) > 0 ? atoi(f[2]) : runs;
		/* PROGRAM [ARG...], split on spaces. */
		{
			char *save = NULL, *w = strtok_r(f[3], " ", &save);
			int a = 0;

			while (w != NULL) {
				if (a == 15)
					usage();
				c->argv[a++] = w;
				w = strtok_r(NULL, " ", &save);
			}
			if (a == 0)
				usage();
			c->program = c->argv[0];
		}
		if (access(c->program, X_OK) != 0)
			die(c->program);
		c->ms = calloc((size_t)c->runs, sizeof(double));
		c->rss = calloc((size_t)c->runs, sizeof(long));
		c->minflt = calloc((size_t)c->runs, sizeof(long));
		if (c->ms == NULL || c->rss == NULL || c->minflt == NULL)
			die("calloc");
		if (c->runs > rounds)
			rounds = c->runs;
		ncases++;
	}
	for (int i = 0; i < ncases; i++)
		cases[i].stride = rounds / cases[i].runs;

	/* Interleaved rounds: each round starts one case further on. */
	for (int r = 0; r < rounds; r++) {
		for (int j = 0; j < ncases; j++) {
			struct bcase *c = &cases[(r + j) % ncases];
			size_t blen;

			if (c->done >= c->runs || r % c->stride != 0)
				continue;
			(void)snprintf(heart_id, sizeof(heart_id),
			    "bench-%ld-%ld-%lu", (long)getpid(),
			    (long)time(NULL), serial++);
			blen = make_body(c->kind, heart_id, body, sig,
			    sizeof(sig));
			(void)snprintf(env_sig, sizeof(env_sig),
			    "HTTP_X_MMOLOVE_SIGNATURE=%s", sig);
			(void)snprintf(env_cl, sizeof(env_cl), "CONTENT_LENGTH=%zu",
			    blen);
			(void)snprintf(env_event, sizeof(env_event),
			    "HTTP_X_MMOLOVE_EVENT=%s", strcmp(c->kind, "test") == 0 ?
			    "heart.test" : "heart.counted");
			run_once(c, body, blen);
		}
	}

	for (int i = 0; i < ncases; i++) {
		struct bcase *c = &cases[i];
		double sum = 0;

		qsort(c->ms, (size_t)c->done, sizeof(double), cmp_double);
		qsort(c->rss, (size_t)c->done, sizeof(long), cmp_long);
		qsort(c->minflt, (size_t)c->done, sizeof(long), cmp_long);
		for (int k = 0; k < c->done; k++)
			sum += c->ms[k];
		fprintf(out, "%s\t%d\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f"
		    "\t%ld\t%ld\t%ld\n", c->name, c->done, c->ok,
		    pct(c->ms, c->done, 50), pct(c->ms, c->done, 90),
		    pct(c->ms, c->done, 99), sum / c->done, c->ms[0],
		    c->ms[c->done - 1], c->rss[c->done / 2], c->rss[c->done - 1],
		    c->minflt[c->done / 2]);
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
