/*
 * queue_lmdb: the LMDB backend of queue.h (hq_queue_lmdb_backend, see
 * queue_backend.h): every HOOKQ_DB that is a directory. The layout is
 * documented in schema/lmdb.md; this comment explains the moving parts.
 * queue.c has checked every call's arguments before they arrive here.
 *
 * DESIGN
 * Sub-databases: events (repo_id,seq → envelope), payloads (id → raw JSON),
 * repos (repo_id → repository record), ready (time,repo_id → ∅), leases
 * (expiry,repo_id → ∅), dedup ((hook_id,delivery) → id), dedup_age
 * (received,hook_id,delivery → ∅), dead (id → envelope), meta. Each repository
 * with events is in exactly one of `ready` (keyed by the time it became or
 * becomes ready) or `leases` (keyed by expiry), so the next repository to
 * lease is the first key of `ready`, and the next expired lease the first key
 * of `leases`: O(log n) each, no scan.
 *
 * Group commit: LMDB has one writer per environment. Every write operation is
 * a function run inside a write transaction; concurrent callers in this
 * process queue their operations (under wlock) and the first one in becomes
 * the leader: it takes every queued operation, runs them all in one
 * transaction, and commits once. An operation checks everything it needs
 * before it writes, so a logical failure (a lost lease) leaves the
 * transaction clean for the rest; a storage failure (map full, I/O) fails
 * the whole batch and nothing of it is stored.
 *
 * One sync per commit (issue 12). The environment is opened MDB_NOMETASYNC:
 * a commit writes its pages, fdatasyncs, then writes its meta page without
 * a sync. LMDB keeps its integrity so (a power loss may only undo the last
 * commits, never mix them), but commit N is durable only once a later
 * fdatasync of the file returned: the next commit's data sync, or an
 * explicit mdb_env_sync. So an operation is answered only then: a committed
 * batch waits in `unsynced` while the next batch is led and committed (its
 * sync covers every commit before it); when nothing else is queued, the
 * leader syncs itself (a thread at a time; another commit may run beside
 * it). Every batch transaction writes the meta key commit_seq, so no commit
 * is empty: LMDB skips the sync of a transaction that dirtied nothing, and
 * such a commit would cover nothing. Under load this halves the flushes per
 * commit; the answer of a lone operation costs what it did before (data
 * sync, then a sync for its meta page). A failed sync is sticky: the pages
 * it covered may be gone from the page cache (Linux drops them), so every
 * later write fails with it until the queue is opened again.
 *
 * Wake-ups: a small shared file `wake` in the database directory is mapped
 * by every process; commits that make work ready bump a counter in it and
 * FUTEX_WAKE the waiters (a shared, non-private futex works across
 * processes mapping the same file).
 */
#include "queue_lmdb_int.h"
#include "clock.h"
#include "dynbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

void ql_wake_all(ql_queue *q)
{
    if (q->wake == NULL)
        return;
    atomic_fetch_add(q->wake, 1);
    syscall(SYS_futex, (uint32_t *)q->wake, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/*
 * Begins a transaction holding resize_lock shared (released by the caller
 * after the transaction ends). MDB_MAP_RESIZED: another process grew the
 * map; adopt its size with no transaction open in this process, and retry.
 */
static int begin_txn(ql_queue *q, unsigned flags, MDB_txn **txn)
{
    for (int tries = 0;; tries++) {
        pthread_rwlock_rdlock(&q->resize_lock);
        int rc = mdb_txn_begin(q->env, NULL, flags, txn);
        if (rc == 0)
            return 0;
        pthread_rwlock_unlock(&q->resize_lock);
        if (rc != MDB_MAP_RESIZED || tries > 0)
            return ql_map_err(rc);
        pthread_rwlock_wrlock(&q->resize_lock);
        rc = mdb_env_set_mapsize(q->env, 0);
        pthread_rwlock_unlock(&q->resize_lock);
        if (rc != 0)
            return ql_map_err(rc);
    }
}

/* True when the database's filesystem has almost no space left: a failed
 * write there is a full disk, not a broken one. */
static bool disk_nearly_full(ql_queue *q)
{
    struct statvfs sv;
    if (statvfs(q->path, &sv) != 0)
        return false;
    return (uint64_t)sv.f_bavail * sv.f_frsize < (16ull << 20);
}

/* Runs a batch of operations in one transaction; sets each op's rc and
 * returns the commit's (0: committed, its ops wait for a covering sync). */
static int run_batch(ql_queue *q, struct wop *batch)
{
    MDB_txn *txn = NULL;
    int64_t t0 = hq_mono_ms();
    int rc = begin_txn(q, 0, &txn);
    bool began = rc == 0;
    size_t nops = 0;
    if (rc == 0) {
        for (struct wop *op = batch; op != NULL; op = op->next) {
            nops++;
            op->rc = op->fn(q, txn, op->arg);
            /* Storage failures poison the transaction: stop here. */
            if (op->rc == HQ_EFULL || op->rc == HQ_ESTORAGE || op->rc == HQ_ECORRUPT ||
                op->rc == -EIO || op->rc == -ENOMEM) {
                rc = op->rc;
                break;
            }
        }
    }
    /* Never an empty commit: it would not sync (see DESIGN). */
    if (rc == 0)
        rc = ql_meta_add(q, txn, "commit_seq", 1, NULL);
    if (rc == 0 && q->commit_hook != NULL)
        rc = q->commit_hook(q->commit_hook_arg);
    if (rc == 0) {
        rc = ql_map_err(mdb_txn_commit(txn));
        txn = NULL;
        if (rc == -EIO && disk_nearly_full(q))
            rc = HQ_EFULL; /* LMDB reports a short write as EIO */
    }
    if (txn != NULL)
        mdb_txn_abort(txn);
    if (began)
        pthread_rwlock_unlock(&q->resize_lock);
    for (struct wop *op = batch; op != NULL; op = op->next) {
        if (rc != 0)
            op->rc = rc;
    }
    pthread_mutex_lock(&q->wlock);
    q->cstats.commits++;
    q->cstats.ops += nops;
    if (rc != 0)
        q->cstats.failures++;
    q->cstats.commit_seconds_sum += (double)(hq_mono_ms() - t0) / 1000.0;
    pthread_mutex_unlock(&q->wlock);
    return rc;
}

/* Marks op done and wakes its thread (unless it is the caller's own).
 * Caller holds wlock; op may be gone once done is seen. */
static void finish_op(struct wop *op, const struct wop *self)
{
    op->done = true;
    if (op != self)
        pthread_cond_signal(&op->cond);
}

/* Finishes every unsynced op that a sync has covered, or fails those that
 * a failed sync covered. Caller holds wlock. */
static void release_unsynced(ql_queue *q, const struct wop *self)
{
    while (q->unsynced != NULL && q->unsynced->gen <= q->synced_gen) {
        struct wop *op = q->unsynced;
        q->unsynced = op->next;
        if (q->unsynced == NULL)
            q->unsynced_tail = &q->unsynced;
        if (q->sync_err != 0)
            op->rc = q->sync_err;
        finish_op(op, self);
    }
}

/* Syncs the data file until every committed op is covered, a thread at a
 * time (another asks for one more round with sync_again). Caller holds
 * wlock; it is released during each sync. */
static void sync_unsynced(ql_queue *q, const struct wop *self)
{
    if (q->syncing) {
        q->sync_again = true;
        return;
    }
    q->syncing = true;
    do {
        q->sync_again = false;
        uint64_t upto = q->commit_gen;
        if (upto <= q->synced_gen)
            continue;
        pthread_mutex_unlock(&q->wlock);
        int rc = ql_map_err(mdb_env_sync(q->env, 1));
        pthread_mutex_lock(&q->wlock);
        if (rc != 0 && q->sync_err == 0)
            q->sync_err = rc;
        if (upto > q->synced_gen)
            q->synced_gen = upto;
        release_unsynced(q, self);
    } while (q->sync_again);
    q->syncing = false;
}

/* The leader's part: commits batch, then hands the next batch to the
 * first waiting op, or syncs when none waits. Caller holds wlock, which is
 * released while the batch runs. */
static void lead(ql_queue *q, struct wop *batch, const struct wop *self)
{
    q->committing = true;
    pthread_mutex_unlock(&q->wlock);
    int rc = q->sync_err;
    if (rc == 0)
        rc = run_batch(q, batch);
    else
        for (struct wop *op = batch; op != NULL; op = op->next)
            op->rc = rc;
    pthread_mutex_lock(&q->wlock);
    q->committing = false;
    if (rc == 0 && !q->opts.no_sync) {
        /* This commit's data sync covered every commit before it. */
        if (q->synced_gen < q->commit_gen && q->sync_err == 0)
            q->synced_gen = q->commit_gen;
        uint64_t gen = ++q->commit_gen;
        release_unsynced(q, self);
        for (struct wop *op = batch; op != NULL; op = op->next) {
            op->committed = true;
            op->gen = gen;
        }
        *q->unsynced_tail = batch;
        for (struct wop *op = batch; op != NULL; op = op->next)
            q->unsynced_tail = &op->next;
    } else {
        for (struct wop *op = batch; op != NULL;) {
            struct wop *next = op->next;
            finish_op(op, self);
            op = next;
        }
    }
    if (q->pending != NULL)
        /* Only the first waiter is woken to lead the next batch: no herd. */
        pthread_cond_signal(&q->pending->cond);
    else if (q->unsynced != NULL)
        sync_unsynced(q, self);
}

/* Runs fn in a (shared) durable write transaction; returns its result once
 * the commit that carried it is durable. */
int ql_write(ql_queue *q, int (*fn)(ql_queue *, MDB_txn *, void *), void *arg)
{
    if (q->opts.read_only)
        return -EROFS;
    struct wop op = {fn, arg, 0, false, false, 0, NULL, PTHREAD_COND_INITIALIZER};
    pthread_mutex_lock(&q->wlock);
    *q->pending_tail = &op;
    q->pending_tail = &op.next;
    while (!op.done) {
        if (op.committed || q->committing) {
            /* Woken when our op is done, or to lead the next batch. */
            pthread_cond_wait(&op.cond, &q->wlock);
            continue;
        }
        struct wop *batch = q->pending;
        q->pending = NULL;
        q->pending_tail = &q->pending;
        lead(q, batch, &op);
    }
    pthread_mutex_unlock(&q->wlock);
    pthread_cond_destroy(&op.cond);
    return op.rc;
}

static int open_wake(ql_queue *q)
{
    char p[4096];
    int n = snprintf(p, sizeof(p), "%s/wake", q->path);
    if (n < 0 || (size_t)n >= sizeof(p))
        return HQ_ETOOBIG;
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (ftruncate(fd, 4096) != 0) {
        rc = -errno;
        goto out;
    }
    void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
        rc = -errno;
        goto out;
    }
    q->wake = m;
out:
    close(fd);
    return rc;
}

static int open_dbs(ql_queue *q, MDB_txn *txn, unsigned flags)
{
    struct {
        const char *name;
        MDB_dbi *dbi;
    } dbs[] = {{"meta", &q->meta},   {"events", &q->events},       {"payloads", &q->payloads},
               {"repos", &q->repos}, {"ready", &q->ready},         {"leases", &q->leases},
               {"dedup", &q->dedup}, {"dedup_age", &q->dedup_age}, {"dead", &q->dead}};
    for (size_t i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++) {
        int rc = mdb_dbi_open(txn, dbs[i].name, flags, dbs[i].dbi);
        if (rc != 0)
            return rc == MDB_NOTFOUND ? HQ_ESCHEMA : ql_map_err(rc);
    }
    return 0;
}

static int check_schema(ql_queue *q, MDB_txn *txn, bool create)
{
    uint64_t v;
    int rc = ql_meta_get_u64(q, txn, "schema_version", &v);
    if (rc != 0)
        return rc;
    if (v == 0 && create)
        return ql_meta_put_u64(q, txn, "schema_version", HQ_SCHEMA_VERSION);
    if (v != HQ_SCHEMA_VERSION)
        return HQ_ESCHEMA;
    return 0;
}

/*
 * Whether dir holds a database, and whether its data file was emptied: 0
 * (with *exists, *empty) or a negative code. A data file shorter than
 * LMDB's two meta pages but not empty lost its header (HQ_EDBLOST); an empty
 * one is what a power loss leaves of a database whose commits were never
 * synced (HOOKQ_SYNC=false), or what a crash leaves between LMDB creating
 * the file and writing its first pages. The caller decides.
 */
static int data_file_state(const char *dir, bool *exists, bool *empty)
{
    char datafile[4096];
    struct stat st;
    *exists = *empty = false;
    if (hq_snprintf(datafile, sizeof(datafile), "%s/data.mdb", dir) != 0)
        return HQ_ETOOBIG;
    if (stat(datafile, &st) != 0)
        return errno == ENOENT ? 0 : -errno;
    *exists = true;
    long page = sysconf(_SC_PAGESIZE);
    off_t header = 2 * (off_t)(page > 0 ? page : 4096);
    if (S_ISREG(st.st_mode) && st.st_size == 0)
        *empty = true;
    else if (S_ISREG(st.st_mode) && st.st_size < header)
        return HQ_EDBLOST;
    return 0;
}

static const char *ql_open_notice(void *h)
{
    return ((ql_queue *)h)->open_notice;
}

static void ql_close(void *h);

static int ql_open(const struct hq_queue_opts *o, void **h)
{
    int rc;
    MDB_txn *txn = NULL;
    bool exists = false, empty = false;
    ql_queue *q = calloc(1, sizeof(*q));
    if (q == NULL)
        return -ENOMEM;
    q->opts = *o;
    q->path = strdup(o->db);
    if (q->path == NULL) {
        free(q);
        return -ENOMEM;
    }
    q->opts.db = q->path;
    pthread_mutex_init(&q->wlock, NULL);
    pthread_rwlock_init(&q->resize_lock, NULL);
    q->pending_tail = &q->pending;
    q->unsynced_tail = &q->unsynced;

    if ((rc = data_file_state(o->db, &exists, &empty)) != 0)
        goto fail;
    if (o->read_only || o->no_create) {
        /* Nothing is created: a mistyped path must not leave a queue behind,
         * and an emptied file is reported, not started anew. */
        if (!exists) {
            rc = -ENOENT;
            goto fail;
        }
        if (empty) {
            rc = HQ_EDBLOST;
            goto fail;
        }
    } else if (empty) {
        /* The services start (a receiver that refused would lose every
         * delivery from now on), but say what they found. */
        q->open_notice = "data.mdb was empty (0 bytes) and was started as a new, empty "
                         "queue: whatever it held is lost (a power loss with "
                         "HOOKQ_SYNC=false, or a restore cut short?)";
    }
    if (!(o->read_only || o->no_create) && mkdir(o->db, 0700) != 0 && errno != EEXIST) {
        rc = -errno;
        goto fail;
    }
    if ((rc = ql_map_err(mdb_env_create(&q->env))) != 0)
        goto fail;
    mdb_env_set_maxdbs(q->env, 16);
    mdb_env_set_maxreaders(q->env, 512);
    /* 0 keeps an existing database's size (LMDB reads it from the file);
     * LMDB's own default for a new one would be 1 MiB. */
    uint64_t map_size = o->lmdb.map_size;
    if (map_size == 0 && !exists)
        map_size = HQ_DEFAULT_MAP_SIZE;
    if (!o->read_only && (rc = ql_map_err(mdb_env_set_mapsize(q->env, map_size))) != 0)
        goto fail;
    /* Not MDB_WRITEMAP: measured here, its msync walks every page the
     * process has mapped, and commits of 8-25 KB deliveries got three times
     * slower as the map filled (tests/bench/bench_receiver.sh). With write()
     * a full disk is a clean ENOSPC from the commit, never a SIGBUS. */
    unsigned flags = MDB_NOTLS;
    if (o->read_only)
        flags |= MDB_RDONLY;
    if (o->no_sync)
        flags |= MDB_NOSYNC;
    else if (!o->read_only)
        flags |= MDB_NOMETASYNC; /* one sync per commit: see DESIGN */
    rc = mdb_env_open(q->env, o->db, flags, 0600);
    if (rc != 0) {
        rc = ql_map_err(rc);
        goto fail;
    }
    int dead_readers = 0;
    mdb_reader_check(q->env, &dead_readers);

    if ((rc = ql_map_err(mdb_txn_begin(q->env, NULL, o->read_only ? MDB_RDONLY : 0, &txn))) != 0)
        goto fail;
    if ((rc = open_dbs(q, txn, o->read_only ? 0 : MDB_CREATE)) != 0)
        goto fail;
    if ((rc = check_schema(q, txn, !o->read_only)) != 0)
        goto fail;
    rc = ql_map_err(mdb_txn_commit(txn));
    txn = NULL;
    /* The schema's meta page (MDB_NOMETASYNC) is durable before any use. */
    if (rc == 0 && !o->read_only && !o->no_sync)
        rc = ql_map_err(mdb_env_sync(q->env, 1));
    if (rc != 0)
        goto fail;
    if (!o->read_only && (rc = open_wake(q)) != 0)
        goto fail;
    *h = q;
    return 0;
fail:
    if (txn != NULL)
        mdb_txn_abort(txn);
    ql_close(q);
    return rc;
}

static void ql_close(void *h)
{
    ql_queue *q = h;
    if (q == NULL)
        return;
    if (q->env != NULL)
        mdb_env_close(q->env);
    if (q->wake != NULL)
        munmap((void *)q->wake, 4096);
    pthread_mutex_destroy(&q->wlock);
    pthread_rwlock_destroy(&q->resize_lock);
    free(q->path);
    free(q);
}

static void ql_set_commit_hook(void *h, int (*hook)(void *arg), void *arg)
{
    ql_queue *q = h;
    pthread_mutex_lock(&q->wlock);
    q->commit_hook = hook;
    q->commit_hook_arg = arg;
    pthread_mutex_unlock(&q->wlock);
}

static void ql_commit_stats(void *h, struct hq_queue_commit_stats *st)
{
    ql_queue *q = h;
    pthread_mutex_lock(&q->wlock);
    *st = q->cstats;
    pthread_mutex_unlock(&q->wlock);
}

int ql_read_txn(ql_queue *q, MDB_txn **txn)
{
    return begin_txn(q, MDB_RDONLY, txn);
}

void ql_read_end(ql_queue *q, MDB_txn *txn)
{
    mdb_txn_abort(txn);
    pthread_rwlock_unlock(&q->resize_lock);
}

static int walk(ql_queue *q, MDB_dbi dbi, const uint8_t *prefix, size_t plen, bool with_payload,
                hq_queue_iter_fn fn, void *arg)
{
    MDB_txn *txn;
    MDB_cursor *c = NULL;
    int rc = ql_read_txn(q, &txn);
    if (rc != 0)
        return rc;
    if ((rc = ql_map_err(mdb_cursor_open(txn, dbi, &c))) != 0)
        goto out;
    MDB_val key = {plen, (void *)prefix}, val;
    int mrc = mdb_cursor_get(c, &key, &val, plen > 0 ? MDB_SET_RANGE : MDB_FIRST);
    while (mrc == 0) {
        if (plen > 0 && (key.mv_size < plen || memcmp(key.mv_data, prefix, plen) != 0))
            break;
        struct hq_event *ev = NULL;
        if ((rc = hq_envelope_decode(val.mv_data, val.mv_size, &ev)) != 0)
            goto out;
        if (with_payload && (rc = ql_payload_get(q, txn, ev)) != 0) {
            hq_event_free(ev);
            goto out;
        }
        rc = fn(ev, arg);
        hq_event_free(ev);
        if (rc != 0)
            goto out;
        mrc = mdb_cursor_get(c, &key, &val, MDB_NEXT);
    }
    if (mrc != 0 && mrc != MDB_NOTFOUND)
        rc = ql_map_err(mrc);
out:
    if (c != NULL)
        mdb_cursor_close(c);
    ql_read_end(q, txn);
    return rc;
}

static int ql_foreach_event(void *h, uint64_t repo_id, bool with_payload, hq_queue_iter_fn fn,
                            void *arg)
{
    ql_queue *q = h;
    uint8_t prefix[8];
    ql_be64(prefix, repo_id);
    return walk(q, q->events, prefix, repo_id ? 8 : 0, with_payload, fn, arg);
}

static int ql_foreach_dead(void *h, bool with_payload, hq_queue_iter_fn fn, void *arg)
{
    ql_queue *q = h;
    return walk(q, q->dead, NULL, 0, with_payload, fn, arg);
}

static int ql_stats(void *h, struct hq_queue_stats *st)
{
    ql_queue *q = h;
    MDB_txn *txn;
    MDB_cursor *c = NULL;
    memset(st, 0, sizeof(*st));
    int rc = ql_read_txn(q, &txn);
    if (rc != 0)
        return rc;
    MDB_stat ms;
    struct {
        MDB_dbi dbi;
        uint64_t *out;
    } counts[] = {{q->events, &st->queued},
                  {q->repos, &st->repositories},
                  {q->leases, &st->leased},
                  {q->dead, &st->dead}};
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        if ((rc = ql_map_err(mdb_stat(txn, counts[i].dbi, &ms))) != 0)
            goto out;
        *counts[i].out = ms.ms_entries;
    }
    if ((rc = ql_map_err(mdb_stat(txn, q->ready, &ms))) != 0)
        goto out;
    uint64_t in_ready = ms.ms_entries;
    int64_t now = hq_now_ms();
    /* Ready now = keys of `ready` up to now: a walk, but only over ready
     * repositories, and only here (stats), never on a hot path. */
    if ((rc = ql_map_err(mdb_cursor_open(txn, q->ready, &c))) != 0)
        goto out;
    MDB_val key, val;
    int mrc = mdb_cursor_get(c, &key, &val, MDB_FIRST);
    if (mrc == 0 && key.mv_size == 16) {
        int64_t first = (int64_t)ql_rd_be64(key.mv_data);
        if (first <= now)
            st->oldest_age_seconds = (double)(now - first) / 1000.0;
    }
    while (mrc == 0 && key.mv_size == 16 && (int64_t)ql_rd_be64(key.mv_data) <= now) {
        st->ready++;
        mrc = mdb_cursor_get(c, &key, &val, MDB_NEXT);
    }
    st->waiting = in_ready - st->ready;
    const char *names[] = {"enqueued_total", "duplicates_total", "done_total", "dead_total"};
    uint64_t *outs[] = {&st->enqueued_total, &st->duplicates_total, &st->done_total,
                        &st->dead_total};
    for (int i = 0; i < 4; i++)
        if ((rc = ql_meta_get_u64(q, txn, names[i], outs[i])) != 0)
            goto out;
    MDB_envinfo info;
    mdb_env_info(q->env, &info);
    if ((rc = ql_map_err(mdb_env_stat(q->env, &ms))) != 0)
        goto out;
    st->has_map = true;
    st->map_size = info.me_mapsize;
    st->map_used = (uint64_t)(info.me_last_pgno + 1) * ms.ms_psize;
out:
    if (c != NULL)
        mdb_cursor_close(c);
    ql_read_end(q, txn);
    return rc;
}

static uint32_t ql_wake_seq(void *h)
{
    ql_queue *q = h;
    return q->wake ? atomic_load(q->wake) : 0;
}

static void ql_wait(void *h, uint32_t seen, int64_t timeout_ms)
{
    ql_queue *q = h;
    if (timeout_ms <= 0)
        return;
    struct timespec ts = {timeout_ms / 1000, (timeout_ms % 1000) * 1000000};
    if (q->wake == NULL) {
        nanosleep(&ts, NULL);
        return;
    }
    /* Returns at once if the counter already moved (EAGAIN), on a wake, or
     * on the timeout; spurious returns are fine for callers. */
    syscall(SYS_futex, (uint32_t *)q->wake, FUTEX_WAIT, seen, &ts, NULL, 0);
}

/* Any name that is not a URI is a directory. */
static bool ql_accepts(const char *db)
{
    const char *sep = strstr(db, "://");
    return sep == NULL || strpbrk(db, "/") < sep;
}

const struct hq_queue_backend hq_queue_lmdb_backend = {
    .name = "lmdb",
    .enqueue_callers = 1,
    .accepts = ql_accepts,
    .open = ql_open,
    .open_notice = ql_open_notice,
    .close = ql_close,
    .enqueue = ql_enqueue,
    .lease = ql_lease,
    .renew = ql_renew,
    .record_step = ql_record_step,
    .record_check_run = ql_record_check_run,
    .complete = ql_complete,
    .retry = ql_retry,
    .dead_letter = ql_dead_letter,
    .get_dead = ql_get_dead,
    .replay = ql_replay,
    .purge = ql_purge,
    .import_dead = ql_import_dead,
    .dedup_lookup = ql_dedup_lookup,
    .state_get = ql_state_get,
    .state_cas = ql_state_cas,
    .foreach_event = ql_foreach_event,
    .foreach_dead = ql_foreach_dead,
    .foreach_dedup = ql_foreach_dedup,
    .import = ql_import,
    .stats = ql_stats,
    .commit_stats = ql_commit_stats,
    .wake_seq = ql_wake_seq,
    .wait = ql_wait,
    .set_commit_hook = ql_set_commit_hook,
};
