#include <stdio.h>
#include <string.h>

#include "ledger.h"
#include "log.h"
#include "reload.h"
#include "request.h"
#include "secret.h"

/* At most one look a second, like the log's reopen (log.c). */
#define REFRESH_MS	1000

/* What a reload reads, aside, before any of it is put in use. */
struct next {
	struct config	 cfg;
	struct secret_set secrets;
	struct ledger	 ledger;
	bool		 new_ledger;
	bool		 secret_seen;	/* secret_id is of cfg.secret_file */
	struct file_id	 secret_id;
};

static void
entry(struct log_entry *e, const char *outcome)
{
	memset(e, 0, sizeof(*e));
	e->mode = "";
	e->method = "reload";
	e->outcome = outcome;
}

static int
load_secrets(struct server *srv, struct next *n, char *err, size_t errlen)
{
	/* The environment was scrubbed when it was read: keep those. */
	if (srv->secrets.from_env)
		return 0;
	/* Looked at before it is read: a later change is seen next time. */
	file_id_of(n->cfg.secret_file, &n->secret_id);
	n->secret_seen = true;
	return secret_load(&n->secrets, n->cfg.secret_file, err, errlen);
}

/* The whole new state, or -1 and why; nothing of srv changes. */
static int
load_next(struct server *srv, struct next *n, char *err, size_t errlen)
{
	if (config_load(&n->cfg, err, errlen) == -1)
		return -1;
	if (n->cfg.grant[0] == '\0') {
		(void)snprintf(err, errlen, "%s", SERVER_NO_GRANT);
		return -1;
	}
	if (load_secrets(srv, n, err, errlen) == -1)
		return -1;
	if (srv->ledger.dirfd != -1 &&
	    strcmp(n->cfg.state_dir, srv->cfg.state_dir) == 0)
		return 0;
	if (ledger_open(&n->ledger, n->cfg.state_dir, err, errlen) == -1)
		return -1;
	n->new_ledger = true;
	return 0;
}

/* What the swap will change, in words, into e's reason. */
static void
describe(const struct server *srv, const struct next *n,
    struct log_entry *e)
{
	if (memcmp(&srv->cfg, &n->cfg, sizeof(n->cfg)) != 0)
		log_reason(e, "new configuration in use (%s)", n->cfg.path);
	if (!srv->secrets.from_env &&
	    !secret_same(&srv->secrets, &n->secrets))
		log_reason(e, "new secrets in use: %zu accepted from %s",
		    n->secrets.count, n->cfg.secret_file);
	if (strcmp(srv->cfg.state_dir, n->cfg.state_dir) != 0)
		log_reason(e, "state_dir is now %s", n->cfg.state_dir);
}

static void
swap_in(struct server *srv, struct next *n)
{
	bool log_moved = strcmp(srv->cfg.log, n->cfg.log) != 0;

	memcpy(&srv->cfg, &n->cfg, sizeof(srv->cfg));
	if (!srv->secrets.from_env) {
		secret_wipe(&srv->secrets);
		memcpy(&srv->secrets, &n->secrets, sizeof(srv->secrets));
	}
	if (n->new_ledger) {
		n->ledger.seq = srv->ledger.seq;
		/* Never opened (a broken start): its fds are not ours. */
		if (srv->ledger.dirfd != -1)
			ledger_close(&srv->ledger);
		memcpy(&srv->ledger, &n->ledger, sizeof(srv->ledger));
	}
	if (log_moved) {
		log_close(&srv->log);
		log_open(&srv->log, srv->cfg.log);
	}
	srv->broken = false;
}

static void
accept_next(struct server *srv, struct next *n)
{
	bool recovered = srv->watch.failed || srv->broken;
	struct log_entry e;

	entry(&e, "reloaded");
	describe(srv, n, &e);
	if (strcmp(srv->cfg.log, n->cfg.log) != 0)
		log_reason(&e, "the log moves to %s", n->cfg.log[0] != '\0' ?
		    n->cfg.log : "standard error");
	if (e.reason[0] == '\0' && recovered)
		log_reason(&e, "configuration and secrets usable again");
	/* A move is said in both logs. */
	if (e.reason[0] != '\0' && strcmp(srv->cfg.log, n->cfg.log) != 0)
		log_write_or_stderr(&srv->log, &e);
	swap_in(srv, n);
	srv->watch.failed = false;
	if (e.reason[0] != '\0')
		log_write_or_stderr(&srv->log, &e);
}

/*
 * Said once per change: not again for the same files, nor at the first
 * look of a server that could not start (its 500s say why).
 */
static void
refuse(struct server *srv, const char *why, bool same, bool first)
{
	bool quiet = (same && srv->watch.failed) || (first && srv->broken);
	struct log_entry e;

	srv->watch.failed = true;
	if (srv->broken)
		(void)snprintf(srv->broken_why, sizeof(srv->broken_why), "%s",
		    why);
	if (quiet)
		return;
	entry(&e, "reload_refused");
	log_reason(&e, "%s: %s", why, srv->broken ? "every delivery answers "
	    "500 until this is fixed" : "still using the configuration and "
	    "secrets read before");
	log_write_or_stderr(&srv->log, &e);
}

static void
reload(struct server *srv, bool same, bool first)
{
	struct reload_watch *w = &srv->watch;
	char why[LOG_REASON_MAX - 96];
	struct next n;

	memset(&n, 0, sizeof(n));
	if (load_next(srv, &n, why, sizeof(why)) == -1) {
		refuse(srv, why, same, first);
		/* Read from the environment, which is scrubbed now: kept. */
		if (n.secrets.from_env)
			memcpy(&srv->secrets, &n.secrets, sizeof(srv->secrets));
	} else
		accept_next(srv, &n);
	/* Watch the secret file the configuration read now names. */
	if (n.secret_seen) {
		(void)snprintf(w->secret_path, sizeof(w->secret_path), "%s",
		    n.cfg.secret_file);
		w->secret = n.secret_id;
		w->racy = w->racy || file_id_recent(&n.secret_id);
	}
	secret_wipe(&n.secrets);
}

/* Looks at both files; true if they must be read again. */
static bool
changed(struct server *srv, bool *same)
{
	struct reload_watch *w = &srv->watch;
	struct file_id cfg, secret;

	memset(&secret, 0, sizeof(secret));
	file_id_of(srv->cfg.path, &cfg);
	if (!srv->secrets.from_env)
		file_id_of(w->secret_path, &secret);
	*same = w->started && file_id_same(&cfg, &w->cfg) &&
	    file_id_same(&secret, &w->secret);
	if (*same && !w->racy)
		return false;
	w->cfg = cfg;
	w->secret = secret;
	w->racy = file_id_recent(&cfg) || file_id_recent(&secret);
	return true;
}

/*
 * The first look reads both files again, as a change since the start
 * would otherwise go unseen; a reload that changes nothing says nothing.
 */
void
server_refresh(struct server *srv)
{
	struct reload_watch *w = &srv->watch;
	bool first = !w->started, same;
	long long now = monotonic_ms();

	if (!first && now - w->checked_ms < REFRESH_MS)
		return;
	w->checked_ms = now;
	if (first)
		(void)snprintf(w->secret_path, sizeof(w->secret_path), "%s",
		    srv->cfg.secret_file);
	if (!changed(srv, &same))
		return;
	w->started = true;
	reload(srv, same, first);
}
