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

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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
static int sent_command;	/* a command may have run */

/* After a command may have run, an unknown outcome: see the top. */
static void
lost(const char *fmt, const char *detail)
{
	(void)fprintf(stderr, "%s: ", console_program);
	(void)fprintf(stderr, fmt, detail);
	if (!sent_command) {
		(void)fputc('\n', stderr);
		exit(CONSOLE_TEMPFAIL);
	}
	(void)fprintf(stderr, "; the command may have run: outcome unknown, "
	    "not retried (mmolove.cgi --replay after a look at the game)\n");
	(void)fflush(stderr);
	(void)signal(SIGTERM, SIG_DFL);
	(void)raise(SIGTERM);
	_exit(CONSOLE_TEMPFAIL);
}

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
	size_t len = strlen(body), off = 0;
	ssize_t n;
	long deadline = console_now_ms() + io_timeout_ms;

	put32(buf, (uint32_t)(len + 10));
	put32(buf + 4, (uint32_t)id);
	put32(buf + 8, (uint32_t)type);
	memcpy(buf + 12, body, len);
	buf[12 + len] = buf[13 + len] = 0;
	while (off < len + 14) {
		n = send(fd, buf + off, len + 14 - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
		} else if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
			if (console_wait_fd(fd, POLLOUT, deadline) == -1)
				lost("%s", "RCON server did not take the "
				    "request in time");
		} else {
			lost("RCON send failed: %s", strerror(errno));
		}
	}
}

static void
read_full(int fd, unsigned char *buf, size_t len, long deadline)
{
	size_t off = 0;
	ssize_t n;

	while (off < len) {
		n = recv(fd, buf + off, len - off, 0);
		if (n > 0) {
			off += (size_t)n;
		} else if (n == 0) {
			lost("%s", "RCON server closed the connection");
		} else if (errno == EAGAIN || errno == EINTR) {
			if (console_wait_fd(fd, POLLIN, deadline) == -1)
				lost("%s", "RCON server did not answer in time");
		} else {
			lost("RCON receive failed: %s", strerror(errno));
		}
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
	char detail[32];

	read_full(fd, head, 4, deadline);
	size = get32(head);
	if (size < 10 || size > RCON_MAX_PACKET) {
		(void)snprintf(detail, sizeof(detail), "%ld", (long)size);
		lost("RCON protocol error: packet size %s", detail);
	}
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
	sent_command = 1;
	/* An empty RESPONSE_VALUE after it: its echo ends the reply. */
	send_packet(fd, id + 1, RCON_RESPONSE_VALUE, "");
	for (;;) {
		read_packet(fd, &p);
		if (p.id == id + 1)
			break;
		if (p.id == -1)
			lost("%s", "RCON server says the session is not "
			    "logged in");
		if (p.id != id)
			continue;	/* a late packet of an earlier id */
		if (len + p.len > RCON_MAX_REPLY)
			lost("%s", "RCON reply longer than 256 KiB");
		memcpy(reply + len, p.body, p.len);
		len += p.len;
	}
	return len;
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
	static unsigned char raw[RCON_MAX_REPLY + 1];
	static char reward[32], cmd[RCON_MAX_REQUEST + 1],
	    text[RCON_MAX_REPLY * 2 + 8], over[CONSOLE_MAX_LINE * 4];
	struct console_rule *rule;
	struct console_replies *replies;
	const char *host, *password, *why;
	char port[16];
	size_t i, len, ncmd = 0, done = 0;
	int fd, code = CONSOLE_OK;
	int32_t id = 10;

	console_program = "grant-rcon";
	if (argc != 4)
		console_die(CONSOLE_REFUSED, "usage: grant-rcon <username> "
		    "<heart_id> <reward> (got %d arguments)", argc - 1);
	console_conf_read(&c, GRANT_RCON_CONF, known);
	rule = console_rule_new(&c);
	replies = console_replies_new(&c);
	host = console_conf_get(&c, "host");
	if (host == NULL || *host == '\0')
		host = "127.0.0.1";
	(void)snprintf(port, sizeof(port), "%ld",
	    console_conf_long(&c, "port", 25575, 1, 65535));
	password = console_conf_get(&c, "password");
	if (password == NULL || *password == '\0')
		console_die(CONSOLE_CONFIG, "setting password is missing (the "
		    "server's rcon.password)");
	if (strlen(password) > RCON_MAX_REQUEST)
		console_die(CONSOLE_CONFIG, "setting password is longer than "
		    "%d bytes", RCON_MAX_REQUEST);
	for (i = 0; i < c.n; i++)
		if (strcmp(c.key[i], "command") == 0 && *c.value[i] != '\0')
			ncmd++;
	if (ncmd == 0)
		console_die(CONSOLE_CONFIG, "no command setting: e.g. "
		    "command = eco give {username} {reward}");
	io_timeout_ms = (int)console_conf_long(&c, "io_timeout", 10, 1, 300) *
	    1000;

	/* The arguments, and every command, before anything is sent. */
	if (strlen(argv[3]) >= sizeof(reward))
		console_die(CONSOLE_REFUSED, "reward too large");
	(void)snprintf(reward, sizeof(reward), "%s", argv[3]);
	console_check_args(rule, argv[1], argv[2], reward, sizeof(reward));
	for (i = 0; i < c.n; i++) {
		if (strcmp(c.key[i], "command") != 0 || *c.value[i] == '\0')
			continue;
		if (console_expand(c.value[i], argv[1], reward, argv[2], over,
		    sizeof(over)) == -1 || strlen(over) > RCON_MAX_REQUEST)
			console_die(CONSOLE_CONFIG, "the command on settings "
			    "line %d is longer than RCON's %d-byte limit with "
			    "this vote's values", c.line[i], RCON_MAX_REQUEST);
	}

	fd = console_connect("RCON", host, port,
	    (int)console_conf_long(&c, "connect_timeout", 5, 1, 300) * 1000);
	authenticate(fd, password);
	for (i = 0; i < c.n; i++) {
		if (strcmp(c.key[i], "command") != 0 || *c.value[i] == '\0')
			continue;
		(void)console_expand(c.value[i], argv[1], reward, argv[2], cmd,
		    sizeof(cmd));
		len = run_command(fd, id, cmd, raw);
		id += 2;
		console_reply_text(raw, len, text, sizeof(text));
		code = console_reply_exit(replies, text, &why);
		if (code != CONSOLE_OK && done > 0) {
			(void)fprintf(stderr, "grant-rcon: command %zu of %zu "
			    "failed (%s): reply: %s; the commands before it "
			    "ran, so this vote is not retried\n", done + 1,
			    ncmd, why, text);
			code = CONSOLE_OK;
			break;
		}
		if (code != CONSOLE_OK)
			console_die(code, "%s: %s%s", why, text,
			    code == CONSOLE_REFUSED ? "" : " (retried later)");
		(void)printf("%s\n", text);
		done++;
	}
	(void)close(fd);
	return code;
}
