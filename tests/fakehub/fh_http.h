/*
 * fh_http: fakehub's HTTP server on libmicrohttpd.
 *
 * One thread per connection (MHD_USE_THREAD_PER_CONNECTION): an answer's
 * delay (latency, hang) sleeps in its connection's thread, so delayed
 * answers never hold up other connections. Bodies are collected up to
 * FH_MAX_BODY; a larger body (by Content-Length at once, or while it
 * arrives) is read and dropped, up to a bound, and answered 413. A "reset" answer closes the socket
 * with SO_LINGER 0, so the client sees a TCP reset instead of an answer.
 *
 * Threads: the daemon's threads call into fh_api (see its rules); start and
 * stop are for the main thread.
 */
#ifndef FH_HTTP_H
#define FH_HTTP_H

#include "fh_api.h"
#include "hq_error.h"

typedef struct fh_http fh_http;

/*
 * Binds host:port (port 0: ephemeral) and starts serving ctx, which must
 * outlive the server. *bound_port is the port actually bound. -errno when
 * the address cannot be bound, HQ_EHTTP when the daemon does not start.
 */
HQ_WUR int fh_http_start(struct fh_ctx *ctx, const char *host, uint16_t port, uint16_t *bound_port,
                         fh_http **out);

/* Stops accepting, closes every connection and joins the threads. Call
 * fh_faults_stop() first so that delayed answers end now. h may be NULL. */
void fh_http_stop(fh_http *h);

#endif
