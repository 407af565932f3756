/*
 * test_signature: X-Hub-Signature-256 parsing and verification
 * (common/signature.h), starting from GitHub's published example.
 */
#include "hqtest.h"
#include "signature.h"

#include <ctype.h>

#define GH_SECRET "It's a Secret to Everybody"
#define GH_BODY   "Hello, World!"
#define GH_SIG    "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

static hq_sigkeys *keys_of(const char *const *secrets, size_t n)
{
    size_t lens[HQ_SIGNATURE_MAX_KEYS];
    for (size_t i = 0; i < n; i++)
        lens[i] = strlen(secrets[i]);
    hq_sigkeys *k = NULL;
    REQUIRE(hq_sigkeys_create(secrets, lens, n, &k) == 0);
    return k;
}

HQ_TEST(github_published_example)
{
    const char *secrets[] = {GH_SECRET};
    hq_sigkeys *k = keys_of(secrets, 1);
    CHECK_EQ(hq_signature_check(k, GH_SIG, GH_BODY, strlen(GH_BODY)), 0);
    char out[HQ_SIGNATURE_HEADER_LEN];
    CHECK_EQ(hq_signature_format(GH_SECRET, strlen(GH_SECRET), GH_BODY, strlen(GH_BODY), out,
                                 sizeof(out)),
             0);
    CHECK_STR(out, GH_SIG);
    hq_sigkeys_destroy(k);
}

HQ_TEST(header_table)
{
    static const struct {
        const char *header;
        int want;
    } cases[] = {
        {GH_SIG, 0},
        /* upper-case hex carries the same digest */
        {"sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17", 0},
        /* wrong digest (last digit changed) */
        {"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e18", HQ_ESIGNATURE},
        /* short, long, empty digest */
        {"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1", HQ_ESIGNATURE},
        {"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e170", HQ_ESIGNATURE},
        {"sha256=", HQ_ESIGNATURE},
        /* other algorithms and prefixes */
        {"sha1=7d38cdd689735b008b3c702edd92eea23791c5f6", HQ_ESIGNATURE},
        {"SHA256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", HQ_ESIGNATURE},
        {"757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", HQ_ESIGNATURE},
        {"sha256:757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", HQ_ESIGNATURE},
        /* spaces and non-hex */
        {" sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", HQ_ESIGNATURE},
        {"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17 ", HQ_ESIGNATURE},
        {"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043g17", HQ_ESIGNATURE},
        {"", HQ_ESIGNATURE},
        {NULL, HQ_ESIGNATURE},
    };
    const char *secrets[] = {GH_SECRET};
    hq_sigkeys *k = keys_of(secrets, 1);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = hq_signature_check(k, cases[i].header, GH_BODY, strlen(GH_BODY));
        if (rc != cases[i].want)
            fprintf(stderr, "  case %zu: '%s' gave %d\n", i,
                    cases[i].header ? cases[i].header : "(null)", rc);
        CHECK_EQ(rc, cases[i].want);
    }
    hq_sigkeys_destroy(k);
}

HQ_TEST(body_must_match_exactly)
{
    const char *secrets[] = {GH_SECRET};
    hq_sigkeys *k = keys_of(secrets, 1);
    CHECK_EQ(hq_signature_check(k, GH_SIG, "Hello, World!\n", 14), HQ_ESIGNATURE);
    CHECK_EQ(hq_signature_check(k, GH_SIG, "Hello, World", 12), HQ_ESIGNATURE);
    CHECK_EQ(hq_signature_check(k, GH_SIG, "", 0), HQ_ESIGNATURE);
    hq_sigkeys_destroy(k);
}

HQ_TEST(several_secrets_any_matches)
{
    const char *rotation[] = {"new-secret-2026", GH_SECRET, "third one"};
    hq_sigkeys *k = keys_of(rotation, 3);
    CHECK_EQ(hq_sigkeys_count(k), 3);
    CHECK_EQ(hq_signature_check(k, GH_SIG, GH_BODY, strlen(GH_BODY)), 0);
    for (size_t i = 0; i < 3; i++) {
        char sig[HQ_SIGNATURE_HEADER_LEN];
        REQUIRE(hq_signature_format(rotation[i], strlen(rotation[i]), "{}", 2, sig, sizeof(sig)) ==
                0);
        CHECK_EQ(hq_signature_check(k, sig, "{}", 2), 0);
    }
    char other[HQ_SIGNATURE_HEADER_LEN];
    REQUIRE(hq_signature_format("not configured", 14, "{}", 2, other, sizeof(other)) == 0);
    CHECK_EQ(hq_signature_check(k, other, "{}", 2), HQ_ESIGNATURE);
    hq_sigkeys_destroy(k);
}

HQ_TEST(secret_file_text)
{
    static const char text[] = "first secret\r\n\n" GH_SECRET "\n  spaced  \n";
    hq_sigkeys *k = NULL;
    REQUIRE(hq_sigkeys_from_text(text, strlen(text), &k) == 0);
    CHECK_EQ(hq_sigkeys_count(k), 3);
    CHECK_STR(hq_sigkeys_secret(k, 0), "first secret");
    CHECK_STR(hq_sigkeys_secret(k, 1), GH_SECRET);
    CHECK_STR(hq_sigkeys_secret(k, 2), "  spaced  ");
    CHECK(hq_sigkeys_secret(k, 3) == NULL);
    CHECK_EQ(hq_signature_check(k, GH_SIG, GH_BODY, strlen(GH_BODY)), 0);
    hq_sigkeys_destroy(k);

    /* no final newline */
    REQUIRE(hq_sigkeys_from_text(GH_SECRET, strlen(GH_SECRET), &k) == 0);
    CHECK_EQ(hq_signature_check(k, GH_SIG, GH_BODY, strlen(GH_BODY)), 0);
    hq_sigkeys_destroy(k);
}

HQ_TEST(secret_file_refusals)
{
    hq_sigkeys *k = (hq_sigkeys *)1;
    CHECK_EQ(hq_sigkeys_from_text("", 0, &k), HQ_ECONFIG);
    CHECK(k == NULL);
    CHECK_EQ(hq_sigkeys_from_text("\n\r\n\n", 4, &k), HQ_ECONFIG);
    char many[17 * 4 + 1];
    for (int i = 0; i < 17; i++)
        memcpy(many + 4 * i, "abc\n", 4);
    many[sizeof(many) - 1] = '\0';
    CHECK_EQ(hq_sigkeys_from_text(many, strlen(many), &k), HQ_ECONFIG);
    static char huge[HQ_SIGNATURE_SECRET_MAX + 2];
    memset(huge, 'x', HQ_SIGNATURE_SECRET_MAX + 1);
    CHECK_EQ(hq_sigkeys_from_text(huge, strlen(huge), &k), HQ_ECONFIG);
    CHECK_EQ(hq_sigkeys_from_text("a\0b\n", 4, &k), HQ_ECONFIG);
}

HQ_TEST(parse_decodes_digest)
{
    uint8_t d[HQ_SIGNATURE_DIGEST_LEN];
    memset(d, 0xAA, sizeof(d));
    CHECK_EQ(hq_signature_parse(GH_SIG, d), 0);
    CHECK_EQ(d[0], 0x75);
    CHECK_EQ(d[31], 0x17);
    uint8_t keep[HQ_SIGNATURE_DIGEST_LEN];
    memcpy(keep, d, sizeof(d));
    CHECK_EQ(hq_signature_parse("sha256=zz", d), HQ_ESIGNATURE);
    CHECK(memcmp(keep, d, sizeof(d)) == 0); /* untouched on failure */
}

HQ_TEST(format_needs_room)
{
    char small[HQ_SIGNATURE_HEADER_LEN - 1];
    CHECK_EQ(hq_signature_format("k", 1, "b", 1, small, sizeof(small)), HQ_ETOOBIG);
}

int main(int argc, char **argv)
{
    return hqtest_main(argc, argv);
}
