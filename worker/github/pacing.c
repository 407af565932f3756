/*
 * pacing: per-installation windows, reserve and blocks; see pacing.h.
 *
 * Each installation keeps the times of its last max(per_minute, per_hour)
 * content-creating requests in a ring. The request k places back is the one
 * that leaves a window first: with per_minute requests in the last minute, the
 * next may go when the per_minute-th most recent one is 60 s old.
 */
#include "pacing.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#define NBUCKETS  256
#define MINUTE_MS 60000
#define HOUR_MS   3600000

struct inst_state {
    struct inst_state *next; /* hash chain */
    uint64_t inst;
    int64_t *ring; /* request times, oldest overwritten */
    unsigned head; /* next slot to write */
    unsigned count;
    long remaining; /* last x-ratelimit-remaining, -1 unknown */
    int64_t reset_ms;
    int64_t blocked_until_ms;
    unsigned secondary_hits;
};

struct hq_pacing {
    struct hq_pacing_opts o;
    unsigned ring_cap;
    pthread_mutex_t lock; /* protects buckets and every inst_state */
    struct inst_state *buckets[NBUCKETS];
};

int hq_pacing_create(const struct hq_pacing_opts *o, hq_pacing **out)
{
    *out = NULL;
    if (o->per_minute == 0 || o->per_hour == 0 || o->per_minute > HQ_PACING_MAX_WINDOW ||
        o->per_hour > HQ_PACING_MAX_WINDOW || o->reserve < 0)
        return HQ_ECONFIG;
    hq_pacing *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return -ENOMEM;
    if (pthread_mutex_init(&p->lock, NULL) != 0) {
        free(p);
        return -ENOMEM;
    }
    p->o = *o;
    p->ring_cap = o->per_minute > o->per_hour ? o->per_minute : o->per_hour;
    *out = p;
    return 0;
}

void hq_pacing_destroy(hq_pacing *p)
{
    if (p == NULL)
        return;
    for (int i = 0; i < NBUCKETS; i++) {
        struct inst_state *s = p->buckets[i];
        while (s != NULL) {
            struct inst_state *next = s->next;
            free(s->ring);
            free(s);
            s = next;
        }
    }
    pthread_mutex_destroy(&p->lock);
    free(p);
}

/* Finds or creates the state of inst; NULL only when out of memory. Lock held. */
static struct inst_state *lookup(hq_pacing *p, uint64_t inst, bool create)
{
    unsigned b = (unsigned)((inst * 0x9e3779b97f4a7c15ULL) >> 56) % NBUCKETS;
    for (struct inst_state *s = p->buckets[b]; s != NULL; s = s->next)
        if (s->inst == inst)
            return s;
    if (!create)
        return NULL;
    struct inst_state *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->ring = calloc(p->ring_cap, sizeof(*s->ring));
    if (s->ring == NULL) {
        free(s);
        return NULL;
    }
    s->inst = inst;
    s->remaining = -1;
    s->next = p->buckets[b];
    p->buckets[b] = s;
    return s;
}

/* Time of the k-th most recent request (k >= 1), or 0 when fewer than k. */
static int64_t nth_recent(const hq_pacing *p, const struct inst_state *s, unsigned k)
{
    if (k > s->count)
        return 0;
    return s->ring[(s->head + p->ring_cap - k) % p->ring_cap];
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

int hq_pacing_acquire(hq_pacing *p, uint64_t inst, bool content, int64_t now_ms,
                      int64_t *retry_at_ms)
{
    int rc = 0;
    int64_t at = 0;
    pthread_mutex_lock(&p->lock);
    struct inst_state *s = lookup(p, inst, true);
    if (s == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    if (s->blocked_until_ms > now_ms)
        at = s->blocked_until_ms;
    if (p->o.enabled) {
        if (s->remaining >= 0 && s->remaining <= p->o.reserve && s->reset_ms > now_ms)
            at = max64(at, s->reset_ms);
        if (content) {
            int64_t t = nth_recent(p, s, p->o.per_minute);
            if (t != 0 && t + MINUTE_MS > now_ms)
                at = max64(at, t + MINUTE_MS);
            t = nth_recent(p, s, p->o.per_hour);
            if (t != 0 && t + HOUR_MS > now_ms)
                at = max64(at, t + HOUR_MS);
        }
    }
    if (at == 0 && content && p->o.enabled) {
        s->ring[s->head] = now_ms;
        s->head = (s->head + 1) % p->ring_cap;
        if (s->count < p->ring_cap)
            s->count++;
    }
out:
    pthread_mutex_unlock(&p->lock);
    *retry_at_ms = at;
    return rc;
}

void hq_pacing_note_limits(hq_pacing *p, uint64_t inst, long remaining, int64_t reset_ms)
{
    if (remaining < 0)
        return;
    pthread_mutex_lock(&p->lock);
    struct inst_state *s = lookup(p, inst, true);
    if (s != NULL) { /* out of memory: pacing is best effort, GitHub still answers 403 */
        s->remaining = remaining;
        s->reset_ms = reset_ms;
    }
    pthread_mutex_unlock(&p->lock);
}

void hq_pacing_block(hq_pacing *p, uint64_t inst, int64_t until_ms, bool secondary)
{
    pthread_mutex_lock(&p->lock);
    struct inst_state *s = lookup(p, inst, true);
    if (s != NULL) {
        s->blocked_until_ms = max64(s->blocked_until_ms, until_ms);
        if (secondary)
            s->secondary_hits++;
    }
    pthread_mutex_unlock(&p->lock);
}

unsigned hq_pacing_secondary_hits(hq_pacing *p, uint64_t inst)
{
    pthread_mutex_lock(&p->lock);
    struct inst_state *s = lookup(p, inst, false);
    unsigned hits = s != NULL ? s->secondary_hits : 0;
    pthread_mutex_unlock(&p->lock);
    return hits;
}

void hq_pacing_note_ok(hq_pacing *p, uint64_t inst)
{
    pthread_mutex_lock(&p->lock);
    struct inst_state *s = lookup(p, inst, false);
    if (s != NULL)
        s->secondary_hits = 0;
    pthread_mutex_unlock(&p->lock);
}
