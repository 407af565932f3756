/*
 * ctl_export: hookqctl's dlq export and dlq import, in a versioned
 * line-based format (modelled on mdb_dump's) that round-trips exactly: a
 * backup, or dead letters moved between hosts.
 *
 * Export format, version 1 (line-based, like mdb_dump's):
 *   hookq-dlq-export 1
 *   {"id":..,"repo_id":..,...,"history":"[...]","payload_b64":"..."}   one per dead letter
 *   end N                                                               N records above
 * A record line holds every field of struct hq_event (ctl_record.c writes and
 * parses it). Import reads the whole input once to check it (header, every
 * record, the end line) before it changes anything.
 */
#include "ctl.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXPORT_MAGIC   "hookq-dlq-export"
#define EXPORT_VERSION 1

/* ---- export --------------------------------------------------------------- */

struct export_walk {
    const struct ctl_filter *f;
    FILE *out;
    struct hq_dynbuf line; /* one record at a time, its memory kept for the next */
    uint64_t n;
    int err; /* first failure of the callback */
};

static int export_cb(const struct hq_event *ev, void *arg)
{
    struct export_walk *w = arg;
    if (ctl_stop)
        return CTL_WALK_STOP;
    if (!ctl_filter_match(w->f, ev))
        return 0;
    int rc = ctl_record_format(ev, &w->line);
    if (rc == 0) {
        size_t len = hq_dynbuf_len(&w->line);
        if (fwrite(hq_dynbuf_str(&w->line), 1, len, w->out) != len || putc('\n', w->out) == EOF)
            rc = -EIO;
    }
    if (rc != 0)
        return w->err = rc;
    w->n++;
    return w->f->limit != 0 && w->n >= w->f->limit ? CTL_WALK_LIMIT : 0;
}

int ctl_cmd_dlq_export(struct ctl *c, int argc, char **argv)
{
    struct ctl_filter f;
    int status;
    ctl_filter_init(&f);
    if ((status = ctl_options("dlq export", argc, argv, CTL_FILTERS_DEAD, NULL, &f, c->now_ms)) !=
        CTL_OK)
        return status;
    if (argc - optind > 1) {
        ctl_err("dlq export: at most one output file");
        return CTL_USAGE;
    }
    const char *path = optind < argc && strcmp(argv[optind], "-") != 0 ? argv[optind] : NULL;
    if ((status = ctl_open(c, CTL_READ_ONLY)) != CTL_OK)
        return status;
    /* A file is written beside its final name and renamed when complete, so
     * that an interrupted export never leaves a half backup under that name. */
    char tmp[4096];
    FILE *out = stdout;
    if (path != NULL) {
        if (hq_snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) != 0) {
            ctl_err("dlq export: output path too long");
            return CTL_USAGE;
        }
        out = fopen(tmp, "wx");
        if (out == NULL) {
            ctl_err("dlq export: cannot create %s: %s", tmp, strerror(errno));
            return CTL_FAIL;
        }
    }
    struct export_walk w = {&f, out, {0}, 0, 0};
    hq_dynbuf_init(&w.line, CTL_RECORD_LINE_MAX);
    fprintf(out, "%s %d\n", EXPORT_MAGIC, EXPORT_VERSION);
    int rc = hq_queue_foreach_dead(c->q, true, export_cb, &w);
    hq_dynbuf_free(&w.line);
    if (rc == CTL_WALK_STOP || ctl_stop) {
        status = ctl_stopped("interrupted; the export is incomplete");
    } else if (rc < 0) {
        status = ctl_fail("exporting dead letters", w.err ? w.err : rc);
    } else {
        fprintf(out, "end %" PRIu64 "\n", w.n);
    }
    if (path != NULL) {
        bool ok = fflush(out) == 0 && !ferror(out) && fsync(fileno(out)) == 0;
        ok = fclose(out) == 0 && ok;
        if (status == CTL_OK && !ok) {
            ctl_err("dlq export: writing %s failed: %s", tmp, strerror(errno));
            status = CTL_FAIL;
        }
        if (status == CTL_OK && rename(tmp, path) != 0) {
            ctl_err("dlq export: cannot rename %s to %s: %s", tmp, path, strerror(errno));
            status = CTL_FAIL;
        }
        if (status != CTL_OK)
            unlink(tmp);
        else
            fprintf(stderr, "exported %" PRIu64 " dead letters to %s\n", w.n, path);
    }
    return status;
}

/* ---- import --------------------------------------------------------------- */

/*
 * Reads one line into line (reset first), without its newline and byte for
 * byte (a NUL is data, for the record parser to refuse); at most line's cap.
 * Returns 1, 0 at the end of the input, HQ_ETOOBIG for a longer line, -EIO.
 * A last line without a newline counts.
 */
static int read_line(FILE *in, struct hq_dynbuf *line)
{
    char chunk[4096];
    size_t n = 0;
    int ch, rc;
    hq_dynbuf_reset(line);
    while ((ch = getc_unlocked(in)) != EOF && ch != '\n') {
        chunk[n++] = (char)ch;
        if (n == sizeof(chunk)) {
            if ((rc = hq_dynbuf_add(line, chunk, n)) != 0)
                return rc;
            n = 0;
        }
    }
    if (ferror(in))
        return -EIO;
    if ((rc = hq_dynbuf_add(line, chunk, n)) != 0)
        return rc;
    return ch == '\n' || hq_dynbuf_len(line) > 0 ? 1 : 0;
}

/* Reads the input through; checks every line, and with apply imports them. */
static int import_pass(struct ctl *c, FILE *in, const char *name, bool apply, uint64_t *count)
{
    struct hq_dynbuf buf;
    size_t lineno = 1;
    uint64_t records = 0, imported = 0, dups = 0;
    bool ended = false;
    int status = CTL_OK;
    hq_dynbuf_init(&buf, CTL_RECORD_LINE_MAX);
    int rc = read_line(in, &buf);
    const char *line = hq_dynbuf_str(&buf); /* text up to a NUL; the parser gets all */
    char header[64];
    if (hq_snprintf(header, sizeof(header), "%s %d", EXPORT_MAGIC, EXPORT_VERSION) != 0 ||
        rc != 1 || strcmp(line, header) != 0) {
        if (rc == 1 && strncmp(line, EXPORT_MAGIC " ", sizeof(EXPORT_MAGIC)) == 0)
            ctl_err("%s: export format version '%.20s' is not one this hookqctl reads (%d); "
                    "nothing was imported",
                    name, line + sizeof(EXPORT_MAGIC), EXPORT_VERSION);
        else
            ctl_err("%s: not a hookq dead-letter export (first line must be '%s'); "
                    "nothing was imported",
                    name, header);
        status = CTL_USAGE;
        goto out;
    }
    while ((rc = read_line(in, &buf)) == 1) {
        line = hq_dynbuf_str(&buf);
        lineno++;
        if (ctl_stop) {
            status = ctl_stopped("interrupted at line %zu; %" PRIu64 " imported before", lineno,
                                 imported);
            goto out;
        }
        if (ended) {
            ctl_err("%s:%zu: text after the end line; nothing was imported", name, lineno);
            status = CTL_USAGE;
            goto out;
        }
        uint64_t n;
        if (strncmp(line, "end ", 4) == 0) {
            char *end;
            errno = 0;
            n = strtoull(line + 4, &end, 10);
            if (errno != 0 || *end != '\0' || n != records) {
                ctl_err("%s:%zu: the end line says '%.30s' but %" PRIu64
                        " records came before; nothing was imported",
                        name, lineno, line + 4, records);
                status = CTL_USAGE;
                goto out;
            }
            ended = true;
            continue;
        }
        struct hq_event *ev = NULL;
        const char *why;
        int prc = ctl_record_parse(line, hq_dynbuf_len(&buf), &ev, &why);
        if (prc == -ENOMEM) {
            status = ctl_fail("reading the import", prc);
            goto out;
        }
        if (prc != 0) {
            ctl_err("%s:%zu: malformed record (field '%s'); nothing was imported", name, lineno,
                    why);
            status = CTL_USAGE;
            goto out;
        }
        records++;
        if (apply) {
            char desc[CTL_DESC_LEN];
            uint64_t new_id = 0;
            ctl_describe(ev, desc, sizeof(desc));
            int irc = hq_queue_import_dead(c->q, ev, &new_id);
            if (irc == 0) {
                printf("imported %" PRIu64 " as %" PRIu64 " (%s)\n", ev->id, new_id, desc);
                imported++;
            } else if (irc == HQ_EDUPLICATE) {
                printf("duplicate %" PRIu64 " (%s): already a dead letter, skipped\n", ev->id,
                       desc);
                dups++;
            } else {
                hq_event_free(ev);
                ctl_err("%s:%zu: import failed after %" PRIu64 " records: %s", name, lineno,
                        imported, hq_strerror(irc));
                status = CTL_FAIL;
                goto out;
            }
        }
        hq_event_free(ev);
    }
    if (rc != 0) {
        ctl_err("%s:%zu: %s", name, lineno + 1,
                rc == HQ_ETOOBIG ? "line too long" : hq_strerror(rc));
        status = rc == HQ_ETOOBIG ? CTL_USAGE : CTL_FAIL;
    } else if (!ended) {
        ctl_err("%s: truncated: no end line after %" PRIu64 " records; nothing was imported", name,
                records);
        status = CTL_USAGE;
    } else if (apply) {
        printf("imported %" PRIu64 " dead letters, %" PRIu64 " duplicates skipped\n", imported,
               dups);
    }
out:
    *count = records;
    hq_dynbuf_free(&buf);
    return status;
}

/* A pipe can be read only once: keep it in a temporary file to read twice. */
static int spool(FILE **in)
{
    struct stat st;
    if (fstat(fileno(*in), &st) == 0 && S_ISREG(st.st_mode))
        return CTL_OK;
    FILE *t = tmpfile();
    if (t == NULL) {
        ctl_err("dlq import: cannot make a temporary file: %s", strerror(errno));
        return CTL_FAIL;
    }
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), *in)) > 0) {
        if (fwrite(buf, 1, n, t) != n)
            break;
    }
    if (ferror(*in) || ferror(t) || fflush(t) != 0) {
        int status = CTL_FAIL;
        if (ctl_stop) /* a read that SIGINT cut short */
            status = ctl_stopped("interrupted; nothing was imported");
        else
            ctl_err("dlq import: reading the input failed: %s", strerror(errno));
        fclose(t);
        return status;
    }
    rewind(t);
    *in = t;
    return CTL_OK;
}

int ctl_cmd_dlq_import(struct ctl *c, int argc, char **argv)
{
    bool dry = false;
    const struct ctl_flag flags[] = {{"dry-run", &dry}, {NULL, NULL}};
    int status;
    if ((status = ctl_options("dlq import", argc, argv, CTL_FILTERS_NONE, flags, NULL,
                              c->now_ms)) != CTL_OK)
        return status;
    if (argc - optind > 1) {
        ctl_err("dlq import: at most one input file");
        return CTL_USAGE;
    }
    const char *path = optind < argc && strcmp(argv[optind], "-") != 0 ? argv[optind] : NULL;
    const char *name = path ? path : "<stdin>";
    FILE *in = path ? fopen(path, "r") : stdin, *orig = in;
    if (in == NULL) {
        ctl_err("dlq import: cannot open %s: %s", path, strerror(errno));
        return CTL_USAGE;
    }
    uint64_t records = 0;
    if ((status = spool(&in)) != CTL_OK)
        goto out;
    if ((status = import_pass(c, in, name, false, &records)) != CTL_OK)
        goto out;
    if (dry) {
        printf("would import %" PRIu64 " dead letters\n", records);
        goto out;
    }
    if ((status = ctl_open(c, CTL_READ_WRITE_CREATE)) != CTL_OK)
        goto out;
    rewind(in);
    status = import_pass(c, in, name, true, &records);
out:
    if (in != orig)
        fclose(in);
    if (orig != stdin)
        fclose(orig);
    return status;
}
