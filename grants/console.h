/*
 * console.h - what the console grant programs (grant-rcon, grant-soap,
 * and next grant-votifier) share: their settings file, the username rule,
 * command templates, the reading of a console's reply, and the
 * connection.
 *
 * Promises: no username reaches a command unless console_name_problem()
 * passed it; the settings file is read only when it is a regular file of
 * mode 0600, 0640, 0400 or 0440; every failure exits with its code and
 * the reason on stderr, and a secret value is never printed.
 *
 * Exit codes follow SPEC.md "Grant programs shipped": 0 granted, 65
 * refused for good, 75 temporary, 78 misconfigured.
 */
#ifndef CONSOLE_H
#define CONSOLE_H

#include <stddef.h>

enum {
	CONSOLE_OK = 0,
	CONSOLE_REFUSED = 65,	/* EX_DATAERR */
	CONSOLE_TEMPFAIL = 75,	/* EX_TEMPFAIL */
	CONSOLE_CONFIG = 78	/* EX_CONFIG */
};

#define CONSOLE_MAX_SETTINGS 64
#define CONSOLE_MAX_LINE 4096
#define CONSOLE_MAX_NAME 128

struct console_conf {
	size_t	 n;
	char	*key[CONSOLE_MAX_SETTINGS];
	char	*value[CONSOLE_MAX_SETTINGS];
	int	 line[CONSOLE_MAX_SETTINGS];
};

/* Prints "PROGRAM: message" on stderr and exits with code. */
void console_die(int code, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 2, 3)));
/* The program's name for messages (set once by main). */
extern const char *console_program;

/*
 * Reads a `key = value` file (# comments) that must be a regular file of
 * mode 0600, 0640, 0400 or 0440 (it holds a password); only the keys in
 * known (NULL-terminated) are accepted; `command` may repeat, any other
 * key may not.  Exits 78 with the reason on any problem.
 */
void console_conf_read(struct console_conf *c, const char *path,
    const char *const *known);
/* The value of key, or NULL. */
const char *console_conf_get(const struct console_conf *c, const char *key);
/* A whole number in [min, max] (default dflt when absent); exits 78. */
long console_conf_long(const struct console_conf *c, const char *key,
    long dflt, long min, long max);

/* Its settings' name rule, compiled: game = minecraft or wow, or a POSIX
 * ERE (name_rule). */
struct console_rule;
struct console_rule *console_rule_new(const struct console_conf *c);

/*
 * NULL when name may reach a console, else why not: at most 128 bytes,
 * valid UTF-8, no control character (C0, DEL, C1) nor U+00A7 (the colour
 * code sign), and the game's rule: Minecraft [A-Za-z0-9_]{3,16}; WoW
 * (TrinityCore, AzerothCore, MaNGOS) 2 to 12 letters of one script, as
 * their default character-name check takes them; else the whole name
 * matches name_rule.
 */
const char *console_name_problem(const struct console_rule *r,
    const char *name);

/*
 * Checks the three arguments (exit 65 with the reason) and normalises
 * reward (leading zeros dropped).  heart_id is held to
 * [A-Za-z0-9_.:-]{1,128}.
 */
void console_check_args(const struct console_rule *r, const char *user,
    const char *heart_id, char *reward, size_t reward_size);

/*
 * Writes tmpl with {username}, {reward} and {heart_id} replaced into out.
 * Returns 0, or -1 when it does not fit.
 */
int console_expand(const char *tmpl, const char *user, const char *reward,
    const char *heart_id, char *out, size_t out_size);

/*
 * A reply as text to match and log: Latin-1 is turned into UTF-8 when the
 * bytes are not UTF-8, the colour codes (U+00A7 and the character after)
 * are dropped, and control characters become spaces.
 */
void console_reply_text(const unsigned char *in, size_t len, char *out,
    size_t out_size);

/* The reply patterns of the settings, compiled (case-insensitive EREs). */
struct console_replies;
struct console_replies *console_replies_new(const struct console_conf *c);
/*
 * What a reply means: 0, 65 (reply_no_player) or 75 (reply_offline,
 * reply_error, or not reply_ok when that is set).  why names the pattern.
 */
int console_reply_exit(const struct console_replies *p, const char *text,
    const char **why);

/* CLOCK_MONOTONIC in milliseconds. */
long console_now_ms(void);
/* Waits for events on fd until deadline (console_now_ms); 0, or -1 on a
 * timeout or error. */
int console_wait_fd(int fd, short events, long deadline);
/*
 * A non-blocking TCP connection to host and port, trying each address in
 * turn for at most timeout_ms each.  Exits 75 naming what ("RCON",
 * "SOAP") when none answers.
 */
int console_connect(const char *what, const char *host, const char *port,
    int timeout_ms);

#endif
