/*
 * queue_pg: the PostgreSQL backend of queue.h (hq_queue_pg_backend): every
 * HOOKQ_DB that is a postgresql:// or postgres:// URI (libpq's syntax; its
 * environment and files, PGPASSFILE and service files, work as usual).
 *
 * DESIGN. The handle holds HQ_PG_POOL connections, each used by one thread
 * at a time (libpq's rule); an operation takes a free one (or waits for
 * one), runs one transaction on it (pg_tx) and gives it back. Enqueues from
 * concurrent threads are combined into one transaction (queue_pg_ops.c).
 * A connection found broken is dropped; the next call reconnects, no sooner
 * than its backoff (100 ms doubling to 5 s) allows, and fails with
 * HQ_ESTORAGE until the server answers again: the receiver turns that into
 * 503 with Retry-After, the worker into a pause, as for LMDB's storage
 * errors. No transaction stays open between two calls, so none is open
 * while a caller runs a check or calls GitHub.
 *
 * Wake-ups: every commit that made work ready runs NOTIFY hookq_wake (one
 * per commit: PostgreSQL folds equal notifications of a transaction). A
 * listener thread per process, started by the first hq_queue_wait (a
 * receiver, which never waits, has none), holds one more connection with
 * LISTEN, waits on its socket and bumps the process's wake sequence for each
 * notification; each time LISTEN starts (the first time and after a
 * reconnect) it bumps it once, so waiters sweep for what they may have
 * missed. Commits of this process bump it at once too.
 *
 * Schema: schema/pg/NNN_*.sql, embedded at build time (embed_sql.cmake).
 * The open reads hq_schema; a newer version than this code's is HQ_ESCHEMA;
 * an empty database (or an older schema) gets the missing files applied in
 * order in one transaction under an advisory lock, so two processes
 * starting at once apply them once.
 */
#include "queue_pg_int.h"
#include "clock.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static void nap_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* server notices (a shutdown's WARNING): not ours to print */
}

/* A new connection to the queue's database; check PQstatus. Defaults the
 * URI may override: give up connecting after 10 s (an unreachable host
 * would hold a pool slot for the kernel's TCP timeout otherwise), and TCP
 * keepalives that notice a vanished server within about a minute (the
 * listener waits on its socket for hours at a time). */
static PGconn *connect_db(const pg_queue *q)
{
    static const char *const keys[] = {"connect_timeout",  "keepalives_idle", "keepalives_interval",
                                       "keepalives_count", "dbname",          NULL};
    const char *vals[] = {"10", "30", "10", "3", q->db, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (c != NULL) {
        PQsetNoticeProcessor(c, quiet, NULL);
        pg_conn_register(c);
    }
    return c;
}

static bool pg_accepts(const char *db)
{
    return strncasecmp(db, "postgresql://", 13) == 0 || strncasecmp(db, "postgres://", 11) == 0;
}

int pg_connect_err(PGconn *c)
{
    const char *m = c != NULL ? PQerrorMessage(c) : "";
    if (strstr(m, "password authentication failed") != NULL ||
        strstr(m, "no password supplied") != NULL || strstr(m, "permission denied") != NULL ||
        strstr(m, "no pg_hba.conf entry") != NULL)
        return -EACCES;
    if (strstr(m, "does not exist") != NULL)
        return -ENOENT; /* the database (or role) named in the URI */
    return HQ_ESTORAGE;
}

/* Session settings of every operations connection. */
static int conn_setup(pg_queue *q, PGconn *c)
{
    if (q->opts.no_sync && pg_run(c, "SET synchronous_commit = off", NULL) != 0)
        return HQ_ESTORAGE;
    if (q->opts.read_only && pg_run(c, "SET default_transaction_read_only = on", NULL) != 0)
        return HQ_ESTORAGE;
    return 0;
}

/* Whether this idle connection is to be replaced: the server closed it (a
 * restart, an administrator's pg_terminate_backend), and its farewell and
 * the end of the stream wait on the socket. Without this a dropped
 * connection looks fine until a statement fails on it, and a failed
 * statement that was a whole transaction (pg_call) may or may not have
 * committed. A pooled connection between two calls is sent nothing else
 * that matters (it never LISTENs), so anything to read counts: at worst a
 * server notice costs one reconnect. One poll, no round trip. */
static bool conn_dropped(PGconn *c)
{
    struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};
    if (pfd.fd < 0)
        return true;
    return poll(&pfd, 1, 0) != 0;
}

/* Connects k (locked) unless it is connected and not dropped; HQ_ESTORAGE,
 * with the backoff moved on, when the server does not answer or the
 * backoff has not run out. */
static int conn_ensure(pg_queue *q, struct pg_conn *k)
{
    if (k->c != NULL && PQstatus(k->c) == CONNECTION_OK && !conn_dropped(k->c))
        return 0;
    int64_t now = hq_mono_ms();
    if (now < k->retry_at)
        return HQ_ESTORAGE;
    PQfinish(k->c);
    k->c = connect_db(q);
    if (PQstatus(k->c) != CONNECTION_OK || conn_setup(q, k->c) != 0) {
        PQfinish(k->c);
        k->c = NULL;
        k->backoff_ms = k->backoff_ms == 0 ? 100 : k->backoff_ms * 2;
        if (k->backoff_ms > 5000)
            k->backoff_ms = 5000;
        k->retry_at = now + k->backoff_ms;
        return HQ_ESTORAGE;
    }
    k->backoff_ms = 0;
    return 0;
}

static void conn_put(pg_queue *q, struct pg_conn *k)
{
    if (k->c != NULL && PQstatus(k->c) != CONNECTION_OK) {
        PQfinish(k->c);
        k->c = NULL; /* the next user reconnects */
    }
    pthread_mutex_unlock(&k->mu);
    pthread_mutex_lock(&q->pmu);
    k->busy = false;
    pthread_cond_signal(&q->pcv);
    pthread_mutex_unlock(&q->pmu);
}

/* Takes a pool connection, connected (conn_ensure); *pc is locked on
 * success. */
static int conn_get(pg_queue *q, struct pg_conn **pc)
{
    unsigned start = atomic_fetch_add(&q->next_conn, 1);
    struct pg_conn *k = NULL;
    /* Any free connection; when all are taken, wait for one to come back
     * (never for a particular one: the caller may hold one itself, in a
     * listing whose callback calls the queue). */
    pthread_mutex_lock(&q->pmu);
    while (k == NULL) {
        for (unsigned i = 0; i < HQ_PG_POOL && k == NULL; i++) {
            struct pg_conn *t = &q->pool[(start + i) % HQ_PG_POOL];
            if (!t->busy) {
                t->busy = true;
                k = t;
            }
        }
        if (k == NULL)
            pthread_cond_wait(&q->pcv, &q->pmu);
    }
    pthread_mutex_unlock(&q->pmu);
    pthread_mutex_lock(&k->mu);
    int rc = conn_ensure(q, k);
    if (rc != 0) {
        conn_put(q, k);
        return rc;
    }
    *pc = k;
    return 0;
}

int pg_tx(pg_queue *q, bool write, bool snapshot, pg_txfn fn, void *arg)
{
    return pg_tx_ops(q, write, snapshot, 1, fn, arg);
}

/* A write transaction's figures for hq_queue_commit_stats. */
static void count_commit(pg_queue *q, uint64_t nops, int rc, int64_t t0)
{
    pthread_mutex_lock(&q->smu);
    q->cstats.commits++;
    q->cstats.ops += nops;
    if (rc != 0 && rc != HQ_ENOTREADY && rc != HQ_ELEASELOST && rc != HQ_ENOTFOUND &&
        rc != HQ_EDUPLICATE)
        q->cstats.failures++;
    q->cstats.commit_seconds_sum += (double)(hq_mono_ms() - t0) / 1000.0;
    pthread_mutex_unlock(&q->smu);
}

int pg_call(pg_queue *q, const char *sql, const struct pg_params *p, PGresult **res)
{
    struct pg_conn *k;
    *res = NULL;
    if (q->opts.read_only)
        return -EROFS;
    int64_t t0 = hq_mono_ms();
    int rc = conn_get(q, &k);
    if (rc == 0) {
        if (q->commit_hook != NULL)
            rc = q->commit_hook(q->commit_hook_arg);
        if (rc == 0)
            rc = pg_exec(k->c, sql, p, res);
        conn_put(q, k);
    }
    count_commit(q, 1, rc, t0);
    return rc;
}

int pg_tx_ops(pg_queue *q, bool write, bool snapshot, uint64_t nops, pg_txfn fn, void *arg)
{
    struct pg_conn *k;
    if (write && q->opts.read_only)
        return -EROFS;
    int64_t t0 = hq_mono_ms();
    int rc = conn_get(q, &k);
    if (rc != 0)
        goto stats;
    const char *begin = snapshot ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
                        : write  ? "BEGIN"
                                 : "BEGIN READ ONLY";
    /* (A connection the server dropped while idle was replaced by
     * conn_get: see conn_dropped.) */
    if ((rc = pg_run(k->c, begin, NULL)) != 0)
        goto put;
    pg_tx_reset();
    rc = fn(q, k->c, arg);
    if ((rc == 0 || rc == HQ_ENOTREADY) && write && q->commit_hook != NULL) {
        int h = q->commit_hook(q->commit_hook_arg);
        if (h != 0)
            rc = h;
    }
    if (rc == 0 || rc == HQ_ENOTREADY) {
        /* The held-back statements, the counters, NOTIFY and COMMIT. */
        int c = pg_commit(k->c, write);
        if (c != 0)
            rc = c == HQ_EDUPLICATE ? HQ_ESTORAGE : c; /* not committed: nothing stored */
    } else {
        pg_tx_reset();
        (void)pg_run(k->c, "ROLLBACK", NULL);
    }
put:
    conn_put(q, k);
stats:
    if (write)
        count_commit(q, nops, rc, t0);
    return rc;
}

void pg_wake_local(pg_queue *q)
{
    pthread_mutex_lock(&q->wmu);
    q->seq++;
    pthread_cond_broadcast(&q->wcv);
    pthread_mutex_unlock(&q->wmu);
}

static void *listen_main(void *arg)
{
    pg_queue *q = arg;
    PGconn *c = NULL;
    int64_t backoff = 100;
    while (!atomic_load(&q->stop)) {
        if (c == NULL || PQstatus(c) != CONNECTION_OK) {
            PQfinish(c);
            c = connect_db(q);
            PGresult *r = PQstatus(c) == CONNECTION_OK ? PQexec(c, "LISTEN " HQ_PG_CHANNEL) : NULL;
            bool ok = r != NULL && PQresultStatus(r) == PGRES_COMMAND_OK;
            PQclear(r);
            if (!ok) {
                PQfinish(c);
                c = NULL;
                for (int64_t w = 0; w < backoff && !atomic_load(&q->stop); w += 50)
                    nap_ms(50);
                backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
                continue;
            }
            backoff = 100;
            /* The sweep: what committed before this LISTEN (the first one,
             * or after a reconnect) sent notifications nobody heard. */
            pg_wake_local(q);
        }
        struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};
        if (poll(&pfd, 1, 200) < 0)
            continue;
        if (!PQconsumeInput(c)) {
            PQfinish(c);
            c = NULL;
            continue;
        }
        PGnotify *n;
        bool any = false;
        while ((n = PQnotifies(c)) != NULL) {
            any = true;
            PQfreemem(n);
        }
        if (any)
            pg_wake_local(q);
    }
    PQfinish(c);
    return NULL;
}

/* ---- schema ---- */

static int schema_version(PGconn *c, int *version)
{
    PGresult *r;
    int rc = pg_exec(c, "SELECT to_regclass('hq_schema') IS NOT NULL", NULL, &r);
    if (rc != 0)
        return rc;
    bool exists = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    *version = 0;
    if (!exists)
        return 0;
    if ((rc = pg_exec(c, "SELECT coalesce(max(version), 0) FROM hq_schema", NULL, &r)) != 0)
        return rc;
    *version = (int)pg_i64(r, 0, 0);
    PQclear(r);
    return 0;
}

/* Creates or upgrades the schema (o allows it), or checks it. */
static int schema_ensure(pg_queue *q, PGconn *c)
{
    int latest = hq_pg_migrations[hq_pg_migration_count - 1].version;
    int v, rc;
    if ((rc = schema_version(c, &v)) != 0)
        return rc;
    if (v > latest)
        return HQ_ESCHEMA;
    if (v == latest)
        return 0;
    if (v == 0 && (q->opts.read_only || q->opts.no_create))
        return -ENOENT; /* nothing is created */
    if (q->opts.read_only)
        return HQ_ESCHEMA; /* older: it cannot be brought up to date read-only */
    /* A session lock taken before the transaction: the transaction then
     * starts with a fresh view of the catalog, and sees the tables another
     * process created while this one waited. */
    struct pg_params p;
    pp_init(&p);
    pp_i64(&p, HQ_PG_SCHEMA_LOCK);
    if ((rc = pg_run(c, "SELECT pg_advisory_lock($1)", &p)) != 0)
        return rc;
    if ((rc = pg_run(c, "BEGIN", NULL)) != 0)
        goto unlock;
    if ((rc = schema_version(c, &v)) != 0)
        goto abort;
    if (v > latest) {
        rc = HQ_ESCHEMA;
        goto abort;
    }
    for (size_t i = 0; i < hq_pg_migration_count; i++) {
        if (hq_pg_migrations[i].version <= v)
            continue;
        PGresult *r = PQexec(c, hq_pg_migrations[i].sql);
        bool ok = r != NULL && PQresultStatus(r) == PGRES_COMMAND_OK;
        const char *st = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
        rc = ok ? 0 : (st != NULL && strcmp(st, "42501") == 0) ? -EACCES : HQ_ESTORAGE;
        PQclear(r);
        if (rc != 0)
            goto abort;
        struct pg_params pv;
        pp_init(&pv);
        pp_i64(&pv, hq_pg_migrations[i].version);
        if ((rc = pg_run(c, "INSERT INTO hq_schema (version) VALUES ($1)", &pv)) != 0)
            goto abort;
    }
    rc = pg_run(c, "COMMIT", NULL);
    goto unlock;
abort:
    (void)pg_run(c, "ROLLBACK", NULL);
unlock:
    (void)pg_run(c, "SELECT pg_advisory_unlock($1)", &p);
    return rc;
}

static void pg_close(void *h)
{
    pg_queue *q = h;
    if (q == NULL)
        return;
    pthread_mutex_lock(&q->wmu);
    bool listening = q->has_listener;
    pthread_mutex_unlock(&q->wmu);
    if (listening) {
        atomic_store(&q->stop, true);
        pthread_join(q->listener, NULL);
    }
    for (int i = 0; i < HQ_PG_POOL; i++) {
        PQfinish(q->pool[i].c);
        pthread_mutex_destroy(&q->pool[i].mu);
    }
    pthread_mutex_destroy(&q->pmu);
    pthread_cond_destroy(&q->pcv);
    pthread_mutex_destroy(&q->gmu);
    pthread_cond_destroy(&q->gcv);
    pthread_mutex_destroy(&q->smu);
    pthread_mutex_destroy(&q->wmu);
    pthread_cond_destroy(&q->wcv);
    free(q->db);
    free(q);
}

static int pg_open(const struct hq_queue_opts *o, void **h)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(o->db, &err);
    if (opts == NULL) {
        PQfreemem(err);
        return HQ_ECONFIG; /* malformed URI */
    }
    PQconninfoFree(opts);
    pg_queue *q = calloc(1, sizeof(*q));
    if (q == NULL || (q->db = strdup(o->db)) == NULL) {
        free(q);
        return -ENOMEM;
    }
    q->opts = *o;
    q->opts.db = q->db;
    for (int i = 0; i < HQ_PG_POOL; i++)
        pthread_mutex_init(&q->pool[i].mu, NULL);
    pthread_mutex_init(&q->pmu, NULL);
    pthread_cond_init(&q->pcv, NULL);
    pthread_mutex_init(&q->gmu, NULL);
    pthread_cond_init(&q->gcv, NULL);
    q->gtail = &q->gpending;
    pthread_mutex_init(&q->smu, NULL);
    pthread_mutex_init(&q->wmu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->wcv, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&q->stop, false);
    atomic_init(&q->next_conn, 0);

    int rc;
    PGconn *c = connect_db(q);
    if (PQstatus(c) != CONNECTION_OK) {
        rc = pg_connect_err(c);
        PQfinish(c);
        goto fail;
    }
    if ((rc = schema_ensure(q, c)) != 0 || (rc = conn_setup(q, c)) != 0) {
        PQfinish(c);
        goto fail;
    }
    q->pool[0].c = c;
    *h = q;
    return 0;
fail:
    pg_close(q);
    return rc;
}

static void pg_commit_stats(void *h, struct hq_queue_commit_stats *st)
{
    pg_queue *q = h;
    pthread_mutex_lock(&q->smu);
    *st = q->cstats;
    pthread_mutex_unlock(&q->smu);
}

static uint32_t pg_wake_seq(void *h)
{
    pg_queue *q = h;
    pthread_mutex_lock(&q->wmu);
    uint32_t s = q->seq;
    pthread_mutex_unlock(&q->wmu);
    return s;
}

static void pg_wait(void *h, uint32_t seen, int64_t timeout_ms)
{
    pg_queue *q = h;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&q->wmu);
    if (!q->has_listener && q->seq == seen) {
        /* The first wait of this process starts the listener; it bumps the
         * sequence once LISTEN runs, so nothing committed before is missed.
         * Without a thread (none could start) the wait is a plain timeout. */
        q->has_listener = pthread_create(&q->listener, NULL, listen_main, q) == 0;
    }
    while (q->seq == seen) {
        if (pthread_cond_timedwait(&q->wcv, &q->wmu, &ts) != 0)
            break;
    }
    pthread_mutex_unlock(&q->wmu);
}

static void pg_set_commit_hook(void *h, int (*hook)(void *arg), void *arg)
{
    pg_queue *q = h;
    q->commit_hook = hook;
    q->commit_hook_arg = arg;
}

const struct hq_queue_backend hq_queue_pg_backend = {
    .name = "postgresql",
    .enqueue_callers = 2,
    .accepts = pg_accepts,
    .open = pg_open,
    .close = pg_close,
    .enqueue = pgq_enqueue,
    .lease = pgq_lease,
    .renew = pgq_renew,
    .record_step = pgq_record_step,
    .record_check_run = pgq_record_check_run,
    .complete = pgq_complete,
    .retry = pgq_retry,
    .dead_letter = pgq_dead_letter,
    .get_dead = pgq_get_dead,
    .replay = pgq_replay,
    .purge = pgq_purge,
    .import_dead = pgq_import_dead,
    .dedup_lookup = pgq_dedup_lookup,
    .state_get = pgq_state_get,
    .state_cas = pgq_state_cas,
    .foreach_event = pgq_foreach_event,
    .foreach_dead = pgq_foreach_dead,
    .foreach_dedup = pgq_foreach_dedup,
    .import = pgq_import,
    .stats = pgq_stats,
    .commit_stats = pg_commit_stats,
    .wake_seq = pg_wake_seq,
    .wait = pg_wait,
    .set_commit_hook = pg_set_commit_hook,
    .open_notice = NULL,
};
