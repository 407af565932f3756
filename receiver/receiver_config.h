/*
 * receiver_config: the receiver's settings, read from the environment
 * (schema/design.md §5) once at start.
 *
 * Every value is checked here; the first bad one stops loading with one line
 * naming the variable in err (main prints it and exits 2). The webhook
 * secrets are read from their file (HOOKQ_WEBHOOK_SECRET_FILE, or the
 * systemd credential "webhook-secret") into a key set owned by the config.
 */
#ifndef HQ_RECEIVER_CONFIG_H
#define HQ_RECEIVER_CONFIG_H

#include "config.h"
#include "hq_error.h"
#include "httpd_listen.h"
#include "log.h"
#include "settings.h"
#include "signature.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define RECEIVER_PATH_MAX 256

struct receiver_config {
    /* HOOKQ_DB, HOOKQ_MAP_SIZE, HOOKQ_SYNC (settings.h; db points into the
     * environment) and HOOKQ_DEDUP_WINDOW: what the queue opens with. */
    struct hq_queue_opts queue;
    struct hq_httpd_listen listen; /* HOOKQ_LISTEN, parsed by hq_httpd_listen_parse */
    char webhook_path[RECEIVER_PATH_MAX];
    hq_sigkeys *keys; /* owned */
    char **events;    /* owned, NULL-terminated; see ingest_events_parse */
    bool all_events;
    uint64_t max_body;
    struct hq_log_settings log;
    unsigned threads;   /* HTTP threads */
    unsigned timeout_s; /* idle connection timeout */
    unsigned max_connections;
    uint64_t max_pending;  /* deliveries waiting for a commit */
    uint64_t max_buffered; /* request body bytes held in memory at once */
};

/*
 * Fills c from the environment. 0, or HQ_ECONFIG with err set; -ENOMEM.
 * After a failure c holds nothing to free (receiver_config_free is harmless).
 */
HQ_WUR int receiver_config_load(struct receiver_config *c, struct hq_cfgerr *err);

void receiver_config_free(struct receiver_config *c);

/* Writes the --help text: every variable with its default. */
void receiver_config_usage(FILE *fp);

#endif
