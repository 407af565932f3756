/*
 * test_queue_import: the conformance suite of the queue contract, continued
 * (see test_queue.c, test_queue_shared.c): moving a queue to another backend
 * with hq_queue_foreach_dedup and hq_queue_import (hookqctl migrate,
 * schema/design.md §7). Written against queue.h alone and run once per
 * backend (queue_case.h).
 */
#include "queue_case.h"

/* An event as another queue's iterators would give it. */
static struct hq_event mkev(uint64_t id, uint64_t repo, const char *delivery)
{
    struct hq_event ev = {.id = id,
                          .repo_id = repo,
                          .hook_id = 7,
                          .installation_id = 99,
                          .received_at_ms = fake_now - 60000,
                          .repo_name = "owner/imported",
                          .delivery = (char *)delivery,
                          .event = "pull_request",
                          .action = "opened",
                          .check_desc = "",
                          .history = "[]",
                          .reason = "",
                          .payload = "{\"imported\":true}",
                          .payload_len = 17};
    return ev;
}

static struct hq_import item_ev(enum hq_import_kind kind, const struct hq_event *ev)
{
    return (struct hq_import){.kind = kind, .ev = ev};
}

static struct hq_import item_dedup(uint64_t hook, const char *delivery, int64_t at,
                                   uint64_t event_id)
{
    return (struct hq_import){.kind = HQ_IMPORT_DEDUP,
                              .hook_id = hook,
                              .delivery = delivery,
                              .at_ms = at,
                              .event_id = event_id};
}

struct collected {
    struct hq_event *ev[64];
    int n;
};

static char *dup_or_empty(const char *s)
{
    return strdup(s != NULL ? s : "");
}

/* A copy of an iterator's event (valid only during the call), with queue.h alone. */
static int collect_cb(const struct hq_event *ev, void *arg)
{
    struct collected *c = arg;
    if (c->n >= 64)
        return -ENOSPC;
    struct hq_event *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return -ENOMEM;
    *e = *ev;
    e->repo_name = dup_or_empty(ev->repo_name);
    e->delivery = dup_or_empty(ev->delivery);
    e->event = dup_or_empty(ev->event);
    e->action = dup_or_empty(ev->action);
    e->check_desc = dup_or_empty(ev->check_desc);
    e->history = dup_or_empty(ev->history);
    e->reason = dup_or_empty(ev->reason);
    e->payload = NULL;
    if (ev->payload != NULL && (e->payload = malloc(ev->payload_len + 1)) != NULL) {
        memcpy(e->payload, ev->payload, ev->payload_len);
        e->payload[ev->payload_len] = '\0';
    }
    c->ev[c->n++] = e;
    return 0;
}

static void collected_free(struct collected *c)
{
    for (int i = 0; i < c->n; i++)
        hq_event_free(c->ev[i]);
    c->n = 0;
}

/* Whether the backend stores check run ids (hq_queue_record_check_run is
 * optional until every backend has it): a lease that is not there is lost
 * where it is built, -ENOTSUP where it is not. */
static bool keeps_check_runs(hq_queue *q)
{
    struct hq_lease none = {.repo_id = 999999, .event_id = 1, .token = 1};
    return hq_queue_record_check_run(q, &none, 1) != -ENOTSUP;
}

HQ_TEST(import_keeps_fifo_order_ids_and_every_field)
{
    hq_clock_set_hook(fake_clock);
    hq_queue *q = open_q(10);
    /* Ids out of order within a repository, as a replay leaves them. */
    struct hq_event a = mkev(10, 1, "a10"), b = mkev(5, 1, "a5"), c = mkev(20, 1, "a20");
    struct hq_event d = mkev(12, 2, "b12");
    b.attempts = 3;
    b.step = HQ_STEP_CHECKED;
    b.check_state = HQ_CHECK_FAILURE;
    b.check_desc = "2 tests failed";
    b.history = "[{\"at\":1,\"step\":0,\"error\":\"HTTP 502\"}]";
    b.not_before_ms = fake_now - 1000;
    b.check_run_id = 4242;
    struct hq_import items[] = {item_ev(HQ_IMPORT_EVENT, &a), item_ev(HQ_IMPORT_EVENT, &b),
                                item_ev(HQ_IMPORT_EVENT, &c), item_ev(HQ_IMPORT_EVENT, &d)};
    CHECK_EQ(hq_queue_import(q, items, 4), 0);
    struct collected got = {0};
    CHECK_EQ(hq_queue_foreach_event(q, 1, true, collect_cb, &got), 0);
    REQUIRE(got.n == 3);
    CHECK_EQ(got.ev[0]->id, 10);
    CHECK_EQ(got.ev[1]->id, 5);
    CHECK_EQ(got.ev[2]->id, 20);
    const struct hq_event *e = got.ev[1];
    CHECK_STR(e->delivery, "a5");
    CHECK_EQ(e->attempts, 3);
    CHECK_EQ(e->step, HQ_STEP_CHECKED);
    CHECK_EQ(e->check_state, HQ_CHECK_FAILURE);
    CHECK_STR(e->check_desc, "2 tests failed");
    if (keeps_check_runs(q))
        CHECK_EQ(e->check_run_id, 4242);
    CHECK_STR(e->history, b.history);
    CHECK_EQ(e->received_at_ms, b.received_at_ms);
    CHECK_EQ(e->not_before_ms, b.not_before_ms);
    CHECK_EQ(e->hook_id, 7);
    CHECK_EQ(e->installation_id, 99);
    CHECK_STR(e->repo_name, "owner/imported");
    CHECK_STR(e->event, "pull_request");
    CHECK_STR(e->action, "opened");
    CHECK_STR(e->payload, "{\"imported\":true}");
    collected_free(&got);
    /* Leasing goes through repository 1 in the imported order. */
    const uint64_t want[] = {10, 5, 20};
    for (int i = 0; i < 3; i++) {
        struct hq_lease l;
        struct hq_event *ev = NULL;
        for (;;) {
            ev = lease(q, &l);
            REQUIRE(ev != NULL);
            if (ev->repo_id == 1)
                break;
            hq_event_free(ev);
            CHECK_EQ(hq_queue_retry(q, &l, fake_now + 3600000, false, NULL, HQ_STEP_NEW), 0);
        }
        CHECK_EQ(ev->id, want[i]);
        if (i == 1)
            CHECK_EQ(ev->attempts, 3);
        hq_event_free(ev);
        CHECK_EQ(hq_queue_complete(q, &l), 0);
    }
    hq_queue_close(q);
}

HQ_TEST(later_enqueues_get_larger_ids_than_imported)
{
    hq_clock_set_hook(fake_clock);
    hq_queue *q = open_q(10);
    struct hq_event a = mkev(500, 3, "x500"), dl = mkev(900, 4, "x900");
    dl.reason = "gave up";
    dl.dead_at_ms = fake_now;
    struct hq_import items[] = {item_ev(HQ_IMPORT_EVENT, &a), item_ev(HQ_IMPORT_DEAD, &dl),
                                item_dedup(7, "x1000", fake_now, 1000)};
    CHECK_EQ(hq_queue_import(q, items, 3), 0);
    uint64_t id = 0;
    CHECK_EQ(enq(q, 3, 1, "after", &id), 0);
    CHECK(id > 1000);
    /* Behind the imported head of the same repository. */
    struct hq_lease l;
    struct hq_event *ev = lease(q, &l);
    REQUIRE(ev != NULL);
    CHECK_EQ(ev->id, 500);
    hq_event_free(ev);
    hq_queue_close(q);
}

HQ_TEST(lease_after_import_honours_not_before)
{
    hq_clock_set_hook(fake_clock);
    hq_queue *q = open_q(10);
    struct hq_event a = mkev(3, 1, "later");
    a.attempts = 1;
    a.not_before_ms = fake_now + 5000;
    struct hq_import it = item_ev(HQ_IMPORT_EVENT, &a);
    CHECK_EQ(hq_queue_import(q, &it, 1), 0);
    struct hq_lease l;
    struct hq_event *ev = NULL;
    int64_t next = 0;
    CHECK_EQ(hq_queue_lease(q, "t", 60000, &l, &ev, &next), HQ_ENOTREADY);
    CHECK_EQ(next, a.not_before_ms);
    struct hq_queue_stats st;
    CHECK_EQ(hq_queue_stats(q, &st), 0);
    CHECK_EQ(st.waiting, 1);
    CHECK_EQ(st.leased, 0);
    fake_now += 5001;
    ev = lease(q, &l);
    REQUIRE(ev != NULL);
    CHECK_EQ(ev->id, 3);
    CHECK_EQ(ev->attempts, 1);
    hq_event_free(ev);
    CHECK_EQ(hq_queue_retry(q, &l, 0, true, "again", HQ_STEP_NEW), 0);
    ev = lease(q, &l);
    REQUIRE(ev != NULL);
    CHECK_EQ(ev->attempts, 2);
    hq_event_free(ev);
    hq_queue_close(q);
}

HQ_TEST(imported_dead_letters_are_listed_and_replayed)
{
    hq_clock_set_hook(fake_clock);
    hq_queue *q = open_q(10);
    struct hq_event d = mkev(40, 6, "dead40");
    d.attempts = 10;
    d.step = HQ_STEP_PENDING_POSTED;
    d.reason = "10 attempts failed";
    d.dead_at_ms = fake_now - 5000;
    struct hq_import it = item_ev(HQ_IMPORT_DEAD, &d);
    CHECK_EQ(hq_queue_import(q, &it, 1), 0);
    struct collected got = {0};
    CHECK_EQ(hq_queue_foreach_dead(q, false, collect_cb, &got), 0);
    CHECK_EQ(got.n, 1);
    collected_free(&got);
    struct hq_event *g = NULL;
    REQUIRE(hq_queue_get_dead(q, 40, true, &g) == 0);
    CHECK_STR(g->reason, "10 attempts failed");
    CHECK_EQ(g->dead_at_ms, d.dead_at_ms);
    CHECK_EQ(g->attempts, 10);
    CHECK_STR(g->payload, "{\"imported\":true}");
    hq_event_free(g);
    CHECK_EQ(count_events(q), 0);
    uint64_t nid = 0;
    CHECK_EQ(hq_queue_replay(q, 40, &nid), 0);
    struct hq_lease l;
    struct hq_event *ev = lease(q, &l);
    REQUIRE(ev != NULL);
    CHECK_STR(ev->delivery, "dead40");
    CHECK_EQ(ev->attempts, 0);
    CHECK_EQ(ev->step, HQ_STEP_NEW);
    hq_event_free(ev);
    hq_queue_close(q);
}

struct dedup_seen {
    int n;
    uint64_t hook;
    char delivery[HQ_MAX_DELIVERY_LEN + 1];
    int64_t at;
    uint64_t id;
};

static int dedup_cb(uint64_t hook_id, const char *delivery, int64_t at_ms, uint64_t event_id,
                    void *arg)
{
    struct dedup_seen *s = arg;
    s->n++;
    s->hook = hook_id;
    snprintf(s->delivery, sizeof(s->delivery), "%s", delivery);
    s->at = at_ms;
    s->id = event_id;
    return 0;
}

HQ_TEST(imported_dedup_pair_makes_the_delivery_a_duplicate)
{
    hq_clock_set_hook(fake_clock);
    hq_queue *q = open_q(10);
    struct hq_import it = item_dedup(3, "seen-before", fake_now - 1000, 42);
    CHECK_EQ(hq_queue_import(q, &it, 1), 0);
    uint64_t id = 0;
    CHECK_EQ(enq(q, 1, 3, "seen-before", &id), HQ_EDUPLICATE);
    CHECK_EQ(id, 42);
    CHECK_EQ(hq_queue_dedup_lookup(q, 3, "seen-before", &id), 0);
    CHECK_EQ(hq_queue_dedup_lookup(q, 4, "seen-before", NULL), HQ_ENOTFOUND);
    CHECK_EQ(count_events(q), 0);
    struct dedup_seen s = {0};
    CHECK_EQ(hq_queue_foreach_dedup(q, dedup_cb, &s), 0);
    CHECK_EQ(s.n, 1);
    CHECK_EQ(s.hook, 3);
    CHECK_STR(s.delivery, "seen-before");
    CHECK_EQ(s.at, fake_now - 1000);
    CHECK_EQ(s.id, 42);
    hq_queue_close(q);
}

HQ_TEST(imported_counters_add_to_the_stats)
{
    hq_queue *q = open_q(10);
    CHECK_EQ(enq(q, 1, 1, "here", NULL), 0);
    struct hq_import it = {.kind = HQ_IMPORT_COUNTERS,
                           .enqueued_total = 10,
                           .duplicates_total = 2,
                           .done_total = 5,
                           .dead_total = 3};
    CHECK_EQ(hq_queue_import(q, &it, 1), 0);
    struct hq_queue_stats st;
    CHECK_EQ(hq_queue_stats(q, &st), 0);
    CHECK_EQ(st.enqueued_total, 11);
    CHECK_EQ(st.duplicates_total, 2);
    CHECK_EQ(st.done_total, 5);
    CHECK_EQ(st.dead_total, 3);
    CHECK_EQ(st.queued, 1);
    hq_queue_close(q);
}

/* What a refused batch must not have changed. */
static void check_unchanged(hq_queue *q, uint64_t queued, uint64_t dead, uint64_t enqueued_total)
{
    struct hq_queue_stats st;
    CHECK_EQ(hq_queue_stats(q, &st), 0);
    CHECK_EQ(st.queued, queued);
    CHECK_EQ(st.dead, dead);
    CHECK_EQ(st.enqueued_total, enqueued_total);
    CHECK_EQ(hq_queue_dedup_lookup(q, 9, "new-pair", NULL), HQ_ENOTFOUND);
}

HQ_TEST(present_id_or_pair_is_a_duplicate_and_nothing_is_stored)
{
    hq_clock_set_hook(fake_clock);
    hq_queue *q = open_q(10);
    struct hq_event a = mkev(5, 1, "a5"), dl = mkev(8, 2, "d8");
    dl.reason = "x";
    struct hq_import first[] = {item_ev(HQ_IMPORT_EVENT, &a), item_ev(HQ_IMPORT_DEAD, &dl),
                                item_dedup(9, "old-pair", fake_now, 5)};
    CHECK_EQ(hq_queue_import(q, first, 3), 0);
    struct hq_event fresh = mkev(6, 3, "a6"), same_ev = mkev(5, 4, "other"),
                    same_dead = mkev(8, 4, "other2"), dead_of_queued = mkev(5, 4, "other3");
    struct hq_import counters = {.kind = HQ_IMPORT_COUNTERS, .enqueued_total = 100};
    struct hq_import newpair = item_dedup(9, "new-pair", fake_now, 6);
    /* Each batch: something new, then one thing already present. */
    struct hq_import b1[] = {item_ev(HQ_IMPORT_EVENT, &fresh), newpair, counters,
                             item_ev(HQ_IMPORT_EVENT, &same_ev)};
    struct hq_import b2[] = {item_ev(HQ_IMPORT_EVENT, &fresh), newpair,
                             item_ev(HQ_IMPORT_DEAD, &same_dead)};
    struct hq_import b3[] = {item_ev(HQ_IMPORT_EVENT, &fresh), newpair,
                             item_ev(HQ_IMPORT_DEAD, &dead_of_queued)};
    struct hq_import b4[] = {item_ev(HQ_IMPORT_EVENT, &fresh), newpair, counters,
                             item_dedup(9, "old-pair", fake_now, 7)};
    struct hq_import b5[] = {item_ev(HQ_IMPORT_EVENT, &fresh), newpair, counters,
                             item_ev(HQ_IMPORT_EVENT, &fresh)};
    struct hq_import b6[] = {newpair, newpair};
    CHECK_EQ(hq_queue_import(q, b1, 4), HQ_EDUPLICATE);
    check_unchanged(q, 1, 1, 0);
    CHECK_EQ(hq_queue_import(q, b2, 3), HQ_EDUPLICATE);
    check_unchanged(q, 1, 1, 0);
    CHECK_EQ(hq_queue_import(q, b3, 3), HQ_EDUPLICATE);
    check_unchanged(q, 1, 1, 0);
    CHECK_EQ(hq_queue_import(q, b4, 4), HQ_EDUPLICATE);
    check_unchanged(q, 1, 1, 0);
    CHECK_EQ(hq_queue_import(q, b5, 4), HQ_EDUPLICATE);
    check_unchanged(q, 1, 1, 0);
    CHECK_EQ(hq_queue_import(q, b6, 2), HQ_EDUPLICATE);
    check_unchanged(q, 1, 1, 0);
    struct hq_event *g = NULL;
    CHECK_EQ(hq_queue_get_dead(q, 5, false, &g), HQ_ENOTFOUND);
    /* The queue still works, and the fresh batch goes in alone. */
    struct hq_import ok[] = {item_ev(HQ_IMPORT_EVENT, &fresh), newpair};
    CHECK_EQ(hq_queue_import(q, ok, 2), 0);
    struct hq_queue_stats st;
    CHECK_EQ(hq_queue_stats(q, &st), 0);
    CHECK_EQ(st.queued, 2);
    CHECK_EQ(hq_queue_dedup_lookup(q, 9, "new-pair", NULL), 0);
    hq_queue_close(q);
}

HQ_TEST(bad_import_items_are_refused_before_anything_is_stored)
{
    hq_queue *q = open_q(10);
    static char reason[HQ_MAX_REASON_LEN + 10];
    memset(reason, 'r', sizeof(reason) - 1);
    static char delivery[HQ_MAX_DELIVERY_LEN + 2];
    memset(delivery, 'd', sizeof(delivery) - 1);
    struct hq_event good = mkev(1, 1, "good");
    struct hq_event no_id = mkev(0, 1, "x"), no_repo = mkev(2, 0, "x"), no_del = mkev(3, 1, "");
    struct hq_event no_payload = mkev(4, 1, "x"), bad_step = mkev(5, 1, "x");
    struct hq_event bad_state = mkev(6, 1, "x"), long_reason = mkev(7, 1, "x");
    struct hq_event long_del = mkev(8, 1, delivery);
    no_payload.payload = NULL;
    bad_step.step = 9;
    bad_state.check_state = 7;
    long_reason.reason = reason;
    struct {
        struct hq_import bad;
        int want;
    } cases[] = {
        {{.kind = 0, .ev = &good}, -EINVAL},
        {{.kind = 99, .ev = &good}, -EINVAL},
        {{.kind = HQ_IMPORT_EVENT, .ev = NULL}, -EINVAL},
        {item_ev(HQ_IMPORT_EVENT, &no_id), -EINVAL},
        {item_ev(HQ_IMPORT_DEAD, &no_repo), -EINVAL},
        {item_ev(HQ_IMPORT_EVENT, &no_del), -EINVAL},
        {item_ev(HQ_IMPORT_EVENT, &no_payload), -EINVAL},
        {item_ev(HQ_IMPORT_EVENT, &bad_step), -EINVAL},
        {item_ev(HQ_IMPORT_DEAD, &bad_state), -EINVAL},
        {item_ev(HQ_IMPORT_DEAD, &long_reason), HQ_ETOOBIG},
        {item_ev(HQ_IMPORT_EVENT, &long_del), HQ_ETOOBIG},
        {item_dedup(1, "", 1, 1), -EINVAL},
        {item_dedup(1, NULL, 1, 1), -EINVAL},
        {item_dedup(1, "p", 1, 0), -EINVAL},
        {item_dedup(1, delivery, 1, 1), HQ_ETOOBIG},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct hq_import batch[] = {item_ev(HQ_IMPORT_EVENT, &good), cases[i].bad};
        int rc = hq_queue_import(q, batch, 2);
        if (rc != cases[i].want)
            fprintf(stderr, "  case %zu: %s\n", i, hq_strerror(rc));
        CHECK_EQ(rc, cases[i].want);
    }
    CHECK_EQ(hq_queue_import(q, NULL, 0), 0);
    CHECK_EQ(hq_queue_import(q, NULL, 1), -EINVAL);
    CHECK_EQ(count_events(q), 0);
    hq_queue_close(q);
}

/* Every field the queue stores, and the payload when both have one. */
static void check_same_event(const struct hq_event *a, const struct hq_event *b)
{
    CHECK_EQ(a->id, b->id);
    CHECK_EQ(a->repo_id, b->repo_id);
    CHECK_EQ(a->hook_id, b->hook_id);
    CHECK_EQ(a->installation_id, b->installation_id);
    CHECK_EQ(a->received_at_ms, b->received_at_ms);
    CHECK_EQ(a->not_before_ms, b->not_before_ms);
    CHECK_EQ(a->dead_at_ms, b->dead_at_ms);
    CHECK_EQ(a->attempts, b->attempts);
    CHECK_EQ(a->step, b->step);
    CHECK_EQ(a->check_state, b->check_state);
    CHECK_EQ(a->check_run_id, b->check_run_id);
    CHECK_STR(a->repo_name, b->repo_name);
    CHECK_STR(a->delivery, b->delivery);
    CHECK_STR(a->event, b->event);
    CHECK_STR(a->action, b->action);
    CHECK_STR(a->check_desc, b->check_desc);
    CHECK_STR(a->history, b->history);
    CHECK_STR(a->reason, b->reason);
    CHECK_EQ(a->payload_len, b->payload_len);
    CHECK(a->payload_len == 0 || memcmp(a->payload, b->payload, a->payload_len) == 0);
}

struct pairs {
    struct {
        uint64_t hook, id;
        int64_t at;
        char delivery[HQ_MAX_DELIVERY_LEN + 1];
    } p[64];
    int n;
};

static int pairs_cb(uint64_t hook_id, const char *delivery, int64_t at_ms, uint64_t event_id,
                    void *arg)
{
    struct pairs *ps = arg;
    if (ps->n >= 64)
        return -ENOSPC;
    ps->p[ps->n].hook = hook_id;
    ps->p[ps->n].id = event_id;
    ps->p[ps->n].at = at_ms;
    snprintf(ps->p[ps->n].delivery, sizeof(ps->p[0].delivery), "%s", delivery);
    ps->n++;
    return 0;
}

/* Leases the next ready head (any repository). */
static struct hq_event *next_head(hq_queue *q, struct hq_lease *l)
{
    struct hq_event *ev = lease(q, l);
    REQUIRE(ev != NULL);
    return ev;
}

/* A populated queue: queued events in three repositories, a head retried
 * after a recorded step, dead letters, a replayed one (its id now out of
 * order in its FIFO), a done event, a duplicate and a head left leased
 * (a killed worker). */
static void populate(hq_queue *q)
{
    char d[32];
    for (int i = 0; i < 4; i++) {
        for (uint64_t r = 1; r <= 3; r++) {
            snprintf(d, sizeof(d), "r%llu-%d", (unsigned long long)r, i);
            CHECK_EQ(enq(q, r, 100 + r, d, NULL), 0);
        }
    }
    CHECK_EQ(enq(q, 1, 101, "r1-0", NULL), HQ_EDUPLICATE);
    fake_now += 1000;
    struct hq_lease l;
    struct hq_event *ev = next_head(q, &l);
    hq_event_free(ev);
    CHECK_EQ(hq_queue_record_step(q, &l, HQ_STEP_CHECKED, HQ_CHECK_SUCCESS, "all good"), 0);
    if (keeps_check_runs(q))
        CHECK_EQ(hq_queue_record_check_run(q, &l, 777), 0);
    CHECK_EQ(hq_queue_retry(q, &l, fake_now + 60000, true, "HTTP 502", HQ_STEP_CHECKED), 0);
    ev = next_head(q, &l);
    hq_event_free(ev);
    CHECK_EQ(hq_queue_dead_letter(q, &l, "HTTP 422"), 0);
    ev = next_head(q, &l);
    uint64_t replayed = ev->id;
    hq_event_free(ev);
    CHECK_EQ(hq_queue_dead_letter(q, &l, "to be replayed"), 0);
    CHECK_EQ(hq_queue_replay(q, replayed, NULL), 0);
    ev = next_head(q, &l);
    hq_event_free(ev);
    CHECK_EQ(hq_queue_complete(q, &l), 0);
    ev = next_head(q, &l); /* left leased */
    hq_event_free(ev);
}

HQ_TEST(round_trip_through_the_iterators_compares_equal)
{
    hq_clock_set_hook(fake_clock);
    hq_queue *src = open_q(10);
    populate(src);
    struct hq_queue_opts o;
    case_opts_second(&o);
    hq_queue *dst = NULL;
    REQUIRE(hq_queue_open(&o, &dst) == 0);

    struct collected evs = {0}, dead = {0};
    struct pairs pairs = {0};
    struct hq_queue_stats s1;
    CHECK_EQ(hq_queue_foreach_event(src, 0, true, collect_cb, &evs), 0);
    CHECK_EQ(hq_queue_foreach_dead(src, true, collect_cb, &dead), 0);
    CHECK_EQ(hq_queue_foreach_dedup(src, pairs_cb, &pairs), 0);
    CHECK_EQ(hq_queue_stats(src, &s1), 0);
    CHECK_EQ(evs.n, 10);
    CHECK_EQ(dead.n, 1);
    CHECK_EQ(pairs.n, 12);
    CHECK_EQ(s1.leased, 1);

    /* In batches of three, as hookqctl migrate does in larger ones. */
    struct hq_import items[128];
    size_t n = 0;
    for (int i = 0; i < evs.n; i++)
        items[n++] = item_ev(HQ_IMPORT_EVENT, evs.ev[i]);
    for (int i = 0; i < dead.n; i++)
        items[n++] = item_ev(HQ_IMPORT_DEAD, dead.ev[i]);
    for (int i = 0; i < pairs.n; i++)
        items[n++] = item_dedup(pairs.p[i].hook, pairs.p[i].delivery, pairs.p[i].at, pairs.p[i].id);
    items[n++] = (struct hq_import){.kind = HQ_IMPORT_COUNTERS,
                                    .enqueued_total = s1.enqueued_total,
                                    .duplicates_total = s1.duplicates_total,
                                    .done_total = s1.done_total,
                                    .dead_total = s1.dead_total};
    for (size_t i = 0; i < n; i += 3)
        CHECK_EQ(hq_queue_import(dst, items + i, n - i < 3 ? n - i : 3), 0);

    struct collected evs2 = {0}, dead2 = {0};
    struct pairs pairs2 = {0};
    struct hq_queue_stats s2;
    CHECK_EQ(hq_queue_foreach_event(dst, 0, true, collect_cb, &evs2), 0);
    CHECK_EQ(hq_queue_foreach_dead(dst, true, collect_cb, &dead2), 0);
    CHECK_EQ(hq_queue_foreach_dedup(dst, pairs_cb, &pairs2), 0);
    CHECK_EQ(hq_queue_stats(dst, &s2), 0);
    REQUIRE(evs2.n == evs.n && dead2.n == dead.n && pairs2.n == pairs.n);
    for (int i = 0; i < evs.n; i++)
        check_same_event(evs.ev[i], evs2.ev[i]);
    for (int i = 0; i < dead.n; i++)
        check_same_event(dead.ev[i], dead2.ev[i]);
    for (int i = 0; i < pairs.n; i++) {
        uint64_t id = 0;
        CHECK_EQ(hq_queue_dedup_lookup(dst, pairs.p[i].hook, pairs.p[i].delivery, &id), 0);
        CHECK_EQ(id, pairs.p[i].id);
    }
    CHECK_EQ(s2.queued, s1.queued);
    CHECK_EQ(s2.repositories, s1.repositories);
    CHECK_EQ(s2.dead, s1.dead);
    CHECK_EQ(s2.leased, 0); /* copied unleased */
    CHECK_EQ(s2.enqueued_total, s1.enqueued_total);
    CHECK_EQ(s2.duplicates_total, s1.duplicates_total);
    CHECK_EQ(s2.done_total, s1.done_total);
    CHECK_EQ(s2.dead_total, s1.dead_total);
    /* The target drains every repository in the source's FIFO order. */
    fake_now += 120000;
    for (int drained = 0; drained < evs.n; drained++) {
        struct hq_lease l;
        struct hq_event *ev = next_head(dst, &l);
        int want = -1;
        for (int i = 0; i < evs.n && want < 0; i++)
            if (evs.ev[i] != NULL && evs.ev[i]->repo_id == ev->repo_id)
                want = i;
        REQUIRE(want >= 0);
        CHECK_EQ(ev->id, evs.ev[want]->id);
        hq_event_free(evs.ev[want]);
        evs.ev[want] = NULL;
        hq_event_free(ev);
        CHECK_EQ(hq_queue_complete(dst, &l), 0);
    }
    collected_free(&evs);
    collected_free(&dead);
    collected_free(&evs2);
    collected_free(&dead2);
    hq_queue_close(dst);
    hq_queue_close(src);
}

int main(int argc, char **argv)
{
    return hqtest_main(argc, argv);
}
