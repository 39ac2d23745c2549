#include <sys/stat.h>

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ledger.h"
#include "log.h"
#include "pay.h"
#include "queue.h"

struct drain {
	const struct config *cfg;
	struct ledger	*ledger;
	struct log_sink	*log;
	enum pay_how	 how;
	bool		 one;		/* stop after the first vote tried */
	bool		 quiet;		/* problem votes: counted, not logged */
	bool		 tried;
	long long	 earliest;	/* next try of the votes not due */
	unsigned	 paid;
	unsigned	 refused;
	unsigned	 waiting;
	unsigned	 dead;
	unsigned	 errors;
	unsigned	 problems;	/* votes that could not be read */
};

static void
count(struct drain *d, enum pay_outcome o)
{
	switch (o) {
	case PAY_PAID:
		d->paid++;
		break;
	case PAY_REFUSED:
		d->refused++;
		break;
	case PAY_DEAD:
	case PAY_HELD:
		d->dead++;
		break;
	case PAY_CORRUPT:
	case PAY_LEDGER_ERROR:
	case PAY_GRANT_ERROR:
	case PAY_UNRECORDED:
		d->errors++;
		break;
	case PAY_NOT_FOUND:
		break;		/* a marker without a queued vote */
	default:
		d->waiting++;
		break;
	}
}

/*
 * Whether the vote's record moved on: a corrupt or unreadable one did
 * not, and trying it again at once would only repeat the same line.
 */
static bool
tried(enum pay_outcome o)
{
	return o != PAY_WAITING && o != PAY_NOT_FOUND && o != PAY_BUSY &&
	    o != PAY_CORRUPT && o != PAY_LEDGER_ERROR;
}

static int
drain_vote(void *arg, const char *name)
{
	struct drain *d = arg;
	struct log_entry e;
	struct payer p;
	enum pay_outcome o;

	memset(&e, 0, sizeof(e));
	memset(&p, 0, sizeof(p));
	p.cfg = d->cfg;
	p.ledger = d->ledger;
	p.log = &e;
	o = pay_named(&p, name, d->how);
	count(d, o);
	if (o == PAY_WAITING && (d->earliest == 0 || p.next < d->earliest))
		d->earliest = p.next;
	/* A vote that was not due, or not queued after all, is not news. */
	if (o == PAY_WAITING || o == PAY_NOT_FOUND || o == PAY_BUSY)
		return 0;
	if (tried(o))
		d->tried = true;
	else if (d->problems++, d->quiet)
		return 0;
	pay_log(&p, o, "drain");
	(void)log_write(d->log, &e);
	return d->one && d->tried;
}

int
queue_drain(const struct config *cfg, bool now)
{
	struct log_sink sink;
	struct ledger l;
	struct drain d;
	char why[320];

	if (geteuid() == 0 && !cfg->allow_root) {
		(void)fprintf(stderr, "mmolove.cgi: refusing to run grants as "
		    "root: run --drain as the web server's user, or set "
		    "allow_root = yes\n");
		return 1;
	}
	memset(&d, 0, sizeof(d));
	d.cfg = cfg;
	d.ledger = &l;
	d.log = &sink;
	d.how = now ? PAY_DRAIN_NOW : PAY_DRAIN;
	if (ledger_open(&l, cfg->state_dir, why, sizeof(why)) == -1) {
		(void)fprintf(stderr, "mmolove.cgi: %s\n", why);
		return 1;
	}
	log_open(&sink, cfg->log);
	if (ledger_each(&l, true, drain_vote, &d, why, sizeof(why)) == -1) {
		(void)fprintf(stderr, "mmolove.cgi: %s\n", why);
		d.errors++;
	}
	log_close(&sink);
	ledger_close(&l);
	(void)printf("drained: %u paid, %u refused, %u still queued, %u dead "
	    "or unknown%s\n", d.paid, d.refused, d.waiting, d.dead,
	    d.errors ? ", with errors (see the log)" : "");
	return d.errors ? 1 : 0;
}

/* Whether queue/ may hold something due that the last walk did not. */
static bool
worth_a_walk(const struct ledger *l, const struct queue_idle *idle,
    struct timespec *mtime, long long now)
{
	struct stat st;

	if (fstat(l->queuefd, &st) == -1) {
		/* Walk, and let the walk say what is wrong. */
		memset(mtime, 0, sizeof(*mtime));
		return true;
	}
	*mtime = st.st_mtim;
	return !idle->walked || now >= idle->walk_after ||
	    mtime->tv_sec != idle->seen.tv_sec ||
	    mtime->tv_nsec != idle->seen.tv_nsec;
}

static void
log_unreadable(struct log_sink *log, const char *why)
{
	struct log_entry e;

	memset(&e, 0, sizeof(e));
	e.mode = "";
	e.method = "drain";
	e.outcome = "ledger_error";
	e.status = 500;
	log_reason(&e, "%s", why);
	(void)log_write(log, &e);
}

int
queue_drain_one(const struct config *cfg, struct ledger *l,
    struct log_sink *log, struct queue_idle *idle)
{
	long long now = (long long)time(NULL);
	struct timespec mtime;
	struct drain d;
	char why[320];
	int rc;

	if (!worth_a_walk(l, idle, &mtime, now))
		return 0;
	memset(&d, 0, sizeof(d));
	d.cfg = cfg;
	d.ledger = l;
	d.log = log;
	d.how = PAY_DRAIN;
	d.one = true;
	d.quiet = now < idle->quiet_until;
	rc = ledger_each(l, true, drain_vote, &d, why, sizeof(why));
	if (rc == -1 && !d.quiet)
		log_unreadable(log, why);
	/* Problems are logged at most once a rescan, not every second. */
	if ((rc == -1 || d.problems > 0) && !d.quiet)
		idle->quiet_until = now + QUEUE_RESCAN_S;
	if (d.tried) {
		idle->walked = false;
		return 1;
	}
	idle->walked = true;
	idle->seen = mtime;
	idle->walk_after = now + QUEUE_RESCAN_S;
	if (d.earliest != 0 && d.earliest < idle->walk_after)
		idle->walk_after = d.earliest;
	return rc == -1 ? -1 : 0;
}
