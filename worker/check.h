/*
 * check: runs the operator's check command for one event (schema/design.md §4 step 2).
 *
 * The command line is split into words (single and double quotes and
 * backslash escapes as in the shell, nothing else: no shell is involved
 * unless the operator's command names one) and started with posix_spawnp in
 * a process group of its own. The payload goes to its stdin; stdout and
 * stderr are captured together up to HQ_CHECK_OUTPUT_MAX bytes (the rest is
 * read and dropped, so a check printing megabytes costs no more memory; the
 * cap is one byte over a check run's 65,535-character text, so a cut is
 * seen); the event facts go into its environment. When the
 * timeout passes, or *cancel becomes true (shutdown), the whole process group
 * gets SIGKILL.
 *
 * Outcome: exit 0 → success, exit 1 → failure, any other exit or a signal →
 * error; the timeout and a cancel are reported apart (the worker treats a
 * timeout as a failed attempt and a cancel as no attempt at all). The
 * description is the first line of the output, cut to 140 characters on a
 * UTF-8 boundary.
 *
 * Thread-safe: each call owns its child. The process must ignore SIGPIPE.
 */
#ifndef HQ_CHECK_H
#define HQ_CHECK_H

#include "hq_error.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HQ_CHECK_OUTPUT_MAX 65536
#define HQ_CHECK_DESC_CHARS 140
#define HQ_CHECK_MAX_ARGS   64

enum hq_check_outcome {
    HQ_CHECK_RAN,          /* finished: state says how */
    HQ_CHECK_TIMED_OUT,    /* killed at the timeout */
    HQ_CHECK_CANCELLED,    /* killed because *cancel was set */
    HQ_CHECK_SPAWN_FAILED, /* could not be started (reason says why) */
};

struct hq_check_env {
    const char *event, *action, *repo, *sha, *delivery;
    unsigned attempt;
};

struct hq_check_result {
    enum hq_check_outcome outcome;
    int state;     /* enum hq_check_state of queue.h when RAN */
    int exit_code; /* -1 when killed by a signal */
    int signal;    /* the signal, or 0 */
    int64_t duration_ms;
    char description[HQ_CHECK_DESC_CHARS * 4 + 1]; /* first line, cut */
    size_t output_len;                             /* bytes in output (NULs may be inside) */
    bool output_cut;                               /* bytes past HQ_CHECK_OUTPUT_MAX dropped */
    char output[HQ_CHECK_OUTPUT_MAX + 1];          /* captured, NUL-terminated */
};

/*
 * Splits a command line into at most HQ_CHECK_MAX_ARGS words, in place in
 * buf (a copy the caller owns). Returns the word count, or HQ_EPARSE for an
 * unterminated quote or an empty command, HQ_ETOOBIG for too many words.
 */
HQ_WUR int hq_check_split(char *buf, char *argv[HQ_CHECK_MAX_ARGS + 1]);

/*
 * Runs argv with payload on stdin. Returns 0 with *res filled in (whatever
 * the check did), or -ENOMEM / -errno when the worker itself failed (pipes).
 */
HQ_WUR int hq_check_run(char *const argv[], const struct hq_check_env *env, const char *payload,
                        size_t payload_len, int64_t timeout_ms, const atomic_bool *cancel,
                        struct hq_check_result *res);

/*
 * Finds the program a check command names, as execvp would: name itself if
 * it holds a '/', else the first executable regular file of that name in
 * $PATH. Done once at start, so that a missing check stops the worker then,
 * and a spawn does not try every PATH entry. 0, -ENOENT, HQ_ETOOBIG.
 */
HQ_WUR int hq_check_resolve(const char *name, char *out, size_t cap);

/* Copies the first line of text into out, cut to max_chars characters on a
 * UTF-8 boundary; invalid bytes and control characters become '?'. */
void hq_check_first_line(const char *text, size_t max_chars, char *out, size_t cap);

#endif
