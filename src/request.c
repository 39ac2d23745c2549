#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "event.h"
#include "front.h"
#include "legacy.h"
#include "log.h"
#include "pay.h"
#include "request.h"
#include "sys.h"
#include "response.h"
#include "reward.h"
#include "signature.h"

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

/* A message no honest front sends. */
static void
fail_front(struct request *rq, const char *why)
{
	request_fail(rq, "sandbox: the front sent a malformed message (%s)",
	    why);
}

/* The front's verdict on the body, in the SPEC's words. */
static const struct {
	int		 status;
	const char	*outcome;
	const char	*answer;
} body_refusals[MSG_BODY_COUNT] = {
	[MSG_BODY_NO_LENGTH] = { 411, "length_required", "length required" },
	[MSG_BODY_BAD_LENGTH] = { 400, "bad_request", "bad request" },
	[MSG_BODY_TOO_LARGE] = { 413, "too_large", "payload too large" },
	[MSG_BODY_SHORT] = { 400, "bad_request", "bad request" },
};

static int
body_read(struct request *rq)
{
	const struct request_msg *m = rq->msg;

	/* A FastCGI front keeps the max_body it was forked with; a reload
	 * that lowered it takes effect here. */
	if (m->body == MSG_BODY_READ && m->body_len > rq->srv->cfg.max_body) {
		log_reason(&rq->log, "body of %zu bytes is over max_body %zu",
		    (size_t)m->body_len, rq->srv->cfg.max_body);
		finish(rq, 413, "too_large", "payload too large");
		return -1;
	}
	if (m->body == MSG_BODY_READ)
		return 0;
	fail(rq, body_refusals[m->body].status, body_refusals[m->body].outcome,
	    body_refusals[m->body].answer, m->why);
	return -1;
}

/*
 * The MACs are computed here, over the t and the body bytes that the
 * rest of the request then uses: the front only parsed the header.
 */
static int
verify_post(struct request *rq, size_t len)
{
	const struct request_msg *m = rq->msg;
	struct signature_header sig;
	long long age;

	switch (m->sig) {
	case SIGNATURE_MISSING:
		fail(rq, 401, "unauthorized", "unauthorized",
		    "no X-MMOLove-Signature header");
		return -1;
	case SIGNATURE_GARBLED:
		log_reason(&rq->log, "garbled X-MMOLove-Signature: %s", m->why);
		finish(rq, 401, "unauthorized", "unauthorized");
		return -1;
	default:
		break;
	}
	memset(&sig, 0, sizeof(sig));
	if (parse_unix_time(m->t_text, strlen(m->t_text), &sig.t) == -1 ||
	    m->v1_count == 0) {
		fail_front(rq, "a signature without t or v1");
		return -1;
	}
	if (signature_check_v1(m->t_text,
	    (const unsigned char (*)[DIGEST_LEN])m->v1, m->v1_count,
	    &rq->srv->secrets, rq->srv->body, len) != SIGNATURE_OK) {
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
	if (body_read(rq) == -1)
		return;
	len = rq->msg->body_len;
	if (verify_post(rq, len) == -1) {
		/* What the front read of the unverified body, for the log. */
		rq->log.claimed = &rq->msg->claims;
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

/* The query the front parsed, its ts read again from its text. */
static void
legacy_from_msg(struct legacy_query *q, const struct request_msg *m)
{
	memset(q, 0, sizeof(*q));
	memcpy(q->username, m->username, m->username_len + 1);
	q->username_len = m->username_len;
	memcpy(q->ts_text, m->ts_text, sizeof(q->ts_text));
	(void)parse_unix_time(q->ts_text, strlen(q->ts_text), &q->ts);
	q->has_sig = true;
	memcpy(q->sig, m->legacy_sig, sizeof(q->sig));
}

static void
handle_legacy(struct request *rq)
{
	struct legacy_query q;
	const char *problem;
	long long age;

	rq->log.mode = "legacy";
	switch (rq->msg->legacy) {
	case LEGACY_OK:
		break;
	case LEGACY_BAD_QUERY:
		fail(rq, 400, "bad_request", "bad request", rq->msg->why);
		return;
	default:
		fail(rq, 401, "unauthorized", "unauthorized", rq->msg->why);
		return;
	}
	legacy_from_msg(&q, rq->msg);
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
	const char *method = rq->log.method;

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
request_begin(struct request *rq, struct server *srv)
{
	memset(rq, 0, sizeof(*rq));
	rq->srv = srv;
	rq->started_ms = monotonic_ms();
	rq->log.mode = "";
}

void
request_decide(struct request *rq, struct request_msg *m)
{
	char why[64];

	rq->msg = m;
	if (message_check(m, CONFIG_MAX_BODY_LIMIT, why, sizeof(why)) == -1) {
		fail_front(rq, why);
		return;
	}
	rq->log.method = m->has_method ? m->method : NULL;
	rq->log.remote = m->has_remote ? m->remote : NULL;
	if (m->sandbox_failed)
		request_fail(rq, "sandbox could not be set up: %s", m->why);
	else
		dispatch(rq);
}

void
request_fail(struct request *rq, const char *fmt, ...)
{
	va_list ap;
	size_t n = strlen(rq->log.reason);

	va_start(ap, fmt);
	(void)vsnprintf(rq->log.reason + n, sizeof(rq->log.reason) - n, fmt,
	    ap);
	va_end(ap);
	finish(rq, 500, "sandbox_error", "server error");
}

void
request_answer(const struct request *rq, struct answer_msg *a)
{
	memset(a, 0, sizeof(*a));
	a->kind = ANSWER_RESPONSE;
	a->status = rq->status;
	message_copy(a->allow, sizeof(a->allow), rq->allow);
	message_copy(a->body, sizeof(a->body), rq->answer);
}

void
request_end(struct request *rq, bool answered)
{
	if (!answered)
		log_reason(&rq->log, "the web server did not take the answer");
	rq->log.status = rq->status;
	rq->log.duration_ms = monotonic_ms() - rq->started_ms;
	log_write_or_stderr(&rq->srv->log, &rq->log);
}

/* The answer in a's words; -1 if the web server did not take it. */
int
request_respond(const struct request_io *io, const struct answer_msg *a)
{
	return response_send(io, a->status, a->allow[0] != '\0' ? a->allow :
	    NULL, a->body);
}

void
request_handle(struct server *srv, const struct request_io *io)
{
	struct request rq;
	struct request_msg m;
	struct answer_msg a;

	request_begin(&rq, srv);
	front_gather(&srv->cfg, io, &m, srv->body);
	request_decide(&rq, &m);
	request_answer(&rq, &a);
	request_end(&rq, request_respond(io, &a) == 0);
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
