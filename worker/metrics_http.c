/* metrics_http: /metrics and /healthz of the worker; see metrics_http.h. */
#include "metrics_http.h"
#include "httpd.h"
#include "httpd_listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct hq_metrics_http {
    struct MHD_Daemon *d;
    hq_metrics *m;
    bool (*healthy)(void *);
    void *arg;
    int port;
};

/*
 * HOOKQ_METRICS_LISTEN takes the forms it always took: TCP on a numeric
 * IPv4 address, a bracketed IPv6 one (IPv6 only), or localhost meaning
 * 127.0.0.1 (a name that resolves to ::1 first would move the port away
 * from where scrapers look). 0 or HQ_ECONFIG.
 */
static int metrics_listen_parse(const char *value, struct hq_httpd_listen *l)
{
    static const char loopback[] = "127.0.0.1";
    const char *why;
    if (hq_httpd_listen_parse(value, l, &why) != 0 || l->is_unix)
        return HQ_ECONFIG;
    if (strcmp(l->host, "localhost") == 0)
        memcpy(l->host, loopback, sizeof(loopback));
    struct in6_addr a;
    int family = value[0] == '[' ? AF_INET6 : AF_INET;
    if (inet_pton(family, l->host, &a) != 1)
        return HQ_ECONFIG;
    l->v6_only = true; /* [::] is IPv6 only, as libmicrohttpd used to bind it */
    return 0;
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned code, const char *type,
                              const char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct hq_httpd_reply r = {.status = code, .type = type};
    return hq_httpd_answer(c, &r, body, len, mode);
}

/* Answers static text. */
#define ANSWER_TEXT(c, code, type, text)                                                           \
    answer((c), (code), (type), (text), sizeof(text) - 1, MHD_RESPMEM_PERSISTENT)

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
            return ANSWER_TEXT(c, 405, "application/json", "{\"error\":\"method not allowed\"}\n");
        if (strcmp(url, "/healthz") == 0) {
            bool ok = h->healthy == NULL || h->healthy(h->arg);
            return ok ? ANSWER_TEXT(c, 200, "text/plain", "ok\n")
                      : ANSWER_TEXT(c, 503, "text/plain", "unhealthy\n");
        }
        char *text = NULL;
        size_t len = 0;
        if (hq_metrics_render(h->m, &text, &len) != 0)
            return ANSWER_TEXT(c, 500, "text/plain", "render failed\n");
        return answer(c, 200, "text/plain; version=0.0.4", text, len, MHD_RESPMEM_MUST_FREE);
    }
    return ANSWER_TEXT(c, 404, "application/json", "{\"error\":\"not found\"}\n");
}

int hq_metrics_http_start(const char *listen, hq_metrics *m, bool (*healthy)(void *), void *arg,
                          hq_metrics_http **out)
{
    int rc = 0;
    struct hq_httpd_listen l;
    struct hq_httpd_socket sock = {.fd = -1};
    hq_metrics_http *h = NULL;
    *out = NULL;
    if ((rc = metrics_listen_parse(listen, &l)) != 0)
        goto out;
    h = calloc(1, sizeof(*h));
    if (h == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    h->m = m;
    h->healthy = healthy;
    h->arg = arg;
    if ((rc = hq_httpd_listen_open(&l, &sock)) != 0)
        goto out;
    h->port = (int)sock.port;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
    h->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, h, MHD_OPTION_LISTEN_SOCKET,
                            (MHD_socket)sock.fd, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_END);
    if (h->d == NULL) {
        rc = HQ_EHTTP;
        goto out;
    }
    sock.fd = -1; /* the daemon's now */
    *out = h;
    h = NULL;
out:
    if (sock.fd >= 0)
        close(sock.fd);
    free(h);
    return rc;
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
