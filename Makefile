# mno-migrate: builds libmno, the tools and the test programs; runs the suites.
#   make              build lib/libmno.a and bin/mno-*
#   make check        install deps, build, run every suite; ends with "N passed, N failed"
#   make check SANITIZE=1   the same with ASan+UBSan (objects in build/san, tools in build/san/bin)
#   make demo         a whole tenant migration on throwaway local servers
#   make bench        benchmarks against pg_dump, pg_restore, psql COPY, zstd (docs/BENCHMARKS.md)
# Files are discovered: lib/*.c -> libmno; tools/mno-*.c and filters/mno-filter-*.c -> one tool
# each; tests/unit/test_*.c -> one cmocka test each; tests/mongod/*.c -> the MongoDB test
# server; tests/bin/*.c and bench/*.c -> one helper program each.

CC      ?= cc
PKGS    := libpq libmongoc-1.0 libbson-1.0 libzstd jansson libcrypto
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
VERSION := 0.1.0

CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -pthread -Ilib $(PKG_CFLAGS) -DMNO_VERSION_STR='"$(VERSION)"'
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

LIB_SRC   := $(wildcard lib/*.c)
LIB_OBJ   := $(LIB_SRC:%.c=$(B)/%.o)
TOOL_SRC  := $(wildcard tools/mno-*.c) $(wildcard filters/mno-filter-*.c)
TOOLS     := $(addprefix $(BIN)/,$(notdir $(TOOL_SRC:.c=)))
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNITS     := $(addprefix $(TBIN)/,$(notdir $(UNIT_SRC:.c=)))
MONGOD_SRC:= $(wildcard tests/mongod/*.c)
MONGOD    := $(if $(MONGOD_SRC),$(TBIN)/mno-test-mongod)
TBIN_SRC  := $(wildcard tests/bin/*.c) $(wildcard bench/*.c)
TBINS     := $(addprefix $(TBIN)/,$(notdir $(TBIN_SRC:.c=)))
HDRS      := $(wildcard lib/*.h) $(wildcard tests/mongod/*.h) $(wildcard tests/unit/*.h)

.PHONY: all tools tests check demo bench deps clean
.SECONDARY:
all: $(LIBA) $(TOOLS)
tests: all $(UNITS) $(MONGOD) $(TBINS)

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

clean:
	rm -rf build bin lib/libmno.a
