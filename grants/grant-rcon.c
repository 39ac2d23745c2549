/*
 * grant-rcon - a grant program for mmolove.cgi: runs the owner's console
 * commands over Source RCON (Valve's protocol, as Minecraft and Source
 * engine servers speak it).
 *
 *   grant-rcon <username> <heart_id> <reward>
 *
 * Settings come from one file whose path `make install` compiles in
 * (GRANT_RCON_CONF), mode 0600 or 0640: host, port, password, one or more
 * `command` templates, timeouts, the username rule and reply patterns; see
 * scripts/grant-rcon.conf.example.  The username is checked against the
 * rule before anything is sent (exit 65 otherwise).
 *
 * Exit: 0 every command ran; 65 refused for good (a name outside the rule,
 * reply_no_player); 75 temporary (server down, timeout, reply_offline,
 * reply_error, an unexpected reply: the reply goes to stderr, which the
 * handler logs); 78 misconfigured (settings, wrong password, a command
 * longer than Minecraft's 1446-byte request limit).
 *
 * A console cannot tell a repeat.  So once a command may have run, nothing
 * reports "not granted": when its reply is lost (connection dropped,
 * timeout), the program kills itself with SIGTERM, which mmolove.cgi
 * records as an unknown outcome (held until --replay with the default
 * unknown_outcome = hold); and when a later command of several fails, the
 * earlier ones ran: exit 0 with the failure on stderr.
 */
#include "console.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef GRANT_RCON_CONF
#define GRANT_RCON_CONF "/etc/mmolove/grant-rcon.conf"
#endif

#define RCON_AUTH		3
#define RCON_AUTH_RESPONSE	2
#define RCON_EXECCOMMAND	2
#define RCON_RESPONSE_VALUE	0
#define RCON_MAX_REQUEST	1446	/* Minecraft's request payload limit */
#define RCON_MAX_PACKET		(4 + 4 + 65536 + 2)
#define RCON_MAX_REPLY		(256 * 1024)

static int io_timeout_ms;

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v & 0xFF);
	p[1] = (unsigned char)((v >> 8) & 0xFF);
	p[2] = (unsigned char)((v >> 16) & 0xFF);
	p[3] = (unsigned char)((v >> 24) & 0xFF);
}

static int32_t
get32(const unsigned char *p)
{
	uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
	    (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;

	return (int32_t)v;	/* two's complement: id -1 */
}

static void
send_packet(int fd, int32_t id, int32_t type, const char *body)
{
	static unsigned char buf[4 + 4 + 4 + RCON_MAX_REQUEST + 2];
	size_t len = strlen(body);
	int err;

	if (len > RCON_MAX_REQUEST)	/* checked before: never */
		console_die(CONSOLE_CONFIG, "RCON request longer than %d "
		    "bytes", RCON_MAX_REQUEST);
	put32(buf, (uint32_t)(len + 10));
	put32(buf + 4, (uint32_t)id);
	put32(buf + 8, (uint32_t)type);
	memcpy(buf + 12, body, len);
	buf[12 + len] = buf[13 + len] = 0;
	err = console_send_all(fd, buf, len + 14,
	    console_now_ms() + io_timeout_ms);
	if (err == -1)
		console_lost("RCON server did not take the request in time");
	if (err != 0)
		console_lost("RCON send failed: %s", strerror(err));
}

static void
read_full(int fd, unsigned char *buf, size_t len, long deadline)
{
	size_t off = 0, n;
	int err;

	while (off < len) {
		err = console_recv(fd, buf + off, len - off, deadline, &n);
		if (err == -1)
			console_lost("RCON server did not answer in time");
		if (err != 0)
			console_lost("RCON receive failed: %s", strerror(err));
		if (n == 0)
			console_lost("RCON server closed the connection");
		off += n;
	}
}

struct packet {
	int32_t		 id, type;
	size_t		 len;		/* of the body */
	unsigned char	 body[RCON_MAX_PACKET];
};

static void
read_packet(int fd, struct packet *p)
{
	unsigned char head[4];
	int32_t size;
	long deadline = console_now_ms() + io_timeout_ms;

	read_full(fd, head, 4, deadline);
	size = get32(head);
	if (size < 10 || size > RCON_MAX_PACKET)
		console_lost("RCON protocol error: packet size %ld",
		    (long)size);
	read_full(fd, p->body, (size_t)size, deadline);
	p->id = get32(p->body);
	p->type = get32(p->body + 4);
	p->len = (size_t)size - 10;
	memmove(p->body, p->body + 8, p->len);
	p->body[p->len] = '\0';
	/* The body ends at its NUL (Source pads it with one more). */
	p->len = strnlen((char *)p->body, p->len);
}

static void
authenticate(int fd, const char *password)
{
	static struct packet p;

	send_packet(fd, 1, RCON_AUTH, password);
	for (;;) {
		read_packet(fd, &p);
		if (p.type == RCON_RESPONSE_VALUE && p.len == 0)
			continue;	/* Source's empty packet before */
		if (p.type != RCON_AUTH_RESPONSE)
			console_die(CONSOLE_TEMPFAIL, "RCON protocol error: "
			    "packet type %ld in answer to the login",
			    (long)p.type);
		if (p.id == -1)
			console_die(CONSOLE_CONFIG, "RCON login refused: wrong "
			    "password (setting password)");
		if (p.id != 1)
			console_die(CONSOLE_TEMPFAIL, "RCON protocol error: "
			    "login answer for id %ld", (long)p.id);
		return;
	}
}

/* Runs one command; its reply (all packets up to the sentinel's echo)
 * into reply, as raw bytes. */
static size_t
run_command(int fd, int32_t id, const char *command, unsigned char *reply)
{
	static struct packet p;
	size_t len = 0;

	send_packet(fd, id, RCON_EXECCOMMAND, command);
	console_sent(CONSOLE_SENT_COMMAND);
	/* An empty RESPONSE_VALUE after it: its echo ends the reply. */
	send_packet(fd, id + 1, RCON_RESPONSE_VALUE, "");
	for (;;) {
		read_packet(fd, &p);
		if (p.id == id + 1)
			break;
		if (p.id == -1)
			console_lost("RCON server says the session is not "
			    "logged in");
		if (p.id != id)
			continue;	/* a late packet of an earlier id */
		if (len + p.len > RCON_MAX_REPLY)
			console_lost("RCON reply longer than 256 KiB");
		memcpy(reply + len, p.body, p.len);
		len += p.len;
	}
	return len;
}

/* The password setting, checked. */
static const char *
password_setting(const struct console_conf *c)
{
	const char *password = console_conf_get(c, "password");

	if (password == NULL || *password == '\0')
		console_die(CONSOLE_CONFIG, "setting password is missing (the "
		    "server's rcon.password)");
	if (strlen(password) > RCON_MAX_REQUEST)
		console_die(CONSOLE_CONFIG, "setting password is longer than "
		    "%d bytes", RCON_MAX_REQUEST);
	return password;
}

/* Exits 78 when there is no command. */
static void
check_count(const struct console_conf *c)
{
	if (console_command(c, 0) == c->n)
		console_die(CONSOLE_CONFIG, "no command setting: e.g. "
		    "command = eco give {username} {reward}");
}

/* Every command, expanded with the vote's values, fits a request. */
static void
check_commands(const struct console_conf *c, char *argv[],
    const char *reward)
{
	static char over[CONSOLE_MAX_LINE * 4];
	size_t i;

	for (i = console_command(c, 0); i < c->n; i = console_command(c, i + 1))
		if (console_expand(c->value[i], argv[1], reward, argv[2], over,
		    sizeof(over)) == -1 || strlen(over) > RCON_MAX_REQUEST)
			console_die(CONSOLE_CONFIG, "the command on settings "
			    "line %d is longer than RCON's %d-byte limit with "
			    "this vote's values", c->line[i], RCON_MAX_REQUEST);
}

/* The session the commands run in. */
struct session {
	int				 fd;
	int32_t				 id;	/* the next command's */
	const struct console_replies	*replies;
};

/* console_run_fn: one command, its reply judged. */
static int
run_one(void *arg, const char *command, const char **text, const char **why)
{
	static unsigned char raw[RCON_MAX_REPLY + 1];
	static char shown[RCON_MAX_REPLY * 2 + 8];
	struct session *s = arg;
	size_t len;

	len = run_command(s->fd, s->id, command, raw);
	s->id += 2;
	console_reply_text(raw, len, shown, sizeof(shown));
	*text = shown;
	return console_reply_exit(s->replies, shown, why);
}

int
main(int argc, char *argv[])
{
	static const char *const known[] = {
		"host", "port", "password", "command", "connect_timeout",
		"io_timeout", "game", "name_rule", "reply_no_player",
		"reply_offline", "reply_error", "reply_ok", NULL
	};
	static struct console_conf c;
	static char reward[32];
	struct console_rule *rule;
	struct session s = { -1, 10, NULL };
	const char *host, *password;
	char port[16];

	console_begin("grant-rcon", argc);
	console_conf_read(&c, GRANT_RCON_CONF, known);
	rule = console_rule_new(&c);
	s.replies = console_replies_new(&c);
	host = console_conf_host(&c, 25575, port, sizeof(port));
	password = password_setting(&c);
	check_count(&c);
	io_timeout_ms = console_conf_ms(&c, "io_timeout", 10);

	/* The arguments, and every command, before anything is sent. */
	console_check_args(rule, argv, reward, sizeof(reward));
	check_commands(&c, argv, reward);

	s.fd = console_connect("RCON", host, port,
	    console_conf_ms(&c, "connect_timeout", 5));
	authenticate(s.fd, password);
	console_run_commands(&c, argv, reward, run_one, &s);
	(void)close(s.fd);
	return CONSOLE_OK;
}
