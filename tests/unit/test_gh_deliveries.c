/*
 * test_gh_deliveries: what catch-up reads from GitHub's delivery log: the
 * entries of a list page (usable or skipped), one delivery's hook id and
 * payload, and the rel="next" URL of a Link header.
 */
#include "gh_deliveries.h"
#include "hqtest.h"

#include <stdlib.h>
#include <string.h>

#define ITEM(extra)                                                                                \
    "{\"id\":12345678,\"guid\":\"0b989ba4-242f-11e5-81e1-c7b6966d2516\",\"delivered_at\":"         \
    "\"2019-06-03T00:57:16Z\",\"redelivery\":false,\"status_code\":502,\"event\":\"push\"" extra   \
    "}"

HQ_TEST(list_entries_usable_or_skipped)
{
    static const struct {
        const char *item;
        bool usable;
    } cases[] = {
        {ITEM(",\"action\":null,\"installation_id\":null,\"repository_id\":null"), true},
        {ITEM(",\"action\":\"opened\",\"installation_id\":123,\"repository_id\":456"), true},
        {ITEM(""), true},
        {"{\"guid\":\"g\",\"delivered_at\":\"2019-06-03T00:57:16Z\",\"status_code\":0,"
         "\"event\":\"push\"}",
         false},                   /* no id */
        {ITEM(",\"id\":0"), true}, /* cJSON keeps the first "id" */
        {"{\"id\":1,\"guid\":\"bad guid\",\"delivered_at\":\"2019-06-03T00:57:16Z\","
         "\"status_code\":0,\"event\":\"push\"}",
         false},
        {"{\"id\":1,\"guid\":\"g\",\"delivered_at\":\"yesterday\",\"status_code\":0,"
         "\"event\":\"push\"}",
         false},
        {"{\"id\":1,\"guid\":\"g\",\"delivered_at\":\"2019-06-03T00:57:16Z\","
         "\"status_code\":\"200\",\"event\":\"push\"}",
         false},
        {"{\"id\":1.5,\"guid\":\"g\",\"delivered_at\":\"2019-06-03T00:57:16Z\","
         "\"status_code\":200,\"event\":\"push\"}",
         false},
        {"{\"id\":1,\"guid\":\"g\",\"delivered_at\":\"2019-06-03T00:57:16Z\","
         "\"status_code\":200,\"event\":\"pu sh\"}",
         false},
        {ITEM(",\"repository_id\":-4"), false},
        {ITEM(",\"action\":7"), false},
        {"42", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char body[1024];
        snprintf(body, sizeof(body), "[%s]", cases[i].item);
        struct hq_gh_delivery *items = NULL;
        size_t n = 0, skipped = 0;
        CHECK_EQ(hq_gh_deliveries_page(body, strlen(body), &items, &n, 10, &skipped), 0);
        CHECK_EQ(n, cases[i].usable ? 1u : 0u);
        CHECK_EQ(skipped, cases[i].usable ? 0u : 1u);
        if (n == 1) {
            CHECK_EQ(items[0].id, 12345678);
            CHECK_STR(items[0].guid, "0b989ba4-242f-11e5-81e1-c7b6966d2516");
            CHECK_EQ(items[0].status_code, 502);
            CHECK(!hq_gh_delivery_succeeded(&items[0]));
            CHECK_EQ(items[0].delivered_at_ms, 1559523436000LL);
        }
        free(items);
    }
}

HQ_TEST(list_page_must_be_an_array_and_respects_max)
{
    struct hq_gh_delivery *items = NULL;
    size_t n = 0, skipped = 0;
    CHECK_EQ(hq_gh_deliveries_page("{\"message\":\"x\"}", 15, &items, &n, 10, &skipped), HQ_EPARSE);
    CHECK_EQ(hq_gh_deliveries_page("[1,", 3, &items, &n, 10, &skipped), HQ_EPARSE);
    const char *two = "[" ITEM("") "," ITEM(",\"status_code\":204") "]";
    CHECK_EQ(hq_gh_deliveries_page(two, strlen(two), &items, &n, 1, &skipped), 0);
    CHECK_EQ(n, 1);
    CHECK_EQ(skipped, 1);
    CHECK_EQ(hq_gh_deliveries_page(two, strlen(two), &items, &n, 3, &skipped), 0);
    CHECK_EQ(n, 3);
    free(items);
}

HQ_TEST(success_is_2xx_and_3xx)
{
    struct hq_gh_delivery d = {0};
    int codes[] = {0, 199, 200, 202, 302, 399, 400, 502};
    bool ok[] = {false, false, true, true, true, true, false, false};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        d.status_code = codes[i];
        CHECK_EQ(hq_gh_delivery_succeeded(&d), ok[i]);
    }
}

HQ_TEST(delivery_detail_hook_id_and_payload)
{
    static const struct {
        const char *body;
        int rc;
        uint64_t hook_id;
        const char *payload;
    } cases[] = {
        {"{\"request\":{\"headers\":{\"X-GitHub-Hook-ID\":\"42\"},\"payload\":{\"a\":1}}}", 0, 42,
         "{\"a\":1}"},
        {"{\"request\":{\"headers\":{\"x-github-hook-id\":\"7\"},\"payload\":{}}}", 0, 7, "{}"},
        {"{\"request\":{\"headers\":{\"X-GITHUB-HOOK-ID\":9},\"payload\":{\"b\":[true]}}}", 0, 9,
         "{\"b\":[true]}"},
        {"{\"request\":{\"payload\":{}}}", 0, 0, "{}"},
        {"{\"request\":{\"headers\":{\"X-GitHub-Hook-ID\":\"x\"},\"payload\":{}}}", HQ_EPARSE, 0,
         NULL},
        {"{\"request\":{\"headers\":{},\"payload\":null}}", HQ_EPARSE, 0, NULL},
        {"{\"request\":{\"headers\":{},\"payload\":\"{}\"}}", HQ_EPARSE, 0, NULL},
        {"{\"request\":null}", HQ_EPARSE, 0, NULL},
        {"[]", HQ_EPARSE, 0, NULL},
        {"", HQ_EPARSE, 0, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct hq_gh_delivery_detail d;
        const char *why = NULL;
        int rc = hq_gh_delivery_detail_parse(cases[i].body, strlen(cases[i].body), &d, &why);
        CHECK_EQ(rc, cases[i].rc);
        if (rc == 0) {
            CHECK_EQ(d.hook_id, cases[i].hook_id);
            CHECK_STR(d.payload, cases[i].payload);
            CHECK_EQ(d.payload_len, strlen(cases[i].payload));
        } else {
            CHECK(why != NULL);
            CHECK(d.payload == NULL);
        }
        hq_gh_delivery_detail_free(&d);
    }
}

HQ_TEST(link_next_is_found_verbatim)
{
    static const struct {
        const char *link;
        int rc;
        const char *next;
    } cases[] = {
        {"<https://api.github.com/app/hook/deliveries?per_page=100&cursor=v1_1>; rel=\"next\", "
         "<https://api.github.com/app/hook/deliveries?per_page=100>; rel=\"first\"",
         0, "https://api.github.com/app/hook/deliveries?per_page=100&cursor=v1_1"},
        {"<https://a/first>; rel=\"first\", <https://a/n>; rel=next", 0, "https://a/n"},
        {"<https://a/x>; title=\"a, b\"; rel=\"prev next\"", 0, "https://a/x"},
        {"<https://a/x>; REL=\"NEXT\"", 0, "https://a/x"},
        {"<https://a/first>; rel=\"first\"", HQ_ENOTFOUND, ""},
        {"<https://a/x>; rel=\"nextpage\"", HQ_ENOTFOUND, ""},
        {"", HQ_ENOTFOUND, ""},
        {"https://a/x; rel=\"next\"", HQ_EPARSE, ""},
        {"<https://a/x; rel=\"next\"", HQ_EPARSE, ""},
        {"<https://a/x>; rel=\"next", HQ_EPARSE, ""},
        {"<https://a/"
         "this-one-is-far-too-long-for-the-buffer-given-to-it-by-the-test-of-ninety-six-bytes-in-"
         "all>; rel=\"next\"",
         HQ_ETOOBIG, ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[96];
        CHECK_EQ(hq_gh_link_next(cases[i].link, strlen(cases[i].link), out, sizeof(out)),
                 cases[i].rc);
        if (cases[i].rc == 0 || cases[i].rc == HQ_ENOTFOUND)
            CHECK_STR(out, cases[i].next);
    }
}

int main(int argc, char **argv)
{
    return hqtest_main(argc, argv);
}
