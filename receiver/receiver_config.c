/*
 * receiver_config: environment of the receiver; see receiver_config.h.
 *
 * The table of variables in receiver_config_usage() is the --help text and
 * must list every variable read here, with the same defaults.
 */
#include "receiver_config.h"
#include "ingest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIB             (1024ull * 1024ull)
#define GIB             (1024ull * MIB)
#define SECRET_FILE_MAX (64 * 1024)

#define DEF_LISTEN        "127.0.0.1:8080"
#define DEF_PATH          "/webhook"
#define DEF_EVENTS        INGEST_DEFAULT_EVENTS
#define DEF_EVENTS_CHECKS INGEST_DEFAULT_EVENTS ",check_run,check_suite"

static unsigned default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 2)
        return 2;
    return n > 8 ? 8 : (unsigned)n;
}

void receiver_config_usage(FILE *fp)
{
    static const struct {
        const char *name, *def, *help;
    } vars[] = {
        {"HOOKQ_LISTEN", DEF_LISTEN, "host:port or unix:/path"},
        {"HOOKQ_WEBHOOK_PATH", DEF_PATH, "webhook path"},
        {"HOOKQ_WEBHOOK_SECRET_FILE", "required*", "secrets, one per line (several: rotation)"},
        {"HOOKQ_EVENTS", DEF_EVENTS, "accepted events, comma-separated, * for all"},
        {"HOOKQ_REPORT", "statuses", "checks or both: HOOKQ_EVENTS adds check_run,check_suite"},
        {"HOOKQ_MAX_BODY", "25MiB", "request body limit (413 before reading it)"},
        {"HOOKQ_DEDUP_WINDOW", "7d", "how long a delivery is remembered"},
        {"HOOKQ_RECEIVER_THREADS", "CPUs, 2..8", "HTTP threads"},
        {"HOOKQ_RECEIVER_TIMEOUT", "30s", "idle or slow connection timeout"},
        {"HOOKQ_MAX_CONNECTIONS", "1024", "concurrent connections"},
        {"HOOKQ_MAX_PENDING", "4096", "deliveries waiting for a commit (then 503)"},
        {"HOOKQ_MAX_BUFFERED", "256MiB", "body bytes held in memory (then 503)"},
    };
    fprintf(fp,
            "usage: hookq-receiver [--help | --version]\n\n"
            "Receives GitHub webhooks, verifies and deduplicates them, and acknowledges\n"
            "each delivery once it is durably in the queue. Configured by environment:\n\n"
            "  %-26s %-19s %s\n",
            "variable", "default", "meaning");
    hq_settings_usage(fp, HQ_SETTINGS_USAGE_QUEUE, 26, 19);
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        fprintf(fp, "  %-26s %-19s %s\n", vars[i].name, vars[i].def, vars[i].help);
    hq_settings_usage(fp, HQ_SETTINGS_USAGE_LOG, 26, 19);
    fprintf(fp, "\n* or $CREDENTIALS_DIRECTORY/webhook-secret when systemd passes it.\n"
                "Durations take units (500ms, 30s, 10m, 7d), sizes too (64KiB, 25MiB, 4GiB).\n"
                "A bad value stops the receiver with one line naming the variable (exit 2).\n"
                "No privilege is needed: run it as an unprivileged user that owns HOOKQ_DB.\n"
                "SIGTERM/SIGINT: stop accepting, answer the deliveries in flight once their\n"
                "commit returns, exit 0.\n");
}

static int copy_str(char *dst, size_t cap, const char *src, const char *name, struct hq_cfgerr *err)
{
    size_t n = strlen(src);
    if (n >= cap)
        return hq_cfgerr_set(err, name, src, "too long");
    memcpy(dst, src, n + 1);
    return 0;
}

static int load_secrets(struct receiver_config *c, struct hq_cfgerr *err)
{
    static const char var[] = "HOOKQ_WEBHOOK_SECRET_FILE";
    char *path = NULL, *text = NULL;
    size_t len = 0;
    int rc = hq_secret_path(var, "webhook-secret", &path);
    if (rc != 0) {
        rc = hq_cfgerr_set(err, var, NULL, "cannot form the credential path");
        goto out;
    }
    if (path == NULL) {
        rc = hq_cfgerr_set(err, var, NULL,
                           "required: a file with one webhook secret per line "
                           "(or the systemd credential webhook-secret)");
        goto out;
    }
    rc = hq_read_file(path, SECRET_FILE_MAX, &text, &len);
    if (rc != 0) {
        char why[160];
        int n = snprintf(why, sizeof(why), "cannot read the secret file: %s", hq_strerror(rc));
        rc = hq_cfgerr_set(err, var, path, n > 0 && (size_t)n < sizeof(why) ? why : "unreadable");
        goto out;
    }
    rc = hq_sigkeys_from_text(text, len, &c->keys);
    if (rc == -ENOMEM)
        goto out;
    if (rc != 0) {
        rc = hq_cfgerr_set(err, var, path,
                           "the file must hold 1..16 secrets of 1..1024 bytes, one per line");
        goto out;
    }
out:
    if (text != NULL) {
        memset(text, 0, len);
        free(text);
    }
    free(path);
    return rc;
}

int receiver_config_load(struct receiver_config *c, struct hq_cfgerr *err)
{
    int rc = 0;
    const char *v;
    uint64_t u;
    memset(c, 0, sizeof(*c));

    if ((rc = hq_settings_queue(&c->queue, 0, err)) != 0)
        goto out;

    v = hq_env_str("HOOKQ_LISTEN", DEF_LISTEN);
    const char *why;
    if (hq_httpd_listen_parse(v, &c->listen, &why) != 0) {
        rc = hq_cfgerr_set(err, "HOOKQ_LISTEN", v, why);
        goto out;
    }

    v = hq_env_str("HOOKQ_WEBHOOK_PATH", DEF_PATH);
    if (v[0] != '/' || strpbrk(v, " \t?#") != NULL) {
        rc = hq_cfgerr_set(err, "HOOKQ_WEBHOOK_PATH", v,
                           "must be a path starting with / (no spaces, ? or #)");
        goto out;
    }
    if (strcmp(v, "/healthz") == 0 || strcmp(v, "/metrics") == 0) {
        rc = hq_cfgerr_set(err, "HOOKQ_WEBHOOK_PATH", v, "is taken by /healthz or /metrics");
        goto out;
    }
    if ((rc = copy_str(c->webhook_path, sizeof(c->webhook_path), v, "HOOKQ_WEBHOOK_PATH", err)) !=
        0)
        goto out;

    /* With check runs the Re-run button's webhooks are wanted too. */
    enum hq_report report;
    if ((rc = hq_settings_report(&report, err)) != 0)
        goto out;
    v = hq_env_str("HOOKQ_EVENTS", HQ_REPORT_HAS_CHECKS(report) ? DEF_EVENTS_CHECKS : DEF_EVENTS);
    rc = ingest_events_parse(v, &c->events, &c->all_events);
    if (rc == HQ_ECONFIG)
        rc =
            hq_cfgerr_set(err, "HOOKQ_EVENTS", v, "expected event names separated by commas, or *");
    if (rc != 0)
        goto out;

    if ((rc = hq_env_size("HOOKQ_MAX_BODY", 25 * MIB, 1024, GIB, &c->max_body, err)) != 0)
        goto out;

    if ((rc = hq_settings_log(&c->log, err)) != 0)
        goto out;

    if ((rc = hq_env_duration("HOOKQ_DEDUP_WINDOW", 7 * 86400000ll, 1000, 3650 * 86400000ll,
                              &c->queue.dedup_window_ms, err)) != 0)
        goto out;
    if ((rc = hq_env_uint("HOOKQ_RECEIVER_THREADS", default_threads(), 1, 64, &u, err)) != 0)
        goto out;
    c->threads = (unsigned)u;
    int64_t ms;
    if ((rc = hq_env_duration("HOOKQ_RECEIVER_TIMEOUT", 30000, 1000, 3600000, &ms, err)) != 0)
        goto out;
    c->timeout_s = (unsigned)((ms + 999) / 1000);
    if ((rc = hq_env_uint("HOOKQ_MAX_CONNECTIONS", 1024, 1, 65536, &u, err)) != 0)
        goto out;
    c->max_connections = (unsigned)u;
    if ((rc = hq_env_uint("HOOKQ_MAX_PENDING", 4096, 1, 1000000, &c->max_pending, err)) != 0)
        goto out;
    if ((rc = hq_env_size("HOOKQ_MAX_BUFFERED", 256 * MIB, 64 * 1024, 64 * GIB, &c->max_buffered,
                          err)) != 0)
        goto out;
    if (c->max_buffered < c->max_body) {
        rc = hq_cfgerr_set(err, "HOOKQ_MAX_BUFFERED", hq_env_str("HOOKQ_MAX_BUFFERED", "256MiB"),
                           "must be at least HOOKQ_MAX_BODY");
        goto out;
    }

    /* Secrets last: every cheaper mistake is reported first. */
    rc = load_secrets(c, err);
out:
    if (rc != 0)
        receiver_config_free(c);
    return rc;
}

void receiver_config_free(struct receiver_config *c)
{
    hq_sigkeys_destroy(c->keys);
    c->keys = NULL;
    ingest_events_free(c->events);
    c->events = NULL;
}
