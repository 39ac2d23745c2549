/*
 * burst: row j's driver.  Sends every line of a list of signed requests
 * once, with a bounded number in flight, and times the whole burst.
 *
 *   burst -p PORT -u PATH -l LIST [-c CONNS]
 *
 * LIST holds `SIGNATURE<TAB>BODY` lines (exec_bench sign).  CONNS
 * threads (8) each take the next line, connect to 127.0.0.1:PORT, POST
 * it (HTTP/1.1, Connection: close), read the answer to EOF and take the
 * next, until the list is done: each line is sent exactly once, so every
 * heart_id arrives once.  Why not wrk: it runs for its whole -d even
 * after its Lua script has stopped sending, so its Requests/sec would be
 * the list's length over -d, not over the burst.
 *
 * Prints one line: requests ok non2xx errors seconds requests/s, where
 * seconds run from just before the first connect to just after the last
 * answer.  Exit 0 when every request got a status line, 1 otherwise.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char **reqs;
static size_t *lens;
static size_t nreqs;
static atomic_size_t next_req;
static atomic_ulong n_ok, n_bad, n_err;
static struct sockaddr_in addr;

static double
now_s(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 200..299: 1, other status: 0, no answer: -1. */
static int
one(const char *req, size_t len)
{
	char buf[4096], rest[4096];
	size_t got = 0;
	ssize_t n;
	int fd, code = -1;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (const struct sockaddr *)&addr, sizeof(addr)) != 0) {
		(void)close(fd);
		return -1;
	}
	while (len > 0) {
		n = write(fd, req, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			(void)close(fd);
			return -1;
		}
		req += n;
		len -= (size_t)n;
	}
	for (;;) {
		/* The first 4 KiB are kept (the status line), the rest read. */
		if (got < sizeof(buf) - 1)
			n = read(fd, buf + got, sizeof(buf) - 1 - got);
		else
			n = read(fd, rest, sizeof(rest));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (got < sizeof(buf) - 1)
			got += (size_t)n;
	}
	(void)close(fd);
	buf[got] = '\0';
	if (n == 0 && strncmp(buf, "HTTP/1.", 7) == 0 && got > 12)
		code = atoi(buf + 9);
	return code < 0 ? -1 : code >= 200 && code < 300;
}

static void *
worker(void *arg)
{
	size_t i;

	(void)arg;
	while ((i = atomic_fetch_add(&next_req, 1)) < nreqs) {
		int r = one(reqs[i], lens[i]);

		if (r == 1)
			atomic_fetch_add(&n_ok, 1);
		else if (r == 0)
			atomic_fetch_add(&n_bad, 1);
		else
			atomic_fetch_add(&n_err, 1);
	}
	return NULL;
}

static void
load(const char *path, int port, const char *url)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0, alloc = 0;
	ssize_t n;

	if (f == NULL) {
		perror(path);
		exit(2);
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		char *tab = strchr(line, '\t'), *req;
		const char *event;
		int len;

		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (tab == NULL)
			continue;
		*tab++ = '\0';
		event = strstr(tab, "\"event\":\"heart.test\"") != NULL ?
		    "heart.test" : "heart.counted";
		if (nreqs == alloc) {
			alloc = alloc ? 2 * alloc : 1024;
			reqs = realloc(reqs, alloc * sizeof(*reqs));
			lens = realloc(lens, alloc * sizeof(*lens));
			if (reqs == NULL || lens == NULL) {
				perror("realloc");
				exit(2);
			}
		}
		len = asprintf(&req, "POST %s HTTP/1.1\r\n"
		    "Host: 127.0.0.1:%d\r\nConnection: close\r\n"
		    "Content-Type: application/json\r\n"
		    "X-MMOLove-Event: %s\r\nX-MMOLove-Signature: %s\r\n"
		    "Content-Length: %zu\r\n\r\n%s", url, port, event, line,
		    strlen(tab), tab);
		if (len < 0) {
			perror("asprintf");
			exit(2);
		}
		reqs[nreqs] = req;
		lens[nreqs++] = (size_t)len;
	}
	free(line);
	(void)fclose(f);
}

int
main(int argc, char **argv)
{
	const char *list = NULL, *url = "/";
	int opt, port = 0, conns = 8;
	pthread_t *t;
	double t0, secs;

	while ((opt = getopt(argc, argv, "p:u:l:c:")) != -1) {
		switch (opt) {
		case 'p': port = atoi(optarg); break;
		case 'u': url = optarg; break;
		case 'l': list = optarg; break;
		case 'c': conns = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: burst -p PORT -u PATH -l LIST "
			    "[-c CONNS]\n");
			return 2;
		}
	}
	if (list == NULL || port <= 0 || port > 65535 || conns < 1 ||
	    conns > 1024) {
		fprintf(stderr, "usage: burst -p PORT -u PATH -l LIST "
		    "[-c CONNS]\n");
		return 2;
	}
	load(list, port, url);
	addr.sin_family = AF_INET;
	addr.sin_port = htons((unsigned short)port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((t = calloc((size_t)conns, sizeof(*t))) == NULL) {
		perror("calloc");
		return 2;
	}
	t0 = now_s();
	for (int i = 0; i < conns; i++)
		if (pthread_create(&t[i], NULL, worker, NULL) != 0) {
			fprintf(stderr, "burst: pthread_create failed\n");
			return 2;
		}
	for (int i = 0; i < conns; i++)
		(void)pthread_join(t[i], NULL);
	secs = now_s() - t0;
	printf("%zu\t%lu\t%lu\t%lu\t%.3f\t%.1f\n", nreqs,
	    (unsigned long)n_ok, (unsigned long)n_bad, (unsigned long)n_err,
	    secs, secs > 0 ? (double)nreqs / secs : 0.0);
	return n_err == 0 ? 0 : 1;
}
