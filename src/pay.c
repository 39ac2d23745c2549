#include <string.h>
#include <time.h>

#include "pay.h"
#include "sys.h"

#define CLAIM_GRACE_MS	5000	/* beyond grant_timeout, for the holder */
#define ORPHAN_POLL_MS	50
#define BACKOFF_FIRST	60
#define BACKOFF_MAX	(6 * 3600)
#define RACE_TRIES	3
#define STALE_MARKER_S	3600	/* a marker without a record, at least */

/* Internal: another process created the record first; claim again. */
#define PAY_RACE	((enum pay_outcome)-1)
/* Internal: an orphan was settled; decide on the record as it is now. */
#define PAY_GO_ON	((enum pay_outcome)-2)

static const struct pay_answer answers[] = {
	[PAY_PAID] = { 200, "paid", "ok" },
	[PAY_REFUSED] = { 200, "refused", "refused" },
	[PAY_DUPLICATE] = { 200, "duplicate", "duplicate" },
	[PAY_QUEUED] = { 200, "queued", "ok" },
	[PAY_HELD] = { 200, "unknown", "ok" },
	[PAY_FAILED] = { 502, "grant_failed", "grant failed" },
	[PAY_KILLED] = { 502, "grant_killed", "grant failed" },
	[PAY_TIMED_OUT] = { 504, "grant_timeout", "grant timeout" },
	[PAY_UNRECORDED] = { 500, "unrecorded", "server error" },
	[PAY_BUSY] = { 503, "busy", "busy" },
	[PAY_CORRUPT] = { 500, "ledger_corrupt", "server error" },
	[PAY_LEDGER_ERROR] = { 500, "ledger_error", "server error" },
	[PAY_GRANT_ERROR] = { 500, "config_error", "server error" },
	[PAY_WAITING] = { 200, "waiting", "waiting" },
	[PAY_DEAD] = { 502, "dead", "dead" },
	[PAY_NOT_FOUND] = { 404, "not_found", "no such vote" },
	[PAY_NOT_REPLAYABLE] = { 409, "not_replayable", "already settled" },
	[PAY_DUE] = { 200, "due", "due" },
};

const struct pay_answer *
pay_answer(enum pay_outcome outcome)
{
	return &answers[outcome];
}

void
pay_log(struct payer *p, enum pay_outcome outcome, const char *method)
{
	const struct pay_answer *a = pay_answer(outcome);

	log_vote(p->log, &p->vote);
	p->log->method = method;
	p->log->outcome = a->outcome;
	p->log->status = a->status;
}

static bool
holding(const struct payer *p)
{
	return p->cfg->unknown_outcome == UNKNOWN_HOLD;
}

static bool
is_drain(enum pay_how how)
{
	return how == PAY_DRAIN || how == PAY_DRAIN_NOW;
}

static bool
is_replay(enum pay_how how)
{
	return how == PAY_REPLAY || how == PAY_REPLAY_NOW ||
	    how == PAY_REPLAY_FORCE || how == PAY_REPLAY_FORCE_NOW;
}

static long long
now_s(void)
{
	return (long long)time(NULL);
}

static time_t
backoff(long long attempts)
{
	time_t delay = BACKOFF_FIRST;

	while (attempts-- > 1 && delay < BACKOFF_MAX)
		delay *= 2;
	return delay < BACKOFF_MAX ? delay : BACKOFF_MAX;
}

/* Writes rec; on failure the reason goes to the log. */
static enum ledger_status
record(struct payer *p, struct claim *c, struct ledger_record *rec)
{
	char why[LOG_REASON_MAX];
	enum ledger_status st;

	rec->time = now_s();
	if ((st = ledger_write(p->ledger, c, rec, why, sizeof(why))) ==
	    LEDGER_ERROR)
		log_reason(p->log, "%s", why);
	return st;
}

static void
grant_logged(struct payer *p)
{
	p->log->ran_grant = true;
	p->log->grant_exit = p->grant.exit_code;
	p->log->grant_signal = p->grant.signal;
	p->log->grant_output = p->grant.output;
	p->log->grant_output_len = p->grant.output_len;
	if (p->grant.output_truncated)
		log_reason(p->log, "grant output cut at %d bytes",
		    GRANT_OUTPUT_MAX);
}

/* A queued vote's failed try: back off, or dead past queue_max_age. */
static enum pay_outcome
requeue(struct payer *p, struct ledger_record *rec, enum pay_outcome o)
{
	long long now = now_s();

	if (now - rec->queued_at >= p->cfg->queue_max_age) {
		rec->state = STATE_DEAD;
		log_reason(p->log, "still failing %lld s after it was queued "
		    "(queue_max_age %ld): dead; mmolove.cgi --replay %s tries "
		    "again", now - rec->queued_at, p->cfg->queue_max_age,
		    rec->vote.heart_id);
		return PAY_DEAD;
	}
	rec->state = STATE_QUEUED;
	rec->next = now + backoff(rec->attempts);
	log_reason(p->log, "attempt %lld failed; next try in %lld s",
	    rec->attempts, rec->next - now);
	return o;
}

/* What the grant's end means, for the record and the answer. */
static enum pay_outcome
outcome_of(struct payer *p, struct ledger_record *rec, enum pay_how how)
{
	const struct grant_result *g = &p->grant;
	enum pay_outcome o;

	switch (g->outcome) {
	case GRANT_GRANTED:
		rec->state = STATE_PAID;
		return PAY_PAID;
	case GRANT_REFUSED:
		rec->state = STATE_REFUSED;
		log_reason(p->log, "grant refused the vote for good (exit 65)");
		return PAY_REFUSED;
	case GRANT_FAILED:
		rec->state = STATE_FAILED;
		log_reason(p->log, "grant failed: not paid, it runs again on "
		    "the next %s", how == PAY_DELIVERY ? "delivery" : "try");
		return how == PAY_DELIVERY ? PAY_FAILED :
		    requeue(p, rec, PAY_FAILED);
	case GRANT_TIMED_OUT:
		log_reason(p->log, "grant ran past grant_timeout %ld s: its "
		    "process group was killed", p->cfg->grant_timeout);
		o = PAY_TIMED_OUT;
		break;
	default:
		log_reason(p->log, "grant died by signal %d%s%s", g->signal,
		    g->error[0] != '\0' ? ": " : "", g->error);
		o = PAY_KILLED;
		break;
	}
	rec->state = STATE_UNKNOWN;
	rec->unknown_at = now_s();
	if (holding(p)) {
		log_reason(p->log, "it may have acted: held as unknown until "
		    "mmolove.cgi --replay %s", rec->vote.heart_id);
		return PAY_HELD;
	}
	return how == PAY_DELIVERY ? o : requeue(p, rec, o);
}

/* Records the result; a failure here leaves the attempt pending. */
static enum pay_outcome
settle(struct payer *p, struct claim *c, struct ledger_record *rec,
    enum pay_how how)
{
	enum pay_outcome o = outcome_of(p, rec, how);

	memset(&rec->group, 0, sizeof(rec->group));
	if (record(p, c, rec) != LEDGER_OK) {
		log_reason(p->log, "the result is NOT RECORDED: the vote reads "
		    "as unknown from now on");
		if (o == PAY_PAID || o == PAY_REFUSED || o == PAY_HELD)
			return holding(p) ? PAY_HELD : PAY_UNRECORDED;
		return o;
	}
	/* Only drains and replays can have left a marker behind. */
	if (how != PAY_DELIVERY && rec->state != STATE_QUEUED)
		ledger_queue_unmark(p->ledger, c->name);
	return o;
}

/* intent -> grant -> record, while the claim is held. */
static enum pay_outcome
attempt(struct payer *p, struct claim *c, struct ledger_record *rec,
    enum pay_how how)
{
	struct ledger_record before = *rec;
	struct grant_run run;
	char why[LOG_REASON_MAX];
	enum ledger_status st;

	rec->vote = p->vote;
	rec->state = STATE_PENDING;
	rec->attempts++;
	rec->time = now_s();
	if (grant_prepare(p->cfg->grant, &p->vote, p->cfg->grant_timeout, &run,
	    &rec->group, &p->grant) == -1) {
		log_reason(p->log, "%s", p->grant.error);
		return PAY_GRANT_ERROR;
	}
	if ((st = ledger_write(p->ledger, c, rec, why, sizeof(why))) !=
	    LEDGER_OK) {
		grant_abort(&run);
		if (st == LEDGER_RACE)
			return PAY_RACE;
		ledger_undo(p->ledger, c, &before);
		log_reason(p->log, "%s; the grant did not run", why);
		return PAY_LEDGER_ERROR;
	}
	if (grant_release(&run, &p->grant) == -1) {
		log_reason(p->log, "%s", p->grant.error);
		rec->state = STATE_FAILED;
		memset(&rec->group, 0, sizeof(rec->group));
		/* A drained or replayed vote stays queued, as a failed try. */
		if (how != PAY_DELIVERY)
			(void)requeue(p, rec, PAY_GRANT_ERROR);
		(void)record(p, c, rec);
		return PAY_GRANT_ERROR;
	}
	grant_finish(&run, p->cfg->grant_timeout, &p->grant);
	grant_logged(p);
	return settle(p, c, rec, how);
}

static enum pay_outcome
enqueue(struct payer *p, struct claim *c, struct ledger_record *rec,
    enum pay_outcome done)
{
	char why[LOG_REASON_MAX];
	enum ledger_status st;

	rec->vote = p->vote;
	rec->state = STATE_QUEUED;
	rec->queued_at = rec->next = now_s();
	memset(&rec->group, 0, sizeof(rec->group));
	/* The marker first: a queued record always has one. */
	if (ledger_queue_mark(p->ledger, c->name, why, sizeof(why)) == -1) {
		log_reason(p->log, "%s", why);
		return PAY_LEDGER_ERROR;
	}
	if ((st = record(p, c, rec)) == LEDGER_RACE)
		return PAY_RACE;
	return st == LEDGER_OK ? done : PAY_LEDGER_ERROR;
}

/*
 * A pending record: its grant's group still runs (the vote is busy, and
 * killed once past its deadline), or it is gone and the outcome unknown.
 */
static enum pay_outcome
settle_orphan(struct payer *p, struct claim *c, struct ledger_record *rec,
    long long until_ms)
{
	struct timespec pause = { 0, ORPHAN_POLL_MS * 1000000L };

	while (grant_group_alive(&rec->group)) {
		if (now_s() >= rec->group.deadline) {
			log_reason(p->log, "killed process group %lld, an "
			    "earlier attempt's grant past its grant_timeout",
			    rec->group.pgid);
			grant_group_kill(&rec->group);
		}
		if (monotonic_ms() >= until_ms) {
			log_reason(p->log, "an earlier attempt's grant "
			    "(process group %lld) still runs",
			    rec->group.pgid);
			return PAY_BUSY;
		}
		(void)nanosleep(&pause, NULL);
	}
	log_reason(p->log, "an earlier attempt ended without a result (its "
	    "handler died): the grant may have acted, outcome unknown");
	rec->state = STATE_UNKNOWN;
	rec->unknown_at = now_s();
	memset(&rec->group, 0, sizeof(rec->group));
	if (holding(p))
		(void)record(p, c, rec);
	return PAY_GO_ON;
}

static enum pay_outcome
held(struct payer *p, struct ledger_record *rec)
{
	log_reason(p->log, "vote outcome unknown: held, not run again until "
	    "mmolove.cgi --replay %s", rec->vote.heart_id);
	return PAY_HELD;
}

/*
 * Whether hold keeps this vote from running: its outcome is unknown, or
 * was once (a retry queued it, or failed cleanly after), unless the
 * owner replayed it since.  Switching retry to hold holds those too.
 */
static bool
held_back(const struct payer *p, const struct ledger_record *rec)
{
	return holding(p) && (rec->state == STATE_UNKNOWN ||
	    (rec->unknown_at != 0 && (rec->state == STATE_QUEUED ||
	    rec->state == STATE_FAILED)));
}

/* Held: recorded as unknown again, for --ledger, --check and --replay. */
static enum pay_outcome
hold_back(struct payer *p, struct claim *c, struct ledger_record *rec)
{
	if (rec->state != STATE_UNKNOWN) {
		rec->state = STATE_UNKNOWN;
		if (record(p, c, rec) != LEDGER_OK)
			return PAY_LEDGER_ERROR;
	}
	return held(p, rec);
}

static enum pay_outcome
deliver(struct payer *p, struct claim *c, struct ledger_record *rec)
{
	bool queue = p->cfg->grant_mode == GRANT_QUEUE;

	if (held_back(p, rec))
		return hold_back(p, c, rec);
	/* In sync mode a queued vote is one --replay made due: run it. */
	if (rec->state == STATE_QUEUED && !queue && rec->next <= now_s())
		return attempt(p, c, rec, PAY_DRAIN_NOW);
	switch (rec->state) {
	case STATE_UNKNOWN:	/* retry: run it again */
	case STATE_NONE:
	case STATE_FAILED:
		return queue ? enqueue(p, c, rec, PAY_QUEUED) :
		    attempt(p, c, rec, PAY_DELIVERY);
	default:
		log_reason(p->log, "vote already %s",
		    ledger_state_name(rec->state));
		p->log->reward = 0;
		return PAY_DUPLICATE;
	}
}

static enum pay_outcome
drain(struct payer *p, struct claim *c, struct ledger_record *rec,
    enum pay_how how)
{
	if (held_back(p, rec)) {
		ledger_queue_unmark(p->ledger, c->name);
		return hold_back(p, c, rec);
	}
	switch (rec->state) {
	case STATE_QUEUED:
		if (how == PAY_DRAIN && rec->next > now_s()) {
			p->next = rec->next;
			return PAY_WAITING;
		}
		return attempt(p, c, rec, how);
	case STATE_UNKNOWN:	/* retry: held_back() let it through */
		return attempt(p, c, rec, how);
	default:
		/* A marker left by a crash: the record says otherwise. */
		ledger_queue_unmark(p->ledger, c->name);
		return PAY_NOT_FOUND;
	}
}

static enum pay_outcome
replay(struct payer *p, struct claim *c, struct ledger_record *rec,
    enum pay_how how)
{
	bool force = how == PAY_REPLAY_FORCE || how == PAY_REPLAY_FORCE_NOW;
	char why[LOG_REASON_MAX];

	if ((rec->state == STATE_PAID || rec->state == STATE_REFUSED) &&
	    !force) {
		log_reason(p->log, "vote is %s: --force runs it again",
		    ledger_state_name(rec->state));
		return PAY_NOT_REPLAYABLE;
	}
	log_reason(p->log, "replayed by the owner (was %s)",
	    ledger_state_name(rec->state));
	/* The owner's word that it did not act: no longer held back. */
	rec->unknown_at = 0;
	rec->queued_at = now_s();
	if (how != PAY_REPLAY_NOW && how != PAY_REPLAY_FORCE_NOW)
		return enqueue(p, c, rec, PAY_DUE);
	/*
	 * A failed try is queued again (requeue()), and --drain reads only
	 * queue/: the marker first, as enqueue() does.  settle() removes it
	 * when the try settles the vote.
	 */
	if (ledger_queue_mark(p->ledger, c->name, why, sizeof(why)) == -1) {
		log_reason(p->log, "%s; the grant did not run", why);
		return PAY_LEDGER_ERROR;
	}
	return attempt(p, c, rec, how);
}

static enum pay_outcome
decide(struct payer *p, struct claim *c, struct ledger_record *rec,
    enum pay_how how, long long until_ms)
{
	enum pay_outcome o;

	if (rec->state == STATE_PENDING &&
	    (o = settle_orphan(p, c, rec, until_ms)) != PAY_GO_ON)
		return o;
	if (is_drain(how))
		return drain(p, c, rec, how);
	if (is_replay(how))
		return replay(p, c, rec, how);
	return deliver(p, c, rec);
}

static enum pay_outcome
claimed(struct payer *p, enum ledger_status st, const char *why)
{
	switch (st) {
	case LEDGER_BUSY:
		log_reason(p->log, "this vote's grant is still running in "
		    "another request");
		return PAY_BUSY;
	case LEDGER_CORRUPT:
		log_reason(p->log, "%s", why);
		return PAY_CORRUPT;
	default:
		log_reason(p->log, "%s", why);
		return PAY_LEDGER_ERROR;
	}
}

static enum pay_outcome
pay_claimed(struct payer *p, const char *name, const struct vote *vote,
    enum pay_how how)
{
	long long until_ms = monotonic_ms();
	char why[LOG_REASON_MAX];
	struct ledger_record rec;
	enum ledger_status st;
	enum pay_outcome o = PAY_LEDGER_ERROR;
	struct claim c;
	int tries;

	/* A delivery waits for a grant running elsewhere; owner tools don't. */
	if (how == PAY_DELIVERY || is_replay(how))
		until_ms += p->cfg->grant_timeout * 1000 + CLAIM_GRACE_MS;
	for (tries = 0; tries < RACE_TRIES; tries++) {
		st = ledger_claim(p->ledger, name, until_ms - monotonic_ms(),
		    &c, &rec, why, sizeof(why));
		if (st != LEDGER_OK && st != LEDGER_NEW)
			return claimed(p, st, why);
		if (vote != NULL)
			p->vote = *vote;
		else if (st == LEDGER_NEW) {
			/* Its delivery may be writing the record right now. */
			ledger_queue_unmark_stale(p->ledger, name,
			    now_s() - STALE_MARKER_S);
			return PAY_NOT_FOUND;
		} else
			p->vote = rec.vote;
		p->log->reward = p->vote.reward;
		o = decide(p, &c, &rec, how, until_ms);
		ledger_release(&c);
		if (o != PAY_RACE)
			return o;
	}
	log_reason(p->log, "the vote's record kept changing under us");
	return PAY_BUSY;
}

enum pay_outcome
pay_delivery(struct payer *p, const struct vote *vote)
{
	char name[DIGEST_HEX_LEN + 1];

	ledger_name(vote->key, name);
	return pay_claimed(p, name, vote, PAY_DELIVERY);
}

enum pay_outcome
pay_named(struct payer *p, const char *name, enum pay_how how)
{
	return pay_claimed(p, name, NULL, how);
}
