#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "event.h"
#include "legacy.h"
#include "log.h"
#include "pay.h"
#include "request.h"
#include "sys.h"
#include "response.h"
#include "reward.h"
#include "signature.h"

struct request {
	struct server		*srv;
	const struct request_io	*io;
	bool			 body_read;
	long long		 started_ms;
	int			 status;
	const char		*allow;
	const char		*answer;
	struct log_entry	 log;
	struct vote		 vote;
	struct payer		 payer;		/* the log points into it */
	struct event_claims	 claims;	/* a 401's body, unverified */
};

/* Sets the answer; the reason, if any, was already put in the log. */
static void
finish(struct request *rq, int status, const char *outcome,
    const char *answer)
{
	rq->status = status;
	rq->log.outcome = outcome;
	rq->answer = answer;
}

static void
fail(struct request *rq, int status, const char *outcome, const char *answer,
    const char *why)
{
	log_reason(&rq->log, "%s", why);
	finish(rq, status, outcome, answer);
}

static void
fail_config(struct request *rq, const char *why)
{
	fail(rq, 500, "config_error", "server error", why);
}

/* Reads exactly CONTENT_LENGTH bytes into the server's body buffer. */
static int
read_body(struct request *rq, size_t *len)
{
	const char *cl = rq->io->param(rq->io->ctx, "CONTENT_LENGTH");
	size_t want, have = 0;
	char *end;
	unsigned long long n;
	ssize_t got;

	if (cl == NULL || *cl == '\0') {
		fail(rq, 411, "length_required", "length required",
		    "POST without CONTENT_LENGTH");
		return -1;
	}
	errno = 0;
	n = strtoull(cl, &end, 10);
	if (cl[0] < '0' || cl[0] > '9' || *end != '\0' || errno != 0) {
		fail(rq, 400, "bad_request", "bad request",
		    "CONTENT_LENGTH is not a number");
		return -1;
	}
	if (n > rq->srv->cfg.max_body) {
		log_reason(&rq->log, "body of %llu bytes is over max_body %zu",
		    n, rq->srv->cfg.max_body);
		finish(rq, 413, "too_large", "payload too large");
		return -1;
	}
	want = (size_t)n;
	while (have < want) {
		got = rq->io->read(rq->io->ctx, rq->srv->body + have,
		    want - have);
		if (got <= 0)
			break;
		have += (size_t)got;
	}
	if (have < want) {
		log_reason(&rq->log, "body ended after %zu of the %zu bytes "
		    "CONTENT_LENGTH announced", have, want);
		finish(rq, 400, "bad_request", "bad request");
		return -1;
	}
	rq->srv->body[want] = '\0';
	rq->body_read = true;
	*len = want;
	return 0;
}

/*
 * Reads and drops a body that was refused unread (405, 413, 500):
 * Apache's mod_cgid resets the connection, and the client never gets
 * the answer, when a CGI program exits with its input unread.  Bounded,
 * so an announced gigabyte costs at most CONFIG_MAX_BODY_LIMIT bytes.
 */
static void
drain_body(struct request *rq)
{
	const char *cl = rq->io->param(rq->io->ctx, "CONTENT_LENGTH");
	unsigned long long left;
	ssize_t got;
	char *end;

	if (rq->body_read || cl == NULL || cl[0] < '0' || cl[0] > '9')
		return;
	left = strtoull(cl, &end, 10);
	if (*end != '\0' || left > CONFIG_MAX_BODY_LIMIT)
		left = CONFIG_MAX_BODY_LIMIT;
	while (left > 0) {
		got = rq->io->read(rq->io->ctx, rq->srv->body,
		    left < sizeof(rq->srv->body) ? (size_t)left :
		    sizeof(rq->srv->body));
		if (got <= 0)
			break;
		left -= (unsigned long long)got;
	}
}

static int
verify_post(struct request *rq, size_t len)
{
	const char *header = rq->io->param(rq->io->ctx,
	    "HTTP_X_MMOLOVE_SIGNATURE");
	struct signature_header sig;
	char why[96];
	long long age;

	switch (signature_parse(header, &sig, why, sizeof(why))) {
	case SIGNATURE_MISSING:
		fail(rq, 401, "unauthorized", "unauthorized",
		    "no X-MMOLove-Signature header");
		return -1;
	case SIGNATURE_GARBLED:
		log_reason(&rq->log, "garbled X-MMOLove-Signature: %s", why);
		finish(rq, 401, "unauthorized", "unauthorized");
		return -1;
	default:
		break;
	}
	if (signature_check(&sig, &rq->srv->secrets, rq->srv->body, len) !=
	    SIGNATURE_OK) {
		fail(rq, 401, "unauthorized", "unauthorized",
		    SIGNATURE_WHY_MISMATCH);
		return -1;
	}
	age = signature_age(&sig, time(NULL));
	if (!signature_fresh(age, rq->srv->cfg.tolerance)) {
		log_reason(&rq->log, "signed %lld s %s, beyond tolerance %ld s",
		    age < 0 ? -age : age, age < 0 ? "in the future" : "ago",
		    rq->srv->cfg.tolerance);
		rq->log.signed_t = sig.t;	/* authentic: the clocks' skew */
		finish(rq, 401, "unauthorized", "unauthorized");
		return -1;
	}
	return 0;
}

static void
vote_from_event(struct vote *v, const struct event *ev,
    const struct config *cfg)
{
	*v = ev->vote;
	v->mode = VOTE_POST;
	(void)snprintf(v->key, sizeof(v->key), "post:%s", ev->vote.heart_id);
	v->reward = reward_for(cfg, ev->vote.streak_day);
}

/* claim -> intent -> grant -> record, once per vote key (pay.h). */
static void
pay_vote(struct request *rq)
{
	struct payer *p = &rq->payer;
	const struct pay_answer *a;

	p->cfg = &rq->srv->cfg;
	p->ledger = &rq->srv->ledger;
	p->log = &rq->log;
	a = pay_answer(pay_delivery(p, &rq->vote));
	finish(rq, a->status, a->outcome, a->body);
}

static void
handle_post(struct request *rq)
{
	struct event ev;
	char why[200];
	size_t len;

	rq->log.mode = "post";
	if (read_body(rq, &len) == -1)
		return;
	if (verify_post(rq, len) == -1) {
		/* The one reading of unverified bytes, for the log alone. */
		event_claims(rq->srv->body, len, &rq->claims);
		rq->log.claimed = &rq->claims;
		return;
	}
	if (event_parse(rq->srv->body, len, &ev, why, sizeof(why)) == -1) {
		/* The fields read before the error (an authentic body). */
		rq->vote = ev.vote;
		log_vote(&rq->log, &rq->vote);
		fail(rq, 400, "bad_request", "bad request", why);
		return;
	}
	vote_from_event(&rq->vote, &ev, &rq->srv->cfg);
	log_vote(&rq->log, &rq->vote);
	if (ev.note[0] != '\0')
		log_reason(&rq->log, "%s", ev.note);
	if (strcmp(ev.vote.event, EVENT_TEST) == 0)
		finish(rq, 200, "test", "ok");
	else if (strcmp(ev.vote.event, EVENT_COUNTED) != 0)
		fail(rq, 200, "ignored", "ignored", "not a heart.counted "
		    "event: nothing to pay");
	else
		pay_vote(rq);
}

static void
vote_from_legacy(struct vote *v, const struct legacy_query *q,
    const struct config *cfg)
{
	memset(v, 0, sizeof(*v));
	v->mode = VOTE_LEGACY;
	/* legacy_name() held the name to EVENT_NAME_MAX bytes already. */
	(void)snprintf(v->key, sizeof(v->key), "legacy:%s:%.*s", q->ts_text,
	    EVENT_NAME_MAX, q->username);
	(void)snprintf(v->event, sizeof(v->event), "%s", EVENT_COUNTED);
	memcpy(v->username, q->username, q->username_len + 1);
	legacy_heart_id(q, v->heart_id, sizeof(v->heart_id));
	memcpy(v->timestamp, q->ts_text, sizeof(q->ts_text));
	v->first_heart = v->streak_milestone = v->account_linked =
	    FLAG_ABSENT;
	v->reward = cfg->reward_base;
}

static void
handle_legacy(struct request *rq)
{
	struct legacy_query q;
	const char *problem;
	char why[200];
	long long age;

	rq->log.mode = "legacy";
	switch (legacy_parse(rq->io->param(rq->io->ctx, "QUERY_STRING"), &q,
	    why, sizeof(why))) {
	case LEGACY_OK:
		break;
	case LEGACY_BAD_QUERY:
		fail(rq, 400, "bad_request", "bad request", why);
		return;
	default:
		fail(rq, 401, "unauthorized", "unauthorized", why);
		return;
	}
	if (legacy_check(&q, &rq->srv->secrets) != LEGACY_OK) {
		fail(rq, 401, "unauthorized", "unauthorized",
		    LEGACY_WHY_MISMATCH);
		return;
	}
	age = (long long)time(NULL) - q.ts;
	if (!signature_fresh(age, rq->srv->cfg.legacy_tolerance)) {
		log_reason(&rq->log, "ts %lld s %s, beyond legacy_tolerance "
		    "%ld s", age < 0 ? -age : age, age < 0 ? "in the future" :
		    "old", rq->srv->cfg.legacy_tolerance);
		finish(rq, 401, "unauthorized", "unauthorized");
		return;
	}
	if ((problem = legacy_name(&q)) != NULL) {
		log_reason(&rq->log, "username %s", problem);
		finish(rq, 400, "bad_request", "bad request");
		return;
	}
	vote_from_legacy(&rq->vote, &q, &rq->srv->cfg);
	log_vote(&rq->log, &rq->vote);
	pay_vote(rq);
}

static void
dispatch(struct request *rq)
{
	struct server *srv = rq->srv;
	const char *method = rq->io->param(rq->io->ctx, "REQUEST_METHOD");

	rq->log.method = method;
	if (srv->broken) {
		fail_config(rq, srv->broken_why);
		return;
	}
	if (srv->as_root && !srv->cfg.allow_root) {
		fail_config(rq, "refusing to serve as root (uid 0): run under "
		    "an unprivileged user, or set allow_root = yes");
		return;
	}
	if (method != NULL && strcmp(method, "POST") == 0)
		handle_post(rq);
	else if (method != NULL && strcmp(method, "GET") == 0 &&
	    srv->cfg.legacy)
		handle_legacy(rq);
	else {
		rq->allow = srv->cfg.legacy ? "GET, POST" : "POST";
		log_reason(&rq->log, "method %.16s not allowed",
		    method != NULL ? method : "(none)");
		finish(rq, 405, "method_not_allowed", "method not allowed");
	}
}

void
request_handle(struct server *srv, const struct request_io *io)
{
	struct request rq;

	memset(&rq, 0, sizeof(rq));
	rq.srv = srv;
	rq.io = io;
	rq.started_ms = monotonic_ms();
	rq.log.mode = "";
	rq.log.remote = io->param(io->ctx, "REMOTE_ADDR");
	dispatch(&rq);
	drain_body(&rq);

	if (response_send(io, rq.status, rq.allow, rq.answer) == -1)
		log_reason(&rq.log, "the web server did not take the answer");
	rq.log.status = rq.status;
	rq.log.duration_ms = monotonic_ms() - rq.started_ms;
	if (log_write(&srv->log, &rq.log) == -1) {
		struct log_sink stderr_sink;

		log_open(&stderr_sink, NULL);
		(void)log_write(&stderr_sink, &rq.log);
	}
}

void
server_init(struct server *srv)
{
	char why[sizeof(srv->broken_why)];
	int rc;

	srv->broken = false;
	srv->ledger.dirfd = -1;
	srv->as_root = geteuid() == 0;
	rc = config_load(&srv->cfg, why, sizeof(why));
	/* Even a configuration that failed may say where the log is. */
	log_open(&srv->log, srv->cfg.log);
	if (rc == -1 || secret_load(&srv->secrets, srv->cfg.secret_file, why,
	    sizeof(why)) == -1)
		goto broken;
	if (srv->cfg.grant[0] == '\0') {
		(void)snprintf(why, sizeof(why), "%s", SERVER_NO_GRANT);
		goto broken;
	}
	if (ledger_open(&srv->ledger, srv->cfg.state_dir, why, sizeof(why)) ==
	    -1)
		goto broken;
	return;
broken:
	srv->broken = true;
	memcpy(srv->broken_why, why, sizeof(why));
}

bool
server_may_grant(const struct server *srv)
{
	return !srv->broken && (!srv->as_root || srv->cfg.allow_root);
}

void
server_free(struct server *srv)
{
	secret_wipe(&srv->secrets);
	ledger_close(&srv->ledger);
	log_close(&srv->log);
}
