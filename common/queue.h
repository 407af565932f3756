/*
 * queue: the durable, per-repository FIFO between the receiver and workers.
 *
 * This header is backend-neutral. queue.c holds the handle, checks every
 * call's arguments once and forwards it to the backend that hq_queue_open
 * picked from the database name (queue_backend.h): a directory is LMDB (one
 * file shared by several processes on one host, queue_lmdb*.c); a
 * postgresql:// or postgres:// URI is PostgreSQL (one database shared by
 * processes on many hosts, queue_pg*.c, schema/design.md "PostgreSQL").
 * The worker, the receiver and hookqctl never see a backend type.
 *
 * Contract (schema/design.md §2):
 *  - Every write returns only when its commit is durable (unless the queue
 *    was opened with no_sync). Writes from concurrent threads of one process
 *    are combined into one transaction and one sync (group commit); each call
 *    still gets its own result.
 *  - Deliveries are deduplicated on (hook_id, delivery) for dedup_window_ms.
 *  - Events are FIFO per repository id, in commit order.
 *  - At most one event per repository is leased at a time, across threads and
 *    processes. An expired lease returns the repository to the ready set and
 *    counts a failed attempt.
 *  - The repository that has been ready longest is leased first; after one
 *    event it goes to the back of the line.
 *  - Every operation is O(log n) in the number of events and repositories,
 *    except the listing iterators and the stats "ready" count (see below).
 *
 * Threads: a queue handle may be used by any number of threads at once.
 * Events returned to the caller (struct hq_event) are owned by the caller and
 * freed with hq_event_free().
 */
#ifndef HQ_QUEUE_H
#define HQ_QUEUE_H

#include "hq_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hq_queue hq_queue;

/* Last step of an event recorded durably (schema/design.md §4). */
enum hq_step {
    HQ_STEP_NEW = 0,            /* nothing done yet */
    HQ_STEP_PENDING_POSTED = 1, /* the pending status was posted (or skipped) */
    HQ_STEP_CHECKED = 2,        /* the check ran; check_state/check_desc hold its result */
    HQ_STEP_FINAL_POSTED = 3,   /* the final status was posted */
};

enum hq_check_state {
    HQ_CHECK_NONE = 0,
    HQ_CHECK_SUCCESS = 1,
    HQ_CHECK_FAILURE = 2,
    HQ_CHECK_ERROR = 3,
};

/* Caps on what the queue stores; longer input is refused with HQ_ETOOBIG. */
#define HQ_MAX_DELIVERY_LEN  128
#define HQ_MAX_EVENT_LEN     64
#define HQ_MAX_ACTION_LEN    64
#define HQ_MAX_REPO_NAME_LEN 256
#define HQ_MAX_DESC_LEN      1024
#define HQ_MAX_REASON_LEN    2048
#define HQ_MAX_HISTORY_LEN   65536
#define HQ_MAX_OWNER_LEN     128

/* An event as stored: queued, leased or dead. */
struct hq_event {
    uint64_t id;              /* queue-wide id, increasing in commit order */
    uint64_t repo_id;         /* repository.id: the FIFO key */
    uint64_t hook_id;         /* X-GitHub-Hook-ID, 0 if absent */
    uint64_t installation_id; /* installation.id from the payload, 0 if absent */
    int64_t received_at_ms;
    int64_t not_before_ms; /* not leased before this time (retry backoff) */
    int64_t dead_at_ms;    /* dead letters: when it was dead-lettered */
    uint32_t attempts;     /* failed attempts so far */
    uint32_t step;         /* enum hq_step */
    uint32_t check_state;  /* enum hq_check_state, set once step >= CHECKED */
    uint64_t check_run_id; /* the GitHub check run made for it (HOOKQ_REPORT checks), 0: none */
    char *repo_name;       /* "owner/name", for display and API paths */
    char *delivery;        /* X-GitHub-Delivery */
    char *event;           /* X-GitHub-Event */
    char *action;          /* payload "action", "" if none */
    char *check_desc;      /* first line of the check's output, "" if none */
    char *history;         /* JSON array: [{"at":ms,"step":n,"error":"..."},...] */
    char *reason;          /* dead letters: why; "" otherwise */
    char *payload;         /* raw JSON; NULL when not asked for */
    size_t payload_len;
};

void hq_event_free(struct hq_event *ev);

#define HQ_DEFAULT_DB       "/var/lib/hookq" /* HOOKQ_DB when unset */
#define HQ_DEFAULT_MAP_SIZE (4ull << 30)     /* LMDB map of a new database */

struct hq_queue_opts {
    const char *db;          /* HOOKQ_DB: a directory (LMDB) or a backend's URI */
    bool read_only;          /* inspection (hookqctl): no writes, no create */
    bool no_create;          /* open an existing database only (hookqctl's writes) */
    bool no_sync;            /* relaxed durability: operator's explicit choice */
    int64_t dedup_window_ms; /* how long a (hook id, delivery) pair is remembered */
    uint32_t max_attempts;   /* expired leases past this dead-letter; 0 = no limit */
    /* What only one backend reads; the others ignore it. */
    struct {
        /* Map size in bytes. 0: an existing database keeps the size stored
         * in it, a new one gets HQ_DEFAULT_MAP_SIZE. */
        uint64_t map_size;
    } lmdb;
};

/* Defaults of schema/design.md §5: HQ_DEFAULT_DB, 4 GiB map, 7 day dedup window, 10
 * attempts. */
void hq_queue_opts_default(struct hq_queue_opts *o);

/*
 * Whether a backend built into this program serves db (a HOOKQ_DB value):
 * 0, or HQ_ECONFIG with *why set to a static reason ("unknown scheme ...").
 * hq_queue_open makes the same
 * choice; settings use this to refuse a bad value at start.
 */
HQ_WUR int hq_queue_check_db(const char *db, const char **why);

/*
 * Opens (creating unless read_only or no_create) the database o->db with the
 * backend that serves it. Fails with HQ_ECONFIG when no backend does (see
 * hq_queue_check_db), HQ_ESCHEMA when the stored schema version is newer than
 * this code's, -ENOENT when read_only or no_create and there is no database
 * (nothing is created then). Clears stale readers of crashed processes.
 * PostgreSQL: HQ_ECONFIG for a URI libpq cannot parse, -EACCES for a
 * refused login or missing privileges, -ENOENT for a database that does not
 * exist, HQ_ESTORAGE for a server that does not answer.
 * On failure *out is untouched and nothing is left open.
 */
HQ_WUR int hq_queue_open(const struct hq_queue_opts *o, hq_queue **out);
/*
 * What an hq_queue_open failure rc means to an operator, in words (static
 * text, never the database name: print that masked, hq_settings_mask_db).
 * hq_queue_open_is_setup reports whether rc is the operator's to fix (a
 * malformed name, a refused login or privilege, a newer schema, no
 * database): the services and hookqctl exit with status 2 then.
 */
const char *hq_queue_open_error(int rc);
bool hq_queue_open_is_setup(int rc);
/*
 * What the open found and repaired that the operator must hear of, or NULL:
 * for LMDB, an empty data.mdb (a power loss under HOOKQ_SYNC=false, a copy
 * cut short) that the open started as a new, empty queue. The services log
 * it as an error at start. The text is the queue's, valid until close. A
 * database file shorter than its header that is not empty, and any damaged
 * file a read-only or no_create open finds, fail the open with HQ_EDBLOST
 * instead.
 */
const char *hq_queue_open_notice(hq_queue *q);

/* Closes q (NULL is fine). No call on q may be running or follow. */
void hq_queue_close(hq_queue *q);

/*
 * One delivery to enqueue; result and id are filled in by hq_queue_enqueue.
 * The rules of an item: repo_id nonzero, delivery and event not empty,
 * repo_name and payload not NULL (else -EINVAL); delivery, event, action and
 * repo_name within HQ_MAX_* (else HQ_ETOOBIG).
 */
struct hq_enqueue {
    uint64_t hook_id;
    const char *delivery;
    const char *event;
    const char *action; /* "" or NULL if none */
    uint64_t repo_id;
    const char *repo_name;
    uint64_t installation_id;
    const char *payload;
    size_t payload_len;
    int64_t received_at_ms;
    /* NULL, or a line (at most HQ_MAX_REASON_LEN bytes, else HQ_ETOOBIG) the
     * event's history starts with, at "at" = the enqueue time and step 0:
     * how it came in when that was not the receiver (catch-up, §9). */
    const char *note;
    /* out: 0 accepted, HQ_EDUPLICATE, or an error for this item alone
     * (HQ_ETOOBIG, -EINVAL, HQ_EFULL) */
    int result;
    uint64_t id; /* out: new event id; for a duplicate, the first's id */
};

/*
 * Enqueues n deliveries in one durable commit. Returns 0 when the commit
 * happened: each item's result then says what became of it (a duplicate
 * within the batch is a duplicate too; an item that breaks the rules above
 * is refused alone, before the backend sees it). Returns an error (HQ_EFULL,
 * HQ_ESTORAGE, -EIO...) when the commit failed: then nothing of the batch is
 * stored and every item's result is that error.
 */
HQ_WUR int hq_queue_enqueue(hq_queue *q, struct hq_enqueue *items, size_t n);

/*
 * How many hq_queue_enqueue calls of one process a group committer should
 * keep under way at once (1 or more), as measured for the backend
 * (tests/bench/bench_receiver.sh, bench_backends.sh): LMDB 1 (a second
 * call only splits the batches; each call's commit is answered after its
 * own sync either way), PostgreSQL 2 (a second call's items join the
 * transaction being built while the first waits for its commit).
 */
unsigned hq_queue_enqueue_callers(const hq_queue *q);

/*
 * Whether (hook_id, delivery) is in the dedup set now, exactly as
 * hq_queue_enqueue would judge it (a pair past the window but not yet pruned
 * is still in it): 0 with *id (may be NULL) the first event's id when it is,
 * HQ_ENOTFOUND when it is not, another code when the lookup failed. delivery
 * must not be empty (-EINVAL) and within HQ_MAX_DELIVERY_LEN (HQ_ETOOBIG).
 * Read-only: works on a queue opened read_only.
 */
HQ_WUR int hq_queue_dedup_lookup(hq_queue *q, uint64_t hook_id, const char *delivery, uint64_t *id);

/*
 * Named state records: a few small records shared by every process on the
 * queue, for work that one process at a time does on behalf of all (catch-up,
 * schema/design.md §9: its position and the claim on a run). A record is
 * read whole and written whole by compare-and-set on its version, so two
 * processes can never both win the same claim. Names are 1 to
 * HQ_MAX_STATE_NAME_LEN bytes of [a-z0-9_.-] (else -EINVAL).
 */
#define HQ_MAX_STATE_NAME_LEN 64
struct hq_queue_state {
    uint64_t version;                      /* 0: never written; each successful set adds 1 */
    int64_t position_ms;                   /* the owner's position in time */
    uint64_t value;                        /* one number the owner keeps beside it */
    int64_t claim_until_ms;                /* claimed_by holds the record until then; 0: no claim */
    char claimed_by[HQ_MAX_OWNER_LEN + 1]; /* "" when unclaimed */
};

/* Reads the record name into *st: 0, with all zeros (version 0) for a
 * record never written; or an error of the read. Read-only. */
HQ_WUR int hq_queue_state_get(hq_queue *q, const char *name, struct hq_queue_state *st);

/*
 * Writes st's position_ms, value, claim_until_ms and claimed_by (a NUL-
 * terminated string, else HQ_ETOOBIG) as the record name, durably, if and
 * only if its stored version is expect_version (0 for a record never
 * written); the record's version becomes expect_version + 1, returned in
 * *new_version (may be NULL); st->version is ignored. HQ_ELEASELOST when
 * the stored version differs (another process wrote it first): nothing is
 * written. Time is not interpreted: whether a claim has expired is the
 * caller's decision, made on what hq_queue_state_get returned.
 */
HQ_WUR int hq_queue_state_cas(hq_queue *q, const char *name, uint64_t expect_version,
                              const struct hq_queue_state *st, uint64_t *new_version);

/* A worker's hold on one repository; token tells one lease from the next. */
struct hq_lease {
    uint64_t repo_id;
    uint64_t event_id;
    uint64_t token;
    int64_t expires_ms;
};

/*
 * Leases the repository that has been ready longest and returns its head
 * event (with payload) in *ev. Expired leases found on the way are reclaimed
 * first (attempt counted; dead-lettered past max_attempts).
 * HQ_ENOTREADY when nothing is ready: *next_ready_ms (may be NULL) is then
 * the time the next repository becomes ready, or INT64_MAX if none is
 * waiting. lease_ms must be positive (-EINVAL); owner (NULL is "") at most
 * HQ_MAX_OWNER_LEN bytes (HQ_ETOOBIG).
 */
HQ_WUR int hq_queue_lease(hq_queue *q, const char *owner, int64_t lease_ms, struct hq_lease *lease,
                          struct hq_event **ev, int64_t *next_ready_ms);

/* Extends the lease to now + lease_ms (positive). HQ_ELEASELOST if it expired and was
 * reclaimed or taken by another worker. */
HQ_WUR int hq_queue_renew(hq_queue *q, struct hq_lease *lease, int64_t lease_ms);

/* Records a finished step durably (and the check result with HQ_STEP_CHECKED;
 * check_desc is cut at HQ_MAX_DESC_LEN bytes). HQ_ELEASELOST if the lease is
 * no longer ours; -EINVAL for a step or state out of its enum. */
HQ_WUR int hq_queue_record_step(hq_queue *q, const struct hq_lease *lease, enum hq_step step,
                                enum hq_check_state check_state, const char *check_desc);

/* Records, durably, the id of the check run created for the leased head
 * event (nonzero, else -EINVAL): a retry then updates that run instead of
 * creating another. HQ_ELEASELOST if the lease is no longer ours. A replay
 * clears it (a replayed event gets a new run). */
HQ_WUR int hq_queue_record_check_run(hq_queue *q, const struct hq_lease *lease,
                                     uint64_t check_run_id);

/* The head event is done: it leaves the queue and the repository goes to the
 * back of the ready line (or leaves it when empty). */
HQ_WUR int hq_queue_complete(hq_queue *q, const struct hq_lease *lease);

/*
 * Gives the repository back with its head event waiting until not_before_ms.
 * With count_attempt the event's attempts grow by one and error is appended
 * to its history (a failed attempt); without it (rate-limit waits, shutdown)
 * nothing is counted. reached records, in the same commit, a step this
 * attempt finished but had not recorded yet (HQ_STEP_NEW for none; steps
 * never go backwards).
 */
HQ_WUR int hq_queue_retry(hq_queue *q, const struct hq_lease *lease, int64_t not_before_ms,
                          bool count_attempt, const char *error, enum hq_step reached);

/* Moves the head event to the dead-letter set with reason (cut at
 * HQ_MAX_REASON_LEN bytes; NULL is "dead-lettered"; also appended to its
 * history, and counted as a failed attempt); the repository goes on with its
 * next event. */
HQ_WUR int hq_queue_dead_letter(hq_queue *q, const struct hq_lease *lease, const char *reason);

/* Dead letters (ids are the event's own id). */
HQ_WUR int hq_queue_get_dead(hq_queue *q, uint64_t id, bool with_payload, struct hq_event **ev);
/* Moves a dead letter to the tail of its repository's FIFO with attempts and
 * step reset, keeping delivery, received time and history. *new_id may be NULL. */
HQ_WUR int hq_queue_replay(hq_queue *q, uint64_t id, uint64_t *new_id);
HQ_WUR int hq_queue_purge(hq_queue *q, uint64_t id);
/* Stores ev (as exported) as a dead letter with a new id; HQ_EDUPLICATE if a
 * dead letter with the same (hook id, delivery) exists. ev needs a repo_id,
 * a delivery and a payload (-EINVAL) and strings within their caps
 * (HQ_ETOOBIG). *new_id may be NULL. */
HQ_WUR int hq_queue_import_dead(hq_queue *q, const struct hq_event *ev, uint64_t *new_id);

/*
 * Iteration in a read snapshot. fn returns 0 to go on, anything else stops
 * the walk and is returned. Queued events come per repository (by id), each
 * repository's events in FIFO order. Events passed to fn are valid only
 * during the call.
 */
typedef int (*hq_queue_iter_fn)(const struct hq_event *ev, void *arg);
HQ_WUR int hq_queue_foreach_event(hq_queue *q, uint64_t repo_id, bool with_payload,
                                  hq_queue_iter_fn fn, void *arg);
HQ_WUR int hq_queue_foreach_dead(hq_queue *q, bool with_payload, hq_queue_iter_fn fn, void *arg);

/*
 * Moving a queue to another backend (hookqctl migrate, schema/design.md §7)
 * while no service runs on either. The source is read with the iterators
 * (foreach_event, foreach_dead, foreach_dedup, stats); the target, which the
 * caller has checked is empty, takes it in batches with hq_queue_import.
 */
typedef int (*hq_queue_dedup_fn)(uint64_t hook_id, const char *delivery, int64_t at_ms,
                                 uint64_t event_id, void *arg);
/* Every (hook id, delivery) pair of the dedup set, with the time it was
 * first seen and the first event's id, in one read snapshot. fn's return
 * stops the walk as for hq_queue_iter_fn. Read-only. */
HQ_WUR int hq_queue_foreach_dedup(hq_queue *q, hq_queue_dedup_fn fn, void *arg);

enum hq_import_kind {
    HQ_IMPORT_EVENT = 1, /* ev: a queued event */
    HQ_IMPORT_DEAD,      /* ev: a dead letter */
    HQ_IMPORT_DEDUP,     /* hook_id, delivery, at_ms, event_id: one dedup pair */
    HQ_IMPORT_COUNTERS,  /* the four *_total counters, added to the target's */
};

struct hq_import {
    enum hq_import_kind kind;
    /* EVENT, DEAD: as the iterators gave it, with its payload. */
    const struct hq_event *ev;
    /* DEDUP */
    uint64_t hook_id;
    const char *delivery;
    int64_t at_ms;
    uint64_t event_id;
    /* COUNTERS */
    uint64_t enqueued_total, duplicates_total, done_total, dead_total;
};

/*
 * Stores n items in one durable commit, keeping every id as given. EVENT
 * appends ev to the tail of its repository's FIFO, unleased, with attempts,
 * step, check_state, check_desc, check_run_id, history, received_at_ms and
 * not_before_ms as given (repositories join the ready line in the order
 * their first event arrives); DEAD stores a dead letter; DEDUP one pair;
 * COUNTERS adds to the counters. The id allocator moves past every id
 * stored, so later events get larger ids. An id (event or dead letter) or
 * a dedup pair already present is HQ_EDUPLICATE, and nothing of the batch
 * is stored. Items break the rules of hq_queue_import_dead (and a kind out
 * of range, an id of 0) with -EINVAL or HQ_ETOOBIG before the backend sees
 * them.
 */
HQ_WUR int hq_queue_import(hq_queue *q, const struct hq_import *items, size_t n);

struct hq_queue_stats {
    uint64_t queued;           /* events in the queue (leased heads included) */
    uint64_t repositories;     /* repositories with queued events */
    uint64_t ready;            /* repositories ready now (walks the ready index) */
    uint64_t waiting;          /* repositories whose head waits for not_before */
    uint64_t leased;           /* repositories leased */
    uint64_t dead;             /* dead letters */
    double oldest_age_seconds; /* how long the longest-ready repository has waited */
    uint64_t enqueued_total;   /* counters kept since the database was created */
    uint64_t duplicates_total;
    uint64_t done_total;
    uint64_t dead_total;
    /* Storage figures of a backend with a fixed-size map (LMDB); has_map is
     * false and both are 0 for the others. */
    bool has_map;
    uint64_t map_size; /* bytes */
    uint64_t map_used; /* bytes in use (last page number times page size) */
};

HQ_WUR int hq_queue_stats(hq_queue *q, struct hq_queue_stats *st);

/* Group-commit figures of this process since open (for /metrics). */
struct hq_queue_commit_stats {
    uint64_t commits;
    uint64_t ops; /* write operations carried by those commits */
    uint64_t failures;
    double commit_seconds_sum;
};
void hq_queue_commit_stats(hq_queue *q, struct hq_queue_commit_stats *st);

/*
 * Wake-ups across processes without polling. hq_queue_wake_seq() reads a
 * counter that every commit making work ready increments; hq_queue_wait()
 * sleeps until the counter differs from seen or timeout_ms passes.
 */
uint32_t hq_queue_wake_seq(hq_queue *q);
void hq_queue_wait(hq_queue *q, uint32_t seen, int64_t timeout_ms);

/* Fault injection for tests: when set, a commit fails with hook()'s result
 * if it is nonzero. NULL restores normal commits. */
void hq_queue_set_commit_hook(hq_queue *q, int (*hook)(void *arg), void *arg);

#endif
