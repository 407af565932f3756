/* test_route: the routing table of schema/design.md §4, one row per case. */
#include "hqtest.h"
#include "route.h"

#define SHA "0123456789abcdef0123456789abcdef01234567"

static const struct {
    const char *name, *event, *payload;
    enum hq_route_kind kind;
} rows[] = {
    {"push", "push", "{\"after\":\"" SHA "\"}", HQ_ROUTE_STATUS},
    {"push deleted", "push", "{\"deleted\":true,\"after\":\"" SHA "\"}", HQ_ROUTE_NONE},
    {"push not deleted", "push", "{\"deleted\":false,\"after\":\"" SHA "\"}", HQ_ROUTE_STATUS},
    {"push without after", "push", "{\"ref\":\"refs/heads/main\"}", HQ_ROUTE_INVALID},
    {"push short sha", "push", "{\"after\":\"abc\"}", HQ_ROUTE_INVALID},
    {"push non-hex sha", "push", "{\"after\":\"z123456789abcdef0123456789abcdef01234567\"}",
     HQ_ROUTE_INVALID},
    {"push numeric after", "push", "{\"after\":12}", HQ_ROUTE_INVALID},
    {"pr opened", "pull_request",
     "{\"action\":\"opened\",\"pull_request\":{\"head\":{\"sha\":\"" SHA "\"}}}", HQ_ROUTE_STATUS},
    {"pr reopened", "pull_request",
     "{\"action\":\"reopened\",\"pull_request\":{\"head\":{\"sha\":\"" SHA "\"}}}",
     HQ_ROUTE_STATUS},
    {"pr synchronize", "pull_request",
     "{\"action\":\"synchronize\",\"pull_request\":{\"head\":{\"sha\":\"" SHA "\"}}}",
     HQ_ROUTE_STATUS},
    {"pr ready_for_review", "pull_request",
     "{\"action\":\"ready_for_review\",\"pull_request\":{\"head\":{\"sha\":\"" SHA "\"}}}",
     HQ_ROUTE_STATUS},
    {"pr closed", "pull_request",
     "{\"action\":\"closed\",\"pull_request\":{\"head\":{\"sha\":\"" SHA "\"}}}", HQ_ROUTE_NONE},
    {"pr labeled", "pull_request", "{\"action\":\"labeled\"}", HQ_ROUTE_NONE},
    {"pr opened without head", "pull_request", "{\"action\":\"opened\",\"pull_request\":{}}",
     HQ_ROUTE_INVALID},
    {"check_suite requested", "check_suite",
     "{\"action\":\"requested\",\"check_suite\":{\"head_sha\":\"" SHA "\"}}", HQ_ROUTE_STATUS},
    {"check_suite rerequested", "check_suite",
     "{\"action\":\"rerequested\",\"check_suite\":{\"head_sha\":\"" SHA "\"}}", HQ_ROUTE_STATUS},
    {"check_suite completed", "check_suite",
     "{\"action\":\"completed\",\"check_suite\":{\"head_sha\":\"" SHA "\"}}", HQ_ROUTE_NONE},
    {"check_suite no sha", "check_suite", "{\"action\":\"requested\"}", HQ_ROUTE_INVALID},
    {"issues", "issues", "{\"action\":\"opened\"}", HQ_ROUTE_NONE},
    {"star", "star", "not even json", HQ_ROUTE_NONE},
    {"push invalid json", "push", "{\"after\":", HQ_ROUTE_INVALID},
    {"push array", "push", "[1,2]", HQ_ROUTE_INVALID},
};

HQ_TEST(routing_table)
{
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct hq_route r;
        CHECK_EQ(hq_route_event(rows[i].event, rows[i].payload, strlen(rows[i].payload), &r), 0);
        if (r.kind != rows[i].kind)
            fprintf(stderr, "  row '%s': kind %d, want %d (%s)\n", rows[i].name, r.kind,
                    rows[i].kind, r.reason);
        CHECK_EQ(r.kind, rows[i].kind);
        if (r.kind == HQ_ROUTE_STATUS)
            CHECK_STR(r.sha, SHA);
        else
            CHECK(r.reason[0] != '\0');
    }
}

HQ_TEST(sha_is_lowercased)
{
    const char *p = "{\"after\":\"0123456789ABCDEF0123456789ABCDEF01234567\"}";
    struct hq_route r;
    CHECK_EQ(hq_route_event("push", p, strlen(p), &r), 0);
    CHECK_EQ(r.kind, HQ_ROUTE_STATUS);
    CHECK_STR(r.sha, SHA);
}

/* With check runs (HOOKQ_REPORT checks, both; App 42). */
static const struct {
    const char *name, *event, *payload;
    enum hq_route_kind kind;
    bool quiet;
} check_rows[] = {
    {"push", "push", "{\"after\":\"" SHA "\"}", HQ_ROUTE_STATUS, false},
    {"pr opened", "pull_request",
     "{\"action\":\"opened\",\"pull_request\":{\"head\":{\"sha\":\"" SHA "\"}}}", HQ_ROUTE_STATUS,
     false},
    {"check_suite requested is ignored", "check_suite",
     "{\"action\":\"requested\",\"check_suite\":{\"head_sha\":\"" SHA "\"}}", HQ_ROUTE_NONE, true},
    {"check_suite rerequested", "check_suite",
     "{\"action\":\"rerequested\",\"check_suite\":{\"head_sha\":\"" SHA "\"}}", HQ_ROUTE_STATUS,
     false},
    {"check_run rerequested of this App", "check_run",
     "{\"action\":\"rerequested\",\"check_run\":{\"head_sha\":\"" SHA "\",\"app\":{\"id\":42}}}",
     HQ_ROUTE_STATUS, false},
    {"check_run rerequested of another App", "check_run",
     "{\"action\":\"rerequested\",\"check_run\":{\"head_sha\":\"" SHA "\",\"app\":{\"id\":7}}}",
     HQ_ROUTE_NONE, true},
    {"check_run rerequested without app", "check_run",
     "{\"action\":\"rerequested\",\"check_run\":{\"head_sha\":\"" SHA "\"}}", HQ_ROUTE_NONE, true},
    {"check_run rerequested without sha", "check_run",
     "{\"action\":\"rerequested\",\"check_run\":{\"app\":{\"id\":42}}}", HQ_ROUTE_INVALID, false},
    {"check_run created (our own run)", "check_run",
     "{\"action\":\"created\",\"check_run\":{\"head_sha\":\"" SHA "\",\"app\":{\"id\":42}}}",
     HQ_ROUTE_NONE, true},
    {"check_run completed", "check_run",
     "{\"action\":\"completed\",\"check_run\":{\"head_sha\":\"" SHA "\",\"app\":{\"id\":42}}}",
     HQ_ROUTE_NONE, true},
};

HQ_TEST(routing_table_with_check_runs)
{
    struct hq_route_opts o = {.checks = true, .app_id = 42};
    for (size_t i = 0; i < sizeof(check_rows) / sizeof(check_rows[0]); i++) {
        struct hq_route r;
        const char *pl = check_rows[i].payload;
        CHECK_EQ(hq_route_event_opts(&o, check_rows[i].event, pl, strlen(pl), &r), 0);
        if (r.kind != check_rows[i].kind || r.quiet != check_rows[i].quiet)
            fprintf(stderr, "  row '%s': kind %d quiet %d, want %d %d (%s)\n", check_rows[i].name,
                    r.kind, r.quiet, check_rows[i].kind, check_rows[i].quiet, r.reason);
        CHECK_EQ(r.kind, check_rows[i].kind);
        CHECK_EQ(r.quiet, check_rows[i].quiet);
        if (r.kind == HQ_ROUTE_STATUS)
            CHECK_STR(r.sha, SHA);
    }
}

HQ_TEST(check_run_is_no_status_without_check_runs)
{
    const char *p =
        "{\"action\":\"rerequested\",\"check_run\":{\"head_sha\":\"" SHA "\",\"app\":{\"id\":42}}}";
    struct hq_route_opts o = {.checks = false, .app_id = 42};
    struct hq_route r;
    CHECK_EQ(hq_route_event_opts(&o, "check_run", p, strlen(p), &r), 0);
    CHECK_EQ(r.kind, HQ_ROUTE_NONE);
}

int main(int argc, char **argv)
{
    return hqtest_main(argc, argv);
}
