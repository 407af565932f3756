/* test_gh_status: what a status request may hold, before it is sent. */
#include "gh_status.h"
#include "hqtest.h"

#include <cjson/cJSON.h>

HQ_TEST(repository_names)
{
    static const struct {
        const char *name;
        bool ok;
    } rows[] = {{"octo/cat", true},  {"octo-org/cat.js", true}, {"o/r_x-1.2", true},
                {"octo", false},     {"/cat", false},           {"octo/", false},
                {"octo/.", false},   {"octo/..", false},        {"oc to/cat", false},
                {"octo/c%t", false}, {"octo/cat/x", false},     {"a_b/cat", false}};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        if (hq_gh_valid_repo(rows[i].name) != rows[i].ok)
            fprintf(stderr, "  '%s'\n", rows[i].name);
        CHECK(hq_gh_valid_repo(rows[i].name) == rows[i].ok);
    }
}

HQ_TEST(shas)
{
    CHECK(hq_gh_valid_sha("0123456789abcdef0123456789abcdef01234567"));
    CHECK(hq_gh_valid_sha("abcd"));
    CHECK(!hq_gh_valid_sha("abc"));
    CHECK(!hq_gh_valid_sha("xyz0123"));
    CHECK(!hq_gh_valid_sha(""));
}

HQ_TEST(body_cuts_the_description)
{
    char desc[400];
    hqtest_repeat(desc, sizeof(desc), "\xc3\xa9", 150); /* é, two bytes */
    char *body = hq_gh_status_body("failure", "hookq", desc, "");
    REQUIRE(body != NULL);
    cJSON *j = cJSON_Parse(body);
    REQUIRE(j != NULL);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "state")), "failure");
    CHECK_EQ(strlen(cJSON_GetStringValue(cJSON_GetObjectItem(j, "description"))), 280);
    CHECK(cJSON_GetObjectItem(j, "target_url") == NULL); /* "" is left out */
    cJSON_Delete(j);
    free(body);
    body = hq_gh_status_body("success", "ci", NULL, "https://ci/x");
    REQUIRE(body != NULL);
    CHECK_STR(body, "{\"state\":\"success\",\"context\":\"ci\",\"target_url\":\"https://ci/x\"}");
    free(body);
}

int main(int argc, char **argv)
{
    return hqtest_main(argc, argv);
}
