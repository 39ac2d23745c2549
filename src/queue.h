/*
 * queue: draining the votes queue mode recorded, by --drain and by idle
 * FastCGI workers.
 *
 * Promises: only what is queued is read (queue/, not the whole ledger);
 * every queued vote that is due, or every one with --now, is paid
 * through pay.h like a delivery; votes another process holds are left
 * for the next run, so any number of drains and workers may run at
 * once.  A failed try backs off exponentially (1 minute doubling to 6
 * hours) until queue_max_age, then the vote is dead.  Each attempt
 * leaves an audit log line (method "drain").  queue_drain_one() runs at
 * most one grant per call, so a worker that drains between requests
 * keeps a waiting request waiting for at most one grant.
 */
#ifndef MMOLOVE_QUEUE_H
#define MMOLOVE_QUEUE_H

#include <stdbool.h>
#include <time.h>

#include "config.h"
#include "ledger.h"
#include "log.h"

/*
 * What a worker remembers between idle moments, so that an idle worker
 * with nothing due costs one fstat(2) a second, not a read of every
 * queued record: queue/ is walked again only once its modification
 * time moved (a marker was added or removed), the earliest recorded
 * next try came, or QUEUE_RESCAN_S passed (changes it cannot see: a
 * vote another process tried and requeued, an orphaned attempt).
 * Zero it before the first call.
 */
struct queue_idle {
	bool		 walked;	/* the last walk found nothing due */
	struct timespec	 seen;		/* queue/'s mtime before that walk */
	long long	 walk_after;	/* unix time of the next walk anyway */
	long long	 quiet_until;	/* problem votes logged again after */
};

#define QUEUE_RESCAN_S	60

/* --drain: returns 0, or 1 if the ledger could not be read or a vote
 * not settled. */
int	queue_drain(const struct config *cfg, bool now);

/*
 * Pays at most one due queued vote (its grant runs here, and its log
 * line goes to log).  Returns 1 if it tried one (call again once
 * waiting requests are served), 0 if nothing was due, -1 if queue/
 * could not be read (logged).
 */
int	queue_drain_one(const struct config *cfg, struct ledger *l,
	    struct log_sink *log, struct queue_idle *idle);

#endif
