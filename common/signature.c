/*
 * signature: X-Hub-Signature-256 parsing and HMAC-SHA256 verification; see
 * signature.h.
 *
 * Each secret is keyed once into an EVP_MAC_CTX at creation; a verification
 * duplicates that context (copying the keyed inner and outer digest states)
 * instead of re-fetching the algorithm and re-keying, which matters at
 * thousands of deliveries a second. The template contexts are never used
 * directly after creation, so concurrent verifications only read them.
 */
#include "signature.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

struct hq_sigkeys {
    EVP_MAC *mac;
    size_t n;
    EVP_MAC_CTX *tmpl[HQ_SIGNATURE_MAX_KEYS];
    char *secret[HQ_SIGNATURE_MAX_KEYS]; /* NUL-terminated copies */
    size_t len[HQ_SIGNATURE_MAX_KEYS];
};

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int hq_signature_parse(const char *value, uint8_t digest[HQ_SIGNATURE_DIGEST_LEN])
{
    static const char prefix[] = "sha256=";
    uint8_t tmp[HQ_SIGNATURE_DIGEST_LEN];
    if (value == NULL || strncmp(value, prefix, sizeof(prefix) - 1) != 0)
        return HQ_ESIGNATURE;
    const char *hex = value + sizeof(prefix) - 1;
    for (size_t i = 0; i < HQ_SIGNATURE_DIGEST_LEN; i++) {
        /* hex[2i] is checked before hex[2i+1] is read, so a short value
         * stops at its NUL. */
        int hi = hexval((unsigned char)hex[2 * i]);
        if (hi < 0)
            return HQ_ESIGNATURE;
        int lo = hexval((unsigned char)hex[2 * i + 1]);
        if (lo < 0)
            return HQ_ESIGNATURE;
        tmp[i] = (uint8_t)(hi << 4 | lo);
    }
    if (hex[2 * HQ_SIGNATURE_DIGEST_LEN] != '\0')
        return HQ_ESIGNATURE;
    memcpy(digest, tmp, sizeof(tmp));
    return 0;
}

/* A fresh HMAC-SHA256 context keyed with key. */
static int mac_keyed(EVP_MAC *mac, const void *key, size_t keylen, EVP_MAC_CTX **out)
{
    int rc = 0;
    char digest_name[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
        OSSL_PARAM_construct_end(),
    };
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    if (ctx == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    if (EVP_MAC_init(ctx, key, keylen, params) != 1) {
        rc = HQ_ESTORAGE;
        goto out;
    }
    *out = ctx;
    ctx = NULL;
out:
    EVP_MAC_CTX_free(ctx);
    return rc;
}

int hq_sigkeys_create(const char *const *secrets, const size_t *lens, size_t n, hq_sigkeys **out)
{
    int rc = 0;
    *out = NULL;
    if (n == 0 || n > HQ_SIGNATURE_MAX_KEYS)
        return HQ_ECONFIG;
    for (size_t i = 0; i < n; i++) {
        if (lens[i] == 0 || lens[i] > HQ_SIGNATURE_SECRET_MAX)
            return HQ_ECONFIG;
    }
    hq_sigkeys *k = calloc(1, sizeof(*k));
    if (k == NULL)
        return -ENOMEM;
    k->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (k->mac == NULL) {
        rc = HQ_ESTORAGE;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        k->secret[i] = malloc(lens[i] + 1);
        if (k->secret[i] == NULL) {
            rc = -ENOMEM;
            goto out;
        }
        memcpy(k->secret[i], secrets[i], lens[i]);
        k->secret[i][lens[i]] = '\0';
        k->len[i] = lens[i];
        k->n = i + 1;
        rc = mac_keyed(k->mac, secrets[i], lens[i], &k->tmpl[i]);
        if (rc != 0)
            goto out;
    }
    *out = k;
    k = NULL;
out:
    hq_sigkeys_destroy(k);
    return rc;
}

int hq_sigkeys_from_text(const char *text, size_t len, hq_sigkeys **out)
{
    const char *secrets[HQ_SIGNATURE_MAX_KEYS];
    size_t lens[HQ_SIGNATURE_MAX_KEYS];
    size_t n = 0;
    size_t pos = 0;
    *out = NULL;
    while (pos < len) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t linelen = nl ? (size_t)(nl - line) : len - pos;
        pos += linelen + (nl ? 1 : 0);
        if (linelen > 0 && line[linelen - 1] == '\r')
            linelen--;
        if (linelen == 0)
            continue;
        /* A NUL inside a line would make the logged copy shorter than the key. */
        if (memchr(line, '\0', linelen) != NULL)
            return HQ_ECONFIG;
        if (n == HQ_SIGNATURE_MAX_KEYS)
            return HQ_ECONFIG;
        secrets[n] = line;
        lens[n] = linelen;
        n++;
    }
    if (n == 0)
        return HQ_ECONFIG;
    return hq_sigkeys_create(secrets, lens, n, out);
}

void hq_sigkeys_destroy(hq_sigkeys *k)
{
    if (k == NULL)
        return;
    for (size_t i = 0; i < k->n; i++) {
        EVP_MAC_CTX_free(k->tmpl[i]);
        if (k->secret[i] != NULL) {
            OPENSSL_cleanse(k->secret[i], k->len[i]);
            free(k->secret[i]);
        }
    }
    EVP_MAC_free(k->mac);
    free(k);
}

size_t hq_sigkeys_count(const hq_sigkeys *k)
{
    return k->n;
}

const char *hq_sigkeys_secret(const hq_sigkeys *k, size_t i)
{
    return i < k->n ? k->secret[i] : NULL;
}

/* HMAC of body under the key of tmpl into md; tmpl is only read. */
static int mac_compute(EVP_MAC_CTX *tmpl, const void *body, size_t len,
                       uint8_t md[HQ_SIGNATURE_DIGEST_LEN])
{
    int rc = 0;
    size_t mdlen = 0;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(tmpl);
    if (ctx == NULL)
        return -ENOMEM;
    if (EVP_MAC_update(ctx, body, len) != 1 ||
        EVP_MAC_final(ctx, md, &mdlen, HQ_SIGNATURE_DIGEST_LEN) != 1 ||
        mdlen != HQ_SIGNATURE_DIGEST_LEN) {
        rc = HQ_ESTORAGE;
        goto out;
    }
out:
    EVP_MAC_CTX_free(ctx);
    return rc;
}

int hq_signature_verify(const hq_sigkeys *k, const uint8_t digest[HQ_SIGNATURE_DIGEST_LEN],
                        const void *body, size_t len)
{
    bool matched = false;
    for (size_t i = 0; i < k->n; i++) {
        uint8_t md[HQ_SIGNATURE_DIGEST_LEN];
        int rc = mac_compute(k->tmpl[i], body, len, md);
        if (rc != 0)
            return rc;
        /* No early exit: every secret costs the same whether one matched. */
        matched |= CRYPTO_memcmp(md, digest, HQ_SIGNATURE_DIGEST_LEN) == 0;
    }
    return matched ? 0 : HQ_ESIGNATURE;
}

int hq_signature_check(const hq_sigkeys *k, const char *header, const void *body, size_t len)
{
    uint8_t digest[HQ_SIGNATURE_DIGEST_LEN];
    int rc = hq_signature_parse(header, digest);
    if (rc != 0)
        return rc;
    return hq_signature_verify(k, digest, body, len);
}

int hq_signature_format(const void *secret, size_t secret_len, const void *body, size_t len,
                        char *out, size_t cap)
{
    static const char digits[] = "0123456789abcdef";
    int rc = 0;
    EVP_MAC_CTX *ctx = NULL;
    uint8_t md[HQ_SIGNATURE_DIGEST_LEN];
    if (cap < HQ_SIGNATURE_HEADER_LEN)
        return HQ_ETOOBIG;
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL)
        return HQ_ESTORAGE;
    rc = mac_keyed(mac, secret, secret_len, &ctx);
    if (rc != 0)
        goto out;
    rc = mac_compute(ctx, body, len, md);
    if (rc != 0)
        goto out;
    memcpy(out, "sha256=", 7);
    for (size_t i = 0; i < HQ_SIGNATURE_DIGEST_LEN; i++) {
        out[7 + 2 * i] = digits[md[i] >> 4];
        out[7 + 2 * i + 1] = digits[md[i] & 15];
    }
    out[7 + 2 * HQ_SIGNATURE_DIGEST_LEN] = '\0';
out:
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return rc;
}
