/*
 * test_install_map: the repository -> installation id map of the GitHub
 * client: case-insensitive names, a put replacing what was known, the start
 * over at the cap, names refused at the bounds, and concurrent callers.
 */
#include "hqtest.h"
#include "install_map.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

static hq_install_map *make(size_t max)
{
    hq_install_map *m = NULL;
    REQUIRE(hq_install_map_create(max, &m) == 0);
    REQUIRE(m != NULL);
    return m;
}

/* The id get finds for repo, or 0 for a miss. */
static uint64_t get(hq_install_map *m, const char *repo)
{
    uint64_t id = 0;
    return hq_install_map_get(m, repo, &id) ? id : 0;
}

HQ_TEST(names_match_in_any_case)
{
    static const struct {
        const char *put, *get;
        uint64_t want; /* 0: a miss */
    } cases[] = {
        {"octo-org/hello-world", "octo-org/hello-world", 7},
        {"octo-org/hello-world", "Octo-Org/Hello-World", 7},
        {"Octo-Org/Hello-World", "octo-org/hello-world", 7},
        {"OCTO/Repo.JS", "octo/repo.js", 7},
        {"octo-org/hello-world", "octo-org/hello-worl", 0},
        {"octo-org/hello-world", "octo-org/hello-world2", 0},
        {"octo-org/hello-world", "other/hello-world", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        hq_install_map *m = make(16);
        CHECK_EQ(hq_install_map_put(m, cases[i].put, 7), 0);
        if (get(m, cases[i].get) != cases[i].want)
            fprintf(stderr, "  case %zu: put %s, get %s\n", i, cases[i].put, cases[i].get);
        CHECK_EQ(get(m, cases[i].get), cases[i].want);
        hq_install_map_destroy(m);
    }
}

HQ_TEST(miss_leaves_id_alone)
{
    hq_install_map *m = make(4);
    uint64_t id = 42;
    CHECK(!hq_install_map_get(m, "octo/absent", &id));
    CHECK_EQ(id, 42);
    hq_install_map_destroy(m);
}

HQ_TEST(put_replaces_and_takes_no_second_slot)
{
    hq_install_map *m = make(2);
    CHECK_EQ(hq_install_map_put(m, "octo/a", 1), 0);
    CHECK_EQ(hq_install_map_put(m, "OCTO/A", 2), 0);
    CHECK_EQ(get(m, "octo/a"), 2);
    /* one entry so far: a second repository fits without a start over */
    CHECK_EQ(hq_install_map_put(m, "octo/b", 3), 0);
    CHECK_EQ(get(m, "octo/a"), 2);
    CHECK_EQ(get(m, "octo/b"), 3);
    hq_install_map_destroy(m);
}

HQ_TEST(put_past_the_cap_starts_over)
{
    hq_install_map *m = make(2);
    CHECK_EQ(hq_install_map_put(m, "octo/a", 1), 0);
    CHECK_EQ(hq_install_map_put(m, "octo/b", 2), 0);
    CHECK_EQ(hq_install_map_put(m, "octo/c", 3), 0);
    CHECK_EQ(get(m, "octo/a"), 0);
    CHECK_EQ(get(m, "octo/b"), 0);
    CHECK_EQ(get(m, "octo/c"), 3);
    /* and fills again from there */
    CHECK_EQ(hq_install_map_put(m, "octo/d", 4), 0);
    CHECK_EQ(get(m, "octo/c"), 3);
    CHECK_EQ(get(m, "octo/d"), 4);
    hq_install_map_destroy(m);
}

HQ_TEST(bounds_are_refused_and_leave_the_map_alone)
{
    char longest[HQ_INSTALL_MAP_REPO_MAX + 1], over[HQ_INSTALL_MAP_REPO_MAX + 2];
    memset(longest, 'a', HQ_INSTALL_MAP_REPO_MAX);
    longest[HQ_INSTALL_MAP_REPO_MAX] = '\0';
    longest[39] = '/';
    memcpy(over, longest, HQ_INSTALL_MAP_REPO_MAX);
    over[HQ_INSTALL_MAP_REPO_MAX] = 'a';
    over[HQ_INSTALL_MAP_REPO_MAX + 1] = '\0';

    hq_install_map *m = make(2);
    CHECK_EQ(hq_install_map_put(m, "octo/a", 1), 0);
    CHECK_EQ(hq_install_map_put(m, longest, 5), 0);
    CHECK_EQ(get(m, longest), 5);
    CHECK_EQ(hq_install_map_put(m, over, 6), -EINVAL);
    CHECK_EQ(get(m, over), 0);
    CHECK_EQ(hq_install_map_put(m, "", 6), -EINVAL);
    CHECK_EQ(hq_install_map_put(m, "octo/zero", 0), -EINVAL);
    CHECK_EQ(get(m, "octo/zero"), 0);
    /* the refused puts did not count against the cap */
    CHECK_EQ(get(m, "octo/a"), 1);
    CHECK_EQ(get(m, longest), 5);
    hq_install_map_destroy(m);
}

HQ_TEST(create_refuses_no_room)
{
    hq_install_map *m = (hq_install_map *)&m;
    CHECK_EQ(hq_install_map_create(0, &m), -EINVAL);
    CHECK(m == NULL);
    hq_install_map_destroy(NULL);
}

#define THREADS    4
#define PER_THREAD 500

struct worker_arg {
    hq_install_map *m;
    int t;
    int errors;
};

static void *hammer(void *p)
{
    struct worker_arg *a = p;
    char repo[64];
    for (int i = 0; i < PER_THREAD; i++) {
        snprintf(repo, sizeof(repo), "owner%d/repo%d", a->t, i);
        uint64_t id = (uint64_t)(a->t * PER_THREAD + i + 1);
        if (hq_install_map_put(a->m, repo, id) != 0 || get(a->m, repo) != id)
            a->errors++;
        /* and read another thread's names, hit or miss */
        snprintf(repo, sizeof(repo), "OWNER%d/REPO%d", (a->t + 1) % THREADS, i);
        (void)get(a->m, repo);
    }
    return NULL;
}

HQ_TEST(threads_share_one_map)
{
    hq_install_map *m = make(THREADS * PER_THREAD);
    pthread_t th[THREADS];
    struct worker_arg args[THREADS];
    for (int t = 0; t < THREADS; t++) {
        args[t] = (struct worker_arg){m, t, 0};
        REQUIRE(pthread_create(&th[t], NULL, hammer, &args[t]) == 0);
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        CHECK_EQ(args[t].errors, 0);
    }
    char repo[64];
    for (int t = 0; t < THREADS; t++)
        for (int i = 0; i < PER_THREAD; i += 97) {
            snprintf(repo, sizeof(repo), "Owner%d/Repo%d", t, i);
            CHECK_EQ(get(m, repo), t * PER_THREAD + i + 1);
        }
    hq_install_map_destroy(m);
}

int main(int argc, char **argv)
{
    return hqtest_main(argc, argv);
}
