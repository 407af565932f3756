/*
 * test_queue_pg: what only the PostgreSQL backend has, on the tests' private
 * cluster (pgtest.h; the ctest fixture "pg"): the schema's version check,
 * its upgrade from version 1 and its creation by two processes at once, a
 * repository counted with no event, the open's refusals (malformed
 * URI, wrong password, no permission) that write nothing, the reconnect
 * after the server restarts, one lease per repository across processes, and
 * a failure among the statements held back to COMMIT, and enqueues of the
 * same deliveries crossed.
 */
#include "clock.h"
#include "hqtest.h"
#include "pgtest.h"
#include "queue.h"
#include "queue_pg_int.h" /* the embedded schema files */

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

static hq_queue *open_db(const char *db)
{
    struct hq_queue_opts o;
    hq_queue_opts_default(&o);
    o.db = db;
    hq_queue *q = NULL;
    int rc = hq_queue_open(&o, &q);
    if (rc != 0)
        fprintf(stderr, "open: %s\n", hq_strerror(rc));
    REQUIRE(rc == 0);
    return q;
}

static int enq(hq_queue *q, uint64_t repo, const char *delivery)
{
    struct hq_enqueue it = {.hook_id = 1,
                            .delivery = delivery,
                            .event = "push",
                            .repo_id = repo,
                            .repo_name = "o/r",
                            .payload = "{}",
                            .payload_len = 2};
    int rc = hq_queue_enqueue(q, &it, 1);
    return rc != 0 ? rc : it.result;
}

/* One number from a query run as the superuser on database name. */
static long long scalar(const char *name, const char *sql)
{
    char uri[512];
    snprintf(uri, sizeof(uri), "%s/%s", pgtest_base(), name);
    PGconn *c = PQconnectdb(uri);
    long long v = -1;
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
            v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
    }
    PQfinish(c);
    return v;
}

static void nap(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

HQ_TEST(schema_files_are_embedded_numbered_from_one_in_order)
{
    REQUIRE(hq_pg_migration_count >= 1);
    for (size_t i = 0; i < hq_pg_migration_count; i++) {
        char prefix[32];
        snprintf(prefix, sizeof(prefix), "%03zu_", i + 1);
        CHECK_EQ(hq_pg_migrations[i].version, (int)(i + 1));
        CHECK(strncmp(hq_pg_migrations[i].name, prefix, 4) == 0);
        CHECK(strstr(hq_pg_migrations[i].sql, "CREATE") != NULL);
    }
    CHECK(strstr(hq_pg_migrations[0].sql, "CREATE TABLE hq_schema") != NULL);
}

HQ_TEST(open_records_the_schema_version)
{
    const char *name = pgtest_case_name("");
    hq_queue_close(open_db(pgtest_database(name)));
    CHECK_EQ(scalar(name, "SELECT max(version) FROM hq_schema"),
             hq_pg_migrations[hq_pg_migration_count - 1].version);
    /* A second open applies nothing. */
    hq_queue_close(open_db(pgtest_database(name)));
    CHECK_EQ(scalar(name, "SELECT count(*) FROM hq_schema"), (long long)hq_pg_migration_count);
}

/* A queue written by a version 1 binary (no worker functions yet) is brought
 * up to date by the next open, and its queued events go on from there. */
HQ_TEST(version_1_queue_is_upgraded_by_the_next_open)
{
    const char *name = pgtest_case_name("");
    const char *db = pgtest_database(name);
    hq_queue *q = open_db(db);
    CHECK_EQ(enq(q, 7, "a"), 0);
    CHECK_EQ(enq(q, 7, "b"), 0);
    hq_queue_close(q);
    CHECK_EQ(pgtest_exec(name, "DROP FUNCTION hq_lease, hq_step, hq_complete; "
                               "DELETE FROM hq_schema WHERE version > 1"),
             0);
    CHECK_EQ(scalar(name, "SELECT count(*) FROM pg_proc WHERE proname = 'hq_complete'"), 0);

    q = open_db(db);
    CHECK_EQ(scalar(name, "SELECT max(version) FROM hq_schema"),
             hq_pg_migrations[hq_pg_migration_count - 1].version);
    CHECK_EQ(scalar(name, "SELECT count(*) FROM hq_schema"), (long long)hq_pg_migration_count);
    const char *want[] = {"a", "b"};
    for (int i = 0; i < 2; i++) {
        struct hq_lease l;
        struct hq_event *ev = NULL;
        int64_t next;
        REQUIRE(hq_queue_lease(q, "w", 60000, &l, &ev, &next) == 0);
        CHECK_STR(ev->delivery, want[i]);
        CHECK_EQ(hq_queue_record_step(q, &l, HQ_STEP_CHECKED, HQ_CHECK_SUCCESS, "ok"), 0);
        CHECK_EQ(hq_queue_complete(q, &l), 0);
        hq_event_free(ev);
    }
    struct hq_queue_stats st;
    REQUIRE(hq_queue_stats(q, &st) == 0);
    CHECK_EQ(st.queued, 0u);
    CHECK_EQ(st.repositories, 0u);
    CHECK_EQ(st.done_total, 2u);
    hq_queue_close(q);
}

/* A repository counted with no event (rows deleted behind hookq's back):
 * the lease says HQ_ECORRUPT (the schema function's data_corrupted) and
 * changes nothing. */
HQ_TEST(ready_repository_without_events_is_corrupt_and_left_alone)
{
    const char *name = pgtest_case_name("");
    hq_queue *q = open_db(pgtest_database(name));
    CHECK_EQ(enq(q, 7, "a"), 0);
    CHECK_EQ(pgtest_exec(name, "DELETE FROM hq_event"), 0);
    struct hq_lease l;
    struct hq_event *ev = NULL;
    int64_t next;
    CHECK_EQ(hq_queue_lease(q, "w", 60000, &l, &ev, &next), HQ_ECORRUPT);
    CHECK(ev == NULL);
    CHECK_EQ(scalar(name, "SELECT count(*) FROM hq_repo WHERE lease_token IS NULL AND "
                          "ready_at IS NOT NULL AND count = 1"),
             1);
    hq_queue_close(q);
}

HQ_TEST(schema_from_the_future_is_refused_and_left_alone)
{
    const char *name = pgtest_case_name("");
    const char *db = pgtest_database(name);
    hq_queue_close(open_db(db));
    CHECK_EQ(pgtest_exec(name, "INSERT INTO hq_schema (version) VALUES (999)"), 0);
    struct hq_queue_opts o;
    hq_queue_opts_default(&o);
    o.db = db;
    hq_queue *q = NULL;
    CHECK_EQ(hq_queue_open(&o, &q), HQ_ESCHEMA);
    CHECK(q == NULL);
    o.read_only = true;
    CHECK_EQ(hq_queue_open(&o, &q), HQ_ESCHEMA);
    CHECK_EQ(scalar(name, "SELECT count(*) FROM hq_schema"), (long long)hq_pg_migration_count + 1);
}

HQ_TEST(empty_database_read_only_is_not_found_and_not_created)
{
    const char *name = pgtest_case_name("");
    struct hq_queue_opts o;
    hq_queue_opts_default(&o);
    o.db = pgtest_database(name);
    o.read_only = true;
    hq_queue *q = NULL;
    CHECK_EQ(hq_queue_open(&o, &q), -ENOENT);
    o.read_only = false;
    o.no_create = true;
    CHECK_EQ(hq_queue_open(&o, &q), -ENOENT);
    CHECK_EQ(scalar(name, "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'hq_%'"), 0);
}

HQ_TEST(processes_opening_an_empty_database_at_once_create_it_once)
{
    const char *name = pgtest_case_name("");
    const char *db = pgtest_database(name);
    enum { N = 4 };
    pid_t pids[N];
    for (int i = 0; i < N; i++) {
        pids[i] = fork();
        REQUIRE(pids[i] >= 0);
        if (pids[i] == 0) {
            struct hq_queue_opts o;
            hq_queue_opts_default(&o);
            o.db = db;
            hq_queue *q = NULL;
            int rc = hq_queue_open(&o, &q);
            if (rc == 0) {
                char d[32];
                snprintf(d, sizeof(d), "d%d", i);
                rc = enq(q, 7, d);
                hq_queue_close(q);
            }
            if (rc != 0)
                fprintf(stderr, "  process %d: %s\n", i, hq_strerror(rc));
            _exit(rc == 0 ? 0 : 1);
        }
    }
    for (int i = 0; i < N; i++) {
        int st = 0;
        waitpid(pids[i], &st, 0);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    CHECK_EQ(scalar(name, "SELECT count(*) FROM hq_schema"), (long long)hq_pg_migration_count);
    CHECK_EQ(scalar(name, "SELECT count(*) FROM hq_event"), N);
}

HQ_TEST(malformed_uri_is_a_configuration_error)
{
    struct hq_queue_opts o;
    hq_queue_opts_default(&o);
    hq_queue *q = NULL;
    o.db = "postgresql://hookq@[::1/x";
    CHECK_EQ(hq_queue_open(&o, &q), HQ_ECONFIG);
    o.db = "postgresql://hookq@127.0.0.1/x?nosuchoption=1";
    CHECK_EQ(hq_queue_open(&o, &q), HQ_ECONFIG);
    CHECK(q == NULL);
}

/* base with user:password@ put in front of the host. */
static const char *with_user(const char *userinfo, const char *name)
{
    static char uri[512];
    const char *host = strchr(pgtest_base(), '@');
    REQUIRE(host != NULL);
    snprintf(uri, sizeof(uri), "postgresql://%s%s/%s", userinfo, host, name);
    return uri;
}

HQ_TEST(wrong_password_is_refused_and_right_one_works)
{
    const char *name = pgtest_case_name("");
    char sql[128];
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s OWNER hookq_pw", name);
    REQUIRE(pgtest_exec("postgres", sql) == 0);
    struct hq_queue_opts o;
    hq_queue_opts_default(&o);
    hq_queue *q = NULL;
    o.db = with_user("hookq_pw:not-the-password", name);
    CHECK_EQ(hq_queue_open(&o, &q), -EACCES);
    CHECK(q == NULL);
    CHECK_EQ(scalar(name, "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'hq_%'"), 0);
    o.db = with_user("hookq_pw:pw-secret", name);
    CHECK_EQ(hq_queue_open(&o, &q), 0);
    hq_queue_close(q);
}

HQ_TEST(role_without_permission_is_refused_and_nothing_is_written)
{
    const char *name = pgtest_case_name("");
    pgtest_database(name);
    struct hq_queue_opts o;
    hq_queue_opts_default(&o);
    o.db = with_user("hookq_noperm", name);
    hq_queue *q = NULL;
    CHECK_EQ(hq_queue_open(&o, &q), -EACCES);
    CHECK(q == NULL);
    CHECK_EQ(scalar(name, "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'hq_%'"), 0);
}

/* Runs pg_cluster.sh cmd dir. */
static int cluster(const char *cmd, const char *dir)
{
    const char *src = getenv("HOOKQ_TEST_SOURCE_DIR");
    if (src == NULL)
        SKIP("HOOKQ_TEST_SOURCE_DIR not set");
    char line[1024];
    snprintf(line, sizeof(line), "'%s/tests/tools/pg_cluster.sh' %s '%s'", src, cmd, dir);
    return system(line);
}

static char own_cluster[512];
static pid_t own_cluster_pid;

/* The case's own cluster goes even when a REQUIRE ends the case (exit). */
static void own_cluster_stop(void)
{
    if (own_cluster[0] != '\0' && getpid() == own_cluster_pid)
        (void)cluster("stop", own_cluster);
}

HQ_TEST(server_restart_reconnects_on_the_next_call_with_nothing_lost)
{
    /* A cluster of its own: restarting the shared one would break the
     * tests running beside this one. */
    pgtest_base(); /* skips without the tests' cluster */
    char dir[512], path[600], uri[600];
    snprintf(dir, sizeof(dir), "%s/pg", hqtest_dir());
    REQUIRE(chmod(hqtest_dir(), 0711) == 0); /* the server's user must reach dir */
    snprintf(own_cluster, sizeof(own_cluster), "%s", dir);
    own_cluster_pid = getpid();
    atexit(own_cluster_stop);
    REQUIRE(cluster("start", dir) == 0);
    snprintf(path, sizeof(path), "%s/uri", dir);
    FILE *f = fopen(path, "r");
    REQUIRE(f != NULL);
    char base[512];
    REQUIRE(fgets(base, (int)sizeof(base), f) != NULL);
    fclose(f);
    base[strcspn(base, "\r\n")] = '\0';
    REQUIRE(snprintf(uri, sizeof(uri), "%s/postgres", base) < (int)sizeof(uri));
    hq_queue *q = open_db(uri);
    CHECK_EQ(enq(q, 1, "before"), 0);
    /* The first wait starts the listener, which sweeps once it listens. */
    uint32_t seq = hq_queue_wake_seq(q);
    hq_queue_wait(q, seq, 5000);
    CHECK(hq_queue_wake_seq(q) != seq);
    seq = hq_queue_wake_seq(q);
    CHECK_EQ(cluster("restart", dir), 0);
    /* The listener reconnects by itself and sweeps: the sequence moves with
     * no commit of this process. */
    int64_t t0 = hq_mono_ms();
    while (hq_queue_wake_seq(q) == seq && hq_mono_ms() - t0 < 15000)
        hq_queue_wait(q, seq, 500);
    CHECK(hq_queue_wake_seq(q) != seq);
    /* The pooled connections died with the server but look fine until used.
     * The worker's calls are one statement each, with no BEGIN that could
     * fail first and be tried again: each of the four connections (taken in
     * turn) is found closed before it is used, and replaced. */
    struct hq_lease l;
    struct hq_event *ev = NULL;
    int64_t next;
    CHECK_EQ(hq_queue_lease(q, "w", 60000, &l, &ev, &next), 0);
    CHECK_EQ(hq_queue_complete(q, &l), 0);
    hq_event_free(ev);
    for (int i = 0; i < 3; i++) {
        ev = NULL;
        CHECK_EQ(hq_queue_lease(q, "w", 60000, &l, &ev, &next), HQ_ENOTREADY);
    }
    /* Enqueues, a transaction from BEGIN: the first call on a connection
     * finds it dropped, connects again and goes on. */
    for (int i = 0; i < 8; i++) {
        char d[16];
        snprintf(d, sizeof(d), "after%d", i);
        CHECK_EQ(enq(q, 1, d), 0);
    }
    struct hq_queue_stats st = {0};
    for (int i = 0; i < 100; i++) {
        if (hq_queue_stats(q, &st) == 0)
            break;
        nap(100);
    }
    CHECK_EQ(st.queued, 8);
    hq_queue_close(q);
    /* Before the harness removes the case's directory (the exit handler
     * covers a REQUIRE that ends the case early). */
    CHECK_EQ(cluster("stop", dir), 0);
    own_cluster[0] = '\0';
}

/* Checks the stats' kept figures against counts of the tables. */
static void check_figures(hq_queue *q, const char *name)
{
    struct hq_queue_stats st;
    REQUIRE(hq_queue_stats(q, &st) == 0);
    CHECK_EQ((long long)st.queued, scalar(name, "SELECT count(*) FROM hq_event"));
    CHECK_EQ((long long)st.repositories,
             scalar(name, "SELECT count(DISTINCT repo_id) FROM hq_event"));
    CHECK_EQ((long long)st.dead, scalar(name, "SELECT count(*) FROM hq_dead"));
}

HQ_TEST(stats_figures_follow_every_operation)
{
    const char *name = pgtest_case_name("");
    struct hq_queue_opts o;
    hq_queue_opts_default(&o);
    o.db = pgtest_database(name);
    o.max_attempts = 2;
    hq_queue *q = NULL;
    REQUIRE(hq_queue_open(&o, &q) == 0);
    for (int i = 0; i < 6; i++) {
        char d[16];
        snprintf(d, sizeof(d), "s%d", i);
        REQUIRE(enq(q, 1 + (uint64_t)(i % 3), d) == 0);
    }
    CHECK_EQ(enq(q, 1, "s0"), HQ_EDUPLICATE);
    check_figures(q, name);
    struct hq_lease l;
    struct hq_event *ev = NULL;
    int64_t next;
    REQUIRE(hq_queue_lease(q, "w", 60000, &l, &ev, &next) == 0);
    hq_event_free(ev);
    CHECK_EQ(hq_queue_complete(q, &l), 0);
    check_figures(q, name);
    REQUIRE(hq_queue_lease(q, "w", 60000, &l, &ev, &next) == 0);
    uint64_t dead_id = ev->id;
    hq_event_free(ev);
    CHECK_EQ(hq_queue_dead_letter(q, &l, "no"), 0);
    check_figures(q, name);
    CHECK_EQ(hq_queue_replay(q, dead_id, NULL), 0);
    check_figures(q, name);
    /* Drain everything: completes until nothing is left; one dead letter
     * purged on the way. */
    int rounds = 0;
    while (hq_queue_lease(q, "w", 60000, &l, &ev, &next) == 0 && rounds++ < 20) {
        bool dead = rounds == 2;
        hq_event_free(ev);
        if (dead) {
            CHECK_EQ(hq_queue_dead_letter(q, &l, "again"), 0);
        } else {
            CHECK_EQ(hq_queue_complete(q, &l), 0);
        }
        check_figures(q, name);
    }
    struct hq_queue_stats st;
    REQUIRE(hq_queue_stats(q, &st) == 0);
    CHECK_EQ(st.queued, 0);
    CHECK_EQ(st.repositories, 0);
    CHECK_EQ(st.dead, 1);
    CHECK_EQ(st.done_total, 5);
    CHECK_EQ(st.dead_total, 2);
    /* The one dead letter left goes. */
    uint64_t left = (uint64_t)scalar(name, "SELECT id FROM hq_dead");
    CHECK_EQ(hq_queue_purge(q, left), 0);
    CHECK_EQ(hq_queue_purge(q, left), HQ_ENOTFOUND);
    check_figures(q, name);
    hq_queue_close(q);
}

struct race {
    _Atomic int holders;
    _Atomic int violations;
    _Atomic int done;
    _Atomic int next;
    uint64_t order[64];
};

HQ_TEST(processes_racing_for_one_repository_never_hold_it_twice)
{
    const char *db = pgtest_case_db();
    enum { EVENTS = 40, PROCS = 4 };
    hq_queue *q = open_db(db);
    for (int i = 0; i < EVENTS; i++) {
        char d[32];
        snprintf(d, sizeof(d), "e%d", i);
        REQUIRE(enq(q, 42, d) == 0);
    }
    hq_queue_close(q);
    struct race *r =
        mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE(r != MAP_FAILED);
    memset(r, 0, sizeof(*r));
    pid_t pids[PROCS];
    for (int p = 0; p < PROCS; p++) {
        pids[p] = fork();
        REQUIRE(pids[p] >= 0);
        if (pids[p] != 0)
            continue;
        hq_queue *cq = open_db(db);
        int64_t deadline = hq_mono_ms() + 60000;
        while (atomic_load(&r->done) < EVENTS && hq_mono_ms() < deadline) {
            struct hq_lease l;
            struct hq_event *ev = NULL;
            int64_t next;
            if (hq_queue_lease(cq, "racer", 60000, &l, &ev, &next) != 0) {
                nap(1);
                continue;
            }
            if (atomic_fetch_add(&r->holders, 1) != 0)
                atomic_fetch_add(&r->violations, 1);
            int k = atomic_fetch_add(&r->next, 1);
            if (k < 64)
                r->order[k] = ev->id;
            nap(2);
            atomic_fetch_sub(&r->holders, 1);
            if (hq_queue_complete(cq, &l) == 0)
                atomic_fetch_add(&r->done, 1);
            hq_event_free(ev);
        }
        hq_queue_close(cq);
        _exit(0);
    }
    for (int p = 0; p < PROCS; p++)
        waitpid(pids[p], NULL, 0);
    CHECK_EQ(atomic_load(&r->violations), 0);
    CHECK_EQ(atomic_load(&r->done), EVENTS);
    CHECK_EQ(atomic_load(&r->next), EVENTS);
    for (int i = 1; i < EVENTS; i++)
        CHECK(r->order[i - 1] < r->order[i]); /* FIFO held across the racers */
    munmap(r, sizeof(*r));
}

/* The statements a transaction holds back to its COMMIT (the repository
 * rows' update, the counters; pg_commit) fail the whole transaction when
 * one fails: a trigger makes each of them fail in turn, the enqueue
 * reports it, and nothing of it is stored (no event, no dedup pair, no
 * counter); once the trigger is gone the same delivery goes in at the head
 * of the line. */
HQ_TEST(failure_in_the_commit_tail_stores_nothing_of_the_batch)
{
    const char *name = pgtest_case_name("");
    const char *db = pgtest_database(name);
    hq_queue *q = open_db(db);
    CHECK_EQ(enq(q, 7, "first"), 0);
    REQUIRE(pgtest_exec(name, "CREATE FUNCTION hqt_fail() RETURNS trigger LANGUAGE plpgsql AS "
                              "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$") == 0);
    /* hq_repo's row is written at COMMIT only (repos_done); a counter row
     * may be new (a shard not used yet). */
    const char *tables[] = {"hq_repo", "hq_counter"}, *ops[] = {"UPDATE", "INSERT OR UPDATE"};
    for (size_t t = 0; t < 2; t++) {
        char sql[256];
        snprintf(sql, sizeof(sql),
                 "CREATE TRIGGER hqt_fail BEFORE %s ON %s FOR EACH ROW EXECUTE FUNCTION "
                 "hqt_fail()",
                 ops[t], tables[t]);
        REQUIRE(pgtest_exec(name, sql) == 0);
        CHECK_EQ(enq(q, 7, "second"), HQ_ESTORAGE);
        CHECK_EQ(scalar(name, "SELECT count(*) FROM hq_event"), 1);
        CHECK_EQ(scalar(name, "SELECT count(*) FROM hq_dedup WHERE delivery = 'second'"), 0);
        CHECK_EQ(scalar(name, "SELECT sum(value) FROM hq_counter WHERE name = 'enqueued_total'"),
                 1);
        snprintf(sql, sizeof(sql), "DROP TRIGGER hqt_fail ON %s", tables[t]);
        REQUIRE(pgtest_exec(name, sql) == 0);
    }
    CHECK_EQ(enq(q, 7, "second"), 0);
    struct hq_queue_stats st;
    REQUIRE(hq_queue_stats(q, &st) == 0);
    CHECK_EQ(st.queued, 2);
    CHECK_EQ(st.enqueued_total, 2);
    struct hq_lease l;
    struct hq_event *ev = NULL;
    int64_t next;
    for (int i = 0; i < 2; i++) {
        REQUIRE(hq_queue_lease(q, "t", 60000, &l, &ev, &next) == 0);
        CHECK_STR(ev->delivery, i == 0 ? "first" : "second");
        CHECK_EQ(hq_queue_complete(q, &l), 0);
        hq_event_free(ev);
    }
    hq_queue_close(q);
}

/* Two handles (two pools: as two receivers) enqueue, at the same moment,
 * batches carrying the same two deliveries in opposite order, each to
 * repositories of its own so that no repository lock orders them: their
 * dedup keys are inserted in one order, so neither waits for the other in a
 * cycle (PostgreSQL would break a deadlock by failing one batch, a 503
 * for every delivery in it); each delivery is stored once. */
struct crossed {
    hq_queue *q;
    pthread_barrier_t *go;
    bool second;
    int failures, accepted;
};

static void *crossed_main(void *arg)
{
    struct crossed *c = arg;
    for (int r = 0; r < 20; r++) {
        char x[32], y[32];
        snprintf(x, sizeof(x), "x-%d", r);
        snprintf(y, sizeof(y), "y-%d", r);
        uint64_t base = (c->second ? 5000 : 1000) + 2 * (uint64_t)r;
        struct hq_enqueue it[2] = {
            {.hook_id = 1,
             .delivery = c->second ? y : x,
             .event = "push",
             .repo_id = base,
             .repo_name = "o/r",
             .payload = "{}",
             .payload_len = 2},
            {.hook_id = 1,
             .delivery = c->second ? x : y,
             .event = "push",
             .repo_id = base + 1,
             .repo_name = "o/r",
             .payload = "{}",
             .payload_len = 2},
        };
        pthread_barrier_wait(c->go);
        if (hq_queue_enqueue(c->q, it, 2) != 0)
            c->failures++;
        for (int i = 0; i < 2; i++)
            c->accepted += it[i].result == 0;
    }
    return NULL;
}

HQ_TEST(enqueues_carrying_the_same_deliveries_crossed_never_deadlock)
{
    const char *db = pgtest_case_db();
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 2);
    struct crossed c[2] = {{.q = open_db(db), .go = &go},
                           {.q = open_db(db), .go = &go, .second = true}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        REQUIRE(pthread_create(&t[i], NULL, crossed_main, &c[i]) == 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ(c[0].failures + c[1].failures, 0);
    CHECK_EQ(c[0].accepted + c[1].accepted, 40); /* each of the 40 deliveries once */
    struct hq_queue_stats st;
    REQUIRE(hq_queue_stats(c[0].q, &st) == 0);
    CHECK_EQ(st.queued, 40);
    CHECK_EQ(st.duplicates_total, 40);
    for (int i = 0; i < 2; i++)
        hq_queue_close(c[i].q);
    pthread_barrier_destroy(&go);
}

int main(int argc, char **argv)
{
    return hqtest_main(argc, argv);
}
