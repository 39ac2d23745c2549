#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "grant.h"
#include "ledger.h"
#include "log.h"
#include "queue.h"

#define BACKOFF_FIRST	60
#define BACKOFF_MAX	(6 * 3600)

struct tally {
	unsigned	 paid;
	unsigned	 refused;
	unsigned	 waiting;
	unsigned	 errors;
};

static time_t
backoff(unsigned attempts)
{
	time_t delay = BACKOFF_FIRST;

	while (attempts-- > 1 && delay < BACKOFF_MAX)
		delay *= 2;
	return delay < BACKOFF_MAX ? delay : BACKOFF_MAX;
}

static int
is_vote_name(const char *name)
{
	size_t i;

	for (i = 0; name[i] != '\0'; i++)
		if (!((name[i] >= '0' && name[i] <= '9') ||
		    (name[i] >= 'a' && name[i] <= 'f')))
			return 0;
	return i == DIGEST_HEX_LEN;
}

static const char *
attempt(const struct config *cfg, struct ledger_record *rec,
    struct grant_result *g, struct log_entry *e, struct tally *t)
{
	time_t now = time(NULL);

	grant_run(cfg->grant, &rec->vote, cfg->grant_timeout, g);
	rec->attempts++;
	rec->time = now;
	switch (g->outcome) {
	case GRANT_GRANTED:
		rec->state = STATE_PAID;
		t->paid++;
		return "paid";
	case GRANT_REFUSED:
		rec->state = STATE_REFUSED;
		t->refused++;
		return "refused";
	default:
		rec->next = now + backoff(rec->attempts);
		log_reason(e, "attempt %u failed%s%s; next try in %lld s",
		    rec->attempts, g->error[0] != '\0' ? ": " : "", g->error,
		    (long long)(rec->next - now));
		t->waiting++;
		return g->outcome == GRANT_TIMED_OUT ? "grant_timeout" :
		    "grant_failed";
	}
}

static void
drain_one(const struct config *cfg, struct ledger *l, struct log_sink *log,
    const char *name, struct tally *t)
{
	struct ledger_record rec;
	struct grant_result g;
	struct log_entry e;
	struct claim c;
	char why[200];

	if (ledger_claim(l, name, 0, &c, &rec, why, sizeof(why)) !=
	    CLAIM_HELD)
		return;
	if (rec.state != STATE_QUEUED || rec.next > time(NULL)) {
		if (rec.state == STATE_QUEUED)
			t->waiting++;
		ledger_release(&c);
		return;
	}
	memset(&e, 0, sizeof(e));
	e.mode = vote_mode_name(rec.vote.mode);
	e.method = "drain";
	e.event = rec.vote.event;
	e.heart_id = rec.vote.heart_id;
	e.username = rec.vote.username;
	e.reward = rec.vote.reward;
	e.outcome = attempt(cfg, &rec, &g, &e, t);
	e.ran_grant = g.outcome != GRANT_ERROR;
	e.grant_exit = g.exit_code;
	e.grant_signal = g.signal;
	e.grant_output = g.output;
	e.grant_output_len = g.output_len;
	if (ledger_write(l, &c, &rec, why, sizeof(why)) == -1) {
		log_reason(&e, "%s", why);
		t->errors++;
	}
	(void)log_write(log, &e);
	ledger_release(&c);
}

int
queue_drain(const struct config *cfg)
{
	struct tally t = { 0, 0, 0, 0 };
	struct log_sink log;
	struct dirent *de;
	struct ledger l;
	char why[320];
	DIR *dir;
	int fd;

	if (geteuid() == 0 && !cfg->allow_root) {
		(void)fprintf(stderr, "mmolove.cgi: refusing to run grants as "
		    "root: run --drain as the web server's user, or set "
		    "allow_root = yes\n");
		return 1;
	}
	if (ledger_open(&l, cfg->state_dir, why, sizeof(why)) == -1) {
		(void)fprintf(stderr, "mmolove.cgi: %s\n", why);
		return 1;
	}
	/* readdir gets its own descriptor: closedir closes it. */
	if ((fd = dup(l.dirfd)) == -1 || (dir = fdopendir(fd)) == NULL) {
		(void)fprintf(stderr, "mmolove.cgi: listing %s/votes: %s\n",
		    cfg->state_dir, strerror(errno));
		if (fd != -1)
			(void)close(fd);
		ledger_close(&l);
		return 1;
	}
	log_open(&log, cfg->log);
	while ((de = readdir(dir)) != NULL)
		if (is_vote_name(de->d_name))
			drain_one(cfg, &l, &log, de->d_name, &t);
	log_close(&log);
	(void)closedir(dir);
	ledger_close(&l);
	(void)printf("drained: %u paid, %u refused, %u still queued%s\n",
	    t.paid, t.refused, t.waiting, t.errors ? ", with errors" : "");
	return t.errors ? 1 : 0;
}
