# leakhunt - plain GNU make. `make` builds everything under build/.
# User CFLAGS are respected; warnings live in WARN so they stay on.

CC       ?= cc
CFLAGS   ?= -O2 -g
WARN     := -Wall -Wextra -Wshadow -Wno-unused-parameter -Wmissing-prototypes
CPPFLAGS += -D_GNU_SOURCE -I$(GEN) -Iformat -Iinclude
LDFLAGS  ?=
PREFIX   ?= /usr/local
DESTDIR  ?=

ifeq ($(DEVELOPER),1)
WARN += -Werror
endif

B     := build
BIN   := $(B)/bin
LIB   := $(B)/lib
OBJ   := $(B)/obj
GEN   := $(B)/gen
TBIN  := $(B)/tests

ALL_CFLAGS = $(CPPFLAGS) $(WARN) -fPIC -MMD -MP $(CFLAGS)

.PHONY: all deps build-deps check demo bench install clean asan fuzz torture werror deb
all:

include format/module.mk
include recorder/module.mk
include analyze/module.mk
include tests/module.mk
-include tests/fuzz/module.mk
-include tests/torture/module.mk
include bench/module.mk
include samples/module.mk
include doc/module.mk
include pkg/module.mk

$(OBJ)/%.o: %.c | $(GEN)/trace.pb-c.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(OBJ)/gen/%.o: $(GEN)/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# Packages a fresh Debian 12 machine needs; installed only when missing
# (--no-install-recommends: libc6-dev, and g++ for the C++ sample and
# -lstdc++, are named explicitly). BUILD_PACKAGES build leakhunt and run
# `make demo` (python3 reads the demo's JSON); TEST_PACKAGES are what the
# tests add: procps for pgrep, clang and its sanitizer runtime, valgrind,
# heaptrack to compare with, chromium for the SVG and HTML checks,
# CPython's own test suite, golang-go for `go tool pprof`, tmux to drive
# leakhunt-top's screen, and what the man pages and the Debian package are
# built and checked with (scdoc, man-db, dpkg-dev, lintian).
# libncurses-dev: leakhunt-top's curses screen.
BUILD_PACKAGES := gcc g++ libc6-dev make pkg-config liblz4-dev libprotobuf-c-dev protobuf-c-compiler \
	libunwind-dev libdw-dev libelf-dev libxxhash-dev zlib1g-dev libncurses-dev python3
TEST_PACKAGES := procps clang libclang-rt-14-dev valgrind heaptrack chromium libpython3.11-testsuite golang-go \
	tmux scdoc man-db dpkg-dev lintian
DEB_PACKAGES := $(BUILD_PACKAGES) $(TEST_PACKAGES)
deps:
	@./tests/ensure-packages.sh $(DEB_PACKAGES)
build-deps:
	@./tests/ensure-packages.sh $(BUILD_PACKAGES)

check: deps
	@$(MAKE) --no-print-directory all test-programs samples man
	@./tests/run.sh

demo: build-deps
	@$(MAKE) --no-print-directory all samples
	@./samples/demo.sh

# Sanitizer build in its own tree; runs the unit tests under ASan+UBSan.
asan: deps
	@$(MAKE) --no-print-directory B=build-asan CC=clang \
	  CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	  LDFLAGS="-fsanitize=address,undefined" asan-tests build-asan/bin/leakhunt-replay build-asan/bin/leakhunt-dump
	@$(MAKE) --no-print-directory all test-programs build-fuzz/seed_traces
	@./tests/fuzz/asan_tools.sh build-asan/bin

# Every warning an error, with gcc and with clang, each in its own tree.
werror: werror-gcc werror-clang
werror-%: deps
	@$(MAKE) --no-print-directory B=build-werror-$* CC=$* DEVELOPER=1 all test-programs samples

# The library goes to lib/leakhunt/, where leakhunt-record looks for it
# (bin/../lib/leakhunt/libleakhunt.so).
install: all man
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/leakhunt $(DESTDIR)$(PREFIX)/include \
	  $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
	  $(DESTDIR)$(PREFIX)/share/doc/leakhunt
	install -m 755 $(BIN)/leakhunt-* $(DESTDIR)$(PREFIX)/bin/
	install -m 755 $(LIB)/libleakhunt.so $(DESTDIR)$(PREFIX)/lib/leakhunt/
	install -m 644 include/leakhunt.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(MAN_PAGES) $(DESTDIR)$(PREFIX)/share/man/man1/
	for t in $(COMPLETED_TOOLS); do \
	  install -m 644 doc/leakhunt.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/$$t || exit 1; done
	install -m 644 README.md format/FORMAT.md $(DESTDIR)$(PREFIX)/share/doc/leakhunt/

clean:
	rm -rf build build-asan build-fuzz build-werror-gcc build-werror-clang build-deb

-include $(shell find $(B) -name '*.d' 2>/dev/null)
