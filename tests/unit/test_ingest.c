/*
 * test_ingest: the receiver's request parsing (common/ingest.h) — header
 * values, content types, form-urlencoded payloads, routing-key extraction,
 * event lists.
 */
#include "hqtest.h"
#include "ingest.h"

HQ_TEST(content_types)
{
    static const struct {
        const char *value;
        int rc;
        enum ingest_ctype type;
    } cases[] = {
        {"application/json", 0, INGEST_CTYPE_JSON},
        {"application/json; charset=utf-8", 0, INGEST_CTYPE_JSON},
        {"Application/JSON", 0, INGEST_CTYPE_JSON},
        {"application/json ;charset=utf-8", 0, INGEST_CTYPE_JSON},
        {"application/x-www-form-urlencoded", 0, INGEST_CTYPE_FORM},
        {"application/x-www-form-urlencoded;charset=UTF-8", 0, INGEST_CTYPE_FORM},
        {"application/jsonp", HQ_EPARSE, 0},
        {"application/json-seq", HQ_EPARSE, 0},
        {"text/plain", HQ_EPARSE, 0},
        {"multipart/form-data; boundary=x", HQ_EPARSE, 0},
        {"application/json x", HQ_EPARSE, 0},
        {"", HQ_EPARSE, 0},
        {NULL, HQ_EPARSE, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum ingest_ctype t = 0;
        int rc = ingest_content_type(cases[i].value, &t);
        if (rc != cases[i].rc)
            fprintf(stderr, "  case %zu: '%s'\n", i, cases[i].value ? cases[i].value : "(null)");
        CHECK_EQ(rc, cases[i].rc);
        if (rc == 0)
            CHECK_EQ(t, cases[i].type);
    }
}

HQ_TEST(event_and_delivery_headers)
{
    CHECK_EQ(ingest_event_name("push"), 0);
    CHECK_EQ(ingest_event_name("pull_request_review_comment"), 0);
    CHECK_EQ(ingest_event_name("ping"), 0);
    CHECK_EQ(ingest_event_name(""), HQ_EPARSE);
    CHECK_EQ(ingest_event_name(NULL), HQ_EPARSE);
    CHECK_EQ(ingest_event_name("push event"), HQ_EPARSE);
    CHECK_EQ(ingest_event_name("push\"x"), HQ_EPARSE);
    char longname[HQ_MAX_EVENT_LEN + 2];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    CHECK_EQ(ingest_event_name(longname), HQ_EPARSE);
    longname[HQ_MAX_EVENT_LEN] = '\0';
    CHECK_EQ(ingest_event_name(longname), 0);

    CHECK_EQ(ingest_delivery_id("72d3162e-cc78-11e3-81ab-4c9367dc0958"), 0);
    CHECK_EQ(ingest_delivery_id(""), HQ_EPARSE);
    CHECK_EQ(ingest_delivery_id(NULL), HQ_EPARSE);
    CHECK_EQ(ingest_delivery_id("a b"), HQ_EPARSE);
    CHECK_EQ(ingest_delivery_id("a\"b"), HQ_EPARSE);
    CHECK_EQ(ingest_delivery_id("a\\b"), HQ_EPARSE);
    CHECK_EQ(ingest_delivery_id("\x7f"), HQ_EPARSE);
    char longid[HQ_MAX_DELIVERY_LEN + 2];
    memset(longid, 'd', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    CHECK_EQ(ingest_delivery_id(longid), HQ_EPARSE);
    longid[HQ_MAX_DELIVERY_LEN] = '\0';
    CHECK_EQ(ingest_delivery_id(longid), 0);
}

HQ_TEST(hook_id_and_length)
{
    uint64_t v = 99;
    CHECK_EQ(ingest_hook_id(NULL, &v), 0);
    CHECK_EQ(v, 0);
    CHECK_EQ(ingest_hook_id("", &v), 0);
    CHECK_EQ(v, 0);
    CHECK_EQ(ingest_hook_id("123456789", &v), 0);
    CHECK_EQ(v, 123456789);
    CHECK_EQ(ingest_hook_id("9223372036854775807", &v), 0);
    CHECK_EQ(ingest_hook_id("9223372036854775808", &v), HQ_EPARSE);
    CHECK_EQ(ingest_hook_id("-1", &v), HQ_EPARSE);
    CHECK_EQ(ingest_hook_id("12a", &v), HQ_EPARSE);
    CHECK_EQ(ingest_hook_id(" 1", &v), HQ_EPARSE);

    CHECK_EQ(ingest_content_length("26214400", &v), 0);
    CHECK_EQ(v, 26214400);
    CHECK_EQ(ingest_content_length("18446744073709551615", &v), 0);
    CHECK_EQ(ingest_content_length("18446744073709551616", &v), HQ_EPARSE);
    CHECK_EQ(ingest_content_length("", &v), HQ_EPARSE);
    CHECK_EQ(ingest_content_length("+5", &v), HQ_EPARSE);
}

HQ_TEST(form_payload_table)
{
    static const struct {
        const char *body;
        int rc;
        const char *want;
    } cases[] = {
        {"payload=%7B%22a%22%3A1%7D", 0, "{\"a\":1}"},
        {"payload=a+b+c", 0, "a b c"},
        {"payload=%2B%25%26%3D", 0, "+%&="},
        {"x=1&payload=%7b%7d&y=2", 0, "{}"}, /* lower-case hex, other fields */
        {"p%61yload=ok", 0, "ok"},           /* encoded key */
        {"payload=", 0, ""},
        {"payload", 0, ""},
        {"payload=a=b", 0, "a=b"},
        {"other=%zz&payload=1", 0, "1"}, /* other fields are not checked */
        {"&&payload=1&&", 0, "1"},
        {"payload=%", HQ_EPARSE, NULL}, /* bad escapes */
        {"payload=%4", HQ_EPARSE, NULL},
        {"payload=%4g", HQ_EPARSE, NULL},
        {"payload=%%41", HQ_EPARSE, NULL},
        {"", HQ_EPARSE, NULL}, /* missing */
        {"payloads=1", HQ_EPARSE, NULL},
        {"Payload=1", HQ_EPARSE, NULL},
        {"x=payload", HQ_EPARSE, NULL},
        {"payload=1&payload=2", HQ_EPARSE, NULL}, /* duplicate */
        {"payload=1&p%61yload=1", HQ_EPARSE, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *out = NULL;
        size_t len = 0;
        int rc = ingest_form_payload(cases[i].body, strlen(cases[i].body), &out, &len);
        if (rc != cases[i].rc)
            fprintf(stderr, "  case %zu: '%s' gave %d\n", i, cases[i].body, rc);
        CHECK_EQ(rc, cases[i].rc);
        if (rc == 0 && cases[i].want != NULL) {
            CHECK_STR(out, cases[i].want);
            CHECK_EQ(len, strlen(cases[i].want));
        } else {
            CHECK(out == NULL);
        }
        free(out);
    }
}

HQ_TEST(form_payload_binary_and_bounds)
{
    /* %00 decodes to a NUL inside the value; the length tells. */
    char *out = NULL;
    size_t len = 0;
    CHECK_EQ(ingest_form_payload("payload=a%00b", 13, &out, &len), 0);
    CHECK_EQ(len, 3);
    CHECK(out != NULL && out[1] == '\0' && out[2] == 'b');
    free(out);
    /* len bounds the body: the bytes after it are not read */
    CHECK_EQ(ingest_form_payload("payload=12345", 10, &out, &len), 0);
    CHECK_STR(out, "12");
    free(out);
    CHECK_EQ(ingest_form_payload(NULL, 0, &out, &len), HQ_EPARSE);
}

static void route_table_cases(void)
{
    static const struct {
        const char *json;
        int rc;
        bool has_repo;
        uint64_t repo_id;
        const char *name;
        uint64_t inst;
        const char *action;
    } cases[] = {
        {"{\"action\":\"opened\",\"repository\":{\"id\":1296269,\"full_name\":\"octocat/"
         "Hello-World\"},\"installation\":{\"id\":42}}",
         0, true, 1296269, "octocat/Hello-World", 42, "opened"},
        /* installation missing, no action (push) */
        {"{\"ref\":\"refs/heads/main\",\"repository\":{\"id\":7,\"full_name\":\"o/r\"}}", 0, true,
         7, "o/r", 0, ""},
        {"{\"installation\":null,\"action\":null,\"repository\":{\"id\":7,\"full_name\":\"o/r\"}}",
         0, true, 7, "o/r", 0, ""},
        /* largest exact id; numbers in exponent form are still integers */
        {"{\"repository\":{\"id\":9007199254740991,\"full_name\":\"o/r\"}}", 0, true,
         9007199254740991ull, "o/r", 0, ""},
        {"{\"repository\":{\"id\":1e3,\"full_name\":\"o/r\"}}", 0, true, 1000, "o/r", 0, ""},
        /* no repository: ignored, not an error */
        {"{\"zen\":\"Keep it logically awesome.\",\"hook_id\":1}", 0, false, 0, NULL, 0, NULL},
        {"{\"repository\":null}", 0, false, 0, NULL, 0, NULL},
        {"{}", 0, false, 0, NULL, 0, NULL},
        /* malformed */
        {"", HQ_EPARSE, false, 0, NULL, 0, NULL},
        {"{", HQ_EPARSE, false, 0, NULL, 0, NULL},
        {"[1,2]", HQ_EPARSE, false, 0, NULL, 0, NULL},
        {"\"repository\"", HQ_EPARSE, false, 0, NULL, 0, NULL},
        {"{\"repository\":[]}", HQ_EPARSE, false, 0, NULL, 0, NULL},
        {"{\"repository\":{\"full_name\":\"o/r\"}}", HQ_EPARSE, false, 0, NULL, 0, NULL},
        {"{\"repository\":{\"id\":\"7\",\"full_name\":\"o/r\"}}", HQ_EPARSE, false, 0, NULL, 0,
         NULL},
        {"{\"repository\":{\"id\":0,\"full_name\":\"o/r\"}}", HQ_EPARSE, false, 0, NULL, 0, NULL},
        {"{\"repository\":{\"id\":-5,\"full_name\":\"o/r\"}}", HQ_EPARSE, false, 0, NULL, 0, NULL},
        {"{\"repository\":{\"id\":1.5,\"full_name\":\"o/r\"}}", HQ_EPARSE, false, 0, NULL, 0, NULL},
        {"{\"repository\":{\"id\":9007199254740993,\"full_name\":\"o/r\"}}", HQ_EPARSE, false, 0,
         NULL, 0, NULL},
        {"{\"repository\":{\"id\":1e300,\"full_name\":\"o/r\"}}", HQ_EPARSE, false, 0, NULL, 0,
         NULL},
        {"{\"repository\":{\"id\":7}}", HQ_EPARSE, false, 0, NULL, 0, NULL},
        {"{\"repository\":{\"id\":7,\"full_name\":\"\"}}", HQ_EPARSE, false, 0, NULL, 0, NULL},
        {"{\"repository\":{\"id\":7,\"full_name\":7}}", HQ_EPARSE, false, 0, NULL, 0, NULL},
        {"{\"installation\":{\"id\":\"x\"},\"repository\":{\"id\":7,\"full_name\":\"o/r\"}}",
         HQ_EPARSE, false, 0, NULL, 0, NULL},
        {"{\"installation\":{},\"repository\":{\"id\":7,\"full_name\":\"o/r\"}}", HQ_EPARSE, false,
         0, NULL, 0, NULL},
        {"{\"action\":5,\"repository\":{\"id\":7,\"full_name\":\"o/r\"}}", HQ_EPARSE, false, 0,
         NULL, 0, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ingest_route r;
        const char *why = NULL;
        int rc = ingest_route(cases[i].json, strlen(cases[i].json), &r, &why);
        if (rc != cases[i].rc)
            fprintf(stderr, "  case %zu: '%s' gave %d\n", i, cases[i].json, rc);
        CHECK_EQ(rc, cases[i].rc);
        if (rc != 0) {
            CHECK(why != NULL);
            continue;
        }
        CHECK_EQ(r.has_repository, cases[i].has_repo);
        if (!cases[i].has_repo)
            continue;
        CHECK_EQ(r.repo_id, cases[i].repo_id);
        CHECK_STR(r.repo_name, cases[i].name);
        CHECK_EQ(r.installation_id, cases[i].inst);
        CHECK_STR(r.action, cases[i].action);
    }
}

HQ_TEST(route_table)
{
    route_table_cases();
}

/* The same table with cJSON on the per-thread arena, twice (the arena is
 * rewound between parses), and a payload too big for the arena. */
HQ_TEST(route_table_with_arena)
{
    ingest_init();
    route_table_cases();
    route_table_cases();
    size_t n = 2000000;
    char *big = malloc(n + 100);
    REQUIRE(big != NULL);
    size_t pos =
        (size_t)snprintf(big, 100, "{\"repository\":{\"id\":5,\"full_name\":\"o/r\"},\"l\":[");
    while (pos < n) {
        memcpy(big + pos, "{\"k\":1},", 8);
        pos += 8;
    }
    memcpy(big + pos, "1]}", 3);
    pos += 3;
    struct ingest_route r;
    const char *why;
    CHECK_EQ(ingest_route(big, pos, &r, &why), 0);
    CHECK_EQ(r.repo_id, 5);
    free(big);
}

HQ_TEST(route_length_caps)
{
    /* full_name at and over its cap; action over its cap */
    char json[1024];
    char name[HQ_MAX_REPO_NAME_LEN + 2];
    memset(name, 'n', sizeof(name) - 1);
    name[HQ_MAX_REPO_NAME_LEN] = '\0';
    struct ingest_route r;
    const char *why;
    int n = snprintf(json, sizeof(json), "{\"repository\":{\"id\":1,\"full_name\":\"%s\"}}", name);
    REQUIRE(n > 0 && (size_t)n < sizeof(json));
    CHECK_EQ(ingest_route(json, (size_t)n, &r, &why), 0);
    CHECK_EQ(strlen(r.repo_name), HQ_MAX_REPO_NAME_LEN);
    name[HQ_MAX_REPO_NAME_LEN] = 'n';
    name[HQ_MAX_REPO_NAME_LEN + 1] = '\0';
    n = snprintf(json, sizeof(json), "{\"repository\":{\"id\":1,\"full_name\":\"%s\"}}", name);
    REQUIRE(n > 0 && (size_t)n < sizeof(json));
    CHECK_EQ(ingest_route(json, (size_t)n, &r, &why), HQ_EPARSE);

    n = snprintf(json, sizeof(json),
                 "{\"action\":\"%065d\",\"repository\":{\"id\":1,\"full_name\":\"o/r\"}}", 0);
    REQUIRE(n > 0 && (size_t)n < sizeof(json));
    CHECK_EQ(ingest_route(json, (size_t)n, &r, &why), HQ_EPARSE);
}

HQ_TEST(route_respects_length)
{
    /* Valid JSON followed by garbage past len: only len bytes are parsed. */
    const char *json = "{\"repository\":{\"id\":3,\"full_name\":\"a/b\"}}GARBAGE";
    struct ingest_route r;
    const char *why;
    CHECK_EQ(ingest_route(json, strlen(json) - 7, &r, &why), 0);
    CHECK_EQ(r.repo_id, 3);
    CHECK_EQ(ingest_route(json, strlen(json), &r, &why), HQ_EPARSE);
    CHECK_EQ(ingest_route("{} \r\n\t", 6, &r, &why), 0);
    CHECK_EQ(ingest_route("{} {}", 5, &r, &why), HQ_EPARSE);
    CHECK_EQ(ingest_route("{}\0", 3, &r, &why), HQ_EPARSE);
}

HQ_TEST(event_lists)
{
    char **names = NULL;
    bool all = false;
    CHECK_EQ(ingest_events_parse("push,pull_request", &names, &all), 0);
    CHECK(!all);
    CHECK(ingest_events_match(names, all, "push"));
    CHECK(ingest_events_match(names, all, "pull_request"));
    CHECK(!ingest_events_match(names, all, "issues"));
    CHECK(!ingest_events_match(names, all, "pus"));
    ingest_events_free(names);

    CHECK_EQ(ingest_events_parse(" push , check_suite ", &names, &all), 0);
    CHECK(ingest_events_match(names, all, "check_suite"));
    ingest_events_free(names);

    CHECK_EQ(ingest_events_parse("*", &names, &all), 0);
    CHECK(all);
    CHECK(ingest_events_match(names, all, "anything"));
    ingest_events_free(names);

    CHECK_EQ(ingest_events_parse("", &names, &all), HQ_ECONFIG);
    CHECK_EQ(ingest_events_parse(",,", &names, &all), HQ_ECONFIG);
    CHECK_EQ(ingest_events_parse("push,bad name", &names, &all), HQ_ECONFIG);
    CHECK_EQ(ingest_events_parse("push;pull", &names, &all), HQ_ECONFIG);
    CHECK(names == NULL);
}

int main(int argc, char **argv)
{
    return hqtest_main(argc, argv);
}
