/* test_config: value parsers (table-driven), environment readers, the
 * worker's configuration and target URL template, RFC 3339 times. */
#include "clock.h"
#include "config.h"
#include "hqtest.h"
#include "worker_config.h"

HQ_TEST(durations)
{
    static const struct {
        const char *in;
        int rc;
        int64_t ms;
    } rows[] = {{"500ms", 0, 500},
                {"30s", 0, 30000},
                {"10m", 0, 600000},
                {"2h", 0, 7200000},
                {"7d", 0, 604800000},
                {"1.5s", 0, 1500},
                {"15", 0, 15000},
                {"0", 0, 0},
                {"", HQ_ECONFIG, 0},
                {"ms", HQ_ECONFIG, 0},
                {"10x", HQ_ECONFIG, 0},
                {"-5s", HQ_ECONFIG, 0},
                {"5 s", HQ_ECONFIG, 0},
                {"1e3s", HQ_ECONFIG, 0},
                {"99999999999999999999d", HQ_ECONFIG, 0}};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int64_t ms = -1;
        int rc = hq_parse_duration_ms(rows[i].in, &ms);
        if (rc != rows[i].rc)
            fprintf(stderr, "  duration '%s'\n", rows[i].in);
        CHECK_EQ(rc, rows[i].rc);
        if (rc == 0)
            CHECK_EQ(ms, rows[i].ms);
    }
}

HQ_TEST(sizes)
{
    static const struct {
        const char *in;
        int rc;
        uint64_t b;
    } rows[] = {{"1024", 0, 1024},          {"64KiB", 0, 65536},           {"25MiB", 0, 26214400},
                {"4GiB", 0, 4294967296ull}, {"1TiB", 0, 1099511627776ull}, {"2k", 0, 2048},
                {"1M", 0, 1048576},         {"10MB", 0, 10485760},         {"", HQ_ECONFIG, 0},
                {"MiB", HQ_ECONFIG, 0},     {"5PiB", HQ_ECONFIG, 0},       {"-1", HQ_ECONFIG, 0},
                {"1 MiB", HQ_ECONFIG, 0}};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        uint64_t b = 0;
        int rc = hq_parse_size(rows[i].in, &b);
        if (rc != rows[i].rc)
            fprintf(stderr, "  size '%s'\n", rows[i].in);
        CHECK_EQ(rc, rows[i].rc);
        if (rc == 0)
            CHECK_EQ(b, rows[i].b);
    }
}

HQ_TEST(booleans_and_integers)
{
    bool b;
    CHECK_EQ(hq_parse_bool("TRUE", &b), 0);
    CHECK(b);
    CHECK_EQ(hq_parse_bool("off", &b), 0);
    CHECK(!b);
    CHECK_EQ(hq_parse_bool("maybe", &b), HQ_ECONFIG);
    uint64_t v;
    CHECK_EQ(hq_parse_uint("42", 1, 100, &v), 0);
    CHECK_EQ(v, 42);
    CHECK_EQ(hq_parse_uint("0", 1, 100, &v), HQ_ECONFIG);
    CHECK_EQ(hq_parse_uint("101", 1, 100, &v), HQ_ECONFIG);
    CHECK_EQ(hq_parse_uint("4x", 1, 100, &v), HQ_ECONFIG);
    CHECK_EQ(hq_parse_uint("-4", 0, 100, &v), HQ_ECONFIG);
    CHECK_EQ(hq_parse_uint("99999999999999999999999", 0, UINT64_MAX, &v), HQ_ECONFIG);
}

HQ_TEST(env_errors_name_the_variable)
{
    struct hq_cfgerr err = {{0}};
    int64_t ms;
    setenv("HOOKQ_LEASE", "soon", 1);
    CHECK_EQ(hq_env_duration("HOOKQ_LEASE", 60000, 1000, 86400000, &ms, &err), HQ_ECONFIG);
    CHECK(strncmp(err.msg, "HOOKQ_LEASE: ", 13) == 0);
    CHECK(strstr(err.msg, "'soon'") != NULL);
    setenv("HOOKQ_LEASE", "10ms", 1);
    CHECK_EQ(hq_env_duration("HOOKQ_LEASE", 60000, 1000, 86400000, &ms, &err), HQ_ECONFIG);
    CHECK(strstr(err.msg, "out of range") != NULL);
    unsetenv("HOOKQ_LEASE");
    CHECK_EQ(hq_env_duration("HOOKQ_LEASE", 60000, 1000, 86400000, &ms, &err), 0);
    CHECK_EQ(ms, 60000);
}

static void worker_env(void)
{
    static const char *const names[] = {
        "HOOKQ_APP_ID",       "HOOKQ_APP_KEY_FILE",    "HOOKQ_TOKEN_FILE",
        "HOOKQ_CHECK_CMD",    "CREDENTIALS_DIRECTORY", "HOOKQ_WORKERS",
        "HOOKQ_BACKOFF_BASE", "HOOKQ_BACKOFF_MAX",     "HOOKQ_GITHUB_API",
        "HOOKQ_REPORT",       "HOOKQ_CHECK_NAME",      "HOOKQ_STATUS_CONTEXT"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        unsetenv(names[i]);
}

static const char *load_err(void)
{
    static struct hq_cfgerr err;
    struct worker_config c;
    memset(&err, 0, sizeof(err));
    int rc = worker_config_load(&c, &err);
    worker_config_free(&c);
    return rc == 0 ? "" : err.msg;
}

HQ_TEST(worker_config_report_and_check_name)
{
    worker_env();
    setenv("HOOKQ_CHECK_CMD", "true", 1);
    setenv("HOOKQ_TOKEN_FILE", "/etc/token", 1);
    struct hq_cfgerr err = {0};
    struct worker_config c;
    REQUIRE(worker_config_load(&c, &err) == 0);
    CHECK_EQ(c.report, HQ_REPORT_STATUSES); /* today's behaviour by default */
    CHECK_STR(c.check_name, "hookq");
    worker_config_free(&c);
    setenv("HOOKQ_REPORT", "checks", 1);
    CHECK(strncmp(load_err(), "HOOKQ_REPORT: check runs need a GitHub App", 42) == 0);
    unsetenv("HOOKQ_TOKEN_FILE");
    setenv("HOOKQ_APP_ID", "12", 1);
    setenv("HOOKQ_APP_KEY_FILE", "/etc/key.pem", 1);
    setenv("HOOKQ_STATUS_CONTEXT", "ci/hookq", 1);
    REQUIRE(worker_config_load(&c, &err) == 0);
    CHECK_EQ(c.report, HQ_REPORT_CHECKS);
    CHECK_STR(c.check_name, "ci/hookq"); /* the context by default */
    worker_config_free(&c);
    setenv("HOOKQ_REPORT", "both", 1);
    setenv("HOOKQ_CHECK_NAME", "lint", 1);
    REQUIRE(worker_config_load(&c, &err) == 0);
    CHECK_EQ(c.report, HQ_REPORT_BOTH);
    CHECK_STR(c.check_name, "lint");
    CHECK_STR(c.context, "ci/hookq");
    worker_config_free(&c);
    char long_name[102];
    memset(long_name, 'n', 101);
    long_name[101] = '\0';
    setenv("HOOKQ_CHECK_NAME", long_name, 1);
    CHECK(strncmp(load_err(), "HOOKQ_CHECK_NAME: ", 18) == 0);
    unsetenv("HOOKQ_CHECK_NAME");
    setenv("HOOKQ_REPORT", "Checks", 1);
    CHECK(strncmp(load_err(), "HOOKQ_REPORT: expected statuses, checks or both", 47) == 0);
    worker_env();
}

HQ_TEST(worker_config_requires_check_and_credentials)
{
    worker_env();
    CHECK(strncmp(load_err(), "HOOKQ_CHECK_CMD: required", 25) == 0);
    setenv("HOOKQ_CHECK_CMD", "true", 1);
    CHECK(strncmp(load_err(), "HOOKQ_APP_ID: no GitHub credentials", 35) == 0);
    setenv("HOOKQ_APP_ID", "12", 1);
    CHECK(strncmp(load_err(), "HOOKQ_APP_KEY_FILE: required", 28) == 0);
    setenv("HOOKQ_APP_KEY_FILE", "/etc/key.pem", 1);
    CHECK_STR(load_err(), "");
    setenv("HOOKQ_TOKEN_FILE", "/etc/token", 1);
    CHECK(strncmp(load_err(), "HOOKQ_TOKEN_FILE: give either", 29) == 0);
    unsetenv("HOOKQ_APP_ID");
    unsetenv("HOOKQ_APP_KEY_FILE");
    CHECK_STR(load_err(), "");
    setenv("HOOKQ_WORKERS", "0", 1);
    CHECK(strncmp(load_err(), "HOOKQ_WORKERS: ", 15) == 0);
    unsetenv("HOOKQ_WORKERS");
    setenv("HOOKQ_BACKOFF_BASE", "5m", 1);
    setenv("HOOKQ_BACKOFF_MAX", "1m", 1);
    CHECK(strncmp(load_err(), "HOOKQ_BACKOFF_MAX: ", 19) == 0);
    unsetenv("HOOKQ_BACKOFF_BASE");
    unsetenv("HOOKQ_BACKOFF_MAX");
    setenv("HOOKQ_GITHUB_API", "ftp://x", 1);
    CHECK(strncmp(load_err(), "HOOKQ_GITHUB_API: ", 18) == 0);
}

HQ_TEST(worker_credentials_from_systemd_credentials_directory)
{
    worker_env();
    setenv("HOOKQ_CHECK_CMD", "true", 1);
    setenv("CREDENTIALS_DIRECTORY", hqtest_dir(), 1);
    char p[512];
    snprintf(p, sizeof(p), "%s/token", hqtest_dir());
    FILE *fp = fopen(p, "w");
    REQUIRE(fp != NULL);
    fputs("ghp_abc\n", fp);
    fclose(fp);
    struct worker_config c;
    struct hq_cfgerr err;
    CHECK_EQ(worker_config_load(&c, &err), 0);
    CHECK_STR(c.token_path, p);
    worker_config_free(&c);
}

HQ_TEST(target_url_template)
{
    char out[128];
    CHECK_EQ(worker_target_url("https://ci/{repo}/{sha}?d={delivery}&x={other}", "o/r", "abc",
                               "g-1", out, sizeof(out)),
             0);
    CHECK_STR(out, "https://ci/o/r/abc?d=g-1&x={other}");
    CHECK_EQ(worker_target_url("{repo}{repo}", "0123456789", "", "", out, 16), HQ_ETOOBIG);
}

HQ_TEST(rfc3339_round_trip)
{
    char buf[40];
    CHECK_EQ(hq_format_rfc3339(1700000000123, buf, sizeof(buf)), 0);
    CHECK_STR(buf, "2023-11-14T22:13:20.123Z");
    int64_t ms;
    CHECK_EQ(hq_parse_rfc3339(buf, &ms), 0);
    CHECK_EQ(ms, 1700000000123);
    CHECK_EQ(hq_parse_rfc3339("2023-11-14T23:13:20+01:00", &ms), 0);
    CHECK_EQ(ms, 1700000000000);
    CHECK_EQ(hq_parse_rfc3339("2023-11-14", &ms), HQ_EPARSE);
    CHECK_EQ(hq_parse_rfc3339("2023-13-14T00:00:00Z", &ms), HQ_EPARSE);
    CHECK_EQ(hq_parse_rfc3339("2023-11-14T00:00:00Zjunk", &ms), HQ_EPARSE);
}

HQ_TEST(read_file_is_bounded)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/f", hqtest_dir());
    FILE *fp = fopen(p, "w");
    REQUIRE(fp != NULL);
    for (int i = 0; i < 10000; i++)
        fputc('a', fp);
    fclose(fp);
    char *buf;
    size_t len;
    CHECK_EQ(hq_read_file(p, 100, &buf, &len), HQ_ETOOBIG);
    CHECK_EQ(hq_read_file(p, 10000, &buf, &len), 0);
    CHECK_EQ(len, 10000);
    free(buf);
    CHECK_EQ(hq_read_file("/nonexistent", 100, &buf, &len), -ENOENT);
    CHECK_EQ(hq_read_file(hqtest_dir(), 100, &buf, &len), -EISDIR);
    CHECK_EQ(hq_read_file(p, 9999, &buf, &len), HQ_ETOOBIG); /* one byte over */
}

HQ_TEST(read_file_of_an_empty_file_gives_an_empty_string)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/empty", hqtest_dir());
    FILE *fp = fopen(p, "w");
    REQUIRE(fp != NULL);
    fclose(fp);
    char *buf = NULL;
    size_t len = 1;
    CHECK_EQ(hq_read_file(p, 0, &buf, &len), 0);
    REQUIRE(buf != NULL);
    CHECK_EQ(len, 0);
    CHECK_EQ(buf[0], '\0');
    free(buf);
}

int main(int argc, char **argv)
{
    return hqtest_main(argc, argv);
}
