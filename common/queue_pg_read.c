/*
 * queue_pg_read: the reads of the PostgreSQL queue: one dead letter, dedup
 * lookups, state records, the listings (each in one repeatable-read,
 * read-only snapshot, fetched through a cursor in pages so a large queue is
 * never held in memory whole) and stats.
 */
#include "queue_pg_int.h"
#include "clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE "256"

struct get_dead_args {
    uint64_t id;
    bool with_payload;
    struct hq_event *ev;
};

static int get_dead_fn(pg_queue *q, PGconn *c, void *arg)
{
    struct get_dead_args *a = arg;
    struct pg_params p;
    PGresult *res;
    (void)q;
    pp_init(&p);
    pp_i64(&p, (int64_t)a->id);
    int rc = pg_exec(c,
                     a->with_payload
                         ? "SELECT " PG_DEAD_COLS("d.payload") " FROM hq_dead d WHERE d.id = $1"
                         : "SELECT " PG_DEAD_COLS("NULL") " FROM hq_dead d WHERE d.id = $1",
                     &p, &res);
    if (rc != 0)
        return rc;
    rc = PQntuples(res) == 0 ? HQ_ENOTFOUND : pg_ev_from_row(res, 0, &a->ev);
    PQclear(res);
    return rc;
}

int pgq_get_dead(void *h, uint64_t id, bool with_payload, struct hq_event **ev)
{
    struct get_dead_args a = {id, with_payload, NULL};
    int rc = pg_tx(h, false, false, get_dead_fn, &a);
    if (rc == 0)
        *ev = a.ev;
    else
        hq_event_free(a.ev);
    return rc;
}

struct dedup_args {
    uint64_t hook_id;
    const char *delivery;
    uint64_t id;
};

static int dedup_fn(pg_queue *q, PGconn *c, void *arg)
{
    struct dedup_args *a = arg;
    struct pg_params p;
    PGresult *res;
    (void)q;
    pp_init(&p);
    pp_i64(&p, (int64_t)a->hook_id);
    pp_str(&p, a->delivery);
    int rc =
        pg_exec(c, "SELECT event_id FROM hq_dedup WHERE hook_id = $1 AND delivery = $2", &p, &res);
    if (rc != 0)
        return rc;
    rc = PQntuples(res) == 0 ? HQ_ENOTFOUND : 0;
    if (rc == 0)
        a->id = (uint64_t)pg_i64(res, 0, 0);
    PQclear(res);
    return rc;
}

int pgq_dedup_lookup(void *h, uint64_t hook_id, const char *delivery, uint64_t *id)
{
    struct dedup_args a = {hook_id, delivery, 0};
    int rc = pg_tx(h, false, false, dedup_fn, &a);
    if (rc == 0)
        *id = a.id;
    return rc;
}

struct state_args {
    const char *name;
    struct hq_queue_state *st;
};

static int state_fn(pg_queue *q, PGconn *c, void *arg)
{
    struct state_args *a = arg;
    struct pg_params p;
    PGresult *res;
    (void)q;
    pp_init(&p);
    pp_str(&p, a->name);
    int rc = pg_exec(c,
                     "SELECT version, position_ms, value, claim_until_ms, claimed_by FROM "
                     "hq_state WHERE name = $1",
                     &p, &res);
    if (rc != 0)
        return rc;
    if (PQntuples(res) > 0) {
        a->st->version = (uint64_t)pg_i64(res, 0, 0);
        a->st->position_ms = pg_i64(res, 0, 1);
        a->st->value = (uint64_t)pg_i64(res, 0, 2);
        a->st->claim_until_ms = pg_i64(res, 0, 3);
        snprintf(a->st->claimed_by, sizeof(a->st->claimed_by), "%s", PQgetvalue(res, 0, 4));
    }
    PQclear(res);
    return 0;
}

int pgq_state_get(void *h, const char *name, struct hq_queue_state *st)
{
    struct state_args a = {name, st};
    return pg_tx(h, false, false, state_fn, &a);
}

/* ---- listings: DECLARE a cursor, FETCH pages, hand rows to a callback ---- */

typedef int (*row_fn)(const PGresult *r, int row, void *arg);

static int walk(PGconn *c, const char *query, const struct pg_params *p, row_fn fn, void *arg)
{
    char sql[2048];
    int n = snprintf(sql, sizeof(sql), "DECLARE hq_walk NO SCROLL CURSOR FOR %s", query);
    if (n < 0 || (size_t)n >= sizeof(sql))
        return -ENAMETOOLONG;
    int rc = pg_run(c, sql, p);
    while (rc == 0) {
        PGresult *res;
        if ((rc = pg_exec(c, "FETCH " PAGE " FROM hq_walk", NULL, &res)) != 0)
            break;
        int rows = PQntuples(res);
        for (int i = 0; i < rows && rc == 0; i++)
            rc = fn(res, i, arg);
        PQclear(res);
        if (rows == 0)
            break;
    }
    return rc;
}

struct ev_walk {
    hq_queue_iter_fn fn;
    void *arg;
    int user_rc; /* nonzero: the callback stopped the walk */
    uint64_t repo_id;
    bool with_payload;
};

static int ev_row(const PGresult *r, int row, void *arg)
{
    struct ev_walk *w = arg;
    struct hq_event *ev = NULL;
    int rc = pg_ev_from_row(r, row, &ev);
    if (rc != 0)
        return rc;
    rc = w->fn(ev, w->arg);
    hq_event_free(ev);
    if (rc != 0)
        w->user_rc = rc;
    return rc;
}

static int events_fn(pg_queue *q, PGconn *c, void *arg)
{
    struct ev_walk *w = arg;
    struct pg_params p;
    (void)q;
    pp_init(&p);
    pp_i64(&p, (int64_t)w->repo_id);
    return walk(
        c,
        w->with_payload
            ? "SELECT " PG_EV_COLS(
                  "e.payload") " FROM " PG_EV_FROM
                               " WHERE $1::bigint = 0 OR e.repo_id = $1 ORDER BY e.repo_id, "
                               "e.pos"
            : "SELECT " PG_EV_COLS(
                  "NULL") " FROM " PG_EV_FROM
                          " WHERE $1::bigint = 0 OR e.repo_id = $1 ORDER BY e.repo_id, "
                          "e.pos",
        &p, ev_row, w);
}

static int dead_fn(pg_queue *q, PGconn *c, void *arg)
{
    struct ev_walk *w = arg;
    (void)q;
    return walk(c,
                w->with_payload
                    ? "SELECT " PG_DEAD_COLS("d.payload") " FROM hq_dead d ORDER BY d.id"
                    : "SELECT " PG_DEAD_COLS("NULL") " FROM hq_dead d ORDER BY d.id",
                NULL, ev_row, w);
}

/* A stopped walk returns the callback's value; the transaction (only reads)
 * is rolled back then, which changes nothing. */
static int run_walk(void *h, pg_txfn fn, struct ev_walk *w)
{
    int rc = pg_tx(h, false, true, fn, w);
    return w->user_rc != 0 ? w->user_rc : rc;
}

int pgq_foreach_event(void *h, uint64_t repo_id, bool with_payload, hq_queue_iter_fn fn, void *arg)
{
    struct ev_walk w = {fn, arg, 0, repo_id, with_payload};
    return run_walk(h, events_fn, &w);
}

int pgq_foreach_dead(void *h, bool with_payload, hq_queue_iter_fn fn, void *arg)
{
    struct ev_walk w = {fn, arg, 0, 0, with_payload};
    return run_walk(h, dead_fn, &w);
}

struct dedup_walk {
    hq_queue_dedup_fn fn;
    void *arg;
    int user_rc;
};

static int dedup_row(const PGresult *r, int row, void *arg)
{
    struct dedup_walk *w = arg;
    int rc = w->fn((uint64_t)pg_i64(r, row, 0), PQgetvalue(r, row, 1), pg_i64(r, row, 2),
                   (uint64_t)pg_i64(r, row, 3), w->arg);
    if (rc != 0)
        w->user_rc = rc;
    return rc;
}

static int dedup_walk_fn(pg_queue *q, PGconn *c, void *arg)
{
    (void)q;
    return walk(c,
                "SELECT hook_id, delivery, at_ms, event_id FROM hq_dedup ORDER BY hook_id, "
                "delivery",
                NULL, dedup_row, arg);
}

int pgq_foreach_dedup(void *h, hq_queue_dedup_fn fn, void *arg)
{
    struct dedup_walk w = {fn, arg, 0};
    int rc = pg_tx(h, false, true, dedup_walk_fn, &w);
    return w.user_rc != 0 ? w.user_rc : rc;
}

/* ---- stats ---- */

static int stats_fn(pg_queue *q, PGconn *c, void *arg)
{
    struct hq_queue_stats *st = arg;
    struct pg_params p;
    PGresult *res;
    int64_t now = hq_now_ms();
    (void)q;
    pp_init(&p);
    pp_i64(&p, now);
    int rc =
        pg_exec(c,
                "SELECT (SELECT coalesce(sum(value), 0) FROM hq_counter WHERE name = 'queued'), "
                "(SELECT coalesce(sum(value), 0) FROM hq_counter WHERE name = 'repositories'), "
                "(SELECT count(*) FROM hq_repo WHERE ready_at <= $1), "
                "(SELECT count(*) FROM hq_repo WHERE ready_at > $1), "
                "(SELECT count(*) FROM hq_repo WHERE lease_expires IS NOT NULL), "
                "(SELECT coalesce(sum(value), 0) FROM hq_counter WHERE name = 'dead'), "
                "(SELECT min(ready_at) FROM hq_repo WHERE ready_at <= $1), "
                "(SELECT coalesce(sum(value), 0) FROM hq_counter WHERE name = 'enqueued_total'), "
                "(SELECT coalesce(sum(value), 0) FROM hq_counter WHERE name = 'duplicates_total'), "
                "(SELECT coalesce(sum(value), 0) FROM hq_counter WHERE name = 'done_total'), "
                "(SELECT coalesce(sum(value), 0) FROM hq_counter WHERE name = 'dead_total')",
                &p, &res);
    if (rc != 0)
        return rc;
    st->queued = (uint64_t)pg_i64(res, 0, 0);
    st->repositories = (uint64_t)pg_i64(res, 0, 1);
    st->ready = (uint64_t)pg_i64(res, 0, 2);
    st->waiting = (uint64_t)pg_i64(res, 0, 3);
    st->leased = (uint64_t)pg_i64(res, 0, 4);
    st->dead = (uint64_t)pg_i64(res, 0, 5);
    if (!PQgetisnull(res, 0, 6))
        st->oldest_age_seconds = (double)(now - pg_i64(res, 0, 6)) / 1000.0;
    st->enqueued_total = (uint64_t)pg_i64(res, 0, 7);
    st->duplicates_total = (uint64_t)pg_i64(res, 0, 8);
    st->done_total = (uint64_t)pg_i64(res, 0, 9);
    st->dead_total = (uint64_t)pg_i64(res, 0, 10);
    PQclear(res);
    return 0;
}

int pgq_stats(void *h, struct hq_queue_stats *st)
{
    return pg_tx(h, false, true, stats_fn, st);
}
