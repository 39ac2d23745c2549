/*
 * owner: the owner's commands over the ledger: --ledger, --replay,
 * --prune, --top, and --check's look at every record.
 *
 * Promises: listings read records without holding any vote (a shared
 * lock, so never a half-written one) and never change them; --replay
 * and --prune change a vote only through its claim, as a delivery
 * would.  Exit codes: 0 done, 1 a ledger or I/O problem (or, for
 * --replay --now, a vote not paid or refused), 64 bad usage.
 */
#ifndef MMOLOVE_OWNER_H
#define MMOLOVE_OWNER_H

#include <stdbool.h>

#include "config.h"

#define OWNER_USAGE	64

struct ledger_query {
	int		 state;		/* enum vote_state, or -1: any */
	const char	*user;		/* NULL: any */
	long long	 since;		/* unix time of the last change */
	bool		 json;
};

int	owner_ledger(const struct config *cfg, const struct ledger_query *q);
int	owner_replay(const struct config *cfg, const char *heart_id, bool now,
	    bool force);
int	owner_prune(const struct config *cfg, long days);

/* --top: the users with the most paid votes of period "YYYY-MM". */
int	owner_top(const struct config *cfg, const char *period, long count,
	    bool json);

struct ledger_health {
	unsigned	 records;
	unsigned	 corrupt;	/* or unreadable */
	unsigned	 unknown;	/* including pending ones whose grant died */
	unsigned	 dead;
	bool		 unreadable;	/* the folder itself */
};

/* For --check: prints a line for each vote that needs the owner. */
void	owner_check_ledger(const struct config *cfg, struct ledger_health *h);

#endif
