/*
 * queue_pg_enqueue: the receiver's write on the PostgreSQL queue, group-
 * committed. Concurrent hq_queue_enqueue calls of one process queue up; the
 * first becomes the leader, takes up to HQ_PG_BATCH_MAX waiting calls and
 * runs them as one transaction: the batch's repository rows locked in
 * repo_id order (pg_lock_repos), then one statement per item (ENQUEUE_SQL:
 * the dedup insert allocates the id, the locked repository row gives the
 * FIFO position), all sent in libpq's pipeline mode so the batch costs one
 * round trip, then the counters, a bounded dedup prune and one NOTIFY.
 * Every call is answered once COMMIT returned; a failed commit fails every
 * call of its batch and none of their items is stored.
 */
#include "queue_pg_int.h"
#include "clock.h"
#include "envelope.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* One item in one statement: the dedup insert allocates the id (nothing
 * when the pair is known), the repository row (locked) gives the FIFO
 * position, the event row is inserted; the result row is the new id, or
 * NULL and the first event's id for a duplicate (or two NULLs when the
 * first is a concurrent transaction's that committed meanwhile). */
#define ENQUEUE_SQL                                                                                \
    "WITH d AS (INSERT INTO hq_dedup (hook_id, delivery, at_ms, event_id) VALUES ($1, $2, $3, "    \
    "nextval('hq_event_id_seq')) ON CONFLICT DO NOTHING RETURNING event_id), "                     \
    "r AS (UPDATE hq_repo SET next_pos = next_pos + 1, count = count + 1, "                        \
    "ready_at = CASE WHEN count = 0 THEN $11::bigint ELSE ready_at END "                           \
    "WHERE repo_id = $4 AND EXISTS (SELECT 1 FROM d) RETURNING next_pos - 1 AS pos, count), "      \
    "e AS (INSERT INTO hq_event (id, repo_id, pos, hook_id, installation_id, received_at, "        \
    "repo_name, delivery, event, action, history, payload) SELECT d.event_id, $4, r.pos, $1, $5, " \
    "$3, $6, $2, $7, $8, $9, $10 FROM d, r RETURNING id) "                                         \
    "SELECT (SELECT id FROM e), (SELECT event_id FROM hq_dedup WHERE hook_id = $1 AND "            \
    "delivery = $2), (SELECT count FROM r)"

#define PIPELINE_MAX 256 /* items sent before their results are read */

/* The parameters of it's statement; *history (free it) holds its note. */
static int item_params(struct hq_enqueue *it, int64_t now, struct pg_params *p, char **history)
{
    struct hq_event ev = {0};
    *history = NULL;
    if (it->note != NULL) {
        int rc = hq_event_history_append(&ev, now, it->note); /* step 0, at now */
        if (rc != 0)
            return rc;
        *history = ev.history;
    }
    pp_init(p);
    pp_i64(p, (int64_t)it->hook_id);
    pp_str(p, it->delivery);
    pp_i64(p, it->received_at_ms ? it->received_at_ms : now);
    pp_i64(p, (int64_t)it->repo_id);
    pp_i64(p, (int64_t)it->installation_id);
    pp_str(p, it->repo_name);
    pp_str(p, it->event);
    pp_str(p, it->action ? it->action : "");
    pp_str(p, *history != NULL ? *history : "");
    pp_bin(p, it->payload, it->payload_len);
    pp_i64(p, now);
    return 0;
}

/* Reads one item's result (id 0 for a duplicate whose first event was not
 * visible yet: lookup_late_duplicates finds it). */
static void item_result(const PGresult *res, struct hq_enqueue *it, int64_t *firsts)
{
    if (!PQgetisnull(res, 0, 0)) {
        it->id = (uint64_t)pg_i64(res, 0, 0);
        if (pg_i64(res, 0, 2) == 1)
            (*firsts)++; /* the repository had no events before */
        return;
    }
    it->result = HQ_EDUPLICATE;
    it->id = (uint64_t)pg_i64(res, 0, 1);
}

/* Sends items [0, n) of list (pointers) in libpq's pipeline mode and reads
 * their results: one round trip for all of them. */
static int send_items(PGconn *c, struct hq_enqueue **list, size_t n, int64_t now, int64_t *firsts)
{
    int rc = 0;
    size_t sent = 0;
    char name[24];
    if ((rc = pg_prepare(c, ENQUEUE_SQL, name)) != 0)
        return rc;
    if (PQenterPipelineMode(c) != 1)
        return HQ_ESTORAGE;
    for (; sent < n; sent++) {
        struct pg_params p;
        char *history;
        if ((rc = item_params(list[sent], now, &p, &history)) != 0)
            break;
        int ok = name[0] != '\0'
                     ? PQsendQueryPrepared(c, name, p.n, p.v, p.len, p.fmt, 0)
                     : PQsendQueryParams(c, ENQUEUE_SQL, p.n, NULL, p.v, p.len, p.fmt, 0);
        free(history);
        if (ok != 1) {
            rc = HQ_ESTORAGE;
            break;
        }
    }
    if (PQpipelineSync(c) != 1) {
        (void)PQexitPipelineMode(c);
        return HQ_ESTORAGE; /* the connection is broken: it is dropped */
    }
    for (size_t i = 0; i < sent; i++) {
        PGresult *res = PQgetResult(c);
        ExecStatusType st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
        if (st == PGRES_TUPLES_OK && PQntuples(res) == 1) {
            if (rc == 0)
                item_result(res, list[i], firsts);
        } else if (rc == 0) {
            const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
            rc = state != NULL && strcmp(state, "53100") == 0 ? HQ_EFULL : HQ_ESTORAGE;
        }
        PQclear(res);
        if (res != NULL)
            PQclear(PQgetResult(c)); /* the NULL that ends this query's results */
    }
    PGresult *sync;
    while ((sync = PQgetResult(c)) != NULL) {
        bool end = PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
        PQclear(sync);
        if (end)
            break;
    }
    if (PQexitPipelineMode(c) != 1 && rc == 0)
        rc = HQ_ESTORAGE;
    return rc;
}

/* Duplicates whose first event was not visible to their statement. */
static int lookup_late_duplicates(PGconn *c, struct hq_enqueue **list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct hq_enqueue *it = list[i];
        if (it->result != HQ_EDUPLICATE || it->id != 0)
            continue;
        struct pg_params p;
        PGresult *res;
        pp_init(&p);
        pp_i64(&p, (int64_t)it->hook_id);
        pp_str(&p, it->delivery);
        int rc = pg_exec(c, "SELECT event_id FROM hq_dedup WHERE hook_id = $1 AND delivery = $2",
                         &p, &res);
        if (rc != 0)
            return rc;
        it->id = PQntuples(res) > 0 ? (uint64_t)pg_i64(res, 0, 0) : 0;
        PQclear(res);
    }
    return 0;
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
    int64_t accepted = 0, dups = 0, firsts = 0;
    struct hq_enqueue **list = malloc((n ? n : 1) * sizeof(*list));
    if (list == NULL)
        return -ENOMEM;
    k = 0;
    for (struct pg_gop *o = ops; o != NULL; o = o->next)
        for (size_t i = 0; i < o->n; i++)
            if (o->items[i].result == 0)
                list[k++] = &o->items[i];
    for (size_t i = 0; i < k && rc == 0; i += PIPELINE_MAX)
        rc = send_items(c, list + i, k - i < PIPELINE_MAX ? k - i : PIPELINE_MAX, now, &firsts);
    if (rc == 0)
        rc = lookup_late_duplicates(c, list, k);
    for (size_t i = 0; i < k; i++) {
        if (list[i]->result == HQ_EDUPLICATE)
            dups++;
        else if (list[i]->id != 0)
            accepted++;
    }
    free(list);
    if (rc != 0)
        return rc;
    if (accepted > 0 && ((rc = pg_counter_add(c, "enqueued_total", accepted)) != 0 ||
                         (rc = pg_counter_add(c, "queued", accepted)) != 0))
        return rc;
    if (firsts > 0 && (rc = pg_counter_add(c, "repositories", firsts)) != 0)
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
