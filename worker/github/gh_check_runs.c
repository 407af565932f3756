/* gh_check_runs: the Checks API calls; see gh_check_runs.h. */
#include "gh_check_runs.h"
#include "github_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_run(const char *body, size_t len, void *arg)
{
    return hq_gh_answer_check_run(body, len, arg);
}

int hq_github_check_run_create(hq_github *gh, const char *repo_full_name, uint64_t installation_id,
                               const struct hq_gh_check_run *run, uint64_t *id,
                               struct hq_gh_result *res)
{
    char url[HQ_GH_URL_MAX];
    char *body = NULL;
    uint64_t inst = 0, got = 0;
    int rc;

    if (gh == NULL || !hq_github_is_app(gh) || repo_full_name == NULL || run == NULL ||
        run->name == NULL || run->head_sha == NULL || id == NULL || res == NULL)
        return -EINVAL;
    *id = 0;
    rc = hq_github_begin(gh, repo_full_name, installation_id, run->head_sha, true, &inst, res);
    if (rc < 0 || res->outcome != HQ_GH_OK)
        return rc;
    int n = snprintf(url, sizeof(url), "%s/repos/%s/check-runs", hq_github_api(gh), repo_full_name);
    if (n < 0 || (size_t)n >= sizeof(url))
        return HQ_ETOOBIG;
    if ((body = hq_gh_check_run_body(run)) == NULL)
        return -ENOMEM;
    rc = hq_github_call(gh, inst, "check_runs", NULL, HQ_GITHUB_HTTP_FRESH, url, body, parse_run,
                        &got, res);
    if (rc == 0 && res->outcome == HQ_GH_OK)
        *id = got;
    free(body);
    return rc;
}

int hq_github_check_run_update(hq_github *gh, const char *repo_full_name, uint64_t installation_id,
                               const char *sha, uint64_t id, const struct hq_gh_check_run *run,
                               struct hq_gh_result *res)
{
    char url[HQ_GH_URL_MAX];
    char *body = NULL;
    uint64_t inst = 0, got = 0;
    int rc;

    if (gh == NULL || !hq_github_is_app(gh) || repo_full_name == NULL || sha == NULL || id == 0 ||
        run == NULL || res == NULL)
        return -EINVAL;
    rc = hq_github_begin(gh, repo_full_name, installation_id, sha, true, &inst, res);
    if (rc < 0 || res->outcome != HQ_GH_OK)
        return rc;
    int n = snprintf(url, sizeof(url), "%s/repos/%s/check-runs/%" PRIu64, hq_github_api(gh),
                     repo_full_name, id);
    if (n < 0 || (size_t)n >= sizeof(url))
        return HQ_ETOOBIG;
    struct hq_gh_check_run r = *run;
    r.name = r.head_sha = NULL;
    if ((body = hq_gh_check_run_body(&r)) == NULL)
        return -ENOMEM;
    rc = hq_github_call(gh, inst, "check_runs", "PATCH", 0, url, body, parse_run, &got, res);
    free(body);
    return rc;
}

struct find_arg {
    const char *external_id;
    uint64_t app_id, id;
    size_t listed;
    uint64_t total;
};

static int parse_list(const char *body, size_t len, void *arg)
{
    struct find_arg *f = arg;
    return hq_gh_answer_check_runs_find(body, len, f->external_id, f->app_id, &f->id, &f->listed,
                                        &f->total);
}

/* Percent-encodes s into out (RFC 3986 unreserved characters kept). */
static int escape(const char *s, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        bool keep = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~';
        if (w + (keep ? 1 : 3) >= cap)
            return HQ_ETOOBIG;
        if (keep) {
            out[w++] = (char)*p;
        } else {
            out[w++] = '%';
            out[w++] = hex[*p >> 4];
            out[w++] = hex[*p & 15];
        }
    }
    out[w] = '\0';
    return 0;
}

int hq_github_check_run_find(hq_github *gh, const char *repo_full_name, uint64_t installation_id,
                             const char *sha, const char *name, const char *external_id,
                             uint64_t app_id, uint64_t *id, struct hq_gh_result *res)
{
    char url[HQ_GH_URL_MAX], qname[3 * HQ_GH_CHECK_NAME_MAX + 1];
    uint64_t inst = 0;
    int rc;

    if (gh == NULL || !hq_github_is_app(gh) || repo_full_name == NULL || sha == NULL ||
        name == NULL || external_id == NULL || id == NULL || res == NULL)
        return -EINVAL;
    *id = 0;
    if ((rc = escape(name, qname, sizeof(qname))) != 0)
        return rc;
    rc = hq_github_begin(gh, repo_full_name, installation_id, sha, false, &inst, res);
    if (rc < 0 || res->outcome != HQ_GH_OK)
        return rc;
    uint64_t seen = 0;
    for (int page = 1; page <= HQ_GH_FIND_PAGES; page++) {
        int n = snprintf(url, sizeof(url),
                         "%s/repos/%s/commits/%s/check-runs?check_name=%s&filter=all&per_page=100"
                         "&page=%d",
                         hq_github_api(gh), repo_full_name, sha, qname, page);
        if (n < 0 || (size_t)n >= sizeof(url))
            return HQ_ETOOBIG;
        struct find_arg f = {external_id, app_id, 0, 0, 0};
        rc = hq_github_call(gh, inst, "check_runs_list", NULL, 0, url, NULL, parse_list, &f, res);
        if (rc != 0 || res->outcome != HQ_GH_OK)
            return rc;
        *id = f.id;
        seen += f.listed;
        if (f.id != 0 || f.listed == 0 || seen >= f.total)
            break; /* found, or the last page (total_count: GitHub may page shorter) */
    }
    return rc;
}
