/* fh_record: JSON-lines record of answered requests; see fh_record.h. */
#include "fh_record.h"
#include "fh_util.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fh_record {
    pthread_mutex_t lock; /* protects f and the order of lines */
    FILE *f;
};

int fh_record_open(const char *path, fh_record **out)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    fh_record *r = calloc(1, sizeof(*r));
    FILE *f = r != NULL ? fdopen(fd, "a") : NULL;
    if (f == NULL) {
        int rc = r != NULL ? -errno : -ENOMEM;
        close(fd);
        free(r);
        return rc;
    }
    r->f = f;
    pthread_mutex_init(&r->lock, NULL);
    *out = r;
    return 0;
}

void fh_record_close(fh_record *r)
{
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->lock);
    fflush(r->f);
    fclose(r->f);
    r->f = NULL;
    pthread_mutex_unlock(&r->lock);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

/* A string member, or null for NULL; the value is repaired to valid UTF-8. */
static bool add_text(cJSON *obj, const char *name, const char *s, size_t len)
{
    if (s == NULL)
        return cJSON_AddNullToObject(obj, name) != NULL;
    char *clean = fh_utf8_repair(s, len);
    if (clean == NULL)
        return false;
    bool ok = cJSON_AddStringToObject(obj, name, clean) != NULL;
    free(clean);
    return ok;
}

static bool add_cstr(cJSON *obj, const char *name, const char *s)
{
    return add_text(obj, name, s, s != NULL ? strlen(s) : 0);
}

static bool add_opt_number(cJSON *obj, const char *name, int64_t v)
{
    if (v < 0)
        return cJSON_AddNullToObject(obj, name) != NULL;
    return cJSON_AddNumberToObject(obj, name, (double)v) != NULL;
}

static bool add_body(cJSON *obj, const struct fh_record_line *l)
{
    if (l->body == NULL || l->body_len == 0)
        return cJSON_AddNullToObject(obj, "body") != NULL;
    /* cJSON passes invalid UTF-8 inside strings through; such a body is text */
    cJSON *parsed =
        fh_utf8_count(l->body, l->body_len) >= 0 ? fh_json_parse(l->body, l->body_len) : NULL;
    if (parsed != NULL)
        return cJSON_AddItemToObject(obj, "body", parsed);
    return add_text(obj, "body", l->body, l->body_len);
}

int fh_record_write(fh_record *r, const struct fh_record_line *l)
{
    if (r == NULL)
        return 0;
    int rc = -ENOMEM;
    char *line = NULL;
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        goto out;
    bool ok = cJSON_AddNumberToObject(o, "t", (double)l->t_ms / 1000.0) != NULL &&
              add_cstr(o, "method", l->method) && add_cstr(o, "path", l->path) &&
              add_cstr(o, "route", l->route) && add_cstr(o, "cred", l->cred) &&
              add_opt_number(o, "installation", l->installation) &&
              add_opt_number(o, "token_age_ms", l->token_age_ms) &&
              cJSON_AddNumberToObject(o, "status", l->status) != NULL &&
              add_cstr(o, "fault", l->fault) && add_body(o, l) &&
              add_cstr(o, "accept", l->accept) && add_cstr(o, "user_agent", l->user_agent) &&
              add_cstr(o, "api_version", l->api_version);
    if (ok && l->repo != NULL)
        ok = add_cstr(o, "repo", l->repo) && add_cstr(o, "sha", l->sha);
    if (ok && l->check_run_id > 0)
        ok = cJSON_AddNumberToObject(o, "check_run_id", (double)l->check_run_id) != NULL;
    if (ok && l->lost_status != 0)
        ok = cJSON_AddNumberToObject(o, "lost_status", l->lost_status) != NULL;
    if (!ok)
        goto out;
    line = cJSON_PrintUnformatted(o);
    if (line == NULL)
        goto out;
    pthread_mutex_lock(&r->lock);
    rc = (fputs(line, r->f) < 0 || fputc('\n', r->f) == EOF || fflush(r->f) != 0) ? -EIO : 0;
    pthread_mutex_unlock(&r->lock);
out:
    free(line);
    cJSON_Delete(o);
    return rc;
}
