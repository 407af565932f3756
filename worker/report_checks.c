/*
 * report_checks: creating, finding and completing an event's check run;
 * see report_checks.h. Every GitHub answer goes through the retry table
 * (retry.h) as a status post does: a retry, a wait, or a dead letter (a 422
 * with GitHub's message in the reason).
 */
#include "report_checks.h"
#include "clock.h"
#include "gh_check_runs.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a classified answer means for the call: true to go on. */
static bool answered(struct job *j, const char *what, int rc, const struct hq_gh_result *res,
                     enum hq_outcome *end)
{
    char why[HQ_GH_REASON_MAX + 64];
    j->log.ratelimit_remaining = res->ratelimit_remaining;
    if (rc != 0) {
        snprintf(why, sizeof(why), "%s failed locally: %s", what, hq_strerror(rc));
        *end = hq_job_attempt_failed(j, why);
        return false;
    }
    if (res->outcome == HQ_GH_OK)
        return true;
    snprintf(why, sizeof(why), "%s: %s", what, res->reason);
    switch (res->outcome) {
    case HQ_GH_WAIT: *end = hq_job_wait_until(j, res->retry_at_ms, why); break;
    case HQ_GH_PERMANENT: *end = hq_job_permanent(j, why); break;
    default: *end = hq_job_attempt_failed(j, why); break;
    }
    return false;
}

static const char *details_url(struct job *j, char *buf, size_t cap)
{
    const struct worker_config *cfg = j->p->cfg;
    if (cfg->target_url == NULL || worker_target_url(cfg->target_url, j->ev->repo_name, j->sha,
                                                     j->ev->delivery, buf, cap) != 0)
        return NULL;
    return buf;
}

bool hq_checks_start(struct job *j, enum hq_outcome *end)
{
    const struct worker_config *cfg = j->p->cfg;
    const struct hq_event *ev = j->ev;
    struct hq_gh_result res;
    uint64_t id = 0;
    int rc;

    if (ev->check_run_id != 0) {
        j->run_id = ev->check_run_id;
        return true;
    }
    /* An earlier attempt may have made the run and lost its answer, or been
     * killed before recording it: look before making another. */
    if (ev->attempts > 0) {
        rc = hq_github_check_run_find(j->p->gh, ev->repo_name, ev->installation_id, j->sha,
                                      cfg->check_name, ev->delivery, cfg->app_id, &id, &res);
        if (!answered(j, "finding the check run", rc, &res, end))
            return false;
        if (id != 0)
            hq_info("check_run", &j->log, "found check run %" PRIu64 " of an earlier attempt", id);
    }
    if (id == 0) {
        char url[2048];
        struct hq_gh_check_run run = {.name = cfg->check_name,
                                      .head_sha = j->sha,
                                      .status = "in_progress",
                                      .external_id = ev->delivery,
                                      .details_url = details_url(j, url, sizeof(url))};
        int64_t t0 = hq_mono_ms();
        rc = hq_github_check_run_create(j->p->gh, ev->repo_name, ev->installation_id, &run, &id,
                                        &res);
        j->log.duration_ms = hq_mono_ms() - t0;
        if (!answered(j, "creating the check run", rc, &res, end))
            return false;
        hq_info("check_run", &j->log, "created check run %" PRIu64 " in_progress on %s", id,
                j->sha);
        j->log.duration_ms = -1;
    }
    if ((rc = hq_queue_record_check_run(j->p->q, j->lease, id)) != 0) {
        *end = hq_job_queue_failed(j, "recording the check run", rc);
        return false;
    }
    j->run_id = id;
    return true;
}

static const char *signal_name(int sig)
{
    switch (sig) {
    case SIGKILL: return "SIGKILL";
    case SIGTERM: return "SIGTERM";
    case SIGSEGV: return "SIGSEGV";
    case SIGABRT: return "SIGABRT";
    case SIGINT: return "SIGINT";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    default: return "a signal";
    }
}

void hq_checks_describe(const struct hq_check_result *cr, const char **conclusion, char *title,
                        size_t cap)
{
    const char *line = cr->description;
    if (cr->signal != 0) {
        *conclusion = "failure";
        snprintf(title, cap, "killed by %s (%d)%s%s", signal_name(cr->signal), cr->signal,
                 line[0] ? ": " : "", line);
    } else if (cr->exit_code == 0 || cr->exit_code == 1 || cr->exit_code == 78) {
        *conclusion = cr->exit_code == 0 ? "success" : cr->exit_code == 1 ? "failure" : "neutral";
        snprintf(title, cap, "%s", line[0] ? line : *conclusion);
    } else {
        *conclusion = "failure";
        snprintf(title, cap, "exit status %d%s%s", cr->exit_code, line[0] ? ": " : "", line);
    }
}

void hq_checks_desc(const char *conclusion, const char *title, char *out, size_t cap)
{
    snprintf(out, cap, "%s\n%s", conclusion, title);
}

void hq_checks_split_desc(const char *desc, int state, char concl[16], const char **title)
{
    static const char *const known[] = {"success", "failure", "neutral", NULL};
    const char *nl = strchr(desc, '\n');
    for (int i = 0; nl != NULL && known[i] != NULL; i++) {
        size_t n = strlen(known[i]);
        if ((size_t)(nl - desc) == n && strncmp(desc, known[i], n) == 0) {
            memcpy(concl, known[i], n + 1);
            *title = nl + 1;
            return;
        }
    }
    snprintf(concl, 16, "%s", state == HQ_CHECK_SUCCESS ? "success" : "failure");
    *title = desc;
}

bool hq_checks_complete(struct job *j, const struct hq_check_result *cr, const char *conclusion,
                        const char *title, enum hq_outcome *end)
{
    const struct hq_event *ev = j->ev;
    char url[2048], summary[512];
    char *text = malloc(HQ_GH_CHECK_TEXT_MAX + 1);
    struct hq_gh_result res;
    if (text == NULL) {
        *end = hq_job_queue_failed(j, "completing the check run", -ENOMEM);
        return false;
    }
    unsigned attempt = ev->attempts + 1, max = (unsigned)j->p->cfg->max_attempts;
    if (cr != NULL) {
        char status[64];
        if (cr->signal != 0)
            snprintf(status, sizeof(status), "killed by signal %d", cr->signal);
        else
            snprintf(status, sizeof(status), "exit status %d", cr->exit_code);
        snprintf(summary, sizeof(summary), "**%s** · %s after %.3f s · attempt %u of %u",
                 conclusion, status, (double)cr->duration_ms / 1000.0, attempt, max);
        hq_gh_check_text(cr->output, cr->output_len, cr->output_cut, text);
    } else {
        snprintf(summary, sizeof(summary),
                 "**%s** · reported by attempt %u of %u (an earlier attempt ran the check)",
                 conclusion, attempt, max);
        snprintf(text, HQ_GH_CHECK_TEXT_MAX + 1,
                 "The attempt that ran the check could not report it to GitHub, and the "
                 "check's output is not kept across attempts: see the worker's log for "
                 "delivery %s.",
                 ev->delivery);
    }
    struct hq_gh_check_run run = {.status = "completed",
                                  .conclusion = conclusion,
                                  .external_id = ev->delivery,
                                  .details_url = details_url(j, url, sizeof(url)),
                                  .title = title[0] ? title : conclusion,
                                  .summary = summary,
                                  .text = text};
    int64_t t0 = hq_mono_ms();
    int rc = hq_github_check_run_update(j->p->gh, ev->repo_name, ev->installation_id, j->sha,
                                        j->run_id, &run, &res);
    j->log.duration_ms = hq_mono_ms() - t0;
    free(text);
    if (!answered(j, "completing the check run", rc, &res, end))
        return false;
    j->run_done = true;
    hq_info("check_run", &j->log, "completed check run %" PRIu64 ": %s", j->run_id, conclusion);
    j->log.duration_ms = -1;
    return true;
}

void hq_checks_abandon(struct job *j, const char *why)
{
    /* a completed run (both: the status failed after it) stays as it is */
    if (j->run_id == 0 || j->run_done)
        return;
    const struct hq_event *ev = j->ev;
    const char *conclusion = j->timed_out ? "timed_out" : "failure";
    char title[HQ_GH_CHECK_TITLE_CHARS * 4 + 1], summary[HQ_GH_REASON_MAX + 128];
    snprintf(title, sizeof(title), "hookq gave up: %s", why);
    snprintf(summary, sizeof(summary),
             "**%s** · hookq dead-lettered delivery `%s` after %u attempts: %s", conclusion,
             ev->delivery, ev->attempts + 1, why);
    struct hq_gh_check_run run = {.status = "completed",
                                  .conclusion = conclusion,
                                  .title = title,
                                  .summary = summary,
                                  .text = "hookqctl dlq replay makes a new check run."};
    struct hq_gh_result res;
    int rc = hq_github_check_run_update(j->p->gh, ev->repo_name, ev->installation_id, j->sha,
                                        j->run_id, &run, &res);
    if (rc != 0 || res.outcome != HQ_GH_OK)
        hq_warn("check_run", &j->log, "check run %" PRIu64 " left in progress: %s", j->run_id,
                rc != 0 ? hq_strerror(rc) : res.reason);
    else
        hq_info("check_run", &j->log, "check run %" PRIu64 " completed as %s (dead letter)",
                j->run_id, conclusion);
}
