/*
 * queue_lmdb: the queue API of queue.h on LMDB. The layout is documented in
 * schema/lmdb.md; this comment explains the moving parts.
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
 * process queue their operations (wlock/wcond) and the first one in becomes
 * the leader: it takes every queued operation, runs them all in one
 * transaction, commits once (one sync), and wakes the others with their
 * results. An operation checks everything it needs before it writes, so a
 * logical failure (a lost lease) leaves the transaction clean for the rest; a
 * storage failure (map full, I/O) fails the whole batch and nothing of it is
 * stored.
 *
 * Wake-ups: a small shared file `wake` in the database directory is mapped
 * by every process; commits that make work ready bump a counter in it and
 * FUTEX_WAKE the waiters (a shared, non-private futex works across
 * processes mapping the same file).
 */
#include "queue.h"
#include "clock.h"
#include "envelope.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define HQ_SCHEMA_VERSION 1
#define HQ_RECLAIM_PER_LEASE 16  /* expired leases reclaimed per lease call */
#define HQ_DEDUP_PRUNE_PER_TXN 64 /* old dedup entries dropped per write txn */
#define HQ_REPO_REC_FIXED 40

/* A write operation: fn runs inside the batch transaction. */
struct wop {
    int (*fn)(hq_queue *q, MDB_txn *txn, void *arg);
    void *arg;
    int rc;
    bool done;
    struct wop *next;
};

struct hq_queue {
    MDB_env *env;
    MDB_dbi events, payloads, repos, ready, leases, dedup, dedup_age, dead, meta;
    struct hq_queue_opts opts;
    char *path;

    /* wlock protects pending, committing and the commit statistics. */
    pthread_mutex_t wlock;
    pthread_cond_t wcond;
    struct wop *pending, **pending_tail;
    bool committing;
    struct hq_queue_commit_stats cstats;

    int (*commit_hook)(void *arg);
    void *commit_hook_arg;

    _Atomic uint32_t *wake; /* in the shared mapping of `wake`; NULL read-only */
    int64_t last_reader_check_ms;
};

/* Repository record (value of `repos`). */
struct repo_rec {
    uint64_t count;        /* queued events, head included */
    int64_t ready_key;     /* key time in `ready` when not leased */
    uint32_t leased;       /* 1 when in `leases` */
    uint64_t lease_token;
    int64_t lease_expires;
    char owner[HQ_MAX_OWNER_LEN + 1];
};

/* ---- encoding helpers --------------------------------------------------- */

static void be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t rd_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t tkey(int64_t ms)
{
    return ms < 0 ? 0 : (uint64_t)ms;
}

static int map_err(int rc)
{
    switch (rc) {
    case MDB_SUCCESS: return 0;
    case MDB_NOTFOUND: return HQ_ENOTFOUND;
    case MDB_MAP_FULL:
    case ENOSPC:
    case EDQUOT: return HQ_EFULL;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID: return HQ_ECORRUPT;
    case MDB_VERSION_MISMATCH: return HQ_ESCHEMA;
    default: return rc > 0 && rc < 4096 ? -rc : HQ_ESTORAGE;
    }
}

static void repo_encode(const struct repo_rec *r, uint8_t *buf, size_t *len)
{
    be64(buf, r->count);
    be64(buf + 8, (uint64_t)r->ready_key);
    be64(buf + 16, r->leased);
    be64(buf + 24, r->lease_token);
    be64(buf + 32, (uint64_t)r->lease_expires);
    size_t ol = strlen(r->owner);
    memcpy(buf + HQ_REPO_REC_FIXED, r->owner, ol);
    *len = HQ_REPO_REC_FIXED + ol;
}

static int repo_get(hq_queue *q, MDB_txn *txn, uint64_t repo_id, struct repo_rec *r)
{
    uint8_t k[8];
    be64(k, repo_id);
    MDB_val key = {8, k}, val;
    int rc = mdb_get(txn, q->repos, &key, &val);
    if (rc != 0)
        return map_err(rc);
    if (val.mv_size < HQ_REPO_REC_FIXED || val.mv_size > HQ_REPO_REC_FIXED + HQ_MAX_OWNER_LEN)
        return HQ_ECORRUPT;
    const uint8_t *p = val.mv_data;
    r->count = rd_be64(p);
    r->ready_key = (int64_t)rd_be64(p + 8);
    r->leased = (uint32_t)rd_be64(p + 16);
    r->lease_token = rd_be64(p + 24);
    r->lease_expires = (int64_t)rd_be64(p + 32);
    size_t ol = val.mv_size - HQ_REPO_REC_FIXED;
    memcpy(r->owner, p + HQ_REPO_REC_FIXED, ol);
    r->owner[ol] = '\0';
    return 0;
}

static int repo_put(hq_queue *q, MDB_txn *txn, uint64_t repo_id, const struct repo_rec *r)
{
    uint8_t k[8], buf[HQ_REPO_REC_FIXED + HQ_MAX_OWNER_LEN];
    size_t len;
    be64(k, repo_id);
    repo_encode(r, buf, &len);
    MDB_val key = {8, k}, val = {len, buf};
    return map_err(mdb_put(txn, q->repos, &key, &val, 0));
}

static int repo_del(hq_queue *q, MDB_txn *txn, uint64_t repo_id)
{
    uint8_t k[8];
    be64(k, repo_id);
    MDB_val key = {8, k};
    return map_err(mdb_del(txn, q->repos, &key, NULL));
}

/* (time, repo) keys of `ready` and `leases`. */
static int tindex_put(MDB_txn *txn, MDB_dbi dbi, int64_t t, uint64_t repo_id)
{
    uint8_t k[16];
    be64(k, tkey(t));
    be64(k + 8, repo_id);
    MDB_val key = {16, k}, val = {0, NULL};
    return map_err(mdb_put(txn, dbi, &key, &val, 0));
}

static int tindex_del(MDB_txn *txn, MDB_dbi dbi, int64_t t, uint64_t repo_id)
{
    uint8_t k[16];
    be64(k, tkey(t));
    be64(k + 8, repo_id);
    MDB_val key = {16, k};
    int rc = mdb_del(txn, dbi, &key, NULL);
    return rc == MDB_NOTFOUND ? HQ_ECORRUPT : map_err(rc);
}

/* First (time, repo) of an index; HQ_ENOTFOUND when empty. */
static int tindex_first(MDB_txn *txn, MDB_dbi dbi, int64_t *t, uint64_t *repo_id)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, dbi, &c);
    if (rc != 0)
        return map_err(rc);
    MDB_val key, val;
    rc = mdb_cursor_get(c, &key, &val, MDB_FIRST);
    if (rc == 0 && key.mv_size != 16)
        rc = MDB_CORRUPTED;
    if (rc == 0) {
        *t = (int64_t)rd_be64(key.mv_data);
        *repo_id = rd_be64((const uint8_t *)key.mv_data + 8);
    }
    mdb_cursor_close(c);
    return map_err(rc);
}

static int meta_get_u64(hq_queue *q, MDB_txn *txn, const char *name, uint64_t *v)
{
    MDB_val key = {strlen(name), (void *)name}, val;
    int rc = mdb_get(txn, q->meta, &key, &val);
    if (rc == MDB_NOTFOUND) {
        *v = 0;
        return 0;
    }
    if (rc != 0)
        return map_err(rc);
    if (val.mv_size != 8)
        return HQ_ECORRUPT;
    *v = rd_be64(val.mv_data);
    return 0;
}

static int meta_put_u64(hq_queue *q, MDB_txn *txn, const char *name, uint64_t v)
{
    uint8_t b[8];
    be64(b, v);
    MDB_val key = {strlen(name), (void *)name}, val = {8, b};
    return map_err(mdb_put(txn, q->meta, &key, &val, 0));
}

static int meta_add(hq_queue *q, MDB_txn *txn, const char *name, uint64_t delta, uint64_t *old)
{
    uint64_t v;
    int rc = meta_get_u64(q, txn, name, &v);
    if (rc != 0)
        return rc;
    if (old != NULL)
        *old = v;
    return meta_put_u64(q, txn, name, v + delta);
}

/* Stores an event envelope under (repo_id, seq) in `events`, or id in `dead`. */
static int envelope_put(MDB_txn *txn, MDB_dbi dbi, const uint8_t *k, size_t klen,
                        const struct hq_event *ev)
{
    size_t cap = hq_envelope_size(ev), len;
    MDB_val key = {klen, (void *)k}, val = {cap, NULL};
    /* Check first: once reserved, a failed encode would commit garbage. */
    int rc = hq_envelope_check(ev);
    if (rc != 0)
        return rc;
    /* MDB_RESERVE: encode straight into the page, no bounce buffer. */
    rc = mdb_put(txn, dbi, &key, &val, MDB_RESERVE);
    if (rc != 0)
        return map_err(rc);
    return hq_envelope_encode(ev, val.mv_data, cap, &len);
}

/* The head event of a repository: its key (repo, seq) and decoded envelope. */
static int head_get(hq_queue *q, MDB_txn *txn, uint64_t repo_id, uint8_t key_out[16],
                    struct hq_event **ev)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, q->events, &c);
    if (rc != 0)
        return map_err(rc);
    uint8_t k[16];
    be64(k, repo_id);
    be64(k + 8, 0);
    MDB_val key = {16, k}, val;
    rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
    if (rc == 0 && (key.mv_size != 16 || rd_be64(key.mv_data) != repo_id))
        rc = MDB_NOTFOUND;
    if (rc != 0) {
        mdb_cursor_close(c);
        return rc == MDB_NOTFOUND ? HQ_ECORRUPT : map_err(rc); /* a repo record lies */
    }
    memcpy(key_out, key.mv_data, 16);
    rc = hq_envelope_decode(val.mv_data, val.mv_size, ev);
    mdb_cursor_close(c);
    return rc;
}

static int payload_get(hq_queue *q, MDB_txn *txn, struct hq_event *ev)
{
    uint8_t k[8];
    be64(k, ev->id);
    MDB_val key = {8, k}, val;
    int rc = mdb_get(txn, q->payloads, &key, &val);
    if (rc != 0)
        return rc == MDB_NOTFOUND ? HQ_ECORRUPT : map_err(rc);
    ev->payload = malloc(val.mv_size + 1);
    if (ev->payload == NULL)
        return -ENOMEM;
    memcpy(ev->payload, val.mv_data, val.mv_size);
    ev->payload[val.mv_size] = '\0';
    ev->payload_len = val.mv_size;
    return 0;
}

static int payload_del(hq_queue *q, MDB_txn *txn, uint64_t id)
{
    uint8_t k[8];
    be64(k, id);
    MDB_val key = {8, k};
    int rc = mdb_del(txn, q->payloads, &key, NULL);
    return rc == MDB_NOTFOUND ? 0 : map_err(rc);
}

/* ---- group commit ------------------------------------------------------- */

static void wake_all(hq_queue *q)
{
    if (q->wake == NULL)
        return;
    atomic_fetch_add(q->wake, 1);
    syscall(SYS_futex, (uint32_t *)q->wake, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Runs a batch of operations in one transaction; sets each op's rc. */
static void run_batch(hq_queue *q, struct wop *batch)
{
    MDB_txn *txn = NULL;
    int64_t t0 = hq_mono_ms();
    int rc = mdb_txn_begin(q->env, NULL, 0, &txn);
    if (rc == MDB_MAP_RESIZED) {
        /* Another process grew the map: adopt its size and try again. */
        mdb_env_set_mapsize(q->env, 0);
        rc = mdb_txn_begin(q->env, NULL, 0, &txn);
    }
    rc = map_err(rc);
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
    if (rc == 0 && q->commit_hook != NULL)
        rc = q->commit_hook(q->commit_hook_arg);
    if (rc == 0) {
        rc = map_err(mdb_txn_commit(txn));
        txn = NULL;
    }
    if (txn != NULL)
        mdb_txn_abort(txn);
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
}

/* Runs fn in a (shared) durable write transaction; returns its result. */
static int queue_write(hq_queue *q, int (*fn)(hq_queue *, MDB_txn *, void *), void *arg)
{
    if (q->opts.read_only)
        return -EROFS;
    struct wop op = {fn, arg, 0, false, NULL};
    pthread_mutex_lock(&q->wlock);
    *q->pending_tail = &op;
    q->pending_tail = &op.next;
    while (!op.done) {
        if (q->committing) {
            pthread_cond_wait(&q->wcond, &q->wlock);
            continue;
        }
        struct wop *batch = q->pending;
        q->pending = NULL;
        q->pending_tail = &q->pending;
        q->committing = true;
        pthread_mutex_unlock(&q->wlock);
        run_batch(q, batch);
        pthread_mutex_lock(&q->wlock);
        for (struct wop *o = batch; o != NULL;) {
            struct wop *next = o->next; /* o may be freed once done is seen */
            o->done = true;
            o = next;
        }
        q->committing = false;
        pthread_cond_broadcast(&q->wcond);
    }
    pthread_mutex_unlock(&q->wlock);
    return op.rc;
}

/* ---- open / close -------------------------------------------------------- */

void hq_queue_opts_default(struct hq_queue_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->path = "/var/lib/hookq";
    o->map_size = 4ull << 30;
    o->dedup_window_ms = 7ll * 24 * 3600 * 1000;
    o->max_attempts = 10;
}

static int open_wake(hq_queue *q)
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

static int open_dbs(hq_queue *q, MDB_txn *txn, unsigned flags)
{
    struct {
        const char *name;
        MDB_dbi *dbi;
    } dbs[] = {{"meta", &q->meta},     {"events", &q->events}, {"payloads", &q->payloads},
               {"repos", &q->repos},   {"ready", &q->ready},   {"leases", &q->leases},
               {"dedup", &q->dedup},   {"dedup_age", &q->dedup_age}, {"dead", &q->dead}};
    for (size_t i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++) {
        int rc = mdb_dbi_open(txn, dbs[i].name, flags, dbs[i].dbi);
        if (rc != 0)
            return rc == MDB_NOTFOUND ? HQ_ESCHEMA : map_err(rc);
    }
    return 0;
}

static int check_schema(hq_queue *q, MDB_txn *txn, bool create)
{
    uint64_t v;
    int rc = meta_get_u64(q, txn, "schema_version", &v);
    if (rc != 0)
        return rc;
    if (v == 0 && create)
        return meta_put_u64(q, txn, "schema_version", HQ_SCHEMA_VERSION);
    if (v != HQ_SCHEMA_VERSION)
        return HQ_ESCHEMA;
    return 0;
}

int hq_queue_open(const struct hq_queue_opts *o, hq_queue **out)
{
    int rc;
    MDB_txn *txn = NULL;
    hq_queue *q = calloc(1, sizeof(*q));
    if (q == NULL)
        return -ENOMEM;
    q->opts = *o;
    q->path = strdup(o->path);
    if (q->path == NULL) {
        free(q);
        return -ENOMEM;
    }
    q->opts.path = q->path;
    pthread_mutex_init(&q->wlock, NULL);
    pthread_cond_init(&q->wcond, NULL);
    q->pending_tail = &q->pending;

    char datafile[4096];
    int n = snprintf(datafile, sizeof(datafile), "%s/data.mdb", o->path);
    if (n < 0 || (size_t)n >= sizeof(datafile)) {
        rc = HQ_ETOOBIG;
        goto fail;
    }
    if (o->read_only) {
        if (access(datafile, F_OK) != 0) {
            rc = -ENOENT;
            goto fail;
        }
    } else if (mkdir(o->path, 0700) != 0 && errno != EEXIST) {
        rc = -errno;
        goto fail;
    }
    if ((rc = map_err(mdb_env_create(&q->env))) != 0)
        goto fail;
    mdb_env_set_maxdbs(q->env, 16);
    mdb_env_set_maxreaders(q->env, 512);
    if (!o->read_only && (rc = map_err(mdb_env_set_mapsize(q->env, o->map_size))) != 0)
        goto fail;
    unsigned flags = MDB_NOTLS;
    if (o->read_only)
        flags |= MDB_RDONLY;
    if (o->no_sync)
        flags |= MDB_NOSYNC;
    rc = mdb_env_open(q->env, o->path, flags, 0600);
    if (rc != 0) {
        rc = map_err(rc);
        goto fail;
    }
    int dead_readers = 0;
    mdb_reader_check(q->env, &dead_readers);

    if ((rc = map_err(mdb_txn_begin(q->env, NULL, o->read_only ? MDB_RDONLY : 0, &txn))) != 0)
        goto fail;
    if ((rc = open_dbs(q, txn, o->read_only ? 0 : MDB_CREATE)) != 0)
        goto fail;
    if ((rc = check_schema(q, txn, !o->read_only)) != 0)
        goto fail;
    rc = map_err(mdb_txn_commit(txn));
    txn = NULL;
    if (rc != 0)
        goto fail;
    if (!o->read_only && (rc = open_wake(q)) != 0)
        goto fail;
    *out = q;
    return 0;
fail:
    if (txn != NULL)
        mdb_txn_abort(txn);
    hq_queue_close(q);
    return rc;
}

void hq_queue_close(hq_queue *q)
{
    if (q == NULL)
        return;
    if (q->env != NULL)
        mdb_env_close(q->env);
    if (q->wake != NULL)
        munmap((void *)q->wake, 4096);
    pthread_mutex_destroy(&q->wlock);
    pthread_cond_destroy(&q->wcond);
    free(q->path);
    free(q);
}

void hq_queue_set_commit_hook(hq_queue *q, int (*hook)(void *arg), void *arg)
{
    pthread_mutex_lock(&q->wlock);
    q->commit_hook = hook;
    q->commit_hook_arg = arg;
    pthread_mutex_unlock(&q->wlock);
}

void hq_queue_commit_stats(hq_queue *q, struct hq_queue_commit_stats *st)
{
    pthread_mutex_lock(&q->wlock);
    *st = q->cstats;
    pthread_mutex_unlock(&q->wlock);
}

/* ---- dedup --------------------------------------------------------------- */

static size_t dedup_key(uint8_t *k, uint64_t hook_id, const char *delivery)
{
    size_t dl = strlen(delivery);
    be64(k, hook_id);
    memcpy(k + 8, delivery, dl);
    return 8 + dl;
}

/* Drops a bounded number of dedup entries older than the window. */
static int prune_dedup(hq_queue *q, MDB_txn *txn, int64_t now)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, q->dedup_age, &c);
    if (rc != 0)
        return map_err(rc);
    int64_t cutoff = now - q->opts.dedup_window_ms;
    MDB_val key, val;
    for (int i = 0; i < HQ_DEDUP_PRUNE_PER_TXN; i++) {
        rc = mdb_cursor_get(c, &key, &val, MDB_FIRST);
        if (rc != 0 || key.mv_size < 16)
            break;
        if ((int64_t)rd_be64(key.mv_data) >= cutoff)
            break;
        MDB_val dk = {key.mv_size - 8, (uint8_t *)key.mv_data + 8};
        rc = mdb_del(txn, q->dedup, &dk, NULL);
        if (rc != 0 && rc != MDB_NOTFOUND)
            break;
        rc = mdb_cursor_del(c, 0);
        if (rc != 0)
            break;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : map_err(rc);
}

/* ---- enqueue ------------------------------------------------------------- */

struct enqueue_args {
    struct hq_enqueue *items;
    size_t n;
};

static int check_item(const struct hq_enqueue *it)
{
    if (it->repo_id == 0 || it->delivery == NULL || it->delivery[0] == '\0' ||
        it->event == NULL || it->event[0] == '\0' || it->repo_name == NULL ||
        it->payload == NULL)
        return -EINVAL;
    if (strlen(it->delivery) > HQ_MAX_DELIVERY_LEN || strlen(it->event) > HQ_MAX_EVENT_LEN ||
        (it->action != NULL && strlen(it->action) > HQ_MAX_ACTION_LEN) ||
        strlen(it->repo_name) > HQ_MAX_REPO_NAME_LEN)
        return HQ_ETOOBIG;
    return 0;
}

/* Adds an event (already holding id) at the tail of its repository's FIFO. */
static int append_event(hq_queue *q, MDB_txn *txn, const struct hq_event *ev, uint64_t seq,
                        int64_t now)
{
    uint8_t k[16];
    be64(k, ev->repo_id);
    be64(k + 8, seq);
    int rc = envelope_put(txn, q->events, k, 16, ev);
    if (rc != 0)
        return rc;
    struct repo_rec r;
    rc = repo_get(q, txn, ev->repo_id, &r);
    if (rc == HQ_ENOTFOUND) {
        memset(&r, 0, sizeof(r));
        r.count = 1;
        r.ready_key = ev->not_before_ms > now ? ev->not_before_ms : now;
        if ((rc = tindex_put(txn, q->ready, r.ready_key, ev->repo_id)) != 0)
            return rc;
        return repo_put(q, txn, ev->repo_id, &r);
    }
    if (rc != 0)
        return rc;
    r.count++;
    return repo_put(q, txn, ev->repo_id, &r);
}

static int enqueue_fn(hq_queue *q, MDB_txn *txn, void *arg)
{
    struct enqueue_args *a = arg;
    int64_t now = hq_now_ms();
    uint64_t accepted = 0, dups = 0;
    uint8_t dk[8 + HQ_MAX_DELIVERY_LEN];
    int rc = 0;
    for (size_t i = 0; i < a->n; i++) {
        struct hq_enqueue *it = &a->items[i];
        it->id = 0;
        it->result = check_item(it);
        if (it->result != 0)
            continue;
        MDB_val key = {dedup_key(dk, it->hook_id, it->delivery), dk}, val;
        rc = mdb_get(txn, q->dedup, &key, &val);
        if (rc == 0) {
            it->result = HQ_EDUPLICATE;
            it->id = val.mv_size >= 16 ? rd_be64((uint8_t *)val.mv_data + 8) : 0;
            dups++;
            continue;
        }
        if (rc != MDB_NOTFOUND)
            return map_err(rc);
        uint64_t id;
        if ((rc = meta_add(q, txn, "next_seq", 1, &id)) != 0)
            return rc;
        id += 1; /* ids start at 1 */
        struct hq_event ev = {0};
        ev.id = id;
        ev.repo_id = it->repo_id;
        ev.hook_id = it->hook_id;
        ev.installation_id = it->installation_id;
        ev.received_at_ms = it->received_at_ms ? it->received_at_ms : now;
        ev.repo_name = (char *)it->repo_name;
        ev.delivery = (char *)it->delivery;
        ev.event = (char *)it->event;
        ev.action = (char *)(it->action ? it->action : "");
        if ((rc = append_event(q, txn, &ev, id, now)) != 0)
            return rc;
        uint8_t pk[8];
        be64(pk, id);
        MDB_val pkey = {8, pk}, pval = {it->payload_len, (void *)it->payload};
        if ((rc = map_err(mdb_put(txn, q->payloads, &pkey, &pval, 0))) != 0)
            return rc;
        uint8_t dv[16];
        be64(dv, tkey(ev.received_at_ms));
        be64(dv + 8, id);
        MDB_val dval = {16, dv};
        if ((rc = map_err(mdb_put(txn, q->dedup, &key, &dval, 0))) != 0)
            return rc;
        uint8_t ak[16 + HQ_MAX_DELIVERY_LEN];
        be64(ak, tkey(ev.received_at_ms));
        memcpy(ak + 8, dk, key.mv_size);
        MDB_val akey = {8 + key.mv_size, ak}, empty = {0, NULL};
        if ((rc = map_err(mdb_put(txn, q->dedup_age, &akey, &empty, 0))) != 0)
            return rc;
        it->id = id;
        accepted++;
    }
    if (accepted > 0 && (rc = meta_add(q, txn, "enqueued_total", accepted, NULL)) != 0)
        return rc;
    if (dups > 0 && (rc = meta_add(q, txn, "duplicates_total", dups, NULL)) != 0)
        return rc;
    /* Only the receiver's enqueues prune, so only its window applies. */
    return prune_dedup(q, txn, now);
}

int hq_queue_enqueue(hq_queue *q, struct hq_enqueue *items, size_t n)
{
    if (n == 0)
        return 0;
    struct enqueue_args a = {items, n};
    int rc = queue_write(q, enqueue_fn, &a);
    if (rc != 0) {
        for (size_t i = 0; i < n; i++) {
            items[i].result = rc;
            items[i].id = 0;
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            if (items[i].result == 0) {
                wake_all(q);
                break;
            }
        }
    }
    return rc;
}

/* ---- leases -------------------------------------------------------------- */

/* Takes the repository out of whatever index it is in and puts it back as
 * ready at key time t, or deletes it when it has no events left. */
static int repo_requeue(hq_queue *q, MDB_txn *txn, uint64_t repo_id, struct repo_rec *r,
                        int64_t t)
{
    int rc;
    if (r->leased) {
        if ((rc = tindex_del(txn, q->leases, r->lease_expires, repo_id)) != 0)
            return rc;
    } else {
        if ((rc = tindex_del(txn, q->ready, r->ready_key, repo_id)) != 0)
            return rc;
    }
    if (r->count == 0)
        return repo_del(q, txn, repo_id);
    r->leased = 0;
    r->owner[0] = '\0';
    r->lease_expires = 0;
    r->ready_key = t;
    if ((rc = tindex_put(txn, q->ready, t, repo_id)) != 0)
        return rc;
    return repo_put(q, txn, repo_id, r);
}

/* Moves the head event (key hk, decoded ev) to the dead-letter set. */
static int head_to_dead(hq_queue *q, MDB_txn *txn, const uint8_t hk[16], struct hq_event *ev,
                        const char *reason, int64_t now)
{
    int rc;
    free(ev->reason);
    size_t rl = strlen(reason);
    if (rl > HQ_MAX_REASON_LEN)
        rl = HQ_MAX_REASON_LEN;
    ev->reason = strndup(reason, rl);
    if (ev->reason == NULL)
        return -ENOMEM;
    ev->dead_at_ms = now;
    MDB_val key = {16, (void *)hk};
    if ((rc = map_err(mdb_del(txn, q->events, &key, NULL))) != 0)
        return rc;
    uint8_t dk[8];
    be64(dk, ev->id);
    if ((rc = envelope_put(txn, q->dead, dk, 8, ev)) != 0)
        return rc;
    return meta_add(q, txn, "dead_total", 1, NULL);
}

/* Next ready time for a repository whose head is ev. */
static int64_t ready_time(const struct hq_event *ev, int64_t now)
{
    return ev->not_before_ms > now ? ev->not_before_ms : now;
}

/* An expired lease: count the attempt, maybe dead-letter, make it ready. */
static int reclaim(hq_queue *q, MDB_txn *txn, uint64_t repo_id, int64_t now, bool *wakes)
{
    struct repo_rec r;
    struct hq_event *ev = NULL;
    uint8_t hk[16];
    int rc = repo_get(q, txn, repo_id, &r);
    if (rc != 0)
        return rc == HQ_ENOTFOUND ? HQ_ECORRUPT : rc;
    if ((rc = head_get(q, txn, repo_id, hk, &ev)) != 0)
        return rc;
    ev->attempts++;
    char why[256];
    snprintf(why, sizeof(why), "lease of %.128s expired", r.owner);
    if ((rc = hq_event_history_append(ev, now, why)) != 0)
        goto out;
    if (q->opts.max_attempts > 0 && ev->attempts >= q->opts.max_attempts) {
        char reason[320];
        snprintf(reason, sizeof(reason), "%s; %u attempts failed", why, ev->attempts);
        if ((rc = head_to_dead(q, txn, hk, ev, reason, now)) != 0)
            goto out;
        r.count--;
        if (r.count > 0) {
            struct hq_event *next = NULL;
            uint8_t nk[16];
            if ((rc = head_get(q, txn, repo_id, nk, &next)) != 0)
                goto out;
            int64_t t = ready_time(next, now);
            hq_event_free(next);
            rc = repo_requeue(q, txn, repo_id, &r, t);
        } else {
            rc = repo_requeue(q, txn, repo_id, &r, now);
        }
    } else {
        if ((rc = envelope_put(txn, q->events, hk, 16, ev)) != 0)
            goto out;
        rc = repo_requeue(q, txn, repo_id, &r, ready_time(ev, now));
    }
    *wakes = true;
out:
    hq_event_free(ev);
    return rc;
}

struct lease_args {
    const char *owner;
    int64_t lease_ms;
    struct hq_lease *lease;
    struct hq_event *ev;
    int64_t next_ready_ms;
    bool wakes;
};

static int lease_fn(hq_queue *q, MDB_txn *txn, void *arg)
{
    struct lease_args *a = arg;
    int64_t now = hq_now_ms(), t;
    uint64_t repo_id;
    int rc;
    a->ev = NULL;
    for (int i = 0; i < HQ_RECLAIM_PER_LEASE; i++) {
        rc = tindex_first(txn, q->leases, &t, &repo_id);
        if (rc == HQ_ENOTFOUND || (rc == 0 && t > now))
            break;
        if (rc != 0)
            return rc;
        if ((rc = reclaim(q, txn, repo_id, now, &a->wakes)) != 0)
            return rc;
    }
    rc = tindex_first(txn, q->ready, &t, &repo_id);
    if (rc == HQ_ENOTFOUND || (rc == 0 && t > now)) {
        int64_t next = rc == 0 ? t : INT64_MAX;
        int64_t lt;
        uint64_t lr;
        if (tindex_first(txn, q->leases, &lt, &lr) == 0 && lt < next)
            next = lt;
        a->next_ready_ms = next;
        return HQ_ENOTREADY;
    }
    if (rc != 0)
        return rc;
    struct repo_rec r;
    if ((rc = repo_get(q, txn, repo_id, &r)) != 0)
        return rc == HQ_ENOTFOUND ? HQ_ECORRUPT : rc;
    uint8_t hk[16];
    struct hq_event *ev = NULL;
    if ((rc = head_get(q, txn, repo_id, hk, &ev)) != 0)
        return rc;
    if ((rc = payload_get(q, txn, ev)) != 0)
        goto fail;
    if ((rc = tindex_del(txn, q->ready, r.ready_key, repo_id)) != 0)
        goto fail;
    uint64_t token;
    if ((rc = meta_add(q, txn, "next_token", 1, &token)) != 0)
        goto fail;
    r.leased = 1;
    r.lease_token = token + 1;
    r.lease_expires = now + a->lease_ms;
    snprintf(r.owner, sizeof(r.owner), "%s", a->owner ? a->owner : "");
    if ((rc = tindex_put(txn, q->leases, r.lease_expires, repo_id)) != 0)
        goto fail;
    if ((rc = repo_put(q, txn, repo_id, &r)) != 0)
        goto fail;
    a->lease->repo_id = repo_id;
    a->lease->event_id = ev->id;
    a->lease->token = r.lease_token;
    a->lease->expires_ms = r.lease_expires;
    a->ev = ev;
    return 0;
fail:
    hq_event_free(ev);
    return rc;
}

int hq_queue_lease(hq_queue *q, const char *owner, int64_t lease_ms, struct hq_lease *lease,
                   struct hq_event **ev, int64_t *next_ready_ms)
{
    struct lease_args a = {owner, lease_ms, lease, NULL, INT64_MAX, false};
    *ev = NULL;
    int64_t now = hq_mono_ms();
    if (now - q->last_reader_check_ms > 10000) {
        /* Crashed processes' reader slots pin old pages; clear them now and then. */
        int dead = 0;
        mdb_reader_check(q->env, &dead);
        q->last_reader_check_ms = now;
    }
    int rc = queue_write(q, lease_fn, &a);
    if (next_ready_ms != NULL)
        *next_ready_ms = a.next_ready_ms;
    if (rc != 0) {
        /* The commit may have failed after lease_fn produced an event. */
        hq_event_free(a.ev);
        return rc;
    }
    if (a.wakes)
        wake_all(q);
    *ev = a.ev;
    return 0;
}

/* Checks that lease is still the repository's current lease. */
static int lease_check(hq_queue *q, MDB_txn *txn, const struct hq_lease *lease, struct repo_rec *r)
{
    int rc = repo_get(q, txn, lease->repo_id, r);
    if (rc == HQ_ENOTFOUND)
        return HQ_ELEASELOST;
    if (rc != 0)
        return rc;
    if (!r->leased || r->lease_token != lease->token)
        return HQ_ELEASELOST;
    return 0;
}

struct renew_args {
    struct hq_lease *lease;
    int64_t lease_ms;
};

static int renew_fn(hq_queue *q, MDB_txn *txn, void *arg)
{
    struct renew_args *a = arg;
    struct repo_rec r;
    int rc = lease_check(q, txn, a->lease, &r);
    if (rc != 0)
        return rc;
    if ((rc = tindex_del(txn, q->leases, r.lease_expires, a->lease->repo_id)) != 0)
        return rc;
    r.lease_expires = hq_now_ms() + a->lease_ms;
    if ((rc = tindex_put(txn, q->leases, r.lease_expires, a->lease->repo_id)) != 0)
        return rc;
    if ((rc = repo_put(q, txn, a->lease->repo_id, &r)) != 0)
        return rc;
    a->lease->expires_ms = r.lease_expires;
    return 0;
}

int hq_queue_renew(hq_queue *q, struct hq_lease *lease, int64_t lease_ms)
{
    struct hq_lease copy = *lease;
    struct renew_args a = {&copy, lease_ms};
    int rc = queue_write(q, renew_fn, &a);
    if (rc == 0)
        *lease = copy;
    return rc;
}

/* Loads the leased head; HQ_ELEASELOST unless it is lease's event. */
static int leased_head(hq_queue *q, MDB_txn *txn, const struct hq_lease *lease,
                       struct repo_rec *r, uint8_t hk[16], struct hq_event **ev)
{
    int rc = lease_check(q, txn, lease, r);
    if (rc != 0)
        return rc;
    if ((rc = head_get(q, txn, lease->repo_id, hk, ev)) != 0)
        return rc;
    if ((*ev)->id != lease->event_id) {
        hq_event_free(*ev);
        *ev = NULL;
        return HQ_ELEASELOST;
    }
    return 0;
}

struct step_args {
    const struct hq_lease *lease;
    enum hq_step step;
    enum hq_check_state state;
    const char *desc;
};

static int step_fn(hq_queue *q, MDB_txn *txn, void *arg)
{
    struct step_args *a = arg;
    struct repo_rec r;
    uint8_t hk[16];
    struct hq_event *ev = NULL;
    int rc = leased_head(q, txn, a->lease, &r, hk, &ev);
    if (rc != 0)
        return rc;
    /* Steps only go forward: a late record of an earlier step is a no-op. */
    if (a->step < ev->step) {
        rc = 0;
        goto out;
    }
    ev->step = a->step;
    if (a->step == HQ_STEP_CHECKED) {
        ev->check_state = a->state;
        free(ev->check_desc);
        size_t l = a->desc ? strlen(a->desc) : 0;
        ev->check_desc = strndup(a->desc ? a->desc : "", l > HQ_MAX_DESC_LEN ? HQ_MAX_DESC_LEN : l);
        if (ev->check_desc == NULL) {
            rc = -ENOMEM;
            goto out;
        }
    }
    rc = envelope_put(txn, q->events, hk, 16, ev);
out:
    hq_event_free(ev);
    return rc;
}

int hq_queue_record_step(hq_queue *q, const struct hq_lease *lease, enum hq_step step,
                         enum hq_check_state check_state, const char *check_desc)
{
    if (step > HQ_STEP_FINAL_POSTED || check_state > HQ_CHECK_ERROR)
        return -EINVAL;
    struct step_args a = {lease, step, check_state, check_desc};
    return queue_write(q, step_fn, &a);
}

/* Removes the leased head (done or dead) and requeues the repository. */
static int finish_head(hq_queue *q, MDB_txn *txn, const struct hq_lease *lease,
                       const char *dead_reason, bool *wakes)
{
    struct repo_rec r;
    uint8_t hk[16];
    struct hq_event *ev = NULL;
    int64_t now = hq_now_ms();
    int rc = leased_head(q, txn, lease, &r, hk, &ev);
    if (rc != 0)
        return rc;
    if (dead_reason != NULL) {
        if ((rc = hq_event_history_append(ev, now, dead_reason)) != 0)
            goto out;
        if ((rc = head_to_dead(q, txn, hk, ev, dead_reason, now)) != 0)
            goto out;
    } else {
        MDB_val key = {16, hk};
        if ((rc = map_err(mdb_del(txn, q->events, &key, NULL))) != 0)
            goto out;
        if ((rc = payload_del(q, txn, ev->id)) != 0)
            goto out;
        if ((rc = meta_add(q, txn, "done_total", 1, NULL)) != 0)
            goto out;
    }
    r.count--;
    int64_t t = now;
    if (r.count > 0) {
        struct hq_event *next = NULL;
        uint8_t nk[16];
        if ((rc = head_get(q, txn, lease->repo_id, nk, &next)) != 0)
            goto out;
        t = ready_time(next, now);
        hq_event_free(next);
        *wakes = true;
    }
    rc = repo_requeue(q, txn, lease->repo_id, &r, t);
out:
    hq_event_free(ev);
    return rc;
}

struct finish_args {
    const struct hq_lease *lease;
    const char *reason;
    bool wakes;
};

static int finish_fn(hq_queue *q, MDB_txn *txn, void *arg)
{
    struct finish_args *a = arg;
    return finish_head(q, txn, a->lease, a->reason, &a->wakes);
}

int hq_queue_complete(hq_queue *q, const struct hq_lease *lease)
{
    struct finish_args a = {lease, NULL, false};
    int rc = queue_write(q, finish_fn, &a);
    if (rc == 0 && a.wakes)
        wake_all(q);
    return rc;
}

int hq_queue_dead_letter(hq_queue *q, const struct hq_lease *lease, const char *reason)
{
    struct finish_args a = {lease, reason ? reason : "dead-lettered", false};
    int rc = queue_write(q, finish_fn, &a);
    if (rc == 0 && a.wakes)
        wake_all(q);
    return rc;
}

struct retry_args {
    const struct hq_lease *lease;
    int64_t not_before;
    bool count;
    const char *error;
};

static int retry_fn(hq_queue *q, MDB_txn *txn, void *arg)
{
    struct retry_args *a = arg;
    struct repo_rec r;
    uint8_t hk[16];
    struct hq_event *ev = NULL;
    int64_t now = hq_now_ms();
    int rc = leased_head(q, txn, a->lease, &r, hk, &ev);
    if (rc != 0)
        return rc;
    ev->not_before_ms = a->not_before;
    if (a->count) {
        ev->attempts++;
        if ((rc = hq_event_history_append(ev, now, a->error ? a->error : "attempt failed")) != 0)
            goto out;
    }
    if ((rc = envelope_put(txn, q->events, hk, 16, ev)) != 0)
        goto out;
    rc = repo_requeue(q, txn, a->lease->repo_id, &r, ready_time(ev, now));
out:
    hq_event_free(ev);
    return rc;
}

int hq_queue_retry(hq_queue *q, const struct hq_lease *lease, int64_t not_before_ms,
                   bool count_attempt, const char *error)
{
    struct retry_args a = {lease, not_before_ms, count_attempt, error};
    int rc = queue_write(q, retry_fn, &a);
    if (rc == 0)
        wake_all(q);
    return rc;
}

/* ---- dead letters ---------------------------------------------------------- */

static int dead_get(hq_queue *q, MDB_txn *txn, uint64_t id, struct hq_event **ev)
{
    uint8_t k[8];
    be64(k, id);
    MDB_val key = {8, k}, val;
    int rc = mdb_get(txn, q->dead, &key, &val);
    if (rc != 0)
        return map_err(rc);
    return hq_envelope_decode(val.mv_data, val.mv_size, ev);
}

static int read_txn(hq_queue *q, MDB_txn **txn)
{
    int rc = mdb_txn_begin(q->env, NULL, MDB_RDONLY, txn);
    if (rc == MDB_MAP_RESIZED) {
        mdb_env_set_mapsize(q->env, 0);
        rc = mdb_txn_begin(q->env, NULL, MDB_RDONLY, txn);
    }
    return map_err(rc);
}

int hq_queue_get_dead(hq_queue *q, uint64_t id, bool with_payload, struct hq_event **ev)
{
    MDB_txn *txn;
    int rc = read_txn(q, &txn);
    if (rc != 0)
        return rc;
    struct hq_event *e = NULL;
    rc = dead_get(q, txn, id, &e);
    if (rc == 0 && with_payload)
        rc = payload_get(q, txn, e);
    mdb_txn_abort(txn);
    if (rc != 0) {
        hq_event_free(e);
        return rc;
    }
    *ev = e;
    return 0;
}

struct replay_args {
    uint64_t id;
};

static int replay_fn(hq_queue *q, MDB_txn *txn, void *arg)
{
    struct replay_args *a = arg;
    struct hq_event *ev = NULL;
    int64_t now = hq_now_ms();
    int rc = dead_get(q, txn, a->id, &ev);
    if (rc != 0)
        return rc;
    uint8_t k[8];
    be64(k, a->id);
    MDB_val key = {8, k};
    if ((rc = map_err(mdb_del(txn, q->dead, &key, NULL))) != 0)
        goto out;
    uint64_t seq;
    if ((rc = meta_add(q, txn, "next_seq", 1, &seq)) != 0)
        goto out;
    ev->attempts = 0;
    ev->step = HQ_STEP_NEW;
    ev->check_state = HQ_CHECK_NONE;
    ev->not_before_ms = 0;
    ev->dead_at_ms = 0;
    free(ev->check_desc);
    free(ev->reason);
    ev->check_desc = strdup("");
    ev->reason = strdup("");
    if (ev->check_desc == NULL || ev->reason == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    if ((rc = hq_event_history_append(ev, now, "replayed from the dead-letter set")) != 0)
        goto out;
    rc = append_event(q, txn, ev, seq + 1, now);
out:
    hq_event_free(ev);
    return rc;
}

int hq_queue_replay(hq_queue *q, uint64_t id, uint64_t *new_id)
{
    struct replay_args a = {id};
    int rc = queue_write(q, replay_fn, &a);
    if (rc == 0) {
        if (new_id != NULL)
            *new_id = id;
        wake_all(q);
    }
    return rc;
}

static int purge_fn(hq_queue *q, MDB_txn *txn, void *arg)
{
    uint64_t id = *(uint64_t *)arg;
    uint8_t k[8];
    be64(k, id);
    MDB_val key = {8, k};
    int rc = mdb_del(txn, q->dead, &key, NULL);
    if (rc != 0)
        return map_err(rc);
    return payload_del(q, txn, id);
}

int hq_queue_purge(hq_queue *q, uint64_t id)
{
    return queue_write(q, purge_fn, &id);
}

struct import_args {
    const struct hq_event *ev;
    uint64_t new_id;
};

static int import_fn(hq_queue *q, MDB_txn *txn, void *arg)
{
    struct import_args *a = arg;
    const struct hq_event *in = a->ev;
    if (in->repo_id == 0 || in->delivery == NULL || in->delivery[0] == '\0' ||
        strlen(in->delivery) > HQ_MAX_DELIVERY_LEN || in->payload == NULL)
        return -EINVAL;
    int rc = hq_envelope_check(in);
    if (rc != 0)
        return rc;
    uint8_t dk[8 + HQ_MAX_DELIVERY_LEN];
    MDB_val key = {dedup_key(dk, in->hook_id, in->delivery), dk}, val;
    /* Known here already (queued, done or dead within the window): importing
     * it again could run it twice. */
    rc = mdb_get(txn, q->dedup, &key, &val);
    if (rc == 0)
        return HQ_EDUPLICATE;
    if (rc != MDB_NOTFOUND)
        return map_err(rc);
    uint64_t id;
    if ((rc = meta_add(q, txn, "next_seq", 1, &id)) != 0)
        return rc;
    id++;
    struct hq_event ev = *in;
    ev.id = id;
    uint8_t k[8];
    be64(k, id);
    if ((rc = envelope_put(txn, q->dead, k, 8, &ev)) != 0)
        return rc;
    MDB_val pkey = {8, k}, pval = {in->payload_len, in->payload};
    if ((rc = map_err(mdb_put(txn, q->payloads, &pkey, &pval, 0))) != 0)
        return rc;
    /* Remembered from the import on: an old received time would be pruned at once. */
    int64_t received = hq_now_ms();
    uint8_t dv[16];
    be64(dv, tkey(received));
    be64(dv + 8, id);
    MDB_val dval = {16, dv};
    if ((rc = map_err(mdb_put(txn, q->dedup, &key, &dval, 0))) != 0)
        return rc;
    uint8_t ak[16 + HQ_MAX_DELIVERY_LEN];
    be64(ak, tkey(received));
    memcpy(ak + 8, dk, key.mv_size);
    MDB_val akey = {8 + key.mv_size, ak}, empty = {0, NULL};
    if ((rc = map_err(mdb_put(txn, q->dedup_age, &akey, &empty, 0))) != 0)
        return rc;
    if ((rc = meta_add(q, txn, "dead_total", 1, NULL)) != 0)
        return rc;
    a->new_id = id;
    return 0;
}

int hq_queue_import_dead(hq_queue *q, const struct hq_event *ev, uint64_t *new_id)
{
    struct import_args a = {ev, 0};
    int rc = queue_write(q, import_fn, &a);
    if (rc == 0 && new_id != NULL)
        *new_id = a.new_id;
    return rc;
}

/* ---- iteration and stats ------------------------------------------------- */

static int walk(hq_queue *q, MDB_dbi dbi, const uint8_t *prefix, size_t plen, bool with_payload,
                hq_queue_iter_fn fn, void *arg)
{
    MDB_txn *txn;
    MDB_cursor *c = NULL;
    int rc = read_txn(q, &txn);
    if (rc != 0)
        return rc;
    if ((rc = map_err(mdb_cursor_open(txn, dbi, &c))) != 0)
        goto out;
    MDB_val key = {plen, (void *)prefix}, val;
    int mrc = mdb_cursor_get(c, &key, &val, plen > 0 ? MDB_SET_RANGE : MDB_FIRST);
    while (mrc == 0) {
        if (plen > 0 && (key.mv_size < plen || memcmp(key.mv_data, prefix, plen) != 0))
            break;
        struct hq_event *ev = NULL;
        if ((rc = hq_envelope_decode(val.mv_data, val.mv_size, &ev)) != 0)
            goto out;
        if (with_payload && (rc = payload_get(q, txn, ev)) != 0) {
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
        rc = map_err(mrc);
out:
    if (c != NULL)
        mdb_cursor_close(c);
    mdb_txn_abort(txn);
    return rc;
}

int hq_queue_foreach_event(hq_queue *q, uint64_t repo_id, bool with_payload, hq_queue_iter_fn fn,
                           void *arg)
{
    uint8_t prefix[8];
    be64(prefix, repo_id);
    return walk(q, q->events, prefix, repo_id ? 8 : 0, with_payload, fn, arg);
}

int hq_queue_foreach_dead(hq_queue *q, bool with_payload, hq_queue_iter_fn fn, void *arg)
{
    return walk(q, q->dead, NULL, 0, with_payload, fn, arg);
}

int hq_queue_stats(hq_queue *q, struct hq_queue_stats *st)
{
    MDB_txn *txn;
    MDB_cursor *c = NULL;
    memset(st, 0, sizeof(*st));
    int rc = read_txn(q, &txn);
    if (rc != 0)
        return rc;
    MDB_stat ms;
    struct {
        MDB_dbi dbi;
        uint64_t *out;
    } counts[] = {{q->events, &st->queued}, {q->repos, &st->repositories},
                  {q->leases, &st->leased}, {q->dead, &st->dead}};
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        if ((rc = map_err(mdb_stat(txn, counts[i].dbi, &ms))) != 0)
            goto out;
        *counts[i].out = ms.ms_entries;
    }
    if ((rc = map_err(mdb_stat(txn, q->ready, &ms))) != 0)
        goto out;
    uint64_t in_ready = ms.ms_entries;
    int64_t now = hq_now_ms();
    /* Ready now = keys of `ready` up to now: a walk, but only over ready
     * repositories, and only here (stats), never on a hot path. */
    if ((rc = map_err(mdb_cursor_open(txn, q->ready, &c))) != 0)
        goto out;
    MDB_val key, val;
    int mrc = mdb_cursor_get(c, &key, &val, MDB_FIRST);
    if (mrc == 0 && key.mv_size == 16) {
        int64_t first = (int64_t)rd_be64(key.mv_data);
        if (first <= now)
            st->oldest_age_seconds = (double)(now - first) / 1000.0;
    }
    while (mrc == 0 && key.mv_size == 16 && (int64_t)rd_be64(key.mv_data) <= now) {
        st->ready++;
        mrc = mdb_cursor_get(c, &key, &val, MDB_NEXT);
    }
    st->waiting = in_ready - st->ready;
    const char *names[] = {"enqueued_total", "duplicates_total", "done_total", "dead_total"};
    uint64_t *outs[] = {&st->enqueued_total, &st->duplicates_total, &st->done_total,
                        &st->dead_total};
    for (int i = 0; i < 4; i++)
        if ((rc = meta_get_u64(q, txn, names[i], outs[i])) != 0)
            goto out;
    MDB_envinfo info;
    mdb_env_info(q->env, &info);
    if ((rc = map_err(mdb_env_stat(q->env, &ms))) != 0)
        goto out;
    st->map_size = info.me_mapsize;
    st->map_used = (uint64_t)(info.me_last_pgno + 1) * ms.ms_psize;
out:
    if (c != NULL)
        mdb_cursor_close(c);
    mdb_txn_abort(txn);
    return rc;
}

/* ---- wake-ups ------------------------------------------------------------ */

uint32_t hq_queue_wake_seq(hq_queue *q)
{
    return q->wake ? atomic_load(q->wake) : 0;
}

void hq_queue_wait(hq_queue *q, uint32_t seen, int64_t timeout_ms)
{
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
