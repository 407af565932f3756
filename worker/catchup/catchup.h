/*
 * catchup: recovering the deliveries GitHub could not deliver
 * (schema/design.md §9). One run pages the App's delivery log back to a
 * point in time, finds the GUIDs none of whose deliveries succeeded, and for
 * each one of an event the receiver would accept (ingest.h, HOOKQ_EVENTS;
 * filtered on the list's event before any payload is fetched) that the
 * queue does not know yet, fetches it and enqueues its payload under its
 * own (hook id, GUID), oldest first, so the dedup window makes it
 * exactly-once; or, with redeliver, asks GitHub to deliver it again.
 * hookqctl catch-up runs one by hand; the worker runs them periodically
 * (catchup_sched.h).
 *
 * GitHub calls follow the retry policy (design §4.6): a rate limit waits
 * (up to max_wait_ms in all, else the run fails), a 5xx, timeout or
 * malformed answer backs off and tries again up to max_tries times, a 401
 * renews the JWT once (github.h). The list must be read whole: a page that
 * cannot be read fails the run before anything is enqueued, since
 * enqueueing the newer half alone would break each repository's order. A
 * single delivery that cannot be fetched, has no payload, is over
 * max_body or names no repository gets one log line and a "failed" or
 * "ignored" report; the run goes on.
 *
 * Threads: one run at a time per opts; the client and queue are shared.
 */
#ifndef HQ_CATCHUP_H
#define HQ_CATCHUP_H

#include "gh_deliveries.h"
#include "github.h"
#include "queue.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What became of one missed delivery (the JSON "result" of hookqctl). */
enum hq_catchup_result {
    HQ_CU_ENQUEUED = 0,
    HQ_CU_DUPLICATE,            /* the queue knows the pair: the receiver or a run got it */
    HQ_CU_WOULD_ENQUEUE,        /* dry run */
    HQ_CU_REDELIVERY_REQUESTED, /* redeliver: GitHub answered 2xx */
    HQ_CU_IGNORED,              /* the payload names no repository, as the receiver ignores it */
    HQ_CU_FAILED,               /* this delivery could not be fetched, read or stored */
};
const char *hq_catchup_result_name(enum hq_catchup_result r);

struct hq_catchup_report {
    const struct hq_gh_delivery *d; /* the GUID's first delivery in the log */
    enum hq_catchup_result result;
    int attempts;      /* deliveries of this GUID in the log, all failed */
    uint64_t event_id; /* enqueued or duplicate: the queue's event id */
    const char *repo;  /* full name when the payload was read, else NULL */
    const char *why;   /* failed, ignored: one line; else NULL */
};

struct hq_catchup_opts {
    hq_github *gh; /* App mode */
    hq_queue *q;
    char *const *events; /* HOOKQ_EVENTS (ingest_events_parse) */
    bool all_events;
    size_t max_body;    /* HOOKQ_MAX_BODY: larger payloads are not enqueued */
    int64_t since_ms;   /* deliveries delivered at or after this time */
    bool dry_run;       /* change nothing: no enqueue, no redelivery */
    bool redeliver;     /* ask GitHub to redeliver instead of enqueueing */
    bool hook_id_known; /* hook_id is the App's webhook id (learned by an earlier run) */
    uint64_t hook_id;
    size_t max_deliveries;   /* list entries read at most (0: 100000) */
    int max_tries;           /* tries of one request on 5xx and the like (0: 4) */
    int64_t backoff_ms;      /* first backoff, doubling (0: 1 s) */
    int64_t max_wait_ms;     /* rate-limit waits allowed per run (0: 15 min) */
    const atomic_bool *stop; /* NULL, or set to end the run early (HQ_ESHUTDOWN) */
    /* Called after each missed delivery is handled (may be NULL). */
    void (*report)(void *arg, const struct hq_catchup_report *r);
    /* Called before each GitHub request; false ends the run (HQ_ELEASELOST):
     * the worker renews its claim here. May be NULL. */
    bool (*keep_going)(void *arg);
    void *arg;
};

struct hq_catchup_summary {
    size_t pages, listed, skipped;   /* pages read, entries used, entries unusable */
    size_t missed;                   /* missed GUIDs of accepted events in the window */
    size_t ignored_events;           /* missed GUIDs of events outside HOOKQ_EVENTS */
    size_t counts[HQ_CU_FAILED + 1]; /* by result */
    bool hook_id_known;              /* the App's hook id, as learned or given */
    uint64_t hook_id;
    char error[HQ_GH_REASON_MAX]; /* why the run failed; "" otherwise */
};

/*
 * Runs once. Returns 0 when the run completed (single deliveries may have
 * failed: see the counts); HQ_EHTTP when the delivery log could not be read
 * (s->error says why; nothing was enqueued); HQ_ESHUTDOWN when stop was
 * set, HQ_ELEASELOST when keep_going said no; a queue error (HQ_EFULL,
 * HQ_ESTORAGE, ...) when an enqueue failed for storage reasons (the run
 * stops there); -EINVAL, -ENOMEM.
 */
HQ_WUR int hq_catchup_run(const struct hq_catchup_opts *o, struct hq_catchup_summary *s);

#endif
