/*
 * hqtest: the unit-test harness. Each case runs in a forked child with its
 * own temporary directory (hqtest_dir()), so that a crash or a leaked lock in
 * one case cannot hide or cause a failure in another. A program prints one
 * line per case and ends with "N passed, N failed, N skipped"; its exit
 * status is 0 only when no case failed and one passed. A case that cannot
 * run here calls SKIP(why): it is reported as skipped, never as ok.
 *
 *   HQ_TEST(name) { CHECK(x == 1); CHECK_EQ(a, b); }
 *   int main(int argc, char **argv) { return hqtest_main(argc, argv); }
 */
#ifndef HQTEST_H
#define HQTEST_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct hqtest_case {
    const char *name;
    void (*fn)(void);
};

#define HQTEST_MAX 256
static struct hqtest_case hqtest_cases[HQTEST_MAX];
static int hqtest_ncases;
static int hqtest_failures; /* in the child: failed checks of this case */
static char hqtest_tmpdir[256];
static const char *hqtest_current = ""; /* in the child: the running case */

#define HQ_TEST(name)                                                                              \
    static void test_##name(void);                                                                 \
    __attribute__((constructor)) static void register_##name(void)                                 \
    {                                                                                              \
        if (hqtest_ncases < HQTEST_MAX)                                                            \
            hqtest_cases[hqtest_ncases++] = (struct hqtest_case){#name, test_##name};              \
    }                                                                                              \
    static void test_##name(void)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "  %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);             \
            hqtest_failures++;                                                                     \
        }                                                                                          \
    } while (0)

#define CHECK_EQ(a, b)                                                                             \
    do {                                                                                           \
        long long va_ = (long long)(a), vb_ = (long long)(b);                                      \
        if (va_ != vb_) {                                                                          \
            fprintf(stderr, "  %s:%d: CHECK_EQ failed: %s == %lld, %s == %lld\n", __FILE__,        \
                    __LINE__, #a, va_, #b, vb_);                                                   \
            hqtest_failures++;                                                                     \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *sa_ = (a), *sb_ = (b);                                                         \
        if (sa_ == NULL || sb_ == NULL || strcmp(sa_, sb_) != 0) {                                 \
            fprintf(stderr, "  %s:%d: CHECK_STR failed: %s == \"%s\", %s == \"%s\"\n", __FILE__,   \
                    __LINE__, #a, sa_ ? sa_ : "(null)", #b, sb_ ? sb_ : "(null)");                 \
            hqtest_failures++;                                                                     \
        }                                                                                          \
    } while (0)

/* Stops the case at once (for checks that later code depends on). */
#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "  %s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond);           \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* Fills buf (cap bytes) with n copies of unit, NUL-terminated; returns its
 * length. Stops early rather than overflow. */
static inline size_t hqtest_repeat(char *buf, size_t cap, const char *unit, int n)
{
    size_t len = 0, ul = strlen(unit);
    for (int i = 0; i < n && len + ul < cap; i++) {
        memcpy(buf + len, unit, ul);
        len += ul;
    }
    buf[len] = '\0';
    return len;
}

/* Ends the case as skipped: it cannot run here (say why). Never ok. */
#define HQTEST_SKIP_STATUS 77
#define SKIP(why)                                                                                  \
    do {                                                                                           \
        printf("skip %s: %s\n", hqtest_current, (why));                                            \
        fflush(stdout);                                                                            \
        hqtest_cleanup();                                                                          \
        exit(HQTEST_SKIP_STATUS);                                                                  \
    } while (0)

static inline void hqtest_cleanup(void)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", hqtest_tmpdir);
    if (hqtest_tmpdir[0] != '\0' && system(cmd) != 0)
        fprintf(stderr, "  could not remove %s\n", hqtest_tmpdir);
}

/* The case's own empty temporary directory. */
static inline const char *hqtest_dir(void)
{
    return hqtest_tmpdir;
}

static inline int hqtest_main(int argc, char **argv)
{
    int passed = 0, failed = 0, skipped = 0;
    const char *only = argc > 1 ? argv[1] : NULL;
    for (int i = 0; i < hqtest_ncases; i++) {
        if (only != NULL && strcmp(only, hqtest_cases[i].name) != 0)
            continue;
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 2;
        }
        if (pid == 0) {
            snprintf(hqtest_tmpdir, sizeof(hqtest_tmpdir), "/tmp/hqtest.XXXXXX");
            if (mkdtemp(hqtest_tmpdir) == NULL) {
                perror("mkdtemp");
                _exit(2);
            }
            hqtest_current = hqtest_cases[i].name;
            hqtest_cases[i].fn();
            hqtest_cleanup();
            /* exit, not _exit: LeakSanitizer checks at exit in the sanitizer build. */
            exit(hqtest_failures == 0 ? 0 : 1);
        }
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (WIFEXITED(status) && WEXITSTATUS(status) == HQTEST_SKIP_STATUS) {
            skipped++; /* the child printed "skip NAME: why" */
        } else if (ok) {
            passed++;
            printf("ok   %s\n", hqtest_cases[i].name);
        } else {
            failed++;
            if (WIFSIGNALED(status))
                printf("FAIL %s (signal %d)\n", hqtest_cases[i].name, WTERMSIG(status));
            else
                printf("FAIL %s\n", hqtest_cases[i].name);
        }
    }
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    if (failed == 0 && passed == 0 && skipped > 0)
        return HQTEST_SKIP_STATUS; /* ctest shows the program as skipped */
    return failed == 0 && passed > 0 ? 0 : 1;
}

#endif
