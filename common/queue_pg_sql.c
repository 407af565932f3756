/*
 * queue_pg_sql: statement helpers of the PostgreSQL queue (parameters,
 * SQLSTATE mapping, event rows) and the few row-level steps several
 * operations share (counters, appending an event, locking repositories).
 * Every function runs on a connection inside the caller's transaction.
 */
#include "queue_pg_int.h"

#include <libpq-events.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pp_init(struct pg_params *p)
{
    memset(p, 0, sizeof(*p));
}

void pp_i64(struct pg_params *p, int64_t v)
{
    snprintf(p->num[p->n], sizeof(p->num[p->n]), "%lld", (long long)v);
    p->v[p->n] = p->num[p->n];
    p->n++;
}

void pp_str(struct pg_params *p, const char *s)
{
    p->v[p->n++] = s != NULL ? s : "";
}

void pp_bin(struct pg_params *p, const void *data, size_t len)
{
    p->v[p->n] = data != NULL ? data : "";
    p->len[p->n] = (int)len;
    p->fmt[p->n] = 1;
    p->n++;
}

void pp_event(struct pg_params *p, const struct hq_event *ev)
{
    pp_i64(p, (int64_t)ev->id);
    pp_i64(p, (int64_t)ev->repo_id);
    pp_i64(p, (int64_t)ev->hook_id);
    pp_i64(p, (int64_t)ev->installation_id);
    pp_i64(p, ev->received_at_ms);
    pp_i64(p, ev->not_before_ms);
    pp_i64(p, ev->attempts);
    pp_i64(p, ev->step);
    pp_i64(p, ev->check_state);
    pp_i64(p, (int64_t)ev->check_run_id);
    pp_str(p, ev->repo_name);
    pp_str(p, ev->delivery);
    pp_str(p, ev->event);
    pp_str(p, ev->action);
    pp_str(p, ev->check_desc);
    pp_str(p, ev->history);
}

static int map_state(const char *st)
{
    if (st == NULL)
        return HQ_ESTORAGE; /* no SQLSTATE: the connection broke */
    if (strcmp(st, "23505") == 0)
        return HQ_EDUPLICATE;
    if (strcmp(st, "53100") == 0)
        return HQ_EFULL;
    if (strcmp(st, "XX001") == 0)
        return HQ_ECORRUPT; /* data_corrupted: the schema's functions say so too */
    if (strcmp(st, "42501") == 0 || strncmp(st, "28", 2) == 0)
        return -EACCES;
    return HQ_ESTORAGE;
}

/* What a connection has prepared: the hashes of the texts. */
struct pg_cdata {
    size_t n;
    uint64_t hash[HQ_PG_PREPARED_MAX];
};

static int pg_evproc(PGEventId id, void *info, void *arg)
{
    (void)arg;
    switch (id) {
    case PGEVT_REGISTER: {
        PGconn *c = ((PGEventRegister *)info)->conn;
        struct pg_cdata *d = calloc(1, sizeof(*d));
        return d != NULL && PQsetInstanceData(c, pg_evproc, d) == 1;
    }
    case PGEVT_CONNRESET: { /* a new session: nothing is prepared in it */
        struct pg_cdata *d = PQinstanceData(((PGEventConnReset *)info)->conn, pg_evproc);
        if (d != NULL)
            d->n = 0;
        return 1;
    }
    case PGEVT_CONNDESTROY:
        free(PQinstanceData(((PGEventConnDestroy *)info)->conn, pg_evproc));
        return 1;
    default: return 1;
    }
}

void pg_conn_register(PGconn *c)
{
    /* Without it (no memory) statements simply run unprepared. */
    (void)PQregisterEventProc(c, pg_evproc, "hookq", NULL);
}

int pg_prepare(PGconn *c, const char *sql, char name[24])
{
    name[0] = '\0';
    struct pg_cdata *d = PQinstanceData(c, pg_evproc);
    if (d == NULL)
        return 0;
    uint64_t h = 14695981039346656037ull; /* FNV-1a */
    for (const unsigned char *s = (const unsigned char *)sql; *s != '\0'; s++)
        h = (h ^ *s) * 1099511628211ull;
    size_t i = 0;
    while (i < d->n && d->hash[i] != h)
        i++;
    if (i == d->n && d->n == HQ_PG_PREPARED_MAX)
        return 0;
    char n[24];
    snprintf(n, sizeof(n), "hq_%016llx", (unsigned long long)h);
    if (i == d->n) {
        PGresult *r = PQprepare(c, n, sql, 0, NULL);
        int rc = r != NULL && PQresultStatus(r) == PGRES_COMMAND_OK
                     ? 0
                     : map_state(r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL);
        PQclear(r);
        if (rc != 0)
            return rc;
        d->hash[d->n++] = h;
    }
    memcpy(name, n, sizeof(n));
    return 0;
}

int pg_exec(PGconn *c, const char *sql, const struct pg_params *p, PGresult **res)
{
    *res = NULL;
    char name[24];
    int prc = pg_prepare(c, sql, name);
    if (prc != 0)
        return prc;
    int n = p != NULL ? p->n : 0;
    const char *const *v = p != NULL ? p->v : NULL;
    const int *len = p != NULL ? p->len : NULL, *fmt = p != NULL ? p->fmt : NULL;
    PGresult *r = name[0] != '\0' ? PQexecPrepared(c, name, n, v, len, fmt, 0)
                                  : PQexecParams(c, sql, n, NULL, v, len, fmt, 0);
    ExecStatusType s = r != NULL ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
        *res = r;
        return 0;
    }
    int rc = map_state(r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL);
    PQclear(r);
    return rc;
}

int pg_run(PGconn *c, const char *sql, const struct pg_params *p)
{
    PGresult *r;
    int rc = pg_exec(c, sql, p, &r);
    PQclear(r);
    return rc;
}

int64_t pg_i64(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return 0;
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static int dup_col(const PGresult *r, int row, int col, char **out)
{
    *out = strdup(PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
    return *out != NULL ? 0 : -ENOMEM;
}

int pg_ev_from_row(const PGresult *r, int row, struct hq_event **out)
{
    struct hq_event *ev = calloc(1, sizeof(*ev));
    if (ev == NULL)
        return -ENOMEM;
    ev->id = (uint64_t)pg_i64(r, row, 0);
    ev->repo_id = (uint64_t)pg_i64(r, row, 1);
    ev->hook_id = (uint64_t)pg_i64(r, row, 2);
    ev->installation_id = (uint64_t)pg_i64(r, row, 3);
    ev->received_at_ms = pg_i64(r, row, 4);
    ev->not_before_ms = pg_i64(r, row, 5);
    ev->attempts = (uint32_t)pg_i64(r, row, 6);
    ev->step = (uint32_t)pg_i64(r, row, 7);
    ev->check_state = (uint32_t)pg_i64(r, row, 8);
    ev->check_run_id = (uint64_t)pg_i64(r, row, 9);
    ev->dead_at_ms = pg_i64(r, row, 16);
    int rc = -ENOMEM;
    if (dup_col(r, row, 10, &ev->repo_name) || dup_col(r, row, 11, &ev->delivery) ||
        dup_col(r, row, 12, &ev->event) || dup_col(r, row, 13, &ev->action) ||
        dup_col(r, row, 14, &ev->check_desc) || dup_col(r, row, 15, &ev->history) ||
        dup_col(r, row, 17, &ev->reason))
        goto fail;
    if (PQnfields(r) > 18 && !PQgetisnull(r, row, 18)) {
        size_t len = 0;
        unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, 18), &len);
        if (raw == NULL)
            goto fail;
        ev->payload = malloc(len + 1);
        if (ev->payload == NULL) {
            PQfreemem(raw);
            goto fail;
        }
        memcpy(ev->payload, raw, len);
        ev->payload[len] = '\0';
        ev->payload_len = len;
        PQfreemem(raw);
    }
    *out = ev;
    return 0;
fail:
    hq_event_free(ev);
    return rc;
}

int pg_pipeline(PGconn *c, struct pg_pstmt *s, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        s[i].res = NULL;
        if ((rc = pg_prepare(c, s[i].sql, s[i].name)) != 0)
            return rc;
    }
    if (PQenterPipelineMode(c) != 1)
        return HQ_ESTORAGE;
    size_t sent = 0;
    for (; sent < n; sent++) {
        const struct pg_params *p = s[sent].p;
        int np = p != NULL ? p->n : 0;
        const char *const *v = p != NULL ? p->v : NULL;
        const int *len = p != NULL ? p->len : NULL, *fmt = p != NULL ? p->fmt : NULL;
        int ok = s[sent].name[0] != '\0'
                     ? PQsendQueryPrepared(c, s[sent].name, np, v, len, fmt, 0)
                     : PQsendQueryParams(c, s[sent].sql, np, NULL, v, len, fmt, 0);
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
        if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
            if (s[i].want) {
                s[i].res = res;
                res = NULL;
            }
        } else if (rc == 0) { /* the first failure; the rest were not run */
            rc = map_state(res != NULL && st != PGRES_PIPELINE_ABORTED
                               ? PQresultErrorField(res, PG_DIAG_SQLSTATE)
                               : NULL);
        }
        bool got = res != NULL || s[i].res != NULL;
        PQclear(res);
        if (got)
            PQclear(PQgetResult(c)); /* the NULL that ends this statement's results */
    }
    /* The statements after the last COMMIT (the flush of a transaction
     * whose locks went before it) commit at the Sync, after their results
     * were sent: only its answer says they did. A connection lost before
     * it (the server crashed in between) is a failure, whatever the
     * statements answered. */
    PGresult *sync;
    bool synced = false;
    while ((sync = PQgetResult(c)) != NULL) {
        synced = PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
        PQclear(sync);
        if (synced)
            break;
    }
    if (!synced && rc == 0)
        rc = HQ_ESTORAGE;
    if (PQexitPipelineMode(c) != 1 && rc == 0)
        rc = HQ_ESTORAGE;
    if (rc != 0)
        for (size_t i = 0; i < n; i++) {
            PQclear(s[i].res);
            s[i].res = NULL;
        }
    return rc;
}

/* The counters and figures of hq_counter, in name order: the order their
 * rows are locked in by the counters' statement, the same in every
 * transaction, so two never wait for each other in a cycle. */
static const char *const counter_names[PG_NCOUNTERS] = {
    "dead",           "dead_total", "done_total",   "duplicates_total",
    "enqueued_total", "queued",     "repositories",
};

/* A statement held back until COMMIT (pg_defer): its parameters copied. */
struct pg_deferred {
    struct pg_deferred *next;
    const char *sql;
    struct pg_params p;
    char data[]; /* the values p.v point into */
};

/* What the transaction this thread runs (pg_tx runs one at a time per
 * thread) keeps for its commit: counter deltas, held-back statements, and
 * whether it wakes workers. */
static _Thread_local int64_t counter_delta[PG_NCOUNTERS];
static _Thread_local struct pg_deferred *deferred, *deferred_last;
static _Thread_local bool notify;
static _Thread_local bool early_release;

void pg_tx_reset(void)
{
    memset(counter_delta, 0, sizeof(counter_delta));
    while (deferred != NULL) {
        struct pg_deferred *d = deferred;
        deferred = d->next;
        free(d);
    }
    deferred_last = NULL;
    notify = false;
    early_release = false;
}

void pg_release_before_flush(void)
{
    early_release = true;
}

int pg_counter_shard(PGconn *c)
{
    return PQbackendPID(c) % 16;
}

int pg_counter_add(PGconn *c, const char *name, int64_t n)
{
    (void)c;
    for (int i = 0; i < PG_NCOUNTERS; i++) {
        if (strcmp(counter_names[i], name) == 0) {
            counter_delta[i] += n;
            return 0;
        }
    }
    return -EINVAL;
}

int pg_notify_ready(PGconn *c)
{
    (void)c;
    notify = true;
    return 0;
}

int pg_defer(PGconn *c, const char *sql, const struct pg_params *p)
{
    (void)c;
    size_t size = 0;
    for (int i = 0; i < p->n; i++)
        size += p->fmt[i] ? (size_t)p->len[i] : strlen(p->v[i]) + 1;
    struct pg_deferred *d = malloc(sizeof(*d) + size);
    if (d == NULL)
        return -ENOMEM;
    d->next = NULL;
    d->sql = sql;
    d->p = *p;
    char *at = d->data;
    for (int i = 0; i < p->n; i++) {
        size_t len = p->fmt[i] ? (size_t)p->len[i] : strlen(p->v[i]) + 1;
        memcpy(at, p->v[i], len);
        d->p.v[i] = at;
        at += len;
    }
    if (deferred_last != NULL)
        deferred_last->next = d;
    else
        deferred = d;
    deferred_last = d;
    return 0;
}

int pg_commit(PGconn *c, bool write)
{
    struct pg_params cp;
    char csql[1024];
    size_t n = 0, len = 0;
    for (struct pg_deferred *d = deferred; d != NULL; d = d->next)
        n++;
    struct pg_pstmt *s = calloc(n + 5, sizeof(*s));
    if (s == NULL) {
        pg_tx_reset();
        (void)pg_run(c, "ROLLBACK", NULL);
        return -ENOMEM;
    }
    n = 0;
    /* Locks released before the flush (pg_release_before_flush): COMMIT
     * returns once its record is in the WAL, and the statement after it, a
     * transaction of its own, commits as the session says (synchronous_commit
     * on: flushed, and on a synchronous standby); its commit record comes
     * after this one, so its flush covers this commit, and the pipeline's
     * answer arrives only then. That transaction must write WAL: one with an
     * id but no WAL record of its own commits without a flush (PostgreSQL's
     * RecordTransactionCommit), so pg_current_xact_id() would not do; a
     * transactional logical message is the smallest record there is, and
     * logical decoding consumers ignore a prefix they do not know. */
    bool early = early_release && write;
    if (early)
        s[n++].sql = "SET LOCAL synchronous_commit TO off";
    for (struct pg_deferred *d = deferred; d != NULL; d = d->next) {
        s[n].sql = d->sql;
        s[n++].p = &d->p;
    }
    /* The counters: one statement, one shard per transaction. */
    pp_init(&cp);
    pp_i64(&cp, pg_counter_shard(c));
    len +=
        (size_t)snprintf(csql, sizeof(csql), "INSERT INTO hq_counter (name, shard, value) VALUES ");
    for (int i = 0; i < PG_NCOUNTERS && write; i++) {
        if (counter_delta[i] == 0)
            continue;
        pp_str(&cp, counter_names[i]);
        pp_i64(&cp, counter_delta[i]);
        len += (size_t)snprintf(csql + len, sizeof(csql) - len, "%s($%d, $1, $%d::bigint)",
                                cp.n > 3 ? ", " : "", cp.n - 1, cp.n);
    }
    if (cp.n > 1) {
        snprintf(csql + len, sizeof(csql) - len,
                 " ON CONFLICT (name, shard) DO UPDATE SET value = hq_counter.value + "
                 "excluded.value");
        s[n].sql = csql;
        s[n++].p = &cp;
    }
    if (notify && write)
        s[n++].sql = "SELECT pg_notify('" HQ_PG_CHANNEL "', '')";
    s[n++].sql = "COMMIT";
    if (early)
        s[n++].sql = "SELECT pg_logical_emit_message(true, 'hookq', 'flush')";
    int rc = pg_pipeline(c, s, n);
    free(s);
    pg_tx_reset();
    if (rc != 0 && PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) != PQTRANS_IDLE)
        (void)pg_run(c, "ROLLBACK", NULL);
    return rc;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void pg_lock_repos_stmts(const struct pg_params *p, struct pg_pstmt st[2])
{
    /* Inserted and then locked in repo_id order: two batches touching the
     * same repositories wait for each other, never deadlock. */
    st[0] = (struct pg_pstmt){.sql = "INSERT INTO hq_repo (repo_id) SELECT x FROM "
                                     "unnest($1::bigint[]) x ORDER BY x ON CONFLICT DO NOTHING",
                              .p = p};
    st[1] = (struct pg_pstmt){.sql = "SELECT repo_id, next_pos, count FROM hq_repo WHERE repo_id "
                                     "= ANY($1::bigint[]) ORDER BY repo_id FOR UPDATE",
                              .p = p,
                              .want = true};
}

int pg_lock_repos(PGconn *c, const uint64_t *ids, size_t n)
{
    int rc = -ENOMEM;
    uint64_t *s = malloc((n ? n : 1) * sizeof(*s));
    char *arr = malloc(n * 21 + 3);
    if (s == NULL || arr == NULL)
        goto out;
    memcpy(s, ids, n * sizeof(*s));
    qsort(s, n, sizeof(*s), cmp_u64);
    size_t len = 0;
    arr[len++] = '{';
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && s[i] == s[i - 1])
            continue;
        len += (size_t)snprintf(arr + len, 22, "%s%lld", len > 1 ? "," : "", (long long)s[i]);
    }
    arr[len++] = '}';
    arr[len] = '\0';
    struct pg_params p;
    struct pg_pstmt st[2];
    pp_init(&p);
    pp_str(&p, arr);
    pg_lock_repos_stmts(&p, st);
    st[1].want = false;
    rc = pg_pipeline(c, st, 2);
out:
    free(s);
    free(arr);
    return rc;
}

int pg_append_event(PGconn *c, const struct hq_event *ev, int64_t now)
{
    int rc;
    if ((rc = pg_lock_repos(c, &ev->repo_id, 1)) != 0)
        return rc;
    struct pg_params p;
    pp_init(&p);
    pp_event(&p, ev);
    pp_bin(&p, ev->payload, ev->payload_len);
    pp_i64(&p, ev->not_before_ms > now ? ev->not_before_ms : now);
    PGresult *res;
    rc = pg_exec(c,
                 "WITH r AS (UPDATE hq_repo SET next_pos = next_pos + 1, count = count + 1, "
                 "ready_at = CASE WHEN count = 0 THEN $18::bigint ELSE ready_at END "
                 "WHERE repo_id = $2 RETURNING next_pos - 1 AS pos, count), "
                 "e AS (INSERT INTO hq_event (id, repo_id, pos, hook_id, installation_id, "
                 "received_at, not_before, attempts, step, check_state, check_run_id, repo_name, "
                 "delivery, event, action, check_desc, history, payload) "
                 "SELECT $1, $2, r.pos, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, "
                 "$15, $16, $17 FROM r RETURNING id) "
                 "SELECT (SELECT count FROM r)",
                 &p, &res);
    if (rc != 0)
        return rc;
    bool first = pg_i64(res, 0, 0) == 1;
    PQclear(res);
    if ((rc = pg_counter_add(c, "queued", 1)) != 0)
        return rc;
    return first ? pg_counter_add(c, "repositories", 1) : 0;
}
