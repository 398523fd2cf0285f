# samples/: programs that leak (or do not) the way real services do, built
# -O1 -g with frame pointers into build/samples/. `make samples` builds them;
# `make demo` then runs samples/demo.sh.

SBIN := $(B)/samples
SOBJ := $(B)/samples/obj
SAMPLE_CFLAGS := -O1 -g -fno-omit-frame-pointer

METRICS_SERVICE_SRCS := \
	samples/metrics-service/server.c \
	samples/metrics-service/metrics.c \
	samples/metrics-service/price.c
METRICS_SERVICE_OBJS := $(METRICS_SERVICE_SRCS:samples/%.c=$(SOBJ)/%.o)

$(SOBJ)/%.o: samples/%.c
	@mkdir -p $(dir $@)
	$(CC) -D_GNU_SOURCE -Iinclude $(WARN) -MMD -MP $(SAMPLE_CFLAGS) -c -o $@ $<

$(SBIN)/metrics-service: $(METRICS_SERVICE_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(SAMPLE_CFLAGS) $(LDFLAGS) -o $@ $^

$(SBIN)/loadgen: $(SOBJ)/metrics-service/loadgen.o
	@mkdir -p $(dir $@)
	$(CC) $(SAMPLE_CFLAGS) $(LDFLAGS) -o $@ $^

.PHONY: samples
samples: $(SBIN)/metrics-service $(SBIN)/loadgen

BOUNDED_CACHE_SRCS := \
	samples/bounded-cache/main.c \
	samples/bounded-cache/lru.c
BOUNDED_CACHE_OBJS := $(BOUNDED_CACHE_SRCS:samples/%.c=$(SOBJ)/%.o)

$(SBIN)/bounded-cache: $(BOUNDED_CACHE_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(SAMPLE_CFLAGS) $(LDFLAGS) -o $@ $^

samples: $(SBIN)/bounded-cache

# cpp-leaks: C++ (g++). -Wno-delete-non-virtual-dtor: the missing virtual
# destructor is the bug the sample keeps on purpose (g++ spots it here only
# because the base class is abstract).
SAMPLE_CXXFLAGS := $(SAMPLE_CFLAGS) -Wall -Wextra -Wno-delete-non-virtual-dtor

$(SOBJ)/%.o: samples/%.cpp
	@mkdir -p $(dir $@)
	$(CXX) -D_GNU_SOURCE -Iinclude -MMD -MP $(SAMPLE_CXXFLAGS) -c -o $@ $<

$(SBIN)/cpp-leaks: $(SOBJ)/cpp-leaks/main.o
	@mkdir -p $(dir $@)
	$(CXX) $(SAMPLE_CFLAGS) $(LDFLAGS) -o $@ $^

samples: $(SBIN)/cpp-leaks

$(SBIN)/producer-consumer: $(SOBJ)/producer-consumer/main.o
	@mkdir -p $(dir $@)
	$(CC) $(SAMPLE_CFLAGS) $(LDFLAGS) -pthread -o $@ $^

samples: $(SBIN)/producer-consumer

$(SBIN)/bursty-leak: $(SOBJ)/bursty-leak/main.o
	@mkdir -p $(dir $@)
	$(CC) $(SAMPLE_CFLAGS) $(LDFLAGS) -o $@ $^

samples: $(SBIN)/bursty-leak
