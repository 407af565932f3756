/*
 * jwt: the GitHub App's JSON Web Token (schema/design.md §4, "GitHub authentication").
 *
 * The worker proves it is the App by a JWT signed RS256 with the App's
 * private key: header {"alg":"RS256","typ":"JWT"}, claims iat = now - 60 s
 * (GitHub's clock may lag ours), exp = now + 540 s (GitHub refuses more than
 * 10 minutes), iss = the App id as a string. The JWT is only ever sent to the
 * App endpoints (installation tokens, installation lookup).
 *
 * A handle owns the parsed key and one cached JWT, reused until 3 minutes
 * before its exp so that a busy worker signs a few times an hour, not once
 * per token request. All functions but create/destroy are thread-safe.
 * Nothing here logs; the key and JWTs never leave this module except as the
 * returned strings, which the caller must not log.
 */
#ifndef HQ_JWT_H
#define HQ_JWT_H

#include "hq_error.h"

#include <stddef.h>
#include <stdint.h>

typedef struct hq_jwt hq_jwt;

#define HQ_JWT_IAT_SKEW_S 60  /* iat is backdated this much */
#define HQ_JWT_LIFETIME_S 540 /* exp - now; GitHub's cap is 600 */
#define HQ_JWT_KEY_MAX    (64 * 1024)

/*
 * Loads the PEM private key at key_path (PKCS#1 "RSA PRIVATE KEY" or PKCS#8
 * "PRIVATE KEY"; encrypted keys are refused, never prompted for) for the App
 * app_id (decimal digits). Returns 0 and *out, or:
 *   a negative errno (-ENOENT, -EACCES, ...) when the file cannot be read,
 *   HQ_ETOOBIG when it is over HQ_JWT_KEY_MAX,
 *   HQ_EPARSE when it is not a PEM private key or the key is not RSA,
 *   HQ_ECONFIG when app_id is not a positive decimal number,
 *   -ENOMEM.
 * On failure why (may be NULL) receives one human line saying which of these
 * it was, without key material. Nothing is left allocated on failure.
 */
HQ_WUR int hq_jwt_create(const char *key_path, const char *app_id, hq_jwt **out, char *why,
                         size_t whycap);

/* Frees the key (its memory is cleansed by OpenSSL) and the cached JWT. NULL is ok. */
void hq_jwt_destroy(hq_jwt *j);

/*
 * Signs a new JWT for the time now_ms into a malloc'd string *out (caller
 * frees). Returns 0, -ENOMEM, or HQ_ECORRUPT when OpenSSL fails to sign.
 */
HQ_WUR int hq_jwt_mint(hq_jwt *j, int64_t now_ms, char **out);

/*
 * Like hq_jwt_mint but returns a copy of the cached JWT while it has more
 * than 3 minutes left (mints and caches a new one otherwise). Serialised by
 * the handle's own lock, so concurrent callers sign at most once.
 */
HQ_WUR int hq_jwt_get(hq_jwt *j, int64_t now_ms, char **out);

#endif
