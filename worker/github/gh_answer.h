/*
 * gh_answer: what the bodies of GitHub's successful answers say, for the
 * two routes whose body the client reads: the installation access token
 * (POST /app/installations/{id}/access_tokens) and the installation of a
 * repository (GET /repos/{owner}/{repo}/installation). A body that is not
 * what the route returns is HQ_EPARSE, which the client classifies as a
 * malformed 2xx (retry.h). Error bodies are read by retry.h
 * (hq_retry_body_message), rate-limit headers by github_http.h and retry.h.
 *
 * Bodies come from the network: they need not be NUL-terminated, and every
 * length is bounded by the caller (HQ_GH_BODY_MAX). Pure functions;
 * thread-safe.
 */
#ifndef HQ_GH_ANSWER_H
#define HQ_GH_ANSWER_H

#include "hq_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HQ_GH_TOKEN_MAX           (16 * 1024) /* longest token accepted from GitHub or a file */
#define HQ_GH_INSTALLATION_ID_MAX 9.0e15      /* ids above are not exact in a JSON double */

/* A token is sent in a header: 1 to HQ_GH_TOKEN_MAX printable ASCII
 * characters without blanks. */
bool hq_gh_valid_token(const char *t, size_t n);

/* Whether body[len] is one JSON object (what every 2xx of the client's
 * routes must be). */
bool hq_gh_answer_is_object(const char *body, size_t len);

/*
 * The access_tokens answer, {"token":"ghs_…","expires_at":"2026-12-02T14:00:00Z",
 * "permissions":{…},…}: returns 0 with *token (malloc'd, the caller frees
 * it) and *expires_at_ms, HQ_EPARSE when the body is not an object with a
 * valid token and an RFC 3339 expires_at, or -ENOMEM. *token is NULL on
 * failure.
 */
HQ_WUR int hq_gh_answer_token(const char *body, size_t len, char **token, int64_t *expires_at_ms);

/*
 * The installation answer, {"id":123,"account":{…},…}: returns 0 with *id
 * (1 to HQ_GH_INSTALLATION_ID_MAX), or HQ_EPARSE (*id then 0).
 */
HQ_WUR int hq_gh_answer_installation(const char *body, size_t len, uint64_t *id);

#endif
