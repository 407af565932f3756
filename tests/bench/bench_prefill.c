/*
 * bench_prefill: fills a hookq queue with N events for the benchmark's
 * "1,000,000 events already queued" run, through the queue API itself
 * (hq_queue_enqueue, batches of 1000, opened no_sync: a loader, not a
 * receiver, so nothing is acknowledged to anyone).
 *
 * Events are spread over R repositories (GitHub-style ids and names) with a
 * ~1 KB push-shaped payload each, and distinct (hook id, delivery) pairs
 * from the benchmark's own. Built by bench_receiver.sh against the build's
 * libhookq_common.a.
 *
 * Usage: bench_prefill DB N REPOS [MAP_SIZE_BYTES]
 */
#include "queue.h"
#include "hq_error.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 1000

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_prefill DB N REPOS [MAP_SIZE_BYTES]\n");
        return 2;
    }
    uint64_t n = strtoull(argv[2], NULL, 10), repos = strtoull(argv[3], NULL, 10);
    if (n == 0 || repos == 0) {
        fprintf(stderr, "bench_prefill: N and REPOS must be positive\n");
        return 2;
    }
    struct hq_queue_opts o;
    hq_queue_opts_default(&o);
    o.db = argv[1];
    o.no_sync = true;
    if (argc > 4)
        o.lmdb.map_size = strtoull(argv[4], NULL, 10);
    hq_queue *q = NULL;
    int rc = hq_queue_open(&o, &q);
    if (rc != 0) {
        fprintf(stderr, "bench_prefill: open %s: %s\n", argv[1], hq_strerror(rc));
        return 1;
    }
    static struct hq_enqueue items[BATCH];
    static char deliveries[BATCH][48], names[BATCH][64], payloads[BATCH][1200];
    int status = 0;
    for (uint64_t done = 0; done < n;) {
        size_t k = 0;
        for (; k < BATCH && done + k < n; k++) {
            uint64_t i = done + k, repo = 100000 + i % repos;
            int a = snprintf(deliveries[k], sizeof(deliveries[k]), "prefill-%016" PRIx64, i);
            int b = snprintf(names[k], sizeof(names[k]), "prefill-org/repo-%" PRIu64, repo);
            int c = snprintf(payloads[k], sizeof(payloads[k]),
                             "{\"ref\":\"refs/heads/main\",\"before\":\"%040d\","
                             "\"after\":\"%040" PRIx64 "\",\"repository\":{\"id\":%" PRIu64
                             ",\"full_name\":\"%s\",\"private\":false,\"default_branch\":"
                             "\"main\"},\"pusher\":{\"name\":\"octocat\"},\"sender\":{\"login\":"
                             "\"octocat\",\"id\":583231},\"head_commit\":{\"id\":\"%040" PRIx64
                             "\",\"message\":\"%0600d\"}}",
                             0, i, repo, names[k], i, 0);
            if (a < 0 || b < 0 || c < 0 || (size_t)a >= sizeof(deliveries[k]) ||
                (size_t)b >= sizeof(names[k]) || (size_t)c >= sizeof(payloads[k])) {
                fprintf(stderr, "bench_prefill: formatting overflow\n");
                status = 1;
                goto out;
            }
            items[k] = (struct hq_enqueue){
                .hook_id = 1,
                .delivery = deliveries[k],
                .event = "push",
                .action = "",
                .repo_id = repo,
                .repo_name = names[k],
                .payload = payloads[k],
                .payload_len = (size_t)c,
            };
        }
        rc = hq_queue_enqueue(q, items, k);
        if (rc != 0) {
            fprintf(stderr, "bench_prefill: enqueue at %" PRIu64 ": %s\n", done, hq_strerror(rc));
            status = 1;
            goto out;
        }
        done += k;
    }
out:
    hq_queue_close(q);
    return status;
}
