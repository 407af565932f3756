/*
 * test_gh_answer: what the client reads from GitHub's 2xx bodies: the
 * access token answer, the installation answer, and what counts as a
 * malformed body.
 */
#include "gh_answer.h"
#include "hqtest.h"

#include <stdint.h>
#include <stdlib.h>

#define EXPIRES_MS 1796220000000LL /* 2026-12-02T14:00:00Z */

HQ_TEST(token_answer_table)
{
    static const struct {
        const char *body;
        int rc;
        const char *token; /* when rc == 0 */
        int64_t expires_ms;
    } cases[] = {
        {"{\"token\":\"ghs_16C7e42F292c6912E7710c838347Ae178B4a\",\"expires_at\":"
         "\"2026-12-02T14:00:00Z\",\"permissions\":{\"statuses\":\"write\"},"
         "\"repository_selection\":\"all\"}",
         0, "ghs_16C7e42F292c6912E7710c838347Ae178B4a", EXPIRES_MS},
        {"{\"expires_at\":\"2026-12-02T15:00:00+01:00\",\"token\":\"t\"}", 0, "t", EXPIRES_MS},
        {"{\"token\":\"ghs_x\"}", HQ_EPARSE, NULL, 0},
        {"{\"expires_at\":\"2026-12-02T14:00:00Z\"}", HQ_EPARSE, NULL, 0},
        {"{\"token\":\"\",\"expires_at\":\"2026-12-02T14:00:00Z\"}", HQ_EPARSE, NULL, 0},
        {"{\"token\":\"gh s\",\"expires_at\":\"2026-12-02T14:00:00Z\"}", HQ_EPARSE, NULL, 0},
        {"{\"token\":\"ghs\\u0007\",\"expires_at\":\"2026-12-02T14:00:00Z\"}", HQ_EPARSE, NULL, 0},
        {"{\"token\":42,\"expires_at\":\"2026-12-02T14:00:00Z\"}", HQ_EPARSE, NULL, 0},
        {"{\"token\":\"ghs_x\",\"expires_at\":\"tomorrow\"}", HQ_EPARSE, NULL, 0},
        {"{\"token\":\"ghs_x\",\"expires_at\":1796220000}", HQ_EPARSE, NULL, 0},
        {"[\"token\",\"ghs_x\"]", HQ_EPARSE, NULL, 0},
        {"{\"token\":\"ghs_x\",\"expires_at\":\"2026-12-02T14:00:00Z\"", HQ_EPARSE, NULL, 0},
        {"", HQ_EPARSE, NULL, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *token = (char *)"unset";
        int64_t exp = -1;
        int rc = hq_gh_answer_token(cases[i].body, strlen(cases[i].body), &token, &exp);
        if (rc != cases[i].rc)
            fprintf(stderr, "  case %zu: %s\n", i, cases[i].body);
        CHECK_EQ(rc, cases[i].rc);
        if (cases[i].rc == 0 && rc == 0) {
            CHECK_STR(token, cases[i].token);
            CHECK_EQ(exp, cases[i].expires_ms);
        } else {
            CHECK(token == NULL);
        }
        free(rc == 0 ? token : NULL);
    }
}

HQ_TEST(token_answer_reads_only_len_bytes)
{
    const char *body = "{\"token\":\"ghs_x\",\"expires_at\":\"2026-12-02T14:00:00Z\"}garbage";
    char *token = NULL;
    int64_t exp = 0;
    CHECK_EQ(hq_gh_answer_token(body, strlen(body) - strlen("garbage"), &token, &exp), 0);
    CHECK_STR(token, "ghs_x");
    free(token);
    CHECK_EQ(hq_gh_answer_token(NULL, 0, &token, &exp), HQ_EPARSE);
    CHECK(token == NULL);
}

HQ_TEST(installation_answer_table)
{
    static const struct {
        const char *body;
        int rc;
        uint64_t id;
    } cases[] = {
        {"{\"id\":123,\"account\":{\"login\":\"octo-org\",\"id\":1},\"app_id\":1,"
         "\"target_type\":\"Organization\"}",
         0, 123},
        {"{\"id\":1}", 0, 1},
        {"{\"id\":9000000000000000}", 0, 9000000000000000ull},
        {"{\"id\":9000000000000002}", HQ_EPARSE, 0},
        {"{\"id\":0}", HQ_EPARSE, 0},
        {"{\"id\":-5}", HQ_EPARSE, 0},
        {"{\"id\":\"123\"}", HQ_EPARSE, 0},
        {"{\"account\":{\"id\":123}}", HQ_EPARSE, 0},
        {"[123]", HQ_EPARSE, 0},
        {"{\"id\":12", HQ_EPARSE, 0},
        {"", HQ_EPARSE, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t id = 99;
        int rc = hq_gh_answer_installation(cases[i].body, strlen(cases[i].body), &id);
        if (rc != cases[i].rc)
            fprintf(stderr, "  case %zu: %s\n", i, cases[i].body);
        CHECK_EQ(rc, cases[i].rc);
        CHECK_EQ(id, cases[i].id);
    }
}

HQ_TEST(object_and_token_rules)
{
    CHECK(hq_gh_answer_is_object("{}", 2));
    CHECK(hq_gh_answer_is_object("{\"state\":\"success\"}", 19));
    CHECK(!hq_gh_answer_is_object("[]", 2));
    CHECK(!hq_gh_answer_is_object("\"x\"", 3));
    CHECK(!hq_gh_answer_is_object("{", 1));
    CHECK(!hq_gh_answer_is_object("", 0));
    CHECK(!hq_gh_answer_is_object(NULL, 0));

    static char big[HQ_GH_TOKEN_MAX + 2];
    memset(big, 'a', sizeof(big) - 1);
    CHECK(hq_gh_valid_token(big, HQ_GH_TOKEN_MAX));
    CHECK(!hq_gh_valid_token(big, HQ_GH_TOKEN_MAX + 1));
    CHECK(!hq_gh_valid_token("", 0));
    CHECK(!hq_gh_valid_token("a\tb", 3));
    CHECK(!hq_gh_valid_token("caf\xc3\xa9", 5));
    CHECK(hq_gh_valid_token("ghp_AZaz09_-.~", 14));
}

int main(int argc, char **argv)
{
    return hqtest_main(argc, argv);
}
