# analyze/top.mk: leakhunt-top (the live view of a recording, curses or
# batch text) and the follow-mode unit test of the reader and replay.

# A replay that follows a growing trace (the reader's follow mode).
$(TBIN)/test_follow: $(LIB)/libleakhunt_analyze.a
$(TBIN)/test_follow: CPPFLAGS += -Ianalyze
UNIT_DEPS_test_follow := $(LIB)/libleakhunt_analyze.a
UNIT_LIBS_test_follow := $(ANALYZE_LIBS)

# The view (analyze/top.c) is leakhunt-top's own; the table's sizes are
# format/lh_units.c's (lh_human, as every table writes them), the
# collector's requests the recorder's ctl_client.c (as leakhunt-mark
# sends them).
NCURSES_CFLAGS := $(shell pkg-config --cflags ncursesw 2>/dev/null)
NCURSES_LIBS := $(shell pkg-config --libs ncursesw 2>/dev/null || echo -lncursesw -ltinfo)

TOP_OBJS := $(OBJ)/analyze/top.o $(OBJ)/analyze/cli/leakhunt_top.o $(OBJ)/analyze/cli/top_text.o \
	$(OBJ)/analyze/cli/top_screen.o $(OBJ)/analyze/cli/no_debuginfod.o $(OBJ)/analyze/cli/xalloc.o \
	$(OBJ)/recorder/cli/ctl_client.o $(OBJ)/recorder/cli/session_dir.o
# Flags for top's own objects only: ctl_client.o and session_dir.o
# are leakhunt-replay's and leakhunt-mark's too, built one way for all.
$(OBJ)/analyze/top.o $(OBJ)/analyze/cli/top_text.o: CPPFLAGS += -Ianalyze
$(OBJ)/analyze/cli/leakhunt_top.o: CPPFLAGS += -Ianalyze -Irecorder/cli
$(OBJ)/analyze/cli/top_screen.o: CPPFLAGS += -Ianalyze $(NCURSES_CFLAGS)

$(BIN)/leakhunt-top: $(TOP_OBJS) $(LIB)/libleakhunt_analyze.a $(LIB)/libleakhunt_flame.a $(LIB)/libleakhunt_format.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(ANALYZE_LIBS) $(FLAME_LIBS) $(FORMAT_LIBS) $(NCURSES_LIBS)

all: $(BIN)/leakhunt-top
