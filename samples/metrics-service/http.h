/* http.h - the request and response shapes shared by the service's handlers.
 *
 * The server (server.c) parses one HTTP/1.1 request into a struct request
 * whose strings point into its connection buffer; a handler fills in a
 * struct response whose body it allocates and the server frees after
 * sending it.
 */
#ifndef METRICS_SERVICE_HTTP_H
#define METRICS_SERVICE_HTTP_H

#include <stddef.h>

struct request {
	const char *method;	/* "GET", "POST" */
	const char *target;	/* "/api/price?item=apple&qty=17" */
	const char *path;	/* "/api/price" (a copy without the query) */
	const char *query;	/* "item=apple&qty=17", or "" */
};

struct response {
	int status;		/* 200, 400, 404, ... */
	const char *type;	/* Content-Type */
	char *body;		/* malloc'd by the handler, freed by the server */
	size_t len;
};

/* A request handler: fills *resp and returns 0, or -1 when it ran out of
 * memory (the server then answers 500). */
typedef int (*handler_fn)(const struct request *req, struct response *resp);

/* Sets resp to a malloc'd copy of a printf-style body; returns 0 or -1. */
int response_printf(struct response *resp, int status, const char *type,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
