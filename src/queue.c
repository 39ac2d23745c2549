#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ledger.h"
#include "log.h"
#include "pay.h"
#include "queue.h"

struct drain {
	const struct config *cfg;
	struct ledger	 ledger;
	struct log_sink	 log;
	enum pay_how	 how;
	unsigned	 paid;
	unsigned	 refused;
	unsigned	 waiting;
	unsigned	 dead;
	unsigned	 errors;
};

static void
count(struct drain *d, enum pay_outcome o)
{
	switch (o) {
	case PAY_PAID:
		d->paid++;
		break;
	case PAY_REFUSED:
		d->refused++;
		break;
	case PAY_DEAD:
	case PAY_HELD:
		d->dead++;
		break;
	case PAY_CORRUPT:
	case PAY_LEDGER_ERROR:
	case PAY_GRANT_ERROR:
	case PAY_UNRECORDED:
		d->errors++;
		break;
	default:
		d->waiting++;
		break;
	}
}

static int
drain_one(void *arg, const char *name)
{
	struct drain *d = arg;
	struct log_entry e;
	struct payer p;
	enum pay_outcome o;

	memset(&e, 0, sizeof(e));
	memset(&p, 0, sizeof(p));
	p.cfg = d->cfg;
	p.ledger = &d->ledger;
	p.log = &e;
	o = pay_named(&p, name, d->how);
	count(d, o);
	/* A vote that was not due, or not queued after all, is not news. */
	if (o == PAY_WAITING || o == PAY_NOT_FOUND || o == PAY_BUSY)
		return 0;
	pay_log(&p, o, "drain");
	(void)log_write(&d->log, &e);
	return 0;
}

int
queue_drain(const struct config *cfg, bool now)
{
	struct drain d;
	char why[320];

	if (geteuid() == 0 && !cfg->allow_root) {
		(void)fprintf(stderr, "mmolove.cgi: refusing to run grants as "
		    "root: run --drain as the web server's user, or set "
		    "allow_root = yes\n");
		return 1;
	}
	memset(&d, 0, sizeof(d));
	d.cfg = cfg;
	d.how = now ? PAY_DRAIN_NOW : PAY_DRAIN;
	if (ledger_open(&d.ledger, cfg->state_dir, why, sizeof(why)) == -1) {
		(void)fprintf(stderr, "mmolove.cgi: %s\n", why);
		return 1;
	}
	log_open(&d.log, cfg->log);
	if (ledger_each(&d.ledger, true, drain_one, &d, why, sizeof(why)) ==
	    -1) {
		(void)fprintf(stderr, "mmolove.cgi: %s\n", why);
		d.errors++;
	}
	log_close(&d.log);
	ledger_close(&d.ledger);
	(void)printf("drained: %u paid, %u refused, %u still queued, %u dead "
	    "or unknown%s\n", d.paid, d.refused, d.waiting, d.dead,
	    d.errors ? ", with errors (see the log)" : "");
	return d.errors ? 1 : 0;
}
