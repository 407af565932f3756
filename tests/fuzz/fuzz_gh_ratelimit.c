/* fuzz_gh_ratelimit: a block of answer headers (retry-after,
 * x-ratelimit-remaining, x-ratelimit-reset among others), line by line as
 * libcurl hands them over, is kept within bounds, and what the retry policy
 * makes of it is a wait of at most HQ_RETRY_WAIT_MAX_MS from now. */
#include "github_http.h"
#include "retry.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NOW_MS 1796220000000LL

static void check_value(const char *v)
{
    size_t n = strnlen(v, HQ_GITHUB_HTTP_HEADER_MAX);
    if (n == HQ_GITHUB_HTTP_HEADER_MAX)
        abort();
    /* Kept without leading blanks. The end is trimmed too, but a value with
     * a NUL inside reads as a C string cut there, which may end in a blank:
     * harmless, since no parser accepts it, so only the start is checked. */
    if (n > 0 && (v[0] == ' ' || v[0] == '\t'))
        abort();
}

static const char *or_null(const char *v)
{
    return v[0] != '\0' ? v : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hq_github_http_response r;
    memset(&r, 0, sizeof(r));
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl != NULL ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        hq_github_http_header_line(&r, p, n);
        p += n;
    }
    check_value(r.retry_after);
    check_value(r.rl_remaining);
    check_value(r.rl_reset);

    int64_t delay = 0;
    if (r.retry_after[0] != '\0' && hq_retry_parse_after(r.retry_after, NOW_MS, &delay) == 0 &&
        delay < 0)
        abort();
    static const int statuses[] = {200, 403, 429};
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        struct hq_retry_answer a = {
            .http_status = statuses[i],
            .retry_after = or_null(r.retry_after),
            .ratelimit_remaining = or_null(r.rl_remaining),
            .ratelimit_reset = or_null(r.rl_reset),
            .secondary_hits = (unsigned)i * 7,
            .now_ms = NOW_MS,
        };
        struct hq_gh_result res;
        enum hq_retry_kind kind = hq_retry_classify(&a, &res);
        if (res.ratelimit_remaining < -1)
            abort();
        if (res.outcome == HQ_GH_WAIT &&
            (res.retry_at_ms < NOW_MS || res.retry_at_ms > NOW_MS + HQ_RETRY_WAIT_MAX_MS))
            abort();
        if (statuses[i] == 200 && kind != HQ_RK_OK)
            abort();
        if (statuses[i] == 429 && res.outcome != HQ_GH_WAIT)
            abort();
    }
    hq_github_http_response_reset(&r);
    return 0;
}
