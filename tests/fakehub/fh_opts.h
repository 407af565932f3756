/*
 * fh_opts: fakehub's command line. Every flag is a long option; a bad value
 * is one clear line (naming the flag) for main to print before exiting 2.
 * The parsed options are read-only once the server starts, so every thread
 * may read them without a lock.
 */
#ifndef FH_OPTS_H
#define FH_OPTS_H

#include "hq_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Routes that faults may hit (--fault-routes), as a bit set. */
enum {
    FH_FR_STATUSES = 1u << 0,
    FH_FR_TOKENS = 1u << 1, /* POST /app/installations/{id}/access_tokens */
    FH_FR_INSTALLATION = 1u << 2,
    FH_FR_RATE_LIMIT = 1u << 3,
    FH_FR_DELIVERIES = 1u << 4, /* the App's delivery log (fh_deliveries.h) */
    FH_FR_CHECK_RUNS = 1u << 5, /* create, update, get and list (fh_checks.h) */
    FH_FR_ALL = 0x3fu,
};

/* Caps on command-line input. */
#define FH_MAX_MAPPINGS  256 /* --installation and --status-code-for, each */
#define FH_MAX_REPO_LEN  201 /* "owner/name": 39 + 1 + 100, with room */
#define FH_MIN_TOKEN_LEN 8
#define FH_MAX_TOKEN_LEN 4096 /* GitHub's new tokens are over 500 characters */
#define FH_MAX_LOSE      64   /* --lose-create and --lose-update values, each */

struct fh_repo_map {
    char repo[FH_MAX_REPO_LEN + 1]; /* "owner/name" or "*" for any repository */
    uint64_t value;                 /* installation id or HTTP status code */
};

/* Fault fractions of requests on the selected routes; their sum is <= 1. */
struct fh_fault_opts {
    double fail_5xx, rate_429, primary_403, secondary_403, reset, hang, malformed, lose_answer;
    unsigned routes;    /* FH_FR_* bits */
    int64_t latency_ms; /* added to every answer */
    int64_t hang_ms;
    int64_t retry_after_s;           /* 429's retry-after */
    int64_t reset_in_s;              /* primary 403's x-ratelimit-reset - now */
    int64_t secondary_retry_after_s; /* 0: no retry-after on a secondary 403 */
    int64_t young_token_ms;          /* 401 for installation tokens younger than this */
    bool seeded;
    uint64_t seed;
};

struct fh_opts {
    char host[64];
    uint16_t port;
    const char *port_file;    /* NULL: none */
    const char *record_file;  /* NULL: no record */
    uint64_t app_id;          /* 0: no app configured */
    const char *app_key_file; /* PEM RSA public key */
    const char *pat_file;
    uint64_t budget; /* requests per installation per window; 0: unlimited */
    int64_t budget_window_ms;
    int64_t token_ttl_ms;
    size_t token_length;
    bool revoke_older;
    struct fh_fault_opts faults;
    struct fh_repo_map installations[FH_MAX_MAPPINGS];
    size_t n_installations;
    struct fh_repo_map status_codes[FH_MAX_MAPPINGS];
    size_t n_status_codes;
    /* the delivery log (fh_deliveries.h) */
    const char *deliveries_file;     /* seed deliveries, NULL: none */
    const char *deliver_to;          /* http://host:port/path of the receiver, NULL: none */
    const char *webhook_secret_file; /* signs what is delivered */
    uint64_t hook_id;                /* X-GitHub-Hook-ID of what is sent */
    /* check runs (fh_checks.h) */
    struct fh_repo_map check_codes[FH_MAX_MAPPINGS]; /* --check-code-for */
    size_t n_check_codes;
    uint64_t lose_creates[FH_MAX_LOSE]; /* the N-th stored creates whose answer is lost */
    size_t n_lose_creates;
    uint64_t lose_updates[FH_MAX_LOSE];
    size_t n_lose_updates;
    bool lost_as_502;       /* a lost answer is a 502, not a TCP reset */
    bool runs_oldest_first; /* list a commit's runs oldest first */
    uint64_t runs_page_max; /* 0, or the most runs a listing page holds */
};

enum fh_opts_action { FH_OPTS_RUN = 0, FH_OPTS_HELP, FH_OPTS_VERSION };

/*
 * Parses argv into *o (defaults first). Returns 0 with *action telling main
 * to run, or to print help or the version; HQ_ECONFIG with one line in err
 * (no newline) on a bad flag or value. argv strings are kept, not copied.
 */
HQ_WUR int fh_opts_parse(int argc, char **argv, struct fh_opts *o, enum fh_opts_action *action,
                         char *err, size_t errcap);

/* The --help text. */
void fh_opts_usage(FILE *out);

#endif
