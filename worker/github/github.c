/*
 * github: the GitHub REST client of the worker; see github.h for the contract.
 *
 * DESIGN. Requests go through github_http (a pool of at most max_in_flight
 * curl handles that keep their connections; see github_http.h); this file
 * decides what to send and what an answer means. Installation tokens come
 * from token_cache (single-flight, its fetch is fetch_token below); pacing
 * decides before a status is sent; every answer is classified by retry.
 *
 * Locks: none of this file's own. The installation map (install_map.h), the
 * token cache, pacing and the transport each guard their state, and no call
 * here holds one of their locks while calling another.
 */
#include "github.h"
#include "gh_status.h"

#include "clock.h"
#include "gh_answer.h"
#include "github_http.h"
#include "github_int.h"
#include "github_opts.h"
#include "install_map.h"
#include "jwt.h"
#include "log.h"
#include "token_cache.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define API_MAX              1024  /* base URL */
#define INST_CACHE_MAX       65536 /* installation ids cached before the map starts over */
#define YOUNG_SLEEP_FIRST_MS 100
#define YOUNG_SLEEP_MAX_MS   1000

struct hq_github {
    char api[API_MAX]; /* without trailing '/' */
    int64_t young_ms;
    hq_jwt *jwt; /* App mode */
    char *pat;   /* token mode */
    hq_token_cache *tokens;
    hq_pacing *pacing;
    hq_github_http *http;
    hq_metrics *metrics;
    hq_series *m_token_requests, *m_cache_hits, *m_remaining;
    hq_install_map *installs; /* App mode: repository -> installation id */

    _Atomic uint64_t st_requests, st_token_requests, st_cache_hits, st_young, st_paced;
};

/* ---- requests on the wire ----------------------------------------------------------- */

static void count_request(hq_github *gh, const char *route, const struct hq_github_http_response *r)
{
    atomic_fetch_add(&gh->st_requests, 1);
    if (gh->metrics == NULL)
        return;
    char labels[96];
    int n = r->status > 0
                ? snprintf(labels, sizeof(labels), "route=\"%s\",status=\"%ld\"", route, r->status)
                : snprintf(labels, sizeof(labels), "route=\"%s\",status=\"error\"", route);
    if (n < 0 || (size_t)n >= sizeof(labels))
        return;
    hq_series_add(hq_metrics_series(gh->metrics, "hookq_github_requests_total", labels), 1);
}

/*
 * Sends one request through the transport (github_http.h) and counts it by
 * route when it was sent. Returns 0 with *r filled (a transport failure is
 * in r->transport_error), or -ENOMEM.
 */
static int perform(hq_github *gh, const char *route, const char *url, const char *credential,
                   const char *body, struct hq_github_http_response *r)
{
    int rc = hq_github_http_perform(gh->http, url, credential, body, r);
    if (rc == 0 && r->sent)
        count_request(gh, route, r);
    return rc;
}

/* ---- classification ------------------------------------------------------------------ */

static enum hq_retry_kind classify(hq_github *gh, uint64_t inst,
                                   const struct hq_github_http_response *r, bool malformed,
                                   const char *route, struct hq_gh_result *res)
{
    struct hq_retry_answer a = {
        .http_status = (int)r->status,
        .transport_error = r->transport_error,
        .malformed = malformed,
        .retry_after = r->retry_after[0] ? r->retry_after : NULL,
        .ratelimit_remaining = r->rl_remaining[0] ? r->rl_remaining : NULL,
        .ratelimit_reset = r->rl_reset[0] ? r->rl_reset : NULL,
        .body = hq_dynbuf_str(&r->body),
        .body_len = hq_dynbuf_len(&r->body),
        .secondary_hits = hq_pacing_secondary_hits(gh->pacing, inst),
        .now_ms = hq_now_ms(),
    };
    enum hq_retry_kind kind = hq_retry_classify(&a, res);
    if (r->transport_error != 0) {
        int n = snprintf(res->reason, sizeof(res->reason), "%s: no answer from GitHub: %s", route,
                         r->transport_error == HQ_ETOOBIG ? "answer over 1 MiB" : r->curl_msg);
        if (n < 0)
            res->reason[0] = '\0';
    }
    if (res->ratelimit_remaining >= 0 && gh->m_remaining != NULL)
        hq_series_set(gh->m_remaining, (double)res->ratelimit_remaining);
    return kind;
}

static bool is_2xx(const struct hq_github_http_response *r)
{
    return r->status >= 200 && r->status < 300;
}

__attribute__((format(printf, 3, 4))) static void permanent(struct hq_gh_result *res,
                                                            int http_status, const char *fmt, ...)
{
    memset(res, 0, sizeof(*res));
    res->outcome = HQ_GH_PERMANENT;
    res->http_status = http_status;
    res->ratelimit_remaining = -1;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
    va_end(ap);
    if (n < 0)
        res->reason[0] = '\0';
}

/* ---- tokens ---------------------------------------------------------------------------- */

/* token_cache's fetch: POST /app/installations/{id}/access_tokens with the JWT. */
static int fetch_token(void *arg, uint64_t inst, char **token, int64_t *expires_at_ms,
                       struct hq_gh_result *fail)
{
    hq_github *gh = arg;
    struct hq_github_http_response r = {0};
    char url[HQ_GH_URL_MAX];
    char *jwt = NULL, *fresh = NULL;
    int rc;

    *token = NULL;
    int n =
        snprintf(url, sizeof(url), "%s/app/installations/%" PRIu64 "/access_tokens", gh->api, inst);
    if (n < 0 || (size_t)n >= sizeof(url)) {
        rc = HQ_ETOOBIG;
        goto out;
    }
    rc = hq_jwt_get(gh->jwt, hq_now_ms(), &jwt);
    if (rc < 0)
        goto out;
    rc = perform(gh, "access_tokens", url, jwt, "{}", &r);
    if (rc < 0)
        goto out;
    atomic_fetch_add(&gh->st_token_requests, 1);
    hq_series_add(gh->m_token_requests, 1);

    bool malformed = false;
    int64_t expires = 0;
    if (is_2xx(&r)) {
        rc = hq_gh_answer_token(hq_dynbuf_str(&r.body), hq_dynbuf_len(&r.body), &fresh, &expires);
        if (rc == -ENOMEM)
            goto out;
        malformed = rc < 0;
        rc = 0;
    }
    enum hq_retry_kind kind = classify(gh, inst, &r, malformed, "access_tokens", fail);
    if (kind == HQ_RK_OK) {
        *token = fresh;
        fresh = NULL; /* the cache owns it */
        *expires_at_ms = expires;
    } else if (kind == HQ_RK_TOKEN) {
        n = snprintf(fail->reason, sizeof(fail->reason),
                     "GitHub refused the App's JWT (HTTP 401): check HOOKQ_APP_ID, the key and "
                     "the clock");
        if (n < 0)
            fail->reason[0] = '\0';
    } else if (kind == HQ_RK_PERMANENT && r.status == 404) {
        permanent(fail, 404, "installation %" PRIu64 " not found (HTTP 404)", inst);
    }
out:
    free(fresh);
    free(jwt);
    hq_github_http_response_reset(&r);
    return rc;
}

/* The credential for a call: a cached installation token or the personal token. */
static int get_token(hq_github *gh, uint64_t inst, struct hq_token *tok, struct hq_gh_result *res)
{
    if (gh->pat != NULL) {
        memset(tok, 0, sizeof(*tok));
        tok->value = strdup(gh->pat);
        tok->cached = true;
        return tok->value != NULL ? 0 : -ENOMEM;
    }
    int rc = hq_token_cache_get(gh->tokens, inst, tok, res);
    if (rc == 0 && tok->value != NULL && tok->cached) {
        atomic_fetch_add(&gh->st_cache_hits, 1);
        hq_series_add(gh->m_cache_hits, 1);
    }
    return rc;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int hq_github_call(hq_github *gh, uint64_t inst, const char *route, const char *method,
                   unsigned http_flags, const char *url, const char *body, hq_github_parse_fn parse,
                   void *parse_arg, struct hq_gh_result *res)
{
    struct hq_token tok = {0};
    struct hq_github_http_response r = {0};
    bool refreshed = false;
    int64_t young_sleep = YOUNG_SLEEP_FIRST_MS;
    int rc;

    for (;;) {
        hq_token_clear(&tok);
        rc = get_token(gh, inst, &tok, res);
        if (rc < 0 || tok.value == NULL)
            goto out; /* res holds why no token came */
        rc = hq_github_http_perform_method(gh->http, method, http_flags, url, tok.value, body, &r);
        if (rc < 0)
            goto out;
        if (r.sent)
            count_request(gh, route, &r);
        const char *ab = hq_dynbuf_str(&r.body);
        size_t al = hq_dynbuf_len(&r.body);
        bool malformed = is_2xx(&r) && (parse != NULL ? parse(ab, al, parse_arg) != 0
                                                      : !hq_gh_answer_is_object(ab, al));
        enum hq_retry_kind kind = classify(gh, inst, &r, malformed, route, res);
        uint64_t reset_s = 0;
        if (res->ratelimit_remaining >= 0 && r.rl_reset[0] != '\0' &&
            hq_parse_uint(r.rl_reset, 0, UINT32_MAX, &reset_s) == 0)
            hq_pacing_note_limits(gh->pacing, inst, res->ratelimit_remaining,
                                  (int64_t)reset_s * 1000);
        if (kind == HQ_RK_OK) {
            hq_pacing_note_ok(gh->pacing, inst);
            goto out;
        }
        if (kind == HQ_RK_RATE_LIMIT || kind == HQ_RK_SECONDARY) {
            hq_pacing_block(gh->pacing, inst, res->retry_at_ms, kind == HQ_RK_SECONDARY);
            goto out;
        }
        int64_t age = hq_now_ms() - tok.obtained_ms;
        if ((r.status == 401 || r.status == 403) && gh->pat == NULL && age < gh->young_ms) {
            /* GitHub may not know a seconds-old token everywhere yet */
            int64_t left = gh->young_ms - age;
            sleep_ms(young_sleep < left ? young_sleep : left);
            young_sleep =
                young_sleep * 2 < YOUNG_SLEEP_MAX_MS ? young_sleep * 2 : YOUNG_SLEEP_MAX_MS;
            atomic_fetch_add(&gh->st_young, 1);
            continue;
        }
        if (kind == HQ_RK_TOKEN && gh->pat == NULL && !refreshed) {
            hq_token_cache_drop(gh->tokens, inst, tok.value);
            refreshed = true;
            continue;
        }
        goto out;
    }
out:
    hq_token_clear(&tok);
    hq_github_http_response_reset(&r);
    return rc;
}

/* ---- requests ------------------------------------------------------------------------ */

int hq_github_installation_id(hq_github *gh, const char *repo_full_name, uint64_t *id,
                              struct hq_gh_result *res)
{
    char url[HQ_GH_URL_MAX];
    struct hq_github_http_response r = {0};
    char *jwt = NULL;
    int rc = 0;

    if (gh == NULL || repo_full_name == NULL || id == NULL || res == NULL || gh->jwt == NULL)
        return -EINVAL;
    *id = 0;
    if (!hq_gh_valid_repo(repo_full_name)) {
        permanent(res, 0, "invalid repository name");
        return 0;
    }
    if (hq_install_map_get(gh->installs, repo_full_name, id)) {
        memset(res, 0, sizeof(*res));
        res->ratelimit_remaining = -1;
        res->outcome = HQ_GH_OK;
        return 0;
    }
    int w = snprintf(url, sizeof(url), "%s/repos/%s/installation", gh->api, repo_full_name);
    if (w < 0 || (size_t)w >= sizeof(url))
        return HQ_ETOOBIG;
    rc = hq_jwt_get(gh->jwt, hq_now_ms(), &jwt);
    if (rc < 0)
        goto out;
    rc = perform(gh, "installation", url, jwt, NULL, &r);
    if (rc < 0)
        goto out;
    uint64_t found = 0;
    bool malformed = is_2xx(&r) && hq_gh_answer_installation(hq_dynbuf_str(&r.body),
                                                             hq_dynbuf_len(&r.body), &found) < 0;
    enum hq_retry_kind kind = classify(gh, 0, &r, malformed, "installation", res);
    if (kind == HQ_RK_OK) {
        *id = found;
        rc = hq_install_map_put(gh->installs, repo_full_name, found);
    } else if (kind == HQ_RK_PERMANENT && r.status == 404) {
        permanent(res, 404, "the App is not installed on %s (HTTP 404)", repo_full_name);
    }
out:
    free(jwt);
    hq_github_http_response_reset(&r);
    return rc;
}

int hq_github_begin(hq_github *gh, const char *repo_full_name, uint64_t installation_id,
                    const char *sha, bool paced, uint64_t *inst_out, struct hq_gh_result *res)
{
    int64_t retry_at = 0;
    uint64_t inst = 0;
    int rc = 0;

    memset(res, 0, sizeof(*res));
    res->ratelimit_remaining = -1;
    res->outcome = HQ_GH_OK;
    if (!hq_gh_valid_repo(repo_full_name)) {
        permanent(res, 0, "invalid repository name");
        return 0;
    }
    if (!hq_gh_valid_sha(sha)) {
        permanent(res, 0, "invalid commit sha");
        return 0;
    }
    if (gh->jwt != NULL) {
        inst = installation_id;
        if (inst == 0) {
            rc = hq_github_installation_id(gh, repo_full_name, &inst, res);
            if (rc < 0 || res->outcome != HQ_GH_OK)
                return rc;
        }
    }
    *inst_out = inst;
    if (!paced)
        return 0;
    rc = hq_pacing_acquire(gh->pacing, inst, true, hq_now_ms(), &retry_at);
    if (rc < 0 || retry_at == 0)
        return rc;
    memset(res, 0, sizeof(*res));
    res->outcome = HQ_GH_WAIT;
    res->retry_at_ms = retry_at;
    res->ratelimit_remaining = -1;
    int n = snprintf(res->reason, sizeof(res->reason),
                     "paced: installation %" PRIu64 " may post again in %lld ms", inst,
                     (long long)(retry_at - hq_now_ms()));
    if (n < 0)
        res->reason[0] = '\0';
    atomic_fetch_add(&gh->st_paced, 1);
    return 0;
}

int hq_github_post_status(hq_github *gh, const char *repo_full_name, uint64_t installation_id,
                          const char *sha, const char *state, const char *context,
                          const char *description, const char *target_url, struct hq_gh_result *res)
{
    static const char *const states[] = {"error", "failure", "pending", "success"};
    char url[HQ_GH_URL_MAX];
    char *body = NULL;
    uint64_t inst = 0;
    int rc = 0;

    if (gh == NULL || repo_full_name == NULL || sha == NULL || state == NULL || context == NULL ||
        context[0] == '\0' || res == NULL)
        return -EINVAL;
    bool known = false;
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
        known = known || strcmp(state, states[i]) == 0;
    if (!known)
        return -EINVAL;
    rc = hq_github_begin(gh, repo_full_name, installation_id, sha, true, &inst, res);
    if (rc < 0 || res->outcome != HQ_GH_OK)
        goto out;
    int n = snprintf(url, sizeof(url), "%s/repos/%s/statuses/%s", gh->api, repo_full_name, sha);
    if (n < 0 || (size_t)n >= sizeof(url)) {
        rc = HQ_ETOOBIG;
        goto out;
    }
    body = hq_gh_status_body(state, context, description, target_url);
    if (body == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    rc = hq_github_call(gh, inst, "statuses", NULL, 0, url, body, NULL, NULL, res);
out:
    cJSON_free(body);
    return rc;
}

bool hq_github_is_app(const hq_github *gh)
{
    return gh != NULL && gh->jwt != NULL;
}

const char *hq_github_api(const hq_github *gh)
{
    return gh->api;
}

int hq_github_app_request(hq_github *gh, const char *route, const char *url, const char *body,
                          struct hq_github_http_response *r, struct hq_gh_result *res)
{
    char *jwt = NULL;
    int rc;
    size_t alen = strlen(gh != NULL ? gh->api : "");
    if (gh == NULL || gh->jwt == NULL || route == NULL || url == NULL || r == NULL || res == NULL)
        return -EINVAL;
    if (strncmp(url, gh->api, alen) != 0 || (url[alen] != '/' && url[alen] != '?')) {
        hq_github_http_response_reset(r);
        permanent(res, 0, "%s: GitHub pointed outside HOOKQ_GITHUB_API; not followed", route);
        return 0;
    }
    for (int round = 0;; round++) {
        free(jwt);
        jwt = NULL;
        /* the second round mints a fresh JWT: the cached one was refused */
        rc = round == 0 ? hq_jwt_get(gh->jwt, hq_now_ms(), &jwt)
                        : hq_jwt_mint(gh->jwt, hq_now_ms(), &jwt);
        if (rc < 0)
            goto out;
        rc = perform(gh, route, url, jwt, body, r);
        if (rc < 0)
            goto out;
        enum hq_retry_kind kind = classify(gh, 0, r, false, route, res);
        if (kind == HQ_RK_TOKEN && round == 0)
            continue;
        if (kind == HQ_RK_TOKEN) {
            int n = snprintf(res->reason, sizeof(res->reason),
                             "%s: GitHub refused the App's JWT twice (HTTP 401): check "
                             "HOOKQ_APP_ID, the key and the clock",
                             route);
            if (n < 0)
                res->reason[0] = '\0';
        }
        goto out;
    }
out:
    free(jwt);
    return rc;
}

void hq_github_get_stats(hq_github *gh, struct hq_github_stats *out)
{
    out->requests = atomic_load(&gh->st_requests);
    out->token_requests = atomic_load(&gh->st_token_requests);
    out->token_cache_hits = atomic_load(&gh->st_cache_hits);
    out->young_token_retries = atomic_load(&gh->st_young);
    out->paced = atomic_load(&gh->st_paced);
}

/* ---- life cycle ------------------------------------------------------------------------ */

static int load_pat(hq_github *gh, const char *path, struct hq_cfgerr *err)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = hq_read_file(path, HQ_GH_TOKEN_MAX, &buf, &len);
    if (rc < 0) {
        char why[160];
        int n = snprintf(why, sizeof(why), "cannot read the token file: %s", hq_strerror(rc));
        hq_cfgerr_set(err, "HOOKQ_TOKEN_FILE", path, n < 0 ? "cannot read the token file" : why);
        return rc;
    }
    size_t start = 0;
    while (start < len && isspace((unsigned char)buf[start]))
        start++;
    while (len > start && isspace((unsigned char)buf[len - 1]))
        len--;
    if (!hq_gh_valid_token(buf + start, len - start)) {
        hq_cfgerr_set(err, "HOOKQ_TOKEN_FILE", path,
                      "the file holds no token (one line of printable characters expected)");
        rc = HQ_EPARSE;
        goto out;
    }
    gh->pat = strndup(buf + start, len - start);
    if (gh->pat == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    hq_log_secret(gh->pat);
out:
    memset(buf, 0, len);
    free(buf);
    return rc;
}

static int setup_metrics(hq_github *gh, hq_metrics *m)
{
    int rc;
    gh->metrics = m;
    if (m == NULL)
        return 0;
    if ((rc = hq_metrics_declare(m, "hookq_github_requests_total", HQ_COUNTER,
                                 "GitHub API requests by route and HTTP status", NULL, 0)) < 0 ||
        (rc = hq_metrics_declare(m, "hookq_token_requests_total", HQ_COUNTER,
                                 "Installation access tokens requested", NULL, 0)) < 0 ||
        (rc = hq_metrics_declare(m, "hookq_token_cache_hits_total", HQ_COUNTER,
                                 "Installation tokens served from the cache", NULL, 0)) < 0 ||
        (rc = hq_metrics_declare(m, "hookq_github_ratelimit_remaining", HQ_GAUGE,
                                 "x-ratelimit-remaining of the last GitHub answer", NULL, 0)) < 0)
        return rc;
    gh->m_token_requests = hq_metrics_series(m, "hookq_token_requests_total", NULL);
    gh->m_cache_hits = hq_metrics_series(m, "hookq_token_cache_hits_total", NULL);
    gh->m_remaining = hq_metrics_series(m, "hookq_github_ratelimit_remaining", NULL);
    if (gh->m_token_requests == NULL || gh->m_cache_hits == NULL || gh->m_remaining == NULL)
        return -ENOMEM;
    hq_series_set(gh->m_remaining, -1);
    return 0;
}

int hq_github_create(const struct hq_github_opts *o, hq_github **out)
{
    hq_github *gh = NULL;
    int rc;

    *out = NULL;
    rc = hq_github_opts_check(o, API_MAX, o->err);
    if (rc < 0)
        return rc;
    gh = calloc(1, sizeof(*gh));
    if (gh == NULL)
        return -ENOMEM;

    size_t alen = strlen(o->api_url);
    while (alen > 0 && o->api_url[alen - 1] == '/')
        alen--;
    memcpy(gh->api, o->api_url, alen);
    gh->api[alen] = '\0';
    gh->young_ms = o->young_token_retry_ms;

    rc = hq_pacing_create(&o->pacing, &gh->pacing);
    if (rc < 0) {
        hq_cfgerr_set(o->err, "pacing", NULL,
                      "per-minute and per-hour limits must be 1..100000, the reserve >= 0");
        goto fail;
    }
    struct hq_github_http_opts ho = {
        .user_agent = o->user_agent ? o->user_agent : "hookq/" HOOKQ_VERSION,
        .connect_timeout_ms = o->connect_timeout_ms,
        .total_timeout_ms = o->total_timeout_ms,
        .body_max = HQ_GH_BODY_MAX,
        .max_in_flight = o->max_in_flight,
    };
    rc = hq_github_http_create(&ho, &gh->http);
    if (rc < 0)
        goto fail;
    rc = setup_metrics(gh, o->metrics);
    if (rc < 0)
        goto fail;

    if (o->token_path != NULL) {
        rc = load_pat(gh, o->token_path, o->err);
        if (rc < 0)
            goto fail;
    } else {
        char app_id[24], why[256] = "";
        int n = snprintf(app_id, sizeof(app_id), "%" PRIu64, o->app_id);
        if (n < 0 || (size_t)n >= sizeof(app_id)) {
            rc = HQ_ECONFIG;
            goto fail;
        }
        rc = hq_jwt_create(o->app_key_path, app_id, &gh->jwt, why, sizeof(why));
        if (rc < 0) {
            hq_cfgerr_set(o->err, rc == HQ_ECONFIG ? "HOOKQ_APP_ID" : "HOOKQ_APP_KEY_FILE",
                          rc == HQ_ECONFIG ? app_id : o->app_key_path, why);
            goto fail;
        }
        rc = hq_token_cache_create(o->token_margin_ms, fetch_token, gh, &gh->tokens);
        if (rc < 0)
            goto fail;
        rc = hq_install_map_create(INST_CACHE_MAX, &gh->installs);
        if (rc < 0)
            goto fail;
    }
    *out = gh;
    return 0;
fail:
    hq_github_destroy(gh);
    return rc;
}

void hq_github_destroy(hq_github *gh)
{
    if (gh == NULL)
        return;
    hq_github_http_destroy(gh->http);
    hq_token_cache_destroy(gh->tokens);
    hq_jwt_destroy(gh->jwt);
    if (gh->pat != NULL) {
        memset(gh->pat, 0, strlen(gh->pat));
        free(gh->pat);
    }
    hq_pacing_destroy(gh->pacing);
    hq_install_map_destroy(gh->installs);
    free(gh);
}
