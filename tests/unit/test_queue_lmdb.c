/*
 * test_queue_lmdb: what only the LMDB backend has, beyond the conformance
 * suite (test_queue.c): its map (size, figures, a full map), a full disk
 * under it, its files (data.mdb, nothing created where none is asked for)
 * and the schema version bytes in its meta table.
 */
#include "hqtest.h"
#include "queue.h"

#include <lmdb.h>
#include <sched.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/stat.h>

static hq_queue *open_lmdb(const char *dir, uint64_t map_size)
{
    struct hq_queue_opts o;
    hq_queue_opts_default(&o);
    o.db = dir;
    o.lmdb.map_size = map_size;
    hq_queue *q = NULL;
    int rc = hq_queue_open(&o, &q);
    if (rc != 0)
        fprintf(stderr, "open: %s\n", hq_strerror(rc));
    REQUIRE(rc == 0);
    return q;
}

static int enq(hq_queue *q, uint64_t repo, uint64_t hook, const char *delivery, uint64_t *id)
{
    struct hq_enqueue it = {.hook_id = hook,
                            .delivery = delivery,
                            .event = "push",
                            .repo_id = repo,
                            .repo_name = "o/r",
                            .payload = "{}",
                            .payload_len = 2};
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

static uint64_t map_size_of(hq_queue *q)
{
    struct hq_queue_stats st;
    CHECK_EQ(hq_queue_stats(q, &st), 0);
    CHECK(st.has_map);
    return st.map_size;
}

HQ_TEST(stats_report_the_map)
{
    hq_queue *q = open_lmdb(hqtest_dir(), 0);
    CHECK_EQ(enq(q, 1, 1, "a1", NULL), 0);
    struct hq_queue_stats st;
    CHECK_EQ(hq_queue_stats(q, &st), 0);
    CHECK(st.has_map);
    CHECK(st.map_used > 0 && st.map_size >= st.map_used);
    hq_queue_close(q);
}

/* Map size 0 (hookqctl without HOOKQ_MAP_SIZE): a new database gets the
 * default size, an existing one keeps the size it was given. */
HQ_TEST(map_size_zero_keeps_the_stored_size)
{
    char other[512];
    snprintf(other, sizeof(other), "%s/other", hqtest_dir());
    hq_queue *q = open_lmdb(other, 0);
    CHECK_EQ(map_size_of(q), HQ_DEFAULT_MAP_SIZE);
    hq_queue_close(q);
    q = open_lmdb(hqtest_dir(), 64ull << 20);
    CHECK_EQ(enq(q, 1, 1, "a1", NULL), 0);
    CHECK_EQ(map_size_of(q), 64ull << 20);
    hq_queue_close(q);
    q = open_lmdb(hqtest_dir(), 0);
    CHECK_EQ(map_size_of(q), 64ull << 20);
    CHECK_EQ(count_events(q), 1);
    hq_queue_close(q);
}

HQ_TEST(no_create_open_of_missing_database)
{
    struct hq_queue_opts o;
    hq_queue_opts_default(&o);
    char path[512];
    snprintf(path, sizeof(path), "%s/nothing-here", hqtest_dir());
    o.db = path;
    o.no_create = true;
    hq_queue *q;
    CHECK_EQ(hq_queue_open(&o, &q), -ENOENT);
    CHECK(access(path, F_OK) != 0); /* and nothing was created */
    /* An existing one opens for writing. */
    hq_queue_close(open_lmdb(path, 0));
    REQUIRE(hq_queue_open(&o, &q) == 0);
    CHECK_EQ(enq(q, 1, 1, "a1", NULL), 0);
    hq_queue_close(q);
}

/* Enqueues deliveries of `size` bytes over 5 repositories until the queue
 * refuses one (or `max` went in); returns how many went in, *rc the refusal. */
static int fill_until_refused(hq_queue *q, size_t size, int max, int *rc)
{
    char *big = malloc(size);
    REQUIRE(big != NULL);
    memset(big, 'x', size);
    int stored = 0;
    *rc = 0;
    for (int i = 0; i < max; i++) {
        char d[32];
        snprintf(d, sizeof(d), "fill%d", i);
        struct hq_enqueue it = {.delivery = d,
                                .event = "push",
                                .repo_id = 1 + (uint64_t)(i % 5),
                                .repo_name = "o/r",
                                .payload = big,
                                .payload_len = size};
        if ((*rc = hq_queue_enqueue(q, &it, 1)) != 0)
            break;
        stored++;
    }
    free(big);
    return stored;
}

HQ_TEST(full_map_fails_cleanly)
{
    hq_queue *q = open_lmdb(hqtest_dir(), 256 * 1024);
    int rc;
    int stored = fill_until_refused(q, 16 * 1024, 100, &rc);
    CHECK_EQ(rc, HQ_EFULL);
    CHECK(stored > 0);
    hq_queue_close(q);
    q = open_lmdb(hqtest_dir(), 256 * 1024);
    CHECK_EQ(count_events(q), stored);
    /* Work goes on: a lease and a completion free space. */
    struct hq_lease l;
    struct hq_event *ev = lease(q, &l);
    REQUIRE(ev != NULL);
    hq_event_free(ev);
    CHECK_EQ(hq_queue_complete(q, &l), 0);
    CHECK_EQ(count_events(q), stored - 1);
    hq_queue_close(q);
}

/* A real full disk: a 24 MiB tmpfs in a mount namespace of this case alone
 * (root only; skipped otherwise). The map is larger than the disk, so the
 * disk fills first: enqueue must fail with HQ_EFULL (LMDB's short write is
 * recognised as a full disk), the database must stay usable, and everything
 * acknowledged must still be there after reopening. */
HQ_TEST(full_disk_fails_cleanly)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/small", hqtest_dir());
    REQUIRE(mkdir(dir, 0700) == 0);
    if (geteuid() != 0 || unshare(CLONE_NEWNS) != 0 ||
        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tmpfs", dir, "tmpfs", 0, "size=24m") != 0) {
        SKIP("needs root and a mount namespace to mount a small tmpfs");
    }
    /* Ballast the operator can delete to free space. */
    char ballast[600];
    snprintf(ballast, sizeof(ballast), "%s/ballast", dir);
    FILE *fp = fopen(ballast, "w");
    REQUIRE(fp != NULL);
    static char chunk[1 << 20];
    for (int i = 0; i < 4; i++)
        REQUIRE(fwrite(chunk, 1, sizeof(chunk), fp) == sizeof(chunk));
    fclose(fp);
    struct hq_queue_opts o;
    hq_queue_opts_default(&o);
    o.db = dir;
    o.lmdb.map_size = 256ull << 20;
    hq_queue *q;
    REQUIRE(hq_queue_open(&o, &q) == 0);
    int rc;
    int stored = fill_until_refused(q, 64 * 1024, 2000, &rc);
    CHECK_EQ(rc, HQ_EFULL);
    CHECK(stored > 10);
    CHECK_EQ(count_events(q), stored); /* reads go on */
    /* The operator frees space: work goes on. */
    REQUIRE(unlink(ballast) == 0);
    struct hq_lease l;
    struct hq_event *ev = lease(q, &l);
    REQUIRE(ev != NULL);
    hq_event_free(ev);
    CHECK_EQ(hq_queue_complete(q, &l), 0);
    CHECK_EQ(enq(q, 1, 1, "after-space-freed", NULL), 0);
    hq_queue_close(q);
    REQUIRE(hq_queue_open(&o, &q) == 0);
    CHECK_EQ(count_events(q), stored);
    hq_queue_close(q);
    printf("  %d deliveries of 64 KiB stored before the 24 MiB disk was full\n", stored);
    umount2(dir, MNT_DETACH);
}

HQ_TEST(newer_schema_is_refused)
{
    hq_queue *q = open_lmdb(hqtest_dir(), 0);
    hq_queue_close(q);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    REQUIRE(mdb_env_create(&env) == 0);
    mdb_env_set_maxdbs(env, 16);
    REQUIRE(mdb_env_open(env, hqtest_dir(), 0, 0600) == 0);
    REQUIRE(mdb_txn_begin(env, NULL, 0, &txn) == 0);
    REQUIRE(mdb_dbi_open(txn, "meta", 0, &dbi) == 0);
    uint8_t v[8] = {0, 0, 0, 0, 0, 0, 0, 2};
    MDB_val key = {14, "schema_version"}, val = {8, v};
    REQUIRE(mdb_put(txn, dbi, &key, &val, 0) == 0);
    REQUIRE(mdb_txn_commit(txn) == 0);
    mdb_env_close(env);
    struct hq_queue_opts o;
    hq_queue_opts_default(&o);
    o.db = hqtest_dir();
    CHECK_EQ(hq_queue_open(&o, &q), HQ_ESCHEMA);
    o.read_only = true;
    CHECK_EQ(hq_queue_open(&o, &q), HQ_ESCHEMA);
}

HQ_TEST(read_only_open_of_missing_database)
{
    struct hq_queue_opts o;
    hq_queue_opts_default(&o);
    char path[512];
    snprintf(path, sizeof(path), "%s/nothing-here", hqtest_dir());
    o.db = path;
    o.read_only = true;
    hq_queue *q;
    CHECK_EQ(hq_queue_open(&o, &q), -ENOENT);
    CHECK(access(path, F_OK) != 0); /* and nothing was created */
}

/* A data.mdb of n zero bytes in a new directory under the case's own. */
static void lost_database(const char *dir, size_t n)
{
    char file[600];
    REQUIRE(mkdir(dir, 0700) == 0);
    snprintf(file, sizeof(file), "%s/data.mdb", dir);
    FILE *fp = fopen(file, "w");
    REQUIRE(fp != NULL);
    for (size_t i = 0; i < n; i++)
        REQUIRE(fputc(0, fp) == 0);
    REQUIRE(fclose(fp) == 0);
}

/* What a power loss under HOOKQ_SYNC=false leaves: an empty data.mdb.
 * Inspection and hookqctl's writes refuse it by name; the services start a
 * new queue in it and get a notice to log. A healthy open has no notice. */
HQ_TEST(empty_data_file_is_named_not_opened_silently)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/emptied", hqtest_dir());
    lost_database(dir, 0);
    struct hq_queue_opts o;
    hq_queue_opts_default(&o);
    o.db = dir;
    hq_queue *q = NULL;
    o.read_only = true;
    CHECK_EQ(hq_queue_open(&o, &q), HQ_EDBLOST);
    o.read_only = false;
    o.no_create = true;
    CHECK_EQ(hq_queue_open(&o, &q), HQ_EDBLOST);
    CHECK(strstr(hq_strerror(HQ_EDBLOST), "empty or truncated") != NULL);

    o.no_create = false;
    o.lmdb.map_size = 16u << 20;
    REQUIRE(hq_queue_open(&o, &q) == 0);
    const char *notice = hq_queue_open_notice(q);
    CHECK(notice != NULL && strstr(notice, "data.mdb was empty") != NULL);
    CHECK_EQ(enq(q, 1, 1, "after-the-loss", NULL), 0);
    hq_queue_close(q);
    /* Started anew, it is a healthy database from then on. */
    REQUIRE(hq_queue_open(&o, &q) == 0);
    CHECK(hq_queue_open_notice(q) == NULL);
    hq_queue_close(q);
}

/* A data file shorter than LMDB's two meta pages, but not empty, lost its
 * header: every open refuses it rather than guess. */
HQ_TEST(truncated_data_file_is_refused_by_every_open)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/cut", hqtest_dir());
    lost_database(dir, 4096);
    struct hq_queue_opts o;
    hq_queue_opts_default(&o);
    o.db = dir;
    o.lmdb.map_size = 16u << 20;
    hq_queue *q = NULL;
    CHECK_EQ(hq_queue_open(&o, &q), HQ_EDBLOST);
    o.read_only = true;
    CHECK_EQ(hq_queue_open(&o, &q), HQ_EDBLOST);
}

int main(int argc, char **argv)
{
    return hqtest_main(argc, argv);
}
