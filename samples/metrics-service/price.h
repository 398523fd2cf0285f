/* price.h - the service's one API endpoint. */
#ifndef METRICS_SERVICE_PRICE_H
#define METRICS_SERVICE_PRICE_H

#include "http.h"

/* GET /api/price?item=NAME&qty=N: the price of N items of NAME with volume
 * discounts, as JSON. 400 for a malformed query, 404 for an unknown item. */
int handle_price(const struct request *req, struct response *resp);

#endif
