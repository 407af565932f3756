/*
 * queue_lmdb_ops: the write operations of queue.h (enqueue, lease, renew,
 * steps, complete, retry, dead letters, replay, purge, import). Each is a
 * function run by ql_write inside a group-committed transaction; it checks
 * everything first and writes last (queue_lmdb_int.h).
 */
#include "queue_lmdb_int.h"
#include "clock.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct enqueue_args {
    struct hq_enqueue *items;
    size_t n;
};

static int enqueue_fn(ql_queue *q, MDB_txn *txn, void *arg)
{
    struct enqueue_args *a = arg;
    int64_t now = hq_now_ms();
    uint64_t accepted = 0, dups = 0;
    uint8_t dk[8 + HQ_MAX_DELIVERY_LEN];
    int rc = 0;
    for (size_t i = 0; i < a->n; i++) {
        struct hq_enqueue *it = &a->items[i];
        if (it->result != 0)
            continue; /* refused by queue.c */
        MDB_val key = {ql_dedup_key(dk, it->hook_id, it->delivery), dk}, val;
        rc = mdb_get(txn, q->dedup, &key, &val);
        if (rc == 0) {
            it->result = HQ_EDUPLICATE;
            it->id = val.mv_size >= 16 ? ql_rd_be64((uint8_t *)val.mv_data + 8) : 0;
            dups++;
            continue;
        }
        if (rc != MDB_NOTFOUND)
            return ql_map_err(rc);
        uint64_t id;
        if ((rc = ql_meta_add(q, txn, "next_seq", 1, &id)) != 0)
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
        if (it->note != NULL && (rc = hq_event_history_append(&ev, now, it->note)) != 0)
            return rc;
        rc = ql_append_event(q, txn, &ev, id, now);
        free(ev.history);
        if (rc != 0)
            return rc;
        uint8_t pk[8];
        ql_be64(pk, id);
        MDB_val pkey = {8, pk}, pval = {it->payload_len, (void *)it->payload};
        if ((rc = ql_map_err(mdb_put(txn, q->payloads, &pkey, &pval, 0))) != 0)
            return rc;
        uint8_t dv[16];
        ql_be64(dv, ql_tkey(ev.received_at_ms));
        ql_be64(dv + 8, id);
        MDB_val dval = {16, dv};
        if ((rc = ql_map_err(mdb_put(txn, q->dedup, &key, &dval, 0))) != 0)
            return rc;
        uint8_t ak[16 + HQ_MAX_DELIVERY_LEN];
        ql_be64(ak, ql_tkey(ev.received_at_ms));
        memcpy(ak + 8, dk, key.mv_size);
        MDB_val akey = {8 + key.mv_size, ak}, empty = {0, NULL};
        if ((rc = ql_map_err(mdb_put(txn, q->dedup_age, &akey, &empty, 0))) != 0)
            return rc;
        it->id = id;
        accepted++;
    }
    if (accepted > 0 && (rc = ql_meta_add(q, txn, "enqueued_total", accepted, NULL)) != 0)
        return rc;
    if (dups > 0 && (rc = ql_meta_add(q, txn, "duplicates_total", dups, NULL)) != 0)
        return rc;
    /* Only the receiver's enqueues prune, so only its window applies. */
    return ql_prune_dedup(q, txn, now);
}

int ql_enqueue(void *h, struct hq_enqueue *items, size_t n)
{
    ql_queue *q = h;
    struct enqueue_args a = {items, n};
    int rc = ql_write(q, enqueue_fn, &a);
    if (rc == 0) {
        for (size_t i = 0; i < n; i++) {
            if (items[i].result == 0) {
                ql_wake_all(q);
                break;
            }
        }
    }
    return rc;
}

/* An expired lease: count the attempt, maybe dead-letter, make it ready. */
static int reclaim(ql_queue *q, MDB_txn *txn, uint64_t repo_id, int64_t now, bool *wakes)
{
    struct repo_rec r;
    struct hq_event *ev = NULL;
    uint8_t hk[16];
    int rc = ql_repo_get(q, txn, repo_id, &r);
    if (rc != 0)
        return rc == HQ_ENOTFOUND ? HQ_ECORRUPT : rc;
    if ((rc = ql_head_get(q, txn, repo_id, hk, &ev)) != 0)
        return rc;
    ev->attempts++;
    char why[256];
    snprintf(why, sizeof(why), "lease of %.128s expired", r.owner);
    if ((rc = hq_event_history_append(ev, now, why)) != 0)
        goto out;
    if (q->opts.max_attempts > 0 && ev->attempts >= q->opts.max_attempts) {
        char reason[320];
        snprintf(reason, sizeof(reason), "%s; %u attempts failed", why, ev->attempts);
        if ((rc = ql_head_to_dead(q, txn, hk, ev, reason, now)) != 0)
            goto out;
        rc = ql_repo_pop_head(q, txn, repo_id, &r, now, NULL);
    } else {
        if ((rc = ql_envelope_put(txn, q->events, hk, 16, ev)) != 0)
            goto out;
        rc = ql_repo_requeue(q, txn, repo_id, &r, ql_ready_time(ev, now));
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

static int lease_fn(ql_queue *q, MDB_txn *txn, void *arg)
{
    struct lease_args *a = arg;
    int64_t now = hq_now_ms(), t;
    uint64_t repo_id;
    int rc;
    a->ev = NULL;
    for (int i = 0; i < HQ_RECLAIM_PER_LEASE; i++) {
        rc = ql_tindex_first(txn, q->leases, &t, &repo_id);
        if (rc == HQ_ENOTFOUND || (rc == 0 && t > now))
            break;
        if (rc != 0)
            return rc;
        if ((rc = reclaim(q, txn, repo_id, now, &a->wakes)) != 0)
            return rc;
    }
    rc = ql_tindex_first(txn, q->ready, &t, &repo_id);
    if (rc == HQ_ENOTFOUND || (rc == 0 && t > now)) {
        int64_t next = rc == 0 ? t : INT64_MAX;
        int64_t lt;
        uint64_t lr;
        if (ql_tindex_first(txn, q->leases, &lt, &lr) == 0 && lt < next)
            next = lt;
        a->next_ready_ms = next;
        return HQ_ENOTREADY;
    }
    if (rc != 0)
        return rc;
    struct repo_rec r;
    if ((rc = ql_repo_get(q, txn, repo_id, &r)) != 0)
        return rc == HQ_ENOTFOUND ? HQ_ECORRUPT : rc;
    uint8_t hk[16];
    struct hq_event *ev = NULL;
    if ((rc = ql_head_get(q, txn, repo_id, hk, &ev)) != 0)
        return rc;
    if ((rc = ql_payload_get(q, txn, ev)) != 0)
        goto fail;
    if ((rc = ql_tindex_del(txn, q->ready, r.ready_key, repo_id)) != 0)
        goto fail;
    uint64_t token;
    if ((rc = ql_meta_add(q, txn, "next_token", 1, &token)) != 0)
        goto fail;
    r.leased = 1;
    r.lease_token = token + 1;
    r.lease_expires = now + a->lease_ms;
    snprintf(r.owner, sizeof(r.owner), "%s", a->owner); /* fits: queue.c checked */
    if ((rc = ql_tindex_put(txn, q->leases, r.lease_expires, repo_id)) != 0)
        goto fail;
    if ((rc = ql_repo_put(q, txn, repo_id, &r)) != 0)
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

int ql_lease(void *h, const char *owner, int64_t lease_ms, struct hq_lease *lease,
             struct hq_event **ev, int64_t *next_ready_ms)
{
    ql_queue *q = h;
    struct lease_args a = {owner, lease_ms, lease, NULL, INT64_MAX, false};
    *ev = NULL;
    int64_t now = hq_mono_ms();
    int64_t last = atomic_load(&q->last_reader_check_ms);
    if (now - last > 10000 &&
        atomic_compare_exchange_strong(&q->last_reader_check_ms, &last, now)) {
        /* Crashed processes' reader slots pin old pages; clear them now and
         * then (one caller at a time: the exchange picks it). */
        int dead = 0;
        mdb_reader_check(q->env, &dead);
    }
    int rc = ql_write(q, lease_fn, &a);
    if (next_ready_ms != NULL)
        *next_ready_ms = a.next_ready_ms;
    if (rc != 0) {
        /* The commit may have failed after lease_fn produced an event. */
        hq_event_free(a.ev);
        return rc;
    }
    if (a.wakes)
        ql_wake_all(q);
    *ev = a.ev;
    return 0;
}

/* Checks that lease is still the repository's current lease. */
static int lease_check(ql_queue *q, MDB_txn *txn, const struct hq_lease *lease, struct repo_rec *r)
{
    int rc = ql_repo_get(q, txn, lease->repo_id, r);
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

static int renew_fn(ql_queue *q, MDB_txn *txn, void *arg)
{
    struct renew_args *a = arg;
    struct repo_rec r;
    int rc = lease_check(q, txn, a->lease, &r);
    if (rc != 0)
        return rc;
    if ((rc = ql_tindex_del(txn, q->leases, r.lease_expires, a->lease->repo_id)) != 0)
        return rc;
    r.lease_expires = hq_now_ms() + a->lease_ms;
    if ((rc = ql_tindex_put(txn, q->leases, r.lease_expires, a->lease->repo_id)) != 0)
        return rc;
    if ((rc = ql_repo_put(q, txn, a->lease->repo_id, &r)) != 0)
        return rc;
    a->lease->expires_ms = r.lease_expires;
    return 0;
}

int ql_renew(void *h, struct hq_lease *lease, int64_t lease_ms)
{
    ql_queue *q = h;
    struct hq_lease copy = *lease;
    struct renew_args a = {&copy, lease_ms};
    int rc = ql_write(q, renew_fn, &a);
    if (rc == 0)
        *lease = copy;
    return rc;
}

/* Loads the leased head; HQ_ELEASELOST unless it is lease's event. */
static int leased_head(ql_queue *q, MDB_txn *txn, const struct hq_lease *lease, struct repo_rec *r,
                       uint8_t hk[16], struct hq_event **ev)
{
    int rc = lease_check(q, txn, lease, r);
    if (rc != 0)
        return rc;
    if ((rc = ql_head_get(q, txn, lease->repo_id, hk, ev)) != 0)
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

static int step_fn(ql_queue *q, MDB_txn *txn, void *arg)
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
        ev->check_desc = strdup(a->desc); /* cut to its cap by queue.c */
        if (ev->check_desc == NULL) {
            rc = -ENOMEM;
            goto out;
        }
    }
    rc = ql_envelope_put(txn, q->events, hk, 16, ev);
out:
    hq_event_free(ev);
    return rc;
}

int ql_record_step(void *h, const struct hq_lease *lease, enum hq_step step,
                   enum hq_check_state check_state, const char *check_desc)
{
    ql_queue *q = h;
    struct step_args a = {lease, step, check_state, check_desc};
    return ql_write(q, step_fn, &a);
}

struct run_args {
    const struct hq_lease *lease;
    uint64_t check_run_id;
};

static int check_run_fn(ql_queue *q, MDB_txn *txn, void *arg)
{
    struct run_args *a = arg;
    struct repo_rec r;
    uint8_t hk[16];
    struct hq_event *ev = NULL;
    int rc = leased_head(q, txn, a->lease, &r, hk, &ev);
    if (rc != 0)
        return rc;
    ev->check_run_id = a->check_run_id;
    rc = ql_envelope_put(txn, q->events, hk, 16, ev);
    hq_event_free(ev);
    return rc;
}

int ql_record_check_run(void *h, const struct hq_lease *lease, uint64_t check_run_id)
{
    struct run_args a = {lease, check_run_id};
    return ql_write(h, check_run_fn, &a);
}

/* Removes the leased head (done or dead) and requeues the repository. */
static int finish_head(ql_queue *q, MDB_txn *txn, const struct hq_lease *lease,
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
        ev->attempts++; /* the attempt that ends here failed too */
        if ((rc = hq_event_history_append(ev, now, dead_reason)) != 0)
            goto out;
        if ((rc = ql_head_to_dead(q, txn, hk, ev, dead_reason, now)) != 0)
            goto out;
    } else {
        MDB_val key = {16, hk};
        if ((rc = ql_map_err(mdb_del(txn, q->events, &key, NULL))) != 0)
            goto out;
        if ((rc = ql_payload_del(q, txn, ev->id)) != 0)
            goto out;
        if ((rc = ql_meta_add(q, txn, "done_total", 1, NULL)) != 0)
            goto out;
    }
    rc = ql_repo_pop_head(q, txn, lease->repo_id, &r, now, wakes);
out:
    hq_event_free(ev);
    return rc;
}

struct finish_args {
    const struct hq_lease *lease;
    const char *reason;
    bool wakes;
};

static int finish_fn(ql_queue *q, MDB_txn *txn, void *arg)
{
    struct finish_args *a = arg;
    return finish_head(q, txn, a->lease, a->reason, &a->wakes);
}

int ql_complete(void *h, const struct hq_lease *lease)
{
    ql_queue *q = h;
    struct finish_args a = {lease, NULL, false};
    int rc = ql_write(q, finish_fn, &a);
    if (rc == 0 && a.wakes)
        ql_wake_all(q);
    return rc;
}

int ql_dead_letter(void *h, const struct hq_lease *lease, const char *reason)
{
    ql_queue *q = h;
    struct finish_args a = {lease, reason, false};
    int rc = ql_write(q, finish_fn, &a);
    if (rc == 0 && a.wakes)
        ql_wake_all(q);
    return rc;
}

struct retry_args {
    const struct hq_lease *lease;
    int64_t not_before;
    bool count;
    const char *error;
    enum hq_step reached;
};

static int retry_fn(ql_queue *q, MDB_txn *txn, void *arg)
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
    if (a->reached > ev->step)
        ev->step = a->reached;
    if (a->count) {
        ev->attempts++;
        if ((rc = hq_event_history_append(ev, now, a->error)) != 0)
            goto out;
    }
    if ((rc = ql_envelope_put(txn, q->events, hk, 16, ev)) != 0)
        goto out;
    rc = ql_repo_requeue(q, txn, a->lease->repo_id, &r, ql_ready_time(ev, now));
out:
    hq_event_free(ev);
    return rc;
}

int ql_retry(void *h, const struct hq_lease *lease, int64_t not_before_ms, bool count_attempt,
             const char *error, enum hq_step reached)
{
    ql_queue *q = h;
    struct retry_args a = {lease, not_before_ms, count_attempt, error, reached};
    int rc = ql_write(q, retry_fn, &a);
    if (rc == 0)
        ql_wake_all(q);
    return rc;
}

int ql_get_dead(void *h, uint64_t id, bool with_payload, struct hq_event **ev)
{
    ql_queue *q = h;
    MDB_txn *txn;
    int rc = ql_read_txn(q, &txn);
    if (rc != 0)
        return rc;
    struct hq_event *e = NULL;
    rc = ql_dead_get(q, txn, id, &e);
    if (rc == 0 && with_payload)
        rc = ql_payload_get(q, txn, e);
    ql_read_end(q, txn);
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

static int replay_fn(ql_queue *q, MDB_txn *txn, void *arg)
{
    struct replay_args *a = arg;
    struct hq_event *ev = NULL;
    int64_t now = hq_now_ms();
    int rc = ql_dead_get(q, txn, a->id, &ev);
    if (rc != 0)
        return rc;
    uint8_t k[8];
    ql_be64(k, a->id);
    MDB_val key = {8, k};
    if ((rc = ql_map_err(mdb_del(txn, q->dead, &key, NULL))) != 0)
        goto out;
    uint64_t seq;
    if ((rc = ql_meta_add(q, txn, "next_seq", 1, &seq)) != 0)
        goto out;
    ev->attempts = 0;
    ev->step = HQ_STEP_NEW;
    ev->check_state = HQ_CHECK_NONE;
    ev->check_run_id = 0; /* a replay is a new check run */
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
    rc = ql_append_event(q, txn, ev, seq + 1, now);
out:
    hq_event_free(ev);
    return rc;
}

int ql_replay(void *h, uint64_t id, uint64_t *new_id)
{
    ql_queue *q = h;
    struct replay_args a = {id};
    int rc = ql_write(q, replay_fn, &a);
    if (rc == 0) {
        if (new_id != NULL)
            *new_id = id;
        ql_wake_all(q);
    }
    return rc;
}

static int purge_fn(ql_queue *q, MDB_txn *txn, void *arg)
{
    uint64_t id = *(uint64_t *)arg;
    uint8_t k[8];
    ql_be64(k, id);
    MDB_val key = {8, k};
    int rc = mdb_del(txn, q->dead, &key, NULL);
    if (rc != 0)
        return ql_map_err(rc);
    return ql_payload_del(q, txn, id);
}

int ql_purge(void *h, uint64_t id)
{
    ql_queue *q = h;
    return ql_write(q, purge_fn, &id);
}

struct import_args {
    const struct hq_event *ev;
    uint64_t new_id;
};

static int import_fn(ql_queue *q, MDB_txn *txn, void *arg)
{
    struct import_args *a = arg;
    const struct hq_event *in = a->ev; /* checked by queue.c */
    int rc;
    uint8_t dk[8 + HQ_MAX_DELIVERY_LEN];
    MDB_val key = {ql_dedup_key(dk, in->hook_id, in->delivery), dk}, val;
    /* Known here already (queued, done or dead within the window): importing
     * it again could run it twice. */
    rc = mdb_get(txn, q->dedup, &key, &val);
    if (rc == 0)
        return HQ_EDUPLICATE;
    if (rc != MDB_NOTFOUND)
        return ql_map_err(rc);
    uint64_t id;
    if ((rc = ql_meta_add(q, txn, "next_seq", 1, &id)) != 0)
        return rc;
    id++;
    struct hq_event ev = *in;
    ev.id = id;
    uint8_t k[8];
    ql_be64(k, id);
    if ((rc = ql_envelope_put(txn, q->dead, k, 8, &ev)) != 0)
        return rc;
    MDB_val pkey = {8, k}, pval = {in->payload_len, in->payload};
    if ((rc = ql_map_err(mdb_put(txn, q->payloads, &pkey, &pval, 0))) != 0)
        return rc;
    /* Remembered from the import on: an old received time would be pruned at once. */
    int64_t received = hq_now_ms();
    uint8_t dv[16];
    ql_be64(dv, ql_tkey(received));
    ql_be64(dv + 8, id);
    MDB_val dval = {16, dv};
    if ((rc = ql_map_err(mdb_put(txn, q->dedup, &key, &dval, 0))) != 0)
        return rc;
    uint8_t ak[16 + HQ_MAX_DELIVERY_LEN];
    ql_be64(ak, ql_tkey(received));
    memcpy(ak + 8, dk, key.mv_size);
    MDB_val akey = {8 + key.mv_size, ak}, empty = {0, NULL};
    if ((rc = ql_map_err(mdb_put(txn, q->dedup_age, &akey, &empty, 0))) != 0)
        return rc;
    if ((rc = ql_meta_add(q, txn, "dead_total", 1, NULL)) != 0)
        return rc;
    a->new_id = id;
    return 0;
}

int ql_import_dead(void *h, const struct hq_event *ev, uint64_t *new_id)
{
    ql_queue *q = h;
    struct import_args a = {ev, 0};
    int rc = ql_write(q, import_fn, &a);
    if (rc == 0 && new_id != NULL)
        *new_id = a.new_id;
    return rc;
}
