/*
 * queue_backend: the table of functions a queue backend implements, in the
 * manner of OpenSMTPD's queue_backend.c. queue.c owns struct hq_queue; it
 * picks a backend when the queue opens, checks every call's arguments once
 * (NULL pointers, item rules and caps of queue.h, step and state ranges,
 * lease_ms > 0) and forwards it here with the backend's own handle. Only
 * queue.c and the backends include this header.
 *
 * A backend may therefore assume what queue.c checked: every pointer queue.h
 * does not allow to be NULL is set, strings are within their HQ_MAX_* caps
 * (check_desc and reason already cut), enums are in range. It still owns
 * everything about storage: transactions, durability, group commit,
 * wake-ups. Each operation keeps the contract of the same-named function in
 * queue.h, with these additions:
 *  - enqueue: queue.c sets every item's result (0, or the reason it was
 *    refused) and id = 0 before the call; the backend stores the items whose
 *    result is 0 and leaves the others alone. queue.c spreads a failed
 *    commit's result over every item afterwards.
 *  - dedup_lookup: id is never NULL (queue.c passes its own).
 *  - state_get: *st is zeroed by queue.c; a missing record leaves it so.
 *  - state_cas: new_version is never NULL; claimed_by is within its cap.
 *  - import: n > 0; every item passed the checks of its kind.
 *  - record_check_run, foreach_dedup, import may be NULL (a backend that
 *    has not built them yet): the call then fails with -ENOTSUP.
 *  - open: opts->db is one the backend's accepts() said yes to; on failure
 *    *h is untouched and nothing is left open.
 */
#ifndef HQ_QUEUE_BACKEND_H
#define HQ_QUEUE_BACKEND_H

#include "queue.h"

struct hq_queue_backend {
    const char *name; /* "lmdb": in messages and test names */
    /* hq_queue_enqueue calls worth having under way at once (0: one). */
    unsigned enqueue_callers;
    /* Whether db (a HOOKQ_DB value) names a database of this backend. */
    bool (*accepts)(const char *db);

    int (*open)(const struct hq_queue_opts *o, void **h);
    void (*close)(void *h);

    int (*enqueue)(void *h, struct hq_enqueue *items, size_t n);
    int (*lease)(void *h, const char *owner, int64_t lease_ms, struct hq_lease *lease,
                 struct hq_event **ev, int64_t *next_ready_ms);
    int (*renew)(void *h, struct hq_lease *lease, int64_t lease_ms);
    int (*record_step)(void *h, const struct hq_lease *lease, enum hq_step step,
                       enum hq_check_state check_state, const char *check_desc);
    int (*record_check_run)(void *h, const struct hq_lease *lease, uint64_t check_run_id);
    int (*complete)(void *h, const struct hq_lease *lease);
    int (*retry)(void *h, const struct hq_lease *lease, int64_t not_before_ms, bool count_attempt,
                 const char *error, enum hq_step reached);
    int (*dead_letter)(void *h, const struct hq_lease *lease, const char *reason);

    int (*get_dead)(void *h, uint64_t id, bool with_payload, struct hq_event **ev);
    int (*replay)(void *h, uint64_t id, uint64_t *new_id);
    int (*purge)(void *h, uint64_t id);
    int (*import_dead)(void *h, const struct hq_event *ev, uint64_t *new_id);

    int (*dedup_lookup)(void *h, uint64_t hook_id, const char *delivery, uint64_t *id);
    int (*state_get)(void *h, const char *name, struct hq_queue_state *st);
    int (*state_cas)(void *h, const char *name, uint64_t expect_version,
                     const struct hq_queue_state *st, uint64_t *new_version);

    int (*foreach_event)(void *h, uint64_t repo_id, bool with_payload, hq_queue_iter_fn fn,
                         void *arg);
    int (*foreach_dead)(void *h, bool with_payload, hq_queue_iter_fn fn, void *arg);
    int (*foreach_dedup)(void *h, hq_queue_dedup_fn fn, void *arg);
    int (*import)(void *h, const struct hq_import *items, size_t n);

    int (*stats)(void *h, struct hq_queue_stats *st);
    void (*commit_stats)(void *h, struct hq_queue_commit_stats *st);

    uint32_t (*wake_seq)(void *h);
    void (*wait)(void *h, uint32_t seen, int64_t timeout_ms);
    void (*set_commit_hook)(void *h, int (*hook)(void *arg), void *arg);
    /* What the open found that the operator must hear of, or NULL; may be
     * NULL itself (a backend that never has anything to say). */
    const char *(*open_notice)(void *h);
};

/* Opens a queue on be, whatever o->db names (hq_queue_open picks be by the
 * name): for tests of the seam itself, with a recording fake backend. */
HQ_WUR int hq_queue_open_backend(const struct hq_queue_backend *be, const struct hq_queue_opts *o,
                                 hq_queue **out);

/* The backends built in (queue_lmdb.c, queue_pg.c). */
extern const struct hq_queue_backend hq_queue_lmdb_backend;
extern const struct hq_queue_backend hq_queue_pg_backend;

#endif
