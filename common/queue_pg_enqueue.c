/*
 * queue_pg_enqueue: the receiver's write on the PostgreSQL queue, group-
 * committed. Concurrent hq_queue_enqueue calls of one process queue up; the
 * first becomes the leader, takes up to HQ_PG_BATCH_MAX waiting calls and
 * runs them as one transaction of three round trips:
 *   BEGIN;
 *   one pipeline: the batch's repository rows created if missing and locked
 *     in repo_id order, their next positions and counts read, and each item
 *     as one statement (ENQUEUE_SQL: the dedup insert allocates the id, the
 *     event insert uses it at its repository's locked next position plus
 *     the item's place among the batch's items of that repository);
 *   one pipeline (pg_commit): each repository row written once
 *     (repos_done), a bounded dedup prune, the counters, one NOTIFY, COMMIT,
 *     and a one-record transaction committed synchronously behind it.
 * The COMMIT itself does not wait for the flush (pg_release_before_flush):
 * the repository rows' locks go as soon as the commit record is written, so
 * the next batch of the same repository runs during this one's fsync, and
 * the flush that follows answers for both. Every call is answered once that
 * flush returned; a failed commit fails every call of its batch and none of
 * their items is stored. (One repository: 4,001 -> 4,473
 * deliveries/s, medians of four alternating runs; design §7.2.)
 */
#include "queue_pg_int.h"
#include "clock.h"
#include "envelope.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* One item in one statement: the dedup insert allocates the id (nothing
 * when the pair is known), the event row is inserted at its FIFO position:
 * its repository's next position, read from the row this transaction has
 * locked, plus $11, the item's place in the batch; the result row
 * is the new id, or NULL and the first event's id for a duplicate (or two
 * NULLs when the first is a concurrent transaction's that committed
 * meanwhile). The repository rows are updated once per batch (repos_done). */
#define ENQUEUE_SQL                                                                                \
    "WITH d AS (INSERT INTO hq_dedup (hook_id, delivery, at_ms, event_id) VALUES ($1, $2, $3, "    \
    "nextval('hq_event_id_seq')) ON CONFLICT DO NOTHING RETURNING event_id), "                     \
    "e AS (INSERT INTO hq_event (id, repo_id, pos, hook_id, installation_id, received_at, "        \
    "repo_name, delivery, event, action, history, payload) SELECT d.event_id, $4, "                \
    "(SELECT next_pos FROM hq_repo WHERE repo_id = $4) + $11::bigint, $1, $5, $3, $6, $2, $7, "    \
    "$8, $9, $10 FROM d RETURNING id) "                                                            \
    "SELECT (SELECT id FROM e), (SELECT event_id FROM hq_dedup WHERE hook_id = $1 AND "            \
    "delivery = $2)"

/* The repositories of a batch, sorted by id: where their FIFO positions
 * start, how many the batch took, how many events it stored. */
struct brepo {
    uint64_t id;
    int64_t next_pos, count;
    int64_t taken, stored;
};

static int cmp_brepo(const void *a, const void *b)
{
    uint64_t x = ((const struct brepo *)a)->id, y = ((const struct brepo *)b)->id;
    return x < y ? -1 : x > y;
}

static struct brepo *brepo_find(struct brepo *r, size_t n, uint64_t id)
{
    struct brepo key = {.id = id};
    return bsearch(&key, r, n, sizeof(*r), cmp_brepo);
}

/* "{1,2,3}" of the repositories' ids; NULL without memory. */
static char *brepo_array(const struct brepo *r, size_t n)
{
    char *arr = malloc(n * 21 + 3);
    if (arr == NULL)
        return NULL;
    size_t len = 0;
    arr[len++] = '{';
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(arr + len, 22, "%s%llu", i > 0 ? "," : "",
                                (unsigned long long)r[i].id);
    arr[len++] = '}';
    arr[len] = '\0';
    return arr;
}

/* Takes the locked repositories' next positions and counts from res. */
static void repos_read(const PGresult *res, struct brepo *r, size_t n)
{
    for (int i = 0; i < PQntuples(res); i++) {
        struct brepo *b = brepo_find(r, n, (uint64_t)pg_i64(res, i, 0));
        if (b != NULL) {
            b->next_pos = pg_i64(res, i, 1);
            b->count = pg_i64(res, i, 2);
        }
    }
}

/* Moves each repository's position counter past what the batch took and
 * adds what it stored; a repository that had no events joins the ready
 * line now. *firsts: how many of those there were. */
static int repos_done(PGconn *c, const struct brepo *r, size_t n, int64_t now, int64_t *firsts)
{
    size_t cap = n * 21 + 3;
    char *ids = malloc(cap), *taken = malloc(cap), *stored = malloc(cap);
    int rc = -ENOMEM;
    if (ids == NULL || taken == NULL || stored == NULL)
        goto out;
    size_t a = 0, b = 0, d = 0;
    ids[a++] = taken[b++] = stored[d++] = '{';
    for (size_t i = 0; i < n; i++) {
        const char *sep = i > 0 ? "," : "";
        a += (size_t)snprintf(ids + a, 22, "%s%llu", sep, (unsigned long long)r[i].id);
        b += (size_t)snprintf(taken + b, 22, "%s%lld", sep, (long long)r[i].taken);
        d += (size_t)snprintf(stored + d, 22, "%s%lld", sep, (long long)r[i].stored);
        if (r[i].count == 0 && r[i].stored > 0)
            (*firsts)++; /* the repository had no events before */
    }
    ids[a++] = taken[b++] = stored[d++] = '}';
    ids[a] = taken[b] = stored[d] = '\0';
    struct pg_params p;
    pp_init(&p);
    pp_str(&p, ids);
    pp_str(&p, taken);
    pp_str(&p, stored);
    pp_i64(&p, now);
    rc = pg_defer(
        c,
        "UPDATE hq_repo r SET next_pos = r.next_pos + u.taken, count = r.count + u.stored, "
        "ready_at = CASE WHEN r.count = 0 AND u.stored > 0 THEN $4::bigint ELSE r.ready_at "
        "END FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS u(repo_id, taken, "
        "stored) WHERE r.repo_id = u.repo_id",
        &p);
out:
    free(ids);
    free(taken);
    free(stored);
    return rc;
}

#define PIPELINE_MAX 256 /* items sent before their results are read */

/* The parameters of it's statement, at place off among its repository's
 * items in the batch; *history (free it) holds its note. */
static int item_params(struct hq_enqueue *it, int64_t now, int64_t off, struct pg_params *p,
                       char **history)
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
    pp_i64(p, off);
    return 0;
}

/* Reads one item's result (id 0 for a duplicate whose first event was not
 * visible yet: lookup_late_duplicates finds it). */
static void item_result(const PGresult *res, struct hq_enqueue *it)
{
    if (!PQgetisnull(res, 0, 0)) {
        it->id = (uint64_t)pg_i64(res, 0, 0);
        return;
    }
    it->result = HQ_EDUPLICATE;
    it->id = (uint64_t)pg_i64(res, 0, 1);
}

/* Runs the lead statements (nlead, their results kept in lead[].res) and
 * items [0, n) of list, at their places off[], in one pipeline: one round
 * trip. */
static int send_items(PGconn *c, struct pg_pstmt *lead, size_t nlead, struct hq_enqueue **list,
                      const int64_t *off, size_t n, int64_t now)
{
    struct pg_pstmt *s = calloc(nlead + n, sizeof(*s));
    struct pg_params *p = malloc((n ? n : 1) * sizeof(*p));
    char **history = calloc(n ? n : 1, sizeof(*history));
    int rc = -ENOMEM;
    if (s == NULL || p == NULL || history == NULL)
        goto out;
    if (nlead > 0)
        memcpy(s, lead, nlead * sizeof(*s));
    for (size_t i = 0; i < n; i++) {
        if ((rc = item_params(list[i], now, off[i], &p[i], &history[i])) != 0)
            goto out;
        s[nlead + i].sql = ENQUEUE_SQL;
        s[nlead + i].p = &p[i];
        s[nlead + i].want = true;
    }
    if ((rc = pg_pipeline(c, s, nlead + n)) != 0)
        goto out;
    for (size_t i = 0; i < nlead; i++)
        lead[i].res = s[i].res;
    for (size_t i = 0; i < n; i++) {
        PGresult *res = s[nlead + i].res;
        if (PQntuples(res) == 1)
            item_result(res, list[i]);
        else
            rc = HQ_ESTORAGE; /* not the one row ENQUEUE_SQL answers */
        PQclear(res);
    }
out:
    if (history != NULL)
        for (size_t i = 0; i < n; i++)
            free(history[i]);
    free(history);
    free(p);
    free(s);
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

struct bitem {
    struct hq_enqueue *it;
    int64_t off;
    size_t at; /* where it arrived */
};

static int cmp_pair(const void *a, const void *b)
{
    const struct bitem *p = a, *q = b;
    if (p->it->hook_id != q->it->hook_id)
        return p->it->hook_id < q->it->hook_id ? -1 : 1;
    int d = strcmp(p->it->delivery, q->it->delivery);
    return d != 0 ? d : p->at < q->at ? -1 : p->at > q->at;
}

/* Puts the items (with their places) in (hook id, delivery) order, a pair
 * repeated within the batch in arrival order (the first is stored, the
 * others are its duplicates): the order their dedup keys are inserted, and
 * so locked, in. Every transaction takes its locks in one order
 * (repository rows by id, dedup keys by pair, counter rows by name), so two
 * enqueues, of one process or of two, wait for each other but never
 * deadlock, even when both carry the same deliveries. The places, not the
 * statements' order, give the FIFO order; the ids (nextval in statement
 * order) follow the pairs within a batch, and only increase from one
 * commit to the next. */
static int sort_by_pair(struct hq_enqueue **list, int64_t *off, size_t n)
{
    struct bitem *b = malloc((n ? n : 1) * sizeof(*b));
    if (b == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        b[i] = (struct bitem){list[i], off[i], i};
    qsort(b, n, sizeof(*b), cmp_pair);
    for (size_t i = 0; i < n; i++) {
        list[i] = b[i].it;
        off[i] = b[i].off;
    }
    free(b);
    return 0;
}

static int batch_fn(pg_queue *q, PGconn *c, void *arg)
{
    struct pg_gop *ops = arg;
    int64_t now = hq_now_ms();
    size_t n = 0, k = 0, nr = 0;
    int64_t accepted = 0, dups = 0, firsts = 0;
    for (struct pg_gop *o = ops; o != NULL; o = o->next)
        n += o->n;
    struct hq_enqueue **list = malloc((n ? n : 1) * sizeof(*list));
    int64_t *off = malloc((n ? n : 1) * sizeof(*off));
    char *arr = NULL;
    struct brepo *repos = calloc(n ? n : 1, sizeof(*repos));
    int rc = -ENOMEM;
    if (list == NULL || off == NULL || repos == NULL)
        goto out;
    for (struct pg_gop *o = ops; o != NULL; o = o->next)
        for (size_t i = 0; i < o->n; i++)
            if (o->items[i].result == 0)
                list[k++] = &o->items[i];
    /* The batch's repositories, sorted and unique; each item's place among
     * its repository's items. */
    for (size_t i = 0; i < k; i++)
        repos[i].id = list[i]->repo_id;
    qsort(repos, k, sizeof(*repos), cmp_brepo);
    for (size_t i = 0; i < k; i++)
        if (nr == 0 || repos[nr - 1].id != repos[i].id)
            repos[nr++] = repos[i];
    for (size_t i = 0; i < k; i++)
        off[i] = brepo_find(repos, nr, list[i]->repo_id)->taken++; /* a duplicate leaves a gap */
    if ((rc = sort_by_pair(list, off, k)) != 0)
        goto out;
    if (k > 0) {
        /* The repository rows created if missing and locked, then the
         * items, in one pipeline. */
        struct pg_params lp;
        struct pg_pstmt lead[2];
        pp_init(&lp);
        pp_str(&lp, arr = brepo_array(repos, nr));
        pg_lock_repos_stmts(&lp, lead);
        rc = arr == NULL ? -ENOMEM : 0;
        for (size_t i = 0; i < k && rc == 0; i += PIPELINE_MAX) {
            size_t m = k - i < PIPELINE_MAX ? k - i : PIPELINE_MAX;
            rc = send_items(c, lead, i == 0 ? 2 : 0, list + i, off + i, m, now);
            if (rc == 0 && i == 0) {
                repos_read(lead[1].res, repos, nr);
                PQclear(lead[1].res);
            }
        }
    }
    if (rc == 0)
        rc = lookup_late_duplicates(c, list, k);
    for (size_t i = 0; i < k; i++) {
        if (list[i]->result == HQ_EDUPLICATE) {
            dups++;
        } else if (list[i]->id != 0) {
            accepted++;
            brepo_find(repos, nr, list[i]->repo_id)->stored++;
        }
    }
    if (rc == 0 && nr > 0)
        rc = repos_done(c, repos, nr, now, &firsts);
out:
    free(list);
    free(off);
    free(arr);
    free(repos);
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
    if ((rc = pg_defer(c,
                       "DELETE FROM hq_dedup WHERE (hook_id, delivery) IN (SELECT hook_id, "
                       "delivery FROM hq_dedup WHERE at_ms < $1 ORDER BY at_ms LIMIT $2 FOR UPDATE "
                       "SKIP LOCKED)",
                       &p)) != 0)
        return rc;
    pg_release_before_flush();
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
        if (q->gleaders == HQ_PG_LEADERS || q->gpending == NULL) {
            pthread_cond_wait(&q->gcv, &q->gmu);
            continue;
        }
        /* Lead: take up to HQ_PG_BATCH_MAX waiting calls into one commit. */
        q->gleaders++;
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
        q->gleaders--;
        pthread_cond_broadcast(&q->gcv);
    }
    pthread_mutex_unlock(&q->gmu);
    return me.rc;
}
