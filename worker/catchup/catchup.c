/*
 * catchup: one catch-up run; see catchup.h for the contract.
 *
 * DESIGN. The run reads the whole window of the delivery log first (newest
 * first, page by page along Link rel="next", until a page reaches back past
 * since_ms or there is no next page), then groups the entries by GUID: a
 * GUID is missed when it has an entry in the window and none of its entries
 * succeeded. The missed GUIDs of accepted events are handled oldest first
 * (by their first entry), one at a time: a lookup in the dedup set when the
 * App's hook id is known, else one fetch of the delivery (GET, harmless in a
 * dry run too) that tells it; then the enqueue, the redelivery request or,
 * in a dry run, nothing. Each enqueue is its own durable commit, in order,
 * so a run cut short leaves a prefix of the missed deliveries queued.
 */
#include "catchup.h"

#include "catchup_gh.h"
#include "clock.h"
#include "dynbuf.h"
#include "gh_answer.h"
#include "ingest.h"
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PER_PAGE    100
#define DEFAULT_MAX 100000
#define NOTE_MAX    128

/* A message cut to its buffer is still a message: no truncation check. */
__attribute__((format(printf, 3, 4))) static void say(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
    if (n < 0 && cap > 0)
        dst[0] = '\0';
}

static const char *const result_names[] = {
    "enqueued", "duplicate", "would_enqueue", "redelivery_requested", "ignored", "failed"};

const char *hq_catchup_result_name(enum hq_catchup_result r)
{
    return (unsigned)r <= HQ_CU_FAILED ? result_names[r] : "unknown";
}

/* A missed GUID: its first entry, how many entries it has. */
struct missed {
    const struct hq_gh_delivery *first;
    int attempts;
};

struct run {
    const struct hq_catchup_opts *o;
    struct hq_catchup_summary *s;
    int64_t waited_ms;
    struct hq_gh_delivery *items;
    size_t n;
};

static bool valid_page(const struct hq_github_http_response *r)
{
    const char *b = hq_dynbuf_str(&r->body);
    size_t len = hq_dynbuf_len(&r->body);
    struct hq_gh_delivery *tmp = NULL;
    size_t n = 0, skipped = 0;
    int rc = hq_gh_deliveries_page(b, len, &tmp, &n, 0, &skipped);
    free(tmp);
    return rc == 0;
}

static int list_window(struct run *run)
{
    const struct hq_catchup_opts *o = run->o;
    struct hq_github_http_response r = {0};
    char url[HQ_GH_URL_MAX];
    size_t max = o->max_deliveries > 0 ? o->max_deliveries : DEFAULT_MAX;
    int rc;
    rc = hq_snprintf(url, sizeof(url), "%s/app/hook/deliveries?per_page=%d", hq_github_api(o->gh),
                     PER_PAGE);
    if (rc != 0)
        return rc;
    for (;;) {
        rc = hq_catchup_request(o, &run->waited_ms, "hook_deliveries", url, NULL, valid_page, &r,
                                run->s->error, sizeof(run->s->error));
        if (rc != 0)
            goto out;
        size_t before = run->n;
        rc = hq_gh_deliveries_page(hq_dynbuf_str(&r.body), hq_dynbuf_len(&r.body), &run->items,
                                   &run->n, max, &run->s->skipped);
        if (rc != 0)
            goto out;
        run->s->pages++;
        bool past = false;
        for (size_t i = before; i < run->n; i++)
            past = past || run->items[i].delivered_at_ms < o->since_ms;
        if (past || run->n >= max)
            break;
        rc = hq_gh_link_next(r.link, strlen(r.link), url, sizeof(url));
        if (rc == HQ_ENOTFOUND) {
            rc = 0;
            break;
        }
        if (rc != 0) {
            say(run->s->error, sizeof(run->s->error),
                "hook_deliveries: the Link header has no usable next URL: %s", hq_strerror(rc));
            rc = HQ_EHTTP;
            goto out;
        }
    }
    if (run->n >= max)
        hq_warn("catch_up", NULL,
                "the delivery log holds more than %zu entries in the window; the oldest "
                "were not read",
                max);
out:
    run->s->listed = run->n;
    hq_github_http_response_reset(&r);
    return rc;
}

static int by_guid_then_time(const void *a, const void *b)
{
    const struct hq_gh_delivery *x = a, *y = b;
    int c = strcmp(x->guid, y->guid);
    if (c != 0)
        return c;
    if (x->delivered_at_ms != y->delivered_at_ms)
        return x->delivered_at_ms < y->delivered_at_ms ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int oldest_first(const void *a, const void *b)
{
    const struct missed *x = a, *y = b;
    if (x->first->delivered_at_ms != y->first->delivered_at_ms)
        return x->first->delivered_at_ms < y->first->delivered_at_ms ? -1 : 1;
    return x->first->id < y->first->id ? -1 : x->first->id > y->first->id;
}

/* The missed GUIDs of accepted events, oldest first, in *out (caller frees). */
static int find_missed(struct run *run, struct missed **out, size_t *nout)
{
    const struct hq_catchup_opts *o = run->o;
    *out = NULL;
    *nout = 0;
    if (run->n == 0)
        return 0;
    qsort(run->items, run->n, sizeof(run->items[0]), by_guid_then_time);
    struct missed *m = calloc(run->n, sizeof(*m));
    if (m == NULL)
        return -ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < run->n;) {
        size_t j = i;
        bool ok = false, in_window = false;
        while (j < run->n && strcmp(run->items[j].guid, run->items[i].guid) == 0) {
            ok = ok || hq_gh_delivery_succeeded(&run->items[j]);
            in_window = in_window || run->items[j].delivered_at_ms >= o->since_ms;
            j++;
        }
        const struct hq_gh_delivery *first = &run->items[i];
        if (!ok && in_window) {
            struct hq_log_ctx lc = HQ_LOG_CTX_INIT;
            lc.delivery = first->guid;
            lc.event = first->event;
            if (!ingest_events_match(o->events, o->all_events, first->event)) {
                run->s->ignored_events++;
                hq_debug("catch_up", &lc, "missed, but not in HOOKQ_EVENTS: not fetched");
            } else {
                m[k].first = first;
                m[k].attempts = (int)(j - i);
                k++;
            }
        }
        i = j;
    }
    qsort(m, k, sizeof(*m), oldest_first);
    run->s->missed = k;
    *out = m;
    *nout = k;
    return 0;
}

/* A delivery that is no JSON object is a malformed answer (tried again);
 * one without a payload is read, and refused by fetch. */
static bool valid_detail(const struct hq_github_http_response *r)
{
    return hq_gh_answer_is_object(hq_dynbuf_str(&r->body), hq_dynbuf_len(&r->body));
}

/* Fetches one delivery: 0 with *d, or HQ_EHTTP/HQ_EPARSE with why, or a run-ending code. */
static int fetch(struct run *run, const struct hq_gh_delivery *first,
                 struct hq_gh_delivery_detail *d, char *why, size_t whycap)
{
    struct hq_github_http_response r = {0};
    char url[HQ_GH_URL_MAX];
    int rc = hq_snprintf(url, sizeof(url), "%s/app/hook/deliveries/%" PRIu64,
                         hq_github_api(run->o->gh), first->id);
    if (rc != 0)
        return rc;
    rc = hq_catchup_request(run->o, &run->waited_ms, "hook_delivery", url, NULL, valid_detail, &r,
                            why, whycap);
    if (rc == 0) {
        const char *reason = NULL;
        rc =
            hq_gh_delivery_detail_parse(hq_dynbuf_str(&r.body), hq_dynbuf_len(&r.body), d, &reason);
        if (rc == HQ_EPARSE)
            say(why, whycap, "%s", reason);
    }
    hq_github_http_response_reset(&r);
    return rc;
}

static int redeliver(struct run *run, const struct hq_gh_delivery *first, char *why, size_t whycap)
{
    struct hq_github_http_response r = {0};
    char url[HQ_GH_URL_MAX];
    int rc = hq_snprintf(url, sizeof(url), "%s/app/hook/deliveries/%" PRIu64 "/attempts",
                         hq_github_api(run->o->gh), first->id);
    if (rc != 0)
        return rc;
    rc = hq_catchup_request(run->o, &run->waited_ms, "hook_redeliver", url, "", NULL, &r, why,
                            whycap);
    hq_github_http_response_reset(&r);
    return rc;
}

/* Enqueues the fetched payload under (hook id, GUID). */
static int enqueue(struct run *run, const struct hq_gh_delivery *first,
                   const struct hq_gh_delivery_detail *d, struct hq_catchup_report *rep,
                   struct ingest_route *route, char *why, size_t whycap)
{
    const char *rwhy = NULL;
    if (d->payload_len > run->o->max_body) {
        say(why, whycap, "payload of %zu bytes is over HOOKQ_MAX_BODY (%zu)", d->payload_len,
            run->o->max_body);
        rep->result = HQ_CU_FAILED;
        return 0;
    }
    int rc = ingest_route(d->payload, d->payload_len, route, &rwhy);
    if (rc == -ENOMEM)
        return rc;
    if (rc != 0) {
        say(why, whycap, "payload refused as the receiver would: %s", rwhy ? rwhy : "bad");
        rep->result = HQ_CU_FAILED;
        return 0;
    }
    if (!route->has_repository) {
        say(why, whycap, "the payload names no repository: ignored, as the receiver does");
        rep->result = HQ_CU_IGNORED;
        return 0;
    }
    rep->repo = route->repo_name;
    if (run->o->dry_run) {
        rep->result = HQ_CU_WOULD_ENQUEUE;
        return 0;
    }
    char note[NOTE_MAX];
    if ((rc = hq_snprintf(note, sizeof(note),
                          "caught up from GitHub's delivery log (delivery %" PRIu64 ")",
                          first->id)) != 0)
        return rc;
    struct hq_enqueue it = {
        .hook_id = run->s->hook_id,
        .delivery = first->guid,
        .event = first->event,
        .action = route->action,
        .repo_id = route->repo_id,
        .repo_name = route->repo_name,
        .installation_id = route->installation_id,
        .payload = d->payload,
        .payload_len = d->payload_len,
        .received_at_ms = hq_now_ms(),
        .note = note,
    };
    rc = hq_queue_enqueue(run->o->q, &it, 1);
    if (rc != 0)
        return rc; /* storage: the run stops */
    rep->event_id = it.id;
    if (it.result == 0) {
        rep->result = HQ_CU_ENQUEUED;
    } else if (it.result == HQ_EDUPLICATE) {
        rep->result = HQ_CU_DUPLICATE;
    } else {
        say(why, whycap, "the queue refused it: %s", hq_strerror(it.result));
        rep->result = HQ_CU_FAILED;
    }
    return 0;
}

/* Whether the queue knows (hook id, GUID): 0 yes (*id), HQ_ENOTFOUND no. */
static int known(struct run *run, const char *guid, uint64_t *id)
{
    return hq_queue_dedup_lookup(run->o->q, run->s->hook_id, guid, id);
}

static void log_report(const struct hq_catchup_report *rep)
{
    struct hq_log_ctx lc = HQ_LOG_CTX_INIT;
    lc.delivery = rep->d->guid;
    lc.event = rep->d->event;
    lc.repo = rep->repo;
    switch (rep->result) {
    case HQ_CU_ENQUEUED:
        hq_info("catch_up", &lc,
                "caught up: missed delivery %" PRIu64 " enqueued as event %" PRIu64, rep->d->id,
                rep->event_id);
        break;
    case HQ_CU_DUPLICATE:
        hq_info("catch_up", &lc,
                "missed delivery %" PRIu64 " is already queued (event %" PRIu64 ")", rep->d->id,
                rep->event_id);
        break;
    case HQ_CU_WOULD_ENQUEUE:
        hq_info("catch_up", &lc, "dry run: would enqueue missed delivery %" PRIu64, rep->d->id);
        break;
    case HQ_CU_REDELIVERY_REQUESTED:
        hq_info("catch_up", &lc, "caught up: redelivery of %" PRIu64 " requested", rep->d->id);
        break;
    case HQ_CU_IGNORED:
        hq_info("catch_up", &lc, "missed delivery %" PRIu64 " not enqueued: %s", rep->d->id,
                rep->why);
        break;
    case HQ_CU_FAILED:
        hq_warn("catch_up", &lc, "missed delivery %" PRIu64 " not recovered: %s", rep->d->id,
                rep->why);
        break;
    }
}

/* Handles one missed GUID; 0 (its result in the report) or a run-ending code. */
static int handle(struct run *run, const struct missed *m)
{
    const struct hq_catchup_opts *o = run->o;
    struct hq_catchup_report rep = {.d = m->first, .attempts = m->attempts};
    struct hq_gh_delivery_detail d = {0};
    struct ingest_route route;
    char why[HQ_GH_REASON_MAX] = "";
    int rc = 0;

    if (run->s->hook_id_known) {
        rc = known(run, m->first->guid, &rep.event_id);
        if (rc == 0) {
            rep.result = HQ_CU_DUPLICATE;
            goto report;
        }
        if (rc != HQ_ENOTFOUND)
            goto out;
        rc = 0;
        if (o->dry_run && o->redeliver) {
            rep.result = HQ_CU_WOULD_ENQUEUE;
            goto report;
        }
    }
    if (!o->redeliver || !run->s->hook_id_known) {
        rc = fetch(run, m->first, &d, why, sizeof(why));
        if (rc == HQ_EHTTP || rc == HQ_EPARSE) {
            rc = 0;
            rep.result = HQ_CU_FAILED;
            goto report;
        }
        if (rc != 0)
            goto out;
        if (!run->s->hook_id_known) {
            run->s->hook_id = d.hook_id;
            run->s->hook_id_known = true;
            rc = known(run, m->first->guid, &rep.event_id);
            if (rc == 0) {
                rep.result = HQ_CU_DUPLICATE;
                goto report;
            }
            if (rc != HQ_ENOTFOUND)
                goto out;
            rc = 0;
        }
    }
    if (o->redeliver) {
        if (o->dry_run) {
            rep.result = HQ_CU_WOULD_ENQUEUE;
            goto report;
        }
        rc = redeliver(run, m->first, why, sizeof(why));
        if (rc == HQ_EHTTP) {
            rc = 0;
            rep.result = HQ_CU_FAILED;
            goto report;
        }
        if (rc != 0)
            goto out;
        rep.result = HQ_CU_REDELIVERY_REQUESTED;
        goto report;
    }
    rc = enqueue(run, m->first, &d, &rep, &route, why, sizeof(why));
    if (rc != 0)
        goto out;
report:
    rep.why = why[0] != '\0' ? why : NULL;
    run->s->counts[rep.result]++;
    log_report(&rep);
    if (o->report != NULL)
        o->report(o->arg, &rep);
out:
    hq_gh_delivery_detail_free(&d);
    return rc;
}

int hq_catchup_run(const struct hq_catchup_opts *o, struct hq_catchup_summary *s)
{
    struct run run = {.o = o, .s = s};
    struct missed *m = NULL;
    size_t nm = 0;
    int rc;

    if (s == NULL)
        return -EINVAL;
    memset(s, 0, sizeof(*s));
    if (o == NULL || o->gh == NULL || o->q == NULL || !hq_github_is_app(o->gh))
        return -EINVAL;
    s->hook_id_known = o->hook_id_known;
    s->hook_id = o->hook_id;
    rc = list_window(&run);
    if (rc != 0)
        goto out;
    if (s->skipped > 0)
        hq_warn("catch_up", NULL, "%zu entries of the delivery log were unusable and skipped",
                s->skipped);
    rc = find_missed(&run, &m, &nm);
    if (rc != 0)
        goto out;
    for (size_t i = 0; i < nm; i++) {
        rc = handle(&run, &m[i]);
        if (rc != 0) {
            if (s->error[0] == '\0')
                say(s->error, sizeof(s->error), "stopped: %s", hq_strerror(rc));
            goto out;
        }
    }
out:
    free(m);
    free(run.items);
    return rc;
}
