/*
 * catchup_config: the settings of catch-up (schema/design.md §5, §9), read
 * the same way by hookq-worker and hookqctl catch-up: HOOKQ_CATCHUP_INTERVAL
 * (default 10m, 0 off), HOOKQ_CATCHUP_WINDOW (3d), and the receiver's
 * HOOKQ_EVENTS and HOOKQ_MAX_BODY, so that catch-up accepts what the
 * receiver accepts. A bad value is HQ_ECONFIG with err naming it.
 */
#ifndef HQ_CATCHUP_CONFIG_H
#define HQ_CATCHUP_CONFIG_H

#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct hq_catchup_config {
    int64_t interval_ms; /* 0: the worker runs none */
    int64_t window_ms;
    char **events; /* owned (ingest_events_parse) */
    bool all_events;
    uint64_t max_body;
};

HQ_WUR int hq_catchup_config_load(struct hq_catchup_config *c, struct hq_cfgerr *err);
void hq_catchup_config_free(struct hq_catchup_config *c);
/* The --help lines of the four variables, in the worker's layout. */
void hq_catchup_config_usage(FILE *fp);

#endif
