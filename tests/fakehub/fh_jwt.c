/* fh_jwt: GitHub App JWT verification with OpenSSL; see fh_jwt.h. */
#include "fh_jwt.h"
#include "config.h"
#include "fh_util.h"

#include <errno.h>
#include <math.h>
#include <openssl/decoder.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEY_FILE (64 * 1024)
#define MAX_WINDOW_S 600 /* exp - iat */
#define IAT_SLACK_S  60  /* clock drift GitHub tolerates */

static const char msg_decode[] = "A JSON web token could not be decoded";

struct fh_jwt {
    EVP_PKEY *key;
    uint64_t app_id;
};

int fh_jwt_open(const char *pem_path, uint64_t app_id, fh_jwt **out)
{
    int rc;
    char *pem = NULL;
    size_t len = 0;
    EVP_PKEY *key = NULL;
    OSSL_DECODER_CTX *dctx = NULL;
    fh_jwt *v = NULL;

    rc = hq_read_file(pem_path, MAX_KEY_FILE, &pem, &len);
    if (rc != 0)
        goto out;
    dctx = OSSL_DECODER_CTX_new_for_pkey(&key, "PEM", NULL, "RSA", EVP_PKEY_PUBLIC_KEY, NULL, NULL);
    if (dctx == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    const unsigned char *p = (const unsigned char *)pem;
    size_t left = len;
    if (OSSL_DECODER_from_data(dctx, &p, &left) != 1 || key == NULL || !EVP_PKEY_is_a(key, "RSA")) {
        rc = HQ_EPARSE;
        goto out;
    }
    v = calloc(1, sizeof(*v));
    if (v == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    v->key = key;
    key = NULL;
    v->app_id = app_id;
    *out = v;
    v = NULL;
    rc = 0;
out:
    OSSL_DECODER_CTX_free(dctx);
    EVP_PKEY_free(key);
    free(pem);
    free(v);
    return rc;
}

void fh_jwt_close(fh_jwt *v)
{
    if (v == NULL)
        return;
    EVP_PKEY_free(v->key);
    free(v);
}

static bool signature_ok(const fh_jwt *v, const char *signed_part, size_t signed_len,
                         const unsigned char *sig, size_t sig_len)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md == NULL)
        return false;
    bool ok =
        EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, v->key) == 1 &&
        EVP_DigestVerify(md, sig, sig_len, (const unsigned char *)signed_part, signed_len) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}

/* A claim that must be a number with no fraction ("NumericDate"). */
static bool numeric_date(const cJSON *obj, const char *name, double *out)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsNumber(c) || !isfinite(c->valuedouble) || floor(c->valuedouble) != c->valuedouble)
        return false;
    *out = c->valuedouble;
    return true;
}

static bool issuer_ok(const fh_jwt *v, const cJSON *payload)
{
    const cJSON *iss = cJSON_GetObjectItemCaseSensitive(payload, "iss");
    if (cJSON_IsNumber(iss))
        return iss->valuedouble == (double)v->app_id;
    if (cJSON_IsString(iss)) {
        uint64_t id;
        return hq_parse_uint(iss->valuestring, 1, UINT64_MAX, &id) == 0 && id == v->app_id;
    }
    return false;
}

int fh_jwt_verify(const fh_jwt *v, const char *jwt, size_t len, int64_t now_ms, const char **why)
{
    int rc = HQ_EPARSE;
    unsigned char *hdr_json = NULL, *pay_json = NULL, *sig = NULL;
    size_t hdr_len, pay_len, sig_len;
    cJSON *hdr = NULL, *payload = NULL;

    *why = msg_decode;
    if (v == NULL || len == 0 || len > FH_JWT_MAX_LEN)
        goto out;
    const char *dot1 = memchr(jwt, '.', len);
    if (dot1 == NULL)
        goto out;
    const char *dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - jwt));
    if (dot2 == NULL)
        goto out;
    const char *end = jwt + len;
    if (fh_b64url_decode(jwt, (size_t)(dot1 - jwt), &hdr_json, &hdr_len) != 0 ||
        fh_b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &pay_json, &pay_len) != 0 ||
        fh_b64url_decode(dot2 + 1, (size_t)(end - dot2 - 1), &sig, &sig_len) != 0)
        goto out;
    hdr = fh_json_parse((const char *)hdr_json, hdr_len);
    payload = fh_json_parse((const char *)pay_json, pay_len);
    if (!cJSON_IsObject(hdr) || !cJSON_IsObject(payload))
        goto out;

    rc = HQ_ESIGNATURE;
    const cJSON *alg = cJSON_GetObjectItemCaseSensitive(hdr, "alg");
    if (!cJSON_IsString(alg) || strcmp(alg->valuestring, "RS256") != 0)
        goto out;
    if (!signature_ok(v, jwt, (size_t)(dot2 - jwt), sig, sig_len))
        goto out;
    if (!issuer_ok(v, payload)) {
        *why = "'Issuer' claim ('iss') must be the ID of an existing GitHub App";
        goto out;
    }
    double iat, exp, now = (double)now_ms / 1000.0;
    if (!numeric_date(payload, "iat", &iat)) {
        *why = "'Issued at' claim ('iat') must be an Integer representing the time that the "
               "assertion was issued.";
        goto out;
    }
    if (!numeric_date(payload, "exp", &exp)) {
        *why = "'Expiration time' claim ('exp') must be a numeric value representing the future "
               "time at which the assertion expires.";
        goto out;
    }
    if (exp - iat > MAX_WINDOW_S || exp <= iat) {
        *why = "'Expiration time' claim ('exp') is too far in the future.";
        goto out;
    }
    if (now < iat - IAT_SLACK_S) {
        *why = "'Issued at' claim ('iat') must be an Integer representing a time in the past.";
        goto out;
    }
    if (now > exp) {
        *why = "'Expiration time' claim ('exp') must be a numeric value representing the future "
               "time at which the assertion expires.";
        goto out;
    }
    *why = NULL;
    rc = 0;
out:
    cJSON_Delete(hdr);
    cJSON_Delete(payload);
    free(hdr_json);
    free(pay_json);
    free(sig);
    return rc;
}
