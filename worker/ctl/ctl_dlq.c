/*
 * ctl_dlq: the hookqctl commands that replay and purge dead letters
 * (ctl_export.c has export and import).
 *
 * Replay and purge select first, then act: explicit ids are all checked
 * before anything changes (one unknown id changes nothing, exit 1); filters
 * select from one read snapshot. Each replay or purge is then its own durable
 * commit through the queue API, so they interleave safely with the services;
 * a dead letter that a concurrent hookqctl took meanwhile is reported and
 * skipped.
 */
#include "ctl.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- selection ------------------------------------------------------------ */

struct sel_item {
    uint64_t id;
    char desc[CTL_DESC_LEN];
};

struct selection {
    struct sel_item *items;
    size_t n, cap;
    const struct ctl_filter *f;
};

void ctl_describe(const struct hq_event *ev, char *out, size_t cap)
{
    char repo[96], event[80], delivery[HQ_MAX_DELIVERY_LEN + 8];
    ctl_sanitize(repo, sizeof(repo), ev->repo_name, 80);
    ctl_sanitize(event, sizeof(event), ev->event, 0);
    ctl_sanitize(delivery, sizeof(delivery), ev->delivery, 0);
    /* The parts are bounded under CTL_DESC_LEN, so this cannot truncate. */
    _Static_assert(sizeof(repo) + sizeof(event) + 1 + 64 + sizeof(" delivery ") +
                           sizeof(delivery) <=
                       CTL_DESC_LEN,
                   "a description fits in CTL_DESC_LEN");
    snprintf(out, cap, "%s %s%s%.64s delivery %s", repo, event, ev->action[0] ? "/" : "",
             ev->action, delivery);
}

static int sel_add(struct selection *s, const struct hq_event *ev)
{
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 16;
        struct sel_item *p = realloc(s->items, ncap * sizeof(*p));
        if (p == NULL)
            return -ENOMEM;
        s->items = p;
        s->cap = ncap;
    }
    s->items[s->n].id = ev->id;
    ctl_describe(ev, s->items[s->n].desc, CTL_DESC_LEN);
    s->n++;
    return 0;
}

static int sel_cb(const struct hq_event *ev, void *arg)
{
    struct selection *s = arg;
    if (ctl_stop)
        return CTL_WALK_STOP;
    if (!ctl_filter_match(s->f, ev))
        return 0;
    int rc = sel_add(s, ev);
    if (rc != 0)
        return rc;
    return s->f->limit != 0 && s->n >= s->f->limit ? CTL_WALK_LIMIT : 0;
}

/* Looks every id up; any that is not a dead letter makes the whole call fail. */
static int select_ids(struct ctl *c, struct selection *s, char **ids, int nids)
{
    int missing = 0;
    for (int i = 0; i < nids; i++) {
        uint64_t id;
        if (ctl_parse_id(ids[i], &id) != CTL_OK) /* checked before open; cannot fail */
            return CTL_USAGE;
        bool seen = false;
        for (size_t j = 0; j < s->n; j++)
            seen = seen || s->items[j].id == id;
        if (seen)
            continue;
        struct hq_event *ev = NULL;
        int rc = hq_queue_get_dead(c->q, id, false, &ev);
        if (rc == HQ_ENOTFOUND) {
            ctl_err("no dead letter with id %" PRIu64, id);
            missing++;
            continue;
        }
        if (rc == 0)
            rc = sel_add(s, ev);
        hq_event_free(ev);
        if (rc != 0)
            return ctl_fail("reading dead letters", rc);
    }
    if (missing > 0) {
        ctl_err("nothing was changed");
        return CTL_NOMATCH;
    }
    return CTL_OK;
}

enum act { ACT_REPLAY, ACT_PURGE };

static int change(struct ctl *c, const char *cmd, enum act act, int argc, char **argv)
{
    static const char *const done_verb[] = {"replayed", "purged"};
    static const char *const dry_verb[] = {"would replay", "would purge"};
    struct ctl_filter f;
    struct selection sel = {NULL, 0, 0, &f};
    bool all = false, dry = false;
    const struct ctl_flag flags[] = {{"all", &all}, {"dry-run", &dry}, {NULL, NULL}};
    int status;
    uint64_t id;
    ctl_filter_init(&f);
    if ((status = ctl_options(cmd, argc, argv, CTL_FILTERS_DEAD, flags, &f, c->now_ms)) != CTL_OK)
        return status;
    char **ids = argv + optind;
    int nids = argc - optind;
    for (int i = 0; i < nids; i++)
        if ((status = ctl_parse_id(ids[i], &id)) != CTL_OK)
            return status;
    if ((nids > 0) + f.any + all != 1 || (nids > 0 && f.limit != 0)) {
        ctl_err("%s: give dead-letter ids, filters or --all (exactly one of them; "
                "--limit goes with filters or --all)",
                cmd);
        return CTL_USAGE;
    }
    if ((status = ctl_open(c, CTL_READ_WRITE)) != CTL_OK)
        return status;
    if (nids > 0) {
        status = select_ids(c, &sel, ids, nids);
    } else {
        int rc = hq_queue_foreach_dead(c->q, false, sel_cb, &sel);
        if (rc == CTL_WALK_STOP || ctl_stop) {
            status = ctl_stopped("interrupted; nothing was changed");
        } else if (rc < 0) {
            status = ctl_fail("reading dead letters", rc);
        } else if (sel.n == 0) {
            ctl_err("no dead letter matches; nothing was changed");
            status = CTL_NOMATCH;
        }
    }
    size_t done = 0;
    for (size_t i = 0; status == CTL_OK && i < sel.n; i++) {
        struct sel_item *it = &sel.items[i];
        if (ctl_stop) {
            /* Also when the reader left: what was done is durable, the rest waits. */
            status = ctl_stopped("interrupted after %zu of %zu", done, sel.n);
            break;
        }
        if (dry) {
            printf("%s %" PRIu64 " (%s)\n", dry_verb[act], it->id, it->desc);
            done++;
            continue;
        }
        int rc =
            act == ACT_REPLAY ? hq_queue_replay(c->q, it->id, NULL) : hq_queue_purge(c->q, it->id);
        if (rc == HQ_ENOTFOUND) {
            ctl_err("%" PRIu64 " is no longer a dead letter (taken meanwhile); skipped", it->id);
            continue;
        }
        if (rc != 0) {
            char what[64];
            snprintf(what, sizeof(what), "%s %" PRIu64, act == ACT_REPLAY ? "replay" : "purge",
                     it->id);
            status = ctl_fail(what, rc);
            break;
        }
        printf("%s %" PRIu64 " (%s)\n", done_verb[act], it->id, it->desc);
        fflush(stdout); /* a line per commit, also when the output is a pipe */
        done++;
    }
    if (status == CTL_OK && done == 0)
        status = CTL_NOMATCH;
    free(sel.items);
    return status;
}

int ctl_cmd_dlq_replay(struct ctl *c, int argc, char **argv)
{
    return change(c, "dlq replay", ACT_REPLAY, argc, argv);
}

int ctl_cmd_dlq_purge(struct ctl *c, int argc, char **argv)
{
    return change(c, "dlq purge", ACT_PURGE, argc, argv);
}
