/*
 * github: the worker's client of the GitHub REST API (schema/design.md §4): App
 * authentication with cached installation tokens, or a personal access
 * token; commit statuses; installation lookup; the retry policy's
 * classification of every answer; pacing per installation.
 *
 * What the client handles itself, and what it returns to the caller:
 *   - 401: the cached token is dropped and the call is repeated once,
 *     immediately, with a fresh token; a second 401 is HQ_GH_RETRY.
 *   - 401/403 on a token younger than young_token_retry_ms (GitHub is still
 *     replicating it): repeated in this thread after short sleeps (100 ms
 *     doubling, at most 1 s) until the token is that old; not an attempt.
 *   - Everything else goes back to the caller as one hq_gh_result:
 *     HQ_GH_OK; HQ_GH_RETRY (count an attempt, back off with
 *     hq_backoff_ms); HQ_GH_WAIT (rate limit, GitHub's or our own pacing: do
 *     not try before retry_at_ms, do not count an attempt); HQ_GH_PERMANENT
 *     (dead-letter, the reason says why).
 *   - Pacing never sleeps: a request over the per-minute/per-hour budget or
 *     inside the primary-limit reserve is not sent and comes back as
 *     HQ_GH_WAIT with the time its slot frees, so the worker thread can serve
 *     other repositories meanwhile.
 *
 * Threads: hq_github_create and hq_github_destroy run in main while no other
 * thread uses the client (create initialises libcurl). Every other function
 * may be called from any number of threads at once. At most max_in_flight
 * requests are on the wire; further callers wait for a free connection.
 * Each request is bounded by connect_timeout_ms and total_timeout_ms, so a
 * call returns within about (1 + token fetch + lookup + one 401 retry) times
 * the total timeout plus young_token_retry_ms.
 *
 * Secrets: the key, JWTs and tokens stay inside; reasons and log lines never
 * contain them (the personal token is also registered with hq_log_secret).
 */
#ifndef HQ_GITHUB_H
#define HQ_GITHUB_H

#include "config.h"
#include "gh_answer.h"
#include "gh_status.h"
#include "github_http.h"
#include "hq_error.h"
#include "metrics.h"
#include "pacing.h"
#include "retry.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct hq_github hq_github;

struct hq_github_opts {
    const char *api_url; /* base URL, http(s); trailing '/' tolerated */
    uint64_t app_id;     /* App mode: app_id and app_key_path ... */
    const char *app_key_path;
    const char *token_path; /* ... or personal-access-token mode: one of the two */
    const char *user_agent;
    long connect_timeout_ms;
    long total_timeout_ms;
    int64_t token_margin_ms;      /* refresh this long before expires_at */
    int64_t young_token_retry_ms; /* retry 401/403 on a token this young */
    struct hq_pacing_opts pacing;
    unsigned max_in_flight; /* requests on the wire at once, >= 1 */
    hq_metrics *metrics;    /* NULL: no metrics; else must outlive the client */
    struct hq_cfgerr *err;  /* NULL, or receives the one-line reason create failed */
};

/* The defaults: api.github.com, no credentials, "hookq/<version>", connect
 * 10 s, total 30 s, margin 5 min, young tokens 5 s, pacing on at 80/min,
 * 500/h with a reserve of 100, 32 in flight, no metrics. */
void hq_github_opts_init(struct hq_github_opts *o);

/* HQ_GH_TOKEN_MAX, the longest token accepted from GitHub or a file: gh_answer.h */
#define HQ_GH_BODY_MAX (1024 * 1024) /* answers over this are a failed attempt */
#define HQ_GH_URL_MAX  2048

/*
 * Checks the options and loads the credential: the App's key (parsed now, so
 * a bad key stops the process at start) or the token file (trimmed of
 * surrounding whitespace). Returns 0 and *out, or a code with o->err naming
 * the variable (HOOKQ_GITHUB_API, HOOKQ_APP_ID, HOOKQ_APP_KEY_FILE,
 * HOOKQ_TOKEN_FILE) and saying why:
 *   a negative errno (-ENOENT, -EACCES, ...): the key or token file cannot be read;
 *   HQ_EPARSE: the key file is not an RSA private key, the token file holds no token;
 *   HQ_ECONFIG: any other invalid or missing option;
 *   -ENOMEM, or HQ_EHTTP when libcurl cannot be initialised.
 * Nothing is left allocated on failure.
 */
HQ_WUR int hq_github_create(const struct hq_github_opts *o, hq_github **out);

/* Frees everything; no call may be in progress. NULL is ok. */
void hq_github_destroy(hq_github *gh);

/*
 * Posts a commit status: POST /repos/{repo_full_name}/statuses/{sha}.
 * installation_id is the payload's installation.id, or 0 to look it up with
 * hq_github_installation_id (ignored in token mode). state is one of
 * "error", "failure", "pending", "success"; context must not be empty;
 * description (NULL ok) is cut to 140 characters on a UTF-8 boundary, with
 * invalid UTF-8 and control characters replaced; target_url NULL or "" is
 * left out.
 *
 * Returns 0 when *res holds a classification (success or not: see the top of
 * this file), -EINVAL for a caller error (NULL argument, unknown state), or
 * -ENOMEM. An ill-formed repository name or sha is HQ_GH_PERMANENT, since
 * retrying cannot fix it.
 */
HQ_WUR int hq_github_post_status(hq_github *gh, const char *repo_full_name,
                                 uint64_t installation_id, const char *sha, const char *state,
                                 const char *context, const char *description,
                                 const char *target_url, struct hq_gh_result *res);

/*
 * The App's installation on a repository: GET /repos/{owner}/{repo}/installation
 * with the App's JWT, cached per repository (case-insensitive) for the life
 * of the client. Returns 0 with *id set and res->outcome HQ_GH_OK, or 0 with
 * res classifying the failure (404: HQ_GH_PERMANENT, the App is not
 * installed there), -EINVAL in token mode, -ENOMEM.
 */
HQ_WUR int hq_github_installation_id(hq_github *gh, const char *repo_full_name, uint64_t *id,
                                     struct hq_gh_result *res);

/* Whether the client holds App credentials (an App id and key). */
bool hq_github_is_app(const hq_github *gh);
/* The API base URL, without a trailing '/'. */
const char *hq_github_api(const hq_github *gh);

/*
 * One request of an App endpoint with the App's JWT, for catch-up
 * (gh_app.h, schema/design.md §9): body NULL is a GET, else a POST of it.
 * url must begin with the API base (a Link URL from GitHub is followed
 * verbatim, but never to another host: that is HQ_GH_PERMANENT, and the JWT
 * is not sent). A 401 is repeated once with a freshly minted JWT. Returns 0
 * with *res classified (github.h's outcomes; a rate limit is HQ_GH_WAIT
 * with retry_at_ms, and the caller waits) and *r holding the answer (status,
 * body, Link) for the caller to parse and reset with
 * hq_github_http_response_reset; -EINVAL (also in token mode), -ENOMEM.
 */
HQ_WUR int hq_github_app_request(hq_github *gh, const char *route, const char *url,
                                 const char *body, struct hq_github_http_response *r,
                                 struct hq_gh_result *res);

/* Counters since create, for tests and benchmarks (the metrics registry
 * carries the same numbers for operators). */
struct hq_github_stats {
    uint64_t requests;       /* HTTP requests sent, every route */
    uint64_t token_requests; /* access_tokens requests */
    uint64_t token_cache_hits;
    uint64_t young_token_retries;
    uint64_t paced; /* posts held back by pacing */
};
void hq_github_get_stats(hq_github *gh, struct hq_github_stats *out);

#endif
