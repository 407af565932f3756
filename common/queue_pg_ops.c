/*
 * queue_pg_ops: the worker's writes on the PostgreSQL queue: lease, renew,
 * steps, check runs, complete, retry, dead letter. Each runs as one transaction (pg_tx) that locks
 * the repository's row first and checks the lease's token before it writes.
 */
#include "queue_pg_int.h"
#include "clock.h"
#include "envelope.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pg_repo {
    int64_t count;
    bool leased;
    uint64_t token;
    int64_t expires;
    char owner[HQ_MAX_OWNER_LEN + 1];
};

/* Locks the repository's row; HQ_ENOTFOUND when it has none. */
static int repo_lock(PGconn *c, uint64_t repo_id, struct pg_repo *r)
{
    struct pg_params p;
    PGresult *res;
    pp_init(&p);
    pp_i64(&p, (int64_t)repo_id);
    int rc = pg_exec(c,
                     "SELECT count, lease_token, lease_expires, coalesce(lease_owner, ''), "
                     "lease_token IS NOT NULL FROM hq_repo WHERE repo_id = $1 FOR UPDATE",
                     &p, &res);
    if (rc != 0)
        return rc;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return HQ_ENOTFOUND;
    }
    r->count = pg_i64(res, 0, 0);
    r->token = (uint64_t)pg_i64(res, 0, 1);
    r->expires = pg_i64(res, 0, 2);
    snprintf(r->owner, sizeof(r->owner), "%s", PQgetvalue(res, 0, 3));
    r->leased = PQgetvalue(res, 0, 4)[0] == 't';
    PQclear(res);
    return 0;
}

/* The repository's head event (its state merged), with its payload if asked. */
static int head_get(PGconn *c, uint64_t repo_id, bool with_payload, struct hq_event **ev)
{
    struct pg_params p;
    PGresult *res;
    pp_init(&p);
    pp_i64(&p, (int64_t)repo_id);
    int rc = pg_exec(
        c,
        with_payload
            ? "SELECT " PG_EV_COLS("e.payload") " FROM " PG_EV_FROM
                                                " WHERE e.repo_id = $1 ORDER BY e.pos LIMIT 1"
            : "SELECT " PG_EV_COLS("NULL") " FROM " PG_EV_FROM
                                           " WHERE e.repo_id = $1 ORDER BY e.pos LIMIT 1",
        &p, &res);
    if (rc != 0)
        return rc;
    rc = PQntuples(res) == 0 ? HQ_ECORRUPT : pg_ev_from_row(res, 0, ev);
    PQclear(res);
    return rc;
}

/* The head's mutable state as parameters $1 to $8: its id, then the
 * columns of hq_head. */
static void pp_head(struct pg_params *p, const struct hq_event *ev)
{
    pp_i64(p, (int64_t)ev->id);
    pp_i64(p, ev->not_before_ms);
    pp_i64(p, ev->attempts);
    pp_i64(p, ev->step);
    pp_i64(p, ev->check_state);
    pp_i64(p, (int64_t)ev->check_run_id);
    pp_str(p, ev->check_desc);
    pp_str(p, ev->history);
}

/* Writes the head's mutable state (hq_head). */
static int head_put(PGconn *c, const struct hq_event *ev)
{
    struct pg_params p;
    pp_init(&p);
    pp_head(&p, ev);
    return pg_run(c,
                  "INSERT INTO hq_head (event_id, not_before, attempts, step, check_state, "
                  "check_run_id, check_desc, history) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
                  "ON CONFLICT (event_id) DO UPDATE SET not_before = excluded.not_before, "
                  "attempts = excluded.attempts, step = excluded.step, "
                  "check_state = excluded.check_state, check_run_id = excluded.check_run_id, "
                  "check_desc = excluded.check_desc, history = excluded.history",
                  &p);
}

static int64_t ready_time(const struct hq_event *ev, int64_t now)
{
    return ev->not_before_ms > now ? ev->not_before_ms : now;
}

/* Ends any lease; the repository joins the ready line at t if it has
 * events (count), else leaves it. */
static int repo_requeue(PGconn *c, uint64_t repo_id, int64_t count, int64_t t)
{
    struct pg_params p;
    pp_init(&p);
    pp_i64(&p, (int64_t)repo_id);
    pp_i64(&p, count);
    pp_i64(&p, t);
    return pg_run(c,
                  "UPDATE hq_repo SET count = $2, ready_at = CASE WHEN $2::bigint > 0 THEN "
                  "$3::bigint END, lease_owner = NULL, lease_token = NULL, lease_expires = NULL "
                  "WHERE repo_id = $1",
                  &p);
}

static int event_del(PGconn *c, uint64_t id)
{
    struct pg_params p;
    pp_init(&p);
    pp_i64(&p, (int64_t)id);
    return pg_run(c,
                  "WITH h AS (DELETE FROM hq_head WHERE event_id = $1) "
                  "DELETE FROM hq_event WHERE id = $1",
                  &p);
}

/* The head (already deleted) leaves: the repository goes on with its next
 * event at the back of the ready line, or leaves it. */
static int pop_head(PGconn *c, uint64_t repo_id, int64_t count, int64_t now, bool *more)
{
    int64_t t = now;
    int rc = pg_counter_add(c, "queued", -1);
    if (rc == 0 && count == 1)
        rc = pg_counter_add(c, "repositories", -1);
    if (rc != 0)
        return rc;
    if (--count > 0) {
        struct hq_event *next = NULL;
        rc = head_get(c, repo_id, false, &next);
        if (rc != 0)
            return rc;
        t = ready_time(next, now);
        hq_event_free(next);
        if (more != NULL)
            *more = true;
    }
    return repo_requeue(c, repo_id, count, t);
}

/* Moves the head ev (state as given) to the dead letters with reason. */
static int head_to_dead(PGconn *c, const struct hq_event *ev, const char *reason, int64_t now)
{
    struct pg_params p;
    pp_init(&p);
    pp_head(&p, ev);
    pp_i64(&p, now);
    pp_str(&p, reason);
    int rc = pg_run(c,
                    "INSERT INTO hq_dead (id, repo_id, hook_id, installation_id, received_at, "
                    "not_before, attempts, step, check_state, check_run_id, repo_name, delivery, "
                    "event, action, check_desc, history, dead_at, reason, payload) "
                    "SELECT id, repo_id, hook_id, installation_id, received_at, $2, $3, $4, $5, "
                    "$6, repo_name, delivery, event, action, $7, $8, $9, $10, payload "
                    "FROM hq_event WHERE id = $1",
                    &p);
    if (rc == 0)
        rc = event_del(c, ev->id);
    if (rc == 0)
        rc = pg_counter_add(c, "dead_total", 1);
    if (rc == 0)
        rc = pg_counter_add(c, "dead", 1);
    return rc;
}

/* ---- lease ---- */

/* An expired lease (row locked): count the attempt, maybe dead-letter. */
static int reclaim(pg_queue *q, PGconn *c, uint64_t repo_id, int64_t now)
{
    struct pg_repo r;
    struct hq_event *ev = NULL;
    int rc = repo_lock(c, repo_id, &r);
    if (rc != 0)
        return rc == HQ_ENOTFOUND ? HQ_ECORRUPT : rc;
    if ((rc = head_get(c, repo_id, false, &ev)) != 0)
        return rc;
    ev->attempts++;
    char why[256];
    snprintf(why, sizeof(why), "lease of %.128s expired", r.owner);
    if ((rc = hq_event_history_append(ev, now, why)) != 0)
        goto out;
    if (q->opts.max_attempts > 0 && ev->attempts >= q->opts.max_attempts) {
        char reason[320];
        snprintf(reason, sizeof(reason), "%s; %u attempts failed", why, ev->attempts);
        if ((rc = head_to_dead(c, ev, reason, now)) != 0)
            goto out;
        rc = pop_head(c, repo_id, r.count, now, NULL);
    } else {
        if ((rc = head_put(c, ev)) != 0)
            goto out;
        rc = repo_requeue(c, repo_id, r.count, ready_time(ev, now));
    }
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

/* The first row of a one-column probe, or HQ_ENOTFOUND. */
static int probe(PGconn *c, const char *sql, int64_t now, int64_t *v)
{
    struct pg_params p;
    PGresult *res;
    pp_init(&p);
    pp_i64(&p, now);
    int rc = pg_exec(c, sql, &p, &res);
    if (rc != 0)
        return rc;
    rc = PQntuples(res) > 0 && !PQgetisnull(res, 0, 0) ? 0 : HQ_ENOTFOUND;
    if (rc == 0)
        *v = pg_i64(res, 0, 0);
    PQclear(res);
    return rc;
}

static int lease_fn(pg_queue *q, PGconn *c, void *arg)
{
    struct lease_args *a = arg;
    int64_t now = hq_now_ms(), v;
    int rc;
    for (int i = 0; i < HQ_PG_RECLAIM_PER_LEASE; i++) {
        rc = probe(c,
                   "SELECT repo_id FROM hq_repo WHERE lease_expires <= $1 ORDER BY lease_expires "
                   "LIMIT 1 FOR UPDATE SKIP LOCKED",
                   now, &v);
        if (rc == HQ_ENOTFOUND)
            break;
        if (rc != 0 || (rc = reclaim(q, c, (uint64_t)v, now)) != 0)
            return rc;
        a->wakes = true;
    }
    rc = probe(c,
               "SELECT repo_id FROM hq_repo WHERE ready_at <= $1 ORDER BY ready_at, repo_id "
               "LIMIT 1 FOR UPDATE SKIP LOCKED",
               now, &v);
    if (rc == HQ_ENOTFOUND) {
        int64_t next = INT64_MAX, t;
        if (probe(c,
                  "SELECT ready_at FROM hq_repo WHERE ready_at IS NOT NULL AND $1::bigint IS NOT "
                  "NULL ORDER BY ready_at LIMIT 1",
                  now, &t) == 0)
            next = t;
        if (probe(c,
                  "SELECT lease_expires FROM hq_repo WHERE lease_expires IS NOT NULL AND "
                  "$1::bigint IS NOT NULL ORDER BY lease_expires LIMIT 1",
                  now, &t) == 0 &&
            t < next)
            next = t;
        a->next_ready_ms = next;
        return a->wakes ? (pg_notify_ready(c) != 0 ? HQ_ESTORAGE : HQ_ENOTREADY) : HQ_ENOTREADY;
    }
    if (rc != 0)
        return rc;
    uint64_t repo_id = (uint64_t)v;
    struct hq_event *ev = NULL;
    if ((rc = head_get(c, repo_id, true, &ev)) != 0)
        return rc;
    struct pg_params p;
    PGresult *res;
    pp_init(&p);
    pp_i64(&p, (int64_t)repo_id);
    pp_str(&p, a->owner);
    pp_i64(&p, now + a->lease_ms);
    if ((rc = pg_exec(c,
                      "UPDATE hq_repo SET ready_at = NULL, lease_owner = $2, "
                      "lease_token = nextval('hq_lease_token_seq'), lease_expires = $3 "
                      "WHERE repo_id = $1 RETURNING lease_token",
                      &p, &res)) != 0)
        goto fail;
    int64_t token = PQntuples(res) == 1 ? pg_i64(res, 0, 0) : 0;
    PQclear(res);
    if (token == 0) {
        rc = HQ_ECORRUPT;
        goto fail;
    }
    if (a->wakes && (rc = pg_notify_ready(c)) != 0)
        goto fail;
    a->lease->repo_id = repo_id;
    a->lease->event_id = ev->id;
    a->lease->token = (uint64_t)token;
    a->lease->expires_ms = now + a->lease_ms;
    a->ev = ev;
    return 0;
fail:
    hq_event_free(ev);
    return rc;
}

/* The lease on the common path: one call of hq_lease (schema/pg/002),
 * one round trip. LEASE_RECLAIM when an expired lease waits: the caller
 * then runs lease_fn, which reclaims it (the attempt and history line are
 * written here, in C, as everywhere else). */
#define LEASE_RECLAIM 1
static int lease_call(pg_queue *q, struct lease_args *a)
{
    struct pg_params p;
    PGresult *res;
    int64_t now = hq_now_ms();
    pp_init(&p);
    pp_str(&p, a->owner);
    pp_i64(&p, now);
    pp_i64(&p, now + a->lease_ms);
    int rc = pg_call(q, "SELECT * FROM hq_lease($1, $2, $3)", &p, &res);
    if (rc != 0)
        return rc;
    if (PQntuples(res) != 1 || PQnfields(res) != 22) {
        rc = HQ_ECORRUPT;
        goto out;
    }
    int64_t status = pg_i64(res, 0, 19);
    if (status == 2) {
        rc = LEASE_RECLAIM;
    } else if (status == 1) {
        a->next_ready_ms = PQgetisnull(res, 0, 21) ? INT64_MAX : pg_i64(res, 0, 21);
        rc = HQ_ENOTREADY;
    } else if ((rc = pg_ev_from_row(res, 0, &a->ev)) == 0) {
        a->lease->repo_id = a->ev->repo_id;
        a->lease->event_id = a->ev->id;
        a->lease->token = (uint64_t)pg_i64(res, 0, 20);
        a->lease->expires_ms = now + a->lease_ms;
    }
out:
    PQclear(res);
    return rc;
}

int pgq_lease(void *h, const char *owner, int64_t lease_ms, struct hq_lease *lease,
              struct hq_event **ev, int64_t *next_ready_ms)
{
    pg_queue *q = h;
    struct lease_args a = {owner, lease_ms, lease, NULL, INT64_MAX, false};
    int rc = lease_call(q, &a);
    if (rc == LEASE_RECLAIM)
        rc = pg_tx(q, true, false, lease_fn, &a);
    if (next_ready_ms != NULL)
        *next_ready_ms = a.next_ready_ms;
    if (rc != 0) {
        hq_event_free(a.ev); /* the commit may have failed after lease_fn */
        return rc;
    }
    if (a.wakes)
        pg_wake_local(q);
    *ev = a.ev;
    return 0;
}

/* ---- fenced writes of the lease holder ---- */

static int lease_check(PGconn *c, const struct hq_lease *lease, struct pg_repo *r)
{
    int rc = repo_lock(c, lease->repo_id, r);
    if (rc == HQ_ENOTFOUND)
        return HQ_ELEASELOST;
    if (rc != 0)
        return rc;
    return r->leased && r->token == lease->token ? 0 : HQ_ELEASELOST;
}

static int leased_head(PGconn *c, const struct hq_lease *lease, struct pg_repo *r,
                       struct hq_event **ev)
{
    int rc = lease_check(c, lease, r);
    if (rc != 0)
        return rc;
    if ((rc = head_get(c, lease->repo_id, false, ev)) != 0)
        return rc;
    if ((*ev)->id != lease->event_id) {
        hq_event_free(*ev);
        *ev = NULL;
        return HQ_ELEASELOST;
    }
    return 0;
}

struct renew_args {
    struct hq_lease lease;
    int64_t lease_ms;
};

static int renew_fn(pg_queue *q, PGconn *c, void *arg)
{
    struct renew_args *a = arg;
    struct pg_repo r;
    (void)q;
    int rc = lease_check(c, &a->lease, &r);
    if (rc != 0)
        return rc;
    struct pg_params p;
    pp_init(&p);
    pp_i64(&p, (int64_t)a->lease.repo_id);
    pp_i64(&p, hq_now_ms() + a->lease_ms);
    a->lease.expires_ms = hq_now_ms() + a->lease_ms;
    pp_init(&p);
    pp_i64(&p, (int64_t)a->lease.repo_id);
    pp_i64(&p, a->lease.expires_ms);
    return pg_run(c, "UPDATE hq_repo SET lease_expires = $2 WHERE repo_id = $1", &p);
}

int pgq_renew(void *h, struct hq_lease *lease, int64_t lease_ms)
{
    struct renew_args a = {*lease, lease_ms};
    int rc = pg_tx(h, true, false, renew_fn, &a);
    if (rc == 0)
        *lease = a.lease;
    return rc;
}

/* A schema function's fence, parameters $1 to $3 of a new list: the
 * lease's repository, its token and its head event. */
static void pp_lease(struct pg_params *p, const struct hq_lease *lease)
{
    pp_init(p);
    pp_i64(p, (int64_t)lease->repo_id);
    pp_i64(p, (int64_t)lease->token);
    pp_i64(p, (int64_t)lease->event_id);
}

/* Records a step, or (check_run_id nonzero) a check run, of the leased
 * head: one call of hq_step (schema/pg/002). */
static int step_call(pg_queue *q, const struct hq_lease *lease, enum hq_step step,
                     enum hq_check_state state, const char *desc, uint64_t check_run_id)
{
    struct pg_params p;
    PGresult *res;
    pp_lease(&p, lease);
    pp_i64(&p, step);
    pp_str(&p, step == HQ_STEP_CHECKED ? "t" : "f");
    pp_i64(&p, state);
    pp_str(&p, desc);
    pp_i64(&p, (int64_t)check_run_id);
    int rc = pg_call(q, "SELECT hq_step($1, $2, $3, $4, $5, $6, $7, $8)", &p, &res);
    if (rc != 0)
        return rc;
    if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
        rc = HQ_ECORRUPT;
    else if (PQgetvalue(res, 0, 0)[0] != 't')
        rc = HQ_ELEASELOST;
    PQclear(res);
    return rc;
}

int pgq_record_step(void *h, const struct hq_lease *lease, enum hq_step step,
                    enum hq_check_state check_state, const char *check_desc)
{
    return step_call(h, lease, step, check_state, check_desc, 0);
}

int pgq_record_check_run(void *h, const struct hq_lease *lease, uint64_t check_run_id)
{
    return step_call(h, lease, HQ_STEP_NEW, HQ_CHECK_NONE, "", check_run_id);
}

struct finish_args {
    const struct hq_lease *lease;
    const char *reason; /* NULL: complete */
    bool wakes;
};

static int finish_fn(pg_queue *q, PGconn *c, void *arg)
{
    struct finish_args *a = arg;
    struct pg_repo r;
    struct hq_event *ev = NULL;
    int64_t now = hq_now_ms();
    (void)q;
    int rc = leased_head(c, a->lease, &r, &ev);
    if (rc != 0)
        return rc;
    if (a->reason != NULL) {
        ev->attempts++; /* the attempt that ends here failed too */
        if ((rc = hq_event_history_append(ev, now, a->reason)) != 0 ||
            (rc = head_to_dead(c, ev, a->reason, now)) != 0)
            goto out;
    } else {
        if ((rc = event_del(c, ev->id)) != 0 || (rc = pg_counter_add(c, "done_total", 1)) != 0)
            goto out;
    }
    if ((rc = pop_head(c, a->lease->repo_id, r.count, now, &a->wakes)) != 0)
        goto out;
    if (a->wakes)
        rc = pg_notify_ready(c);
out:
    hq_event_free(ev);
    return rc;
}

/* The head leaves: done (reason NULL) or dead-lettered. */
static int finish(void *h, const struct hq_lease *lease, const char *reason)
{
    struct finish_args a = {lease, reason, false};
    int rc = pg_tx(h, true, false, finish_fn, &a);
    if (rc == 0 && a.wakes)
        pg_wake_local(h);
    return rc;
}

/* The head is done: one call of hq_complete (schema/pg/002), which also
 * moves the repository on and notifies the workers when it has more. */
int pgq_complete(void *h, const struct hq_lease *lease)
{
    pg_queue *q = h;
    struct pg_params p;
    PGresult *res;
    pp_lease(&p, lease);
    pp_i64(&p, hq_now_ms());
    pp_str(&p, HQ_PG_CHANNEL);
    int rc = pg_call(q, "SELECT hq_complete($1, $2, $3, $4, $5)", &p, &res);
    if (rc != 0)
        return rc;
    int64_t v = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) ? pg_i64(res, 0, 0) : -2;
    PQclear(res);
    if (v < -1 || v > 1)
        return HQ_ECORRUPT;
    if (v < 0)
        return HQ_ELEASELOST;
    if (v == 1)
        pg_wake_local(q);
    return 0;
}

int pgq_dead_letter(void *h, const struct hq_lease *lease, const char *reason)
{
    return finish(h, lease, reason);
}

struct retry_args {
    const struct hq_lease *lease;
    int64_t not_before;
    bool count;
    const char *error;
    enum hq_step reached;
};

static int retry_fn(pg_queue *q, PGconn *c, void *arg)
{
    struct retry_args *a = arg;
    struct pg_repo r;
    struct hq_event *ev = NULL;
    int64_t now = hq_now_ms();
    (void)q;
    int rc = leased_head(c, a->lease, &r, &ev);
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
    if ((rc = head_put(c, ev)) != 0 ||
        (rc = repo_requeue(c, a->lease->repo_id, r.count, ready_time(ev, now))) != 0)
        goto out;
    rc = pg_notify_ready(c);
out:
    hq_event_free(ev);
    return rc;
}

int pgq_retry(void *h, const struct hq_lease *lease, int64_t not_before_ms, bool count_attempt,
              const char *error, enum hq_step reached)
{
    struct retry_args a = {lease, not_before_ms, count_attempt, error, reached};
    int rc = pg_tx(h, true, false, retry_fn, &a);
    if (rc == 0)
        pg_wake_local(h);
    return rc;
}
