/*
 * ctl_show: hookqctl's read-only commands: stats, list, dlq list, dlq show.
 *
 * They open the database read-only and read one snapshot per command (a
 * listing is one LMDB read transaction), so they run beside the services and
 * never block them. Listings stream: nothing is buffered per event, so a
 * million queued events cost one line of memory; SIGINT/SIGTERM stops a walk
 * at the next event.
 */
#include "ctl.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define LIST_FMT         "%-8s %-30s %-14s %-14s %4s %-7s %5s  %-20s  %s\n"
#define DLQ_FMT          "%-8s %-30s %-14s %-14s %4s  %-20s  %s\n"
#define SUMMARY_TEXT_MAX 100 /* characters of a payload string shown in a table */

static int no_arguments(const char *cmd, int argc, char **argv)
{
    if (optind < argc) {
        ctl_err("%s: unexpected argument '%.100s' (see hookqctl --help)", cmd, argv[optind]);
        return CTL_USAGE;
    }
    return CTL_OK;
}

static int walk_status(int rc, const char *what)
{
    if (rc == CTL_WALK_STOP || ctl_stop)
        return ctl_stopped("interrupted");
    if (rc < 0)
        return ctl_fail(what, rc);
    return CTL_OK;
}

/* ---- stats ----------------------------------------------------------------- */

int ctl_cmd_stats(struct ctl *c, int argc, char **argv)
{
    bool json = false;
    const struct ctl_flag flags[] = {{"json", &json}, {NULL, NULL}};
    int status;
    if ((status = ctl_options("stats", argc, argv, CTL_FILTERS_NONE, flags, NULL, c->now_ms)) !=
            CTL_OK ||
        (status = no_arguments("stats", argc, argv)) != CTL_OK ||
        (status = ctl_open(c, CTL_READ_ONLY)) != CTL_OK)
        return status;
    struct hq_queue_stats st;
    int rc = hq_queue_stats(c->q, &st);
    if (rc != 0)
        return ctl_fail("reading the statistics", rc);
    const struct {
        const char *name;
        uint64_t v;
    } rows[] = {{"queued", st.queued},
                {"repositories", st.repositories},
                {"ready", st.ready},
                {"waiting", st.waiting},
                {"leased", st.leased},
                {"dead", st.dead},
                {"enqueued_total", st.enqueued_total},
                {"duplicates_total", st.duplicates_total},
                {"done_total", st.done_total},
                {"dead_total", st.dead_total},
                {"map_size", st.map_size},
                {"map_used", st.map_used}};
    size_t nrows = sizeof(rows) / sizeof(rows[0]);
    if (!st.has_map)
        nrows -= 2; /* the map rows come last: only a backend with a map has them */
    if (json) {
        cJSON *o = cJSON_CreateObject();
        bool ok = o != NULL;
        for (size_t i = 0; ok && i < nrows; i++)
            ok = ctl_json_add_u64(o, rows[i].name, rows[i].v);
        char age[32];
        /* Raw JSON: a cut number would be a wrong one, so it must fit. */
        if (ok)
            ok = hq_snprintf(age, sizeof(age), "%.3f", st.oldest_age_seconds) == 0 &&
                 cJSON_AddRawToObject(o, "oldest_age_seconds", age) != NULL;
        if (!ok) {
            cJSON_Delete(o);
            o = NULL;
        }
        return ctl_print_json(o);
    }
    for (size_t i = 0; i < nrows; i++) {
        if (i == 6)
            printf("%-20s %.3f\n", "oldest_age_seconds", st.oldest_age_seconds);
        if (rows[i].v >= (1ull << 20) && strncmp(rows[i].name, "map_", 4) == 0)
            printf("%-20s %" PRIu64 " (%.1f MiB)\n", rows[i].name, rows[i].v,
                   (double)rows[i].v / (1 << 20));
        else
            printf("%-20s %" PRIu64 "\n", rows[i].name, rows[i].v);
    }
    return CTL_OK;
}

/* ---- list ------------------------------------------------------------------ */

struct list_walk {
    const struct ctl *c;
    const struct ctl_filter *f;
    bool json;
    bool dead;
    uint64_t shown;
    uint64_t repo_id; /* repository of the previous event, for positions */
    uint64_t position;
    bool started;
};

static void print_event_row(const struct list_walk *w, const struct hq_event *ev, const char *state)
{
    char id[24], repo[64], event[40], action[40], att[16], t[32], age[24], delivery[160];
    char reason[256];
    snprintf(id, sizeof(id), "%" PRIu64, ev->id);
    snprintf(att, sizeof(att), "%u", ev->attempts);
    ctl_sanitize(repo, sizeof(repo), ev->repo_name, 30);
    ctl_sanitize(event, sizeof(event), ev->event, 14);
    ctl_sanitize(action, sizeof(action), ev->action[0] ? ev->action : "-", 14);
    ctl_sanitize(delivery, sizeof(delivery), ev->delivery, 0);
    if (w->dead) {
        ctl_fmt_time(ev->dead_at_ms, t);
        ctl_sanitize(reason, sizeof(reason), ev->reason, 70);
        printf(DLQ_FMT, id, repo, event, action, att, t, reason);
    } else {
        ctl_fmt_time(ev->received_at_ms, t);
        ctl_fmt_age(w->c->now_ms - ev->received_at_ms, age);
        printf(LIST_FMT, id, repo, event, action, att, state, age, t, delivery);
    }
}

static int list_cb(const struct hq_event *ev, void *arg)
{
    struct list_walk *w = arg;
    if (ctl_stop)
        return CTL_WALK_STOP;
    /* Events come per repository in FIFO order: the first is the head. */
    w->position = w->started && ev->repo_id == w->repo_id ? w->position + 1 : 0;
    w->repo_id = ev->repo_id;
    w->started = true;
    enum ctl_state state = w->position > 0                    ? CTL_STATE_QUEUED
                           : ev->not_before_ms > w->c->now_ms ? CTL_STATE_WAITING
                                                              : CTL_STATE_READY;
    static const char *const names[] = {"", "ready", "waiting", "queued"};
    if (w->dead) {
        state = CTL_STATE_ANY;
    } else if (w->f->state != CTL_STATE_ANY && w->f->state != state) {
        return 0;
    }
    if (!ctl_filter_match(w->f, ev))
        return 0;
    if (w->json) {
        cJSON *o = ctl_event_json(ev, w->dead);
        if (o != NULL && !w->dead) {
            if (!cJSON_AddStringToObject(o, "state", names[state]) ||
                !ctl_json_add_u64(o, "position", w->position)) {
                cJSON_Delete(o);
                o = NULL;
            }
        }
        if (ctl_print_json(o) != CTL_OK)
            return -ENOMEM;
    } else {
        print_event_row(w, ev, names[state]);
    }
    w->shown++;
    return w->f->limit != 0 && w->shown >= w->f->limit ? CTL_WALK_LIMIT : 0;
}

static int run_listing(struct ctl *c, const char *cmd, int argc, char **argv, bool dead)
{
    struct ctl_filter f;
    struct list_walk w = {c, &f, false, dead, 0, 0, 0, false};
    const struct ctl_flag flags[] = {{"json", &w.json}, {NULL, NULL}};
    int status;
    ctl_filter_init(&f);
    if ((status = ctl_options(cmd, argc, argv, dead ? CTL_FILTERS_DEAD : CTL_FILTERS_QUEUED, flags,
                              &f, c->now_ms)) != CTL_OK ||
        (status = no_arguments(cmd, argc, argv)) != CTL_OK ||
        (status = ctl_open(c, CTL_READ_ONLY)) != CTL_OK)
        return status;
    if (!w.json) {
        if (dead)
            printf(DLQ_FMT, "ID", "REPO", "EVENT", "ACTION", "ATT", "DEAD AT (UTC)", "REASON");
        else
            printf(LIST_FMT, "ID", "REPO", "EVENT", "ACTION", "ATT", "STATE", "AGE",
                   "RECEIVED (UTC)", "DELIVERY");
    }
    int rc = dead ? hq_queue_foreach_dead(c->q, false, list_cb, &w)
                  : hq_queue_foreach_event(c->q, f.repo_id, false, list_cb, &w);
    status = walk_status(rc, dead ? "listing dead letters" : "listing queued events");
    if (status == CTL_OK && !w.json && w.shown == 0)
        printf(dead ? "(no dead letters)\n" : "(no queued events)\n");
    return status;
}

int ctl_cmd_list(struct ctl *c, int argc, char **argv)
{
    return run_listing(c, "list", argc, argv, false);
}

int ctl_cmd_dlq_list(struct ctl *c, int argc, char **argv)
{
    return run_listing(c, "dlq list", argc, argv, true);
}

/* ---- dlq show -------------------------------------------------------------- */

/* o's member at a dotted path ("head_commit.message"); NULL if absent. */
static const cJSON *jget(const cJSON *o, const char *path)
{
    char key[64];
    while (o != NULL && *path != '\0') {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n >= sizeof(key))
            return NULL;
        memcpy(key, path, n);
        key[n] = '\0';
        o = cJSON_GetObjectItemCaseSensitive(o, key);
        path += dot ? n + 1 : n;
    }
    return o;
}

/* Adds summary[name] = the payload's value at path (strings, numbers, booleans). */
static bool sum_add(cJSON *sum, const cJSON *payload, const char *name, const char *path,
                    bool first_line)
{
    const cJSON *v = jget(payload, path);
    char buf[512];
    if (cJSON_IsString(v)) {
        const char *s = v->valuestring;
        size_t n = first_line ? strcspn(s, "\r\n") : strlen(s);
        if (n >= sizeof(buf))
            n = sizeof(buf) - 1; /* NEEDSWORK: may cut a UTF-8 sequence; tables re-sanitize */
        memcpy(buf, s, n);
        buf[n] = '\0';
    } else if (cJSON_IsNumber(v)) {
        snprintf(buf, sizeof(buf), "%.0f", v->valuedouble);
    } else if (cJSON_IsBool(v)) {
        snprintf(buf, sizeof(buf), "%s", cJSON_IsTrue(v) ? "true" : "false");
    } else if (cJSON_IsArray(v) && strcmp(name, "commits") == 0) {
        snprintf(buf, sizeof(buf), "%d", cJSON_GetArraySize(v));
    } else {
        return true; /* absent: nothing to say */
    }
    return cJSON_AddStringToObject(sum, name, buf) != NULL;
}

/* A summary of the payload as an object of short strings (design: "dlq show"). */
static cJSON *payload_summary(const struct hq_event *ev, const cJSON *p)
{
    static const struct {
        const char *event, *name, *path;
        bool first_line;
    } fields[] = {
        {"push", "ref", "ref", false},
        {"push", "before", "before", false},
        {"push", "after", "after", false},
        {"push", "forced", "forced", false},
        {"push", "deleted", "deleted", false},
        {"push", "commits", "commits", false},
        {"push", "pusher", "pusher.name", false},
        {"push", "head_commit", "head_commit.message", true},
        {"pull_request", "number", "number", false},
        {"pull_request", "title", "pull_request.title", true},
        {"pull_request", "state", "pull_request.state", false},
        {"pull_request", "draft", "pull_request.draft", false},
        {"pull_request", "head_ref", "pull_request.head.ref", false},
        {"pull_request", "head_sha", "pull_request.head.sha", false},
        {"pull_request", "base_ref", "pull_request.base.ref", false},
        {"pull_request", "user", "pull_request.user.login", false},
        {"check_suite", "head_branch", "check_suite.head_branch", false},
        {"check_suite", "head_sha", "check_suite.head_sha", false},
        {"check_suite", "app", "check_suite.app.slug", false},
        {NULL, "sender", "sender.login", false},
    };
    cJSON *sum = cJSON_CreateObject();
    bool ok = sum != NULL && ctl_json_add_u64(sum, "bytes", ev->payload_len);
    if (ok && p == NULL)
        ok = cJSON_AddStringToObject(sum, "error", "the payload is not valid JSON") != NULL;
    for (size_t i = 0; ok && p != NULL && i < sizeof(fields) / sizeof(fields[0]); i++)
        if (fields[i].event == NULL || strcmp(fields[i].event, ev->event) == 0)
            ok = sum_add(sum, p, fields[i].name, fields[i].path, fields[i].first_line);
    if (!ok) {
        cJSON_Delete(sum);
        return NULL;
    }
    return sum;
}

/* The history as an array of {at (RFC 3339), step, error}; [] when unreadable. */
static cJSON *history_json(const struct hq_event *ev)
{
    cJSON *in = cJSON_Parse(ev->history), *out = cJSON_CreateArray();
    const cJSON *e, *entries = cJSON_IsArray(in) ? in : NULL;
    if (out == NULL)
        goto out;
    cJSON_ArrayForEach(e, entries)
    {
        const cJSON *at = cJSON_GetObjectItemCaseSensitive(e, "at");
        const cJSON *step = cJSON_GetObjectItemCaseSensitive(e, "step");
        const cJSON *err = cJSON_GetObjectItemCaseSensitive(e, "error");
        char t[40];
        ctl_fmt_rfc3339(cJSON_IsNumber(at) ? (int64_t)at->valuedouble : 0, t);
        cJSON *o = cJSON_CreateObject();
        if (o == NULL || !cJSON_AddItemToArray(out, o) || !cJSON_AddStringToObject(o, "at", t) ||
            !cJSON_AddStringToObject(
                o, "step", ctl_step_name(cJSON_IsNumber(step) ? (uint32_t)step->valuedouble : 9)) ||
            !cJSON_AddStringToObject(o, "error", cJSON_IsString(err) ? err->valuestring : "")) {
            cJSON_Delete(out);
            out = NULL;
            goto out;
        }
    }
out:
    cJSON_Delete(in);
    return out;
}

static int show_json(const struct hq_event *ev, cJSON *payload, cJSON *hist, cJSON *sum,
                     bool with_payload)
{
    cJSON *o = ctl_event_json(ev, true);
    /* Unlike listings, show names every field, also the ones at their zero value. */
    bool ok = o != NULL &&
              (cJSON_HasObjectItem(o, "installation_id") ||
               ctl_json_add_u64(o, "installation_id", ev->installation_id)) &&
              (cJSON_HasObjectItem(o, "step") ||
               cJSON_AddStringToObject(o, "step", ctl_step_name(ev->step))) &&
              cJSON_AddItemReferenceToObject(o, "history", hist) &&
              cJSON_AddItemReferenceToObject(o, "summary", sum);
    if (ok && with_payload)
        ok = payload != NULL ? cJSON_AddItemReferenceToObject(o, "payload", payload)
                             : cJSON_AddStringToObject(o, "payload", ev->payload) != NULL;
    if (!ok) {
        cJSON_Delete(o);
        o = NULL;
    }
    return ctl_print_json(o);
}

static void show_table(const struct ctl *c, const struct hq_event *ev, const cJSON *hist,
                       const cJSON *sum)
{
    char a[HQ_MAX_REASON_LEN + 8], b[HQ_MAX_DELIVERY_LEN + 8], t[32], age[24];
    printf("dead letter %" PRIu64 "\n", ev->id);
    ctl_sanitize(a, sizeof(a), ev->repo_name, 0);
    printf("  %-14s %s (id %" PRIu64 ")\n", "repository", a, ev->repo_id);
    ctl_sanitize(a, sizeof(a), ev->event, 0);
    ctl_sanitize(b, sizeof(b), ev->action[0] ? ev->action : "-", 0);
    printf("  %-14s %s (action %s)\n", "event", a, b);
    ctl_sanitize(b, sizeof(b), ev->delivery, 0);
    printf("  %-14s %s (hook %" PRIu64 ")\n", "delivery", b, ev->hook_id);
    if (ev->installation_id != 0)
        printf("  %-14s %" PRIu64 "\n", "installation", ev->installation_id);
    ctl_fmt_time(ev->received_at_ms, t);
    ctl_fmt_age(c->now_ms - ev->received_at_ms, age);
    printf("  %-14s %s (%s ago)\n", "received", t, age);
    ctl_fmt_time(ev->dead_at_ms, t);
    ctl_fmt_age(c->now_ms - ev->dead_at_ms, age);
    printf("  %-14s %s (%s ago)\n", "dead at", t, age);
    printf("  %-14s %u\n", "attempts", ev->attempts);
    printf("  %-14s %s\n", "step", ctl_step_name(ev->step));
    if (ev->step >= HQ_STEP_CHECKED) {
        ctl_sanitize(a, sizeof(a), ev->check_desc, 0);
        printf("  %-14s %s: %s\n", "check", ctl_check_name(ev->check_state), a);
    }
    if (ev->check_run_id != 0)
        printf("  %-14s %" PRIu64 "\n", "check run", ev->check_run_id);
    ctl_sanitize(a, sizeof(a), ev->reason, 0);
    printf("  %-14s %s\n", "reason", a);
    printf("history (%d)\n", cJSON_GetArraySize(hist));
    const cJSON *e;
    cJSON_ArrayForEach(e, hist)
    {
        const cJSON *at = cJSON_GetObjectItemCaseSensitive(e, "at");
        const cJSON *step = cJSON_GetObjectItemCaseSensitive(e, "step");
        ctl_sanitize(a, sizeof(a), cJSON_GetObjectItemCaseSensitive(e, "error")->valuestring, 0);
        printf("  %s  %-14s  %s\n", at->valuestring, step->valuestring, a);
    }
    printf("payload (%zu bytes)\n", ev->payload_len);
    cJSON_ArrayForEach(e, sum)
    {
        if (strcmp(e->string, "bytes") == 0)
            continue;
        ctl_sanitize(a, sizeof(a), e->valuestring, SUMMARY_TEXT_MAX);
        printf("  %-14s %s\n", e->string, a);
    }
}

int ctl_cmd_dlq_show(struct ctl *c, int argc, char **argv)
{
    bool json = false, with_payload = false;
    const struct ctl_flag flags[] = {{"payload", &with_payload}, {"json", &json}, {NULL, NULL}};
    int status;
    uint64_t id;
    if ((status = ctl_options("dlq show", argc, argv, CTL_FILTERS_NONE, flags, NULL, c->now_ms)) !=
        CTL_OK)
        return status;
    if (argc - optind != 1) {
        ctl_err("dlq show: want exactly one dead-letter id (see hookqctl --help)");
        return CTL_USAGE;
    }
    if ((status = ctl_parse_id(argv[optind], &id)) != CTL_OK ||
        (status = ctl_open(c, CTL_READ_ONLY)) != CTL_OK)
        return status;
    struct hq_event *ev = NULL;
    int rc = hq_queue_get_dead(c->q, id, true, &ev);
    if (rc == HQ_ENOTFOUND) {
        ctl_err("no dead letter with id %" PRIu64, id);
        return CTL_NOMATCH;
    }
    if (rc != 0)
        return ctl_fail("reading the dead letter", rc);
    if (with_payload && !json) {
        fwrite(ev->payload, 1, ev->payload_len, stdout);
        hq_event_free(ev);
        return CTL_OK;
    }
    cJSON *payload = cJSON_ParseWithLength(ev->payload, ev->payload_len);
    cJSON *hist = history_json(ev);
    cJSON *sum = payload_summary(ev, payload);
    if (hist == NULL || sum == NULL) {
        status = ctl_fail("summarizing the dead letter", -ENOMEM);
    } else if (json) {
        status = show_json(ev, payload, hist, sum, with_payload);
    } else {
        show_table(c, ev, hist, sum);
        status = CTL_OK;
    }
    cJSON_Delete(payload);
    cJSON_Delete(hist);
    cJSON_Delete(sum);
    hq_event_free(ev);
    return status;
}
