/*
 * metrics: counters, gauges and histograms rendered in the Prometheus text
 * format (version 0.0.4) for /metrics.
 *
 * A series is a metric name plus a fixed label string such as
 * `result="accepted"`. Getting a series creates it on first use, so label
 * values known only at run time (a GitHub route and status) need no
 * registration. Getting takes a lock; updating a series is lock-free (atomics),
 * so keep the pointer of a hot series. Series live until the registry is
 * destroyed. All functions are thread-safe.
 */
#ifndef HQ_METRICS_H
#define HQ_METRICS_H

#include "hq_error.h"

#include <stddef.h>
#include <stdint.h>

typedef struct hq_metrics hq_metrics;
typedef struct hq_series hq_series;

enum hq_metric_type { HQ_COUNTER, HQ_GAUGE, HQ_HISTOGRAM };

HQ_WUR int hq_metrics_create(hq_metrics **out);
void hq_metrics_destroy(hq_metrics *m);

/* Declares a metric family (name, type, help). Histogram bounds are copied
 * (at most 24, increasing). Declaring a name twice is harmless. */
HQ_WUR int hq_metrics_declare(hq_metrics *m, const char *name, enum hq_metric_type type,
                              const char *help, const double *bounds, size_t nbounds);

/* The series of a declared family with the given labels ("" or NULL for
 * none). NULL only when out of memory or the family is unknown; the update
 * functions accept NULL and do nothing. */
hq_series *hq_metrics_series(hq_metrics *m, const char *name, const char *labels);

void hq_series_add(hq_series *s, double v);     /* counters and gauges */
void hq_series_set(hq_series *s, double v);     /* gauges */
void hq_series_observe(hq_series *s, double v); /* histograms */

/* Called at the start of every render, to refresh gauges computed on demand
 * (queue depth). At most 8 collectors. */
HQ_WUR int hq_metrics_on_render(hq_metrics *m, void (*fn)(hq_metrics *m, void *arg), void *arg);

/* Renders every family as Prometheus text into a malloc'd buffer. */
HQ_WUR int hq_metrics_render(hq_metrics *m, char **out, size_t *len);

#endif
