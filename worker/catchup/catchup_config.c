/* catchup_config: catch-up's settings; see catchup_config.h. */
#include "catchup_config.h"

#include "ingest.h"
#include "settings.h"

#include <string.h>

#define DAY_MS (24ll * 3600 * 1000)
#define MIB    (1024ull * 1024)

void hq_catchup_config_usage(FILE *fp)
{
    fprintf(fp, "  %-24s %-32s %s\n", "HOOKQ_CATCHUP_INTERVAL", "10m",
            "catch-up of missed deliveries: how often (0 off)");
    fprintf(fp, "  %-24s %-32s %s\n", "HOOKQ_CATCHUP_WINDOW", "3d",
            "catch-up: how far back at most");
    fprintf(fp, "  %-24s %-32s %s\n", "HOOKQ_EVENTS", INGEST_DEFAULT_EVENTS,
            "catch-up: the receiver's accepted events");
    fprintf(fp, "  %-24s %-32s %s\n", "HOOKQ_MAX_BODY", "25MiB",
            "catch-up: the receiver's body limit");
}

int hq_catchup_config_load(struct hq_catchup_config *c, struct hq_cfgerr *err)
{
    int rc;
    memset(c, 0, sizeof(*c));
    if ((rc = hq_env_duration("HOOKQ_CATCHUP_INTERVAL", 10 * 60 * 1000, 0, DAY_MS, &c->interval_ms,
                              err)) != 0 ||
        (rc = hq_env_duration("HOOKQ_CATCHUP_WINDOW", 3 * DAY_MS, 60 * 1000, 30 * DAY_MS,
                              &c->window_ms, err)) != 0 ||
        (rc = hq_env_size("HOOKQ_MAX_BODY", 25 * MIB, 1024, 1024 * MIB, &c->max_body, err)) != 0)
        return rc;
    if (c->interval_ms > 0 && c->interval_ms < 1000)
        return hq_cfgerr_set(err, "HOOKQ_CATCHUP_INTERVAL",
                             hq_env_str("HOOKQ_CATCHUP_INTERVAL", NULL),
                             "must be 0 (off) or at least 1s");
    /* the receiver's default, which check runs widen */
    enum hq_report report;
    if ((rc = hq_settings_report(&report, err)) != 0)
        return rc;
    const char *v =
        hq_env_str("HOOKQ_EVENTS", HQ_REPORT_HAS_CHECKS(report) ? INGEST_DEFAULT_EVENTS_CHECKS
                                                                : INGEST_DEFAULT_EVENTS);
    rc = ingest_events_parse(v, &c->events, &c->all_events);
    if (rc == HQ_ECONFIG)
        rc =
            hq_cfgerr_set(err, "HOOKQ_EVENTS", v, "expected event names separated by commas, or *");
    return rc;
}

void hq_catchup_config_free(struct hq_catchup_config *c)
{
    ingest_events_free(c->events);
    memset(c, 0, sizeof(*c));
}
