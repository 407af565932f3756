/*
 * gh_check_runs: the Checks API calls of the worker (schema/design.md §4.1):
 * create a check run, update it, and find the run an earlier attempt made
 * for a delivery. Only a GitHub App may make check runs: in token mode
 * every call is -EINVAL. The retry table of retry.h classifies every answer
 * (a 422 is HQ_GH_PERMANENT with GitHub's message in the reason); create and
 * update are paced like statuses, the listing is not.
 *
 * Threads: as github.h (any number at once).
 */
#ifndef HQ_GH_CHECK_RUNS_H
#define HQ_GH_CHECK_RUNS_H

#include "gh_checks.h"
#include "github.h"

/* POST /repos/{repo}/check-runs with run (name and head_sha given). 0 with
 * *res classified and, on HQ_GH_OK, *id the new run; -EINVAL, -ENOMEM. */
HQ_WUR int hq_github_check_run_create(hq_github *gh, const char *repo_full_name,
                                      uint64_t installation_id, const struct hq_gh_check_run *run,
                                      uint64_t *id, struct hq_gh_result *res);

/* PATCH /repos/{repo}/check-runs/{id} with run (name and head_sha left out);
 * sha is the run's commit, checked as for a status. As create. */
HQ_WUR int hq_github_check_run_update(hq_github *gh, const char *repo_full_name,
                                      uint64_t installation_id, const char *sha, uint64_t id,
                                      const struct hq_gh_check_run *run, struct hq_gh_result *res);

/*
 * GET /repos/{repo}/commits/{sha}/check-runs?check_name={name}&filter=all
 * &per_page=100&page=N: *id the run of external_id that is not completed
 * (see hq_gh_answer_check_runs_find), or 0 when there is none. Pages on
 * until the run is found or the listing's total_count runs are read, at
 * most HQ_GH_FIND_PAGES pages (a commit with more runs of this name than
 * that, from re-runs, may hide an unrecorded one, which then gets a second
 * run).
 */
#define HQ_GH_FIND_PAGES 10
HQ_WUR int hq_github_check_run_find(hq_github *gh, const char *repo_full_name,
                                    uint64_t installation_id, const char *sha, const char *name,
                                    const char *external_id, uint64_t app_id, uint64_t *id,
                                    struct hq_gh_result *res);

#endif
