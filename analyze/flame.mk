# analyze/flame.mk: the stack tree and its exporters (folded, SVG, pprof,
# speedscope, HTML) as one archive; link with $(FLAME_LIBS).

FLAME_SRCS := \
	analyze/flame.c \
	analyze/export_folded.c \
	analyze/export_svg.c \
	analyze/export_speedscope.c \
	analyze/export_pprof.c \
	analyze/export_html.c \
	analyze/export_tree.c

FLAME_OBJS := $(FLAME_SRCS:%.c=$(OBJ)/%.o) $(OBJ)/gen/profile.pb-c.o
FLAME_LIBS := -lprotobuf-c -lz

$(GEN)/profile.pb-c.c $(GEN)/profile.pb-c.h: analyze/profile.proto
	@mkdir -p $(GEN)
	cd analyze && protoc-c --c_out=$(abspath $(GEN)) profile.proto

# Every exporter object waits for the generated header, so -j builds never
# compile export_pprof.c before protoc-c ran (order-only: -MMD tracks it
# afterwards).
$(FLAME_OBJS): CPPFLAGS += -I$(GEN)
$(FLAME_OBJS): | $(GEN)/profile.pb-c.h

$(LIB)/libleakhunt_flame.a: $(FLAME_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

all: $(LIB)/libleakhunt_flame.a

UNIT_DEPS_test_flame := $(LIB)/libleakhunt_flame.a
UNIT_LIBS_test_flame := -lprotobuf-c -lz
$(TBIN)/test_flame: CPPFLAGS += -I$(GEN) -Ianalyze
$(TBIN)/test_flame: $(LIB)/libleakhunt_flame.a
