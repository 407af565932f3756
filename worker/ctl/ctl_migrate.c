/*
 * ctl_migrate: hookqctl migrate --to URI [--dry-run] [--json], moving a
 * whole queue to another database, of any backend (schema/design.md §7,
 * "Moving up from one host"): queued events per repository in FIFO order
 * with their attempts and steps, then dead letters, dedup pairs and the
 * counters, keeping every id.
 *
 * The source is --db / HOOKQ_DB, opened read-only and read in one snapshot
 * per kind with the queue's iterators; the target is opened (created if
 * needed) with the backend its URI names and takes the copy in batches of
 * hq_queue_import, each one durable commit. Both must be idle: the source is
 * refused while another process has it open (as far as we can tell), the
 * target unless it is empty, so that nothing is copied twice or merged into
 * a live queue. Every refusal happens before anything is written.
 */
#include "config.h"
#include "ctl.h"
#include "envelope.h"
#include "settings.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIGRATE_BATCH       500         /* items per hq_queue_import */
#define MIGRATE_BATCH_BYTES (32u << 20) /* payload bytes per batch, whatever the count */
#define SHOWN_DB_LEN        256

/* What the copy moved (or, in a dry run, would move). */
struct migrate_counts {
    uint64_t events, dead, dedup;
};

struct migrate {
    hq_queue *dst; /* NULL in a dry run: count only */
    struct hq_import items[MIGRATE_BATCH];
    struct hq_event *evs[MIGRATE_BATCH]; /* owned copies behind items[].ev */
    char *deliveries[MIGRATE_BATCH];     /* owned copies behind items[].delivery */
    size_t n, bytes;
    struct migrate_counts done; /* stored in the target (or counted) */
    int rc;                     /* the queue error that stopped the copy */
    const char *what;           /* what was being read or written then */
};

enum { WALK_STOP = 1, WALK_FAILED = 2 }; /* callback results that end a walk */

static void batch_clear(struct migrate *m)
{
    for (size_t i = 0; i < m->n; i++) {
        hq_event_free(m->evs[i]);
        free(m->deliveries[i]);
        m->evs[i] = NULL;
        m->deliveries[i] = NULL;
    }
    m->n = 0;
    m->bytes = 0;
}

/* Stores the batch in one durable commit. */
static int batch_flush(struct migrate *m)
{
    int rc = 0;
    if (m->dst != NULL && m->n > 0)
        rc = hq_queue_import(m->dst, m->items, m->n);
    if (rc == 0) {
        for (size_t i = 0; i < m->n; i++) {
            enum hq_import_kind k = m->items[i].kind;
            m->done.events += k == HQ_IMPORT_EVENT;
            m->done.dead += k == HQ_IMPORT_DEAD;
            m->done.dedup += k == HQ_IMPORT_DEDUP;
        }
    } else {
        m->rc = rc;
        m->what = "writing to the target";
    }
    batch_clear(m);
    return rc;
}

static int batch_add(struct migrate *m, const struct hq_import *it, struct hq_event *ev,
                     char *delivery, size_t bytes)
{
    m->items[m->n] = *it;
    m->evs[m->n] = ev;
    m->deliveries[m->n] = delivery;
    m->n++;
    m->bytes += bytes;
    if (m->n == MIGRATE_BATCH || m->bytes >= MIGRATE_BATCH_BYTES)
        return batch_flush(m);
    return 0;
}

/* An event or dead letter of the source; copied, since ev lives only
 * during the call. */
static int add_event(struct migrate *m, enum hq_import_kind kind, const struct hq_event *ev)
{
    if (ctl_stop)
        return WALK_STOP;
    struct hq_event *copy = NULL;
    int rc = hq_event_dup(ev, &copy);
    if (rc != 0) {
        m->rc = rc;
        m->what = "reading the source";
        return WALK_FAILED;
    }
    struct hq_import it = {.kind = kind, .ev = copy};
    return batch_add(m, &it, copy, NULL, copy->payload_len) != 0 ? WALK_FAILED : 0;
}

static int event_cb(const struct hq_event *ev, void *arg)
{
    return add_event(arg, HQ_IMPORT_EVENT, ev);
}

static int dead_cb(const struct hq_event *ev, void *arg)
{
    return add_event(arg, HQ_IMPORT_DEAD, ev);
}

static int dedup_cb(uint64_t hook_id, const char *delivery, int64_t at_ms, uint64_t event_id,
                    void *arg)
{
    struct migrate *m = arg;
    if (ctl_stop)
        return WALK_STOP;
    char *d = strdup(delivery);
    if (d == NULL) {
        m->rc = -ENOMEM;
        m->what = "reading the source";
        return WALK_FAILED;
    }
    struct hq_import it = {.kind = HQ_IMPORT_DEDUP,
                           .hook_id = hook_id,
                           .delivery = d,
                           .at_ms = at_ms,
                           .event_id = event_id};
    return batch_add(m, &it, NULL, d, 0) != 0 ? WALK_FAILED : 0;
}

/* Any dedup pair at all: stops the walk at the first. */
static int any_pair_cb(uint64_t hook_id, const char *delivery, int64_t at_ms, uint64_t event_id,
                       void *arg)
{
    (void)hook_id, (void)delivery, (void)at_ms, (void)event_id;
    *(bool *)arg = true;
    return WALK_STOP;
}

static bool is_uri(const char *db)
{
    const char *sep = strstr(db, "://");
    return sep != NULL && strchr(db, '/') >= sep;
}

/*
 * Whether src and dst name the same database: the same directory (however
 * spelled) or the same URI.
 */
static bool same_database(const char *src, const char *dst)
{
    if (is_uri(src) || is_uri(dst))
        return strcmp(src, dst) == 0;
    struct stat a, b;
    return stat(src, &a) == 0 && stat(dst, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/*
 * Another process that has the LMDB database dir open: every process with
 * the environment open holds a shared fcntl lock on the first byte of
 * lock.mdb for as long as it does (LMDB's check for the first opener), so a
 * probe for an exclusive lock names one of them. 0 when none does (or dir
 * is not LMDB's, or cannot be probed). Closing the probe's descriptor drops
 * every fcntl lock this process holds on the file, so it runs before this
 * process opens the database.
 * NEEDSWORK: this knows LMDB's files; it belongs behind the queue seam (an
 * optional "in use" operation, which PostgreSQL could answer from
 * pg_stat_activity) once a second backend needs it.
 */
static pid_t lmdb_user(const char *dir)
{
    char path[4096];
    if (is_uri(dir) || hq_snprintf(path, sizeof(path), "%s/lock.mdb", dir) != 0)
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    pid_t pid = 0;
    if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
        pid = fl.l_pid;
    close(fd);
    return pid;
}

/* CTL_USAGE, with the line saying why, when the target is the source or
 * another process has either of them open. */
static int refuse_busy_or_same(const char *src_db, const char *src, const char *to, const char *dst)
{
    if (same_database(src_db, to)) {
        ctl_err("migrate: the target %s is the source database; nothing was written", dst);
        return CTL_USAGE;
    }
    pid_t user = lmdb_user(src_db);
    if (user != 0) {
        ctl_err("migrate: process %ld still has the source %s open: stop the services "
                "(receiver, workers) first; nothing was written",
                (long)user, src);
        return CTL_USAGE;
    }
    /* A service on the target would interleave its events with the copy's. */
    if ((user = lmdb_user(to)) != 0) {
        ctl_err("migrate: process %ld has the target %s open: stop it first; nothing was "
                "written",
                (long)user, dst);
        return CTL_USAGE;
    }
    return CTL_OK;
}

/* Whether q holds anything at all: events, dead letters, pairs, counters. */
static int queue_is_empty(hq_queue *q, bool *empty)
{
    struct hq_queue_stats st;
    int rc = hq_queue_stats(q, &st);
    if (rc != 0)
        return rc;
    bool pair = false;
    rc = hq_queue_foreach_dedup(q, any_pair_cb, &pair);
    if (rc != 0 && rc != WALK_STOP)
        return rc;
    *empty = st.queued == 0 && st.dead == 0 && !pair && st.enqueued_total == 0 &&
             st.duplicates_total == 0 && st.done_total == 0 && st.dead_total == 0;
    return 0;
}

/*
 * Opens the target: first read-only, to refuse one that is not empty
 * without writing to it; then, unless dry, read-write (creating it).
 * *created says it did not exist. Prints one line on failure.
 */
static int open_target(const struct hq_queue_opts *base, const char *shown, bool dry,
                       hq_queue **out, bool *created)
{
    struct hq_queue_opts o = *base;
    hq_queue *q = NULL;
    o.read_only = true;
    int rc = hq_queue_open(&o, &q);
    *created = rc == -ENOENT;
    if (rc != 0 && rc != -ENOENT) {
        ctl_err(
            "migrate: cannot open the target %s: %s%s; nothing was written", shown, hq_strerror(rc),
            rc == HQ_ESCHEMA ? " (a schema this hookqctl " HOOKQ_VERSION " does not know)" : "");
        return rc == HQ_ESTORAGE || rc == -EIO ? CTL_FAIL : CTL_USAGE;
    }
    if (q != NULL) {
        bool empty = false;
        rc = queue_is_empty(q, &empty);
        hq_queue_close(q);
        q = NULL;
        if (rc != 0)
            return ctl_fail("migrate: reading the target", rc);
        if (!empty) {
            ctl_err("migrate: the target %s is not empty (it holds events, dead letters, "
                    "dedup keys or counters); refusing to merge into it, nothing was written",
                    shown);
            return CTL_USAGE;
        }
    }
    if (dry)
        return CTL_OK;
    o.read_only = false;
    o.no_create = false;
    if ((rc = hq_queue_open(&o, &q)) != 0) {
        ctl_err("migrate: cannot open the target %s: %s", shown, hq_strerror(rc));
        return rc == -EACCES || rc == -EPERM ? CTL_USAGE : CTL_FAIL;
    }
    *out = q;
    return CTL_OK;
}

/* Copies everything of src into m (whose dst may be NULL: a dry run). */
static int copy_all(hq_queue *src, const struct hq_queue_stats *st, struct migrate *m)
{
    int rc = hq_queue_foreach_event(src, 0, true, event_cb, m);
    if (rc == 0)
        rc = hq_queue_foreach_dead(src, true, dead_cb, m);
    if (rc == 0)
        rc = hq_queue_foreach_dedup(src, dedup_cb, m);
    if (rc == 0) {
        /* The counters last: a copy cut short is then told by them too. */
        struct hq_import it = {.kind = HQ_IMPORT_COUNTERS,
                               .enqueued_total = st->enqueued_total,
                               .duplicates_total = st->duplicates_total,
                               .done_total = st->done_total,
                               .dead_total = st->dead_total};
        rc = batch_add(m, &it, NULL, NULL, 0) != 0 ? WALK_FAILED : 0;
    }
    if (rc == 0)
        rc = batch_flush(m) != 0 ? WALK_FAILED : 0;
    batch_clear(m);
    if (rc != 0 && rc != WALK_STOP && rc != WALK_FAILED) {
        m->rc = rc; /* the iterator's own failure */
        m->what = "reading the source";
    }
    return rc;
}

static int print_json(const char *src, const char *dst, bool dry, bool created,
                      const struct hq_queue_stats *st, const struct migrate_counts *n)
{
    cJSON *o = cJSON_CreateObject(), *ctr = cJSON_CreateObject();
    bool ok = o != NULL && ctr != NULL && cJSON_AddStringToObject(o, "source", src) != NULL &&
              cJSON_AddStringToObject(o, "target", dst) != NULL &&
              cJSON_AddBoolToObject(o, "dry_run", dry) != NULL &&
              cJSON_AddBoolToObject(o, "target_created", created) != NULL &&
              ctl_json_add_u64(o, "events", n->events) &&
              ctl_json_add_u64(o, "repositories", st->repositories) &&
              ctl_json_add_u64(o, "leased", st->leased) && ctl_json_add_u64(o, "dead", n->dead) &&
              ctl_json_add_u64(o, "dedup", n->dedup) &&
              ctl_json_add_u64(ctr, "enqueued_total", st->enqueued_total) &&
              ctl_json_add_u64(ctr, "duplicates_total", st->duplicates_total) &&
              ctl_json_add_u64(ctr, "done_total", st->done_total) &&
              ctl_json_add_u64(ctr, "dead_total", st->dead_total);
    if (ok && cJSON_AddItemToObject(o, "counters", ctr))
        ctr = NULL;
    else
        ok = false;
    cJSON_Delete(ctr);
    if (!ok) {
        cJSON_Delete(o);
        o = NULL;
    }
    return ctl_print_json(o);
}

static void print_text(const char *src, const char *dst, bool dry, bool created,
                       const struct hq_queue_stats *st, const struct migrate_counts *n)
{
    printf("%s %s to %s%s\n", dry ? "would migrate" : "migrated", src, dst,
           created ? (dry ? " (would be created)" : " (created)") : "");
    printf("%-20s %" PRIu64 " in %" PRIu64 " repositories\n", "events", n->events,
           st->repositories);
    printf("%-20s %" PRIu64 "\n", "dead", n->dead);
    printf("%-20s %" PRIu64 "\n", "dedup", n->dedup);
    printf("%-20s enqueued_total %" PRIu64 ", duplicates_total %" PRIu64 ", done_total %" PRIu64
           ", dead_total %" PRIu64 "\n",
           "counters", st->enqueued_total, st->duplicates_total, st->done_total, st->dead_total);
    if (st->leased > 0)
        printf("note: %" PRIu64 " event%s leased in the source (a worker stopped without "
               "giving %s back); %s unleased, as stored, and will run again from %s "
               "recorded step\n",
               st->leased, st->leased == 1 ? " was" : "s were", st->leased == 1 ? "it" : "them",
               dry ? "it would be copied" : "copied", st->leased == 1 ? "its" : "their");
    if (dry)
        printf("dry run: nothing was written\n");
}

static int parse_options(int argc, char **argv, const char **to, bool *dry, bool *json)
{
    static const struct option opts[] = {{"to", required_argument, NULL, 't'},
                                         {"dry-run", no_argument, NULL, 'n'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (ch) {
        case 't': *to = optarg; break;
        case 'n': *dry = true; break;
        case 'j': *json = true; break;
        case 'h': return CTL_HELP;
        default: return ctl_bad_option("migrate", ch, argv[optind - 1]);
        }
    }
    if (optind < argc) {
        ctl_err("migrate: unexpected argument '%.100s' (the target is --to URI)", argv[optind]);
        return CTL_USAGE;
    }
    if (*to == NULL || (*to)[0] == '\0') {
        ctl_err("migrate: --to URI is required: the database to copy the queue into");
        return CTL_USAGE;
    }
    return CTL_OK;
}

int ctl_cmd_migrate(struct ctl *c, int argc, char **argv)
{
    const char *to = NULL;
    bool dry = false, json = false;
    int status = parse_options(argc, argv, &to, &dry, &json);
    if (status != CTL_OK)
        return status;
    struct hq_cfgerr cerr;
    if (hq_settings_db("--to", to, &cerr) != 0) {
        ctl_err("migrate: %s; nothing was written", cerr.msg);
        return CTL_USAGE;
    }
    struct hq_queue_opts o;
    if (hq_settings_queue(&o, HQ_SETTINGS_KEEP_MAP_SIZE, &cerr) != 0) {
        ctl_err("%s", cerr.msg);
        return CTL_USAGE;
    }
    /* Before the source is open here: closing the probe's descriptor of its
     * lock.mdb would drop this process's own LMDB lock on it. */
    const char *src_db = c->db != NULL ? c->db : o.db;
    char src[SHOWN_DB_LEN], dst[SHOWN_DB_LEN];
    hq_settings_mask_db(src_db, src, sizeof(src));
    hq_settings_mask_db(to, dst, sizeof(dst));
    if ((status = refuse_busy_or_same(src_db, src, to, dst)) != CTL_OK)
        return status;
    if ((status = ctl_open(c, CTL_READ_ONLY)) != CTL_OK)
        return status;
    struct hq_queue_stats st;
    int rc = hq_queue_stats(c->q, &st);
    if (rc != 0)
        return ctl_fail("migrate: reading the source", rc);
    o.db = to;
    if (o.lmdb.map_size == 0 && st.has_map && st.map_size > HQ_DEFAULT_MAP_SIZE)
        o.lmdb.map_size = st.map_size; /* an LMDB target as large as the source */
    struct migrate *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return ctl_fail("migrate", -ENOMEM);
    bool created = false;
    if ((status = open_target(&o, dst, dry, &m->dst, &created)) != CTL_OK)
        goto out;
    rc = copy_all(c->q, &st, m);
    if (rc == WALK_STOP) {
        if (dry)
            status = ctl_stopped("interrupted; nothing was written");
        else
            status = ctl_stopped("interrupted: the target holds a partial copy (%" PRIu64
                                 " events); remove it before running migrate again",
                                 m->done.events);
    } else if (rc != 0) {
        ctl_err("migrate: %s failed: %s%s", m->what, hq_strerror(m->rc),
                dry || (m->done.events | m->done.dead | m->done.dedup) == 0
                    ? "; nothing was written"
                    : "; the target holds a partial copy: remove it before running migrate "
                      "again");
        status = CTL_FAIL;
    } else if (json) {
        status = print_json(src, dst, dry, created, &st, &m->done);
    } else {
        print_text(src, dst, dry, created, &st, &m->done);
    }
out:
    hq_queue_close(m->dst);
    free(m);
    return status;
}
