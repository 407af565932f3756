/*
 * processor: the steps of schema/design.md §4 for one event; see processor.h.
 *
 * Decisions are logged once each, with the delivery id, repository, event
 * and attempt, so that one delivery can be followed through the log.
 */
#include "processor.h"
#include "clock.h"
#include "log.h"
#include "processor_int.h"
#include "report_checks.h"
#include "route.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const outcome_names[HQ_OUT_COUNT] = {
    "done", "no_status", "retry", "wait", "released", "dead", "lease_lost", "error"};

const char *hq_outcome_name(enum hq_outcome o)
{
    return o < HQ_OUT_COUNT ? outcome_names[o] : "unknown";
}

int hq_processor_create(const struct worker_config *cfg, hq_queue *q, hq_github *gh, hq_metrics *m,
                        hq_processor **out)
{
    int rc;
    hq_processor *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return -ENOMEM;
    p->cfg = cfg;
    p->route_opts.checks = HQ_REPORT_HAS_CHECKS(cfg->report);
    p->route_opts.app_id = cfg->app_id;
    p->q = q;
    p->gh = gh;
    p->argv_buf = strdup(cfg->check_cmd);
    if (p->argv_buf == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    rc = hq_check_split(p->argv_buf, p->argv);
    if (rc < 0)
        goto fail;
    if ((rc = hq_check_resolve(p->argv[0], p->program, sizeof(p->program))) != 0)
        goto fail;
    p->argv[0] = p->program;
    if (m != NULL) {
        static const double secs[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600};
        static const double lat[] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};
        if ((rc = hq_metrics_declare(m, "hookq_events_total", HQ_COUNTER,
                                     "Events processed, by outcome", NULL, 0)) ||
            (rc = hq_metrics_declare(m, "hookq_check_duration_seconds", HQ_HISTOGRAM,
                                     "Duration of the check command", secs, 13)) ||
            (rc = hq_metrics_declare(m, "hookq_received_to_done_seconds", HQ_HISTOGRAM,
                                     "From the delivery's receipt to done", lat, 13)))
            goto fail;
        for (int i = 0; i < HQ_OUT_COUNT; i++) {
            char labels[64];
            snprintf(labels, sizeof(labels), "outcome=\"%s\"", outcome_names[i]);
            p->outcomes[i] = hq_metrics_series(m, "hookq_events_total", labels);
        }
        p->check_seconds = hq_metrics_series(m, "hookq_check_duration_seconds", NULL);
        p->latency_seconds = hq_metrics_series(m, "hookq_received_to_done_seconds", NULL);
    }
    *out = p;
    return 0;
fail:
    hq_processor_destroy(p);
    return rc;
}

void hq_processor_destroy(hq_processor *p)
{
    if (p == NULL)
        return;
    free(p->argv_buf);
    free(p);
}

/* The step to record with a retry: pending, when this attempt posted it (the
 * next attempt need not post it again). */
static enum hq_step reached(const struct job *j)
{
    return j->pending_unrecorded ? HQ_STEP_PENDING_POSTED : HQ_STEP_NEW;
}

enum hq_outcome hq_job_queue_failed(struct job *j, const char *what, int rc)
{
    if (rc == HQ_ELEASELOST) {
        hq_warn("lease_lost", &j->log, "lease lost while %s: another worker has the repository",
                what);
        return HQ_OUT_LEASE_LOST;
    }
    hq_error("queue", &j->log, "queue write failed while %s: %s", what, hq_strerror(rc));
    return HQ_OUT_ERROR;
}

/* An attempt failed: back off, or dead-letter when it was the last one. */
enum hq_outcome hq_job_attempt_failed(struct job *j, const char *why)
{
    const struct worker_config *cfg = j->p->cfg;
    unsigned attempt = j->ev->attempts + 1;
    int rc;
    if (attempt >= cfg->max_attempts) {
        char reason[HQ_MAX_REASON_LEN];
        snprintf(reason, sizeof(reason), "%u attempts failed; last: %s", attempt, why);
        hq_checks_abandon(j, reason);
        /* hq_queue_dead_letter counts this attempt: attempts ends at `attempt`. */
        rc = hq_queue_dead_letter(j->p->q, j->lease, reason);
        if (rc != 0)
            return hq_job_queue_failed(j, "dead-lettering", rc);
        hq_warn("dead_letter", &j->log, "dead-lettered: %s", reason);
        return HQ_OUT_DEAD;
    }
    int64_t delay = hq_backoff_ms(attempt - 1, cfg->backoff_base_ms, cfg->backoff_max_ms, NULL);
    rc = hq_queue_retry(j->p->q, j->lease, hq_now_ms() + delay, true, why, reached(j));
    if (rc != 0)
        return hq_job_queue_failed(j, "recording a failed attempt", rc);
    hq_info("retry", &j->log, "attempt failed, retry in %lld ms: %s", (long long)delay, why);
    return HQ_OUT_RETRY;
}

enum hq_outcome hq_job_permanent(struct job *j, const char *why)
{
    hq_checks_abandon(j, why);
    int rc = hq_queue_dead_letter(j->p->q, j->lease, why);
    if (rc != 0)
        return hq_job_queue_failed(j, "dead-lettering", rc);
    hq_warn("dead_letter", &j->log, "dead-lettered, permanent: %s", why);
    return HQ_OUT_DEAD;
}

/* Rate limited (GitHub's or our pacing): wait, not an attempt. */
enum hq_outcome hq_job_wait_until(struct job *j, int64_t at_ms, const char *why)
{
    int64_t now = hq_now_ms();
    if (at_ms < now)
        at_ms = now;
    int rc = hq_queue_retry(j->p->q, j->lease, at_ms, false, why, reached(j));
    if (rc != 0)
        return hq_job_queue_failed(j, "recording a rate-limit wait", rc);
    hq_info("wait", &j->log, "rate limited, waiting %lld ms (not an attempt): %s",
            (long long)(at_ms - now), why);
    return HQ_OUT_WAIT;
}

/*
 * Posts one status. Returns true when it was posted and the call goes on;
 * false when the post ended the call (the failure is recorded: a retry, a
 * wait or a dead letter), with *end its outcome.
 */
HQ_WUR static bool post(struct job *j, const char *state, const char *description,
                        enum hq_outcome *end)
{
    const struct worker_config *cfg = j->p->cfg;
    char url[2048];
    const char *target = NULL;
    if (cfg->target_url != NULL && worker_target_url(cfg->target_url, j->ev->repo_name, j->sha,
                                                     j->ev->delivery, url, sizeof(url)) == 0)
        target = url;
    struct hq_gh_result res;
    int64_t t0 = hq_mono_ms();
    int rc = hq_github_post_status(j->p->gh, j->ev->repo_name, j->ev->installation_id, j->sha,
                                   state, cfg->context, description, target, &res);
    j->log.duration_ms = hq_mono_ms() - t0;
    j->log.ratelimit_remaining = res.ratelimit_remaining;
    if (rc != 0) {
        char why[128];
        snprintf(why, sizeof(why), "posting %s failed locally: %s", state, hq_strerror(rc));
        *end = hq_job_attempt_failed(j, why);
        return false;
    }
    switch (res.outcome) {
    case HQ_GH_OK:
        hq_info("post_status", &j->log, "posted %s to %s", state, j->sha);
        j->log.duration_ms = -1;
        return true;
    case HQ_GH_WAIT: *end = hq_job_wait_until(j, res.retry_at_ms, res.reason); break;
    case HQ_GH_PERMANENT: *end = hq_job_permanent(j, res.reason); break;
    case HQ_GH_RETRY:
    default: *end = hq_job_attempt_failed(j, res.reason); break;
    }
    return false;
}

static const char *state_name(int state)
{
    switch (state) {
    case HQ_CHECK_SUCCESS: return "success";
    case HQ_CHECK_FAILURE: return "failure";
    default: return "error";
    }
}

static enum hq_outcome finish(struct job *j, enum hq_outcome o)
{
    hq_series_add(j->p->outcomes[o], 1);
    if (o == HQ_OUT_DONE || o == HQ_OUT_NO_STATUS)
        hq_series_observe(j->p->latency_seconds,
                          (double)(hq_now_ms() - j->ev->received_at_ms) / 1000.0);
    return o;
}

/* Runs the check (step < CHECKED) and records its result. Returns
 * HQ_OUT_COUNT to go on, with *cr the result (the caller frees it), *state
 * and *desc what was recorded; else the outcome that ended the call. */
static enum hq_outcome run_check(struct job *j, const atomic_bool *cancel,
                                 struct hq_check_result **crp, int *state, char *desc, size_t cap)
{
    hq_processor *p = j->p;
    const struct hq_event *ev = j->ev;
    struct hq_check_result *cr = malloc(sizeof(*cr));
    if (cr == NULL)
        return hq_job_queue_failed(j, "running the check", -ENOMEM);
    struct hq_check_env env = {ev->event, ev->action,   ev->repo_name,
                               j->sha,    ev->delivery, ev->attempts + 1};
    int rc = hq_check_run(p->argv, &env, ev->payload, ev->payload_len, p->cfg->check_timeout_ms,
                          cancel, cr);
    enum hq_outcome out = HQ_OUT_COUNT;
    if (rc != 0) {
        char why[128];
        snprintf(why, sizeof(why), "could not run the check: %s", hq_strerror(rc));
        out = hq_job_attempt_failed(j, why);
    } else {
        hq_series_observe(p->check_seconds, (double)cr->duration_ms / 1000.0);
        j->log.duration_ms = cr->duration_ms;
        if (cr->outcome == HQ_CHECK_CANCELLED) {
            rc = hq_queue_retry(p->q, j->lease, hq_now_ms(), false, "shutdown", reached(j));
            out = rc == 0 ? HQ_OUT_RELEASED : hq_job_queue_failed(j, "releasing", rc);
            if (rc == 0)
                hq_info("released", &j->log, "check cancelled by shutdown; given back");
        } else if (cr->outcome == HQ_CHECK_TIMED_OUT) {
            j->timed_out = true;
            out = hq_job_attempt_failed(j, cr->description);
        } else {
            hq_info("check", &j->log, "check finished: %s (exit %d, signal %d): %s",
                    state_name(cr->state), cr->exit_code, cr->signal, cr->description);
            *state = cr->state;
            if (HQ_REPORT_HAS_CHECKS(p->cfg->report)) {
                const char *conclusion;
                char title[HQ_CHECK_DESC_CHARS * 4 + 64];
                hq_checks_describe(cr, &conclusion, title, sizeof(title));
                hq_checks_desc(conclusion, title, desc, cap);
            } else {
                snprintf(desc, cap, "%s", cr->description);
            }
            rc = hq_queue_record_step(p->q, j->lease, HQ_STEP_CHECKED,
                                      (enum hq_check_state) * state, desc);
            if (rc != 0)
                out = hq_job_queue_failed(j, "recording the check result", rc);
            j->pending_unrecorded = false; /* CHECKED implies it */
        }
        j->log.duration_ms = -1;
    }
    if (out != HQ_OUT_COUNT)
        free(cr);
    else
        *crp = cr;
    return out;
}

enum hq_outcome hq_processor_run(hq_processor *p, const struct hq_lease *lease,
                                 const struct hq_event *ev, const atomic_bool *cancel)
{
    struct job j = {p, lease, ev, HQ_LOG_CTX_INIT, "", false, 0, false, false};
    j.log.delivery = ev->delivery;
    j.log.repo = ev->repo_name;
    j.log.event = ev->event;
    j.log.attempt = (int)ev->attempts + 1;
    const struct worker_config *cfg = p->cfg;
    bool statuses = HQ_REPORT_HAS_STATUSES(cfg->report);
    bool checks = HQ_REPORT_HAS_CHECKS(cfg->report);
    enum hq_outcome end;
    int rc;

    struct hq_route route;
    if ((rc = hq_route_event_opts(&p->route_opts, ev->event, ev->payload ? ev->payload : "",
                                  ev->payload_len, &route)) != 0)
        return finish(&j, hq_job_queue_failed(&j, "routing", rc));
    if (route.kind == HQ_ROUTE_INVALID)
        return finish(&j, hq_job_permanent(&j, route.reason));
    if (route.kind == HQ_ROUTE_NONE) {
        if ((rc = hq_queue_complete(p->q, lease)) != 0)
            return finish(&j, hq_job_queue_failed(&j, "completing", rc));
        if (route.quiet)
            hq_debug("done", &j.log, "nothing to report: %s", route.reason);
        else
            hq_info("done", &j.log, "no status to post: %s", route.reason);
        return finish(&j, HQ_OUT_NO_STATUS);
    }
    memcpy(j.sha, route.sha, sizeof(j.sha));
    j.run_id = ev->check_run_id;
    j.run_done = ev->step >= HQ_STEP_FINAL_POSTED;

    uint32_t step = ev->step;
    if (step < HQ_STEP_PENDING_POSTED) {
        /* Not recorded on its own: the check's stored result implies it,
         * and a retry before that records it in the same commit (reached).
         * A crash in between posts pending again, which is harmless. This
         * saves one durable commit per event. */
        if (statuses && cfg->post_pending && !post(&j, "pending", "hookq: check running", &end))
            return finish(&j, end);
        j.pending_unrecorded = true;
        step = HQ_STEP_PENDING_POSTED;
    }
    /* The run exists, in progress, before the check runs (and before its
     * result is stored: an event recorded in statuses mode gets one now). */
    if (checks && step < HQ_STEP_FINAL_POSTED && !hq_checks_start(&j, &end))
        return finish(&j, end);

    int state = (int)ev->check_state;
    char desc[HQ_MAX_DESC_LEN + 1];
    snprintf(desc, sizeof(desc), "%s", ev->check_desc ? ev->check_desc : "");
    struct hq_check_result *cr = NULL;
    if (step < HQ_STEP_CHECKED) {
        enum hq_outcome out = run_check(&j, cancel, &cr, &state, desc, sizeof(desc));
        if (out != HQ_OUT_COUNT)
            return finish(&j, out);
    }
    char conclusion[16];
    const char *title = desc;
    if (checks)
        hq_checks_split_desc(desc, state, conclusion, &title);
    if (checks && step < HQ_STEP_FINAL_POSTED) {
        bool ok = hq_checks_complete(&j, cr, conclusion, title, &end);
        if (ok && statuses) {
            /* both: the run is one step, the status the next */
            rc = hq_queue_record_step(p->q, lease, HQ_STEP_FINAL_POSTED, (enum hq_check_state)state,
                                      desc);
            if (rc != 0) {
                end = hq_job_queue_failed(&j, "recording the completed run", rc);
                ok = false;
            }
        }
        if (!ok) {
            free(cr);
            return finish(&j, end);
        }
    }
    free(cr);
    if (statuses) {
        char description[HQ_CHECK_DESC_CHARS * 4 + 64];
        snprintf(description, sizeof(description), "%s", title);
        if (!post(&j, state_name(state), description, &end))
            return finish(&j, end);
    }
    if ((rc = hq_queue_complete(p->q, lease)) != 0)
        return finish(&j, hq_job_queue_failed(&j, "completing", rc));
    if (checks)
        hq_info("done", &j.log, "done: check run %" PRIu64 " %s", j.run_id, conclusion);
    else
        hq_info("done", &j.log, "done: %s", state_name(state));
    return finish(&j, HQ_OUT_DONE);
}
