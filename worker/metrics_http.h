/*
 * metrics_http: the worker's small HTTP endpoint (HOOKQ_METRICS_LISTEN):
 * GET /metrics (Prometheus text) and GET /healthz (200 while healthy() says
 * so, else 503). Anything else is 404, other methods 405. One internal
 * thread; answers are built from the registry at request time. The socket
 * and the answers are common/httpd_listen.h's and common/httpd.h's.
 */
#ifndef HQ_METRICS_HTTP_H
#define HQ_METRICS_HTTP_H

#include "hq_error.h"
#include "metrics.h"

#include <stdbool.h>

typedef struct hq_metrics_http hq_metrics_http;

/* listen is "host:port" with a numeric host (IPv4 or [IPv6]) or localhost;
 * port 0 picks a free port. HQ_ECONFIG for a malformed address, -errno if
 * it cannot listen, HQ_EHTTP when libmicrohttpd refuses to start. */
HQ_WUR int hq_metrics_http_start(const char *listen, hq_metrics *m, bool (*healthy)(void *),
                                 void *arg, hq_metrics_http **out);
/* The port it listens on. */
int hq_metrics_http_port(hq_metrics_http *h);
void hq_metrics_http_stop(hq_metrics_http *h);

#endif
