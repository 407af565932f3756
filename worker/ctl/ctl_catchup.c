/*
 * ctl_catchup: hookqctl catch-up (schema/design.md §8.3, §9), one catch-up
 * run by hand with the worker's settings: HOOKQ_APP_ID and
 * HOOKQ_APP_KEY_FILE (or the systemd credential app-key), HOOKQ_GITHUB_API,
 * HOOKQ_EVENTS, HOOKQ_MAX_BODY, HOOKQ_CATCHUP_WINDOW (the default of
 * --since). It is the one hookqctl command that talks to GitHub, so
 * hookq_ctl links the GitHub client and catch-up (worker/catchup/).
 *
 * It reads the App's hook id from the worker's state record but never
 * moves the worker's position or takes its claim: the dedup window makes a
 * run by hand beside the worker's harmless.
 */
#include "catchup.h"
#include "catchup_config.h"
#include "catchup_sched.h"
#include "clock.h"
#include "config.h"
#include "ctl.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS (24ll * 3600 * 1000)

struct out {
    bool json;
    bool header_done;
    bool write_failed;
};

static bool not_stopped(void *arg)
{
    (void)arg;
    return ctl_stop == 0;
}

static void print_json(const struct hq_catchup_report *r, struct out *o)
{
    char at[40] = "";
    cJSON *j = cJSON_CreateObject();
    if (j == NULL || hq_format_rfc3339(r->d->delivered_at_ms, at, sizeof(at)) < 0)
        goto out;
    bool ok = cJSON_AddStringToObject(j, "guid", r->d->guid) &&
              cJSON_AddNumberToObject(j, "github_id", (double)r->d->id) &&
              cJSON_AddStringToObject(j, "event", r->d->event) &&
              cJSON_AddStringToObject(j, "action", r->d->action) &&
              cJSON_AddNumberToObject(j, "repo_id", (double)r->d->repository_id) &&
              cJSON_AddStringToObject(j, "result", hq_catchup_result_name(r->result)) &&
              cJSON_AddStringToObject(j, "delivered_at", at) &&
              cJSON_AddNumberToObject(j, "attempts", r->attempts) &&
              (r->event_id == 0 || cJSON_AddNumberToObject(j, "id", (double)r->event_id)) &&
              (r->repo == NULL || cJSON_AddStringToObject(j, "repo", r->repo)) &&
              (r->why == NULL || cJSON_AddStringToObject(j, "error", r->why));
    char *text = ok ? cJSON_PrintUnformatted(j) : NULL;
    if (text == NULL || printf("%s\n", text) < 0)
        o->write_failed = true;
    cJSON_free(text);
out:
    cJSON_Delete(j);
}

static void report(void *arg, const struct hq_catchup_report *r)
{
    struct out *o = arg;
    if (o->json) {
        print_json(r, o);
        return;
    }
    if (!o->header_done) {
        printf("%-38s %-12s %-20s %-16s %-12s %s\n", "GUID", "GITHUB_ID", "EVENT", "ACTION",
               "REPO_ID", "RESULT");
        o->header_done = true;
    }
    const char *action = r->d->action[0] ? r->d->action : "-";
    if (printf("%-38s %-12" PRIu64 " %-20s %-16s %-12" PRIu64 " %s%s%s\n", r->d->guid, r->d->id,
               r->d->event, action, r->d->repository_id, hq_catchup_result_name(r->result),
               r->why ? ": " : "", r->why ? r->why : "") < 0)
        o->write_failed = true;
}

/* The GitHub client from the worker's settings: CTL_OK or an exit status. */
static int make_client(hq_github **gh)
{
    struct hq_cfgerr err = {{0}};
    uint64_t app_id = 0;
    char *key = NULL;
    int64_t http_ms = 0, connect_ms = 0;
    int status = CTL_USAGE;
    if (hq_env_uint("HOOKQ_APP_ID", 0, 1, UINT64_MAX, &app_id, &err) != 0 ||
        hq_env_duration("HOOKQ_HTTP_TIMEOUT", 30000, 100, 600000, &http_ms, &err) != 0 ||
        hq_env_duration("HOOKQ_CONNECT_TIMEOUT", 10000, 100, 600000, &connect_ms, &err) != 0) {
        ctl_err("%s", err.msg);
        goto out;
    }
    if (hq_secret_path("HOOKQ_APP_KEY_FILE", "app-key", &key) != 0) {
        ctl_err("HOOKQ_APP_KEY_FILE: out of memory");
        status = CTL_FAIL;
        goto out;
    }
    if (app_id == 0 || key == NULL) {
        ctl_err("catch-up reads the App's delivery log: set HOOKQ_APP_ID and "
                "HOOKQ_APP_KEY_FILE (a personal token cannot read it)");
        goto out;
    }
    struct hq_github_opts go;
    hq_github_opts_init(&go);
    go.api_url = hq_env_str("HOOKQ_GITHUB_API", "https://api.github.com");
    go.app_id = app_id;
    go.app_key_path = key;
    go.total_timeout_ms = (long)http_ms;
    go.connect_timeout_ms = (long)connect_ms;
    go.err = &err;
    int rc = hq_github_create(&go, gh);
    if (rc != 0) {
        ctl_err("%s", err.msg[0] ? err.msg : hq_strerror(rc));
        goto out;
    }
    status = CTL_OK;
out:
    free(key);
    return status;
}

int ctl_cmd_catchup(struct ctl *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"since", required_argument, NULL, 's'}, {"dry-run", no_argument, NULL, 'n'},
        {"redeliver", no_argument, NULL, 'r'},   {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
    struct hq_catchup_config cu = {0};
    struct hq_cfgerr err = {{0}};
    hq_github *gh = NULL;
    struct out out = {0};
    bool dry = false, redeliver = false;
    const char *since = NULL;
    int status = CTL_USAGE, ch;

    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (ch) {
        case 's': since = optarg; break;
        case 'n': dry = true; break;
        case 'r': redeliver = true; break;
        case 'j': out.json = true; break;
        case 'h': return CTL_HELP;
        default: return ctl_bad_option("catch-up", ch, argv[optind - 1]);
        }
    }
    if (optind < argc) {
        ctl_err("catch-up: unexpected argument '%s'", argv[optind]);
        return CTL_USAGE;
    }
    if (hq_catchup_config_load(&cu, &err) != 0) {
        ctl_err("%s", err.msg);
        goto out;
    }
    int64_t back = cu.window_ms;
    if (since != NULL &&
        (hq_parse_duration_ms(since, &back) != 0 || back < 1000 || back > 30 * DAY_MS)) {
        ctl_err("catch-up: --since: expected a duration from 1s to 30d (got '%s')", since);
        goto out;
    }
    if ((status = make_client(&gh)) != CTL_OK)
        goto out;
    if ((status = ctl_open(c, dry ? CTL_READ_ONLY : CTL_READ_WRITE)) != CTL_OK)
        goto out;

    struct hq_queue_state st;
    int rc = hq_queue_state_get(c->q, HQ_CATCHUP_STATE, &st);
    if (rc != 0) {
        status = ctl_fail("catch-up: reading the catch-up state", rc);
        goto out;
    }
    struct hq_catchup_opts o = {
        .gh = gh,
        .q = c->q,
        .events = cu.events,
        .all_events = cu.all_events,
        .max_body = (size_t)cu.max_body,
        .since_ms = c->now_ms - back,
        .dry_run = dry,
        .redeliver = redeliver,
        .hook_id_known = st.version > 0 && st.value != 0,
        .hook_id = st.value,
        .report = report,
        .keep_going = not_stopped,
        .arg = &out,
    };
    struct hq_catchup_summary s;
    rc = hq_catchup_run(&o, &s);
    if (ctl_stop != 0) {
        status = ctl_stopped("catch-up: interrupted; what is reported above was done");
        goto out;
    }
    if (rc == HQ_EHTTP) {
        ctl_err("catch-up: cannot read GitHub's delivery log: %s", s.error);
        status = CTL_NOMATCH; /* 1: GitHub could not be read */
        goto out;
    }
    if (rc != 0) {
        status = ctl_fail("catch-up", rc);
        goto out;
    }
    char line[512];
    if (hq_snprintf(line, sizeof(line),
                    "%zu deliveries listed, %zu missed%s: %zu enqueued, %zu already queued, "
                    "%zu would be enqueued, %zu redeliveries requested, %zu ignored, %zu failed",
                    s.listed, s.missed, dry ? " (dry run)" : "", s.counts[HQ_CU_ENQUEUED],
                    s.counts[HQ_CU_DUPLICATE], s.counts[HQ_CU_WOULD_ENQUEUE],
                    s.counts[HQ_CU_REDELIVERY_REQUESTED], s.counts[HQ_CU_IGNORED],
                    s.counts[HQ_CU_FAILED]) != 0)
        line[0] = '\0';
    if (out.json)
        fprintf(stderr, "hookqctl: catch-up: %s\n", line);
    else
        printf("%s\n", line);
    status = out.write_failed ? CTL_FAIL : CTL_OK;
out:
    hq_github_destroy(gh);
    hq_catchup_config_free(&cu);
    return status;
}
