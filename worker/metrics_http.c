/* metrics_http: /metrics and /healthz of the worker; see metrics_http.h. */
#include "metrics_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct hq_metrics_http {
    struct MHD_Daemon *d;
    hq_metrics *m;
    bool (*healthy)(void *);
    void *arg;
    int port;
};

int hq_parse_hostport(const char *s, struct sockaddr_storage *ss, unsigned *len)
{
    char host[128];
    const char *colon = strrchr(s, ':');
    if (colon == NULL || colon == s || (size_t)(colon - s) >= sizeof(host))
        return HQ_ECONFIG;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    char *end;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || errno != 0 || port > 65535)
        return HQ_ECONFIG;
    memset(ss, 0, sizeof(*ss));
    size_t hl = strlen(host);
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
        if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1)
            return HQ_ECONFIG;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*a6);
        return 0;
    }
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof(host), "127.0.0.1");
    if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
        return HQ_ECONFIG;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    *len = sizeof(*a4);
    return 0;
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned code, const char *type, char *body,
                              size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    hq_metrics_http *h = cls;
    (void)version;
    (void)upload;
    if (*con_cls == NULL) {
        *con_cls = h; /* first call: headers only */
        return MHD_YES;
    }
    if (*upload_size != 0) {
        *upload_size = 0; /* bodies are not for us: drop them */
        return MHD_YES;
    }
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (strcmp(url, "/metrics") == 0 || strcmp(url, "/healthz") == 0) {
        if (!get)
            return answer(c, 405, "application/json", "{\"error\":\"method not allowed\"}\n", 31,
                          MHD_RESPMEM_PERSISTENT);
        if (strcmp(url, "/healthz") == 0) {
            bool ok = h->healthy == NULL || h->healthy(h->arg);
            return ok ? answer(c, 200, "text/plain", "ok\n", 3, MHD_RESPMEM_PERSISTENT)
                      : answer(c, 503, "text/plain", "unhealthy\n", 10, MHD_RESPMEM_PERSISTENT);
        }
        char *text = NULL;
        size_t len = 0;
        if (hq_metrics_render(h->m, &text, &len) != 0)
            return answer(c, 500, "text/plain", "render failed\n", 14, MHD_RESPMEM_PERSISTENT);
        return answer(c, 200, "text/plain; version=0.0.4", text, len, MHD_RESPMEM_MUST_FREE);
    }
    return answer(c, 404, "application/json", "{\"error\":\"not found\"}\n", 22,
                  MHD_RESPMEM_PERSISTENT);
}

int hq_metrics_http_start(const char *listen, hq_metrics *m, bool (*healthy)(void *), void *arg,
                          hq_metrics_http **out)
{
    struct sockaddr_storage ss;
    unsigned len;
    if (hq_parse_hostport(listen, &ss, &len) != 0)
        return HQ_ECONFIG;
    hq_metrics_http *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return -ENOMEM;
    h->m = m;
    h->healthy = healthy;
    h->arg = arg;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, h, MHD_OPTION_SOCK_ADDR, &ss,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_END);
    if (h->d == NULL) {
        free(h);
        return -EADDRINUSE;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : 0;
    *out = h;
    return 0;
}

int hq_metrics_http_port(hq_metrics_http *h)
{
    return h->port;
}

void hq_metrics_http_stop(hq_metrics_http *h)
{
    if (h == NULL)
        return;
    MHD_stop_daemon(h->d);
    free(h);
}
