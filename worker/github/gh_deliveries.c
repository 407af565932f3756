/*
 * gh_deliveries: the parsing of GitHub's delivery log answers; see
 * gh_deliveries.h. The checks on names reuse the receiver's own (ingest.h),
 * so that a GUID or event catch-up accepts is one the receiver would have
 * accepted in a header.
 */
#include "gh_deliveries.h"

#include "clock.h"
#include "ingest.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ID_MAX 9.0e15 /* ids above are not exact in a JSON double */

bool hq_gh_delivery_succeeded(const struct hq_gh_delivery *d)
{
    return d->status_code >= 200 && d->status_code < 400;
}

static cJSON *parse(const char *body, size_t len)
{
    return body != NULL ? cJSON_ParseWithLength(body, len) : NULL;
}

/* A positive integer id; null or absent is 0 when optional. */
static bool get_id(const cJSON *o, const char *name, bool optional, uint64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    *out = 0;
    if (v == NULL || cJSON_IsNull(v))
        return optional;
    if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > ID_MAX ||
        v->valuedouble != (double)(uint64_t)v->valuedouble)
        return false;
    *out = (uint64_t)v->valuedouble;
    return true;
}

static bool copy_str(const cJSON *v, char *dst, size_t cap)
{
    if (!cJSON_IsString(v))
        return false;
    size_t n = strlen(v->valuestring);
    if (n >= cap)
        return false;
    memcpy(dst, v->valuestring, n + 1);
    return true;
}

static bool parse_item(const cJSON *o, struct hq_gh_delivery *d)
{
    memset(d, 0, sizeof(*d));
    if (!cJSON_IsObject(o) || !get_id(o, "id", false, &d->id))
        return false;
    const cJSON *guid = cJSON_GetObjectItemCaseSensitive(o, "guid");
    const cJSON *event = cJSON_GetObjectItemCaseSensitive(o, "event");
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(o, "delivered_at");
    const cJSON *action = cJSON_GetObjectItemCaseSensitive(o, "action");
    const cJSON *redelivery = cJSON_GetObjectItemCaseSensitive(o, "redelivery");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(o, "status_code");
    if (!copy_str(guid, d->guid, sizeof(d->guid)) || ingest_delivery_id(d->guid) != 0 ||
        !copy_str(event, d->event, sizeof(d->event)) || ingest_event_name(d->event) != 0 ||
        !cJSON_IsString(at) || hq_parse_rfc3339(at->valuestring, &d->delivered_at_ms) < 0)
        return false;
    if (action != NULL && !cJSON_IsNull(action) && !copy_str(action, d->action, sizeof(d->action)))
        return false;
    if (redelivery != NULL && !cJSON_IsNull(redelivery) && !cJSON_IsBool(redelivery))
        return false;
    d->redelivery = cJSON_IsTrue(redelivery);
    if (!cJSON_IsNumber(code) || code->valuedouble < 0 || code->valuedouble > 999 ||
        code->valuedouble != (double)(int)code->valuedouble)
        return false;
    d->status_code = (int)code->valuedouble;
    return get_id(o, "installation_id", true, &d->installation_id) &&
           get_id(o, "repository_id", true, &d->repository_id);
}

int hq_gh_deliveries_page(const char *body, size_t len, struct hq_gh_delivery **items, size_t *n,
                          size_t max, size_t *skipped)
{
    int rc = 0;
    cJSON *doc = parse(body, len);
    if (!cJSON_IsArray(doc)) {
        rc = HQ_EPARSE;
        goto out;
    }
    size_t count = (size_t)cJSON_GetArraySize(doc);
    size_t room = *n < max ? max - *n : 0;
    size_t want = count < room ? count : room;
    if (want > 0) {
        struct hq_gh_delivery *grown = realloc(*items, (*n + want) * sizeof(**items));
        if (grown == NULL) {
            rc = -ENOMEM;
            goto out;
        }
        *items = grown;
    }
    const cJSON *o;
    cJSON_ArrayForEach(o, doc)
    {
        if (*n < max && want > 0 && parse_item(o, &(*items)[*n])) {
            (*n)++;
            want--;
        } else {
            (*skipped)++;
        }
    }
out:
    cJSON_Delete(doc);
    return rc;
}

void hq_gh_delivery_detail_free(struct hq_gh_delivery_detail *d)
{
    if (d == NULL)
        return;
    free(d->payload);
    memset(d, 0, sizeof(*d));
}

/* X-GitHub-Hook-ID in any case, as a string (what GitHub sends) or a number. */
static int hook_id(const cJSON *headers, uint64_t *out)
{
    const cJSON *h;
    *out = 0;
    if (headers == NULL || cJSON_IsNull(headers))
        return 0;
    if (!cJSON_IsObject(headers))
        return HQ_EPARSE;
    cJSON_ArrayForEach(h, headers)
    {
        if (h->string == NULL || strcasecmp(h->string, "X-GitHub-Hook-ID") != 0)
            continue;
        if (cJSON_IsString(h))
            return ingest_hook_id(h->valuestring, out);
        if (cJSON_IsNumber(h) && h->valuedouble >= 0 && h->valuedouble <= ID_MAX &&
            h->valuedouble == (double)(uint64_t)h->valuedouble) {
            *out = (uint64_t)h->valuedouble;
            return 0;
        }
        return HQ_EPARSE;
    }
    return 0;
}

int hq_gh_delivery_detail_parse(const char *body, size_t len, struct hq_gh_delivery_detail *d,
                                const char **why)
{
    int rc = HQ_EPARSE;
    memset(d, 0, sizeof(*d));
    *why = "the delivery is not a JSON object";
    cJSON *doc = parse(body, len);
    if (!cJSON_IsObject(doc))
        goto out;
    const cJSON *req = cJSON_GetObjectItemCaseSensitive(doc, "request");
    const cJSON *payload = cJSON_GetObjectItemCaseSensitive(req, "payload");
    *why = "the delivery has no request.payload object";
    if (!cJSON_IsObject(req) || !cJSON_IsObject(payload))
        goto out;
    *why = "the delivery's X-GitHub-Hook-ID is not a number";
    if (hook_id(cJSON_GetObjectItemCaseSensitive(req, "headers"), &d->hook_id) != 0)
        goto out;
    d->payload = cJSON_PrintUnformatted(payload);
    if (d->payload == NULL) {
        rc = -ENOMEM;
        *why = "out of memory";
        goto out;
    }
    d->payload_len = strlen(d->payload);
    *why = NULL;
    rc = 0;
out:
    if (rc != 0)
        hq_gh_delivery_detail_free(d);
    cJSON_Delete(doc);
    return rc;
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

int hq_gh_link_next(const char *link, size_t len, char *out, size_t cap)
{
    const char *p = link, *end = link + len;
    if (cap > 0)
        out[0] = '\0';
    if (link == NULL)
        return HQ_ENOTFOUND;
    for (;;) {
        p = skip_ws(p, end);
        if (p == end)
            return HQ_ENOTFOUND;
        if (*p != '<')
            return HQ_EPARSE;
        const char *url = ++p;
        while (p < end && *p != '>')
            p++;
        if (p == end)
            return HQ_EPARSE;
        size_t ulen = (size_t)(p - url);
        p++;
        bool next = false;
        /* parameters up to the next ',' outside quotes */
        while (p < end && *p != ',') {
            p = skip_ws(p, end);
            if (p < end && *p == ';') {
                p = skip_ws(p + 1, end);
                const char *name = p;
                while (p < end && *p != '=' && *p != ';' && *p != ',')
                    p++;
                size_t nlen = (size_t)(p - name);
                while (nlen > 0 && (name[nlen - 1] == ' ' || name[nlen - 1] == '\t'))
                    nlen--;
                if (p < end && *p == '=') {
                    p = skip_ws(p + 1, end);
                    const char *val = p;
                    size_t vlen;
                    if (p < end && *p == '"') {
                        val = ++p;
                        while (p < end && *p != '"')
                            p++;
                        if (p == end)
                            return HQ_EPARSE;
                        vlen = (size_t)(p - val);
                        p++;
                    } else {
                        while (p < end && *p != ';' && *p != ',' && *p != ' ')
                            p++;
                        vlen = (size_t)(p - val);
                    }
                    /* rel may list several relation types separated by blanks */
                    if (nlen == 3 && strncasecmp(name, "rel", 3) == 0) {
                        for (size_t i = 0; i + 4 <= vlen; i++) {
                            bool start = i == 0 || val[i - 1] == ' ';
                            bool stop = i + 4 == vlen || val[i + 4] == ' ';
                            if (start && stop && strncasecmp(val + i, "next", 4) == 0)
                                next = true;
                        }
                    }
                }
            } else if (p < end && *p != ',') {
                return HQ_EPARSE;
            }
        }
        if (next) {
            if (ulen == 0 || memchr(url, '\0', ulen) != NULL)
                return HQ_EPARSE;
            if (ulen >= cap)
                return HQ_ETOOBIG;
            memcpy(out, url, ulen);
            out[ulen] = '\0';
            return 0;
        }
        if (p < end)
            p++; /* the ',' */
    }
}
