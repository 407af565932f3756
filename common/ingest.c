/*
 * ingest: header checks, content types, form decoding and the event list
 * for the receiver and catch-up; see ingest.h. The routing key is read by
 * ingest_route.c.
 *
 * These functions see raw bytes from the network before anything is trusted
 * (the signature is checked over the body, but headers are read first), so
 * every length is bounded and every loop stops at the caller's len.
 */
#include "ingest.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
