/*
 * ingest: what the receiver reads from a webhook request, without any HTTP
 * server in the way — header values, the content type, the JSON carried by
 * a form-urlencoded body, and the routing key (repository id and name,
 * installation id, action) inside the payload. It lives in common/ because
 * catch-up (worker/catchup.h, schema/design.md §9) must judge a payload from
 * GitHub's delivery log exactly as the receiver judges a webhook: the same
 * HOOKQ_EVENTS filter, the same routing key, the same refusals.
 *
 * Everything here is pure parsing over caller-owned bytes: no allocation
 * survives a failed call, nothing logs, every function is thread-safe. The
 * fuzz targets drive these functions directly.
 */
#ifndef HQ_INGEST_H
#define HQ_INGEST_H

#include "hq_error.h"
#include "queue.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ingest_ctype {
    INGEST_CTYPE_JSON = 1, /* application/json */
    INGEST_CTYPE_FORM = 2, /* application/x-www-form-urlencoded, JSON in "payload" */
};

/*
 * Classifies a Content-Type value: the media type is matched case-insensitively
 * and parameters (";charset=utf-8") are ignored. HQ_EPARSE for NULL or any
 * other type.
 */
HQ_WUR int ingest_content_type(const char *value, enum ingest_ctype *out);

/*
 * Checks an X-GitHub-Event value: 1..HQ_MAX_EVENT_LEN characters of
 * [A-Za-z0-9_.-]. HQ_EPARSE when missing or malformed.
 */
HQ_WUR int ingest_event_name(const char *value);

/*
 * Checks an X-GitHub-Delivery value: 1..HQ_MAX_DELIVERY_LEN printable ASCII
 * characters without spaces, quotes or backslashes (GitHub sends a GUID).
 * HQ_EPARSE when missing or malformed.
 */
HQ_WUR int ingest_delivery_id(const char *value);

/*
 * Parses X-GitHub-Hook-ID: a missing or empty header is hook id 0 (schema/design.md
 * §2); otherwise a decimal number that fits in 63 bits. HQ_EPARSE otherwise.
 */
HQ_WUR int ingest_hook_id(const char *value, uint64_t *out);

/*
 * Parses a Content-Length value (decimal digits only). HQ_EPARSE otherwise.
 */
HQ_WUR int ingest_content_length(const char *value, uint64_t *out);

/*
 * Extracts and decodes the "payload" field of a form-urlencoded body ('+' is
 * a space, %XX a byte). *out is malloc'd, NUL-terminated, *outlen bytes
 * before the NUL; the caller frees it. HQ_EPARSE when the field is missing,
 * given twice, or holds a bad escape; -ENOMEM. Other fields are ignored
 * (their escapes are not checked).
 */
HQ_WUR int ingest_form_payload(const char *body, size_t len, char **out, size_t *outlen);

/* Routing facts of a payload. Strings are NUL-terminated copies. */
struct ingest_route {
    bool has_repository;                      /* false: the event names no repository (ignored) */
    uint64_t repo_id;                         /* repository.id, > 0 */
    char repo_name[HQ_MAX_REPO_NAME_LEN + 1]; /* repository.full_name */
    uint64_t installation_id;                 /* installation.id, 0 when absent */
    char action[HQ_MAX_ACTION_LEN + 1];       /* "action", "" when absent */
};

/* Largest repository or installation id accepted: JSON numbers arrive as
 * doubles, and 2^53 is where they stop being exact. */
#define INGEST_MAX_ID 9007199254740991ull

/*
 * Parses a JSON payload of len bytes (need not be NUL-terminated) and fills
 * r, in one pass that allocates nothing (ingest_route.c). The payload must be
 * strict JSON (RFC 8259; a leading UTF-8 byte order mark is skipped). The
 * first member of each name counts. Returns 0 with r->has_repository false when the payload is a
 * JSON object without a "repository" object. HQ_EPARSE, with a short static reason in *why, when
 * the payload is not a JSON object, or its repository has no usable id (missing, not an integer, <=
 * 0, over INGEST_MAX_ID) or full_name (missing, empty, longer than HQ_MAX_REPO_NAME_LEN), or
 * installation.id or action is present but malformed (a string routing keeps must not hold \u0000).
 */
HQ_WUR int ingest_route(const char *json, size_t len, struct ingest_route *r, const char **why);

/* HOOKQ_EVENTS when unset (schema/design.md §5). */
#define INGEST_DEFAULT_EVENTS "push,pull_request"
/* The default with check runs (HOOKQ_REPORT checks, both): the Re-run
 * buttons' webhooks too. */
#define INGEST_DEFAULT_EVENTS_CHECKS INGEST_DEFAULT_EVENTS ",check_run,check_suite"

/*
 * Parses an event list ("push,pull_request", "*" for all) for HOOKQ_EVENTS
 * into a NULL-terminated array of malloc'd names (*all set for "*"). Free with
 * ingest_events_free. HQ_ECONFIG on an empty list or a malformed name.
 */
HQ_WUR int ingest_events_parse(const char *list, char ***out, bool *all);
void ingest_events_free(char **names);

/* True when event is in names (or all is set). */
bool ingest_events_match(char *const *names, bool all, const char *event);

#endif
