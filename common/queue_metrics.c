/* queue_metrics: queue gauges refreshed at scrape time; see queue_metrics.h. */
#include "queue_metrics.h"

#include <stddef.h>

static const struct {
    const char *name;
    enum hq_metric_type type;
    const char *help;
} families[] = {
    {"hookq_queue_depth", HQ_GAUGE, "Events in the queue"},
    {"hookq_queue_repositories", HQ_GAUGE, "Repositories with queued events"},
    {"hookq_queue_ready", HQ_GAUGE, "Repositories ready to lease now"},
    {"hookq_queue_waiting", HQ_GAUGE, "Repositories whose head waits for a retry time"},
    {"hookq_queue_leased", HQ_GAUGE, "Repositories leased by a worker"},
    {"hookq_queue_oldest_ready_age_seconds", HQ_GAUGE,
     "How long the longest-ready repository has waited"},
    {"hookq_dead_letters", HQ_GAUGE, "Events in the dead-letter set"},
    {"hookq_queue_map_used_bytes", HQ_GAUGE, "LMDB map bytes in use"},
    {"hookq_queue_map_size_bytes", HQ_GAUGE, "LMDB map size"},
    {"hookq_queue_commits_total", HQ_COUNTER, "Write transactions committed by this process"},
    {"hookq_queue_commit_ops_total", HQ_COUNTER, "Write operations carried by those commits"},
    {"hookq_queue_commit_failures_total", HQ_COUNTER, "Write transactions that failed"},
    {"hookq_queue_commit_seconds_total", HQ_COUNTER, "Time spent in write transactions"},
};

static void collect(hq_metrics *m, void *arg)
{
    hq_queue *q = arg;
    struct hq_queue_stats st;
    if (hq_queue_stats(q, &st) == 0) {
        double v[] = {(double)st.queued,  (double)st.repositories, (double)st.ready,
                      (double)st.waiting, (double)st.leased,       st.oldest_age_seconds,
                      (double)st.dead,    (double)st.map_used,     (double)st.map_size};
        /* The last two (map figures) only for a backend that has a map. */
        size_t n = sizeof(v) / sizeof(v[0]) - (st.has_map ? 0 : 2);
        for (size_t i = 0; i < n; i++)
            hq_series_set(hq_metrics_series(m, families[i].name, NULL), v[i]);
    }
    struct hq_queue_commit_stats cs;
    hq_queue_commit_stats(q, &cs);
    double c[] = {(double)cs.commits, (double)cs.ops, (double)cs.failures, cs.commit_seconds_sum};
    for (size_t i = 0; i < 4; i++)
        hq_series_set(hq_metrics_series(m, families[9 + i].name, NULL), c[i]);
}

int hq_queue_metrics_register(hq_metrics *m, hq_queue *q)
{
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        int rc =
            hq_metrics_declare(m, families[i].name, families[i].type, families[i].help, NULL, 0);
        if (rc != 0)
            return rc;
    }
    return hq_metrics_on_render(m, collect, q);
}
