/* gh_checks: check-run bodies and answers, on cJSON; see gh_checks.h. */
#include "gh_checks.h"
#include "utf8.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

/* Copies valid UTF-8 of src[0..len) into dst, at most max bytes, never
 * splitting a character; NUL and invalid bytes become '?'. src[len] must be
 * '\0' (hq_utf8_seq_len stops there). Returns the bytes written and sets
 * *used to the bytes of src consumed. */
static size_t copy_valid(const char *src, size_t len, size_t max, char *dst, size_t *used)
{
    size_t r = 0, w = 0;
    while (r < len) {
        size_t n = src[r] == '\0' ? 0 : hq_utf8_seq_len((const unsigned char *)src + r);
        if (n == 0 || r + n > len) {
            if (w + 1 > max)
                break;
            dst[w++] = '?';
            r++;
            continue;
        }
        if (w + n > max)
            break;
        memcpy(dst + w, src + r, n);
        w += n;
        r += n;
    }
    *used = r;
    return w;
}

size_t hq_gh_check_text(const char *out, size_t len, bool more, char *dst)
{
    size_t used = 0;
    size_t w = copy_valid(out, len, HQ_GH_CHECK_TEXT_MAX, dst, &used);
    if (used < len || more) {
        size_t note = strlen(HQ_GH_CHECK_CUT_NOTE);
        size_t keep = HQ_GH_CHECK_TEXT_MAX - note;
        /* back to a character boundary within the room left for the note */
        if (w > keep) {
            w = keep;
            while (w > 0 && ((unsigned char)dst[w] & 0xc0) == 0x80)
                w--;
        }
        memcpy(dst + w, HQ_GH_CHECK_CUT_NOTE, note);
        w += note;
    }
    dst[w] = '\0';
    return w;
}

static bool add_str(cJSON *o, const char *key, const char *v)
{
    return v == NULL || cJSON_AddStringToObject(o, key, v) != NULL;
}

char *hq_gh_check_run_body(const struct hq_gh_check_run *r)
{
    char title[HQ_GH_CHECK_TITLE_CHARS * 4 + 1];
    char *summary = NULL, *s = NULL;
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    if (!add_str(o, "name", r->name) || !add_str(o, "head_sha", r->head_sha) ||
        !add_str(o, "status", r->status) || !add_str(o, "external_id", r->external_id) ||
        !add_str(o, "details_url", r->details_url) || !add_str(o, "conclusion", r->conclusion))
        goto out;
    if (r->title != NULL) {
        hq_utf8_cut(r->title, HQ_GH_CHECK_TITLE_CHARS, true, ' ', title, sizeof(title));
        const char *sm = r->summary != NULL ? r->summary : "";
        size_t sl = strlen(sm), used;
        if ((summary = malloc(HQ_GH_CHECK_TEXT_MAX + 1)) == NULL)
            goto out;
        summary[copy_valid(sm, sl, HQ_GH_CHECK_TEXT_MAX, summary, &used)] = '\0';
        cJSON *out = cJSON_AddObjectToObject(o, "output");
        if (out == NULL || !add_str(out, "title", title) || !add_str(out, "summary", summary) ||
            !add_str(out, "text", r->text))
            goto out;
    }
    s = cJSON_PrintUnformatted(o);
out:
    free(summary);
    cJSON_Delete(o);
    return s;
}

/* body[len] as a JSON object; NULL when it is not one. */
static cJSON *parse_object(const char *body, size_t len)
{
    if (body == NULL || len == 0)
        return NULL;
    cJSON *doc = cJSON_ParseWithLength(body, len);
    if (doc != NULL && !cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        doc = NULL;
    }
    return doc;
}

/* A JSON number that is a check-run id, or 0. */
static uint64_t take_id(const cJSON *j)
{
    if (!cJSON_IsNumber(j) || j->valuedouble < 1 || j->valuedouble > HQ_GH_CHECK_RUN_ID_MAX ||
        j->valuedouble != (double)(uint64_t)j->valuedouble)
        return 0;
    return (uint64_t)j->valuedouble;
}

int hq_gh_answer_check_run(const char *body, size_t len, uint64_t *id)
{
    cJSON *doc = parse_object(body, len);
    *id = take_id(cJSON_GetObjectItemCaseSensitive(doc, "id"));
    cJSON_Delete(doc);
    return *id != 0 ? 0 : HQ_EPARSE;
}

int hq_gh_answer_check_runs_find(const char *body, size_t len, const char *external_id,
                                 uint64_t app_id, uint64_t *id, size_t *listed, uint64_t *total)
{
    int rc = HQ_EPARSE;
    *id = 0;
    *listed = 0;
    *total = 0;
    cJSON *doc = parse_object(body, len);
    const cJSON *runs = cJSON_GetObjectItemCaseSensitive(doc, "check_runs");
    if (!cJSON_IsArray(runs))
        goto out;
    rc = 0;
    *listed = (size_t)cJSON_GetArraySize(runs);
    *total = take_id(cJSON_GetObjectItemCaseSensitive(doc, "total_count"));
    const cJSON *run;
    cJSON_ArrayForEach(run, runs)
    {
        uint64_t rid = take_id(cJSON_GetObjectItemCaseSensitive(run, "id"));
        const char *ext =
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(run, "external_id"));
        const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(run, "status"));
        const cJSON *app = cJSON_GetObjectItemCaseSensitive(run, "app");
        uint64_t aid = take_id(cJSON_GetObjectItemCaseSensitive(app, "id"));
        if (rid == 0 || ext == NULL || strcmp(ext, external_id) != 0 ||
            (st != NULL && strcmp(st, "completed") == 0) ||
            (app_id != 0 && aid != 0 && aid != app_id))
            continue;
        *id = rid;
        break;
    }
out:
    cJSON_Delete(doc);
    return rc;
}
