#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "event.h"
#include "log.h"
#include "utc.h"
#include "sys.h"
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
	long long secs;
	int y, m, d;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	secs = (long long)ts.tv_sec;
	utc_civil(secs / 86400, &y, &m, &d);
	secs %= 86400;
	raw(l, "{\"time\":\"%04d-%02d-%02dT%02lld:%02lld:%02lld.%03ldZ\"", y, m,
	    d, secs / 3600, secs / 60 % 60, secs % 60, ts.tv_nsec / 1000000);
}

/* What an unverified body said it was: never the vote's own fields. */
static void
claims(struct line *l, const struct event_claims *c)
{
	raw(l, ",\"claimed\":{\"verified\":false");
	if (l->full)
		return;
	text(l, "event", c->event);
	text(l, "heart_id", c->heart_id);
	text(l, "username", c->username);
	close_with(l, "}");	/* even when the line filled up inside */
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
	if (e->signed_t != 0)
		raw(l, ",\"t\":%lld", e->signed_t);
	if (e->claimed != NULL)
		claims(l, e->claimed);
	close_with(l, "}\n");
}

/* Whether a regular file ends mid-line: a fragment of a short write. */
static bool
ends_mid_line(int fd, const struct stat *st)
{
	char last;

	return S_ISREG(st->st_mode) && st->st_size > 0 &&
	    pread(fd, &last, 1, st->st_size - 1) == 1 && last != '\n';
}

/*
 * A line is whole, or a fragment that stands alone.  On a full disk a
 * write can end short, leaving part of a line with no newline, and the
 * next line appended, by any process, would be glued to it: two records
 * lost in one unparseable line.  So a line written to a file that ends
 * mid-line starts with a newline: the fragment stays one bad line of
 * its own and every later line parses.  Every writer holds an exclusive
 * flock(2) on the file from that check to the end of its line, so no
 * other process's fragment can land in between, and the rest of a short
 * write may be retried without interleaving.  Truncating the fragment
 * away instead would be unsound: another process may have appended its
 * line after it, and ftruncate(2) to our size before the write would
 * cut that line.  Without the lock (flock refused), the check still
 * runs: only a fragment made in that instant could be glued.  A file
 * we may append to but not read (sink_fd) goes unchecked.
 */
static int
write_line(int fd, const struct line *l)
{
	struct stat st;
	int locked, rc = 0;

	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))
		return write_all(fd, l->buf, l->used);
	while ((locked = flock(fd, LOCK_EX)) == -1 && errno == EINTR)
		;
	if (locked == 0 && fstat(fd, &st) == -1)
		rc = -1;
	if (rc == 0 && ends_mid_line(fd, &st))
		rc = write_all(fd, "\n", 1);
	if (rc == 0)
		rc = write_all(fd, l->buf, l->used);
	if (locked == 0)
		(void)flock(fd, LOCK_UN);
	return rc;
}

#define REOPEN_MS	1000
#define LOG_OPEN_FLAGS	(O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY)

void
log_open(struct log_sink *sink, const char *path)
{
	sink->path = path != NULL && *path != '\0' ? path : NULL;
	sink->fd = -1;
	sink->opened_ms = 0;
}

void
log_close(struct log_sink *sink)
{
	if (sink->fd != -1)
		(void)close(sink->fd);
	sink->fd = -1;
}

static int
sink_fd(struct log_sink *sink)
{
	long long now;

	if (sink->path == NULL)
		return STDERR_FILENO;
	now = monotonic_ms();
	if (sink->fd != -1 && now - sink->opened_ms < REOPEN_MS)
		return sink->fd;
	log_close(sink);
	/* Read access only to see the last byte (write_line): if the file
	 * is ours to append to but not to read, lines go unchecked. */
	sink->fd = open(sink->path, O_RDWR | LOG_OPEN_FLAGS, 0640);
	if (sink->fd == -1 && errno == EACCES)
		sink->fd = open(sink->path, O_WRONLY | LOG_OPEN_FLAGS, 0640);
	sink->opened_ms = now;
	return sink->fd;
}

int
log_write(struct log_sink *sink, const struct log_entry *e)
{
	struct line l;
	int fd;

	l.used = 0;
	l.full = false;
	format(&l, e);
	if ((fd = sink_fd(sink)) == -1)
		return -1;
	return write_line(fd, &l);
}

void
log_write_or_stderr(struct log_sink *sink, const struct log_entry *e)
{
	struct log_sink fallback;

	if (log_write(sink, e) == 0)
		return;
	log_open(&fallback, NULL);
	(void)log_write(&fallback, e);
}

void
log_vote(struct log_entry *e, const struct vote *v)
{
	e->mode = vote_mode_name(v->mode);
	e->event = v->event;
	e->heart_id = v->heart_id;
	e->username = v->username;
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
