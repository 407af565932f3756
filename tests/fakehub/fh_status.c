/*
 * fh_status: the commit status endpoint's validation and answer, shaped
 * like GitHub's: 422 "No commit found for SHA" for a sha that is not 40 hex
 * digits, 400 for a body that is not a JSON object, 422 "Invalid request"
 * for a member of the wrong type, 422 "Validation Failed" with one error per
 * field for a bad state or a description over 140 characters (code points,
 * not bytes), else 201 with the status object.
 */
#include "clock.h"
#include "fh_api.h"
#include "fh_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_DESCRIPTION 140
#define DOC_URL         "https://docs.github.com/rest/commits/statuses#create-a-commit-status"

static bool is_sha(const char *s)
{
    if (strlen(s) != 40)
        return false;
    for (const char *p = s; *p != '\0'; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F')))
            return false;
    }
    return true;
}

static bool add_field_error(cJSON *errors, const char *field, const char *message)
{
    cJSON *e = cJSON_CreateObject();
    if (e == NULL)
        return false;
    if (cJSON_AddStringToObject(e, "resource", "Status") == NULL ||
        cJSON_AddStringToObject(e, "code", "custom") == NULL ||
        cJSON_AddStringToObject(e, "field", field) == NULL ||
        cJSON_AddStringToObject(e, "message", message) == NULL) {
        cJSON_Delete(e);
        return false;
    }
    return cJSON_AddItemToArray(errors, e);
}

/* "Invalid request" for a member that is neither a string nor (when allowed) null. */
static bool bad_type(const cJSON *body, const char *name, bool null_ok, char *msg, size_t cap)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, name);
    if (v == NULL || cJSON_IsString(v) || (null_ok && cJSON_IsNull(v)))
        return false;
    snprintf(msg, cap, "Invalid request.\n\nFor 'properties/%s', %s is not a string%s.", name,
             cJSON_IsNumber(v) ? "a number"
             : cJSON_IsBool(v) ? "a boolean"
                               : "the value",
             null_ok ? " or null" : "");
    return true;
}

static const char *str_or_null(const cJSON *body, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool add_str_or_null(cJSON *o, const char *name, const char *s)
{
    return s != NULL ? cJSON_AddStringToObject(o, name, s) != NULL
                     : cJSON_AddNullToObject(o, name) != NULL;
}

static cJSON *status_object(struct fh_ctx *ctx, const char *repo, const char *sha,
                            const char *state, const char *description, const char *target_url,
                            const char *context)
{
    char url[512], created[32], node_id[48];
    uint64_t id = atomic_fetch_add(&ctx->next_status_id, 1) + 1;
    time_t now = (time_t)(hq_now_ms() / 1000);
    struct tm tm;
    if (gmtime_r(&now, &tm) == NULL ||
        strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        return NULL;
    int n = snprintf(url, sizeof(url), "https://api.github.com/repos/%s/statuses/%s", repo, sha);
    int m = snprintf(node_id, sizeof(node_id), "SC_fakehub%llu", (unsigned long long)id);
    if (n < 0 || (size_t)n >= sizeof(url) || m < 0 || (size_t)m >= sizeof(node_id))
        return NULL;
    cJSON *o = cJSON_CreateObject();
    cJSON *creator = cJSON_CreateObject();
    bool ok = o != NULL && creator != NULL && cJSON_AddStringToObject(o, "url", url) != NULL &&
              cJSON_AddNullToObject(o, "avatar_url") != NULL &&
              cJSON_AddNumberToObject(o, "id", (double)id) != NULL &&
              cJSON_AddStringToObject(o, "node_id", node_id) != NULL &&
              cJSON_AddStringToObject(o, "state", state) != NULL &&
              add_str_or_null(o, "description", description) &&
              add_str_or_null(o, "target_url", target_url) &&
              cJSON_AddStringToObject(o, "context", context) != NULL &&
              cJSON_AddStringToObject(o, "created_at", created) != NULL &&
              cJSON_AddStringToObject(o, "updated_at", created) != NULL &&
              cJSON_AddStringToObject(creator, "login", "fakehub[bot]") != NULL &&
              cJSON_AddNumberToObject(creator, "id", 1) != NULL &&
              cJSON_AddStringToObject(creator, "type", "Bot") != NULL;
    if (ok) {
        ok = cJSON_AddItemToObject(o, "creator", creator);
        creator = ok ? NULL : creator;
    }
    cJSON_Delete(creator);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

void fh_status_create(struct fh_ctx *ctx, const char *repo, const char *sha,
                      const struct fh_request *rq, struct fh_answer *ans)
{
    cJSON *body = NULL, *doc = NULL;
    char msg[256];

    if (!is_sha(sha)) {
        char *clean = fh_utf8_repair(sha, strnlen(sha, 80));
        int n = snprintf(msg, sizeof(msg), "No commit found for SHA: %s", clean ? clean : "");
        free(clean);
        fh_answer_error(ans, 422, n > 0 && (size_t)n < sizeof(msg) ? msg : "No commit found");
        goto out;
    }
    if (rq->body_len == 0 || fh_utf8_count(rq->body, rq->body_len) < 0 ||
        (body = fh_json_parse(rq->body, rq->body_len)) == NULL || !cJSON_IsObject(body)) {
        fh_answer_error(ans, 400, "Problems parsing JSON");
        goto out;
    }
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(body, "state");
    if (state == NULL) {
        fh_answer_error(ans, 422, "Invalid request.\n\n\"state\" wasn't supplied.");
        goto out;
    }
    if (bad_type(body, "description", true, msg, sizeof(msg)) ||
        bad_type(body, "target_url", true, msg, sizeof(msg)) ||
        bad_type(body, "context", false, msg, sizeof(msg))) {
        fh_answer_error(ans, 422, msg);
        goto out;
    }

    doc = cJSON_CreateObject();
    cJSON *errors = cJSON_CreateArray();
    if (doc == NULL || errors == NULL || !cJSON_AddItemToObject(doc, "errors", errors)) {
        cJSON_Delete(errors);
        goto fail;
    }
    static const char *const states[] = {"error", "failure", "pending", "success"};
    bool state_ok = false;
    for (size_t i = 0; cJSON_IsString(state) && i < 4; i++)
        state_ok = state_ok || strcmp(state->valuestring, states[i]) == 0;
    if (!state_ok && !add_field_error(errors, "state", "state is not included in the list"))
        goto fail;
    const char *description = str_or_null(body, "description");
    if (description != NULL && fh_utf8_count(description, strlen(description)) > MAX_DESCRIPTION &&
        !add_field_error(errors, "description",
                         "description is too long (maximum is 140 characters)"))
        goto fail;
    if (cJSON_GetArraySize(errors) > 0) {
        if (cJSON_AddStringToObject(doc, "message", "Validation Failed") == NULL ||
            cJSON_AddStringToObject(doc, "documentation_url", DOC_URL) == NULL)
            goto fail;
        fh_answer_json(ans, 422, doc);
        doc = NULL;
        goto out;
    }

    const char *context = str_or_null(body, "context");
    cJSON *status =
        status_object(ctx, repo, sha, state->valuestring, description,
                      str_or_null(body, "target_url"), context != NULL ? context : "default");
    if (status == NULL)
        goto fail;
    fh_answer_json(ans, 201, status);
    goto out;
fail:
    fh_answer_error(ans, 500, "fakehub: out of memory");
out:
    cJSON_Delete(doc);
    cJSON_Delete(body);
}
