/* test_check: the check runner with real child processes. */
#include "check.h"
#include "clock.h"
#include "hqtest.h"
#include "queue.h"

#include <signal.h>
#include <sys/stat.h>

static struct hq_check_result res;

static int run(const char *cmdline, const char *payload, int64_t timeout_ms)
{
    char buf[1024];
    char *argv[HQ_CHECK_MAX_ARGS + 1];
    snprintf(buf, sizeof(buf), "%s", cmdline);
    REQUIRE(hq_check_split(buf, argv) > 0);
    struct hq_check_env env = {"push",   "", "octo/cat", "0123456789abcdef0123456789abcdef01234567",
                               "guid-1", 3};
    return hq_check_run(argv, &env, payload, payload ? strlen(payload) : 0, timeout_ms, NULL, &res);
}

HQ_TEST(split_words_and_quotes)
{
    char buf[] = "sh -c 'echo \"a b\"' x\\ y \"q\\\"q\"";
    char *argv[HQ_CHECK_MAX_ARGS + 1];
    CHECK_EQ(hq_check_split(buf, argv), 5);
    CHECK_STR(argv[0], "sh");
    CHECK_STR(argv[1], "-c");
    CHECK_STR(argv[2], "echo \"a b\"");
    CHECK_STR(argv[3], "x y");
    CHECK_STR(argv[4], "q\"q");
    CHECK(argv[5] == NULL);
    char bad[] = "echo 'unterminated";
    CHECK_EQ(hq_check_split(bad, argv), HQ_EPARSE);
    char empty[] = "   ";
    CHECK_EQ(hq_check_split(empty, argv), HQ_EPARSE);
}

HQ_TEST(exit_codes_map_to_states)
{
    CHECK_EQ(run("true", NULL, 5000), 0);
    CHECK_EQ(res.outcome, HQ_CHECK_RAN);
    CHECK_EQ(res.state, HQ_CHECK_SUCCESS);
    CHECK_EQ(run("false", NULL, 5000), 0);
    CHECK_EQ(res.state, HQ_CHECK_FAILURE);
    CHECK_EQ(run("sh -c 'exit 7'", NULL, 5000), 0);
    CHECK_EQ(res.state, HQ_CHECK_ERROR);
    CHECK_EQ(res.exit_code, 7);
    CHECK_EQ(run("sh -c 'kill -9 $$'", NULL, 5000), 0);
    CHECK_EQ(res.state, HQ_CHECK_ERROR);
    CHECK_EQ(res.signal, SIGKILL);
}

HQ_TEST(payload_on_stdin_and_environment)
{
    CHECK_EQ(run("sh -c 'read line; echo \"$HOOKQ_EVENT $HOOKQ_REPO $HOOKQ_ATTEMPT "
                 "$HOOKQ_DELIVERY $line\"'",
                 "{\"hello\":1}\n", 5000),
             0);
    CHECK_EQ(res.state, HQ_CHECK_SUCCESS);
    CHECK_STR(res.description, "push octo/cat 3 guid-1 {\"hello\":1}");
}

HQ_TEST(large_payload_not_read_does_not_block)
{
    size_t n = 4 << 20;
    char *big = malloc(n + 1);
    REQUIRE(big != NULL);
    memset(big, 'x', n);
    big[n] = '\0';
    int64_t t0 = hq_mono_ms();
    CHECK_EQ(run("true", big, 5000), 0);
    CHECK_EQ(res.state, HQ_CHECK_SUCCESS);
    CHECK(hq_mono_ms() - t0 < 3000);
    CHECK_EQ(run("sh -c 'wc -c'", big, 10000), 0);
    CHECK_STR(res.description, "4194304");
    free(big);
}

HQ_TEST(timeout_kills_the_process_group)
{
    char marker[512];
    snprintf(marker, sizeof(marker), "%s/child-alive", hqtest_dir());
    char cmd[1024];
    /* A grandchild that would touch the marker after 2 s must die too. */
    snprintf(cmd, sizeof(cmd), "sh -c '(sleep 2; touch %s) & sleep 30'", marker);
    int64_t t0 = hq_mono_ms();
    CHECK_EQ(run(cmd, NULL, 300), 0);
    CHECK_EQ(res.outcome, HQ_CHECK_TIMED_OUT);
    CHECK_EQ(res.state, HQ_CHECK_ERROR);
    CHECK(hq_mono_ms() - t0 < 2000);
    sleep(3);
    CHECK(access(marker, F_OK) != 0);
}

HQ_TEST(background_descendant_does_not_hold_the_result)
{
    int64_t t0 = hq_mono_ms();
    CHECK_EQ(run("sh -c 'sleep 30 & echo started'", NULL, 10000), 0);
    CHECK_EQ(res.outcome, HQ_CHECK_RAN);
    CHECK_EQ(res.state, HQ_CHECK_SUCCESS);
    CHECK_STR(res.description, "started");
    CHECK(hq_mono_ms() - t0 < 3000);
}

HQ_TEST(cancel_kills_and_reports_cancelled)
{
    char buf[] = "sleep 30";
    char *argv[HQ_CHECK_MAX_ARGS + 1];
    REQUIRE(hq_check_split(buf, argv) == 2);
    atomic_bool cancel;
    atomic_init(&cancel, true);
    struct hq_check_env env = {"push", "", "o/r", "", "d", 1};
    CHECK_EQ(hq_check_run(argv, &env, NULL, 0, 10000, &cancel, &res), 0);
    CHECK_EQ(res.outcome, HQ_CHECK_CANCELLED);
}

HQ_TEST(missing_command_is_an_error_state)
{
    CHECK_EQ(run("/nonexistent/check-command", NULL, 5000), 0);
    CHECK_EQ(res.state, HQ_CHECK_ERROR);
    CHECK(strstr(res.description, "could not start") != NULL ||
          res.outcome == HQ_CHECK_RAN); /* glibc may report it as exit 127 */
}

HQ_TEST(resolve_finds_programs_in_path)
{
    char out[512];
    setenv("PATH", "/nonexistent:/bin:/usr/bin", 1);
    CHECK_EQ(hq_check_resolve("sh", out, sizeof(out)), 0);
    CHECK_STR(out, "/bin/sh");
    CHECK_EQ(hq_check_resolve("no-such-program-here", out, sizeof(out)), -ENOENT);
    CHECK_EQ(hq_check_resolve("/bin/sh", out, sizeof(out)), 0);
    char plain[512];
    snprintf(plain, sizeof(plain), "%s/plain", hqtest_dir());
    FILE *fp = fopen(plain, "w");
    REQUIRE(fp != NULL);
    fclose(fp);
    chmod(plain, 0644);
    CHECK_EQ(hq_check_resolve(plain, out, sizeof(out)), -ENOENT);  /* not executable */
    CHECK_EQ(hq_check_resolve("/bin", out, sizeof(out)), -ENOENT); /* a directory */
    CHECK_EQ(hq_check_resolve("sh", out, 4), -ENOENT);             /* nothing fits */
}

HQ_TEST(first_line_is_cut_at_140_characters_on_utf8_boundary)
{
    char text[1024];
    size_t len = hqtest_repeat(text, sizeof(text), "\xc3\xa9", 150); /* é, 2 bytes each */
    snprintf(text + len, sizeof(text) - len, "\nsecond line");
    char out[HQ_CHECK_DESC_CHARS * 4 + 1];
    hq_check_first_line(text, 140, out, sizeof(out));
    CHECK_EQ(strlen(out), 280);
    hq_check_first_line("ok\r\nnext", 140, out, sizeof(out));
    CHECK_STR(out, "ok");
    hq_check_first_line("bad \xff\x01 bytes", 140, out, sizeof(out));
    CHECK_STR(out, "bad ?? bytes");
    hq_check_first_line("cut \xe2\x82", 140, out, sizeof(out)); /* truncated sequence */
    CHECK_STR(out, "cut ??");
}

HQ_TEST(output_is_bounded)
{
    CHECK_EQ(run("sh -c 'head -c 100000 /dev/zero | tr \"\\\\0\" a'", NULL, 5000), 0);
    CHECK_EQ(strlen(res.output), HQ_CHECK_OUTPUT_MAX);
    CHECK_EQ(strlen(res.description), 140);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    return hqtest_main(argc, argv);
}
