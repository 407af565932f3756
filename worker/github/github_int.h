/*
 * github_int: what github.c lends the client's other request files
 * (gh_check_runs.c): the checks before a request, and one call with an
 * installation token and the client's own handling of its answer. Not for
 * use outside worker/github/; the threads rules are github.h's.
 */
#ifndef HQ_GITHUB_INT_H
#define HQ_GITHUB_INT_H

#include "github.h"

/* Checks an answer's 2xx body: 0, or nonzero when it is not what the route
 * returns (a malformed answer: HQ_GH_RETRY). */
typedef int (*hq_github_parse_fn)(const char *body, size_t len, void *arg);

/*
 * Before a request on a repository: the name and sha must be ones GitHub
 * would accept (else HQ_GH_PERMANENT), the installation is resolved (App
 * mode, installation_id 0: hq_github_installation_id) into *inst, and with
 * paced the request takes a pacing slot (none free: HQ_GH_WAIT). Returns 0
 * with res->outcome HQ_GH_OK to go on, or 0 with res saying why not, or a
 * negative local error.
 */
HQ_WUR int hq_github_begin(hq_github *gh, const char *repo_full_name, uint64_t installation_id,
                           const char *sha, bool paced, uint64_t *inst, struct hq_gh_result *res);

/*
 * One request with the installation's (or the personal) token: method NULL
 * is a GET without body and a POST with one; the client handles 401, young
 * tokens and the rate-limit bookkeeping itself (github.h); http_flags go
 * to the transport (HQ_GITHUB_HTTP_FRESH for a create). A 2xx answer is
 * handed to parse (NULL: it must be a JSON object). Returns 0 with *res
 * classified, or a negative local error.
 */
HQ_WUR int hq_github_call(hq_github *gh, uint64_t inst, const char *route, const char *method,
                          unsigned http_flags, const char *url, const char *body,
                          hq_github_parse_fn parse, void *parse_arg, struct hq_gh_result *res);

#endif
