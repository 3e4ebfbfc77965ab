# Trapeze/Slice build.  `make` builds everything into build/; `make SAN=1`
# builds the same tree with AddressSanitizer and UBSan into build-san/.
# `make fuzz` builds the libFuzzer targets with clang into build-fuzz/.

CC      ?= cc
SAN     ?= 0
ifeq ($(SAN),1)
  B      := build-san
  SANFL  := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  OPT    := -O1 -g
else
  B      := build
  SANFL  :=
  OPT    := -O2 -g
endif

CFLAGS  += $(OPT) -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Werror=implicit-function-declaration \
           -D_GNU_SOURCE -Iinclude -Ilib $(SANFL) -pthread -MMD -MP
LDFLAGS += $(SANFL) -pthread
# System libraries (Debian packages, see README): sodium (cluster auth),
# isal (CRC32C), lmdb (file manager store), nfs (NFSv3/MOUNT codecs and
# client), fuse3 (slicefs), inih (cluster files).  --as-needed keeps each binary to what it uses.
LIBS    := -Wl,--as-needed -lsodium -lisal -llmdb -lnfs -lfuse3 -linih
CFLAGS  += $(shell pkg-config --cflags fuse3 2>/dev/null)

# Every lib/<name>/ is a library $(B)/lib/lib<name>.a.  LIB_ORDER lists
# them upper layers first (the link order); a new library goes in it.
LIB_ORDER := slice nfsfront oncrpc netrpc trapeze
LIB_NAMES := $(filter $(notdir $(patsubst %/,%,$(wildcard lib/*/))),$(LIB_ORDER))
LIBS_A    := $(LIB_NAMES:%=$(B)/lib/lib%.a)
LIB_SRC   := $(foreach l,$(LIB_NAMES),$(wildcard lib/$(l)/*.c))

# src/common is not a program: it is what the benchmark tools share
# (perfkit.h), a library linked into every program ahead of LIBS_A.
PK_SRC   := $(wildcard src/common/*.c)
PK_OBJ   := $(PK_SRC:%.c=$(B)/%.o)
PK_LIB   := $(B)/lib/libperfkit.a

PROGS    := $(filter-out common,$(notdir $(patsubst %/,%,$(dir $(wildcard src/*/*.c)))))
PROG_BIN := $(PROGS:%=$(B)/bin/%)

TEST_SRC := $(wildcard tests/t-*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(B)/tests/%)
TEST_COMMON := $(B)/tests/testlib.o

BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(B)/bench/%)

.SECONDEXPANSION:
all: $(LIBS_A) $(PK_LIB) $(PROG_BIN) $(TEST_BIN) $(BENCH_BIN)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(B)/lib/lib%.a: $$(addprefix $(B)/,$$(subst .c,.o,$$(wildcard lib/$$*/*.c)))
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(PK_LIB): $(PK_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

# The programs and perfkit itself include perfkit.h.
$(B)/src/%.o: CFLAGS += -Isrc/common

# Each program is the .c files of its folder under src/, plus perfkit.
$(B)/bin/%: $$(addprefix $(B)/,$$(subst .c,.o,$$(wildcard src/$$*/*.c))) $(PK_LIB) $(LIBS_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# -rdynamic: a crashing test prints a backtrace with names (testlib.c).
$(B)/tests/t-%: $(B)/tests/t-%.o $(TEST_COMMON) $(LIBS_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -rdynamic -o $@ $^ $(LIBS)

$(B)/bench/%: $(B)/bench/%.o $(LIBS_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# libFuzzer targets: clang only, sanitizers on.
FUZZ_SRC := $(wildcard fuzz/fuzz-*.c)
FUZZ_BIN := $(FUZZ_SRC:fuzz/%.c=build-fuzz/%)
fuzz: $(FUZZ_BIN)
build-fuzz/%: fuzz/%.c $(LIB_SRC)
	@mkdir -p build-fuzz
	clang -g -O1 -std=gnu11 -D_GNU_SOURCE -Iinclude -Ilib -pthread \
	  -fsanitize=fuzzer,address,undefined -o $@ $(filter %.c,$^) $(LIBS)

test: all
	tests/run.sh $(B)

clean:
	rm -rf build build-san build-fuzz

.PHONY: all test clean fuzz
-include $(shell find $(B) -name '*.d' 2>/dev/null)
