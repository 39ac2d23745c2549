#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ledger.h"
#include "log.h"
#include "owner.h"
#include "pay.h"
#include "text.h"
#include "utc.h"

#define SHOWN_MAX	20	/* --check lines of each kind, then a count */

struct row {
	long long	 time;
	char		 name[DIGEST_HEX_LEN + 1];
};

struct scan {
	struct ledger	 ledger;
	const struct ledger_query *q;
	struct row	*rows;
	size_t		 count;
	size_t		 cap;
	unsigned	 unreadable;
	const char	*heart_id;	/* find_legacy: what is looked for */
	char		*found;		/* find_legacy: its file name */
	bool		 out_of_memory;
};

static int
open_ledger(const struct config *cfg, struct ledger *l)
{
	char why[320];

	if (ledger_open(l, cfg->state_dir, why, sizeof(why)) == 0)
		return 0;
	(void)fprintf(stderr, "mmolove.cgi: %s\n", why);
	return -1;
}

/* A record for a listing; anything else is said on stderr. */
static bool
peek(struct scan *s, const char *name, struct ledger_record *rec)
{
	char why[320];

	switch (ledger_peek(&s->ledger, name, rec, why, sizeof(why))) {
	case LEDGER_OK:
		return true;
	case LEDGER_NEW:
		return false;	/* removed meanwhile */
	case LEDGER_BUSY:
		(void)fprintf(stderr, "mmolove.cgi: vote record %s is being "
		    "written: not listed\n", name);
		return false;
	default:
		(void)fprintf(stderr, "mmolove.cgi: %s\n", why);
		s->unreadable++;
		return false;
	}
}

/*
 * A pending record whose grant is gone is unknown, though nothing wrote
 * so yet (its handler died, or could not record the result): the next
 * delivery, drain or replay settles it so.
 */
static enum vote_state
state_now(const struct ledger_record *rec)
{
	if (rec->state == STATE_PENDING && !grant_group_alive(&rec->group))
		return STATE_UNKNOWN;
	return rec->state;
}

/* ------------------------------------------------------------- --ledger */

static bool
matches(const struct ledger_query *q, const struct ledger_record *rec)
{
	return (q->state == -1 || (int)state_now(rec) == q->state) &&
	    (q->user == NULL || strcmp(q->user, rec->vote.username) == 0) &&
	    rec->time >= q->since;
}

static int
collect(void *arg, const char *name)
{
	struct scan *s = arg;
	struct ledger_record rec;
	struct row *grown;

	if (!peek(s, name, &rec) || !matches(s->q, &rec))
		return 0;
	if (s->count == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 1024;
		if ((grown = realloc(s->rows, s->cap * sizeof(*grown))) ==
		    NULL) {
			s->out_of_memory = true;
			return 1;
		}
		s->rows = grown;
	}
	s->rows[s->count].time = rec.time;
	memcpy(s->rows[s->count].name, name, sizeof(s->rows[0].name));
	s->count++;
	return 0;
}

static int
by_time(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void
json_text(char *buf, size_t cap, size_t *used, const char *key,
    const char *value)
{
	int n = snprintf(buf + *used, cap - *used, "%s\"%s\":\"",
	    *used > 1 ? "," : "", key);

	if (n < 0 || (size_t)n >= cap - *used)
		return;
	*used += (size_t)n;
	(void)json_escape_append(buf, cap - 3, used,
	    (const unsigned char *)value, strlen(value));
	buf[(*used)++] = '"';
	buf[*used] = '\0';
}

static void
json_number(char *buf, size_t cap, size_t *used, const char *key,
    long long value)
{
	int n = snprintf(buf + *used, cap - *used, "%s\"%s\":%lld",
	    *used > 1 ? "," : "", key, value);

	if (n > 0 && (size_t)n < cap - *used)
		*used += (size_t)n;
}

static void
print_json(const struct ledger_record *rec, const char *name)
{
	char line[4096], when[UTC_ISO_LEN + 1];
	size_t used = 1;

	line[0] = '{';
	line[1] = '\0';
	utc_iso(rec->time, when, sizeof(when));
	json_text(line, sizeof(line), &used, "time", when);
	json_text(line, sizeof(line), &used, "state",
	    ledger_state_name(state_now(rec)));
	json_number(line, sizeof(line), &used, "attempts", rec->attempts);
	json_text(line, sizeof(line), &used, "username", rec->vote.username);
	json_text(line, sizeof(line), &used, "heart_id", rec->vote.heart_id);
	json_number(line, sizeof(line), &used, "reward", rec->vote.reward);
	json_text(line, sizeof(line), &used, "mode",
	    vote_mode_name(rec->vote.mode));
	json_text(line, sizeof(line), &used, "period", rec->vote.period);
	json_text(line, sizeof(line), &used, "server_id",
	    rec->vote.server_id);
	json_text(line, sizeof(line), &used, "file", name);
	(void)printf("%s}\n", line);
}

static void
print_row(struct scan *s, const struct row *row)
{
	struct ledger_record rec;
	char when[UTC_ISO_LEN + 1];

	if (!peek(s, row->name, &rec))
		return;
	if (s->q->json) {
		print_json(&rec, row->name);
		return;
	}
	utc_iso(rec.time, when, sizeof(when));
	(void)printf("%s\t%s\t%lld\t%s\t%s\t%lld\n", when,
	    ledger_state_name(state_now(&rec)), rec.attempts, rec.vote.username,
	    rec.vote.heart_id, rec.vote.reward);
}

int
owner_ledger(const struct config *cfg, const struct ledger_query *q)
{
	struct scan s;
	char why[320];
	size_t i;
	int rc;

	memset(&s, 0, sizeof(s));
	s.q = q;
	if (open_ledger(cfg, &s.ledger) == -1)
		return 1;
	rc = ledger_each(&s.ledger, false, collect, &s, why, sizeof(why));
	if (rc == -1)
		(void)fprintf(stderr, "mmolove.cgi: %s\n", why);
	if (s.out_of_memory)
		(void)fprintf(stderr, "mmolove.cgi: out of memory after %zu "
		    "votes: narrow the listing (--state, --user, --since)\n",
		    s.count);
	/* qsort(3)'s array may not be NULL, even for no rows. */
	if (s.count > 0)
		qsort(s.rows, s.count, sizeof(*s.rows), by_time);
	for (i = 0; i < s.count; i++)
		print_row(&s, &s.rows[i]);
	free(s.rows);
	ledger_close(&s.ledger);
	return rc == -1 || s.out_of_memory || s.unreadable ? 1 : 0;
}

/* ------------------------------------------------------------- --replay */

static int
find_legacy(void *arg, const char *name)
{
	struct scan *s = arg;
	struct ledger_record rec;

	if (!peek(s, name, &rec) || strcmp(rec.vote.heart_id, s->heart_id))
		return 0;
	memcpy(s->found, name, DIGEST_HEX_LEN + 1);
	return 1;
}

/*
 * The file of the vote whose grant got heart_id.  A legacy vote's file is
 * named by (username, ts), which its heart_id does not give back, so it
 * is looked for: the one owner command whose cost grows with the ledger.
 */
static bool
find_vote(struct scan *s, const char *heart_id, char name[DIGEST_HEX_LEN + 1])
{
	char key[VOTE_KEY_MAX], why[320];
	struct ledger_record rec;

	(void)snprintf(key, sizeof(key), "post:%s", heart_id);
	ledger_name(key, name);
	if (ledger_peek(&s->ledger, name, &rec, why, sizeof(why)) !=
	    LEDGER_NEW)
		return true;
	if (strncmp(heart_id, "legacy-", 7) != 0)
		return false;
	name[0] = '\0';
	s->heart_id = heart_id;
	s->found = name;
	(void)ledger_each(&s->ledger, false, find_legacy, s, why, sizeof(why));
	return name[0] != '\0';
}

static enum pay_how
replay_how(bool now, bool force)
{
	if (force)
		return now ? PAY_REPLAY_FORCE_NOW : PAY_REPLAY_FORCE;
	return now ? PAY_REPLAY_NOW : PAY_REPLAY;
}

int
owner_replay(const struct config *cfg, const char *heart_id, bool now,
    bool force)
{
	char name[DIGEST_HEX_LEN + 1];
	struct log_sink sink;
	struct log_entry e;
	struct payer p;
	struct scan s;
	enum pay_outcome o;

	if (now && geteuid() == 0 && !cfg->allow_root) {
		(void)fprintf(stderr, "mmolove.cgi: refusing to run a grant as "
		    "root: run --replay --now as the web server's user, or "
		    "set allow_root = yes\n");
		return 1;
	}
	memset(&s, 0, sizeof(s));
	if (open_ledger(cfg, &s.ledger) == -1)
		return 1;
	if (!find_vote(&s, heart_id, name)) {
		(void)fprintf(stderr, "mmolove.cgi: no vote with heart_id %s in "
		    "%s\n", heart_id, s.ledger.votes);
		ledger_close(&s.ledger);
		return 1;
	}
	memset(&e, 0, sizeof(e));
	memset(&p, 0, sizeof(p));
	p.cfg = cfg;
	p.ledger = &s.ledger;
	p.log = &e;
	o = pay_named(&p, name, replay_how(now, force));
	pay_log(&p, o, "replay");
	log_open(&sink, cfg->log);
	(void)log_write(&sink, &e);
	log_close(&sink);
	ledger_close(&s.ledger);
	(void)printf("%s: %s%s%s\n", heart_id, e.outcome,
	    e.reason[0] != '\0' ? ": " : "", e.reason);
	if (now)
		return o == PAY_PAID || o == PAY_REFUSED ? 0 : 1;
	return o == PAY_DUE ? 0 : 1;
}

/* -------------------------------------------------------------- --prune */

struct prune {
	struct ledger	 ledger;
	long long	 before;
	unsigned	 removed;
	unsigned	 swept;		/* temporaries of killed processes */
	unsigned	 failed;
};

static int
prune_one(void *arg, const char *name)
{
	struct prune *pr = arg;
	struct ledger_record rec;
	struct claim c;
	char why[320];

	/* Held by a delivery right now: it is not old, or not for long. */
	if (ledger_claim(&pr->ledger, name, 0, &c, &rec, why, sizeof(why)) !=
	    LEDGER_OK)
		return 0;
	if ((rec.state == STATE_PAID || rec.state == STATE_REFUSED ||
	    rec.state == STATE_DEAD) && rec.time < pr->before) {
		if (ledger_remove(&pr->ledger, &c) == 0)
			pr->removed++;
		else
			pr->failed++;
	}
	ledger_release(&c);
	return 0;
}

int
owner_prune(const struct config *cfg, long days)
{
	long longest = cfg->tolerance > cfg->legacy_tolerance ?
	    cfg->tolerance : cfg->legacy_tolerance;
	char why[320], when[UTC_ISO_LEN + 1];
	struct prune pr;

	if (days < 2 || cfg->tolerance == 0 || cfg->legacy_tolerance == 0 ||
	    (long long)days * 86400 < 2LL * longest) {
		(void)fprintf(stderr, "mmolove.cgi: --prune %ld refused: DAYS "
		    "must be at least 2 and twice the larger of tolerance and "
		    "legacy_tolerance (%ld s), and neither may be 0, so that "
		    "a delivery still acceptable finds its record\n", days,
		    longest);
		return OWNER_USAGE;
	}
	memset(&pr, 0, sizeof(pr));
	pr.before = (long long)time(NULL) - (long long)days * 86400;
	if (open_ledger(cfg, &pr.ledger) == -1)
		return 1;
	if (ledger_each(&pr.ledger, false, prune_one, &pr, why,
	    sizeof(why)) == -1) {
		(void)fprintf(stderr, "mmolove.cgi: %s\n", why);
		pr.failed++;
	}
	/* A handler killed while creating a record left its temporary. */
	pr.swept = ledger_sweep(&pr.ledger, pr.before);
	ledger_close(&pr.ledger);
	utc_iso(pr.before, when, sizeof(when));
	(void)printf("pruned %u paid, refused or dead records last changed "
	    "before %s, and %u temporary files of killed processes%s\n",
	    pr.removed, when, pr.swept, pr.failed ? " (some could not be "
	    "removed)" : "");
	return pr.failed ? 1 : 0;
}

/* ---------------------------------------------------------------- --top */

struct voter {
	char		 username[EVENT_NAME_MAX + 1];
	long long	 votes;
	long long	 points;
};

struct top {
	struct scan	 scan;
	const char	*period;
	struct voter	*voters;
	size_t		 count;
	size_t		 cap;
};

/* A vote's period is the body's, or for a legacy vote the UTC month of ts. */
static bool
in_period(const struct vote *v, const char *period)
{
	char when[UTC_ISO_LEN + 1];

	if (v->mode == VOTE_POST)
		return strcmp(v->period, period) == 0;
	utc_iso(strtoll(v->timestamp, NULL, 10), when, sizeof(when));
	return strncmp(when, period, 7) == 0;
}

static int
count_vote(void *arg, const char *name)
{
	struct top *t = arg;
	struct ledger_record rec;
	struct voter *grown;

	if (!peek(&t->scan, name, &rec) || rec.state != STATE_PAID ||
	    !in_period(&rec.vote, t->period))
		return 0;
	if (t->count == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 256;
		if ((grown = realloc(t->voters, t->cap * sizeof(*grown))) ==
		    NULL) {
			t->scan.out_of_memory = true;
			return 1;
		}
		t->voters = grown;
	}
	memcpy(t->voters[t->count].username, rec.vote.username,
	    sizeof(rec.vote.username));
	t->voters[t->count].votes = 1;
	t->voters[t->count].points = rec.vote.reward;
	t->count++;
	return 0;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(((const struct voter *)a)->username,
	    ((const struct voter *)b)->username);
}

static int
by_votes(const void *a, const void *b)
{
	const struct voter *x = a, *y = b;

	if (x->votes != y->votes)
		return x->votes > y->votes ? -1 : 1;
	if (x->points != y->points)
		return x->points > y->points ? -1 : 1;
	return strcmp(x->username, y->username);
}

/* One entry per username, adding up its votes and points. */
static size_t
merge_voters(struct voter *v, size_t n)
{
	size_t i, out = 0;

	qsort(v, n, sizeof(*v), by_name);
	for (i = 0; i < n; i++) {
		if (out > 0 && strcmp(v[out - 1].username, v[i].username) == 0) {
			v[out - 1].votes += v[i].votes;
			v[out - 1].points += v[i].points;
		} else
			v[out++] = v[i];
	}
	qsort(v, out, sizeof(*v), by_votes);
	return out;
}

static void
print_voter(const struct voter *v, size_t rank, bool json)
{
	char line[1024];
	size_t used = 1;

	if (!json) {
		(void)printf("%zu\t%s\t%lld\t%lld\n", rank, v->username,
		    v->votes, v->points);
		return;
	}
	line[0] = '{';
	line[1] = '\0';
	json_number(line, sizeof(line), &used, "rank", (long long)rank);
	json_text(line, sizeof(line), &used, "username", v->username);
	json_number(line, sizeof(line), &used, "votes", v->votes);
	json_number(line, sizeof(line), &used, "points", v->points);
	(void)printf("%s}\n", line);
}

int
owner_top(const struct config *cfg, const char *period, long count,
    bool json)
{
	struct top t;
	char why[320];
	size_t i, n;
	int rc;

	memset(&t, 0, sizeof(t));
	t.period = period;
	if (open_ledger(cfg, &t.scan.ledger) == -1)
		return 1;
	rc = ledger_each(&t.scan.ledger, false, count_vote, &t, why,
	    sizeof(why));
	if (rc == -1)
		(void)fprintf(stderr, "mmolove.cgi: %s\n", why);
	n = merge_voters(t.voters, t.count);
	for (i = 0; i < n && i < (size_t)count; i++)
		print_voter(&t.voters[i], i + 1, json);
	free(t.voters);
	ledger_close(&t.scan.ledger);
	return rc == -1 || t.scan.out_of_memory || t.scan.unreadable ? 1 : 0;
}

/* -------------------------------------------------------------- --check */

struct health {
	struct ledger	 ledger;
	struct ledger_health *h;
};

static void
warn_vote(unsigned shown, const struct ledger_record *rec, const char *what)
{
	if (shown > SHOWN_MAX)
		return;
	if (shown == SHOWN_MAX) {
		(void)printf("warning ... and more: mmolove.cgi --ledger "
		    "--state %s lists them all\n", ledger_state_name(rec->state));
		return;
	}
	(void)printf("warning vote %s (%s) is %s: mmolove.cgi --replay %s "
	    "grants it again once you have checked the game\n",
	    rec->vote.heart_id, rec->vote.username, what, rec->vote.heart_id);
}

static int
check_one(void *arg, const char *name)
{
	struct health *hs = arg;
	struct ledger_health *h = hs->h;
	struct ledger_record rec;
	char why[320];

	h->records++;
	switch (ledger_peek(&hs->ledger, name, &rec, why, sizeof(why))) {
	case LEDGER_OK:
		break;
	case LEDGER_CORRUPT:
	case LEDGER_ERROR:
		if (h->corrupt++ < SHOWN_MAX)
			(void)printf("PROBLEM %s\n", why);
		return 0;
	default:
		return 0;
	}
	if (state_now(&rec) == STATE_UNKNOWN)
		warn_vote(h->unknown++, &rec, "unknown (its grant may have "
		    "acted; no result was recorded)");
	else if (rec.state == STATE_DEAD)
		warn_vote(h->dead++, &rec, "dead (its grant kept failing "
		    "past queue_max_age)");
	return 0;
}

void
owner_check_ledger(const struct config *cfg, struct ledger_health *h)
{
	struct health hs;
	char why[320];

	memset(h, 0, sizeof(*h));
	hs.h = h;
	if (ledger_open(&hs.ledger, cfg->state_dir, why, sizeof(why)) == -1) {
		h->unreadable = true;
		return;
	}
	if (ledger_each(&hs.ledger, false, check_one, &hs, why,
	    sizeof(why)) == -1) {
		(void)printf("PROBLEM %s\n", why);
		h->unreadable = true;
	}
	ledger_close(&hs.ledger);
}
