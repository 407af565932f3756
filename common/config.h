/*
 * config: parsing of configuration values (environment variables, schema/design.md
 * §5) with one clear error line naming the variable.
 *
 * Every parser returns 0 or HQ_ECONFIG and, on error, writes one line into
 * the caller's struct hq_cfgerr ("HOOKQ_X: why (got 'value')"); main prints it
 * and exits 2. Nothing here logs or exits.
 */
#ifndef HQ_CONFIG_H
#define HQ_CONFIG_H

#include "hq_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

struct hq_cfgerr {
    char msg[512];
};

/* Plain value parsers (no variable name): 0 or HQ_ECONFIG. */
/* "500ms", "30s", "10m", "2h", "7d"; a bare number means seconds. */
HQ_WUR int hq_parse_duration_ms(const char *s, int64_t *out_ms);
/* "1024", "64KiB", "25MiB", "4GiB", "1TiB" (also KB/MB/GB, k/M/G as binary). */
HQ_WUR int hq_parse_size(const char *s, uint64_t *out);
/* true/false, yes/no, on/off, 1/0 */
HQ_WUR int hq_parse_bool(const char *s, bool *out);
/* decimal unsigned integer in [min, max] */
HQ_WUR int hq_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Environment readers: an unset or empty variable gives the default. */
HQ_WUR int hq_env_duration(const char *name, int64_t def_ms, int64_t min_ms, int64_t max_ms,
                           int64_t *out, struct hq_cfgerr *err);
HQ_WUR int hq_env_size(const char *name, uint64_t def, uint64_t min, uint64_t max, uint64_t *out,
                       struct hq_cfgerr *err);
HQ_WUR int hq_env_bool(const char *name, bool def, bool *out, struct hq_cfgerr *err);
HQ_WUR int hq_env_uint(const char *name, uint64_t def, uint64_t min, uint64_t max, uint64_t *out,
                       struct hq_cfgerr *err);
/* Returns the variable's value or def (not copied; valid until setenv). */
const char *hq_env_str(const char *name, const char *def);

/*
 * Finds the file of a secret: the variable's value if set, else
 * $CREDENTIALS_DIRECTORY/credname if systemd passed that credential, else
 * NULL. *out is malloc'd; NULL with 0 when neither is there.
 */
HQ_WUR int hq_secret_path(const char *var, const char *credname, char **out);

/*
 * Reads a whole file of at most max bytes into a NUL-terminated malloc'd
 * buffer. -ENOENT/-EACCES/... from open, HQ_ETOOBIG over max.
 */
HQ_WUR int hq_read_file(const char *path, size_t max, char **out, size_t *len);

/*
 * The command line of a service configured by its environment: --help (or
 * -h) prints usage(stdout) and gives 0, --version prints "program VERSION"
 * and gives 0, anything else is one line on stderr and 2. Returns -1 when
 * there were no arguments and the service should start.
 */
int hq_config_args(int argc, char **argv, const char *program, void (*usage)(FILE *fp));

/* Records an error line "NAME: why (got 'value')"; returns HQ_ECONFIG. */
int hq_cfgerr_set(struct hq_cfgerr *err, const char *name, const char *value, const char *why);

#endif
