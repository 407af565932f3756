/* worker_config: environment → struct worker_config; see worker_config.h. */
#include "worker_config.h"
#include "catchup_config.h"
#include "gh_checks.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS (24ll * 3600 * 1000)

static const struct {
    const char *name, *def, *help;
} vars[] = {
    {"HOOKQ_GITHUB_API", "https://api.github.com", "API base URL (GitHub Enterprise Server too)"},
    {"HOOKQ_APP_ID", "-", "GitHub App id (with HOOKQ_APP_KEY_FILE)"},
    {"HOOKQ_APP_KEY_FILE", "$CREDENTIALS_DIRECTORY/app-key", "the App's private key (PEM)"},
    {"HOOKQ_TOKEN_FILE", "$CREDENTIALS_DIRECTORY/token", "personal access token instead of an App"},
    {"HOOKQ_WORKERS", "8", "worker threads"},
    {"HOOKQ_CHECK_CMD", "required", "the check: command line, payload on stdin"},
    {"HOOKQ_CHECK_TIMEOUT", "10m", "the check's time limit (its process group is killed)"},
    {"HOOKQ_STATUS_CONTEXT", "hookq", "commit status context"},
    {"HOOKQ_REPORT", "statuses", "statuses, checks (check runs; an App only) or both"},
    {"HOOKQ_CHECK_NAME", "the context", "the check run's name"},
    {"HOOKQ_TARGET_URL", "none", "status/details link template: {repo} {sha} {delivery}"},
    {"HOOKQ_POST_PENDING", "true", "post 'pending' before the check"},
    {"HOOKQ_MAX_ATTEMPTS", "10", "failed attempts before dead-lettering"},
    {"HOOKQ_BACKOFF_BASE", "1s", "backoff base (full jitter)"},
    {"HOOKQ_BACKOFF_MAX", "10m", "backoff ceiling"},
    {"HOOKQ_LEASE", "60s", "repository lease, renewed while working"},
    {"HOOKQ_METRICS_LISTEN", "127.0.0.1:9102", "/metrics and /healthz address"},
    {"HOOKQ_PACING", "true", "pace content-creating requests per installation"},
    {"HOOKQ_PACING_PER_MINUTE", "80", "status posts a minute per installation"},
    {"HOOKQ_PACING_PER_HOUR", "500", "status posts an hour per installation"},
    {"HOOKQ_RATELIMIT_RESERVE", "100", "primary rate limit kept in reserve"},
    {"HOOKQ_HTTP_TIMEOUT", "30s", "total time limit of one GitHub request"},
    {"HOOKQ_CONNECT_TIMEOUT", "10s", "connect time limit of one GitHub request"},
    {"HOOKQ_MAX_IN_FLIGHT", "32", "GitHub requests in flight at once"},
    {"HOOKQ_SHUTDOWN_GRACE", "10s", "on SIGTERM, how long events in flight may finish"},
};

void worker_config_usage(FILE *fp)
{
    fprintf(fp, "usage: hookq-worker [--help] [--version]\n\n"
                "Leases one repository at a time from the hookq queue, runs the check,\n"
                "and posts commit statuses to GitHub. Configured by the environment:\n\n");
    hq_settings_usage(fp, HQ_SETTINGS_USAGE_QUEUE, 24, 32);
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        fprintf(fp, "  %-24s %-32s %s\n", vars[i].name, vars[i].def, vars[i].help);
    hq_catchup_config_usage(fp);
    hq_settings_usage(fp, HQ_SETTINGS_USAGE_LOG, 24, 32);
    fprintf(fp, "\nDurations take units (500ms, 30s, 10m, 1h), sizes too (64MiB, 4GiB).\n"
                "Give either HOOKQ_APP_ID with HOOKQ_APP_KEY_FILE, or HOOKQ_TOKEN_FILE.\n"
                "Signals: SIGTERM/SIGINT stop taking leases, let events in flight finish\n"
                "for HOOKQ_SHUTDOWN_GRACE, release the rest, and exit 0.\n");
}

static int dup_env(const char *name, const char *def, char **out)
{
    const char *v = hq_env_str(name, def);
    *out = v ? strdup(v) : NULL;
    return (v != NULL && *out == NULL) ? -ENOMEM : 0;
}

int worker_config_load(struct worker_config *c, struct hq_cfgerr *err)
{
    int rc;
    memset(c, 0, sizeof(*c));
    if ((rc = dup_env("HOOKQ_GITHUB_API", "https://api.github.com", &c->api_url)) ||
        (rc = dup_env("HOOKQ_CHECK_CMD", NULL, &c->check_cmd)) ||
        (rc = dup_env("HOOKQ_STATUS_CONTEXT", "hookq", &c->context)) ||
        (rc = dup_env("HOOKQ_TARGET_URL", NULL, &c->target_url)) ||
        (rc = dup_env("HOOKQ_CHECK_NAME", hq_env_str("HOOKQ_STATUS_CONTEXT", "hookq"),
                      &c->check_name)) ||
        (rc = dup_env("HOOKQ_METRICS_LISTEN", "127.0.0.1:9102", &c->metrics_listen)))
        return rc;
    if ((rc = hq_settings_queue(&c->queue, 0, err)) || (rc = hq_settings_report(&c->report, err)) ||
        (rc = hq_env_uint("HOOKQ_APP_ID", 0, 1, UINT64_MAX, &c->app_id, err)) ||
        (rc = hq_env_uint("HOOKQ_WORKERS", 8, 1, 1024, &c->workers, err)) ||
        (rc = hq_env_duration("HOOKQ_CHECK_TIMEOUT", 600000, 100, DAY_MS, &c->check_timeout_ms,
                              err)) ||
        (rc = hq_env_bool("HOOKQ_POST_PENDING", true, &c->post_pending, err)) ||
        (rc = hq_env_uint("HOOKQ_MAX_ATTEMPTS", 10, 1, 1000, &c->max_attempts, err)) ||
        (rc = hq_env_duration("HOOKQ_BACKOFF_BASE", 1000, 1, DAY_MS, &c->backoff_base_ms, err)) ||
        (rc = hq_env_duration("HOOKQ_BACKOFF_MAX", 600000, 1, 7 * DAY_MS, &c->backoff_max_ms,
                              err)) ||
        (rc = hq_env_duration("HOOKQ_LEASE", 60000, 1000, DAY_MS, &c->lease_ms, err)) ||
        (rc = hq_env_bool("HOOKQ_PACING", true, &c->pacing, err)) ||
        (rc = hq_env_uint("HOOKQ_PACING_PER_MINUTE", 80, 1, 100000, &c->pacing_per_minute, err)) ||
        (rc = hq_env_uint("HOOKQ_PACING_PER_HOUR", 500, 1, 1000000, &c->pacing_per_hour, err)) ||
        (rc = hq_env_uint("HOOKQ_RATELIMIT_RESERVE", 100, 0, 100000, &c->ratelimit_reserve, err)) ||
        (rc =
             hq_env_duration("HOOKQ_HTTP_TIMEOUT", 30000, 100, 600000, &c->http_timeout_ms, err)) ||
        (rc = hq_env_duration("HOOKQ_CONNECT_TIMEOUT", 10000, 100, 600000, &c->connect_timeout_ms,
                              err)) ||
        (rc = hq_env_uint("HOOKQ_MAX_IN_FLIGHT", 32, 1, 1024, &c->max_in_flight, err)) ||
        (rc = hq_env_duration("HOOKQ_SHUTDOWN_GRACE", 10000, 0, 3600000, &c->shutdown_grace_ms,
                              err)))
        return rc;
    if (c->backoff_max_ms < c->backoff_base_ms)
        return hq_cfgerr_set(err, "HOOKQ_BACKOFF_MAX", hq_env_str("HOOKQ_BACKOFF_MAX", "10m"),
                             "must not be below HOOKQ_BACKOFF_BASE");
    c->queue.max_attempts = (uint32_t)c->max_attempts;
    if ((rc = hq_settings_log(&c->log, err)) != 0)
        return rc;
    if (c->check_cmd == NULL)
        return hq_cfgerr_set(err, "HOOKQ_CHECK_CMD", NULL,
                             "required: the command that checks an event");
    if (strncmp(c->api_url, "https://", 8) != 0 && strncmp(c->api_url, "http://", 7) != 0)
        return hq_cfgerr_set(err, "HOOKQ_GITHUB_API", c->api_url, "must be an http(s) URL");
    if ((rc = hq_secret_path("HOOKQ_APP_KEY_FILE", "app-key", &c->app_key_path)) != 0 ||
        (rc = hq_secret_path("HOOKQ_TOKEN_FILE", "token", &c->token_path)) != 0)
        return rc;
    if (c->app_id != 0 && c->app_key_path == NULL)
        return hq_cfgerr_set(err, "HOOKQ_APP_KEY_FILE", NULL,
                             "required with HOOKQ_APP_ID: the App's private key file");
    if (c->app_id == 0 && c->app_key_path != NULL && hq_env_str("HOOKQ_APP_KEY_FILE", NULL))
        return hq_cfgerr_set(err, "HOOKQ_APP_ID", NULL, "required with HOOKQ_APP_KEY_FILE");
    if (c->app_id == 0 && c->token_path == NULL)
        return hq_cfgerr_set(err, "HOOKQ_APP_ID", NULL,
                             "no GitHub credentials: set HOOKQ_APP_ID and HOOKQ_APP_KEY_FILE, "
                             "or HOOKQ_TOKEN_FILE");
    if (c->app_id != 0 && c->token_path != NULL && hq_env_str("HOOKQ_TOKEN_FILE", NULL)) {
        return hq_cfgerr_set(err, "HOOKQ_TOKEN_FILE", NULL,
                             "give either an App (HOOKQ_APP_ID) or a token file, not both");
    }
    if (HQ_REPORT_HAS_CHECKS(c->report) && c->app_id == 0)
        return hq_cfgerr_set(
            err, "HOOKQ_REPORT", hq_env_str("HOOKQ_REPORT", ""),
            "check runs need a GitHub App (HOOKQ_APP_ID): a token cannot make them");
    if (c->check_name[0] == '\0' || strlen(c->check_name) > HQ_GH_CHECK_NAME_MAX)
        return hq_cfgerr_set(err, "HOOKQ_CHECK_NAME", c->check_name, "must be 1 to 100 bytes");
    if (c->app_id != 0) {
        free(c->token_path);
        c->token_path = NULL;
    }
    if (c->target_url != NULL) {
        char probe[2048];
        if (worker_target_url(c->target_url, "o/r", "0123456789012345678901234567890123456789", "d",
                              probe, sizeof(probe)) != 0)
            return hq_cfgerr_set(err, "HOOKQ_TARGET_URL", c->target_url, "too long");
    }
    return 0;
}

void worker_config_free(struct worker_config *c)
{
    free(c->api_url);
    free(c->app_key_path);
    free(c->token_path);
    free(c->check_cmd);
    free(c->context);
    free(c->check_name);
    free(c->target_url);
    free(c->metrics_listen);
    memset(c, 0, sizeof(*c));
}

int worker_target_url(const char *tmpl, const char *repo, const char *sha, const char *delivery,
                      char *out, size_t cap)
{
    static const char *const keys[] = {"{repo}", "{sha}", "{delivery}"};
    const char *vals[] = {repo, sha, delivery};
    size_t w = 0;
    for (const char *p = tmpl; *p != '\0';) {
        bool matched = false;
        for (int i = 0; i < 3; i++) {
            size_t kl = strlen(keys[i]);
            if (strncmp(p, keys[i], kl) == 0) {
                size_t vl = strlen(vals[i]);
                if (w + vl >= cap)
                    return HQ_ETOOBIG;
                memcpy(out + w, vals[i], vl);
                w += vl;
                p += kl;
                matched = true;
                break;
            }
        }
        if (!matched) {
            if (w + 1 >= cap)
                return HQ_ETOOBIG;
            out[w++] = *p++;
        }
    }
    out[w] = '\0';
    return 0;
}
