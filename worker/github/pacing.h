/*
 * pacing: keeps the worker under GitHub's limits before GitHub has to say so
 * (schema/design.md §4, last paragraph), per installation:
 *   - content-creating requests (status POSTs) at most per_minute in any
 *     60 s and per_hour in any 3600 s (sliding windows over the exact times
 *     of the last requests, not token buckets, so no burst exceeds either);
 *   - a reserve of the primary rate limit: once an answer said
 *     x-ratelimit-remaining <= reserve, nothing more is sent for that
 *     installation until x-ratelimit-reset;
 *   - a block set after GitHub itself answered with a rate limit
 *     (retry-after, primary or secondary), so that the other threads of the
 *     same installation wait as well instead of drawing the same answer;
 *   - the count of consecutive secondary limits, for their exponential wait.
 *
 * The caller is never put to sleep here: hq_pacing_acquire answers with the
 * time at which to try again, and the GitHub client turns that into
 * HQ_GH_WAIT so that the worker thread serves other repositories meanwhile.
 * With enabled = false the self-imposed limits (windows and reserve) are off
 * (benchmarks); blocks that GitHub asked for still hold.
 *
 * All state is behind one mutex held for a few comparisons, never during
 * I/O. All functions but create/destroy are thread-safe. Times are wall
 * clock ms (hq_now_ms) passed in by the caller.
 */
#ifndef HQ_PACING_H
#define HQ_PACING_H

#include "hq_error.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct hq_pacing hq_pacing;

struct hq_pacing_opts {
    bool enabled;
    unsigned per_minute; /* content-creating requests per minute, >= 1 (GitHub: 80) */
    unsigned per_hour;   /* ... per hour, >= 1 (GitHub: 500) */
    long reserve;        /* primary-limit reserve; 0 waits only when exhausted */
};

#define HQ_PACING_MAX_WINDOW 100000 /* cap of per_minute and per_hour */

/* 0, HQ_ECONFIG for a zero or oversized window, -ENOMEM. */
HQ_WUR int hq_pacing_create(const struct hq_pacing_opts *o, hq_pacing **out);
void hq_pacing_destroy(hq_pacing *p);

/*
 * May a request for installation inst go at now_ms? Sets *retry_at_ms to 0
 * when it may (a content-creating request then takes its place in the
 * windows at once, whatever becomes of it: GitHub counts attempts too), or
 * to the earliest time worth trying again. Returns 0, or -ENOMEM.
 */
HQ_WUR int hq_pacing_acquire(hq_pacing *p, uint64_t inst, bool content, int64_t now_ms,
                             int64_t *retry_at_ms);

/* Records the primary-limit headers of an answer (remaining < 0: unknown,
 * ignored; reset_ms 0: unknown). */
void hq_pacing_note_limits(hq_pacing *p, uint64_t inst, long remaining, int64_t reset_ms);

/* Blocks inst until until_ms because GitHub answered with a rate limit; a
 * secondary limit also counts one more consecutive hit. */
void hq_pacing_block(hq_pacing *p, uint64_t inst, int64_t until_ms, bool secondary);

/* Consecutive secondary limits of inst so far (0 for an unknown one). */
unsigned hq_pacing_secondary_hits(hq_pacing *p, uint64_t inst);

/* A successful answer: the secondary-limit streak of inst ends. */
void hq_pacing_note_ok(hq_pacing *p, uint64_t inst);

#endif
