/*
 * bench_client: statuses per second through the GitHub client.
 *
 *   bench_client URL APP_ID KEY_PEM THREADS SECONDS INSTALLATIONS
 *
 * THREADS threads post commit statuses as fast as the client lets them, for
 * SECONDS seconds, spread over INSTALLATIONS installations (thread i uses
 * installation 1 + i % INSTALLATIONS), pacing off, from a cold token cache.
 * Prints one line: threads statuses seconds statuses_per_s token_requests
 * failures. The harness (bench_client.sh) runs fakehub and reads its record.
 */
#include "clock.h"
#include "github.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_bool stop;

struct poster {
    hq_github *gh;
    uint64_t inst;
    char repo[64];
    uint64_t ok, failed;
};

static void *poster_main(void *arg)
{
    struct poster *p = arg;
    while (!atomic_load(&stop)) {
        struct hq_gh_result r;
        int rc = hq_github_post_status(p->gh, p->repo, p->inst,
                                       "0123456789abcdef0123456789abcdef01234567", "success",
                                       "bench", "benchmark", NULL, &r);
        if (rc == 0 && r.outcome == HQ_GH_OK)
            p->ok++;
        else
            p->failed++;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: bench_client URL APP_ID KEY_PEM THREADS SECONDS INSTALLATIONS\n");
        return 2;
    }
    uint64_t app_id, threads, seconds, insts;
    if (hq_parse_uint(argv[2], 1, UINT32_MAX, &app_id) < 0 ||
        hq_parse_uint(argv[4], 1, 1024, &threads) < 0 ||
        hq_parse_uint(argv[5], 1, 3600, &seconds) < 0 ||
        hq_parse_uint(argv[6], 1, 1024, &insts) < 0) {
        fprintf(stderr, "bench_client: bad number\n");
        return 2;
    }
    struct hq_cfgerr err = {{0}};
    struct hq_github_opts o;
    hq_github_opts_init(&o);
    o.api_url = argv[1];
    o.app_id = app_id;
    o.app_key_path = argv[3];
    o.pacing.enabled = false;
    o.max_in_flight = (unsigned)threads;
    o.err = &err;
    hq_github *gh = NULL;
    int rc = hq_github_create(&o, &gh);
    if (rc < 0) {
        fprintf(stderr, "bench_client: %s\n", err.msg[0] ? err.msg : hq_strerror(rc));
        return 1;
    }
    struct poster *ps = calloc(threads, sizeof(*ps));
    pthread_t *th = calloc(threads, sizeof(*th));
    if (ps == NULL || th == NULL)
        return 1;
    int64_t t0 = hq_mono_ms();
    for (uint64_t i = 0; i < threads; i++) {
        ps[i].gh = gh;
        ps[i].inst = 1 + i % insts;
        snprintf(ps[i].repo, sizeof(ps[i].repo), "bench/repo%" PRIu64, i);
        if (pthread_create(&th[i], NULL, poster_main, &ps[i]) != 0)
            return 1;
    }
    struct timespec ts = {(time_t)seconds, 0};
    nanosleep(&ts, NULL);
    atomic_store(&stop, true);
    uint64_t ok = 0, failed = 0;
    for (uint64_t i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        ok += ps[i].ok;
        failed += ps[i].failed;
    }
    double secs = (double)(hq_mono_ms() - t0) / 1000.0;
    struct hq_github_stats st;
    hq_github_get_stats(gh, &st);
    printf("%" PRIu64 " %" PRIu64 " %.3f %.1f %" PRIu64 " %" PRIu64 "\n", threads, ok, secs,
           (double)ok / secs, st.token_requests, failed);
    hq_github_destroy(gh);
    free(ps);
    free(th);
    return failed == 0 ? 0 : 1;
}
