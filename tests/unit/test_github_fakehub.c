/*
 * test_github_fakehub: the GitHub client against the real fakehub binary on
 * loopback. Every case starts its own fakehub (its own faults) in its own
 * temporary directory and proves the client's behaviour by what fakehub
 * recorded: the requests GitHub would have seen.
 *
 * fakehub is found through $HOOKQ_FAKEHUB, else next to this program
 * (build/tests/fakehub/fakehub, where tests/fakehub/CMakeLists.txt puts it).
 */
#include "clock.h"
#include "github.h"
#include "hqtest.h"
#include "metrics.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <time.h>

#define SHA      "0123456789abcdef0123456789abcdef01234567"
#define APP_ID   42
#define MAX_ARGS 48

struct fakehub {
    pid_t pid;
    char url[64];
    char record[PATH_MAX];
};

static void sh(const char *cmd)
{
    REQUIRE(setenv("D", hqtest_dir(), 1) == 0);
    REQUIRE(system(cmd) == 0);
}

static void in_dir(char *buf, size_t cap, const char *name)
{
    int n = snprintf(buf, cap, "%s/%s", hqtest_dir(), name);
    REQUIRE(n > 0 && (size_t)n < cap);
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void fakehub_binary(char *out, size_t cap)
{
    const char *env = getenv("HOOKQ_FAKEHUB");
    if (env != NULL && env[0] != '\0') {
        REQUIRE(snprintf(out, cap, "%s", env) < (int)cap);
        return;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    REQUIRE(n > 0);
    exe[n] = '\0';
    int w = snprintf(out, cap, "%s/fakehub/fakehub", dirname(exe));
    REQUIRE(w > 0 && (size_t)w < cap);
    if (access(out, X_OK) != 0) {
        fprintf(stderr, "  fakehub not found at %s (set HOOKQ_FAKEHUB)\n", out);
        exit(1);
    }
}

/* The App's key pair in the case's directory: key.pem and pub.pem. */
static void make_keys(void)
{
    sh("openssl genrsa -out \"$D/key.pem\" 2048 2>/dev/null && "
       "openssl rsa -in \"$D/key.pem\" -pubout -out \"$D/pub.pem\" 2>/dev/null");
}

/* Starts fakehub with the App's key, a record, and the extra flags (NULL-terminated). */
static void fakehub_start(struct fakehub *fh, ...)
{
    char bin[PATH_MAX], pub[PATH_MAX], portfile[PATH_MAX], log[PATH_MAX], app[16];
    const char *argv[MAX_ARGS];
    int argc = 0;
    fakehub_binary(bin, sizeof(bin));
    make_keys();
    in_dir(pub, sizeof(pub), "pub.pem");
    in_dir(portfile, sizeof(portfile), "port");
    in_dir(fh->record, sizeof(fh->record), "record.jsonl");
    in_dir(log, sizeof(log), "fakehub.log");
    snprintf(app, sizeof(app), "%d", APP_ID);
    argv[argc++] = bin;
    argv[argc++] = "--listen";
    argv[argc++] = "127.0.0.1:0";
    argv[argc++] = "--port-file";
    argv[argc++] = portfile;
    argv[argc++] = "--record";
    argv[argc++] = fh->record;
    argv[argc++] = "--app-id";
    argv[argc++] = app;
    argv[argc++] = "--app-public-key";
    argv[argc++] = pub;
    argv[argc++] = "--seed";
    argv[argc++] = "7";
    va_list ap;
    va_start(ap, fh);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL) {
        REQUIRE(argc < MAX_ARGS - 1);
        argv[argc++] = a;
    }
    va_end(ap);
    argv[argc] = NULL;

    fh->pid = fork();
    REQUIRE(fh->pid >= 0);
    if (fh->pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) { /* up to 5 s for the port file */
        FILE *f = fopen(portfile, "r");
        unsigned port = 0;
        if (f != NULL) {
            int got = fscanf(f, "%u", &port);
            fclose(f);
            if (got == 1 && port > 0) {
                snprintf(fh->url, sizeof(fh->url), "http://127.0.0.1:%u/", port);
                return;
            }
        }
        int st;
        REQUIRE(waitpid(fh->pid, &st, WNOHANG) == 0); /* it must not have died */
        sleep_ms(10);
    }
    REQUIRE(!"fakehub did not start");
}

/* Stops fakehub (SIGTERM flushes the record). */
static void fakehub_stop(struct fakehub *fh)
{
    int st = 0;
    if (fh->pid <= 0)
        return;
    kill(fh->pid, SIGTERM);
    while (waitpid(fh->pid, &st, 0) < 0 && errno == EINTR)
        ;
    fh->pid = 0;
}

/* The record as a JSON array of request objects. */
static cJSON *record_load(const struct fakehub *fh)
{
    cJSON *all = cJSON_CreateArray();
    FILE *f = fopen(fh->record, "r");
    REQUIRE(all != NULL && f != NULL);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        cJSON *o = cJSON_Parse(line);
        REQUIRE(o != NULL);
        cJSON_AddItemToArray(all, o);
    }
    free(line);
    fclose(f);
    return all;
}

static const char *str_of(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static int int_of(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? (int)v->valuedouble : -1;
}

/* Requests of a route (NULL: any) with a status (0: any). */
static int count(const cJSON *rec, const char *route, int status)
{
    int n = 0;
    const cJSON *o;
    cJSON_ArrayForEach(o, rec)
    {
        if ((route == NULL || strcmp(str_of(o, "route"), route) == 0) &&
            (status == 0 || int_of(o, "status") == status))
            n++;
    }
    return n;
}

static int count_failures(const cJSON *rec)
{
    int n = 0;
    const cJSON *o;
    cJSON_ArrayForEach(o, rec)
    {
        if (int_of(o, "status") >= 300)
            n++;
    }
    return n;
}

static hq_github *client(const struct fakehub *fh, void (*tweak)(struct hq_github_opts *))
{
    char key[PATH_MAX];
    in_dir(key, sizeof(key), "key.pem");
    struct hq_github_opts o;
    struct hq_cfgerr err = {{0}};
    hq_github_opts_init(&o);
    o.api_url = fh->url;
    o.app_id = APP_ID;
    o.app_key_path = key;
    o.connect_timeout_ms = 2000;
    o.total_timeout_ms = 3000;
    o.pacing.enabled = false;
    o.max_in_flight = 64;
    o.err = &err;
    if (tweak != NULL)
        tweak(&o);
    hq_github *gh = NULL;
    int rc = hq_github_create(&o, &gh);
    if (rc != 0)
        fprintf(stderr, "  create: %s: %s\n", hq_strerror(rc), err.msg);
    REQUIRE(rc == 0);
    return gh;
}

static struct hq_gh_result post(hq_github *gh, const char *repo, uint64_t inst)
{
    struct hq_gh_result r;
    REQUIRE(hq_github_post_status(gh, repo, inst, SHA, "success", "hookq", "all good",
                                  "https://ci.example/1", &r) == 0);
    return r;
}

/* ---- single-flight from a cold cache ------------------------------------------------------ */

struct poster {
    hq_github *gh;
    int index;
    int ok, other;
};

static void *poster_main(void *p)
{
    struct poster *ps = p;
    char repo[64];
    snprintf(repo, sizeof(repo), "org/repo%d", ps->index % 8);
    for (int i = 0; i < 5; i++) {
        struct hq_gh_result r = post(ps->gh, repo, 100 + (uint64_t)(ps->index % 8));
        if (r.outcome == HQ_GH_OK)
            ps->ok++;
        else
            ps->other++;
    }
    return NULL;
}

HQ_TEST(cold_cache_64_threads_8_installations_one_token_each)
{
    struct fakehub fh;
    fakehub_start(&fh, "--revoke-older", "--latency-ms", "20", NULL);
    hq_metrics *m = NULL;
    REQUIRE(hq_metrics_create(&m) == 0);
    char key[PATH_MAX];
    in_dir(key, sizeof(key), "key.pem");
    struct hq_github_opts o;
    hq_github_opts_init(&o);
    o.api_url = fh.url;
    o.app_id = APP_ID;
    o.app_key_path = key;
    o.pacing.enabled = false;
    o.max_in_flight = 64;
    o.metrics = m;
    hq_github *gh = NULL;
    REQUIRE(hq_github_create(&o, &gh) == 0);

    pthread_t th[64];
    struct poster ps[64];
    for (int i = 0; i < 64; i++) {
        ps[i] = (struct poster){.gh = gh, .index = i};
        REQUIRE(pthread_create(&th[i], NULL, poster_main, &ps[i]) == 0);
    }
    int ok = 0, other = 0;
    for (int i = 0; i < 64; i++) {
        pthread_join(th[i], NULL);
        ok += ps[i].ok;
        other += ps[i].other;
    }
    CHECK_EQ(ok, 64 * 5);
    CHECK_EQ(other, 0);
    struct hq_github_stats st;
    hq_github_get_stats(gh, &st);
    CHECK_EQ(st.token_requests, 8);
    char *text = NULL;
    size_t len = 0;
    REQUIRE(hq_metrics_render(m, &text, &len) == 0);
    CHECK(strstr(text, "hookq_token_requests_total 8") != NULL);
    CHECK(strstr(text, "hookq_github_requests_total{route=\"statuses\",status=\"201\"} 320") !=
          NULL);
    CHECK(strstr(text, "hookq_token_cache_hits_total 312") != NULL);
    CHECK(strstr(text, "ghs_") == NULL);
    free(text);
    hq_github_destroy(gh);
    hq_metrics_destroy(m);
    fakehub_stop(&fh);

    cJSON *rec = record_load(&fh);
    CHECK_EQ(count(rec, "access_tokens", 201), 8);
    CHECK_EQ(count(rec, "access_tokens", 0), 8);
    CHECK_EQ(count(rec, "statuses", 201), 320);
    CHECK_EQ(count_failures(rec), 0);
    /* what GitHub sees of every request */
    const cJSON *r;
    cJSON_ArrayForEach(r, rec)
    {
        CHECK_STR(str_of(r, "accept"), "application/vnd.github+json");
        CHECK_STR(str_of(r, "api_version"), "2022-11-28");
        CHECK(strncmp(str_of(r, "user_agent"), "hookq/", 6) == 0);
        if (strcmp(str_of(r, "route"), "statuses") == 0) {
            CHECK_STR(str_of(r, "cred"), "installation");
            const cJSON *b = cJSON_GetObjectItem(r, "body");
            CHECK_STR(str_of(b, "state"), "success");
            CHECK_STR(str_of(b, "context"), "hookq");
            CHECK_STR(str_of(b, "target_url"), "https://ci.example/1");
        } else {
            CHECK_STR(str_of(r, "cred"), "jwt");
        }
    }
    cJSON_Delete(rec);
}

/* ---- token lifetime ------------------------------------------------------------------------ */

static void margin_1500(struct hq_github_opts *o)
{
    o->token_margin_ms = 1500;
}

HQ_TEST(short_lived_tokens_are_renewed_before_they_expire)
{
    struct fakehub fh;
    fakehub_start(&fh, "--token-ttl", "3s", "--revoke-older", NULL);
    hq_github *gh = client(&fh, margin_1500);
    int64_t end = hq_mono_ms() + 7000;
    int posts = 0;
    while (hq_mono_ms() < end) {
        struct hq_gh_result r = post(gh, "org/short", 5);
        CHECK_EQ(r.outcome, HQ_GH_OK);
        posts++;
        sleep_ms(100);
    }
    hq_github_destroy(gh);
    fakehub_stop(&fh);
    cJSON *rec = record_load(&fh);
    CHECK_EQ(count(rec, "statuses", 401), 0);
    CHECK_EQ(count(rec, "statuses", 201), posts);
    /* 7 s of 3 s tokens (expires_at has whole seconds) renewed 1.5 s early */
    int tokens = count(rec, "access_tokens", 201);
    if (tokens < 4 || tokens > 14)
        fprintf(stderr, "  %d token requests\n", tokens);
    CHECK(tokens >= 4 && tokens <= 14); /* renewed early, yet cached */
    CHECK_EQ(count_failures(rec), 0);
    cJSON_Delete(rec);
}

static void long_token_opts(struct hq_github_opts *o)
{
    (void)o;
}

HQ_TEST(long_tokens_work)
{
    struct fakehub fh;
    fakehub_start(&fh, "--token-length", "700", NULL);
    hq_github *gh = client(&fh, long_token_opts);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(post(gh, "org/long", 9).outcome, HQ_GH_OK);
    hq_github_destroy(gh);
    fakehub_stop(&fh);
    cJSON *rec = record_load(&fh);
    CHECK_EQ(count(rec, "access_tokens", 201), 1);
    CHECK_EQ(count(rec, "statuses", 201), 3);
    cJSON_Delete(rec);
}

static void young_window_5s(struct hq_github_opts *o)
{
    o->young_token_retry_ms = 5000;
}

HQ_TEST(young_token_401_is_retried_and_succeeds)
{
    struct fakehub fh;
    fakehub_start(&fh, "--young-token-ms", "800", "--revoke-older", NULL);
    hq_github *gh = client(&fh, young_window_5s);
    struct hq_gh_result r = post(gh, "org/young", 3);
    CHECK_EQ(r.outcome, HQ_GH_OK);
    CHECK_EQ(r.http_status, 201);
    struct hq_github_stats st;
    hq_github_get_stats(gh, &st);
    CHECK(st.young_token_retries >= 1);
    hq_github_destroy(gh);
    fakehub_stop(&fh);
    cJSON *rec = record_load(&fh);
    CHECK(count(rec, "statuses", 401) >= 1);
    CHECK_EQ(count(rec, "statuses", 201), 1);
    CHECK_EQ(count(rec, "access_tokens", 0), 1); /* the young token was kept, not replaced */
    cJSON_Delete(rec);
}

static void no_young_window(struct hq_github_opts *o)
{
    o->young_token_retry_ms = 0;
}

HQ_TEST(persistent_401_one_fresh_token_then_retry)
{
    struct fakehub fh;
    fakehub_start(&fh, "--young-token-ms", "60000", NULL);
    hq_github *gh = client(&fh, no_young_window);
    struct hq_gh_result r = post(gh, "org/refused", 3);
    CHECK_EQ(r.outcome, HQ_GH_RETRY);
    CHECK_EQ(r.http_status, 401);
    hq_github_destroy(gh);
    fakehub_stop(&fh);
    cJSON *rec = record_load(&fh);
    CHECK_EQ(count(rec, "statuses", 401), 2); /* first try, one fresh-token retry */
    CHECK_EQ(count(rec, "access_tokens", 201), 2);
    cJSON_Delete(rec);
}

/* ---- the retry table through fakehub's faults ---------------------------------------------- */

HQ_TEST(rate_429_retry_after_waits_then_succeeds)
{
    struct fakehub fh;
    fakehub_start(&fh, "--rate-429", "0.5", "--retry-after", "2", NULL);
    hq_github *gh = client(&fh, NULL);
    int waits = 0, oks = 0;
    while (oks < 4) {
        int64_t before = hq_now_ms();
        struct hq_gh_result r = post(gh, "org/limited", 11);
        if (r.outcome == HQ_GH_WAIT) {
            waits++;
            CHECK_EQ(r.http_status, 429);
            CHECK(r.retry_at_ms >= before + 2000);
            CHECK(r.retry_at_ms <= hq_now_ms() + 2000 + 50);
            /* before that time the client does not even ask */
            struct hq_gh_result again = post(gh, "org/limited", 11);
            CHECK_EQ(again.outcome, HQ_GH_WAIT);
            CHECK_EQ(again.http_status, 0);
            sleep_ms(r.retry_at_ms - hq_now_ms());
        } else {
            CHECK_EQ(r.outcome, HQ_GH_OK);
            oks++;
        }
        REQUIRE(waits < 20);
    }
    CHECK(waits >= 1);
    hq_github_destroy(gh);
    fakehub_stop(&fh);
    cJSON *rec = record_load(&fh);
    CHECK_EQ(count(rec, "statuses", 429), waits);
    CHECK_EQ(count(rec, "statuses", 201), 4);
    /* every request after a 429 came at least 2 s later */
    double last429 = -1;
    const cJSON *o;
    cJSON_ArrayForEach(o, rec)
    {
        if (strcmp(str_of(o, "route"), "statuses") != 0)
            continue;
        double t = cJSON_GetObjectItem(o, "t")->valuedouble;
        if (last429 >= 0) {
            CHECK(t - last429 >= 1.999);
            last429 = -1;
        }
        if (int_of(o, "status") == 429)
            last429 = t;
    }
    cJSON_Delete(rec);
}

HQ_TEST(primary_403_waits_until_reset)
{
    struct fakehub fh;
    fakehub_start(&fh, "--primary-403", "1", "--reset-in", "3", NULL);
    hq_github *gh = client(&fh, NULL);
    int64_t before = hq_now_ms();
    struct hq_gh_result r = post(gh, "org/primary", 12);
    CHECK_EQ(r.outcome, HQ_GH_WAIT);
    CHECK_EQ(r.http_status, 403);
    CHECK_EQ(r.ratelimit_remaining, 0);
    CHECK(r.retry_at_ms >= before + 2000 && r.retry_at_ms <= before + 6000);
    hq_github_destroy(gh);
    fakehub_stop(&fh);
}

HQ_TEST(secondary_403_without_header_waits_a_minute)
{
    struct fakehub fh;
    fakehub_start(&fh, "--secondary-403", "1", NULL);
    hq_github *gh = client(&fh, NULL);
    int64_t before = hq_now_ms();
    struct hq_gh_result r = post(gh, "org/secondary", 13);
    CHECK_EQ(r.outcome, HQ_GH_WAIT);
    CHECK_EQ(r.http_status, 403);
    CHECK(r.retry_at_ms >= before + 60000 && r.retry_at_ms <= hq_now_ms() + 60000);
    hq_github_destroy(gh);
    fakehub_stop(&fh);
    cJSON *rec = record_load(&fh);
    CHECK_EQ(count(rec, "statuses", 403), 1);
    cJSON_Delete(rec);
}

HQ_TEST(secondary_403_with_retry_after)
{
    struct fakehub fh;
    fakehub_start(&fh, "--secondary-403", "1", "--secondary-retry-after", "3", NULL);
    hq_github *gh = client(&fh, NULL);
    int64_t before = hq_now_ms();
    struct hq_gh_result r = post(gh, "org/secondary", 13);
    CHECK_EQ(r.outcome, HQ_GH_WAIT);
    CHECK(r.retry_at_ms >= before + 3000 && r.retry_at_ms <= hq_now_ms() + 3000);
    hq_github_destroy(gh);
    fakehub_stop(&fh);
}

HQ_TEST(not_found_and_422_are_permanent_and_not_retried)
{
    struct fakehub fh;
    fakehub_start(&fh, "--status-code-for", "org/gone=404", "--status-code-for", "org/bad=422",
                  NULL);
    hq_github *gh = client(&fh, NULL);
    struct hq_gh_result r = post(gh, "org/gone", 14);
    CHECK_EQ(r.outcome, HQ_GH_PERMANENT);
    CHECK_EQ(r.http_status, 404);
    CHECK(strstr(r.reason, "404") != NULL);
    r = post(gh, "org/bad", 14);
    CHECK_EQ(r.outcome, HQ_GH_PERMANENT);
    CHECK_EQ(r.http_status, 422);
    hq_github_destroy(gh);
    fakehub_stop(&fh);
    cJSON *rec = record_load(&fh);
    CHECK_EQ(count(rec, "statuses", 404), 1);
    CHECK_EQ(count(rec, "statuses", 422), 1);
    CHECK_EQ(count(rec, "statuses", 0), 2);
    cJSON_Delete(rec);
}

HQ_TEST(server_errors_are_retry)
{
    struct fakehub fh;
    fakehub_start(&fh, "--fail-5xx", "1", NULL);
    hq_github *gh = client(&fh, NULL);
    for (int i = 0; i < 3; i++) {
        struct hq_gh_result r = post(gh, "org/flaky", 15);
        CHECK_EQ(r.outcome, HQ_GH_RETRY);
        CHECK(r.http_status >= 500 && r.http_status <= 503);
    }
    hq_github_destroy(gh);
    fakehub_stop(&fh);
    cJSON *rec = record_load(&fh);
    CHECK_EQ(count(rec, "statuses", 0), 3); /* the client itself does not retry them */
    CHECK_EQ(count(rec, "statuses", 201), 0);
    cJSON_Delete(rec);
}

static void timeout_1s(struct hq_github_opts *o)
{
    o->total_timeout_ms = 1000;
}

static void expect_retry_fast(const char *flag, const char *extra, const char *extra_value)
{
    struct fakehub fh;
    fakehub_start(&fh, flag, "1", extra, extra_value, NULL);
    hq_github *gh = client(&fh, timeout_1s);
    int64_t t0 = hq_mono_ms();
    struct hq_gh_result r = post(gh, "org/broken", 16);
    int64_t took = hq_mono_ms() - t0;
    CHECK_EQ(r.outcome, HQ_GH_RETRY);
    CHECK(took < 2500); /* the token fetch is quick; the status call is cut at 1 s */
    CHECK(r.reason[0] != '\0');
    hq_github_destroy(gh);
    fakehub_stop(&fh);
}

HQ_TEST(connection_reset_is_retry)
{
    expect_retry_fast("--reset", NULL, NULL);
}

HQ_TEST(hang_is_retry_within_the_timeout)
{
    expect_retry_fast("--hang", "--hang-ms", "5000");
}

HQ_TEST(malformed_answer_is_retry)
{
    expect_retry_fast("--malformed", NULL, NULL);
}

/* ---- credentials and lookups -------------------------------------------------------------- */

HQ_TEST(personal_access_token_mode)
{
    char pat[PATH_MAX];
    in_dir(pat, sizeof(pat), "pat.txt");
    FILE *f = fopen(pat, "w");
    REQUIRE(f != NULL);
    fputs("  ghp_0123456789abcdefghijklmnopqrstuvwxyzAB\n\n", f);
    fclose(f);
    struct fakehub fh;
    fakehub_start(&fh, "--pat-file", pat, NULL);
    struct hq_github_opts o;
    hq_github_opts_init(&o);
    o.api_url = fh.url;
    o.token_path = pat;
    o.pacing.enabled = false;
    hq_github *gh = NULL;
    REQUIRE(hq_github_create(&o, &gh) == 0);
    CHECK_EQ(post(gh, "org/pat", 0).outcome, HQ_GH_OK);
    CHECK_EQ(post(gh, "org/pat", 12345).outcome, HQ_GH_OK); /* the id is ignored */
    uint64_t id;
    struct hq_gh_result r;
    CHECK_EQ(hq_github_installation_id(gh, "org/pat", &id, &r), -EINVAL);
    hq_github_destroy(gh);
    fakehub_stop(&fh);
    cJSON *rec = record_load(&fh);
    CHECK_EQ(count(rec, "statuses", 201), 2);
    CHECK_EQ(count(rec, "access_tokens", 0), 0);
    const cJSON *x;
    cJSON_ArrayForEach(x, rec) CHECK_STR(str_of(x, "cred"), "pat");
    cJSON_Delete(rec);
}

HQ_TEST(installation_looked_up_once_per_repository)
{
    struct fakehub fh;
    fakehub_start(&fh, "--installation", "org/a=501", "--installation", "org/b=502", NULL);
    hq_github *gh = client(&fh, NULL);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(post(gh, "org/a", 0).outcome, HQ_GH_OK);
        CHECK_EQ(post(gh, i < 2 ? "org/b" : "Org/B", 0).outcome, HQ_GH_OK); /* cache ignores case */
    }
    struct hq_gh_result r = post(gh, "org/unknown", 0);
    CHECK_EQ(r.outcome, HQ_GH_PERMANENT);
    CHECK_EQ(r.http_status, 404);
    CHECK(strstr(r.reason, "not installed") != NULL);
    uint64_t id = 0;
    CHECK_EQ(hq_github_installation_id(gh, "org/a", &id, &r), 0);
    CHECK_EQ(id, 501);
    hq_github_destroy(gh);
    fakehub_stop(&fh);
    cJSON *rec = record_load(&fh);
    CHECK_EQ(count(rec, "installation", 200), 2);
    CHECK_EQ(count(rec, "installation", 404), 1);
    CHECK_EQ(count(rec, "access_tokens", 201), 2);
    CHECK_EQ(count(rec, "statuses", 201), 6);
    const cJSON *x;
    cJSON_ArrayForEach(x, rec)
    {
        if (strcmp(str_of(x, "route"), "access_tokens") == 0)
            CHECK(int_of(x, "installation") == 501 || int_of(x, "installation") == 502);
    }
    cJSON_Delete(rec);
}

static void pacing_5_per_minute(struct hq_github_opts *o)
{
    o->pacing.enabled = true;
    o->pacing.per_minute = 5;
}

HQ_TEST(pacing_the_sixth_post_in_a_minute_waits)
{
    struct fakehub fh;
    fakehub_start(&fh, NULL);
    hq_github *gh = client(&fh, pacing_5_per_minute);
    int64_t first = hq_now_ms();
    for (int i = 0; i < 5; i++)
        CHECK_EQ(post(gh, "org/paced", 21).outcome, HQ_GH_OK);
    struct hq_gh_result r = post(gh, "org/paced", 21);
    CHECK_EQ(r.outcome, HQ_GH_WAIT);
    CHECK_EQ(r.http_status, 0);
    CHECK(r.retry_at_ms >= first + 60000 && r.retry_at_ms <= hq_now_ms() + 60000);
    CHECK(strstr(r.reason, "paced") != NULL);
    CHECK_EQ(post(gh, "org/other", 22).outcome, HQ_GH_OK); /* per installation */
    hq_github_destroy(gh);
    fakehub_stop(&fh);
    cJSON *rec = record_load(&fh);
    CHECK_EQ(count(rec, "statuses", 201), 6);
    cJSON_Delete(rec);
}

HQ_TEST(description_cut_on_a_utf8_boundary)
{
    struct fakehub fh;
    fakehub_start(&fh, NULL);
    hq_github *gh = client(&fh, NULL);
    char desc[1024];
    hqtest_repeat(desc, sizeof(desc), "\xc3\xa9", 150); /* é, 2 bytes: 150 characters */
    struct hq_gh_result r;
    REQUIRE(hq_github_post_status(gh, "org/utf8", 23, SHA, "failure", "hookq/check", desc, NULL,
                                  &r) == 0);
    CHECK_EQ(r.outcome, HQ_GH_OK);
    hq_github_destroy(gh);
    fakehub_stop(&fh);
    cJSON *rec = record_load(&fh);
    const cJSON *x;
    int seen = 0;
    cJSON_ArrayForEach(x, rec)
    {
        if (strcmp(str_of(x, "route"), "statuses") != 0)
            continue;
        const char *d = str_of(cJSON_GetObjectItem(x, "body"), "description");
        CHECK_EQ(strlen(d), 280); /* 140 characters */
        CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(x, "body"), "target_url") == NULL);
        seen++;
    }
    CHECK_EQ(seen, 1);
    cJSON_Delete(rec);
}

HQ_TEST(create_errors_name_the_variable)
{
    char p[PATH_MAX];
    struct hq_cfgerr err = {{0}};
    struct hq_github_opts o;
    hq_github *gh = NULL;

    hq_github_opts_init(&o);
    o.err = &err;
    o.app_id = 1;
    in_dir(p, sizeof(p), "nokey.pem");
    o.app_key_path = p;
    CHECK_EQ(hq_github_create(&o, &gh), -ENOENT);
    CHECK(strstr(err.msg, "HOOKQ_APP_KEY_FILE: cannot read") != NULL);

    sh("echo 'hello' > \"$D/bad.pem\"");
    in_dir(p, sizeof(p), "bad.pem");
    CHECK_EQ(hq_github_create(&o, &gh), HQ_EPARSE);
    CHECK(strstr(err.msg, "HOOKQ_APP_KEY_FILE: not a PEM private key") != NULL);

    o.token_path = "/nonexistent";
    CHECK_EQ(hq_github_create(&o, &gh), HQ_ECONFIG);
    CHECK(strstr(err.msg, "not both") != NULL);

    hq_github_opts_init(&o);
    o.err = &err;
    CHECK_EQ(hq_github_create(&o, &gh), HQ_ECONFIG);
    CHECK(strstr(err.msg, "HOOKQ_APP_ID") != NULL);

    o.token_path = "/nonexistent/pat";
    CHECK_EQ(hq_github_create(&o, &gh), -ENOENT);
    CHECK(strstr(err.msg, "HOOKQ_TOKEN_FILE: cannot read") != NULL);

    sh("printf '  \\n' > \"$D/empty\"");
    in_dir(p, sizeof(p), "empty");
    o.token_path = p;
    CHECK_EQ(hq_github_create(&o, &gh), HQ_EPARSE);

    o.api_url = "ftp://example.com";
    CHECK_EQ(hq_github_create(&o, &gh), HQ_ECONFIG);
    CHECK(strstr(err.msg, "HOOKQ_GITHUB_API") != NULL);
    CHECK(gh == NULL);
}

HQ_TEST(caller_errors_and_bad_names)
{
    struct fakehub fh;
    fakehub_start(&fh, NULL);
    hq_github *gh = client(&fh, NULL);
    struct hq_gh_result r;
    CHECK_EQ(hq_github_post_status(gh, "org/x", 1, SHA, "done", "c", NULL, NULL, &r), -EINVAL);
    CHECK_EQ(hq_github_post_status(gh, "org/x", 1, SHA, "success", "", NULL, NULL, &r), -EINVAL);
    CHECK_EQ(hq_github_post_status(gh, "org/../x", 1, SHA, "success", "c", NULL, NULL, &r), 0);
    CHECK_EQ(r.outcome, HQ_GH_PERMANENT);
    CHECK_EQ(hq_github_post_status(gh, "org/x", 1, "../../app", "success", "c", NULL, NULL, &r), 0);
    CHECK_EQ(r.outcome, HQ_GH_PERMANENT);
    hq_github_destroy(gh);
    fakehub_stop(&fh);
    cJSON *rec = record_load(&fh);
    CHECK_EQ(count(rec, NULL, 0), 0); /* nothing was sent */
    cJSON_Delete(rec);
}

int main(int argc, char **argv)
{
    return hqtest_main(argc, argv);
}
