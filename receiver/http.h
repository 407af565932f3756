/*
 * http: the receiver's HTTP side on libmicrohttpd — the webhook endpoint of
 * design §3, /healthz and /metrics.
 *
 * A webhook request is checked in two steps. When its headers arrive (before
 * any body byte is read): method and path, X-GitHub-Event,
 * X-GitHub-Delivery, X-GitHub-Hook-ID, the content type, the presence and
 * syntax of X-Hub-Signature-256, and Content-Length against the body limit;
 * a failure is answered at once and the connection closed, so an oversized
 * body is never read. When the body is complete: the signature over the raw
 * bytes, ping, the event filter, the payload (form field, JSON, routing
 * key). A delivery that passes goes to the committer and its connection is
 * suspended until its commit returned; then it is answered 202, 200
 * (duplicate) or 503.
 *
 * Threads: libmicrohttpd runs its own pool of threads; the server borrows
 * the configuration, committer, queue and metrics, which must outlive it.
 * Start, quiesce, drain and stop are called from one controlling thread.
 */
#ifndef HQ_HTTP_H
#define HQ_HTTP_H

#include "committer.h"
#include "hq_error.h"
#include "metrics.h"
#include "queue.h"
#include "receiver_config.h"

#include <stddef.h>
#include <stdint.h>

typedef struct http_server http_server;

/*
 * Opens the listening socket of l (TCP with SO_REUSEADDR, or a unix socket,
 * replacing a stale socket file that nobody listens on). desc receives a
 * printable "host:port" or "unix:/path" with the actual port. 0 or -errno
 * (-EADDRINUSE, -EACCES, -ENOENT for an unknown host...).
 */
HQ_WUR int http_listen_open(const struct receiver_listen *l, int *fd, char *desc, size_t cap);

struct http_server_opts {
    const struct receiver_config *cfg;
    committer *committer;
    hq_queue *queue; /* read at /metrics scrape time (hq_queue_stats) */
    hq_metrics *metrics;
    int listen_fd; /* from http_listen_open; the server owns it from now */
};

/* Starts serving. -ENOMEM, HQ_EHTTP when libmicrohttpd refuses to start
 * (then listen_fd is closed). */
HQ_WUR int http_server_start(const struct http_server_opts *o, http_server **out);

/*
 * Stops accepting connections (the listening socket is closed). Requests on
 * connections already open are answered 503 "shutting down"; deliveries
 * already waiting for their commit are still answered with its result.
 */
void http_server_quiesce(http_server *s);

/* Waits until no request is in progress, at most timeout_ms.
 * 0, or HQ_ETIMEOUT with requests still open. */
HQ_WUR int http_server_drain(http_server *s, int64_t timeout_ms);

/* Closes every connection and frees the server. NULL is ignored. */
void http_server_stop(http_server *s);

#endif
