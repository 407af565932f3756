/*
 * settings: the variables that hookq-receiver, hookq-worker and hookqctl
 * all read (schema/design.md §5), parsed here once so that each has one default, one
 * bound and one message for all three: the queue's HOOKQ_DB, HOOKQ_MAP_SIZE
 * and HOOKQ_SYNC, and the logs' HOOKQ_LOG_FORMAT and HOOKQ_LOG_LEVEL. The
 * --help rows of these variables come from here too.
 *
 * Like config.h: every function returns 0 or HQ_ECONFIG with one line in
 * err ("HOOKQ_X: why (got 'value')"); nothing logs or exits. A database URI
 * is never echoed with its password: its userinfo is masked in messages.
 */
#ifndef HQ_SETTINGS_H
#define HQ_SETTINGS_H

#include "config.h"
#include "hq_error.h"
#include "log.h"
#include "queue.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define HQ_MIN_MAP_SIZE (1ull << 20) /* HOOKQ_MAP_SIZE bounds: 1 MiB..16 TiB */
#define HQ_MAX_MAP_SIZE (1ull << 44)
#define HQ_MAX_DB_LEN   4000 /* leaves room for the files under the directory */

/* hookqctl's choice: an unset HOOKQ_MAP_SIZE leaves o->lmdb.map_size 0, so an
 * existing database keeps the size stored in it (a new one gets the
 * default). The services ask for the default size instead. */
#define HQ_SETTINGS_KEEP_MAP_SIZE 1u

/*
 * Fills o with hq_queue_opts_default() and then HOOKQ_DB (a directory, or a
 * URI that no built-in backend serves: refused with its reason),
 * HOOKQ_MAP_SIZE (HQ_MIN_MAP_SIZE..HQ_MAX_MAP_SIZE) and HOOKQ_SYNC (no_sync
 * when false). o->db then points into the environment or at HQ_DEFAULT_DB:
 * valid until the variable is changed.
 */
HQ_WUR int hq_settings_queue(struct hq_queue_opts *o, unsigned flags, struct hq_cfgerr *err);

/* Checks a database name given some other way (hookqctl's --db, named name
 * in the message) as HOOKQ_DB is checked. */
HQ_WUR int hq_settings_db(const char *name, const char *db, struct hq_cfgerr *err);

struct hq_log_settings {
    bool json;               /* HOOKQ_LOG_FORMAT: json (default) or text */
    enum hq_log_level level; /* HOOKQ_LOG_LEVEL: info by default */
};

HQ_WUR int hq_settings_log(struct hq_log_settings *s, struct hq_cfgerr *err);

/* HOOKQ_REPORT: how the worker reports a check to GitHub. The receiver
 * reads it too: with check runs its default HOOKQ_EVENTS adds check_run and
 * check_suite (the Re-run button's webhooks). */
enum hq_report {
    HQ_REPORT_STATUSES = 1, /* commit statuses (the default) */
    HQ_REPORT_CHECKS = 2,   /* check runs (a GitHub App only) */
    HQ_REPORT_BOTH = 3,     /* both, each as its own step */
};
#define HQ_REPORT_HAS_STATUSES(r) (((r)&HQ_REPORT_STATUSES) != 0)
#define HQ_REPORT_HAS_CHECKS(r)   (((r)&HQ_REPORT_CHECKS) != 0)

/* HOOKQ_REPORT: statuses (unset too), checks or both. */
HQ_WUR int hq_settings_report(enum hq_report *out, struct hq_cfgerr *err);

/* Which rows hq_settings_usage prints. */
#define HQ_SETTINGS_USAGE_QUEUE 1u
#define HQ_SETTINGS_USAGE_LOG   2u

/* Prints the --help rows of the shared variables in `which`, as
 * "  NAME DEFAULT MEANING" with the first two columns padded to the widths. */
void hq_settings_usage(FILE *fp, unsigned which, int name_width, int def_width);

/*
 * Copies db into out (cap bytes, always terminated, cut if longer) with the
 * secrets of a URI replaced by "***": the userinfo (user:password) before
 * the '@' of the authority, and the value of a password= parameter. A
 * directory is copied as it is.
 */
void hq_settings_mask_db(const char *db, char *out, size_t cap);

#endif
