/*
 * worker_config: hookq-worker's configuration from the environment (schema/design.md
 * §5). Every value is checked by worker_config_load; the first bad one stops
 * it with one line naming the variable (err->msg). worker_config_usage
 * prints --help: every variable with its default.
 */
#ifndef HQ_WORKER_CONFIG_H
#define HQ_WORKER_CONFIG_H

#include "config.h"
#include "log.h"
#include "settings.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct worker_config {
    /* HOOKQ_DB, HOOKQ_MAP_SIZE, HOOKQ_SYNC (settings.h; db points into the
     * environment) and HOOKQ_MAX_ATTEMPTS: what the queue opens with. */
    struct hq_queue_opts queue;
    char *api_url;
    uint64_t app_id;
    char *app_key_path; /* App mode ... */
    char *token_path;   /* ... or personal token mode */
    uint64_t workers;
    char *check_cmd;
    int64_t check_timeout_ms;
    char *context;
    enum hq_report report; /* HOOKQ_REPORT */
    char *check_name;      /* HOOKQ_CHECK_NAME, by default the context */
    char *target_url;      /* template, NULL if none */
    bool post_pending;
    uint64_t max_attempts;
    int64_t backoff_base_ms, backoff_max_ms;
    int64_t lease_ms;
    char *metrics_listen;
    bool pacing;
    uint64_t pacing_per_minute, pacing_per_hour, ratelimit_reserve;
    int64_t http_timeout_ms, connect_timeout_ms;
    uint64_t max_in_flight;
    int64_t shutdown_grace_ms;
    struct hq_log_settings log;
};

/* Loads and checks everything. 0, or HQ_ECONFIG with err set, or -ENOMEM. */
HQ_WUR int worker_config_load(struct worker_config *c, struct hq_cfgerr *err);
void worker_config_free(struct worker_config *c);
void worker_config_usage(FILE *fp);

/* Fills "{repo}", "{sha}", "{delivery}" of tmpl into out; HQ_ETOOBIG if it
 * does not fit. Other text is copied as is. */
HQ_WUR int worker_target_url(const char *tmpl, const char *repo, const char *sha,
                             const char *delivery, char *out, size_t cap);

#endif
