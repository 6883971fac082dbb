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
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -DRERANK_VERSION='"$(VERSION)"' $(WARN) $(PKG_CFLAGS) $(CFLAGS)
LIBS = $(PKG_LIBS) -lm -lpthread

SRCS := $(wildcard src/*.c)
OBJS := $(SRCS:.c=.o)
LIB_OBJS := $(filter-out src/main.o,$(OBJS))
TEST_SRCS := $(wildcard tests/test_*.c)
TEST_BINS := $(TEST_SRCS:.c=)

all: rerank

rerank: $(OBJS)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(OBJS) $(LIBS)

src/%.o: src/%.c $(wildcard src/*.h)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

tests/test_%: tests/test_%.c tests/check.h $(LIB_OBJS)
	$(CC) $(ALL_CFLAGS) -Isrc $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(LIBS)

# The test command of the README: unit tests, then CLI tests of the real binary.
check: rerank $(TEST_BINS) tests/large_trec
	@sh tests/run.sh $(TEST_BINS)

# Scale test: a 1,000,000-passage collection is indexed and queried under a
# 512 MiB peak-RSS bound (a few seconds; tests/suite_large.sh runs it in
# `make check` too).
tests/large_trec: tests/large_trec.c tests/check.h $(LIB_OBJS)
	$(CC) $(ALL_CFLAGS) -Isrc $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(LIBS)

check-large: tests/large_trec
	@mkdir -p tests/out
	./tests/large_trec 1000000 tests/out 512

# The same suite under AddressSanitizer and UBSan, in a separate build tree.
asan:
	$(MAKE) clean
	RERANK_SANITIZED=1 $(MAKE) CFLAGS='-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer' LDFLAGS='-fsanitize=address,undefined' check
	$(MAKE) clean

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
	rm -f rerank src/*.o $(TEST_BINS) tests/large_trec
	rm -rf tests/out

.PHONY: all check check-large asan valgrind install uninstall clean
