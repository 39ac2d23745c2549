#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "text.h"

struct line {
	char		 buf[LOG_LINE_MAX];
	size_t		 used;
	bool		 full;
};

static void
raw(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Room kept at the end for closing a string and the object. */
#define RESERVE	16

static void
raw(struct line *l, const char *fmt, ...)
{
	size_t cap = sizeof(l->buf) - RESERVE;
	va_list ap;
	int n;

	if (l->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(l->buf + l->used, cap - l->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap - l->used) {
		l->buf[l->used] = '\0';
		l->full = true;
	} else
		l->used += (size_t)n;
}

/* Appends bytes from the reserve; only for closing what was opened. */
static void
close_with(struct line *l, const char *s)
{
	size_t n = strlen(s);

	memcpy(l->buf + l->used, s, n);
	l->used += n;
}

static void
string(struct line *l, const char *key, const char *s, size_t len)
{
	raw(l, ",\"%s\":\"", key);
	if (l->full)
		return;
	if (!json_escape_append(l->buf, sizeof(l->buf) - RESERVE, &l->used,
	    (const unsigned char *)s, len))
		l->full = true;
	close_with(l, l->full ? "...\"" : "\"");
}

static void
text(struct line *l, const char *key, const char *s)
{
	if (s == NULL)
		s = "";
	string(l, key, s, strlen(s));
}

static void
timestamp(struct line *l)
{
	struct timespec ts;
	struct tm tm;
	char when[32];

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	if (gmtime_r(&ts.tv_sec, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		(void)snprintf(when, sizeof(when), "%lld",
		    (long long)ts.tv_sec);
	raw(l, "{\"time\":\"%s.%03ldZ\"", when, ts.tv_nsec / 1000000);
}

static void
format(struct line *l, const struct log_entry *e)
{
	timestamp(l);
	text(l, "mode", e->mode);
	text(l, "method", e->method);
	text(l, "event", e->event);
	text(l, "heart_id", e->heart_id);
	text(l, "username", e->username);
	text(l, "outcome", e->outcome);
	raw(l, ",\"status\":%d,\"reward\":%ld", e->status, e->reward);
	text(l, "remote", e->remote);
	raw(l, ",\"duration_ms\":%lld", e->duration_ms);
	text(l, "reason", e->reason);
	if (e->ran_grant && e->grant_exit >= 0)
		raw(l, ",\"grant_exit\":%d", e->grant_exit);
	else
		raw(l, ",\"grant_exit\":null");
	if (e->ran_grant && e->grant_signal != 0)
		raw(l, ",\"grant_signal\":%d", e->grant_signal);
	if (e->grant_output != NULL)
		string(l, "grant_output", e->grant_output,
		    e->grant_output_len);
	else
		text(l, "grant_output", "");
	close_with(l, "}\n");
}

static int
write_line(int fd, const struct line *l)
{
	ssize_t n;

	while ((n = write(fd, l->buf, l->used)) == -1 && errno == EINTR)
		;
	return n == (ssize_t)l->used ? 0 : -1;
}

int
log_write(const char *path, const struct log_entry *e)
{
	struct line l;
	int fd, rc;

	l.used = 0;
	l.full = false;
	format(&l, e);
	if (path == NULL || *path == '\0')
		return write_line(STDERR_FILENO, &l);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
	    0640);
	if (fd == -1)
		return -1;
	rc = write_line(fd, &l);
	if (close(fd) == -1)
		rc = -1;
	return rc;
}

void
log_reason(struct log_entry *e, const char *fmt, ...)
{
	size_t used = strlen(e->reason);
	va_list ap;

	if (used > 0 && used + 2 < sizeof(e->reason)) {
		memcpy(e->reason + used, "; ", 3);
		used += 2;
	}
	va_start(ap, fmt);
	(void)vsnprintf(e->reason + used, sizeof(e->reason) - used, fmt, ap);
	va_end(ap);
}
