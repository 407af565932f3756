/*
 * queue_lmdb_import: the LMDB side of moving a queue between backends
 * (hookqctl migrate, schema/design.md §7): the walk over the dedup set and
 * hq_queue_import, which stores events, dead letters, dedup pairs and
 * counters keeping their ids.
 *
 * An import batch is one write operation of the group commit (ql_write), so
 * it is durable when it returns. It runs in a nested transaction of the
 * batch transaction: an id or pair found present (HQ_EDUPLICATE) aborts the
 * nested one, and nothing of the import is stored while the other writers'
 * operations of the same commit still are. Every invariant of schema/lmdb.md
 * is kept by building on the helpers the other writes use: ql_append_event
 * (events, repos, ready), the payloads, dedup and its dedup_age twin.
 */
#include "queue_lmdb_int.h"
#include "clock.h"

#include <errno.h>
#include <string.h>

int ql_foreach_dedup(void *h, hq_queue_dedup_fn fn, void *arg)
{
    ql_queue *q = h;
    MDB_txn *txn;
    MDB_cursor *c = NULL;
    int rc = ql_read_txn(q, &txn);
    if (rc != 0)
        return rc;
    if ((rc = ql_map_err(mdb_cursor_open(txn, q->dedup, &c))) != 0)
        goto out;
    MDB_val key, val;
    int mrc = mdb_cursor_get(c, &key, &val, MDB_FIRST);
    while (mrc == 0) {
        if (key.mv_size <= 8 || key.mv_size > 8 + HQ_MAX_DELIVERY_LEN || val.mv_size != 16) {
            rc = HQ_ECORRUPT;
            goto out;
        }
        char delivery[HQ_MAX_DELIVERY_LEN + 1];
        size_t dl = key.mv_size - 8;
        memcpy(delivery, (const uint8_t *)key.mv_data + 8, dl);
        delivery[dl] = '\0';
        if (strlen(delivery) != dl) {
            rc = HQ_ECORRUPT; /* an embedded NUL: never written by enqueue */
            goto out;
        }
        const uint8_t *v = val.mv_data;
        rc = fn(ql_rd_be64(key.mv_data), delivery, (int64_t)ql_rd_be64(v), ql_rd_be64(v + 8), arg);
        if (rc != 0)
            goto out;
        mrc = mdb_cursor_get(c, &key, &val, MDB_NEXT);
    }
    if (mrc != MDB_NOTFOUND)
        rc = ql_map_err(mrc);
out:
    if (c != NULL)
        mdb_cursor_close(c);
    ql_read_end(q, txn);
    return rc;
}

struct import_batch {
    const struct hq_import *items;
    size_t n;
    bool events; /* some event was stored: wake the workers */
};

/* The payload of id, refusing one already there: payloads hold every
 * queued event and dead letter (invariant 4), so this is the id check. */
static int put_payload(ql_queue *q, MDB_txn *txn, const struct hq_event *ev)
{
    uint8_t k[8];
    ql_be64(k, ev->id);
    MDB_val key = {8, k}, val = {ev->payload_len, ev->payload};
    int rc = mdb_put(txn, q->payloads, &key, &val, MDB_NOOVERWRITE);
    return rc == MDB_KEYEXIST ? HQ_EDUPLICATE : ql_map_err(rc);
}

static int import_event(ql_queue *q, MDB_txn *txn, const struct hq_event *ev, int64_t now)
{
    int rc = put_payload(q, txn, ev);
    if (rc != 0)
        return rc;
    /* A new seq past everything stored, so it goes to the tail; the id is
     * kept (as a replay keeps it). The repository record made for its first
     * event is unleased and joins the ready line at its head's ready time.
     * NEEDSWORK: repositories that join within one millisecond tie on that
     * time and line up by repository id, not by arrival; migrate imports
     * them in id order, so it sees no difference. */
    uint64_t seq;
    if ((rc = ql_meta_add(q, txn, "next_seq", 1, &seq)) != 0)
        return rc;
    return ql_append_event(q, txn, ev, seq + 1, now);
}

static int import_dead(ql_queue *q, MDB_txn *txn, const struct hq_event *ev)
{
    int rc = put_payload(q, txn, ev);
    if (rc != 0)
        return rc;
    uint8_t k[8];
    ql_be64(k, ev->id);
    MDB_val key = {8, k}, val;
    rc = mdb_get(txn, q->dead, &key, &val);
    if (rc == 0)
        return HQ_EDUPLICATE; /* a dead letter that lost its payload: still present */
    if (rc != MDB_NOTFOUND)
        return ql_map_err(rc);
    return ql_envelope_put(txn, q->dead, k, 8, ev);
}

static int import_dedup(ql_queue *q, MDB_txn *txn, const struct hq_import *it)
{
    uint8_t dk[8 + HQ_MAX_DELIVERY_LEN];
    MDB_val key = {ql_dedup_key(dk, it->hook_id, it->delivery), dk};
    uint8_t dv[16];
    ql_be64(dv, ql_tkey(it->at_ms));
    ql_be64(dv + 8, it->event_id);
    MDB_val val = {16, dv};
    int rc = mdb_put(txn, q->dedup, &key, &val, MDB_NOOVERWRITE);
    if (rc == MDB_KEYEXIST)
        return HQ_EDUPLICATE;
    if (rc != 0)
        return ql_map_err(rc);
    /* Its twin by age (invariant 5), so that it is pruned when its window
     * ends exactly as if it had been received here. */
    uint8_t ak[16 + HQ_MAX_DELIVERY_LEN];
    ql_be64(ak, ql_tkey(it->at_ms));
    memcpy(ak + 8, dk, key.mv_size);
    MDB_val akey = {8 + key.mv_size, ak}, empty = {0, NULL};
    return ql_map_err(mdb_put(txn, q->dedup_age, &akey, &empty, 0));
}

static int import_counters(ql_queue *q, MDB_txn *txn, const struct hq_import *it)
{
    static const char *const names[] = {"enqueued_total", "duplicates_total", "done_total",
                                        "dead_total"};
    const uint64_t add[] = {it->enqueued_total, it->duplicates_total, it->done_total,
                            it->dead_total};
    for (size_t i = 0; i < sizeof(add) / sizeof(add[0]); i++) {
        int rc = add[i] == 0 ? 0 : ql_meta_add(q, txn, names[i], add[i], NULL);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* The largest id the batch names: the allocator moves past it. */
static uint64_t batch_max_id(const struct hq_import *items, size_t n)
{
    uint64_t max = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t id = 0;
        if (items[i].kind == HQ_IMPORT_EVENT || items[i].kind == HQ_IMPORT_DEAD)
            id = items[i].ev->id;
        else if (items[i].kind == HQ_IMPORT_DEDUP)
            id = items[i].event_id; /* a later event must not take a remembered id */
        if (id > max)
            max = id;
    }
    return max;
}

static int import_items(ql_queue *q, MDB_txn *txn, struct import_batch *b)
{
    int64_t now = hq_now_ms();
    uint64_t next;
    int rc = ql_meta_get_u64(q, txn, "next_seq", &next);
    if (rc != 0)
        return rc;
    uint64_t max = batch_max_id(b->items, b->n);
    if (max > next && (rc = ql_meta_put_u64(q, txn, "next_seq", max)) != 0)
        return rc;
    for (size_t i = 0; i < b->n && rc == 0; i++) {
        const struct hq_import *it = &b->items[i];
        switch (it->kind) {
        case HQ_IMPORT_EVENT:
            rc = import_event(q, txn, it->ev, now);
            b->events = true;
            break;
        case HQ_IMPORT_DEAD: rc = import_dead(q, txn, it->ev); break;
        case HQ_IMPORT_DEDUP: rc = import_dedup(q, txn, it); break;
        case HQ_IMPORT_COUNTERS: rc = import_counters(q, txn, it); break;
        default: rc = -EINVAL; break; /* queue.c refused it already */
        }
    }
    return rc;
}

static int import_fn(ql_queue *q, MDB_txn *txn, void *arg)
{
    struct import_batch *b = arg;
    MDB_txn *child;
    int rc = ql_map_err(mdb_txn_begin(q->env, txn, 0, &child));
    if (rc != 0)
        return rc;
    rc = import_items(q, child, b);
    if (rc != 0) {
        mdb_txn_abort(child);
        b->events = false;
        return rc;
    }
    return ql_map_err(mdb_txn_commit(child));
}

int ql_import(void *h, const struct hq_import *items, size_t n)
{
    ql_queue *q = h;
    struct import_batch b = {items, n, false};
    int rc = ql_write(q, import_fn, &b);
    if (rc == 0 && b.events)
        ql_wake_all(q);
    return rc;
}
