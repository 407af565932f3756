/* settings: the variables all three binaries share; see settings.h. */
#include "settings.h"

#include <string.h>
#include <strings.h>

static const struct {
    unsigned which;
    const char *name, *def, *help;
} rows[] = {
    {HQ_SETTINGS_USAGE_QUEUE, "HOOKQ_DB", HQ_DEFAULT_DB, "the queue's LMDB directory"},
    {HQ_SETTINGS_USAGE_QUEUE, "HOOKQ_MAP_SIZE", "4GiB",
     "LMDB map size (1MiB..16TiB), the queue's limit"},
    {HQ_SETTINGS_USAGE_QUEUE, "HOOKQ_SYNC", "true", "false = relaxed durability: a crash of the"},
    {HQ_SETTINGS_USAGE_QUEUE, "", "", "machine can lose acknowledged deliveries"},
    {HQ_SETTINGS_USAGE_LOG, "HOOKQ_LOG_FORMAT", "json", "json or text"},
    {HQ_SETTINGS_USAGE_LOG, "HOOKQ_LOG_LEVEL", "info", "debug, info, warn, error"},
};

void hq_settings_usage(FILE *fp, unsigned which, int name_width, int def_width)
{
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        if (rows[i].which & which)
            fprintf(fp, "  %-*s %-*s %s\n", name_width, rows[i].name, def_width, rows[i].def,
                    rows[i].help);
}

/* Appends n bytes of s to out[cap] at *len, as far as they fit. */
static void put(char *out, size_t cap, size_t *len, const char *s, size_t n)
{
    if (*len + n >= cap)
        n = cap - 1 - *len;
    memcpy(out + *len, s, n);
    *len += n;
    out[*len] = '\0';
}

void hq_settings_mask_db(const char *db, char *out, size_t cap)
{
    static const char pw[] = "password=";
    size_t len = 0;
    if (cap == 0)
        return;
    out[0] = '\0';
    const char *sep = strstr(db, "://");
    if (sep == NULL) {
        put(out, cap, &len, db, strlen(db));
        return;
    }
    const char *auth = sep + 3;
    const char *auth_end = auth + strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *p = auth; p < auth_end; p++)
        if (*p == '@')
            at = p; /* the last one: a password may hold '@' */
    put(out, cap, &len, db, (size_t)(auth - db));
    const char *p = auth;
    if (at != NULL) {
        put(out, cap, &len, "***", 3);
        p = at;
    }
    /* The rest, with the value of every password= parameter masked. */
    while (*p != '\0') {
        if ((p[-1] == '?' || p[-1] == '&') && strncasecmp(p, pw, sizeof(pw) - 1) == 0) {
            put(out, cap, &len, p, sizeof(pw) - 1);
            put(out, cap, &len, "***", 3);
            p += sizeof(pw) - 1;
            p += strcspn(p, "&#");
            continue;
        }
        put(out, cap, &len, p, 1);
        p++;
    }
}

int hq_settings_db(const char *name, const char *db, struct hq_cfgerr *err)
{
    char shown[128];
    const char *why = NULL;
    hq_settings_mask_db(db, shown, sizeof(shown));
    if (strlen(db) > HQ_MAX_DB_LEN)
        return hq_cfgerr_set(err, name, shown, "too long");
    if (hq_queue_check_db(db, &why) != 0)
        return hq_cfgerr_set(err, name, shown, why);
    return 0;
}

int hq_settings_queue(struct hq_queue_opts *o, unsigned flags, struct hq_cfgerr *err)
{
    int rc;
    bool sync;
    hq_queue_opts_default(o);
    o->db = hq_env_str("HOOKQ_DB", HQ_DEFAULT_DB);
    if ((rc = hq_settings_db("HOOKQ_DB", o->db, err)) != 0)
        return rc;
    uint64_t def = (flags & HQ_SETTINGS_KEEP_MAP_SIZE) ? 0 : HQ_DEFAULT_MAP_SIZE;
    if ((rc = hq_env_size("HOOKQ_MAP_SIZE", def, HQ_MIN_MAP_SIZE, HQ_MAX_MAP_SIZE,
                          &o->lmdb.map_size, err)) != 0)
        return rc;
    if ((rc = hq_env_bool("HOOKQ_SYNC", true, &sync, err)) != 0)
        return rc;
    o->no_sync = !sync;
    return 0;
}

int hq_settings_log(struct hq_log_settings *s, struct hq_cfgerr *err)
{
    const char *v = hq_env_str("HOOKQ_LOG_FORMAT", "json");
    if (strcmp(v, "json") != 0 && strcmp(v, "text") != 0)
        return hq_cfgerr_set(err, "HOOKQ_LOG_FORMAT", v, "must be json or text");
    s->json = strcmp(v, "json") == 0;
    v = hq_env_str("HOOKQ_LOG_LEVEL", "info");
    if (hq_log_parse_level(v, &s->level) != 0)
        return hq_cfgerr_set(err, "HOOKQ_LOG_LEVEL", v, "must be debug, info, warn or error");
    return 0;
}

int hq_settings_report(enum hq_report *out, struct hq_cfgerr *err)
{
    const char *v = hq_env_str("HOOKQ_REPORT", "statuses");
    *out = HQ_REPORT_STATUSES;
    if (strcmp(v, "statuses") == 0)
        return 0;
    if (strcmp(v, "checks") == 0) {
        *out = HQ_REPORT_CHECKS;
        return 0;
    }
    if (strcmp(v, "both") == 0) {
        *out = HQ_REPORT_BOTH;
        return 0;
    }
    return hq_cfgerr_set(err, "HOOKQ_REPORT", v, "expected statuses, checks or both");
}
