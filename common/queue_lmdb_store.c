/*
 * queue_lmdb_store: encodings of keys and records of schema/lmdb.md and the
 * index helpers the operations are built from. Everything here runs inside
 * a transaction its caller owns; see queue_lmdb_int.h for the contracts.
 */
#include "queue_lmdb_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ql_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

uint64_t ql_rd_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

uint64_t ql_tkey(int64_t ms)
{
    return ms < 0 ? 0 : (uint64_t)ms;
}

int ql_map_err(int rc)
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
    ql_be64(buf, r->count);
    ql_be64(buf + 8, (uint64_t)r->ready_key);
    ql_be64(buf + 16, r->leased);
    ql_be64(buf + 24, r->lease_token);
    ql_be64(buf + 32, (uint64_t)r->lease_expires);
    size_t ol = strlen(r->owner);
    memcpy(buf + HQ_REPO_REC_FIXED, r->owner, ol);
    *len = HQ_REPO_REC_FIXED + ol;
}

int ql_repo_get(ql_queue *q, MDB_txn *txn, uint64_t repo_id, struct repo_rec *r)
{
    uint8_t k[8];
    ql_be64(k, repo_id);
    MDB_val key = {8, k}, val;
    int rc = mdb_get(txn, q->repos, &key, &val);
    if (rc != 0)
        return ql_map_err(rc);
    if (val.mv_size < HQ_REPO_REC_FIXED || val.mv_size > HQ_REPO_REC_FIXED + HQ_MAX_OWNER_LEN)
        return HQ_ECORRUPT;
    const uint8_t *p = val.mv_data;
    r->count = ql_rd_be64(p);
    r->ready_key = (int64_t)ql_rd_be64(p + 8);
    r->leased = (uint32_t)ql_rd_be64(p + 16);
    r->lease_token = ql_rd_be64(p + 24);
    r->lease_expires = (int64_t)ql_rd_be64(p + 32);
    size_t ol = val.mv_size - HQ_REPO_REC_FIXED;
    memcpy(r->owner, p + HQ_REPO_REC_FIXED, ol);
    r->owner[ol] = '\0';
    return 0;
}

int ql_repo_put(ql_queue *q, MDB_txn *txn, uint64_t repo_id, const struct repo_rec *r)
{
    uint8_t k[8], buf[HQ_REPO_REC_FIXED + HQ_MAX_OWNER_LEN];
    size_t len;
    ql_be64(k, repo_id);
    repo_encode(r, buf, &len);
    MDB_val key = {8, k}, val = {len, buf};
    return ql_map_err(mdb_put(txn, q->repos, &key, &val, 0));
}

int ql_repo_del(ql_queue *q, MDB_txn *txn, uint64_t repo_id)
{
    uint8_t k[8];
    ql_be64(k, repo_id);
    MDB_val key = {8, k};
    return ql_map_err(mdb_del(txn, q->repos, &key, NULL));
}

/* (time, repo) keys of `ready` and `leases`. */
int ql_tindex_put(MDB_txn *txn, MDB_dbi dbi, int64_t t, uint64_t repo_id)
{
    uint8_t k[16];
    ql_be64(k, ql_tkey(t));
    ql_be64(k + 8, repo_id);
    MDB_val key = {16, k}, val = {0, NULL};
    return ql_map_err(mdb_put(txn, dbi, &key, &val, 0));
}

int ql_tindex_del(MDB_txn *txn, MDB_dbi dbi, int64_t t, uint64_t repo_id)
{
    uint8_t k[16];
    ql_be64(k, ql_tkey(t));
    ql_be64(k + 8, repo_id);
    MDB_val key = {16, k};
    int rc = mdb_del(txn, dbi, &key, NULL);
    return rc == MDB_NOTFOUND ? HQ_ECORRUPT : ql_map_err(rc);
}

/* First (time, repo) of an index; HQ_ENOTFOUND when empty. */
int ql_tindex_first(MDB_txn *txn, MDB_dbi dbi, int64_t *t, uint64_t *repo_id)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, dbi, &c);
    if (rc != 0)
        return ql_map_err(rc);
    MDB_val key, val;
    rc = mdb_cursor_get(c, &key, &val, MDB_FIRST);
    if (rc == 0 && key.mv_size != 16)
        rc = MDB_CORRUPTED;
    if (rc == 0) {
        *t = (int64_t)ql_rd_be64(key.mv_data);
        *repo_id = ql_rd_be64((const uint8_t *)key.mv_data + 8);
    }
    mdb_cursor_close(c);
    return ql_map_err(rc);
}

int ql_meta_get_u64(ql_queue *q, MDB_txn *txn, const char *name, uint64_t *v)
{
    MDB_val key = {strlen(name), (void *)name}, val;
    int rc = mdb_get(txn, q->meta, &key, &val);
    if (rc == MDB_NOTFOUND) {
        *v = 0;
        return 0;
    }
    if (rc != 0)
        return ql_map_err(rc);
    if (val.mv_size != 8)
        return HQ_ECORRUPT;
    *v = ql_rd_be64(val.mv_data);
    return 0;
}

int ql_meta_put_u64(ql_queue *q, MDB_txn *txn, const char *name, uint64_t v)
{
    uint8_t b[8];
    ql_be64(b, v);
    MDB_val key = {strlen(name), (void *)name}, val = {8, b};
    return ql_map_err(mdb_put(txn, q->meta, &key, &val, 0));
}

int ql_meta_add(ql_queue *q, MDB_txn *txn, const char *name, uint64_t delta, uint64_t *old)
{
    uint64_t v;
    int rc = ql_meta_get_u64(q, txn, name, &v);
    if (rc != 0)
        return rc;
    if (old != NULL)
        *old = v;
    return ql_meta_put_u64(q, txn, name, v + delta);
}

/* Stores an event envelope under (repo_id, seq) in `events`, or id in `dead`. */
int ql_envelope_put(MDB_txn *txn, MDB_dbi dbi, const uint8_t *k, size_t klen,
                    const struct hq_event *ev)
{
    size_t cap = hq_envelope_size(ev), len;
    MDB_val key = {klen, (void *)k}, val = {cap, NULL};
    /* Check first: once MDB_RESERVE'd, a failed encode would commit garbage. */
    int rc = hq_envelope_check(ev);
    if (rc != 0)
        return rc;
    /* MDB_RESERVE: encode straight into the page, no bounce buffer. */
    rc = mdb_put(txn, dbi, &key, &val, MDB_RESERVE);
    if (rc != 0)
        return ql_map_err(rc);
    return hq_envelope_encode(ev, val.mv_data, cap, &len);
}

/* The head event of a repository: its key (repo, seq) and decoded envelope. */
int ql_head_get(ql_queue *q, MDB_txn *txn, uint64_t repo_id, uint8_t key_out[16],
                struct hq_event **ev)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, q->events, &c);
    if (rc != 0)
        return ql_map_err(rc);
    uint8_t k[16];
    ql_be64(k, repo_id);
    ql_be64(k + 8, 0);
    MDB_val key = {16, k}, val;
    rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
    if (rc == 0 && (key.mv_size != 16 || ql_rd_be64(key.mv_data) != repo_id))
        rc = MDB_NOTFOUND;
    if (rc != 0) {
        mdb_cursor_close(c);
        return rc == MDB_NOTFOUND ? HQ_ECORRUPT : ql_map_err(rc); /* a repo record lies */
    }
    memcpy(key_out, key.mv_data, 16);
    rc = hq_envelope_decode(val.mv_data, val.mv_size, ev);
    mdb_cursor_close(c);
    return rc;
}

int ql_payload_get(ql_queue *q, MDB_txn *txn, struct hq_event *ev)
{
    uint8_t k[8];
    ql_be64(k, ev->id);
    MDB_val key = {8, k}, val;
    int rc = mdb_get(txn, q->payloads, &key, &val);
    if (rc != 0)
        return rc == MDB_NOTFOUND ? HQ_ECORRUPT : ql_map_err(rc);
    ev->payload = malloc(val.mv_size + 1);
    if (ev->payload == NULL)
        return -ENOMEM;
    memcpy(ev->payload, val.mv_data, val.mv_size);
    ev->payload[val.mv_size] = '\0';
    ev->payload_len = val.mv_size;
    return 0;
}

int ql_payload_del(ql_queue *q, MDB_txn *txn, uint64_t id)
{
    uint8_t k[8];
    ql_be64(k, id);
    MDB_val key = {8, k};
    int rc = mdb_del(txn, q->payloads, &key, NULL);
    return rc == MDB_NOTFOUND ? 0 : ql_map_err(rc);
}

size_t ql_dedup_key(uint8_t *k, uint64_t hook_id, const char *delivery)
{
    size_t dl = strlen(delivery);
    ql_be64(k, hook_id);
    memcpy(k + 8, delivery, dl);
    return 8 + dl;
}

/* Drops a bounded number of dedup entries older than the window. */
int ql_prune_dedup(ql_queue *q, MDB_txn *txn, int64_t now)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, q->dedup_age, &c);
    if (rc != 0)
        return ql_map_err(rc);
    int64_t cutoff = now - q->opts.dedup_window_ms;
    MDB_val key, val;
    for (int i = 0; i < HQ_DEDUP_PRUNE_PER_TXN; i++) {
        rc = mdb_cursor_get(c, &key, &val, MDB_FIRST);
        if (rc != 0 || key.mv_size < 16)
            break;
        if ((int64_t)ql_rd_be64(key.mv_data) >= cutoff)
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
    return rc == MDB_NOTFOUND ? 0 : ql_map_err(rc);
}

/* Adds an event (already holding id) at the tail of its repository's FIFO. */
int ql_append_event(ql_queue *q, MDB_txn *txn, const struct hq_event *ev, uint64_t seq, int64_t now)
{
    uint8_t k[16];
    ql_be64(k, ev->repo_id);
    ql_be64(k + 8, seq);
    int rc = ql_envelope_put(txn, q->events, k, 16, ev);
    if (rc != 0)
        return rc;
    struct repo_rec r;
    rc = ql_repo_get(q, txn, ev->repo_id, &r);
    if (rc == HQ_ENOTFOUND) {
        memset(&r, 0, sizeof(r));
        r.count = 1;
        r.ready_key = ev->not_before_ms > now ? ev->not_before_ms : now;
        if ((rc = ql_tindex_put(txn, q->ready, r.ready_key, ev->repo_id)) != 0)
            return rc;
        return ql_repo_put(q, txn, ev->repo_id, &r);
    }
    if (rc != 0)
        return rc;
    r.count++;
    return ql_repo_put(q, txn, ev->repo_id, &r);
}

/* Takes the repository out of whatever index it is in and puts it back as
 * ready at key time t, or deletes it when it has no events left. */
int ql_repo_requeue(ql_queue *q, MDB_txn *txn, uint64_t repo_id, struct repo_rec *r, int64_t t)
{
    int rc;
    if (r->leased) {
        if ((rc = ql_tindex_del(txn, q->leases, r->lease_expires, repo_id)) != 0)
            return rc;
    } else {
        if ((rc = ql_tindex_del(txn, q->ready, r->ready_key, repo_id)) != 0)
            return rc;
    }
    if (r->count == 0)
        return ql_repo_del(q, txn, repo_id);
    r->leased = 0;
    r->owner[0] = '\0';
    r->lease_expires = 0;
    r->ready_key = t;
    if ((rc = ql_tindex_put(txn, q->ready, t, repo_id)) != 0)
        return rc;
    return ql_repo_put(q, txn, repo_id, r);
}

/* Moves the head event (key hk, decoded ev) to the dead-letter set. */
int ql_head_to_dead(ql_queue *q, MDB_txn *txn, const uint8_t hk[16], struct hq_event *ev,
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
    if ((rc = ql_map_err(mdb_del(txn, q->events, &key, NULL))) != 0)
        return rc;
    uint8_t dk[8];
    ql_be64(dk, ev->id);
    if ((rc = ql_envelope_put(txn, q->dead, dk, 8, ev)) != 0)
        return rc;
    return ql_meta_add(q, txn, "dead_total", 1, NULL);
}

/* Next ready time for a repository whose head is ev. */
int64_t ql_ready_time(const struct hq_event *ev, int64_t now)
{
    return ev->not_before_ms > now ? ev->not_before_ms : now;
}

int ql_dead_get(ql_queue *q, MDB_txn *txn, uint64_t id, struct hq_event **ev)
{
    uint8_t k[8];
    ql_be64(k, id);
    MDB_val key = {8, k}, val;
    int rc = mdb_get(txn, q->dead, &key, &val);
    if (rc != 0)
        return ql_map_err(rc);
    return hq_envelope_decode(val.mv_data, val.mv_size, ev);
}

int ql_repo_pop_head(ql_queue *q, MDB_txn *txn, uint64_t repo_id, struct repo_rec *r, int64_t now,
                     bool *more)
{
    r->count--;
    int64_t t = now;
    if (r->count > 0) {
        struct hq_event *next = NULL;
        uint8_t nk[16];
        int rc = ql_head_get(q, txn, repo_id, nk, &next);
        if (rc != 0)
            return rc;
        t = ql_ready_time(next, now);
        hq_event_free(next);
        if (more != NULL)
            *more = true;
    }
    return ql_repo_requeue(q, txn, repo_id, r, t);
}
