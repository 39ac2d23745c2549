#include <stdio.h>
#include <string.h>

#include "utc.h"

void
utc_civil(long long days, int *y, int *m, int *d)
{
	long long era, doe, yoe, doy, mp;

	days += 719468;
	era = (days >= 0 ? days : days - 146096) / 146097;
	doe = days - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

long long
utc_days(int y, int m, int d)
{
	long long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void
utc_iso(long long t, char *buf, size_t cap)
{
	long long secs = t % 86400, days = t / 86400;
	int y, m, d;

	if (secs < 0) {
		secs += 86400;
		days--;
	}
	utc_civil(days, &y, &m, &d);
	(void)snprintf(buf, cap, "%04d-%02d-%02dT%02lld:%02lld:%02lldZ", y, m,
	    d, secs / 3600, secs / 60 % 60, secs % 60);
}

static int
digits(const char *s, size_t n, int *out)
{
	size_t i;

	*out = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*out = *out * 10 + (s[i] - '0');
	}
	return 0;
}

int
utc_parse_date(const char *s, long long *t)
{
	size_t len = strlen(s);
	int y, m, d = 1;

	if ((len != 7 && len != 10) || s[4] != '-' ||
	    digits(s, 4, &y) == -1 || digits(s + 5, 2, &m) == -1 ||
	    m < 1 || m > 12)
		return -1;
	if (len == 10 && (s[7] != '-' || digits(s + 8, 2, &d) == -1 ||
	    d < 1 || d > 31))
		return -1;
	*t = utc_days(y, m, d) * 86400;
	return 0;
}
