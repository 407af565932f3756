/*
 * test_jwt: the App JWT, checked independently: its signature verifies with
 * `openssl dgst -sha256 -verify` against the public key, and its header and
 * claims decode to what GitHub requires. Key loading errors are distinct.
 */
#include "b64url.h"
#include "config.h"
#include "hqtest.h"
#include "jwt.h"

#include <cjson/cJSON.h>
#include <stdint.h>

/* Runs a shell command in which $D is the case's temporary directory. */
static void sh(const char *cmd)
{
    REQUIRE(setenv("D", hqtest_dir(), 1) == 0);
    REQUIRE(system(cmd) == 0);
}

static void path(char *buf, size_t cap, const char *name)
{
    int n = snprintf(buf, cap, "%s/%s", hqtest_dir(), name);
    REQUIRE(n > 0 && (size_t)n < cap);
}

static void write_file(const char *p, const void *data, size_t n)
{
    FILE *f = fopen(p, "wb");
    REQUIRE(f != NULL);
    REQUIRE(fwrite(data, 1, n, f) == n);
    REQUIRE(fclose(f) == 0);
}

/* Decodes one base64url JWT part into a NUL-terminated buffer. */
static size_t decode_part(const char *s, size_t n, uint8_t *out, size_t cap)
{
    size_t len = 0;
    REQUIRE(hq_b64url_decode(s, n, out, cap - 1, &len) == 0);
    out[len] = '\0';
    return len;
}

HQ_TEST(jwt_verifies_with_openssl)
{
    char key[512], jwtfile[512], sigfile[512], cmd[2048];
    path(key, sizeof(key), "key.pem");
    sh("openssl genrsa -out $D/key.pem 2048 2>/dev/null && "
       "openssl rsa -in $D/key.pem -pubout -out $D/pub.pem 2>/dev/null");
    hq_jwt *j = NULL;
    char why[256] = "";
    REQUIRE(hq_jwt_create(key, "12345", &j, why, sizeof(why)) == 0);
    int64_t now = 1700000000000;
    char *tok = NULL;
    REQUIRE(hq_jwt_mint(j, now, &tok) == 0);

    const char *dot1 = strchr(tok, '.');
    REQUIRE(dot1 != NULL);
    const char *dot2 = strchr(dot1 + 1, '.');
    REQUIRE(dot2 != NULL && strchr(dot2 + 1, '.') == NULL);
    CHECK(strchr(tok, '=') == NULL);

    /* header and claims */
    uint8_t buf[2048];
    decode_part(tok, (size_t)(dot1 - tok), buf, sizeof(buf));
    CHECK_STR((char *)buf, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}");
    decode_part(dot1 + 1, (size_t)(dot2 - dot1 - 1), buf, sizeof(buf));
    cJSON *claims = cJSON_Parse((char *)buf);
    REQUIRE(claims != NULL);
    CHECK_EQ(cJSON_GetObjectItem(claims, "iat")->valuedouble, 1700000000 - 60);
    CHECK_EQ(cJSON_GetObjectItem(claims, "exp")->valuedouble, 1700000000 + 540);
    CHECK(cJSON_IsString(cJSON_GetObjectItem(claims, "iss")));
    CHECK_STR(cJSON_GetObjectItem(claims, "iss")->valuestring, "12345");
    cJSON_Delete(claims);

    /* the signature, checked by openssl itself over "header.claims" */
    path(jwtfile, sizeof(jwtfile), "data");
    path(sigfile, sizeof(sigfile), "sig.bin");
    write_file(jwtfile, tok, (size_t)(dot2 - tok));
    size_t siglen = decode_part(dot2 + 1, strlen(dot2 + 1), buf, sizeof(buf));
    CHECK_EQ(siglen, 256);
    write_file(sigfile, buf, siglen);
    int n = snprintf(cmd, sizeof(cmd),
                     "openssl dgst -sha256 -verify %s/pub.pem -signature %s %s >/dev/null 2>&1",
                     hqtest_dir(), sigfile, jwtfile);
    REQUIRE(n > 0 && (size_t)n < sizeof(cmd));
    CHECK_EQ(system(cmd), 0);

    /* and a tampered payload does not verify (the check can fail) */
    write_file(jwtfile, "x", 1);
    CHECK(system(cmd) != 0);
    free(tok);
    hq_jwt_destroy(j);
}

HQ_TEST(pkcs1_key_and_cached_jwt)
{
    char key[512];
    path(key, sizeof(key), "key.pem");
    /* GitHub hands out PKCS#1 ("BEGIN RSA PRIVATE KEY") */
    sh("openssl genrsa -traditional -out $D/key.pem 2048 2>/dev/null");
    hq_jwt *j = NULL;
    REQUIRE(hq_jwt_create(key, "7", &j, NULL, 0) == 0);
    char *a = NULL, *b = NULL, *c = NULL;
    int64_t now = 1700000000000;
    REQUIRE(hq_jwt_get(j, now, &a) == 0);
    REQUIRE(hq_jwt_get(j, now + 60000, &b) == 0);     /* reused */
    REQUIRE(hq_jwt_get(j, now + 7 * 60000, &c) == 0); /* less than 3 min left: new */
    CHECK_STR(a, b);
    CHECK(strcmp(a, c) != 0);
    free(a);
    free(b);
    free(c);
    hq_jwt_destroy(j);
}

HQ_TEST(key_errors_are_distinct)
{
    char p[512], why[256];
    hq_jwt *j = NULL;
    path(p, sizeof(p), "missing.pem");
    int rc = hq_jwt_create(p, "1", &j, why, sizeof(why));
    CHECK_EQ(rc, -ENOENT);
    CHECK(strstr(why, "cannot read") != NULL);
    CHECK(j == NULL);

    path(p, sizeof(p), "garbage.pem");
    write_file(p, "not a key\n", 10);
    rc = hq_jwt_create(p, "1", &j, why, sizeof(why));
    CHECK_EQ(rc, HQ_EPARSE);
    CHECK(strstr(why, "not a PEM private key") != NULL);

    /* a valid PEM key that is not RSA */
    sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $D/ec.pem "
       "2>/dev/null");
    path(p, sizeof(p), "ec.pem");
    rc = hq_jwt_create(p, "1", &j, why, sizeof(why));
    CHECK_EQ(rc, HQ_EPARSE);
    CHECK(strstr(why, "not RSA") != NULL);

    /* an encrypted key is refused, never prompted for */
    sh("openssl genrsa -aes128 -passout pass:secret -out $D/enc.pem 2048 2>/dev/null");
    path(p, sizeof(p), "enc.pem");
    rc = hq_jwt_create(p, "1", &j, why, sizeof(why));
    CHECK_EQ(rc, HQ_EPARSE);

    /* the public key is not a private key */
    sh("openssl genrsa -out $D/k.pem 2048 2>/dev/null && openssl rsa -in $D/k.pem -pubout "
       "-out $D/pub.pem 2>/dev/null");
    path(p, sizeof(p), "pub.pem");
    CHECK_EQ(hq_jwt_create(p, "1", &j, why, sizeof(why)), HQ_EPARSE);

    path(p, sizeof(p), "k.pem");
    CHECK_EQ(hq_jwt_create(p, "0", &j, why, sizeof(why)), HQ_ECONFIG);
    CHECK_EQ(hq_jwt_create(p, "12a", &j, why, sizeof(why)), HQ_ECONFIG);
    CHECK(j == NULL);
}

int main(int argc, char **argv)
{
    return hqtest_main(argc, argv);
}
