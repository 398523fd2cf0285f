# recorder/: libleakhunt.so (preloaded into the traced program),
# leakhunt-record and leakhunt-mark.

REC_SRCS := recorder/hooks.c recorder/session.c recorder/tbuf.c recorder/procfs_read.c recorder/stacks.c \
	recorder/modules.c recorder/config.c recorder/clock.c recorder/attach.c recorder/got.c recorder/python.c \
	recorder/fdguard.c recorder/untraced.c recorder/follow.c recorder/forkgate.c recorder/sample.c \
	recorder/pyalloc.c recorder/unwind.c
REC_OBJS := $(REC_SRCS:%.c=$(OBJ)/%.o)
REC_LIBS := -lunwind -llz4 -lprotobuf-c -lxxhash -lpthread -ldl -lm

# Hooks must not be turned into calls of themselves (-fno-builtin), must keep
# a frame-pointer chain for --unwind=fp, and export only the hooks.
$(REC_OBJS): ALL_CFLAGS += -fvisibility=hidden -fno-omit-frame-pointer -fno-builtin \
	-ftls-model=initial-exec

$(LIB)/libleakhunt.so: $(REC_OBJS) $(LIB)/libleakhunt_format.a
	@mkdir -p $(dir $@)
	$(CC) -shared -o $@ $(REC_OBJS) $(LIB)/libleakhunt_format.a $(LDFLAGS) \
	  -Wl,--exclude-libs,ALL -Wl,-z,nodelete $(REC_LIBS)

RECORD_OBJS := $(OBJ)/recorder/cli/leakhunt_record.o $(OBJ)/recorder/cli/record_attach.o \
	$(OBJ)/recorder/cli/collect.o $(OBJ)/recorder/cli/session_dir.o $(OBJ)/recorder/cli/inject.o \
	$(OBJ)/recorder/procfs_read.o
$(BIN)/leakhunt-record: $(RECORD_OBJS) $(LIB)/libleakhunt_format.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(FORMAT_LIBS)

$(BIN)/leakhunt-mark: $(OBJ)/recorder/cli/leakhunt_mark.o $(OBJ)/recorder/cli/ctl_client.o \
		$(OBJ)/recorder/cli/session_dir.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^

all: $(LIB)/libleakhunt.so $(BIN)/leakhunt-record $(BIN)/leakhunt-mark
