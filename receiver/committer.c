/*
 * committer: the receiver's group-commit thread; see committer.h.
 *
 * DESIGN
 * Submitters append to a singly linked pending list under c->lock and signal
 * c->cond. A free committer thread detaches up to max_batch items (and
 * max_batch_bytes of payload) from the head, releases the lock, copies the
 * items' hq_enqueue records into its own contiguous array, and calls
 * hq_queue_enqueue once. Results are copied back and each item's done
 * callback runs with no lock held. Submissions that arrive during the commit
 * wait in the list and form the next batch: the batch size follows the load
 * without any timer, and a lone delivery is committed at once.
 *
 * Lock: c->lock protects head, tail, npending, stopping, last_rc and
 * last_fail_ms. It is never held across hq_queue_enqueue or a done callback.
 */
#include "committer.h"
#include "clock.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* One committer thread and its batch array (max_batch records). */
struct committer_thread {
    committer *c;
    pthread_t thread;
    bool started;
    struct hq_enqueue *batch;
};

struct committer {
    hq_queue *q;
    struct committer_opts o;
    struct committer_thread threads[COMMITTER_THREADS];
    unsigned nthreads;
    bool joined;

    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct committer_item *head, *tail;
    size_t npending; /* in the list plus in the commit under way */
    bool stopping;
    int last_rc;
    int64_t last_fail_ms;

    hq_series *m_commit_seconds;
    hq_series *m_batch_size;
    hq_series *m_commits;
    hq_series *m_failures;
    hq_series *m_pending;
};

static const double commit_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                       0.025,  0.05,  0.1,    0.25,  1.0};
static const double batch_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};

static int declare_metrics(committer *c)
{
    hq_metrics *m = c->o.metrics;
    int rc;
    if (m == NULL)
        return 0;
    if ((rc = hq_metrics_declare(m, "hookq_commit_duration_seconds", HQ_HISTOGRAM,
                                 "Time of one group commit (write transaction and sync).",
                                 commit_bounds,
                                 sizeof(commit_bounds) / sizeof(commit_bounds[0]))) != 0 ||
        (rc = hq_metrics_declare(m, "hookq_commit_batch_size", HQ_HISTOGRAM,
                                 "Deliveries carried by one group commit.", batch_bounds,
                                 sizeof(batch_bounds) / sizeof(batch_bounds[0]))) != 0 ||
        (rc = hq_metrics_declare(m, "hookq_commits_total", HQ_COUNTER,
                                 "Group commits attempted by the receiver.", NULL, 0)) != 0 ||
        (rc = hq_metrics_declare(m, "hookq_commit_failures_total", HQ_COUNTER,
                                 "Group commits that failed (map full, disk error).", NULL, 0)) !=
            0 ||
        (rc = hq_metrics_declare(m, "hookq_receiver_pending", HQ_GAUGE,
                                 "Deliveries waiting for their commit.", NULL, 0)) != 0)
        return rc;
    c->m_commit_seconds = hq_metrics_series(m, "hookq_commit_duration_seconds", NULL);
    c->m_batch_size = hq_metrics_series(m, "hookq_commit_batch_size", NULL);
    c->m_commits = hq_metrics_series(m, "hookq_commits_total", NULL);
    c->m_failures = hq_metrics_series(m, "hookq_commit_failures_total", NULL);
    c->m_pending = hq_metrics_series(m, "hookq_receiver_pending", NULL);
    return 0;
}

/* Detaches the next batch from the pending list; called with c->lock held. */
static struct committer_item *take_batch(committer *c, size_t *n)
{
    struct committer_item *first = c->head, *last = NULL, *it = c->head;
    size_t count = 0, bytes = 0;
    while (it != NULL && count < c->o.max_batch) {
        if (count > 0 && bytes + it->enq.payload_len > c->o.max_batch_bytes)
            break;
        bytes += it->enq.payload_len;
        count++;
        last = it;
        it = it->next;
    }
    if (last != NULL)
        last->next = NULL;
    c->head = it;
    if (it == NULL)
        c->tail = NULL;
    *n = count;
    return count > 0 ? first : NULL;
}

static void commit_batch(struct committer_thread *t, struct committer_item *items, size_t n)
{
    committer *c = t->c;
    struct hq_enqueue *batch = t->batch;
    size_t i = 0;
    for (struct committer_item *it = items; it != NULL; it = it->next)
        batch[i++] = it->enq;

    int64_t start = hq_mono_ms();
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = hq_queue_enqueue(c->q, batch, n);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    hq_series_observe(c->m_commit_seconds, secs);
    hq_series_observe(c->m_batch_size, (double)n);
    hq_series_add(c->m_commits, 1);
    if (rc != 0)
        hq_series_add(c->m_failures, 1);

    pthread_mutex_lock(&c->lock);
    c->last_rc = rc;
    if (rc != 0)
        c->last_fail_ms = start;
    c->npending -= n;
    hq_series_set(c->m_pending, (double)c->npending);
    pthread_mutex_unlock(&c->lock);

    i = 0;
    struct committer_item *it = items;
    while (it != NULL) {
        /* Read next first: after done() the item may already be freed. */
        struct committer_item *next = it->next;
        it->enq.result = rc != 0 ? rc : batch[i].result;
        it->enq.id = batch[i].id;
        it->result = rc;
        it->next = NULL;
        i++;
        it->done(it);
        it = next;
    }
}

static void *committer_main(void *arg)
{
    struct committer_thread *t = arg;
    committer *c = t->c;
    pthread_setname_np(pthread_self(), "hq-committer");
    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (c->head == NULL && !c->stopping)
            pthread_cond_wait(&c->cond, &c->lock);
        if (c->head == NULL && c->stopping)
            break;
        size_t n = 0;
        struct committer_item *items = take_batch(c, &n);
        pthread_mutex_unlock(&c->lock);
        commit_batch(t, items, n);
        pthread_mutex_lock(&c->lock);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

int committer_create(hq_queue *q, const struct committer_opts *o, committer **out)
{
    int rc = 0;
    *out = NULL;
    if (o->max_pending == 0 || o->max_batch == 0)
        return -EINVAL;
    committer *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -ENOMEM;
    c->q = q;
    c->o = *o;
    c->nthreads = o->threads == 0                  ? 1
                  : o->threads > COMMITTER_THREADS ? COMMITTER_THREADS
                                                   : o->threads;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    for (unsigned i = 0; i < c->nthreads; i++) {
        c->threads[i].c = c;
        c->threads[i].batch = calloc(o->max_batch, sizeof(*c->threads[i].batch));
        if (c->threads[i].batch == NULL) {
            rc = -ENOMEM;
            goto out;
        }
    }
    rc = declare_metrics(c);
    if (rc != 0)
        goto out;
    for (unsigned i = 0; i < c->nthreads; i++) {
        int err = pthread_create(&c->threads[i].thread, NULL, committer_main, &c->threads[i]);
        if (err != 0) {
            rc = -err;
            goto out;
        }
        c->threads[i].started = true;
    }
    *out = c;
    c = NULL;
out:
    committer_destroy(c);
    return rc;
}

int committer_submit(committer *c, struct committer_item *it)
{
    int rc = 0;
    it->next = NULL;
    pthread_mutex_lock(&c->lock);
    if (c->stopping) {
        rc = HQ_ESHUTDOWN;
        goto out;
    }
    if (c->npending >= c->o.max_pending) {
        rc = HQ_EFULL;
        goto out;
    }
    if (c->tail != NULL)
        c->tail->next = it;
    else
        c->head = it;
    c->tail = it;
    c->npending++;
    hq_series_set(c->m_pending, (double)c->npending);
    pthread_cond_signal(&c->cond);
out:
    pthread_mutex_unlock(&c->lock);
    return rc;
}

void committer_stop(committer *c)
{
    pthread_mutex_lock(&c->lock);
    c->stopping = true;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    if (!c->joined) {
        for (unsigned i = 0; i < c->nthreads; i++)
            if (c->threads[i].started)
                pthread_join(c->threads[i].thread, NULL);
        c->joined = true;
    }
}

void committer_destroy(committer *c)
{
    if (c == NULL)
        return;
    committer_stop(c);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
    for (unsigned i = 0; i < c->nthreads; i++)
        free(c->threads[i].batch);
    free(c);
}

bool committer_healthy(committer *c)
{
    pthread_mutex_lock(&c->lock);
    bool ok = !c->stopping &&
              (c->last_rc == 0 || hq_mono_ms() - c->last_fail_ms >= c->o.unhealthy_hold_ms);
    pthread_mutex_unlock(&c->lock);
    return ok;
}

size_t committer_pending(committer *c)
{
    pthread_mutex_lock(&c->lock);
    size_t n = c->npending;
    pthread_mutex_unlock(&c->lock);
    return n;
}
