/*
 * fh_api: the GitHub REST semantics of fakehub, independent of the HTTP
 * server: a parsed request goes in, an answer (status, headers, body, delay,
 * or "reset the connection") comes out, and the request is recorded.
 *
 * Order of decisions for one request, as GitHub's front end would take them:
 * body over 1 MiB → 413; no User-Agent → 403; unknown route or method → 404;
 * the credential is classified (no side effects); a fault may replace the
 * answer; then the route: authentication (401), the installation's budget
 * (403), forced codes, validation (400/422), and the real answer.
 *
 * Threads: fh_api_handle may run on any number of threads at once; the
 * modules it uses (tokens, faults, record) carry their own locks, and the
 * rest of struct fh_ctx is read-only while the server runs.
 */
#ifndef FH_API_H
#define FH_API_H

#include "fh_faults.h"
#include "fh_jwt.h"
#include "fh_opts.h"
#include "fh_record.h"
#include "fh_tokens.h"

#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FH_MAX_BODY (1024 * 1024) /* larger request bodies get 413 */
#define FH_MAX_PATH 2048

struct fh_ctx {
    const struct fh_opts *opts;
    fh_jwt *jwt; /* NULL: no App configured, every JWT is refused */
    char **pats; /* accepted personal access tokens */
    size_t npats;
    fh_tokens *tokens;
    fh_faults *faults;
    fh_record *record;                /* NULL: no record */
    struct fh_deliveries *deliveries; /* the App's delivery log (fh_deliveries.h) */
    struct fh_checks *checks;         /* check runs (fh_checks.h) */
    atomic_uint_fast64_t next_status_id;
    atomic_uint_fast64_t next_request_id;
};

/* A request as the HTTP layer hands it over; strings are NULL when absent. */
struct fh_request {
    const char *method, *path;
    const char *authorization, *accept, *user_agent, *api_version;
    const char *host;                  /* Host header: absolute Link URLs */
    const char *q_cursor, *q_per_page; /* query arguments of the delivery list */
    const char *q_page, *q_check_name, *q_status, *q_filter; /* ... of the check run list */
    const char *body;
    size_t body_len;
    bool body_too_big;
    int64_t t_ms; /* wall clock when the request arrived */
};

struct fh_answer {
    unsigned status;
    char *body; /* malloc'd JSON (or not, for the malformed fault) */
    size_t body_len;
    bool reset;            /* close the connection without answering */
    int64_t delay_ms;      /* hold the answer this long first */
    int64_t retry_after_s; /* < 0: no retry-after header */
    uint64_t rl_limit, rl_remaining, rl_used;
    int64_t rl_reset_s;
    char request_id[40];
    char *link; /* malloc'd Link header value, NULL: none */
};

/* Decides the answer to rq into *ans (zeroed by the caller) and records it.
 * Never fails: an internal error is answered 500. The caller frees ans->body. */
void fh_api_handle(struct fh_ctx *ctx, const struct fh_request *rq, struct fh_answer *ans);

/* Shared by the route modules: answer with a JSON document (consumed) or a
 * GitHub-shaped error {"message","documentation_url"}. */
void fh_answer_json(struct fh_answer *ans, unsigned status, cJSON *doc);
void fh_answer_error(struct fh_answer *ans, unsigned status, const char *message);

/*
 * POST /repos/{owner}/{repo}/statuses/{sha} once the caller is authorized:
 * validates sha and body as GitHub does (422/400) or answers 201 with the
 * new status object (fh_status.c).
 */
void fh_status_create(struct fh_ctx *ctx, const char *repo, const char *sha,
                      const struct fh_request *rq, struct fh_answer *ans);

/* The App's endpoints once the JWT is verified (fh_app.c): a new token for
 * installation inst (201; 400 for a body that is not a JSON object), and
 * repo's installation (200 or 404). */
void fh_app_access_tokens(struct fh_ctx *ctx, uint64_t inst, const struct fh_request *rq,
                          struct fh_answer *ans);
void fh_app_installation(struct fh_ctx *ctx, const char *repo, struct fh_answer *ans);

#endif
