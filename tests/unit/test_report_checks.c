/* test_report_checks: a check's conclusion and title for its run, and the
 * stored description that carries them across attempts (worker/report_checks.h). */
#include "hqtest.h"
#include "report_checks.h"

#include <signal.h>

static struct hq_check_result res(int exit_code, int sig, const char *line)
{
    struct hq_check_result r;
    memset(&r, 0, sizeof(r));
    r.outcome = HQ_CHECK_RAN;
    r.exit_code = exit_code;
    r.signal = sig;
    snprintf(r.description, sizeof(r.description), "%s", line);
    return r;
}

HQ_TEST(conclusion_table)
{
    static const struct {
        int exit_code, sig;
        const char *line, *conclusion, *title;
    } rows[] = {
        {0, 0, "all good", "success", "all good"},
        {1, 0, "3 tests failed", "failure", "3 tests failed"},
        {78, 0, "nothing to check", "neutral", "nothing to check"},
        {0, 0, "", "success", "success"},
        {2, 0, "usage", "failure", "exit status 2: usage"},
        {127, 0, "", "failure", "exit status 127"},
        {-1, SIGKILL, "dying", "failure", "killed by SIGKILL (9): dying"},
        {-1, SIGSEGV, "", "failure", "killed by SIGSEGV (11)"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct hq_check_result r = res(rows[i].exit_code, rows[i].sig, rows[i].line);
        const char *concl = NULL;
        char title[256];
        hq_checks_describe(&r, &concl, title, sizeof(title));
        CHECK_STR(concl, rows[i].conclusion);
        CHECK_STR(title, rows[i].title);
    }
}

HQ_TEST(stored_description_round_trips)
{
    char desc[HQ_MAX_DESC_LEN + 1], concl[16];
    const char *title = NULL;
    hq_checks_desc("neutral", "nothing to check", desc, sizeof(desc));
    hq_checks_split_desc(desc, HQ_CHECK_ERROR, concl, &title);
    CHECK_STR(concl, "neutral");
    CHECK_STR(title, "nothing to check");
    /* recorded in statuses mode (no conclusion line): the state's */
    hq_checks_split_desc("3 tests failed", HQ_CHECK_FAILURE, concl, &title);
    CHECK_STR(concl, "failure");
    CHECK_STR(title, "3 tests failed");
    hq_checks_split_desc("ok", HQ_CHECK_SUCCESS, concl, &title);
    CHECK_STR(concl, "success");
    CHECK_STR(title, "ok");
    /* a first line that only looks like one stays the title */
    hq_checks_split_desc("successful\nsecond", HQ_CHECK_ERROR, concl, &title);
    CHECK_STR(concl, "failure");
    CHECK_STR(title, "successful\nsecond");
}

int main(int argc, char **argv)
{
    return hqtest_main(argc, argv);
}
