/*
 * catchup_gh: the three delivery-log requests of a catch-up run with the
 * retry policy of schema/design.md §4.6 applied in the run's own thread
 * (catchup.h says what waits and what fails). Used by catchup.c only.
 */
#ifndef HQ_CATCHUP_GH_H
#define HQ_CATCHUP_GH_H

#include "catchup.h"

/*
 * One request to url (GET when body is NULL) until it succeeds with a body
 * that valid() accepts (NULL: any), following the policy. Returns 0 with *r
 * holding the answer (the caller resets it); HQ_EHTTP with why filled when
 * it failed for good (permanent answer, tries or waits used up);
 * HQ_ESHUTDOWN, HQ_ELEASELOST (see catchup.h); -ENOMEM.
 */
HQ_WUR int hq_catchup_request(const struct hq_catchup_opts *o, int64_t *waited_ms,
                              const char *route, const char *url, const char *body,
                              bool (*valid)(const struct hq_github_http_response *r),
                              struct hq_github_http_response *r, char *why, size_t whycap);

#endif
