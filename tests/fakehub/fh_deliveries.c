/*
 * fh_deliveries: fakehub's delivery log; see fh_deliveries.h. Deliveries
 * are kept in id order (ids grow with delivery time), so a page is a walk
 * down from the cursor. A delivery to the receiver is one blocking HTTP/1.1
 * request on a socket of its own with a 5 s timeout.
 */
#include "fh_deliveries.h"

#include "clock.h"
#include "config.h"
#include "fh_util.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define FIRST_ID    1000
#define MAX_PER     100
#define DEFAULT_PER 30
#define SEED_MAX    (64 * 1024 * 1024)

struct entry {
    uint64_t id;
    char guid[129];
    char event[65];
    char *action; /* NULL: null */
    int status_code;
    int64_t delivered_at_ms;
    bool redelivery;
    uint64_t installation_id, repository_id, hook_id; /* 0: null (hook id: absent) */
    char *payload;                                    /* compact JSON */
};

struct fh_deliveries {
    pthread_mutex_t lock; /* protects e, n, cap, next_id */
    struct entry *e;
    size_t n, cap;
    uint64_t next_id;
    char *secret;
    char host[256];
    char port[16];
    char path[1024];
    bool can_deliver;
};

static char *dup_or_null(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

/* Appends under the lock; takes action and payload. Returns the id or 0. */
static uint64_t add_locked(fh_deliveries *d, struct entry *e)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 64;
        struct entry *g = realloc(d->e, cap * sizeof(*g));
        if (g == NULL)
            return 0;
        d->e = g;
        d->cap = cap;
    }
    e->id = d->next_id++;
    d->e[d->n++] = *e;
    return e->id;
}

static uint64_t num(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) && v->valuedouble > 0 ? (uint64_t)v->valuedouble : 0;
}

static int cmp_time(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    return x->delivered_at_ms < y->delivered_at_ms ? -1 : x->delivered_at_ms > y->delivered_at_ms;
}

static int load_seeds(fh_deliveries *d, const char *path, char *err, size_t errcap)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = hq_read_file(path, SEED_MAX, &buf, &len);
    if (rc != 0) {
        snprintf(err, errcap, "fakehub: --deliveries: cannot read %s: %s", path, hq_strerror(rc));
        return rc;
    }
    cJSON *doc = fh_json_parse(buf, len);
    free(buf);
    if (!cJSON_IsArray(doc)) {
        cJSON_Delete(doc);
        snprintf(err, errcap, "fakehub: --deliveries: %s is not a JSON array", path);
        return HQ_EPARSE;
    }
    int64_t now = hq_now_ms();
    const cJSON *it;
    size_t start = d->n;
    cJSON_ArrayForEach(it, doc)
    {
        struct entry e = {0};
        const cJSON *guid = cJSON_GetObjectItemCaseSensitive(it, "guid");
        const cJSON *event = cJSON_GetObjectItemCaseSensitive(it, "event");
        const cJSON *action = cJSON_GetObjectItemCaseSensitive(it, "action");
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(it, "status_code");
        const cJSON *at = cJSON_GetObjectItemCaseSensitive(it, "delivered_at");
        const cJSON *age = cJSON_GetObjectItemCaseSensitive(it, "age_s");
        const cJSON *payload = cJSON_GetObjectItemCaseSensitive(it, "payload");
        if (!cJSON_IsString(guid) || !cJSON_IsString(event) ||
            strlen(guid->valuestring) >= sizeof(e.guid) ||
            strlen(event->valuestring) >= sizeof(e.event)) {
            cJSON_Delete(doc);
            snprintf(err, errcap, "fakehub: --deliveries: an entry needs a guid and an event");
            return HQ_EPARSE;
        }
        memcpy(e.guid, guid->valuestring, strlen(guid->valuestring) + 1);
        memcpy(e.event, event->valuestring, strlen(event->valuestring) + 1);
        e.action = cJSON_IsString(action) ? strdup(action->valuestring) : NULL;
        e.status_code = cJSON_IsNumber(code) ? (int)code->valuedouble : 0;
        e.delivered_at_ms = now;
        if (cJSON_IsString(at) && hq_parse_rfc3339(at->valuestring, &e.delivered_at_ms) < 0)
            e.delivered_at_ms = now;
        if (cJSON_IsNumber(age))
            e.delivered_at_ms = now - (int64_t)(age->valuedouble * 1000);
        e.redelivery = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "redelivery"));
        e.installation_id = num(it, "installation_id");
        e.repository_id = num(it, "repository_id");
        e.hook_id = num(it, "hook_id");
        e.payload = payload != NULL ? cJSON_PrintUnformatted(payload) : NULL;
        if (add_locked(d, &e) == 0) {
            cJSON_Delete(doc);
            return -ENOMEM;
        }
    }
    cJSON_Delete(doc);
    /* ids in delivery-time order, as GitHub's grow */
    qsort(d->e + start, d->n - start, sizeof(*d->e), cmp_time);
    for (size_t i = start; i < d->n; i++)
        d->e[i].id = FIRST_ID + i;
    return 0;
}

static int parse_target(fh_deliveries *d, const char *url, char *err, size_t errcap)
{
    const char *p = url;
    if (strncmp(p, "http://", 7) != 0)
        goto bad;
    p += 7;
    const char *colon = strchr(p, ':'), *slash = strchr(p, '/');
    if (colon == NULL || slash == NULL || colon > slash || (size_t)(colon - p) >= sizeof(d->host) ||
        (size_t)(slash - colon - 1) >= sizeof(d->port) || strlen(slash) >= sizeof(d->path))
        goto bad;
    memcpy(d->host, p, (size_t)(colon - p));
    memcpy(d->port, colon + 1, (size_t)(slash - colon - 1));
    memcpy(d->path, slash, strlen(slash) + 1);
    d->can_deliver = true;
    return 0;
bad:
    snprintf(err, errcap, "fakehub: --deliver-to: expected http://HOST:PORT/PATH (got '%s')", url);
    return HQ_ECONFIG;
}

int fh_deliveries_open(const struct fh_opts *o, fh_deliveries **out, char *err, size_t errcap)
{
    int rc = 0;
    fh_deliveries *d = calloc(1, sizeof(*d));
    *out = NULL;
    if (d == NULL)
        return -ENOMEM;
    pthread_mutex_init(&d->lock, NULL);
    d->next_id = FIRST_ID;
    if (o->webhook_secret_file != NULL) {
        size_t len = 0;
        rc = hq_read_file(o->webhook_secret_file, 4096, &d->secret, &len);
        if (rc != 0) {
            snprintf(err, errcap, "fakehub: --webhook-secret-file: cannot read %s: %s",
                     o->webhook_secret_file, hq_strerror(rc));
            goto fail;
        }
        d->secret[strcspn(d->secret, "\r\n")] = '\0';
    }
    if (o->deliver_to != NULL && (rc = parse_target(d, o->deliver_to, err, errcap)) != 0)
        goto fail;
    if (o->deliveries_file != NULL && (rc = load_seeds(d, o->deliveries_file, err, errcap)) != 0)
        goto fail;
    d->next_id = FIRST_ID + d->n;
    *out = d;
    return 0;
fail:
    fh_deliveries_close(d);
    return rc;
}

void fh_deliveries_close(fh_deliveries *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->n; i++) {
        free(d->e[i].action);
        free(d->e[i].payload);
    }
    free(d->e);
    free(d->secret);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

static cJSON *summary(const struct entry *e)
{
    char at[40];
    cJSON *o = cJSON_CreateObject();
    if (o == NULL || hq_format_rfc3339(e->delivered_at_ms, at, sizeof(at)) < 0) {
        cJSON_Delete(o);
        return NULL;
    }
    /* GitHub's delivered_at has whole seconds */
    char *dot = strchr(at, '.');
    if (dot != NULL)
        memcpy(dot, "Z", 2);
    bool ok =
        cJSON_AddNumberToObject(o, "id", (double)e->id) &&
        cJSON_AddStringToObject(o, "guid", e->guid) &&
        cJSON_AddStringToObject(o, "delivered_at", at) &&
        cJSON_AddBoolToObject(o, "redelivery", e->redelivery) &&
        cJSON_AddNumberToObject(o, "duration", 0.05) &&
        cJSON_AddStringToObject(o, "status",
                                e->status_code >= 200 && e->status_code < 400 ? "OK"
                                : e->status_code == 0 ? "failed to connect to host"
                                                      : "Invalid HTTP Response") &&
        cJSON_AddNumberToObject(o, "status_code", e->status_code) &&
        cJSON_AddStringToObject(o, "event", e->event) &&
        (e->action ? cJSON_AddStringToObject(o, "action", e->action)
                   : cJSON_AddNullToObject(o, "action")) &&
        (e->installation_id
             ? cJSON_AddNumberToObject(o, "installation_id", (double)e->installation_id)
             : cJSON_AddNullToObject(o, "installation_id")) &&
        (e->repository_id ? cJSON_AddNumberToObject(o, "repository_id", (double)e->repository_id)
                          : cJSON_AddNullToObject(o, "repository_id"));
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

void fh_deliveries_list(struct fh_ctx *ctx, const struct fh_request *rq, struct fh_answer *ans)
{
    fh_deliveries *d = ctx->deliveries;
    uint64_t per = DEFAULT_PER, below = UINT64_MAX;
    if (rq->q_per_page != NULL && (hq_parse_uint(rq->q_per_page, 1, MAX_PER, &per) != 0)) {
        fh_answer_error(ans, 422, "per_page must be 1..100");
        return;
    }
    if (rq->q_cursor != NULL && (strncmp(rq->q_cursor, "v1_", 3) != 0 ||
                                 hq_parse_uint(rq->q_cursor + 3, 1, UINT64_MAX, &below) != 0)) {
        fh_answer_error(ans, 400, "Invalid cursor");
        return;
    }
    cJSON *arr = cJSON_CreateArray();
    uint64_t last = 0;
    bool more = false;
    pthread_mutex_lock(&d->lock);
    size_t i = d->n, taken = 0;
    while (i > 0 && d->e[i - 1].id >= below)
        i--;
    for (; i > 0 && taken < per; i--, taken++) {
        cJSON *o = summary(&d->e[i - 1]);
        if (o != NULL)
            cJSON_AddItemToArray(arr, o);
        last = d->e[i - 1].id;
    }
    more = i > 0;
    pthread_mutex_unlock(&d->lock);
    if (more && rq->host != NULL) {
        char link[1024];
        int n = snprintf(link, sizeof(link),
                         "<http://%s/app/hook/deliveries?per_page=%" PRIu64 "&cursor=v1_%" PRIu64
                         ">; rel=\"next\"",
                         rq->host, per, last);
        if (n > 0 && (size_t)n < sizeof(link))
            ans->link = strdup(link);
    }
    fh_answer_json(ans, 200, arr);
}

void fh_deliveries_get(struct fh_ctx *ctx, uint64_t id, struct fh_answer *ans)
{
    fh_deliveries *d = ctx->deliveries;
    cJSON *o = NULL;
    char *payload = NULL, hook[24] = "";
    pthread_mutex_lock(&d->lock);
    for (size_t i = 0; i < d->n; i++) {
        if (d->e[i].id != id)
            continue;
        o = summary(&d->e[i]);
        payload = dup_or_null(d->e[i].payload);
        if (d->e[i].hook_id != 0)
            snprintf(hook, sizeof(hook), "%" PRIu64, d->e[i].hook_id);
        break;
    }
    pthread_mutex_unlock(&d->lock);
    if (o == NULL) {
        free(payload);
        fh_answer_error(ans, 404, "Not Found");
        return;
    }
    cJSON *req = cJSON_AddObjectToObject(o, "request");
    cJSON *headers = cJSON_AddObjectToObject(req, "headers");
    cJSON_AddStringToObject(headers, "X-GitHub-Event",
                            cJSON_GetObjectItemCaseSensitive(o, "event")->valuestring);
    cJSON_AddStringToObject(headers, "X-GitHub-Delivery",
                            cJSON_GetObjectItemCaseSensitive(o, "guid")->valuestring);
    if (hook[0] != '\0')
        cJSON_AddStringToObject(headers, "x-github-hook-id", hook); /* GitHub's case varies */
    cJSON_AddStringToObject(headers, "content-type", "application/json");
    cJSON *p = payload != NULL ? fh_json_parse(payload, strlen(payload)) : NULL;
    if (p != NULL)
        cJSON_AddItemToObject(req, "payload", p);
    else
        cJSON_AddNullToObject(req, "payload");
    cJSON_AddStringToObject(o, "url", "http://receiver/webhook");
    free(payload);
    fh_answer_json(ans, 200, o);
}

/* POSTs payload to the receiver; its HTTP status, or 0 when it could not connect. */
static int deliver(fh_deliveries *d, const char *event, const char *guid, uint64_t hook_id,
                   const char *payload)
{
    if (!d->can_deliver || payload == NULL)
        return 0;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    const char *secret = d->secret ? d->secret : "";
    if (HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)payload,
             strlen(payload), mac, &maclen) == NULL)
        return 0;
    char sig[2 * EVP_MAX_MD_SIZE + 1];
    for (unsigned i = 0; i < maclen; i++)
        snprintf(sig + 2 * i, 3, "%02x", mac[i]);
    char head[2048];
    int n = snprintf(head, sizeof(head),
                     "POST %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: GitHub-Hookshot/fakehub\r\n"
                     "Content-Type: application/json\r\nX-GitHub-Event: %s\r\n"
                     "X-GitHub-Delivery: %s\r\nX-GitHub-Hook-ID: %" PRIu64 "\r\n"
                     "X-Hub-Signature-256: sha256=%s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     d->path, d->host, d->port, event, guid, hook_id, sig, strlen(payload));
    if (n < 0 || (size_t)n >= sizeof(head))
        return 0;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (getaddrinfo(d->host, d->port, &hints, &ai) != 0)
        return 0;
    int status = 0, fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {.tv_sec = 5};
    if (fd < 0)
        goto out;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0)
        goto out;
    if (send(fd, head, (size_t)n, MSG_NOSIGNAL) != n)
        goto out;
    size_t plen = strlen(payload), off = 0;
    while (off < plen) {
        ssize_t w = send(fd, payload + off, plen - off, MSG_NOSIGNAL);
        if (w <= 0)
            goto out;
        off += (size_t)w;
    }
    char line[64] = "";
    size_t got = 0;
    while (got < sizeof(line) - 1) {
        ssize_t r = recv(fd, line + got, sizeof(line) - 1 - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    line[got] = '\0';
    unsigned code = 0;
    if (sscanf(line, "HTTP/1.%*c %3u", &code) == 1)
        status = (int)code;
    else
        status = 502; /* answered, but not HTTP: GitHub logs an invalid response */
out:
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    return status;
}

static uint64_t record_delivery(fh_deliveries *d, const char *guid, const char *event,
                                const char *action, const char *payload, bool redelivery,
                                uint64_t hook_id, int status)
{
    struct entry e = {0};
    snprintf(e.guid, sizeof(e.guid), "%s", guid);
    snprintf(e.event, sizeof(e.event), "%s", event);
    e.action = dup_or_null(action);
    e.payload = dup_or_null(payload);
    e.status_code = status;
    e.delivered_at_ms = hq_now_ms();
    e.redelivery = redelivery;
    e.hook_id = hook_id;
    cJSON *p = payload != NULL ? fh_json_parse(payload, strlen(payload)) : NULL;
    const cJSON *repo = cJSON_GetObjectItemCaseSensitive(p, "repository");
    const cJSON *inst = cJSON_GetObjectItemCaseSensitive(p, "installation");
    e.repository_id = num(repo, "id");
    e.installation_id = num(inst, "id");
    cJSON_Delete(p);
    pthread_mutex_lock(&d->lock);
    uint64_t id = add_locked(d, &e);
    pthread_mutex_unlock(&d->lock);
    if (id == 0) {
        free(e.action);
        free(e.payload);
    }
    return id;
}

void fh_deliveries_redeliver(struct fh_ctx *ctx, uint64_t id, struct fh_answer *ans)
{
    fh_deliveries *d = ctx->deliveries;
    struct entry copy = {0};
    bool found = false;
    pthread_mutex_lock(&d->lock);
    for (size_t i = 0; i < d->n && !found; i++) {
        if (d->e[i].id == id) {
            copy = d->e[i];
            copy.action = dup_or_null(d->e[i].action);
            copy.payload = dup_or_null(d->e[i].payload);
            found = true;
        }
    }
    pthread_mutex_unlock(&d->lock);
    if (!found) {
        fh_answer_error(ans, 404, "Not Found");
        return;
    }
    int status = deliver(d, copy.event, copy.guid, copy.hook_id, copy.payload);
    (void)record_delivery(d, copy.guid, copy.event, copy.action, copy.payload, true, copy.hook_id,
                          status);
    free(copy.action);
    free(copy.payload);
    fh_answer_json(ans, 202, cJSON_CreateObject());
}

void fh_deliveries_send(struct fh_ctx *ctx, const struct fh_request *rq, struct fh_answer *ans)
{
    fh_deliveries *d = ctx->deliveries;
    cJSON *doc = fh_json_parse(rq->body, rq->body_len);
    const cJSON *event = cJSON_GetObjectItemCaseSensitive(doc, "event");
    const cJSON *payload = cJSON_GetObjectItemCaseSensitive(doc, "payload");
    const cJSON *guid = cJSON_GetObjectItemCaseSensitive(doc, "guid");
    if (!cJSON_IsString(event) || !cJSON_IsObject(payload) ||
        (guid != NULL && !cJSON_IsString(guid))) {
        cJSON_Delete(doc);
        fh_answer_error(ans, 422, "send needs an event and a payload object");
        return;
    }
    char g[64];
    if (guid != NULL)
        snprintf(g, sizeof(g), "%s", guid->valuestring);
    else {
        /* a v4-shaped GUID, as GitHub's X-GitHub-Delivery */
        uint64_t a = ((uint64_t)rand() << 31) ^ (uint64_t)rand() ^ (uint64_t)hq_now_ms();
        uint64_t b = ((uint64_t)rand() << 31) ^ (uint64_t)rand();
        snprintf(g, sizeof(g),
                 "%08" PRIx64 "-%04" PRIx64 "-4%03" PRIx64 "-a%03" PRIx64 "-%012" PRIx64,
                 a & 0xffffffffu, (a >> 32) & 0xffffu, (a >> 48) & 0xfffu, b & 0xfffu,
                 (uint64_t)((b >> 12) & 0xffffffffffffull));
    }
    const cJSON *action = cJSON_GetObjectItemCaseSensitive(payload, "action");
    char *body = cJSON_PrintUnformatted(payload);
    uint64_t hook = ctx->opts->hook_id;
    int status = deliver(d, event->valuestring, g, hook, body);
    uint64_t id = record_delivery(d, g, event->valuestring,
                                  cJSON_IsString(action) ? action->valuestring : NULL, body, false,
                                  hook, status);
    free(body);
    cJSON *out = cJSON_CreateObject();
    cJSON_AddNumberToObject(out, "id", (double)id);
    cJSON_AddStringToObject(out, "guid", g);
    cJSON_AddNumberToObject(out, "status_code", status);
    cJSON_Delete(doc);
    fh_answer_json(ans, 201, out);
}
