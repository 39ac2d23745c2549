#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* jsmn is header-only: this file holds its own static instance. */
#define JSMN_STATIC
#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#include "explain.h"
#include "json.h"
#include "legacy.h"
#include "signature.h"
#include "sys.h"
#include "text.h"
#include "utc.h"

#define LINE_TOKENS	64	/* a log line has about 45 */

/* ------------------------------------------------------ reading a line */

enum field_id {
	F_TIME, F_METHOD, F_OUTCOME, F_EVENT, F_REASON, F_OUTPUT,
	F_STATUS, F_T, F_EXIT, F_SIGNAL, F_COUNT
};

#define REQUIRED	(1u << F_TIME | 1u << F_OUTCOME | 1u << F_STATUS)

#define TEXT(k, m)	{ k, true, offsetof(struct explain_line, m), \
			  sizeof(((struct explain_line *)0)->m) }
#define NUMBER(k, m)	{ k, false, offsetof(struct explain_line, m), 0 }

static const struct field {
	const char	*key;
	bool		 text;		/* else a long long */
	size_t		 offset;
	size_t		 size;
} fields[F_COUNT] = {
	[F_TIME] = TEXT("time", time_text),
	[F_METHOD] = TEXT("method", method),
	[F_OUTCOME] = TEXT("outcome", outcome),
	[F_EVENT] = TEXT("event", event),
	[F_REASON] = TEXT("reason", reason),
	[F_OUTPUT] = TEXT("grant_output", grant_output),
	[F_STATUS] = NUMBER("status", status),
	[F_T] = NUMBER("t", t),
	[F_EXIT] = NUMBER("grant_exit", grant_exit),
	[F_SIGNAL] = NUMBER("grant_signal", grant_signal),
};

static int
field_index(const char *s, const jsmntok_t *key)
{
	size_t len = (size_t)(key->end - key->start);
	int i;

	for (i = 0; i < F_COUNT; i++)
		if (strlen(fields[i].key) == len &&
		    memcmp(fields[i].key, s + key->start, len) == 0)
			return i;
	return -1;
}

/* 0 when set, 1 for null (grant_exit of no grant), -1 when mistyped. */
static int
set_field(struct explain_line *l, const struct field *f, const char *s,
    const jsmntok_t *v)
{
	char *at = (char *)l + f->offset;
	size_t len = (size_t)(v->end - v->start);

	s += v->start;
	if (f->text) {
		if (v->type != JSMN_STRING)
			return -1;
		(void)json_unescape_prefix(s, len, at, f->size);
		return 0;
	}
	if (v->type != JSMN_PRIMITIVE)
		return -1;
	if (len == 4 && memcmp(s, "null", 4) == 0)
		return 1;
	return decimal_value(s, len, 18, (long long *)(void *)at);
}

static int
two_digits(const char *s, int max, int *out)
{
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return -1;
	*out = (s[0] - '0') * 10 + (s[1] - '0');
	return *out <= max ? 0 : -1;
}

/* The log's "2026-11-24T19:33:04.418Z" to unix seconds. */
static int
line_time(struct explain_line *l)
{
	const char *s = l->time_text;
	char date[11];
	long long day;
	int h, m, sec;

	if (strlen(s) < 20 || s[10] != 'T' || s[13] != ':' || s[16] != ':')
		return -1;
	memcpy(date, s, 10);
	date[10] = '\0';
	if (utc_parse_date(date, &day) == -1 || two_digits(s + 11, 23,
	    &h) == -1 || two_digits(s + 14, 59, &m) == -1 ||
	    two_digits(s + 17, 60, &sec) == -1)
		return -1;
	l->time = day + h * 3600 + m * 60 + sec;
	return 0;
}

int
explain_parse(const char *s, size_t len, struct explain_line *l)
{
	jsmntok_t tok[LINE_TOKENS];
	jsmn_parser p;
	const char *why;
	unsigned seen = 0;
	int n, i, f, rc;

	memset(l, 0, sizeof(*l));
	if (json_validate(s, len, &why) == -1)
		return -1;
	jsmn_init(&p);
	if ((n = jsmn_parse(&p, s, len, tok, LINE_TOKENS)) < 1)
		return -1;
	/* A key is a string whose parent is the outer object. */
	for (i = 1; i + 1 < n; i++) {
		if (tok[i].parent != 0 || (f = field_index(s, &tok[i])) == -1)
			continue;
		if ((rc = set_field(l, &fields[f], s, &tok[i + 1])) == -1)
			return -1;
		if (rc == 0)
			seen |= 1u << f;
	}
	l->has_exit = (seen & 1u << F_EXIT) != 0;
	return (seen & REQUIRED) == REQUIRED ? line_time(l) : -1;
}

/* -------------------------------------------------------------- causes */

static bool
mismatch(const struct explain_line *l)
{
	return l->status == 401 &&
	    (strcmp(l->reason, SIGNATURE_WHY_MISMATCH) == 0 ||
	    strcmp(l->reason, LEGACY_WHY_MISMATCH) == 0);
}

static bool
stale(const struct explain_line *l)
{
	return l->status == 401 && l->t != 0;
}

static bool
unauthorized(const struct explain_line *l)
{
	return l->status == 401;
}

static bool
unconfigured(const struct explain_line *l)
{
	return l->status == 500 && strcmp(l->outcome, "config_error") == 0;
}

static bool
server_error(const struct explain_line *l)
{
	return l->status == 500;
}

static bool
grant_failed(const struct explain_line *l)
{
	return l->status == 502 || l->status == 504;
}

/* A body whose signature held (only those lines name an event). */
static bool
verified(const struct explain_line *l)
{
	return l->event[0] != '\0';
}

static bool
reload_refused(const struct explain_line *l)
{
	return strcmp(l->outcome, "reload_refused") == 0;
}

static bool
reloaded(const struct explain_line *l)
{
	return strcmp(l->outcome, "reloaded") == 0;
}

/* A request served with a configuration, or a worker's good reload. */
static bool
configured(const struct explain_line *l)
{
	/* Other reload lines have status 0 and say nothing of that. */
	return (l->status != 0 && strcmp(l->outcome, "config_error") != 0) ||
	    reloaded(l);
}

static bool
recorded(const struct explain_line *l)
{
	return strcmp(l->outcome, "paid") == 0 ||
	    strcmp(l->outcome, "refused") == 0 ||
	    strcmp(l->outcome, "queued") == 0;
}

static bool
paid(const struct explain_line *l)
{
	return strcmp(l->outcome, "paid") == 0;
}

static void
no_text(const struct explain_line *l, char *out, size_t cap)
{
	(void)l;
	(void)snprintf(out, cap, "%s", "");
}

static void
reason_text(const struct explain_line *l, char *out, size_t cap)
{
	(void)snprintf(out, cap, "%s", l->reason);
}

static void
skew_text(const struct explain_line *l, char *out, size_t cap)
{
	long long skew = l->time - l->t;

	(void)snprintf(out, cap, "MMOLove's clock and this machine's differ "
	    "by %lld s (this machine's is %s)", skew < 0 ? -skew : skew,
	    skew < 0 ? "behind" : "ahead");
}

static void
grant_key(const struct explain_line *l, char *out, size_t cap)
{
	(void)snprintf(out, cap, "%s %d %lld %lld", l->outcome, l->has_exit,
	    l->grant_exit, l->grant_signal);
}

static void
grant_text(const struct explain_line *l, char *out, size_t cap)
{
	int len = (int)strlen(l->grant_output);
	char how[48];

	/* Its last newline would print as a trailing space. */
	while (len > 0 && (l->grant_output[len - 1] == '\n' ||
	    l->grant_output[len - 1] == ' '))
		len--;
	if (l->has_exit)
		(void)snprintf(how, sizeof(how), "exit %lld", l->grant_exit);
	else if (l->grant_signal != 0)
		(void)snprintf(how, sizeof(how), "killed by signal %lld",
		    l->grant_signal);
	else
		(void)snprintf(how, sizeof(how), "no exit status");
	if (len > 160)
		len = 160;
	(void)snprintf(out, cap, "%s, %s%s%.*s%s", l->outcome, how,
	    len > 0 ? ", output \"" : ", no output", len, l->grant_output,
	    len > 0 ? "\"" : "");
}

/*
 * One row per cause, in the order they are tried (a stale 401 is not
 * also a garbled one): the first that matches a line is its cause.  key tells one case of a cause from
 * another (empty: one group); text is said of the newest line.
 */
static const struct cause {
	bool		(*matches)(const struct explain_line *);
	bool		(*cures)(const struct explain_line *);
	void		(*key)(const struct explain_line *, char *, size_t);
	void		(*text)(const struct explain_line *, char *, size_t);
	const char	*what;
	const char	*advice;
} causes[CAUSE_COUNT] = {
	[CAUSE_SECRET] = { mismatch, verified, no_text, no_text,
	  "deliveries refused (401)",
	  "signatures match no configured secret: was the secret rotated "
	  "on the dashboard? Add the new secret to secret_file as a line "
	  "of its own (INSTALL section 10)" },
	[CAUSE_CLOCK] = { stale, verified, no_text, skew_text,
	  "deliveries refused (401) as stale",
	  ": is NTP running? (timedatectl status)" },
	[CAUSE_HEADER] = { unauthorized, verified, reason_text, reason_text,
	  "requests refused (401)",
	  ": not signed by MMOLove (a scanner?), or something in front "
	  "of mmolove.cgi drops the X-MMOLove-Signature header" },
	[CAUSE_CONFIG] = { unconfigured, configured, reason_text, reason_text,
	  "requests answered 500",
	  ": every delivery answers 500 until this is fixed" },
	[CAUSE_LEDGER] = { server_error, recorded, reason_text, reason_text,
	  "votes answered 500",
	  ": the vote ledger in state_dir could not be written or read" },
	[CAUSE_GRANT] = { grant_failed, paid, grant_key, grant_text,
	  "grant failures (502/504)",
	  ": the vote is not paid yet (mmolove.cgi --ledger lists it)" },
	[CAUSE_RELOAD] = { reload_refused, reloaded, reason_text, reason_text,
	  "edited files a FastCGI worker refused",
	  " (fix the file: the worker looks again within a second)" },
};

enum explain_cause
explain_classify(const struct explain_line *l)
{
	int c;

	for (c = 0; c < CAUSE_COUNT; c++)
		if (causes[c].matches(l))
			return (enum explain_cause)c;
	return CAUSE_NONE;
}

/* --------------------------------------------------------- grouping */

static void
add(struct explain *x, enum explain_cause c, const struct explain_line *l)
{
	const struct cause *row = &causes[c];
	struct explain_group *g;
	char key[EXPLAIN_DETAIL];
	size_t i;

	row->key(l, key, sizeof(key));
	for (i = 0; i < x->count; i++)
		if (x->groups[i].cause == c &&
		    strcmp(x->groups[i].key, key) == 0)
			break;
	if (i == EXPLAIN_GROUPS) {
		x->ungrouped++;
		return;
	}
	g = &x->groups[i];
	if (i == x->count) {
		/* Lines come newest first: this one is the newest. */
		x->count++;
		g->cause = c;
		memcpy(g->key, key, sizeof(key));
		memcpy(g->newest, l->time_text, sizeof(g->newest));
		row->text(l, g->detail, sizeof(g->detail));
	}
	g->count++;
}

/* One line, newer than all before it; false once past the window. */
static bool
line(struct explain *x, const char *s, size_t len, long long now)
{
	struct explain_line l;
	enum explain_cause c;
	int i;

	x->lines++;
	if (explain_parse(s, len, &l) == -1) {
		x->garbage++;
		return true;
	}
	if (l.time < now - EXPLAIN_RECENT_S)
		return false;
	if ((c = explain_classify(&l)) != CAUSE_NONE && !x->cured[c])
		add(x, c, &l);
	for (i = 0; i < CAUSE_COUNT; i++)
		if (causes[i].cures(&l))
			x->cured[i] = true;
	return true;
}

void
explain_text(struct explain *x, const char *buf, size_t len, long long now)
{
	size_t start, end;

	memset(x, 0, sizeof(*x));
	/* Whole lines only: a line being appended is left for next time. */
	while (len > 0 && buf[len - 1] != '\n')
		len--;
	for (end = len; end > 0; end = start) {
		start = end - 1;
		while (start > 0 && buf[start - 1] != '\n')
			start--;
		if (end - 1 > start && !line(x, buf + start, end - 1 - start,
		    now))
			break;
	}
}

/*
 * Reads the last cap bytes of the regular file fd into buf, from the
 * start of a line; returns the length, or -1 with errno set.
 */
static ssize_t
read_tail(int fd, char *buf, size_t cap)
{
	struct stat st;
	off_t from;
	ssize_t n;
	char *nl;

	if (fstat(fd, &st) == -1)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		return -1;
	}
	from = st.st_size > (off_t)cap ? st.st_size - (off_t)cap : 0;
	if (lseek(fd, from, SEEK_SET) == -1 || (n = read_full(fd, buf, cap)) ==
	    -1)
		return -1;
	/* Read from the middle of the file, its first line is cut. */
	if (from > 0 && (nl = memchr(buf, '\n', (size_t)n)) != NULL) {
		n -= nl + 1 - buf;
		memmove(buf, nl + 1, (size_t)n);
	}
	return n;
}

int
explain_log(struct explain *x, const char *path, long long now, char *why,
    size_t whylen)
{
	char buf[EXPLAIN_TAIL];
	ssize_t n = -1;
	int fd, saved;

	memset(x, 0, sizeof(*x));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) !=
	    -1) {
		n = read_tail(fd, buf, sizeof(buf));
		saved = errno;
		(void)close(fd);
		errno = saved;
	}
	if (n == -1) {
		if (errno == ENOENT)
			return 0;	/* no log yet: nothing went wrong */
		(void)snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return -1;
	}
	explain_text(x, buf, (size_t)n, now);
	return 0;
}

/* ------------------------------------------------------------ saying */

/* Control characters become spaces: the text may be a grant's output. */
static void
printable(char *s)
{
	unsigned char *p = (unsigned char *)s;

	for (; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = ' ';
		else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			p[0] = ' ';
			p[1] = ' ';
		}
}

void
explain_say(const struct explain_group *g, char *out, size_t cap)
{
	const struct cause *row = &causes[g->cause];

	(void)snprintf(out, cap, "%s: %u, the newest at %s: %s%s", row->what,
	    g->count, g->newest, g->detail, row->advice);
	printable(out);
}
