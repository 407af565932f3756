/*
 * httpd_listen: where an HTTP service listens, for both services — the
 * receiver's HOOKQ_LISTEN and the worker's HOOKQ_METRICS_LISTEN. Parsing is
 * done once at start (a bad value is a configuration error, exit 2);
 * opening comes later (a socket that cannot be had is exit 1 or 2, as each
 * service says).
 *
 * The server (libmicrohttpd) is handed the open socket, so each service
 * gets the same SO_REUSEADDR, the same stale unix socket handling and the
 * same printable address in its start line. No libmicrohttpd here.
 * Threads: every function is reentrant.
 */
#ifndef HQ_HTTPD_LISTEN_H
#define HQ_HTTPD_LISTEN_H

#include "hq_error.h"

#include <stdbool.h>
#include <stddef.h>

#define HQ_HTTPD_HOST_MAX 256
#define HQ_HTTPD_DESC_MAX 128 /* "unix:" + a sun_path, or "[v6]:port" */

/* Where to listen: a TCP host and port, or a unix socket path. */
struct hq_httpd_listen {
    bool is_unix;
    char host[HQ_HTTPD_HOST_MAX]; /* numeric address or name, brackets removed */
    char port[8];                 /* decimal, "0" picks a free port */
    char path[108];               /* unix socket path (sun_path size) */
    bool v6_only;                 /* an IPv6 socket takes no IPv4 (IPV6_V6ONLY);
                                     never set by the parser */
};

/*
 * Parses "host:port", "[v6]:port" or "unix:/path". 0, or HQ_ECONFIG with a
 * short static reason in *why (the text the services print after the
 * variable's name). out is zeroed first.
 */
HQ_WUR int hq_httpd_listen_parse(const char *value, struct hq_httpd_listen *out, const char **why);

/* An open listening socket. */
struct hq_httpd_socket {
    int fd;                       /* non-blocking, close-on-exec; the caller's */
    unsigned port;                /* the bound port (0 for a unix socket) */
    char desc[HQ_HTTPD_DESC_MAX]; /* "host:port", "[v6]:port" or "unix:/path" */
};

/*
 * Opens and listens on l: TCP with SO_REUSEADDR on the first address the
 * host resolves to that binds, or a unix socket, replacing a stale socket
 * file that nobody accepts on. 0 or -errno (-EADDRINUSE, -EACCES, -ENOENT
 * for a host that does not resolve...); on failure no socket is left open
 * and out->fd is -1.
 */
HQ_WUR int hq_httpd_listen_open(const struct hq_httpd_listen *l, struct hq_httpd_socket *out);

#endif
