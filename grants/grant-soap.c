/*
 * grant-soap - a grant program for mmolove.cgi: runs the owner's console
 * commands through the SOAP interface of TrinityCore, AzerothCore and
 * MaNGOS world servers (`executeCommand`), e.g. `.send items` to mail the
 * reward.
 *
 *   grant-soap <username> <heart_id> <reward>
 *
 * Settings come from one file whose path `make install` compiles in
 * (GRANT_SOAP_CONF), mode 0600 or 0640: host, port, account, password,
 * namespace, one or more `command` templates, timeouts, the name rule and
 * reply patterns; see scripts/grant-soap.conf.example and grant-soap(8).
 * The username is checked against the rule before anything is sent (exit
 * 65 otherwise).
 *
 * The world server's side (AzerothCore ACSoap.cpp, TrinityCore
 * TCSoap.cpp, both on gSOAP): one POST per command, HTTP Basic auth with
 * a game account; 401 for a missing account or a wrong password, 403 when
 * the account's GM level is below 3 (SEC_ADMINISTRATOR); the command's
 * output as <result>, or a SOAP Fault whose faultstring is that output
 * when the command failed.  gSOAP checks the namespace before the
 * account, so a wrong one is a Fault "method name or namespace not
 * recognized" (exit 78 here).
 *
 * Exit: 0 every command ran; 65 refused for good (a name outside the rule,
 * reply_no_player); 75 temporary (server down, a Fault, reply_offline,
 * reply_error, HTTP 5xx, an answer that is not SOAP: its start goes to
 * stderr, which the handler logs); 78 misconfigured (settings, 401, 403,
 * the namespace).
 *
 * A console cannot tell a repeat.  So once a command may have run, nothing
 * reports "not granted": when its answer is lost (connection dropped,
 * timeout) or is a 2xx that is not SOAP, the program kills itself with
 * SIGTERM, which mmolove.cgi records as an unknown outcome (held until
 * --replay with the default unknown_outcome = hold); and when a later
 * command of several fails, the earlier ones ran: exit 0 with the failure
 * on stderr.
 */
#include "console.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#ifndef GRANT_SOAP_CONF
#define GRANT_SOAP_CONF "/etc/mmolove/grant-soap.conf"
#endif

#define SOAP_MAX_COMMAND	4096		/* bytes, after expansion */
#define SOAP_MAX_REQUEST	(SOAP_MAX_COMMAND * 6 + 2048)
#define SOAP_MAX_ANSWER		(256 * 1024)	/* headers and body */
#define SOAP_MAX_TEXT		(64 * 1024)	/* result text kept */
#define SOAP_NEEDED_LEVEL	3		/* SEC_ADMINISTRATOR */

/* The namespace setting: gSOAP's "ns1" URI in each core's stub. */
static const char *const namespaces[][2] = {
	{ "ac", "urn:AC" },		/* AzerothCore ACSoap.cpp */
	{ "tc", "urn:TC" },		/* TrinityCore TCSoap.cpp */
	{ "mangos", "urn:MaNGOS" },	/* MaNGOS, CMaNGOS */
};

/*
 * Never in a character name, whatever name_rule says: the console splits
 * its arguments on spaces and quotes a string with '"' (no escape inside),
 * and reads '|' as the start of a chat link or colour code.
 */
#define SOAP_UNSAFE_IN_NAME " \"'|"

struct soap {
	const char			*host, *port, *ns;
	/* HTTP Basic: "account:password" in base64 */
	char				 auth[(256 + 2) / 3 * 4 * 2 + 8];
	int				 connect_ms, io_ms;
	const struct console_replies	*replies;
};

struct answer {
	int		 status, whole;
	char		*body;
	size_t		 body_len;
};

/* RFC 4648 base64 of in[0..n) into out; -1 when it does not fit. */
static int
base64(const unsigned char *in, size_t n, char *out, size_t size)
{
	static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, o = 0;
	unsigned long v;

	if ((n + 2) / 3 * 4 + 1 > size)
		return -1;
	for (i = 0; i < n; i += 3) {
		v = (unsigned long)in[i] << 16;
		if (i + 1 < n)
			v |= (unsigned long)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = digits[(v >> 18) & 63];
		out[o++] = digits[(v >> 12) & 63];
		out[o++] = i + 1 < n ? digits[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? digits[v & 63] : '=';
	}
	out[o] = '\0';
	return 0;
}

/* in with & < > " ' as entities, appended at out[*o]; -1 when full. */
static int
xml_escape(const char *in, char *out, size_t size, size_t *o)
{
	static const char *const ent[][2] = {
		{ "&", "&amp;" }, { "<", "&lt;" }, { ">", "&gt;" },
		{ "\"", "&quot;" }, { "'", "&apos;" },
	};
	const char *add;
	char one[2] = { 0, 0 };
	size_t i, len;

	for (; *in != '\0'; in++) {
		one[0] = *in;
		add = one;
		for (i = 0; i < sizeof(ent) / sizeof(ent[0]); i++)
			if (*in == ent[i][0][0])
				add = ent[i][1];
		len = strlen(add);
		if (*o + len >= size)
			return -1;
		memcpy(out + *o, add, len);
		*o += len;
	}
	out[*o] = '\0';
	return 0;
}

/* Appends the formatted text at out[*o]; -1 when it does not fit. */
static int
append(char *out, size_t size, size_t *o, const char *fmt, const char *a,
    const char *b)
{
	int n = snprintf(out + *o, size - *o, fmt, a, b);

	if (n < 0 || (size_t)n >= size - *o)
		return -1;
	*o += (size_t)n;
	return 0;
}

/* The SOAP 1.1 envelope for command, as gSOAP's clients send it. */
static int
envelope(const struct soap *s, const char *command, char *out, size_t size)
{
	size_t o = 0;

	if (append(out, size, &o, "%s%s", "<?xml version=\"1.0\" "
	    "encoding=\"utf-8\"?>\n<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"http://"
	    "schemas.xmlsoap.org/soap/envelope/\" xmlns:SOAP-ENC=\"http://"
	    "schemas.xmlsoap.org/soap/encoding/\" xmlns:xsi=\"http://www.w3."
	    "org/1999/XMLSchema-instance\" xmlns:xsd=\"http://www.w3.org/1999/"
	    "XMLSchema\" ", "xmlns:ns1=\"") == -1 ||
	    append(out, size, &o, "%s%s", s->ns, "\"><SOAP-ENV:Body>"
	    "<ns1:executeCommand><command>") == -1 ||
	    xml_escape(command, out, size, &o) == -1 ||
	    append(out, size, &o, "%s%s", "</command></ns1:executeCommand>",
	    "</SOAP-ENV:Body></SOAP-ENV:Envelope>\n") == -1)
		return -1;
	return (int)o;
}

/* The whole HTTP request; its length, or -1 when it does not fit. */
static int
request(const struct soap *s, const char *command, char *out, size_t size)
{
	static char body[SOAP_MAX_REQUEST];
	char len[24], hostport[300];
	size_t o = 0;
	int n;

	if ((n = envelope(s, command, body, sizeof(body))) == -1)
		return -1;
	(void)snprintf(len, sizeof(len), "%d", n);
	(void)snprintf(hostport, sizeof(hostport), strchr(s->host, ':') ?
	    "[%s]:%s" : "%s:%s", s->host, s->port);
	if (append(out, size, &o, "POST / HTTP/1.1\r\nHost: %s\r\n"
	    "Authorization: Basic %s\r\n", hostport, s->auth) == -1 ||
	    append(out, size, &o, "Content-Type: text/xml; charset=utf-8\r\n"
	    "Content-Length: %s\r\nSOAPAction: \"%s#executeCommand\"\r\n",
	    len, s->ns) == -1 ||
	    append(out, size, &o, "%s%s", "Connection: close\r\n\r\n", body) ==
	    -1)
		return -1;
	return (int)o;
}

/* The request, before it counts as sent: a failure is 75, not sent. */
static void
send_request(int fd, const char *buf, size_t len, long deadline)
{
	int err = console_send_all(fd, buf, len, deadline);

	if (err == -1)
		console_die(CONSOLE_TEMPFAIL, "SOAP server did not take the "
		    "request in time; not sent");
	if (err != 0)
		console_die(CONSOLE_TEMPFAIL, "SOAP send failed: %s; not sent",
		    strerror(err));
}

/* The value of header name (case-insensitive) in the header block. */
static const char *
header(const char *head, const char *name)
{
	size_t n = strlen(name);
	const char *p;

	for (p = strchr(head, '\n'); p != NULL; p = strchr(p, '\n')) {
		p++;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			for (p += n + 1; *p == ' ' || *p == '\t'; p++)
				;
			return p;
		}
	}
	return NULL;
}

/* Where the header block of buf ends (the body starts), or NULL. */
static char *
head_end(char *buf)
{
	char *p = strstr(buf, "\r\n\r\n");

	if (p != NULL)
		return p + 4;
	return (p = strstr(buf, "\n\n")) != NULL ? p + 2 : NULL;
}

/* 1 when the answer in buf[0..len) is whole by its Content-Length. */
static int
complete(char *buf, size_t len)
{
	char *body = head_end(buf), *end;
	const char *cl;
	unsigned long n;

	if (body == NULL)
		return 0;
	body[-1] = '\0';
	cl = header(buf, "Content-Length");
	n = cl != NULL ? strtoul(cl, &end, 10) : 0;
	body[-1] = '\n';
	return cl != NULL && end != cl && (size_t)(body - buf) + n <= len;
}

/* Reads the answer until the server closes or its Content-Length is in;
 * NUL-terminated. */
static size_t
read_answer(int fd, char *buf, size_t size, long deadline)
{
	size_t len = 0, n;
	int err;

	for (;;) {
		err = console_recv(fd, buf + len, size - 1 - len, deadline, &n);
		if (err == -1)
			console_lost("SOAP server did not answer in time");
		if (err != 0)
			console_lost("SOAP receive failed: %s", strerror(err));
		if (n == 0)
			return len;
		len += n;
		buf[len] = '\0';
		if (complete(buf, len))
			return len;
		if (len == size - 1)
			console_lost("SOAP answer longer than 256 KiB");
	}
}

/* Joins a chunked body in place; its new length, or -1 when malformed. */
static long
unchunk(char *body, size_t len)
{
	size_t in = 0, out = 0;
	unsigned long n;
	char *end;

	for (;;) {
		n = strtoul(body + in, &end, 16);
		if (end == body + in || (end = strstr(end, "\r\n")) == NULL)
			return -1;
		in = (size_t)(end - body) + 2;
		if (n == 0)
			return (long)out;
		if (n > len - in || len - in - n < 2)
			return -1;
		memmove(body + out, body + in, n);
		out += n;
		in += n + 2;
	}
}

/*
 * The status line, headers and body of buf: -1 when it does not start as
 * HTTP; a->whole is 0 when the headers or the body were cut short.
 */
static int
parse_answer(char *buf, size_t len, struct answer *a)
{
	char *body;
	const char *cl, *te;
	unsigned long n;
	long joined;

	if (sscanf(buf, "HTTP/1.%*1[01] %3d", &a->status) != 1)
		return -1;
	a->whole = 0;
	a->body = buf + len;
	a->body_len = 0;
	if ((body = head_end(buf)) == NULL)
		return 0;
	body[-1] = '\0';
	cl = header(buf, "Content-Length");
	te = header(buf, "Transfer-Encoding");
	a->body = body;
	a->body_len = len - (size_t)(body - buf);
	if (te != NULL && strncasecmp(te, "chunked", 7) == 0) {
		if ((joined = unchunk(body, a->body_len)) == -1)
			return 0;
		a->body_len = (size_t)joined;
	} else if (cl != NULL) {
		if ((n = strtoul(cl, NULL, 10)) > a->body_len)
			return 0;
		a->body_len = n;
	}
	a->body[a->body_len] = '\0';
	a->whole = 1;
	return 0;
}

/* The UTF-8 of code point cp at out[*o]; -1 when not a character. */
static int
put_utf8(unsigned long cp, char *out, size_t size, size_t *o)
{
	if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) ||
	    *o + 4 >= size)
		return -1;
	if (cp < 0x80) {
		out[(*o)++] = (char)cp;
	} else if (cp < 0x800) {
		out[(*o)++] = (char)(0xC0 | (cp >> 6));
		out[(*o)++] = (char)(0x80 | (cp & 0x3F));
	} else if (cp < 0x10000) {
		out[(*o)++] = (char)(0xE0 | (cp >> 12));
		out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[(*o)++] = (char)(0x80 | (cp & 0x3F));
	} else {
		out[(*o)++] = (char)(0xF0 | (cp >> 18));
		out[(*o)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
		out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[(*o)++] = (char)(0x80 | (cp & 0x3F));
	}
	return 0;
}

/* The entity at in ('&'...';') decoded at out[*o]; its length, or 0. */
static size_t
entity(const char *in, char *out, size_t size, size_t *o)
{
	static const char *const named[][2] = {
		{ "&lt;", "<" }, { "&gt;", ">" }, { "&amp;", "&" },
		{ "&quot;", "\"" }, { "&apos;", "'" },
	};
	const char *semi = strchr(in, ';');
	unsigned long cp;
	char *end;
	size_t i;

	for (i = 0; i < sizeof(named) / sizeof(named[0]); i++)
		if (strncmp(in, named[i][0], strlen(named[i][0])) == 0)
			return put_utf8((unsigned char)named[i][1][0], out,
			    size, o) == 0 ? strlen(named[i][0]) : 0;
	if (semi == NULL || in[1] != '#')
		return 0;
	if (in[2] == 'x' || in[2] == 'X')
		cp = strtoul(in + 3, &end, 16);
	else
		cp = strtoul(in + 2, &end, 10);
	if (end != semi || end == in + 2 || put_utf8(cp, out, size, o) == -1)
		return 0;
	return (size_t)(semi - in) + 1;
}

/* XML character data in[0..n) unescaped into out; -1 when malformed. */
static int
xml_unescape(const char *in, size_t n, char *out, size_t size)
{
	size_t i = 0, o = 0, used;

	while (i < n && o + 5 < size) {
		if (in[i] == '<')
			return -1;
		if (in[i] != '&') {
			out[o++] = in[i++];
			continue;
		}
		if ((used = entity(in + i, out, size, &o)) == 0)
			return -1;
		i += used;
	}
	out[o] = '\0';
	return 0;
}

/*
 * The first element whose local name is name (any prefix): where its
 * content starts, "" for an empty element (<result/>), or NULL.
 */
static const char *
find_element(const char *body, const char *name)
{
	const char *p = body, *q, *start;
	size_t n = strlen(name);

	while ((p = strchr(p, '<')) != NULL) {
		q = ++p;
		while (*q != '\0' && strchr(" \t\r\n/>:", *q) == NULL)
			q++;
		if (*q == ':')
			p = q + 1;
		if (strncmp(p, name, n) != 0 || p[n] == '\0' ||
		    strchr(" \t\r\n/>", p[n]) == NULL)
			continue;
		if ((start = strchr(p, '>')) == NULL)
			return NULL;
		return start[-1] == '/' ? "" : start + 1;
	}
	return NULL;
}

/* The text of that element, unescaped into out: 1, or 0 when there is
 * none, -1 when malformed. */
static int
element_text(const char *body, const char *name, char *out, size_t size)
{
	const char *start = find_element(body, name), *end;

	if (start == NULL)
		return 0;
	out[0] = '\0';
	if (*start == '\0')
		return 1;
	if ((end = strstr(start, "</")) == NULL)
		return -1;
	return xml_unescape(start, (size_t)(end - start), out, size) == 0 ?
	    1 : -1;
}

/* The element's text as a reply to log and match: colour codes and
 * control characters dropped (console_reply_text), trailing blanks cut. */
static int
reply_of(const char *body, const char *name, char *text, size_t size)
{
	static char raw[SOAP_MAX_TEXT + 8];
	size_t n;
	int rc;

	if ((rc = element_text(body, name, raw, sizeof(raw))) != 1)
		return rc;
	console_reply_text((const unsigned char *)raw, strlen(raw), text,
	    size);
	for (n = strlen(text); n > 0 && text[n - 1] == ' '; n--)
		text[n - 1] = '\0';
	return 1;
}

/* The start of an answer that is not SOAP, printable, for the log. */
static const char *
excerpt(const char *buf, size_t len, char *out, size_t size)
{
	console_reply_text((const unsigned char *)buf, len < 200 ? len : 200,
	    out, size);
	return out;
}

/* What a Fault means: 78 for the namespace, else the patterns, else 75. */
static int
fault_exit(const struct console_replies *p, const char *text,
    const char **why)
{
	int code;

	if (strstr(text, "method name or namespace not recognized") != NULL) {
		*why = "the server does not know executeCommand in this "
		    "namespace (setting namespace)";
		return CONSOLE_CONFIG;
	}
	code = console_reply_exit(p, text, why);
	if (code == CONSOLE_OK || strcmp(*why, "not reply_ok") == 0) {
		*why = "the command failed (SOAP Fault)";
		code = CONSOLE_TEMPFAIL;
	}
	return code;
}

/* 401 and 403: ACSoap's and TCSoap's account checks, before any command
 * runs. */
static const char *
auth_problem(int status)
{
	if (status == 401)
		return "HTTP 401: wrong SOAP account or password (settings "
		    "account, password)";
	if (status == 403)
		return "HTTP 403: the account's GM level is too low: needs 3 "
		    "(account set gmlevel <account> 3 -1)";
	return NULL;
}

/*
 * What the answer means, its text in text: 0, 65, 75 or 78 and why.  Not
 * HTTP at all is 75 (no SOAP server is there).  An answer with no result
 * and no Fault is 75, except a 2xx one, or a 2xx cut short: gSOAP sends
 * 200 only after the command ran, so those are lost().
 */
static int
judge(const struct console_replies *p, char *buf, size_t len, char *text,
    size_t size, const char **why)
{
	struct answer a;
	char ex[1024];
	int ok;

	text[0] = '\0';
	if (parse_answer(buf, len, &a) == -1)
		console_die(CONSOLE_TEMPFAIL, "not an HTTP answer from the SOAP "
		    "server: '%s'", excerpt(buf, len, ex, sizeof(ex)));
	ok = a.status >= 200 && a.status < 300;
	if ((*why = auth_problem(a.status)) != NULL)
		return CONSOLE_CONFIG;
	if (a.whole && find_element(a.body, "Fault") != NULL &&
	    (reply_of(a.body, "faultstring", text, size) == 1 ||
	    reply_of(a.body, "detail", text, size) == 1))
		return fault_exit(p, text, why);
	if (a.whole && ok && reply_of(a.body, "result", text, size) == 1)
		return console_reply_exit(p, text, why);
	(void)snprintf(text, size, "HTTP %d%s: %s", a.status, a.whole ? "" :
	    " cut short", excerpt(a.body, a.body_len, ex, sizeof(ex)));
	if (ok)
		console_lost("SOAP answer without a result: %s", text);
	*why = a.status >= 500 ? "SOAP server error" : "not a SOAP answer";
	return CONSOLE_TEMPFAIL;
}

/* One command: its answer's exit code, the reply text in text. */
static int
run_command(const struct soap *s, const struct console_replies *p,
    const char *command, char *text, size_t size, const char **why)
{
	static char req[SOAP_MAX_REQUEST + 1024], buf[SOAP_MAX_ANSWER + 1];
	size_t len;
	long deadline;
	int fd, n;

	if ((n = request(s, command, req, sizeof(req))) == -1)
		console_die(CONSOLE_CONFIG, "the SOAP request is longer than "
		    "%d bytes", SOAP_MAX_REQUEST);
	fd = console_connect("SOAP", s->host, s->port, s->connect_ms);
	deadline = console_now_ms() + s->io_ms;
	send_request(fd, req, (size_t)n, deadline);
	explicit_bzero(req, sizeof(req));	/* it holds the password */
	console_sent(CONSOLE_SENT_COMMAND);
	if ((len = read_answer(fd, buf, sizeof(buf), deadline)) == 0)
		console_lost("SOAP server closed the connection without an "
		    "answer");
	(void)close(fd);
	return judge(p, buf, len, text, size, why);
}

/* The settings' namespace URI: ac, tc, mangos, or an urn: of a fork. */
static const char *
namespace_uri(const struct console_conf *c)
{
	const char *v = console_conf_get(c, "namespace");
	size_t i;

	if (v == NULL || *v == '\0')
		v = "ac";
	for (i = 0; i < sizeof(namespaces) / sizeof(namespaces[0]); i++)
		if (strcmp(v, namespaces[i][0]) == 0)
			return namespaces[i][1];
	if (strncmp(v, "urn:", 4) == 0 && strlen(v) < 128 &&
	    strpbrk(v, "\"<>&' ") == NULL)
		return v;
	console_die(CONSOLE_CONFIG, "setting namespace = '%.64s': want ac "
	    "(AzerothCore), tc (TrinityCore), mangos, or a fork's urn:...", v);
}

/* Connection and account settings; the password is wiped once encoded. */
static void
soap_settings(const struct console_conf *c, struct soap *s, char *port,
    size_t port_size)
{
	static char cred[600];
	const char *account = console_conf_get(c, "account");
	char *password = (char *)console_conf_get(c, "password");

	s->host = console_conf_host(c, 7878, port, port_size);
	s->port = port;
	s->ns = namespace_uri(c);
	s->connect_ms = console_conf_ms(c, "connect_timeout", 5);
	s->io_ms = console_conf_ms(c, "io_timeout", 10);
	if (account == NULL || *account == '\0' || strchr(account, ':'))
		console_die(CONSOLE_CONFIG, "setting account is missing or "
		    "holds ':' (a game account of GM level 3)");
	if (password == NULL || *password == '\0')
		console_die(CONSOLE_CONFIG, "setting password is missing (the "
		    "game account's password)");
	if (strlen(account) + strlen(password) > 256)
		console_die(CONSOLE_CONFIG, "settings account and password are "
		    "longer than 256 bytes together");
	(void)snprintf(cred, sizeof(cred), "%s:%s", account, password);
	(void)base64((const unsigned char *)cred, strlen(cred), s->auth,
	    sizeof(s->auth));
	explicit_bzero(cred, sizeof(cred));
	explicit_bzero(password, strlen(password));
}

/* The arguments, and every command expanded, before anything is
 * sent. */
static void
check_all(const struct console_conf *c, const struct console_rule *rule,
    char *argv[], char *reward, size_t reward_size)
{
	static char over[CONSOLE_MAX_LINE * 4];
	size_t i, ncmd = 0;

	console_check_args(rule, argv, reward, reward_size);
	if (strpbrk(argv[1], SOAP_UNSAFE_IN_NAME) != NULL)
		console_die(CONSOLE_REFUSED, "a character name never holds a "
		    "space, quote or '|' (the console would split or link "
		    "it); nothing sent");
	for (i = console_command(c, 0); i < c->n;
	    i = console_command(c, i + 1)) {
		if (console_expand(c->value[i], argv[1], reward, argv[2],
		    over, sizeof(over)) == -1 ||
		    strlen(over) > SOAP_MAX_COMMAND)
			console_die(CONSOLE_CONFIG, "the command on settings "
			    "line %d is longer than %d bytes with this vote's "
			    "values", c->line[i], SOAP_MAX_COMMAND);
		ncmd++;
	}
	if (ncmd == 0)
		console_die(CONSOLE_CONFIG, "no command setting: e.g. command = "
		    ".send items {username} \"Vote reward\" \"Thanks!\" "
		    "49426:{reward}");
}

/* console_run_fn: one command, one request. */
static int
run_one(void *arg, const char *command, const char **text, const char **why)
{
	static char shown[SOAP_MAX_TEXT * 2 + 8];
	const struct soap *s = arg;

	*text = shown;
	return run_command(s, s->replies, command, shown, sizeof(shown), why);
}

int
main(int argc, char *argv[])
{
	static const char *const known[] = {
		"host", "port", "account", "password", "namespace", "command",
		"connect_timeout", "io_timeout", "game", "name_rule",
		"reply_no_player", "reply_offline", "reply_error", "reply_ok",
		NULL
	};
	static struct console_conf c;
	static char reward[32];
	struct console_rule *rule;
	struct soap s;
	char port[16];

	console_begin("grant-soap", argc);
	console_conf_read(&c, GRANT_SOAP_CONF, known);
	s.replies = console_replies_new(&c);
	soap_settings(&c, &s, port, sizeof(port));
	rule = console_rule_new(&c);
	check_all(&c, rule, argv, reward, sizeof(reward));

	console_run_commands(&c, argv, reward, run_one, &s);
	explicit_bzero(s.auth, sizeof(s.auth));
	return CONSOLE_OK;
}
