/*
 * log: the audit log, one JSON object per line per request.
 *
 * Promises: each line is built whole in a bounded buffer and appended
 * to an O_APPEND descriptor under an exclusive flock(2) of the file, so
 * lines from concurrent requests never interleave.  A line a full disk
 * cut short leaves a fragment on a line of its own: the next line
 * written, by any process, starts on a fresh line, so a line is one
 * whole record or a fragment, never two records glued.  Every string is
 * JSON-escaped; grant output is kept up to a bound.  What a refused
 * body claimed is logged apart from the vote's fields, under "claimed",
 * each value bounded.  Nothing that reaches this module holds a secret
 * or a signature: callers pass only the fields below.
 */
#ifndef MMOLOVE_LOG_H
#define MMOLOVE_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include "vote.h"

struct event_claims;

#define LOG_LINE_MAX	8192
#define LOG_REASON_MAX	320

struct log_entry {
	const char	*mode;		/* "post", "legacy" or "" */
	const char	*method;
	const char	*event;
	const char	*heart_id;
	const char	*username;
	const char	*outcome;
	int		 status;
	long		 reward;
	const char	*remote;
	long long	 duration_ms;
	char		 reason[LOG_REASON_MAX];
	bool		 ran_grant;
	int		 grant_exit;	/* -1: killed by grant_signal */
	int		 grant_signal;
	const char	*grant_output;
	size_t		 grant_output_len;
	long long	 signed_t;	/* a stale signature's t; 0: none */
	const struct event_claims *claimed;	/* a 401's body, unverified */
};

/*
 * Where lines go: a file opened O_APPEND, kept open between lines but
 * reopened by path when a second has passed, so a FastCGI worker
 * follows logrotate within a second without an open(2) per request.
 */
struct log_sink {
	const char	*path;		/* NULL or empty: standard error */
	int		 fd;
	long long	 opened_ms;
};

void	log_open(struct log_sink *sink, const char *path);
void	log_close(struct log_sink *sink);

/* Appends the entry.  Returns 0, or -1 if not written whole. */
int	log_write(struct log_sink *sink, const struct log_entry *e);
/* log_write(), and on failure the same line to standard error. */
void	log_write_or_stderr(struct log_sink *sink,
	    const struct log_entry *e);

/* Points the entry's mode, event, heart_id and username at the vote's. */
void	log_vote(struct log_entry *e, const struct vote *v);

/* printf-style into e->reason, appending after what is there. */
void	log_reason(struct log_entry *e, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

#endif
