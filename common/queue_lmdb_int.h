/*
 * queue_lmdb_int: what the files of the LMDB queue share, and nothing
 * else includes. queue_lmdb.c owns the environment, the group commit, the
 * wake-ups, stats and listings, and the backend table; queue_lmdb_store.c
 * the record encodings and index helpers (each runs inside a caller's
 * transaction); queue_lmdb_ops.c the write operations built from them (the
 * ql_* functions of the table, called by queue.c with checked arguments);
 * queue_lmdb_state.c the dedup lookup and state records; queue_lmdb_import.c
 * the dedup walk and the import of another queue's contents. The layout is schema/lmdb.md.
 *
 * Conventions of the helpers: they return 0 or a negative hq code
 * (ql_map_err translates LMDB's), never log, and write only when everything
 * they checked holds, so that a logical failure (HQ_ELEASELOST) leaves the
 * batch transaction clean for the other operations in it.
 */
#ifndef HQ_QUEUE_LMDB_INT_H
#define HQ_QUEUE_LMDB_INT_H

#include "envelope.h"
#include "queue_backend.h"

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HQ_SCHEMA_VERSION      1  /* schema/lmdb.md */
#define HQ_RECLAIM_PER_LEASE   16 /* expired leases reclaimed per lease call */
#define HQ_DEDUP_PRUNE_PER_TXN 64 /* old dedup entries dropped per write txn */
#define HQ_REPO_REC_FIXED      40

typedef struct ql_queue ql_queue;

/* A write operation: fn runs inside the batch transaction. */
struct wop {
    int (*fn)(ql_queue *q, MDB_txn *txn, void *arg);
    void *arg;
    int rc;
    bool done;      /* rc is final: committed and durable, or failed */
    bool committed; /* its transaction committed; waits for a covering sync */
    uint64_t gen;   /* the commit that carried it (commit_gen), once committed */
    struct wop *next;
    pthread_cond_t cond; /* its thread waits here (under wlock) */
};

struct ql_queue {
    MDB_env *env;
    MDB_dbi events, payloads, repos, ready, leases, dedup, dedup_age, dead, meta;
    struct hq_queue_opts opts;
    char *path;
    const char *open_notice; /* static text, or NULL: see hq_queue_open_notice */

    /* wlock protects pending, committing, the durability state below,
     * every queued op's done, committed, gen and rc, and the commit
     * statistics. */
    pthread_mutex_t wlock;
    struct wop *pending, **pending_tail;
    bool committing;

    /* Durability (queue_lmdb.c, "Group commit"): commits numbered 1, 2, ...
     * in commit_gen; every commit up to synced_gen is known durable.
     * unsynced lists the committed ops waiting for that, oldest first.
     * syncing: a thread is in mdb_env_sync; sync_again: run it once more.
     * sync_err: a sync failed; every later write fails with it. */
    struct wop *unsynced, **unsynced_tail;
    uint64_t commit_gen, synced_gen;
    bool syncing, sync_again;
    int sync_err;
    struct hq_queue_commit_stats cstats;

    int (*commit_hook)(void *arg);
    void *commit_hook_arg;

    _Atomic uint32_t *wake;               /* in the shared mapping of `wake`; NULL read-only */
    _Atomic int64_t last_reader_check_ms; /* any lease caller may update it */

    /* Every transaction of this process holds resize_lock shared; adopting a
     * map grown by another process (mdb_env_set_mapsize) takes it
     * exclusively, as LMDB requires no open transaction then. */
    pthread_rwlock_t resize_lock;
};

/* Repository record (value of `repos`). */
struct repo_rec {
    uint64_t count;    /* queued events, head included */
    int64_t ready_key; /* key time in `ready` when not leased */
    uint32_t leased;   /* 1 when in `leases` */
    uint64_t lease_token;
    int64_t lease_expires;
    char owner[HQ_MAX_OWNER_LEN + 1];
};

/* ---- queue_lmdb.c ---- */

/* Runs fn(q, txn, arg) in a durable write transaction shared with the other
 * writers of this process that arrive meanwhile; returns fn's result, or the
 * commit's failure (then nothing of the batch is stored). -EROFS read-only. */
int ql_write(ql_queue *q, int (*fn)(ql_queue *, MDB_txn *, void *), void *arg);
/* Bumps the shared wake counter and wakes every waiting process. */
void ql_wake_all(ql_queue *q);
/* Begins a read-only transaction (adopting a map grown by another process);
 * every successful ql_read_txn is ended by ql_read_end. */
int ql_read_txn(ql_queue *q, MDB_txn **txn);
void ql_read_end(ql_queue *q, MDB_txn *txn);

/* ---- queue_lmdb_ops.c: entries of hq_queue_lmdb_backend (h is a ql_queue) ---- */

int ql_enqueue(void *h, struct hq_enqueue *items, size_t n);
int ql_lease(void *h, const char *owner, int64_t lease_ms, struct hq_lease *lease,
             struct hq_event **ev, int64_t *next_ready_ms);
int ql_renew(void *h, struct hq_lease *lease, int64_t lease_ms);
int ql_record_step(void *h, const struct hq_lease *lease, enum hq_step step,
                   enum hq_check_state check_state, const char *check_desc);
int ql_complete(void *h, const struct hq_lease *lease);
int ql_retry(void *h, const struct hq_lease *lease, int64_t not_before_ms, bool count_attempt,
             const char *error, enum hq_step reached);
int ql_dead_letter(void *h, const struct hq_lease *lease, const char *reason);
int ql_get_dead(void *h, uint64_t id, bool with_payload, struct hq_event **ev);
int ql_record_check_run(void *h, const struct hq_lease *lease, uint64_t check_run_id);
int ql_replay(void *h, uint64_t id, uint64_t *new_id);
int ql_purge(void *h, uint64_t id);
int ql_import_dead(void *h, const struct hq_event *ev, uint64_t *new_id);

/* ---- queue_lmdb_import.c: moving a queue between backends ---- */

int ql_foreach_dedup(void *h, hq_queue_dedup_fn fn, void *arg);
int ql_import(void *h, const struct hq_import *items, size_t n);

/* ---- queue_lmdb_state.c: dedup lookup and named state records ---- */

int ql_dedup_lookup(void *h, uint64_t hook_id, const char *delivery, uint64_t *id);
int ql_state_get(void *h, const char *name, struct hq_queue_state *st);
int ql_state_cas(void *h, const char *name, uint64_t expect_version,
                 const struct hq_queue_state *st, uint64_t *new_version);

/* ---- queue_lmdb_store.c: all run inside the caller's transaction ---- */

/* Big-endian keys: LMDB's byte order is then numeric order. */
void ql_be64(uint8_t *p, uint64_t v);
uint64_t ql_rd_be64(const uint8_t *p);
uint64_t ql_tkey(int64_t ms);
/* LMDB or errno code → hq code (MDB_MAP_FULL and ENOSPC → HQ_EFULL). */
int ql_map_err(int rc);

/* Repository records; HQ_ENOTFOUND when the repository has no events. */
int ql_repo_get(ql_queue *q, MDB_txn *txn, uint64_t repo_id, struct repo_rec *r);
int ql_repo_put(ql_queue *q, MDB_txn *txn, uint64_t repo_id, const struct repo_rec *r);
int ql_repo_del(ql_queue *q, MDB_txn *txn, uint64_t repo_id);

/* (time, repo_id) indexes `ready` and `leases`. tindex_del of a missing key
 * is HQ_ECORRUPT (invariant 2 broken); tindex_first HQ_ENOTFOUND when empty. */
int ql_tindex_put(MDB_txn *txn, MDB_dbi dbi, int64_t t, uint64_t repo_id);
int ql_tindex_del(MDB_txn *txn, MDB_dbi dbi, int64_t t, uint64_t repo_id);
int ql_tindex_first(MDB_txn *txn, MDB_dbi dbi, int64_t *t, uint64_t *repo_id);

/* Counters in `meta`; a missing one reads as 0. meta_add returns the old value. */
int ql_meta_get_u64(ql_queue *q, MDB_txn *txn, const char *name, uint64_t *v);
int ql_meta_put_u64(ql_queue *q, MDB_txn *txn, const char *name, uint64_t v);
int ql_meta_add(ql_queue *q, MDB_txn *txn, const char *name, uint64_t delta, uint64_t *old);

/* Stores ev's envelope under key k (checked before anything is written). */
int ql_envelope_put(MDB_txn *txn, MDB_dbi dbi, const uint8_t *k, size_t klen,
                    const struct hq_event *ev);
/* The head event of a repository and its 16-byte key; the caller frees *ev. */
int ql_head_get(ql_queue *q, MDB_txn *txn, uint64_t repo_id, uint8_t key_out[16],
                struct hq_event **ev);
/* Loads ev->payload (malloc'd, NUL-terminated); deletes a payload. */
int ql_payload_get(ql_queue *q, MDB_txn *txn, struct hq_event *ev);
int ql_payload_del(ql_queue *q, MDB_txn *txn, uint64_t id);
/* A dead letter by id; the caller frees *ev. */
int ql_dead_get(ql_queue *q, MDB_txn *txn, uint64_t id, struct hq_event **ev);

/* Key of `dedup` for (hook_id, delivery) into k (8 + HQ_MAX_DELIVERY_LEN bytes). */
size_t ql_dedup_key(uint8_t *k, uint64_t hook_id, const char *delivery);
/* Drops at most HQ_DEDUP_PRUNE_PER_TXN pairs older than the window. */
int ql_prune_dedup(ql_queue *q, MDB_txn *txn, int64_t now);

/* Appends ev (with its id) at the tail of its repository's FIFO under seq. */
int ql_append_event(ql_queue *q, MDB_txn *txn, const struct hq_event *ev, uint64_t seq,
                    int64_t now);
/* Takes the repository out of `ready`/`leases` and puts it back as ready at
 * time t, or deletes its record when count is 0. */
int ql_repo_requeue(ql_queue *q, MDB_txn *txn, uint64_t repo_id, struct repo_rec *r, int64_t t);
/* Moves the head (key hk, decoded ev) to the dead letters with reason. */
int ql_head_to_dead(ql_queue *q, MDB_txn *txn, const uint8_t hk[16], struct hq_event *ev,
                    const char *reason, int64_t now);
/* The head (already deleted or moved) left the repository: one event fewer,
 * and the repository is ready again when its next head is (*more set when
 * there is one; more may be NULL), or its record goes. */
int ql_repo_pop_head(ql_queue *q, MDB_txn *txn, uint64_t repo_id, struct repo_rec *r, int64_t now,
                     bool *more);
/* When a repository whose head is ev becomes ready. */
int64_t ql_ready_time(const struct hq_event *ev, int64_t now);

#endif
