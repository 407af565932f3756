/*
 * retry: what an answer from GitHub means for the caller (schema/design.md §4, "Retry
 * policy of a GitHub call"), and the backoff between failed attempts.
 *
 *   answer                                        kind              outcome
 *   2xx                                           HQ_RK_OK          HQ_GH_OK
 *   401                                           HQ_RK_TOKEN       HQ_GH_RETRY *
 *   403/429 with retry-after                      HQ_RK_RATE_LIMIT  HQ_GH_WAIT (that long)
 *   403/429 with x-ratelimit-remaining: 0         HQ_RK_RATE_LIMIT  HQ_GH_WAIT (until reset)
 *   429, or 403 whose body names a rate limit,
 *     without either header                       HQ_RK_SECONDARY   HQ_GH_WAIT (60 s * 2^hits)
 *   5xx, 408, timeout, connection error,
 *     malformed 2xx body                          HQ_RK_RETRY       HQ_GH_RETRY
 *   404, 422, other 4xx (403 included), 3xx      HQ_RK_PERMANENT   HQ_GH_PERMANENT
 *
 *   * the client drops the token and retries once with a fresh one first;
 *     only a second 401 reaches the caller as an attempt failure.
 *
 * HQ_GH_WAIT is not an attempt: the caller sets the event's not-before time
 * to retry_at_ms and leaves its attempt count alone. HQ_GH_RETRY is an
 * attempt failure: the caller backs off with hq_backoff_ms(). Everything here
 * is a pure function of its arguments (time and randomness are passed in) and
 * thread-safe.
 */
#ifndef HQ_RETRY_H
#define HQ_RETRY_H

#include "hq_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum hq_gh_outcome {
    HQ_GH_OK = 0,    /* done */
    HQ_GH_RETRY,     /* attempt failure: back off with jitter, count the attempt */
    HQ_GH_WAIT,      /* rate limited: do not try before retry_at_ms; not an attempt */
    HQ_GH_PERMANENT, /* will never succeed as asked: dead-letter with reason */
};

#define HQ_GH_REASON_MAX 512

/* The classification of one GitHub call, as the worker sees it. */
struct hq_gh_result {
    enum hq_gh_outcome outcome;
    int http_status;               /* last HTTP status, 0 when there was no answer */
    int64_t retry_at_ms;           /* WAIT: wall-clock ms (hq_now_ms) to retry at; else 0 */
    long ratelimit_remaining;      /* x-ratelimit-remaining of the last answer, -1 unknown */
    char reason[HQ_GH_REASON_MAX]; /* one line for logs and dead letters; "" on OK */
};

enum hq_retry_kind {
    HQ_RK_OK,
    HQ_RK_TOKEN,      /* 401: the credential was refused */
    HQ_RK_RATE_LIMIT, /* primary limit or explicit retry-after */
    HQ_RK_SECONDARY,  /* secondary limit without a header saying how long */
    HQ_RK_RETRY,
    HQ_RK_PERMANENT,
};

/* One answer (or the lack of one). Header values are as received, or NULL. */
struct hq_retry_answer {
    int http_status;     /* 0 when the transport failed */
    int transport_error; /* 0, or HQ_ETIMEOUT / HQ_EHTTP / HQ_ETOOBIG (body over cap) */
    bool malformed;      /* a 2xx whose body is not what the route returns */
    const char *retry_after;
    const char *ratelimit_remaining;
    const char *ratelimit_reset; /* epoch seconds */
    const char *body;            /* may be NULL; need not be NUL-terminated */
    size_t body_len;
    unsigned secondary_hits; /* consecutive secondary limits of this installation before */
    int64_t now_ms;          /* wall clock of the answer */
};

#define HQ_RETRY_SECONDARY_MIN_MS (60 * 1000)
#define HQ_RETRY_SECONDARY_MAX_MS (30 * 60 * 1000)
#define HQ_RETRY_RESET_SLACK_MS   1000              /* x-ratelimit-reset has 1 s granularity */
#define HQ_RETRY_WAIT_MAX_MS      (2 * 3600 * 1000) /* a wait longer than this is clamped */

/*
 * Classifies an answer into res (every field written) and returns its kind.
 * res->reason says what happened, with GitHub's "message" for 4xx answers
 * (printable ASCII only, cut to fit).
 */
enum hq_retry_kind hq_retry_classify(const struct hq_retry_answer *a, struct hq_gh_result *res);

/*
 * What an error body says, for a reason: GitHub's "message" of
 * {"message":"Bad credentials","documentation_url":"…"}, or the start of a
 * body that has none (not JSON, an HTML error page), with bytes outside
 * printable ASCII replaced (newline and tab by ' ', others by '?'), cut to
 * cap - 1 bytes. out is always NUL-terminated when cap > 0; "" for no body.
 * body need not be NUL-terminated.
 */
void hq_retry_body_message(const char *body, size_t len, char *out, size_t cap);

/*
 * Parses a Retry-After value: delay-seconds ("120") or an HTTP-date
 * (IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", and the obsolete RFC 850 and
 * asctime forms), into a delay from now_ms, 0 for a date in the past.
 * Returns 0, or HQ_EPARSE for anything else (garbage, negative, too large).
 */
HQ_WUR int hq_retry_parse_after(const char *v, int64_t now_ms, int64_t *delay_ms);

/* Parses an HTTP-date into ms since the epoch; 0 or HQ_EPARSE. */
HQ_WUR int hq_retry_parse_http_date(const char *v, int64_t *out_ms);

/* The wait after the (hits+1)-th consecutive secondary limit: 60 s doubling
 * per earlier hit, at most HQ_RETRY_SECONDARY_MAX_MS. */
int64_t hq_retry_secondary_delay_ms(unsigned hits);

/* A source of uniform 64-bit random numbers. */
struct hq_rng {
    uint64_t (*next)(void *arg);
    void *arg;
};

/* The production source: a per-thread xorshift64* seeded from getrandom(). */
uint64_t hq_rng_thread(void *arg);

/*
 * Full-jitter backoff: uniform in [0, min(max_ms, base_ms * 2^attempt)]
 * (AWS "Exponential Backoff and Jitter"). rng NULL uses hq_rng_thread. No
 * overflow for any attempt; base_ms <= 0 or max_ms <= 0 give 0.
 */
int64_t hq_backoff_ms(unsigned attempt, int64_t base_ms, int64_t max_ms, const struct hq_rng *rng);

#endif
