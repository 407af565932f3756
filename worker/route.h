/*
 * route: which commit an event's status goes to (schema/design.md §4, routing table).
 *
 *   push           any action, unless "deleted" is true   → "after"
 *   pull_request   opened, reopened, synchronize,
 *                  ready_for_review                       → pull_request.head.sha
 *   check_suite    requested, rerequested                 → check_suite.head_sha
 *   anything else                                         → no status
 *
 * Pure functions of the payload; thread-safe.
 */
#ifndef HQ_ROUTE_H
#define HQ_ROUTE_H

#include "hq_error.h"

#include <stddef.h>

enum hq_route_kind {
    HQ_ROUTE_STATUS,  /* post statuses to sha */
    HQ_ROUTE_NONE,    /* the event needs no status: it is done */
    HQ_ROUTE_INVALID, /* the payload lacks what its event needs: permanent */
};

struct hq_route {
    enum hq_route_kind kind;
    char sha[41];     /* 40 lowercase hex digits + NUL, for HQ_ROUTE_STATUS */
    char reason[256]; /* why, for HQ_ROUTE_NONE and HQ_ROUTE_INVALID */
};

/* Routes event (X-GitHub-Event) with its raw JSON payload. Returns 0 with
 * *out filled in, or -ENOMEM. Malformed JSON is HQ_ROUTE_INVALID. */
HQ_WUR int hq_route_event(const char *event, const char *payload, size_t len, struct hq_route *out);

#endif
