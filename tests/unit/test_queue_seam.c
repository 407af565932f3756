/*
 * test_queue_seam: common/queue.c, the seam between queue.h and its
 * backends. The choice of backend by name (a directory is LMDB; postgresql://
 * and postgres:// are PostgreSQL; another scheme is refused), and the
 * checks queue.c makes once for every backend: a recording fake backend
 * shows that a bad call never reaches it and a good one arrives unchanged.
 */
#include "hqtest.h"
#include "queue_backend.h"

/* ---- a fake backend that records what reaches it ---------------------- */

static struct {
    int calls;           /* calls of any operation but open/close */
    const char *last;    /* name of the last one */
    int enqueue_rc;      /* what enqueue returns */
    size_t enqueue_seen; /* items whose result was 0 on entry */
    char desc[HQ_MAX_DESC_LEN + 64];
    char reason[HQ_MAX_REASON_LEN + 64];
    char error[HQ_MAX_REASON_LEN + 64];
    char owner[HQ_MAX_OWNER_LEN + 64];
} fake;
static int fake_handle;

#define RECORD(name) (fake.calls++, fake.last = (name))

static bool fk_accepts(const char *db)
{
    (void)db;
    return true;
}
static int fk_open(const struct hq_queue_opts *o, void **h)
{
    (void)o;
    *h = &fake_handle;
    return 0;
}
static void fk_close(void *h)
{
    CHECK(h == &fake_handle);
}
static int fk_enqueue(void *h, struct hq_enqueue *items, size_t n)
{
    (void)h;
    RECORD("enqueue");
    fake.enqueue_seen = 0;
    for (size_t i = 0; i < n; i++) {
        if (items[i].result == 0) {
            fake.enqueue_seen++;
            items[i].id = 100 + i;
        }
    }
    return fake.enqueue_rc;
}
static int fk_lease(void *h, const char *owner, int64_t lease_ms, struct hq_lease *lease,
                    struct hq_event **ev, int64_t *next_ready_ms)
{
    (void)h, (void)lease_ms, (void)lease, (void)ev, (void)next_ready_ms;
    RECORD("lease");
    snprintf(fake.owner, sizeof(fake.owner), "%s", owner);
    return HQ_ENOTREADY;
}
static int fk_renew(void *h, struct hq_lease *lease, int64_t lease_ms)
{
    (void)h, (void)lease, (void)lease_ms;
    RECORD("renew");
    return 0;
}
static int fk_record_step(void *h, const struct hq_lease *lease, enum hq_step step,
                          enum hq_check_state check_state, const char *check_desc)
{
    (void)h, (void)lease, (void)step, (void)check_state;
    RECORD("record_step");
    snprintf(fake.desc, sizeof(fake.desc), "%s", check_desc);
    return 0;
}
static int fk_complete(void *h, const struct hq_lease *lease)
{
    (void)h, (void)lease;
    RECORD("complete");
    return 0;
}
static int fk_retry(void *h, const struct hq_lease *lease, int64_t not_before_ms,
                    bool count_attempt, const char *error, enum hq_step reached)
{
    (void)h, (void)lease, (void)not_before_ms, (void)count_attempt, (void)reached;
    RECORD("retry");
    snprintf(fake.error, sizeof(fake.error), "%s", error);
    return 0;
}
static int fk_dead_letter(void *h, const struct hq_lease *lease, const char *reason)
{
    (void)h, (void)lease;
    RECORD("dead_letter");
    snprintf(fake.reason, sizeof(fake.reason), "%s", reason);
    return 0;
}
static int fk_get_dead(void *h, uint64_t id, bool with_payload, struct hq_event **ev)
{
    (void)h, (void)id, (void)with_payload, (void)ev;
    RECORD("get_dead");
    return HQ_ENOTFOUND;
}
static int fk_replay(void *h, uint64_t id, uint64_t *new_id)
{
    (void)h, (void)id, (void)new_id;
    RECORD("replay");
    return 0;
}
static int fk_purge(void *h, uint64_t id)
{
    (void)h, (void)id;
    RECORD("purge");
    return 0;
}
static int fk_import_dead(void *h, const struct hq_event *ev, uint64_t *new_id)
{
    (void)h, (void)ev, (void)new_id;
    RECORD("import_dead");
    return 0;
}
static int fk_dedup_lookup(void *h, uint64_t hook_id, const char *delivery, uint64_t *id)
{
    (void)h, (void)hook_id, (void)delivery;
    RECORD("dedup_lookup");
    *id = 9;
    return 0;
}
static int fk_state_get(void *h, const char *name, struct hq_queue_state *st)
{
    (void)h, (void)name, (void)st;
    RECORD("state_get");
    return 0;
}
static int fk_state_cas(void *h, const char *name, uint64_t expect_version,
                        const struct hq_queue_state *st, uint64_t *new_version)
{
    (void)h, (void)name, (void)st;
    RECORD("state_cas");
    *new_version = expect_version + 1;
    return 0;
}
static int fk_foreach_event(void *h, uint64_t repo_id, bool with_payload, hq_queue_iter_fn fn,
                            void *arg)
{
    (void)h, (void)repo_id, (void)with_payload, (void)fn, (void)arg;
    RECORD("foreach_event");
    return 0;
}
static int fk_foreach_dead(void *h, bool with_payload, hq_queue_iter_fn fn, void *arg)
{
    (void)h, (void)with_payload, (void)fn, (void)arg;
    RECORD("foreach_dead");
    return 0;
}
static int fk_stats(void *h, struct hq_queue_stats *st)
{
    (void)h;
    RECORD("stats");
    st->queued = 7;
    return 0;
}
static void fk_commit_stats(void *h, struct hq_queue_commit_stats *st)
{
    (void)h;
    RECORD("commit_stats");
    st->commits = 3;
}
static uint32_t fk_wake_seq(void *h)
{
    (void)h;
    RECORD("wake_seq");
    return 42;
}
static void fk_wait(void *h, uint32_t seen, int64_t timeout_ms)
{
    (void)h, (void)seen, (void)timeout_ms;
    RECORD("wait");
}
static void fk_set_commit_hook(void *h, int (*hook)(void *arg), void *arg)
{
    (void)h, (void)hook, (void)arg;
    RECORD("set_commit_hook");
}

static const struct hq_queue_backend fake_backend = {
    .name = "fake",
    .accepts = fk_accepts,
    .open = fk_open,
    .close = fk_close,
    .enqueue = fk_enqueue,
    .lease = fk_lease,
    .renew = fk_renew,
    .record_step = fk_record_step,
    .complete = fk_complete,
    .retry = fk_retry,
    .dead_letter = fk_dead_letter,
    .get_dead = fk_get_dead,
    .replay = fk_replay,
    .purge = fk_purge,
    .import_dead = fk_import_dead,
    .dedup_lookup = fk_dedup_lookup,
    .state_get = fk_state_get,
    .state_cas = fk_state_cas,
    .foreach_event = fk_foreach_event,
    .foreach_dead = fk_foreach_dead,
    .stats = fk_stats,
    .commit_stats = fk_commit_stats,
    .wake_seq = fk_wake_seq,
    .wait = fk_wait,
    .set_commit_hook = fk_set_commit_hook,
};

static hq_queue *open_fake(void)
{
    struct hq_queue_opts o;
    hq_queue_opts_default(&o);
    o.db = "fake://anything";
    hq_queue *q = NULL;
    REQUIRE(hq_queue_open_backend(&fake_backend, &o, &q) == 0);
    memset(&fake, 0, sizeof(fake));
    return q;
}

static int walk_cb(const struct hq_event *ev, void *arg)
{
    (void)ev, (void)arg;
    return 0;
}

static int hook_cb(void *arg)
{
    (void)arg;
    return 0;
}

/* ---- choosing the backend ----------------------------------------------- */

HQ_TEST(postgres_uris_go_to_postgresql)
{
    static const char *const uris[] = {"postgresql://alice:s3cret@db.example/hookq",
                                       "postgres://db.example/hookq", "POSTGRESQL://h/db",
                                       "Postgres://h/db"};
    for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
        const char *why = "unset";
        CHECK_EQ(hq_queue_check_db(uris[i], &why), 0);
        CHECK(why == NULL);
    }
}

HQ_TEST(malformed_postgres_uri_is_refused_before_any_connection)
{
    struct hq_queue_opts o;
    hq_queue_opts_default(&o);
    o.db = "postgresql://[::1/hookq"; /* libpq's parser refuses it */
    hq_queue *q = NULL;
    CHECK_EQ(hq_queue_open(&o, &q), HQ_ECONFIG);
    CHECK(q == NULL);
}

HQ_TEST(other_schemes_and_empty_names_are_refused)
{
    static const char *const bad[] = {"foo://x", "mysql://h/db", "s3+http://bucket/q", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *why = NULL;
        CHECK_EQ(hq_queue_check_db(bad[i], &why), HQ_ECONFIG);
        CHECK(why != NULL && why[0] != '\0');
        if (bad[i][0] != '\0')
            CHECK(strstr(why, "unknown scheme") != NULL);
        struct hq_queue_opts o;
        hq_queue_opts_default(&o);
        o.db = bad[i];
        hq_queue *q = NULL;
        CHECK_EQ(hq_queue_open(&o, &q), HQ_ECONFIG);
    }
    CHECK_EQ(hq_queue_check_db(NULL, NULL), HQ_ECONFIG);
}

HQ_TEST(directories_go_to_lmdb)
{
    static const char *const dirs[] = {"/var/lib/hookq", "relative/dir", "db", "/srv/a://b"};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
        CHECK_EQ(hq_queue_check_db(dirs[i], NULL), 0);
    struct hq_queue_opts o;
    hq_queue_opts_default(&o);
    CHECK_STR(o.db, HQ_DEFAULT_DB);
    CHECK_EQ(o.lmdb.map_size, HQ_DEFAULT_MAP_SIZE);
    o.db = hqtest_dir();
    hq_queue *q = NULL;
    REQUIRE(hq_queue_open(&o, &q) == 0);
    struct hq_queue_stats st;
    CHECK_EQ(hq_queue_stats(q, &st), 0);
    CHECK(st.has_map); /* the LMDB backend answered */
    hq_queue_close(q);
}

/* ---- checks before any backend runs ------------------------------------ */

HQ_TEST(bad_calls_never_reach_the_backend)
{
    hq_queue *q = open_fake();
    struct hq_lease l = {1, 1, 1, 0};
    struct hq_event *ev = NULL;
    int64_t next = 0;
    char long_owner[HQ_MAX_OWNER_LEN + 2];
    hqtest_repeat(long_owner, sizeof(long_owner), "o", HQ_MAX_OWNER_LEN + 1);
    struct hq_event no_repo = {.delivery = "d", .payload = "{}", .payload_len = 2};
    struct hq_event no_payload = {.repo_id = 1, .delivery = "d"};
    struct hq_event bad_step = {.repo_id = 1, .delivery = "d", .payload = "{}", .step = 9};
    struct hq_queue_stats st;
    uint64_t id;

    CHECK_EQ(hq_queue_lease(q, "w", 0, &l, &ev, &next), -EINVAL);
    CHECK_EQ(hq_queue_lease(q, "w", -5, &l, &ev, &next), -EINVAL);
    CHECK_EQ(hq_queue_lease(q, "w", 1000, NULL, &ev, &next), -EINVAL);
    CHECK_EQ(hq_queue_lease(q, "w", 1000, &l, NULL, &next), -EINVAL);
    CHECK_EQ(hq_queue_lease(q, long_owner, 1000, &l, &ev, &next), HQ_ETOOBIG);
    CHECK_EQ(hq_queue_renew(q, &l, 0), -EINVAL);
    CHECK_EQ(hq_queue_renew(q, NULL, 1000), -EINVAL);
    CHECK_EQ(hq_queue_record_step(q, &l, (enum hq_step)4, HQ_CHECK_NONE, NULL), -EINVAL);
    CHECK_EQ(hq_queue_record_step(q, &l, HQ_STEP_CHECKED, (enum hq_check_state)4, "x"), -EINVAL);
    CHECK_EQ(hq_queue_record_step(q, NULL, HQ_STEP_CHECKED, HQ_CHECK_SUCCESS, "x"), -EINVAL);
    CHECK_EQ(hq_queue_complete(q, NULL), -EINVAL);
    CHECK_EQ(hq_queue_retry(q, &l, 0, true, "x", (enum hq_step)7), -EINVAL);
    CHECK_EQ(hq_queue_retry(q, NULL, 0, true, "x", HQ_STEP_NEW), -EINVAL);
    CHECK_EQ(hq_queue_dead_letter(q, NULL, "x"), -EINVAL);
    CHECK_EQ(hq_queue_get_dead(q, 1, false, NULL), -EINVAL);
    CHECK_EQ(hq_queue_import_dead(q, NULL, &id), -EINVAL);
    CHECK_EQ(hq_queue_import_dead(q, &no_repo, &id), -EINVAL);
    CHECK_EQ(hq_queue_import_dead(q, &no_payload, &id), -EINVAL);
    CHECK_EQ(hq_queue_import_dead(q, &bad_step, &id), -EINVAL);
    CHECK_EQ(hq_queue_foreach_event(q, 0, false, NULL, NULL), -EINVAL);
    CHECK_EQ(hq_queue_foreach_dead(q, false, NULL, NULL), -EINVAL);
    CHECK_EQ(hq_queue_stats(q, NULL), -EINVAL);
    CHECK_EQ(hq_queue_enqueue(q, NULL, 1), -EINVAL);
    CHECK_EQ(fake.calls, 0);

    /* No handle: an error (or nothing, for the void calls), never a crash. */
    CHECK_EQ(hq_queue_enqueue(NULL, NULL, 1), -EINVAL);
    CHECK_EQ(hq_queue_lease(NULL, "w", 1000, &l, &ev, &next), -EINVAL);
    CHECK_EQ(hq_queue_replay(NULL, 1, NULL), -EINVAL);
    CHECK_EQ(hq_queue_purge(NULL, 1), -EINVAL);
    CHECK_EQ(hq_queue_stats(NULL, &st), -EINVAL);
    CHECK_EQ(hq_queue_wake_seq(NULL), 0);
    CHECK_EQ(hq_queue_enqueue_callers(NULL), 1u);
    CHECK_EQ(hq_queue_enqueue_callers(q), 1u); /* the fake backend leaves it unset */
    hq_queue_wait(NULL, 0, 10);
    hq_queue_wait(q, 0, 0); /* no time to wait: nothing to ask */
    hq_queue_set_commit_hook(NULL, hook_cb, NULL);
    hq_queue_close(NULL);
    CHECK_EQ(fake.calls, 0);
    hq_queue_close(q);
}

HQ_TEST(good_calls_reach_the_backend_once)
{
    hq_queue *q = open_fake();
    struct hq_lease l = {1, 1, 1, 0};
    struct hq_event *ev = NULL;
    int64_t next = 0;
    struct hq_event good = {.repo_id = 1, .delivery = "d", .payload = "{}", .payload_len = 2};
    struct hq_queue_stats st;
    struct hq_queue_commit_stats cs;
    uint64_t id;
    /* (The calls in this initializer run in no set order.) */
    struct {
        int rc, want;
        const char *name;
    } calls[] = {
        {hq_queue_lease(q, NULL, 1000, &l, &ev, &next), HQ_ENOTREADY, "lease"},
        {hq_queue_renew(q, &l, 1000), 0, "renew"},
        {hq_queue_record_step(q, &l, HQ_STEP_CHECKED, HQ_CHECK_SUCCESS, NULL), 0, "record_step"},
        {hq_queue_complete(q, &l), 0, "complete"},
        {hq_queue_retry(q, &l, 0, false, NULL, HQ_STEP_FINAL_POSTED), 0, "retry"},
        {hq_queue_dead_letter(q, &l, NULL), 0, "dead_letter"},
        {hq_queue_get_dead(q, 1, true, &ev), HQ_ENOTFOUND, "get_dead"},
        {hq_queue_replay(q, 1, NULL), 0, "replay"},
        {hq_queue_purge(q, 1), 0, "purge"},
        {hq_queue_import_dead(q, &good, &id), 0, "import_dead"},
        {hq_queue_foreach_event(q, 0, false, walk_cb, NULL), 0, "foreach_event"},
        {hq_queue_foreach_dead(q, false, walk_cb, NULL), 0, "foreach_dead"},
        {hq_queue_stats(q, &st), 0, "stats"},
    };
    for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
        if (calls[i].rc != calls[i].want)
            fprintf(stderr, "  %s gave %d\n", calls[i].name, calls[i].rc);
        CHECK_EQ(calls[i].rc, calls[i].want);
    }
    CHECK_EQ(fake.calls, (int)(sizeof(calls) / sizeof(calls[0])));
    CHECK_STR(fake.owner, ""); /* NULL owner arrives as "" */
    CHECK_STR(fake.desc, "");  /* NULL description too */
    CHECK_STR(fake.reason, "dead-lettered");
    CHECK_STR(fake.error, "attempt failed");
    CHECK_EQ(st.queued, 7);
    hq_queue_commit_stats(q, &cs);
    CHECK_EQ(cs.commits, 3);
    CHECK_EQ(hq_queue_wake_seq(q), 42);
    hq_queue_wait(q, 0, 10);
    CHECK_STR(fake.last, "wait");
    hq_queue_set_commit_hook(q, hook_cb, NULL);
    CHECK_STR(fake.last, "set_commit_hook");
    CHECK_EQ(fake.calls, (int)(sizeof(calls) / sizeof(calls[0])) + 4);
    hq_queue_close(q);
}

HQ_TEST(long_texts_arrive_cut_to_their_caps)
{
    hq_queue *q = open_fake();
    struct hq_lease l = {1, 1, 1, 0};
    static char text[HQ_MAX_REASON_LEN + 40];
    hqtest_repeat(text, sizeof(text), "x", (int)sizeof(text) - 1);
    CHECK_EQ(hq_queue_record_step(q, &l, HQ_STEP_CHECKED, HQ_CHECK_FAILURE, text), 0);
    CHECK_EQ(strlen(fake.desc), HQ_MAX_DESC_LEN);
    CHECK_EQ(hq_queue_dead_letter(q, &l, text), 0);
    CHECK_EQ(strlen(fake.reason), HQ_MAX_REASON_LEN);
    CHECK_EQ(hq_queue_retry(q, &l, 0, true, NULL, HQ_STEP_NEW), 0);
    CHECK_STR(fake.error, "attempt failed");
    hq_queue_close(q);
}

/* A cut at the cap backs off to a character boundary: "é" is two bytes,
 * and the one that would straddle the cap is dropped whole. */
HQ_TEST(cut_texts_keep_whole_utf8_characters)
{
    hq_queue *q = open_fake();
    struct hq_lease l = {1, 1, 1, 0};
    static char text[HQ_MAX_DESC_LEN + 8];
    text[0] = 'x'; /* odd offset: the pairs end at cap - 1, then one straddles */
    hqtest_repeat(text + 1, sizeof(text) - 1, "\xc3\xa9", (int)(sizeof(text) - 2) / 2);
    CHECK_EQ(hq_queue_record_step(q, &l, HQ_STEP_CHECKED, HQ_CHECK_FAILURE, text), 0);
    CHECK_EQ(strlen(fake.desc), HQ_MAX_DESC_LEN - 1);
    CHECK_EQ((unsigned char)fake.desc[strlen(fake.desc) - 1], 0xa9);
    hq_queue_close(q);
}

HQ_TEST(enqueue_refuses_bad_items_alone_before_the_backend)
{
    hq_queue *q = open_fake();
    char longd[HQ_MAX_DELIVERY_LEN + 2], longe[HQ_MAX_EVENT_LEN + 2];
    hqtest_repeat(longd, sizeof(longd), "d", HQ_MAX_DELIVERY_LEN + 1);
    hqtest_repeat(longe, sizeof(longe), "e", HQ_MAX_EVENT_LEN + 1);
    struct hq_enqueue ok = {.delivery = "ok",
                            .event = "push",
                            .repo_id = 3,
                            .repo_name = "o/r",
                            .payload = "{}",
                            .payload_len = 2,
                            .result = 99,
                            .id = 99};
    struct hq_enqueue it[6];
    for (int i = 0; i < 6; i++)
        it[i] = ok;
    it[1].repo_id = 0;
    it[2].delivery = "";
    it[3].payload = NULL;
    it[4].delivery = longd;
    it[5].event = longe;
    /* All bad: the backend is not asked at all. */
    CHECK_EQ(hq_queue_enqueue(q, it + 1, 5), 0);
    CHECK_EQ(fake.calls, 0);
    int want[6] = {0, -EINVAL, -EINVAL, -EINVAL, HQ_ETOOBIG, HQ_ETOOBIG};
    for (int i = 1; i < 6; i++) {
        CHECK_EQ(it[i].result, want[i]);
        CHECK_EQ(it[i].id, 0);
    }
    /* Mixed: the backend sees only the good one. */
    CHECK_EQ(hq_queue_enqueue(q, it, 6), 0);
    CHECK_EQ(fake.calls, 1);
    CHECK_EQ(fake.enqueue_seen, 1);
    CHECK_EQ(it[0].result, 0);
    CHECK_EQ(it[0].id, 100);
    for (int i = 1; i < 6; i++)
        CHECK_EQ(it[i].result, want[i]);
    /* A failed commit: every item carries its error. */
    fake.enqueue_rc = -EIO;
    CHECK_EQ(hq_queue_enqueue(q, it, 6), -EIO);
    for (int i = 0; i < 6; i++) {
        CHECK_EQ(it[i].result, -EIO);
        CHECK_EQ(it[i].id, 0);
    }
    CHECK_EQ(hq_queue_enqueue(q, it, 0), 0); /* nothing to do */
    CHECK_EQ(fake.calls, 2);
    hq_queue_close(q);
}

HQ_TEST(state_and_dedup_calls_are_checked_before_the_backend)
{
    hq_queue *q = open_fake();
    struct hq_queue_state st;
    memset(&st, 0, sizeof(st));
    uint64_t id = 1, v = 0;
    char longname[HQ_MAX_STATE_NAME_LEN + 2];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    char longdel[HQ_MAX_DELIVERY_LEN + 2];
    memset(longdel, 'd', sizeof(longdel) - 1);
    longdel[sizeof(longdel) - 1] = '\0';
    CHECK_EQ(hq_queue_dedup_lookup(q, 1, "", &id), -EINVAL);
    CHECK_EQ(id, 0);
    CHECK_EQ(hq_queue_dedup_lookup(q, 1, NULL, &id), -EINVAL);
    CHECK_EQ(hq_queue_dedup_lookup(q, 1, longdel, &id), HQ_ETOOBIG);
    CHECK_EQ(hq_queue_state_get(q, "", &st), -EINVAL);
    CHECK_EQ(hq_queue_state_get(q, "Catchup", &st), -EINVAL); /* upper case */
    CHECK_EQ(hq_queue_state_get(q, longname, &st), -EINVAL);
    CHECK_EQ(hq_queue_state_get(q, "catchup", NULL), -EINVAL);
    CHECK_EQ(hq_queue_state_cas(q, "a b", 0, &st, &v), -EINVAL);
    memset(st.claimed_by, 'x', sizeof(st.claimed_by)); /* no NUL */
    CHECK_EQ(hq_queue_state_cas(q, "catchup", 0, &st, &v), HQ_ETOOBIG);
    CHECK_EQ(fake.calls, 0);
    st.claimed_by[0] = '\0';
    CHECK_EQ(hq_queue_dedup_lookup(q, 1, "guid", &id), 0);
    CHECK_EQ(id, 9);
    CHECK_EQ(hq_queue_dedup_lookup(q, 1, "guid", NULL), 0);
    CHECK_EQ(hq_queue_state_get(q, "catchup", &st), 0);
    CHECK_EQ(hq_queue_state_cas(q, "catchup", 4, &st, &v), 0);
    CHECK_EQ(v, 5);
    CHECK_EQ(fake.calls, 4);
    hq_queue_close(q);
}

/* ---- optional operations ------------------------------------------------ */

static int dedup_cb(uint64_t hook_id, const char *delivery, int64_t at_ms, uint64_t event_id,
                    void *arg)
{
    (void)hook_id, (void)delivery, (void)at_ms, (void)event_id, (void)arg;
    return 0;
}

HQ_TEST(an_operation_a_backend_lacks_is_enotsup)
{
    hq_queue *q = open_fake(); /* the fake has no record_check_run, import, foreach_dedup */
    struct hq_lease l = {1, 1, 1, 0};
    CHECK_EQ(hq_queue_record_check_run(q, &l, 7), -ENOTSUP);
    CHECK_EQ(hq_queue_foreach_dedup(q, dedup_cb, NULL), -ENOTSUP);
    struct hq_import it = {.kind = HQ_IMPORT_COUNTERS, .done_total = 1};
    CHECK_EQ(hq_queue_import(q, &it, 1), -ENOTSUP);
    CHECK_EQ(fake.calls, 0);
    hq_queue_close(q);
}

HQ_TEST(bad_imports_and_check_runs_are_refused_first)
{
    hq_queue *q = open_fake();
    struct hq_lease l = {1, 1, 1, 0};
    CHECK_EQ(hq_queue_record_check_run(q, &l, 0), -EINVAL);
    CHECK_EQ(hq_queue_record_check_run(q, NULL, 5), -EINVAL);
    CHECK_EQ(hq_queue_foreach_dedup(q, NULL, NULL), -EINVAL);
    CHECK_EQ(hq_queue_import(q, NULL, 1), -EINVAL);
    hq_queue_close(q);
}

int main(int argc, char **argv)
{
    return hqtest_main(argc, argv);
}
