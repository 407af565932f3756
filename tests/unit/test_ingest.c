/*
 * test_ingest: the receiver's request parsing (common/ingest.h) — header
 * values, content types, form-urlencoded payloads, routing-key extraction,
 * event lists.
 */
#include "hqtest.h"
#include "ingest.h"
#include "route_ref.h"

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

/* A payload far bigger than any buffer of the scanner: it keeps nothing but
 * the routing members. */
HQ_TEST(route_big_payload)
{
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

static int route(const char *json, struct ingest_route *r)
{
    const char *why = NULL;
    int rc = ingest_route(json, strlen(json), r, &why);
    CHECK(rc == 0 || why != NULL);
    int ref_rc;
    CHECK(route_agrees(json, strlen(json), rc, r, &ref_rc));
    return rc;
}

/* Escapes decode as JSON says, in names as in values; the first member of
 * a name counts, in the root and in the nested objects alike. */
HQ_TEST(route_scanner_decodes_and_takes_the_first)
{
    struct ingest_route r;
    CHECK_EQ(route("{\"\\u0061ction\":\"op\\u00e9ned\\n\",\"repository\":{\"id\":7,"
                   "\"full_name\":\"o\\/r\\ud83d\\ude00\"}}",
                   &r),
             0);
    CHECK_STR(r.action, "op\xc3\xa9ned\n");
    CHECK_STR(r.repo_name, "o/r\xf0\x9f\x98\x80");
    CHECK_EQ(route("{\"action\":\"a\",\"action\":5,\"repository\":{\"id\":1,\"id\":2,"
                   "\"full_name\":\"x/y\"},\"repository\":7}",
                   &r),
             0);
    CHECK_STR(r.action, "a");
    CHECK_EQ(r.repo_id, 1);
    /* names deeper down are not the root's */
    CHECK_EQ(route("{\"sender\":{\"repository\":{\"id\":3,\"full_name\":\"p/q\"},\"action\":"
                   "\"x\"},\"repository\":{\"full_name\":\"o/r\",\"owner\":{\"id\":9},\"id\":4}}",
                   &r),
             0);
    CHECK_EQ(r.repo_id, 4);
    CHECK_STR(r.action, "");
    /* every JSON value kind in between */
    CHECK_EQ(route(" \r\n{\"a\":[true,false,null,-0.5e+3,\"\\\"\",[],{}],\"repository\":{\"id\":"
                   "7,\"full_name\":\"o/r\"}}\t",
                   &r),
             0);
    CHECK(r.has_repository);
    /* a byte order mark, as cJSON allows */
    CHECK_EQ(route("\xEF\xBB\xBF{\"repository\":{\"id\":7,\"full_name\":\"o/r\"}}", &r), 0);
}

/* What RFC 8259 refuses is refused, where cJSON was lenient too. */
HQ_TEST(route_scanner_is_strict_json)
{
    static const char *const bad[] = {
        "{\"repository\":{\"id\":+7,\"full_name\":\"o/r\"}}",
        "{\"repository\":{\"id\":07,\"full_name\":\"o/r\"}}",
        "{\"repository\":{\"id\":.7,\"full_name\":\"o/r\"}}",
        "{\"repository\":{\"id\":7.,\"full_name\":\"o/r\"}}",
        "{\"repository\":{\"id\":7e,\"full_name\":\"o/r\"}}",
        "{\"repository\":{\"id\":7,\"full_name\":\"o\tr\"}}",
        "{\"repository\":{\"id\":7,\"full_name\":\"o/r\\u0000x\"}}",
        "{\"action\\u0000x\":\"a\"}",
        "{\"a\":\"\\ud83d\"}",
        "{\"a\":\"\\ude00\"}",
        "{\"a\":\"\\ud83d\\u0041\"}",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"\\u12\"}",
        "{\"a\":tru}",
        "{\"a\":nul}",
        "{\"a\":1,}",
        "{\"a\":[1,]}",
        "{,}",
        "{\"a\" 1}",
        "{1:2}",
        "\x01{}",
        "{}\x0b",
        "{\"a\":\"unterminated}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct ingest_route r;
        if (route(bad[i], &r) != HQ_EPARSE)
            fprintf(stderr, "  accepted: %s\n", bad[i]);
        CHECK_EQ(route(bad[i], &r), HQ_EPARSE);
    }
}

/* Nesting is bounded (512 levels), and a number longer than cJSON reads
 * (63 characters) is refused as cJSON refuses it. */
HQ_TEST(route_scanner_bounds)
{
    char doc[4096];
    for (int depth = 511; depth <= 513; depth++) {
        size_t n = 0;
        n += (size_t)snprintf(doc + n, sizeof(doc) - n, "{\"a\":");
        for (int i = 1; i < depth; i++)
            doc[n++] = '[';
        for (int i = 1; i < depth; i++)
            doc[n++] = ']';
        doc[n++] = '}';
        doc[n] = '\0';
        struct ingest_route r;
        CHECK_EQ(route(doc, &r), depth <= 512 ? 0 : HQ_EPARSE);
    }
    char num[100];
    for (int len = 62; len <= 64; len++) {
        int n = snprintf(num, sizeof(num), "{\"a\":");
        for (int i = 0; i < len; i++)
            num[n++] = i == 0 ? '1' : '0';
        num[n++] = '}';
        num[n] = '\0';
        struct ingest_route r;
        CHECK_EQ(route(num, &r), len <= 63 ? 0 : HQ_EPARSE);
    }
}

/* GitHub-shaped payloads of every size route as the cJSON reference does. */
HQ_TEST(route_scanner_agrees_with_cjson_on_payloads)
{
    static const char *const events[] = {"push", "pull_request", "check_suite", "issues"};
    char *buf = malloc(1 << 20);
    REQUIRE(buf != NULL);
    for (unsigned i = 0; i < 200; i++) {
        /* nested objects, arrays, escapes and numbers, growing */
        size_t n = (size_t)snprintf(buf, 1 << 10,
                                    "{\"ref\":\"refs/heads/m\\u00e9\",\"action\":\"%s\","
                                    "\"installation\":{\"id\":%u,\"node_id\":\"x\"},\"commits\":[",
                                    events[i % 4], i + 1);
        for (unsigned c = 0; c < i * 3; c++)
            n += (size_t)snprintf(
                buf + n, 256,
                "{\"id\":\"%040u\",\"message\":\"fix \\\"%u\\\"\\n\",\"d\":%u.5e-1,"
                "\"added\":[],\"ok\":true},",
                c, c, c);
        n += (size_t)snprintf(buf + n, 256,
                              "null],\"repository\":{\"id\":%u,\"full_name\":\"o%u/r\","
                              "\"owner\":{\"id\":1}}}",
                              1000 + i, i);
        struct ingest_route r;
        const char *why = NULL;
        CHECK_EQ(ingest_route(buf, n, &r, &why), 0);
        struct ingest_route want;
        CHECK_EQ(route_ref(buf, n, &want), 0);
        CHECK(memcmp(&r, &want, sizeof(r)) == 0);
    }
    free(buf);
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
