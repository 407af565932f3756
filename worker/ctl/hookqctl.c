/*
 * hookqctl: the operator's command over the queue (schema/design.md §1, §8): statistics,
 * listings of queued events, and the dead-letter commands.
 *
 * Modelled on LMDB's mdb_stat/mdb_dump (inspection opens the store read-only,
 * a signal sets a flag the loops check) and on OpenSMTPD's smtpctl (a table
 * of commands). This file is main, the command table, the usage text and
 * opening the database; the commands live in ctl_show.c, ctl_dlq.c,
 * ctl_export.c, ctl_catchup.c and ctl_migrate.c, messages and signals in ctl_out.c.
 */
#include "clock.h"
#include "config.h"
#include "ctl.h"
#include "settings.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage_text[] =
    "usage: hookqctl [--db PATH] COMMAND [OPTIONS]\n"
    "\n"
    "Inspects and repairs a hookq queue. PATH is the database directory\n"
    "(default: $HOOKQ_DB, else " HQ_DEFAULT_DB ").\n"
    "\n"
    "Commands:\n"
    "  stats [--json]\n"
    "      Queue figures: queued, repositories, ready, waiting, leased, dead,\n"
    "      oldest_age_seconds, the totals since creation, map size and use.\n"
    "  list [--repo NAME|ID] [--event E] [--state S] [--limit N] [--json]\n"
    "      Queued events per repository in FIFO order. S is one of\n"
    "        ready    the head of its repository, due now (ready, or being\n"
    "                 worked on: leases are not visible per event)\n"
    "        waiting  the head of its repository, backing off until not_before\n"
    "        queued   behind the head of its repository\n"
    "  dlq list [FILTERS] [--limit N] [--json]\n"
    "      Dead letters in id order (the order the deliveries were received).\n"
    "  dlq show ID [--payload] [--json]\n"
    "      One dead letter: envelope, history of attempts, payload summary.\n"
    "      --payload prints the raw payload exactly (with --json: embedded).\n"
    "  dlq replay ID... | FILTERS | --all  [--dry-run]\n"
    "      Moves dead letters back to the tail of their repository's FIFO with\n"
    "      attempts reset, keeping delivery id, received time and history.\n"
    "  dlq purge ID... | FILTERS | --all  [--dry-run]\n"
    "      Deletes dead letters for good.\n"
    "  dlq export [FILTERS] [FILE|-]\n"
    "      Writes dead letters in the versioned line format (default: stdout):\n"
    "      a line 'hookq-dlq-export 1', one JSON object per dead letter with\n"
    "      every field (payload base64), and a line 'end N'.\n"
    "  dlq import [FILE|-]  [--dry-run]\n"
    "      Loads an export as dead letters with new ids (creates the database\n"
    "      if missing). The whole file is checked first: nothing is imported\n"
    "      from a malformed or truncated file. Dead letters already present\n"
    "      (same hook id and delivery) are counted as duplicates and skipped.\n"
    "  catch-up [--since D] [--dry-run] [--redeliver] [--json]\n"
    "      Recovers deliveries GitHub could not deliver: pages the App's delivery\n"
    "      log back D (default HOOKQ_CATCHUP_WINDOW, 3d) and enqueues each missed\n"
    "      delivery of an accepted event (HOOKQ_EVENTS) the queue does not know,\n"
    "      oldest first. --redeliver asks GitHub to redeliver instead; --dry-run\n"
    "      changes nothing. Needs HOOKQ_APP_ID, HOOKQ_APP_KEY_FILE and\n"
    "      HOOKQ_GITHUB_API. JSON: one object per missed delivery (guid,\n"
    "      github_id, event, action, repo_id, result: enqueued, duplicate,\n"
    "      would_enqueue, redelivery_requested, ignored or failed). Exit 0 when\n"
    "      the run completed, 1 when GitHub could not be read, 2 usage.\n"
    "  migrate --to URI [--dry-run] [--json]\n"
    "      Copies the whole queue into another database of any backend (URI: a\n"
    "      directory for LMDB, or a postgresql:// URI): queued events per\n"
    "      repository in FIFO order with their attempts and steps, then dead\n"
    "      letters, dedup keys and counters, keeping every id, 500 per commit.\n"
    "      Stop the services first: the source (--db) is opened read-only and\n"
    "      refused while another process has it open. The target is created if\n"
    "      missing, and refused unless it is empty or when it is the source.\n"
    "      Events a stopped worker still held are copied unleased, as stored.\n"
    "      --dry-run reads and counts everything and writes nothing. A password\n"
    "      in URI is printed as ***.\n"
    "\n"
    "Filters (dead letters):\n"
    "  --repo NAME|ID       repository full name (any case) or numeric id\n"
    "  --event E            event name (push, pull_request, ...)\n"
    "  --reason TEXT        reason contains TEXT (any case)\n"
    "  --since T            dead at or after T\n"
    "  --older-than T       dead before T\n"
    "  T is a duration back from now (90s, 10m, 2h, 7d) or an RFC 3339 time.\n"
    "\n"
    "Options:\n"
    "  --db PATH            database directory\n"
    "  --json               one JSON object per line (stats: one object)\n"
    "  --limit N            at most N lines\n"
    "  --dry-run            print what would be done, change nothing\n"
    "  --help, --version\n"
    "\n"
    "stats, list, dlq list/show/export open the database read-only and work\n"
    "while the services run; replay, purge and import write through the queue\n"
    "and are safe while they run; migrate wants them stopped. Each replay and\n"
    "purge is its own commit.\n"
    "\n"
    "Exit status: 0 done; 1 nothing matched (an id that is not there: nothing is\n"
    "changed); 2 usage error, malformed value, no database or a newer schema;\n"
    "3 storage or I/O failure; 130 interrupted by SIGINT or SIGTERM; 141 the\n"
    "reader of the output went away (hookqctl dlq list | head): the command\n"
    "stopped there without a message, as a shell shows a tool ended by SIGPIPE.\n"
    "\n"
    "Environment: HOOKQ_DB (database), HOOKQ_MAP_SIZE (map size when writing;\n"
    "default: the database's own, 4GiB for a new one), HOOKQ_SYNC, HOOKQ_LOG_FORMAT\n"
    "and HOOKQ_LOG_LEVEL, with the services' bounds.\n";

int ctl_usage(void)
{
    fputs(usage_text, stdout);
    return CTL_OK;
}

int ctl_finish_output(int status)
{
    if (fflush(stdout) == 0 && !ferror(stdout))
        return status;
    /* The reader went away: quietly, like every other stop for that reason.
     * EPIPE alone covers a SIGPIPE that never reached the handler. */
    if (ctl_stop == CTL_STOP_PIPE || errno == EPIPE)
        return CTL_CLOSED;
    /* A write that the signal cut short: "interrupted" was said already. */
    if (status == CTL_INTERRUPTED)
        return status;
    ctl_err("writing the output failed: %s", strerror(errno));
    return status == CTL_OK || status == CTL_NOMATCH ? CTL_FAIL : status;
}

int ctl_open(struct ctl *c, enum ctl_mode mode)
{
    struct hq_queue_opts o;
    struct hq_log_settings log;
    struct hq_cfgerr cerr;
    /* The services' settings, with their messages; the database keeps its
     * own map size unless the operator gives one. --db wins over HOOKQ_DB. */
    if (hq_settings_queue(&o, HQ_SETTINGS_KEEP_MAP_SIZE, &cerr) != 0 ||
        (c->db != NULL && hq_settings_db("--db", c->db, &cerr) != 0) ||
        hq_settings_log(&log, &cerr) != 0) {
        ctl_err("%s", cerr.msg);
        return CTL_USAGE;
    }
    hq_log_setup("hookqctl", log.json, log.level);
    if (c->db == NULL)
        c->db = o.db;
    o.db = c->db;
    o.read_only = mode == CTL_READ_ONLY;
    /* Only import may create a database: replay or purge at a mistyped path
     * must not leave an empty queue behind. */
    o.no_create = mode != CTL_READ_WRITE_CREATE;
    char shown[256];
    hq_settings_mask_db(c->db, shown, sizeof(shown));
    int rc = hq_queue_open(&o, &c->q);
    if (rc == -ENOENT) {
        ctl_err("no hookq database at %s (set --db or HOOKQ_DB)", shown);
        return CTL_USAGE;
    }
    if (rc == HQ_ESCHEMA) {
        ctl_err("%s (--db or HOOKQ_DB): not a hookq database of a schema this hookqctl %s knows "
                "(written by a newer hookq?); nothing was changed",
                shown, HOOKQ_VERSION);
        return CTL_USAGE;
    }
    if (rc != 0) {
        ctl_err("cannot open the database at %s (--db or HOOKQ_DB): %s", shown,
                hq_queue_open_error(rc));
        return hq_queue_open_is_setup(rc) ? CTL_USAGE : CTL_FAIL;
    }
    return CTL_OK;
}

/* The command table (smtpctl's habit): "dlq" entries take a second word. */
static const struct {
    const char *group; /* NULL for top-level commands */
    const char *name;
    ctl_cmd_fn fn;
} commands[] = {
    {NULL, "catch-up", ctl_cmd_catchup},   {NULL, "stats", ctl_cmd_stats},
    {NULL, "list", ctl_cmd_list},          {"dlq", "list", ctl_cmd_dlq_list},
    {"dlq", "show", ctl_cmd_dlq_show},     {"dlq", "replay", ctl_cmd_dlq_replay},
    {"dlq", "purge", ctl_cmd_dlq_purge},   {"dlq", "export", ctl_cmd_dlq_export},
    {"dlq", "import", ctl_cmd_dlq_import}, {NULL, "migrate", ctl_cmd_migrate},
};

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"db", required_argument, NULL, 'd'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {NULL, 0, NULL, 0}};
    struct ctl c = {NULL, NULL, 0}; /* ctl_open resolves the database */
    int ch;
    ctl_signals_install();
    opterr = 0;
    /* '+': stop at the command word; its options are the command's. */
    while ((ch = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            if (optarg[0] == '\0') {
                ctl_err("--db: empty path");
                return CTL_USAGE;
            }
            c.db = optarg;
            break;
        case 'h': return ctl_finish_output(ctl_usage());
        case 'V': printf("hookqctl %s\n", HOOKQ_VERSION); return ctl_finish_output(CTL_OK);
        default:
            ctl_err("unknown option '%s' (see hookqctl --help)", argv[optind - 1]);
            return CTL_USAGE;
        }
    }
    if (optind >= argc) {
        ctl_err("no command given (see hookqctl --help)");
        return CTL_USAGE;
    }
    char **cargv = argv + optind;
    int cargc = argc - optind;
    const char *group = NULL;
    if (strcmp(cargv[0], "dlq") == 0) {
        if (cargc < 2) {
            ctl_err("dlq: which one? list, show, replay, purge, export or import");
            return CTL_USAGE;
        }
        group = "dlq";
        cargv++;
        cargc--;
    }
    ctl_cmd_fn fn = NULL;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        bool same_group = group == NULL
                              ? commands[i].group == NULL
                              : commands[i].group != NULL && strcmp(commands[i].group, group) == 0;
        if (same_group && strcmp(commands[i].name, cargv[0]) == 0)
            fn = commands[i].fn;
    }
    if (fn == NULL) {
        ctl_err("unknown command '%s%s%s' (see hookqctl --help)", group ? group : "",
                group ? " " : "", cargv[0]);
        return CTL_USAGE;
    }
    c.now_ms = hq_now_ms();
    optind = 0; /* glibc: start the command's own getopt afresh */
    int status = fn(&c, cargc, cargv);
    if (status == CTL_HELP)
        status = ctl_usage();
    hq_queue_close(c.q);
    return ctl_finish_output(status);
}
