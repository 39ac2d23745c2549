/* console.c - see console.h. */
#include "console.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *console_program = "grant";

void
console_die(int code, const char *fmt, ...)
{
	va_list ap;

	(void)fprintf(stderr, "%s: ", console_program);
	va_start(ap, fmt);
	(void)vfprintf(stderr, fmt, ap);
	va_end(ap);
	(void)fputc('\n', stderr);
	exit(code);
}

void
console_begin(const char *program, int argc)
{
	console_program = program;
	if (argc != 4)
		console_die(CONSOLE_REFUSED, "usage: %s <username> <heart_id> "
		    "<reward> (got %d arguments)", program, argc - 1);
}

static char *
dup_or_die(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p == NULL)
		console_die(CONSOLE_TEMPFAIL, "out of memory");
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static int
is_blank(int ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

void
console_conf_read(struct console_conf *c, const char *path,
    const char *const *known)
{
	struct stat st;
	char line[CONSOLE_MAX_LINE + 2];
	FILE *f;
	int fd, lineno = 0;
	unsigned mode;

	memset(c, 0, sizeof(*c));
	if (path[0] != '/')
		console_die(CONSOLE_CONFIG, "settings file path must be "
		    "absolute, not '%s'", path);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1)
		console_die(CONSOLE_CONFIG, "settings file %s: %s", path,
		    errno == ELOOP ? "is a symbolic link" : strerror(errno));
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))
		console_die(CONSOLE_CONFIG, "settings file %s is not a "
		    "regular file", path);
	mode = (unsigned)st.st_mode & 07777;
	if (mode != 0600 && mode != 0640 && mode != 0400 && mode != 0440)
		console_die(CONSOLE_CONFIG, "settings file %s has mode %o; it "
		    "holds a password: chmod 0600 (or 0640) it", path, mode);
	if ((f = fdopen(fd, "r")) == NULL)
		console_die(CONSOLE_CONFIG, "settings file %s: %s", path,
		    strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		char *k, *v, *end, *eq;
		size_t len = strlen(line), i;

		lineno++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		else if (len > CONSOLE_MAX_LINE)
			console_die(CONSOLE_CONFIG, "%s line %d: longer than "
			    "%d bytes", path, lineno, CONSOLE_MAX_LINE);
		if (strlen(line) != len)
			console_die(CONSOLE_CONFIG, "%s line %d: a NUL byte",
			    path, lineno);
		for (k = line; is_blank(*k); k++)
			;
		if (*k == '\0' || *k == '#')
			continue;
		if ((eq = strchr(k, '=')) == NULL)
			console_die(CONSOLE_CONFIG, "%s line %d: not "
			    "'key = value'", path, lineno);
		for (end = eq; end > k && is_blank(end[-1]); end--)
			;
		*end = '\0';
		for (v = eq + 1; is_blank(*v); v++)
			;
		for (end = v + strlen(v); end > v && is_blank(end[-1]); end--)
			;
		*end = '\0';
		for (i = 0; known[i] != NULL && strcmp(known[i], k) != 0; i++)
			;
		if (known[i] == NULL)
			console_die(CONSOLE_CONFIG, "%s line %d: unknown setting "
			    "'%.64s'", path, lineno, k);
		if (strcmp(k, "command") != 0 &&
		    console_conf_get(c, k) != NULL)
			console_die(CONSOLE_CONFIG, "%s line %d: '%s' is set "
			    "twice", path, lineno, k);
		if (c->n == CONSOLE_MAX_SETTINGS)
			console_die(CONSOLE_CONFIG, "%s: more than %d settings",
			    path, CONSOLE_MAX_SETTINGS);
		c->key[c->n] = dup_or_die(k, strlen(k));
		c->value[c->n] = dup_or_die(v, strlen(v));
		c->line[c->n] = lineno;
		c->n++;
	}
	if (ferror(f))
		console_die(CONSOLE_CONFIG, "settings file %s: read error",
		    path);
	(void)fclose(f);
}

const char *
console_conf_get(const struct console_conf *c, const char *key)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (strcmp(c->key[i], key) == 0)
			return c->value[i];
	return NULL;
}

long
console_conf_long(const struct console_conf *c, const char *key, long dflt,
    long min, long max)
{
	const char *v = console_conf_get(c, key);
	char *end;
	long n;

	if (v == NULL || *v == '\0')
		return dflt;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || v[0] < '0' || v[0] > '9' ||
	    n < min || n > max)
		console_die(CONSOLE_CONFIG, "setting %s = '%.64s': want a "
		    "whole number from %ld to %ld", key, v, min, max);
	return n;
}

const char *
console_conf_host(const struct console_conf *c, long dflt, char *port,
    size_t port_size)
{
	const char *host = console_conf_get(c, "host");

	(void)snprintf(port, port_size, "%ld",
	    console_conf_long(c, "port", dflt, 1, 65535));
	return host == NULL || *host == '\0' ? "127.0.0.1" : host;
}

int
console_conf_ms(const struct console_conf *c, const char *key, long dflt)
{
	return (int)console_conf_long(c, key, dflt, 1, 300) * 1000;
}

/* ---- the username rule ---------------------------------------------- */

enum rule_kind { RULE_ERE, RULE_MINECRAFT, RULE_WOW };

struct console_rule {
	enum rule_kind	 kind;
	regex_t		 re;
};

/* Reply defaults by game; NULL: none. */
static const char *const minecraft_replies[4] = {
	"no player was found|player not found|unknown player",
	"player (is )?(not online|offline)|is not online",
	"unknown (or incomplete )?command|incorrect argument|"
	    "expected (whitespace|integer)|<--\\[here\\]",
	NULL
};
/*
 * AzerothCore's and TrinityCore's wordings: the command parser's
 * LANG_CMDPARSER_CHAR_NAME_NO_EXIST "Character '%.*s' does not exist."
 * and LANG_CMDPARSER_CHAR_NAME_INVALID "'%.*s' is not a valid character
 * name." (acore_string 1508, 1509), older cores' LANG_PLAYER_NOT_FOUND
 * "Player not found!".  No offline pattern: `.send` mails reach offline
 * characters.  A SOAP Fault is a failed command whatever its text.
 */
static const char *const wow_replies[4] = {
	"character '[^']*' does not exist|is not a valid character name|"
	    "player not found",
	NULL, NULL, NULL
};

static const struct {
	const char		*name;
	enum rule_kind		 kind;
	const char *const	*replies;
} games[] = {
	{ "minecraft", RULE_MINECRAFT, minecraft_replies },
	{ "wow", RULE_WOW, wow_replies },
};

/* The games[] row of the settings' game, or -1 when none is set. */
static int
game_index(const struct console_conf *c)
{
	const char *game = console_conf_get(c, "game");
	size_t i;

	if (game == NULL || *game == '\0')
		return -1;
	for (i = 0; i < sizeof(games) / sizeof(games[0]); i++)
		if (strcmp(game, games[i].name) == 0)
			return (int)i;
	console_die(CONSOLE_CONFIG, "setting game = '%.64s': known are "
	    "'minecraft' and 'wow'; for another game set name_rule", game);
}

static regex_t *
compile_or_die(regex_t *re, const char *key, const char *pattern,
    int flags, int anchored)
{
	char buf[CONSOLE_MAX_LINE + 8], err[256];
	int rc;

	if (anchored)
		(void)snprintf(buf, sizeof(buf), "^(%s)$", pattern);
	else
		(void)snprintf(buf, sizeof(buf), "%s", pattern);
	if ((rc = regcomp(re, buf, REG_EXTENDED | REG_NOSUB | flags)) != 0) {
		(void)regerror(rc, re, err, sizeof(err));
		console_die(CONSOLE_CONFIG, "setting %s = '%.64s': not a POSIX "
		    "extended regular expression: %s", key, pattern, err);
	}
	return re;
}

struct console_rule *
console_rule_new(const struct console_conf *c)
{
	struct console_rule *r = calloc(1, sizeof(*r));
	const char *rule = console_conf_get(c, "name_rule");
	int game = game_index(c);

	if (r == NULL)
		console_die(CONSOLE_TEMPFAIL, "out of memory");
	if (rule != NULL && *rule != '\0') {
		if (game != -1)
			console_die(CONSOLE_CONFIG, "set game or name_rule, "
			    "not both");
		r->kind = RULE_ERE;
		(void)compile_or_die(&r->re, "name_rule", rule, 0, 1);
	} else if (game != -1) {
		r->kind = games[game].kind;
	} else {
		console_die(CONSOLE_CONFIG, "no username rule: set "
		    "game = minecraft or wow, or name_rule = <POSIX extended "
		    "regular expression the whole name must match>");
	}
	return r;
}

/* Length of the UTF-8 sequence at s (of n bytes), its code point in *cp;
 * 0 when it is not well-formed (overlong, surrogate, > U+10FFFF). */
static size_t
utf8_seq(const unsigned char *s, size_t n, unsigned long *cp)
{
	size_t len, i;
	unsigned long c, min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	} else if ((s[0] & 0xE0) == 0xC0) {
		len = 2, c = s[0] & 0x1Fu, min = 0x80;
	} else if ((s[0] & 0xF0) == 0xE0) {
		len = 3, c = s[0] & 0x0Fu, min = 0x800;
	} else if ((s[0] & 0xF8) == 0xF0) {
		len = 4, c = s[0] & 0x07u, min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3Fu);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return len;
}

/*
 * The letters TrinityCore and AzerothCore accept in a character name with
 * their defaults (ObjectMgr::CheckPlayerName, StrictPlayerNames = 0:
 * isValidString takes a name whose letters are all of one script), from
 * their Util.h: basic and extended Latin (isExtendedLatinCharacter),
 * Cyrillic, Korean and Chinese (Korean's half-width forms left out: they
 * hold full-width punctuation).  Column 0 is the script.
 */
static const unsigned long wow_letters[][3] = {
	{ 0, 'A', 'Z' }, { 0, 'a', 'z' }, { 0, 0xC0, 0xD6 }, { 0, 0xD8, 0xDE },
	{ 0, 0xDF, 0xDF }, { 0, 0xE0, 0xF6 }, { 0, 0xF8, 0xFE },
	{ 0, 0x100, 0x12F }, { 0, 0x1E9E, 0x1E9E },
	{ 1, 0x410, 0x44F }, { 1, 0x401, 0x401 }, { 1, 0x451, 0x451 },
	{ 2, 0x1100, 0x11F9 }, { 2, 0x3131, 0x318E }, { 2, 0xAC00, 0xD7A3 },
	{ 3, 0x4E00, 0x9FFF }, { 3, 0x3400, 0x4DBF }, { 3, 0x3100, 0x312C },
	{ 3, 0xF900, 0xFAFF },
};

/* The script of a letter of wow_letters, or -1. */
static long
wow_script(unsigned long cp)
{
	size_t i;

	for (i = 0; i < sizeof(wow_letters) / sizeof(wow_letters[0]); i++)
		if (cp >= wow_letters[i][1] && cp <= wow_letters[i][2])
			return (long)wow_letters[i][0];
	return -1;
}

/* MAX_PLAYER_NAME 12 characters, MinPlayerName's default 2, letters of
 * one script (well-formed UTF-8 checked by the caller). */
static const char *
wow_name_problem(const unsigned char *s, size_t n)
{
	size_t i, len, chars = 0;
	unsigned long cp;
	long script = -1, sc;

	for (i = 0; i < n; i += len, chars++) {
		len = utf8_seq(s + i, n - i, &cp);
		if ((sc = wow_script(cp)) == -1)
			return "not a WoW character name: letters only";
		if (script != -1 && sc != script)
			return "not a WoW character name: letters of one "
			    "script";
		script = sc;
	}
	if (chars < 2 || chars > 12)
		return "not a WoW character name: 2 to 12 letters";
	return NULL;
}

const char *
console_name_problem(const struct console_rule *r, const char *name)
{
	const unsigned char *s = (const unsigned char *)name;
	size_t n = strlen(name), i, len;
	unsigned long cp;

	if (n == 0)
		return "empty username";
	if (n > CONSOLE_MAX_NAME)
		return "username longer than 128 bytes";
	for (i = 0; i < n; i += len) {
		if ((len = utf8_seq(s + i, n - i, &cp)) == 0)
			return "username is not valid UTF-8";
		if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
			return "username holds a control character";
		if (cp == 0xA7)
			return "username holds the colour code sign U+00A7";
	}
	if (r->kind == RULE_WOW)
		return wow_name_problem(s, n);
	if (r->kind == RULE_MINECRAFT) {
		if (n < 3 || n > 16)
			return "not a Minecraft name: 3 to 16 characters";
		for (i = 0; i < n; i++)
			if (!((s[i] >= 'a' && s[i] <= 'z') ||
			    (s[i] >= 'A' && s[i] <= 'Z') ||
			    (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
				return "not a Minecraft name: only letters, "
				    "digits and _";
		return NULL;
	}
	if (regexec(&r->re, name, 0, NULL, 0) != 0)
		return "username does not match name_rule";
	return NULL;
}

/* Printable form of an argument for messages: at most 64 bytes, control
 * and non-ASCII bytes as '?'. */
static const char *
shown(const char *s, char *buf, size_t size)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < size && i < 64; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7F) ? s[i] : '?';
	buf[i] = '\0';
	return buf;
}

void
console_check_args(const struct console_rule *r, char *const argv[],
    char *reward, size_t reward_size)
{
	const char *why, *user = argv[1], *heart_id = argv[2];
	char buf[80];
	size_t i, n;

	if (strlen(argv[3]) >= reward_size)
		console_die(CONSOLE_REFUSED, "reward too large");
	(void)snprintf(reward, reward_size, "%s", argv[3]);
	if ((why = console_name_problem(r, user)) != NULL)
		console_die(CONSOLE_REFUSED, "%s: '%s'; nothing sent", why,
		    shown(user, buf, sizeof(buf)));
	n = strlen(heart_id);
	if (n == 0 || n > 128 || strspn(heart_id, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-") != n)
		console_die(CONSOLE_REFUSED, "heart_id '%s' is not "
		    "[A-Za-z0-9_.:-]{1,128}; nothing sent",
		    shown(heart_id, buf, sizeof(buf)));
	n = strlen(reward);
	if (n == 0 || strspn(reward, "0123456789") != n)
		console_die(CONSOLE_REFUSED, "reward must be a non-negative "
		    "decimal integer, not '%s'", shown(reward, buf,
		    sizeof(buf)));
	for (i = 0; i + 1 < n && reward[i] == '0'; i++)
		;
	memmove(reward, reward + i, n - i + 1);
	if (n - i > 18 || n - i + 1 > reward_size)
		console_die(CONSOLE_REFUSED, "reward too large: %s", reward);
}

int
console_expand(const char *tmpl, const char *user, const char *reward,
    const char *heart_id, char *out, size_t out_size)
{
	static const char *const names[] = {
		"{username}", "{reward}", "{heart_id}"
	};
	const char *values[] = { user, reward, heart_id };
	size_t o = 0, i, len;
	const char *p = tmpl, *add;

	while (*p != '\0') {
		add = NULL;
		len = 1;
		for (i = 0; i < 3; i++)
			if (strncmp(p, names[i], strlen(names[i])) == 0) {
				add = values[i];
				len = strlen(names[i]);
				break;
			}
		if (add == NULL) {
			if (o + 1 >= out_size)
				return -1;
			out[o++] = *p;
		} else {
			if (o + strlen(add) >= out_size)
				return -1;
			memcpy(out + o, add, strlen(add));
			o += strlen(add);
		}
		p += len;
	}
	if (o >= out_size)
		return -1;
	out[o] = '\0';
	return 0;
}

size_t
console_command(const struct console_conf *c, size_t from)
{
	while (from < c->n && (strcmp(c->key[from], "command") != 0 ||
	    *c->value[from] == '\0'))
		from++;
	return from;
}

/* What the reply to command done + 1 of ncmd comes to: 0, go on; 1,
 * stop (see console_run_commands). */
static int
command_done(int code, const char *why, const char *text, size_t done,
    size_t ncmd)
{
	if (code == CONSOLE_OK) {
		(void)printf("%s\n", text);
		return 0;
	}
	if (done == 0)
		console_die(code, "%s%s%s%s", why, *text ? ": " : "", text,
		    code == CONSOLE_TEMPFAIL ? " (retried later)" : "");
	(void)fprintf(stderr, "%s: command %zu of %zu failed (%s): reply: %s; "
	    "the commands before it ran, so this vote is not retried\n",
	    console_program, done + 1, ncmd, why, text);
	return 1;
}

void
console_run_commands(const struct console_conf *c, char *const argv[],
    const char *reward, console_run_fn *run, void *arg)
{
	static char cmd[CONSOLE_MAX_LINE * 4];
	const char *text, *why;
	size_t i, done = 0, ncmd = 0;
	int code;

	for (i = console_command(c, 0); i < c->n; i = console_command(c, i + 1))
		ncmd++;
	for (i = console_command(c, 0); i < c->n;
	    i = console_command(c, i + 1), done++) {
		(void)console_expand(c->value[i], argv[1], reward, argv[2], cmd,
		    sizeof(cmd));
		why = NULL;
		code = run(arg, cmd, &text, &why);
		if (command_done(code, why, text, done, ncmd))
			return;
	}
}

void
console_reply_text(const unsigned char *in, size_t len, char *out,
    size_t out_size)
{
	size_t i, o = 0, seq;
	unsigned long cp;
	int utf8 = 1, skip = 0;

	for (i = 0; i < len; i += seq)
		if ((seq = utf8_seq(in + i, len - i, &cp)) == 0) {
			utf8 = 0;
			break;
		}
	for (i = 0; i < len && o + 5 < out_size; i += seq) {
		if (utf8) {
			seq = utf8_seq(in + i, len - i, &cp);
		} else {
			seq = 1;
			cp = in[i];	/* Latin-1: byte = code point */
		}
		if (skip) {		/* the character after a colour sign */
			skip = 0;
			continue;
		}
		if (cp == 0xA7) {
			skip = 1;
			continue;
		}
		if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
			out[o++] = ' ';
		} else if (cp < 0x80) {
			out[o++] = (char)cp;
		} else if (utf8) {
			memcpy(out + o, in + i, seq);
			o += seq;
		} else {
			out[o++] = (char)(0xC0 | (cp >> 6));
			out[o++] = (char)(0x80 | (cp & 0x3F));
		}
	}
	out[o] = '\0';
}

struct console_replies {
	regex_t	 re[4];
	int	 set[4];
};

static const char *const reply_keys[4] = {
	"reply_no_player", "reply_offline", "reply_error", "reply_ok"
};

struct console_replies *
console_replies_new(const struct console_conf *c)
{
	struct console_replies *p = calloc(1, sizeof(*p));
	const char *v;
	int game = game_index(c);
	size_t i;

	if (p == NULL)
		console_die(CONSOLE_TEMPFAIL, "out of memory");
	for (i = 0; i < 4; i++) {
		v = console_conf_get(c, reply_keys[i]);
		if (v == NULL && game != -1)
			v = games[game].replies[i];
		if (v == NULL || *v == '\0')
			continue;
		(void)compile_or_die(&p->re[i], reply_keys[i], v, REG_ICASE,
		    0);
		p->set[i] = 1;
	}
	return p;
}

int
console_reply_exit(const struct console_replies *p, const char *text,
    const char **why)
{
	static const int code[3] = {
		CONSOLE_REFUSED, CONSOLE_TEMPFAIL, CONSOLE_TEMPFAIL
	};
	size_t i;

	for (i = 0; i < 3; i++)
		if (p->set[i] && regexec(&p->re[i], text, 0, NULL, 0) == 0) {
			*why = reply_keys[i];
			return code[i];
		}
	if (p->set[3] && regexec(&p->re[3], text, 0, NULL, 0) != 0) {
		*why = "not reply_ok";
		return CONSOLE_TEMPFAIL;
	}
	*why = NULL;
	return CONSOLE_OK;
}

/* ---- the connection ------------------------------------------------- */

long
console_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
console_wait_fd(int fd, short events, long deadline)
{
	struct pollfd p;
	long left;
	int rc;

	for (;;) {
		left = deadline - console_now_ms();
		if (left <= 0)
			return -1;
		p.fd = fd;
		p.events = events;
		p.revents = 0;
		rc = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (rc > 0)
			return 0;
		if (rc == -1 && errno != EINTR)
			return -1;
	}
}

/* One address: a connected non-blocking socket, or -1 and why. */
static int
connect_one(const struct addrinfo *ai, int timeout_ms, char *why,
    size_t why_size)
{
	socklen_t len;
	int fd, err;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, ai->ai_protocol);
	if (fd == -1) {
		(void)snprintf(why, why_size, "%s", strerror(errno));
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		(void)snprintf(why, why_size, "%s", strerror(errno));
	} else if (console_wait_fd(fd, POLLOUT,
	    console_now_ms() + timeout_ms) == -1) {
		(void)snprintf(why, why_size, "no answer in %d ms",
		    timeout_ms);
	} else {
		len = sizeof(err);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
			err = errno;
		else if (err == 0)
			return fd;
		(void)snprintf(why, why_size, "%s", strerror(err));
	}
	(void)close(fd);
	return -1;
}

int
console_connect(const char *what, const char *host, const char *port,
    int timeout_ms)
{
	struct addrinfo hints, *res, *ai;
	char why[256] = "no address";
	int fd = -1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0)
		console_die(CONSOLE_TEMPFAIL, "cannot resolve host %s: %s",
		    host, gai_strerror(rc));
	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next)
		fd = connect_one(ai, timeout_ms, why, sizeof(why));
	freeaddrinfo(res);
	if (fd == -1)
		console_die(CONSOLE_TEMPFAIL, "cannot connect to %s at %s "
		    "port %s: %s", what, host, port, why);
	return fd;
}

int
console_send_all(int fd, const void *buf, size_t len, long deadline)
{
	const unsigned char *p = buf;
	size_t off = 0;
	ssize_t n;

	while (off < len) {
		n = send(fd, p + off, len - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
		} else if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
			if (console_wait_fd(fd, POLLOUT, deadline) == -1)
				return -1;
		} else {
			return n == -1 && errno != 0 ? errno : EIO;
		}
	}
	return 0;
}

int
console_recv(int fd, void *buf, size_t cap, long deadline, size_t *got)
{
	ssize_t n;

	for (;;) {
		n = recv(fd, buf, cap, 0);
		if (n >= 0) {
			*got = (size_t)n;
			return 0;
		}
		if (errno != EAGAIN && errno != EINTR)
			return errno;
		if (console_wait_fd(fd, POLLIN, deadline) == -1)
			return -1;
	}
}

/* ---- a lost reply --------------------------------------------------- */

/* By console_sent_kind: what may have happened, and where to look. */
static const char *const sent_text[][2] = {
	{ "the command may have run", "the game" },
	{ "the vote was sent and may have been taken", "the listener's log" },
};

/* What went out, or -1: nothing yet. */
static int sent = -1;

void
console_sent(enum console_sent_kind what)
{
	sent = (int)what;
}

void
console_lost(const char *fmt, ...)
{
	va_list ap;

	(void)fprintf(stderr, "%s: ", console_program);
	va_start(ap, fmt);
	(void)vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (sent == -1) {
		(void)fputc('\n', stderr);
		exit(CONSOLE_TEMPFAIL);
	}
	(void)fprintf(stderr, "; %s: outcome unknown, not retried (mmolove.cgi "
	    "--replay after a look at %s)\n", sent_text[sent][0],
	    sent_text[sent][1]);
	(void)fflush(stderr);
	(void)signal(SIGTERM, SIG_DFL);
	(void)raise(SIGTERM);
	_exit(CONSOLE_TEMPFAIL);
}
