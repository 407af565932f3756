/*
 * ingest: header checks, content types, form decoding and routing-key
 * extraction for the receiver and catch-up; see ingest.h.
 *
 * These functions see raw bytes from the network before anything is trusted
 * (the signature is checked over the body, but headers are read first), so
 * every length is bounded and every loop stops at the caller's len.
 */
#include "ingest.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

int ingest_content_type(const char *value, enum ingest_ctype *out)
{
    static const struct {
        const char *name;
        enum ingest_ctype type;
    } types[] = {
        {"application/json", INGEST_CTYPE_JSON},
        {"application/x-www-form-urlencoded", INGEST_CTYPE_FORM},
    };
    if (value == NULL)
        return HQ_EPARSE;
    while (*value == ' ' || *value == '\t')
        value++;
    size_t n = strcspn(value, "; \t");
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (strlen(types[i].name) == n && strncasecmp(value, types[i].name, n) == 0) {
            const char *rest = value + n;
            while (*rest == ' ' || *rest == '\t')
                rest++;
            if (*rest != '\0' && *rest != ';')
                return HQ_EPARSE;
            *out = types[i].type;
            return 0;
        }
    }
    return HQ_EPARSE;
}

int ingest_event_name(const char *value)
{
    if (value == NULL || value[0] == '\0')
        return HQ_EPARSE;
    size_t i = 0;
    for (; value[i] != '\0'; i++) {
        unsigned char c = (unsigned char)value[i];
        if (i >= HQ_MAX_EVENT_LEN)
            return HQ_EPARSE;
        if (!(isalnum(c) || c == '_' || c == '.' || c == '-'))
            return HQ_EPARSE;
    }
    return 0;
}

int ingest_delivery_id(const char *value)
{
    if (value == NULL || value[0] == '\0')
        return HQ_EPARSE;
    for (size_t i = 0; value[i] != '\0'; i++) {
        unsigned char c = (unsigned char)value[i];
        if (i >= HQ_MAX_DELIVERY_LEN)
            return HQ_EPARSE;
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\')
            return HQ_EPARSE;
    }
    return 0;
}

/* Decimal digits only, no sign, no spaces; at most max. */
static int parse_decimal(const char *value, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (value == NULL || value[0] == '\0')
        return HQ_EPARSE;
    for (const char *p = value; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return HQ_EPARSE;
        uint64_t d = (uint64_t)(*p - '0');
        if (v > (max - d) / 10)
            return HQ_EPARSE;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int ingest_hook_id(const char *value, uint64_t *out)
{
    if (value == NULL || value[0] == '\0') {
        *out = 0;
        return 0;
    }
    return parse_decimal(value, INT64_MAX, out);
}

int ingest_content_length(const char *value, uint64_t *out)
{
    return parse_decimal(value, UINT64_MAX, out);
}

/*
 * Decodes src[0, len) as a form value into dst (room for len bytes).
 * Returns the decoded length, or -1 on a bad %XX escape.
 */
static long form_decode(const char *src, size_t len, char *dst)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (c == '+') {
            dst[o++] = ' ';
        } else if (c == '%') {
            if (len - i < 3 || !isxdigit((unsigned char)src[i + 1]) ||
                !isxdigit((unsigned char)src[i + 2]))
                return -1;
            char hex[3] = {src[i + 1], src[i + 2], '\0'};
            dst[o++] = (char)strtoul(hex, NULL, 16);
            i += 2;
        } else {
            dst[o++] = c;
        }
    }
    return (long)o;
}

int ingest_form_payload(const char *body, size_t len, char **out, size_t *outlen)
{
    static const char field[] = "payload";
    int rc = 0;
    char *value = NULL;
    size_t vlen = 0;
    size_t pos = 0;
    *out = NULL;
    *outlen = 0;
    if (body == NULL || len == 0)
        return HQ_EPARSE;
    while (pos <= len) {
        const char *pair = body + pos;
        const char *amp = memchr(pair, '&', len - pos);
        size_t pairlen = amp ? (size_t)(amp - pair) : len - pos;
        pos += pairlen + 1;
        const char *eq = memchr(pair, '=', pairlen);
        size_t keylen = eq ? (size_t)(eq - pair) : pairlen;
        /* The key is decoded too ("p%61yload" is "payload"); any key whose
         * raw form is longer than 3x the name cannot decode to it. */
        char key[3 * sizeof(field)];
        if (keylen >= sizeof(key))
            continue;
        long klen = form_decode(pair, keylen, key);
        if (klen != (long)sizeof(field) - 1 || memcmp(key, field, sizeof(field) - 1) != 0)
            continue;
        if (value != NULL) {
            rc = HQ_EPARSE; /* two payload fields: which one was signed for? */
            goto out;
        }
        const char *raw = eq ? eq + 1 : pair + pairlen;
        size_t rawlen = eq ? pairlen - keylen - 1 : 0;
        value = malloc(rawlen + 1);
        if (value == NULL) {
            rc = -ENOMEM;
            goto out;
        }
        long n = form_decode(raw, rawlen, value);
        if (n < 0) {
            rc = HQ_EPARSE;
            goto out;
        }
        value[n] = '\0';
        vlen = (size_t)n;
    }
    if (value == NULL) {
        rc = HQ_EPARSE;
        goto out;
    }
    *out = value;
    *outlen = vlen;
    value = NULL;
out:
    free(value);
    return rc;
}

/*
 * cJSON allocates every node and string separately, and a GitHub payload has
 * hundreds of them: with glibc malloc that was a fifth of the receiver's CPU
 * per delivery. ingest_init() gives cJSON a bump allocator over a per-thread
 * arena that ingest_route() rewinds before each parse; frees of arena memory
 * are no-ops, and anything that does not fit falls back to malloc. The parse
 * tree never leaves ingest_route(), so no arena pointer outlives a rewind or
 * crosses threads.
 */
#define ARENA_SIZE (256 * 1024)

static _Thread_local struct {
    char *base;
    size_t used;
} arena;

static void *arena_malloc(size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (arena.base != NULL && n <= ARENA_SIZE - arena.used) {
        void *p = arena.base + arena.used;
        arena.used += n;
        return p;
    }
    return malloc(n);
}

static void arena_free(void *p)
{
    char *c = p;
    if (arena.base != NULL && c >= arena.base && c < arena.base + ARENA_SIZE)
        return;
    free(p);
}

/* Set once by ingest_init before threads start, read-only afterwards. */
static bool arena_hooks;
static pthread_key_t arena_key; /* frees a thread's arena when it exits */

/* Gives this thread an arena (once) and rewinds it. */
static void arena_rewind(void)
{
    if (arena.base == NULL) {
        arena.base = malloc(ARENA_SIZE); /* NULL: cJSON simply uses malloc */
        if (arena.base != NULL && pthread_setspecific(arena_key, arena.base) != 0) {
            free(arena.base);
            arena.base = NULL;
        }
    }
    arena.used = 0;
}

void ingest_init(void)
{
    if (arena_hooks || pthread_key_create(&arena_key, free) != 0)
        return;
    cJSON_Hooks hooks = {arena_malloc, arena_free};
    cJSON_InitHooks(&hooks);
    arena_hooks = true;
}

/* A JSON number that is an integer in [1, INGEST_MAX_ID]. */
static bool json_id(const cJSON *item, uint64_t *out)
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

int ingest_route(const char *json, size_t len, struct ingest_route *r, const char **why)
{
    int rc = 0;
    memset(r, 0, sizeof(*r));
    *why = NULL;
    if (arena_hooks)
        arena_rewind();
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, false);
    if (root == NULL) {
        *why = "payload is not valid JSON";
        rc = HQ_EPARSE;
        goto out;
    }
    /* cJSON stops after the first value: anything but whitespace after it
     * makes the payload invalid, not a prefix to route on. */
    for (const char *p = end; p < json + len; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            *why = "payload is not valid JSON (trailing data)";
            rc = HQ_EPARSE;
            goto out;
        }
    }
    if (!cJSON_IsObject(root)) {
        *why = "payload is not a JSON object";
        rc = HQ_EPARSE;
        goto out;
    }

    const cJSON *action = cJSON_GetObjectItemCaseSensitive(root, "action");
    if (action != NULL && !cJSON_IsNull(action)) {
        if (!cJSON_IsString(action) || strlen(action->valuestring) > HQ_MAX_ACTION_LEN) {
            *why = "action is not a short string";
            rc = HQ_EPARSE;
            goto out;
        }
        memcpy(r->action, action->valuestring, strlen(action->valuestring) + 1);
    }

    const cJSON *inst = cJSON_GetObjectItemCaseSensitive(root, "installation");
    if (inst != NULL && !cJSON_IsNull(inst)) {
        if (!json_id(cJSON_GetObjectItemCaseSensitive(inst, "id"), &r->installation_id)) {
            *why = "installation.id is not a positive integer";
            rc = HQ_EPARSE;
            goto out;
        }
    }

    const cJSON *repo = cJSON_GetObjectItemCaseSensitive(root, "repository");
    if (repo == NULL || cJSON_IsNull(repo))
        goto out; /* has_repository stays false: the event is ignored */
    if (!cJSON_IsObject(repo)) {
        *why = "repository is not an object";
        rc = HQ_EPARSE;
        goto out;
    }
    if (!json_id(cJSON_GetObjectItemCaseSensitive(repo, "id"), &r->repo_id)) {
        *why = "repository.id is not a positive integer";
        rc = HQ_EPARSE;
        goto out;
    }
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(repo, "full_name");
    size_t namelen = cJSON_IsString(name) ? strlen(name->valuestring) : 0;
    if (namelen == 0 || namelen > HQ_MAX_REPO_NAME_LEN) {
        *why = "repository.full_name is missing or too long";
        rc = HQ_EPARSE;
        goto out;
    }
    memcpy(r->repo_name, name->valuestring, namelen + 1);
    r->has_repository = true;
out:
    cJSON_Delete(root);
    return rc;
}

void ingest_events_free(char **names)
{
    if (names == NULL)
        return;
    for (char **p = names; *p != NULL; p++)
        free(*p);
    free(names);
}

int ingest_events_parse(const char *list, char ***out, bool *all)
{
    int rc = 0;
    size_t n = 0;
    char **names = NULL;
    *out = NULL;
    *all = false;
    if (list == NULL)
        return HQ_ECONFIG;
    size_t cap = 1;
    for (const char *p = list; *p != '\0'; p++)
        cap += *p == ',';
    names = calloc(cap + 1, sizeof(*names));
    if (names == NULL)
        return -ENOMEM;
    const char *p = list;
    for (;;) {
        size_t len = strcspn(p, ",");
        const char *start = p;
        const char *end = p + len;
        while (start < end && isspace((unsigned char)*start))
            start++;
        while (end > start && isspace((unsigned char)end[-1]))
            end--;
        size_t wlen = (size_t)(end - start);
        if (wlen == 1 && *start == '*') {
            *all = true;
        } else if (wlen > 0) {
            char *name = strndup(start, wlen);
            if (name == NULL) {
                rc = -ENOMEM;
                goto out;
            }
            names[n++] = name;
            if (ingest_event_name(name) != 0) {
                rc = HQ_ECONFIG;
                goto out;
            }
        }
        if (p[len] == '\0')
            break;
        p += len + 1;
    }
    if (n == 0 && !*all) {
        rc = HQ_ECONFIG;
        goto out;
    }
    *out = names;
    names = NULL;
out:
    ingest_events_free(names);
    return rc;
}

bool ingest_events_match(char *const *names, bool all, const char *event)
{
    if (all)
        return true;
    for (char *const *p = names; p != NULL && *p != NULL; p++) {
        if (strcmp(*p, event) == 0)
            return true;
    }
    return false;
}
