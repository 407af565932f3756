/* test_utf8: cutting to N characters on UTF-8 boundaries (table-driven). */
#include "hqtest.h"
#include "utf8.h"

HQ_TEST(sequence_lengths)
{
    static const struct {
        const char *in;
        size_t len;
    } rows[] = {{"a", 1},
                {"\xc3\xa9", 2},
                {"\xe2\x82\xac", 3},
                {"\xf0\x9f\x98\x80", 4},
                {"\x80", 0},
                {"\xc0\xaf", 0} /* overlong */,
                {"\xe0\x80\xaf", 0},
                {"\xed\xa0\x80", 0} /* surrogate */,
                {"\xf4\x90\x80\x80", 0} /* past U+10FFFF */,
                {"\xe2\x82", 0} /* truncated */,
                {"\xf8\x88\x80\x80\x80", 0}};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        if (hq_utf8_seq_len((const unsigned char *)rows[i].in) != rows[i].len)
            fprintf(stderr, "  row %zu\n", i);
        CHECK_EQ(hq_utf8_seq_len((const unsigned char *)rows[i].in), rows[i].len);
    }
}

HQ_TEST(cuts)
{
    static const struct {
        const char *in;
        size_t max;
        bool first_line;
        char ctl;
        const char *out;
    } rows[] = {
        {"hello", 3, false, ' ', "hel"},
        {"\xc3\xa9\xc3\xa9\xc3\xa9", 2, false, ' ', "\xc3\xa9\xc3\xa9"},
        {"one\ntwo", 140, true, '?', "one"},
        {"one\r\ntwo", 140, true, '?', "one"},
        {"one\ntwo", 140, false, ' ', "one two"},
        {"tab\there", 140, false, ' ', "tab here"},
        {"bad \xff\x01 bytes", 140, true, '?', "bad ?? bytes"},
        {"cut \xe2\x82", 140, false, ' ', "cut ??"},
        {"", 140, false, ' ', ""},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char out[64];
        hq_utf8_cut(rows[i].in, rows[i].max, rows[i].first_line, rows[i].ctl, out, sizeof(out));
        CHECK_STR(out, rows[i].out);
    }
    char small[4];
    hq_utf8_cut("\xe2\x82\xac\xe2\x82\xac", 10, false, ' ', small, sizeof(small));
    CHECK_STR(small, "\xe2\x82\xac"); /* the second character does not fit: not split */
}

int main(int argc, char **argv)
{
    return hqtest_main(argc, argv);
}
