/*
 * explain: what the end of the audit log says went wrong lately, in
 * words, for --check.
 *
 * Promises: reads at most EXPLAIN_TAIL bytes from the end of the log
 * file, with one pread(2) into a buffer on the stack, never the whole
 * file; whole lines only, newest first, back to EXPLAIN_RECENT_S
 * seconds before now.  A line that is not a JSON object, or lacks the
 * log's fields, is skipped and counted.  Each failure falls in one cause
 * of a single table (explain.c), which says how to recognise it, what
 * tells one case of it from another (a configuration reason, a grant's
 * exit), and the likely fix in words; failures are grouped by cause and
 * case with their count and newest time.  A cause that a newer line
 * shows cured (a delivery verified after the 401s, a vote paid after
 * the grant failures) is not reported.  Nothing allocates; nothing is
 * printed when all is well.
 */
#ifndef MMOLOVE_EXPLAIN_H
#define MMOLOVE_EXPLAIN_H

#include <stdbool.h>
#include <stddef.h>

#include "log.h"

#define EXPLAIN_TAIL		65536
#define EXPLAIN_RECENT_S	(7 * 86400)
#define EXPLAIN_GROUPS		8
#define EXPLAIN_DETAIL		240
#define EXPLAIN_TIME		32	/* the log's time text */

enum explain_cause {
	CAUSE_NONE = -1,
	CAUSE_SECRET,		/* 401: v1 matches no configured secret */
	CAUSE_CLOCK,		/* 401: authentic, but t beyond tolerance */
	CAUSE_HEADER,		/* 401: no, or a garbled, signature header */
	CAUSE_CONFIG,		/* 500: the configuration is unusable */
	CAUSE_LEDGER,		/* 500: the ledger could not be written or read */
	CAUSE_GRANT,		/* 502/504: the grant failed, was killed, or timed out */
	CAUSE_RELOAD,		/* a FastCGI worker refused an edited file */
	CAUSE_COUNT
};

/* The fields of a log line the table reads. */
struct explain_line {
	long long	 time;		/* unix seconds */
	char		 time_text[EXPLAIN_TIME];
	char		 method[16];
	char		 outcome[32];
	char		 event[32];	/* non-empty: the signature held */
	long long	 status;
	char		 reason[LOG_REASON_MAX];
	long long	 t;		/* a stale signature's t, or 0 */
	bool		 has_exit;	/* grant_exit was not null */
	long long	 grant_exit;
	long long	 grant_signal;
	char		 grant_output[EXPLAIN_DETAIL];
};

struct explain_group {
	enum explain_cause cause;
	unsigned	 count;
	char		 newest[EXPLAIN_TIME];
	char		 key[EXPLAIN_DETAIL];	/* what sets it apart */
	char		 detail[EXPLAIN_DETAIL];	/* from its newest line */
};

struct explain {
	struct explain_group groups[EXPLAIN_GROUPS];
	size_t		 count;		/* groups in use */
	unsigned	 lines;		/* whole lines read */
	unsigned	 garbage;	/* not log lines */
	unsigned	 ungrouped;	/* failures beyond EXPLAIN_GROUPS groups */
	bool		 cured[CAUSE_COUNT];
};

/* Reads one line (without its newline); 0, or -1 if not a log line. */
int	explain_parse(const char *s, size_t len, struct explain_line *l);

/* The cause of a line's failure, or CAUSE_NONE. */
enum explain_cause explain_classify(const struct explain_line *l);

/* Explains buf, whole lines oldest first, as of the unix time now. */
void	explain_text(struct explain *x, const char *buf, size_t len,
	    long long now);

/*
 * Explains the end of the log file at path.  Returns 0, or -1 with why
 * if it cannot be read (a missing file has nothing to explain: 0).
 */
int	explain_log(struct explain *x, const char *path, long long now,
	    char *why, size_t whylen);

/* The group's sentence, free of control characters, into out. */
void	explain_say(const struct explain_group *g, char *out, size_t cap);

#endif
