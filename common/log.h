/*
 * log: the one logging path of hookq.
 *
 * One line per decision on stderr (the journal), JSON by default or text.
 * Levels are checked before anything is formatted (HQ_LOG macro). Secrets are
 * masked here, at the boundary: every registered secret (webhook secrets,
 * tokens, keys) and anything shaped like a GitHub token, a JWT or a PEM block
 * is replaced by "***" before the line is written.
 *
 * The configuration is the one process-wide global; set it up once in main
 * before threads start. hq_logf and hq_log_secret are thread-safe.
 */
#ifndef HQ_LOG_H
#define HQ_LOG_H

#include <stdbool.h>

enum hq_log_level { HQ_LOG_DEBUG = 0, HQ_LOG_INFO, HQ_LOG_WARN, HQ_LOG_ERROR };

/* Context fields of a line; NULL strings and negative numbers are left out. */
struct hq_log_ctx {
    const char *delivery; /* correlation id */
    const char *repo;
    const char *event;
    int attempt;
    long long duration_ms;
    long long ratelimit_remaining;
};

#define HQ_LOG_CTX_INIT                                                                            \
    {                                                                                              \
        NULL, NULL, NULL, -1, -1, -1                                                               \
    }

void hq_log_setup(const char *program, bool json, enum hq_log_level level);

/* Parses "debug", "info", "warn", "error"; 0 or HQ_ECONFIG. */
int hq_log_parse_level(const char *s, enum hq_log_level *out);

bool hq_log_enabled(enum hq_log_level level);

/* Registers a secret to mask in every later line (copied; short ones, under
 * 4 bytes, are ignored so that masking cannot shred ordinary text). */
void hq_log_secret(const char *secret);

/* Masks secrets in buf (NUL-terminated, in place; the result is never longer). */
void hq_log_mask(char *buf);

void hq_logf(enum hq_log_level level, const char *op, const struct hq_log_ctx *ctx, const char *fmt,
             ...) __attribute__((format(printf, 4, 5)));

#define HQ_LOG(level, op, ctx, ...)                                                                \
    do {                                                                                           \
        if (hq_log_enabled(level))                                                                 \
            hq_logf(level, op, ctx, __VA_ARGS__);                                                  \
    } while (0)

#define hq_debug(op, ctx, ...) HQ_LOG(HQ_LOG_DEBUG, op, ctx, __VA_ARGS__)
#define hq_info(op, ctx, ...)  HQ_LOG(HQ_LOG_INFO, op, ctx, __VA_ARGS__)
#define hq_warn(op, ctx, ...)  HQ_LOG(HQ_LOG_WARN, op, ctx, __VA_ARGS__)
#define hq_error(op, ctx, ...) HQ_LOG(HQ_LOG_ERROR, op, ctx, __VA_ARGS__)

#endif
