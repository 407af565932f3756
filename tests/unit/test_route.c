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

int main(int argc, char **argv)
{
    return hqtest_main(argc, argv);
}
