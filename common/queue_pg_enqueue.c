/*
 * queue_pg_enqueue: the receiver's write on the PostgreSQL queue, group-
 * committed. Concurrent hq_queue_enqueue calls of one process queue up; the
 * first becomes the leader, takes up to HQ_PG_BATCH_MAX waiting calls and
 * runs them as one transaction in one pipeline, one round trip:
 *   BEGIN; SET LOCAL synchronous_commit TO off;
 *   the batch's repository rows created if missing and locked in repo_id
 *     order;
 *   each item as one statement (ENQUEUE_SQL: the dedup insert allocates the
 *     id, the event insert uses it at its repository's locked next position
 *     plus the item's place among the batch's items of that repository);
 *   hq_enqueue_done (schema/pg/002_calls.sql): each repository row written
 *     once, the counters, one NOTIFY;
 *   a bounded dedup prune; COMMIT;
 *   SELECT pg_logical_emit_message(true, 'hookq', 'flush').
 * (A batch of more than PIPELINE_MAX items takes a pipeline per
 * PIPELINE_MAX.) The server runs it through without waiting for the
 * client, so the repository rows stay locked for the statements only; they
 * were held across the client's turn between the second and third round
 * trips before (design §7.2 has the figures).
 *
 * Locks released before the flush: the COMMIT, with synchronous_commit off
 * for this transaction, returns once its commit record is in the WAL
 * buffers, so the rows' locks go then and the next batch of the same
 * repository runs during this one's fsync. The statement after it, a
 * transaction of its own, commits as the session says (synchronous_commit
 * on: flushed, and on a synchronous standby); its commit record comes after
 * the batch's, so its flush covers the batch, and the pipeline's answer
 * arrives only then. It must write WAL: a transaction with an id but no WAL
 * record commits without a flush (PostgreSQL's RecordTransactionCommit), so
 * pg_current_xact_id() would not do (it lost acknowledged deliveries in
 * test_acknowledged_enqueues_survive_server_crashes); a transactional
 * logical message is the smallest record there is, and logical decoding
 * consumers ignore a prefix they do not know. The batch is visible before it
 * is durable, as on LMDB: whatever another transaction does with it is
 * durable only after its own commit, whose flush covers this one.
 *
 * Every call is answered once that flush returned; a failed transaction
 * fails every call of its batch and none of their items is stored.
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

/* The repositories of a batch, sorted by id, and how many places the
 * batch gives out in each. */
struct brepo {
    uint64_t id;
    int64_t taken;
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

/* "{1,2,3}" of the repositories' ids (taken: of their places); NULL
 * without memory. */
static char *brepo_array(const struct brepo *r, size_t n, bool taken)
{
    char *arr = malloc(n * 21 + 3);
    if (arr == NULL)
        return NULL;
    size_t len = 0;
    arr[len++] = '{';
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(arr + len, 22, "%s%lld", i > 0 ? "," : "",
                                taken ? (long long)r[i].taken : (long long)r[i].id);
    arr[len++] = '}';
    arr[len] = '\0';
    return arr;
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

/* Runs the lead statements (nlead), items [0, n) of list at their places
 * off[], and the tail statements (ntail) in one pipeline: one round trip. */
static int send_items(PGconn *c, const struct pg_pstmt *lead, size_t nlead,
                      const struct pg_pstmt *tail, size_t ntail, struct hq_enqueue **list,
                      const int64_t *off, size_t n, int64_t now)
{
    struct pg_pstmt *s = calloc(nlead + n + ntail, sizeof(*s));
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
    if (ntail > 0)
        memcpy(s + nlead + n, tail, ntail * sizeof(*s));
    if ((rc = pg_pipeline(c, s, nlead + n + ntail)) != 0)
        goto out;
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
    for (struct pg_gop *o = ops; o != NULL; o = o->next)
        n += o->n;
    struct hq_enqueue **list = malloc((n ? n : 1) * sizeof(*list));
    int64_t *off = malloc((n ? n : 1) * sizeof(*off));
    char *ids = NULL, *taken = NULL;
    struct brepo *repos = calloc(n ? n : 1, sizeof(*repos));
    int rc = -ENOMEM;
    if (list == NULL || off == NULL || repos == NULL)
        goto out;
    for (struct pg_gop *o = ops; o != NULL; o = o->next)
        for (size_t i = 0; i < o->n; i++)
            if (o->items[i].result == 0)
                list[k++] = &o->items[i];
    rc = 0;
    if (k == 0)
        goto out; /* every item already failed: nothing to write */
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
    ids = brepo_array(repos, nr, false);
    taken = brepo_array(repos, nr, true);
    if (ids == NULL || taken == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    struct pg_params lp, dp, pp;
    pp_init(&lp);
    pp_str(&lp, ids);
    struct pg_pstmt lead[4] = {{.sql = "BEGIN"}, {.sql = "SET LOCAL synchronous_commit TO off"}};
    pg_lock_repos_stmts(&lp, lead + 2);
    lead[3].want = false;
    pp_init(&dp);
    pp_str(&dp, ids);
    pp_str(&dp, taken);
    pp_i64(&dp, (int64_t)k);
    pp_i64(&dp, now);
    pp_str(&dp, HQ_PG_CHANNEL);
    pp_init(&pp);
    pp_i64(&pp, now - q->opts.dedup_window_ms);
    pp_i64(&pp, HQ_PG_DEDUP_PRUNE);
    const struct pg_pstmt tail[4] = {
        {.sql = "SELECT hq_enqueue_done($1::bigint[], $2::bigint[], $3, $4, $5)", .p = &dp},
        {.sql = "DELETE FROM hq_dedup WHERE (hook_id, delivery) IN (SELECT hook_id, delivery "
                "FROM hq_dedup WHERE at_ms < $1 ORDER BY at_ms LIMIT $2 FOR UPDATE SKIP LOCKED)",
         .p = &pp},
        {.sql = "COMMIT"},
        {.sql = "SELECT pg_logical_emit_message(true, 'hookq', 'flush')"},
    };
    for (size_t i = 0; i < k && rc == 0; i += PIPELINE_MAX) {
        size_t m = k - i < PIPELINE_MAX ? k - i : PIPELINE_MAX;
        bool first = i == 0, last = i + m == k;
        rc = send_items(c, lead, first ? 4 : 0, tail, last ? 4 : 0, list + i, off + i, m, now);
    }
    /* After the commit: a duplicate whose first event another transaction
     * committed meanwhile learns that event's id (read on its own). The
     * batch is stored by now, so a failed read leaves that id 0 and fails
     * nothing. */
    if (rc == 0)
        (void)lookup_late_duplicates(c, list, k);
out:
    free(list);
    free(off);
    free(ids);
    free(taken);
    free(repos);
    return rc;
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
        int rc = pg_tx_whole(q, nops, batch_fn, batch);
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
