/*
 * queue_pg_admin: the operator's writes on the PostgreSQL queue (replay,
 * purge, import of dead letters, the migration import) and the named state
 * records' compare-and-set. One transaction each.
 */
#include "queue_pg_int.h"
#include "clock.h"
#include "envelope.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct replay_args {
    uint64_t id;
};

static int replay_fn(pg_queue *q, PGconn *c, void *arg)
{
    struct replay_args *a = arg;
    struct pg_params p;
    PGresult *res;
    struct hq_event *ev = NULL;
    int64_t now = hq_now_ms();
    (void)q;
    pp_init(&p);
    pp_i64(&p, (int64_t)a->id);
    int rc = pg_exec(
        c, "DELETE FROM hq_dead d WHERE d.id = $1 RETURNING " PG_DEAD_COLS("d.payload"), &p, &res);
    if (rc != 0)
        return rc;
    rc = PQntuples(res) == 0 ? HQ_ENOTFOUND : pg_ev_from_row(res, 0, &ev);
    PQclear(res);
    if (rc != 0)
        return rc;
    ev->attempts = 0;
    ev->step = HQ_STEP_NEW;
    ev->check_state = HQ_CHECK_NONE;
    ev->check_run_id = 0; /* a replayed event gets a new check run */
    ev->not_before_ms = 0;
    ev->dead_at_ms = 0;
    ev->check_desc[0] = '\0';
    ev->reason[0] = '\0';
    if ((rc = hq_event_history_append(ev, now, "replayed from the dead-letter set")) != 0 ||
        (rc = pg_counter_add(c, "dead", -1)) != 0)
        goto out;
    if ((rc = pg_append_event(c, ev, now)) != 0)
        goto out;
    rc = pg_notify_ready(c);
out:
    hq_event_free(ev);
    return rc;
}

int pgq_replay(void *h, uint64_t id, uint64_t *new_id)
{
    struct replay_args a = {id};
    int rc = pg_tx(h, true, false, replay_fn, &a);
    if (rc == 0) {
        if (new_id != NULL)
            *new_id = id; /* it keeps its id, as on LMDB */
        pg_wake_local(h);
    }
    return rc;
}

static int purge_fn(pg_queue *q, PGconn *c, void *arg)
{
    struct pg_params p;
    PGresult *res;
    (void)q;
    pp_init(&p);
    pp_i64(&p, *(int64_t *)arg);
    int rc = pg_exec(c, "DELETE FROM hq_dead WHERE id = $1", &p, &res);
    if (rc != 0)
        return rc;
    rc = strcmp(PQcmdTuples(res), "0") == 0 ? HQ_ENOTFOUND : 0;
    PQclear(res);
    return rc != 0 ? rc : pg_counter_add(c, "dead", -1);
}

int pgq_purge(void *h, uint64_t id)
{
    int64_t v = (int64_t)id;
    return pg_tx(h, true, false, purge_fn, &v);
}

/* Inserts ev as a dead letter with its id and dead_at as given. */
static int dead_insert(PGconn *c, const struct hq_event *ev)
{
    struct pg_params p;
    pp_init(&p);
    pp_event(&p, ev);
    pp_i64(&p, ev->dead_at_ms);
    pp_str(&p, ev->reason);
    pp_bin(&p, ev->payload, ev->payload_len);
    int rc = pg_run(c,
                    "INSERT INTO hq_dead (id, repo_id, hook_id, installation_id, received_at, "
                    "not_before, attempts, step, check_state, check_run_id, repo_name, delivery, "
                    "event, action, check_desc, history, dead_at, reason, payload) VALUES ($1, $2, "
                    "$3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
                    &p);
    return rc != 0 ? rc : pg_counter_add(c, "dead", 1);
}

static int dedup_insert(PGconn *c, uint64_t hook_id, const char *delivery, int64_t at,
                        uint64_t event_id)
{
    struct pg_params p;
    pp_init(&p);
    pp_i64(&p, (int64_t)hook_id);
    pp_str(&p, delivery);
    pp_i64(&p, at);
    pp_i64(&p, (int64_t)event_id);
    return pg_run(c,
                  "INSERT INTO hq_dedup (hook_id, delivery, at_ms, event_id) VALUES ($1, $2, $3, "
                  "$4)",
                  &p);
}

struct import_dead_args {
    const struct hq_event *ev;
    uint64_t new_id;
};

static int import_dead_fn(pg_queue *q, PGconn *c, void *arg)
{
    struct import_dead_args *a = arg;
    struct pg_params p;
    PGresult *res;
    (void)q;
    pp_init(&p);
    pp_i64(&p, (int64_t)a->ev->hook_id);
    pp_str(&p, a->ev->delivery);
    /* Known here already (queued, done or dead within the window): importing
     * it again could run it twice. */
    int rc = pg_exec(c,
                     "SELECT (SELECT count(*) FROM hq_dedup WHERE hook_id = $1 AND delivery = $2) "
                     "+ (SELECT count(*) FROM hq_dead WHERE hook_id = $1 AND delivery = $2), "
                     "nextval('hq_event_id_seq')",
                     &p, &res);
    if (rc != 0)
        return rc;
    bool known = pg_i64(res, 0, 0) > 0;
    struct hq_event ev = *a->ev;
    ev.id = (uint64_t)pg_i64(res, 0, 1);
    PQclear(res);
    if (known)
        return HQ_EDUPLICATE;
    /* Remembered from the import on: an old received time would be pruned at once. */
    if ((rc = dead_insert(c, &ev)) != 0 ||
        (rc = dedup_insert(c, ev.hook_id, ev.delivery, hq_now_ms(), ev.id)) != 0 ||
        (rc = pg_counter_add(c, "dead_total", 1)) != 0)
        return rc;
    a->new_id = ev.id;
    return 0;
}

int pgq_import_dead(void *h, const struct hq_event *ev, uint64_t *new_id)
{
    struct import_dead_args a = {ev, 0};
    int rc = pg_tx(h, true, false, import_dead_fn, &a);
    if (rc == 0 && new_id != NULL)
        *new_id = a.new_id;
    return rc;
}

struct import_args {
    const struct hq_import *items;
    size_t n;
};

static int import_fn(pg_queue *q, PGconn *c, void *arg)
{
    struct import_args *a = arg;
    struct pg_params p;
    PGresult *res;
    int64_t now = hq_now_ms(), max_id = 0;
    bool wakes = false;
    int rc = 0;
    (void)q;
    for (size_t i = 0; i < a->n && rc == 0; i++) {
        const struct hq_import *it = &a->items[i];
        int64_t id = it->ev != NULL ? (int64_t)it->ev->id : 0;
        switch (it->kind) {
        case HQ_IMPORT_EVENT:
        case HQ_IMPORT_DEAD:
            pp_init(&p);
            pp_i64(&p, id);
            /* An id is unique across queued events and dead letters. */
            if ((rc = pg_exec(c,
                              "SELECT EXISTS (SELECT 1 FROM hq_event WHERE id = $1) OR EXISTS "
                              "(SELECT 1 FROM hq_dead WHERE id = $1)",
                              &p, &res)) != 0)
                break;
            rc = PQgetvalue(res, 0, 0)[0] == 't' ? HQ_EDUPLICATE : 0;
            PQclear(res);
            if (rc != 0)
                break;
            if (it->kind == HQ_IMPORT_EVENT) {
                rc = pg_append_event(c, it->ev, now);
                wakes = true;
            } else {
                rc = dead_insert(c, it->ev);
            }
            if (id > max_id)
                max_id = id;
            break;
        case HQ_IMPORT_DEDUP:
            rc = dedup_insert(c, it->hook_id, it->delivery, it->at_ms, it->event_id);
            /* The event a pair names may be done already: its id stays taken. */
            if ((int64_t)it->event_id > max_id)
                max_id = (int64_t)it->event_id;
            break;
        case HQ_IMPORT_COUNTERS:
            if ((rc = pg_counter_add(c, "enqueued_total", (int64_t)it->enqueued_total)) == 0 &&
                (rc = pg_counter_add(c, "duplicates_total", (int64_t)it->duplicates_total)) == 0 &&
                (rc = pg_counter_add(c, "done_total", (int64_t)it->done_total)) == 0)
                rc = pg_counter_add(c, "dead_total", (int64_t)it->dead_total);
            break;
        }
    }
    if (rc != 0)
        return rc;
    if (max_id > 0) {
        /* The allocator moves past every id stored. */
        pp_init(&p);
        pp_i64(&p, max_id);
        if ((rc = pg_run(c,
                         "SELECT setval('hq_event_id_seq', greatest($1, (SELECT last_value FROM "
                         "hq_event_id_seq)))",
                         &p)) != 0)
            return rc;
    }
    return wakes ? pg_notify_ready(c) : 0;
}

int pgq_import(void *h, const struct hq_import *items, size_t n)
{
    struct import_args a = {items, n};
    int rc = pg_tx(h, true, false, import_fn, &a);
    if (rc == 0)
        pg_wake_local(h);
    return rc;
}

struct cas_args {
    const char *name;
    uint64_t expect;
    const struct hq_queue_state *st;
};

static int cas_fn(pg_queue *q, PGconn *c, void *arg)
{
    struct cas_args *a = arg;
    struct pg_params p;
    PGresult *res;
    (void)q;
    pp_init(&p);
    pp_str(&p, a->name);
    pp_i64(&p, (int64_t)a->expect);
    pp_i64(&p, a->st->position_ms);
    pp_i64(&p, (int64_t)a->st->value);
    pp_i64(&p, a->st->claim_until_ms);
    pp_str(&p, a->st->claimed_by);
    /* One statement: a first write inserts version 1 (a concurrent first
     * write conflicts and changes nothing), a later one updates only when the
     * stored version is still the expected one. */
    int rc = pg_exec(c,
                     "INSERT INTO hq_state AS s (name, version, position_ms, value, "
                     "claim_until_ms, claimed_by) SELECT $1, 1, $3, $4, $5, $6 WHERE $2::bigint = "
                     "0 ON CONFLICT (name) DO UPDATE SET version = s.version + 1, position_ms = "
                     "excluded.position_ms, value = excluded.value, claim_until_ms = "
                     "excluded.claim_until_ms, claimed_by = excluded.claimed_by WHERE s.version "
                     "= $2 RETURNING 1",
                     &p, &res);
    if (rc != 0)
        return rc;
    int n = PQntuples(res);
    PQclear(res);
    if (n > 0)
        return 0;
    if (a->expect == 0)
        return HQ_ELEASELOST;
    pp_init(&p);
    pp_str(&p, a->name);
    pp_i64(&p, (int64_t)a->expect);
    pp_i64(&p, a->st->position_ms);
    pp_i64(&p, (int64_t)a->st->value);
    pp_i64(&p, a->st->claim_until_ms);
    pp_str(&p, a->st->claimed_by);
    rc = pg_exec(c,
                 "UPDATE hq_state SET version = version + 1, position_ms = $3, value = $4, "
                 "claim_until_ms = $5, claimed_by = $6 WHERE name = $1 AND version = $2 "
                 "RETURNING 1",
                 &p, &res);
    if (rc != 0)
        return rc;
    n = PQntuples(res);
    PQclear(res);
    return n > 0 ? 0 : HQ_ELEASELOST;
}

int pgq_state_cas(void *h, const char *name, uint64_t expect_version,
                  const struct hq_queue_state *st, uint64_t *new_version)
{
    struct cas_args a = {name, expect_version, st};
    int rc = pg_tx(h, true, false, cas_fn, &a);
    if (rc == 0)
        *new_version = expect_version + 1;
    return rc;
}
