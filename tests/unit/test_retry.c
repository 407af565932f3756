/*
 * test_retry: the retry policy table of schema/design.md §4, one case per row (plus
 * the edges each row implies), full-jitter backoff bounds over many draws,
 * and Retry-After parsing (seconds, the three HTTP-date forms, garbage).
 */
#include "hqtest.h"
#include "retry.h"

#include <stdint.h>

#define NOW 1700000000000LL /* 2023-11-14T22:13:20Z */

static enum hq_retry_kind run(int status, const char *retry_after, const char *remaining,
                              const char *reset, const char *body, struct hq_gh_result *res)
{
    struct hq_retry_answer a = {
        .http_status = status,
        .retry_after = retry_after,
        .ratelimit_remaining = remaining,
        .ratelimit_reset = reset,
        .body = body,
        .body_len = body ? strlen(body) : 0,
        .now_ms = NOW,
    };
    return hq_retry_classify(&a, res);
}

HQ_TEST(row_2xx_success)
{
    struct hq_gh_result r;
    int codes[] = {200, 201, 204};
    for (size_t i = 0; i < 3; i++) {
        CHECK_EQ(run(codes[i], NULL, "4999", "1700003600", "{\"id\":1}", &r), HQ_RK_OK);
        CHECK_EQ(r.outcome, HQ_GH_OK);
        CHECK_EQ(r.http_status, codes[i]);
        CHECK_EQ(r.ratelimit_remaining, 4999);
        CHECK_STR(r.reason, "");
    }
}

HQ_TEST(row_401_token_problem)
{
    struct hq_gh_result r;
    CHECK_EQ(run(401, NULL, NULL, NULL, "{\"message\":\"Bad credentials\"}", &r), HQ_RK_TOKEN);
    CHECK_EQ(r.outcome, HQ_GH_RETRY); /* what it becomes after the one fresh-token retry */
    CHECK(strstr(r.reason, "Bad credentials") != NULL);
    CHECK_EQ(r.ratelimit_remaining, -1);
}

HQ_TEST(row_403_429_retry_after)
{
    struct hq_gh_result r;
    CHECK_EQ(run(429, "2", NULL, NULL, NULL, &r), HQ_RK_RATE_LIMIT);
    CHECK_EQ(r.outcome, HQ_GH_WAIT);
    CHECK_EQ(r.retry_at_ms, NOW + 2000);
    CHECK_EQ(run(403, "120", "17", NULL, "{\"message\":\"secondary rate limit\"}", &r),
             HQ_RK_RATE_LIMIT);
    CHECK_EQ(r.outcome, HQ_GH_WAIT);
    CHECK_EQ(r.retry_at_ms, NOW + 120000);
    CHECK_EQ(r.ratelimit_remaining, 17);
    /* an HTTP-date works too */
    CHECK_EQ(run(429, "Tue, 14 Nov 2023 22:13:50 GMT", NULL, NULL, NULL, &r), HQ_RK_RATE_LIMIT);
    CHECK_EQ(r.retry_at_ms, NOW + 30000);
    /* retry-after: 0 still waits a second, so no caller spins */
    CHECK_EQ(run(429, "0", NULL, NULL, NULL, &r), HQ_RK_RATE_LIMIT);
    CHECK_EQ(r.retry_at_ms, NOW + 1000);
}

HQ_TEST(row_403_429_primary_exhausted)
{
    struct hq_gh_result r;
    CHECK_EQ(run(403, NULL, "0", "1700000100", "{\"message\":\"API rate limit exceeded\"}", &r),
             HQ_RK_RATE_LIMIT);
    CHECK_EQ(r.outcome, HQ_GH_WAIT);
    CHECK_EQ(r.retry_at_ms, 1700000100000LL + HQ_RETRY_RESET_SLACK_MS);
    CHECK_EQ(r.ratelimit_remaining, 0);
    CHECK_EQ(run(429, NULL, "0", "1700000010", NULL, &r), HQ_RK_RATE_LIMIT);
    CHECK_EQ(r.retry_at_ms, 1700000010000LL + HQ_RETRY_RESET_SLACK_MS);
    /* a reset already past still waits a moment, never in the past */
    CHECK_EQ(run(403, NULL, "0", "1600000000", NULL, &r), HQ_RK_RATE_LIMIT);
    CHECK(r.retry_at_ms >= NOW);
    /* an absurd reset is clamped */
    CHECK_EQ(run(403, NULL, "0", "1800000000", NULL, &r), HQ_RK_RATE_LIMIT);
    CHECK_EQ(r.retry_at_ms, NOW + HQ_RETRY_WAIT_MAX_MS);
}

HQ_TEST(row_secondary_without_headers)
{
    struct hq_gh_result r;
    const char *body = "{\"message\":\"You have exceeded a secondary rate limit. Please wait.\"}";
    struct hq_retry_answer a = {
        .http_status = 403, .body = body, .body_len = strlen(body), .now_ms = NOW};
    int64_t expect[] = {60000, 120000, 240000, 480000, 960000, 1800000, 1800000};
    for (unsigned hits = 0; hits < 7; hits++) {
        a.secondary_hits = hits;
        CHECK_EQ(hq_retry_classify(&a, &r), HQ_RK_SECONDARY);
        CHECK_EQ(r.outcome, HQ_GH_WAIT);
        CHECK_EQ(r.retry_at_ms - NOW, expect[hits]);
    }
    /* a 429 is a rate limit whatever its body */
    CHECK_EQ(run(429, NULL, NULL, NULL, "", &r), HQ_RK_SECONDARY);
    CHECK_EQ(r.retry_at_ms, NOW + 60000);
    /* retry-after that does not parse falls back to the secondary wait */
    CHECK_EQ(run(429, "soon", NULL, NULL, NULL, &r), HQ_RK_SECONDARY);
    CHECK_EQ(r.retry_at_ms, NOW + 60000);
}

HQ_TEST(row_5xx_timeout_conn_malformed)
{
    struct hq_gh_result r;
    int codes[] = {500, 502, 503, 504, 408};
    for (size_t i = 0; i < 5; i++) {
        CHECK_EQ(run(codes[i], NULL, NULL, NULL, "oops", &r), HQ_RK_RETRY);
        CHECK_EQ(r.outcome, HQ_GH_RETRY);
        CHECK_EQ(r.retry_at_ms, 0);
    }
    int errs[] = {HQ_ETIMEOUT, HQ_EHTTP, HQ_ETOOBIG};
    for (size_t i = 0; i < 3; i++) {
        struct hq_retry_answer a = {.transport_error = errs[i], .now_ms = NOW};
        CHECK_EQ(hq_retry_classify(&a, &r), HQ_RK_RETRY);
        CHECK_EQ(r.outcome, HQ_GH_RETRY);
        CHECK_EQ(r.http_status, 0);
    }
    struct hq_retry_answer m = {.http_status = 201, .malformed = true, .now_ms = NOW};
    CHECK_EQ(hq_retry_classify(&m, &r), HQ_RK_RETRY);
    CHECK_EQ(r.outcome, HQ_GH_RETRY);
    CHECK(strstr(r.reason, "malformed") != NULL);
}

HQ_TEST(row_404_422_other_4xx_permanent)
{
    struct hq_gh_result r;
    CHECK_EQ(run(404, NULL, "4000", NULL, "{\"message\":\"Not Found\"}", &r), HQ_RK_PERMANENT);
    CHECK_EQ(r.outcome, HQ_GH_PERMANENT);
    CHECK(strstr(r.reason, "404") != NULL && strstr(r.reason, "Not Found") != NULL);
    CHECK_EQ(run(422, NULL, NULL, NULL, "{\"message\":\"Validation Failed\"}", &r),
             HQ_RK_PERMANENT);
    CHECK(strstr(r.reason, "Validation Failed") != NULL);
    CHECK_EQ(run(400, NULL, NULL, NULL, "plain text\nbody\x01", &r), HQ_RK_PERMANENT);
    CHECK(strstr(r.reason, "plain text body?") != NULL); /* printable ASCII only */
    /* a 403 that is no rate limit (permissions) is permanent */
    CHECK_EQ(run(403, NULL, "4000", NULL,
                 "{\"message\":\"Resource not accessible by integration\"}", &r),
             HQ_RK_PERMANENT);
    CHECK_EQ(r.outcome, HQ_GH_PERMANENT);
    CHECK_EQ(run(301, NULL, NULL, NULL, NULL, &r), HQ_RK_PERMANENT);
    /* a huge message is cut, never overflows */
    char big[4000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CHECK_EQ(run(422, NULL, NULL, NULL, big, &r), HQ_RK_PERMANENT);
    CHECK(strlen(r.reason) < sizeof(r.reason));
}

HQ_TEST(retry_after_parsing)
{
    int64_t d = -1;
    CHECK_EQ(hq_retry_parse_after("2", NOW, &d), 0);
    CHECK_EQ(d, 2000);
    CHECK_EQ(hq_retry_parse_after(" 120 ", NOW, &d), 0);
    CHECK_EQ(d, 120000);
    CHECK_EQ(hq_retry_parse_after("0", NOW, &d), 0);
    CHECK_EQ(d, 0);
    /* IMF-fixdate, RFC 850, asctime: all 2023-11-14T22:14:20Z, 60 s after NOW */
    CHECK_EQ(hq_retry_parse_after("Tue, 14 Nov 2023 22:14:20 GMT", NOW, &d), 0);
    CHECK_EQ(d, 60000);
    CHECK_EQ(hq_retry_parse_after("Tuesday, 14-Nov-23 22:14:20 GMT", NOW, &d), 0);
    CHECK_EQ(d, 60000);
    CHECK_EQ(hq_retry_parse_after("Tue Nov 14 22:14:20 2023", NOW, &d), 0);
    CHECK_EQ(d, 60000);
    CHECK_EQ(hq_retry_parse_after("Sun Nov  6 08:49:37 1994", NOW, &d), 0);
    CHECK_EQ(d, 0); /* in the past */
    int64_t at = 0;
    CHECK_EQ(hq_retry_parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT", &at), 0);
    CHECK_EQ(at, 784111777000LL);

    const char *garbage[] = {"",
                             "soon",
                             "-5",
                             "1.5",
                             "12abc",
                             "99999999999999999999",
                             "Tue, 14 Nov 2023 22:14:20",
                             "Tue, 14 Nov 2023 22:14:20 UTC",
                             "Tue, 14 Foo 2023 22:14:20 GMT",
                             "Tue, 14 Nov 2023 25:14:20 GMT",
                             "Tue, 32 Nov 2023 22:14:20 GMT",
                             "Tue, 14 Nov 2023 22:14:20 GMT trailing",
                             "Tue Nov 14 22:14:20",
                             "T, 14 Nov 2023 22:14:20 GMT"};
    for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
        if (hq_retry_parse_after(garbage[i], NOW, &d) != HQ_EPARSE) {
            fprintf(stderr, "  accepted garbage '%s'\n", garbage[i]);
            hqtest_failures++;
        }
    }
    CHECK_EQ(hq_retry_parse_after(NULL, NOW, &d), HQ_EPARSE);
}

static uint64_t fixed_value;
static uint64_t fixed_rng(void *arg)
{
    (void)arg;
    return fixed_value;
}

HQ_TEST(backoff_bounds_with_jitter)
{
    const int64_t base = 1000, max = 600000;
    for (unsigned attempt = 0; attempt < 70; attempt++) {
        int64_t ceil = attempt < 30 ? base << attempt : max;
        if (ceil > max)
            ceil = max;
        int64_t lo = INT64_MAX, hi = -1;
        double sum = 0;
        const int draws = 20000;
        for (int i = 0; i < draws; i++) {
            int64_t d = hq_backoff_ms(attempt, base, max, NULL);
            CHECK(d >= 0 && d <= ceil);
            lo = d < lo ? d : lo;
            hi = d > hi ? d : hi;
            sum += (double)d;
        }
        /* full jitter: spread over the whole range, mean about half of it */
        CHECK(lo <= ceil / 50);
        CHECK(hi >= ceil - ceil / 50);
        double mean = sum / draws;
        CHECK(mean > ceil * 0.45 && mean < ceil * 0.55);
    }
    /* the injected source decides: extremes reach both ends */
    struct hq_rng rng = {fixed_rng, NULL};
    fixed_value = 0;
    CHECK_EQ(hq_backoff_ms(3, 1000, 600000, &rng), 0);
    fixed_value = 8000;
    CHECK_EQ(hq_backoff_ms(3, 1000, 600000, &rng), 8000); /* ceiling 8000 is inclusive */
    fixed_value = UINT64_MAX;
    CHECK(hq_backoff_ms(100, 1000, 600000, &rng) <= 600000);
    CHECK_EQ(hq_backoff_ms(5, 0, 600000, &rng), 0);
    CHECK_EQ(hq_backoff_ms(5, INT64_MAX / 2, INT64_MAX, &rng) >= 0, 1);
}

int main(int argc, char **argv)
{
    return hqtest_main(argc, argv);
}
