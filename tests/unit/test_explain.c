/*
 * explain.h: the end of the audit log, read back and explained.  Lines
 * are made here the way log.c writes them; the clock is a fixed NOW.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

#include "../../src/explain.h"
#include "../../src/legacy.h"
#include "../../src/signature.h"
#include "../../src/utc.h"

#define NOW	1796100000LL	/* the clock of these tests */

struct fixture {
	struct temp_fixture tmp;	/* tmp.path: a log file */
	char	 text[EXPLAIN_TAIL * 2];
	size_t	 used;
	struct explain x;
};

static struct fixture_spec spec = { sizeof(struct fixture), "audit.log" };

/* The log's time text of unix time t, with milliseconds. */
static void
time_text(long long t, char *out, size_t cap)
{
	char iso[UTC_ISO_LEN + 1];

	utc_iso(t, iso, sizeof(iso));
	iso[19] = '\0';
	(void)snprintf(out, cap, "%s.123Z", iso);
}

/*
 * Appends a line as log.c writes it, `ago` seconds before NOW; extra is
 * put after the usual fields (",\"t\":1" and the like).
 */
static void
add_line(struct fixture *f, long long ago, const char *event,
    const char *outcome, int status, const char *reason, const char *extra)
{
	char when[EXPLAIN_TIME];
	int n;

	time_text(NOW - ago, when, sizeof(when));
	n = snprintf(f->text + f->used, sizeof(f->text) - f->used,
	    "{\"time\":\"%s\",\"mode\":\"post\",\"method\":\"POST\","
	    "\"event\":\"%s\",\"heart_id\":\"\",\"username\":\"\","
	    "\"outcome\":\"%s\",\"status\":%d,\"reward\":0,\"remote\":\"\","
	    "\"duration_ms\":1,\"reason\":\"%s\",%s}\n", when, event, outcome,
	    status, reason, extra != NULL ? extra :
	    "\"grant_exit\":null,\"grant_output\":\"\"");
	assert_true(n > 0 && (size_t)n < sizeof(f->text) - f->used);
	f->used += (size_t)n;
}

static void
add_raw(struct fixture *f, const char *s)
{
	size_t n = strlen(s);

	assert_true(n < sizeof(f->text) - f->used);
	memcpy(f->text + f->used, s, n);
	f->used += n;
}

static void
mismatch(struct fixture *f, long long ago)
{
	add_line(f, ago, "", "unauthorized", 401, SIGNATURE_WHY_MISMATCH,
	    "\"grant_exit\":null,\"grant_output\":\"\",\"claimed\":{"
	    "\"verified\":false,\"event\":\"heart.counted\",\"heart_id\":"
	    "\"h_1\",\"username\":\"P\"}");
}

static void
paid(struct fixture *f, long long ago)
{
	add_line(f, ago, "heart.counted", "paid", 200, "",
	    "\"grant_exit\":0,\"grant_output\":\"ok\"");
}

static void
grant_failed(struct fixture *f, long long ago, int code, const char *output)
{
	char extra[256];

	(void)snprintf(extra, sizeof(extra), "\"grant_exit\":%d,"
	    "\"grant_output\":\"%s\"", code, output);
	add_line(f, ago, "heart.counted", "grant_failed", 502, "grant failed: "
	    "not paid, it runs again on the next delivery", extra);
}

static struct explain *
explain(struct fixture *f)
{
	char *copy = exact_copy(f->text, f->used);

	explain_text(&f->x, copy, f->used, NOW);
	free(copy);
	trace("%zu groups, %u lines, %u garbage\n", f->x.count, f->x.lines,
	    f->x.garbage);
	return &f->x;
}

static const struct explain_group *
only_group(struct fixture *f, enum explain_cause cause)
{
	struct explain *x = explain(f);

	assert_int_equal(x->count, 1);
	assert_int_equal(x->groups[0].cause, cause);
	return &x->groups[0];
}

static void
say_has(const struct explain_group *g, const char *words)
{
	char say[1024];

	explain_say(g, say, sizeof(say));
	trace("say: %s\n", say);
	if (strstr(say, words) == NULL)
		fail_msg("\"%s\" lacks \"%s\"", say, words);
}

/* ----------------------------------------------------------- parse */

static void
test_parse(void **state)
{
	struct fixture *f = *state;
	struct explain_line l;

	grant_failed(f, 60, 75, "player offline\\u000a");
	assert_int_equal(explain_parse(f->text, f->used - 1, &l), 0);
	assert_int_equal(l.time, NOW - 60);
	assert_string_equal(l.outcome, "grant_failed");
	assert_string_equal(l.event, "heart.counted");
	assert_int_equal(l.status, 502);
	assert_true(l.has_exit);
	assert_int_equal(l.grant_exit, 75);
	assert_string_equal(l.grant_output, "player offline\n");
	assert_int_equal(l.t, 0);
}

static void
test_parse_garbage(void **state)
{
	static const char *bad[] = {
		"", "garbage", "[]", "{}", "{\"time\":1}",
		"{\"time\":\"2026-12-01T04:40:00.123Z\",\"outcome\":\"paid\"}",
		"{\"time\":\"yesterday\",\"outcome\":\"paid\",\"status\":200}",
		"{\"time\":\"2026-12-01T04:40:00.123Z\",\"outcome\":\"paid\","
		    "\"status\":\"200\"}",
		"{\"time\":\"2026-12-01T04:40:00.123Z\",\"outcome\":\"paid\","
		    "\"status\":200",
		"{\"time\":\"2026-12-01T04:40:00.123Z\",\"outcome\":\"paid\","
		    "\"status\":200}{}",
	};
	struct explain_line l;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(bad); i++) {
		char *copy = exact_copy(bad[i], strlen(bad[i]));

		if (explain_parse(copy, strlen(bad[i]), &l) != -1)
			fail_msg("parsed: %s", bad[i]);
		free(copy);
	}
}

/* ------------------------------------------------------- each cause */

static void
test_all_well_says_nothing(void **state)
{
	struct fixture *f = *state;
	struct explain *x;

	paid(f, 300);
	add_line(f, 200, "heart.test", "test", 200, "", NULL);
	add_line(f, 100, "heart.counted", "duplicate", 200, "vote already "
	    "paid", NULL);
	x = explain(f);
	assert_int_equal(x->count, 0);
	assert_int_equal(x->lines, 3);
	assert_int_equal(x->garbage, 0);
}

static void
test_rotated_secret(void **state)
{
	struct fixture *f = *state;
	const struct explain_group *g;
	char newest[EXPLAIN_TIME];

	paid(f, 4000);		/* before the rotation: not a cure */
	mismatch(f, 3000);
	mismatch(f, 2000);
	add_line(f, 1000, "", "unauthorized", 401, LEGACY_WHY_MISMATCH, NULL);
	g = only_group(f, CAUSE_SECRET);
	assert_int_equal(g->count, 3);
	time_text(NOW - 1000, newest, sizeof(newest));
	assert_string_equal(g->newest, newest);
	say_has(g, "signatures match no configured secret: was the secret "
	    "rotated on the dashboard?");
	say_has(g, ": 3, the newest at ");
}

static void
test_cured_by_a_verified_delivery(void **state)
{
	struct fixture *f = *state;

	mismatch(f, 3000);
	mismatch(f, 2000);
	/* A later delivery whose signature held, even one refused as 400. */
	add_line(f, 1000, "heart.counted", "bad_request", 400, "username is "
	    "empty", NULL);
	assert_int_equal(explain(f)->count, 0);
	mismatch(f, 10);
	assert_int_equal(only_group(f, CAUSE_SECRET)->count, 1);
}

static void
test_clock_skew(void **state)
{
	struct fixture *f = *state;
	const struct explain_group *g;
	char extra[128];

	/* Signed an hour before this machine's time: its clock is ahead. */
	(void)snprintf(extra, sizeof(extra), "\"grant_exit\":null,"
	    "\"grant_output\":\"\",\"t\":%lld", NOW - 100 - 3600);
	add_line(f, 100, "", "unauthorized", 401, "signed 3600 s ago, beyond "
	    "tolerance 300 s", extra);
	g = only_group(f, CAUSE_CLOCK);
	say_has(g, "MMOLove's clock and this machine's differ by 3600 s "
	    "(this machine's is ahead): is NTP running?");
	/* The newest line says the skew; behind, this time. */
	(void)snprintf(extra, sizeof(extra), "\"grant_exit\":null,"
	    "\"grant_output\":\"\",\"t\":%lld", NOW - 50 + 420);
	add_line(f, 50, "", "unauthorized", 401, "signed 420 s in the future, "
	    "beyond tolerance 300 s", extra);
	g = only_group(f, CAUSE_CLOCK);
	assert_int_equal(g->count, 2);
	say_has(g, "differ by 420 s (this machine's is behind)");
}

static void
test_no_header(void **state)
{
	struct fixture *f = *state;
	struct explain *x;

	add_line(f, 30, "", "unauthorized", 401, "no X-MMOLove-Signature "
	    "header", NULL);
	add_line(f, 20, "", "unauthorized", 401, "garbled X-MMOLove-"
	    "Signature: no t", NULL);
	add_line(f, 10, "", "unauthorized", 401, "no X-MMOLove-Signature "
	    "header", NULL);
	x = explain(f);
	assert_int_equal(x->count, 2);
	assert_int_equal(x->groups[0].cause, CAUSE_HEADER);
	assert_int_equal(x->groups[0].count, 2);
	assert_int_equal(x->groups[1].count, 1);
	say_has(&x->groups[0], "no X-MMOLove-Signature header: not signed "
	    "by MMOLove");
}

static void
test_configuration(void **state)
{
	struct fixture *f = *state;
	const struct explain_group *g;

	paid(f, 500);
	add_line(f, 300, "", "config_error", 500, "secret_file "
	    "/etc/mmolove/secret: Permission denied", NULL);
	add_line(f, 200, "", "config_error", 500, "secret_file "
	    "/etc/mmolove/secret: Permission denied", NULL);
	g = only_group(f, CAUSE_CONFIG);
	assert_int_equal(g->count, 2);
	say_has(g, "requests answered 500: 2, the newest at ");
	say_has(g, "secret_file /etc/mmolove/secret: Permission denied");
	/* Served again since: fixed. */
	add_line(f, 100, "", "unauthorized", 401, "no X-MMOLove-Signature "
	    "header", NULL);
	assert_int_equal(only_group(f, CAUSE_HEADER)->count, 1);
}

static void
test_ledger(void **state)
{
	struct fixture *f = *state;
	const struct explain_group *g;

	add_line(f, 100, "heart.counted", "ledger_error", 500, "votes/x: No "
	    "space left on device; the grant did not run", NULL);
	g = only_group(f, CAUSE_LEDGER);
	say_has(g, "No space left on device");
	paid(f, 10);
	assert_int_equal(explain(f)->count, 0);
}

static void
test_grant(void **state)
{
	struct fixture *f = *state;
	struct explain *x;

	grant_failed(f, 400, 1, "no such table\\u000a");
	grant_failed(f, 300, 75, "offline");
	grant_failed(f, 200, 1, "ERROR 1146: no such table points\\u000a");
	add_line(f, 100, "heart.counted", "grant_timeout", 504, "grant ran "
	    "past grant_timeout 10 s", "\"grant_exit\":null,"
	    "\"grant_signal\":9,\"grant_output\":\"\"");
	x = explain(f);
	assert_int_equal(x->count, 3);
	assert_int_equal(x->groups[0].cause, CAUSE_GRANT);
	say_has(&x->groups[0], "grant_timeout, killed by signal 9, no output");
	assert_int_equal(x->groups[1].count, 2);
	say_has(&x->groups[1], "grant_failed, exit 1, output \"ERROR 1146: "
	    "no such table points\": ");
	say_has(&x->groups[2], "exit 75, output \"offline\"");
	paid(f, 1);
	assert_int_equal(explain(f)->count, 0);
}

static void
test_reload_refused(void **state)
{
	struct fixture *f = *state;
	const struct explain_group *g;

	add_line(f, 300, "", "config_error", 500, "secret_file x: empty",
	    NULL);
	/* A reload line (status 0) does not show the configuration fixed. */
	add_line(f, 200, "", "reload_refused", 0, "secret_file x: empty: "
	    "every delivery answers 500 until this is fixed", NULL);
	assert_int_equal(explain(f)->count, 2);
	g = &f->x.groups[0];
	assert_int_equal(g->cause, CAUSE_RELOAD);
	say_has(g, "edited files a FastCGI worker refused: 1, the newest at ");
	say_has(g, "secret_file x: empty: every delivery answers 500");
	add_line(f, 100, "", "reloaded", 0, "configuration and secrets "
	    "usable again", NULL);
	assert_int_equal(explain(f)->count, 0);
}

/* A drain's failure is a grant failure too (README's jq recipe). */
static void
test_drain_failure(void **state)
{
	struct fixture *f = *state;

	add_raw(f, "{\"time\":\"2026-12-01T04:39:00.001Z\",\"mode\":\"post\","
	    "\"method\":\"drain\",\"event\":\"heart.counted\",\"heart_id\":"
	    "\"h_1\",\"username\":\"P\",\"outcome\":\"dead\",\"status\":502,"
	    "\"reward\":100,\"remote\":\"\",\"duration_ms\":0,\"reason\":"
	    "\"still failing\",\"grant_exit\":75,\"grant_output\":\"\"}\n");
	say_has(only_group(f, CAUSE_GRANT), "dead, exit 75, no output");
}

/* ------------------------------------------------- the text as a whole */

static void
test_garbage_tolerated(void **state)
{
	struct fixture *f = *state;
	struct explain *x;

	add_raw(f, "not json\n\n{\"time\":\"2026\n");
	mismatch(f, 100);
	add_raw(f, "\x01\xff\n[1,2]\n");
	mismatch(f, 50);
	/* A line still being written is not read. */
	add_raw(f, "{\"time\":\"2026-12-01T04:40:00.001Z\",\"event\":\"heart");
	x = explain(f);
	assert_int_equal(x->count, 1);
	assert_int_equal(x->groups[0].count, 2);
	assert_int_equal(x->garbage, 4);
}

static void
test_only_recent(void **state)
{
	struct fixture *f = *state;

	mismatch(f, EXPLAIN_RECENT_S + 10);
	mismatch(f, EXPLAIN_RECENT_S + 5);
	assert_int_equal(explain(f)->count, 0);
	mismatch(f, 5);
	assert_int_equal(only_group(f, CAUSE_SECRET)->count, 1);
}

static void
test_group_bound(void **state)
{
	struct fixture *f = *state;
	struct explain *x;
	char reason[64];
	int i;

	for (i = 0; i < EXPLAIN_GROUPS + 3; i++) {
		(void)snprintf(reason, sizeof(reason), "garbled X-MMOLove-"
		    "Signature: %d", i);
		add_line(f, 100 - i, "", "unauthorized", 401, reason, NULL);
	}
	x = explain(f);
	assert_int_equal(x->count, EXPLAIN_GROUPS);
	assert_int_equal(x->ungrouped, 3);
}

static void
test_say_is_printable(void **state)
{
	struct fixture *f = *state;
	char say[1024];
	size_t i;

	grant_failed(f, 10, 1, "\\u001b[31mred\\u0007\\u009b2J");
	explain_say(&only_group(f, CAUSE_GRANT)[0], say, sizeof(say));
	for (i = 0; say[i] != '\0'; i++) {
		assert_true((unsigned char)say[i] >= 0x20 && say[i] != 0x7f);
		assert_false((unsigned char)say[i] == 0xc2 &&
		    (unsigned char)say[i + 1] <= 0x9f);
	}
	say_has(&f->x.groups[0], "[31mred");
}

/* -------------------------------------------------------- the file */

static void
write_text(struct fixture *f)
{
	write_file(f->tmp.path, f->text, f->used);
}

static void
test_log_file(void **state)
{
	struct fixture *f = *state;
	char why[320];

	/* No log yet: nothing to say, and no error. */
	assert_int_equal(explain_log(&f->x, f->tmp.path, NOW, why,
	    sizeof(why)), 0);
	assert_int_equal(f->x.count, 0);
	mismatch(f, 100);
	write_text(f);
	assert_int_equal(explain_log(&f->x, f->tmp.path, NOW, why,
	    sizeof(why)), 0);
	assert_int_equal(f->x.count, 1);
	assert_int_equal(explain_log(&f->x, f->tmp.dir, NOW, why,
	    sizeof(why)), -1);
	assert_non_null(strstr(why, f->tmp.dir));
}

/* Only the last EXPLAIN_TAIL bytes are read, from a line's start. */
static void
test_log_tail_only(void **state)
{
	struct fixture *f = *state;
	unsigned all = 1;
	char why[320];

	mismatch(f, 5000);
	/* Lines that cure nothing a 401 is about. */
	while (f->used < EXPLAIN_TAIL / 2) {
		add_line(f, 4000, "", "method_not_allowed", 405, "method GET "
		    "not allowed", NULL);
		all++;
	}
	write_text(f);
	assert_int_equal(explain_log(&f->x, f->tmp.path, NOW, why,
	    sizeof(why)), 0);
	assert_int_equal(f->x.count, 1);
	while (f->used < EXPLAIN_TAIL + 4096) {
		add_line(f, 4000, "", "method_not_allowed", 405, "method GET "
		    "not allowed", NULL);
		all++;
	}
	write_text(f);
	assert_int_equal(explain_log(&f->x, f->tmp.path, NOW, why,
	    sizeof(why)), 0);
	/* The old refusal is beyond the tail now. */
	assert_int_equal(f->x.count, 0);
	assert_true(f->x.lines < all - 10);
	/* The cut first line is dropped, not counted as garbage. */
	assert_int_equal(f->x.garbage, 0);
}

int
run_explain_tests(void)
{
#define T(t)	env_fixture_test(t, &spec)
	const struct CMUnitTest tests[] = {
		T(test_parse),
		cmocka_unit_test(test_parse_garbage),
		T(test_all_well_says_nothing),
		T(test_rotated_secret),
		T(test_cured_by_a_verified_delivery),
		T(test_clock_skew),
		T(test_no_header),
		T(test_configuration),
		T(test_ledger),
		T(test_grant),
		T(test_reload_refused),
		T(test_drain_failure),
		T(test_garbage_tolerated),
		T(test_only_recent),
		T(test_group_bound),
		T(test_say_is_printable),
		T(test_log_file),
		T(test_log_tail_only),
	};
#undef T

	return cmocka_run_group_tests_name("explain", tests, NULL, NULL);
}
