/*
 * log: the audit log, one JSON object per line per request.
 *
 * Promises: each line is built whole in a bounded buffer and written
 * with a single write(2) on an O_APPEND descriptor, so lines from
 * concurrent requests never interleave.  Every string is JSON-escaped;
 * grant output is kept up to a bound.  Nothing that reaches this module
 * holds a secret or a signature: callers pass only the fields below.
 */
#ifndef MMOLOVE_LOG_H
#define MMOLOVE_LOG_H

#include <stdbool.h>
#include <stddef.h>

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
};

/*
 * Appends the entry to path (stderr if path is empty).  Returns 0, or
 * -1 if the line could not be written whole.
 */
int	log_write(const char *path, const struct log_entry *e);

/* printf-style into e->reason, appending after what is there. */
void	log_reason(struct log_entry *e, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

#endif
