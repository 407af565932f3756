/*
 * bench_lease: the queue's lease + complete cost per event on any backend
 * (issue 8: within 2x from 10 to 100,000 ready repositories).
 *
 *   bench_lease DB REPOS CYCLES THREADS
 *
 * DB is a HOOKQ_DB value naming an empty queue (a new directory, or a
 * PostgreSQL database of its own). It is filled with REPOS repositories of
 * CYCLES / REPOS + 1 events each (batches of 500, durable), then THREADS
 * threads run CYCLES lease + complete pairs between them, durable, and the
 * program prints one line: "REPOS THREADS us_per_event events_per_s".
 * Every repository stays ready throughout (each keeps at least one event),
 * so the ready line is REPOS long the whole time. tests/bench/bench_backends.sh
 * runs it for both backends side by side.
 *
 * With BENCH_REFILL=1 (the soak): one event per repository to begin with,
 * and every completed event is replaced by a new one for its repository, so
 * CYCLES events pass through a queue that stays REPOS long; the figure then
 * includes that enqueue.
 */
#include "clock.h"
#include "queue.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fill(hq_queue *q, unsigned repos, unsigned per)
{
    enum { BATCH = 500 };
    static struct hq_enqueue items[BATCH];
    static char deliveries[BATCH][40];
    static char names[BATCH][40];
    static const char payload[] = "{\"after\":\"0123456789abcdef0123456789abcdef01234567\"}";
    unsigned k = 0;
    for (unsigned e = 0; e < per; e++) {
        for (unsigned r = 0; r < repos; r++) {
            snprintf(deliveries[k], sizeof(deliveries[k]), "d-%u-%u", e, r);
            snprintf(names[k], sizeof(names[k]), "bench/repo%u", r + 1);
            items[k] = (struct hq_enqueue){.hook_id = 1,
                                           .delivery = deliveries[k],
                                           .event = "push",
                                           .repo_id = r + 1,
                                           .repo_name = names[k],
                                           .payload = payload,
                                           .payload_len = sizeof(payload) - 1};
            if (++k == BATCH || (e == per - 1 && r == repos - 1)) {
                int rc = hq_queue_enqueue(q, items, k);
                for (unsigned i = 0; rc == 0 && i < k; i++)
                    rc = items[i].result;
                if (rc != 0) {
                    fprintf(stderr, "bench_lease: fill: %s\n", hq_strerror(rc));
                    return -1;
                }
                k = 0;
            }
        }
    }
    return 0;
}

struct worker_arg {
    hq_queue *q;
    unsigned cycles;
    unsigned id;
    bool refill;
    int failed;
};

static int refill(hq_queue *q, uint64_t repo, unsigned id, unsigned i)
{
    char d[48], name[40];
    snprintf(d, sizeof(d), "soak-%u-%u", id, i);
    snprintf(name, sizeof(name), "bench/repo%llu", (unsigned long long)repo);
    struct hq_enqueue it = {.hook_id = 1,
                            .delivery = d,
                            .event = "push",
                            .repo_id = repo,
                            .repo_name = name,
                            .payload = "{}",
                            .payload_len = 2};
    int rc = hq_queue_enqueue(q, &it, 1);
    return rc != 0 ? rc : it.result;
}

static void *cycle(void *p)
{
    struct worker_arg *a = p;
    for (unsigned i = 0; i < a->cycles;) {
        struct hq_lease l;
        struct hq_event *ev;
        int64_t next;
        int rc = hq_queue_lease(a->q, "bench", 60000, &l, &ev, &next);
        if (rc == HQ_ENOTREADY) /* every repository leased by the other threads */
            continue;
        if (rc == 0) {
            uint64_t repo = ev->repo_id;
            hq_event_free(ev);
            rc = hq_queue_complete(a->q, &l);
            if (rc == 0 && a->refill)
                rc = refill(a->q, repo, a->id, i);
        }
        if (rc != 0) {
            a->failed = rc;
            return NULL;
        }
        i++;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: bench_lease DB REPOS CYCLES THREADS\n");
        return 2;
    }
    unsigned repos = (unsigned)strtoul(argv[2], NULL, 10);
    unsigned cycles = (unsigned)strtoul(argv[3], NULL, 10);
    unsigned threads = (unsigned)strtoul(argv[4], NULL, 10);
    if (repos < 1 || threads < 1 || threads > 64 || cycles < threads) {
        fprintf(stderr, "bench_lease: REPOS >= 1, THREADS 1..64, CYCLES >= THREADS\n");
        return 2;
    }
    struct hq_queue_opts o;
    hq_queue_opts_default(&o);
    o.db = argv[1];
    o.lmdb.map_size = 8ull << 30;
    hq_queue *q;
    int rc = hq_queue_open(&o, &q);
    if (rc != 0) {
        fprintf(stderr, "bench_lease: open: %s\n", hq_strerror(rc));
        return 1;
    }
    const char *r = getenv("BENCH_REFILL");
    bool soak = r != NULL && strcmp(r, "1") == 0;
    if (fill(q, repos, soak ? 1 : cycles / repos + 1) != 0)
        return 1;
    pthread_t th[64];
    struct worker_arg args[64];
    int64_t t0 = hq_mono_ms();
    for (unsigned t = 0; t < threads; t++) {
        args[t] = (struct worker_arg){q, cycles / threads, t, soak, 0};
        pthread_create(&th[t], NULL, cycle, &args[t]);
    }
    int failed = 0;
    for (unsigned t = 0; t < threads; t++) {
        pthread_join(th[t], NULL);
        if (args[t].failed != 0)
            failed = args[t].failed;
    }
    int64_t ms = hq_mono_ms() - t0;
    hq_queue_close(q);
    if (failed != 0) {
        fprintf(stderr, "bench_lease: %s\n", hq_strerror(failed));
        return 1;
    }
    unsigned done = cycles / threads * threads;
    printf("%u %u %.1f %.0f\n", repos, threads, (double)ms * 1000.0 / done,
           ms > 0 ? done * 1000.0 / (double)ms : 0.0);
    return 0;
}
