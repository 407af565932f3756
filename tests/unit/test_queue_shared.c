/*
 * test_queue_shared: the conformance suite of the queue contract (schema/design.md
 * §2), continued (see test_queue.c): dead letters, replay, purge and import;
 * stats; commits that fail or are shared by threads; read-only handles;
 * wake-ups and exclusivity across processes. Written against queue.h alone
 * and run once per backend (queue_case.h).
 */
#include "queue_case.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>

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

HQ_TEST(check_run_id_recorded_is_kept_by_retry_and_reopen)
{
    hq_queue *q = open_q(10);
    CHECK_EQ(enq(q, 1, 1, "cr1", NULL), 0);
    struct hq_lease l;
    struct hq_event *ev = lease(q, &l);
    REQUIRE(ev != NULL);
    CHECK_EQ(ev->check_run_id, 0);
    hq_event_free(ev);
    CHECK_EQ(hq_queue_record_check_run(q, &l, 0), -EINVAL);
    CHECK_EQ(hq_queue_record_check_run(q, &l, 4200000001ull), 0);
    CHECK_EQ(hq_queue_retry(q, &l, 0, true, "HTTP 502", HQ_STEP_PENDING_POSTED), 0);
    hq_queue_close(q);
    q = open_q(10);
    ev = lease(q, &l);
    REQUIRE(ev != NULL);
    CHECK_STR(ev->delivery, "cr1");
    CHECK_EQ(ev->check_run_id, 4200000001ull);
    CHECK_EQ(ev->attempts, 1);
    hq_event_free(ev);
    /* a second record replaces the first (a run found by its external_id) */
    CHECK_EQ(hq_queue_record_check_run(q, &l, 7), 0);
    CHECK_EQ(hq_queue_retry(q, &l, 0, false, "wait", HQ_STEP_PENDING_POSTED), 0);
    ev = lease(q, &l);
    REQUIRE(ev != NULL);
    CHECK_EQ(ev->check_run_id, 7);
    hq_event_free(ev);
    hq_queue_close(q);
}

HQ_TEST(check_run_id_record_on_a_lost_lease_is_refused)
{
    hq_clock_set_hook(fake_clock);
    hq_queue *q = open_q(10);
    CHECK_EQ(enq(q, 1, 1, "cr2", NULL), 0);
    struct hq_lease l1, l2;
    struct hq_event *ev = NULL;
    int64_t next;
    REQUIRE(hq_queue_lease(q, "slow", 1000, &l1, &ev, &next) == 0);
    hq_event_free(ev);
    fake_now += 1001;
    REQUIRE(hq_queue_lease(q, "w2", 1000, &l2, &ev, &next) == 0);
    hq_event_free(ev);
    CHECK_EQ(hq_queue_record_check_run(q, &l1, 99), HQ_ELEASELOST);
    CHECK_EQ(hq_queue_retry(q, &l2, 0, false, "wait", HQ_STEP_NEW), 0);
    REQUIRE(hq_queue_lease(q, "w3", 1000, &l2, &ev, &next) == 0);
    CHECK_EQ(ev->check_run_id, 0); /* the stale worker's record did not land */
    hq_event_free(ev);
    hq_queue_close(q);
    hq_clock_set_hook(NULL);
}

HQ_TEST(check_run_id_dead_letter_keeps_it_and_replay_clears_it)
{
    hq_queue *q = open_q(10);
    uint64_t id;
    CHECK_EQ(enq(q, 1, 1, "cr3", &id), 0);
    struct hq_lease l;
    struct hq_event *ev = lease(q, &l);
    REQUIRE(ev != NULL);
    hq_event_free(ev);
    CHECK_EQ(hq_queue_record_check_run(q, &l, 31337), 0);
    CHECK_EQ(hq_queue_dead_letter(q, &l, "HTTP 422: Validation Failed"), 0);
    struct hq_event *d = NULL;
    REQUIRE(hq_queue_get_dead(q, id, false, &d) == 0);
    CHECK_EQ(d->check_run_id, 31337);
    hq_event_free(d);
    CHECK_EQ(hq_queue_replay(q, id, NULL), 0);
    ev = lease(q, &l);
    REQUIRE(ev != NULL);
    CHECK_STR(ev->delivery, "cr3");
    CHECK_EQ(ev->check_run_id, 0); /* a replay makes a new run */
    hq_event_free(ev);
    hq_queue_close(q);
}

HQ_TEST(check_run_id_import_dead_keeps_it)
{
    hq_queue *q = open_q(10);
    struct hq_event in = {.repo_id = 4,
                          .hook_id = 2,
                          .received_at_ms = 1234,
                          .repo_name = "o/r",
                          .delivery = "imp-cr",
                          .event = "push",
                          .action = "",
                          .check_desc = "",
                          .history = "[]",
                          .reason = "from elsewhere",
                          .payload = "{}",
                          .payload_len = 2,
                          .check_run_id = 555,
                          .dead_at_ms = 5678};
    uint64_t id;
    CHECK_EQ(hq_queue_import_dead(q, &in, &id), 0);
    struct hq_event *d;
    REQUIRE(hq_queue_get_dead(q, id, false, &d) == 0);
    CHECK_EQ(d->check_run_id, 555);
    hq_event_free(d);
    hq_queue_close(q);
}

int main(int argc, char **argv)
{
    return hqtest_main(argc, argv);
}
