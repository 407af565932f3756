/*
 * route_ref: the routing key read with cJSON, as ingest_route did before its
 * one-pass scanner (common/ingest_route.c). The reference of the scanner's
 * differential tests (tests/unit/test_ingest.c, tests/fuzz/fuzz_routing.c):
 * whatever the scanner accepts, this accepts with the same result; whatever
 * this refuses, the scanner refuses.
 */
#ifndef HQ_ROUTE_REF_H
#define HQ_ROUTE_REF_H

#include "ingest.h"

#include <string.h>

#include <cjson/cJSON.h>

static bool ref_json_id(const cJSON *item, uint64_t *out)
{
    if (!cJSON_IsNumber(item))
        return false;
    double d = item->valuedouble;
    if (!(d >= 1.0 && d <= (double)INGEST_MAX_ID))
        return false;
    uint64_t v = (uint64_t)d;
    if ((double)v != d)
        return false;
    *out = v;
    return true;
}

/* 0, 1 (not valid JSON: cJSON refused the document), or 2 (valid JSON,
 * refused for its content); r filled on 0. */
static inline int route_ref(const char *json, size_t len, struct ingest_route *r)
{
    int rc = 0;
    memset(r, 0, sizeof(*r));
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, false);
    if (root == NULL)
        return 1;
    for (const char *p = end; p < json + len; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            rc = 1;
            goto out;
        }
    }
    rc = 2;
    if (!cJSON_IsObject(root))
        goto out;
    const cJSON *action = cJSON_GetObjectItemCaseSensitive(root, "action");
    if (action != NULL && !cJSON_IsNull(action)) {
        if (!cJSON_IsString(action) || strlen(action->valuestring) > HQ_MAX_ACTION_LEN)
            goto out;
        memcpy(r->action, action->valuestring, strlen(action->valuestring) + 1);
    }
    const cJSON *inst = cJSON_GetObjectItemCaseSensitive(root, "installation");
    if (inst != NULL && !cJSON_IsNull(inst) &&
        !ref_json_id(cJSON_GetObjectItemCaseSensitive(inst, "id"), &r->installation_id))
        goto out;
    const cJSON *repo = cJSON_GetObjectItemCaseSensitive(root, "repository");
    if (repo == NULL || cJSON_IsNull(repo)) {
        rc = 0;
        goto out;
    }
    if (!cJSON_IsObject(repo) ||
        !ref_json_id(cJSON_GetObjectItemCaseSensitive(repo, "id"), &r->repo_id))
        goto out;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(repo, "full_name");
    size_t namelen = cJSON_IsString(name) ? strlen(name->valuestring) : 0;
    if (namelen == 0 || namelen > HQ_MAX_REPO_NAME_LEN)
        goto out;
    memcpy(r->repo_name, name->valuestring, namelen + 1);
    r->has_repository = true;
    rc = 0;
out:
    cJSON_Delete(root);
    if (rc != 0)
        memset(r, 0, sizeof(*r));
    return rc;
}

/* Whether the scanner's answer (rc, r) is allowed beside the reference's:
 * the same result where the scanner accepts; a refusal where cJSON refuses.
 * The scanner may refuse more (it is strict where cJSON is lenient). */
static inline bool route_agrees(const char *json, size_t len, int rc, const struct ingest_route *r,
                                int *ref_rc)
{
    struct ingest_route want;
    *ref_rc = route_ref(json, len, &want);
    if (rc == 0)
        return *ref_rc == 0 && memcmp(r, &want, sizeof(want)) == 0;
    return true;
}

#endif
