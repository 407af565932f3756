/*
 * fh_api: routing, credentials, faults, rate-limit headers and the token
 * and installation endpoints of fakehub; see fh_api.h for the order of
 * decisions. The App's endpoints live in fh_app.c, the statuses endpoint's
 * validation in fh_status.c, the check runs in fh_checks.c.
 */
#include "fh_api.h"
#include "fh_checks.h"
#include "fh_deliveries.h"
#include "clock.h"
#include "config.h"
#include "fh_util.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define DOC_REST      "https://docs.github.com/rest"
#define DOC_RATE      "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
#define DEFAULT_LIMIT 5000
#define MAX_SEGMENTS  8
#define MAX_NAME_LEN  100 /* GitHub's limit on owner and repository names */

enum fh_route {
    ROUTE_UNKNOWN = 0,
    ROUTE_ACCESS_TOKENS,
    ROUTE_INSTALLATION,
    ROUTE_STATUSES,
    ROUTE_RATE_LIMIT,
    ROUTE_HOOK_DELIVERIES, /* fh_deliveries.h */
    ROUTE_HOOK_DELIVERY,
    ROUTE_HOOK_REDELIVER,
    ROUTE_FAKEHUB_SEND,
    ROUTE_CHECK_RUNS,      /* POST: create (fh_checks.h) */
    ROUTE_CHECK_RUN,       /* PATCH: update; GET: the run */
    ROUTE_CHECK_RUNS_LIST, /* GET .../commits/{sha}/check-runs */
    ROUTE_FAKEHUB_CHECK_RUNS,
};

static const char *const route_names[] = {
    "unknown",         "access_tokens",   "installation",      "statuses",     "rate_limit",
    "hook_deliveries", "hook_delivery",   "hook_redeliver",    "fakehub_send", "check_runs",
    "check_run",       "check_runs_list", "fakehub_check_runs"};
static const unsigned route_fault_bits[] = {0,
                                            FH_FR_TOKENS,
                                            FH_FR_INSTALLATION,
                                            FH_FR_STATUSES,
                                            FH_FR_RATE_LIMIT,
                                            FH_FR_DELIVERIES,
                                            FH_FR_DELIVERIES,
                                            FH_FR_DELIVERIES,
                                            0,
                                            FH_FR_CHECK_RUNS,
                                            FH_FR_CHECK_RUNS,
                                            FH_FR_CHECK_RUNS,
                                            0};

struct route_match {
    enum fh_route route;
    uint64_t inst;                   /* access_tokens: from the path */
    uint64_t delivery;               /* hook_delivery, hook_redeliver: from the path */
    uint64_t check_run;              /* check_run: from the path */
    char repo[2 * MAX_NAME_LEN + 2]; /* installation, statuses: "owner/name" */
    char sha[FH_MAX_PATH];           /* statuses, check_runs_list (the ref) */
};

enum cred_kind { CRED_NONE = 0, CRED_JWT, CRED_INSTALLATION, CRED_PAT, CRED_INVALID };
static const char *const cred_names[] = {"none", "jwt", "installation", "pat", "invalid"};

struct cred {
    enum cred_kind kind;
    enum fh_token_state token_state; /* installation tokens */
    const char *jwt_error;           /* GitHub's message for a refused JWT */
    int64_t inst;                    /* < 0: unknown */
    int64_t age_ms;                  /* < 0: not an installation token */
};

void fh_answer_json(struct fh_answer *ans, unsigned status, cJSON *doc)
{
    free(ans->body);
    ans->body = doc != NULL ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    if (ans->body == NULL) {
        /* out of memory: a static answer GitHub could have given */
        static const char oom[] = "{\"message\":\"Server Error\"}";
        ans->status = 500;
        ans->body = strdup(oom);
        ans->body_len = ans->body != NULL ? strlen(oom) : 0;
        return;
    }
    ans->status = status;
    ans->body_len = strlen(ans->body);
}

void fh_answer_error(struct fh_answer *ans, unsigned status, const char *message)
{
    cJSON *doc = cJSON_CreateObject();
    if (doc != NULL && (cJSON_AddStringToObject(doc, "message", message) == NULL ||
                        cJSON_AddStringToObject(doc, "documentation_url", DOC_REST) == NULL)) {
        cJSON_Delete(doc);
        doc = NULL;
    }
    fh_answer_json(ans, status, doc);
}

/* A GitHub login or repository name: letters, digits, '.', '-', '_'. */
static bool valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > MAX_NAME_LEN)
        return false;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-_") == n;
}

static void match_route(const char *method, const char *path, struct route_match *m)
{
    char buf[FH_MAX_PATH];
    char *seg[MAX_SEGMENTS];
    size_t nseg = 0;
    memset(m, 0, sizeof(*m));
    if (path == NULL || path[0] != '/' || strlen(path) >= sizeof(buf))
        return;
    memcpy(buf, path + 1, strlen(path)); /* with the NUL */
    char *p = buf;
    for (;;) {
        if (nseg == MAX_SEGMENTS)
            return;
        seg[nseg++] = p;
        char *slash = strchr(p, '/');
        if (slash == NULL)
            break;
        *slash = '\0';
        p = slash + 1;
    }
    bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    bool patch = strcmp(method, "PATCH") == 0;
    if (nseg == 4 && post && strcmp(seg[0], "app") == 0 && strcmp(seg[1], "installations") == 0 &&
        strcmp(seg[3], "access_tokens") == 0) {
        if (hq_parse_uint(seg[2], 1, 1ull << 53, &m->inst) == 0)
            m->route = ROUTE_ACCESS_TOKENS;
    } else if (nseg >= 4 && strcmp(seg[0], "repos") == 0 && valid_name(seg[1]) &&
               valid_name(seg[2])) {
        if (nseg == 4 && get && strcmp(seg[3], "installation") == 0)
            m->route = ROUTE_INSTALLATION;
        else if (nseg == 5 && post && strcmp(seg[3], "statuses") == 0 && seg[4][0] != '\0') {
            m->route = ROUTE_STATUSES;
            snprintf(m->sha, sizeof(m->sha), "%s", seg[4]); /* fits: from buf */
        } else if (nseg == 4 && post && strcmp(seg[3], "check-runs") == 0) {
            m->route = ROUTE_CHECK_RUNS;
        } else if (nseg == 5 && (get || patch) && strcmp(seg[3], "check-runs") == 0 &&
                   hq_parse_uint(seg[4], 1, 1ull << 53, &m->check_run) == 0) {
            m->route = ROUTE_CHECK_RUN;
        } else if (nseg == 6 && get && strcmp(seg[3], "commits") == 0 && seg[4][0] != '\0' &&
                   strcmp(seg[5], "check-runs") == 0) {
            m->route = ROUTE_CHECK_RUNS_LIST;
            snprintf(m->sha, sizeof(m->sha), "%s", seg[4]); /* fits: from buf */
        }
        if (m->route != ROUTE_UNKNOWN)
            snprintf(m->repo, sizeof(m->repo), "%s/%s", seg[1], seg[2]); /* fits: names */
    } else if (nseg == 1 && get && strcmp(seg[0], "rate_limit") == 0) {
        m->route = ROUTE_RATE_LIMIT;
    } else if (nseg >= 3 && strcmp(seg[0], "app") == 0 && strcmp(seg[1], "hook") == 0 &&
               strcmp(seg[2], "deliveries") == 0) {
        if (nseg == 3 && get)
            m->route = ROUTE_HOOK_DELIVERIES;
        else if (nseg >= 4 && hq_parse_uint(seg[3], 1, 1ull << 53, &m->delivery) == 0)
            m->route = nseg == 4 && get                                       ? ROUTE_HOOK_DELIVERY
                       : nseg == 5 && post && strcmp(seg[4], "attempts") == 0 ? ROUTE_HOOK_REDELIVER
                                                                              : ROUTE_UNKNOWN;
    } else if (nseg == 2 && post && strcmp(seg[0], "_fakehub") == 0 &&
               strcmp(seg[1], "send") == 0) {
        m->route = ROUTE_FAKEHUB_SEND;
    } else if (nseg == 2 && get && strcmp(seg[0], "_fakehub") == 0 &&
               strcmp(seg[1], "check-runs") == 0) {
        m->route = ROUTE_FAKEHUB_CHECK_RUNS;
    }
}

static bool is_pat(const struct fh_ctx *ctx, const char *tok, size_t len)
{
    bool found = false;
    for (size_t i = 0; i < ctx->npats; i++) {
        if (strlen(ctx->pats[i]) == len && CRYPTO_memcmp(ctx->pats[i], tok, len) == 0)
            found = true;
    }
    return found;
}

/* Classifies the Authorization header without side effects. */
static void classify_cred(struct fh_ctx *ctx, const struct fh_request *rq, struct cred *c)
{
    memset(c, 0, sizeof(*c));
    c->inst = -1;
    c->age_ms = -1;
    const char *h = rq->authorization;
    if (h == NULL || h[0] == '\0')
        return;
    c->kind = CRED_INVALID;
    bool bearer = strncasecmp(h, "Bearer ", 7) == 0;
    if (!bearer && strncasecmp(h, "token ", 6) != 0)
        return;
    const char *tok = h + (bearer ? 7 : 6);
    tok += strspn(tok, " ");
    size_t len = strlen(tok);
    while (len > 0 && tok[len - 1] == ' ')
        len--;
    if (len == 0)
        return;

    uint64_t inst;
    int64_t age;
    enum fh_token_state st = fh_tokens_check(ctx->tokens, tok, len, &inst, &age);
    if (st != FH_TOKEN_UNKNOWN) {
        c->inst = (int64_t)inst;
        c->age_ms = age;
        c->token_state = st;
        c->kind = st == FH_TOKEN_VALID ? CRED_INSTALLATION : CRED_INVALID;
        return;
    }
    if (is_pat(ctx, tok, len)) {
        c->kind = CRED_PAT;
        return;
    }
    if (bearer && memchr(tok, '.', len) != NULL) {
        c->jwt_error = "A JSON web token could not be decoded";
        if (ctx->jwt != NULL && fh_jwt_verify(ctx->jwt, tok, len, hq_now_ms(), &c->jwt_error) == 0)
            c->kind = CRED_JWT;
    }
}

static void set_default_ratelimit(struct fh_answer *ans, int64_t now_ms)
{
    ans->rl_limit = DEFAULT_LIMIT;
    ans->rl_remaining = DEFAULT_LIMIT;
    ans->rl_used = 0;
    ans->rl_reset_s = now_ms / 1000 + 3600;
}

static void set_budget(struct fh_answer *ans, const struct fh_budget *b)
{
    ans->rl_limit = b->limit;
    ans->rl_remaining = b->remaining;
    ans->rl_used = b->used;
    ans->rl_reset_s = b->reset_s;
}

/* Answers a fault that replaces the request's processing; false for the
 * faults that let it proceed (none, hang, malformed). */
static bool answer_fault(struct fh_ctx *ctx, enum fh_fault fault, unsigned code,
                         const struct cred *c, struct fh_answer *ans, int64_t now_ms)
{
    const struct fh_fault_opts *fo = &ctx->opts->faults;
    char msg[256];
    int n;
    switch (fault) {
    case FH_FAULT_5XX:
        fh_answer_error(ans, code,
                        code == 500   ? "Server Error"
                        : code == 502 ? "Bad Gateway"
                                      : "Service Unavailable");
        return true;
    case FH_FAULT_429:
        ans->retry_after_s = fo->retry_after_s;
        fh_answer_error(ans, 429,
                        "API rate limit exceeded. Please retry your request again later.");
        return true;
    case FH_FAULT_PRIMARY_403:
        ans->rl_used = ans->rl_limit;
        ans->rl_remaining = 0;
        ans->rl_reset_s = (now_ms + 999) / 1000 + fo->reset_in_s;
        if (c->inst >= 0)
            n = snprintf(msg, sizeof(msg), "API rate limit exceeded for installation ID %lld.",
                         (long long)c->inst);
        else
            n = snprintf(msg, sizeof(msg), "API rate limit exceeded.");
        fh_answer_error(ans, 403, n > 0 && (size_t)n < sizeof(msg) ? msg : "API rate limit");
        return true;
    case FH_FAULT_SECONDARY_403:
        if (fo->secondary_retry_after_s > 0)
            ans->retry_after_s = fo->secondary_retry_after_s;
        n = snprintf(msg, sizeof(msg),
                     "You have exceeded a secondary rate limit. Please wait a few minutes before "
                     "you try again. If you reach out to GitHub Support for help, please include "
                     "the request ID %s.",
                     ans->request_id);
        fh_answer_error(
            ans, 403,
            n > 0 && (size_t)n < sizeof(msg) ? msg : "You have exceeded a secondary rate limit.");
        return true;
    case FH_FAULT_RESET:
        ans->reset = true;
        ans->status = 0;
        return true;
    case FH_FAULT_NONE:
    case FH_FAULT_HANG:
    case FH_FAULT_LOST:
    case FH_FAULT_MALFORMED: break;
    }
    return false;
}

/* 401 unless the caller presented a valid App JWT. */
static bool require_jwt(const struct cred *c, struct fh_answer *ans)
{
    if (c->kind == CRED_JWT)
        return true;
    if (c->kind == CRED_NONE)
        fh_answer_error(ans, 401, "A JSON web token could not be decoded");
    else
        fh_answer_error(ans, 401,
                        c->jwt_error != NULL ? c->jwt_error
                                             : "A JSON web token could not be decoded");
    return false;
}

/*
 * 401 unless the caller presented an installation token old enough or a
 * PAT; charges the installation's budget (403 when it is spent) when charge.
 */
static bool require_token(struct fh_ctx *ctx, const struct cred *c, bool charge,
                          struct fh_answer *ans)
{
    if (c->kind == CRED_NONE) {
        fh_answer_error(ans, 401, "Requires authentication");
        return false;
    }
    if (c->kind != CRED_INSTALLATION && c->kind != CRED_PAT) {
        fh_answer_error(ans, 401, "Bad credentials");
        return false;
    }
    if (c->kind == CRED_PAT)
        return true;
    if (c->age_ms < ctx->opts->faults.young_token_ms) {
        fh_answer_error(ans, 401, "Bad credentials"); /* not replicated yet */
        return false;
    }
    struct fh_budget b;
    if (fh_tokens_budget(ctx->tokens, (uint64_t)c->inst, charge, &b)) {
        set_budget(ans, &b);
        if (b.exhausted) {
            char msg[128];
            int n = snprintf(msg, sizeof(msg), "API rate limit exceeded for installation ID %lld.",
                             (long long)c->inst);
            fh_answer_error(ans, 403, n > 0 && (size_t)n < sizeof(msg) ? msg : "API rate limit");
            return false;
        }
    }
    return true;
}

/* Answers the code of --status-code-for / --check-code-for for repo, if any. */
static bool forced_code(const struct fh_repo_map *maps, size_t n, const char *repo,
                        struct fh_answer *ans)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(maps[i].repo, repo) != 0 && strcmp(maps[i].repo, "*") != 0)
            continue;
        unsigned code = (unsigned)maps[i].value;
        fh_answer_error(ans, code,
                        code == 404   ? "Not Found"
                        : code == 422 ? "Validation Failed"
                        : code == 403 ? "Resource not accessible by integration"
                        : code == 401 ? "Bad credentials"
                        : code >= 500 ? "Server Error"
                                      : "fakehub: forced answer");
        return true;
    }
    return false;
}

static void statuses(struct fh_ctx *ctx, const struct route_match *m, const struct fh_request *rq,
                     const struct cred *c, struct fh_answer *ans)
{
    if (!require_token(ctx, c, true, ans))
        return;
    if (forced_code(ctx->opts->status_codes, ctx->opts->n_status_codes, m->repo, ans))
        return;
    fh_status_create(ctx, m->repo, m->sha, rq, ans);
}

/*
 * The check run routes: an installation token (a PAT may read, GitHub
 * refuses it for writes: only an App creates check runs), the budget, then
 * --check-code-for for writes, then fh_checks.
 */
static void check_runs(struct fh_ctx *ctx, const struct route_match *m, const struct fh_request *rq,
                       const struct cred *c, bool lose, struct fh_answer *ans,
                       struct fh_check_info *info)
{
    if (!require_token(ctx, c, true, ans))
        return;
    bool write = m->route == ROUTE_CHECK_RUNS || strcmp(rq->method, "PATCH") == 0;
    if (write && c->kind == CRED_PAT) {
        fh_answer_error(ans, 403, "You must authenticate via a GitHub App.");
        return;
    }
    if (write && forced_code(ctx->opts->check_codes, ctx->opts->n_check_codes, m->repo, ans))
        return;
    if (m->route == ROUTE_CHECK_RUNS)
        fh_checks_create(ctx, m->repo, rq, lose, ans, info);
    else if (m->route == ROUTE_CHECK_RUNS_LIST)
        fh_checks_list(ctx, m->repo, m->sha, rq, ans);
    else if (write)
        fh_checks_update(ctx, m->repo, m->check_run, rq, lose, ans, info);
    else
        fh_checks_get(ctx, m->repo, m->check_run, ans, info);
}

static void rate_limit(struct fh_ctx *ctx, const struct cred *c, struct fh_answer *ans)
{
    if (c->kind != CRED_NONE && c->kind != CRED_JWT && !require_token(ctx, c, false, ans))
        return;
    cJSON *doc = cJSON_CreateObject();
    cJSON *resources = cJSON_AddObjectToObject(doc, "resources");
    cJSON *core = cJSON_AddObjectToObject(resources, "core");
    bool ok = core != NULL && cJSON_AddNumberToObject(core, "limit", (double)ans->rl_limit) &&
              cJSON_AddNumberToObject(core, "remaining", (double)ans->rl_remaining) &&
              cJSON_AddNumberToObject(core, "reset", (double)ans->rl_reset_s) &&
              cJSON_AddNumberToObject(core, "used", (double)ans->rl_used) &&
              cJSON_AddStringToObject(core, "resource", "core");
    cJSON *rate = ok ? cJSON_Duplicate(core, 1) : NULL;
    if (rate == NULL || !cJSON_AddItemToObject(doc, "rate", rate)) {
        cJSON_Delete(rate);
        cJSON_Delete(doc);
        fh_answer_error(ans, 500, "Server Error");
        return;
    }
    fh_answer_json(ans, 200, doc);
}

static void record(struct fh_ctx *ctx, const struct fh_request *rq, const struct route_match *m,
                   const struct cred *c, enum fh_fault fault, const struct fh_answer *ans,
                   const struct fh_check_info *info, unsigned lost_status)
{
    bool checks = m->route == ROUTE_CHECK_RUNS || m->route == ROUTE_CHECK_RUN ||
                  m->route == ROUTE_CHECK_RUNS_LIST;
    const char *sha = m->route == ROUTE_STATUSES || m->route == ROUTE_CHECK_RUNS_LIST ? m->sha
                      : info->sha[0] != '\0'                                          ? info->sha
                                                                                      : NULL;
    struct fh_record_line l = {
        .t_ms = rq->t_ms,
        .method = rq->method,
        .path = rq->path,
        .route = route_names[m->route],
        .cred = cred_names[c->kind],
        .installation = m->route == ROUTE_ACCESS_TOKENS ? (int64_t)m->inst : c->inst,
        .token_age_ms = c->age_ms,
        .status = ans->status,
        .fault = fh_fault_name(fault),
        .body = rq->body_too_big ? NULL : rq->body,
        .body_len = rq->body_too_big ? 0 : rq->body_len,
        .accept = rq->accept,
        .user_agent = rq->user_agent,
        .api_version = rq->api_version,
        .repo = m->route == ROUTE_STATUSES || checks ? m->repo : NULL,
        .sha = sha,
        .check_run_id = (int64_t)(m->route == ROUTE_CHECK_RUN ? m->check_run : info->id),
        .lost_status = lost_status,
    };
    if (m->route == ROUTE_INSTALLATION && ans->status == 200 && ans->body != NULL) {
        cJSON *doc = fh_json_parse(ans->body, ans->body_len);
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(doc, "id");
        if (cJSON_IsNumber(id))
            l.installation = (int64_t)id->valuedouble;
        cJSON_Delete(doc);
    }
    if (fh_record_write(ctx->record, &l) != 0)
        fprintf(stderr, "fakehub: cannot write the record\n");
}

void fh_api_handle(struct fh_ctx *ctx, const struct fh_request *rq, struct fh_answer *ans)
{
    struct route_match m;
    struct cred c;
    enum fh_fault fault = FH_FAULT_NONE;
    int64_t now_ms = hq_now_ms();
    struct fh_check_info info;
    unsigned lost_status = 0;
    memset(&info, 0, sizeof(info));

    match_route(rq->method, rq->path, &m);
    memset(&c, 0, sizeof(c));
    c.inst = -1;
    c.age_ms = -1;
    ans->retry_after_s = -1;
    ans->delay_ms = ctx->opts->faults.latency_ms;
    set_default_ratelimit(ans, now_ms);
    int n = snprintf(ans->request_id, sizeof(ans->request_id), "FAKE:%llX",
                     (unsigned long long)atomic_fetch_add(&ctx->next_request_id, 1));
    if (n < 0 || (size_t)n >= sizeof(ans->request_id))
        ans->request_id[0] = '\0';

    if (rq->body_too_big) {
        fh_answer_error(ans, 413, "Payload too large");
        goto record;
    }
    if (rq->user_agent == NULL || rq->user_agent[0] == '\0') {
        fh_answer_error(ans, 403,
                        "Request forbidden by administrative rules. Please make sure your "
                        "request has a User-Agent header "
                        "(https://docs.github.com/en/rest/overview/resources-in-the-rest-api"
                        "#user-agent-required).");
        goto record;
    }
    if (m.route == ROUTE_UNKNOWN) {
        fh_answer_error(ans, 404, "Not Found");
        goto record;
    }
    classify_cred(ctx, rq, &c);
    unsigned code = 0;
    fault = fh_faults_pick(ctx->faults, route_fault_bits[m.route], &code);
    if (answer_fault(ctx, fault, code, &c, ans, now_ms))
        goto record;
    if (fault == FH_FAULT_MALFORMED) {
        /* the answer a broken proxy might pass on: success, but not JSON */
        static const char garbage[] = "{\"message\": \"fakehub: this answer is cut sho";
        free(ans->body);
        ans->body = strdup(garbage);
        ans->body_len = ans->body != NULL ? strlen(garbage) : 0;
        ans->status = strcmp(rq->method, "POST") == 0 ? 201 : 200;
        goto record;
    }
    switch (m.route) {
    case ROUTE_ACCESS_TOKENS:
        if (require_jwt(&c, ans))
            fh_app_access_tokens(ctx, m.inst, rq, ans);
        break;
    case ROUTE_INSTALLATION:
        if (require_jwt(&c, ans))
            fh_app_installation(ctx, m.repo, ans);
        break;
    case ROUTE_STATUSES: statuses(ctx, &m, rq, &c, ans); break;
    case ROUTE_RATE_LIMIT: rate_limit(ctx, &c, ans); break;
    case ROUTE_HOOK_DELIVERIES:
        if (require_jwt(&c, ans))
            fh_deliveries_list(ctx, rq, ans);
        break;
    case ROUTE_HOOK_DELIVERY:
        if (require_jwt(&c, ans))
            fh_deliveries_get(ctx, m.delivery, ans);
        break;
    case ROUTE_HOOK_REDELIVER:
        if (require_jwt(&c, ans))
            fh_deliveries_redeliver(ctx, m.delivery, ans);
        break;
    case ROUTE_FAKEHUB_SEND: fh_deliveries_send(ctx, rq, ans); break;
    case ROUTE_CHECK_RUNS:
    case ROUTE_CHECK_RUN:
    case ROUTE_CHECK_RUNS_LIST:
        check_runs(ctx, &m, rq, &c, fault == FH_FAULT_LOST, ans, &info);
        break;
    case ROUTE_FAKEHUB_CHECK_RUNS: fh_checks_inspect(ctx, ans); break;
    case ROUTE_UNKNOWN: break;
    }
    if (fault == FH_FAULT_LOST || info.lost) {
        /* processed (a check run stored), and then the answer never arrives */
        lost_status = ans->status;
        fault = FH_FAULT_LOST;
        free(ans->link);
        ans->link = NULL;
        if (ctx->opts->lost_as_502) {
            fh_answer_error(ans, 502, "Bad Gateway");
        } else {
            ans->reset = true;
            ans->status = 0;
        }
    }
    if (fault == FH_FAULT_HANG)
        ans->delay_ms += ctx->opts->faults.hang_ms;
record:
    record(ctx, rq, &m, &c, fault, ans, &info, lost_status);
}
