/*
 * fh_jwt: verification of GitHub App JWTs, as GitHub does it: RS256 over
 * "header.payload" with the app's public key, alg RS256, iss naming the app
 * (string or number), iat and exp present with exp - iat <= 10 minutes, and
 * now within [iat - 60 s, exp].
 *
 * Threads: a verifier is read-only after fh_jwt_open; any number of threads
 * may call fh_jwt_verify at once (each uses its own EVP_MD_CTX).
 */
#ifndef FH_JWT_H
#define FH_JWT_H

#include "hq_error.h"

#include <stddef.h>
#include <stdint.h>

typedef struct fh_jwt fh_jwt;

#define FH_JWT_MAX_LEN 16384 /* longer bearer strings are not decoded */

/*
 * Loads a PEM RSA public key ("PUBLIC KEY" or "RSA PUBLIC KEY") for app_id.
 * -errno when the file cannot be read, HQ_EPARSE when it holds no RSA public
 * key. Nothing is left allocated on failure.
 */
HQ_WUR int fh_jwt_open(const char *pem_path, uint64_t app_id, fh_jwt **out);
void fh_jwt_close(fh_jwt *v);

/*
 * Verifies jwt (not NUL-terminated: len bytes) at now_ms. 0 when valid;
 * otherwise HQ_EPARSE (not a JWT), HQ_ESIGNATURE (bad signature or claims)
 * or -ENOMEM, and *why holds GitHub's message for the 401 (static text).
 */
HQ_WUR int fh_jwt_verify(const fh_jwt *v, const char *jwt, size_t len, int64_t now_ms,
                         const char **why);

#endif
