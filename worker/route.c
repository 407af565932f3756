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

/* check_run with check runs on: a rerequest of this App's run. */
static void route_check_run(const struct hq_route_opts *o, const cJSON *root, const char *action,
                            struct hq_route *out)
{
    const cJSON *run = cJSON_GetObjectItemCaseSensitive(root, "check_run");
    const cJSON *app = cJSON_GetObjectItemCaseSensitive(run, "app");
    const cJSON *aid = cJSON_GetObjectItemCaseSensitive(app, "id");
    out->quiet = true;
    if (action == NULL || strcmp(action, "rerequested") != 0)
        set(out, HQ_ROUTE_NONE, "check_run action runs no check");
    else if (!cJSON_IsNumber(aid) || aid->valuedouble != (double)o->app_id)
        set(out, HQ_ROUTE_NONE, "check_run rerequested for another App's run");
    else if (take_sha(cJSON_GetObjectItemCaseSensitive(run, "head_sha"), out))
        out->kind = HQ_ROUTE_STATUS, out->quiet = false;
    else
        set(out, HQ_ROUTE_INVALID, "check_run payload has no 40-hex check_run.head_sha"),
            out->quiet = false;
}

int hq_route_event(const char *event, const char *payload, size_t len, struct hq_route *out)
{
    return hq_route_event_opts(NULL, event, payload, len, out);
}

int hq_route_event_opts(const struct hq_route_opts *o, const char *event, const char *payload,
                        size_t len, struct hq_route *out)
{
    bool checks = o != NULL && o->checks;
    static const char *const pr_actions[] = {"opened", "reopened", "synchronize",
                                             "ready_for_review", NULL};
    static const char *const cs_actions[] = {"requested", "rerequested", NULL};
    memset(out, 0, sizeof(*out));
    bool push = strcmp(event, "push") == 0;
    bool pr = strcmp(event, "pull_request") == 0;
    bool cs = strcmp(event, "check_suite") == 0;
    bool crun = checks && strcmp(event, "check_run") == 0;
    if (!push && !pr && !cs && !crun) {
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
    } else if (crun) {
        route_check_run(o, root, action, out);
    } else {
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(root, "check_suite");
        if (checks && action != NULL && strcmp(action, "requested") == 0)
            set(out, HQ_ROUTE_NONE, "check_suite requested: the push makes the run"),
                out->quiet = true;
        else if (!action_in(action, cs_actions))
            set(out, HQ_ROUTE_NONE, "check_suite action has no status to post");
        else if (take_sha(cJSON_GetObjectItemCaseSensitive(s, "head_sha"), out))
            out->kind = HQ_ROUTE_STATUS;
        else
            set(out, HQ_ROUTE_INVALID, "check_suite payload has no 40-hex check_suite.head_sha");
    }
    cJSON_Delete(root);
    return 0;
}
