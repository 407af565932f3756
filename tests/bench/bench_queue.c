/*
 * bench_queue: the scheduler's cost per event as the number of ready
 * repositories grows (issue 4: flat within 20% from 10 to 100,000).
 *
 * For each N: a fresh database with N repositories of 2 events each, then
 * single-threaded cycles of lease + complete + enqueue of a new event for
 * that repository (so N repositories stay ready: a steady state), timed. Run with sync off (the
 * fsync would hide the CPU cost being measured) and with sync on for one
 * size to show the durable figure. Prints one row per N.
 *
 *   bench_queue DIR [cycles] [threads]
 *
 * With threads, concurrent writers share commits (group commit), as the
 * worker's threads do.
 */
#include "clock.h"
#include "queue.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int fill(hq_queue *q, unsigned n)
{
    enum { BATCH = 1000 };
    struct hq_enqueue items[BATCH];
    char deliveries[BATCH][32];
    static const char payload[] = "{\"after\":\"0123456789abcdef0123456789abcdef01234567\"}";
    unsigned made = 0;
    for (unsigned round = 0; round < 2; round++) {
        for (unsigned r = 0; r < n;) {
            unsigned k = 0;
            for (; k < BATCH && r < n; k++, r++) {
                snprintf(deliveries[k], sizeof(deliveries[k]), "d-%u-%u", round, r);
                items[k] = (struct hq_enqueue){.hook_id = 1,
                                               .delivery = deliveries[k],
                                               .event = "push",
                                               .repo_id = r + 1,
                                               .repo_name = "bench/repo",
                                               .payload = payload,
                                               .payload_len = sizeof(payload) - 1};
            }
            if (hq_queue_enqueue(q, items, k) != 0)
                return -1;
            made += k;
        }
    }
    return (int)made;
}

struct worker_arg {
    hq_queue *q;
    unsigned cycles;
    unsigned id;
    int failed;
};

/* cycles of lease + complete + enqueue of a new event for that repository */
static void *cycle(void *p)
{
    struct worker_arg *a = p;
    for (unsigned i = 0; i < a->cycles; i++) {
        struct hq_lease l;
        struct hq_event *ev;
        int64_t next;
        int rc = hq_queue_lease(a->q, "bench", 60000, &l, &ev, &next);
        if (rc == HQ_ENOTREADY) {
            i--;
            continue;
        }
        if (rc != 0) {
            a->failed = rc;
            return NULL;
        }
        uint64_t repo = ev->repo_id;
        hq_event_free(ev);
        char d[32];
        snprintf(d, sizeof(d), "n-%u-%u", a->id, i);
        struct hq_enqueue it = {.hook_id = 1,
                                .delivery = d,
                                .event = "push",
                                .repo_id = repo,
                                .repo_name = "bench/repo",
                                .payload = "{}",
                                .payload_len = 2};
        if (hq_queue_complete(a->q, &l) != 0 || hq_queue_enqueue(a->q, &it, 1) != 0 ||
            it.result != 0) {
            a->failed = -1;
            return NULL;
        }
    }
    return NULL;
}

static double run(const char *dir, unsigned n, unsigned cycles, bool sync, unsigned threads)
{
    char path[4096], cmd[4200];
    snprintf(path, sizeof(path), "%s/q-%u-%d", dir, n, sync);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    if (system(cmd) != 0)
        return -1;
    struct hq_queue_opts o;
    hq_queue_opts_default(&o);
    o.db = path;
    o.lmdb.map_size = 8ull << 30;
    o.no_sync = true;
    hq_queue *q;
    if (hq_queue_open(&o, &q) != 0 || fill(q, n) < 0)
        return -1;
    hq_queue_close(q);
    o.no_sync = !sync;
    if (hq_queue_open(&o, &q) != 0)
        return -1;
    if (threads > n)
        threads = n;
    pthread_t th[64];
    struct worker_arg args[64];
    int64_t t0 = hq_mono_ms();
    for (unsigned t = 0; t < threads; t++) {
        args[t] = (struct worker_arg){q, cycles / threads, t, 0};
        pthread_create(&th[t], NULL, cycle, &args[t]);
    }
    int failed = 0;
    for (unsigned t = 0; t < threads; t++) {
        pthread_join(th[t], NULL);
        failed |= args[t].failed;
    }
    double us = (double)(hq_mono_ms() - t0) * 1000.0 / (cycles / threads * threads);
    hq_queue_close(q);
    if (failed || system(cmd) != 0)
        return -1;
    return us;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_queue DIR [cycles] [threads]\n");
        return 2;
    }
    unsigned cycles = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 20000;
    unsigned threads = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 8;
    if (threads < 1 || threads > 64 || cycles < threads) {
        fprintf(stderr, "bench_queue: 1..64 threads, at least one cycle each\n");
        return 2;
    }
    mkdir(argv[1], 0700);
    static const unsigned sizes[] = {10, 100, 1000, 10000, 100000};
    printf("one event = lease + complete + enqueue (3 queue writes); sync off, so the\n"
           "figure is the queue's CPU cost, not the disk's\n");
    printf("%-12s %16s %8s %18s %8s\n", "ready repos", "1 thread us/ev", "vs 10", "threads us/ev",
           "vs 10");
    double base1 = 0, baseN = 0;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        double us1 = run(argv[1], sizes[i], cycles, false, 1);
        double usN = run(argv[1], sizes[i], cycles, false, threads);
        if (us1 < 0 || usN < 0) {
            fprintf(stderr, "bench_queue: failed at %u\n", sizes[i]);
            return 1;
        }
        if (i == 0) {
            base1 = us1;
            baseN = usN;
        }
        printf("%-12u %16.2f %7.0f%% %12.2f (%2u) %7.0f%%\n", sizes[i], us1, 100.0 * us1 / base1,
               usN, threads < sizes[i] ? threads : sizes[i], 100.0 * usN / baseN);
        fflush(stdout);
    }
    double durable = run(argv[1], 1000, cycles / 10, true, threads);
    printf("durable (sync on), 1000 repositories, %u threads: %.1f us per event\n", threads,
           durable);
    return 0;
}
