/*
 * ctl_export: hookqctl's dlq export and dlq import, in a versioned
 * line-based format (modelled on mdb_dump's) that round-trips exactly: a
 * backup, or dead letters moved between hosts.
 *
 * Export format, version 1 (line-based, like mdb_dump's):
 *   hookq-dlq-export 1
 *   {"id":..,"repo_id":..,...,"history":"[...]","payload_b64":"..."}   one per dead letter
 *   end N                                                               N records above
 * Every field of struct hq_event is written; integers exactly (at most 2^53,
 * as JSON readers hold them in doubles), history as the stored JSON text, the
 * payload in standard base64 so that it round-trips byte for byte. Import
 * reads the whole input once to check it (header, every record, the end line)
 * before it changes anything.
 */
#include "ctl.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXPORT_MAGIC       "hookq-dlq-export"
#define EXPORT_VERSION     1
#define EXPORT_MAX_LINE    (64u << 20) /* a 25 MiB payload is ~34 MiB of base64 */
#define EXPORT_MAX_PAYLOAD (40u << 20)
#define JSON_INT_MAX       9007199254740992.0 /* 2^53 */

/* ---- export --------------------------------------------------------------- */

struct export_walk {
    const struct ctl_filter *f;
    FILE *out;
    uint64_t n;
    int err; /* first failure of the callback */
};

static cJSON *record_json(const struct hq_event *ev)
{
    cJSON *o = cJSON_CreateObject();
    char *b64 = NULL;
    if (o == NULL || ev->payload_len > EXPORT_MAX_PAYLOAD)
        goto fail;
    b64 = malloc(4 * ((ev->payload_len + 2) / 3) + 1);
    if (b64 == NULL)
        goto fail;
    EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)ev->payload, (int)ev->payload_len);
    if (!ctl_json_add_u64(o, "id", ev->id) || !ctl_json_add_u64(o, "repo_id", ev->repo_id) ||
        !ctl_json_add_u64(o, "hook_id", ev->hook_id) ||
        !ctl_json_add_u64(o, "installation_id", ev->installation_id) ||
        !ctl_json_add_i64(o, "received_at_ms", ev->received_at_ms) ||
        !ctl_json_add_i64(o, "not_before_ms", ev->not_before_ms) ||
        !ctl_json_add_i64(o, "dead_at_ms", ev->dead_at_ms) ||
        !ctl_json_add_u64(o, "attempts", ev->attempts) || !ctl_json_add_u64(o, "step", ev->step) ||
        !ctl_json_add_u64(o, "check_state", ev->check_state) ||
        !cJSON_AddStringToObject(o, "repo", ev->repo_name) ||
        !cJSON_AddStringToObject(o, "delivery", ev->delivery) ||
        !cJSON_AddStringToObject(o, "event", ev->event) ||
        !cJSON_AddStringToObject(o, "action", ev->action) ||
        !cJSON_AddStringToObject(o, "check_desc", ev->check_desc) ||
        !cJSON_AddStringToObject(o, "history", ev->history) ||
        !cJSON_AddStringToObject(o, "reason", ev->reason) ||
        !cJSON_AddStringToObject(o, "payload_b64", b64))
        goto fail;
    free(b64);
    return o;
fail:
    free(b64);
    cJSON_Delete(o);
    return NULL;
}

static int export_cb(const struct hq_event *ev, void *arg)
{
    struct export_walk *w = arg;
    if (ctl_stop)
        return CTL_WALK_STOP;
    if (!ctl_filter_match(w->f, ev))
        return 0;
    cJSON *o = record_json(ev);
    char *line = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (line == NULL) {
        w->err = ev->payload_len > EXPORT_MAX_PAYLOAD ? HQ_ETOOBIG : -ENOMEM;
        return w->err;
    }
    int rc = fprintf(w->out, "%s\n", line) < 0 ? -EIO : 0;
    cJSON_free(line);
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
        int n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
        if (n < 0 || (size_t)n >= sizeof(tmp)) {
            ctl_err("dlq export: output path too long");
            return CTL_USAGE;
        }
        out = fopen(tmp, "wx");
        if (out == NULL) {
            ctl_err("dlq export: cannot create %s: %s", tmp, strerror(errno));
            return CTL_FAIL;
        }
    }
    struct export_walk w = {&f, out, 0, 0};
    fprintf(out, "%s %d\n", EXPORT_MAGIC, EXPORT_VERSION);
    int rc = hq_queue_foreach_dead(c->q, true, export_cb, &w);
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

/* Reads one line (without its newline) of at most max bytes; 1, 0 at EOF, or
 * HQ_ETOOBIG. A last line without a newline counts. */
static int read_line(FILE *in, char **buf, size_t *cap, size_t *len, size_t max)
{
    *len = 0;
    for (;;) {
        if (*cap - *len < 2) {
            size_t ncap = *cap ? *cap * 2 : 4096;
            if (ncap > max + 2)
                ncap = max + 2;
            if (ncap <= *cap)
                return HQ_ETOOBIG;
            char *p = realloc(*buf, ncap);
            if (p == NULL)
                return -ENOMEM;
            *buf = p;
            *cap = ncap;
        }
        if (fgets(*buf + *len, (int)(*cap - *len < INT_MAX ? *cap - *len : INT_MAX), in) == NULL)
            return *len > 0 ? 1 : (ferror(in) ? -EIO : 0);
        *len += strlen(*buf + *len);
        if (*len > 0 && (*buf)[*len - 1] == '\n') {
            (*buf)[--*len] = '\0';
            return 1;
        }
        if (feof(in))
            return 1;
    }
}

static bool json_int(const cJSON *o, const char *name, double min, double max, double *v)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsNumber(x) || x->valuedouble < min || x->valuedouble > max ||
        x->valuedouble != (double)(int64_t)x->valuedouble)
        return false;
    *v = x->valuedouble;
    return true;
}

static bool json_str(const cJSON *o, const char *name, size_t min, size_t max, char **out)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsString(x) || strlen(x->valuestring) < min || strlen(x->valuestring) > max)
        return false;
    *out = strdup(x->valuestring);
    return *out != NULL;
}

/* Parses one record into *out; on failure names the field in why. */
static int parse_record(const char *line, size_t len, struct hq_event **out, const char **why)
{
    cJSON *o = cJSON_ParseWithLength(line, len);
    struct hq_event *ev = calloc(1, sizeof(*ev));
    int rc = HQ_EPARSE;
    double v[10];
    static const struct {
        const char *name;
        double min, max;
    } nums[] = {{"repo_id", 1, JSON_INT_MAX},
                {"hook_id", 0, JSON_INT_MAX},
                {"installation_id", 0, JSON_INT_MAX},
                {"received_at_ms", -JSON_INT_MAX, JSON_INT_MAX},
                {"not_before_ms", -JSON_INT_MAX, JSON_INT_MAX},
                {"dead_at_ms", -JSON_INT_MAX, JSON_INT_MAX},
                {"attempts", 0, UINT32_MAX},
                {"step", 0, HQ_STEP_FINAL_POSTED},
                {"check_state", 0, HQ_CHECK_ERROR},
                {"id", 0, JSON_INT_MAX}};
    static const struct {
        const char *name;
        size_t min, max;
        size_t off;
    } strs[] = {{"repo", 1, HQ_MAX_REPO_NAME_LEN, offsetof(struct hq_event, repo_name)},
                {"delivery", 1, HQ_MAX_DELIVERY_LEN, offsetof(struct hq_event, delivery)},
                {"event", 1, HQ_MAX_EVENT_LEN, offsetof(struct hq_event, event)},
                {"action", 0, HQ_MAX_ACTION_LEN, offsetof(struct hq_event, action)},
                {"check_desc", 0, HQ_MAX_DESC_LEN, offsetof(struct hq_event, check_desc)},
                {"history", 0, HQ_MAX_HISTORY_LEN, offsetof(struct hq_event, history)},
                {"reason", 0, HQ_MAX_REASON_LEN, offsetof(struct hq_event, reason)}};
    *why = "not a JSON object";
    if (ev == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    if (!cJSON_IsObject(o))
        goto out;
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        if (!json_int(o, nums[i].name, nums[i].min, nums[i].max, &v[i])) {
            *why = nums[i].name;
            goto out;
        }
    }
    ev->repo_id = (uint64_t)v[0];
    ev->hook_id = (uint64_t)v[1];
    ev->installation_id = (uint64_t)v[2];
    ev->received_at_ms = (int64_t)v[3];
    ev->not_before_ms = (int64_t)v[4];
    ev->dead_at_ms = (int64_t)v[5];
    ev->attempts = (uint32_t)v[6];
    ev->step = (uint32_t)v[7];
    ev->check_state = (uint32_t)v[8];
    ev->id = (uint64_t)v[9];
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        if (!json_str(o, strs[i].name, strs[i].min, strs[i].max,
                      (char **)((char *)ev + strs[i].off))) {
            *why = strs[i].name;
            goto out;
        }
    }
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "payload_b64");
    size_t blen = cJSON_IsString(b) ? strlen(b->valuestring) : 1;
    *why = "payload_b64";
    if (blen % 4 != 0 || blen / 4 * 3 > EXPORT_MAX_PAYLOAD)
        goto out;
    ev->payload = malloc(blen / 4 * 3 + 1);
    if (ev->payload == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    int n = EVP_DecodeBlock((unsigned char *)ev->payload, (const unsigned char *)b->valuestring,
                            (int)blen);
    if (n < 0)
        goto out;
    /* EVP_DecodeBlock counts the bytes the '=' padding stands for. */
    for (size_t i = blen; i > 0 && b->valuestring[i - 1] == '=' && n > 0; i--)
        n--;
    ev->payload_len = (size_t)n;
    ev->payload[n] = '\0';
    *out = ev;
    ev = NULL;
    rc = 0;
out:
    cJSON_Delete(o);
    hq_event_free(ev);
    return rc;
}

/* Reads the input through; checks every line, and with apply imports them. */
static int import_pass(struct ctl *c, FILE *in, const char *name, bool apply, uint64_t *count)
{
    char *line = NULL;
    size_t cap = 0, len = 0, lineno = 1;
    uint64_t records = 0, imported = 0, dups = 0;
    bool ended = false;
    int status = CTL_OK;
    int rc = read_line(in, &line, &cap, &len, EXPORT_MAX_LINE);
    char header[64];
    snprintf(header, sizeof(header), "%s %d", EXPORT_MAGIC, EXPORT_VERSION);
    if (rc != 1 || strcmp(line, header) != 0) {
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
    while ((rc = read_line(in, &line, &cap, &len, EXPORT_MAX_LINE)) == 1) {
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
        int prc = parse_record(line, len, &ev, &why);
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
    free(line);
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
