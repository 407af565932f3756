/*
 * route: which commit an event's status goes to (schema/design.md §4, routing table).
 *
 *   push           any action, unless "deleted" is true   → "after"
 *   pull_request   opened, reopened, synchronize,
 *                  ready_for_review                       → pull_request.head.sha
 *   check_suite    requested, rerequested                 → check_suite.head_sha
 *   anything else                                         → no status
 *
 * With check runs (HOOKQ_REPORT checks or both, hq_route_event_opts):
 *
 *   push, pull_request              as above
 *   check_suite    rerequested                            → check_suite.head_sha
 *                  requested: ignored (the push made its run already; a
 *                  fork's pull request has no suite in the base repository)
 *   check_run      rerequested, of a run of this App
 *                  (check_run.app.id == app_id)           → check_run.head_sha
 *                  other Apps' runs and other actions (our own runs'
 *                  created/completed come back as webhooks): ignored, quiet
 *   anything else                                         → no run
 *
 * Pure functions of the payload; thread-safe.
 */
#ifndef HQ_ROUTE_H
#define HQ_ROUTE_H

#include "hq_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum hq_route_kind {
    HQ_ROUTE_STATUS,  /* post statuses to sha */
    HQ_ROUTE_NONE,    /* the event needs no status: it is done */
    HQ_ROUTE_INVALID, /* the payload lacks what its event needs: permanent */
};

struct hq_route {
    enum hq_route_kind kind;
    char sha[41];     /* 40 lowercase hex digits + NUL, for HQ_ROUTE_STATUS */
    char reason[256]; /* why, for HQ_ROUTE_NONE and HQ_ROUTE_INVALID */
    bool quiet;       /* HQ_ROUTE_NONE that is routine: log it at debug */
};

struct hq_route_opts {
    bool checks;     /* check runs drive the events (HOOKQ_REPORT checks, both) */
    uint64_t app_id; /* HOOKQ_APP_ID: whose check_run rerequests count */
};

/* Routes event (X-GitHub-Event) with its raw JSON payload. Returns 0 with
 * *out filled in, or -ENOMEM. Malformed JSON is HQ_ROUTE_INVALID. */
HQ_WUR int hq_route_event(const char *event, const char *payload, size_t len, struct hq_route *out);

/* The same with check runs' routing when o->checks (o NULL: statuses). */
HQ_WUR int hq_route_event_opts(const struct hq_route_opts *o, const char *event,
                               const char *payload, size_t len, struct hq_route *out);

#endif
