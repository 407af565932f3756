/*
 * catchup_sched: the worker's periodic catch-up (schema/design.md §9). One
 * thread per worker process wakes every interval (with ±10% jitter, so
 * that workers started together drift apart) and takes a turn:
 *
 *  - It reads the queue's state record "catchup" (queue.h): position_ms is
 *    the start of the last run that completed, value the App's hook id
 *    (once learned), and a claim says which process is running one now.
 *  - It skips when a run completed less than 90% of an interval ago, or
 *    another process holds an unexpired claim: several workers are
 *    harmless, and only one does the work.
 *  - Else it claims the record (compare-and-set: one winner), runs from
 *    max(position - overlap, now - window) (hq_catchup_run), renewing the
 *    claim while it runs, and on success writes position = this run's
 *    start and drops the claim. A failed run drops the claim and leaves the
 *    position where it was, and says why in one log line.
 *
 * Metrics: hookq_catchup_runs_total{result="ok|failed"},
 * hookq_catchup_missed_total, hookq_catchup_enqueued_total.
 *
 * Threads: hq_catchup_sched_start and _stop run in main; the thread is the
 * module's own.
 */
#ifndef HQ_CATCHUP_SCHED_H
#define HQ_CATCHUP_SCHED_H

#include "catchup.h"
#include "metrics.h"

#define HQ_CATCHUP_STATE   "catchup"         /* the name of the state record */
#define HQ_CATCHUP_OVERLAP (5 * 60 * 1000ll) /* each run looks this far behind the last start */

typedef struct hq_catchup_sched hq_catchup_sched;

struct hq_catchup_sched_opts {
    struct hq_catchup_opts run; /* gh, q, events, max_body; since_ms is computed */
    int64_t interval_ms;        /* > 0 */
    int64_t window_ms;          /* never further back than this */
    int64_t claim_ms;           /* a claim lasts this long unless renewed (0: 5 min) */
    int64_t first_delay_ms;     /* first turn after this (0: min(interval, 5 s)) */
    const char *owner;          /* "host:pid" */
    hq_metrics *metrics;        /* NULL: none */
};

/* Declares the three families with every series at 0 (the worker calls it
 * whether catch-up is on or not). 0 or -ENOMEM. */
HQ_WUR int hq_catchup_metrics_declare(hq_metrics *m);

/* One turn, as the thread takes it; for tests. Returns 0 when it ran and
 * completed or skipped (*ran says which), else the run's or the queue's
 * error. */
HQ_WUR int hq_catchup_sched_turn(const struct hq_catchup_sched_opts *o, bool *ran);

/* Starts the thread (copies o; the strings and handles must outlive it). */
HQ_WUR int hq_catchup_sched_start(const struct hq_catchup_sched_opts *o, hq_catchup_sched **out);
/* Ends a run in progress at its next step and joins the thread. NULL is ok. */
void hq_catchup_sched_stop(hq_catchup_sched *s);

#endif
