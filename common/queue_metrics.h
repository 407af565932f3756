/*
 * queue_metrics: the queue's gauges on /metrics, the same names on both
 * services (deploy/alerts.yml depends on them):
 *   hookq_queue_depth, hookq_queue_repositories, hookq_queue_ready,
 *   hookq_queue_waiting, hookq_queue_leased, hookq_queue_oldest_ready_age_seconds,
 *   hookq_dead_letters, hookq_queue_map_used_bytes, hookq_queue_map_size_bytes,
 *   hookq_queue_commits_total, hookq_queue_commit_ops_total,
 *   hookq_queue_commit_failures_total, hookq_queue_commit_seconds_total
 * refreshed from hq_queue_stats at every scrape. The queue must outlive the
 * registry's renders.
 */
#ifndef HQ_QUEUE_METRICS_H
#define HQ_QUEUE_METRICS_H

#include "metrics.h"
#include "queue.h"

HQ_WUR int hq_queue_metrics_register(hq_metrics *m, hq_queue *q);

#endif
