# tests/unit.mk: unit tests (cmocka) and fuzzing (libFuzzer).
#
# Included by the top-level Makefile, which defines CC, ALL_CFLAGS,
# LDHARDEN, LIBS, OBJS (every src/*.o; none holds main()) and the
# sanitizer build (SAN_CC, SAN_FLAGS, SAN_CFLAGS, SAN_OBJS: src/*.c
# built into build/asan/src/).  Include it after those are defined:
# OBJS and SAN_OBJS are read in prerequisite lists, which make expands
# as it reads each rule.
#
#   make unit            cmocka tests linked against the product's own
#                        objects, built with the product's flags
#   make unit-sanitize   the same tests and src/*.c rebuilt by clang with
#                        ASan + UBSan into build/asan/, and run
#   make fuzz            one libFuzzer harness per parser of outside
#                        bytes, the configuration file and the whole
#                        request decision, built into build/fuzz/ and run
#                        for FUZZ_SECONDS (default 20) each, FUZZ_JOBS
#                        (default 2) at a time, on a copy of
#                        tests/fuzz/corpus/<name>/ (tests/fuzz/run.sh)
#   make fuzz-build      only build the harnesses
#
# `build/unit_test json ledger` runs only the groups named (UNIT_VERBOSE=1
# traces each input).  A crash
# found by the fuzzer is saved as build/fuzz/artifacts/<name>/crash-*;
# replay it with `build/fuzz/<name> <file>`.  Sanitizer and fuzzer
# objects live under build/ only, never over src/*.o.

FUZZ_CC		?= clang
FUZZ_SECONDS	?= 20
FUZZ_JOBS	?= 2

UNIT_SRCS	 = $(wildcard tests/unit/*.c)
UNIT_HDRS	 = tests/unit/unit.h $(wildcard src/*.h)
UNIT_OBJS	 = $(patsubst tests/unit/%.c,build/unit/%.o,$(UNIT_SRCS))
UNIT_LIBS	 = -lcmocka

UNIT_SAN_UNIT_OBJS	 = $(patsubst tests/unit/%.c,build/asan/unit/%.o,$(UNIT_SRCS))
UNIT_SAN_ENV		 = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
		   UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

FUZZ_FLAGS	 = -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer \
		   -fno-sanitize-recover=all
FUZZ_CFLAGS	 = $(ALL_CFLAGS) -U_FORTIFY_SOURCE -O1 -g $(FUZZ_FLAGS)
FUZZ_NAMES	 = json_validate json_unescape event_parse signature_parse \
		   legacy_parse event_claims config_parse request
FUZZ_BINS	 = $(patsubst %,build/fuzz/%,$(FUZZ_NAMES))

# The src/*.c each harness compiles in (never the product's .o files).
FUZZ_SRC_json_validate	 = src/json.c src/text.c
FUZZ_SRC_json_unescape	 = src/json.c src/text.c
FUZZ_SRC_event_parse	 = src/event.c src/json.c src/text.c src/vote.c
FUZZ_SRC_event_claims	 = src/event.c src/json.c src/text.c src/vote.c
FUZZ_SRC_signature_parse = src/signature.c src/digest.c src/text.c
FUZZ_SRC_legacy_parse	 = src/legacy.c src/signature.c src/digest.c \
			   src/text.c
# The whole request decision: src/ but for the grant launcher, which a
# stub in tests/fuzz/ replaces at link time, and the other entry points.
FUZZ_SRC_config_parse	 = src/config.c src/sys.c
FUZZ_SRC_request	 = $(filter-out src/grant.c src/cli.c src/fastcgi.c \
			   src/owner.c src/queue.c,$(SRCS)) tests/fuzz/grant_stub.c
FUZZ_DICT_json_validate	 = tests/fuzz/json.dict
FUZZ_DICT_event_parse	 = tests/fuzz/json.dict
FUZZ_DICT_event_claims	 = tests/fuzz/json.dict
FUZZ_DICT_signature_parse = tests/fuzz/signature.dict
FUZZ_DICT_legacy_parse	 = tests/fuzz/legacy.dict
FUZZ_DICT_config_parse	 = tests/fuzz/config.dict
FUZZ_DICT_request	 = tests/fuzz/request.dict

# --- cmocka, with the product's compiler and flags -----------------------

unit: build/unit_test
	build/unit_test

build/unit_test: $(UNIT_OBJS) $(OBJS)
	$(CC) $(LDHARDEN) $(LDFLAGS) -o $@ $(UNIT_OBJS) $(OBJS) \
	    $(UNIT_LIBS) $(LIBS)

build/unit/%.o: tests/unit/%.c $(UNIT_HDRS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# --- the same under ASan + UBSan ------------------------------------------

unit-sanitize: build/asan/unit_test
	$(UNIT_SAN_ENV) build/asan/unit_test

build/asan/unit_test: $(UNIT_SAN_UNIT_OBJS) $(SAN_OBJS)
	$(SAN_CC) $(SAN_FLAGS) $(LDHARDEN) $(LDFLAGS) -o $@ \
	    $(UNIT_SAN_UNIT_OBJS) $(SAN_OBJS) $(UNIT_LIBS) $(LIBS)

build/asan/unit/%.o: tests/unit/%.c $(UNIT_HDRS)
	@mkdir -p $(@D)
	$(SAN_CC) $(SAN_CFLAGS) -c -o $@ $<

# --- libFuzzer --------------------------------------------------------------

fuzz-build: $(FUZZ_BINS)

define FUZZ_RULE
build/fuzz/$(1): tests/fuzz/fuzz_$(1).c $$(FUZZ_SRC_$(1)) $$(wildcard src/*.h) \
    $$(wildcard tests/fuzz/*.h)
	@mkdir -p $$(@D)
	$$(FUZZ_CC) $$(FUZZ_CFLAGS) $$(LDHARDEN) -o $$@ $$< $$(FUZZ_SRC_$(1)) \
	    $$(LIBS)
endef
$(foreach h,$(FUZZ_NAMES),$(eval $(call FUZZ_RULE,$(h))))

# Every harness, FUZZ_JOBS at a time, each on a fresh copy of its seed
# corpus; the summary names those that found something.
fuzz: $(FUZZ_BINS)
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_JOBS) \
	    $(foreach n,$(FUZZ_NAMES),$(n)$(if $(FUZZ_DICT_$(n)),:$(FUZZ_DICT_$(n))))

.PHONY: unit unit-sanitize fuzz fuzz-build
