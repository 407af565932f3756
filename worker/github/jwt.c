/*
 * jwt: RS256 JWT minting with OpenSSL 3 EVP; see jwt.h.
 *
 * The EVP_PKEY is read-only after create and may be used for signing from
 * several threads at once (each signature has its own EVP_MD_CTX). The lock
 * protects the cached JWT only.
 */
#include "jwt.h"

#include "b64url.h"
#include "config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JWT_REUSE_MARGIN_MS (180 * 1000) /* mint anew when less than this is left */
#define JWT_SIG_MAX         1024         /* RSA-8192 signatures are 1024 bytes */

struct hq_jwt {
    EVP_PKEY *key;
    char app_id[24];
    pthread_mutex_t lock; /* protects cached, cached_exp_ms */
    char *cached;
    int64_t cached_exp_ms;
};

__attribute__((format(printf, 3, 4))) static void set_why(char *why, size_t whycap, const char *fmt,
                                                          ...)
{
    if (why == NULL || whycap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(why, whycap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= whycap)
        why[whycap - 1] = '\0'; /* a cut message still says what failed */
}

/* Refuses to prompt for a passphrase: a service has no terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;
}

static int valid_app_id(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (n == 0 || n > 20 || s[0] == '0')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

int hq_jwt_create(const char *key_path, const char *app_id, hq_jwt **out, char *why, size_t whycap)
{
    char *pem = NULL;
    size_t pem_len = 0;
    BIO *bio = NULL;
    EVP_PKEY *key = NULL;
    hq_jwt *j = NULL;
    int rc;

    *out = NULL;
    if (!valid_app_id(app_id)) {
        set_why(why, whycap, "App id must be a positive decimal number");
        rc = HQ_ECONFIG;
        goto out;
    }
    rc = hq_read_file(key_path, HQ_JWT_KEY_MAX, &pem, &pem_len);
    if (rc == HQ_ETOOBIG) {
        set_why(why, whycap, "private key file is too large (over 64 KiB): %s", key_path);
        goto out;
    }
    if (rc < 0) {
        set_why(why, whycap, "cannot read the private key file: %s", hq_strerror(rc));
        goto out;
    }
    bio = BIO_new_mem_buf(pem, (int)pem_len);
    if (bio == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    ERR_clear_error(); /* the thread's error queue must not leak into later calls */
    if (key == NULL) {
        set_why(why, whycap,
                "not a PEM private key (expected the unencrypted RSA key GitHub generated)");
        rc = HQ_EPARSE;
        goto out;
    }
    if (!EVP_PKEY_is_a(key, "RSA")) {
        set_why(why, whycap, "the private key is %s, not RSA (GitHub Apps use RS256)",
                EVP_PKEY_get0_type_name(key) ? EVP_PKEY_get0_type_name(key) : "of another type");
        rc = HQ_EPARSE;
        goto out;
    }
    j = calloc(1, sizeof(*j));
    if (j == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    if (pthread_mutex_init(&j->lock, NULL) != 0) {
        free(j);
        j = NULL;
        rc = -ENOMEM;
        goto out;
    }
    memcpy(j->app_id, app_id, strlen(app_id) + 1);
    j->key = key;
    key = NULL;
    *out = j;
    rc = 0;
out:
    EVP_PKEY_free(key);
    BIO_free(bio);
    if (pem != NULL) {
        OPENSSL_cleanse(pem, pem_len);
        free(pem);
    }
    return rc;
}

void hq_jwt_destroy(hq_jwt *j)
{
    if (j == NULL)
        return;
    EVP_PKEY_free(j->key);
    free(j->cached);
    pthread_mutex_destroy(&j->lock);
    free(j);
}

/* Appends the base64url of n bytes to buf at *len (cap includes the NUL). */
static int append_b64(char *buf, size_t cap, size_t *len, const void *data, size_t n)
{
    size_t w = 0;
    int rc = hq_b64url_encode(data, n, buf + *len, cap - *len, &w);
    if (rc == 0)
        *len += w;
    return rc;
}

static char *claims_json(const char *app_id, int64_t now_s)
{
    char *s = NULL;
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    if (cJSON_AddNumberToObject(o, "iat", (double)(now_s - HQ_JWT_IAT_SKEW_S)) == NULL ||
        cJSON_AddNumberToObject(o, "exp", (double)(now_s + HQ_JWT_LIFETIME_S)) == NULL ||
        cJSON_AddStringToObject(o, "iss", app_id) == NULL)
        goto out;
    s = cJSON_PrintUnformatted(o);
out:
    cJSON_Delete(o);
    return s;
}

int hq_jwt_mint(hq_jwt *j, int64_t now_ms, char **out)
{
    static const char header[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
    char *claims = NULL, *tok = NULL;
    EVP_MD_CTX *md = NULL;
    unsigned char sig[JWT_SIG_MAX];
    size_t siglen = sizeof(sig), len = 0;
    int rc = -ENOMEM;

    *out = NULL;
    claims = claims_json(j->app_id, now_ms / 1000);
    if (claims == NULL)
        goto out;
    size_t cap = hq_b64url_encoded_len(sizeof(header) - 1) + 1 +
                 hq_b64url_encoded_len(strlen(claims)) + 1 + hq_b64url_encoded_len(JWT_SIG_MAX) + 1;
    tok = malloc(cap);
    if (tok == NULL)
        goto out;
    rc = append_b64(tok, cap, &len, header, sizeof(header) - 1);
    if (rc < 0)
        goto out;
    tok[len++] = '.';
    rc = append_b64(tok, cap, &len, claims, strlen(claims));
    if (rc < 0)
        goto out;

    rc = HQ_ECORRUPT;
    md = EVP_MD_CTX_new();
    if (md == NULL || EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, j->key, NULL) != 1 ||
        EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)tok, len) != 1 ||
        siglen > sizeof(sig) ||
        EVP_DigestSign(md, sig, &siglen, (const unsigned char *)tok, len) != 1) {
        ERR_clear_error();
        goto out;
    }
    tok[len++] = '.';
    rc = append_b64(tok, cap, &len, sig, siglen);
    if (rc < 0)
        goto out;
    *out = tok;
    tok = NULL;
    rc = 0;
out:
    EVP_MD_CTX_free(md);
    cJSON_free(claims);
    free(tok);
    return rc;
}

int hq_jwt_get(hq_jwt *j, int64_t now_ms, char **out)
{
    int rc = 0;
    *out = NULL;
    pthread_mutex_lock(&j->lock);
    if (j->cached == NULL || now_ms > j->cached_exp_ms - JWT_REUSE_MARGIN_MS ||
        now_ms < j->cached_exp_ms - (int64_t)HQ_JWT_LIFETIME_S * 1000) {
        /* none yet, close to exp, or the clock went back before its iat */
        char *fresh = NULL;
        rc = hq_jwt_mint(j, now_ms, &fresh);
        if (rc < 0)
            goto out;
        free(j->cached);
        j->cached = fresh;
        j->cached_exp_ms = (now_ms / 1000 + HQ_JWT_LIFETIME_S) * 1000;
    }
    *out = strdup(j->cached);
    if (*out == NULL)
        rc = -ENOMEM;
out:
    pthread_mutex_unlock(&j->lock);
    return rc;
}
