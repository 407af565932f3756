/*
 * processor: one leased event, from its recorded step to the end of this
 * lease (schema/design.md §4): pending posted → check result stored → final state
 * posted → done. Each step is recorded durably before the next starts, so a
 * later attempt resumes where this one stopped and never runs a finished
 * check again.
 *
 * Every way out gives the repository back: complete (done, or no status to
 * post), retry (attempt failure with backoff; rate-limit wait or shutdown
 * without counting), or dead-letter (permanent error, or the attempt that
 * reaches max_attempts). A lost lease (expired and taken over) stops at once
 * without writing anything more.
 *
 * Thread-safe: a processor is shared by all worker threads; each call works
 * on its own lease.
 */
#ifndef HQ_PROCESSOR_H
#define HQ_PROCESSOR_H

#include "check.h"
#include "github.h"
#include "metrics.h"
#include "queue.h"
#include "worker_config.h"

#include <stdatomic.h>

typedef struct hq_processor hq_processor;

/* What became of an event (for metrics and tests). */
enum hq_outcome {
    HQ_OUT_DONE,       /* final status posted, event done */
    HQ_OUT_NO_STATUS,  /* nothing to post: event done */
    HQ_OUT_RETRY,      /* attempt failed: backoff */
    HQ_OUT_WAIT,       /* rate limited: waits, not an attempt */
    HQ_OUT_RELEASED,   /* shutdown: given back, not an attempt */
    HQ_OUT_DEAD,       /* dead-lettered */
    HQ_OUT_LEASE_LOST, /* someone else has it now */
    HQ_OUT_ERROR,      /* the queue failed; the lease will expire */
    HQ_OUT_COUNT
};

/* cfg, q, gh and m must outlive the processor. m may be NULL. Fails with
 * HQ_EPARSE/HQ_ETOOBIG for a check command that does not split, -ENOENT when
 * its program is not found (both name HOOKQ_CHECK_CMD in main). */
HQ_WUR int hq_processor_create(const struct worker_config *cfg, hq_queue *q, hq_github *gh,
                               hq_metrics *m, hq_processor **out);
void hq_processor_destroy(hq_processor *p);

/*
 * Processes ev (the head of lease's repository; ownership stays with the
 * caller). cancel, when it becomes true, kills a running check and gives the
 * event back uncounted. Returns the outcome.
 */
enum hq_outcome hq_processor_run(hq_processor *p, const struct hq_lease *lease,
                                 const struct hq_event *ev, const atomic_bool *cancel);

const char *hq_outcome_name(enum hq_outcome o);

#endif
