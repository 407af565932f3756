/*
 * http: libmicrohttpd server of the receiver; see http.h.
 *
 * DESIGN
 * libmicrohttpd calls on_request() several times per request: once with the
 * headers (*con_cls still NULL), once per chunk of body, once more with no
 * data at the end, and again after a suspended connection is resumed. The
 * webhook state lives in struct request (webhook.c) hung on *con_cls and is
 * freed in on_completed(), which libmicrohttpd calls once per request
 * whatever happened to the connection.
 *
 * Shared state: s->stopping and s->inflight are atomics; everything else in
 * struct http_server is written before the daemon starts and only read by the
 * daemon's threads.
 */
#include "http_internal.h"
#include "queue_metrics.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const char *const result_names[HTTP_RESULT_COUNT] = {
    "accepted",     "duplicate",   "ignored",   "pong",
    "unauthorized", "bad_request", "too_large", "unavailable",
};

int http_answer(struct MHD_Connection *conn, unsigned status, const char *json, int retry_after_s,
                bool close)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(json), (void *)json, MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    int ok = MHD_add_response_header(r, "Content-Type", "application/json") == MHD_YES;
    if (ok && retry_after_s > 0) {
        char ra[16];
        int n = snprintf(ra, sizeof(ra), "%d", retry_after_s);
        ok = n > 0 && (size_t)n < sizeof(ra) &&
             MHD_add_response_header(r, "Retry-After", ra) == MHD_YES;
    }
    if (ok && close)
        ok = MHD_add_response_header(r, "Connection", "close") == MHD_YES;
    enum MHD_Result res = ok ? MHD_queue_response(conn, status, r) : MHD_NO;
    MHD_destroy_response(r);
    return res;
}

int http_answer_error(struct MHD_Connection *conn, unsigned status, const char *error,
                      int retry_after_s, bool close)
{
    char body[256];
    int n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}", error);
    if (n < 0 || (size_t)n >= sizeof(body))
        return http_answer(conn, status, "{\"error\":\"internal error\"}", retry_after_s, close);
    return http_answer(conn, status, body, retry_after_s, close);
}

void http_count(http_server *s, enum http_result r)
{
    hq_series_add(s->m_results[r], 1);
}

static enum MHD_Result answer_health(http_server *s, struct MHD_Connection *conn)
{
    char body[256];
    size_t pending = committer_pending(s->o.committer);
    bool stopping = atomic_load(&s->stopping);
    bool ok = !stopping && committer_healthy(s->o.committer);
    int n;
    if (ok)
        n = snprintf(body, sizeof(body), "{\"status\":\"ok\",\"pending\":%zu}", pending);
    else
        n = snprintf(body, sizeof(body),
                     "{\"status\":\"unavailable\",\"error\":\"%s\",\"pending\":%zu}",
                     stopping ? "shutting down" : "the last commit failed", pending);
    if (n < 0 || (size_t)n >= sizeof(body))
        return MHD_NO;
    return http_answer(conn, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, body, ok ? 0 : 5,
                       false);
}

static enum MHD_Result answer_metrics(http_server *s, struct MHD_Connection *conn)
{
    char *text = NULL;
    size_t len = 0;
    if (hq_metrics_render(s->o.metrics, &text, &len) != 0)
        return http_answer_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot render metrics", 0,
                                 false);
    struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(text);
        return MHD_NO;
    }
    enum MHD_Result res = MHD_NO;
    if (MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8") ==
        MHD_YES)
        res = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return res;
}

static enum MHD_Result answer_method(struct MHD_Connection *conn, const char *allow)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        strlen("{\"error\":\"method not allowed\"}"), (void *)"{\"error\":\"method not allowed\"}",
        MHD_RESPMEM_PERSISTENT);
    if (r == NULL)
        return MHD_NO;
    enum MHD_Result res = MHD_NO;
    if (MHD_add_response_header(r, "Content-Type", "application/json") == MHD_YES &&
        MHD_add_response_header(r, "Allow", allow) == MHD_YES &&
        MHD_add_response_header(r, "Connection", "close") == MHD_YES)
        res = MHD_queue_response(conn, MHD_HTTP_METHOD_NOT_ALLOWED, r);
    MHD_destroy_response(r);
    return res;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    http_server *s = cls;
    if (*con_cls != NULL)
        return webhook_continue(s, conn, *con_cls, upload, upload_size);

    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (strcmp(url, s->o.cfg->webhook_path) == 0) {
        if (strcmp(method, "POST") != 0)
            return answer_method(conn, "POST");
        return webhook_begin(s, conn, con_cls);
    }
    if (strcmp(url, "/healthz") == 0)
        return get ? answer_health(s, conn) : answer_method(conn, "GET, HEAD");
    if (strcmp(url, "/metrics") == 0)
        return get ? answer_metrics(s, conn) : answer_method(conn, "GET, HEAD");
    /* A body sent to an unknown path is not read: close after answering. */
    return http_answer_error(conn, MHD_HTTP_NOT_FOUND, "no such path", 0, !get);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    http_server *s = cls;
    if (*con_cls == NULL)
        return;
    webhook_free(s, *con_cls);
    *con_cls = NULL;
}

__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
        return;
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    hq_warn("http", NULL, "libmicrohttpd: %s", msg);
}

static int declare_metrics(http_server *s)
{
    hq_metrics *m = s->o.metrics;
    int rc = hq_metrics_declare(m, "hookq_deliveries_total", HQ_COUNTER,
                                "Webhook deliveries by the receiver's answer.", NULL, 0);
    if (rc != 0)
        return rc;
    for (int i = 0; i < HTTP_RESULT_COUNT; i++) {
        char labels[64];
        int n = snprintf(labels, sizeof(labels), "result=\"%s\"", result_names[i]);
        if (n < 0 || (size_t)n >= sizeof(labels))
            return HQ_ETOOBIG;
        s->m_results[i] = hq_metrics_series(m, "hookq_deliveries_total", labels);
        if (s->m_results[i] == NULL)
            return -ENOMEM;
    }
    /* The queue's gauges, named as on the worker (common/queue_metrics.h). */
    return hq_queue_metrics_register(m, s->o.queue);
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
    atomic_init(&s->buffered, 0);
    rc = declare_metrics(s);
    if (rc != 0)
        goto out;
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER,
                                 on_mhd_log, s, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
                                 MHD_OPTION_THREAD_POOL_SIZE, (unsigned)o->cfg->threads,
                                 MHD_OPTION_CONNECTION_TIMEOUT, o->cfg->timeout_s,
                                 MHD_OPTION_CONNECTION_LIMIT, o->cfg->max_connections,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
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

/* Replaces a unix socket file only when nobody accepts on it. */
static int unix_clear_stale(const struct sockaddr_un *sa)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
        rc = -EADDRINUSE;
    else if (errno == ECONNREFUSED && unlink(sa->sun_path) != 0)
        rc = -errno;
    close(fd);
    return rc;
}

static int listen_unix(const struct receiver_listen *l, int *out, char *desc, size_t cap)
{
    int rc = 0;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, l->path, strlen(l->path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    rc = unix_clear_stale(&sa);
    if (rc != 0)
        goto out;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 1024) != 0) {
        rc = -errno;
        goto out;
    }
    int n = snprintf(desc, cap, "unix:%s", l->path);
    if (n < 0 || (size_t)n >= cap)
        desc[0] = '\0';
    *out = fd;
    fd = -1;
out:
    if (fd >= 0)
        close(fd);
    return rc;
}

static int listen_tcp(const struct receiver_listen *l, int *out, char *desc, size_t cap)
{
    int rc = -EADDRNOTAVAIL;
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int fd = -1;
    if (getaddrinfo(l->host[0] ? l->host : NULL, l->port, &hints, &res) != 0)
        return -ENOENT;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) {
            rc = -errno;
            continue;
        }
        int one = 1;
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
            bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1024) == 0) {
            rc = 0;
            break;
        }
        rc = -errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (rc != 0)
        return rc;

    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == 0) {
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
            port = ntohs(sin->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
            port = ntohs(sin6->sin6_port);
        }
    }
    int n = snprintf(desc, cap, ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host, port);
    if (n < 0 || (size_t)n >= cap)
        desc[0] = '\0';
    *out = fd;
    return 0;
}

int http_listen_open(const struct receiver_listen *l, int *fd, char *desc, size_t cap)
{
    return l->is_unix ? listen_unix(l, fd, desc, cap) : listen_tcp(l, fd, desc, cap);
}
