/*
 * fh_checks_valid: the validation of a check run's create or update body,
 * shaped like GitHub's answers:
 *
 *   400 "Problems parsing JSON"       the body is not a JSON object (or not UTF-8)
 *   422 "Invalid request.\n\n..."     name or head_sha missing on a create; a member of
 *                                     the wrong type (GitHub's schema layer)
 *   422 "No commit found for SHA: X"  head_sha not 40 hex digits
 *   422 "Validation Failed"           with an errors entry {resource "CheckRun", code,
 *                                     field, message} per broken rule: status or
 *                                     conclusion not in the list, a completed run without
 *                                     a conclusion, a bad timestamp, output without title
 *                                     or summary, summary or text over 65535 bytes
 *                                     (GitHub counts bytes: "summary exceeds a maximum
 *                                     bytesize of 65535"), over 50 annotations, an
 *                                     annotation without path, start_line, end_line,
 *                                     annotation_level (notice, warning, failure) or message
 *
 * Pure functions of their input; any thread.
 */
#ifndef FH_CHECKS_VALID_H
#define FH_CHECKS_VALID_H

#include "fh_api.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#define FH_CHECKS_MAX_OUTPUT      65535 /* bytes of output.summary and output.text */
#define FH_CHECKS_MAX_ANNOTATIONS 50    /* per request */

/* The members a body gave, borrowed from the parsed body. A string member
 * given as null counts as not given. */
struct fh_check_fields {
    const char *name, *head_sha, *details_url, *external_id, *status, *conclusion;
    bool has_started, has_completed;
    int64_t started_ms, completed_ms;
    const cJSON *output; /* validated: title, summary, optional text and annotations */
};

/*
 * Parses and validates rq's body for a create (name and head_sha required;
 * status completed needs a conclusion) or an update. true with *body (the
 * caller's, cJSON_Delete) and *f borrowing from it; false with ans filled.
 */
bool fh_checks_validate(const struct fh_request *rq, bool create, cJSON **body,
                        struct fh_check_fields *f, struct fh_answer *ans);

/* Answers 422 "Validation Failed" with one error on field. */
void fh_checks_answer_invalid(struct fh_answer *ans, bool create, const char *field,
                              const char *code, const char *message);

/* Whether s is 40 hex digits. */
bool fh_checks_is_sha(const char *s);

/* Formats ms as GitHub's "2026-12-03T06:45:00Z" (whole seconds); false on failure. */
bool fh_checks_time(int64_t ms, char *buf, size_t cap);

#endif
