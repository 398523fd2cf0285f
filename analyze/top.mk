# analyze/top.mk: leakhunt-top (the live view of a recording, curses or
# batch text) and the follow-mode unit test of the reader and replay.

# A replay that follows a growing trace (the reader's follow mode).
$(TBIN)/test_follow: $(LIB)/libleakhunt_analyze.a
$(TBIN)/test_follow: CPPFLAGS += -Ianalyze
UNIT_DEPS_test_follow := $(LIB)/libleakhunt_analyze.a
UNIT_LIBS_test_follow := $(ANALYZE_LIBS)
