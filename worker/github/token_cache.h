/*
 * token_cache: installation access tokens, cached and fetched single-flight
 * (schema/design.md §4, "GitHub authentication").
 *
 * A token is reused until margin_ms before its expires_at. When a token is
 * needed and none is usable, exactly one caller per installation runs the
 * fetch function; every other caller for that installation waits on the
 * installation's condition variable and shares the answer: the new token, or
 * the same failure (a waiter never starts a second request for an answer it
 * waited for). Callers for other installations neither wait for that fetch
 * nor for each other: the cache lock is held for lookups only, never while a
 * fetch runs.
 *
 * Tokens are malloc'd strings of any length (GitHub's are over 500 bytes);
 * every caller gets its own copy and frees it with hq_token_clear(), so a
 * token dropped by another thread stays valid for the request in progress.
 *
 * All functions but create/destroy are thread-safe; destroy only once no
 * call is in progress. The fetch function runs in the caller's thread with no
 * lock of this module held; it must be thread-safe for distinct installations.
 */
#ifndef HQ_TOKEN_CACHE_H
#define HQ_TOKEN_CACHE_H

#include "hq_error.h"
#include "retry.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct hq_token_cache hq_token_cache;

/*
 * Requests a new token for inst. Returns:
 *   0 with *token (malloc'd, ownership passes to the cache) and
 *     *expires_at_ms (wall clock) on success;
 *   0 with *token NULL and *fail filled when GitHub did not give one (a
 *     classification: RETRY, WAIT or PERMANENT);
 *   a negative code on a local failure (-ENOMEM).
 */
typedef int (*hq_token_fetch_fn)(void *arg, uint64_t inst, char **token, int64_t *expires_at_ms,
                                 struct hq_gh_result *fail);

struct hq_token {
    char *value;         /* malloc'd copy; NULL when none was obtained */
    int64_t obtained_ms; /* when the fetch that produced it finished (its age) */
    int64_t expires_at_ms;
    bool cached; /* no request was made by this caller (hit or shared answer) */
};

HQ_WUR int hq_token_cache_create(int64_t margin_ms, hq_token_fetch_fn fetch, void *arg,
                                 hq_token_cache **out);
/* Frees every cached token. */
void hq_token_cache_destroy(hq_token_cache *c);

/* A failed refresh still hands out the old token while it has this long left. */
#define HQ_TOKEN_MIN_LEFT_MS (30 * 1000)

/*
 * Returns 0 with tok->value set, 0 with tok->value NULL and *fail filled
 * when the fetch (this caller's or the one it waited for) failed, or a
 * negative code (-ENOMEM, or the fetch's own). Expiry is judged by hq_now_ms().
 * A waiter takes the outcome of the fetch it waited for even when a fresh
 * token's whole lifetime is shorter than the margin.
 */
HQ_WUR int hq_token_cache_get(hq_token_cache *c, uint64_t inst, struct hq_token *tok,
                              struct hq_gh_result *fail);

/*
 * Forgets the cached token of inst if it is still `token` (a 401 answered
 * it). A token fetched meanwhile by another thread is kept.
 */
void hq_token_cache_drop(hq_token_cache *c, uint64_t inst, const char *token);

/* Frees tok->value and resets tok. */
void hq_token_clear(struct hq_token *tok);

#endif
