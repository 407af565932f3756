/*
 * catchup_sched: the worker's periodic catch-up; see catchup_sched.h.
 *
 * The claim is the state record's compare-and-set: a turn that read
 * version v writes its claim as v + 1, and any other process that read v
 * loses. The claim is renewed (another compare-and-set on the version the
 * last write returned) before a GitHub request once half its time is gone;
 * losing it ends the run without touching the position.
 */
#include "catchup_sched.h"

#include "clock.h"
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct hq_catchup_sched {
    struct hq_catchup_sched_opts o;
    pthread_t thread;
    atomic_bool stop;
    pthread_mutex_t lock; /* protects nothing but the condition's wait */
    pthread_cond_t cond;
};

/* The claim a running turn holds. */
struct held {
    const struct hq_catchup_sched_opts *o;
    struct hq_queue_state st;
    uint64_t version;
    bool lost;
};

static int64_t claim_ms(const struct hq_catchup_sched_opts *o)
{
    return o->claim_ms > 0 ? o->claim_ms : 5 * 60 * 1000;
}

static bool renew(void *arg)
{
    struct held *h = arg;
    int64_t now = hq_now_ms();
    if (h->lost)
        return false;
    if (h->st.claim_until_ms - now > claim_ms(h->o) / 2)
        return true;
    h->st.claim_until_ms = now + claim_ms(h->o);
    int rc = hq_queue_state_cas(h->o->run.q, HQ_CATCHUP_STATE, h->version, &h->st, &h->version);
    if (rc != 0) {
        hq_warn("catch_up", NULL, "lost the catch-up claim (%s): this run ends", hq_strerror(rc));
        h->lost = true;
        return false;
    }
    return true;
}

static void count(const struct hq_catchup_sched_opts *o, const char *name, const char *labels,
                  double v)
{
    if (o->metrics != NULL)
        hq_series_add(hq_metrics_series(o->metrics, name, labels), v);
}

int hq_catchup_sched_turn(const struct hq_catchup_sched_opts *o, bool *ran)
{
    struct hq_queue_state st;
    struct held h = {.o = o};
    int64_t start = hq_now_ms();
    int rc;

    *ran = false;
    if ((rc = hq_queue_state_get(o->run.q, HQ_CATCHUP_STATE, &st)) != 0)
        return rc;
    if (st.position_ms > 0 && start - st.position_ms < o->interval_ms * 9 / 10)
        return 0; /* another process ran lately */
    if (st.claimed_by[0] != '\0' && st.claim_until_ms > start &&
        strcmp(st.claimed_by, o->owner) != 0)
        return 0; /* another process runs now */
    h.st = st;
    h.st.claim_until_ms = start + claim_ms(o);
    if (hq_snprintf(h.st.claimed_by, sizeof(h.st.claimed_by), "%s", o->owner) != 0)
        return HQ_ETOOBIG;
    rc = hq_queue_state_cas(o->run.q, HQ_CATCHUP_STATE, st.version, &h.st, &h.version);
    if (rc == HQ_ELEASELOST)
        return 0; /* another process claimed it first */
    if (rc != 0)
        return rc;
    *ran = true;

    struct hq_catchup_opts ro = o->run;
    int64_t since = st.position_ms > 0 ? st.position_ms - HQ_CATCHUP_OVERLAP : 0;
    if (since < start - o->window_ms)
        since = start - o->window_ms;
    ro.since_ms = since;
    ro.hook_id_known = st.version > 0 && st.value != 0;
    ro.hook_id = st.value;
    ro.keep_going = renew;
    ro.arg = &h;
    ro.report = NULL;
    struct hq_catchup_summary sum;
    int run_rc = hq_catchup_run(&ro, &sum);

    count(o, "hookq_catchup_runs_total", run_rc == 0 ? "result=\"ok\"" : "result=\"failed\"", 1);
    count(o, "hookq_catchup_missed_total", NULL, (double)sum.missed);
    count(o, "hookq_catchup_enqueued_total", NULL, (double)sum.counts[HQ_CU_ENQUEUED]);
    struct hq_log_ctx lc = HQ_LOG_CTX_INIT;
    lc.duration_ms = hq_now_ms() - start;
    char since_s[40] = "";
    if (hq_format_rfc3339(since, since_s, sizeof(since_s)) < 0)
        since_s[0] = '\0';
    if (run_rc == 0)
        hq_info("catch_up", &lc,
                "caught up since %s: %zu deliveries listed, %zu missed, %zu enqueued, "
                "%zu already queued, %zu failed",
                since_s, sum.listed, sum.missed, sum.counts[HQ_CU_ENQUEUED],
                sum.counts[HQ_CU_DUPLICATE], sum.counts[HQ_CU_FAILED]);
    else
        hq_error("catch_up", &lc, "catch-up run failed, the position stays: %s",
                 sum.error[0] ? sum.error : hq_strerror(run_rc));
    if (h.lost)
        return run_rc;
    /* drop the claim; a completed run moves the position and keeps the hook id */
    struct hq_queue_state done = h.st;
    done.claim_until_ms = 0;
    done.claimed_by[0] = '\0';
    if (run_rc == 0)
        done.position_ms = start;
    if (sum.hook_id_known)
        done.value = sum.hook_id;
    rc = hq_queue_state_cas(o->run.q, HQ_CATCHUP_STATE, h.version, &done, NULL);
    if (rc != 0)
        hq_warn("catch_up", NULL, "cannot release the catch-up claim: %s", hq_strerror(rc));
    return run_rc != 0 ? run_rc : rc;
}

/* Waits ms unless stopped: false when stopped. */
static bool doze(hq_catchup_sched *s, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->lock);
    while (!atomic_load(&s->stop))
        if (pthread_cond_timedwait(&s->cond, &s->lock, &ts) != 0)
            break;
    pthread_mutex_unlock(&s->lock);
    return !atomic_load(&s->stop);
}

static void *loop(void *arg)
{
    hq_catchup_sched *s = arg;
    struct hq_rng rng = {hq_rng_thread, NULL};
    int64_t first = s->o.first_delay_ms > 0   ? s->o.first_delay_ms
                    : s->o.interval_ms < 5000 ? s->o.interval_ms
                                              : 5000;
    int64_t wait = first;
    while (doze(s, wait)) {
        bool ran;
        int rc = hq_catchup_sched_turn(&s->o, &ran);
        if (rc != 0 && !ran)
            hq_error("catch_up", NULL, "catch-up cannot read its state in the queue: %s",
                     hq_strerror(rc));
        /* ±10% jitter */
        int64_t spread = s->o.interval_ms / 5;
        wait = s->o.interval_ms - spread / 2 +
               (spread > 0 ? (int64_t)(rng.next(rng.arg) % (uint64_t)spread) : 0);
    }
    return NULL;
}

int hq_catchup_metrics_declare(hq_metrics *m)
{
    int rc;
    if ((rc = hq_metrics_declare(m, "hookq_catchup_runs_total", HQ_COUNTER,
                                 "Catch-up runs of this worker by result", NULL, 0)) < 0 ||
        (rc = hq_metrics_declare(m, "hookq_catchup_missed_total", HQ_COUNTER,
                                 "Missed deliveries of accepted events found by catch-up", NULL,
                                 0)) < 0 ||
        (rc = hq_metrics_declare(m, "hookq_catchup_enqueued_total", HQ_COUNTER,
                                 "Missed deliveries catch-up enqueued", NULL, 0)) < 0)
        return rc;
    /* every series exists from the start: rules see 0, not nothing */
    static const char *const series[][2] = {{"hookq_catchup_runs_total", "result=\"ok\""},
                                            {"hookq_catchup_runs_total", "result=\"failed\""},
                                            {"hookq_catchup_missed_total", NULL},
                                            {"hookq_catchup_enqueued_total", NULL}};
    for (size_t i = 0; i < sizeof(series) / sizeof(series[0]); i++)
        if (hq_metrics_series(m, series[i][0], series[i][1]) == NULL)
            return -ENOMEM;
    return 0;
}

int hq_catchup_sched_start(const struct hq_catchup_sched_opts *o, hq_catchup_sched **out)
{
    int rc;
    *out = NULL;
    if (o->interval_ms <= 0 || o->window_ms <= 0 || o->owner == NULL)
        return -EINVAL;
    hq_catchup_sched *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return -ENOMEM;
    s->o = *o;
    atomic_init(&s->stop, false);
    s->o.run.stop = &s->stop;
    if (o->metrics != NULL && (rc = hq_catchup_metrics_declare(o->metrics)) != 0)
        goto fail;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    if ((rc = -pthread_create(&s->thread, NULL, loop, s)) != 0) {
        pthread_cond_destroy(&s->cond);
        pthread_mutex_destroy(&s->lock);
        goto fail;
    }
    *out = s;
    return 0;
fail:
    free(s);
    return rc;
}

void hq_catchup_sched_stop(hq_catchup_sched *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->lock);
    atomic_store(&s->stop, true);
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
