/*
 * hookq-worker: leases repositories from the queue, runs the operator's
 * check, posts commit statuses (schema/design.md §4). main wires the parts together:
 * configuration → queue → GitHub client → processor → pool of threads →
 * /metrics; then waits for SIGTERM/SIGINT and shuts down in reverse.
 */
#include "catchup_config.h"
#include "catchup_sched.h"
#include "clock.h"
#include "config.h"
#include "github.h"
#include "log.h"
#include "metrics.h"
#include "metrics_http.h"
#include "processor.h"
#include "queue.h"
#include "queue_metrics.h"
#include "settings.h"
#include "worker_config.h"
#include "worker_pool.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool pool_healthy(void *arg)
{
    return hq_pool_healthy(arg);
}

/* Blocks SIGTERM/SIGINT in every thread; main waits for them with sigwait. */
static void block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int main(int argc, char **argv)
{
    int args = hq_config_args(argc, argv, "hookq-worker", worker_config_usage);
    if (args >= 0)
        return args;
    int status = 1, rc;
    struct worker_config cfg;
    struct hq_cfgerr err = {{0}};
    hq_queue *q = NULL;
    hq_github *gh = NULL;
    hq_metrics *m = NULL;
    hq_processor *proc = NULL;
    hq_pool *pool = NULL;
    hq_metrics_http *http = NULL;
    hq_catchup_sched *catchup = NULL;
    struct hq_catchup_config cu = {0};
    char owner[128];
    sigset_t sigs;
    block_signals(&sigs);

    rc = worker_config_load(&cfg, &err);
    if (rc == 0)
        rc = hq_catchup_config_load(&cu, &err);
    if (rc != 0) {
        fprintf(stderr, "hookq-worker: %s\n", rc == HQ_ECONFIG ? err.msg : hq_strerror(rc));
        worker_config_free(&cfg);
        hq_catchup_config_free(&cu);
        return 2;
    }
    hq_log_setup("hookq-worker", cfg.log.json, cfg.log.level);
    if ((rc = hq_metrics_create(&m)) != 0)
        goto fail;

    char shown[256];
    hq_settings_mask_db(cfg.queue.db, shown, sizeof(shown));
    if ((rc = hq_queue_open(&cfg.queue, &q)) != 0) {
        fprintf(stderr, "hookq-worker: HOOKQ_DB: cannot open the queue at %s: %s\n", shown,
                hq_queue_open_error(rc));
        status = 2;
        goto out;
    }
    if (hq_queue_open_notice(q) != NULL)
        hq_error("open", NULL, "the queue at %s: %s", shown, hq_queue_open_notice(q));
    if ((rc = hq_queue_metrics_register(m, q)) != 0)
        goto fail;

    struct hq_github_opts go;
    hq_github_opts_init(&go);
    go.api_url = cfg.api_url;
    go.app_id = cfg.app_id;
    go.app_key_path = cfg.app_id ? cfg.app_key_path : NULL;
    go.token_path = cfg.app_id ? NULL : cfg.token_path;
    go.connect_timeout_ms = (long)cfg.connect_timeout_ms;
    go.total_timeout_ms = (long)cfg.http_timeout_ms;
    go.pacing.enabled = cfg.pacing;
    go.pacing.per_minute = (unsigned)cfg.pacing_per_minute;
    go.pacing.per_hour = (unsigned)cfg.pacing_per_hour;
    go.pacing.reserve = (long)cfg.ratelimit_reserve;
    go.max_in_flight = (unsigned)cfg.max_in_flight;
    go.metrics = m;
    go.err = &err;
    if ((rc = hq_github_create(&go, &gh)) != 0) {
        /* err names the variable whenever a setting caused the failure. */
        fprintf(stderr, "hookq-worker: %s\n", err.msg[0] != '\0' ? err.msg : hq_strerror(rc));
        status = 2;
        goto out;
    }
    if ((rc = hq_processor_create(&cfg, q, gh, m, &proc)) != 0) {
        if (rc == HQ_EPARSE || rc == HQ_ETOOBIG || rc == -ENOENT)
            fprintf(stderr, "hookq-worker: HOOKQ_CHECK_CMD: %s (got '%.64s')\n",
                    rc == HQ_EPARSE ? "empty or unterminated quote"
                    : rc == -ENOENT ? "program not found (or not executable) in PATH"
                                    : "too many words",
                    cfg.check_cmd);
        else
            fprintf(stderr, "hookq-worker: %s\n", hq_strerror(rc));
        status = 2;
        goto out;
    }
    /* Every series is declared before /metrics answers: a scrape must
     * never see a partial set (test_alerts scrapes at once). */
    if ((rc = hq_catchup_metrics_declare(m)) != 0)
        goto fail;
    if ((rc = hq_pool_start(q, proc, (unsigned)cfg.workers, cfg.lease_ms, m, &pool)) != 0)
        goto fail;
    if ((rc = hq_metrics_http_start(cfg.metrics_listen, m, pool_healthy, pool, &http)) != 0) {
        fprintf(stderr, "hookq-worker: HOOKQ_METRICS_LISTEN: cannot listen on %s: %s\n",
                cfg.metrics_listen, hq_strerror(rc));
        status = 2;
        goto out;
    }
    if (cu.interval_ms == 0) {
        hq_info("catch_up", NULL, "catch-up is off (HOOKQ_CATCHUP_INTERVAL=0)");
    } else if (!hq_github_is_app(gh)) {
        hq_info("catch_up", NULL,
                "catch-up is off: reading the delivery log needs GitHub App credentials "
                "(HOOKQ_APP_ID, HOOKQ_APP_KEY_FILE)");
    } else {
        char host[64] = "host";
        if (gethostname(host, sizeof(host)) != 0)
            host[0] = '\0';
        host[sizeof(host) - 1] = '\0';
        if (hq_snprintf(owner, sizeof(owner), "%s:%ld", host, (long)getpid()) != 0)
            owner[0] = '\0';
        struct hq_catchup_sched_opts so = {
            .run = {.gh = gh,
                    .q = q,
                    .events = cu.events,
                    .all_events = cu.all_events,
                    .max_body = (size_t)cu.max_body},
            .interval_ms = cu.interval_ms,
            .window_ms = cu.window_ms,
            .owner = owner,
            .metrics = m,
        };
        if ((rc = hq_catchup_sched_start(&so, &catchup)) != 0)
            goto fail;
        hq_info("catch_up", NULL, "catch-up every %lld ms, looking back at most %lld ms",
                (long long)cu.interval_ms, (long long)cu.window_ms);
    }
    hq_info("start", NULL, "hookq-worker %s: %llu threads on %s, metrics on port %d (%s)",
            HOOKQ_VERSION, (unsigned long long)cfg.workers, shown, hq_metrics_http_port(http),
            cfg.metrics_listen);

    int sig = 0;
    sigwait(&sigs, &sig);
    hq_info("stop", NULL, "signal %d: no new leases; events in flight get %lld ms", sig,
            (long long)cfg.shutdown_grace_ms);
    status = 0;
    goto out;
fail:
    fprintf(stderr, "hookq-worker: start failed: %s\n", hq_strerror(rc));
    status = 1;
out:
    hq_catchup_sched_stop(catchup);
    if (pool != NULL) {
        hq_pool_stop(pool);
        hq_pool_join(pool, cfg.shutdown_grace_ms);
    }
    hq_metrics_http_stop(http);
    hq_pool_destroy(pool);
    hq_processor_destroy(proc);
    hq_github_destroy(gh);
    hq_queue_close(q);
    hq_metrics_destroy(m);
    if (status == 0)
        hq_info("stop", NULL, "stopped cleanly");
    worker_config_free(&cfg);
    hq_catchup_config_free(&cu);
    return status;
}
