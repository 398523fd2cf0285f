/* price.c - GET /api/price?item=NAME&qty=N.
 *
 * A toy computation with the temporary allocations a real handler makes:
 * copies of the query parameters, a per-unit price list, a response body.
 * Everything but the body (which the server frees) is freed before return,
 * so this handler itself leaks nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "price.h"

#define MAX_QTY 100000

struct item {
	const char *name;
	double unit_price;
};

static const struct item catalog[] = {
	{ "apple", 0.40 },  { "banana", 0.25 }, { "cherry", 0.05 }, { "date", 0.30 },
	{ "elderberry", 0.02 }, { "fig", 0.60 }, { "grape", 0.03 },  { "kiwi", 0.35 },
	{ "lemon", 0.45 },  { "mango", 1.20 },  { "nectarine", 0.70 }, { "orange", 0.50 },
	{ "papaya", 2.10 }, { "quince", 0.90 }, { "raspberry", 0.04 }, { "tangerine", 0.30 },
};

/* Returns a malloc'd copy of the value of name in query ("a=1&b=2"), or
 * NULL when it is absent (or memory ran out: *oom is then set). */
static char *query_param(const char *query, const char *name, int *oom)
{
	size_t nlen = strlen(name);
	const char *p = query;

	while (*p) {
		const char *end = strchr(p, '&');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
			char *v = strndup(p + nlen + 1, len - nlen - 1);

			if (!v)
				*oom = 1;
			return v;
		}
		if (!end)
			break;
		p = end + 1;
	}
	return NULL;
}

static const struct item *find_item(const char *name)
{
	for (size_t i = 0; i < sizeof catalog / sizeof catalog[0]; i++)
		if (strcmp(catalog[i].name, name) == 0)
			return &catalog[i];
	return NULL;
}

/* Volume discount for the n-th unit (0-based): 5% off from the 10th unit,
 * 10% from the 100th, 20% from the 1000th. */
static double unit_discount(long n)
{
	return n >= 1000 ? 0.20 : n >= 100 ? 0.10 : n >= 10 ? 0.05 : 0.0;
}

int handle_price(const struct request *req, struct response *resp)
{
	int oom = 0, rc;
	char *item_name = query_param(req->query, "item", &oom);
	char *qty_text = query_param(req->query, "qty", &oom);
	const struct item *item;
	double *units = NULL, total = 0;
	char *end;
	long qty;

	if (oom) {
		rc = -1;
		goto out;
	}
	if (!item_name || !qty_text) {
		rc = response_printf(resp, 400, "application/json",
				     "{\"error\":\"need item=NAME&qty=N\"}\n");
		goto out;
	}
	qty = strtol(qty_text, &end, 10);
	if (*end || end == qty_text || qty < 1 || qty > MAX_QTY) {
		rc = response_printf(resp, 400, "application/json",
				     "{\"error\":\"qty must be 1..%d\"}\n", MAX_QTY);
		goto out;
	}
	item = find_item(item_name);
	if (!item) {
		rc = response_printf(resp, 404, "application/json",
				     "{\"error\":\"no such item\"}\n");
		goto out;
	}

	/* The price of each unit, then their sum: a temporary array per request. */
	units = malloc(qty * sizeof *units);
	if (!units) {
		rc = -1;
		goto out;
	}
	for (long i = 0; i < qty; i++)
		units[i] = item->unit_price * (1.0 - unit_discount(i));
	for (long i = 0; i < qty; i++)
		total += units[i];

	rc = response_printf(resp, 200, "application/json",
			     "{\"item\":\"%s\",\"qty\":%ld,\"unit_price\":%.2f,\"total\":%.2f}\n",
			     item->name, qty, item->unit_price, total);
out:
	free(units);
	free(qty_text);
	free(item_name);
	return rc;
}
