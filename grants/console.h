/*
 * console.h - what the console grant programs (grant-rcon, grant-soap,
 * grant-votifier) share: the start of main (arguments, settings file,
 * username rule), command templates, the reading of a console's reply,
 * the connection with its deadlines, and what a lost reply means.
 *
 * Promises: no username reaches a command unless console_name_problem()
 * passed it; the settings file is read only when it is a regular file of
 * mode 0600, 0640, 0400 or 0440; every failure exits with its code and
 * the reason on stderr, and a secret value is never printed; once
 * console_sent() was called, a lost reply never exits "not granted": the
 * program kills itself with SIGTERM (an unknown outcome to mmolove.cgi).
 * The program's name and that sent mark are the only state kept, once
 * per run: these programs run once per vote, never in a loop.
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
/* The program's name for messages (set once, by console_begin). */
extern const char *console_program;

/*
 * The start of main: names the program for messages and exits 65 with
 * the usage unless argc holds the three arguments (username, heart_id,
 * reward).
 */
void console_begin(const char *program, int argc);

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
/* The host setting ("127.0.0.1" when unset), and the port setting
 * (default dflt) as decimal text into port; exits 78. */
const char *console_conf_host(const struct console_conf *c, long dflt,
    char *port, size_t port_size);
/* A timeout setting, whole seconds from 1 to 300 (default dflt), in ms;
 * exits 78. */
int console_conf_ms(const struct console_conf *c, const char *key,
    long dflt);

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
 * Checks the three arguments argv[1..3] (exit 65 with the reason) and
 * copies reward into its buffer, normalised (leading zeros dropped).
 * heart_id is held to [A-Za-z0-9_.:-]{1,128}.
 */
void console_check_args(const struct console_rule *r, char *const argv[],
    char *reward, size_t reward_size);

/*
 * Writes tmpl with {username}, {reward} and {heart_id} replaced into out.
 * Returns 0, or -1 when it does not fit.
 */
int console_expand(const char *tmpl, const char *user, const char *reward,
    const char *heart_id, char *out, size_t out_size);

/*
 * The index of the first `command` setting with a value at or after
 * from, or c->n when there is none: for (i = console_command(c, 0);
 * i < c->n; i = console_command(c, i + 1)).
 */
size_t console_command(const struct console_conf *c, size_t from);

/*
 * Runs one command: its exit code (as console_reply_exit() gives it),
 * the reply's text in *text and, unless 0, why in *why.
 */
typedef int console_run_fn(void *arg, const char *command,
    const char **text, const char **why);
/*
 * Runs every command, expanded with the vote's values (already checked
 * to fit, with console_expand into CONSOLE_MAX_LINE * 4 bytes), in turn
 * through run, each reply's text on stdout.  A failure of the first
 * command exits with its code, why and text (75: "retried later").  A
 * failure of a later one goes to stderr and ends the run: the commands
 * before it ran, so the vote is granted (exit 0) and never retried.
 */
void console_run_commands(const struct console_conf *c, char *const argv[],
    const char *reward, console_run_fn *run, void *arg);

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
 * "SOAP", "the Votifier listener") when none answers.
 */
int console_connect(const char *what, const char *host, const char *port,
    int timeout_ms);
/*
 * Sends all len bytes of buf on the non-blocking socket fd by deadline
 * (console_now_ms): 0, -1 when the deadline passed, else the errno of
 * the failure.
 */
int console_send_all(int fd, const void *buf, size_t len, long deadline);
/*
 * Receives at most cap bytes into buf from the non-blocking socket fd,
 * waiting until deadline; their number in *got (0: the end of the
 * stream).  Returns 0, -1 when the deadline passed, else the errno of
 * the failure.
 */
int console_recv(int fd, void *buf, size_t cap, long deadline,
    size_t *got);

/* What went out that a console may act on, for console_lost(). */
enum console_sent_kind { CONSOLE_SENT_COMMAND, CONSOLE_SENT_VOTE };
/* Marks that it went out: from now on a lost reply is an unknown
 * outcome. */
void console_sent(enum console_sent_kind what);
/*
 * The reply is lost (connection dropped, timeout): "PROGRAM: message" on
 * stderr.  Before console_sent(), exit 75: nothing went out, a retry is
 * safe.  After it, what may have happened is added and the program
 * kills itself with SIGTERM, which mmolove.cgi records as an unknown
 * outcome (held until --replay with unknown_outcome = hold): a console
 * cannot tell a repeat.
 */
void console_lost(const char *fmt, ...)
    __attribute__((noreturn, format(printf, 1, 2)));

#endif
