/*
 * ctl: the pieces hookqctl's commands share (worker/hookqctl.c is main and the
 * command table; ctl_show.c the read-only commands; ctl_dlq.c replay and
 * purge; ctl_export.c export and import; ctl_migrate.c migrate; ctl_fmt.c filters and formatting;
 * ctl_out.c messages, signals and how a command stops early).
 *
 * A command parses its own options first, so that a usage error exits 2
 * before the database is touched, then opens the database with ctl_open() in
 * the mode it needs: inspection read-only (works beside running services),
 * changes read-write through the queue API (whose group commit makes them
 * safe beside the services).
 *
 * Exit statuses (schema/design.md §8): CTL_OK, CTL_NOMATCH when an id or filter
 * matches nothing, CTL_USAGE for usage errors, a missing database or a newer
 * schema, CTL_FAIL for storage or I/O failures, CTL_INTERRUPTED after
 * SIGINT/SIGTERM, CTL_CLOSED when the reader of stdout went away (EPIPE):
 * then the command stops at once and says nothing, as a tool that SIGPIPE
 * ended (128 + 13, what a shell reports for one).
 */
#ifndef HQ_CTL_H
#define HQ_CTL_H

#include "dynbuf.h"
#include "queue.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    CTL_OK = 0,
    CTL_NOMATCH = 1,
    CTL_USAGE = 2,
    CTL_FAIL = 3,
    CTL_INTERRUPTED = 130,
    CTL_CLOSED = 141
};

/*
 * Why the command must stop early: 0 to go on, CTL_STOP_SIGNAL after SIGINT
 * or SIGTERM, CTL_STOP_PIPE after SIGPIPE (a write to a reader that went
 * away). Set only by the signal handler; loops and iteration callbacks check
 * it before each event.
 */
enum { CTL_STOP_SIGNAL = 1, CTL_STOP_PIPE = 2 };
extern volatile sig_atomic_t ctl_stop;

/* Catches SIGINT, SIGTERM and SIGPIPE into ctl_stop (main, once, first). */
void ctl_signals_install(void);

/*
 * The exit status of a command that stopped because ctl_stop was set:
 * CTL_CLOSED without a word for a closed reader, else CTL_INTERRUPTED after
 * printing the line fmt ("interrupted; nothing was changed").
 */
int ctl_stopped(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Returned by an iteration callback to stop the walk early (not an error). */
#define CTL_WALK_LIMIT 1
#define CTL_WALK_STOP  2

enum ctl_mode { CTL_READ_ONLY, CTL_READ_WRITE, CTL_READ_WRITE_CREATE };

struct ctl {
    const char *db; /* --db; NULL: ctl_open sets $HOOKQ_DB or HQ_DEFAULT_DB */
    hq_queue *q;    /* set by ctl_open; closed by main */
    int64_t now_ms; /* one "now" for a whole command */
};

/* A command: argv[0] is its name; returns an exit status, or CTL_HELP. */
typedef int (*ctl_cmd_fn)(struct ctl *c, int argc, char **argv);

/* Reads the shared settings (settings.h) and opens c->db in mode; prints
 * one line and returns an exit status on failure. */
int ctl_open(struct ctl *c, enum ctl_mode mode);

/* Prints the complete --help text on stdout; returns CTL_OK. */
int ctl_usage(void);

/*
 * Reports a getopt error for the command cmd (ch is getopt's '?' or ':',
 * bad the offending argv word) and returns CTL_USAGE.
 */
int ctl_bad_option(const char *cmd, int ch, const char *bad);

/* Prints "hookqctl: ..." on stderr. */
void ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Maps a queue error to an exit status after printing "what: why". */
int ctl_fail(const char *what, int rc);

/* Flushes stdout; CTL_FAIL with a line when a write failed (disk full),
 * CTL_CLOSED quietly when the reader went away. Returns status otherwise. */
int ctl_finish_output(int status);

/* ---- options ------------------------------------------------------------ */

/*
 * Which filter options a command takes; one table in ctl_fmt.c has them all.
 * Queued events (list): --repo --event --state --limit. Dead letters (dlq
 * list/replay/purge/export): --repo --event --reason --since --older-than
 * --limit.
 */
enum ctl_filters { CTL_FILTERS_NONE = 0, CTL_FILTERS_QUEUED = 1, CTL_FILTERS_DEAD = 2 };

/* One of a command's own options without a value: --name sets *set. */
struct ctl_flag {
    const char *name;
    bool *set;
};
#define CTL_MAX_FLAGS 4

/* Not an exit status: the command was asked for --help (main prints it, 0). */
#define CTL_HELP (-1)

struct ctl_filter;

/*
 * Parses a command's options (getopt_long; optind is left at the first
 * operand): the filter options of filters into f through ctl_filter_set
 * (with now_ms), each of flags (at most CTL_MAX_FLAGS, ended by a NULL name)
 * into its bool, and --help/-h. Returns CTL_OK; CTL_HELP at --help, before
 * the options after it are looked at; CTL_USAGE after printing why, with cmd
 * (the command's name) in the line. f may be NULL with CTL_FILTERS_NONE.
 */
int ctl_options(const char *cmd, int argc, char **argv, enum ctl_filters filters,
                const struct ctl_flag *flags, struct ctl_filter *f, int64_t now_ms);

/* ---- filters (list, dlq list/replay/purge/export) ----------------------- */

enum ctl_state { CTL_STATE_ANY = 0, CTL_STATE_READY, CTL_STATE_WAITING, CTL_STATE_QUEUED };

struct ctl_filter {
    const char *repo_name; /* "owner/name", case-insensitive; NULL for any */
    uint64_t repo_id;      /* nonzero: only this repository */
    const char *event;     /* exact; NULL for any */
    const char *reason;    /* case-insensitive substring (dead letters) */
    int64_t since_ms;      /* dead letters: dead at or after; INT64_MIN for any */
    int64_t before_ms;     /* dead letters: dead before; INT64_MAX for any */
    enum ctl_state state;  /* queued events only */
    uint64_t limit;        /* 0: no limit */
    bool any;              /* some filter was given (replay/purge need one) */
};

void ctl_filter_init(struct ctl_filter *f);

/*
 * Applies a filter option (its long name without "--" and its argument) to f.
 * Returns 0, or CTL_USAGE after printing why the value is malformed.
 */
int ctl_filter_set(struct ctl_filter *f, const char *opt, const char *arg, int64_t now_ms);

/* Whether ev passes f's repository, event, reason and time filters. */
bool ctl_filter_match(const struct ctl_filter *f, const struct hq_event *ev);

/* "owner/repo push/opened delivery X" (terminal-safe) for replay/purge/import lines. */
#define CTL_DESC_LEN 512
void ctl_describe(const struct hq_event *ev, char *out, size_t cap);

/* Parses an event id (decimal, >= 1); CTL_USAGE with a line when malformed. */
int ctl_parse_id(const char *s, uint64_t *id);

/* ---- formatting ---------------------------------------------------------- */

/* "2026-01-02 03:04:05Z" (table) into buf[32]; "-" for 0. */
void ctl_fmt_time(int64_t ms, char buf[32]);
/* "2026-01-02T03:04:05.678Z" (RFC 3339, JSON) into buf[40]. */
void ctl_fmt_rfc3339(int64_t ms, char buf[40]);
/* "45s", "12m", "3h", "4d" into buf[24]. */
void ctl_fmt_age(int64_t ms, char buf[24]);

/*
 * Copies src into dst (cap bytes) for a terminal: control characters
 * (C0, DEL, C1) become '?', newlines a space; cut at max_chars characters on a
 * UTF-8 boundary with "..." when longer; max_chars 0 means only cap bounds it.
 */
void ctl_sanitize(char *dst, size_t cap, const char *src, size_t max_chars);

const char *ctl_step_name(uint32_t step);
const char *ctl_check_name(uint32_t state);

/*
 * The JSON object of an event for --json (schema/design.md §8): id, repo, repo_id,
 * delivery, hook_id, event, action, attempts, received_at, and step,
 * not_before, installation_id when set; dead letters add reason, dead_at,
 * check results. NULL when out of memory.
 */
struct cJSON;
struct cJSON *ctl_event_json(const struct hq_event *ev, bool dead);
/* Prints obj on one line on stdout and deletes it; CTL_FAIL when out of memory. */
int ctl_print_json(struct cJSON *obj);
/* Adds an unsigned/signed integer member exactly (cJSON numbers are doubles). */
bool ctl_json_add_u64(struct cJSON *obj, const char *name, uint64_t v);
bool ctl_json_add_i64(struct cJSON *obj, const char *name, int64_t v);

/* ---- export records (ctl_record.c) --------------------------------------- */

#define CTL_RECORD_MAX_PAYLOAD (40u << 20) /* the largest payload a record holds */
/* The longest record line, without its newline: export writes none longer
 * and import reads none longer (40 MiB of payload is 54 MiB of base64). */
#define CTL_RECORD_LINE_MAX (64u << 20)

/*
 * Writes ev, payload included, as one record line of the export format
 * (version 1; ctl_record.c says what it holds) into line, which is reset
 * first; no newline. line's cap bounds the record: dlq export gives it
 * CTL_RECORD_LINE_MAX, so that import can read back every line it wrote.
 * Returns 0; HQ_ETOOBIG when the payload is over CTL_RECORD_MAX_PAYLOAD or
 * the line over the cap; -ENOMEM. On failure line is left empty.
 */
HQ_WUR int ctl_record_format(const struct hq_event *ev, struct hq_dynbuf *line);

/*
 * Parses one record line: line[0..len), without its newline, need not be
 * NUL-terminated; any bytes may come (it is outside input). Every field must
 * be there with its type and within its bounds (the queue's HQ_MAX_* lengths,
 * integers exact, a step and check state hookq knows, canonical base64), and
 * nothing may follow the object. Returns 0 with a new *out (the caller frees
 * it with hq_event_free); HQ_EPARSE with *why naming the first bad field (a
 * static string) and *out untouched; -ENOMEM.
 */
HQ_WUR int ctl_record_parse(const char *line, size_t len, struct hq_event **out, const char **why);

/* ---- commands ---------------------------------------------------------- */

int ctl_cmd_stats(struct ctl *c, int argc, char **argv);
int ctl_cmd_list(struct ctl *c, int argc, char **argv);
int ctl_cmd_dlq_list(struct ctl *c, int argc, char **argv);
int ctl_cmd_dlq_show(struct ctl *c, int argc, char **argv);
int ctl_cmd_dlq_replay(struct ctl *c, int argc, char **argv);
int ctl_cmd_dlq_purge(struct ctl *c, int argc, char **argv);
int ctl_cmd_dlq_export(struct ctl *c, int argc, char **argv);
int ctl_cmd_dlq_import(struct ctl *c, int argc, char **argv);
int ctl_cmd_catchup(struct ctl *c, int argc, char **argv);
int ctl_cmd_migrate(struct ctl *c, int argc, char **argv);

#endif
