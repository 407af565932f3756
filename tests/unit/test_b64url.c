/*
 * test_b64url: base64url without padding, against the RFC 4648 §10 vectors
 * (adapted: no '=') and the characters that differ from base64 ('-', '_').
 */
#include "b64url.h"
#include "hqtest.h"

#include <stdint.h>

static const struct {
    const char *plain;
    const char *encoded;
} vectors[] = {
    {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},          {"foo", "Zm9v"},
    {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
};

HQ_TEST(rfc4648_vectors_encode)
{
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        char out[32];
        size_t n = 99;
        CHECK_EQ(hq_b64url_encode((const uint8_t *)vectors[i].plain, strlen(vectors[i].plain), out,
                                  sizeof(out), &n),
                 0);
        CHECK_STR(out, vectors[i].encoded);
        CHECK_EQ(n, strlen(vectors[i].encoded));
        CHECK_EQ(hq_b64url_encoded_len(strlen(vectors[i].plain)), strlen(vectors[i].encoded));
    }
}

HQ_TEST(rfc4648_vectors_decode)
{
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        uint8_t out[32];
        size_t n = 99;
        CHECK_EQ(
            hq_b64url_decode(vectors[i].encoded, strlen(vectors[i].encoded), out, sizeof(out), &n),
            0);
        CHECK_EQ(n, strlen(vectors[i].plain));
        CHECK(memcmp(out, vectors[i].plain, n) == 0);
    }
    /* padding is tolerated at the end */
    uint8_t out[8];
    size_t n = 0;
    CHECK_EQ(hq_b64url_decode("Zm8=", 4, out, sizeof(out), &n), 0);
    CHECK_EQ(n, 2);
    CHECK_EQ(hq_b64url_decode("Zg==", 4, out, sizeof(out), &n), 0);
    CHECK_EQ(n, 1);
}

HQ_TEST(url_alphabet)
{
    /* 0xfb 0xef 0xbe is "++++" in base64 and "----" in base64url */
    const uint8_t in[] = {0xfb, 0xef, 0xbe, 0xfb, 0xef, 0xbe};
    char out[16];
    CHECK_EQ(hq_b64url_encode(in, sizeof(in), out, sizeof(out), NULL), 0);
    CHECK_STR(out, "--------");
    uint8_t back[8];
    size_t n = 0;
    CHECK_EQ(hq_b64url_decode(out, strlen(out), back, sizeof(back), &n), 0);
    CHECK_EQ(n, 6);
    const uint8_t ff[] = {0xff, 0xff, 0xff};
    CHECK_EQ(hq_b64url_encode(ff, 3, out, sizeof(out), NULL), 0);
    CHECK_STR(out, "____");
}

HQ_TEST(all_bytes_round_trip)
{
    uint8_t in[256], back[256];
    char enc[400];
    for (int i = 0; i < 256; i++)
        in[i] = (uint8_t)i;
    for (size_t len = 0; len <= 256; len++) {
        size_t n = 0, m = 0;
        REQUIRE(hq_b64url_encode(in, len, enc, sizeof(enc), &n) == 0);
        CHECK(strchr(enc, '=') == NULL && strchr(enc, '+') == NULL && strchr(enc, '/') == NULL);
        REQUIRE(hq_b64url_decode(enc, n, back, sizeof(back), &m) == 0);
        CHECK_EQ(m, len);
        CHECK(memcmp(in, back, len) == 0);
    }
}

HQ_TEST(bounds_and_garbage)
{
    char small[4];
    CHECK_EQ(hq_b64url_encode((const uint8_t *)"foo", 3, small, sizeof(small), NULL), HQ_ETOOBIG);
    CHECK_STR(small, "");
    char exact[5];
    CHECK_EQ(hq_b64url_encode((const uint8_t *)"foo", 3, exact, sizeof(exact), NULL), 0);
    uint8_t out[8];
    size_t n;
    CHECK_EQ(hq_b64url_decode("Zm9v", 4, out, 2, &n), HQ_ETOOBIG);
    CHECK_EQ(hq_b64url_decode("Zm+v", 4, out, sizeof(out), &n), HQ_EPARSE); /* base64, not url */
    CHECK_EQ(hq_b64url_decode("Zm9/", 4, out, sizeof(out), &n), HQ_EPARSE);
    CHECK_EQ(hq_b64url_decode("Z", 1, out, sizeof(out), &n), HQ_EPARSE);  /* 1 mod 4 */
    CHECK_EQ(hq_b64url_decode("Zh", 2, out, sizeof(out), &n), HQ_EPARSE); /* trailing bits */
    CHECK_EQ(hq_b64url_decode("Zm 9", 4, out, sizeof(out), &n), HQ_EPARSE);
    CHECK_EQ(hq_b64url_decode("Zm8==", 5, out, sizeof(out), &n), HQ_EPARSE);
}

int main(int argc, char **argv)
{
    return hqtest_main(argc, argv);
}
