/*
 * fh_checks: the check run store and its routes; see fh_checks.h. A run's
 * id is FH_CHECKS_FIRST_ID + its index, so a lookup is an index. A change
 * is built on a copy of the run's object and swapped in whole, so a failure
 * halfway (out of memory) leaves the stored run as it was.
 */
#include "fh_checks.h"
#include "fh_checks_valid.h"

#include "clock.h"
#include "config.h"
#include "fh_util.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_SUITE 9000000001ull
#define DEFAULT_PER 30
#define MAX_PER     100
#define MAX_PAGE    1000000

struct run {
    uint64_t id, suite;
    char repo[FH_MAX_REPO_LEN + 1];
    char sha[41];       /* lower case */
    cJSON *obj;         /* GitHub's check run object, as answered */
    cJSON *annotations; /* every annotation given so far */
    cJSON *history;     /* [{"op","t","body","answer_lost"}] */
};

struct fh_checks {
    pthread_mutex_t lock; /* protects everything below */
    struct run *runs;
    size_t n, cap;
    uint64_t next_suite;
    uint64_t creates, updates, lost; /* stored creates and updates; answers lost */
};

int fh_checks_open(fh_checks **out)
{
    fh_checks *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -ENOMEM;
    pthread_mutex_init(&c->lock, NULL);
    c->next_suite = FIRST_SUITE;
    *out = c;
    return 0;
}

void fh_checks_close(fh_checks *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++) {
        cJSON_Delete(c->runs[i].obj);
        cJSON_Delete(c->runs[i].annotations);
        cJSON_Delete(c->runs[i].history);
    }
    free(c->runs);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* Sets o[name] = item (consumed), replacing a member of that name. */
static bool set_item(cJSON *o, const char *name, cJSON *item)
{
    if (item == NULL)
        return false;
    bool ok = cJSON_GetObjectItemCaseSensitive(o, name) != NULL
                  ? cJSON_ReplaceItemInObjectCaseSensitive(o, name, item)
                  : cJSON_AddItemToObject(o, name, item);
    if (!ok)
        cJSON_Delete(item);
    return ok;
}

static bool set_str(cJSON *o, const char *name, const char *s)
{
    return set_item(o, name, s != NULL ? cJSON_CreateString(s) : cJSON_CreateNull());
}

static bool set_time(cJSON *o, const char *name, int64_t ms)
{
    char t[32];
    return fh_checks_time(ms, t, sizeof(t)) && set_str(o, name, t);
}

static const char *get_str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool is_completed(const cJSON *obj)
{
    const char *s = get_str(obj, "status");
    return s != NULL && strcmp(s, "completed") == 0;
}

/* The skeleton of a new run's object: what a create does not choose. */
static cJSON *new_object(const struct fh_ctx *ctx, const struct run *r)
{
    char url[512], html[512], node[48], anns[560];
    int a = snprintf(url, sizeof(url), "https://api.github.com/repos/%s/check-runs/%" PRIu64,
                     r->repo, r->id);
    int b = snprintf(html, sizeof(html), "https://github.com/%s/runs/%" PRIu64, r->repo, r->id);
    int c = snprintf(node, sizeof(node), "CR_fakehub%" PRIu64, r->id);
    int d = snprintf(anns, sizeof(anns), "%s/annotations", url);
    if (a < 0 || (size_t)a >= sizeof(url) || b < 0 || (size_t)b >= sizeof(html) || c < 0 ||
        (size_t)c >= sizeof(node) || d < 0 || (size_t)d >= sizeof(anns))
        return NULL;
    cJSON *o = cJSON_CreateObject();
    cJSON *output = cJSON_CreateObject(), *suite = cJSON_CreateObject();
    cJSON *app = cJSON_CreateObject(), *prs = cJSON_CreateArray();
    bool ok = o != NULL && output != NULL && suite != NULL && app != NULL && prs != NULL &&
              cJSON_AddNumberToObject(o, "id", (double)r->id) != NULL &&
              cJSON_AddStringToObject(o, "node_id", node) != NULL &&
              cJSON_AddStringToObject(o, "head_sha", r->sha) != NULL &&
              cJSON_AddNullToObject(o, "external_id") != NULL &&
              cJSON_AddStringToObject(o, "url", url) != NULL &&
              cJSON_AddStringToObject(o, "html_url", html) != NULL &&
              cJSON_AddNullToObject(o, "details_url") != NULL &&
              cJSON_AddStringToObject(o, "status", "queued") != NULL &&
              cJSON_AddNullToObject(o, "conclusion") != NULL &&
              cJSON_AddNullToObject(o, "started_at") != NULL &&
              cJSON_AddNullToObject(o, "completed_at") != NULL &&
              cJSON_AddNullToObject(output, "title") != NULL &&
              cJSON_AddNullToObject(output, "summary") != NULL &&
              cJSON_AddNullToObject(output, "text") != NULL &&
              cJSON_AddNumberToObject(output, "annotations_count", 0) != NULL &&
              cJSON_AddStringToObject(output, "annotations_url", anns) != NULL &&
              cJSON_AddStringToObject(o, "name", "") != NULL &&
              cJSON_AddNumberToObject(suite, "id", (double)r->suite) != NULL &&
              cJSON_AddNumberToObject(app, "id", (double)ctx->opts->app_id) != NULL &&
              cJSON_AddStringToObject(app, "slug", "fakehub-app") != NULL &&
              cJSON_AddStringToObject(app, "name", "fakehub app") != NULL;
    if (ok) {
        ok = cJSON_AddItemToObject(o, "output", output);
        output = ok ? NULL : output;
    }
    if (ok) {
        ok = cJSON_AddItemToObject(o, "check_suite", suite);
        suite = ok ? NULL : suite;
    }
    if (ok) {
        ok = cJSON_AddItemToObject(o, "app", app);
        app = ok ? NULL : app;
    }
    if (ok) {
        ok = cJSON_AddItemToObject(o, "pull_requests", prs);
        prs = ok ? NULL : prs;
    }
    cJSON_Delete(output);
    cJSON_Delete(suite);
    cJSON_Delete(app);
    cJSON_Delete(prs);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* Applies the validated fields f to obj and anns (copies, swapped in by the
 * caller), as GitHub does: a conclusion completes the run; another status
 * than completed clears the conclusion; a run completed without a
 * completed_at gets now. */
static bool apply(cJSON *obj, cJSON *anns, const struct fh_check_fields *f, bool create,
                  int64_t now_ms)
{
    bool was_completed = is_completed(obj);
    if ((f->name != NULL && !set_str(obj, "name", f->name)) ||
        (f->details_url != NULL && !set_str(obj, "details_url", f->details_url)) ||
        (f->external_id != NULL && !set_str(obj, "external_id", f->external_id)))
        return false;
    if (f->conclusion != NULL) {
        if (!set_str(obj, "conclusion", f->conclusion) || !set_str(obj, "status", "completed"))
            return false;
    } else if (f->status != NULL) {
        if (!set_str(obj, "status", f->status))
            return false;
        if (strcmp(f->status, "completed") != 0 &&
            (!set_str(obj, "conclusion", NULL) || !set_str(obj, "completed_at", NULL)))
            return false;
    }
    if (f->has_started ? !set_time(obj, "started_at", f->started_ms)
                       : create && !set_time(obj, "started_at", now_ms))
        return false;
    if (f->has_completed) {
        if (!set_time(obj, "completed_at", f->completed_ms))
            return false;
    } else if (is_completed(obj) && (!was_completed || get_str(obj, "completed_at") == NULL) &&
               !set_time(obj, "completed_at", now_ms)) {
        return false;
    }
    if (f->output == NULL)
        return true;
    cJSON *out = cJSON_GetObjectItemCaseSensitive(obj, "output");
    const cJSON *given = cJSON_GetObjectItemCaseSensitive(f->output, "annotations");
    const cJSON *a;
    cJSON_ArrayForEach(a, given)
    {
        cJSON *copy = cJSON_Duplicate(a, 1);
        if (copy == NULL || !cJSON_AddItemToArray(anns, copy)) {
            cJSON_Delete(copy);
            return false;
        }
    }
    return set_str(out, "title", get_str(f->output, "title")) &&
           set_str(out, "summary", get_str(f->output, "summary")) &&
           set_str(out, "text", get_str(f->output, "text")) &&
           set_item(out, "annotations_count", cJSON_CreateNumber(cJSON_GetArraySize(anns)));
}

static bool nth(const uint64_t *list, size_t n, uint64_t v)
{
    for (size_t i = 0; i < n; i++) {
        if (list[i] == v)
            return true;
    }
    return false;
}

/* Appends a history entry to r under the lock. */
static bool add_history(struct run *r, const char *op, int64_t t_ms, const cJSON *body, bool lost)
{
    cJSON *e = cJSON_CreateObject();
    cJSON *b = cJSON_Duplicate(body, 1);
    bool ok = e != NULL && b != NULL && cJSON_AddStringToObject(e, "op", op) != NULL &&
              cJSON_AddNumberToObject(e, "t", (double)t_ms / 1000.0) != NULL;
    if (ok) {
        ok = cJSON_AddItemToObject(e, "body", b);
        b = ok ? NULL : b;
    }
    ok = ok && cJSON_AddBoolToObject(e, "answer_lost", lost) != NULL &&
         cJSON_AddItemToArray(r->history, e);
    if (!ok) {
        cJSON_Delete(e);
        cJSON_Delete(b);
    }
    return ok;
}

/* The run with id in repo, under the lock; NULL when there is none. */
static struct run *find_locked(fh_checks *c, const char *repo, uint64_t id)
{
    if (id < FH_CHECKS_FIRST_ID || id - FH_CHECKS_FIRST_ID >= c->n)
        return NULL;
    struct run *r = &c->runs[id - FH_CHECKS_FIRST_ID];
    return strcmp(r->repo, repo) == 0 ? r : NULL;
}

void fh_checks_create(struct fh_ctx *ctx, const char *repo, const struct fh_request *rq, bool lose,
                      struct fh_answer *ans, struct fh_check_info *info)
{
    fh_checks *c = ctx->checks;
    struct fh_check_fields f;
    cJSON *body = NULL, *answer = NULL;
    struct run r = {0};
    const char *full = NULL;
    if (!fh_checks_validate(rq, true, &body, &f, ans))
        return;
    snprintf(r.repo, sizeof(r.repo), "%s", repo);
    for (size_t i = 0; i < 40; i++)
        r.sha[i] = (char)tolower((unsigned char)f.head_sha[i]);
    snprintf(info->sha, sizeof(info->sha), "%s", r.sha);
    int64_t now = hq_now_ms();

    pthread_mutex_lock(&c->lock);
    if (c->n >= FH_CHECKS_MAX_RUNS) {
        full = "fakehub: check run store full";
        goto unlock;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        struct run *g = realloc(c->runs, cap * sizeof(*g));
        if (g == NULL)
            goto unlock;
        c->runs = g;
        c->cap = cap;
    }
    r.id = FH_CHECKS_FIRST_ID + c->n;
    r.suite = c->next_suite; /* a new commit's suite, unless the commit has one */
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->runs[i].repo, r.repo) == 0 && strcmp(c->runs[i].sha, r.sha) == 0) {
            r.suite = c->runs[i].suite;
            break;
        }
    }
    r.obj = new_object(ctx, &r);
    r.annotations = cJSON_CreateArray();
    r.history = cJSON_CreateArray();
    uint64_t count = c->creates + 1;
    info->lost = lose || nth(ctx->opts->lose_creates, ctx->opts->n_lose_creates, count);
    if (r.obj == NULL || r.annotations == NULL || r.history == NULL ||
        !apply(r.obj, r.annotations, &f, true, now) ||
        !add_history(&r, "create", rq->t_ms, body, info->lost) ||
        (answer = cJSON_Duplicate(r.obj, 1)) == NULL) {
        info->lost = false;
        goto unlock;
    }
    if (r.suite == c->next_suite)
        c->next_suite++;
    c->runs[c->n++] = r;
    memset(&r, 0, sizeof(r));
    c->creates = count;
    c->lost += info->lost;
    info->id = FH_CHECKS_FIRST_ID + c->n - 1;
unlock:
    pthread_mutex_unlock(&c->lock);
    cJSON_Delete(r.obj);
    cJSON_Delete(r.annotations);
    cJSON_Delete(r.history);
    cJSON_Delete(body);
    if (answer != NULL && info->id != 0)
        fh_answer_json(ans, 201, answer);
    else {
        cJSON_Delete(answer);
        fh_answer_error(ans, 500, full != NULL ? full : "fakehub: out of memory");
    }
}

void fh_checks_update(struct fh_ctx *ctx, const char *repo, uint64_t id,
                      const struct fh_request *rq, bool lose, struct fh_answer *ans,
                      struct fh_check_info *info)
{
    fh_checks *c = ctx->checks;
    struct fh_check_fields f;
    cJSON *body = NULL, *obj = NULL, *anns = NULL, *answer = NULL;
    bool not_found = false, no_conclusion = false;
    info->id = id;
    if (!fh_checks_validate(rq, false, &body, &f, ans))
        return;
    int64_t now = hq_now_ms();

    pthread_mutex_lock(&c->lock);
    struct run *r = find_locked(c, repo, id);
    if (r == NULL) {
        not_found = true;
        goto unlock;
    }
    snprintf(info->sha, sizeof(info->sha), "%s", r->sha);
    const char *conclusion = f.conclusion;
    if (conclusion == NULL && (f.status == NULL || strcmp(f.status, "completed") == 0))
        conclusion = get_str(r->obj, "conclusion");
    bool completed = f.conclusion != NULL ||
                     (f.status != NULL ? strcmp(f.status, "completed") == 0 : is_completed(r->obj));
    if (completed && conclusion == NULL) {
        no_conclusion = true;
        goto unlock;
    }
    uint64_t count = c->updates + 1;
    bool lost = lose || nth(ctx->opts->lose_updates, ctx->opts->n_lose_updates, count);
    obj = cJSON_Duplicate(r->obj, 1);
    anns = cJSON_Duplicate(r->annotations, 1);
    if (obj == NULL || anns == NULL || !apply(obj, anns, &f, false, now) ||
        (answer = cJSON_Duplicate(obj, 1)) == NULL)
        goto unlock;
    if (!add_history(r, "update", rq->t_ms, body, lost)) {
        cJSON_Delete(answer);
        answer = NULL;
        goto unlock;
    }
    cJSON *swap = r->obj;
    r->obj = obj;
    obj = swap;
    swap = r->annotations;
    r->annotations = anns;
    anns = swap;
    c->updates = count;
    c->lost += lost;
    info->lost = lost;
unlock:
    pthread_mutex_unlock(&c->lock);
    cJSON_Delete(obj);
    cJSON_Delete(anns);
    cJSON_Delete(body);
    if (not_found)
        fh_answer_error(ans, 404, "Not Found");
    else if (no_conclusion)
        fh_checks_answer_invalid(ans, false, "conclusion", "missing_field",
                                 "conclusion must be provided when status is completed");
    else if (answer != NULL)
        fh_answer_json(ans, 200, answer);
    else
        fh_answer_error(ans, 500, "fakehub: out of memory");
}

void fh_checks_get(struct fh_ctx *ctx, const char *repo, uint64_t id, struct fh_answer *ans,
                   struct fh_check_info *info)
{
    fh_checks *c = ctx->checks;
    cJSON *answer = NULL;
    info->id = id;
    pthread_mutex_lock(&c->lock);
    struct run *r = find_locked(c, repo, id);
    if (r != NULL) {
        snprintf(info->sha, sizeof(info->sha), "%s", r->sha);
        answer = cJSON_Duplicate(r->obj, 1);
    }
    pthread_mutex_unlock(&c->lock);
    if (r == NULL)
        fh_answer_error(ans, 404, "Not Found");
    else if (answer == NULL)
        fh_answer_error(ans, 500, "fakehub: out of memory");
    else
        fh_answer_json(ans, 200, answer);
}

/* Appends s to buf percent-encoded (RFC 3986 unreserved kept); false when it does not fit. */
static bool url_encode(char *buf, size_t cap, const char *s)
{
    size_t o = strlen(buf);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        bool plain = isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~';
        int n =
            plain ? snprintf(buf + o, cap - o, "%c", *p) : snprintf(buf + o, cap - o, "%%%02X", *p);
        if (n < 0 || (size_t)n >= cap - o)
            return false;
        o += (size_t)n;
    }
    return true;
}

static bool append(char *buf, size_t cap, const char *s)
{
    size_t o = strlen(buf);
    int n = snprintf(buf + o, cap - o, "%s", s);
    return n >= 0 && (size_t)n < cap - o;
}

/* The Link header of a page listing: next while there is more, and last. */
static char *list_link(const struct fh_request *rq, const char *repo, const char *ref, uint64_t per,
                       uint64_t page, uint64_t last, bool all)
{
    char base[1536], q[1024] = "", link[3200];
    int n = snprintf(base, sizeof(base),
                     "http://%s/repos/%s/commits/%s/check-runs?per_page=%" PRIu64 "&filter=%s",
                     rq->host, repo, ref, per, all ? "all" : "latest");
    if (n < 0 || (size_t)n >= sizeof(base))
        return NULL;
    if (rq->q_check_name != NULL &&
        (!append(q, sizeof(q), "&check_name=") || !url_encode(q, sizeof(q), rq->q_check_name)))
        return NULL;
    if (rq->q_status != NULL &&
        (!append(q, sizeof(q), "&status=") || !url_encode(q, sizeof(q), rq->q_status)))
        return NULL;
    n = snprintf(link, sizeof(link),
                 "<%s%s&page=%" PRIu64 ">; rel=\"next\", <%s%s&page=%" PRIu64 ">; rel=\"last\"",
                 base, q, page + 1, base, q, last);
    return n > 0 && (size_t)n < sizeof(link) ? strdup(link) : NULL;
}

void fh_checks_list(struct fh_ctx *ctx, const char *repo, const char *ref,
                    const struct fh_request *rq, struct fh_answer *ans)
{
    static const char *const statuses[] = {"queued",  "in_progress", "completed",
                                           "waiting", "requested",   "pending"};
    fh_checks *c = ctx->checks;
    uint64_t per = DEFAULT_PER, page = 1;
    char sha[41];
    if (!fh_checks_is_sha(ref)) {
        char msg[160];
        char *clean = fh_utf8_repair(ref, strnlen(ref, 80));
        int n = snprintf(msg, sizeof(msg), "No commit found for SHA: %s", clean ? clean : "");
        free(clean);
        fh_answer_error(ans, 422, n > 0 && (size_t)n < sizeof(msg) ? msg : "No commit found");
        return;
    }
    if (rq->q_per_page != NULL && hq_parse_uint(rq->q_per_page, 1, MAX_PER, &per) != 0) {
        fh_answer_error(ans, 422, "per_page must be 1..100");
        return;
    }
    if (ctx->opts->runs_page_max != 0 && per > ctx->opts->runs_page_max)
        per = ctx->opts->runs_page_max;
    if (rq->q_page != NULL && hq_parse_uint(rq->q_page, 1, MAX_PAGE, &page) != 0) {
        fh_answer_error(ans, 422, "page must be a positive integer");
        return;
    }
    bool all = rq->q_filter != NULL && strcmp(rq->q_filter, "all") == 0;
    if (rq->q_filter != NULL && !all && strcmp(rq->q_filter, "latest") != 0) {
        fh_answer_error(ans, 422,
                        "Invalid request.\n\nFor 'filter', the value is not one of latest, all.");
        return;
    }
    bool status_ok = rq->q_status == NULL;
    for (size_t i = 0; !status_ok && i < sizeof(statuses) / sizeof(statuses[0]); i++)
        status_ok = strcmp(rq->q_status, statuses[i]) == 0;
    if (!status_ok) {
        fh_answer_error(ans, 422,
                        "Invalid request.\n\nFor 'status', the value is not one of queued, "
                        "in_progress, completed, waiting, requested, pending.");
        return;
    }
    for (size_t i = 0; i < 40; i++)
        sha[i] = (char)tolower((unsigned char)ref[i]);
    sha[40] = '\0';

    cJSON *doc = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    bool ok = doc != NULL && arr != NULL;
    uint64_t total = 0, first = (page - 1) * per;
    pthread_mutex_lock(&c->lock);
    /* the commit's runs, newest first; with filter=latest a run is shown when no
     * newer run of its commit has its name (before check_name and status apply) */
    size_t *mine = c->n > 0 ? malloc(c->n * sizeof(*mine)) : NULL, nmine = 0;
    size_t *shown = c->n > 0 ? malloc(c->n * sizeof(*shown)) : NULL, nshown = 0;
    ok = ok && (c->n == 0 || (mine != NULL && shown != NULL));
    for (size_t i = c->n; ok && i > 0; i--) {
        const struct run *r = &c->runs[i - 1];
        if (strcmp(r->repo, repo) == 0 && strcmp(r->sha, sha) == 0)
            mine[nmine++] = i - 1;
    }
    /* the runs shown, newest first, then in the order asked for */
    for (size_t k = 0; ok && k < nmine; k++) {
        const struct run *r = &c->runs[mine[k]];
        const char *name = get_str(r->obj, "name");
        bool shadowed = false;
        for (size_t j = 0; !all && !shadowed && j < k; j++)
            shadowed = strcmp(get_str(c->runs[mine[j]].obj, "name"), name) == 0;
        if (shadowed || (rq->q_check_name != NULL && strcmp(name, rq->q_check_name) != 0) ||
            (rq->q_status != NULL && strcmp(get_str(r->obj, "status"), rq->q_status) != 0))
            continue;
        shown[nshown++] = mine[k];
    }
    for (size_t k = 0; ctx->opts->runs_oldest_first && k < nshown / 2; k++) {
        size_t t = shown[k];
        shown[k] = shown[nshown - 1 - k];
        shown[nshown - 1 - k] = t;
    }
    for (size_t k = 0; ok && k < nshown; k++, total++) {
        if (total >= first && total < first + per) {
            cJSON *copy = cJSON_Duplicate(c->runs[shown[k]].obj, 1);
            ok = copy != NULL && cJSON_AddItemToArray(arr, copy);
            if (!ok)
                cJSON_Delete(copy);
        }
    }
    pthread_mutex_unlock(&c->lock);
    free(mine);
    free(shown);
    if (ok) {
        ok = cJSON_AddNumberToObject(doc, "total_count", (double)total) != NULL &&
             cJSON_AddItemToObject(doc, "check_runs", arr);
        arr = ok ? NULL : arr;
    }
    cJSON_Delete(arr);
    if (!ok) {
        cJSON_Delete(doc);
        fh_answer_error(ans, 500, "fakehub: out of memory");
        return;
    }
    if (total > first + per && rq->host != NULL)
        ans->link = list_link(rq, repo, sha, per, page, (total + per - 1) / per, all);
    fh_answer_json(ans, 200, doc);
}

void fh_checks_inspect(struct fh_ctx *ctx, struct fh_answer *ans)
{
    fh_checks *c = ctx->checks;
    cJSON *doc = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(doc, "check_runs");
    bool ok = arr != NULL;
    pthread_mutex_lock(&c->lock);
    ok = ok && cJSON_AddNumberToObject(doc, "creates", (double)c->creates) != NULL &&
         cJSON_AddNumberToObject(doc, "updates", (double)c->updates) != NULL &&
         cJSON_AddNumberToObject(doc, "lost", (double)c->lost) != NULL;
    for (size_t i = 0; ok && i < c->n; i++) {
        const struct run *r = &c->runs[i];
        cJSON *o = cJSON_Duplicate(r->obj, 1);
        cJSON *anns = cJSON_Duplicate(r->annotations, 1);
        cJSON *hist = cJSON_Duplicate(r->history, 1);
        ok = o != NULL && anns != NULL && hist != NULL &&
             cJSON_AddStringToObject(o, "repository", r->repo) != NULL &&
             cJSON_AddItemToObject(o, "annotations", anns);
        anns = ok ? NULL : anns;
        ok = ok && cJSON_AddItemToObject(o, "history", hist);
        hist = ok ? NULL : hist;
        ok = ok && cJSON_AddItemToArray(arr, o);
        if (!ok) {
            cJSON_Delete(o);
            cJSON_Delete(anns);
            cJSON_Delete(hist);
        }
    }
    pthread_mutex_unlock(&c->lock);
    if (!ok) {
        cJSON_Delete(doc);
        fh_answer_error(ans, 500, "fakehub: out of memory");
        return;
    }
    fh_answer_json(ans, 200, doc);
}
