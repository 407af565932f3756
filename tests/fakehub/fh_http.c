/* fh_http: libmicrohttpd glue of fakehub; see fh_http.h. */
#include "fh_http.h"
#include "clock.h"
#include "dynbuf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LISTEN_BACKLOG       1024
#define CONNECTION_LIMIT     2048
#define CONNECTION_TIMEOUT_S 120
#define CONNECTION_MEMORY    (64 * 1024) /* headers: tokens of several KiB fit */
/* A body over FH_MAX_BODY is read and dropped up to this size so that the
 * client, still sending, reliably reads its 413; beyond, the connection is
 * answered at once (Content-Length) or closed (chunked). */
#define MAX_DISCARD (64ull * 1024 * 1024)

struct fh_http {
    struct MHD_Daemon *daemon;
};

/* One request's state, from its first callback to its completion. */
struct conn_req {
    int64_t t_ms;
    struct hq_dynbuf body; /* capped at FH_MAX_BODY */
    bool too_big;
    uint64_t discarded; /* bytes of a too big body read and dropped */
};

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    fputs("fakehub: libmicrohttpd: ", stderr);
    vfprintf(stderr, fmt, ap);
}

static const char *header(struct MHD_Connection *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

static bool add_u64(struct MHD_Response *resp, const char *name, uint64_t v)
{
    char buf[24];
    int n = snprintf(buf, sizeof(buf), "%" PRIu64, v);
    return n > 0 && (size_t)n < sizeof(buf) && MHD_add_response_header(resp, name, buf) == MHD_YES;
}

/* Makes close() send a TCP reset instead of a FIN. */
static void arm_reset(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci == NULL)
        return;
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    (void)setsockopt(ci->connect_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

static enum MHD_Result answer(struct fh_ctx *ctx, struct MHD_Connection *conn, const char *url,
                              const char *method, struct conn_req *r)
{
    struct fh_request rq = {
        .method = method,
        .path = url,
        .authorization = header(conn, MHD_HTTP_HEADER_AUTHORIZATION),
        .accept = header(conn, MHD_HTTP_HEADER_ACCEPT),
        .user_agent = header(conn, MHD_HTTP_HEADER_USER_AGENT),
        .api_version = header(conn, "X-GitHub-Api-Version"),
        .host = header(conn, MHD_HTTP_HEADER_HOST),
        .q_cursor = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "cursor"),
        .q_per_page = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "per_page"),
        .q_page = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "page"),
        .q_check_name = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "check_name"),
        .q_status = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "status"),
        .q_filter = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "filter"),
        .body = hq_dynbuf_str(&r->body),
        .body_len = hq_dynbuf_len(&r->body),
        .body_too_big = r->too_big,
        .t_ms = r->t_ms,
    };
    struct fh_answer ans;
    memset(&ans, 0, sizeof(ans));
    fh_api_handle(ctx, &rq, &ans);
    fh_faults_sleep(ctx->faults, ans.delay_ms);
    if (ans.reset) {
        free(ans.body);
        free(ans.link);
        arm_reset(conn);
        return MHD_NO;
    }

    struct MHD_Response *resp = MHD_create_response_from_buffer(ans.body != NULL ? ans.body_len : 0,
                                                                ans.body, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(ans.body);
        free(ans.link);
        return MHD_NO;
    }
    ans.body = NULL; /* the response owns it */
    bool ok =
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                "application/json; charset=utf-8") == MHD_YES &&
        add_u64(resp, "x-ratelimit-limit", ans.rl_limit) &&
        add_u64(resp, "x-ratelimit-remaining", ans.rl_remaining) &&
        add_u64(resp, "x-ratelimit-reset", (uint64_t)ans.rl_reset_s) &&
        add_u64(resp, "x-ratelimit-used", ans.rl_used) &&
        MHD_add_response_header(resp, "x-ratelimit-resource", "core") == MHD_YES &&
        MHD_add_response_header(resp, "x-github-media-type", "github.v3; format=json") == MHD_YES &&
        (ans.request_id[0] == '\0' ||
         MHD_add_response_header(resp, "x-github-request-id", ans.request_id) == MHD_YES) &&
        (ans.retry_after_s < 0 || add_u64(resp, "retry-after", (uint64_t)ans.retry_after_s)) &&
        (ans.link == NULL || MHD_add_response_header(resp, "Link", ans.link) == MHD_YES);
    free(ans.link);
    enum MHD_Result ret = ok ? MHD_queue_response(conn, ans.status, resp) : MHD_NO;
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct fh_ctx *ctx = cls;
    struct conn_req *r = *con_cls;
    if (r == NULL) {
        r = calloc(1, sizeof(*r));
        if (r == NULL)
            return MHD_NO;
        r->t_ms = hq_now_ms();
        hq_dynbuf_init(&r->body, FH_MAX_BODY);
        *con_cls = r;
        const char *cl = header(conn, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl != NULL) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(cl, &end, 10);
            r->too_big = errno != 0 || n > FH_MAX_BODY;
            if (errno != 0 || n > MAX_DISCARD) {
                /* answered before the body is read; MHD then closes */
                return answer(ctx, conn, url, method, r);
            }
        }
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->too_big) {
            /* discarded: the answer is 413, once the client has sent it all */
            r->discarded += n;
            return r->discarded > MAX_DISCARD ? MHD_NO : MHD_YES;
        }
        int rc = hq_dynbuf_add(&r->body, upload_data, n);
        if (rc == HQ_ETOOBIG) {
            r->too_big = true;
            r->discarded = hq_dynbuf_len(&r->body) + n;
            hq_dynbuf_free(&r->body);
            return MHD_YES;
        }
        return rc == 0 ? MHD_YES : MHD_NO;
    }
    return answer(ctx, conn, url, method, r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct conn_req *r = *con_cls;
    if (r == NULL)
        return;
    hq_dynbuf_free(&r->body);
    free(r);
    *con_cls = NULL;
}

static int bind_listen(const char *host, uint16_t port, int *fd_out, uint16_t *bound)
{
    int rc = 0;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    if (strcmp(host, "localhost") == 0)
        host = "127.0.0.1";
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return -EINVAL;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    socklen_t len = sizeof(sa);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, LISTEN_BACKLOG) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        rc = -errno;
        goto out;
    }
    *bound = ntohs(sa.sin_port);
    *fd_out = fd;
    fd = -1;
out:
    if (fd >= 0)
        close(fd);
    return rc;
}

int fh_http_start(struct fh_ctx *ctx, const char *host, uint16_t port, uint16_t *bound_port,
                  fh_http **out)
{
    int fd = -1;
    int rc = bind_listen(host, port, &fd, bound_port);
    if (rc != 0)
        return rc;
    fh_http *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        close(fd);
        return -ENOMEM;
    }
    h->daemon = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL,
        NULL, on_request, ctx, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET,
        (MHD_socket)fd, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)CONNECTION_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned int)CONNECTION_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)CONNECTION_MEMORY, MHD_OPTION_END);
    if (h->daemon == NULL) {
        close(fd);
        free(h);
        return HQ_EHTTP;
    }
    *out = h;
    return 0;
}

void fh_http_stop(fh_http *h)
{
    if (h == NULL)
        return;
    MHD_stop_daemon(h->daemon);
    free(h);
}
