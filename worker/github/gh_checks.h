/*
 * gh_checks: what a check-run request holds and what GitHub's check-run
 * answers mean (schema/design.md §4.1): the JSON bodies of create and
 * update, the output text cut to GitHub's 65,535 characters, and the
 * parsers of the create/update answer and of the listing a retry reads to
 * find a run an earlier attempt made. Pure functions; thread-safe. Every
 * parser here has a fuzz target (tests/fuzz/fuzz_gh_checks.c).
 */
#ifndef HQ_GH_CHECKS_H
#define HQ_GH_CHECKS_H

#include "hq_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HQ_GH_CHECK_NAME_MAX    100                /* our bound on HOOKQ_CHECK_NAME, bytes */
#define HQ_GH_CHECK_TEXT_MAX    65535              /* GitHub's cap on output.text and summary */
#define HQ_GH_CHECK_TITLE_CHARS 140                /* our bound on output.title, characters */
#define HQ_GH_CHECK_RUN_ID_MAX  9007199254740991.0 /* 2^53 - 1: exact in a JSON number */

/* The note that ends a cut text (part of the HQ_GH_CHECK_TEXT_MAX bytes). */
#define HQ_GH_CHECK_CUT_NOTE                                                                       \
    "\n\n[hookq: output cut here at 65,535 characters; the check printed more]"

/* One create or update. Strings NULL are left out of the body. */
struct hq_gh_check_run {
    const char *name;        /* create only */
    const char *head_sha;    /* create only */
    const char *status;      /* "in_progress" or "completed" */
    const char *external_id; /* the delivery id */
    const char *details_url;
    const char *conclusion; /* with "completed": success, failure, neutral, timed_out, ... */
    const char *title;      /* output: all three, or none (title NULL) */
    const char *summary;
    const char *text;
};

/* The body as a malloc'd string (free with free()), or NULL when out of
 * memory. title is cut to HQ_GH_CHECK_TITLE_CHARS characters and summary to
 * HQ_GH_CHECK_TEXT_MAX bytes on a UTF-8 boundary (invalid bytes '?'); text
 * is taken as given: make it with hq_gh_check_text. */
char *hq_gh_check_run_body(const struct hq_gh_check_run *r);

/*
 * The check's captured output (out[len], out[len] == '\0', possibly with
 * NULs and invalid UTF-8 inside) as output.text: valid UTF-8 (NUL and
 * invalid bytes become '?', other control characters are kept: JSON escapes
 * them) of at most HQ_GH_CHECK_TEXT_MAX bytes, so within GitHub's
 * 65,535 characters whatever the script. When it does not fit, or `more`
 * says the capture itself dropped bytes, it is cut on a character boundary
 * and ends with HQ_GH_CHECK_CUT_NOTE. dst holds HQ_GH_CHECK_TEXT_MAX + 1.
 * Returns the length written.
 */
size_t hq_gh_check_text(const char *out, size_t len, bool more, char *dst);

/* A check run answer (create, update): {"id": n, ...} with 1 <= n <= 2^53-1.
 * 0 with *id, or HQ_EPARSE. body need not be NUL-terminated. */
HQ_WUR int hq_gh_answer_check_run(const char *body, size_t len, uint64_t *id);

/*
 * A listing, GET /repos/{o}/{r}/commits/{sha}/check-runs:
 * {"total_count": n, "check_runs": [{"id", "external_id", "status",
 * "app": {"id"}}, ...]}. *id is the first run whose external_id equals
 * external_id, made by app_id (when app_id is not 0 and the run names its
 * App), and whose status is not "completed" (a completed run with this
 * external_id belongs to the event's life before a replay, which gets a new
 * run), or 0 when there is none; *listed how many runs the page held and
 * *total its total_count (0 when missing or not a count). 0, or HQ_EPARSE
 * for an answer that is not such an object (entries without a usable id are
 * skipped). body need not be NUL-terminated.
 */
HQ_WUR int hq_gh_answer_check_runs_find(const char *body, size_t len, const char *external_id,
                                        uint64_t app_id, uint64_t *id, size_t *listed,
                                        uint64_t *total);

#endif
