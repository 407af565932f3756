/*
 * queue_pg_int: what the files of the PostgreSQL queue share, and nothing
 * else includes. queue_pg.c owns the handle: the connection pool, schema
 * creation and checks, the LISTEN/NOTIFY thread, reconnects, transactions
 * and the backend table; queue_pg_sql.c the statement helpers and the
 * event row encoding; queue_pg_enqueue.c the group-committed enqueue;
 * queue_pg_ops.c the worker's writes; queue_pg_admin.c the operator's
 * writes and state records; queue_pg_read.c the reads, iterators and
 * stats. The tables are schema/pg/NNN_*.sql, explained in schema/design.md
 * ("PostgreSQL").
 *
 * Conventions: helpers return 0 or a negative hq code, never log; a
 * connection that broke (server gone, restarting) is HQ_ESTORAGE and is
 * replaced on a later call, after a backoff. A transaction function (pg_txfn)
 * runs between BEGIN and COMMIT on one pooled connection; a nonzero result
 * rolls the transaction back (HQ_ENOTREADY excepted: the lease's reclaims
 * are kept).
 */
#ifndef HQ_QUEUE_PG_INT_H
#define HQ_QUEUE_PG_INT_H

#include "queue_backend.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HQ_PG_POOL              4  /* connections per process for the operations */
#define HQ_PG_RECLAIM_PER_LEASE 16 /* expired leases reclaimed per lease call */
#define HQ_PG_DEDUP_PRUNE       64 /* old dedup pairs dropped per enqueue commit */
#define HQ_PG_BATCH_MAX         64 /* enqueue calls combined into one transaction */
/* Enqueue transactions of a process under way at once. Measured with
 * bench_backends.sh ROUNDS=3 (wrk -c32, push; PostgreSQL's rate as a share
 * of LMDB's in the same round, medians): spread over 100 repositories two
 * gave 88% against 68% with one; all to one repository, where the second
 * transaction waits for the first's row lock, 43% against 44%. Once the
 * locks went before the flush (pg_release_before_flush), three gave no more
 * on one repository (median 3,901 against 4,296 deliveries/s). */
#define HQ_PG_LEADERS     2
#define HQ_PG_SCHEMA_LOCK 0x686f6f6b71 /* advisory lock key of schema changes ("hookq") */
#define HQ_PG_CHANNEL     "hookq_wake"

/* One embedded schema file (generated from schema/pg/ by embed_sql.cmake). */
struct pg_migration {
    int version;
    const char *name;
    const char *sql;
};
extern const struct pg_migration hq_pg_migrations[];
extern const size_t hq_pg_migration_count;

struct pg_conn {
    bool busy;          /* taken (under the queue's pmu) */
    pthread_mutex_t mu; /* one thread at a time uses c */
    PGconn *c;          /* NULL or broken: reconnect on next use */
    int64_t retry_at;   /* monotonic ms before which no reconnect is tried */
    int64_t backoff_ms;
};

/* One enqueue call waiting for the group commit. */
struct pg_gop {
    struct hq_enqueue *items;
    size_t n;
    int rc;
    bool done;
    struct pg_gop *next;
};

typedef struct pg_queue {
    struct hq_queue_opts opts;
    char *db; /* owned copy of opts.db */
    struct pg_conn pool[HQ_PG_POOL];
    _Atomic unsigned next_conn;
    pthread_mutex_t pmu; /* guards every pool[i].busy */
    pthread_cond_t pcv;  /* a connection came back */

    /* Group commit of enqueues (queue_pg_ops.c). */
    pthread_mutex_t gmu;
    pthread_cond_t gcv;
    struct pg_gop *gpending, **gtail;
    int gleaders; /* transactions under way (at most HQ_PG_LEADERS) */

    /* Commit figures, under smu. */
    pthread_mutex_t smu;
    struct hq_queue_commit_stats cstats;

    int (*commit_hook)(void *arg);
    void *commit_hook_arg;

    /* Wake-ups: seq under wmu, wcv broadcast on change; the listener
     * thread holds its own connection. */
    pthread_mutex_t wmu;
    pthread_cond_t wcv;
    uint32_t seq;
    pthread_t listener;
    bool has_listener;
    atomic_bool stop;
} pg_queue;

typedef int (*pg_txfn)(pg_queue *q, PGconn *c, void *arg);

/* ---- queue_pg.c ---- */

/* Runs fn in one transaction on a pooled connection. write: counted in the
 * commit figures and passed through the commit hook; snapshot: a
 * repeatable-read read-only transaction (listings). */
int pg_tx(pg_queue *q, bool write, bool snapshot, pg_txfn fn, void *arg);
/* pg_tx of a transaction carrying nops operations (the group commit);
 * -EROFS for a write on a read_only queue. */
int pg_tx_ops(pg_queue *q, bool write, bool snapshot, uint64_t nops, pg_txfn fn, void *arg);
/* Bumps the wake sequence of this process and wakes its waiters. */
void pg_wake_local(pg_queue *q);
/* A libpq connection failure text -> hq code (-EACCES, -ENOENT, HQ_ESTORAGE). */
int pg_connect_err(PGconn *c);

/* ---- queue_pg_sql.c: statements and rows ---- */

#define PG_MAXP 24
struct pg_params {
    int n;
    const char *v[PG_MAXP];
    int len[PG_MAXP];
    int fmt[PG_MAXP];
    char num[PG_MAXP][24];
};
void pp_init(struct pg_params *p);
/* An event's 16 stored fields, id to history, in the column order of
 * hq_event and hq_dead ($1 to $16 of the statements that insert them). */
void pp_event(struct pg_params *p, const struct hq_event *ev);
void pp_i64(struct pg_params *p, int64_t v);
void pp_str(struct pg_params *p, const char *s);
void pp_bin(struct pg_params *p, const void *data, size_t len);

/* Runs sql; *res is the result (PQclear it) when 0 is returned. A failed
 * statement maps its SQLSTATE: 23505 HQ_EDUPLICATE, 53100 HQ_EFULL, 42501
 * and 28xxx -EACCES, everything else HQ_ESTORAGE. */
int pg_exec(PGconn *c, const char *sql, const struct pg_params *p, PGresult **res);
/*
 * Statements run prepared: the first pg_exec of a text on a connection
 * prepares it (named after a hash of the text), later ones only execute, so
 * the server parses and plans each statement once per connection. A
 * connection made by connect_db gets the bookkeeping with pg_conn_register;
 * past HQ_PG_PREPARED_MAX texts (none of ours is built at run time) a
 * statement runs unprepared. pg_prepare gives the name to send a prepared
 * statement with (in pipeline mode), *name[0] == '\0' when unprepared.
 */
#define HQ_PG_PREPARED_MAX 64
void pg_conn_register(PGconn *c);
int pg_prepare(PGconn *c, const char *sql, char name[24]);
/* pg_exec for statements whose result is not needed. */
int pg_run(PGconn *c, const char *sql, const struct pg_params *p);
/* Runs sql, one statement, as a write transaction of its own (no BEGIN:
 * it commits before its answer, as the session's synchronous_commit says):
 * the worker's hot writes are calls of the schema's functions
 * (schema/pg/002_worker_calls.sql), one round trip each. *res as pg_exec's.
 * The commit hook runs first; a failure means the statement may or may not
 * have committed, as a failed COMMIT would. */
int pg_call(pg_queue *q, const char *sql, const struct pg_params *p, PGresult **res);
int64_t pg_i64(const PGresult *r, int row, int col);

/* The select list of an event row (hq_event e with its hq_head h, or a dead
 * letter d); ev_from_row decodes it (payload: the last column, may be NULL). */
#define PG_EV_COLS(pl)                                                                             \
    "e.id, e.repo_id, e.hook_id, e.installation_id, e.received_at, "                               \
    "coalesce(h.not_before, e.not_before), coalesce(h.attempts, e.attempts), "                     \
    "coalesce(h.step, e.step), coalesce(h.check_state, e.check_state), "                           \
    "coalesce(h.check_run_id, e.check_run_id), e.repo_name, e.delivery, e.event, e.action, "       \
    "coalesce(h.check_desc, e.check_desc), coalesce(h.history, e.history), 0, '', " pl
#define PG_EV_FROM "hq_event e LEFT JOIN hq_head h ON h.event_id = e.id"
#define PG_DEAD_COLS(pl)                                                                           \
    "d.id, d.repo_id, d.hook_id, d.installation_id, d.received_at, d.not_before, d.attempts, "     \
    "d.step, d.check_state, d.check_run_id, d.repo_name, d.delivery, d.event, d.action, "          \
    "d.check_desc, d.history, d.dead_at, d.reason, " pl
int pg_ev_from_row(const PGresult *r, int row, struct hq_event **ev);

/* One statement of a pipeline: sql (a text that outlives the call), its
 * parameters (or NULL); with want, res receives its result (PQclear it). */
struct pg_pstmt {
    const char *sql;
    const struct pg_params *p;
    bool want;
    PGresult *res;
    char name[24];
};
/* Sends s[0, n) in libpq's pipeline mode, one round trip, and reads their
 * results; the first failure is returned mapped as by pg_exec (the later
 * statements did not run, no res is kept). */
int pg_pipeline(PGconn *c, struct pg_pstmt *s, size_t n);

/*
 * What a write transaction keeps for its COMMIT, per thread (pg_tx runs one
 * transaction at a time per thread), so that the tail of a transaction
 * costs one round trip:
 *   pg_counter_add   adds n to counter name; the deltas are written in one
 *                    statement, to one shard, rows in name order (no lock
 *                    cycles);
 *   pg_notify_ready  the commit made work ready: one NOTIFY (delivered at
 *                    COMMIT in any case);
 *   pg_defer         a statement whose result is not needed (its failure
 *                    is a failed commit), parameters copied; sql must
 *                    outlive the transaction (a literal).
 * pg_commit sends them and COMMIT in one pipeline; on failure the
 * transaction is rolled back. pg_tx_reset drops them (a new transaction, a
 * rollback).
 *   pg_release_before_flush  this transaction's locks are released when
 *                    its COMMIT record is written, before the WAL flush
 *                    (synchronous_commit off for it), and pg_commit returns
 *                    only after a later synchronous commit of the same
 *                    pipeline flushed past it: as durable when it returns,
 *                    but the rows it locked wait for no fsync. Its writes
 *                    are visible before they are durable; anything another
 *                    transaction does with them is durable only after its
 *                    own commit, whose flush covers this one.
 */
#define PG_NCOUNTERS 7
/* The shard of hq_counter a session's transactions write to: its server
 * process id modulo 16 (as in schema/pg/002), so that two sessions' counter
 * rows, locked until their commits are flushed, rarely are the same rows. */
int pg_counter_shard(PGconn *c);
int pg_counter_add(PGconn *c, const char *name, int64_t n);
int pg_notify_ready(PGconn *c);
int pg_defer(PGconn *c, const char *sql, const struct pg_params *p);
int pg_commit(PGconn *c, bool write);
void pg_tx_reset(void);
void pg_release_before_flush(void);
/* Adds ev (with its id, its state as given, payload) at the tail of its
 * repository's FIFO, taking the repository's row lock; joins the ready line
 * at max(now, not_before) when the repository was empty. */
int pg_append_event(PGconn *c, const struct hq_event *ev, int64_t now);
/* Locks the repository rows of ids (n, any order, repeats allowed) in
 * repo_id order, creating the missing ones: one pipeline of the two
 * statements of pg_lock_repos_stmts. */
int pg_lock_repos(PGconn *c, const uint64_t *ids, size_t n);
/* Those two statements, for p holding one parameter, the ids as a sorted
 * bigint array literal; st[1] (want set) answers repo_id, next_pos and count
 * of each row, locked. */
void pg_lock_repos_stmts(const struct pg_params *p, struct pg_pstmt st[2]);

/* ---- queue_pg_ops.c / queue_pg_read.c: entries of hq_queue_pg_backend ---- */

int pgq_enqueue(void *h, struct hq_enqueue *items, size_t n);
int pgq_lease(void *h, const char *owner, int64_t lease_ms, struct hq_lease *lease,
              struct hq_event **ev, int64_t *next_ready_ms);
int pgq_renew(void *h, struct hq_lease *lease, int64_t lease_ms);
int pgq_record_step(void *h, const struct hq_lease *lease, enum hq_step step,
                    enum hq_check_state check_state, const char *check_desc);
int pgq_record_check_run(void *h, const struct hq_lease *lease, uint64_t check_run_id);
int pgq_complete(void *h, const struct hq_lease *lease);
int pgq_retry(void *h, const struct hq_lease *lease, int64_t not_before_ms, bool count_attempt,
              const char *error, enum hq_step reached);
int pgq_dead_letter(void *h, const struct hq_lease *lease, const char *reason);
int pgq_replay(void *h, uint64_t id, uint64_t *new_id);
int pgq_purge(void *h, uint64_t id);
int pgq_import_dead(void *h, const struct hq_event *ev, uint64_t *new_id);
int pgq_import(void *h, const struct hq_import *items, size_t n);
int pgq_state_cas(void *h, const char *name, uint64_t expect_version,
                  const struct hq_queue_state *st, uint64_t *new_version);

int pgq_get_dead(void *h, uint64_t id, bool with_payload, struct hq_event **ev);
int pgq_dedup_lookup(void *h, uint64_t hook_id, const char *delivery, uint64_t *id);
int pgq_state_get(void *h, const char *name, struct hq_queue_state *st);
int pgq_foreach_event(void *h, uint64_t repo_id, bool with_payload, hq_queue_iter_fn fn, void *arg);
int pgq_foreach_dead(void *h, bool with_payload, hq_queue_iter_fn fn, void *arg);
int pgq_foreach_dedup(void *h, hq_queue_dedup_fn fn, void *arg);
int pgq_stats(void *h, struct hq_queue_stats *st);

#endif
