/*
 * signature: GitHub's X-Hub-Signature-256 header, HMAC-SHA256 over the exact
 * raw request body, checked against every configured webhook secret.
 *
 * Several secrets may be active at once (rotation): a body passes when any of
 * them matches. The digest is compared with CRYPTO_memcmp, and every secret is
 * tried even after a match, so the time taken says nothing about which
 * secret matched or how many bytes agreed.
 *
 * Header syntax: exactly "sha256=" followed by 64 hex digits. The digits may
 * be upper or lower case (they are decoded, then the digests are compared as
 * bytes); anything else ("sha1=...", a short digest, spaces, a missing
 * header) is malformed. GitHub itself sends lower case.
 */
#ifndef HQ_SIGNATURE_H
#define HQ_SIGNATURE_H

#include "hq_error.h"

#include <stddef.h>
#include <stdint.h>

#define HQ_SIGNATURE_DIGEST_LEN 32
/* "sha256=" + 64 hex digits + NUL */
#define HQ_SIGNATURE_HEADER_LEN (7 + 2 * HQ_SIGNATURE_DIGEST_LEN + 1)
/* Secrets longer than this are refused (GitHub's form takes far less). */
#define HQ_SIGNATURE_SECRET_MAX 1024
#define HQ_SIGNATURE_MAX_KEYS   16

typedef struct hq_sigkeys hq_sigkeys;

/*
 * Decodes a header value into the 32-byte digest it carries.
 * 0, or HQ_ESIGNATURE when value is NULL or malformed (digest untouched).
 */
HQ_WUR int hq_signature_parse(const char *value, uint8_t digest[HQ_SIGNATURE_DIGEST_LEN]);

/*
 * Builds a key set from n secrets (each len bytes, copied). Empty secrets are
 * refused with HQ_ECONFIG, as are more than HQ_SIGNATURE_MAX_KEYS or one over
 * HQ_SIGNATURE_SECRET_MAX. -ENOMEM or HQ_ESTORAGE (OpenSSL setup failed).
 * On failure *out is NULL.
 */
HQ_WUR int hq_sigkeys_create(const char *const *secrets, const size_t *lens, size_t n,
                             hq_sigkeys **out);

/*
 * Builds a key set from the text of a secret file: one secret per line,
 * "\n" or "\r\n" line ends, empty lines skipped, nothing else trimmed (a
 * secret may contain spaces). HQ_ECONFIG when there is no secret at all.
 */
HQ_WUR int hq_sigkeys_from_text(const char *text, size_t len, hq_sigkeys **out);

void hq_sigkeys_destroy(hq_sigkeys *k);

size_t hq_sigkeys_count(const hq_sigkeys *k);

/* The i-th secret (NUL-terminated copy owned by k), for hq_log_secret(). */
const char *hq_sigkeys_secret(const hq_sigkeys *k, size_t i);

/*
 * Checks a parsed digest against HMAC-SHA256(secret, body) for every secret.
 * 0 when one matches, HQ_ESIGNATURE when none does, -ENOMEM or HQ_ESTORAGE
 * when OpenSSL fails. Thread-safe: k is only read.
 */
HQ_WUR int hq_signature_verify(const hq_sigkeys *k, const uint8_t digest[HQ_SIGNATURE_DIGEST_LEN],
                               const void *body, size_t len);

/* hq_signature_parse + hq_signature_verify; a malformed header is HQ_ESIGNATURE. */
HQ_WUR int hq_signature_check(const hq_sigkeys *k, const char *header, const void *body,
                              size_t len);

/*
 * Formats the header value for body under one secret ("sha256=<hex>") into
 * out (at least HQ_SIGNATURE_HEADER_LEN bytes). For tests and tools.
 * 0, HQ_ETOOBIG when cap is too small, HQ_ESTORAGE when OpenSSL fails.
 */
HQ_WUR int hq_signature_format(const void *secret, size_t secret_len, const void *body, size_t len,
                               char *out, size_t cap);

#endif
