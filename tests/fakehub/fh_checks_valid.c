/* fh_checks_valid: check run body validation; see fh_checks_valid.h. */
#include "fh_checks_valid.h"
#include "clock.h"
#include "fh_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DOC_CREATE "https://docs.github.com/rest/checks/runs#create-a-check-run"
#define DOC_UPDATE "https://docs.github.com/rest/checks/runs#update-a-check-run"

static const char *const statuses[] = {"queued",  "in_progress", "completed",
                                       "waiting", "requested",   "pending"};
static const char *const conclusions[] = {"action_required", "cancelled", "failure", "neutral",
                                          "success",         "skipped",   "stale",   "timed_out"};
static const char *const levels[] = {"notice", "warning", "failure"};

bool fh_checks_is_sha(const char *s)
{
    if (strlen(s) != 40)
        return false;
    return strspn(s, "0123456789abcdefABCDEF") == 40;
}

bool fh_checks_time(int64_t ms, char *buf, size_t cap)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    return gmtime_r(&secs, &tm) != NULL && strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) != 0;
}

static bool in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(s, list[i]) == 0)
            return true;
    }
    return false;
}

static bool add_error(cJSON *errors, const char *field, const char *code, const char *message)
{
    cJSON *e = cJSON_CreateObject();
    if (e == NULL)
        return false;
    if (cJSON_AddStringToObject(e, "resource", "CheckRun") == NULL ||
        cJSON_AddStringToObject(e, "code", code) == NULL ||
        cJSON_AddStringToObject(e, "field", field) == NULL ||
        cJSON_AddStringToObject(e, "message", message) == NULL) {
        cJSON_Delete(e);
        return false;
    }
    return cJSON_AddItemToArray(errors, e);
}

/* Answers 422 "Validation Failed" with errors (consumed). */
static void answer_errors(struct fh_answer *ans, bool create, cJSON *errors)
{
    cJSON *doc = cJSON_CreateObject();
    if (doc == NULL || cJSON_AddStringToObject(doc, "message", "Validation Failed") == NULL ||
        !cJSON_AddItemToObject(doc, "errors", errors)) {
        cJSON_Delete(errors);
        cJSON_Delete(doc);
        fh_answer_error(ans, 500, "fakehub: out of memory");
        return;
    }
    if (cJSON_AddStringToObject(doc, "documentation_url", create ? DOC_CREATE : DOC_UPDATE) ==
        NULL) {
        cJSON_Delete(doc);
        fh_answer_error(ans, 500, "fakehub: out of memory");
        return;
    }
    fh_answer_json(ans, 422, doc);
}

void fh_checks_answer_invalid(struct fh_answer *ans, bool create, const char *field,
                              const char *code, const char *message)
{
    cJSON *errors = cJSON_CreateArray();
    if (errors == NULL || !add_error(errors, field, code, message)) {
        cJSON_Delete(errors);
        fh_answer_error(ans, 500, "fakehub: out of memory");
        return;
    }
    answer_errors(ans, create, errors);
}

/* Whether member name of o is present but not of kind ('s' string, 'S'
 * string or null, 'o' object or null, 'a' array, 'i' integer); then msg is
 * GitHub's "Invalid request" message naming path. */
static bool wrong_type(const cJSON *o, const char *name, const char *path, char kind, char *msg,
                       size_t cap)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (v == NULL)
        return false;
    bool ok = false;
    const char *want = "a string";
    switch (kind) {
    case 's': ok = cJSON_IsString(v); break;
    case 'S':
        ok = cJSON_IsString(v) || cJSON_IsNull(v);
        want = "a string or null";
        break;
    case 'o':
        ok = cJSON_IsObject(v) || cJSON_IsNull(v);
        want = "an object";
        break;
    case 'a':
        ok = cJSON_IsArray(v);
        want = "an array";
        break;
    case 'i':
        ok = cJSON_IsNumber(v) && v->valuedouble == (double)(int64_t)v->valuedouble;
        want = "an integer";
        break;
    }
    if (ok)
        return false;
    snprintf(msg, cap, "Invalid request.\n\nFor 'properties/%s', %s is not %s.", path,
             cJSON_IsNumber(v)   ? "a number"
             : cJSON_IsBool(v)   ? "a boolean"
             : cJSON_IsString(v) ? "a string"
             : cJSON_IsNull(v)   ? "null"
                                 : "the value",
             want);
    return true;
}

static const char *str_member(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The schema layer: types, and the members a create requires. */
static bool check_types(const cJSON *body, bool create, char *msg, size_t cap)
{
    static const char *const strs[] = {"name", "head_sha", "status"};
    static const char *const nullable[] = {"details_url", "external_id", "conclusion", "started_at",
                                           "completed_at"};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        if (wrong_type(body, strs[i], strs[i], 's', msg, cap))
            return true;
    }
    for (size_t i = 0; i < sizeof(nullable) / sizeof(nullable[0]); i++) {
        if (wrong_type(body, nullable[i], nullable[i], 'S', msg, cap))
            return true;
    }
    if (wrong_type(body, "output", "output", 'o', msg, cap))
        return true;
    const cJSON *out = cJSON_GetObjectItemCaseSensitive(body, "output");
    if (cJSON_IsObject(out) &&
        (wrong_type(out, "title", "output/properties/title", 'S', msg, cap) ||
         wrong_type(out, "summary", "output/properties/summary", 'S', msg, cap) ||
         wrong_type(out, "text", "output/properties/text", 'S', msg, cap) ||
         wrong_type(out, "annotations", "output/properties/annotations", 'a', msg, cap)))
        return true;
    if (create) {
        const char *missing = cJSON_GetObjectItemCaseSensitive(body, "name") == NULL ? "name"
                              : cJSON_GetObjectItemCaseSensitive(body, "head_sha") == NULL
                                  ? "head_sha"
                                  : NULL;
        if (missing != NULL) {
            snprintf(msg, cap, "Invalid request.\n\n\"%s\" wasn't supplied.", missing);
            return true;
        }
    }
    return false;
}

static bool check_annotation(cJSON *errors, const cJSON *a, int i)
{
    char field[64], message[128];
    static const char *const need[] = {"path", "start_line", "end_line", "annotation_level",
                                       "message"};
    if (!cJSON_IsObject(a)) {
        snprintf(field, sizeof(field), "annotations[%d]", i);
        return add_error(errors, field, "invalid", "an annotation must be an object");
    }
    for (size_t k = 0; k < sizeof(need) / sizeof(need[0]); k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(a, need[k]);
        bool line = k == 1 || k == 2;
        bool ok = line ? cJSON_IsNumber(v) && v->valuedouble >= 1 &&
                             v->valuedouble == (double)(int64_t)v->valuedouble
                       : cJSON_IsString(v) && v->valuestring[0] != '\0';
        if (ok && k == 3)
            ok = in_list(v->valuestring, levels, sizeof(levels) / sizeof(levels[0]));
        if (ok)
            continue;
        snprintf(field, sizeof(field), "annotations[%d].%s", i, need[k]);
        snprintf(message, sizeof(message), "%s", v == NULL ? "wasn't supplied" : "is invalid");
        if (!add_error(errors, field, v == NULL ? "missing_field" : "invalid", message))
            return false;
    }
    return true;
}

static bool check_output(cJSON *errors, const cJSON *out)
{
    const char *title = str_member(out, "title"), *summary = str_member(out, "summary");
    const char *text = str_member(out, "text");
    if (title == NULL && !add_error(errors, "title", "missing_field", "title wasn't supplied"))
        return false;
    if (summary == NULL &&
        !add_error(errors, "summary", "missing_field", "summary wasn't supplied"))
        return false;
    if (summary != NULL && strlen(summary) > FH_CHECKS_MAX_OUTPUT &&
        !add_error(errors, "summary", "custom", "summary exceeds a maximum bytesize of 65535"))
        return false;
    if (text != NULL && strlen(text) > FH_CHECKS_MAX_OUTPUT &&
        !add_error(errors, "text", "custom", "text exceeds a maximum bytesize of 65535"))
        return false;
    const cJSON *anns = cJSON_GetObjectItemCaseSensitive(out, "annotations");
    int n = cJSON_GetArraySize(anns);
    if (n > FH_CHECKS_MAX_ANNOTATIONS)
        return add_error(errors, "annotations", "custom",
                         "annotations exceed the maximum of 50 per request");
    for (int i = 0; i < n; i++) {
        if (!check_annotation(errors, cJSON_GetArrayItem(anns, i), i))
            return false;
    }
    return true;
}

static bool check_time(cJSON *errors, const char *name, const char *s, bool *has, int64_t *ms)
{
    *has = false;
    if (s == NULL)
        return true;
    if (hq_parse_rfc3339(s, ms) != 0) {
        char message[96];
        snprintf(message, sizeof(message), "%s is not a valid ISO 8601 timestamp", name);
        return add_error(errors, name, "invalid", message);
    }
    *has = true;
    return true;
}

bool fh_checks_validate(const struct fh_request *rq, bool create, cJSON **body_out,
                        struct fh_check_fields *f, struct fh_answer *ans)
{
    char msg[320];
    cJSON *body = NULL, *errors = NULL;
    memset(f, 0, sizeof(*f));
    *body_out = NULL;
    if (rq->body_len == 0 || fh_utf8_count(rq->body, rq->body_len) < 0 ||
        (body = fh_json_parse(rq->body, rq->body_len)) == NULL || !cJSON_IsObject(body)) {
        fh_answer_error(ans, 400, "Problems parsing JSON");
        goto fail;
    }
    if (check_types(body, create, msg, sizeof(msg))) {
        fh_answer_error(ans, 422, msg);
        goto fail;
    }
    f->name = str_member(body, "name");
    f->head_sha = str_member(body, "head_sha");
    f->details_url = str_member(body, "details_url");
    f->external_id = str_member(body, "external_id");
    f->status = str_member(body, "status");
    f->conclusion = str_member(body, "conclusion");
    const cJSON *out = cJSON_GetObjectItemCaseSensitive(body, "output");
    f->output = cJSON_IsObject(out) ? out : NULL;
    if (create && !fh_checks_is_sha(f->head_sha)) {
        char *clean = fh_utf8_repair(f->head_sha, strnlen(f->head_sha, 80));
        int n = snprintf(msg, sizeof(msg), "No commit found for SHA: %s", clean ? clean : "");
        free(clean);
        fh_answer_error(ans, 422, n > 0 && (size_t)n < sizeof(msg) ? msg : "No commit found");
        goto fail;
    }

    errors = cJSON_CreateArray();
    if (errors == NULL)
        goto oom;
    if (f->name != NULL && f->name[0] == '\0' &&
        !add_error(errors, "name", "missing_field", "name can't be blank"))
        goto oom;
    if (f->status != NULL &&
        !in_list(f->status, statuses, sizeof(statuses) / sizeof(statuses[0])) &&
        !add_error(errors, "status", "invalid", "status is not included in the list"))
        goto oom;
    if (f->conclusion != NULL &&
        !in_list(f->conclusion, conclusions, sizeof(conclusions) / sizeof(conclusions[0])) &&
        !add_error(errors, "conclusion", "invalid", "conclusion is not included in the list"))
        goto oom;
    if (create && f->conclusion == NULL && f->status != NULL &&
        strcmp(f->status, "completed") == 0 &&
        !add_error(errors, "conclusion", "missing_field",
                   "conclusion must be provided when status is completed"))
        goto oom;
    if (!check_time(errors, "started_at", str_member(body, "started_at"), &f->has_started,
                    &f->started_ms) ||
        !check_time(errors, "completed_at", str_member(body, "completed_at"), &f->has_completed,
                    &f->completed_ms))
        goto oom;
    if (f->output != NULL && !check_output(errors, f->output))
        goto oom;
    if (cJSON_GetArraySize(errors) > 0) {
        answer_errors(ans, create, errors);
        errors = NULL;
        goto fail;
    }
    cJSON_Delete(errors);
    *body_out = body;
    return true;
oom:
    fh_answer_error(ans, 500, "fakehub: out of memory");
fail:
    cJSON_Delete(errors);
    cJSON_Delete(body);
    memset(f, 0, sizeof(*f));
    return false;
}
