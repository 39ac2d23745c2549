/*
 * utc: calendar dates in UTC, computed rather than looked up.
 *
 * Promises: pure arithmetic (H. Hinnant's algorithms): glibc's
 * gmtime_r() reads /etc/localtime first, a file per request for nothing.
 */
#ifndef MMOLOVE_UTC_H
#define MMOLOVE_UTC_H

#include <stddef.h>

#define UTC_ISO_LEN	20	/* 2026-12-01T03:32:19Z */

/* Days since 1970-01-01 to a civil date, and back. */
void	utc_civil(long long days, int *y, int *m, int *d);
long long utc_days(int y, int m, int d);

/* t as ISO 8601 to the second, into buf of at least UTC_ISO_LEN + 1. */
void	utc_iso(long long t, char *buf, size_t cap);

/* "YYYY-MM-DD" (or "YYYY-MM", day 1) to its first second; 0 or -1. */
int	utc_parse_date(const char *s, long long *t);

#endif
