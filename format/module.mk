# format/: the trace reader/writer library, linked into every tool and the
# recorder (objects are PIC).

FORMAT_SRCS := \
	format/lh_error.c \
	format/lh_frame.c \
	format/lh_json.c \
	format/lh_units.c \
	format/lh_stacks.c \
	format/lh_events.c \
	format/lh_packed.c \
	format/lh_batch_parse.c \
	format/lh_writer.c \
	format/lh_reader.c

FORMAT_OBJS := $(FORMAT_SRCS:%.c=$(OBJ)/%.o) $(OBJ)/gen/trace.pb-c.o
FORMAT_LIBS := -llz4 -lprotobuf-c -lxxhash

$(GEN)/trace.pb-c.c $(GEN)/trace.pb-c.h: format/trace.proto
	@mkdir -p $(GEN)
	cd format && protoc-c --c_out=../$(GEN) trace.proto

$(LIB)/libleakhunt_format.a: $(FORMAT_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BIN)/leakhunt-dump: $(OBJ)/format/cli/leakhunt_dump.o $(LIB)/libleakhunt_format.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(FORMAT_LIBS)

all: $(LIB)/libleakhunt_format.a $(BIN)/leakhunt-dump
