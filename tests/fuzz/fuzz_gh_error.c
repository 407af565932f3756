/* fuzz_gh_error: an error body ({"message","documentation_url"}, or no JSON
 * at all) gives a bounded, printable reason, whatever the status. */
#include "retry.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_text(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    if (n == cap)
        abort(); /* not NUL-terminated within its buffer */
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t caps[] = {1, 2, 17, 300};
    char msg[300];
    for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
        memset(msg, 'x', sizeof(msg));
        hq_retry_body_message((const char *)data, size, msg, caps[i]);
        check_text(msg, caps[i]);
    }
    static const int statuses[] = {401, 403, 404, 422, 429, 500};
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        struct hq_retry_answer a = {
            .http_status = statuses[i],
            .body = (const char *)data,
            .body_len = size,
            .now_ms = 1796220000000LL,
        };
        struct hq_gh_result res;
        enum hq_retry_kind kind = hq_retry_classify(&a, &res);
        if (res.outcome == HQ_GH_OK || kind == HQ_RK_OK || res.http_status != statuses[i])
            abort();
        if (strnlen(res.reason, sizeof(res.reason)) == sizeof(res.reason))
            abort();
    }
    return 0;
}
