/*
 * test_pacing: the per-installation windows (per minute, per hour), the
 * primary-limit reserve, blocks from GitHub's rate limits, the secondary
 * streak, and that pacing off lets everything through.
 */
#include "hqtest.h"
#include "pacing.h"

#include <stdint.h>

#define T0 1700000000000LL

static hq_pacing *make(bool enabled, unsigned per_minute, unsigned per_hour, long reserve)
{
    struct hq_pacing_opts o = {enabled, per_minute, per_hour, reserve};
    hq_pacing *p = NULL;
    REQUIRE(hq_pacing_create(&o, &p) == 0);
    return p;
}

static int64_t ask(hq_pacing *p, uint64_t inst, bool content, int64_t now)
{
    int64_t at = -1;
    REQUIRE(hq_pacing_acquire(p, inst, content, now, &at) == 0);
    return at;
}

HQ_TEST(per_minute_window)
{
    hq_pacing *p = make(true, 5, 500, 0);
    for (int i = 0; i < 5; i++)
        CHECK_EQ(ask(p, 1, true, T0 + i * 1000), 0);
    /* the sixth in the same minute waits until the first is 60 s old */
    CHECK_EQ(ask(p, 1, true, T0 + 5000), T0 + 60000);
    CHECK_EQ(ask(p, 1, true, T0 + 59999), T0 + 60000);
    /* another installation is not affected; neither are non-content requests */
    CHECK_EQ(ask(p, 2, true, T0 + 5000), 0);
    CHECK_EQ(ask(p, 1, false, T0 + 5000), 0);
    /* a refused request took no slot: at 60 s exactly one more may go */
    CHECK_EQ(ask(p, 1, true, T0 + 60000), 0);
    CHECK_EQ(ask(p, 1, true, T0 + 60500), T0 + 61000);
    hq_pacing_destroy(p);
}

HQ_TEST(per_hour_window)
{
    hq_pacing *p = make(true, 80, 500, 0);
    int64_t t = T0;
    int sent = 0;
    /* as fast as the minute window allows for an hour: exactly 500 go */
    while (t < T0 + 3600000) {
        int64_t at = ask(p, 9, true, t);
        if (at == 0) {
            sent++;
            t += 10;
        } else {
            CHECK(at > t);
            t = at;
        }
    }
    CHECK_EQ(sent, 500);
    /* the 501st may go when the first is an hour old */
    CHECK_EQ(ask(p, 9, true, T0 + 3600000 - 1), T0 + 3600000);
    hq_pacing_destroy(p);
}

HQ_TEST(primary_reserve)
{
    hq_pacing *p = make(true, 80, 500, 100);
    hq_pacing_note_limits(p, 3, 101, T0 + 600000);
    CHECK_EQ(ask(p, 3, true, T0), 0);
    hq_pacing_note_limits(p, 3, 100, T0 + 600000);
    CHECK_EQ(ask(p, 3, true, T0 + 1), T0 + 600000);
    CHECK_EQ(ask(p, 3, false, T0 + 1), T0 + 600000); /* the reserve holds for any request */
    CHECK_EQ(ask(p, 4, true, T0 + 1), 0);
    /* after the reset the old figure no longer holds */
    CHECK_EQ(ask(p, 3, true, T0 + 600000), 0);
    hq_pacing_note_limits(p, 3, -1, 0); /* unknown is ignored */
    CHECK_EQ(ask(p, 3, true, T0 + 600001), 0);
    hq_pacing_destroy(p);
}

HQ_TEST(blocks_and_secondary_streak)
{
    hq_pacing *p = make(true, 80, 500, 0);
    CHECK_EQ(hq_pacing_secondary_hits(p, 5), 0);
    hq_pacing_block(p, 5, T0 + 60000, true);
    CHECK_EQ(hq_pacing_secondary_hits(p, 5), 1);
    CHECK_EQ(ask(p, 5, true, T0), T0 + 60000);
    hq_pacing_block(p, 5, T0 + 30000, true); /* a shorter block never shortens one */
    CHECK_EQ(hq_pacing_secondary_hits(p, 5), 2);
    CHECK_EQ(ask(p, 5, false, T0 + 1), T0 + 60000);
    CHECK_EQ(ask(p, 6, true, T0), 0);
    CHECK_EQ(ask(p, 5, true, T0 + 60000), 0);
    hq_pacing_note_ok(p, 5);
    CHECK_EQ(hq_pacing_secondary_hits(p, 5), 0);
    hq_pacing_block(p, 5, T0 + 90000, false); /* retry-after: no streak */
    CHECK_EQ(hq_pacing_secondary_hits(p, 5), 0);
    CHECK_EQ(ask(p, 5, true, T0 + 60001), T0 + 90000);
    hq_pacing_destroy(p);
}

HQ_TEST(disabled_lets_all_through_but_blocks_hold)
{
    hq_pacing *p = make(false, 1, 1, 1000);
    hq_pacing_note_limits(p, 1, 0, T0 + 600000);
    for (int i = 0; i < 1000; i++)
        CHECK_EQ(ask(p, 1, true, T0 + i), 0);
    hq_pacing_block(p, 1, T0 + 5000, false); /* GitHub asked: still honoured */
    CHECK_EQ(ask(p, 1, true, T0 + 1000), T0 + 5000);
    hq_pacing_destroy(p);
}

HQ_TEST(bad_options)
{
    hq_pacing *p = NULL;
    struct hq_pacing_opts o = {true, 0, 500, 0};
    CHECK_EQ(hq_pacing_create(&o, &p), HQ_ECONFIG);
    o = (struct hq_pacing_opts){true, 80, HQ_PACING_MAX_WINDOW + 1, 0};
    CHECK_EQ(hq_pacing_create(&o, &p), HQ_ECONFIG);
    o = (struct hq_pacing_opts){true, 80, 500, -1};
    CHECK_EQ(hq_pacing_create(&o, &p), HQ_ECONFIG);
    CHECK(p == NULL);
}

int main(int argc, char **argv)
{
    return hqtest_main(argc, argv);
}
