/*
 * server_like - a long-lived loop that looks like a request server, with
 * markers: each "request" allocates a few temporaries and, every 50th
 * request, keeps a small record in a global list (a slow leak). Marks
 * "warm" after the first tenth of the requests and "loaded" at the end.
 *
 * usage: server_like [REQUESTS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leakhunt.h"

struct record { struct record *next; char key[40]; };
static struct record *kept;

static size_t handle(long i)
{
    char *req = malloc(256);
    snprintf(req, 256, "GET /item/%ld?q=%ld HTTP/1.1", i, i % 97);
    char *resp = malloc(1024 + (size_t)(i % 512));
    size_t n = strlen(req);
    memcpy(resp, req, n + 1);
    if (i % 50 == 0) {
        struct record *r = malloc(sizeof *r);
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
