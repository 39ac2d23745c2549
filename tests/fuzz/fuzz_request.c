/*
 * libFuzzer harness: the whole request decision, request_handle() over a
 * fake request_io, with the grant stubbed (grant_stub.c, linked in place
 * of src/grant.c), the ledger in a directory on tmpfs and the log in a
 * tmpfs file (under $FUZZ_REQUEST_DIR, else /dev/shm), removed at exit.
 *
 * Input: five control bytes, then fields split by "\xfe\xff" (bytes
 * valid UTF-8 never holds): body, signature header, query string,
 * CONTENT_LENGTH, method, remote address.  The control bytes pick the
 * method, whether the harness signs the request with a test secret
 * (an X-MMOLove-Signature over the body, or a legacy query for the
 * query field as a username) at a fresh time shifted by a chosen skew,
 * how CONTENT_LENGTH is given, how the body is read, the settings
 * (legacy, grant_mode, unknown_outcome, tolerance, max_body, a broken
 * server, root) and what the stubbed grant does.
 *
 * Invariants (a violation aborts):
 *  - a grant runs only for a request the harness signed with a secret,
 *    fresh within the tolerance, by the method its mode needs (POST;
 *    GET with legacy on), on a usable server, for heart.counted, with a
 *    reward the settings allow;
 *  - per vote key, no grant after one that was granted or refused, nor
 *    after one of unknown outcome while unknown_outcome is hold (the
 *    record of keys is reset with the ledger, every EPOCH_RUNS runs);
 *  - exactly one log line per request, valid JSON (json_validate), one
 *    object holding every field README's "The audit log" shows, with an
 *    outcome README lists, a status from SPEC.md's "What it answers"
 *    that is the one the outcome goes with and the one answered;
 *  - "paid" only when this request's grant ran and was granted.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define JSMN_STATIC
#define JSMN_STRICT
#include <jsmn.h>

#include "../../src/json.h"
#include "../../src/ledger.h"
#include "../../src/legacy.h"
#include "../../src/request.h"
#include "../../src/signature.h"
#include "grant_stub.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define EPOCH_RUNS	2000	/* runs on one ledger */
#define KEYS_MAX	4096	/* > the votes one epoch can create */
#define NCTL		5
#define NFIELDS		6
#define FIELD_SEP	"\xfe\xff"
#define HEADER_MAX	2048

static const char *const secrets[] = { "fuzz-secret-one", "fuzz-secret-two" };

enum field { F_BODY, F_HEADER, F_QUERY, F_CL, F_METHOD, F_REMOTE };

/* README's outcomes, each with the status SPEC.md pairs it with. */
static const struct { const char *outcome; int status; } outcomes[] = {
	{ "paid", 200 }, { "duplicate", 200 }, { "test", 200 },
	{ "ignored", 200 }, { "refused", 200 }, { "queued", 200 },
	{ "unknown", 200 }, { "grant_failed", 502 }, { "grant_killed", 502 },
	{ "grant_timeout", 504 }, { "unauthorized", 401 },
	{ "bad_request", 400 }, { "too_large", 413 },
	{ "length_required", 411 }, { "method_not_allowed", 405 },
	{ "busy", 503 }, { "config_error", 500 }, { "ledger_error", 500 },
	{ "ledger_corrupt", 500 }, { "unrecorded", 500 },
};

/* The fields README's example line shows; grant_signal only when set. */
static const char *const log_keys[] = { "time", "mode", "method", "event",
	"heart_id", "username", "outcome", "status", "reward", "remote",
	"duration_ms", "reason", "grant_exit", "grant_output" };

#define NITEMS(a) (sizeof(a) / sizeof((a)[0]))

struct fake {
	const char	*param[NFIELDS];	/* NUL-terminated, or NULL */
	const char	*method;
	const char	*cl;
	const char	*header;
	const uint8_t	*body;
	size_t		 body_len;
	size_t		 pos;
	size_t		 chunk;		/* most bytes one read gives */
	size_t		 fail_at;	/* a read past this fails; SIZE_MAX */
	bool		 write_fails;
	char		 answer[512];
	size_t		 answer_len;
};

/* What the harness knows of the request, for the grant's check. */
struct truth {
	bool		 authentic;	/* signed, fresh, right method */
	bool		 usable;	/* not broken, not refused as root */
};

enum key_state { KEY_FREE, KEY_SETTLED, KEY_UNKNOWN };

struct key_slot {
	char		 name[DIGEST_HEX_LEN + 1];
	enum key_state	 state;
};

static struct server srv;
static const struct fake *current;	/* the request being served */
static const char *log_line;		/* its log, once read */
static size_t log_len;

/* Says which invariant broke, then aborts for libFuzzer to report. */
#define VIOLATED(what) violated(what, __LINE__)

static void __attribute__((noreturn))
violated(const char *what, int line)
{
	fprintf(stderr, "fuzz_request: invariant broken at line %d: %s\n",
	    line, what);
	if (current != NULL)
		fprintf(stderr, "  answer: %.*s\n", (int)current->answer_len,
		    current->answer);
	if (log_line != NULL)
		fprintf(stderr, "  log: %.*s\n", (int)log_len, log_line);
	abort();
}

static struct truth truth;
static struct key_slot keys[KEYS_MAX];
static char top[64], state_dir[128], log_path[128];
static unsigned runs, epoch;
static int log_fd = -1;
static int granted_now;			/* grants this request */

static struct key_slot *
key_slot(const char *name)
{
	size_t i = (size_t)strtoul((char[9]){ name[0], name[1], name[2],
	    name[3], name[4], name[5], name[6], name[7], '\0' }, NULL, 16);

	for (;; i++) {
		i %= KEYS_MAX;
		if (keys[i].name[0] == '\0') {
			memcpy(keys[i].name, name, DIGEST_HEX_LEN + 1);
			return &keys[i];
		}
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	}
}

/* The stub calls this where the grant program would start. */
static void
on_release(const struct vote *v)
{
	const struct config *c = &srv.cfg;
	char name[DIGEST_HEX_LEN + 1];
	struct key_slot *k;

	if (!truth.authentic || !truth.usable)
		VIOLATED("a grant for a request not authentic or on an unusable server");
	if (strcmp(v->event, "heart.counted") != 0 || v->username[0] == '\0' ||
	    v->heart_id[0] == '\0')
		VIOLATED("a grant for no heart.counted, or without a name or heart_id");
	if (v->reward != c->reward_base &&
	    v->reward != c->reward_base + c->reward_weekly &&
	    v->reward != c->reward_base + c->reward_monthly)
		VIOLATED("a grant with a reward the settings do not give");
	ledger_name(v->key, name);
	k = key_slot(name);
	if (k->state == KEY_SETTLED ||
	    (k->state == KEY_UNKNOWN && c->unknown_outcome == UNKNOWN_HOLD))
		VIOLATED("a grant again for a vote granted, refused or held");
	granted_now++;
}

/*
 * After the request: what its attempt, if it made one, left the vote's
 * record saying, as pay.c records it.  An attempt whose grant could not
 * start is a failed one; one whose intent was not written never ran.
 */
static void
note_attempt(const struct grant_stub *before)
{
	char name[DIGEST_HEX_LEN + 1];
	struct key_slot *k;

	if (granted_now > 1)
		VIOLATED("two grants in one request");
	if (grant_stub.prepared == before->prepared ||
	    grant_stub.aborted != before->aborted)
		return;
	ledger_name(grant_stub.vote.key, name);
	k = key_slot(name);
	if (granted_now == 0) {
		k->state = KEY_FREE;
		return;
	}
	switch (grant_stub.outcome) {
	case GRANT_GRANTED:
	case GRANT_REFUSED:
		k->state = KEY_SETTLED;
		break;
	case GRANT_SIGNALED:
	case GRANT_TIMED_OUT:
		k->state = KEY_UNKNOWN;
		break;
	default:
		k->state = KEY_FREE;
		break;
	}
}

static const char *
fake_param(void *ctx, const char *name)
{
	struct fake *f = ctx;

	if (strcmp(name, "REQUEST_METHOD") == 0)
		return f->method;
	if (strcmp(name, "CONTENT_LENGTH") == 0)
		return f->cl;
	if (strcmp(name, "HTTP_X_MMOLOVE_SIGNATURE") == 0)
		return f->header;
	if (strcmp(name, "QUERY_STRING") == 0)
		return f->param[F_QUERY];
	if (strcmp(name, "REMOTE_ADDR") == 0)
		return f->param[F_REMOTE];
	return NULL;
}

static ssize_t
fake_read(void *ctx, char *buf, size_t len)
{
	struct fake *f = ctx;
	size_t n = f->body_len - f->pos;

	if (f->pos >= f->fail_at)
		return -1;
	if (n > len)
		n = len;
	if (n > f->chunk)
		n = f->chunk;
	memcpy(buf, f->body + f->pos, n);
	f->pos += n;
	return (ssize_t)n;
}

static int
fake_write(void *ctx, const char *buf, size_t len)
{
	struct fake *f = ctx;

	if (f->write_fails || len > sizeof(f->answer) - f->answer_len - 1)
		return -1;
	memcpy(f->answer + f->answer_len, buf, len);
	f->answer_len += len;
	f->answer[f->answer_len] = '\0';
	return 0;
}

static int
remove_one(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
remove_tree(const char *path)
{
	(void)nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
cleanup(void)
{
	ledger_close(&srv.ledger);
	log_close(&srv.log);
	remove_tree(top);
}

/* A fresh ledger directory, and a fresh record of keys with it. */
static void
new_epoch(void)
{
	char err[400];

	ledger_close(&srv.ledger);
	if (epoch > 0)
		remove_tree(state_dir);
	epoch++;
	(void)snprintf(state_dir, sizeof(state_dir), "%s/ledger-%u", top,
	    epoch);
	if (ledger_open(&srv.ledger, state_dir, err, sizeof(err)) == -1) {
		fprintf(stderr, "fuzz_request: %s\n", err);
		abort();
	}
	memset(keys, 0, sizeof(keys));
	runs = 0;
}

static void
setup(void)
{
	const char *base = getenv("FUZZ_REQUEST_DIR");
	size_t i;

	if (base == NULL || *base == '\0')
		base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	(void)snprintf(top, sizeof(top), "%s/fuzz_request.XXXXXX", base);
	if (mkdtemp(top) == NULL)
		abort();
	(void)snprintf(log_path, sizeof(log_path), "%s/log", top);
	if ((log_fd = open(log_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) ==
	    -1)
		abort();
	config_defaults(&srv.cfg);
	(void)snprintf(srv.cfg.grant, sizeof(srv.cfg.grant), "/stub/grant");
	(void)snprintf(srv.cfg.log, sizeof(srv.cfg.log), "%s", log_path);
	log_open(&srv.log, srv.cfg.log);
	for (i = 0; i < NITEMS(secrets); i++)
		hmac_key_init(&srv.secrets.keys[i], secrets[i],
		    strlen(secrets[i]));
	srv.secrets.count = NITEMS(secrets);
	srv.ledger.dirfd = -1;
	grant_stub.on_release = on_release;
	new_epoch();
	(void)atexit(cleanup);
}

/*
 * Splits the fields into NUL-terminated heap copies; those after the
 * last separator's field are absent (NULL).
 */
static void
split(const uint8_t *data, size_t size, char *fields[NFIELDS],
    size_t lens[NFIELDS])
{
	const uint8_t *p = data, *end = data + size, *sep = data;
	size_t i, n;

	for (i = 0; i < NFIELDS; i++) {
		fields[i] = NULL;
		lens[i] = 0;
		if (sep == NULL)
			continue;
		sep = memmem(p, (size_t)(end - p), FIELD_SEP, 2);
		n = sep != NULL ? (size_t)(sep - p) : (size_t)(end - p);
		if ((fields[i] = malloc(n + 1)) == NULL)
			abort();
		memcpy(fields[i], p, n);
		fields[i][n] = '\0';
		lens[i] = n;
		if (sep != NULL)
			p = sep + 2;
	}
}

static const char *
pick_method(uint8_t c, const char *custom)
{
	static const char *const methods[] = { "POST", "POST", "POST", "POST",
		"GET", NULL, "PUT", "post" };
	const char *m = methods[c & 7];

	return (c & 7) == 6 && custom != NULL ? custom : m;
}

/* The settings this request runs under. */
static void
configure(const uint8_t *ctl)
{
	static const size_t bodies[] = { 65536, 64, 300, CONFIG_MAX_BODY_LIMIT };
	static const enum grant_outcome ends[] = { GRANT_GRANTED,
		GRANT_GRANTED, GRANT_REFUSED, GRANT_FAILED, GRANT_SIGNALED,
		GRANT_TIMED_OUT, GRANT_GRANTED, GRANT_GRANTED };
	struct config *c = &srv.cfg;
	unsigned g = (ctl[2] >> 3) & 7;

	c->legacy = ctl[2] & 1;
	c->grant_mode = ctl[2] & 2 ? GRANT_QUEUE : GRANT_SYNC;
	c->unknown_outcome = ctl[2] & 4 ? UNKNOWN_RETRY : UNKNOWN_HOLD;
	c->tolerance = ctl[2] & 0x40 ? 0 : 300;
	c->max_body = bodies[ctl[4] & 3];
	grant_stub.outcome = ends[g];
	grant_stub.step = g == 6 ? STUB_PREPARE_FAILS : g == 7 ?
	    STUB_RELEASE_FAILS : STUB_RUNS;
	/* Rarely: a broken server, or one running as root. */
	srv.broken = (ctl[2] & 0x80) && (ctl[4] & 4);
	(void)snprintf(srv.broken_why, sizeof(srv.broken_why), "fuzz: broken");
	srv.as_root = (ctl[2] & 0x80) && (ctl[4] & 8);
	c->allow_root = ctl[4] & 0x10;
	truth.usable = !srv.broken && (!srv.as_root || c->allow_root);
}

static long long
skew_of(uint8_t c, bool legacy)
{
	long long s = (int8_t)c;

	/* Never within 5 s of a bound, so a clock tick cannot matter. */
	return legacy ? s * 1000 + 5 : s * 10 + 5;
}

static bool
fresh(long long skew, long tolerance)
{
	return tolerance == 0 || (skew < 0 ? -skew : skew) <= tolerance;
}

/* A signed POST: t and v1 for the body, then the header field, if any. */
static void
sign_post(const uint8_t *ctl, const char *body, size_t len,
    const char *extra, char *out, size_t cap)
{
	long long skew = skew_of(ctl[3], false);
	size_t used;

	signature_sign(&srv.secrets.keys[(ctl[1] >> 1) & 1],
	    (long long)time(NULL) + skew, body, len, out, cap);
	used = strlen(out);
	if (extra != NULL && extra[0] != '\0')
		(void)snprintf(out + used, cap - used, ",%s", extra);
	truth.authentic = fresh(skew, srv.cfg.tolerance);
}

/* A signed legacy GET: the query field is the username. */
static const char *
sign_legacy(const uint8_t *ctl, const char *name, char *out, size_t cap)
{
	long long skew = skew_of(ctl[3], true);

	if (name == NULL || legacy_sign(&srv.secrets.keys[(ctl[1] >> 1) & 1],
	    name, (long long)time(NULL) + skew, out, cap) == -1)
		return name;
	truth.authentic = fresh(skew, srv.cfg.legacy_tolerance);
	return out;
}

static const char *
content_length(const uint8_t *ctl, size_t len, const char *field,
    char *buf, size_t cap)
{
	long long delta = (ctl[4] >> 5) - 4;

	switch ((ctl[1] >> 2) & 3) {
	case 0:
		(void)snprintf(buf, cap, "%zu", len);
		return buf;
	case 1:
		return NULL;
	case 2:
		return field;
	default:
		(void)snprintf(buf, cap, "%lld", (long long)len + delta);
		return buf;
	}
}

/* The value of top-level key k in the log line, or NULL. */
static const jsmntok_t *
member(const char *line, const jsmntok_t *tok, int n, const char *k)
{
	int i;

	/* Every value is a scalar: keys and values alternate. */
	for (i = 1; i + 1 < n; i += 2) {
		if (tok[i].type != JSMN_STRING ||
		    (tok[i + 1].type != JSMN_STRING &&
		    tok[i + 1].type != JSMN_PRIMITIVE))
			VIOLATED("a value in the log line that is not a scalar");
		if ((size_t)(tok[i].end - tok[i].start) == strlen(k) &&
		    memcmp(line + tok[i].start, k, strlen(k)) == 0)
			return &tok[i + 1];
	}
	return NULL;
}

static bool
token_is(const char *line, const jsmntok_t *t, const char *s)
{
	return (size_t)(t->end - t->start) == strlen(s) &&
	    memcmp(line + t->start, s, strlen(s)) == 0;
}

static int
status_of_outcome(const char *line, const jsmntok_t *t)
{
	size_t i;

	for (i = 0; i < NITEMS(outcomes); i++)
		if (token_is(line, t, outcomes[i].outcome))
			return outcomes[i].status;
	VIOLATED("an outcome README does not list");
}

/* Reads the log, checks its one line, and empties it; returns it. */
static void
check_log(const struct fake *f, char *line, size_t cap)
{
	jsmntok_t tok[64];
	jsmn_parser p;
	const jsmntok_t *t;
	const char *why;
	ssize_t len;
	size_t i;
	int n, status;

	if ((len = pread(log_fd, line, cap, 0)) <= 0 || (size_t)len == cap)
		VIOLATED("the log is empty or too long (no line written, or many)");
	log_line = line;
	log_len = (size_t)len;
	if (ftruncate(log_fd, 0) == -1)
		VIOLATED("ftruncate of the log");
	if (line[len - 1] != '\n' || memchr(line, '\n', (size_t)len - 1) !=
	    NULL)
		VIOLATED("not exactly one log line");
	if (json_validate(line, (size_t)len, &why) != 0)
		VIOLATED("the log line is not valid JSON");
	jsmn_init(&p);
	if ((n = jsmn_parse(&p, line, (size_t)len, tok, NITEMS(tok))) < 1 ||
	    tok[0].type != JSMN_OBJECT)
		VIOLATED("the log line is not one JSON object");
	for (i = 0; i < NITEMS(log_keys); i++)
		if (member(line, tok, n, log_keys[i]) == NULL)
			VIOLATED("the log line lacks a field README shows");
	t = member(line, tok, n, "outcome");
	status = status_of_outcome(line, t);
	if (token_is(line, t, "paid") &&
	    (granted_now != 1 || grant_stub.outcome != GRANT_GRANTED))
		VIOLATED("paid without a granted grant in this request");
	t = member(line, tok, n, "status");
	if (t->type != JSMN_PRIMITIVE || atoi(line + t->start) != status)
		VIOLATED("the log's status is not its outcome's");
	if (!f->write_fails && (f->answer_len == 0 ||
	    strncmp(f->answer, "Status: ", 8) != 0 ||
	    atoi(f->answer + 8) != status))
		VIOLATED("the answer's status is not the log's");
	if (status == 405 && !f->write_fails &&
	    strstr(f->answer, "\r\nAllow: ") == NULL)
		VIOLATED("405 without an Allow header");
}

static void
run(const uint8_t *ctl, char *fields[NFIELDS], size_t lens[NFIELDS])
{
	static char header[HEADER_MAX + 200], query[2048], line[LOG_LINE_MAX];
	struct grant_stub before;
	struct request_io io;
	char clbuf[32];
	struct fake f;
	bool sign = ctl[1] & 1;

	memset(&f, 0, sizeof(f));
	memset(&truth, 0, sizeof(truth));
	configure(ctl);
	f.param[F_QUERY] = fields[F_QUERY];
	f.param[F_REMOTE] = fields[F_REMOTE];
	f.method = pick_method(ctl[0], fields[F_METHOD]);
	f.body = (const uint8_t *)fields[F_BODY];
	f.body_len = lens[F_BODY];
	f.header = fields[F_HEADER];
	if (sign && f.method != NULL && strcmp(f.method, "POST") == 0 &&
	    lens[F_HEADER] <= HEADER_MAX) {
		sign_post(ctl, fields[F_BODY], lens[F_BODY], fields[F_HEADER],
		    header, sizeof(header));
		f.header = header;
	} else if (sign && f.method != NULL && strcmp(f.method, "GET") == 0) {
		f.param[F_QUERY] = sign_legacy(ctl, fields[F_QUERY], query,
		    sizeof(query));
		truth.authentic = truth.authentic && srv.cfg.legacy;
	}
	f.cl = content_length(ctl, f.body_len, fields[F_CL], clbuf,
	    sizeof(clbuf));
	f.chunk = ctl[1] & 0x10 ? (size_t)(ctl[4] >> 5) + 1 : SIZE_MAX;
	f.fail_at = ctl[1] & 0x40 ? f.body_len / 2 : SIZE_MAX;
	f.write_fails = ctl[1] & 0x20;
	io.ctx = &f;
	io.param = fake_param;
	io.read = fake_read;
	io.write = fake_write;
	granted_now = 0;
	before = grant_stub;
	current = &f;
	log_line = NULL;
	request_handle(&srv, &io);
	note_attempt(&before);
	check_log(&f, line, sizeof(line));
	current = NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *fields[NFIELDS];
	size_t lens[NFIELDS], i;

	if (log_fd == -1)
		setup();
	if (size < NCTL)
		return 0;
	if (++runs > EPOCH_RUNS)
		new_epoch();
	split(data + NCTL, size - NCTL, fields, lens);
	run(data, fields, lens);
	for (i = 0; i < NFIELDS; i++)
		free(fields[i]);
	return 0;
}
