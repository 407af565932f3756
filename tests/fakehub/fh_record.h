/*
 * fh_record: the record of every request fakehub answered, one JSON object
 * per line, appended and flushed line by line so that a test can read it
 * while the server runs (and nothing is lost when it is killed).
 *
 * Line fields: t (epoch seconds, ms precision, when the request arrived),
 * method, path, route, cred, installation (id or null), token_age_ms (or
 * null), status (0 when the connection was reset without an answer), fault,
 * body (the request body as JSON if it parses, else the raw text, else null),
 * accept, user_agent, api_version (headers or null), for statuses and check
 * runs repo and sha, for check runs check_run_id, and lost_status when the
 * answer was lost (the status fakehub decided and dropped).
 *
 * Threads: fh_record_write may be called from any thread; one mutex (lock
 * in struct fh_record) keeps lines whole and in the order they were written.
 */
#ifndef FH_RECORD_H
#define FH_RECORD_H

#include "hq_error.h"

#include <stddef.h>
#include <stdint.h>

typedef struct fh_record fh_record;

struct fh_record_line {
    int64_t t_ms;
    const char *method, *path, *route, *cred;
    int64_t installation; /* < 0: null */
    int64_t token_age_ms; /* < 0: null */
    unsigned status;
    const char *fault;
    const char *body; /* NULL: null */
    size_t body_len;
    const char *accept, *user_agent, *api_version; /* NULL: null */
    const char *repo, *sha;                        /* NULL: left out (sha: null with a repo) */
    int64_t check_run_id;                          /* <= 0: left out */
    unsigned lost_status; /* the answer a lost-answer fault dropped; 0: left out */
};

/* Opens path for appending (created 0644). -errno on failure. */
HQ_WUR int fh_record_open(const char *path, fh_record **out);

/* Flushes and closes; r may be NULL. */
void fh_record_close(fh_record *r);

/* Appends one line. r may be NULL (no record kept). -ENOMEM or -EIO. */
HQ_WUR int fh_record_write(fh_record *r, const struct fh_record_line *l);

#endif
