/*
 * worker_pool: the worker threads and the lease renewer; see worker_pool.h.
 *
 * Each thread has a slot. slot->lock protects slot->lease and slot->active:
 * the worker thread sets them around a call to the processor, the renewer
 * reads and updates expires_ms. Only one lock is ever held at a time.
 */
#include "worker_pool.h"
#include "clock.h"
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct slot {
    hq_pool *pool;
    pthread_t thread;
    unsigned index;
    pthread_mutex_t lock;
    bool active;
    struct hq_lease lease;
    atomic_bool cancel;
    char owner[HQ_MAX_OWNER_LEN];
};

struct hq_pool {
    hq_queue *q;
    hq_processor *proc;
    int64_t lease_ms;
    unsigned n;
    struct slot *slots;
    pthread_t renewer;
    bool renewer_started;
    atomic_bool stopping;
    atomic_bool healthy;
    hq_series *busy;
    hq_series *idle_wakeups;
};

static void *worker_main(void *arg)
{
    struct slot *s = arg;
    hq_pool *pool = s->pool;
    while (!atomic_load(&pool->stopping)) {
        uint32_t seen = hq_queue_wake_seq(pool->q);
        struct hq_lease lease;
        struct hq_event *ev = NULL;
        int64_t next = INT64_MAX;
        int rc = hq_queue_lease(pool->q, s->owner, pool->lease_ms, &lease, &ev, &next);
        if (rc == HQ_ENOTREADY) {
            atomic_store(&pool->healthy, true);
            int64_t now = hq_now_ms();
            int64_t wait = next == INT64_MAX ? 1000 : next - now;
            if (wait > 1000)
                wait = 1000; /* to see a stop request without a signal */
            if (wait < 1)
                wait = 1;
            hq_series_add(pool->idle_wakeups, 1);
            hq_queue_wait(pool->q, seen, wait);
            continue;
        }
        if (rc != 0) {
            atomic_store(&pool->healthy, false);
            hq_error("lease", NULL, "leasing failed: %s; retrying in 1 s", hq_strerror(rc));
            hq_queue_wait(pool->q, seen, 1000);
            continue;
        }
        atomic_store(&pool->healthy, true);
        atomic_store(&s->cancel, false);
        pthread_mutex_lock(&s->lock);
        s->lease = lease;
        s->active = true;
        pthread_mutex_unlock(&s->lock);
        hq_series_add(pool->busy, 1);

        (void)hq_processor_run(pool->proc, &lease, ev, &s->cancel);

        hq_series_add(pool->busy, -1);
        pthread_mutex_lock(&s->lock);
        s->active = false;
        pthread_mutex_unlock(&s->lock);
        hq_event_free(ev);
    }
    return NULL;
}

/* Extends each active lease every lease/3; a lost lease cancels its check. */
static void *renewer_main(void *arg)
{
    hq_pool *pool = arg;
    int64_t period = pool->lease_ms / 3;
    for (;;) {
        bool any = false;
        for (unsigned i = 0; i < pool->n; i++) {
            struct slot *s = &pool->slots[i];
            pthread_mutex_lock(&s->lock);
            bool active = s->active;
            struct hq_lease l = s->lease;
            pthread_mutex_unlock(&s->lock);
            if (!active)
                continue;
            any = true;
            if (l.expires_ms - hq_now_ms() > pool->lease_ms - period)
                continue; /* renewed recently enough */
            int rc = hq_queue_renew(pool->q, &l, pool->lease_ms);
            pthread_mutex_lock(&s->lock);
            if (s->active && s->lease.token == l.token) {
                if (rc == 0)
                    s->lease.expires_ms = l.expires_ms;
                else if (rc == HQ_ELEASELOST)
                    atomic_store(&s->cancel, true);
            }
            pthread_mutex_unlock(&s->lock);
            if (rc != 0 && rc != HQ_ELEASELOST)
                hq_error("renew", NULL, "renewing a lease failed: %s", hq_strerror(rc));
        }
        if (atomic_load(&pool->stopping) && !any)
            break;
        int64_t nap = period / 4 < 250 ? period / 4 : 250;
        usleep((useconds_t)(nap > 10 ? nap : 10) * 1000);
    }
    return NULL;
}

int hq_pool_start(hq_queue *q, hq_processor *p, unsigned nthreads, int64_t lease_ms, hq_metrics *m,
                  hq_pool **out)
{
    int rc = 0;
    hq_pool *pool = calloc(1, sizeof(*pool));
    if (pool == NULL)
        return -ENOMEM;
    pool->q = q;
    pool->proc = p;
    pool->lease_ms = lease_ms;
    pool->slots = calloc(nthreads, sizeof(struct slot));
    atomic_init(&pool->healthy, true);
    if (pool->slots == NULL) {
        free(pool);
        return -ENOMEM;
    }
    if (m != NULL) {
        if ((rc = hq_metrics_declare(m, "hookq_worker_busy_threads", HQ_GAUGE,
                                     "Worker threads processing an event", NULL, 0)) ||
            (rc = hq_metrics_declare(m, "hookq_worker_idle_waits_total", HQ_COUNTER,
                                     "Times a worker thread found nothing ready and slept", NULL,
                                     0))) {
            free(pool->slots);
            free(pool);
            return rc;
        }
        pool->busy = hq_metrics_series(m, "hookq_worker_busy_threads", NULL);
        pool->idle_wakeups = hq_metrics_series(m, "hookq_worker_idle_waits_total", NULL);
    }
    char host[64];
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "unknown");
    host[sizeof(host) - 1] = '\0';
    for (unsigned i = 0; i < nthreads; i++) {
        struct slot *s = &pool->slots[i];
        s->pool = pool;
        s->index = i;
        pthread_mutex_init(&s->lock, NULL);
        atomic_init(&s->cancel, false);
        snprintf(s->owner, sizeof(s->owner), "%.63s:%d:t%u", host, (int)getpid(), i);
    }
    for (unsigned i = 0; i < nthreads; i++) {
        int err = pthread_create(&pool->slots[i].thread, NULL, worker_main, &pool->slots[i]);
        if (err != 0) {
            rc = -err;
            break;
        }
        pool->n = i + 1;
    }
    if (rc == 0) {
        int err = pthread_create(&pool->renewer, NULL, renewer_main, pool);
        if (err != 0)
            rc = -err;
        else
            pool->renewer_started = true;
    }
    if (rc != 0) {
        hq_pool_stop(pool);
        hq_pool_join(pool, 0);
        hq_pool_destroy(pool);
        return rc;
    }
    *out = pool;
    return 0;
}

void hq_pool_stop(hq_pool *pool)
{
    atomic_store(&pool->stopping, true);
}

void hq_pool_join(hq_pool *pool, int64_t grace_ms)
{
    int64_t deadline = hq_mono_ms() + grace_ms;
    for (unsigned i = 0; i < pool->n; i++) {
        struct slot *s = &pool->slots[i];
        for (;;) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 50 * 1000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            if (pthread_timedjoin_np(s->thread, NULL, &ts) == 0)
                break;
            if (hq_mono_ms() >= deadline) {
                /* Past the grace: checks still running are killed and their
                 * events given back without counting an attempt. */
                for (unsigned k = 0; k < pool->n; k++)
                    atomic_store(&pool->slots[k].cancel, true);
            }
        }
    }
    if (pool->renewer_started) {
        pthread_join(pool->renewer, NULL);
        pool->renewer_started = false;
    }
    pool->n = 0;
}

void hq_pool_destroy(hq_pool *pool)
{
    if (pool == NULL)
        return;
    free(pool->slots);
    free(pool);
}

bool hq_pool_healthy(hq_pool *pool)
{
    return atomic_load(&pool->healthy);
}
