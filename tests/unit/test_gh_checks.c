/* test_gh_checks: check-run bodies, the output text's bound, and the parsers
 * of GitHub's check-run answers (worker/github/gh_checks.h). */
#include "gh_checks.h"
#include "hqtest.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

static char text[HQ_GH_CHECK_TEXT_MAX + 1];

HQ_TEST(create_body_has_name_sha_status_and_external_id)
{
    struct hq_gh_check_run r = {.name = "hookq",
                                .head_sha = "0123456789abcdef0123456789abcdef01234567",
                                .status = "in_progress",
                                .external_id = "guid-1",
                                .details_url = "https://ci.example/guid-1"};
    char *b = hq_gh_check_run_body(&r);
    REQUIRE(b != NULL);
    cJSON *o = cJSON_Parse(b);
    REQUIRE(o != NULL);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "name")), "hookq");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "status")), "in_progress");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "external_id")), "guid-1");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "details_url")),
              "https://ci.example/guid-1");
    CHECK(cJSON_GetObjectItem(o, "output") == NULL);
    CHECK(cJSON_GetObjectItem(o, "conclusion") == NULL);
    cJSON_Delete(o);
    free(b);
}

HQ_TEST(update_body_cuts_the_title_and_keeps_the_text)
{
    char title[400];
    memset(title, 'x', sizeof(title) - 1);
    title[sizeof(title) - 1] = '\0';
    struct hq_gh_check_run r = {.status = "completed",
                                .conclusion = "neutral",
                                .title = title,
                                .summary = "exit 78",
                                .text = "line 1\nline\t2\x01"};
    char *b = hq_gh_check_run_body(&r);
    REQUIRE(b != NULL);
    cJSON *o = cJSON_Parse(b);
    REQUIRE(o != NULL);
    CHECK(cJSON_GetObjectItem(o, "name") == NULL);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "conclusion")), "neutral");
    cJSON *out = cJSON_GetObjectItem(o, "output");
    CHECK_EQ(strlen(cJSON_GetStringValue(cJSON_GetObjectItem(out, "title"))),
             HQ_GH_CHECK_TITLE_CHARS);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(out, "summary")), "exit 78");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(out, "text")), "line 1\nline\t2\x01");
    cJSON_Delete(o);
    free(b);
}

HQ_TEST(text_that_fits_is_kept_whole_with_bad_bytes_replaced)
{
    const char in[] = "ok \xe2\x82\xac \xff\0after";
    size_t n = hq_gh_check_text(in, sizeof(in) - 1, false, text);
    CHECK_EQ(n, strlen(text));
    CHECK_STR(text, "ok \xe2\x82\xac ??after");
}

HQ_TEST(text_over_the_cap_is_cut_at_65535_with_the_note)
{
    size_t len = 200000;
    char *in = malloc(len + 1);
    REQUIRE(in != NULL);
    memset(in, 'a', len);
    in[len] = '\0';
    size_t n = hq_gh_check_text(in, len, false, text);
    CHECK_EQ(n, HQ_GH_CHECK_TEXT_MAX);
    CHECK_EQ(strlen(text), HQ_GH_CHECK_TEXT_MAX);
    size_t note = strlen(HQ_GH_CHECK_CUT_NOTE);
    CHECK_STR(text + n - note, HQ_GH_CHECK_CUT_NOTE);
    CHECK_EQ(text[n - note - 1], 'a');
    /* exactly the cap, and the capture says nothing was dropped: whole */
    CHECK_EQ(hq_gh_check_text(in + len - HQ_GH_CHECK_TEXT_MAX, HQ_GH_CHECK_TEXT_MAX, false, text),
             HQ_GH_CHECK_TEXT_MAX);
    CHECK(strstr(text, "[hookq") == NULL);
    /* short, but the capture dropped bytes: the note says so */
    CHECK_EQ(hq_gh_check_text(in + len - 5, 5, true, text), 5 + note);
    free(in);
}

HQ_TEST(text_cut_never_splits_a_character)
{
    /* 3-byte characters: the cut lands inside one unless it backs off */
    size_t len = 3 * 30000;
    char *in = malloc(len + 1);
    REQUIRE(in != NULL);
    for (size_t i = 0; i < len; i += 3)
        memcpy(in + i, "\xe2\x82\xac", 3);
    in[len] = '\0';
    size_t n = hq_gh_check_text(in, len, false, text);
    size_t note = strlen(HQ_GH_CHECK_CUT_NOTE);
    CHECK(n <= HQ_GH_CHECK_TEXT_MAX);
    CHECK_EQ((n - note) % 3, 0);
    CHECK_STR(text + n - note, HQ_GH_CHECK_CUT_NOTE);
    free(in);
}

HQ_TEST(check_run_answer_gives_its_id)
{
    uint64_t id = 9;
    const char *ok = "{\"id\":4000000001,\"status\":\"in_progress\"}";
    CHECK_EQ(hq_gh_answer_check_run(ok, strlen(ok), &id), 0);
    CHECK_EQ(id, 4000000001ull);
    static const char *const bad[] = {"{}",
                                      "{\"id\":0}",
                                      "{\"id\":-3}",
                                      "{\"id\":1.5}",
                                      "{\"id\":\"12\"}",
                                      "[1]",
                                      "{\"id\":1e300}",
                                      "",
                                      "{\"id\":"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_EQ(hq_gh_answer_check_run(bad[i], strlen(bad[i]), &id), HQ_EPARSE);
        CHECK_EQ(id, 0);
    }
}

HQ_TEST(listing_finds_the_unfinished_run_of_the_delivery)
{
    const char *list =
        "{\"total_count\":4,\"check_runs\":["
        "{\"id\":1,\"external_id\":\"d1\",\"status\":\"completed\",\"app\":{\"id\":42}},"
        "{\"id\":2,\"external_id\":\"d1\",\"status\":\"in_progress\",\"app\":{\"id\":7}},"
        "{\"id\":\"x\",\"external_id\":\"d1\",\"status\":\"in_progress\"},"
        "{\"id\":3,\"external_id\":\"d2\",\"status\":\"in_progress\",\"app\":{\"id\":42}},"
        "{\"id\":4,\"external_id\":\"d1\",\"status\":\"in_progress\",\"app\":{\"id\":42}}]}";
    uint64_t id = 0;
    size_t listed = 0;
    uint64_t total = 0;
    CHECK_EQ(hq_gh_answer_check_runs_find(list, strlen(list), "d1", 42, &id, &listed, &total), 0);
    CHECK_EQ(id, 4); /* not the completed one (a life before a replay), not App 7's */
    CHECK_EQ(listed, 5);
    CHECK_EQ(total, 4); /* as the answer says */
    CHECK_EQ(hq_gh_answer_check_runs_find(list, strlen(list), "d9", 42, &id, &listed, &total), 0);
    CHECK_EQ(id, 0);
    const char *empty = "{\"total_count\":0,\"check_runs\":[]}";
    CHECK_EQ(hq_gh_answer_check_runs_find(empty, strlen(empty), "d1", 42, &id, &listed, &total), 0);
    CHECK_EQ(id, 0);
    CHECK_EQ(listed, 0);
    const char *bad = "{\"total_count\":0}";
    CHECK_EQ(hq_gh_answer_check_runs_find(bad, strlen(bad), "d1", 42, &id, &listed, &total),
             HQ_EPARSE);
    CHECK_EQ(hq_gh_answer_check_runs_find("[]", 2, "d1", 42, &id, &listed, &total), HQ_EPARSE);
}

int main(int argc, char **argv)
{
    return hqtest_main(argc, argv);
}
