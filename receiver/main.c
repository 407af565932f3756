/*
 * hookq-receiver: GitHub webhooks in, durable queue entries out (schema/design.md §1,
 * §3). main reads the configuration, opens the queue, starts the committer
 * and the HTTP server, then waits for SIGTERM or SIGINT and shuts down in the
 * order that answers every delivery already taken: stop accepting, let the
 * requests in progress reach their commit, commit what is pending, answer,
 * close.
 *
 * The HTTP server serves three routes: the webhook endpoint (webhook.h),
 * and /healthz and /metrics, which are answered here from the headers.
 *
 * Exit status: 0 after a clean shutdown, 1 when the queue or the socket
 * cannot be opened, 2 on a usage or configuration error (a HOOKQ_DB that
 * names no usable database: malformed, login refused, no permission, a
 * newer schema).
 */
#include "committer.h"
#include "http.h"
#include "httpd.h"
#include "httpd_listen.h"
#include "ingest.h"
#include "config.h"
#include "dynbuf.h"
#include "log.h"
#include "metrics.h"
#include "queue.h"
#include "queue_metrics.h"
#include "receiver_config.h"
#include "settings.h"
#include "webhook.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DRAIN_MS          30000
#define MAX_BATCH         1024
#define MAX_BATCH_BYTES   (64u * 1024u * 1024u)
#define UNHEALTHY_HOLD_MS 10000

/* GET /healthz: 200 while the committer can commit and the server is not
 * shutting down; arg is the committer. */
static enum MHD_Result health_begin(void *arg, struct MHD_Connection *conn, bool stopping,
                                    void **req)
{
    committer *com = arg;
    char body[256];
    size_t pending = committer_pending(com);
    bool ok = !stopping && committer_healthy(com);
    int rc;
    if (ok)
        rc = hq_snprintf(body, sizeof(body), "{\"status\":\"ok\",\"pending\":%zu}", pending);
    else
        rc = hq_snprintf(body, sizeof(body),
                         "{\"status\":\"unavailable\",\"error\":\"%s\",\"pending\":%zu}",
                         stopping ? "shutting down" : "the last commit failed", pending);
    if (rc != 0)
        return MHD_NO;
    return hq_httpd_answer_json(conn, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, body,
                                ok ? 0 : 5, false);
}

/* GET /metrics: the registry arg in Prometheus text format. */
static enum MHD_Result metrics_begin(void *arg, struct MHD_Connection *conn, bool stopping,
                                     void **req)
{
    char *text = NULL;
    size_t len = 0;
    if (hq_metrics_render(arg, &text, &len) != 0)
        return hq_httpd_answer_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot render metrics",
                                     0, false);
    struct hq_httpd_reply r = {.status = MHD_HTTP_OK,
                               .type = "text/plain; version=0.0.4; charset=utf-8"};
    return hq_httpd_answer(conn, &r, text, len, MHD_RESPMEM_MUST_FREE);
}

static int run(const struct receiver_config *cfg)
{
    int rc = 1;
    hq_queue *q = NULL;
    hq_metrics *metrics = NULL;
    committer *com = NULL;
    webhook *hook = NULL;
    http_server *srv = NULL;
    struct hq_httpd_socket sock = {.fd = -1};
    int err;

    char shown[256];
    hq_settings_mask_db(cfg->queue.db, shown, sizeof(shown));
    if ((err = hq_queue_open(&cfg->queue, &q)) != 0) {
        hq_error("open", NULL, "cannot open the queue at %s (HOOKQ_DB): %s", shown,
                 hq_queue_open_error(err));
        if (hq_queue_open_is_setup(err))
            rc = 2;
        goto out;
    }
    if (hq_queue_open_notice(q) != NULL)
        hq_error("open", NULL, "the queue at %s: %s", shown, hq_queue_open_notice(q));
    if (cfg->queue.no_sync)
        hq_warn("open", NULL,
                "HOOKQ_SYNC=false: commits are not synced; a crash of the host "
                "can lose acknowledged deliveries");
    if ((err = hq_metrics_create(&metrics)) != 0) {
        hq_error("start", NULL, "cannot create the metrics registry: %s", hq_strerror(err));
        goto out;
    }
    struct committer_opts co = {
        .max_pending = cfg->max_pending,
        .max_batch = MAX_BATCH,
        .max_batch_bytes = MAX_BATCH_BYTES,
        .metrics = metrics,
        .threads = hq_queue_enqueue_callers(q),
        .unhealthy_hold_ms = UNHEALTHY_HOLD_MS,
    };
    if ((err = committer_create(q, &co, &com)) != 0) {
        hq_error("start", NULL, "cannot start the committer: %s", hq_strerror(err));
        goto out;
    }
    struct webhook_opts wo = {.cfg = cfg, .committer = com, .metrics = metrics};
    if ((err = webhook_create(&wo, &hook)) != 0 ||
        (err = hq_queue_metrics_register(metrics, q)) != 0) {
        hq_error("start", NULL, "cannot start the HTTP server: %s", hq_strerror(err));
        goto out;
    }
    if ((err = hq_httpd_listen_open(&cfg->listen, &sock)) != 0) {
        hq_error("start", NULL, "cannot listen on HOOKQ_LISTEN=%s%s%s: %s",
                 cfg->listen.is_unix ? "unix:" : cfg->listen.host,
                 cfg->listen.is_unix ? cfg->listen.path : ":",
                 cfg->listen.is_unix ? "" : cfg->listen.port, hq_strerror(err));
        goto out;
    }
    const struct http_route routes[] = {
        webhook_route(hook),
        {.path = "/healthz", .methods = "GET, HEAD", .begin = health_begin, .arg = com},
        {.path = "/metrics", .methods = "GET, HEAD", .begin = metrics_begin, .arg = metrics},
    };
    struct http_server_opts ho = {.routes = routes,
                                  .nroutes = sizeof(routes) / sizeof(routes[0]),
                                  .listen_fd = sock.fd,
                                  .threads = cfg->threads,
                                  .timeout_s = cfg->timeout_s,
                                  .max_connections = cfg->max_connections};
    sock.fd = -1; /* http_server_start owns it, whatever happens */
    if ((err = http_server_start(&ho, &srv)) != 0) {
        hq_error("start", NULL, "cannot start the HTTP server: %s", hq_strerror(err));
        goto out;
    }
    hq_info("start", NULL,
            "listening on %s, webhook path %s, %zu secret(s), %u threads, queue %s (%s)", sock.desc,
            cfg->webhook_path, hq_sigkeys_count(cfg->keys), cfg->threads, shown,
            cfg->queue.no_sync ? "relaxed durability" : "durable");

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int sig = 0;
    while (sigwait(&set, &sig) != 0)
        ;
    hq_info("stop", NULL, "signal %d: no new connections; finishing deliveries in progress", sig);

    http_server_quiesce(srv);
    if (http_server_drain(srv, DRAIN_MS) != 0)
        hq_warn("stop", NULL, "requests still open after %d ms; closing them", DRAIN_MS);
    /* Commits everything still pending and resumes those connections ... */
    committer_stop(com);
    /* ... which then get their answers before the connections close. */
    if (http_server_drain(srv, 2000) != 0)
        hq_warn("stop", NULL, "answers still unsent after the last commit; closing");
    rc = 0;
out:
    http_server_stop(srv);
    webhook_destroy(hook);
    committer_destroy(com);
    if (sock.fd >= 0)
        close(sock.fd);
    hq_metrics_destroy(metrics);
    hq_queue_close(q);
    if (cfg->listen.is_unix && srv != NULL)
        unlink(cfg->listen.path);
    if (rc == 0)
        hq_info("stop", NULL, "stopped");
    return rc;
}

int main(int argc, char **argv)
{
    int args = hq_config_args(argc, argv, "hookq-receiver", receiver_config_usage);
    if (args >= 0)
        return args;

    /* Signals are taken by sigwait in run(); every thread started from here
     * on inherits the mask. SIGPIPE is ignored: a client that went away is
     * an error return, not a reason to die. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct receiver_config cfg;
    struct hq_cfgerr err = {{0}};
    int rc = receiver_config_load(&cfg, &err);
    if (rc != 0) {
        fprintf(stderr, "hookq-receiver: %s\n", rc == HQ_ECONFIG ? err.msg : hq_strerror(rc));
        return 2;
    }
    hq_log_setup("hookq-receiver", cfg.log.json, cfg.log.level);
    for (size_t i = 0; i < hq_sigkeys_count(cfg.keys); i++)
        hq_log_secret(hq_sigkeys_secret(cfg.keys, i));

    rc = run(&cfg);
    receiver_config_free(&cfg);
    return rc;
}
