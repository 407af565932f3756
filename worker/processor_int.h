/*
 * processor_int: the per-call state of processor.c and the ways a call
 * ends, lent to report_checks.c (the check-run steps). Not for use outside
 * the processor's two files.
 */
#ifndef HQ_PROCESSOR_INT_H
#define HQ_PROCESSOR_INT_H

#include "log.h"
#include "processor.h"
#include "route.h"

#include <stdbool.h>

struct hq_processor {
    const struct worker_config *cfg;
    hq_queue *q;
    hq_github *gh;
    struct hq_route_opts route_opts;
    char *argv_buf;                    /* the split command line ... */
    char *argv[HQ_CHECK_MAX_ARGS + 1]; /* ... pointing into argv_buf */
    char program[4096];                /* argv[0] resolved in PATH at start */
    hq_series *outcomes[HQ_OUT_COUNT];
    hq_series *check_seconds;
    hq_series *latency_seconds;
};

/* Per-call state, to keep the step functions short. */
struct job {
    hq_processor *p;
    const struct hq_lease *lease;
    const struct hq_event *ev;
    struct hq_log_ctx log;
    char sha[41];
    bool pending_unrecorded; /* pending posted in this attempt, step not stored yet */
    uint64_t run_id;         /* the event's check run (HOOKQ_REPORT checks, both), 0 none yet */
    bool timed_out;          /* this attempt's check timed out */
    bool run_done;           /* the run is completed (this attempt, or step FINAL_POSTED) */
};

/* The ways out: each records what it says in the queue and logs it once. */
enum hq_outcome hq_job_queue_failed(struct job *j, const char *what, int rc);
/* back off, or dead-letter when it was the last attempt */
enum hq_outcome hq_job_attempt_failed(struct job *j, const char *why);
/* dead-letter now */
enum hq_outcome hq_job_permanent(struct job *j, const char *why);
/* rate limited: not an attempt */
enum hq_outcome hq_job_wait_until(struct job *j, int64_t at_ms, const char *why);

#endif
