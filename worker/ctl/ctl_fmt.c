/*
 * ctl_fmt: hookqctl's filters and formatting shared by its commands: how an
 * event is matched, shown in a table (times, ages, text made safe for a
 * terminal) and written as JSON (schema/design.md §8 field names).
 */
#include "clock.h"
#include "config.h"
#include "ctl.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

void ctl_filter_init(struct ctl_filter *f)
{
    memset(f, 0, sizeof(*f));
    f->since_ms = INT64_MIN;
    f->before_ms = INT64_MAX;
}

/* T: an RFC 3339 time, or a duration back from now. */
static int parse_time_arg(const char *s, int64_t now_ms, int64_t *out)
{
    int64_t d;
    if (hq_parse_rfc3339(s, out) == 0)
        return 0;
    if (hq_parse_duration_ms(s, &d) == 0 && d >= 0) {
        *out = now_ms - d;
        return 0;
    }
    return HQ_EPARSE;
}

static bool all_digits(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

int ctl_filter_set(struct ctl_filter *f, const char *opt, const char *arg, int64_t now_ms)
{
    if (strcmp(opt, "repo") == 0) {
        if (all_digits(arg)) {
            if (hq_parse_uint(arg, 1, UINT64_MAX, &f->repo_id) != 0)
                goto bad;
        } else if (arg[0] == '\0' || strlen(arg) > HQ_MAX_REPO_NAME_LEN ||
                   strchr(arg, '/') == NULL) {
            ctl_err("--repo: want owner/name or a numeric repository id (got '%.300s')", arg);
            return CTL_USAGE;
        } else {
            f->repo_name = arg;
        }
    } else if (strcmp(opt, "event") == 0) {
        if (arg[0] == '\0' || strlen(arg) > HQ_MAX_EVENT_LEN)
            goto bad;
        f->event = arg;
    } else if (strcmp(opt, "reason") == 0) {
        if (arg[0] == '\0')
            goto bad;
        f->reason = arg;
    } else if (strcmp(opt, "since") == 0) {
        if (parse_time_arg(arg, now_ms, &f->since_ms) != 0) {
            ctl_err("--since: want a duration (90s, 2h, 7d) or an RFC 3339 time (got '%.100s')",
                    arg);
            return CTL_USAGE;
        }
    } else if (strcmp(opt, "older-than") == 0) {
        if (parse_time_arg(arg, now_ms, &f->before_ms) != 0) {
            ctl_err("--older-than: want a duration (90s, 2h, 7d) or an RFC 3339 time "
                    "(got '%.100s')",
                    arg);
            return CTL_USAGE;
        }
    } else if (strcmp(opt, "state") == 0) {
        if (strcmp(arg, "ready") == 0)
            f->state = CTL_STATE_READY;
        else if (strcmp(arg, "waiting") == 0)
            f->state = CTL_STATE_WAITING;
        else if (strcmp(arg, "queued") == 0)
            f->state = CTL_STATE_QUEUED;
        else {
            ctl_err("--state: want ready, waiting or queued (got '%.100s')", arg);
            return CTL_USAGE;
        }
    } else if (strcmp(opt, "limit") == 0) {
        if (hq_parse_uint(arg, 1, UINT64_MAX, &f->limit) != 0) {
            ctl_err("--limit: want a whole number of at least 1 (got '%.100s')", arg);
            return CTL_USAGE;
        }
        return 0; /* a limit alone selects nothing for replay or purge */
    } else {
        ctl_err("internal: unknown filter %s", opt);
        return CTL_USAGE;
    }
    f->any = true;
    return 0;
bad:
    ctl_err("--%s: malformed value '%.300s'", opt, arg);
    return CTL_USAGE;
}

/*
 * Every filter option of every command. The order matters beyond the help
 * text: getopt_long takes the first of several options that an abbreviation
 * matches when they are alike ("--re" is --repo), so it stays the order in
 * which each command listed them before they shared this table.
 */
static const struct {
    const char *name;
    unsigned filters; /* the enum ctl_filters that take it */
} filter_options[] = {
    {"repo", CTL_FILTERS_QUEUED | CTL_FILTERS_DEAD},
    {"event", CTL_FILTERS_QUEUED | CTL_FILTERS_DEAD},
    {"state", CTL_FILTERS_QUEUED},
    {"reason", CTL_FILTERS_DEAD},
    {"since", CTL_FILTERS_DEAD},
    {"older-than", CTL_FILTERS_DEAD},
    {"limit", CTL_FILTERS_QUEUED | CTL_FILTERS_DEAD},
};
#define N_FILTER_OPTIONS (sizeof(filter_options) / sizeof(filter_options[0]))

/* getopt's value for a flag: its index past this, distinct per flag (like the
 * letters they had), so that an abbreviation of two flags stays ambiguous. */
#define FLAG_VAL 0x100

int ctl_options(const char *cmd, int argc, char **argv, enum ctl_filters filters,
                const struct ctl_flag *flags, struct ctl_filter *f, int64_t now_ms)
{
    struct option opts[N_FILTER_OPTIONS + CTL_MAX_FLAGS + 2];
    size_t n = 0, nflags = 0;
    int ch, idx, status;
    for (size_t i = 0; i < N_FILTER_OPTIONS; i++)
        if ((filter_options[i].filters & (unsigned)filters) != 0)
            opts[n++] = (struct option){filter_options[i].name, required_argument, NULL, 'F'};
    for (; flags != NULL && flags[nflags].name != NULL; nflags++) {
        if (nflags == CTL_MAX_FLAGS) {
            ctl_err("internal: %s has more than %d options of its own", cmd, CTL_MAX_FLAGS);
            return CTL_USAGE;
        }
        opts[n++] = (struct option){flags[nflags].name, no_argument, NULL, FLAG_VAL + (int)nflags};
    }
    opts[n++] = (struct option){"help", no_argument, NULL, 'h'};
    opts[n] = (struct option){NULL, 0, NULL, 0};
    while ((ch = getopt_long(argc, argv, ":h", opts, &idx)) != -1) {
        if (ch == 'h')
            return CTL_HELP;
        if (ch == 'F') {
            if ((status = ctl_filter_set(f, opts[idx].name, optarg, now_ms)) != CTL_OK)
                return status;
        } else if (ch >= FLAG_VAL && (size_t)(ch - FLAG_VAL) < nflags) {
            *flags[ch - FLAG_VAL].set = true;
        } else {
            return ctl_bad_option(cmd, ch, argv[optind - 1]);
        }
    }
    return CTL_OK;
}

bool ctl_filter_match(const struct ctl_filter *f, const struct hq_event *ev)
{
    if (f->repo_id != 0 && ev->repo_id != f->repo_id)
        return false;
    if (f->repo_name != NULL && strcasecmp(f->repo_name, ev->repo_name) != 0)
        return false;
    if (f->event != NULL && strcmp(f->event, ev->event) != 0)
        return false;
    if (f->reason != NULL && strcasestr(ev->reason, f->reason) == NULL)
        return false;
    if (ev->dead_at_ms < f->since_ms || ev->dead_at_ms >= f->before_ms)
        return false;
    return true;
}

int ctl_parse_id(const char *s, uint64_t *id)
{
    if (hq_parse_uint(s, 1, UINT64_MAX, id) != 0) {
        ctl_err("'%.100s' is not an event id (a whole number of at least 1)", s);
        return CTL_USAGE;
    }
    return 0;
}

void ctl_fmt_time(int64_t ms, char buf[32])
{
    char r[40];
    if (ms == 0 || hq_format_rfc3339(ms, r, sizeof(r)) != 0 || strlen(r) < 20) {
        snprintf(buf, 32, "-");
        return;
    }
    /* "2026-01-02T03:04:05.678Z" -> "2026-01-02 03:04:05Z" */
    r[10] = ' ';
    r[19] = '\0';
    snprintf(buf, 32, "%.19sZ", r);
}

void ctl_fmt_rfc3339(int64_t ms, char buf[40])
{
    if (hq_format_rfc3339(ms, buf, 40) != 0)
        snprintf(buf, 40, "invalid");
}

void ctl_fmt_age(int64_t ms, char buf[24])
{
    int64_t s = ms / 1000;
    if (s < 0)
        snprintf(buf, 24, "-");
    else if (s < 120)
        snprintf(buf, 24, "%" PRId64 "s", s);
    else if (s < 7200)
        snprintf(buf, 24, "%" PRId64 "m", s / 60);
    else if (s < 172800)
        snprintf(buf, 24, "%" PRId64 "h", s / 3600);
    else
        snprintf(buf, 24, "%" PRId64 "d", s / 86400);
}

void ctl_sanitize(char *dst, size_t cap, const char *src, size_t max_chars)
{
    size_t o = 0, chars = 0;
    const unsigned char *p = (const unsigned char *)(src ? src : "");
    if (cap == 0)
        return;
    while (*p != '\0') {
        size_t len = 1;
        if (*p >= 0xc0) /* a UTF-8 lead byte: keep its continuation bytes with it */
            while (len < 4 && (p[len] & 0xc0) == 0x80)
                len++;
        /* While more follows, keep room for "..." after this character. */
        size_t dots = p[len] != '\0' ? 3 : 0;
        if (o + len + dots > cap - 1 || (max_chars != 0 && chars + 1 + dots > max_chars)) {
            size_t room = cap - 1 - o < 3 ? cap - 1 - o : 3;
            memcpy(dst + o, "...", room);
            o += room;
            break;
        }
        if (*p == '\n' || *p == '\t' || *p == '\r')
            dst[o++] = ' ';
        else if (*p < 0x20 || *p == 0x7f || (*p == 0xc2 && len == 2 && p[1] < 0xa0))
            dst[o++] = '?'; /* C0, DEL, C1 controls never reach the terminal */
        else {
            memcpy(dst + o, p, len);
            o += len;
        }
        p += len;
        chars++;
    }
    dst[o] = '\0';
}

const char *ctl_step_name(uint32_t step)
{
    static const char *const names[] = {"new", "pending_posted", "checked", "final_posted"};
    return step < 4 ? names[step] : "unknown";
}

const char *ctl_check_name(uint32_t state)
{
    static const char *const names[] = {"none", "success", "failure", "error"};
    return state < 4 ? names[state] : "unknown";
}

bool ctl_json_add_u64(cJSON *obj, const char *name, uint64_t v)
{
    char b[24];
    snprintf(b, sizeof(b), "%" PRIu64, v);
    return cJSON_AddRawToObject(obj, name, b) != NULL;
}

bool ctl_json_add_i64(cJSON *obj, const char *name, int64_t v)
{
    char b[24];
    snprintf(b, sizeof(b), "%" PRId64, v);
    return cJSON_AddRawToObject(obj, name, b) != NULL;
}

static bool add_time(cJSON *obj, const char *name, int64_t ms)
{
    char t[40];
    ctl_fmt_rfc3339(ms, t);
    return cJSON_AddStringToObject(obj, name, t) != NULL;
}

cJSON *ctl_event_json(const struct hq_event *ev, bool dead)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    bool ok = ctl_json_add_u64(o, "id", ev->id) &&
              cJSON_AddStringToObject(o, "repo", ev->repo_name) &&
              ctl_json_add_u64(o, "repo_id", ev->repo_id) &&
              cJSON_AddStringToObject(o, "delivery", ev->delivery) &&
              ctl_json_add_u64(o, "hook_id", ev->hook_id) &&
              cJSON_AddStringToObject(o, "event", ev->event) &&
              cJSON_AddStringToObject(o, "action", ev->action) &&
              ctl_json_add_u64(o, "attempts", ev->attempts) &&
              add_time(o, "received_at", ev->received_at_ms);
    if (ok && ev->installation_id != 0)
        ok = ctl_json_add_u64(o, "installation_id", ev->installation_id);
    if (ok && ev->step != HQ_STEP_NEW)
        ok = cJSON_AddStringToObject(o, "step", ctl_step_name(ev->step)) != NULL;
    if (ok && ev->not_before_ms != 0)
        ok = add_time(o, "not_before", ev->not_before_ms);
    if (ok && ev->step >= HQ_STEP_CHECKED)
        ok = cJSON_AddStringToObject(o, "check_state", ctl_check_name(ev->check_state)) &&
             cJSON_AddStringToObject(o, "check_desc", ev->check_desc);
    if (ok && ev->check_run_id != 0)
        ok = ctl_json_add_u64(o, "check_run_id", ev->check_run_id);
    if (ok && dead)
        ok = cJSON_AddStringToObject(o, "reason", ev->reason) &&
             add_time(o, "dead_at", ev->dead_at_ms);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

int ctl_print_json(cJSON *obj)
{
    char *s = obj ? cJSON_PrintUnformatted(obj) : NULL;
    cJSON_Delete(obj);
    if (s == NULL) {
        ctl_err("out of memory formatting JSON");
        return CTL_FAIL;
    }
    fputs(s, stdout);
    fputc('\n', stdout);
    cJSON_free(s);
    return CTL_OK;
}
