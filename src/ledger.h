/*
 * ledger: what became of each vote, under state_dir.
 *
 * Promises: one file per vote, votes/<hex SHA-256 of the vote key>, so
 * no byte of a heart_id or username ever forms a path, and finding a
 * vote costs one directory lookup however many there are.  A record is
 * exactly LEDGER_RECORD_SIZE bytes of key=value text behind a SHA-256
 * checksum line, padded with NULs; it is created whole (written and
 * fsynced under a temporary name, then renamed into place without
 * replacing anything, then the directory fsynced) and afterwards only
 * overwritten whole by one pwrite(2) of the same size and fdatasync(2),
 * so a killed process leaves the old or the new record and an update
 * never needs a new block: the first record reserved all the space the
 * last one needs.  A record that is short, long, torn, fails its
 * checksum, is not a regular file, or has another link (symbolic or
 * hard) is LEDGER_CORRUPT, never "not there".  A vote is claimed by an
 * exclusive flock(2) on its file; a new vote is claimed by creating it.
 * Queued votes also have an empty marker in queue/, written before the
 * record says queued and removed after it says otherwise, so --drain
 * reads only what is queued.
 */
#ifndef MMOLOVE_LEDGER_H
#define MMOLOVE_LEDGER_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "digest.h"
#include "grant.h"
#include "vote.h"

#define LEDGER_RECORD_SIZE	4096

enum vote_state {
	STATE_NONE,		/* no record: never claimed */
	STATE_PENDING,		/* an attempt in progress (its grant's group) */
	STATE_FAILED,		/* the last sync attempt exited non-zero */
	STATE_PAID,
	STATE_REFUSED,		/* grant exit 65: never again */
	STATE_QUEUED,		/* queue mode: waiting, or backing off */
	STATE_DEAD,		/* queued past queue_max_age */
	STATE_UNKNOWN		/* the grant may have acted; result not known */
};

struct ledger_record {
	enum vote_state	 state;
	long long	 time;		/* of the last change */
	long long	 attempts;	/* grants started */
	long long	 queued_at;	/* queue: queued or last replayed */
	long long	 next;		/* queue: next try due */
	long long	 unknown_at;	/* an attempt's outcome last unknown */
	struct grant_group group;	/* pending: its grant */
	struct vote	 vote;
};

struct ledger {
	int		 dirfd;		/* state_dir/votes */
	int		 queuefd;	/* state_dir/queue */
	unsigned	 seq;		/* names this process's new files */
	char		 votes[CONFIG_PATH_MAX + 8];	/* for messages */
};

struct claim {
	int		 fd;		/* -1: a new vote, not yet created */
	char		 name[DIGEST_HEX_LEN + 1];
};

enum ledger_status {
	LEDGER_OK,
	LEDGER_NEW,		/* claim: no record yet */
	LEDGER_BUSY,		/* claim: another process held it past the wait */
	LEDGER_RACE,		/* write: another process created it first */
	LEDGER_CORRUPT,		/* claim: the record cannot be trusted */
	LEDGER_ERROR		/* a system call failed */
};

/* Opens (creating if needed) state_dir, votes/ and queue/. */
int	ledger_open(struct ledger *l, const char *state_dir, char *err,
	    size_t errlen);
void	ledger_close(struct ledger *l);

/* The file name of a vote key. */
void	ledger_name(const char *key, char name[DIGEST_HEX_LEN + 1]);

/*
 * Locks the vote's file, waiting at most wait_ms for another holder, and
 * reads it into rec.  LEDGER_NEW holds nothing: the first ledger_write()
 * creates the file, and LEDGER_RACE there means another process did.
 * LEDGER_CORRUPT and LEDGER_ERROR say why in err, naming the file.
 */
enum ledger_status ledger_claim(struct ledger *l, const char *name,
	    long wait_ms, struct claim *c, struct ledger_record *rec,
	    char *err, size_t errlen);

/* Replaces (or creates) the record durably; LEDGER_OK, _RACE or _ERROR. */
enum ledger_status ledger_write(struct ledger *l, struct claim *c,
	    const struct ledger_record *rec, char *err, size_t errlen);

/*
 * Best effort after a write that failed before its grant started: puts
 * back the record that was there, or removes the one this claim created.
 */
void	ledger_undo(struct ledger *l, struct claim *c,
	    const struct ledger_record *before);

/* The queue marker: durable when queue_mark() returns 0. */
int	ledger_queue_mark(struct ledger *l, const char *name, char *err,
	    size_t errlen);
void	ledger_queue_unmark(struct ledger *l, const char *name);

/*
 * A marker whose vote has no record: a first delivery is between its
 * marker and its record (no lock holds that moment), or died there.
 * Removed only once older than the given unix time.
 */
void	ledger_queue_unmark_stale(struct ledger *l, const char *name,
	    long long before);

/*
 * Whether a new record could be written now: a record's worth of bytes
 * written and fsynced under a temporary name, then removed.  0, or -1
 * with err saying why (a full disk, a read-only file system).
 */
int	ledger_probe(struct ledger *l, char *err, size_t errlen);

/* Removes the temporary files of processes killed while creating a
 * record that are older than the given unix time; returns how many. */
unsigned ledger_sweep(struct ledger *l, long long before);

/* Removes a settled vote's file while its claim is held. */
int	ledger_remove(struct ledger *l, struct claim *c);

void	ledger_release(struct claim *c);

/*
 * Calls fn for every vote file name in votes/ (queue_only: in queue/),
 * in directory order; stops early when fn returns non-zero.  Returns 0,
 * or -1 with err set if the directory cannot be read.
 */
int	ledger_each(struct ledger *l, bool queue_only,
	    int (*fn)(void *arg, const char *name), void *arg, char *err,
	    size_t errlen);

/* Reads a record without locking it (owner listings); a ledger_status. */
enum ledger_status ledger_peek(struct ledger *l, const char *name,
	    struct ledger_record *rec, char *err, size_t errlen);

const char *ledger_state_name(enum vote_state state);
/* STATE_* for a name, or -1. */
int	ledger_state_parse(const char *name);

#endif
