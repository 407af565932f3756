/*
 * http: the receiver's HTTP server on libmicrohttpd, serving a table of
 * routes. It knows paths, methods and the life of a request, nothing of
 * what a route does: main.c builds the table from the webhook endpoint
 * (webhook.h), /healthz and /metrics.
 *
 * Dispatch, the contract of schema/design.md §3 that is the server's: a path of the
 * table with one of its methods goes to that route; the same path with
 * another method is answered 405 with an Allow header naming the route's
 * methods; any other path is 404. Both close the connection when a body
 * may follow, so it is never read.
 *
 * Life of a request: begin() once, when its headers arrived. A route that
 * answers from the headers queues its answer there and leaves *req NULL. A
 * route that reads a body (or suspends the connection) sets *req to its own
 * state; then cont() gets every later call (body data, the end of the body,
 * each resumption), and done() is called exactly once when the request is
 * over, answered or not, to free req. Requests holding a req are "in
 * progress" for http_server_drain.
 *
 * Threads: libmicrohttpd runs its own pool of threads and calls the routes
 * from any of them, one thread per connection at a time. The table and
 * everything the routes' arg points to are borrowed and must outlive the
 * server. Start, quiesce, drain and stop are called from one controlling
 * thread.
 */
#ifndef HQ_HTTP_H
#define HQ_HTTP_H

#include "hq_error.h"

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct http_server http_server;

struct http_route {
    const char *path;    /* matched exactly */
    const char *methods; /* "POST", "GET, HEAD": accepted, and the Allow of a 405 */
    /* Headers arrived. stopping: http_server_quiesce ran, the route should
     * refuse with 503. MHD_NO closes the connection. */
    enum MHD_Result (*begin)(void *arg, struct MHD_Connection *conn, bool stopping, void **req);
    /* Every later call for a request whose begin() set *req; NULL when
     * begin() never does. upload and *upload_size as libmicrohttpd's. */
    enum MHD_Result (*cont)(void *arg, struct MHD_Connection *conn, void *req, const char *upload,
                            size_t *upload_size);
    /* The request is over: free req. NULL when begin() never sets it. */
    void (*done)(void *arg, void *req);
    void *arg;
};

struct http_server_opts {
    const struct http_route *routes; /* borrowed */
    size_t nroutes;
    int listen_fd; /* listening socket (hq_httpd_listen_open); the server's from now */
    unsigned threads;
    unsigned timeout_s; /* idle connection timeout */
    unsigned max_connections;
};

/* Starts serving. -ENOMEM, HQ_EHTTP when libmicrohttpd refuses to start;
 * listen_fd is closed on any failure. */
HQ_WUR int http_server_start(const struct http_server_opts *o, http_server **out);

/*
 * Stops accepting connections (the listening socket is closed). Requests
 * that begin on connections already open get stopping = true; requests in
 * progress go on (a delivery waiting for its commit still gets its answer).
 */
void http_server_quiesce(http_server *s);

/* Waits until no request is in progress, at most timeout_ms.
 * 0, or HQ_ETIMEOUT with requests still open. */
HQ_WUR int http_server_drain(http_server *s, int64_t timeout_ms);

/* Closes every connection (done() runs for requests in progress) and frees
 * the server. NULL is ignored. */
void http_server_stop(http_server *s);

#endif
