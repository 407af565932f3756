/*
 * fuzz_routing: routing-key extraction from a payload (common/ingest.h,
 * ingest_route), plus the header checks the receiver runs first. The input
 * is the payload, in an exact-size buffer without a NUL. A routed payload
 * always has a nonzero id within bounds and a non-empty, bounded name, and
 * the one-pass scanner agrees with the cJSON reference (tests/unit/route_ref.h):
 * what it accepts cJSON accepts with the same result, what cJSON refuses as
 * JSON it refuses.
 */
#include "ingest.h"
#include "route_ref.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *json = malloc(size ? size : 1);
    if (json == NULL)
        return 0;
    memcpy(json, data, size);
    struct ingest_route r;
    const char *why = NULL;
    int rc = ingest_route(json, size, &r, &why);
    if (rc == 0 && r.has_repository) {
        size_t n = strnlen(r.repo_name, sizeof(r.repo_name));
        if (r.repo_id == 0 || r.repo_id > INGEST_MAX_ID || n == 0 || n > HQ_MAX_REPO_NAME_LEN ||
            strnlen(r.action, sizeof(r.action)) > HQ_MAX_ACTION_LEN ||
            r.installation_id > INGEST_MAX_ID)
            abort();
    } else if (rc != 0 && (why == NULL || rc != HQ_EPARSE)) {
        abort();
    }
    int ref_rc;
    if (!route_agrees(json, size, rc, &r, &ref_rc))
        abort();

    /* The same bytes as header values (NUL-terminated, cut at 200). */
    char hdr[201];
    size_t hl = size < 200 ? size : 200;
    memcpy(hdr, data, hl);
    hdr[hl] = '\0';
    enum ingest_ctype ct;
    uint64_t v;
    int sink = 0;
    sink |= ingest_content_type(hdr, &ct);
    sink |= ingest_event_name(hdr);
    sink |= ingest_delivery_id(hdr);
    sink |= ingest_hook_id(hdr, &v);
    sink |= ingest_content_length(hdr, &v);
    /* Each check answers 0 or HQ_EPARSE, nothing else. */
    if (sink != 0 && sink != HQ_EPARSE)
        abort();
    free(json);
    return 0;
}
