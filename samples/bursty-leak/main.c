/* main.c - bursty-leak: a service that leaks in bursts, pausing between them.
 *
 *   bursty-leak [--bursts N] [--requests N] [--pause-ms N]
 *
 * It handles --requests (default 300) requests in each of --bursts
 * (default 3) bursts, with a pause between two bursts: --pause-ms (default
 * 200), the first one a fifth shorter, so that a view cutting the run of
 * three bursts into ten windows sees the middle burst in the middle of the
 * fifth (at 4/9 of the run), not on the edge of a window.
 * Every request gets a 64-byte request record and a 320-byte body, both
 * freed; every third one (request numbers 2, 5, 8, ...) is retried on a
 * copy of its body that nobody frees (the LEAK line). The heap rises in
 * steps, is level in every pause, and reaches a new maximum in the last
 * burst: a leak, however long it paused, not a cache that levelled off.
 *
 * It prints what it leaked: "leaked N bodies (B bytes)". Under
 * leakhunt-record it marks "burst" before each burst.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* leakhunt's marker API (include/leakhunt.h): a weak reference to the
 * recorder, so the call does nothing unless the recorder is preloaded. */
#include "leakhunt.h"

#define BODY_BYTES 320

struct request {
	unsigned long id;
	char *body;
	size_t len;
	char pad[40];
};

static unsigned long leaked, leaked_bytes;
static char *retry_copy; /* the last retry's copy; the ones before it are lost */

static char *read_body(unsigned long id)
{
	char *body = malloc(BODY_BYTES);

	if (body)
		snprintf(body, BODY_BYTES, "{\"request\": %lu}", id);
	return body;
}

/* Handle one request; 0, or -1 when out of memory. */
static int handle_request(unsigned long id)
{
	struct request *req = calloc(1, sizeof(*req));

	if (!req)
		return -1;
	req->id = id;
	req->body = read_body(id);
	if (!req->body) {
		free(req);
		return -1;
	}
	req->len = strlen(req->body);
	if (id % 3 == 2) {
		/* A retry works on a copy of the body, and forgets it. */
		retry_copy = malloc(BODY_BYTES); /* LEAK: never freed */
		if (!retry_copy) {
			free(req->body);
			free(req);
			return -1;
		}
		memcpy(retry_copy, req->body, BODY_BYTES);
		leaked++;
		leaked_bytes += BODY_BYTES;
	}
	free(req->body);
	free(req);
	return 0;
}

static int parse_count(const char *opt, const char *text, unsigned long min, unsigned long *out)
{
	char *end;
	unsigned long v = strtoul(text, &end, 10);

	if (*end || end == text || text[0] == '-' || v < min) {
		fprintf(stderr, "bursty-leak: %s '%s': want a number >= %lu\n", opt, text, min);
		return -1;
	}
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long bursts = 3, requests = 300, pause_ms = 200, id = 0;

	for (int i = 1; i < argc; i += 2) {
		unsigned long *num = NULL, min = 1;

		if (strcmp(argv[i], "--bursts") == 0)
			num = &bursts;
		else if (strcmp(argv[i], "--requests") == 0)
			num = &requests;
		else if (strcmp(argv[i], "--pause-ms") == 0)
			num = &pause_ms, min = 0;
		if (!num || i + 1 >= argc) {
			fprintf(stderr, "usage: bursty-leak [--bursts N] [--requests N] [--pause-ms N]\n");
			return 2;
		}
		if (parse_count(argv[i], argv[i + 1], min, num) != 0)
			return 2;
	}

	for (unsigned long b = 0; b < bursts; b++) {
		if (b) {
			unsigned long ms = b == 1 ? pause_ms * 4 / 5 : pause_ms;
			struct timespec pause = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000 };

			nanosleep(&pause, NULL);
		}
		leakhunt_mark("burst");
		for (unsigned long i = 0; i < requests; i++, id++)
			if (handle_request(id) != 0) {
				fprintf(stderr, "bursty-leak: out of memory\n");
				return 1;
			}
	}
	printf("leaked %lu bodies (%lu bytes)\n", leaked, leaked_bytes);
	return 0;
}
