# mno-migrate: builds libmno, the tools and the test programs; runs the suites.
#   make              build lib/libmno.a and bin/mno-*
#   make check        install deps, build, run every suite; ends with "N passed, N failed"
#   make check SANITIZE=1   the same with ASan+UBSan (objects in build/san, tools in build/san/bin)
#   make demo         a whole tenant migration on throwaway local servers
#   make bench        benchmarks against pg_dump, pg_restore, psql COPY, zstd (docs/BENCHMARKS.md)
#   make fuzz         each fuzz target (tests/fuzz/fuzz_*.c) under libFuzzer (clang) for FUZZ_SECONDS
#                     (default 60) from its corpus tests/fuzz/corpus/NAME, ASan+UBSan; without
#                     clang, the replay driver's deterministic mutations for as long (docs/testing.md)
# Files are discovered: lib/*/*.c and lib/*/*/*.c -> libmno; tools/mno-*.c and filters/mno-filter-*.c -> one tool
# each; tests/unit/test_*.c -> one cmocka test each; tests/mongod/*.c -> the MongoDB test
# server; tests/bin/*.c and bench/*.c -> one helper program each; tests/fuzz/fuzz_*.c -> one
# fuzz target each, linked with tests/fuzz/replay.c as TBIN/fuzz_NAME-replay (make check replays
# its corpus) and, by make fuzz, with libFuzzer as build/fuzz/fuzz_NAME.

CC      ?= cc
# lib/ by layer: archive/ (the format, codecs, sums), engine/ (the interface) with engine/pg/ and
# engine/mongo/, scope/ (scope, rules, scrub and tenant rule files), driver/ (dump, restore,
# verify, filters, live tools), util/; every folder is on the include path
LIB_INC := $(addprefix -I,$(sort $(patsubst %/,%,$(dir $(wildcard lib/*/*.h lib/*/*/*.h)))))
PKGS    := libpq libmongoc-1.0 libbson-1.0 libzstd jansson libcrypto
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
VERSION := 0.1.0

CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -pthread $(LIB_INC) $(PKG_CFLAGS) -DMNO_VERSION_STR='"$(VERSION)"'
LDLIBS  += $(PKG_LIBS) -pthread

ifeq ($(SANITIZE),1)
# Every ASan/UBSan finding ends the process (-fno-sanitize-recover=all); tests/run sends each
# report to a file (log_path) and fails the suite it appeared in. The runtimes are linked
# statically: with GCC's two shared runtimes (libasan.so + libubsan.so) libubsan ignores
# log_path and its reports would only reach stderr, where a test may never look.
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
ifeq ($(findstring clang,$(shell $(CC) --version 2>/dev/null)),)
LDFLAGS += -static-libasan -static-libubsan
endif
B       := build/san
BIN     := build/san/bin
LIBA    := build/san/libmno.a
else
B       := build/rel
BIN     := bin
LIBA    := lib/libmno.a
endif
TBIN    := $(B)/tests

LIB_SRC   := $(wildcard lib/*/*.c lib/*/*/*.c)
LIB_OBJ   := $(LIB_SRC:%.c=$(B)/%.o)
TOOL_SRC  := $(wildcard tools/mno-*.c) $(wildcard filters/mno-filter-*.c)
TOOLS     := $(addprefix $(BIN)/,$(notdir $(TOOL_SRC:.c=)))
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNITS     := $(addprefix $(TBIN)/,$(notdir $(UNIT_SRC:.c=)))
MONGOD_SRC:= $(wildcard tests/mongod/*.c)
MONGOD    := $(if $(MONGOD_SRC),$(TBIN)/mno-test-mongod)
TBIN_SRC  := $(wildcard tests/bin/*.c) $(wildcard bench/*.c)
TBINS     := $(addprefix $(TBIN)/,$(notdir $(TBIN_SRC:.c=)))
FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_REPLAY := $(addprefix $(TBIN)/,$(notdir $(FUZZ_SRC:.c=-replay)))
HDRS      := $(wildcard lib/*/*.h lib/*/*/*.h tools/*.h) $(wildcard tests/mongod/*.h) $(wildcard tests/unit/*.h) $(wildcard tests/fuzz/*.h)

.PHONY: all tools tests check demo bench deps clean fuzz
.SECONDARY:
all: $(LIBA) $(TOOLS)
tests: all $(UNITS) $(MONGOD) $(TBINS) $(FUZZ_REPLAY)

$(B)/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(LIBA): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	$(if $(LIB_OBJ),ar rcs $@ $(LIB_OBJ),ar rcs $@)

$(BIN)/%: $(B)/tools/%.o $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBA) $(LDLIBS)
$(BIN)/mno-filter-%: $(B)/filters/mno-filter-%.o $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBA) $(LDLIBS)

$(TBIN)/test_%: $(B)/tests/unit/test_%.o $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBA) $(LDLIBS) -lcmocka

$(TBIN)/mno-test-mongod: $(MONGOD_SRC:%.c=$(B)/%.o)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(TBIN)/fuzz_%-replay: $(B)/tests/fuzz/fuzz_%.o $(B)/tests/fuzz/replay.o $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(B)/tests/fuzz/replay.o $(LIBA) $(LDLIBS)

$(TBIN)/%: $(B)/tests/bin/%.o $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBA) $(LDLIBS)
$(TBIN)/%: $(B)/bench/%.o $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBA) $(LDLIBS)

deps:
	@scripts/deps

check: deps
	$(MAKE) tests
	MNO_BIN=$(abspath $(BIN)) MNO_TESTBIN=$(abspath $(TBIN)) tests/run

demo: deps
	$(MAKE) tests
	MNO_BIN=$(abspath $(BIN)) MNO_TESTBIN=$(abspath $(TBIN)) scripts/demo

bench: deps
	$(MAKE) tests
	MNO_BIN=$(abspath $(BIN)) MNO_TESTBIN=$(abspath $(TBIN)) bench/run

# libFuzzer builds: lib/ and the targets compiled by clang with coverage, ASan and UBSan.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS  := -O1 -g -std=gnu11 -Wall -Wextra -pthread $(LIB_INC) $(PKG_CFLAGS) -DMNO_VERSION_STR='"$(VERSION)"' \
                -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_BINS    := $(addprefix build/fuzz/,$(notdir $(FUZZ_SRC:.c=)))

build/fuzz/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<
build/fuzz/libmno.a: $(LIB_SRC:%.c=build/fuzz/%.o)
	rm -f $@
	ar rcs $@ $^
build/fuzz/fuzz_%: build/fuzz/tests/fuzz/fuzz_%.o build/fuzz/libmno.a
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $< build/fuzz/libmno.a $(LDLIBS)

# New inputs libFuzzer finds go to build/fuzz/corpus/NAME (the committed corpus is only read);
# a crash leaves build/fuzz/crash-* and stops with the report.
fuzz:
	@if command -v $(FUZZ_CC) >/dev/null 2>&1; then \
	  $(MAKE) --no-print-directory $(FUZZ_BINS) || exit 1; \
	  for t in $(notdir $(FUZZ_SRC:.c=)); do \
	    n=$${t#fuzz_}; mkdir -p build/fuzz/corpus/$$n; \
	    echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
	    build/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=10 -print_final_stats=1 \
	      -artifact_prefix=build/fuzz/ build/fuzz/corpus/$$n tests/fuzz/corpus/$$n || exit 1; \
	  done; \
	else \
	  echo "fuzz: $(FUZZ_CC) not found (scripts/deps installs clang): the replay driver's mutations instead"; \
	  $(MAKE) --no-print-directory SANITIZE=1 tests || exit 1; \
	  for t in $(notdir $(FUZZ_SRC:.c=)); do \
	    build/san/tests/$$t-replay -t $(FUZZ_SECONDS) -o build/san/$$t-last-input tests/fuzz/corpus/$${t#fuzz_} || exit 1; \
	  done; \
	fi

clean:
	rm -rf build bin lib/libmno.a
