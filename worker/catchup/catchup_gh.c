/*
 * catchup_gh: a delivery-log request with retries; see catchup_gh.h.
 * Sleeps happen in the calling thread in slices of at most 100 ms, so that
 * a stop request ends a wait at once.
 */
#include "catchup_gh.h"

#include "clock.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

#define SLICE_MS       100
#define MAX_BACKOFF_MS 30000

static bool stopped(const struct hq_catchup_opts *o)
{
    return o->stop != NULL && atomic_load(o->stop);
}

/* Sleeps ms unless stop is set first: 0, or HQ_ESHUTDOWN. */
static int nap(const struct hq_catchup_opts *o, int64_t ms)
{
    while (ms > 0) {
        if (stopped(o))
            return HQ_ESHUTDOWN;
        int64_t step = ms < SLICE_MS ? ms : SLICE_MS;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)step * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
        ms -= step;
    }
    return stopped(o) ? HQ_ESHUTDOWN : 0;
}

int hq_catchup_request(const struct hq_catchup_opts *o, int64_t *waited_ms, const char *route,
                       const char *url, const char *body,
                       bool (*valid)(const struct hq_github_http_response *r),
                       struct hq_github_http_response *r, char *why, size_t whycap)
{
    int max_tries = o->max_tries > 0 ? o->max_tries : 4;
    int64_t backoff = o->backoff_ms > 0 ? o->backoff_ms : 1000;
    int64_t max_wait = o->max_wait_ms > 0 ? o->max_wait_ms : 15 * 60 * 1000;
    struct hq_gh_result res;
    int tries = 0, rc;

    for (;;) {
        if (stopped(o))
            return HQ_ESHUTDOWN;
        if (o->keep_going != NULL && !o->keep_going(o->arg))
            return HQ_ELEASELOST;
        rc = hq_github_app_request(o->gh, route, url, body, r, &res);
        if (rc < 0)
            return rc;
        if (res.outcome == HQ_GH_OK && (valid == NULL || valid(r)))
            return 0;
        if (res.outcome == HQ_GH_OK) {
            res.outcome = HQ_GH_RETRY;
            int n = snprintf(res.reason, sizeof(res.reason), "%s: malformed answer (HTTP %ld)",
                             route, r->status);
            if (n < 0)
                res.reason[0] = '\0';
        }
        struct hq_log_ctx lc = HQ_LOG_CTX_INIT;
        lc.ratelimit_remaining = res.ratelimit_remaining;
        if (res.outcome == HQ_GH_WAIT) {
            int64_t wait = res.retry_at_ms - hq_now_ms();
            if (wait < 0)
                wait = 0;
            if (*waited_ms + wait > max_wait) {
                int n = snprintf(why, whycap,
                                 "%s: rate limited for %lld s more than the run may wait: %s",
                                 route, (long long)(wait / 1000), res.reason);
                if (n < 0 && whycap > 0)
                    why[0] = '\0';
                return HQ_EHTTP;
            }
            hq_warn("catch_up", &lc, "rate limited, waiting %lld ms: %s", (long long)wait,
                    res.reason);
            *waited_ms += wait;
            if ((rc = nap(o, wait)) != 0)
                return rc;
            continue; /* a wait is not a try */
        }
        if (res.outcome == HQ_GH_RETRY && ++tries < max_tries) {
            int64_t ms = backoff << (tries - 1);
            if (ms > MAX_BACKOFF_MS)
                ms = MAX_BACKOFF_MS;
            hq_warn("catch_up", &lc, "try %d of %d failed, again in %lld ms: %s", tries, max_tries,
                    (long long)ms, res.reason);
            if ((rc = nap(o, ms)) != 0)
                return rc;
            continue;
        }
        int n = res.outcome == HQ_GH_RETRY
                    ? snprintf(why, whycap, "%s after %d tries", res.reason, tries)
                    : snprintf(why, whycap, "%s", res.reason);
        if (n < 0 && whycap > 0)
            why[0] = '\0';
        return HQ_EHTTP;
    }
}
