# mmolove.cgi — see README.md.  `make`, `make test`, `make demo`.

PREFIX	?= /usr/local
DESTDIR	?=
CONFIG	?= /etc/mmolove/mmolove.conf
STATE_DIR ?= /var/lib/mmolove
SQLITE_DB ?= $(STATE_DIR)/points.sqlite
CONFIG_DIR = $(patsubst %/,%,$(dir $(CONFIG)))
VERSION	 = 0.1.0

CC	?= cc
WARN	 = -Wall -Wextra -Wpedantic -Werror -Wshadow -Wconversion
HARDEN	 = -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
CFLAGS	?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(HARDEN) $(CFLAGS) \
	-DMMOLOVE_DEFAULT_CONFIG='"$(CONFIG)"' -DMMOLOVE_VERSION='"$(VERSION)"'
LDHARDEN = -pie -Wl,-z,relro,-z,now

# A CGI program is started once per request, so its start-up is its
# cost: loading libcrypto.so adds ~2.4 ms to every exec, and the dynamic
# loader itself ~0.5 ms more than our whole request.  So the program is
# a static PIE (still ASLR, RELRO and BIND_NOW): libcrypto and libfcgi
# from their archives (only SHA-256 and CRYPTO_memcmp are pulled in),
# and libc too.  Rebuild after a glibc or OpenSSL security update.
# `make LINK=dynamic` links everything dynamically instead.
LINK	?= static
ifeq ($(LINK),dynamic)
PROG_LDFLAGS = $(LDHARDEN)
LIBS	 = -lfcgi -lcrypto
else
PROG_LDFLAGS = -static-pie -Wl,-z,relro,-z,now
LIBS	 = -l:libfcgi.a -l:libcrypto.a
endif

SRCS	 = src/cli.c src/config.c src/digest.c src/event.c src/fastcgi.c \
	   src/grant.c src/json.c src/ledger.c src/legacy.c src/log.c \
	   src/owner.c src/pay.c src/queue.c src/request.c src/request_io.c src/response.c \
	   src/reward.c src/secret.c src/signature.c src/sys.c src/text.c \
	   src/utc.c src/vote.c
OBJS	 = $(SRCS:.c=.o)
HDRS	 = $(wildcard src/*.h)

all: mmolove.cgi grants/grant-rcon

# The console grants (issue 12), in C and static like the handler: binary
# framing and timeouts, and shared hosting has no compiler.  The settings
# path is compiled in (SPEC: never from argv or the environment).
# getaddrinfo draws a linker note in static programs: a host name other
# than a numeric address needs the system's NSS libraries at run time.
GRANT_RCON_CONF ?= $(CONFIG_DIR)/grant-rcon.conf
GRANT_OBJS = grants/console.o
grants/grant-rcon: grants/grant-rcon.o $(GRANT_OBJS)
	$(CC) $(PROG_LDFLAGS) $(LDFLAGS) -o $@ grants/grant-rcon.o $(GRANT_OBJS)
grants/grant-rcon.o: grants/grant-rcon.c grants/console.h build/settings
	$(CC) $(ALL_CFLAGS) -DGRANT_RCON_CONF='"$(GRANT_RCON_CONF)"' -c -o $@ $<
grants/console.o: grants/console.h
# A copy with another settings path, for tests/grant_rcon_test.sh:
# make grant-rcon-at AT=/tmp/x/grant-rcon.conf OUT=/tmp/x/grant-rcon
grant-rcon-at: $(GRANT_OBJS)
	$(CC) $(ALL_CFLAGS) -DGRANT_RCON_CONF='"$(AT)"' $(PROG_LDFLAGS) \
	    $(LDFLAGS) -o $(OUT) grants/grant-rcon.c $(GRANT_OBJS)

# libfcgi's TCP listening code, which a responder never runs, draws a
# linker note about gethostbyname in static programs: it is harmless.
mmolove.cgi: mmolove.cgi.o $(OBJS)
	$(CC) $(PROG_LDFLAGS) $(LDFLAGS) -o $@ mmolove.cgi.o $(OBJS) $(LIBS)

%.o: %.c $(HDRS)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The compiled-in paths and the way of linking: a change of CONFIG,
# VERSION or LINK rebuilds what uses them, so `make install CONFIG=...`
# never installs a stale path nor `make static` checks a stale link.
build/settings: FORCE
	@mkdir -p build
	@echo '$(CONFIG) $(VERSION) $(LINK) $(GRANT_RCON_CONF)' | cmp -s - $@ || \
	    echo '$(CONFIG) $(VERSION) $(LINK) $(GRANT_RCON_CONF)' > $@
src/config.o src/cli.o mmolove.cgi: build/settings
FORCE:

# The same objects linked dynamically, for valgrind (tests/valgrind_test.sh):
# memcheck replaces malloc only through the dynamic loader.  Like
# `make LINK=dynamic`, without relinking the static product.
build/dynamic/mmolove.cgi: mmolove.cgi.o $(OBJS)
	@mkdir -p $(@D)
	$(CC) $(LDHARDEN) $(LDFLAGS) -o $@ mmolove.cgi.o $(OBJS) -lfcgi -lcrypto

# The same program built with AddressSanitizer and UBSan, for the suite;
# tests/unit.mk's sanitized unit tests link the same build/asan/src/*.o.
# The product's flags and warnings, with the sanitizers added; -O1 and
# no _FORTIFY_SOURCE keep their reports exact.
SAN_CC	?= clang
SAN_FLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
SAN_CFLAGS = $(ALL_CFLAGS) -U_FORTIFY_SOURCE -O1 -g $(SAN_FLAGS)
SAN_OBJS = $(patsubst %.o,build/asan/%.o,$(OBJS))
build/asan/mmolove.cgi: build/asan/mmolove.cgi.o $(SAN_OBJS)
	$(SAN_CC) $(SAN_FLAGS) -o $@ build/asan/mmolove.cgi.o $(SAN_OBJS) \
	    $(LIBS)

build/asan/%.o: %.c $(HDRS)
	@mkdir -p $(@D)
	$(SAN_CC) $(SAN_CFLAGS) -c -o $@ $<

# A self-contained binary to upload where there is no compiler (shared
# hosting): the default build already is one.
# No program interpreter (ld.so) means static; readelf comes with gcc.
static: mmolove.cgi
	@! readelf -l mmolove.cgi | grep -q INTERP || \
	    { echo "make static: not with LINK=dynamic"; \
	      exit 1; }
	@echo "mmolove.cgi is static (config path compiled in: $(CONFIG))"

# Every warning, under both compilers the project supports.
warnings:
	$(MAKE) -s clean && $(MAKE) -s CC=gcc mmolove.cgi grants/grant-rcon
	$(MAKE) -s clean && $(MAKE) -s CC=clang mmolove.cgi grants/grant-rcon

UNITS	 = mmolove-fcgi.service mmolove-drain.service mmolove-drain.timer

install: mmolove.cgi grants/grant-rcon
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/mmolove
	install -m 0755 mmolove.cgi $(DESTDIR)$(PREFIX)/bin/mmolove.cgi
	sed 's|@SQLITE_DB@|$(SQLITE_DB)|' scripts/grant-sqlite \
	    > $(DESTDIR)$(PREFIX)/share/mmolove/grant-sqlite
	chmod 0755 $(DESTDIR)$(PREFIX)/share/mmolove/grant-sqlite
	install -m 0644 scripts/schema-sqlite.sql \
	    $(DESTDIR)$(PREFIX)/share/mmolove/schema-sqlite.sql
	@# grant-mysql and grant-postgres read their settings from
	@# <config dir>/grant-<db>.conf: the path is written into each program.
	for g in mysql postgres; do \
	    sed "s|@GRANT_$$(echo $$g | tr a-z A-Z)_CONF@|$(CONFIG_DIR)/grant-$$g.conf|" \
	        scripts/grant-$$g > $(DESTDIR)$(PREFIX)/share/mmolove/grant-$$g && \
	    chmod 0755 $(DESTDIR)$(PREFIX)/share/mmolove/grant-$$g && \
	    install -m 0644 scripts/schema-$$g.sql \
	        $(DESTDIR)$(PREFIX)/share/mmolove/schema-$$g.sql && \
	    sed 's|@CONFIG_DIR@|$(CONFIG_DIR)|g' scripts/grant-$$g.conf.example \
	        > $(DESTDIR)$(PREFIX)/share/mmolove/grant-$$g.conf.example || exit 1; \
	done
	install -m 0755 grants/grant-rcon $(DESTDIR)$(PREFIX)/share/mmolove/grant-rcon
	sed 's|@CONFIG_DIR@|$(CONFIG_DIR)|g' scripts/grant-rcon.conf.example \
	    > $(DESTDIR)$(PREFIX)/share/mmolove/grant-rcon.conf.example
	@# systemd units for the owner to copy (INSTALL 4, 5, 11): not enabled.
	install -d $(DESTDIR)$(PREFIX)/share/mmolove/systemd
	for u in $(UNITS); do \
	    sed -e 's|@BINDIR@|$(PREFIX)/bin|g' -e 's|@CONFIG@|$(CONFIG)|g' \
	        scripts/$$u > $(DESTDIR)$(PREFIX)/share/mmolove/systemd/$$u && \
	    chmod 0644 $(DESTDIR)$(PREFIX)/share/mmolove/systemd/$$u || exit 1; \
	done
	install -d $(DESTDIR)$(dir $(CONFIG))
	@# The configuration holds no secret: the web server's user reads it.
	sed -e 's|@STATE_DIR@|$(STATE_DIR)|' \
	    -e 's|@GRANT@|$(PREFIX)/share/mmolove/grant-sqlite|' \
	    -e 's|@CONFIG_DIR@|$(patsubst %/,%,$(dir $(CONFIG)))|' \
	    scripts/mmolove.conf.example \
	    > $(DESTDIR)$(PREFIX)/share/mmolove/mmolove.conf.example
	test -e $(DESTDIR)$(CONFIG) || install -m 0644 \
	    $(DESTDIR)$(PREFIX)/share/mmolove/mmolove.conf.example \
	    $(DESTDIR)$(CONFIG)
	@# Their settings will hold connection details: 0600, and never
	@# overwritten (the owner chowns them to the web server's user).
	for g in mysql postgres rcon; do \
	    test -e $(DESTDIR)$(CONFIG_DIR)/grant-$$g.conf || install -m 0600 \
	        $(DESTDIR)$(PREFIX)/share/mmolove/grant-$$g.conf.example \
	        $(DESTDIR)$(CONFIG_DIR)/grant-$$g.conf || exit 1; \
	done

# Web servers for tests/servers_test.sh, suEXEC (plus file(1), which
# INSTALL's shared-hosting steps use) for tests/suexec_test.sh, strace,
# which injects the faults of tests/ledger_test.py, and the database
# servers tests/grant_sql_test.sh starts for grant-mysql and
# grant-postgres, and systemd-analyze (package systemd; systemd need not
# run) for tests/units_test.sh, and valgrind for tests/valgrind_test.sh.
TEST_PACKAGES = apache2 nginx fcgiwrap apache2-suexec-pristine file strace \
	mariadb-server mariadb-client postgresql-15 postgresql-client-15 \
	systemd valgrind
deps:
	@sh tests/deps.sh $(TEST_PACKAGES)

# Suites; each prints its own tally, tests/run.sh adds them up.
test: deps
	@$(MAKE) -s mmolove.cgi build/asan/mmolove.cgi build/dynamic/mmolove.cgi
	@sh tests/run.sh \
	    'unit:$(MAKE) -s unit' \
	    'unit-sanitized:$(MAKE) -s unit-sanitize' \
	    'cgi:python3 tests/cgi_test.py --binary ./mmolove.cgi' \
	    'cgi-sanitized:python3 tests/cgi_test.py --binary build/asan/mmolove.cgi --rounds 5' \
	    'valgrind:sh tests/valgrind_test.sh build/dynamic/mmolove.cgi' \
	    'fastcgi:python3 tests/fastcgi_test.py --binary ./mmolove.cgi' \
	    'fastcgi-sanitized:python3 tests/fastcgi_test.py --binary build/asan/mmolove.cgi -x memory' \
	    'ledger:python3 tests/ledger_test.py --binary ./mmolove.cgi' \
	    'queue:python3 tests/queue_test.py --binary ./mmolove.cgi' \
	    'grant-sqlite:bash tests/grant_sqlite_test.sh' \
	    'grant-sql:bash tests/grant_sql_test.sh' \
	    'grant-rcon:bash tests/grant_rcon_test.sh' \
	    'servers:bash tests/servers_test.sh' \
	    'units:bash tests/units_test.sh' \
	    'suexec:bash tests/suexec_test.sh' \
	    'fuzz:$(MAKE) -s fuzz FUZZ_SECONDS=$(FUZZ_SECONDS)'

FUZZ_SECONDS ?= 15

# The ledger's heavy fault trials (issue 9), not part of `make test`:
# >= 200 kill -9 trials at random instants per unknown_outcome mode, and
# a kill, ENOSPC and EIO at every system call of the sync, queue and
# drain paths in both modes; then the whole ledger suite once on the
# sanitized build.  Figures (trials, violations, time) are its "# note:"
# lines.  SOAK_TRIALS sets the kill trials per mode.  Then the grant
# programs' long trials (soak-grants, below).
SOAK_TRIALS ?= 200
soak:
	@sh tests/deps.sh strace
	@$(MAKE) -s mmolove.cgi build/asan/mmolove.cgi
	@sh tests/run.sh \
	    'ledger-soak:python3 tests/ledger_test.py --binary ./mmolove.cgi --soak --trials $(SOAK_TRIALS) -k orphan -k every_syscall' \
	    'ledger-sanitized:python3 tests/ledger_test.py --binary build/asan/mmolove.cgi' \
	    'queue-soak:python3 tests/queue_test.py --binary ./mmolove.cgi --soak'
	@$(MAKE) -s soak-grants

# The grant programs' suites alone: grant-sqlite, and grant-mysql and
# grant-postgres against real MariaDB and PostgreSQL servers (about a
# minute).
test-grants: deps
	@$(MAKE) -s mmolove.cgi
	@sh tests/run.sh \
	    'grant-sqlite:bash tests/grant_sqlite_test.sh' \
	    'grant-sql:bash tests/grant_sql_test.sh'

# The long trials for grant-mysql and grant-postgres: two web nodes on
# one heart_id, SOAK_ROUNDS rounds, and SOAK_CRASHES kill -9 trials per
# database (handler or grant killed at a random instant, then replayed).
SOAK_ROUNDS ?= 100
SOAK_CRASHES ?= 200
soak-grants: deps
	@$(MAKE) -s mmolove.cgi
	@sh tests/run.sh \
	    'grant-sql-soak:bash tests/grant_sql_test.sh --rounds $(SOAK_ROUNDS) --crashes $(SOAK_CRASHES)'

# Timings (never pass or fail): a paid vote through grant-mysql and
# grant-postgres beside the client's own bare round trip, in one run.
BENCH_VOTES ?= 100
bench-grants: deps
	@$(MAKE) -s mmolove.cgi
	@bash tests/grant_sql_test.sh --bench $(BENCH_VOTES)

demo:
	@sh tests/deps.sh
	@$(MAKE) -s mmolove.cgi
	@sh scripts/demo.sh

clean:
	rm -f mmolove.cgi mmolove.cgi.o $(OBJS)
	rm -f grants/grant-rcon grants/*.o
	rm -rf build

-include tests/unit.mk
-include bench/bench.mk

.PHONY: all bench-grants clean deps demo grant-rcon-at install soak soak-grants static test \
	test-grants warnings FORCE
