/* test_envelope: the stored event format round-trips and refuses damage. */
#include "envelope.h"
#include "hqtest.h"

HQ_TEST(round_trip)
{
    struct hq_event ev = {.id = 7,
                          .repo_id = 1ull << 40,
                          .hook_id = 99,
                          .installation_id = 5,
                          .received_at_ms = 1700000000000,
                          .not_before_ms = 12,
                          .dead_at_ms = 13,
                          .attempts = 4,
                          .step = HQ_STEP_CHECKED,
                          .check_state = HQ_CHECK_FAILURE,
                          .check_run_id = 9007199254740993ull,
                          .repo_name = "octo/cat",
                          .delivery = "guid",
                          .event = "push",
                          .action = "",
                          .check_desc = "3 failed",
                          .history = "[]",
                          .reason = "r"};
    uint8_t buf[1024];
    size_t len;
    CHECK_EQ(hq_envelope_encode(&ev, buf, sizeof(buf), &len), 0);
    CHECK_EQ(len, hq_envelope_size(&ev));
    struct hq_event *out;
    REQUIRE(hq_envelope_decode(buf, len, &out) == 0);
    CHECK_EQ(out->id, 7);
    CHECK_EQ(out->repo_id, 1ull << 40);
    CHECK_EQ(out->attempts, 4);
    CHECK_EQ(out->step, HQ_STEP_CHECKED);
    CHECK_STR(out->repo_name, "octo/cat");
    CHECK_STR(out->check_desc, "3 failed");
    CHECK_EQ(out->check_run_id, 9007199254740993ull);
    hq_event_free(out);
    /* Every truncation and a trailing byte are refused. */
    for (size_t cut = 0; cut < len; cut++)
        CHECK_EQ(hq_envelope_decode(buf, cut, &out), HQ_ECORRUPT);
    buf[len] = 0;
    CHECK_EQ(hq_envelope_decode(buf, len + 1, &out), HQ_ECORRUPT);
    buf[3] = 3; /* a newer version */
    CHECK_EQ(hq_envelope_decode(buf, len, &out), HQ_ECORRUPT);
}

/* A version 1 record (written before check runs) reads with check_run_id 0. */
HQ_TEST(version_1_reads_as_no_check_run)
{
    struct hq_event ev = {.id = 3,
                          .repo_id = 8,
                          .attempts = 2,
                          .step = HQ_STEP_PENDING_POSTED,
                          .check_run_id = 77,
                          .repo_name = "o/r",
                          .delivery = "d1",
                          .event = "push"};
    uint8_t buf[512], v1[512];
    size_t len;
    CHECK_EQ(hq_envelope_encode(&ev, buf, sizeof(buf), &len), 0);
    /* version 1 is version 2 without the 8 bytes of check_run_id */
    size_t at = HQ_ENVELOPE_V1_FIXED_LEN;
    memcpy(v1, buf, at);
    memcpy(v1 + at, buf + at + 8, len - at - 8);
    v1[3] = 1;
    struct hq_event *out;
    REQUIRE(hq_envelope_decode(v1, len - 8, &out) == 0);
    CHECK_EQ(out->id, 3);
    CHECK_EQ(out->attempts, 2);
    CHECK_EQ(out->step, HQ_STEP_PENDING_POSTED);
    CHECK_EQ(out->check_run_id, 0);
    CHECK_STR(out->delivery, "d1");
    CHECK_STR(out->event, "push");
    hq_event_free(out);
    for (size_t cut = 0; cut < len - 8; cut++)
        CHECK_EQ(hq_envelope_decode(v1, cut, &out), HQ_ECORRUPT);
    /* a version 2 record read as version 1 does not decode exactly */
    buf[3] = 1;
    CHECK_EQ(hq_envelope_decode(buf, len, &out), HQ_ECORRUPT);
}

HQ_TEST(history_is_bounded)
{
    struct hq_event ev = {.history = NULL};
    for (int i = 0; i < 2000; i++) {
        char err[200];
        memset(err, 'e', sizeof(err) - 1);
        err[sizeof(err) - 1] = '\0';
        CHECK_EQ(hq_event_history_append(&ev, i, err), 0);
    }
    CHECK(strlen(ev.history) <= HQ_MAX_HISTORY_LEN);
    CHECK(strstr(ev.history, "\"at\":1999") != NULL); /* the newest stays */
    CHECK(strstr(ev.history, "\"at\":0,") == NULL);   /* the oldest went */
    free(ev.history);
}

int main(int argc, char **argv)
{
    return hqtest_main(argc, argv);
}
