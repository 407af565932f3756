/* config: value parsers and environment readers; see config.h. */
#include "config.h"
#include "dynbuf.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int hq_cfgerr_set(struct hq_cfgerr *err, const char *name, const char *value, const char *why)
{
    if (err != NULL) {
        int n;
        if (value != NULL)
            n = snprintf(err->msg, sizeof(err->msg), "%s: %s (got '%.64s')", name, why, value);
        else
            n = snprintf(err->msg, sizeof(err->msg), "%s: %s", name, why);
        if (n < 0 || (size_t)n >= sizeof(err->msg))
            err->msg[sizeof(err->msg) - 1] = '\0';
    }
    return HQ_ECONFIG;
}

/* Parses a decimal number with an optional fraction; returns the end. */
static const char *parse_number(const char *s, double *out)
{
    const char *p = s;
    double v = 0;
    int digits = 0;
    while (isdigit((unsigned char)*p)) {
        v = v * 10 + (*p - '0');
        p++;
        digits++;
        if (v > 1e18)
            return NULL;
    }
    if (*p == '.') {
        double scale = 0.1;
        p++;
        while (isdigit((unsigned char)*p)) {
            v += (*p - '0') * scale;
            scale /= 10;
            p++;
            digits++;
        }
    }
    if (digits == 0)
        return NULL;
    *out = v;
    return p;
}

int hq_parse_duration_ms(const char *s, int64_t *out_ms)
{
    static const struct {
        const char *unit;
        double ms;
    } units[] = {{"ms", 1},      {"s", 1000},    {"sec", 1000},   {"m", 60000},
                 {"min", 60000}, {"h", 3600000}, {"d", 86400000}, {"", 1000}};
    double v;
    if (s == NULL)
        return HQ_ECONFIG;
    const char *p = parse_number(s, &v);
    if (p == NULL)
        return HQ_ECONFIG;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(p, units[i].unit) == 0) {
            double ms = v * units[i].ms;
            if (ms > 9.2e15)
                return HQ_ECONFIG;
            *out_ms = (int64_t)(ms + 0.5);
            return 0;
        }
    }
    return HQ_ECONFIG;
}

int hq_parse_size(const char *s, uint64_t *out)
{
    static const struct {
        const char *unit;
        double mult;
    } units[] = {{"", 1},
                 {"B", 1},
                 {"k", 1024.0},
                 {"K", 1024.0},
                 {"KB", 1024.0},
                 {"KiB", 1024.0},
                 {"M", 1048576.0},
                 {"MB", 1048576.0},
                 {"MiB", 1048576.0},
                 {"G", 1073741824.0},
                 {"GB", 1073741824.0},
                 {"GiB", 1073741824.0},
                 {"T", 1099511627776.0},
                 {"TB", 1099511627776.0},
                 {"TiB", 1099511627776.0}};
    double v;
    if (s == NULL)
        return HQ_ECONFIG;
    const char *p = parse_number(s, &v);
    if (p == NULL)
        return HQ_ECONFIG;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(p, units[i].unit) == 0) {
            double b = v * units[i].mult;
            if (b > 1.8e19)
                return HQ_ECONFIG;
            *out = (uint64_t)b;
            return 0;
        }
    }
    return HQ_ECONFIG;
}

int hq_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    if (s == NULL)
        return HQ_ECONFIG;
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return HQ_ECONFIG;
}

int hq_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    if (s == NULL || !isdigit((unsigned char)s[0]))
        return HQ_ECONFIG;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return HQ_ECONFIG;
    *out = v;
    return 0;
}

const char *hq_env_str(const char *name, const char *def)
{
    const char *v = getenv(name);
    return (v != NULL && v[0] != '\0') ? v : def;
}

int hq_env_duration(const char *name, int64_t def_ms, int64_t min_ms, int64_t max_ms, int64_t *out,
                    struct hq_cfgerr *err)
{
    const char *v = hq_env_str(name, NULL);
    if (v == NULL) {
        *out = def_ms;
        return 0;
    }
    int64_t ms;
    if (hq_parse_duration_ms(v, &ms) != 0)
        return hq_cfgerr_set(err, name, v, "not a duration (use e.g. 500ms, 30s, 10m, 1h)");
    if (ms < min_ms || ms > max_ms) {
        char why[128];
        snprintf(why, sizeof(why), "out of range %lldms..%lldms", (long long)min_ms,
                 (long long)max_ms);
        return hq_cfgerr_set(err, name, v, why);
    }
    *out = ms;
    return 0;
}

int hq_env_size(const char *name, uint64_t def, uint64_t min, uint64_t max, uint64_t *out,
                struct hq_cfgerr *err)
{
    const char *v = hq_env_str(name, NULL);
    if (v == NULL) {
        *out = def;
        return 0;
    }
    uint64_t b;
    if (hq_parse_size(v, &b) != 0)
        return hq_cfgerr_set(err, name, v, "not a size (use e.g. 65536, 64KiB, 25MiB, 4GiB)");
    if (b < min || b > max) {
        char why[128];
        snprintf(why, sizeof(why), "out of range %llu..%llu bytes", (unsigned long long)min,
                 (unsigned long long)max);
        return hq_cfgerr_set(err, name, v, why);
    }
    *out = b;
    return 0;
}

int hq_env_bool(const char *name, bool def, bool *out, struct hq_cfgerr *err)
{
    const char *v = hq_env_str(name, NULL);
    if (v == NULL) {
        *out = def;
        return 0;
    }
    if (hq_parse_bool(v, out) != 0)
        return hq_cfgerr_set(err, name, v, "not a boolean (use true or false)");
    return 0;
}

int hq_env_uint(const char *name, uint64_t def, uint64_t min, uint64_t max, uint64_t *out,
                struct hq_cfgerr *err)
{
    const char *v = hq_env_str(name, NULL);
    if (v == NULL) {
        *out = def;
        return 0;
    }
    if (hq_parse_uint(v, min, max, out) != 0) {
        char why[128];
        snprintf(why, sizeof(why), "not an integer in %llu..%llu", (unsigned long long)min,
                 (unsigned long long)max);
        return hq_cfgerr_set(err, name, v, why);
    }
    return 0;
}

int hq_secret_path(const char *var, const char *credname, char **out)
{
    *out = NULL;
    const char *v = hq_env_str(var, NULL);
    if (v != NULL) {
        *out = strdup(v);
        return *out ? 0 : -ENOMEM;
    }
    const char *dir = hq_env_str("CREDENTIALS_DIRECTORY", NULL);
    if (dir == NULL || credname == NULL)
        return 0;
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s/%s", dir, credname);
    if (n < 0 || (size_t)n >= sizeof(path))
        return HQ_ETOOBIG;
    if (access(path, F_OK) != 0)
        return 0;
    *out = strdup(path);
    return *out ? 0 : -ENOMEM;
}

int hq_read_file(const char *path, size_t max, char **out, size_t *len)
{
    char chunk[4096];
    struct hq_dynbuf buf; /* capped at max: the caller names the file's limit */
    int rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    hq_dynbuf_init(&buf, max);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        rc = -EISDIR;
        goto out;
    }
    /* An empty file is "" too, never NULL. */
    if ((rc = hq_dynbuf_reserve(&buf, 0)) != 0)
        goto out;
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = -errno;
            goto out;
        }
        if (r == 0)
            break;
        if ((rc = hq_dynbuf_add(&buf, chunk, (size_t)r)) != 0) /* HQ_ETOOBIG over max */
            goto out;
    }
    *out = hq_dynbuf_take(&buf, len);
out:
    hq_dynbuf_free(&buf);
    close(fd);
    return rc;
}

int hq_config_args(int argc, char **argv, const char *program, void (*usage)(FILE *fp))
{
    if (argc < 2)
        return -1;
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("%s %s\n", program, HOOKQ_VERSION);
        return 0;
    }
    fprintf(stderr, "%s: unknown argument '%.64s' (see --help)\n", program, argv[1]);
    return 2;
}
