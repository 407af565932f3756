/* test_dynbuf: the capped growable buffer and the snprintf truncation check. */
#include "dynbuf.h"
#include "hqtest.h"

#include <stdint.h>

HQ_TEST(empty_buffer_reads_as_empty_string)
{
    struct hq_dynbuf b;
    hq_dynbuf_init(&b, 16);
    CHECK_STR(hq_dynbuf_str(&b), "");
    CHECK_EQ(hq_dynbuf_len(&b), 0);
    size_t len = 99;
    CHECK(hq_dynbuf_take(&b, &len) == NULL);
    CHECK_EQ(len, 0);
    hq_dynbuf_free(&b);
}

HQ_TEST(grows_to_its_cap_and_not_a_byte_more)
{
    struct hq_dynbuf b;
    hq_dynbuf_init(&b, 1000);
    char chunk[100];
    memset(chunk, 'x', sizeof(chunk));
    for (int i = 0; i < 10; i++)
        CHECK_EQ(hq_dynbuf_add(&b, chunk, sizeof(chunk)), 0);
    CHECK_EQ(hq_dynbuf_len(&b), 1000);
    CHECK(b.cap <= 1001);
    /* Over the cap: refused, and the buffer is as it was. */
    CHECK_EQ(hq_dynbuf_add(&b, "y", 1), HQ_ETOOBIG);
    CHECK_EQ(hq_dynbuf_len(&b), 1000);
    CHECK_EQ(hq_dynbuf_str(&b)[1000], '\0');
    CHECK_EQ(hq_dynbuf_str(&b)[999], 'x');
    hq_dynbuf_free(&b);
}

HQ_TEST(a_refused_add_leaves_the_contents)
{
    struct hq_dynbuf b;
    hq_dynbuf_init(&b, 8);
    CHECK_EQ(hq_dynbuf_addstr(&b, "abc"), 0);
    CHECK_EQ(hq_dynbuf_addstr(&b, "defghi"), HQ_ETOOBIG);
    CHECK_STR(hq_dynbuf_str(&b), "abc");
    CHECK_EQ(hq_dynbuf_printf(&b, "%s", "123456"), HQ_ETOOBIG);
    CHECK_STR(hq_dynbuf_str(&b), "abc");
    CHECK_EQ(hq_dynbuf_printf(&b, "%d%s", 42, "!"), 0);
    CHECK_STR(hq_dynbuf_str(&b), "abc42!");
    CHECK_EQ(hq_dynbuf_reserve(&b, 3), HQ_ETOOBIG);
    CHECK_EQ(hq_dynbuf_reserve(&b, 2), 0);
    CHECK_EQ(hq_dynbuf_reserve(&b, SIZE_MAX), HQ_ETOOBIG);
    hq_dynbuf_free(&b);
}

HQ_TEST(cap_for_is_the_capacity_reserve_leaves)
{
    struct hq_dynbuf b;
    hq_dynbuf_init(&b, 5000);
    static const size_t steps[] = {0, 1, 255, 300, 1000, 4999};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        size_t want = hq_dynbuf_cap_for(&b, steps[i]);
        CHECK(want >= steps[i] + 1);
        CHECK(want <= 5001);
        CHECK_EQ(hq_dynbuf_reserve(&b, steps[i]), 0);
        CHECK_EQ(b.cap, want);
    }
    /* Room already there: the capacity stays. */
    CHECK_EQ(hq_dynbuf_cap_for(&b, 10), b.cap);
    /* Past the cap: 0, as reserve refuses. */
    CHECK_EQ(hq_dynbuf_cap_for(&b, 5001), 0);
    CHECK_EQ(hq_dynbuf_reserve(&b, 5001), HQ_ETOOBIG);
    hq_dynbuf_free(&b);
    /* A buffer capped at its exact size is allocated exactly (and its NUL). */
    hq_dynbuf_init(&b, 20000);
    CHECK_EQ(hq_dynbuf_cap_for(&b, 20000), 20001);
    hq_dynbuf_free(&b);
}

HQ_TEST(binary_data_keeps_its_nuls_and_stays_terminated)
{
    struct hq_dynbuf b;
    hq_dynbuf_init(&b, 64);
    CHECK_EQ(hq_dynbuf_add(&b, "a\0b", 3), 0);
    CHECK_EQ(hq_dynbuf_len(&b), 3);
    CHECK(memcmp(hq_dynbuf_str(&b), "a\0b\0", 4) == 0);
    hq_dynbuf_truncate(&b, 1);
    CHECK_STR(hq_dynbuf_str(&b), "a");
    hq_dynbuf_reset(&b);
    CHECK_STR(hq_dynbuf_str(&b), "");
    CHECK_EQ(hq_dynbuf_addstr(&b, "again"), 0);
    size_t len = 0;
    char *m = hq_dynbuf_take(&b, &len);
    CHECK_STR(m, "again");
    CHECK_EQ(len, 5);
    CHECK_EQ(hq_dynbuf_len(&b), 0);
    free(m);
    hq_dynbuf_free(&b);
}

HQ_TEST(printf_grows_past_the_first_allocation)
{
    struct hq_dynbuf b;
    hq_dynbuf_init(&b, 1 << 20);
    for (int i = 0; i < 1000; i++)
        CHECK_EQ(hq_dynbuf_printf(&b, "%04d,", i), 0);
    CHECK_EQ(hq_dynbuf_len(&b), 5000);
    CHECK(strncmp(hq_dynbuf_str(&b) + 4995, "0999,", 5) == 0);
    hq_dynbuf_free(&b);
}

HQ_TEST(snprintf_says_when_it_cut)
{
    static const struct {
        size_t size;
        const char *in;
        int rc;
        const char *out;
    } rows[] = {
        {8, "1234567", 0, "1234567"},
        {8, "12345678", HQ_ETOOBIG, "1234567"},
        {1, "x", HQ_ETOOBIG, ""},
        {4, "", 0, ""},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char dst[16];
        CHECK_EQ(hq_snprintf(dst, rows[i].size, "%s", rows[i].in), rows[i].rc);
        CHECK_STR(dst, rows[i].out);
    }
}

int main(int argc, char **argv)
{
    return hqtest_main(argc, argv);
}
