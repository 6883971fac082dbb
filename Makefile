# rerank — plain Makefile (no autotools).  `make`, `make check`, `make install`.
CC ?= cc
PKG_CONFIG ?= pkg-config
PKGS = libcurl jansson openblas libutf8proc sqlite3
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
VERSION = 0.1.0

CFLAGS ?= -O2 -g
WARN = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wno-unused-parameter
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS))
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS))
BASE_CFLAGS = -std=c11 -D_GNU_SOURCE -Isrc -DRERANK_VERSION='"$(VERSION)"' $(WARN) $(PKG_CFLAGS)
ALL_CFLAGS = $(BASE_CFLAGS) $(CFLAGS)
LIBS = $(PKG_LIBS) -lm -lpthread

SRCS := $(wildcard src/*.c src/*/*.c)
HDRS := $(wildcard src/*.h src/*/*.h)
OBJS := $(SRCS:.c=.o)
LIB_OBJS := $(filter-out src/main.o,$(OBJS))
TEST_SRCS := $(wildcard tests/test_*.c)
TEST_BINS := $(TEST_SRCS:.c=)

all: rerank

rerank: $(OBJS)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(OBJS) $(LIBS)

src/%.o: src/%.c $(HDRS)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

tests/test_%: tests/test_%.c tests/check.h $(LIB_OBJS)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(LIBS)

# The test command of the README: unit tests, then CLI tests of the real binary.
check: rerank $(TEST_BINS) tests/large_trec
	@sh tests/run.sh $(TEST_BINS)

# Scale test: a 1,000,000-passage collection is indexed and queried under a
# 512 MiB peak-RSS bound (a few seconds; tests/suite_large.sh runs it in
# `make check` too).
tests/large_trec: tests/large_trec.c tests/check.h $(LIB_OBJS)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(LIBS)

check-large: tests/large_trec
	@mkdir -p tests/out
	./tests/large_trec 1000000 tests/out 512

# The same suite under AddressSanitizer and UBSan, in a separate build tree.
# Any report stops the program (no recovery), so a unit test cannot pass
# with UB reported only in its log.
asan:
	$(MAKE) clean
	RERANK_SANITIZED=1 $(MAKE) CFLAGS='-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer' LDFLAGS='-fsanitize=address,undefined' check
	$(MAKE) clean

# libFuzzer targets (fuzz/fuzz_*.c, one per untrusted input), built with
# clang under ASan + UBSan in build/fuzz/, apart from the normal objects.
# `make fuzz` builds them and their seed corpora (from testdata/ and
# tests/cases/, into build/fuzz/corpus/TARGET); `make fuzz-smoke` runs each
# for FUZZ_SECONDS and fails on any finding (crash, leak, UB, timeout, OOM).
# One target by hand: build/fuzz/fuzz_jsonl build/fuzz/corpus/fuzz_jsonl
FUZZ_CC ?= clang-14
FUZZ_SECONDS ?= 20
FUZZ_DIR = build/fuzz
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS = $(BASE_CFLAGS) -Wno-psabi -O1 -g -fno-omit-frame-pointer $(FUZZ_SAN) \
	-DFUZZ_TESTDATA='"$(CURDIR)/testdata"'
FUZZ_SRCS := $(wildcard fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst fuzz/%.c,$(FUZZ_DIR)/%,$(FUZZ_SRCS))
FUZZ_OBJS := $(patsubst src/%.c,$(FUZZ_DIR)/obj/%.o,$(filter-out src/main.c,$(SRCS)))

$(FUZZ_DIR)/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_DIR)/fuzz_%: fuzz/fuzz_%.c $(wildcard fuzz/*.h) $(FUZZ_OBJS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJS) $(LIBS)

# The objects are kept between builds (make would delete them as intermediates).
.SECONDARY: $(FUZZ_OBJS)

fuzz: $(FUZZ_BINS)
	@python3 fuzz/corpus.py $(FUZZ_DIR)/corpus $(patsubst fuzz/%.c,%,$(FUZZ_SRCS))

fuzz-smoke: fuzz
	@sh fuzz/smoke.sh $(FUZZ_DIR) $(FUZZ_SECONDS) $(patsubst fuzz/%.c,%,$(FUZZ_SRCS))

# The unit and CLI tests under valgrind (slow).
valgrind: rerank $(TEST_BINS)
	@RERANK_VALGRIND=1 sh tests/run.sh $(TEST_BINS)

install: rerank
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 755 rerank $(DESTDIR)$(BINDIR)/rerank
	install -m 644 man/rerank.1 $(DESTDIR)$(MANDIR)/man1/rerank.1

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/rerank $(DESTDIR)$(MANDIR)/man1/rerank.1

clean:
	rm -f rerank $(OBJS) $(TEST_BINS) tests/large_trec
	rm -rf tests/out $(FUZZ_DIR)/obj $(FUZZ_BINS)

.PHONY: all check check-large asan fuzz fuzz-smoke valgrind install uninstall clean
