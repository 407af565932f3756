/*
 * gh_status: what a commit-status request may hold (schema/design.md §4), checked
 * before anything is sent: a repository name and sha GitHub would accept,
 * and the JSON body with the description cut to GitHub's 140 characters on
 * a UTF-8 boundary. Pure functions; thread-safe.
 */
#ifndef HQ_GH_STATUS_H
#define HQ_GH_STATUS_H

#include <stdbool.h>

#define HQ_GH_DESCRIPTION_CHARS 140 /* GitHub's cap, in characters */

/* owner/name as GitHub allows them: [A-Za-z0-9-] owner (at most 39),
 * [A-Za-z0-9._-] name (at most 100, not "." or ".."). */
bool hq_gh_valid_repo(const char *s);

/* 4 to 64 hex digits (GitHub resolves abbreviated shas too). */
bool hq_gh_valid_sha(const char *s);

/* {"state","context"[,"description"][,"target_url"]} as a malloc'd string,
 * or NULL when out of memory. description NULL is left out; it is cut to
 * 140 characters, invalid UTF-8 and control characters replaced. */
char *hq_gh_status_body(const char *state, const char *context, const char *description,
                        const char *target_url);

#endif
