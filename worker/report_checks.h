/*
 * report_checks: the check-run steps of one event (HOOKQ_REPORT checks or
 * both; schema/design.md §4.1), for processor.c:
 *
 *   start     the run exists in_progress and its id is recorded
 *             (record_check_run) before the check runs; a retry that has no
 *             recorded id first looks for the run an earlier attempt may
 *             have created (its external_id is the delivery), so an event
 *             has exactly one run;
 *   complete  the run is completed with the check's conclusion and output;
 *   abandon   an event dead-lettered after its run was made and before it
 *             was completed: the run is completed (timed_out, or failure)
 *             best-effort, so it does not stay in progress forever.
 *
 * The stored check description of an event with check runs is
 * "<conclusion>\n<title>" (hq_checks_desc), so that a later attempt can
 * complete the run from the record without running the check again.
 */
#ifndef HQ_REPORT_CHECKS_H
#define HQ_REPORT_CHECKS_H

#include "check.h"
#include "processor_int.h"

#include <stdbool.h>

/* Sets j->run_id. true to go on; false when the step ended the call (the
 * failure is recorded), with *end its outcome. */
HQ_WUR bool hq_checks_start(struct job *j, enum hq_outcome *end);

/* The check's conclusion and title: exit 0 success, 1 failure, 78 neutral;
 * any other exit or a signal failure, with the reason in the title. */
void hq_checks_describe(const struct hq_check_result *cr, const char **conclusion, char *title,
                        size_t cap);

/* "<conclusion>\n<title>" into out, what the CHECKED step stores. */
void hq_checks_desc(const char *conclusion, const char *title, char *out, size_t cap);

/* Splits a stored description back (conclusion into concl[16]); a
 * description without one (recorded in statuses mode) gives the state's. */
void hq_checks_split_desc(const char *desc, int state, char concl[16], const char **title);

/* Completes j->run_id: cr the check just run (its output becomes the text),
 * or NULL when this attempt resumes from the recorded result. As start. */
HQ_WUR bool hq_checks_complete(struct job *j, const struct hq_check_result *cr,
                               const char *conclusion, const char *title, enum hq_outcome *end);

/* Best effort before a dead letter: completes j->run_id (when there is one)
 * as timed_out (j->timed_out) or failure, titled with why. */
void hq_checks_abandon(struct job *j, const char *why);

#endif
