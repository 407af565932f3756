/*
 * worker_pool: HOOKQ_WORKERS threads over the queue, plus one renewer.
 *
 * Each worker thread loops: lease the repository that has been ready
 * longest, hand its head event to the processor, repeat. With nothing ready
 * it sleeps on the queue's wake-up futex until a commit (of this or another
 * process, e.g. the receiver) makes work ready or the next retry time comes:
 * no polling. The renewer extends every lease in flight each lease/3.
 *
 * Shutdown (hq_pool_stop): no new leases at once; events in flight may
 * finish for grace_ms; then running checks are cancelled and their events
 * given back uncounted; hq_pool_join returns when every thread is out.
 *
 * Threads: create, stop, join and destroy from one controlling thread.
 */
#ifndef HQ_WORKER_POOL_H
#define HQ_WORKER_POOL_H

#include "processor.h"
#include "queue.h"

typedef struct hq_pool hq_pool;

HQ_WUR int hq_pool_start(hq_queue *q, hq_processor *p, unsigned nthreads, int64_t lease_ms,
                         hq_metrics *m, hq_pool **out);
/* Asks every thread to stop; returns at once. */
void hq_pool_stop(hq_pool *pool);
/* Waits for the threads; after grace_ms cancels checks still running. */
void hq_pool_join(hq_pool *pool, int64_t grace_ms);
void hq_pool_destroy(hq_pool *pool);

/* False once a queue operation failed for a storage reason and none has
 * succeeded since (for /healthz). */
bool hq_pool_healthy(hq_pool *pool);

#endif
