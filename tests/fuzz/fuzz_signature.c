/*
 * fuzz_signature: X-Hub-Signature-256 parsing and verification
 * (common/signature.h). The input is split at its first NUL: the header
 * value before it, the body after it. Checks that parsing never reads past
 * the value, that a parsed digest formats back to the same header (up to hex
 * case), and that verification against a fixed key set never crashes.
 */
#include "signature.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static hq_sigkeys *keys;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (keys == NULL) {
        const char *secrets[] = {"It's a Secret to Everybody", "second"};
        size_t lens[] = {26, 6};
        if (hq_sigkeys_create(secrets, lens, 2, &keys) != 0)
            abort();
    }
    const uint8_t *nul = memchr(data, '\0', size);
    size_t hlen = nul ? (size_t)(nul - data) : size;
    /* An exact-size copy, so that ASan catches a read past the value. */
    char *header = malloc(hlen + 1);
    if (header == NULL)
        return 0;
    memcpy(header, data, hlen);
    header[hlen] = '\0';
    const uint8_t *body = nul ? nul + 1 : data + size;
    size_t blen = nul ? size - hlen - 1 : 0;

    uint8_t digest[HQ_SIGNATURE_DIGEST_LEN];
    if (hq_signature_parse(header, digest) == 0) {
        if (hlen != HQ_SIGNATURE_HEADER_LEN - 1)
            abort();
        for (size_t i = 7; i < hlen; i++)
            header[i] = (char)tolower((unsigned char)header[i]);
        /* Round trip: the digest in hex is the header's hex. */
        static const char digits[] = "0123456789abcdef";
        for (size_t i = 0; i < HQ_SIGNATURE_DIGEST_LEN; i++) {
            if (header[7 + 2 * i] != digits[digest[i] >> 4] ||
                header[8 + 2 * i] != digits[digest[i] & 15])
                abort();
        }
        int rc = hq_signature_verify(keys, digest, body, blen);
        if (rc != 0 && rc != HQ_ESIGNATURE)
            abort();
    }
    char good[HQ_SIGNATURE_HEADER_LEN];
    if (hq_signature_format("second", 6, body, blen, good, sizeof(good)) != 0 ||
        hq_signature_check(keys, good, body, blen) != 0)
        abort();
    free(header);
    return 0;
}
