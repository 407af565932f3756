/*
 * webhook: the receiver's webhook endpoint (schema/design.md §3), one row of the HTTP
 * route table (http.h): POST to HOOKQ_WEBHOOK_PATH.
 *
 * A request is checked in two steps. When its headers arrive (before any
 * body byte is read): X-GitHub-Event, X-GitHub-Delivery, X-GitHub-Hook-ID,
 * the content type, the presence and syntax of X-Hub-Signature-256, and
 * Content-Length against the body limit; a failure is answered at once and
 * the connection closed, so an oversized body is never read. When the body
 * is complete: the signature over the raw bytes, ping, the event filter,
 * the payload (form field, JSON, routing key). A delivery that passes goes
 * to the committer and its connection is suspended until its commit
 * returned; then it is answered 202, 200 (duplicate) or 503.
 *
 * The endpoint owns its budget and its counters: the request body bytes held
 * in memory across requests (HOOKQ_MAX_BUFFERED) and
 * hookq_deliveries_total{result} by the answer given.
 *
 * Threads: the route's callbacks run on libmicrohttpd's threads; the
 * endpoint borrows the configuration, the committer and the metrics, which
 * must outlive it. Create and destroy from the controlling thread, destroy
 * only after the server stopped.
 */
#ifndef HQ_WEBHOOK_H
#define HQ_WEBHOOK_H

#include "committer.h"
#include "hq_error.h"
#include "http.h"
#include "metrics.h"
#include "receiver_config.h"

typedef struct webhook webhook;

struct webhook_opts {
    const struct receiver_config *cfg;
    committer *committer;
    hq_metrics *metrics; /* hookq_deliveries_total is declared there */
};

/* 0, -ENOMEM, or a metrics registry error (nothing is left allocated). */
HQ_WUR int webhook_create(const struct webhook_opts *o, webhook **out);

/* NULL is ignored. */
void webhook_destroy(webhook *w);

/* The route of the webhook path (POST), for the server's table. */
struct http_route webhook_route(webhook *w);

#endif
