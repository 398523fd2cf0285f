// cpp-leaks - two classic C++ leaks in a small "request handler".
//
//   cpp-leaks [--requests N]
//
// It handles --requests (default 200) requests, each with a session name
// and a body of request-dependent size, and leaks two ways:
//
//  1. RequestLog keeps a copy of every request's session name in a
//     std::vector<std::string *> that nothing ever clears: a container
//     that only grows. Each call to RequestLog::remember() leaks one
//     std::string object (32 bytes) and, for names longer than 15
//     characters, its heap buffer.
//
//  2. Handler has no virtual destructor. make_handler() returns a
//     JsonHandler (a Handler that owns a body buffer) and the caller deletes
//     it through a Handler *: only ~Handler runs, so the body buffer
//     allocated in JsonHandler's constructor is never freed (the object
//     itself is: operator delete gets the pointer new returned).
//
// At exit it prints exactly what it leaked, to check a profiler against,
// and the vector's own array (live until the static RequestLog is destroyed
// at exit, so it grows between the markers "start" and "end" but is not a
// leak at the end):
//   leaked: strings N (B bytes) buffers N (B bytes) bodies N (B bytes)
//   log: N entries, capacity N (B bytes)
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "leakhunt.h"

namespace shop {

struct Stats {
	unsigned long strings, string_bytes, buffers, buffer_bytes, bodies, body_bytes;
};
static Stats leaked;

class RequestLog {
public:
	void remember(const std::string &session)
	{
		std::string *copy = new std::string(session); // LEAK: never cleared
		entries_.push_back(copy);
		leaked.strings++;
		leaked.string_bytes += sizeof(std::string);
		if (session.size() > 15) {	// libstdc++ keeps up to 15 chars inline
			leaked.buffers++;
			leaked.buffer_bytes += session.size() + 1;
		}
	}
	size_t size() const { return entries_.size(); }
	size_t capacity() const { return entries_.capacity(); }

private:
	std::vector<std::string *> entries_;	// grows forever, never cleared
};

class Handler {
public:
	~Handler() {}	// BUG: not virtual
	virtual size_t handle(unsigned long id) = 0;
};

class JsonHandler : public Handler {
public:
	explicit JsonHandler(size_t size) : size_(size)
	{
		body_ = static_cast<char *>(std::malloc(size_)); // LEAK: freed only by ~JsonHandler
		leaked.bodies++;
		leaked.body_bytes += size_;
	}
	~JsonHandler()
	{
		std::free(body_);
		leaked.bodies--;
		leaked.body_bytes -= size_;
	}
	size_t handle(unsigned long id) override
	{
		return (size_t)std::snprintf(body_, size_, "{\"id\":%lu}", id);
	}

private:
	char *body_;
	size_t size_;
};

// A body of 64..127 bytes, depending on the request.
__attribute__((noinline)) static Handler *make_handler(unsigned long id)
{
	return new JsonHandler(64 + id % 64);
}

static RequestLog request_log;

__attribute__((noinline)) static size_t serve(unsigned long id)
{
	char name[64];

	// Sessions are "session-<id>" padded to 12..35 characters: some fit
	// std::string's inline buffer, some do not.
	int n = std::snprintf(name, sizeof name, "session-%lu", id);
	size_t len = 12 + id % 24;
	std::memset(name + n, '.', sizeof name - (size_t)n);
	name[len] = '\0';
	request_log.remember(std::string(name));

	Handler *h = make_handler(id);
	size_t out = h->handle(id);
	delete h;	// ~Handler only: JsonHandler's body leaks
	return out;
}

} // namespace shop

int main(int argc, char **argv)
{
	unsigned long requests = 200;

	if (argc == 3 && std::strcmp(argv[1], "--requests") == 0) {
		char *end;
		requests = std::strtoul(argv[2], &end, 10);
		if (*end || end == argv[2])
			argc = 0;
	}
	if (argc != 1 && argc != 3) {
		std::fprintf(stderr, "usage: cpp-leaks [--requests N]\n");
		return 2;
	}
	leakhunt_mark("start");
	size_t total = 0;
	for (unsigned long id = 0; id < requests; id++)
		total += shop::serve(id);
	leakhunt_mark("end");
	const shop::Stats &s = shop::leaked;
	std::fprintf(stderr, "cpp-leaks: %lu requests, %zu response bytes, %zu sessions logged\n",
		     requests, total, shop::request_log.size());
	std::printf("leaked: strings %lu (%lu bytes) buffers %lu (%lu bytes) bodies %lu (%lu bytes)\n",
		    s.strings, s.string_bytes, s.buffers, s.buffer_bytes, s.bodies, s.body_bytes);
	std::printf("log: %zu entries, capacity %zu (%zu bytes)\n", shop::request_log.size(),
		    shop::request_log.capacity(), shop::request_log.capacity() * sizeof(std::string *));
	return 0;
}
