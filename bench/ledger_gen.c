/*
 * ledger_gen: writes vote records straight in the ledger's on-disk format
 * (src/ledger.c, "mmolove-vote 2"), for `make bench`'s million-record
 * rows.  Not measured.  Uses the product's SHA-256 (src/digest.c).
 *
 *   ledger_gen fill [-r] STATE_DIR N
 *       Makes STATE_DIR/votes hold exactly the N settled records of the
 *       heart_ids gen-0 .. gen-(N-1) (98 % paid, 1 % refused, 1 % dead,
 *       last changed over the past 365 days) and STATE_DIR/queue
 *       nothing: whatever else is there (a bench run's new votes, its
 *       queued ones, a killed run's temporary files) is removed, and a
 *       record that is missing is written.  Records are written without
 *       fsync, then the file system is synced once (syncfs) so that no
 *       writeback is left to disturb what is measured next.  Prints
 *       "kept K removed R written W" and the seconds each step took.
 *       -r rewrites the records already there too, in place (a newer
 *       generator): removing a million files and creating them again
 *       would take longer, and ext4 without a journal then skips every
 *       recently freed inode one by one for minutes.
 *
 *   ledger_gen queue STATE_DIR PREFIX N
 *       Queues the votes PREFIX0 .. PREFIX(N-1) the way a queue-mode
 *       delivery does: the marker in queue/ and a record with
 *       state=queued, next=0, each made durable (written under a
 *       temporary name, fsynced, renamed over whatever was there, the
 *       folders fsynced), so a --drain finds them due.
 *
 *   ledger_gen warm STATE_DIR N
 *       Reads the N generated records once, in the order they were
 *       written (their data and inodes lie in about that order on
 *       disk), 16 processes each a share, and checks that each starts
 *       as a record does: about 30 s from a cold cache here, 4 s warm.
 *
 * The format is written here by hand, line for line as ledger.c's
 * record_format() does, because that function is internal to the
 * product; run.sh checks the result with `mmolove.cgi --check` and
 * `--ledger --json` before any of it is used, and every duplicate the
 * bench delivers must answer "duplicate" (a record the product cannot
 * read answers 500 ledger_corrupt).
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../src/digest.h"

#define RECORD_SIZE	4096
#define MAGIC		"mmolove-vote 2\n" "sum="
#define BODY_AT		(sizeof(MAGIC) - 1 + DIGEST_HEX_LEN + 1)
#define GEN_PREFIX	"gen-"
#define YEAR		(365L * 86400L)
#ifndef WARM_READERS
#define WARM_READERS	16
#endif

struct rec {
	const char	*state;
	long long	 time;
	long long	 attempts;
	long long	 queued_at;
	long long	 next;
	char		 heart_id[64];
	char		 username[32];
	long long	 streak_day;
};

static _Noreturn void
die(const char *what)
{
	fprintf(stderr, "ledger_gen: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double
now_s(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The file name of heart_id's record: hex SHA-256 of "post:" heart_id. */
static void
record_name(const char *heart_id, unsigned char d[DIGEST_LEN],
    char name[DIGEST_HEX_LEN + 1])
{
	char key[80];
	int n = snprintf(key, sizeof(key), "post:%s", heart_id);

	sha256(key, (size_t)n, d);
	hex_encode(d, DIGEST_LEN, name);
}

/* RECORD_SIZE bytes: header, sum, key=value lines, "end\n", NULs. */
static void
record_format(const struct rec *r, char *buf)
{
	unsigned char sum[DIGEST_LEN];
	char hex[DIGEST_HEX_LEN + 1], period[16];
	time_t t = (time_t)r->time;
	struct tm tm;
	size_t used = BODY_AT;
	int n;

	(void)gmtime_r(&t, &tm);
	(void)strftime(period, sizeof(period), "%Y-%m", &tm);
	memset(buf, 0, RECORD_SIZE);
	n = snprintf(buf + used, RECORD_SIZE - used,
	    "state=%s\ntime=%lld\nattempts=%lld\nqueued_at=%lld\nnext=%lld\n"
	    "grant_pgid=0\ngrant_start=0\ngrant_deadline=0\ngrant_boot=\n"
	    "mode=post\nkey=post:%s\nevent=heart.counted\nusername=%s\n"
	    "heart_id=%s\nreward=300\nserver_id=srv_bench\nperiod=%s\n"
	    "timestamp=%lld\nstreak_day=%lld\nfirst_heart=-1\n"
	    "streak_milestone=-1\naccount_linked=-1\nmonthly_streak=\n"
	    "loyalty_level=\nend\n",
	    r->state, r->time, r->attempts, r->queued_at, r->next,
	    r->heart_id, r->username, r->heart_id, period, r->time,
	    r->streak_day);
	if (n < 0 || (size_t)n >= RECORD_SIZE - used) {
		fprintf(stderr, "ledger_gen: record too long\n");
		exit(1);
	}
	used += (size_t)n;
	sha256(buf + BODY_AT, used - BODY_AT, sum);
	hex_encode(sum, sizeof(sum), hex);
	memcpy(buf, MAGIC, sizeof(MAGIC) - 1);
	memcpy(buf + sizeof(MAGIC) - 1, hex, DIGEST_HEX_LEN);
	buf[BODY_AT - 1] = '\n';
}

/* The settled record of gen-i, one of n, generated at base. */
static void
settled(struct rec *r, long i, long n, long long base)
{
	memset(r, 0, sizeof(*r));
	(void)snprintf(r->heart_id, sizeof(r->heart_id), GEN_PREFIX "%ld", i);
	(void)snprintf(r->username, sizeof(r->username), "player-%ld",
	    (i * 7919) % 20000);
	r->time = base - YEAR + (long long)((double)YEAR * (double)i /
	    (double)n);
	r->streak_day = 1 + i % 30;
	r->attempts = 1;
	r->state = "paid";
	if (i % 100 == 1)
		r->state = "refused";
	else if (i % 100 == 2) {
		r->state = "dead";
		r->attempts = 9;
		r->queued_at = r->time - 604800;
		r->next = r->time;
	}
}

static int
open_dir(const char *state_dir, const char *sub)
{
	char path[4096];
	int fd;

	(void)snprintf(path, sizeof(path), "%s/%s", state_dir, sub);
	if (mkdir(state_dir, 0700) == -1 && errno != EEXIST)
		die(state_dir);
	if (mkdir(path, 0700) == -1 && errno != EEXIST)
		die(path);
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		die(path);
	return fd;
}

static void
write_all(int fd, const char *buf, const char *what)
{
	if (pwrite(fd, buf, RECORD_SIZE, 0) != RECORD_SIZE)
		die(what);
}

struct entry {
	unsigned char	 d[DIGEST_LEN];
	long		 i;
};

static int
cmp_entry(const void *a, const void *b)
{
	return memcmp(((const struct entry *)a)->d,
	    ((const struct entry *)b)->d, DIGEST_LEN);
}

/* Removes every entry of the folder (not its subfolders: none expected). */
static long
empty_dir(int dirfd, const char *what)
{
	int fd = dup(dirfd);
	struct dirent *de;
	long removed = 0;
	DIR *dir;

	if (fd == -1 || lseek(fd, 0, SEEK_SET) == -1 ||
	    (dir = fdopendir(fd)) == NULL)
		die(what);
	while ((errno = 0, de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd, de->d_name, 0) == -1)
			die(de->d_name);
		removed++;
	}
	if (errno != 0)
		die(what);
	(void)closedir(dir);
	return removed;
}

static int
cmd_fill(const char *state_dir, long n, bool rewrite)
{
	int votes = open_dir(state_dir, "votes");
	int queue = open_dir(state_dir, "queue");
	struct entry *set = calloc((size_t)n, sizeof(*set)), key, *hit;
	unsigned char *have = calloc((size_t)n, 1);
	long kept = 0, removed = 0, written = 0, i;
	long long base = (long long)time(NULL);
	char name[DIGEST_HEX_LEN + 1], buf[RECORD_SIZE];
	double t0 = now_s(), t1, t2, t3;
	struct dirent *de;
	struct rec r;
	DIR *dir;
	int fd;

	if (set == NULL || have == NULL)
		die("calloc");
	for (i = 0; i < n; i++) {
		char hid[32];

		(void)snprintf(hid, sizeof(hid), GEN_PREFIX "%ld", i);
		record_name(hid, set[i].d, name);
		set[i].i = i;
	}
	qsort(set, (size_t)n, sizeof(*set), cmp_entry);

	/* What is there: ours stays, anything else goes. */
	if ((fd = dup(votes)) == -1 || (dir = fdopendir(fd)) == NULL)
		die("votes");
	while ((errno = 0, de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		hit = NULL;
		if (hex_decode_lower(de->d_name, strlen(de->d_name), key.d,
		    DIGEST_LEN) == 0)
			hit = bsearch(&key, set, (size_t)n, sizeof(*set),
			    cmp_entry);
		if (hit != NULL && de->d_type == DT_REG) {
			have[hit->i] = 1;
			kept++;
			continue;
		}
		if (unlinkat(votes, de->d_name, 0) == -1)
			die(de->d_name);
		removed++;
	}
	if (errno != 0)
		die("readdir votes");
	(void)closedir(dir);
	removed += empty_dir(queue, "queue");
	t1 = now_s();

	for (i = 0; i < n; i++) {
		if (have[i] && !rewrite)
			continue;
		settled(&r, i, n, base);
		record_name(r.heart_id, key.d, name);
		record_format(&r, buf);
		fd = openat(votes, name, O_WRONLY | O_CREAT | O_NOFOLLOW |
		    O_CLOEXEC | (have[i] ? O_TRUNC : O_EXCL), 0600);
		if (fd == -1)
			die(name);
		write_all(fd, buf, name);
		if (close(fd) == -1)
			die(name);
		written++;
		if (written % 100000 == 0)
			fprintf(stderr, "ledger_gen: %ld written (%.0f s)\n",
			    written, now_s() - t1);
	}
	t2 = now_s();
	if (syncfs(votes) == -1)
		die("syncfs");
	t3 = now_s();
	printf("kept %ld removed %ld written %ld scan %.1f s write %.1f s "
	    "sync %.1f s\n", kept, removed, written, t1 - t0, t2 - t1,
	    t3 - t2);
	free(set);
	free(have);
	(void)close(votes);
	(void)close(queue);
	return 0;
}

static int
cmd_queue(const char *state_dir, const char *prefix, long n)
{
	int votes = open_dir(state_dir, "votes");
	int queue = open_dir(state_dir, "queue");
	long long now = (long long)time(NULL);
	char name[DIGEST_HEX_LEN + 1], tmp[64], buf[RECORD_SIZE];
	unsigned char d[DIGEST_LEN];
	struct rec r;
	long i;
	int fd;

	for (i = 0; i < n; i++) {
		memset(&r, 0, sizeof(r));
		(void)snprintf(r.heart_id, sizeof(r.heart_id), "%s%ld", prefix,
		    i);
		(void)snprintf(r.username, sizeof(r.username), "queued-%ld", i);
		r.state = "queued";
		r.time = r.queued_at = now;
		r.next = 0;
		r.streak_day = 1;
		record_name(r.heart_id, d, name);
		record_format(&r, buf);
		/* The marker first, as the product does. */
		if ((fd = openat(queue, name, O_WRONLY | O_CREAT | O_NOFOLLOW |
		    O_CLOEXEC, 0600)) == -1 || close(fd) == -1)
			die(name);
		(void)snprintf(tmp, sizeof(tmp), ".gen-%ld-%ld", (long)getpid(),
		    i);
		if ((fd = openat(votes, tmp, O_WRONLY | O_CREAT | O_TRUNC |
		    O_NOFOLLOW | O_CLOEXEC, 0600)) == -1)
			die(tmp);
		write_all(fd, buf, tmp);
		if (fsync(fd) == -1 || close(fd) == -1)
			die(tmp);
		if (renameat(votes, tmp, votes, name) == -1)
			die(name);
	}
	if (fsync(queue) == -1 || fsync(votes) == -1)
		die("fsync");
	(void)close(votes);
	(void)close(queue);
	return 0;
}

/* Reads records [from, to) and checks each starts as a record does. */
static long
read_range(int votes, long from, long to)
{
	char name[DIGEST_HEX_LEN + 1], hid[32], buf[RECORD_SIZE];
	unsigned char d[DIGEST_LEN];
	long i, bad = 0;
	int fd;

	for (i = from; i < to; i++) {
		(void)snprintf(hid, sizeof(hid), GEN_PREFIX "%ld", i);
		record_name(hid, d, name);
		if ((fd = openat(votes, name, O_RDONLY | O_NOFOLLOW |
		    O_CLOEXEC)) == -1)
			die(name);
		if (pread(fd, buf, sizeof(buf), 0) != RECORD_SIZE ||
		    memcmp(buf, MAGIC, sizeof(MAGIC) - 1) != 0)
			bad++;
		(void)close(fd);
	}
	return bad;
}

/*
 * WARM_READERS processes, each a contiguous share: a cold read waits on
 * the disk one 4 KiB file at a time, so several keep its queue busy.
 */
static int
cmd_warm(const char *state_dir, long n)
{
	int votes = open_dir(state_dir, "votes"), status, k;
	pid_t pids[WARM_READERS];
	double t0 = now_s();
	long bad = 0;

	for (k = 0; k < WARM_READERS; k++) {
		if ((pids[k] = fork()) == -1)
			die("fork");
		if (pids[k] == 0)
			_exit(read_range(votes, n * k / WARM_READERS,
			    n * (k + 1) / WARM_READERS) == 0 ? 0 : 1);
	}
	for (k = 0; k < WARM_READERS; k++) {
		if (waitpid(pids[k], &status, 0) == -1)
			die("waitpid");
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			bad++;
	}
	printf("read %ld records in %.1f s (%d readers)%s\n", n,
	    now_s() - t0, WARM_READERS, bad ? ", some are not records" : "");
	(void)close(votes);
	return bad == 0 ? 0 : 1;
}

static long
count_arg(const char *s)
{
	char *end;
	long n = strtol(s, &end, 10);

	if (*end != '\0' || n < 0 || n > 100000000) {
		fprintf(stderr, "ledger_gen: not a count: %s\n", s);
		exit(2);
	}
	return n;
}

static _Noreturn void
usage(void)
{
	fprintf(stderr, "usage: ledger_gen fill [-r] STATE_DIR N\n"
	    "       ledger_gen queue STATE_DIR PREFIX N\n"
	    "       ledger_gen warm STATE_DIR N\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	(void)umask(077);
	if (argc == 4 && strcmp(argv[1], "fill") == 0)
		return cmd_fill(argv[2], count_arg(argv[3]), false);
	if (argc == 5 && strcmp(argv[1], "fill") == 0 &&
	    strcmp(argv[2], "-r") == 0)
		return cmd_fill(argv[3], count_arg(argv[4]), true);
	if (argc == 5 && strcmp(argv[1], "queue") == 0)
		return cmd_queue(argv[2], argv[3], count_arg(argv[4]));
	if (argc == 4 && strcmp(argv[1], "warm") == 0)
		return cmd_warm(argv[2], count_arg(argv[3]));
	usage();
}
