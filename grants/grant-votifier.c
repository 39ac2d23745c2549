/*
 * grant-votifier - a grant program for mmolove.cgi: forwards the vote to a
 * NuVotifier listener (protocol v2), so that the VotingPlugin or SuperbVote
 * set-up a Minecraft server already has pays it.
 *
 *   grant-votifier <username> <heart_id> <reward>
 *
 * Settings come from one file whose path `make install` compiles in
 * (GRANT_VOTIFIER_CONF), mode 0600 or 0640: host, port, service_name,
 * token, address, timeouts and the username rule; see
 * scripts/grant-votifier.conf.example.  The username is checked against
 * the rule before anything is sent (exit 65 otherwise).  The vote's time
 * is MMOLOVE_TIMESTAMP (seconds), the environment mmolove.cgi passes.
 *
 * Protocol v2 as NuVotifier implements it (common/.../net/protocol/, at
 * NuVotifier commit 9d69da2): the listener greets with
 * "VOTIFIER <version> <challenge>\n"; the client sends 0x733A, a 16-bit
 * big-endian length and the JSON {"payload": <vote JSON as a string>,
 * "signature": <base64 HMAC-SHA256 of the payload under the token>}; the
 * vote holds serviceName, username, address, timestamp (ms) and the
 * challenge; the listener answers {"status":"ok"} or {"status":"error",
 * "cause":<exception class>,"error":<message>} and closes.
 *
 * Exit: 0 the listener took the vote; 65 a name the listener refuses;
 * 75 temporary (no listener, timeout, an error reply); 78 misconfigured
 * (settings, a bad token, a v1-only listener, not a Votifier listener).
 *
 * A listener cannot tell a repeat.  So once the whole vote went out and
 * the reply is lost (connection dropped, timeout, no reply), the program
 * kills itself with SIGTERM, which mmolove.cgi records as an unknown
 * outcome (held until --replay with the default unknown_outcome = hold).
 */
#include "console.h"
#include "../src/digest.h"
#include "../src/json.h"
#include "../src/text.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#define JSMN_STATIC
#define JSMN_STRICT
#include <jsmn.h>

#ifndef GRANT_VOTIFIER_CONF
#define GRANT_VOTIFIER_CONF "/etc/mmolove/grant-votifier.conf"
#endif

#define VOTIFIER_MAGIC		0x733A
/* VotifierProtocolDifferentiator: LengthFieldBasedFrameDecoder(1024, 2,
 * 2, 0, 4), a frame of at most 1024 bytes with its 4-byte head. */
#define VOTIFIER_MAX_MESSAGE	(1024 - 4)
/* VotifierProtocol2Decoder: "Username too long" above 16 (Java) chars. */
#define VOTIFIER_MAX_USERNAME	16
#define VOTIFIER_MAX_CHALLENGE	64	/* NuVotifier's: 26 base-32 digits */
#define VOTIFIER_MAX_GREETING	256
#define VOTIFIER_MAX_REPLY	4096
#define VOTIFIER_MAX_SERVICE	256

/* One connection to the listener. */
struct link {
	int		 fd;
	long		 deadline;	/* of the exchange, in ms */
	const char	*where;		/* "HOST port PORT" */
};

/* What goes into the vote. */
struct vote {
	const char	*service, *username, *address;
	char		 timestamp[24];	/* milliseconds, decimal */
	char		 challenge[VOTIFIER_MAX_CHALLENGE + 1];
};

/* Some bytes of what (greeting, reply) into buf; 0 at the end of the
 * stream.  A loss after the vote went out is an unknown outcome (see the
 * top). */
static size_t
recv_some(const struct link *l, char *buf, size_t cap, const char *what)
{
	size_t n;
	int err;

	err = console_recv(l->fd, buf, cap, l->deadline, &n);
	if (err == -1)
		console_lost("listener at %s: no %s in time", l->where, what);
	if (err != 0)
		console_lost("listener at %s: receive failed: %s", l->where,
		    strerror(err));
	return n;
}

/*
 * A line (up to '\n', or the end of the stream after some bytes) into
 * buf, its CR and LF dropped; what names it in messages.  Exits 78 when
 * it does not fit: whatever answers is not a Votifier listener.
 */
static size_t
read_line(const struct link *l, char *buf, size_t cap, const char *what)
{
	size_t len = 0, n;
	char *nl;

	for (;;) {
		if (len + 1 >= cap)
			console_die(CONSOLE_CONFIG, "listener at %s: %s longer "
			    "than %zu bytes: not a Votifier listener", l->where,
			    what, cap - 1);
		n = recv_some(l, buf + len, cap - 1 - len, what);
		buf[len + n] = '\0';
		if ((nl = memchr(buf + len, '\n', n)) != NULL) {
			len = (size_t)(nl - buf);
			break;
		}
		len += n;
		if (n == 0 && len > 0)
			break;
		if (n == 0)
			console_lost("listener at %s: connection closed "
			    "without a %s", l->where, what);
	}
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	buf[len] = '\0';
	return len;
}

/*
 * "VOTIFIER <version> <challenge>": NuVotifier sends "VOTIFIER 2 ..."
 * (VotifierGreetingHandler), its older releases their plugin version,
 * and its own forwarding client (VotifierProtocol2HandshakeHandler)
 * takes the third word.  The original Votifier sends "VOTIFIER 1.9":
 * v1, RSA only.
 */
static void
read_greeting(const struct link *l, char *challenge, size_t cap)
{
	static char line[VOTIFIER_MAX_GREETING];
	char shown[VOTIFIER_MAX_GREETING * 2], *word[4], *save = NULL, *p;
	size_t n = 0, len;

	len = read_line(l, line, sizeof(line), "greeting");
	console_reply_text((unsigned char *)line, len, shown, sizeof(shown));
	for (p = strtok_r(line, " ", &save); p != NULL && n < 4;
	    p = strtok_r(NULL, " ", &save))
		word[n++] = p;
	if (n < 2 || strcmp(word[0], "VOTIFIER") != 0 || n > 3)
		console_die(CONSOLE_CONFIG, "listener at %s: not a Votifier "
		    "greeting: '%.80s' (settings host and port)", l->where,
		    shown);
	if (n == 2)
		console_die(CONSOLE_CONFIG, "listener at %s speaks only v1 "
		    "(RSA): enable v2 tokens (install NuVotifier, whose "
		    "config.yml has tokens: default:)", l->where);
	len = strlen(word[2]);
	if (len == 0 || len >= cap || len > VOTIFIER_MAX_CHALLENGE ||
	    has_control((unsigned char *)word[2], len) ||
	    !utf8_valid((unsigned char *)word[2], len))
		console_die(CONSOLE_CONFIG, "listener at %s: unusable "
		    "challenge in its greeting '%.80s'", l->where, shown);
	memcpy(challenge, word[2], len + 1);
}

/* Appends the text s to buf as is (a literal of ours). */
static bool
add(char *buf, size_t cap, size_t *used, const char *s)
{
	size_t len = strlen(s);

	if (*used + len >= cap)
		return false;
	memcpy(buf + *used, s, len + 1);
	*used += len;
	return true;
}

/* Appends s as a JSON string, quotes included. */
static bool
add_string(char *buf, size_t cap, size_t *used, const char *s)
{
	return add(buf, cap, used, "\"") &&
	    json_escape_append(buf, cap, used, (const unsigned char *)s,
	    strlen(s)) && add(buf, cap, used, "\"");
}

/*
 * The vote JSON, fields in the order of NuVotifier's Vote.serialize();
 * no other: NuVotifier ignores unknown fields (and checks "uuid", which
 * MMOLove has not).  Returns its length, or 0 when it does not fit.
 */
static size_t
vote_json(const struct vote *v, char *out, size_t cap)
{
	size_t used = 0;

	out[0] = '\0';
	if (add(out, cap, &used, "{\"serviceName\":") &&
	    add_string(out, cap, &used, v->service) &&
	    add(out, cap, &used, ",\"username\":") &&
	    add_string(out, cap, &used, v->username) &&
	    add(out, cap, &used, ",\"address\":") &&
	    add_string(out, cap, &used, v->address) &&
	    add(out, cap, &used, ",\"timestamp\":") &&
	    add(out, cap, &used, v->timestamp) &&
	    add(out, cap, &used, ",\"challenge\":") &&
	    add_string(out, cap, &used, v->challenge) &&
	    add(out, cap, &used, "}"))
		return used;
	return 0;
}

/*
 * The message: {"payload":<vote JSON as a string>,"signature":<base64
 * HMAC-SHA256 of the vote JSON's UTF-8 bytes>} (VotifierProtocol2Decoder
 * checks it over payload.getBytes(UTF_8)).  Returns its length, or 0
 * when it is longer than NuVotifier's frame.
 */
static size_t
message(const struct vote *v, const struct hmac_key *key, char *out,
    size_t cap)
{
	static char payload[VOTIFIER_MAX_MESSAGE + 1];
	unsigned char mac[DIGEST_LEN], sig[4 * DIGEST_LEN / 3 + 4];
	struct hmac_run run;
	size_t len, used = 0;

	if ((len = vote_json(v, payload, sizeof(payload))) == 0)
		return 0;
	hmac_begin(&run, key);
	hmac_update(&run, payload, len);
	hmac_end(&run, mac);
	(void)EVP_EncodeBlock(sig, mac, DIGEST_LEN);
	wipe(&run, sizeof(run));
	out[0] = '\0';
	if (add(out, cap, &used, "{\"payload\":") &&
	    add_string(out, cap, &used, payload) &&
	    add(out, cap, &used, ",\"signature\":") &&
	    add_string(out, cap, &used, (char *)sig) &&
	    add(out, cap, &used, "}") && used <= VOTIFIER_MAX_MESSAGE)
		return used;
	return 0;
}

/* 0x733A, the length (16-bit big-endian) and the message. */
static void
send_vote(const struct link *l, const char *msg, size_t len)
{
	static unsigned char frame[4 + VOTIFIER_MAX_MESSAGE];
	int err;

	frame[0] = (unsigned char)(VOTIFIER_MAGIC >> 8);
	frame[1] = (unsigned char)(VOTIFIER_MAGIC & 0xFF);
	frame[2] = (unsigned char)(len >> 8);
	frame[3] = (unsigned char)(len & 0xFF);
	memcpy(frame + 4, msg, len);
	err = console_send_all(l->fd, frame, len + 4, l->deadline);
	if (err == -1)
		console_lost("listener at %s: did not take the vote in time",
		    l->where);
	if (err != 0)
		console_lost("listener at %s: send failed: %s", l->where,
		    strerror(err));
	console_sent(CONSOLE_SENT_VOTE);
}

/* The top-level string value of key in the reply, decoded; "" if none. */
static void
reply_field(const char *js, const jsmntok_t *t, int n, const char *key,
    char *out, size_t cap)
{
	const char *why;
	size_t klen = strlen(key), len = 0;
	int i = 1, end;

	out[0] = '\0';
	while (i + 1 < n) {
		if (t[i].type == JSMN_STRING && (size_t)(t[i].end -
		    t[i].start) == klen && memcmp(js + t[i].start, key,
		    klen) == 0 && t[i + 1].type == JSMN_STRING) {
			if (json_unescape(js + t[i + 1].start,
			    (size_t)(t[i + 1].end - t[i + 1].start),
			    (unsigned char *)out, cap - 1, &len, &why) == -1)
				len = 0;
			out[len] = '\0';
			return;
		}
		for (end = t[i + 1].end, i += 2; i < n && t[i].start < end; i++)
			;	/* past the value and what it holds */
	}
}

/*
 * NuVotifier's errors that are no passing trouble, with their exact
 * texts from VotifierProtocol2Decoder.java (commit 9d69da2).  Any other
 * error reply is 75: the vote was not taken, so it is safely retried.
 */
static const struct {
	const char	*error;		/* the text, or its start */
	bool		 prefix;
	int		 code;
	const char	*means;
} known_errors[] = {
	/* CorruptedFrameException: the HMAC does not match. */
	{ "Signature is not valid (invalid token?)", false, CONSOLE_CONFIG,
	    "bad token: the listener's token for this service_name (or its "
	    "default token) is not the token setting" },
	/* RuntimeException: no token for serviceName, no "default". */
	{ "Unknown service '", true, CONSOLE_CONFIG,
	    "bad token: the listener has no token for this service_name and "
	    "no default token" },
	/* CorruptedFrameException: more than 16 UTF-16 units. */
	{ "Username too long", false, CONSOLE_REFUSED,
	    "the listener refuses the name" },
};

/* Reads and judges the reply; returns 0 or exits. */
static int
read_reply(const struct link *l)
{
	static char line[VOTIFIER_MAX_REPLY], status[16], cause[256],
	    error[1024], cause_shown[2 * sizeof(cause)],
	    shown[2 * sizeof(error)];
	jsmntok_t t[64];
	jsmn_parser p;
	const char *why;
	size_t len, i, k;
	int n;

	len = read_line(l, line, sizeof(line), "reply");
	jsmn_init(&p);
	if (json_validate(line, len, &why) == -1 ||
	    (n = jsmn_parse(&p, line, len, t, 64)) < 1)
		console_lost("listener at %s: its reply is not a JSON object",
		    l->where);
	reply_field(line, t, n, "status", status, sizeof(status));
	if (strcmp(status, "ok") == 0)
		return CONSOLE_OK;
	if (strcmp(status, "error") != 0)
		console_lost("listener at %s: its reply has no status ok or "
		    "error", l->where);
	reply_field(line, t, n, "cause", cause, sizeof(cause));
	reply_field(line, t, n, "error", error, sizeof(error));
	console_reply_text((unsigned char *)cause, strlen(cause), cause_shown,
	    sizeof(cause_shown));
	console_reply_text((unsigned char *)error, strlen(error), shown,
	    sizeof(shown));
	for (i = 0; i < sizeof(known_errors) / sizeof(known_errors[0]); i++) {
		k = known_errors[i].prefix ? strlen(known_errors[i].error) :
		    strlen(error) + 1;
		if (strncmp(error, known_errors[i].error, k) == 0)
			console_die(known_errors[i].code, "listener at %s: %s "
			    "(%.64s: %s)", l->where, known_errors[i].means,
			    cause_shown, shown);
	}
	console_die(CONSOLE_TEMPFAIL, "listener at %s refused the vote: "
	    "%.64s: %s (retried later)", l->where, cause_shown, shown);
}

/* Java's String.length() of a valid UTF-8 name: its UTF-16 units. */
static size_t
utf16_units(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = 0;

	for (; *u != '\0'; u++)
		if ((*u & 0xC0) != 0x80)
			n += *u >= 0xF0 ? 2 : 1;
	return n;
}

/*
 * The vote's time in milliseconds: MMOLOVE_TIMESTAMP (seconds), else
 * now.
 */
static void
vote_time(char *out, size_t size)
{
	const char *ts = getenv("MMOLOVE_TIMESTAMP");
	size_t len = ts == NULL ? 0 : strlen(ts);

	if (len > 0 && len <= 12 && strspn(ts, "0123456789") == len) {
		(void)snprintf(out, size, "%s000", ts);
		return;
	}
	(void)snprintf(out, size, "%lld", (long long)time(NULL) * 1000);
}

/* The settings that go into the vote; the token becomes key and is
 * wiped. */
static void
vote_settings(struct console_conf *c, struct vote *v, struct hmac_key *key)
{
	unsigned char bin[sizeof(struct in6_addr)];
	const char *why;
	char *token;
	size_t i;

	v->service = console_conf_get(c, "service_name");
	if (v->service == NULL || *v->service == '\0')
		v->service = "MMOLove";
	if ((why = name_problem((const unsigned char *)v->service,
	    strlen(v->service), VOTIFIER_MAX_SERVICE)) != NULL)
		console_die(CONSOLE_CONFIG, "setting service_name %s (at most "
		    "%d bytes)", why, VOTIFIER_MAX_SERVICE);
	v->address = console_conf_get(c, "address");
	if (v->address == NULL || *v->address == '\0')
		v->address = "127.0.0.1";
	if (inet_pton(AF_INET, v->address, bin) != 1 &&
	    inet_pton(AF_INET6, v->address, bin) != 1)
		console_die(CONSOLE_CONFIG, "setting address = '%.64s': want "
		    "an IPv4 or IPv6 address (NuVotifier's votes carry one)",
		    v->address);
	for (i = 0; i < c->n && strcmp(c->key[i], "token") != 0; i++)
		;
	if (i == c->n || *(token = c->value[i]) == '\0')
		console_die(CONSOLE_CONFIG, "setting token is missing (the "
		    "listener's token for service_name, or its default token: "
		    "tokens: in NuVotifier's config.yml)");
	hmac_key_init(key, token, strlen(token));
	wipe(token, strlen(token));
}

/* The arguments, and the message's size, before anything is sent. */
static void
check_vote(const struct console_rule *rule, char *argv[], struct vote *v,
    const struct hmac_key *key)
{
	static char reward[32], msg[VOTIFIER_MAX_MESSAGE + 1];

	console_check_args(rule, argv, reward, sizeof(reward));
	if (utf16_units(argv[1]) > VOTIFIER_MAX_USERNAME)
		console_die(CONSOLE_REFUSED, "NuVotifier refuses a username of "
		    "more than %d characters (\"Username too long\"); nothing "
		    "sent", VOTIFIER_MAX_USERNAME);
	v->username = argv[1];
	vote_time(v->timestamp, sizeof(v->timestamp));
	memset(v->challenge, 'x', VOTIFIER_MAX_CHALLENGE);
	if (message(v, key, msg, sizeof(msg)) == 0)
		console_die(CONSOLE_CONFIG, "the vote would be longer than "
		    "NuVotifier's %d-byte message limit: shorten service_name",
		    VOTIFIER_MAX_MESSAGE);
}

/* Greeting, vote, reply; the token's key is wiped once used.  Returns
 * 0 or exits. */
static int
exchange(const struct link *l, struct vote *v, struct hmac_key *key)
{
	static char msg[VOTIFIER_MAX_MESSAGE + 1];
	size_t len;

	read_greeting(l, v->challenge, sizeof(v->challenge));
	len = message(v, key, msg, sizeof(msg));
	wipe(key, sizeof(*key));
	if (len == 0)
		console_die(CONSOLE_CONFIG, "the vote with this listener's "
		    "challenge is longer than NuVotifier's %d-byte message "
		    "limit: shorten service_name", VOTIFIER_MAX_MESSAGE);
	send_vote(l, msg, len);
	return read_reply(l);
}

int
main(int argc, char *argv[])
{
	static const char *const known[] = {
		"host", "port", "service_name", "token", "address",
		"connect_timeout", "io_timeout", "game", "name_rule", NULL
	};
	static struct console_conf c;
	static struct vote v;
	static struct hmac_key key;
	static char where[300];
	struct console_rule *rule;
	struct link l;
	const char *host;
	char port[16];
	int connect_ms, io_ms, code;

	console_begin("grant-votifier", argc);
	console_conf_read(&c, GRANT_VOTIFIER_CONF, known);
	rule = console_rule_new(&c);
	host = console_conf_host(&c, 8192, port, sizeof(port));
	connect_ms = console_conf_ms(&c, "connect_timeout", 3);
	io_ms = console_conf_ms(&c, "io_timeout", 5);
	vote_settings(&c, &v, &key);
	check_vote(rule, argv, &v, &key);

	(void)snprintf(where, sizeof(where), "%s port %s", host, port);
	l.where = where;
	l.fd = console_connect("the Votifier listener", host, port,
	    connect_ms);
	l.deadline = console_now_ms() + io_ms;
	code = exchange(&l, &v, &key);
	(void)close(l.fd);
	(void)printf("listener at %s took the vote for %s (service %s)\n",
	    where, v.username, v.service);
	return code;
}
