/*
 * queue_lmdb_state: the small lookups and shared records of queue.h that are
 * not part of an event's life: "is this (hook id, delivery) pair known?" and
 * the named state records (catch-up's position and claim, schema/design.md
 * §9). A state record lives in `meta` under "state.NAME" (schema/lmdb.md);
 * its compare-and-set runs in the group-committed write transaction like
 * every other write, so the check and the write are one step for every
 * process on the file.
 */
#include "queue_lmdb_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define STATE_FIXED   32 /* version, position, value, claim_until: 4 x 8 bytes */
#define STATE_KEY_MAX (6 + HQ_MAX_STATE_NAME_LEN + 1)

int ql_dedup_lookup(void *h, uint64_t hook_id, const char *delivery, uint64_t *id)
{
    ql_queue *q = h;
    MDB_txn *txn;
    uint8_t dk[8 + HQ_MAX_DELIVERY_LEN];
    int rc = ql_read_txn(q, &txn);
    if (rc != 0)
        return rc;
    MDB_val key = {ql_dedup_key(dk, hook_id, delivery), dk}, val;
    int mrc = mdb_get(txn, q->dedup, &key, &val);
    if (mrc == 0) {
        *id = val.mv_size >= 16 ? ql_rd_be64((uint8_t *)val.mv_data + 8) : 0;
        rc = 0;
    } else {
        rc = mrc == MDB_NOTFOUND ? HQ_ENOTFOUND : ql_map_err(mrc);
    }
    ql_read_end(q, txn);
    return rc;
}

static size_t state_key(char *k, const char *name)
{
    int n = snprintf(k, STATE_KEY_MAX, "state.%s", name);
    return n > 0 && n < STATE_KEY_MAX ? (size_t)n : 0; /* queue.c checked the name */
}

/* Decodes a stored record; HQ_ECORRUPT when it is not one. */
static int state_decode(const MDB_val *val, struct hq_queue_state *st)
{
    const uint8_t *p = val->mv_data;
    size_t olen = val->mv_size - STATE_FIXED;
    if (val->mv_size < STATE_FIXED || olen > HQ_MAX_OWNER_LEN)
        return HQ_ECORRUPT;
    st->version = ql_rd_be64(p);
    st->position_ms = (int64_t)ql_rd_be64(p + 8);
    st->value = ql_rd_be64(p + 16);
    st->claim_until_ms = (int64_t)ql_rd_be64(p + 24);
    memcpy(st->claimed_by, p + STATE_FIXED, olen);
    st->claimed_by[olen] = '\0';
    return 0;
}

static int state_read(ql_queue *q, MDB_txn *txn, const char *name, struct hq_queue_state *st)
{
    char k[STATE_KEY_MAX];
    MDB_val key = {state_key(k, name), k}, val;
    int rc = mdb_get(txn, q->meta, &key, &val);
    if (rc == MDB_NOTFOUND) {
        memset(st, 0, sizeof(*st));
        return 0;
    }
    if (rc != 0)
        return ql_map_err(rc);
    return state_decode(&val, st);
}

int ql_state_get(void *h, const char *name, struct hq_queue_state *st)
{
    ql_queue *q = h;
    MDB_txn *txn;
    int rc = ql_read_txn(q, &txn);
    if (rc != 0)
        return rc;
    rc = state_read(q, txn, name, st);
    ql_read_end(q, txn);
    return rc;
}

struct cas_args {
    const char *name;
    uint64_t expect;
    const struct hq_queue_state *st;
};

static int cas_fn(ql_queue *q, MDB_txn *txn, void *arg)
{
    struct cas_args *a = arg;
    struct hq_queue_state cur;
    int rc = state_read(q, txn, a->name, &cur);
    if (rc != 0)
        return rc;
    if (cur.version != a->expect)
        return HQ_ELEASELOST; /* checked before anything is written */
    uint8_t b[STATE_FIXED + HQ_MAX_OWNER_LEN];
    size_t olen = strlen(a->st->claimed_by);
    ql_be64(b, a->expect + 1);
    ql_be64(b + 8, (uint64_t)a->st->position_ms);
    ql_be64(b + 16, a->st->value);
    ql_be64(b + 24, (uint64_t)a->st->claim_until_ms);
    memcpy(b + STATE_FIXED, a->st->claimed_by, olen);
    char k[STATE_KEY_MAX];
    MDB_val key = {state_key(k, a->name), k}, val = {STATE_FIXED + olen, b};
    return ql_map_err(mdb_put(txn, q->meta, &key, &val, 0));
}

int ql_state_cas(void *h, const char *name, uint64_t expect_version,
                 const struct hq_queue_state *st, uint64_t *new_version)
{
    struct cas_args a = {name, expect_version, st};
    int rc = ql_write(h, cas_fn, &a);
    if (rc == 0)
        *new_version = expect_version + 1;
    return rc;
}
