/*
 * queue_case: what the conformance programs of the queue (test_queue.c,
 * test_queue_shared.c) share: the backend under test and a fresh database
 * of it per case, and small helpers written against queue.h alone.
 *
 * HOOKQ_TEST_QUEUE names the backend under test (lmdb when unset); a backend
 * this build does not have skips the case. tests/CMakeLists.txt runs each
 * program once per backend. For postgresql each case gets a database of its
 * own in the tests' cluster (pgtest.h; SKIP without HOOKQ_TEST_PG_DIR).
 */
#ifndef HQ_QUEUE_CASE_H
#define HQ_QUEUE_CASE_H

#include "clock.h"
#include "hqtest.h"
#include "pgtest.h"
#include "queue.h"

#include <stdint.h>

static int64_t fake_now = 1700000000000;
static inline int64_t fake_clock(void)
{
    return fake_now;
}

/* Defaults and the case's own database of the backend under test; a backend
 * this build does not have skips the case. Every call in one case (and its
 * forked children) names the same database. */
static inline void case_opts(struct hq_queue_opts *o)
{
    const char *be = getenv("HOOKQ_TEST_QUEUE");
    hq_queue_opts_default(o);
    if (be == NULL || be[0] == '\0' || strcmp(be, "lmdb") == 0) {
        o->db = hqtest_dir(); /* a directory of its own */
        return;
    }
    if (strcmp(be, "postgresql") == 0) {
        o->db = pgtest_case_db(); /* CREATE DATABASE of its own */
        return;
    }
    SKIP("HOOKQ_TEST_QUEUE names a backend this build does not have");
}

/* A second database of the backend under test, apart from case_opts's and
 * as empty at the start of the case: a migration's target. */
static inline void case_opts_second(struct hq_queue_opts *o)
{
    static char path[512];
    case_opts(o);
    const char *be = getenv("HOOKQ_TEST_QUEUE");
    int n = be != NULL && strcmp(be, "postgresql") == 0
                ? snprintf(path, sizeof(path), "%s", pgtest_database(pgtest_case_name("_2")))
                : snprintf(path, sizeof(path), "%s/second", hqtest_dir());
    if (n >= (int)sizeof(path))
        SKIP("temporary directory name too long");
    o->db = path;
}

static inline hq_queue *open_q(uint32_t max_attempts)
{
    struct hq_queue_opts o;
    case_opts(&o);
    o.max_attempts = max_attempts;
    hq_queue *q = NULL;
    int rc = hq_queue_open(&o, &q);
    if (rc != 0)
        fprintf(stderr, "open: %s\n", hq_strerror(rc));
    REQUIRE(rc == 0);
    return q;
}

static inline int enq(hq_queue *q, uint64_t repo, uint64_t hook, const char *delivery, uint64_t *id)
{
    char name[64];
    snprintf(name, sizeof(name), "owner/repo%llu", (unsigned long long)repo);
    struct hq_enqueue it = {.hook_id = hook,
                            .delivery = delivery,
                            .event = "push",
                            .action = "",
                            .repo_id = repo,
                            .repo_name = name,
                            .payload = "{\"x\":1}",
                            .payload_len = 7};
    int rc = hq_queue_enqueue(q, &it, 1);
    if (id != NULL)
        *id = it.id;
    return rc != 0 ? rc : it.result;
}

static inline struct hq_event *lease(hq_queue *q, struct hq_lease *l)
{
    struct hq_event *ev = NULL;
    int64_t next;
    int rc = hq_queue_lease(q, "test", 60000, l, &ev, &next);
    return rc == 0 ? ev : NULL;
}

static inline int count_cb(const struct hq_event *ev, void *arg)
{
    (void)ev;
    (*(int *)arg)++;
    return 0;
}

static inline int count_events(hq_queue *q)
{
    int n = 0;
    CHECK_EQ(hq_queue_foreach_event(q, 0, false, count_cb, &n), 0);
    return n;
}

#endif
