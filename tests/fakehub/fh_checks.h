/*
 * fh_checks: GitHub's Checks API in fakehub (check runs), for the worker's
 * report through check runs (issue 10):
 *
 *   POST  /repos/{owner}/{repo}/check-runs                  201, the new run
 *   PATCH /repos/{owner}/{repo}/check-runs/{id}             200, the run after the change
 *   GET   /repos/{owner}/{repo}/check-runs/{id}             200, the run
 *   GET   /repos/{owner}/{repo}/commits/{sha}/check-runs    200 {"total_count","check_runs"}
 *   GET   /_fakehub/check-runs                              test control: every run, with its
 *                                                           annotations and history
 *
 * Runs live in memory for the life of the process, in id order; ids start
 * at FH_CHECKS_FIRST_ID (above 2^32, as GitHub's are, so that a client
 * keeping ids in 32 bits fails visibly) and grow by one per create. Each run
 * keeps its GitHub object (the answer), the annotations given so far and its
 * history: one entry per create or update that was stored, with the request
 * body and whether its answer was lost. The validation of bodies is in
 * fh_checks_valid.c (fh_checks_valid.h).
 *
 * Lost answers: a create or update may be stored and its answer lost, as
 * when GitHub stored it and the connection broke: by the draw of the
 * --lose-answer fault (lose = true) or because it is the N-th stored create
 * (--lose-create N) or update (--lose-update N). The call then sets
 * info->lost, still answers ans as GitHub would have, and fh_api replaces
 * that answer by what --lost-answer says (a TCP reset or a 502).
 *
 * Threads: every function may run on any thread; one mutex (lock in struct
 * fh_checks) guards the runs and counters. It is taken alone: never while
 * another module's lock is held, and no other lock is taken under it except
 * fh_util's parse lock (through fh_json_parse).
 */
#ifndef FH_CHECKS_H
#define FH_CHECKS_H

#include "fh_api.h"
#include "hq_error.h"

#include <stdbool.h>
#include <stdint.h>

#define FH_CHECKS_FIRST_ID 7000000001ull
#define FH_CHECKS_MAX_RUNS 20000 /* later creates get 500 "fakehub: check run store full" */

typedef struct fh_checks fh_checks;

/* What fh_api records about a check-run request. */
struct fh_check_info {
    uint64_t id;  /* the run's id, 0: none (refused before a run was known) */
    char sha[41]; /* its head_sha, "" when unknown */
    bool lost;    /* stored, and the answer must be lost */
};

/* 0 or -ENOMEM. */
HQ_WUR int fh_checks_open(fh_checks **out);
void fh_checks_close(fh_checks *c);

/* The routes, called by fh_api once the caller is authorized (an
 * installation token for create and update; a token or PAT for reads).
 * repo is "owner/name". Each fills ans (400/404/422/500, or the answer). */
void fh_checks_create(struct fh_ctx *ctx, const char *repo, const struct fh_request *rq, bool lose,
                      struct fh_answer *ans, struct fh_check_info *info);
void fh_checks_update(struct fh_ctx *ctx, const char *repo, uint64_t id,
                      const struct fh_request *rq, bool lose, struct fh_answer *ans,
                      struct fh_check_info *info);
void fh_checks_get(struct fh_ctx *ctx, const char *repo, uint64_t id, struct fh_answer *ans,
                   struct fh_check_info *info);

/* GET .../commits/{ref}/check-runs with rq's check_name, status, filter
 * (latest, the default: the newest run of each name; all), per_page (1-100,
 * default 30) and page (from 1); newest first, Link rel="next" while there
 * is more. ref must be a 40-hex sha (fakehub knows no branches): 422. */
void fh_checks_list(struct fh_ctx *ctx, const char *repo, const char *ref,
                    const struct fh_request *rq, struct fh_answer *ans);

/* GET /_fakehub/check-runs: {"creates","updates","lost","check_runs":[run +
 * "repository", "annotations", "history":[{"op","t","body","answer_lost"}]]},
 * oldest first. */
void fh_checks_inspect(struct fh_ctx *ctx, struct fh_answer *ans);

#endif
