/*
 * server_like - a long-lived loop that looks like a request server, with
 * markers: each "request" allocates a few temporaries and, every 50th
 * request, keeps a small record in a global list (a slow leak). Marks
 * "warm" after the first tenth of the requests and "loaded" at the end.
 *
 * usage: server_like [REQUESTS [KEEP]]
 *
 * KEEP (default 0) adds that many bytes to each kept record: with 4096 the
 * leak is 80 MiB per million requests, the size of leak a --sample
 * recording is meant to find (make bench's accuracy table uses it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leakhunt.h"

struct record { struct record *next; char key[40]; char payload[]; };
static struct record *kept;
static size_t keep_extra;

static size_t handle(long i)
{
    char *req = malloc(256);
    snprintf(req, 256, "GET /item/%ld?q=%ld HTTP/1.1", i, i % 97);
    char *resp = malloc(1024 + (size_t)(i % 512));
    size_t n = strlen(req);
    memcpy(resp, req, n + 1);
    if (i % 50 == 0) {
        struct record *r = malloc(sizeof *r + keep_extra);
        snprintf(r->key, sizeof r->key, "%ld", i);
        r->next = kept;
        kept = r;
    }
    free(req);
    free(resp);
    return n;
}

int main(int argc, char **argv)
{
    long requests = argc > 1 ? atol(argv[1]) : 200000;
    keep_extra = argc > 2 ? (size_t)atol(argv[2]) : 0;
    size_t bytes = 0;
    for (long i = 0; i < requests; i++) {
        if (i == requests / 10)
            leakhunt_mark("warm");
        bytes += handle(i);
    }
    leakhunt_mark("loaded");
    printf("server_like: %ld requests, %zu bytes\n", requests, bytes);
    return 0;
}
