# bench/: `make bench` measures leakhunt against heaptrack side by side.
# Never part of `make check`.

BENCH_CFLAGS := -O2 -g -fno-omit-frame-pointer -fno-optimize-sibling-calls -Iinclude

$(B)/bench/churn: bench/churn.c
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -o $@ $< -pthread

$(B)/bench/server_like: bench/server_like.c include/leakhunt.h
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -o $@ $<

# valgrind for massif, linux-perf for the recorder profile, bc for run.sh's arithmetic.
$(B)/bench/count_allocs.so: bench/count_allocs.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -shared -fPIC -o $@ $<

BENCH_PACKAGES := heaptrack hyperfine valgrind sqlite3 time bc linux-perf
bench: deps
	@./tests/ensure-packages.sh $(BENCH_PACKAGES)
	@$(MAKE) --no-print-directory all $(B)/bench/churn $(B)/bench/server_like $(B)/bench/count_allocs.so
	@./bench/run.sh

# lht-recode: a trace written again in another event encoding, with its
# column breakdown (bench experiment; tests/scenario/trace_encoding.sh).
$(B)/bench/lht-recode: bench/recode.c $(LIB)/libleakhunt_format.a | $(GEN)/trace.pb-c.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Iformat -o $@ $< $(LIB)/libleakhunt_format.a $(FORMAT_LIBS) $(LDFLAGS)
test-programs: $(B)/bench/lht-recode
