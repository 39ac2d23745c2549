/*
 * queue: --drain, which grants the votes queue mode recorded.
 *
 * Promises: only what is queued is read (queue/, not the whole ledger);
 * every queued vote that is due, or every one with --now, is paid
 * through pay.h like a delivery; votes another process holds are left
 * for the next run.  A failed try backs off exponentially (1 minute
 * doubling to 6 hours) until queue_max_age, then the vote is dead.  Each
 * attempt leaves an audit log line.
 */
#ifndef MMOLOVE_QUEUE_H
#define MMOLOVE_QUEUE_H

#include <stdbool.h>

#include "config.h"

/* Returns 0, or 1 if the ledger could not be read or a vote not settled. */
int	queue_drain(const struct config *cfg, bool now);

#endif
