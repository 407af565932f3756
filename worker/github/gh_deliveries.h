/*
 * gh_deliveries: what GitHub's App delivery log says (schema/design.md §9),
 * for catch-up: one page of GET /app/hook/deliveries, one delivery of
 * GET /app/hook/deliveries/{id}, and the Link header that pages them. A body
 * that is not what the route returns is HQ_EPARSE (a malformed 2xx for the
 * retry policy, retry.h); an item of a page that is unusable is skipped and
 * counted, so that one odd entry never stops a run.
 *
 * Bodies come from the network: they need not be NUL-terminated, and the
 * caller bounds their length (HQ_GH_BODY_MAX). Pure functions; thread-safe.
 * The fuzz target tests/fuzz/fuzz_gh_deliveries.c drives all three.
 */
#ifndef HQ_GH_DELIVERIES_H
#define HQ_GH_DELIVERIES_H

#include "hq_error.h"
#include "queue.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One entry of the delivery list. Strings are NUL-terminated copies. */
struct hq_gh_delivery {
    uint64_t id;                        /* GitHub's delivery id, > 0 */
    char guid[HQ_MAX_DELIVERY_LEN + 1]; /* X-GitHub-Delivery, shared by redeliveries */
    int64_t delivered_at_ms;            /* RFC 3339 delivered_at */
    bool redelivery;                    /* false when absent */
    int status_code;                    /* receiver's answer; 0: GitHub could not connect */
    char event[HQ_MAX_EVENT_LEN + 1];   /* X-GitHub-Event */
    char action[HQ_MAX_ACTION_LEN + 1]; /* "" when null or absent */
    uint64_t installation_id;           /* 0 when null or absent */
    uint64_t repository_id;             /* 0 when null or absent */
};

/* Whether a delivery's status code counts as delivered: 2xx and 3xx. */
bool hq_gh_delivery_succeeded(const struct hq_gh_delivery *d);

/*
 * Parses one page of the list (a JSON array of delivery objects) and appends
 * each usable item to *items (grown with realloc; the caller frees it), *n
 * counting them, never beyond max items in all (the rest of the page is
 * then counted in *skipped too). An item is usable with a positive integer
 * id, a guid and event that pass the receiver's header checks (ingest.h),
 * and a parseable delivered_at; status_code must be an integer 0..999;
 * action, installation_id and repository_id may be null. Unusable items are
 * counted in *skipped. Returns 0, HQ_EPARSE when the body is not a JSON
 * array, or -ENOMEM (items appended so far stay appended).
 */
HQ_WUR int hq_gh_deliveries_page(const char *body, size_t len, struct hq_gh_delivery **items,
                                 size_t *n, size_t max, size_t *skipped);

/* One delivery with its request. */
struct hq_gh_delivery_detail {
    uint64_t hook_id; /* request.headers X-GitHub-Hook-ID (any case); 0 when absent */
    char *payload;    /* request.payload as compact JSON, malloc'd, NUL-terminated */
    size_t payload_len;
};

/*
 * Parses GET /app/hook/deliveries/{id}: an object whose request has
 * headers (an object; may be absent) and payload (a JSON object). Returns 0
 * with *d filled (the caller frees it with hq_gh_delivery_detail_free),
 * HQ_EPARSE with a short static reason in *why when the body is not an
 * object, has no request.payload object, or carries an X-GitHub-Hook-ID
 * that is not a decimal below 2^63; -ENOMEM. On failure *d is empty.
 */
HQ_WUR int hq_gh_delivery_detail_parse(const char *body, size_t len,
                                       struct hq_gh_delivery_detail *d, const char **why);
void hq_gh_delivery_detail_free(struct hq_gh_delivery_detail *d);

/*
 * Finds the rel="next" URL of a Link header value
 * (`<https://…?cursor=…>; rel="next", <…>; rel="prev"`), copied verbatim
 * into out (cap bytes with its NUL). Returns 0, HQ_ENOTFOUND when there is
 * no next link (the last page), HQ_ETOOBIG when it does not fit, HQ_EPARSE
 * when the value is malformed. link need not be NUL-terminated.
 */
HQ_WUR int hq_gh_link_next(const char *link, size_t len, char *out, size_t cap);

#endif
