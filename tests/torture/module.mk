# tests/torture/: programs that do to the recorder what production does
# (tests/torture/*.c -> build/tests/torture/), run by tests/torture/run.sh.
# `make torture` runs every case; `make check` runs the bounded subset in
# tests/scenario/torture_quick.sh.

TORTURE_SRCS := $(filter-out tests/torture/static_prog.c,$(wildcard tests/torture/*.c))
TORTURE_BINS := $(TORTURE_SRCS:tests/torture/%.c=$(TBIN)/torture/%) \
	$(TBIN)/torture/libttdl.so $(TBIN)/torture/static_prog
TORTURE_CFLAGS := -O1 -g -fno-omit-frame-pointer -Iinclude

$(TBIN)/torture/%: tests/torture/%.c tests/torture/tt.h
	@mkdir -p $(dir $@)
	$(CC) $(TORTURE_CFLAGS) $(WARN) -Wno-missing-prototypes -o $@ $< -pthread -ldl

$(TBIN)/torture/libttdl.so: tests/torture/lib/ttdl.c
	@mkdir -p $(dir $@)
	$(CC) $(TORTURE_CFLAGS) $(WARN) -Wno-missing-prototypes -shared -fPIC -o $@ $<

# No static libc on the machine: the case is skipped (run.sh says so).
$(TBIN)/torture/static_prog: tests/torture/static_prog.c tests/torture/tt.h
	@mkdir -p $(dir $@)
	$(CC) $(TORTURE_CFLAGS) -static -o $@ $< || { echo "static libc missing: static case skipped"; rm -f $@; }

# ttcount: exact per-function counts from traces, for run.sh.
$(TBIN)/torture/ttcount: tests/torture/tool/ttcount.c $(LIB)/libleakhunt_analyze.a \
		$(LIB)/libleakhunt_format.a | $(GEN)/trace.pb-c.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Ianalyze -o $@ $< $(LIB)/libleakhunt_analyze.a $(LIB)/libleakhunt_format.a \
	  $(ANALYZE_LIBS) $(FORMAT_LIBS) $(LDFLAGS)

torture-programs: $(TORTURE_BINS) $(TBIN)/torture/ttcount
test-programs: torture-programs

torture: deps
	@$(MAKE) --no-print-directory all torture-programs test-programs
	@bash tests/torture/run.sh
	@bash tests/torture/cpython_suite.sh
	@bash tests/torture/package_install.sh

.PHONY: torture-programs
