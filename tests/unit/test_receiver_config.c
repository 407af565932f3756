/*
 * test_receiver_config: the receiver's environment (receiver/receiver_config.h)
 * — defaults, each bad value naming its variable, secrets from a file or
 * from $CREDENTIALS_DIRECTORY, HOOKQ_LISTEN forms.
 */
#include "hqtest.h"
#include "receiver_config.h"

static const char *const all_vars[] = {
    "HOOKQ_DB",
    "HOOKQ_MAP_SIZE",
    "HOOKQ_LISTEN",
    "HOOKQ_WEBHOOK_PATH",
    "HOOKQ_WEBHOOK_SECRET_FILE",
    "HOOKQ_EVENTS",
    "HOOKQ_MAX_BODY",
    "HOOKQ_LOG_FORMAT",
    "HOOKQ_LOG_LEVEL",
    "HOOKQ_DEDUP_WINDOW",
    "HOOKQ_SYNC",
    "HOOKQ_RECEIVER_THREADS",
    "HOOKQ_RECEIVER_TIMEOUT",
    "HOOKQ_MAX_CONNECTIONS",
    "HOOKQ_MAX_PENDING",
    "HOOKQ_MAX_BUFFERED",
    "CREDENTIALS_DIRECTORY",
};

/* A clean environment with a readable secret file. */
static void setup(void)
{
    for (size_t i = 0; i < sizeof(all_vars) / sizeof(all_vars[0]); i++)
        unsetenv(all_vars[i]);
    char path[512];
    snprintf(path, sizeof(path), "%s/secret", hqtest_dir());
    FILE *fp = fopen(path, "w");
    REQUIRE(fp != NULL);
    fputs("s3cret-one\ns3cret-two\n", fp);
    fclose(fp);
    setenv("HOOKQ_WEBHOOK_SECRET_FILE", path, 1);
}

HQ_TEST(defaults)
{
    setup();
    struct receiver_config c;
    struct hq_cfgerr err = {{0}};
    REQUIRE(receiver_config_load(&c, &err) == 0);
    CHECK_STR(c.queue.db, "/var/lib/hookq");
    CHECK_EQ(c.queue.lmdb.map_size, 4ull << 30);
    CHECK(!c.listen.is_unix);
    CHECK_STR(c.listen.host, "127.0.0.1");
    CHECK_STR(c.listen.port, "8080");
    CHECK_STR(c.webhook_path, "/webhook");
    CHECK_EQ(c.max_body, 25ull << 20);
    CHECK(!c.all_events);
    CHECK_STR(c.events[0], "push");
    CHECK_STR(c.events[1], "pull_request");
    CHECK(c.events[2] == NULL);
    CHECK(c.log.json);
    CHECK_EQ(c.log.level, HQ_LOG_INFO);
    CHECK_EQ(c.queue.dedup_window_ms, 7ll * 86400000);
    CHECK(!c.queue.no_sync);
    CHECK_EQ(hq_sigkeys_count(c.keys), 2);
    CHECK_STR(hq_sigkeys_secret(c.keys, 1), "s3cret-two");
    receiver_config_free(&c);
}

HQ_TEST(values_with_units)
{
    setup();
    setenv("HOOKQ_MAP_SIZE", "1MiB", 1);
    setenv("HOOKQ_MAX_BODY", "64KiB", 1);
    setenv("HOOKQ_DEDUP_WINDOW", "3d", 1);
    setenv("HOOKQ_SYNC", "false", 1);
    setenv("HOOKQ_EVENTS", "*", 1);
    setenv("HOOKQ_LISTEN", "unix:/run/hookq/receiver.sock", 1);
    setenv("HOOKQ_LOG_FORMAT", "text", 1);
    setenv("HOOKQ_LOG_LEVEL", "debug", 1);
    setenv("HOOKQ_RECEIVER_TIMEOUT", "1500ms", 1);
    struct receiver_config c;
    struct hq_cfgerr err = {{0}};
    REQUIRE(receiver_config_load(&c, &err) == 0);
    CHECK_EQ(c.queue.lmdb.map_size, 1 << 20);
    CHECK_EQ(c.max_body, 64 << 10);
    CHECK_EQ(c.queue.dedup_window_ms, 3ll * 86400000);
    CHECK(c.queue.no_sync);
    CHECK(c.all_events);
    CHECK(c.listen.is_unix);
    CHECK_STR(c.listen.path, "/run/hookq/receiver.sock");
    CHECK(!c.log.json);
    CHECK_EQ(c.log.level, HQ_LOG_DEBUG);
    CHECK_EQ(c.timeout_s, 2);
    receiver_config_free(&c);
}

/* Each bad value fails the load with a line that starts with its name. */
HQ_TEST(bad_values_name_the_variable)
{
    static const struct {
        const char *var, *value;
    } cases[] = {
        {"HOOKQ_MAP_SIZE", "lots"},
        {"HOOKQ_MAP_SIZE", "1k"},
        {"HOOKQ_LISTEN", "8080"},
        {"HOOKQ_LISTEN", "127.0.0.1:99999"},
        {"HOOKQ_LISTEN", "::1:80"},
        {"HOOKQ_LISTEN", "unix:relative"},
        {"HOOKQ_WEBHOOK_PATH", "webhook"},
        {"HOOKQ_WEBHOOK_PATH", "/metrics"},
        {"HOOKQ_EVENTS", "push,,bad name"},
        {"HOOKQ_MAX_BODY", "-1"},
        {"HOOKQ_MAX_BODY", "10"},
        {"HOOKQ_LOG_FORMAT", "xml"},
        {"HOOKQ_LOG_LEVEL", "loud"},
        {"HOOKQ_DEDUP_WINDOW", "forever"},
        {"HOOKQ_SYNC", "maybe"},
        {"HOOKQ_RECEIVER_THREADS", "0"},
        {"HOOKQ_RECEIVER_THREADS", "two"},
        {"HOOKQ_RECEIVER_TIMEOUT", "0s"},
        {"HOOKQ_MAX_CONNECTIONS", "0"},
        {"HOOKQ_MAX_PENDING", "0"},
        {"HOOKQ_MAX_BUFFERED", "1KiB"},
        {"HOOKQ_WEBHOOK_SECRET_FILE", "/nonexistent/secret"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        setup();
        setenv(cases[i].var, cases[i].value, 1);
        struct receiver_config c;
        struct hq_cfgerr err = {{0}};
        int rc = receiver_config_load(&c, &err);
        CHECK_EQ(rc, HQ_ECONFIG);
        if (strncmp(err.msg, cases[i].var, strlen(cases[i].var)) != 0 ||
            strchr(err.msg, '\n') != NULL) {
            fprintf(stderr, "  %s=%s gave '%s'\n", cases[i].var, cases[i].value, err.msg);
            CHECK(false);
        }
    }
}

HQ_TEST(secret_required_and_nonempty)
{
    setup();
    unsetenv("HOOKQ_WEBHOOK_SECRET_FILE");
    struct receiver_config c;
    struct hq_cfgerr err = {{0}};
    CHECK_EQ(receiver_config_load(&c, &err), HQ_ECONFIG);
    CHECK(strncmp(err.msg, "HOOKQ_WEBHOOK_SECRET_FILE:", 26) == 0);

    char path[512];
    snprintf(path, sizeof(path), "%s/empty", hqtest_dir());
    FILE *fp = fopen(path, "w");
    REQUIRE(fp != NULL);
    fputs("\n\n", fp);
    fclose(fp);
    setenv("HOOKQ_WEBHOOK_SECRET_FILE", path, 1);
    CHECK_EQ(receiver_config_load(&c, &err), HQ_ECONFIG);
    CHECK(strncmp(err.msg, "HOOKQ_WEBHOOK_SECRET_FILE:", 26) == 0);
    /* The message never carries file content. */
    CHECK(strstr(err.msg, "s3cret") == NULL);
}

HQ_TEST(secret_from_credentials_directory)
{
    setup();
    unsetenv("HOOKQ_WEBHOOK_SECRET_FILE");
    char path[512];
    snprintf(path, sizeof(path), "%s/webhook-secret", hqtest_dir());
    FILE *fp = fopen(path, "w");
    REQUIRE(fp != NULL);
    fputs("from-systemd\n", fp);
    fclose(fp);
    setenv("CREDENTIALS_DIRECTORY", hqtest_dir(), 1);
    struct receiver_config c;
    struct hq_cfgerr err = {{0}};
    REQUIRE(receiver_config_load(&c, &err) == 0);
    CHECK_EQ(hq_sigkeys_count(c.keys), 1);
    CHECK_STR(hq_sigkeys_secret(c.keys, 0), "from-systemd");
    receiver_config_free(&c);
}

HQ_TEST(listen_forms)
{
    static const struct {
        const char *value;
        int rc;
        bool is_unix;
        const char *host, *port;
    } cases[] = {
        {"127.0.0.1:8080", 0, false, "127.0.0.1", "8080"},
        {"0.0.0.0:0", 0, false, "0.0.0.0", "0"},
        {"localhost:80", 0, false, "localhost", "80"},
        {"[::1]:9000", 0, false, "::1", "9000"},
        {":8080", HQ_ECONFIG, false, NULL, NULL},
        {"host:", HQ_ECONFIG, false, NULL, NULL},
        {"host:http", HQ_ECONFIG, false, NULL, NULL},
        {"[::1:9000", HQ_ECONFIG, false, NULL, NULL},
        {"unix:/tmp/r.sock", 0, true, NULL, NULL},
        {"unix:", HQ_ECONFIG, false, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct hq_httpd_listen l;
        const char *why = NULL;
        int rc = hq_httpd_listen_parse(cases[i].value, &l, &why);
        if (rc != cases[i].rc)
            fprintf(stderr, "  case %zu: '%s' gave %d\n", i, cases[i].value, rc);
        CHECK_EQ(rc, cases[i].rc);
        if (rc != 0) {
            CHECK(why != NULL);
            continue;
        }
        CHECK_EQ(l.is_unix, cases[i].is_unix);
        if (!l.is_unix) {
            CHECK_STR(l.host, cases[i].host);
            CHECK_STR(l.port, cases[i].port);
        }
    }
    char longpath[200] = "unix:/";
    memset(longpath + 6, 'p', 150);
    longpath[156] = '\0';
    struct hq_httpd_listen l;
    const char *why;
    CHECK_EQ(hq_httpd_listen_parse(longpath, &l, &why), HQ_ECONFIG);
}

HQ_TEST(usage_lists_every_variable)
{
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    REQUIRE(fp != NULL);
    receiver_config_usage(fp);
    fclose(fp);
    for (size_t i = 0; i < sizeof(all_vars) / sizeof(all_vars[0]); i++) {
        if (strcmp(all_vars[i], "CREDENTIALS_DIRECTORY") == 0)
            continue;
        if (strstr(text, all_vars[i]) == NULL) {
            fprintf(stderr, "  --help misses %s\n", all_vars[i]);
            CHECK(false);
        }
    }
    free(text);
}

int main(int argc, char **argv)
{
    return hqtest_main(argc, argv);
}
