/* route: the routing table of schema/design.md §4; see route.h. */
#include "route.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static void set(struct hq_route *out, enum hq_route_kind kind, const char *reason)
{
    out->kind = kind;
    snprintf(out->reason, sizeof(out->reason), "%s", reason);
}

/* Copies a 40-hex-digit sha from item; false if it is not one. */
static bool take_sha(const cJSON *item, struct hq_route *out)
{
    const char *s = cJSON_GetStringValue(item);
    if (s == NULL || strlen(s) != 40)
        return false;
    for (int i = 0; i < 40; i++) {
        if (!isxdigit((unsigned char)s[i]))
            return false;
        out->sha[i] = (char)tolower((unsigned char)s[i]);
    }
    out->sha[40] = '\0';
    return true;
}

static bool action_in(const char *action, const char *const *list)
{
    for (; action != NULL && *list != NULL; list++)
        if (strcmp(action, *list) == 0)
            return true;
    return false;
}

int hq_route_event(const char *event, const char *payload, size_t len, struct hq_route *out)
{
    static const char *const pr_actions[] = {"opened", "reopened", "synchronize",
                                             "ready_for_review", NULL};
    static const char *const cs_actions[] = {"requested", "rerequested", NULL};
    memset(out, 0, sizeof(*out));
    bool push = strcmp(event, "push") == 0;
    bool pr = strcmp(event, "pull_request") == 0;
    bool cs = strcmp(event, "check_suite") == 0;
    if (!push && !pr && !cs) {
        set(out, HQ_ROUTE_NONE, "event has no status to post");
        return 0;
    }
    cJSON *root = cJSON_ParseWithLength(payload, len);
    if (root == NULL || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        set(out, HQ_ROUTE_INVALID, "payload is not a JSON object");
        return 0;
    }
    const char *action = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "action"));
    if (push) {
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "deleted")))
            set(out, HQ_ROUTE_NONE, "push deleted the ref");
        else if (take_sha(cJSON_GetObjectItemCaseSensitive(root, "after"), out))
            out->kind = HQ_ROUTE_STATUS;
        else
            set(out, HQ_ROUTE_INVALID, "push payload has no 40-hex 'after' sha");
    } else if (pr) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(root, "pull_request");
        const cJSON *head = cJSON_GetObjectItemCaseSensitive(p, "head");
        if (!action_in(action, pr_actions))
            set(out, HQ_ROUTE_NONE, "pull_request action has no status to post");
        else if (take_sha(cJSON_GetObjectItemCaseSensitive(head, "sha"), out))
            out->kind = HQ_ROUTE_STATUS;
        else
            set(out, HQ_ROUTE_INVALID, "pull_request payload has no 40-hex pull_request.head.sha");
    } else {
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(root, "check_suite");
        if (!action_in(action, cs_actions))
            set(out, HQ_ROUTE_NONE, "check_suite action has no status to post");
        else if (take_sha(cJSON_GetObjectItemCaseSensitive(s, "head_sha"), out))
            out->kind = HQ_ROUTE_STATUS;
        else
            set(out, HQ_ROUTE_INVALID, "check_suite payload has no 40-hex check_suite.head_sha");
    }
    cJSON_Delete(root);
    return 0;
}
