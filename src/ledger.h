/*
 * ledger: which votes are paid, under state_dir/votes.
 *
 * Promises: one file per vote, named by the hex SHA-256 of the vote key,
 * so no byte of a heart_id or username ever forms a path.  A vote is
 * claimed by an exclusive flock(2) on its file, so whatever the number
 * of processes or FastCGI workers, one at a time decides and pays it.  A
 * record is written whole, then the file and the directory are fsynced
 * before ledger_write() returns: a 200 never precedes a durable record.
 * A record torn by a crash lacks its closing line and reads as unpaid.
 */
#ifndef MMOLOVE_LEDGER_H
#define MMOLOVE_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "digest.h"
#include "vote.h"

enum vote_state {
	STATE_NONE,		/* never paid (or a torn record) */
	STATE_PAID,
	STATE_REFUSED,		/* grant exit 65: never again */
	STATE_QUEUED		/* queue mode: waiting for --drain */
};

struct ledger {
	int		 dirfd;		/* state_dir/votes */
};

struct ledger_record {
	enum vote_state	 state;
	time_t		 time;		/* of the last change */
	unsigned	 attempts;	/* queue mode: grants tried */
	time_t		 next;		/* queue mode: next try due */
	struct vote	 vote;
};

struct claim {
	int		 fd;
	bool		 dir_synced;	/* the directory fsynced since the claim */
	char		 name[DIGEST_HEX_LEN + 1];
};

enum claim_result {
	CLAIM_HELD,
	CLAIM_BUSY,		/* another process held it past the wait */
	CLAIM_ERROR
};

/* Opens (creating if needed) state_dir and state_dir/votes. */
int	ledger_open(struct ledger *l, const char *state_dir, char *err,
	    size_t errlen);
void	ledger_close(struct ledger *l);

/* The file name of a vote key. */
void	ledger_name(const char *key, char name[DIGEST_HEX_LEN + 1]);

/*
 * Locks the vote's file, waiting at most wait_ms for another holder;
 * wait_ms 0 never waits.  On CLAIM_HELD, rec holds what was recorded.
 */
enum claim_result ledger_claim(struct ledger *l, const char *name,
	    long wait_ms, struct claim *c, struct ledger_record *rec,
	    char *err, size_t errlen);

/*
 * Makes the vote file's directory entry durable now, so that
 * ledger_write() need only fsync the file: done while a grant runs, the
 * directory's fsync costs no time.  Returns 0 or -1.
 */
int	ledger_sync_dir(struct ledger *l, struct claim *c);

/* Replaces the record durably (file and, unless synced, directory). */
int	ledger_write(struct ledger *l, struct claim *c,
	    const struct ledger_record *rec, char *err, size_t errlen);

void	ledger_release(struct claim *c);

const char *ledger_state_name(enum vote_state state);

#endif
