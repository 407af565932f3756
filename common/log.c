/*
 * log: line formatting, JSON escaping and secret masking; see log.h.
 *
 * A line is formatted into a bounded stack buffer (HQ_LOG_LINE_MAX), masked,
 * then written with one write(2) so that lines of concurrent threads do not
 * interleave.
 */
#include "log.h"
#include "hq_error.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HQ_LOG_LINE_MAX    4096
#define HQ_LOG_SECRETS_MAX 64

static struct {
    const char *program;
    bool json;
    enum hq_log_level level;
    /* secrets_lock protects secrets[] and nsecrets. */
    pthread_mutex_t secrets_lock;
    char *secrets[HQ_LOG_SECRETS_MAX];
    int nsecrets;
} g_log = {"hookq", true, HQ_LOG_INFO, PTHREAD_MUTEX_INITIALIZER, {0}, 0};

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void hq_log_setup(const char *program, bool json, enum hq_log_level level)
{
    g_log.program = program;
    g_log.json = json;
    g_log.level = level;
}

int hq_log_parse_level(const char *s, enum hq_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum hq_log_level)i;
            return 0;
        }
    }
    if (strcmp(s, "warning") == 0) {
        *out = HQ_LOG_WARN;
        return 0;
    }
    return HQ_ECONFIG;
}

bool hq_log_enabled(enum hq_log_level level)
{
    return level >= g_log.level;
}

void hq_log_secret(const char *secret)
{
    if (secret == NULL || strlen(secret) < 4)
        return;
    pthread_mutex_lock(&g_log.secrets_lock);
    if (g_log.nsecrets < HQ_LOG_SECRETS_MAX) {
        char *copy = strdup(secret);
        if (copy != NULL)
            g_log.secrets[g_log.nsecrets++] = copy;
    }
    pthread_mutex_unlock(&g_log.secrets_lock);
}

/* Replaces buf[start, start+len) by "***". len must be >= 3. */
static void mask_span(char *buf, size_t start, size_t len)
{
    memcpy(buf + start, "***", 3);
    memmove(buf + start + 3, buf + start + len, strlen(buf + start + len) + 1);
}

static bool is_token_char(int c)
{
    return isalnum(c) || c == '_' || c == '-' || c == '.' || c == '+' || c == '/' || c == '=';
}

static const char *const token_prefixes[] = {"ghs_",    "ghp_",        "gho_", "ghu_",
                                             "ghr_",    "github_pat_", "eyJ",  "Bearer ",
                                             "bearer ", "token ",      NULL};

static void mask_patterns(char *buf)
{
    for (const char *const *p = token_prefixes; *p != NULL; p++) {
        size_t plen = strlen(*p);
        char *hit = buf;
        while ((hit = strstr(hit, *p)) != NULL) {
            size_t keep = (*p)[plen - 1] == ' ' ? plen : 0; /* keep "Bearer " itself */
            char *s = hit + keep;
            size_t n = 0;
            while (s[n] != '\0' && is_token_char((unsigned char)s[n]))
                n++;
            if (n >= 8) {
                mask_span(buf, (size_t)(s - buf), n);
                hit = s + 3;
            } else {
                hit += plen;
            }
        }
    }
    char *pem;
    while ((pem = strstr(buf, "-----BEGIN")) != NULL) {
        char *end = strstr(pem + 10, "-----END");
        char *stop = end ? strstr(end + 8, "-----") : NULL;
        size_t len = stop ? (size_t)(stop + 5 - pem) : strlen(pem);
        if (len < 3)
            break;
        mask_span(buf, (size_t)(pem - buf), len);
    }
}

void hq_log_mask(char *buf)
{
    pthread_mutex_lock(&g_log.secrets_lock);
    for (int i = 0; i < g_log.nsecrets; i++) {
        const char *s = g_log.secrets[i];
        size_t len = strlen(s);
        char *hit;
        while ((hit = strstr(buf, s)) != NULL)
            mask_span(buf, (size_t)(hit - buf), len);
    }
    pthread_mutex_unlock(&g_log.secrets_lock);
    mask_patterns(buf);
}

/* Appends s to out as the inside of a JSON string; stops at the cap. */
static size_t json_escape(char *out, size_t cap, size_t pos, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    for (; *s != '\0' && pos + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[pos++] = '\\';
            out[pos++] = (char)c;
        } else if (c == '\n') {
            out[pos++] = '\\';
            out[pos++] = 'n';
        } else if (c < 0x20) {
            memcpy(out + pos, "\\u00", 4);
            out[pos + 4] = hex[c >> 4];
            out[pos + 5] = hex[c & 15];
            pos += 6;
        } else {
            out[pos++] = (char)c;
        }
    }
    out[pos] = '\0';
    return pos;
}

static size_t append(char *out, size_t cap, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static size_t append(char *out, size_t cap, size_t pos, const char *fmt, ...)
{
    if (pos >= cap)
        return pos;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + pos, cap - pos, fmt, ap);
    va_end(ap);
    if (n < 0)
        return pos;
    /* Truncated lines stay well-formed enough: the cap leaves room to close. */
    return (size_t)n >= cap - pos ? cap - 1 : pos + (size_t)n;
}

void hq_logf(enum hq_log_level level, const char *op, const struct hq_log_ctx *ctx, const char *fmt,
             ...)
{
    char msg[HQ_LOG_LINE_MAX / 2];
    char line[HQ_LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
        msg[0] = '\0';
    va_end(ap);
    hq_log_mask(msg);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    if (strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        when[0] = '\0';

    size_t cap = sizeof(line) - 2; /* room for "}\n" */
    size_t pos = 0;
    if (g_log.json) {
        pos = append(line, cap, pos, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"program\":\"%s\"",
                     when, ts.tv_nsec / 1000000, level_names[level], g_log.program);
        if (op != NULL)
            pos = append(line, cap, pos, ",\"op\":\"%s\"", op);
        if (ctx != NULL) {
            const char *names[] = {"delivery", "repo", "event"};
            const char *vals[] = {ctx->delivery, ctx->repo, ctx->event};
            for (int i = 0; i < 3; i++) {
                if (vals[i] == NULL)
                    continue;
                pos = append(line, cap, pos, ",\"%s\":\"", names[i]);
                pos = json_escape(line, cap, pos, vals[i]);
                pos = append(line, cap, pos, "\"");
            }
            if (ctx->attempt >= 0)
                pos = append(line, cap, pos, ",\"attempt\":%d", ctx->attempt);
            if (ctx->duration_ms >= 0)
                pos = append(line, cap, pos, ",\"duration_ms\":%lld", ctx->duration_ms);
            if (ctx->ratelimit_remaining >= 0)
                pos = append(line, cap, pos, ",\"ratelimit_remaining\":%lld",
                             ctx->ratelimit_remaining);
        }
        pos = append(line, cap, pos, ",\"msg\":\"");
        pos = json_escape(line, cap, pos, msg);
        pos = append(line, cap, pos, "\"");
        line[pos++] = '}';
    } else {
        pos = append(line, cap, pos, "%s.%03ldZ %s %s", when, ts.tv_nsec / 1000000,
                     level_names[level], g_log.program);
        if (op != NULL)
            pos = append(line, cap, pos, " op=%s", op);
        if (ctx != NULL) {
            if (ctx->delivery)
                pos = append(line, cap, pos, " delivery=%s", ctx->delivery);
            if (ctx->repo)
                pos = append(line, cap, pos, " repo=%s", ctx->repo);
            if (ctx->event)
                pos = append(line, cap, pos, " event=%s", ctx->event);
            if (ctx->attempt >= 0)
                pos = append(line, cap, pos, " attempt=%d", ctx->attempt);
            if (ctx->duration_ms >= 0)
                pos = append(line, cap, pos, " duration_ms=%lld", ctx->duration_ms);
            if (ctx->ratelimit_remaining >= 0)
                pos = append(line, cap, pos, " ratelimit_remaining=%lld", ctx->ratelimit_remaining);
        }
        pos = append(line, cap, pos, ": %s", msg);
    }
    line[pos++] = '\n';
    line[pos] = '\0';
    /* The context fields are masked too: a repo name cannot hold a secret,
     * but a malformed delivery header could. */
    hq_log_mask(line);
    ssize_t w = write(STDERR_FILENO, line, strlen(line));
    (void)w;
}
