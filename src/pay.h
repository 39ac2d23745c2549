/*
 * pay: claim -> intent -> grant -> record, the one path by which a vote
 * is paid, whether a delivery (request.c), --drain or --replay (queue.c)
 * asks.
 *
 * Promises: the grant runs only while this process holds the vote's
 * claim, and only after the attempt (pending, with the grant's process
 * group) is durable in the ledger; if that cannot be written, nothing
 * runs.  A pending record whose group still lives keeps the vote busy,
 * and the group is killed once past its deadline; one whose group is
 * gone is an unknown outcome, held (hold) or run again (retry) as
 * unknown_outcome says.  Every outcome has one row in the table behind
 * pay_answer(): status, log word and answer body.
 */
#ifndef MMOLOVE_PAY_H
#define MMOLOVE_PAY_H

#include <stdbool.h>

#include "config.h"
#include "grant.h"
#include "ledger.h"
#include "log.h"
#include "vote.h"

enum pay_outcome {
	PAY_PAID,
	PAY_REFUSED,		/* grant exit 65 */
	PAY_DUPLICATE,		/* already paid, refused, queued or dead */
	PAY_QUEUED,		/* queue mode: recorded, granted later */
	PAY_HELD,		/* unknown outcome, held for --replay */
	PAY_FAILED,		/* grant exited non-zero: retried */
	PAY_KILLED,		/* retry: grant died by a signal */
	PAY_TIMED_OUT,		/* retry: grant killed at grant_timeout */
	PAY_UNRECORDED,		/* retry: granted, result not recorded */
	PAY_BUSY,		/* its grant still runs elsewhere */
	PAY_CORRUPT,		/* its record cannot be trusted */
	PAY_LEDGER_ERROR,	/* the attempt could not be recorded first */
	PAY_GRANT_ERROR,	/* the grant program could not be started */
	PAY_WAITING,		/* drain: not due yet (payer.next) */
	PAY_DEAD,		/* drain: queued past queue_max_age */
	PAY_NOT_FOUND,		/* replay: no such vote */
	PAY_NOT_REPLAYABLE,	/* replay: paid or refused, without --force */
	PAY_DUE			/* replay: made due for the next --drain */
};

struct pay_answer {
	int		 status;
	const char	*outcome;	/* the log's word */
	const char	*body;		/* the HTTP answer */
};

enum pay_how {
	PAY_DELIVERY,		/* from MMOLove: grant_mode decides */
	PAY_DRAIN,		/* a queued vote that is due */
	PAY_DRAIN_NOW,		/* --drain --now: due or not */
	PAY_REPLAY,		/* --replay: make due */
	PAY_REPLAY_NOW,		/* --replay --now: run at once */
	PAY_REPLAY_FORCE,	/* --replay --force: paid/refused too */
	PAY_REPLAY_FORCE_NOW
};

struct payer {
	const struct config *cfg;
	struct ledger	*ledger;
	struct log_entry *log;		/* reasons and grant fields go here */
	struct grant_result grant;	/* the log points into it */
	struct vote	 vote;		/* the vote paid (drain: from its record) */
	long long	 next;		/* PAY_WAITING: when it is due */
};

/* A delivery of vote: paid, queued or held as grant_mode says. */
enum pay_outcome pay_delivery(struct payer *p, const struct vote *vote);

/* Drain or replay the vote whose file is name, with its recorded fields. */
enum pay_outcome pay_named(struct payer *p, const char *name,
	    enum pay_how how);

const struct pay_answer *pay_answer(enum pay_outcome outcome);

/* The log entry's vote fields, outcome and status, for drain and replay. */
void	pay_log(struct payer *p, enum pay_outcome outcome, const char *method);

#endif
