/*
 * committer: group commit for the receiver.
 *
 * HTTP threads hand verified deliveries to the committer and suspend their
 * connections. A committer thread takes everything pending, enqueues it
 * with a single hq_queue_enqueue call (one write transaction), then reports
 * each item's result through its done callback, which resumes the
 * connection. While one commit syncs, the next batch gathers, so the batch
 * size grows with the load and the sync cost is shared.
 *
 * Up to COMMITTER_THREADS threads do this, as many as the backend asks for
 * (hq_queue_enqueue_callers): on PostgreSQL a second batch is sent while the
 * first waits for its COMMIT; on LMDB one thread, measured here: with two,
 * the batches halved (wrk -c32: 9.5 against 16 deliveries a commit) and the
 * receiver took 20-70% fewer push deliveries a second, since a batch the
 * other thread's commit covered still waited for that commit. Two batches
 * in flight at once are two sets of concurrent, unanswered deliveries:
 * either may commit first.
 *
 * Nothing is acknowledged before its commit returned: done is called only
 * after hq_queue_enqueue, with the commit's own result.
 *
 * Threads: committer_submit, committer_healthy and committer_pending may be
 * called from any thread; create/stop/destroy from one controlling thread.
 */
#ifndef HQ_COMMITTER_H
#define HQ_COMMITTER_H

#include "hq_error.h"
#include "metrics.h"
#include "queue.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct committer committer;

#define COMMITTER_THREADS 2

/* One delivery waiting for its commit; owned by the submitter, which must
 * keep it (and every string enq points to) alive until done is called. */
struct committer_item {
    struct hq_enqueue enq; /* in: the delivery; out: enq.result and enq.id */
    /* out: 0 when a commit held the item (see enq.result), else the failed
     * commit's error (HQ_EFULL, HQ_ESTORAGE, ...). */
    int result;
    /* Called exactly once, from the committer thread, with no committer lock
     * held. After it returns the committer never touches the item again, so
     * done may hand the item to a thread that frees it. */
    void (*done)(struct committer_item *it);
    struct committer_item *next; /* the committer's while pending */
};

struct committer_opts {
    size_t max_pending;     /* submissions past this many waiting are refused */
    size_t max_batch;       /* items per commit */
    size_t max_batch_bytes; /* payload bytes per commit (one item always fits) */
    hq_metrics *metrics;    /* commit latency, batch size, failures; may be NULL */
    unsigned threads;       /* committer threads, 1..COMMITTER_THREADS (0: 1) */
    /* How long a failed commit keeps committer_healthy false when nothing
     * else is committed meanwhile (see committer_healthy). */
    int64_t unhealthy_hold_ms;
};

/* Starts the committer threads over q (borrowed: it must outlive the
 * committer). -ENOMEM, or -errno when the thread cannot start. */
HQ_WUR int committer_create(hq_queue *q, const struct committer_opts *o, committer **out);

/*
 * Queues it for the next commit. 0: done will be called exactly once.
 * HQ_EFULL when max_pending items already wait, HQ_ESHUTDOWN after
 * committer_stop began: then done is never called and it stays the caller's.
 */
HQ_WUR int committer_submit(committer *c, struct committer_item *it);

/* Refuses new submissions, commits and answers everything already pending,
 * then joins the threads. Safe to call twice. */
void committer_stop(committer *c);

/* Stops (if needed) and frees. NULL is ignored. */
void committer_destroy(committer *c);

/*
 * False after committer_stop, and while the most recent commit failed (map
 * full, disk error) less than unhealthy_hold_ms ago. A failure older than
 * that counts as healthy again: the next delivery is the probe, so a load
 * balancer that drained the receiver on a failed health check lets traffic
 * back in to find out. True before the first commit.
 */
bool committer_healthy(committer *c);

/* Items submitted and not yet done. */
size_t committer_pending(committer *c);

#endif
