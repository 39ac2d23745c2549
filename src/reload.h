/*
 * reload: a long-lived worker follows edits of its configuration and
 * secret file, without a restart.
 *
 * Promises: server_refresh() looks at most once a second, with one
 * stat(2) of each file, and reads them only when one changed (another
 * inode, size or time; or a change so recent that the next could keep
 * the same times).  The new configuration and secrets are read aside
 * and swapped in only whole and usable; otherwise the server keeps
 * what it had.  Each outcome is logged once per change, never per
 * request: "reloaded" when what is in use changed, "reload_refused"
 * with the reason (the secrets and configuration in use stay).  The
 * old secrets are wiped after the swap; no secret byte is logged.  The
 * body buffer and the ledger's descriptors stay; the ledger and the log
 * are reopened only when state_dir or log changed.  Secrets from
 * MMOLOVE_CALLBACK_SECRET are kept: the environment was scrubbed.
 */
#ifndef MMOLOVE_RELOAD_H
#define MMOLOVE_RELOAD_H

#include <stdbool.h>

#include "config.h"
#include "sys.h"

/* What the last look saw.  Zero it before the first. */
struct reload_watch {
	bool		 started;
	bool		 racy;		/* seen too soon after a change */
	bool		 failed;	/* the last reload was refused */
	long long	 checked_ms;
	struct file_id	 cfg;
	struct file_id	 secret;
	char		 secret_path[CONFIG_PATH_MAX];
};

struct server;

/* Call before each request (and each idle moment) of a long-lived loop. */
void	server_refresh(struct server *srv);

#endif
