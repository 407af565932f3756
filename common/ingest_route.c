/*
 * ingest_route: the routing key of a webhook payload (ingest.h), read in one
 * pass over the bytes without building a tree.
 *
 * The payload is validated whole as strict JSON (RFC 8259) while the scan
 * remembers the few members routing needs: the root's "action",
 * "installation" {"id"} and "repository" {"id", "full_name"}, each the first
 * of its name (as a lookup in a parsed tree finds it). Nothing is allocated:
 * strings routing keeps are decoded into the caller's struct, numbers into a
 * small buffer for strtod, and everything else is only checked.
 *
 * It replaced a cJSON parse that allocated every node of a payload with
 * hundreds of them (a fifth of the receiver's CPU). tests/fuzz/fuzz_routing.c
 * holds the cJSON version as its reference: whatever this scanner accepts,
 * cJSON accepts with the same result. This scanner is the stricter of the
 * two: it refuses what RFC 8259 refuses and cJSON lets through (a leading
 * '+' or '.', leading zeros, raw control characters in strings, whitespace
 * other than space, tab, CR and LF, and \u0000 in a string routing keeps).
 */
#include "ingest.h"

#include <stdlib.h>
#include <string.h>

/* Deeper nesting is refused (cJSON's own limit is 1000). */
#define MAX_DEPTH 512
/* cJSON reads at most 63 characters of a number; longer ones it refuses. */
#define MAX_NUMBER_LEN 63

struct scan {
    const unsigned char *p, *end;
    int depth;
};

enum kind { K_NONE, K_NULL, K_STRING, K_NUMBER, K_OBJECT, K_OTHER };

/* What the scan keeps of one member value routing may need. */
struct slot {
    enum kind kind;
    bool bad;      /* a string longer than cap, or with \u0000 */
    bool nul;      /* a string with \u0000 */
    char *buf;     /* K_STRING: decoded here when the member is wanted */
    size_t cap;    /* bytes buf holds before its NUL */
    double number; /* K_NUMBER */
};

static void skip_ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool hex4(struct scan *s, unsigned *out)
{
    if (s->end - s->p < 4)
        return false;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(s->p[i]);
        if (h < 0)
            return false;
        v = v << 4 | (unsigned)h;
    }
    s->p += 4;
    *out = v;
    return true;
}

/* Appends code point cp as UTF-8 to out (when not NULL and it fits). */
static void put_utf8(struct slot *out, size_t *n, unsigned cp)
{
    unsigned char b[4];
    size_t k;
    if (cp < 0x80) {
        b[0] = (unsigned char)cp, k = 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char)(0xC0 | cp >> 6), b[1] = (unsigned char)(0x80 | (cp & 0x3F)), k = 2;
    } else if (cp < 0x10000) {
        b[0] = (unsigned char)(0xE0 | cp >> 12), b[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp & 0x3F)), k = 3;
    } else {
        b[0] = (unsigned char)(0xF0 | cp >> 18), b[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F)), b[3] = (unsigned char)(0x80 | (cp & 0x3F));
        k = 4;
    }
    if (out == NULL)
        return;
    if (*n + k > out->cap) {
        out->bad = true;
        return;
    }
    memcpy(out->buf + *n, b, k);
    *n += k;
}

/* Bytes a string holds as they are: not a quote, backslash or control. */
#define F16 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
#define T16 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
static const unsigned char plain[256] = {
    F16, F16,                                                           /* 0x00..0x1f */
    1,   1,   0,   1,   1,   1,   1,   1,   1,   1,   1, 1, 1, 1, 1, 1, /* 0x20..0x2f: '"' */
    T16, T16,                                                           /* 0x30..0x4f */
    1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1, 1, 0, 1, 1, 1, /* 0x50..0x5f: '\\' */
    T16, T16, T16, T16, T16, T16, T16, T16, T16, T16,                   /* 0x60..0xff */
};

/*
 * A string, s->p on its opening quote. Decoded into out->buf (NUL-terminated,
 * out->bad when it does not fit or holds U+0000) when out is not NULL.
 */
static bool scan_string(struct scan *s, struct slot *out)
{
    size_t n = 0;
    s->p++; /* the quote */
    for (;;) {
        /* The plain run up to the next quote, backslash or control byte. */
        const unsigned char *run = s->p;
        while (s->end - s->p >= 4 && plain[s->p[0]] && plain[s->p[1]] && plain[s->p[2]] &&
               plain[s->p[3]])
            s->p += 4;
        while (s->p < s->end && plain[*s->p])
            s->p++;
        if (out != NULL && s->p > run) {
            size_t k = (size_t)(s->p - run);
            if (k > out->cap - n) {
                k = out->cap - n;
                out->bad = true;
            }
            memcpy(out->buf + n, run, k);
            n += k;
        }
        if (s->p >= s->end)
            return false;
        unsigned char c = *s->p++;
        if (c == '"')
            break;
        if (c != '\\')
            return false; /* a raw control character */
        if (s->p >= s->end)
            return false;
        unsigned cp;
        switch (*s->p++) {
        case '"': cp = '"'; break;
        case '\\': cp = '\\'; break;
        case '/': cp = '/'; break;
        case 'b': cp = '\b'; break;
        case 'f': cp = '\f'; break;
        case 'n': cp = '\n'; break;
        case 'r': cp = '\r'; break;
        case 't': cp = '\t'; break;
        case 'u':
            if (!hex4(s, &cp) || (cp >= 0xDC00 && cp <= 0xDFFF))
                return false;
            if (cp >= 0xD800 && cp <= 0xDBFF) { /* a high surrogate: its low one must follow */
                unsigned lo;
                if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
                    return false;
                s->p += 2;
                if (!hex4(s, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                    return false;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            break;
        default: return false;
        }
        if (cp == 0 && out != NULL)
            out->bad = out->nul = true;
        put_utf8(out, &n, cp);
    }
    if (out != NULL) {
        out->kind = K_STRING;
        out->buf[n < out->cap ? n : out->cap] = '\0';
    }
    return true;
}

/* A number by RFC 8259's grammar; its value in out->number when out is set. */
static bool scan_number(struct scan *s, struct slot *out)
{
    const unsigned char *start = s->p;
    if (s->p < s->end && *s->p == '-')
        s->p++;
    if (s->p >= s->end)
        return false;
    if (*s->p == '0') {
        s->p++;
    } else if (*s->p >= '1' && *s->p <= '9') {
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
            s->p++;
    } else {
        return false;
    }
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (s->p >= s->end || *s->p < '0' || *s->p > '9')
            return false;
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
            s->p++;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (s->p >= s->end || *s->p < '0' || *s->p > '9')
            return false;
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
            s->p++;
    }
    size_t len = (size_t)(s->p - start);
    if (len > MAX_NUMBER_LEN)
        return false;
    if (out != NULL) {
        char buf[MAX_NUMBER_LEN + 1];
        memcpy(buf, start, len);
        buf[len] = '\0';
        out->kind = K_NUMBER;
        out->number = strtod(buf, NULL);
    }
    return true;
}

static bool scan_literal(struct scan *s, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return false;
    s->p += n;
    return true;
}

/*
 * One member an object scan looks for: its name, and where its value goes
 * (a slot, or a nested object scan for "installation" and "repository").
 */
struct want {
    const char *name;
    struct slot *slot;
    struct want *members; /* K_OBJECT members to look for, NULL-name terminated */
    bool seen;
};

static bool scan_value(struct scan *s, struct slot *out, struct want *members);

/*
 * An object, s->p on its '{'. Members named in want (first of each name) get
 * their values kept; everything else is only validated.
 */
static bool scan_object(struct scan *s, struct want *want)
{
    if (++s->depth > MAX_DEPTH)
        return false;
    s->p++;
    skip_ws(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        s->depth--;
        return true;
    }
    for (;;) {
        skip_ws(s);
        if (s->p >= s->end || *s->p != '"')
            return false;
        /* Names routing knows are short: a longer one is scanned, not kept. */
        char name[16];
        struct slot key = {.buf = name, .cap = sizeof(name) - 1};
        /* A name with U+0000 would match a shorter one in a tree of C
         * strings: refused rather than judged either way. */
        if (!scan_string(s, want != NULL ? &key : NULL) || key.nul)
            return false;
        struct want *w = NULL;
        for (struct want *c = want; !key.bad && c != NULL && c->name != NULL; c++) {
            if (!c->seen && strcmp(c->name, name) == 0) {
                w = c;
                break;
            }
        }
        skip_ws(s);
        if (s->p >= s->end || *s->p++ != ':')
            return false;
        skip_ws(s);
        if (w != NULL)
            w->seen = true;
        if (!scan_value(s, w != NULL ? w->slot : NULL, w != NULL ? w->members : NULL))
            return false;
        skip_ws(s);
        if (s->p >= s->end)
            return false;
        if (*s->p == '}') {
            s->p++;
            s->depth--;
            return true;
        }
        if (*s->p++ != ',')
            return false;
    }
}

static bool scan_array(struct scan *s)
{
    if (++s->depth > MAX_DEPTH)
        return false;
    s->p++;
    skip_ws(s);
    if (s->p < s->end && *s->p == ']') {
        s->p++;
        s->depth--;
        return true;
    }
    for (;;) {
        skip_ws(s);
        if (!scan_value(s, NULL, NULL))
            return false;
        skip_ws(s);
        if (s->p >= s->end)
            return false;
        if (*s->p == ']') {
            s->p++;
            s->depth--;
            return true;
        }
        if (*s->p++ != ',')
            return false;
    }
}

/* Any value; out (may be NULL) learns its kind, and its content for a
 * string or number; an object's wanted members go to members. */
static bool scan_value(struct scan *s, struct slot *out, struct want *members)
{
    if (s->p >= s->end)
        return false;
    struct slot ignore = {0};
    if (out == NULL)
        out = &ignore;
    switch (*s->p) {
    case '"':
        if (out->buf == NULL) {
            out->kind = K_STRING;
            return scan_string(s, NULL);
        }
        return scan_string(s, out);
    case '{': out->kind = K_OBJECT; return scan_object(s, members);
    case '[': out->kind = K_OTHER; return scan_array(s);
    case 't': out->kind = K_OTHER; return scan_literal(s, "true");
    case 'f': out->kind = K_OTHER; return scan_literal(s, "false");
    case 'n': out->kind = K_NULL; return scan_literal(s, "null");
    default:
        if (out == &ignore)
            return scan_number(s, NULL);
        if (!scan_number(s, out))
            return false;
        return true;
    }
}

/* A JSON number that is an integer in [1, INGEST_MAX_ID]. */
static bool json_id(const struct slot *v, uint64_t *out)
{
    if (v->kind != K_NUMBER)
        return false;
    double d = v->number;
    if (!(d >= 1.0 && d <= (double)INGEST_MAX_ID))
        return false;
    uint64_t u = (uint64_t)d;
    if ((double)u != d)
        return false;
    *out = u;
    return true;
}

int ingest_route(const char *json, size_t len, struct ingest_route *r, const char **why)
{
    memset(r, 0, sizeof(*r));
    *why = NULL;
    struct slot action = {.buf = r->action, .cap = HQ_MAX_ACTION_LEN};
    struct slot inst = {0}, inst_id = {0}, repo = {0}, repo_id = {0};
    struct slot name = {.buf = r->repo_name, .cap = HQ_MAX_REPO_NAME_LEN};
    struct want inst_members[] = {{.name = "id", .slot = &inst_id}, {0}};
    struct want repo_members[] = {
        {.name = "id", .slot = &repo_id}, {.name = "full_name", .slot = &name}, {0}};
    struct want root[] = {{.name = "action", .slot = &action},
                          {.name = "installation", .slot = &inst, .members = inst_members},
                          {.name = "repository", .slot = &repo, .members = repo_members},
                          {0}};

    struct scan s = {(const unsigned char *)json, (const unsigned char *)json + len, 0};
    /* A UTF-8 byte order mark is skipped, as cJSON skips it. */
    if (len >= 3 && memcmp(json, "\xEF\xBB\xBF", 3) == 0)
        s.p += 3;
    skip_ws(&s);
    if (s.p >= s.end) {
        *why = "payload is not valid JSON";
        return HQ_EPARSE;
    }
    bool object = *s.p == '{';
    if (!(object ? scan_object(&s, root) : scan_value(&s, NULL, NULL))) {
        *why = "payload is not valid JSON";
        goto fail;
    }
    skip_ws(&s);
    if (s.p != s.end) {
        *why = "payload is not valid JSON (trailing data)";
        goto fail;
    }
    if (!object) {
        *why = "payload is not a JSON object";
        goto fail;
    }

    if (action.kind != K_NONE && action.kind != K_NULL && (action.kind != K_STRING || action.bad)) {
        *why = "action is not a short string";
        goto fail;
    }
    if (action.kind != K_STRING)
        r->action[0] = '\0';
    if (inst.kind != K_NONE && inst.kind != K_NULL) {
        if (inst.kind != K_OBJECT || !json_id(&inst_id, &r->installation_id)) {
            *why = "installation.id is not a positive integer";
            goto fail;
        }
    }
    if (repo.kind == K_NONE || repo.kind == K_NULL) {
        r->repo_name[0] = '\0';
        return 0; /* has_repository stays false: the event is ignored */
    }
    if (repo.kind != K_OBJECT) {
        *why = "repository is not an object";
        goto fail;
    }
    if (!json_id(&repo_id, &r->repo_id)) {
        *why = "repository.id is not a positive integer";
        goto fail;
    }
    if (name.kind != K_STRING || name.bad || r->repo_name[0] == '\0') {
        *why = "repository.full_name is missing or too long";
        goto fail;
    }
    r->has_repository = true;
    return 0;
fail:
    memset(r, 0, sizeof(*r));
    return HQ_EPARSE;
}
