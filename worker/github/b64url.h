/*
 * b64url: base64url without padding (RFC 4648 §5, RFC 7515 appendix C), the
 * encoding of the three parts of a JWT.
 *
 * Pure functions over caller buffers; no allocation, thread-safe.
 */
#ifndef HQ_B64URL_H
#define HQ_B64URL_H

#include "hq_error.h"

#include <stddef.h>
#include <stdint.h>

/* Characters needed to encode n bytes, not counting the terminating NUL. */
size_t hq_b64url_encoded_len(size_t n);

/*
 * Encodes n bytes of in into out as a NUL-terminated string without '='
 * padding. Returns 0, or HQ_ETOOBIG when cap is smaller than
 * hq_b64url_encoded_len(n) + 1 (out is then an empty string if cap > 0).
 * *outlen (may be NULL) receives the length written.
 */
HQ_WUR int hq_b64url_encode(const uint8_t *in, size_t n, char *out, size_t cap, size_t *outlen);

/*
 * Decodes n characters of base64url (padding '=' tolerated only at the end,
 * no whitespace) into out. Returns 0, HQ_EPARSE for a character outside the
 * alphabet, a length of 1 mod 4, or non-zero trailing bits, and HQ_ETOOBIG
 * when cap is too small. *outlen receives the number of bytes decoded.
 */
HQ_WUR int hq_b64url_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *outlen);

#endif
