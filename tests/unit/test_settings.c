/*
 * test_settings: the variables all three binaries share (common/settings.h)
 * — defaults, the one bound of HOOKQ_MAP_SIZE, one message per variable,
 * hookqctl's kept map size, and database URIs never shown with a password.
 */
#include "hqtest.h"
#include "settings.h"

static void clean_env(void)
{
    static const char *const vars[] = {"HOOKQ_DB", "HOOKQ_MAP_SIZE", "HOOKQ_SYNC",
                                       "HOOKQ_LOG_FORMAT", "HOOKQ_LOG_LEVEL"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
}

HQ_TEST(defaults)
{
    clean_env();
    struct hq_queue_opts o;
    struct hq_log_settings log;
    struct hq_cfgerr err = {{0}};
    REQUIRE(hq_settings_queue(&o, 0, &err) == 0);
    CHECK_STR(o.db, "/var/lib/hookq");
    CHECK_EQ(o.lmdb.map_size, 4ull << 30);
    CHECK(!o.no_sync);
    CHECK(!o.read_only && !o.no_create);
    CHECK_EQ(o.dedup_window_ms, 7ll * 86400000);
    CHECK_EQ(o.max_attempts, 10);
    REQUIRE(hq_settings_log(&log, &err) == 0);
    CHECK(log.json);
    CHECK_EQ(log.level, HQ_LOG_INFO);
    /* hookqctl: no HOOKQ_MAP_SIZE keeps the database's own size. */
    REQUIRE(hq_settings_queue(&o, HQ_SETTINGS_KEEP_MAP_SIZE, &err) == 0);
    CHECK_EQ(o.lmdb.map_size, 0);
    setenv("HOOKQ_MAP_SIZE", "8GiB", 1);
    REQUIRE(hq_settings_queue(&o, HQ_SETTINGS_KEEP_MAP_SIZE, &err) == 0);
    CHECK_EQ(o.lmdb.map_size, 8ull << 30);
}

HQ_TEST(good_values)
{
    clean_env();
    setenv("HOOKQ_DB", "/srv/hookq", 1);
    setenv("HOOKQ_SYNC", "false", 1);
    setenv("HOOKQ_LOG_FORMAT", "text", 1);
    setenv("HOOKQ_LOG_LEVEL", "warn", 1);
    static const struct {
        const char *value;
        uint64_t bytes;
    } sizes[] = {{"1MiB", 1ull << 20}, {"4GiB", 4ull << 30}, {"16TiB", 1ull << 44}};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        setenv("HOOKQ_MAP_SIZE", sizes[i].value, 1);
        struct hq_queue_opts o;
        struct hq_cfgerr err = {{0}};
        REQUIRE(hq_settings_queue(&o, 0, &err) == 0);
        CHECK_EQ(o.lmdb.map_size, sizes[i].bytes);
        CHECK_STR(o.db, "/srv/hookq");
        CHECK(o.no_sync);
    }
    struct hq_log_settings log;
    struct hq_cfgerr err = {{0}};
    REQUIRE(hq_settings_log(&log, &err) == 0);
    CHECK(!log.json);
    CHECK_EQ(log.level, HQ_LOG_WARN);
}

/* Each bad value: HQ_ECONFIG and exactly this one line. */
HQ_TEST(bad_values_give_one_message_each)
{
    static const struct {
        const char *var, *value, *msg;
    } cases[] = {
        {"HOOKQ_MAP_SIZE", "100KiB",
         "HOOKQ_MAP_SIZE: out of range 1048576..17592186044416 bytes "
         "(got '100KiB')"},
        {"HOOKQ_MAP_SIZE", "17TiB",
         "HOOKQ_MAP_SIZE: out of range 1048576..17592186044416 bytes "
         "(got '17TiB')"},
        {"HOOKQ_MAP_SIZE", "0",
         "HOOKQ_MAP_SIZE: out of range 1048576..17592186044416 bytes "
         "(got '0')"},
        {"HOOKQ_MAP_SIZE", "lots",
         "HOOKQ_MAP_SIZE: not a size (use e.g. 65536, 64KiB, 25MiB, 4GiB) (got 'lots')"},
        {"HOOKQ_SYNC", "maybe", "HOOKQ_SYNC: not a boolean (use true or false) (got 'maybe')"},
        {"HOOKQ_DB", "mysql://h/db",
         "HOOKQ_DB: unknown scheme: use a directory (LMDB) or postgresql:// (got 'mysql://h/db')"},
        {"HOOKQ_DB", "foo://x",
         "HOOKQ_DB: unknown scheme: use a directory (LMDB) or postgresql:// (got 'foo://x')"},
        {"HOOKQ_LOG_FORMAT", "xml", "HOOKQ_LOG_FORMAT: must be json or text (got 'xml')"},
        {"HOOKQ_LOG_LEVEL", "loud",
         "HOOKQ_LOG_LEVEL: must be debug, info, warn or error (got 'loud')"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        clean_env();
        setenv(cases[i].var, cases[i].value, 1);
        struct hq_queue_opts o;
        struct hq_log_settings log;
        struct hq_cfgerr err = {{0}};
        int rc = hq_settings_queue(&o, 0, &err);
        if (rc == 0)
            rc = hq_settings_log(&log, &err);
        CHECK_EQ(rc, HQ_ECONFIG);
        CHECK_STR(err.msg, cases[i].msg);
        /* hookqctl's flag changes nothing about a bad value. */
        memset(&err, 0, sizeof(err));
        rc = hq_settings_queue(&o, HQ_SETTINGS_KEEP_MAP_SIZE, &err);
        if (rc == 0)
            rc = hq_settings_log(&log, &err);
        CHECK_EQ(rc, HQ_ECONFIG);
        CHECK_STR(err.msg, cases[i].msg);
    }
}

HQ_TEST(postgres_uris_are_valid_settings)
{
    clean_env();
    setenv("HOOKQ_DB", "postgresql://alice:s3cret@db.example:5432/hookq?sslmode=require", 1);
    struct hq_queue_opts o;
    struct hq_cfgerr err = {{0}};
    CHECK_EQ(hq_settings_queue(&o, 0, &err), 0);
    CHECK_STR(o.db, "postgresql://alice:s3cret@db.example:5432/hookq?sslmode=require");
    CHECK_EQ(hq_settings_db("--db", "POSTGRES://h/db", &err), 0);
}

HQ_TEST(db_passwords_are_never_shown)
{
    clean_env();
    setenv("HOOKQ_DB", "mysql://alice:s3cret@db.example:5432/hookq?sslmode=require", 1);
    struct hq_queue_opts o;
    struct hq_cfgerr err = {{0}};
    CHECK_EQ(hq_settings_queue(&o, 0, &err), HQ_ECONFIG);
    CHECK_STR(err.msg, "HOOKQ_DB: unknown scheme: use a directory (LMDB) or postgresql:// "
                       "(got 'mysql://***@db.example:5432/hookq?sslmode=require')");
    CHECK_EQ(hq_settings_db("--db", "foo://u:p@ss@h/db?password=s3cret&x=1", &err), HQ_ECONFIG);
    CHECK(strstr(err.msg, "s3cret") == NULL && strstr(err.msg, "p@ss") == NULL);
    CHECK(strncmp(err.msg, "--db: ", 6) == 0);

    static const struct {
        const char *in, *out;
    } masks[] = {
        {"/var/lib/hookq", "/var/lib/hookq"},
        {"postgresql://h/db", "postgresql://h/db"},
        {"postgresql://alice@h/db", "postgresql://***@h/db"},
        {"postgresql://a:b@c@h", "postgresql://***@h"},
        {"postgresql://h/db?user=a&password=s3cret&x=1",
         "postgresql://h/db?user=a&password=***&x=1"},
        {"postgresql://h/db?PASSWORD=s3cret", "postgresql://h/db?PASSWORD=***"},
        {"postgresql://h/db#a@b", "postgresql://h/db#a@b"},
    };
    for (size_t i = 0; i < sizeof(masks) / sizeof(masks[0]); i++) {
        char out[128];
        hq_settings_mask_db(masks[i].in, out, sizeof(out));
        CHECK_STR(out, masks[i].out);
    }
    char small[16];
    hq_settings_mask_db("postgresql://alice:s3cret@h/db", small, sizeof(small));
    CHECK_STR(small, "postgresql://**");
}

HQ_TEST(too_long_db_is_refused)
{
    clean_env();
    static char db[HQ_MAX_DB_LEN + 2];
    hqtest_repeat(db, sizeof(db), "d", HQ_MAX_DB_LEN + 1);
    setenv("HOOKQ_DB", db, 1);
    struct hq_queue_opts o;
    struct hq_cfgerr err = {{0}};
    CHECK_EQ(hq_settings_queue(&o, 0, &err), HQ_ECONFIG);
    CHECK(strncmp(err.msg, "HOOKQ_DB: too long", 18) == 0);
}

HQ_TEST(usage_rows_name_every_shared_variable)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    REQUIRE(fp != NULL);
    hq_settings_usage(fp, HQ_SETTINGS_USAGE_QUEUE | HQ_SETTINGS_USAGE_LOG, 20, 16);
    fclose(fp);
    static const char *const vars[] = {"HOOKQ_DB", "HOOKQ_MAP_SIZE", "HOOKQ_SYNC",
                                       "HOOKQ_LOG_FORMAT", "HOOKQ_LOG_LEVEL"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        CHECK(strstr(buf, vars[i]) != NULL);
    CHECK(strstr(buf, "/var/lib/hookq") != NULL && strstr(buf, "4GiB") != NULL);
    free(buf);
}

int main(int argc, char **argv)
{
    return hqtest_main(argc, argv);
}
