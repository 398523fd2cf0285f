# tests/fuzz/: libFuzzer harnesses for the trace reader, the event decoder,
# the whole replay path (summary, moments, replay, grouping with
# symbolization, flame exports) and the checkpoint sidecar a replay restores
# from, built with clang + ASan + UBSan into build-fuzz/ (the library
# sources are compiled straight into each harness).
#
#   make fuzz                  seed the corpora, run each harness FUZZ_SECONDS (60)
#   make fuzz-smoke            the same for 20 seconds each (80 seconds in all)
#   make fuzz-regress          run each harness once over tests/fuzz/regress/<name>/
#
# Crashers land in build-fuzz/artifacts/; keep each one as a regression
# input under tests/fuzz/regress/<harness>/ (fuzz_reader -> reader/).
# The replay corpus is the reader seeds plus traces recorded with
# $(BIN)/leakhunt-record when it has been built; the checkpoint corpus is
# sidecars fuzz_checkpoint writes from real checkpointing passes over its
# own trace (FUZZ_CHECKPOINT_SEEDS=DIR).

FUZZ_B       := build-fuzz
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS  := -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all
FUZZ_NAMES   := reader events replay checkpoint
FUZZ_BINS    := $(FUZZ_NAMES:%=$(FUZZ_B)/fuzz_%)
FUZZ_LIB_SRCS := $(FORMAT_SRCS) $(GEN)/trace.pb-c.c
FUZZ_REPLAY_SRCS := $(ANALYZE_SRCS) $(FLAME_SRCS) $(GEN)/profile.pb-c.c

.PHONY: fuzz-build fuzz-corpus fuzz-smoke fuzz-regress

$(FUZZ_B)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB_SRCS) $(wildcard format/*.h) $(GEN)/trace.pb-c.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(WARN) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_LIB_SRCS) $(FORMAT_LIBS)

$(FUZZ_B)/fuzz_replay $(FUZZ_B)/fuzz_checkpoint: $(FUZZ_B)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB_SRCS) \
		$(FUZZ_REPLAY_SRCS) $(wildcard format/*.h analyze/*.h) $(GEN)/trace.pb-c.h $(GEN)/profile.pb-c.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) -Ianalyze $(WARN) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_LIB_SRCS) $(FUZZ_REPLAY_SRCS) \
	  $(ANALYZE_LIBS) $(FLAME_LIBS) $(FORMAT_LIBS)

$(FUZZ_B)/seed_traces: tests/fuzz/seed_traces.c $(LIB)/libleakhunt_format.a | $(GEN)/trace.pb-c.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIB)/libleakhunt_format.a $(FORMAT_LIBS) $(LDFLAGS)

fuzz-build: $(FUZZ_BINS)

fuzz-corpus: $(FUZZ_B)/seed_traces $(FUZZ_B)/fuzz_checkpoint
	@mkdir -p $(FUZZ_NAMES:%=$(FUZZ_B)/corpus/%) $(FUZZ_B)/artifacts
	$(FUZZ_B)/seed_traces $(FUZZ_B)/corpus
	cp $(FUZZ_B)/corpus/reader/*.lht $(FUZZ_B)/corpus/replay/
	FUZZ_CHECKPOINT_SEEDS=$(FUZZ_B)/corpus/checkpoint $(FUZZ_B)/fuzz_checkpoint
	@if [ -x $(BIN)/leakhunt-record ]; then \
	  for p in $(TBIN)/progs/known_allocs $(TBIN)/progs/threads8 /bin/true; do \
	    [ -x $$p ] || continue; \
	    $(BIN)/leakhunt-record -q -o $(FUZZ_B)/corpus/replay/recorded_$$(basename $$p).lht -- $$p \
	      >/dev/null 2>&1 || true; \
	  done; \
	  ls $(FUZZ_B)/corpus/replay/recorded_*.lht 2>/dev/null | sed 's/^/seeded /'; \
	fi

fuzz-regress: $(FUZZ_BINS)
	@set -e; for n in $(FUZZ_NAMES); do \
	  files=$$(find tests/fuzz/regress/$$n -type f ! -name '.*' 2>/dev/null | sort); \
	  [ -n "$$files" ] || continue; \
	  echo "== fuzz_$$n over tests/fuzz/regress/$$n"; \
	  $(FUZZ_B)/fuzz_$$n $$files >$(FUZZ_B)/regress_$$n.log 2>&1 \
	    || { tail -n 60 $(FUZZ_B)/regress_$$n.log; echo "fuzz_$$n FAILED on a regression input"; exit 1; }; \
	  grep -c '^Executed ' $(FUZZ_B)/regress_$$n.log | sed 's/$$/ inputs ok/'; \
	done

# Runs after the regression inputs, so a known crasher fails fast.
# A sidecar whose counts outgrow the replay's tables (1024 stack nodes,
# 64 bytes each) is larger than the other harnesses' inputs.
# FUZZ_SMOKE=1 starts from the seeds alone (build-fuzz/smoke/), not the
# corpus grown by earlier runs: loading a large replay corpus alone takes
# longer than a smoke run may.
FUZZ_SMOKE ?=
fuzz: fuzz-regress fuzz-corpus
	@set -e; for n in $(FUZZ_NAMES); do \
	  case $$n in checkpoint) max_len=131072 ;; *) max_len=16384 ;; esac; \
	  corpus=$(FUZZ_B)/corpus/$$n; \
	  if [ -n "$(FUZZ_SMOKE)" ]; then \
	    corpus=$(FUZZ_B)/smoke/$$n; rm -rf $$corpus; mkdir -p $$corpus; \
	    find $(FUZZ_B)/corpus/$$n -maxdepth 1 -type f ! -regex '.*/[0-9a-f]*' -exec cp {} $$corpus/ \; ; \
	  fi; \
	  echo "== fuzz_$$n for $(FUZZ_SECONDS)s"; \
	  $(FUZZ_B)/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -max_len=$$max_len \
	    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_B)/artifacts/fuzz_$$n- \
	    $$corpus tests/fuzz/regress/$$n >$(FUZZ_B)/fuzz_$$n.log 2>&1 \
	    || { tail -n 60 $(FUZZ_B)/fuzz_$$n.log; echo "fuzz_$$n FAILED (log: $(FUZZ_B)/fuzz_$$n.log)"; exit 1; }; \
	  grep -E 'stat::number_of_executed_units|stat::new_units_added' $(FUZZ_B)/fuzz_$$n.log; \
	done

fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=20 FUZZ_SMOKE=1
