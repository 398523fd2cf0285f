# tests/: unit tests (tests/unit/test_*.c, linked with the format library),
# traced programs with known allocations (tests/progs/*.c, built -O0 so
# stacks and lines are exact) and scenario scripts (tests/scenario/*.sh).

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(TBIN)/%)
PROG_SRCS := $(wildcard tests/progs/*.c)
PROG_BINS := $(PROG_SRCS:tests/progs/%.c=$(TBIN)/progs/%)

# Extra objects/libraries a unit test needs: UNIT_DEPS_test_x / UNIT_LIBS_test_x.
$(TBIN)/test_%: tests/unit/test_%.c $(LIB)/libleakhunt_format.a | $(GEN)/trace.pb-c.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests -o $@ $< $(UNIT_DEPS_test_$*) $(LIB)/libleakhunt_format.a \
	  $(FORMAT_LIBS) $(UNIT_LIBS_test_$*) $(LDFLAGS)

PROG_CFLAGS := -O0 -g -fno-omit-frame-pointer -fno-inline -Iinclude
$(TBIN)/progs/%: tests/progs/%.c
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) $(WARN) -Wno-missing-prototypes -o $@ $< -pthread -ldl $(PROG_LIBS_$*)

test-programs: $(UNIT_BINS) $(PROG_BINS)
asan-tests: $(UNIT_BINS)
	@for t in $(UNIT_BINS); do echo "== $$t"; $$t >/dev/null || { echo "FAILED: $$t"; exit 1; }; done; echo "asan: unit tests clean"

# Shared libraries of tests/progs/lib/: two plugins for dl_host
# (dlopen/dlclose, one loaded where the other was) and a program's own
# LD_PRELOAD library (record_follow_env.sh).
PROG_SHLIBS := $(patsubst tests/progs/lib/%.c,$(TBIN)/progs/lib%.so,$(wildcard tests/progs/lib/*.c))
$(TBIN)/progs/lib%.so: tests/progs/lib/%.c
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) $(WARN) -Wno-missing-prototypes -shared -fPIC -o $@ $<
test-programs: $(PROG_SHLIBS)

UNIT_DEPS_test_procfs_read := recorder/procfs_read.c

# bench/churn drives the recorder_robust stall and overload cases.
test-programs: $(B)/bench/churn

# A checkpoint sidecar and the trace it was made for (analyze/checkpoint.c).
$(TBIN)/test_checkpoint_stale: $(LIB)/libleakhunt_analyze.a
$(TBIN)/test_checkpoint_stale: CPPFLAGS += -Ianalyze
UNIT_DEPS_test_checkpoint_stale := $(LIB)/libleakhunt_analyze.a
UNIT_LIBS_test_checkpoint_stale := $(ANALYZE_LIBS)

# C++ exceptions through frames without frame pointers (unwind_verify.sh).
$(TBIN)/progs/throw_unwind: tests/progs/throw_unwind.cpp
	@mkdir -p $(dir $@)
	$(CXX) -O2 -g -fomit-frame-pointer -Wall -Wextra -o $@ $< -pthread
test-programs: $(TBIN)/progs/throw_unwind
