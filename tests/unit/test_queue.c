/*
 * test_queue: the conformance suite of the queue contract (design §2), one
 * case per line of it, written against queue.h alone. It runs once per
 * backend (tests/CMakeLists.txt): HOOKQ_TEST_QUEUE names the backend under
 * test (lmdb when unset), and every case opens its own fresh database of it
 * through case_opts(). What only one backend has (LMDB's map, its files)
 * is tested in that backend's own program (test_queue_lmdb.c).
 */
#include "clock.h"
#include "hqtest.h"
#include "queue.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>

static int64_t fake_now = 1700000000000;
static int64_t fake_clock(void)
{
    return fake_now;
}

/* Defaults and the case's own database of the backend under test; a backend
 * this build does not have skips the case. Every call in one case (and its
 * forked children) names the same database. */
static void case_opts(struct hq_queue_opts *o)
{
    const char *be = getenv("HOOKQ_TEST_QUEUE");
    hq_queue_opts_default(o);
    if (be == NULL || be[0] == '\0' || strcmp(be, "lmdb") == 0) {
        o->db = hqtest_dir(); /* a directory of its own */
        return;
    }
    SKIP("HOOKQ_TEST_QUEUE names a backend this build does not have");
}

static hq_queue *open_q(uint32_t max_attempts)
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

static int enq(hq_queue *q, uint64_t repo, uint64_t hook, const char *delivery, uint64_t *id)
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

static struct hq_event *lease(hq_queue *q, struct hq_lease *l)
{
    struct hq_event *ev = NULL;
    int64_t next;
    int rc = hq_queue_lease(q, "test", 60000, l, &ev, &next);
    return rc == 0 ? ev : NULL;
}

static int count_cb(const struct hq_event *ev, void *arg)
{
    (void)ev;
    (*(int *)arg)++;
    return 0;
}

static int count_events(hq_queue *q)
{
    int n = 0;
    CHECK_EQ(hq_queue_foreach_event(q, 0, false, count_cb, &n), 0);
    return n;
}

HQ_TEST(enqueue_is_durable_across_reopen)
{
    hq_queue *q = open_q(10);
    uint64_t id;
    CHECK_EQ(enq(q, 7, 1, "d-1", &id), 0);
    CHECK(id > 0);
    hq_queue_close(q);
    q = open_q(10);
    CHECK_EQ(count_events(q), 1);
    struct hq_lease l;
    struct hq_event *ev = lease(q, &l);
    REQUIRE(ev != NULL);
    CHECK_STR(ev->delivery, "d-1");
    CHECK_STR(ev->repo_name, "owner/repo7");
    CHECK_EQ(ev->payload_len, 7);
    CHECK_STR(ev->payload, "{\"x\":1}");
    hq_event_free(ev);
    hq_queue_close(q);
}

HQ_TEST(duplicate_pair_is_stored_once)
{
    hq_queue *q = open_q(10);
    uint64_t a, b;
    CHECK_EQ(enq(q, 1, 5, "same", &a), 0);
    CHECK_EQ(enq(q, 1, 5, "same", &b), HQ_EDUPLICATE);
    CHECK_EQ(a, b);
    CHECK_EQ(count_events(q), 1);
    struct hq_queue_stats st;
    CHECK_EQ(hq_queue_stats(q, &st), 0);
    CHECK_EQ(st.duplicates_total, 1);
    hq_queue_close(q);
}

HQ_TEST(same_delivery_other_hook_is_new)
{
    hq_queue *q = open_q(10);
    CHECK_EQ(enq(q, 1, 5, "guid", NULL), 0);
    CHECK_EQ(enq(q, 1, 6, "guid", NULL), 0);
    CHECK_EQ(enq(q, 1, 0, "guid", NULL), 0); /* no hook id header counts as 0 */
    CHECK_EQ(count_events(q), 3);
    hq_queue_close(q);
}

HQ_TEST(duplicate_within_one_batch)
{
    hq_queue *q = open_q(10);
    struct hq_enqueue it[2] = {
        {.hook_id = 1,
         .delivery = "x",
         .event = "push",
         .repo_id = 3,
         .repo_name = "o/r",
         .payload = "{}",
         .payload_len = 2},
        {.hook_id = 1,
         .delivery = "x",
         .event = "push",
         .repo_id = 3,
         .repo_name = "o/r",
         .payload = "{}",
         .payload_len = 2},
    };
    CHECK_EQ(hq_queue_enqueue(q, it, 2), 0);
    CHECK_EQ(it[0].result, 0);
    CHECK_EQ(it[1].result, HQ_EDUPLICATE);
    CHECK_EQ(it[1].id, it[0].id);
    CHECK_EQ(count_events(q), 1);
    hq_queue_close(q);
}

HQ_TEST(duplicate_of_done_event_is_still_duplicate)
{
    hq_queue *q = open_q(10);
    CHECK_EQ(enq(q, 1, 1, "done-one", NULL), 0);
    struct hq_lease l;
    struct hq_event *ev = lease(q, &l);
    REQUIRE(ev != NULL);
    hq_event_free(ev);
    CHECK_EQ(hq_queue_complete(q, &l), 0);
    CHECK_EQ(enq(q, 1, 1, "done-one", NULL), HQ_EDUPLICATE);
    CHECK_EQ(count_events(q), 0);
    hq_queue_close(q);
}

HQ_TEST(dedup_window_expires)
{
    hq_clock_set_hook(fake_clock);
    struct hq_queue_opts o;
    case_opts(&o);
    o.dedup_window_ms = 1000;
    hq_queue *q;
    REQUIRE(hq_queue_open(&o, &q) == 0);
    CHECK_EQ(enq(q, 1, 1, "old", NULL), 0);
    fake_now += 500;
    CHECK_EQ(enq(q, 1, 1, "old", NULL), HQ_EDUPLICATE);
    fake_now += 2000;
    CHECK_EQ(enq(q, 1, 1, "trigger-prune", NULL), 0);
    CHECK_EQ(enq(q, 1, 1, "old", NULL), 0);
    hq_queue_close(q);
}

HQ_TEST(invalid_items_are_refused_alone)
{
    hq_queue *q = open_q(10);
    char longd[HQ_MAX_DELIVERY_LEN + 2];
    memset(longd, 'a', sizeof(longd) - 1);
    longd[sizeof(longd) - 1] = '\0';
    struct hq_enqueue it[3] = {
        {.delivery = "ok",
         .event = "push",
         .repo_id = 3,
         .repo_name = "o/r",
         .payload = "{}",
         .payload_len = 2},
        {.delivery = "norepo",
         .event = "push",
         .repo_id = 0,
         .repo_name = "o/r",
         .payload = "{}",
         .payload_len = 2},
        {.delivery = longd,
         .event = "push",
         .repo_id = 3,
         .repo_name = "o/r",
         .payload = "{}",
         .payload_len = 2},
    };
    CHECK_EQ(hq_queue_enqueue(q, it, 3), 0);
    CHECK_EQ(it[0].result, 0);
    CHECK_EQ(it[1].result, -EINVAL);
    CHECK_EQ(it[2].result, HQ_ETOOBIG);
    CHECK_EQ(count_events(q), 1);
    hq_queue_close(q);
}

HQ_TEST(fifo_per_repository)
{
    hq_queue *q = open_q(10);
    const char *order[] = {"a1", "b1", "a2", "b2", "a3"};
    for (int i = 0; i < 5; i++)
        CHECK_EQ(enq(q, order[i][0] == 'a' ? 1 : 2, 1, order[i], NULL), 0);
    char seen_a[8] = "", seen_b[8] = "";
    for (int i = 0; i < 5; i++) {
        struct hq_lease l;
        struct hq_event *ev = lease(q, &l);
        REQUIRE(ev != NULL);
        char *dst = ev->repo_id == 1 ? seen_a : seen_b;
        strncat(dst, ev->delivery + 1, 1);
        hq_event_free(ev);
        CHECK_EQ(hq_queue_complete(q, &l), 0);
    }
    CHECK_STR(seen_a, "123");
    CHECK_STR(seen_b, "12");
    hq_queue_close(q);
}

HQ_TEST(one_lease_per_repository)
{
    hq_queue *q = open_q(10);
    CHECK_EQ(enq(q, 1, 1, "a1", NULL), 0);
    CHECK_EQ(enq(q, 1, 1, "a2", NULL), 0);
    struct hq_lease l1, l2;
    struct hq_event *ev = lease(q, &l1);
    REQUIRE(ev != NULL);
    hq_event_free(ev);
    int64_t next = 0;
    struct hq_event *ev2 = NULL;
    CHECK_EQ(hq_queue_lease(q, "other", 60000, &l2, &ev2, &next), HQ_ENOTREADY);
    CHECK(ev2 == NULL);
    CHECK_EQ(next, l1.expires_ms); /* the lease's expiry is the next chance */
    struct hq_queue_stats st;
    CHECK_EQ(hq_queue_stats(q, &st), 0);
    CHECK_EQ(st.leased, 1);
    CHECK_EQ(st.ready, 0);
    CHECK_EQ(st.queued, 2);
    hq_queue_close(q);
}

HQ_TEST(expired_lease_returns_repository_and_counts_attempt)
{
    hq_clock_set_hook(fake_clock);
    hq_queue *q = open_q(10);
    CHECK_EQ(enq(q, 1, 1, "a1", NULL), 0);
    struct hq_lease l1, l2;
    struct hq_event *ev = NULL;
    int64_t next;
    REQUIRE(hq_queue_lease(q, "crashed", 1000, &l1, &ev, &next) == 0);
    hq_event_free(ev);
    fake_now += 999;
    CHECK_EQ(hq_queue_lease(q, "w2", 1000, &l2, &ev, &next), HQ_ENOTREADY);
    fake_now += 2;
    REQUIRE(hq_queue_lease(q, "w2", 1000, &l2, &ev, &next) == 0);
    CHECK_EQ(ev->attempts, 1);
    CHECK(strstr(ev->history, "expired") != NULL);
    CHECK(strstr(ev->history, "crashed") != NULL);
    hq_event_free(ev);
    /* The crashed worker's lease is gone for good. */
    CHECK_EQ(hq_queue_complete(q, &l1), HQ_ELEASELOST);
    CHECK_EQ(hq_queue_renew(q, &l1, 1000), HQ_ELEASELOST);
    CHECK_EQ(hq_queue_complete(q, &l2), 0);
    CHECK_EQ(count_events(q), 0);
    hq_queue_close(q);
}

HQ_TEST(expired_leases_past_max_attempts_dead_letter)
{
    hq_clock_set_hook(fake_clock);
    hq_queue *q = open_q(2);
    CHECK_EQ(enq(q, 1, 1, "a1", NULL), 0);
    CHECK_EQ(enq(q, 1, 1, "a2", NULL), 0);
    struct hq_lease l;
    struct hq_event *ev = NULL;
    int64_t next;
    for (int i = 0; i < 2; i++) {
        REQUIRE(hq_queue_lease(q, "w", 1000, &l, &ev, &next) == 0);
        CHECK_STR(ev->delivery, "a1");
        hq_event_free(ev);
        fake_now += 1001;
    }
    REQUIRE(hq_queue_lease(q, "w", 1000, &l, &ev, &next) == 0);
    CHECK_STR(ev->delivery, "a2"); /* a1 went to the dead letters */
    hq_event_free(ev);
    struct hq_queue_stats st;
    CHECK_EQ(hq_queue_stats(q, &st), 0);
    CHECK_EQ(st.dead, 1);
    hq_queue_close(q);
}

HQ_TEST(renew_extends_the_lease)
{
    hq_clock_set_hook(fake_clock);
    hq_queue *q = open_q(10);
    CHECK_EQ(enq(q, 1, 1, "a1", NULL), 0);
    struct hq_lease l, l2;
    struct hq_event *ev = NULL;
    int64_t next;
    REQUIRE(hq_queue_lease(q, "w", 1000, &l, &ev, &next) == 0);
    hq_event_free(ev);
    fake_now += 800;
    CHECK_EQ(hq_queue_renew(q, &l, 1000), 0);
    CHECK_EQ(l.expires_ms, fake_now + 1000);
    fake_now += 800; /* past the first expiry, within the renewed one */
    CHECK_EQ(hq_queue_lease(q, "w2", 1000, &l2, &ev, &next), HQ_ENOTREADY);
    CHECK_EQ(hq_queue_complete(q, &l), 0);
    hq_queue_close(q);
}

HQ_TEST(ready_longest_goes_first_and_back_of_line)
{
    hq_clock_set_hook(fake_clock);
    hq_queue *q = open_q(10);
    CHECK_EQ(enq(q, 1, 1, "a1", NULL), 0);
    CHECK_EQ(enq(q, 1, 1, "a2", NULL), 0);
    fake_now += 10;
    CHECK_EQ(enq(q, 2, 1, "b1", NULL), 0);
    fake_now += 10;
    CHECK_EQ(enq(q, 3, 1, "c1", NULL), 0);
    fake_now += 10;
    char seq[16] = "";
    for (int i = 0; i < 4; i++) {
        struct hq_lease l;
        struct hq_event *ev = lease(q, &l);
        REQUIRE(ev != NULL);
        strncat(seq, ev->delivery, 2);
        hq_event_free(ev);
        CHECK_EQ(hq_queue_complete(q, &l), 0);
        fake_now += 1;
    }
    /* a goes first (ready longest), then to the back behind b and c. */
    CHECK_STR(seq, "a1b1c1a2");
    hq_queue_close(q);
}

HQ_TEST(retry_waits_not_before_in_strict_order)
{
    hq_clock_set_hook(fake_clock);
    hq_queue *q = open_q(10);
    CHECK_EQ(enq(q, 1, 1, "a1", NULL), 0);
    CHECK_EQ(enq(q, 1, 1, "a2", NULL), 0);
    CHECK_EQ(enq(q, 2, 1, "b1", NULL), 0);
    struct hq_lease l;
    struct hq_event *ev = lease(q, &l);
    REQUIRE(ev != NULL);
    CHECK_STR(ev->delivery, "a1");
    hq_event_free(ev);
    CHECK_EQ(hq_queue_retry(q, &l, fake_now + 5000, true, "HTTP 502", HQ_STEP_NEW), 0);
    /* Repo 1 waits (a2 must not overtake a1); repo 2 goes on. */
    ev = lease(q, &l);
    REQUIRE(ev != NULL);
    CHECK_STR(ev->delivery, "b1");
    hq_event_free(ev);
    CHECK_EQ(hq_queue_complete(q, &l), 0);
    int64_t next = 0;
    CHECK_EQ(hq_queue_lease(q, "w", 60000, &l, &ev, &next), HQ_ENOTREADY);
    CHECK_EQ(next, fake_now + 5000);
    fake_now += 5000;
    ev = lease(q, &l);
    REQUIRE(ev != NULL);
    CHECK_STR(ev->delivery, "a1");
    CHECK_EQ(ev->attempts, 1);
    CHECK(strstr(ev->history, "HTTP 502") != NULL);
    hq_event_free(ev);
    hq_queue_close(q);
}

HQ_TEST(rate_limit_wait_is_not_an_attempt)
{
    hq_clock_set_hook(fake_clock);
    hq_queue *q = open_q(10);
    CHECK_EQ(enq(q, 1, 1, "a1", NULL), 0);
    struct hq_lease l;
    struct hq_event *ev = lease(q, &l);
    REQUIRE(ev != NULL);
    hq_event_free(ev);
    CHECK_EQ(hq_queue_retry(q, &l, fake_now + 100, false, "rate limited", HQ_STEP_NEW), 0);
    fake_now += 100;
    ev = lease(q, &l);
    REQUIRE(ev != NULL);
    CHECK_EQ(ev->attempts, 0);
    hq_event_free(ev);
    hq_queue_close(q);
}

HQ_TEST(dead_letter_keeps_reason_and_repository_goes_on)
{
    hq_queue *q = open_q(10);
    uint64_t id;
    CHECK_EQ(enq(q, 1, 1, "a1", &id), 0);
    CHECK_EQ(enq(q, 1, 1, "a2", NULL), 0);
    struct hq_lease l;
    struct hq_event *ev = lease(q, &l);
    REQUIRE(ev != NULL);
    hq_event_free(ev);
    CHECK_EQ(hq_queue_retry(q, &l, 0, true, "first failure", HQ_STEP_NEW), 0);
    ev = lease(q, &l);
    REQUIRE(ev != NULL);
    hq_event_free(ev);
    CHECK_EQ(hq_queue_dead_letter(q, &l, "HTTP 422: Validation Failed"), 0);
    ev = lease(q, &l);
    REQUIRE(ev != NULL);
    CHECK_STR(ev->delivery, "a2");
    hq_event_free(ev);
    struct hq_event *d = NULL;
    REQUIRE(hq_queue_get_dead(q, id, true, &d) == 0);
    CHECK_STR(d->reason, "HTTP 422: Validation Failed");
    CHECK_EQ(d->attempts, 2); /* the retried one and the one that ended it */
    CHECK(strstr(d->history, "first failure") != NULL);
    CHECK(d->dead_at_ms > 0);
    CHECK_STR(d->payload, "{\"x\":1}");
    hq_event_free(d);
    hq_queue_close(q);
}

HQ_TEST(replay_goes_to_tail_with_attempts_reset)
{
    hq_queue *q = open_q(10);
    uint64_t id;
    CHECK_EQ(enq(q, 1, 9, "a1", &id), 0);
    struct hq_lease l;
    struct hq_event *ev = lease(q, &l);
    REQUIRE(ev != NULL);
    int64_t received = ev->received_at_ms;
    hq_event_free(ev);
    CHECK_EQ(hq_queue_retry(q, &l, 0, true, "boom", HQ_STEP_NEW), 0);
    ev = lease(q, &l);
    REQUIRE(ev != NULL);
    hq_event_free(ev);
    CHECK_EQ(hq_queue_dead_letter(q, &l, "gave up"), 0);
    CHECK_EQ(enq(q, 1, 9, "a2", NULL), 0);
    uint64_t nid = 0;
    CHECK_EQ(hq_queue_replay(q, id, &nid), 0);
    CHECK_EQ(hq_queue_replay(q, id, &nid), HQ_ENOTFOUND);
    ev = lease(q, &l);
    REQUIRE(ev != NULL);
    CHECK_STR(ev->delivery, "a2"); /* the replayed one is behind a2 */
    hq_event_free(ev);
    CHECK_EQ(hq_queue_complete(q, &l), 0);
    ev = lease(q, &l);
    REQUIRE(ev != NULL);
    CHECK_STR(ev->delivery, "a1");
    CHECK_EQ(ev->hook_id, 9);
    CHECK_EQ(ev->attempts, 0);
    CHECK_EQ(ev->step, HQ_STEP_NEW);
    CHECK_EQ(ev->received_at_ms, received);
    CHECK(strstr(ev->history, "boom") != NULL);
    CHECK_STR(ev->payload, "{\"x\":1}");
    hq_event_free(ev);
    struct hq_queue_stats st;
    CHECK_EQ(hq_queue_stats(q, &st), 0);
    CHECK_EQ(st.dead, 0);
    hq_queue_close(q);
}

HQ_TEST(purge_removes_dead_letter)
{
    hq_queue *q = open_q(10);
    uint64_t id;
    CHECK_EQ(enq(q, 1, 1, "a1", &id), 0);
    struct hq_lease l;
    struct hq_event *ev = lease(q, &l);
    REQUIRE(ev != NULL);
    hq_event_free(ev);
    CHECK_EQ(hq_queue_dead_letter(q, &l, "x"), 0);
    CHECK_EQ(hq_queue_purge(q, id), 0);
    CHECK_EQ(hq_queue_purge(q, id), HQ_ENOTFOUND);
    CHECK_EQ(hq_queue_get_dead(q, id, false, &ev), HQ_ENOTFOUND);
    hq_queue_close(q);
}

HQ_TEST(steps_are_recorded_and_survive_retry)
{
    hq_queue *q = open_q(10);
    CHECK_EQ(enq(q, 1, 1, "a1", NULL), 0);
    struct hq_lease l;
    struct hq_event *ev = lease(q, &l);
    REQUIRE(ev != NULL);
    CHECK_EQ(ev->step, HQ_STEP_NEW);
    hq_event_free(ev);
    CHECK_EQ(hq_queue_record_step(q, &l, HQ_STEP_PENDING_POSTED, HQ_CHECK_NONE, NULL), 0);
    CHECK_EQ(hq_queue_record_step(q, &l, HQ_STEP_CHECKED, HQ_CHECK_FAILURE, "3 tests failed"), 0);
    CHECK_EQ(hq_queue_retry(q, &l, 0, true, "502 on final", HQ_STEP_NEW), 0);
    hq_queue_close(q);
    q = open_q(10);
    ev = lease(q, &l);
    REQUIRE(ev != NULL);
    CHECK_EQ(ev->step, HQ_STEP_CHECKED);
    CHECK_EQ(ev->check_state, HQ_CHECK_FAILURE);
    CHECK_STR(ev->check_desc, "3 tests failed");
    hq_event_free(ev);
    hq_queue_close(q);
}

HQ_TEST(stats_report_the_queue)
{
    hq_clock_set_hook(fake_clock);
    hq_queue *q = open_q(10);
    CHECK_EQ(enq(q, 1, 1, "a1", NULL), 0);
    CHECK_EQ(enq(q, 1, 1, "a2", NULL), 0);
    CHECK_EQ(enq(q, 2, 1, "b1", NULL), 0);
    CHECK_EQ(enq(q, 3, 1, "c1", NULL), 0);
    fake_now += 3000;
    struct hq_lease l;
    struct hq_event *ev = lease(q, &l);
    REQUIRE(ev != NULL);
    hq_event_free(ev);
    struct hq_lease l2;
    ev = lease(q, &l2);
    REQUIRE(ev != NULL);
    hq_event_free(ev);
    CHECK_EQ(hq_queue_retry(q, &l2, fake_now + 10000, true, "x", HQ_STEP_NEW), 0);
    struct hq_queue_stats st;
    CHECK_EQ(hq_queue_stats(q, &st), 0);
    CHECK_EQ(st.queued, 4);
    CHECK_EQ(st.repositories, 3);
    CHECK_EQ(st.leased, 1);
    CHECK_EQ(st.ready, 1);
    CHECK_EQ(st.waiting, 1);
    CHECK_EQ(st.dead, 0);
    CHECK_EQ(st.enqueued_total, 4);
    CHECK(st.oldest_age_seconds >= 2.999 && st.oldest_age_seconds <= 3.001);
    if (st.has_map) /* a backend with a map (LMDB: test_queue_lmdb.c) */
        CHECK(st.map_used > 0 && st.map_size >= st.map_used);
    else
        CHECK(st.map_size == 0 && st.map_used == 0);
    hq_queue_close(q);
}

static int fail_commit(void *arg)
{
    (void)arg;
    return -EIO;
}

HQ_TEST(failed_commit_stores_nothing)
{
    hq_queue *q = open_q(10);
    hq_queue_set_commit_hook(q, fail_commit, NULL);
    uint64_t id = 99;
    CHECK_EQ(enq(q, 1, 1, "a1", &id), -EIO);
    CHECK_EQ(id, 0);
    hq_queue_set_commit_hook(q, NULL, NULL);
    CHECK_EQ(count_events(q), 0);
    CHECK_EQ(enq(q, 1, 1, "a1", NULL), 0); /* not remembered as a duplicate */
    hq_queue_close(q);
}

HQ_TEST(read_only_handle_refuses_writes)
{
    hq_queue *q = open_q(10);
    CHECK_EQ(enq(q, 1, 1, "a1", NULL), 0);
    struct hq_queue_opts o;
    case_opts(&o);
    o.read_only = true;
    hq_queue *ro;
    REQUIRE(hq_queue_open(&o, &ro) == 0);
    CHECK_EQ(count_events(ro), 1);
    CHECK_EQ(enq(ro, 1, 1, "a2", NULL), -EROFS);
    hq_queue_close(ro);
    hq_queue_close(q);
}

struct thr_arg {
    hq_queue *q;
    int t;
};

static void *enqueue_thread(void *p)
{
    struct thr_arg *a = p;
    for (int i = 0; i < 50; i++) {
        char d[32];
        snprintf(d, sizeof(d), "t%d-%d", a->t, i);
        CHECK_EQ(enq(a->q, 1 + (uint64_t)a->t % 4, 1, d, NULL), 0);
    }
    return NULL;
}

HQ_TEST(concurrent_writes_share_commits)
{
    hq_queue *q = open_q(10);
    pthread_t th[16];
    struct thr_arg args[16];
    for (int i = 0; i < 16; i++) {
        args[i] = (struct thr_arg){q, i};
        pthread_create(&th[i], NULL, enqueue_thread, &args[i]);
    }
    for (int i = 0; i < 16; i++)
        pthread_join(th[i], NULL);
    CHECK_EQ(count_events(q), 800);
    struct hq_queue_commit_stats cs;
    hq_queue_commit_stats(q, &cs);
    CHECK_EQ(cs.ops, 800);
    CHECK(cs.commits < cs.ops); /* grouped */
    printf("  800 enqueues in %llu commits\n", (unsigned long long)cs.commits);
    hq_queue_close(q);
}

HQ_TEST(import_dead_round_trip)
{
    hq_queue *q = open_q(10);
    struct hq_event in = {.repo_id = 4,
                          .hook_id = 2,
                          .received_at_ms = 1234,
                          .repo_name = "o/r",
                          .delivery = "imp",
                          .event = "push",
                          .action = "",
                          .check_desc = "",
                          .history = "[]",
                          .reason = "from elsewhere",
                          .payload = "{\"a\":2}",
                          .payload_len = 7,
                          .attempts = 3,
                          .dead_at_ms = 5678};
    uint64_t id;
    CHECK_EQ(hq_queue_import_dead(q, &in, &id), 0);
    CHECK_EQ(hq_queue_import_dead(q, &in, &id), HQ_EDUPLICATE);
    struct hq_event *d;
    REQUIRE(hq_queue_get_dead(q, id, true, &d) == 0);
    CHECK_STR(d->reason, "from elsewhere");
    CHECK_EQ(d->attempts, 3);
    CHECK_EQ(d->received_at_ms, 1234);
    CHECK_STR(d->payload, "{\"a\":2}");
    hq_event_free(d);
    hq_queue_close(q);
}

static int count_dead_cb(const struct hq_event *ev, void *arg)
{
    (void)ev;
    (*(int *)arg)++;
    return 0;
}

HQ_TEST(bad_import_is_refused_and_stores_nothing)
{
    hq_queue *q = open_q(10);
    static char reason[HQ_MAX_REASON_LEN + 10];
    memset(reason, 'r', sizeof(reason) - 1);
    struct hq_event in = {.repo_id = 4,
                          .repo_name = "o/r",
                          .delivery = "big",
                          .event = "push",
                          .reason = reason,
                          .payload = "{}",
                          .payload_len = 2};
    uint64_t id;
    CHECK_EQ(hq_queue_import_dead(q, &in, &id), HQ_ETOOBIG);
    in.reason = "ok";
    in.step = 9;
    CHECK_EQ(hq_queue_import_dead(q, &in, &id), -EINVAL);
    in.step = 0;
    CHECK_EQ(hq_queue_import_dead(q, &in, &id), 0);
    int n = 0;
    CHECK_EQ(hq_queue_foreach_dead(q, false, count_dead_cb, &n), 0);
    CHECK_EQ(n, 1);
    /* A delivery this host already has queued is a duplicate. */
    CHECK_EQ(enq(q, 1, 1, "queued-here", NULL), 0);
    in.delivery = "queued-here";
    in.hook_id = 1;
    CHECK_EQ(hq_queue_import_dead(q, &in, &id), HQ_EDUPLICATE);
    struct hq_queue_stats st;
    CHECK_EQ(hq_queue_stats(q, &st), 0);
    CHECK_EQ(st.dead, 1);
    CHECK_EQ(st.dead_total, 1);
    hq_queue_close(q);
}

HQ_TEST(retry_records_the_step_it_reached)
{
    hq_queue *q = open_q(10);
    CHECK_EQ(enq(q, 1, 1, "a1", NULL), 0);
    struct hq_lease l;
    struct hq_event *ev = lease(q, &l);
    REQUIRE(ev != NULL);
    hq_event_free(ev);
    CHECK_EQ(hq_queue_retry(q, &l, 0, true, "check timed out", HQ_STEP_PENDING_POSTED), 0);
    ev = lease(q, &l);
    REQUIRE(ev != NULL);
    CHECK_EQ(ev->step, HQ_STEP_PENDING_POSTED);
    CHECK_EQ(ev->attempts, 1);
    hq_event_free(ev);
    CHECK_EQ(hq_queue_retry(q, &l, 0, false, "wait", HQ_STEP_NEW), 0); /* not backwards */
    ev = lease(q, &l);
    REQUIRE(ev != NULL);
    CHECK_EQ(ev->step, HQ_STEP_PENDING_POSTED);
    hq_event_free(ev);
    CHECK_EQ(hq_queue_retry(q, &l, 0, false, "x", (enum hq_step)7), -EINVAL);
    hq_queue_close(q);
}

HQ_TEST(steps_never_go_backwards)
{
    hq_queue *q = open_q(10);
    CHECK_EQ(enq(q, 1, 1, "a1", NULL), 0);
    struct hq_lease l;
    struct hq_event *ev = lease(q, &l);
    REQUIRE(ev != NULL);
    hq_event_free(ev);
    CHECK_EQ(hq_queue_record_step(q, &l, HQ_STEP_CHECKED, HQ_CHECK_SUCCESS, "fine"), 0);
    CHECK_EQ(hq_queue_record_step(q, &l, HQ_STEP_PENDING_POSTED, HQ_CHECK_NONE, NULL), 0);
    CHECK_EQ(hq_queue_retry(q, &l, 0, true, "x", HQ_STEP_NEW), 0);
    ev = lease(q, &l);
    REQUIRE(ev != NULL);
    CHECK_EQ(ev->step, HQ_STEP_CHECKED);
    CHECK_STR(ev->check_desc, "fine");
    hq_event_free(ev);
    hq_queue_close(q);
}

HQ_TEST(wait_wakes_on_enqueue_from_other_process)
{
    hq_queue *q = open_q(10);
    uint32_t seen = hq_queue_wake_seq(q);
    pid_t pid = fork();
    if (pid == 0) {
        usleep(100000);
        hq_queue *q2 = open_q(10);
        int rc = enq(q2, 1, 1, "wake", NULL);
        hq_queue_close(q2);
        _exit(rc == 0 ? 0 : 1);
    }
    int64_t t0 = hq_mono_ms();
    while (hq_queue_wake_seq(q) == seen && hq_mono_ms() - t0 < 5000)
        hq_queue_wait(q, seen, 5000);
    int64_t waited = hq_mono_ms() - t0;
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(hq_queue_wake_seq(q) != seen);
    CHECK(waited < 2000);
    CHECK_EQ(count_events(q), 1);
    hq_queue_close(q);
}

/* Several processes lease concurrently: never two holders of one repository,
 * and each repository's events are completed in FIFO order. */
HQ_TEST(exclusivity_and_order_across_processes)
{
    enum { REPOS = 8, PER = 40, PROCS = 4 };
    hq_queue *q = open_q(10);
    for (int i = 0; i < PER; i++) {
        for (int r = 1; r <= REPOS; r++) {
            char d[32];
            snprintf(d, sizeof(d), "%d-%04d", r, i);
            CHECK_EQ(enq(q, (uint64_t)r, 1, d, NULL), 0);
        }
    }
    hq_queue_close(q);
    struct shared {
        _Atomic int holders[REPOS + 1];
        _Atomic int violations;
        _Atomic int next_index[REPOS + 1];
        _Atomic int order_errors;
        _Atomic int done;
    } *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE(sh != MAP_FAILED);
    memset(sh, 0, sizeof(*sh));
    pid_t pids[PROCS];
    for (int p = 0; p < PROCS; p++) {
        pids[p] = fork();
        if (pids[p] == 0) {
            hq_queue *cq = open_q(10);
            while (atomic_load(&sh->done) < REPOS * PER) {
                struct hq_lease l;
                struct hq_event *ev = NULL;
                int64_t next;
                int rc = hq_queue_lease(cq, "p", 60000, &l, &ev, &next);
                if (rc == HQ_ENOTREADY) {
                    usleep(200);
                    continue;
                }
                if (rc != 0)
                    _exit(3);
                int r = (int)ev->repo_id;
                if (atomic_fetch_add(&sh->holders[r], 1) != 0)
                    atomic_fetch_add(&sh->violations, 1);
                int idx = (int)strtol(strchr(ev->delivery, '-') + 1, NULL, 10);
                if (idx != atomic_load(&sh->next_index[r]))
                    atomic_fetch_add(&sh->order_errors, 1);
                atomic_store(&sh->next_index[r], idx + 1);
                usleep(100);
                atomic_fetch_sub(&sh->holders[r], 1);
                hq_event_free(ev);
                if (hq_queue_complete(cq, &l) != 0)
                    _exit(4);
                atomic_fetch_add(&sh->done, 1);
            }
            hq_queue_close(cq);
            _exit(0);
        }
    }
    for (int p = 0; p < PROCS; p++) {
        int status;
        waitpid(pids[p], &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    CHECK_EQ(atomic_load(&sh->violations), 0);
    CHECK_EQ(atomic_load(&sh->order_errors), 0);
    CHECK_EQ(atomic_load(&sh->done), REPOS * PER);
    q = open_q(10);
    CHECK_EQ(count_events(q), 0);
    hq_queue_close(q);
}

int main(int argc, char **argv)
{
    return hqtest_main(argc, argv);
}
