/*
 * test_queue: the conformance suite of the queue contract (schema/design.md §2), one
 * case per line of it, written against queue.h alone and run once per
 * backend (queue_case.h). This program: enqueue and deduplication, FIFO per
 * repository, leases, retries and recorded steps. test_queue_shared.c has
 * dead letters, stats and the queue shared by threads and processes; what
 * only one backend has (LMDB's map, its files) is in test_queue_lmdb.c.
 */
#include "queue_case.h"

#include <sys/wait.h>
#include <unistd.h>

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

HQ_TEST(dedup_lookup_sees_exactly_the_pairs_enqueue_refuses)
{
    hq_queue *q = open_q(10);
    uint64_t id, found = 7;
    CHECK_EQ(hq_queue_dedup_lookup(q, 5, "guid-1", &found), HQ_ENOTFOUND);
    CHECK_EQ(found, 0);
    CHECK_EQ(enq(q, 1, 5, "guid-1", &id), 0);
    CHECK_EQ(hq_queue_dedup_lookup(q, 5, "guid-1", &found), 0);
    CHECK_EQ(found, id);
    /* the pair, not the GUID: another hook's delivery of the same event is new */
    CHECK_EQ(hq_queue_dedup_lookup(q, 6, "guid-1", &found), HQ_ENOTFOUND);
    CHECK_EQ(hq_queue_dedup_lookup(q, 0, "guid-1", &found), HQ_ENOTFOUND);
    /* a done event's pair is still known */
    struct hq_lease l;
    struct hq_event *ev = lease(q, &l);
    REQUIRE(ev != NULL);
    hq_event_free(ev);
    CHECK_EQ(hq_queue_complete(q, &l), 0);
    CHECK_EQ(hq_queue_dedup_lookup(q, 5, "guid-1", &found), 0);
    CHECK_EQ(found, id);
    hq_queue_close(q);
}

HQ_TEST(enqueue_note_starts_the_history)
{
    hq_queue *q = open_q(10);
    struct hq_enqueue it = {.hook_id = 1,
                            .delivery = "noted",
                            .event = "push",
                            .repo_id = 3,
                            .repo_name = "o/r",
                            .payload = "{}",
                            .payload_len = 2,
                            .note = "caught up from GitHub's delivery log"};
    CHECK_EQ(hq_queue_enqueue(q, &it, 1), 0);
    CHECK_EQ(it.result, 0);
    struct hq_lease l;
    struct hq_event *ev = lease(q, &l);
    REQUIRE(ev != NULL);
    CHECK(strstr(ev->history, "caught up from GitHub's delivery log") != NULL);
    hq_event_free(ev);
    hq_queue_close(q);
}

HQ_TEST(state_record_reads_zero_until_written)
{
    hq_queue *q = open_q(10);
    struct hq_queue_state st;
    memset(&st, 0xff, sizeof(st));
    CHECK_EQ(hq_queue_state_get(q, "catchup", &st), 0);
    CHECK_EQ(st.version, 0);
    CHECK_EQ(st.position_ms, 0);
    CHECK_EQ(st.value, 0);
    CHECK_EQ(st.claim_until_ms, 0);
    CHECK_STR(st.claimed_by, "");
    hq_queue_close(q);
}

HQ_TEST(state_cas_writes_only_on_the_expected_version_and_survives_reopen)
{
    hq_queue *q = open_q(10);
    struct hq_queue_state st = {.position_ms = 1234, .value = 99, .claim_until_ms = 5000};
    snprintf(st.claimed_by, sizeof(st.claimed_by), "host:1");
    uint64_t v = 0;
    CHECK_EQ(hq_queue_state_cas(q, "catchup", 1, &st, &v), HQ_ELEASELOST); /* not written yet */
    CHECK_EQ(hq_queue_state_cas(q, "catchup", 0, &st, &v), 0);
    CHECK_EQ(v, 1);
    /* a second claimant holding the old version loses, and changes nothing */
    struct hq_queue_state other = {.position_ms = 1, .claim_until_ms = 9000};
    snprintf(other.claimed_by, sizeof(other.claimed_by), "host:2");
    CHECK_EQ(hq_queue_state_cas(q, "catchup", 0, &other, NULL), HQ_ELEASELOST);
    hq_queue_close(q);
    q = open_q(10);
    struct hq_queue_state got;
    CHECK_EQ(hq_queue_state_get(q, "catchup", &got), 0);
    CHECK_EQ(got.version, 1);
    CHECK_EQ(got.position_ms, 1234);
    CHECK_EQ(got.value, 99);
    CHECK_EQ(got.claim_until_ms, 5000);
    CHECK_STR(got.claimed_by, "host:1");
    /* names are separate records */
    CHECK_EQ(hq_queue_state_get(q, "other", &got), 0);
    CHECK_EQ(got.version, 0);
    /* release: the holder of version 1 writes an empty claim */
    struct hq_queue_state rel = {.position_ms = 2000, .value = 99};
    CHECK_EQ(hq_queue_state_cas(q, "catchup", 1, &rel, &v), 0);
    CHECK_EQ(v, 2);
    CHECK_EQ(hq_queue_state_get(q, "catchup", &got), 0);
    CHECK_EQ(got.version, 2);
    CHECK_EQ(got.position_ms, 2000);
    CHECK_STR(got.claimed_by, "");
    CHECK_EQ(got.claim_until_ms, 0);
    hq_queue_close(q);
}

HQ_TEST(state_cas_has_one_winner_among_processes)
{
    hq_queue *q = open_q(10);
    hq_queue_close(q);
    enum { KIDS = 4 };
    pid_t kids[KIDS];
    for (int k = 0; k < KIDS; k++) {
        kids[k] = fork();
        REQUIRE(kids[k] >= 0);
        if (kids[k] == 0) {
            hq_queue *cq = open_q(10);
            struct hq_queue_state st = {.claim_until_ms = 1};
            snprintf(st.claimed_by, sizeof(st.claimed_by), "kid:%d", k);
            int wins = 0, rc = 0;
            struct hq_queue_state cur;
            while ((rc = hq_queue_state_get(cq, "race", &cur)) == 0 && cur.version < 50) {
                rc = hq_queue_state_cas(cq, "race", cur.version, &st, NULL);
                if (rc != 0 && rc != HQ_ELEASELOST)
                    break;
                wins += rc == 0;
            }
            if (rc != 0)
                _exit(101);
            hq_queue_close(cq);
            _exit(wins > 50 ? 100 : wins);
        }
    }
    int total = 0;
    for (int k = 0; k < KIDS; k++) {
        int status;
        REQUIRE(waitpid(kids[k], &status, 0) == kids[k]);
        REQUIRE(WIFEXITED(status));
        total += WEXITSTATUS(status);
    }
    CHECK_EQ(total, 50); /* each version won by exactly one process */
    q = open_q(10);
    struct hq_queue_state got;
    CHECK_EQ(hq_queue_state_get(q, "race", &got), 0);
    CHECK_EQ(got.version, 50);
    hq_queue_close(q);
}

int main(int argc, char **argv)
{
    return hqtest_main(argc, argv);
}
