/* fuzz_gh_deliveries: GitHub's delivery log answers (worker/github/gh_deliveries.h)
 * never read out of bounds, and what they accept is what catch-up may store and
 * send. The first byte picks the parser: 'p' a list page, 'd' one delivery,
 * anything else a Link header; the rest is the answer. */
#include "gh_deliveries.h"
#include "ingest.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    if (data[0] == 'p') {
        struct hq_gh_delivery *items = NULL;
        size_t n = 0, skipped = 0;
        int rc = hq_gh_deliveries_page(body, len, &items, &n, 50, &skipped);
        if (rc == 0 && n > 50)
            abort();
        for (size_t i = 0; i < n; i++) {
            const struct hq_gh_delivery *d = &items[i];
            if (d->id == 0 || ingest_delivery_id(d->guid) != 0 ||
                ingest_event_name(d->event) != 0 || d->status_code < 0 || d->status_code > 999 ||
                strlen(d->action) > HQ_MAX_ACTION_LEN)
                abort();
        }
        free(items);
    } else if (data[0] == 'd') {
        struct hq_gh_delivery_detail d;
        const char *why = NULL;
        int rc = hq_gh_delivery_detail_parse(body, len, &d, &why);
        if (rc == 0 && (d.payload == NULL || d.payload_len != strlen(d.payload) ||
                        d.payload[0] != '{' || d.hook_id >= (1ull << 63)))
            abort();
        if (rc != 0 && (d.payload != NULL || why == NULL))
            abort();
        hq_gh_delivery_detail_free(&d);
    } else {
        char out[64];
        int rc = hq_gh_link_next(body, len, out, sizeof(out));
        if (rc == 0 && (out[0] == '\0' || strlen(out) >= sizeof(out)))
            abort();
    }
    return 0;
}
