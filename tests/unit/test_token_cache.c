/*
 * test_token_cache: reuse until the margin, single-flight per installation
 * (many threads, one fetch), no waiting across installations, failures shared
 * with waiters, drop on 401 only of the token that was refused, long tokens.
 */
#include "clock.h"
#include "hqtest.h"
#include "token_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <inttypes.h>
#include <stdint.h>
#include <time.h>

static _Atomic int64_t fake_now = 1700000000000LL;
static int64_t fake_clock(void)
{
    return atomic_load(&fake_now);
}

struct fetcher {
    atomic_int calls;
    atomic_int per_inst[16];
    int delay_ms;       /* how long a fetch takes */
    uint64_t slow_inst; /* this installation's fetch blocks until released */
    atomic_bool release;
    int ttl_ms;
    int fail_status; /* answer failures with this HTTP status */
    size_t token_len;
};

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int fetch(void *arg, uint64_t inst, char **token, int64_t *expires, struct hq_gh_result *f)
{
    struct fetcher *fx = arg;
    int n = atomic_fetch_add(&fx->calls, 1) + 1;
    if (inst < 16)
        atomic_fetch_add(&fx->per_inst[inst], 1);
    if (fx->slow_inst != 0 && inst == fx->slow_inst)
        while (!atomic_load(&fx->release))
            sleep_ms(1);
    if (fx->delay_ms > 0)
        sleep_ms(fx->delay_ms);
    if (fx->fail_status != 0) {
        f->outcome = HQ_GH_RETRY;
        f->http_status = fx->fail_status;
        snprintf(f->reason, sizeof(f->reason), "HTTP %d", fx->fail_status);
        return 0;
    }
    size_t len = fx->token_len ? fx->token_len : 40;
    char *t = malloc(len + 1);
    if (t == NULL)
        return -ENOMEM;
    int w = snprintf(t, len + 1, "ghs_%" PRIu64 "_%d_", inst, n);
    for (size_t i = (size_t)w; i < len; i++)
        t[i] = 'x';
    t[len] = '\0';
    *token = t;
    *expires = fake_clock() + (fx->ttl_ms ? fx->ttl_ms : 3600000);
    return 0;
}

static hq_token_cache *make(struct fetcher *fx, int64_t margin)
{
    hq_clock_set_hook(fake_clock);
    hq_token_cache *c = NULL;
    REQUIRE(hq_token_cache_create(margin, fetch, fx, &c) == 0);
    return c;
}

static char *get(hq_token_cache *c, uint64_t inst, bool *cached)
{
    struct hq_token t;
    struct hq_gh_result f;
    REQUIRE(hq_token_cache_get(c, inst, &t, &f) == 0);
    REQUIRE(t.value != NULL);
    if (cached != NULL)
        *cached = t.cached;
    return t.value;
}

HQ_TEST(reuse_until_margin)
{
    struct fetcher fx = {0};
    hq_token_cache *c = make(&fx, 300000);
    bool cached = true;
    char *a = get(c, 1, &cached);
    CHECK(!cached);
    char *b = get(c, 1, &cached);
    CHECK(cached);
    CHECK_STR(a, b);
    atomic_store(&fake_now, fake_clock() + 3600000 - 300001); /* just before the margin */
    char *d = get(c, 1, NULL);
    CHECK_STR(a, d);
    atomic_store(&fake_now, fake_clock() + 1); /* inside the margin: renewed */
    char *e = get(c, 1, &cached);
    CHECK(!cached);
    CHECK(strcmp(a, e) != 0);
    CHECK_EQ(atomic_load(&fx.calls), 2);
    free(a), free(b), free(d), free(e);
    hq_token_cache_destroy(c);
}

struct worker_arg {
    hq_token_cache *c;
    uint64_t inst;
    char *token;
    int rc;
    int64_t took_ms;
};

static void *worker(void *p)
{
    struct worker_arg *w = p;
    struct hq_token t;
    struct hq_gh_result f;
    int64_t t0 = hq_mono_ms();
    w->rc = hq_token_cache_get(w->c, w->inst, &t, &f);
    w->took_ms = hq_mono_ms() - t0;
    w->token = t.value;
    return NULL;
}

HQ_TEST(single_flight_64_threads_8_installations)
{
    struct fetcher fx = {.delay_ms = 50};
    hq_token_cache *c = make(&fx, 300000);
    pthread_t th[64];
    struct worker_arg args[64];
    for (int i = 0; i < 64; i++) {
        args[i] = (struct worker_arg){.c = c, .inst = 1 + (uint64_t)(i % 8)};
        REQUIRE(pthread_create(&th[i], NULL, worker, &args[i]) == 0);
    }
    for (int i = 0; i < 64; i++)
        pthread_join(th[i], NULL);
    CHECK_EQ(atomic_load(&fx.calls), 8);
    for (int i = 1; i <= 8; i++)
        CHECK_EQ(atomic_load(&fx.per_inst[i]), 1);
    for (int i = 0; i < 64; i++) {
        CHECK_EQ(args[i].rc, 0);
        REQUIRE(args[i].token != NULL);
        CHECK_STR(args[i].token, args[i % 8].token); /* everyone shares its installation's */
    }
    for (int i = 0; i < 64; i++)
        free(args[i].token);
    hq_token_cache_destroy(c);
}

HQ_TEST(other_installations_do_not_wait)
{
    struct fetcher fx = {.slow_inst = 1};
    hq_token_cache *c = make(&fx, 0);
    pthread_t slow;
    struct worker_arg s = {.c = c, .inst = 1};
    REQUIRE(pthread_create(&slow, NULL, worker, &s) == 0);
    while (atomic_load(&fx.per_inst[1]) == 0)
        sleep_ms(1);
    /* installation 1's fetch hangs; 2 and 3 go on */
    for (uint64_t inst = 2; inst <= 3; inst++) {
        struct worker_arg w = {.c = c, .inst = inst};
        worker(&w);
        CHECK_EQ(w.rc, 0);
        CHECK(w.token != NULL);
        CHECK(w.took_ms < 1000);
        free(w.token);
    }
    atomic_store(&fx.release, true);
    pthread_join(slow, NULL);
    CHECK_EQ(s.rc, 0);
    free(s.token);
    hq_token_cache_destroy(c);
}

struct fail_arg {
    hq_token_cache *c;
    int rc;
    char *value;
    struct hq_gh_result res;
};

static void *fail_worker(void *p)
{
    struct fail_arg *a = p;
    struct hq_token t;
    a->rc = hq_token_cache_get(a->c, 4, &t, &a->res);
    a->value = t.value;
    return NULL;
}

HQ_TEST(failure_is_shared_with_waiters)
{
    struct fetcher fx = {.delay_ms = 200, .fail_status = 502};
    hq_token_cache *c = make(&fx, 0);
    pthread_t th[8];
    struct fail_arg a[8];
    for (int i = 0; i < 8; i++) {
        a[i] = (struct fail_arg){.c = c};
        REQUIRE(pthread_create(&th[i], NULL, fail_worker, &a[i]) == 0);
    }
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    CHECK_EQ(atomic_load(&fx.calls), 1); /* waiters took the answer, made no request */
    for (int i = 0; i < 8; i++) {
        CHECK_EQ(a[i].rc, 0);
        CHECK(a[i].value == NULL);
        CHECK_EQ(a[i].res.outcome, HQ_GH_RETRY);
        CHECK_EQ(a[i].res.http_status, 502);
    }
    /* the next caller tries again */
    fx.fail_status = 0;
    fx.delay_ms = 0;
    char *t = get(c, 4, NULL);
    CHECK_EQ(atomic_load(&fx.calls), 2);
    free(t);
    hq_token_cache_destroy(c);
}

HQ_TEST(failed_refresh_keeps_a_still_valid_token)
{
    struct fetcher fx = {.ttl_ms = 600000};
    hq_token_cache *c = make(&fx, 300000);
    char *a = get(c, 1, NULL);
    atomic_store(&fake_now, fake_clock() + 400000); /* inside the margin, 200 s left */
    fx.fail_status = 500;
    char *b = get(c, 1, NULL);
    CHECK_STR(a, b);
    CHECK_EQ(atomic_load(&fx.calls), 2);
    atomic_store(&fake_now, fake_clock() + 180000); /* 20 s left: too close, the failure shows */
    struct hq_token t;
    struct hq_gh_result f;
    CHECK_EQ(hq_token_cache_get(c, 1, &t, &f), 0);
    CHECK(t.value == NULL);
    CHECK_EQ(f.http_status, 500);
    free(a), free(b);
    hq_token_cache_destroy(c);
}

HQ_TEST(drop_only_the_refused_token)
{
    struct fetcher fx = {0};
    hq_token_cache *c = make(&fx, 0);
    char *a = get(c, 1, NULL);
    hq_token_cache_drop(c, 1, "ghs_not_the_cached_one");
    char *b = get(c, 1, NULL);
    CHECK_STR(a, b);
    CHECK_EQ(atomic_load(&fx.calls), 1);
    hq_token_cache_drop(c, 1, a); /* 401 on a */
    char *d = get(c, 1, NULL);
    CHECK(strcmp(a, d) != 0);
    CHECK_EQ(atomic_load(&fx.calls), 2);
    hq_token_cache_drop(c, 1, a); /* a late 401 on a keeps d */
    char *e = get(c, 1, NULL);
    CHECK_STR(d, e);
    CHECK_EQ(atomic_load(&fx.calls), 2);
    hq_token_cache_drop(c, 99, a); /* unknown installation: harmless */
    free(a), free(b), free(d), free(e);
    hq_token_cache_destroy(c);
}

HQ_TEST(long_tokens)
{
    struct fetcher fx = {.token_len = 4096};
    hq_token_cache *c = make(&fx, 0);
    char *a = get(c, 1, NULL);
    CHECK_EQ(strlen(a), 4096);
    char *b = get(c, 1, NULL);
    CHECK_STR(a, b);
    free(a), free(b);
    hq_token_cache_destroy(c);
}

HQ_TEST(lifetime_shorter_than_margin_does_not_loop)
{
    /* every token is "stale" at once; each caller still gets one, one fetch each */
    struct fetcher fx = {.ttl_ms = 1000};
    hq_token_cache *c = make(&fx, 5000);
    char *a = get(c, 1, NULL);
    char *b = get(c, 1, NULL);
    CHECK(strcmp(a, b) != 0);
    CHECK_EQ(atomic_load(&fx.calls), 2);
    free(a), free(b);
    hq_token_cache_destroy(c);
}

int main(int argc, char **argv)
{
    return hqtest_main(argc, argv);
}
