# analyze/: the replay engine, symbolizer, exporters and leakhunt-replay.
# The exporters (flame tree, folded, SVG, pprof, speedscope, HTML) build
# into their own archive from analyze/flame.mk.
include analyze/flame.mk

ANALYZE_SRCS := analyze/views.c analyze/output.c analyze/replay.c analyze/checkpoint.c analyze/points.c analyze/symbols.c analyze/sites.c analyze/prefetch.c \
	analyze/suppress.c analyze/select.c analyze/histogram.c
ANALYZE_OBJS := $(ANALYZE_SRCS:%.c=$(OBJ)/%.o)
ANALYZE_LIBS := -ldw -lelf -lstdc++ -lpthread -lm

REPLAY_CLI_OBJS := $(OBJ)/analyze/cli/leakhunt_replay.o $(OBJ)/analyze/cli/no_debuginfod.o $(OBJ)/analyze/cli/xalloc.o
$(ANALYZE_OBJS) $(REPLAY_CLI_OBJS): CPPFLAGS += -Ianalyze

$(LIB)/libleakhunt_analyze.a: $(ANALYZE_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BIN)/leakhunt-replay: $(REPLAY_CLI_OBJS) $(LIB)/libleakhunt_analyze.a \
		$(LIB)/libleakhunt_flame.a $(LIB)/libleakhunt_format.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(ANALYZE_LIBS) $(FLAME_LIBS) $(FORMAT_LIBS)

all: $(BIN)/leakhunt-replay
include analyze/top.mk

# The views on synthetic traces (growth classifier, moments, site choice).
$(TBIN)/test_views: CPPFLAGS += -Ianalyze -I$(GEN)
$(TBIN)/test_views: $(LIB)/libleakhunt_analyze.a $(LIB)/libleakhunt_flame.a
UNIT_DEPS_test_views := $(LIB)/libleakhunt_analyze.a $(LIB)/libleakhunt_flame.a
UNIT_LIBS_test_views := $(ANALYZE_LIBS) $(FLAME_LIBS)

# The engine out of memory (this test's malloc fails on demand).
$(TBIN)/test_view_nomem: CPPFLAGS += -Ianalyze -I$(GEN)
$(TBIN)/test_view_nomem: $(LIB)/libleakhunt_analyze.a $(LIB)/libleakhunt_flame.a
UNIT_DEPS_test_view_nomem := $(LIB)/libleakhunt_analyze.a $(LIB)/libleakhunt_flame.a
UNIT_LIBS_test_view_nomem := $(ANALYZE_LIBS) $(FLAME_LIBS)
