/*
 * http: libmicrohttpd server of the receiver, dispatching to a route
 * table; see http.h.
 *
 * DESIGN
 * libmicrohttpd calls on_request() several times per request: once with the
 * headers (*con_cls still NULL), once per chunk of body, once more with no
 * data at the end, and again after a suspended connection is resumed. The
 * first call picks the route; when the route keeps state for the request,
 * a struct call (route and its state) is hung on *con_cls, every later call
 * goes to the route's cont(), and on_completed(), which libmicrohttpd calls
 * once per request whatever happened to the connection, hands the state to
 * the route's done().
 *
 * poll(), not epoll: libmicrohttpd 0.9.75 (Debian 12) has an open race
 * between MHD_quiesce_daemon and a worker thread of an epoll daemon. Both
 * remove the listen socket from the worker's epoll set; the loser gets
 * ENOENT and MHD_PANIC aborts the receiver in the middle of its shutdown
 * ("Failed to remove listen FD from epoll set", seen once in CI). With
 * poll() the quiesce reaches each worker through its inter-thread channel
 * instead, and each worker polls only its own connections.
 *
 * Shared state: s->stopping and s->inflight are atomics; everything else in
 * struct http_server is written before the daemon starts and only read by the
 * daemon's threads.
 */
#include "http.h"
#include "httpd.h"
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct http_server {
    struct http_server_opts o;
    struct MHD_Daemon *daemon;
    atomic_bool stopping; /* quiesced: routes are told to refuse */
    atomic_long inflight; /* requests holding route state */
};

/* What *con_cls holds for a request in progress. */
struct call {
    const struct http_route *route;
    void *req;
};

/* Whether method is one of the comma-separated list (e.g. "GET, HEAD"). */
static bool method_listed(const char *list, const char *method)
{
    size_t mlen = strlen(method);
    const char *p = list;
    while (*p != '\0') {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ", ");
        if (n > 0 && n == mlen && memcmp(p, method, n) == 0)
            return true;
        p += n;
    }
    return false;
}

static const struct http_route *route_find(const http_server *s, const char *url)
{
    for (size_t i = 0; i < s->o.nroutes; i++)
        if (strcmp(s->o.routes[i].path, url) == 0)
            return &s->o.routes[i];
    return NULL;
}

static enum MHD_Result answer_method(struct MHD_Connection *conn, const char *allow)
{
    static const char body[] = "{\"error\":\"method not allowed\"}";
    struct hq_httpd_reply r = {.status = MHD_HTTP_METHOD_NOT_ALLOWED,
                               .type = "application/json",
                               .allow = allow,
                               .close = true};
    return hq_httpd_answer(conn, &r, body, sizeof(body) - 1, MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    http_server *s = cls;
    (void)version;
    if (*con_cls != NULL) {
        struct call *c = *con_cls;
        return c->route->cont(c->route->arg, conn, c->req, upload, upload_size);
    }

    const struct http_route *rt = route_find(s, url);
    if (rt == NULL) {
        /* A body sent to an unknown path is not read: close after answering. */
        bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
        return hq_httpd_answer_error(conn, MHD_HTTP_NOT_FOUND, "no such path", 0, !get);
    }
    if (!method_listed(rt->methods, method))
        return answer_method(conn, rt->methods);

    void *req = NULL;
    enum MHD_Result res = rt->begin(rt->arg, conn, atomic_load(&s->stopping), &req);
    if (req == NULL)
        return res;
    struct call *c = malloc(sizeof(*c));
    if (c == NULL) {
        rt->done(rt->arg, req);
        return MHD_NO;
    }
    c->route = rt;
    c->req = req;
    atomic_fetch_add(&s->inflight, 1);
    *con_cls = c;
    return res;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    http_server *s = cls;
    (void)conn;
    (void)toe;
    struct call *c = *con_cls;
    if (c == NULL)
        return;
    *con_cls = NULL;
    c->route->done(c->route->arg, c->req);
    free(c);
    atomic_fetch_sub(&s->inflight, 1);
}

__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
        return;
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    hq_warn("http", NULL, "libmicrohttpd: %s", msg);
}

int http_server_start(const struct http_server_opts *o, http_server **out)
{
    int rc = 0;
    int fd = o->listen_fd;
    *out = NULL;
    http_server *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    s->o = *o;
    atomic_init(&s->stopping, false);
    atomic_init(&s->inflight, 0);
    unsigned flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd, MHD_OPTION_THREAD_POOL_SIZE, o->threads,
        MHD_OPTION_CONNECTION_TIMEOUT, o->timeout_s, MHD_OPTION_CONNECTION_LIMIT,
        o->max_connections, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
    if (s->daemon == NULL) {
        rc = HQ_EHTTP;
        goto out;
    }
    fd = -1; /* the daemon's now */
    *out = s;
    s = NULL;
out:
    if (fd >= 0)
        close(fd);
    free(s);
    return rc;
}

void http_server_quiesce(http_server *s)
{
    atomic_store(&s->stopping, true);
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
}

int http_server_drain(http_server *s, int64_t timeout_ms)
{
    struct timespec tick = {0, 10 * 1000 * 1000};
    for (int64_t waited = 0; atomic_load(&s->inflight) > 0; waited += 10) {
        if (waited >= timeout_ms)
            return HQ_ETIMEOUT;
        nanosleep(&tick, NULL);
    }
    return 0;
}

void http_server_stop(http_server *s)
{
    if (s == NULL)
        return;
    if (s->daemon != NULL)
        MHD_stop_daemon(s->daemon);
    free(s);
}
