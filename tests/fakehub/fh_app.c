/*
 * fh_app: the App's own endpoints of fakehub, called by fh_api once the
 * caller presented a valid App JWT: POST /app/installations/{id}/access_tokens
 * (201 with a new installation token) and GET /repos/{owner}/{repo}/installation
 * (the --installation mapping, else 404).
 */
#include "fh_api.h"
#include "fh_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_NAME_LEN 100 /* GitHub's limit on a login */

void fh_app_access_tokens(struct fh_ctx *ctx, uint64_t inst, const struct fh_request *rq,
                          struct fh_answer *ans)
{
    cJSON *req = NULL, *doc = NULL;
    char *token = NULL;
    int64_t expires_ms;
    char expires[32];

    if (rq->body_len > 0) {
        req = fh_json_parse(rq->body, rq->body_len);
        if (!cJSON_IsObject(req)) {
            fh_answer_error(ans, 400, "Problems parsing JSON");
            goto out;
        }
    }
    int rc = fh_tokens_issue(ctx->tokens, inst, &token, &expires_ms);
    if (rc != 0) {
        fh_answer_error(ans, 500, rc == HQ_EFULL ? "fakehub: token store full" : "Server Error");
        goto out;
    }
    time_t secs = (time_t)(expires_ms / 1000);
    struct tm tm;
    if (gmtime_r(&secs, &tm) == NULL ||
        strftime(expires, sizeof(expires), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        goto fail;
    cJSON *perms = req != NULL ? cJSON_GetObjectItemCaseSensitive(req, "permissions") : NULL;
    perms = cJSON_IsObject(perms) ? cJSON_Duplicate(perms, 1) : cJSON_CreateObject();
    doc = cJSON_CreateObject();
    if (perms == NULL || doc == NULL || !cJSON_AddItemToObject(doc, "permissions", perms)) {
        cJSON_Delete(perms);
        goto fail;
    }
    if (cJSON_GetArraySize(perms) == 0 &&
        (cJSON_AddStringToObject(perms, "statuses", "write") == NULL ||
         cJSON_AddStringToObject(perms, "metadata", "read") == NULL))
        goto fail;
    if (cJSON_AddStringToObject(doc, "token", token) == NULL ||
        cJSON_AddStringToObject(doc, "expires_at", expires) == NULL ||
        cJSON_AddStringToObject(doc, "repository_selection", "all") == NULL)
        goto fail;
    fh_answer_json(ans, 201, doc);
    doc = NULL;
    goto out;
fail:
    fh_answer_error(ans, 500, "Server Error");
out:
    free(token);
    cJSON_Delete(doc);
    cJSON_Delete(req);
}

void fh_app_installation(struct fh_ctx *ctx, const char *repo, struct fh_answer *ans)
{
    const struct fh_opts *o = ctx->opts;
    const struct fh_repo_map *found = NULL;
    for (size_t i = 0; i < o->n_installations && found == NULL; i++) {
        if (strcmp(o->installations[i].repo, repo) == 0)
            found = &o->installations[i];
    }
    for (size_t i = 0; i < o->n_installations && found == NULL; i++) {
        if (strcmp(o->installations[i].repo, "*") == 0)
            found = &o->installations[i];
    }
    if (found == NULL) {
        fh_answer_error(ans, 404, "Not Found");
        return;
    }
    char login[MAX_NAME_LEN + 1];
    snprintf(login, sizeof(login), "%.*s", (int)strcspn(repo, "/"), repo);
    cJSON *doc = cJSON_CreateObject();
    cJSON *account = cJSON_CreateObject();
    bool ok = doc != NULL && account != NULL &&
              cJSON_AddNumberToObject(doc, "id", (double)found->value) != NULL &&
              cJSON_AddNumberToObject(doc, "app_id", (double)o->app_id) != NULL &&
              cJSON_AddStringToObject(doc, "target_type", "Organization") != NULL &&
              cJSON_AddStringToObject(doc, "repository_selection", "all") != NULL &&
              cJSON_AddStringToObject(account, "login", login) != NULL;
    if (ok) {
        ok = cJSON_AddItemToObject(doc, "account", account);
        account = ok ? NULL : account;
    }
    cJSON_Delete(account);
    if (!ok) {
        cJSON_Delete(doc);
        fh_answer_error(ans, 500, "Server Error");
        return;
    }
    fh_answer_json(ans, 200, doc);
}
