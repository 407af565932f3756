/*
 * retry: classification of GitHub answers and full-jitter backoff; see
 * retry.h for the table this implements.
 */
#include "retry.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#define MESSAGE_MAX 300 /* GitHub's message quoted in a reason */

/* Parses a whole decimal header value (surrounding blanks allowed) into
 * [0, max]; 0 or HQ_EPARSE. */
static int parse_decimal(const char *v, int64_t max, int64_t *out)
{
    if (v == NULL)
        return HQ_EPARSE;
    while (*v == ' ' || *v == '\t')
        v++;
    int64_t n = 0;
    const char *p = v;
    for (; *p >= '0' && *p <= '9'; p++) {
        n = n * 10 + (*p - '0');
        if (n > max)
            return HQ_EPARSE;
    }
    if (p == v)
        return HQ_EPARSE;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p != '\0')
        return HQ_EPARSE;
    *out = n;
    return 0;
}

static int month_of(const char *p)
{
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (int i = 0; i < 12; i++)
        if (strncmp(p, months[i], 3) == 0)
            return i;
    return -1;
}

/* Reads exactly n digits. */
static int read_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return HQ_EPARSE;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int expect(const char **p, const char *lit)
{
    size_t n = strlen(lit);
    if (strncmp(*p, lit, n) != 0)
        return HQ_EPARSE;
    *p += n;
    return 0;
}

/* "HH:MM:SS" */
static int read_time(const char **p, struct tm *tm)
{
    if (read_digits(p, 2, &tm->tm_hour) < 0 || expect(p, ":") < 0 ||
        read_digits(p, 2, &tm->tm_min) < 0 || expect(p, ":") < 0 ||
        read_digits(p, 2, &tm->tm_sec) < 0)
        return HQ_EPARSE;
    if (tm->tm_hour > 23 || tm->tm_min > 59 || tm->tm_sec > 60)
        return HQ_EPARSE;
    return 0;
}

static int read_month(const char **p, struct tm *tm)
{
    if (strlen(*p) < 3 || (tm->tm_mon = month_of(*p)) < 0)
        return HQ_EPARSE;
    *p += 3;
    return 0;
}

int hq_retry_parse_http_date(const char *v, int64_t *out_ms)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (v == NULL)
        return HQ_EPARSE;
    const char *p = v;
    while (*p == ' ')
        p++;
    const char *name = p;
    while (isalpha((unsigned char)*p))
        p++;
    if (p - name < 3)
        return HQ_EPARSE;
    if (*p == ',') {
        p++;
        if (expect(&p, " ") < 0 || read_digits(&p, 2, &tm.tm_mday) < 0)
            return HQ_EPARSE;
        if (*p == ' ') { /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
            p++;
            int year;
            if (read_month(&p, &tm) < 0 || expect(&p, " ") < 0 || read_digits(&p, 4, &year) < 0)
                return HQ_EPARSE;
            tm.tm_year = year - 1900;
        } else { /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
            int yy;
            if (expect(&p, "-") < 0 || read_month(&p, &tm) < 0 || expect(&p, "-") < 0 ||
                read_digits(&p, 2, &yy) < 0)
                return HQ_EPARSE;
            tm.tm_year = yy < 70 ? yy + 100 : yy;
        }
        if (expect(&p, " ") < 0 || read_time(&p, &tm) < 0 || expect(&p, " GMT") < 0)
            return HQ_EPARSE;
    } else { /* asctime: Sun Nov  6 08:49:37 1994 */
        int year;
        if (expect(&p, " ") < 0 || read_month(&p, &tm) < 0 || expect(&p, " ") < 0)
            return HQ_EPARSE;
        if (*p == ' ') {
            p++;
            if (read_digits(&p, 1, &tm.tm_mday) < 0)
                return HQ_EPARSE;
        } else if (read_digits(&p, 2, &tm.tm_mday) < 0) {
            return HQ_EPARSE;
        }
        if (expect(&p, " ") < 0 || read_time(&p, &tm) < 0 || expect(&p, " ") < 0 ||
            read_digits(&p, 4, &year) < 0)
            return HQ_EPARSE;
        tm.tm_year = year - 1900;
    }
    while (*p == ' ')
        p++;
    if (*p != '\0' || tm.tm_mday < 1 || tm.tm_mday > 31)
        return HQ_EPARSE;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return HQ_EPARSE;
    *out_ms = (int64_t)t * 1000;
    return 0;
}

int hq_retry_parse_after(const char *v, int64_t now_ms, int64_t *delay_ms)
{
    int64_t n;
    if (parse_decimal(v, 100 * 365 * 86400LL, &n) == 0) {
        *delay_ms = n * 1000;
        return 0;
    }
    int64_t at;
    if (hq_retry_parse_http_date(v, &at) < 0)
        return HQ_EPARSE;
    *delay_ms = at > now_ms ? at - now_ms : 0;
    return 0;
}

int64_t hq_retry_secondary_delay_ms(unsigned hits)
{
    int64_t d = HQ_RETRY_SECONDARY_MIN_MS;
    for (unsigned i = 0; i < hits && d < HQ_RETRY_SECONDARY_MAX_MS; i++)
        d *= 2;
    return d < HQ_RETRY_SECONDARY_MAX_MS ? d : HQ_RETRY_SECONDARY_MAX_MS;
}

void hq_retry_body_message(const char *body, size_t len, char *out, size_t cap)
{
    out[0] = '\0';
    if (body == NULL || len == 0 || cap == 0)
        return;
    const char *src = body;
    size_t n = len;
    cJSON *doc = cJSON_ParseWithLength(body, len);
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(doc, "message");
    if (cJSON_IsString(msg) && msg->valuestring != NULL) {
        src = msg->valuestring;
        n = strlen(src);
    }
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < cap; i++) {
        unsigned char c = (unsigned char)src[i];
        out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : (c == '\n' || c == '\t' ? ' ' : '?');
    }
    out[o] = '\0';
    cJSON_Delete(doc);
}

static bool mentions_rate_limit(const char *body, size_t len)
{
    char msg[MESSAGE_MAX];
    hq_retry_body_message(body, len, msg, sizeof(msg));
    return strcasestr(msg, "rate limit") != NULL || strcasestr(msg, "abuse") != NULL;
}

__attribute__((format(printf, 2, 3))) static void set_reason(struct hq_gh_result *res,
                                                             const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
    va_end(ap);
    if (n < 0)
        res->reason[0] = '\0'; /* a longer reason is cut, which is fine for a log line */
}

static int64_t clamp_wait(int64_t ms)
{
    return ms < 0 ? 0 : (ms > HQ_RETRY_WAIT_MAX_MS ? HQ_RETRY_WAIT_MAX_MS : ms);
}

enum hq_retry_kind hq_retry_classify(const struct hq_retry_answer *a, struct hq_gh_result *res)
{
    char msg[MESSAGE_MAX];
    int64_t remaining = -1, reset_s = 0, delay = 0;
    int st = a->http_status;

    memset(res, 0, sizeof(*res));
    res->http_status = st;
    res->ratelimit_remaining = -1;
    if (parse_decimal(a->ratelimit_remaining, 1L << 30, &remaining) == 0)
        res->ratelimit_remaining = (long)remaining;

    if (st == 0 || a->transport_error != 0) {
        res->outcome = HQ_GH_RETRY;
        set_reason(res, "no answer from GitHub: %s",
                   hq_strerror(a->transport_error != 0 ? a->transport_error : HQ_EHTTP));
        return HQ_RK_RETRY;
    }
    hq_retry_body_message(a->body, a->body_len, msg, sizeof(msg));
    if (st >= 200 && st < 300) {
        if (a->malformed) {
            res->outcome = HQ_GH_RETRY;
            set_reason(res, "HTTP %d with a malformed body", st);
            return HQ_RK_RETRY;
        }
        res->outcome = HQ_GH_OK;
        return HQ_RK_OK;
    }
    if (st == 401) {
        res->outcome = HQ_GH_RETRY;
        set_reason(res, "HTTP 401: %s", msg[0] ? msg : "credential refused");
        return HQ_RK_TOKEN;
    }
    if (st == 403 || st == 429) {
        if (a->retry_after != NULL &&
            hq_retry_parse_after(a->retry_after, a->now_ms, &delay) == 0) {
            delay = clamp_wait(delay < 1000 ? 1000 : delay);
            res->outcome = HQ_GH_WAIT;
            res->retry_at_ms = a->now_ms + delay;
            set_reason(res, "HTTP %d: rate limited, retry-after %lld ms", st, (long long)delay);
            return HQ_RK_RATE_LIMIT;
        }
        if (remaining == 0 && parse_decimal(a->ratelimit_reset, 1LL << 40, &reset_s) == 0) {
            delay = clamp_wait(reset_s * 1000 + HQ_RETRY_RESET_SLACK_MS - a->now_ms);
            res->outcome = HQ_GH_WAIT;
            res->retry_at_ms = a->now_ms + delay;
            set_reason(res, "HTTP %d: primary rate limit exhausted, resets in %lld ms", st,
                       (long long)delay);
            return HQ_RK_RATE_LIMIT;
        }
        if (st == 429 || remaining == 0 || mentions_rate_limit(a->body, a->body_len)) {
            delay = hq_retry_secondary_delay_ms(a->secondary_hits);
            res->outcome = HQ_GH_WAIT;
            res->retry_at_ms = a->now_ms + delay;
            set_reason(res, "HTTP %d: secondary rate limit (%u before), waiting %lld ms", st,
                       a->secondary_hits, (long long)delay);
            return HQ_RK_SECONDARY;
        }
    }
    if (st >= 500 || st == 408) {
        res->outcome = HQ_GH_RETRY;
        set_reason(res, "HTTP %d: %s", st, msg[0] ? msg : "server error");
        return HQ_RK_RETRY;
    }
    res->outcome = HQ_GH_PERMANENT;
    set_reason(res, "HTTP %d: %s", st, msg[0] ? msg : "refused");
    return HQ_RK_PERMANENT;
}

uint64_t hq_rng_thread(void *arg)
{
    static _Thread_local uint64_t state;
    (void)arg;
    if (state == 0) {
        if (getrandom(&state, sizeof(state), 0) != (ssize_t)sizeof(state) || state == 0) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            state = ((uint64_t)ts.tv_sec * 1000000007u) ^ (uint64_t)ts.tv_nsec ^
                    (uint64_t)(uintptr_t)&state;
            if (state == 0)
                state = 0x9e3779b97f4a7c15u;
        }
    }
    /* xorshift64* (Vigna): fine for jitter, not for secrets */
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 0x2545f4914f6cdd1dULL;
}

int64_t hq_backoff_ms(unsigned attempt, int64_t base_ms, int64_t max_ms, const struct hq_rng *rng)
{
    if (base_ms <= 0 || max_ms <= 0)
        return 0;
    int64_t ceil = base_ms < max_ms ? base_ms : max_ms;
    for (unsigned i = 0; i < attempt && ceil < max_ms; i++)
        ceil = ceil > max_ms / 2 ? max_ms : ceil * 2;
    uint64_t r = rng != NULL ? rng->next(rng->arg) : hq_rng_thread(NULL);
    /* modulo bias is below 2^-20 for any ceiling under 2^44 ms */
    return (int64_t)(r % ((uint64_t)ceil + 1));
}
