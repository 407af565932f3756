/*
 * queue: the handle of queue.h and the dispatch to a backend
 * (queue_backend.h), after OpenSMTPD's queue_backend.c.
 *
 * hq_queue_open picks the backend from the database name: the first built-in
 * backend whose accepts() takes it (a directory: LMDB; postgresql:// or
 * postgres://: PostgreSQL); any other URI is refused with a reason. Every public
 * call checks what holds for every backend here, once, and then forwards to
 * the backend with its opaque handle; a backend never sees a call queue.h
 * forbids.
 */
#include "queue_backend.h"
#include "envelope.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct hq_queue {
    const struct hq_queue_backend *be;
    void *h; /* the backend's handle, owned */
};

static const struct hq_queue_backend *const backends[] = {&hq_queue_lmdb_backend,
                                                          &hq_queue_pg_backend};

void hq_queue_opts_default(struct hq_queue_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->db = HQ_DEFAULT_DB;
    o->lmdb.map_size = HQ_DEFAULT_MAP_SIZE;
    o->dedup_window_ms = 7ll * 24 * 3600 * 1000;
    o->max_attempts = 10;
}

/* Length of the scheme of "scheme://..." (RFC 3986: a letter, then letters,
 * digits, '+', '-', '.'), or 0 when db is not such a URI. */
static size_t scheme_len(const char *db)
{
    size_t n = 0;
    if (!isalpha((unsigned char)db[0]))
        return 0;
    while (isalnum((unsigned char)db[n]) || db[n] == '+' || db[n] == '-' || db[n] == '.')
        n++;
    return strncmp(db + n, "://", 3) == 0 ? n : 0;
}

static int pick_backend(const char *db, const struct hq_queue_backend **be, const char **why)
{
    *why = NULL;
    if (db == NULL || db[0] == '\0') {
        *why = "empty: give a database directory";
        return HQ_ECONFIG;
    }
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        if (backends[i]->accepts(db)) {
            *be = backends[i];
            return 0;
        }
    }
    size_t n = scheme_len(db);
    *why = n > 0 ? "unknown scheme: use a directory (LMDB) or postgresql://"
                 : "not a database this hookq can open";
    return HQ_ECONFIG;
}

int hq_queue_check_db(const char *db, const char **why)
{
    const struct hq_queue_backend *be;
    const char *reason;
    int rc = pick_backend(db, &be, &reason);
    if (why != NULL)
        *why = reason;
    return rc;
}

int hq_queue_open_backend(const struct hq_queue_backend *be, const struct hq_queue_opts *o,
                          hq_queue **out)
{
    if (be == NULL || o == NULL || o->db == NULL || out == NULL)
        return -EINVAL;
    hq_queue *q = calloc(1, sizeof(*q));
    if (q == NULL)
        return -ENOMEM;
    q->be = be;
    int rc = be->open(o, &q->h);
    if (rc != 0) {
        free(q);
        return rc;
    }
    *out = q;
    return 0;
}

int hq_queue_open(const struct hq_queue_opts *o, hq_queue **out)
{
    const struct hq_queue_backend *be;
    const char *why;
    if (o == NULL || out == NULL)
        return -EINVAL;
    int rc = pick_backend(o->db, &be, &why);
    if (rc != 0)
        return rc;
    return hq_queue_open_backend(be, o, out);
}

const char *hq_queue_open_error(int rc)
{
    switch (rc) {
    case HQ_ECONFIG: return "not a database name this hookq can open (a malformed URI?)";
    case -EACCES:
    case -EPERM: return "access refused: wrong user or password, or no permission on it";
    case HQ_ESCHEMA:
        return "its schema is newer than this hookq knows (written by a newer hookq?); "
               "nothing was changed";
    case -ENOENT: return "no hookq database there";
    case HQ_ESTORAGE: return "the database does not answer (storage error)";
    default: return hq_strerror(rc);
    }
}

bool hq_queue_open_is_setup(int rc)
{
    return rc == HQ_ECONFIG || rc == -EACCES || rc == -EPERM || rc == HQ_ESCHEMA || rc == -ENOENT;
}

const char *hq_queue_open_notice(hq_queue *q)
{
    if (q == NULL || q->be->open_notice == NULL)
        return NULL;
    return q->be->open_notice(q->h);
}

void hq_queue_close(hq_queue *q)
{
    if (q == NULL)
        return;
    q->be->close(q->h);
    free(q);
}

static bool too_long(const char *s, size_t cap)
{
    return s != NULL && strnlen(s, cap + 1) > cap;
}

/* The rules of struct hq_enqueue (queue.h): 0, -EINVAL or HQ_ETOOBIG. */
static int check_item(const struct hq_enqueue *it)
{
    if (it->repo_id == 0 || it->delivery == NULL || it->delivery[0] == '\0' || it->event == NULL ||
        it->event[0] == '\0' || it->repo_name == NULL || it->payload == NULL)
        return -EINVAL;
    if (too_long(it->delivery, HQ_MAX_DELIVERY_LEN) || too_long(it->event, HQ_MAX_EVENT_LEN) ||
        too_long(it->action, HQ_MAX_ACTION_LEN) || too_long(it->repo_name, HQ_MAX_REPO_NAME_LEN) ||
        too_long(it->note, HQ_MAX_REASON_LEN))
        return HQ_ETOOBIG;
    return 0;
}

unsigned hq_queue_enqueue_callers(const hq_queue *q)
{
    return q != NULL && q->be->enqueue_callers > 1 ? q->be->enqueue_callers : 1;
}

int hq_queue_enqueue(hq_queue *q, struct hq_enqueue *items, size_t n)
{
    if (n == 0)
        return 0;
    if (q == NULL || items == NULL)
        return -EINVAL;
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        items[i].id = 0;
        items[i].result = check_item(&items[i]);
        any = any || items[i].result == 0;
    }
    if (!any)
        return 0; /* every item refused alone: nothing to commit */
    int rc = q->be->enqueue(q->h, items, n);
    if (rc != 0) {
        for (size_t i = 0; i < n; i++) {
            items[i].result = rc;
            items[i].id = 0;
        }
    }
    return rc;
}

static bool step_ok(enum hq_step step)
{
    return (unsigned)step <= HQ_STEP_FINAL_POSTED;
}

int hq_queue_lease(hq_queue *q, const char *owner, int64_t lease_ms, struct hq_lease *lease,
                   struct hq_event **ev, int64_t *next_ready_ms)
{
    if (ev != NULL)
        *ev = NULL;
    if (next_ready_ms != NULL)
        *next_ready_ms = INT64_MAX;
    if (q == NULL || lease == NULL || ev == NULL || lease_ms <= 0)
        return -EINVAL;
    if (too_long(owner, HQ_MAX_OWNER_LEN))
        return HQ_ETOOBIG;
    return q->be->lease(q->h, owner ? owner : "", lease_ms, lease, ev, next_ready_ms);
}

int hq_queue_renew(hq_queue *q, struct hq_lease *lease, int64_t lease_ms)
{
    if (q == NULL || lease == NULL || lease_ms <= 0)
        return -EINVAL;
    return q->be->renew(q->h, lease, lease_ms);
}

/* Copies s, cut at cap bytes, into buf (cap + 1 bytes). A cut never splits
 * a UTF-8 character: stored texts reach hookqctl's JSON and GitHub. */
static const char *cut(const char *s, char *buf, size_t cap)
{
    size_t n = strnlen(s, cap);
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--; /* s[n] continues the character that began before it */
    memcpy(buf, s, n);
    buf[n] = '\0';
    return buf;
}

int hq_queue_record_step(hq_queue *q, const struct hq_lease *lease, enum hq_step step,
                         enum hq_check_state check_state, const char *check_desc)
{
    char desc[HQ_MAX_DESC_LEN + 1];
    if (q == NULL || lease == NULL || !step_ok(step) || (unsigned)check_state > HQ_CHECK_ERROR)
        return -EINVAL;
    return q->be->record_step(q->h, lease, step, check_state,
                              cut(check_desc ? check_desc : "", desc, HQ_MAX_DESC_LEN));
}

int hq_queue_record_check_run(hq_queue *q, const struct hq_lease *lease, uint64_t check_run_id)
{
    if (q == NULL || lease == NULL || check_run_id == 0)
        return -EINVAL;
    if (q->be->record_check_run == NULL)
        return -ENOTSUP;
    return q->be->record_check_run(q->h, lease, check_run_id);
}

int hq_queue_complete(hq_queue *q, const struct hq_lease *lease)
{
    if (q == NULL || lease == NULL)
        return -EINVAL;
    return q->be->complete(q->h, lease);
}

int hq_queue_retry(hq_queue *q, const struct hq_lease *lease, int64_t not_before_ms,
                   bool count_attempt, const char *error, enum hq_step reached)
{
    if (q == NULL || lease == NULL || !step_ok(reached))
        return -EINVAL;
    return q->be->retry(q->h, lease, not_before_ms, count_attempt, error ? error : "attempt failed",
                        reached);
}

int hq_queue_dead_letter(hq_queue *q, const struct hq_lease *lease, const char *reason)
{
    char buf[HQ_MAX_REASON_LEN + 1];
    if (q == NULL || lease == NULL)
        return -EINVAL;
    return q->be->dead_letter(q->h, lease,
                              cut(reason ? reason : "dead-lettered", buf, HQ_MAX_REASON_LEN));
}

int hq_queue_get_dead(hq_queue *q, uint64_t id, bool with_payload, struct hq_event **ev)
{
    if (q == NULL || ev == NULL)
        return -EINVAL;
    return q->be->get_dead(q->h, id, with_payload, ev);
}

int hq_queue_replay(hq_queue *q, uint64_t id, uint64_t *new_id)
{
    if (q == NULL)
        return -EINVAL;
    return q->be->replay(q->h, id, new_id);
}

int hq_queue_purge(hq_queue *q, uint64_t id)
{
    if (q == NULL)
        return -EINVAL;
    return q->be->purge(q->h, id);
}

int hq_queue_import_dead(hq_queue *q, const struct hq_event *ev, uint64_t *new_id)
{
    if (q == NULL || ev == NULL || ev->repo_id == 0 || ev->delivery == NULL ||
        ev->delivery[0] == '\0' || ev->payload == NULL)
        return -EINVAL;
    if (too_long(ev->delivery, HQ_MAX_DELIVERY_LEN))
        return HQ_ETOOBIG;
    /* Every cap and range of a stored envelope. */
    int rc = hq_envelope_check(ev);
    if (rc != 0)
        return rc;
    return q->be->import_dead(q->h, ev, new_id);
}

static int check_import(const struct hq_import *it)
{
    switch (it->kind) {
    case HQ_IMPORT_EVENT:
    case HQ_IMPORT_DEAD:
        if (it->ev == NULL || it->ev->id == 0 || it->ev->repo_id == 0 || it->ev->delivery == NULL ||
            it->ev->delivery[0] == '\0' || it->ev->payload == NULL)
            return -EINVAL;
        if (too_long(it->ev->delivery, HQ_MAX_DELIVERY_LEN))
            return HQ_ETOOBIG;
        return hq_envelope_check(it->ev);
    case HQ_IMPORT_DEDUP:
        if (it->delivery == NULL || it->delivery[0] == '\0' || it->event_id == 0)
            return -EINVAL;
        return too_long(it->delivery, HQ_MAX_DELIVERY_LEN) ? HQ_ETOOBIG : 0;
    case HQ_IMPORT_COUNTERS: return 0;
    }
    return -EINVAL;
}

int hq_queue_import(hq_queue *q, const struct hq_import *items, size_t n)
{
    if (q == NULL || (items == NULL && n > 0))
        return -EINVAL;
    if (q->be->import == NULL)
        return -ENOTSUP;
    for (size_t i = 0; i < n; i++) {
        int rc = check_import(&items[i]);
        if (rc != 0)
            return rc;
    }
    return n == 0 ? 0 : q->be->import(q->h, items, n);
}

int hq_queue_foreach_dedup(hq_queue *q, hq_queue_dedup_fn fn, void *arg)
{
    if (q == NULL || fn == NULL)
        return -EINVAL;
    if (q->be->foreach_dedup == NULL)
        return -ENOTSUP;
    return q->be->foreach_dedup(q->h, fn, arg);
}

int hq_queue_dedup_lookup(hq_queue *q, uint64_t hook_id, const char *delivery, uint64_t *id)
{
    uint64_t first = 0;
    if (id != NULL)
        *id = 0;
    if (q == NULL || delivery == NULL || delivery[0] == '\0')
        return -EINVAL;
    if (too_long(delivery, HQ_MAX_DELIVERY_LEN))
        return HQ_ETOOBIG;
    int rc = q->be->dedup_lookup(q->h, hook_id, delivery, &first);
    if (rc == 0 && id != NULL)
        *id = first;
    return rc;
}

static bool state_name_ok(const char *name)
{
    size_t n = name != NULL ? strnlen(name, HQ_MAX_STATE_NAME_LEN + 1) : 0;
    return n > 0 && n <= HQ_MAX_STATE_NAME_LEN &&
           strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

int hq_queue_state_get(hq_queue *q, const char *name, struct hq_queue_state *st)
{
    if (st != NULL)
        memset(st, 0, sizeof(*st));
    if (q == NULL || st == NULL || !state_name_ok(name))
        return -EINVAL;
    return q->be->state_get(q->h, name, st);
}

int hq_queue_state_cas(hq_queue *q, const char *name, uint64_t expect_version,
                       const struct hq_queue_state *st, uint64_t *new_version)
{
    uint64_t v = 0;
    if (q == NULL || st == NULL || !state_name_ok(name))
        return -EINVAL;
    if (memchr(st->claimed_by, '\0', sizeof(st->claimed_by)) == NULL)
        return HQ_ETOOBIG;
    int rc = q->be->state_cas(q->h, name, expect_version, st, &v);
    if (rc == 0 && new_version != NULL)
        *new_version = v;
    return rc;
}

int hq_queue_foreach_event(hq_queue *q, uint64_t repo_id, bool with_payload, hq_queue_iter_fn fn,
                           void *arg)
{
    if (q == NULL || fn == NULL)
        return -EINVAL;
    return q->be->foreach_event(q->h, repo_id, with_payload, fn, arg);
}

int hq_queue_foreach_dead(hq_queue *q, bool with_payload, hq_queue_iter_fn fn, void *arg)
{
    if (q == NULL || fn == NULL)
        return -EINVAL;
    return q->be->foreach_dead(q->h, with_payload, fn, arg);
}

int hq_queue_stats(hq_queue *q, struct hq_queue_stats *st)
{
    if (st != NULL)
        memset(st, 0, sizeof(*st));
    if (q == NULL || st == NULL)
        return -EINVAL;
    return q->be->stats(q->h, st);
}

void hq_queue_commit_stats(hq_queue *q, struct hq_queue_commit_stats *st)
{
    if (st == NULL)
        return;
    memset(st, 0, sizeof(*st));
    if (q != NULL)
        q->be->commit_stats(q->h, st);
}

uint32_t hq_queue_wake_seq(hq_queue *q)
{
    return q != NULL ? q->be->wake_seq(q->h) : 0;
}

void hq_queue_wait(hq_queue *q, uint32_t seen, int64_t timeout_ms)
{
    if (q != NULL && timeout_ms > 0)
        q->be->wait(q->h, seen, timeout_ms);
}

void hq_queue_set_commit_hook(hq_queue *q, int (*hook)(void *arg), void *arg)
{
    if (q != NULL)
        q->be->set_commit_hook(q->h, hook, arg);
}
