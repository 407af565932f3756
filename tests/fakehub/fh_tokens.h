/*
 * fh_tokens: the installation access tokens fakehub has issued, and the
 * per-installation request budget (the primary rate limit).
 *
 * Tokens are "ghs_" plus random letters and digits (RAND_bytes), valid until
 * expires_at (wall clock, whole seconds, as GitHub writes it). With
 * revoke_older, issuing a token revokes every older token of its
 * installation. A token's age is measured on the monotonic clock.
 *
 * The budget of an installation is a fixed window: it opens with the first
 * charged request, allows `budget` requests, and resets window_ms later.
 *
 * Threads: all functions may be called from any thread; one mutex (lock in
 * struct fh_tokens) protects both tables. Nothing is called under it.
 */
#ifndef FH_TOKENS_H
#define FH_TOKENS_H

#include "hq_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fh_tokens fh_tokens;

#define FH_TOKENS_MAX        200000 /* issued tokens kept; more is HQ_EFULL */
#define FH_INSTALLATIONS_MAX 100000 /* installations with tokens or a budget */

struct fh_tokens_cfg {
    int64_t ttl_ms;
    size_t length; /* whole token, "ghs_" included */
    bool revoke_older;
    uint64_t budget; /* 0: no budget */
    int64_t window_ms;
};

enum fh_token_state {
    FH_TOKEN_VALID = 0,
    FH_TOKEN_UNKNOWN,
    FH_TOKEN_REVOKED,
    FH_TOKEN_EXPIRED,
};

struct fh_budget {
    uint64_t limit, remaining, used;
    int64_t reset_s; /* epoch seconds of the window's end */
    bool exhausted;  /* this request was refused */
};

HQ_WUR int fh_tokens_create(const struct fh_tokens_cfg *cfg, fh_tokens **out);
void fh_tokens_destroy(fh_tokens *t);

/*
 * Issues a token for installation inst: *token is malloc'd (the caller
 * frees it), *expires_ms its expiry. -ENOMEM, -EIO (no randomness) or
 * HQ_EFULL (FH_TOKENS_MAX or FH_INSTALLATIONS_MAX reached).
 */
HQ_WUR int fh_tokens_issue(fh_tokens *t, uint64_t inst, char **token, int64_t *expires_ms);

/* Looks a token up (len bytes). For a known token, *inst and *age_ms are set
 * whatever its state. */
enum fh_token_state fh_tokens_check(fh_tokens *t, const char *token, size_t len, uint64_t *inst,
                                    int64_t *age_ms);

/*
 * The budget of installation inst. With consume, the request is charged
 * (refused when nothing remains: out->exhausted). Returns false when no
 * budget is configured (out untouched) or the installation table is full.
 */
bool fh_tokens_budget(fh_tokens *t, uint64_t inst, bool consume, struct fh_budget *out);

#endif
