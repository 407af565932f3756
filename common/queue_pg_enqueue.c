/*
 * queue_pg_enqueue: the receiver's write on the PostgreSQL queue, group-
 * committed. Concurrent hq_queue_enqueue calls of one process queue up; the
 * first becomes the leader, takes up to HQ_PG_BATCH_MAX waiting calls and
 * runs them as one transaction: the batch's repository rows locked in
 * repo_id order (pg_lock_repos), then per item one dedup insert (which
 * allocates the id) and one event insert under the row lock (which takes
 * the FIFO position), the counters, a bounded dedup prune and one NOTIFY.
 * Every call is answered once COMMIT returned; a failed commit fails every
 * call of its batch and none of their items is stored.
 */
#include "queue_pg_int.h"
#include "clock.h"
#include "envelope.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int enqueue_item(pg_queue *q, PGconn *c, struct hq_enqueue *it, int64_t now)
{
    struct pg_params p;
    PGresult *res;
    int64_t received = it->received_at_ms ? it->received_at_ms : now;
    pp_init(&p);
    pp_i64(&p, (int64_t)it->hook_id);
    pp_str(&p, it->delivery);
    pp_i64(&p, received);
    int rc = pg_exec(c,
                     "INSERT INTO hq_dedup (hook_id, delivery, at_ms, event_id) VALUES ($1, $2, "
                     "$3, nextval('hq_event_id_seq')) ON CONFLICT DO NOTHING RETURNING event_id",
                     &p, &res);
    if (rc != 0)
        return rc;
    if (PQntuples(res) == 0) {
        PQclear(res);
        pp_init(&p);
        pp_i64(&p, (int64_t)it->hook_id);
        pp_str(&p, it->delivery);
        if ((rc = pg_exec(c, "SELECT event_id FROM hq_dedup WHERE hook_id = $1 AND delivery = $2",
                          &p, &res)) != 0)
            return rc;
        it->result = HQ_EDUPLICATE;
        it->id = PQntuples(res) > 0 ? (uint64_t)pg_i64(res, 0, 0) : 0;
        PQclear(res);
        return 0;
    }
    struct hq_event ev = {0};
    ev.id = (uint64_t)pg_i64(res, 0, 0);
    PQclear(res);
    ev.repo_id = it->repo_id;
    ev.hook_id = it->hook_id;
    ev.installation_id = it->installation_id;
    ev.received_at_ms = received;
    ev.repo_name = (char *)it->repo_name;
    ev.delivery = (char *)it->delivery;
    ev.event = (char *)it->event;
    ev.action = (char *)(it->action ? it->action : "");
    ev.check_desc = "";
    ev.payload = (char *)it->payload;
    ev.payload_len = it->payload_len;
    if (it->note != NULL && (rc = hq_event_history_append(&ev, now, it->note)) != 0)
        return rc;
    rc = pg_append_event(c, &ev, now);
    free(ev.history);
    if (rc == 0)
        it->id = ev.id;
    (void)q;
    return rc;
}

static int batch_fn(pg_queue *q, PGconn *c, void *arg)
{
    struct pg_gop *ops = arg;
    int64_t now = hq_now_ms();
    size_t n = 0, k = 0;
    for (struct pg_gop *o = ops; o != NULL; o = o->next)
        n += o->n;
    uint64_t *ids = malloc((n ? n : 1) * sizeof(*ids));
    if (ids == NULL)
        return -ENOMEM;
    for (struct pg_gop *o = ops; o != NULL; o = o->next)
        for (size_t i = 0; i < o->n; i++)
            if (o->items[i].result == 0)
                ids[k++] = o->items[i].repo_id;
    int rc = pg_lock_repos(c, ids, k);
    free(ids);
    if (rc != 0)
        return rc;
    int64_t accepted = 0, dups = 0;
    for (struct pg_gop *o = ops; o != NULL; o = o->next) {
        for (size_t i = 0; i < o->n; i++) {
            struct hq_enqueue *it = &o->items[i];
            if (it->result != 0)
                continue;
            if ((rc = enqueue_item(q, c, it, now)) != 0)
                return rc;
            if (it->result == HQ_EDUPLICATE)
                dups++;
            else
                accepted++;
        }
    }
    if (accepted > 0 && (rc = pg_counter_add(c, "enqueued_total", accepted)) != 0)
        return rc;
    if (dups > 0 && (rc = pg_counter_add(c, "duplicates_total", dups)) != 0)
        return rc;
    struct pg_params p;
    pp_init(&p);
    pp_i64(&p, now - q->opts.dedup_window_ms);
    pp_i64(&p, HQ_PG_DEDUP_PRUNE);
    if ((rc = pg_run(c,
                     "DELETE FROM hq_dedup WHERE (hook_id, delivery) IN (SELECT hook_id, delivery "
                     "FROM hq_dedup WHERE at_ms < $1 ORDER BY at_ms LIMIT $2 FOR UPDATE SKIP "
                     "LOCKED)",
                     &p)) != 0)
        return rc;
    return accepted > 0 ? pg_notify_ready(c) : 0;
}

/* Resets the results a failed transaction may have set. */
static void batch_undo(struct pg_gop *ops)
{
    for (struct pg_gop *o = ops; o != NULL; o = o->next)
        for (size_t i = 0; i < o->n; i++)
            if (o->items[i].result == HQ_EDUPLICATE || o->items[i].id != 0) {
                o->items[i].result = 0;
                o->items[i].id = 0;
            }
}

int pgq_enqueue(void *h, struct hq_enqueue *items, size_t n)
{
    pg_queue *q = h;
    struct pg_gop me = {.items = items, .n = n};
    pthread_mutex_lock(&q->gmu);
    *q->gtail = &me;
    q->gtail = &me.next;
    while (!me.done) {
        if (q->gleader) {
            pthread_cond_wait(&q->gcv, &q->gmu);
            continue;
        }
        /* Lead: take up to HQ_PG_BATCH_MAX waiting calls into one commit. */
        q->gleader = true;
        struct pg_gop *batch = q->gpending, *last = batch;
        uint64_t nops = 1;
        for (; nops < HQ_PG_BATCH_MAX && last->next != NULL; nops++)
            last = last->next;
        q->gpending = last->next;
        if (q->gpending == NULL)
            q->gtail = &q->gpending;
        last->next = NULL;
        pthread_mutex_unlock(&q->gmu);
        int rc = pg_tx_ops(q, true, false, nops, batch_fn, batch);
        if (rc != 0)
            batch_undo(batch);
        else
            pg_wake_local(q);
        pthread_mutex_lock(&q->gmu);
        for (struct pg_gop *o = batch, *nx; o != NULL; o = nx) {
            nx = o->next;
            o->rc = rc;
            o->done = true;
        }
        q->gleader = false;
        pthread_cond_broadcast(&q->gcv);
    }
    pthread_mutex_unlock(&q->gmu);
    return me.rc;
}
