# make bench: mmolove.cgi measured side by side with no-op C programs.
# Included from the top-level Makefile (`-include bench/bench.mk`); uses
# its CC, ALL_CFLAGS, LDHARDEN, PROG_LDFLAGS, LIBS, FORCE and its
# mmolove.cgi target.  See bench/README.md.  Timings never pass or fail
# anything: `make bench` is not part of `make test`.

BENCH_OUT = build/bench

# The floors get the product's compiler flags, hardening and way of
# linking (PROG_LDFLAGS: a static PIE unless LINK=dynamic), and the
# FastCGI floor the same libfcgi, so that the comparison is fair.
# noop-dynamic.cgi is the same no-op linked dynamically (LDHARDEN), as
# most C programs are: a context row, not a target's floor.
BENCH_FLOORS = $(BENCH_OUT)/noop.cgi $(BENCH_OUT)/noop-paid.cgi \
	$(BENCH_OUT)/noop.fcgi $(BENCH_OUT)/noop-dynamic.cgi \
	$(BENCH_OUT)/noop-fsync.cgi $(BENCH_OUT)/inprocess.cgi
# The bench's own tools (not measured).
BENCH_TOOLS = $(BENCH_OUT)/exec_bench $(BENCH_OUT)/rss_probe \
	$(BENCH_OUT)/ledger_gen $(BENCH_OUT)/burst

# Then the SQL grant programs' row (issue 10): a paid vote through
# grant-mysql and grant-postgres beside the client's own bare round trip,
# against the real servers tests/grant_sql_test.sh starts; BENCH_GRANTS=0
# skips it.
BENCH_GRANTS ?= 1
bench:
	@sh tests/deps.sh wrk strace valgrind || sh tests/deps.sh wrk
	@$(MAKE) -s -f $(firstword $(MAKEFILE_LIST)) mmolove.cgi bench-build
	@CC="$(CC)" bash bench/run.sh
	@[ "$(BENCH_GRANTS)" = 0 ] || $(MAKE) -s -f $(firstword $(MAKEFILE_LIST)) bench-grants

bench-build: $(BENCH_FLOORS) $(BENCH_TOOLS)

# Rebuilt when the way of linking changes (make LINK=dynamic bench).
$(BENCH_OUT)/link: FORCE
	@mkdir -p $(BENCH_OUT)
	@echo '$(PROG_LDFLAGS) $(LIBS)' | cmp -s - $@ || echo '$(PROG_LDFLAGS) $(LIBS)' > $@

$(BENCH_OUT)/noop.cgi: bench/noop_cgi.c $(BENCH_OUT)/link
	$(CC) $(ALL_CFLAGS) $(PROG_LDFLAGS) $(LDFLAGS) -o $@ $<

$(BENCH_OUT)/noop-dynamic.cgi: bench/noop_cgi.c
	@mkdir -p $(BENCH_OUT)
	$(CC) $(ALL_CFLAGS) $(LDHARDEN) $(LDFLAGS) -o $@ $<

$(BENCH_OUT)/noop-paid.cgi: bench/noop_cgi.c $(BENCH_OUT)/link
	$(CC) $(ALL_CFLAGS) -DPAID_FLOOR $(PROG_LDFLAGS) $(LDFLAGS) -o $@ $<

# The queue-mode delivery's floor (row i): durable writes, no exec.
$(BENCH_OUT)/noop-fsync.cgi: bench/noop_cgi.c $(BENCH_OUT)/link
	$(CC) $(ALL_CFLAGS) -DFSYNC_FLOOR $(PROG_LDFLAGS) $(LDFLAGS) -o $@ $<

$(BENCH_OUT)/noop.fcgi: bench/noop_fcgi.c $(BENCH_OUT)/link
	$(QUIET_LD) $(CC) $(ALL_CFLAGS) $(PROG_LDFLAGS) $(LDFLAGS) -o $@ $< $(LIBS)

# Row k's comparison (the sandbox's cost): the product without its
# front, every request in one process (MMOLOVE_BENCH_INPROCESS in
# mmolove.cgi.c and src/fastcgi.c), linked as the product is.  Never
# installed.
BENCH_INPROCESS_OBJS = $(BENCH_OUT)/inprocess/mmolove.cgi.o \
	$(BENCH_OUT)/inprocess/fastcgi.o $(filter-out src/fastcgi.o,$(OBJS))
$(BENCH_OUT)/inprocess.cgi: $(BENCH_INPROCESS_OBJS) $(BENCH_OUT)/link
	$(QUIET_LD) $(CC) $(PROG_LDFLAGS) $(LDFLAGS) -o $@ \
	    $(BENCH_INPROCESS_OBJS) $(LIBS)
$(BENCH_OUT)/inprocess/mmolove.cgi.o: mmolove.cgi.c $(HDRS) build/settings
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -DMMOLOVE_BENCH_INPROCESS -c -o $@ $<
$(BENCH_OUT)/inprocess/fastcgi.o: src/fastcgi.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -DMMOLOVE_BENCH_INPROCESS -c -o $@ $<

$(BENCH_OUT)/exec_bench: bench/exec_bench.c
	@mkdir -p $(BENCH_OUT)
	$(CC) $(ALL_CFLAGS) $(LDHARDEN) $(LDFLAGS) -o $@ $< -lcrypto

# The million-record ledger's writer: the product's own SHA-256.
$(BENCH_OUT)/ledger_gen: bench/ledger_gen.c src/digest.o src/text.o
	@mkdir -p $(BENCH_OUT)
	$(CC) $(ALL_CFLAGS) $(LDHARDEN) $(LDFLAGS) -o $@ $< src/digest.o \
	    src/text.o -lcrypto

# The burst driver of row j (not measured).
$(BENCH_OUT)/burst: bench/burst.c
	@mkdir -p $(BENCH_OUT)
	$(CC) $(ALL_CFLAGS) $(LDHARDEN) $(LDFLAGS) -pthread -o $@ $<

$(BENCH_OUT)/rss_probe: bench/rss_probe.c
	@mkdir -p $(BENCH_OUT)
	$(CC) $(ALL_CFLAGS) -static -o $@ $<

.PHONY: bench bench-build
