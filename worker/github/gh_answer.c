/*
 * gh_answer: the parsers of gh_answer.h, on cJSON. cJSON stops a string at
 * an escaped NUL, so a token is checked as cJSON hands it over.
 */
#include "gh_answer.h"

#include "clock.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

bool hq_gh_valid_token(const char *t, size_t n)
{
    if (n == 0 || n > HQ_GH_TOKEN_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (t[i] <= 0x20 || t[i] >= 0x7f)
            return false;
    return true;
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

bool hq_gh_answer_is_object(const char *body, size_t len)
{
    cJSON *doc = parse_object(body, len);
    cJSON_Delete(doc);
    return doc != NULL;
}

int hq_gh_answer_token(const char *body, size_t len, char **token, int64_t *expires_at_ms)
{
    int rc = HQ_EPARSE;
    int64_t expires = 0;

    *token = NULL;
    cJSON *doc = parse_object(body, len);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(doc, "token");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(doc, "expires_at");
    if (!cJSON_IsString(t) || !hq_gh_valid_token(t->valuestring, strlen(t->valuestring)) ||
        !cJSON_IsString(exp) || hq_parse_rfc3339(exp->valuestring, &expires) < 0)
        goto out;
    *token = strdup(t->valuestring);
    if (*token == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    *expires_at_ms = expires;
    rc = 0;
out:
    cJSON_Delete(doc);
    return rc;
}

int hq_gh_answer_installation(const char *body, size_t len, uint64_t *id)
{
    *id = 0;
    cJSON *doc = parse_object(body, len);
    const cJSON *jid = cJSON_GetObjectItemCaseSensitive(doc, "id");
    bool ok = cJSON_IsNumber(jid) && jid->valuedouble >= 1 &&
              jid->valuedouble <= HQ_GH_INSTALLATION_ID_MAX;
    if (ok)
        *id = (uint64_t)jid->valuedouble;
    cJSON_Delete(doc);
    return ok ? 0 : HQ_EPARSE;
}
