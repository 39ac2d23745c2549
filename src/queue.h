/*
 * queue: grant_mode = queue, where a vote is recorded durably and
 * answered 200 at once, and --drain grants it later.
 *
 * Promises: every queued vote that is due is claimed (votes another
 * process holds are left for the next run), granted as in sync mode,
 * and recorded paid or refused; a failed grant is rescheduled with
 * exponential backoff (1 minute doubling to 6 hours), never given up, so
 * retries go on far beyond MMOLove's own window.  Each attempt leaves an
 * audit log line.
 */
#ifndef MMOLOVE_QUEUE_H
#define MMOLOVE_QUEUE_H

#include "config.h"

/* Returns 0, or 1 if the ledger could not be read or a grant not run. */
int	queue_drain(const struct config *cfg);

#endif
