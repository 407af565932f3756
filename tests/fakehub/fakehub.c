/*
 * fakehub: a stand-in GitHub REST API for hookq's tests, benchmarks and
 * demo. It issues installation tokens for App JWTs it really verifies,
 * accepts commit statuses the way GitHub validates them, records every
 * request it answered as a JSON line, and injects GitHub's failure modes
 * (rate limits, 5xx, resets, hangs, replication lag, revoked tokens) on
 * demand. `fakehub --help` lists the flags.
 *
 * DESIGN: main parses the flags, builds the shared context (struct fh_ctx:
 * the JWT verifier, PATs, the token store, the fault picker, the record),
 * starts the HTTP server (fh_http, one thread per connection) and then waits
 * in sigwait() for SIGTERM or SIGINT, which every thread has blocked. On a
 * signal it wakes delayed answers, stops the server (joining its threads),
 * closes the record and exits 0. Modules: fh_opts (flags), fh_http (server),
 * fh_api, fh_status and fh_checks (GitHub semantics), fh_jwt, fh_tokens, fh_faults,
 * fh_record, fh_util.
 */
#include "config.h"
#include "fh_api.h"
#include "fh_checks.h"
#include "fh_deliveries.h"
#include "fh_http.h"
#include "hq_error.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_PAT_FILE (1024 * 1024)
#define MAX_PATS     1024

/* Splits a PAT file into lines; blank lines and '#' comments are skipped. */
static int load_pats(const char *path, char ***out, size_t *n_out)
{
    char *text = NULL;
    size_t len = 0;
    char **pats = NULL;
    size_t n = 0;
    int rc = hq_read_file(path, MAX_PAT_FILE, &text, &len);
    if (rc != 0)
        goto out;
    pats = calloc(MAX_PATS, sizeof(*pats));
    if (pats == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    char *save = NULL;
    for (char *line = strtok_r(text, "\r\n", &save); line != NULL;
         line = strtok_r(NULL, "\r\n", &save)) {
        line += strspn(line, " \t");
        size_t l = strlen(line);
        while (l > 0 && (line[l - 1] == ' ' || line[l - 1] == '\t'))
            line[--l] = '\0';
        if (l == 0 || line[0] == '#')
            continue;
        if (n == MAX_PATS) {
            rc = HQ_ETOOBIG;
            goto out;
        }
        pats[n] = strdup(line);
        if (pats[n] == NULL) {
            rc = -ENOMEM;
            goto out;
        }
        n++;
    }
    *out = pats;
    *n_out = n;
    pats = NULL;
out:
    if (pats != NULL) {
        for (size_t i = 0; i < n; i++)
            free(pats[i]);
        free(pats);
    }
    free(text);
    return rc;
}

/* Writes the port to path through a temporary file, so that a reader never
 * sees a partial number. */
static int write_port_file(const char *path, uint16_t port)
{
    char tmp[4096];
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return HQ_ETOOBIG;
    FILE *f = fopen(tmp, "we");
    if (f == NULL)
        return -errno;
    bool ok = fprintf(f, "%u\n", (unsigned)port) > 0;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        int rc = ok ? -errno : -EIO;
        unlink(tmp);
        return rc;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static struct fh_opts opts; /* large: mapping tables */
    struct fh_ctx ctx;
    fh_http *http = NULL;
    enum fh_opts_action action;
    char err[512];
    int status = 1, rc;
    sigset_t sigs;

    memset(&ctx, 0, sizeof(ctx));
    if (fh_opts_parse(argc, argv, &opts, &action, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    if (action == FH_OPTS_HELP) {
        fh_opts_usage(stdout);
        return 0;
    }
    if (action == FH_OPTS_VERSION) {
        printf("fakehub (hookq) %s\n", HOOKQ_VERSION);
        return 0;
    }
    ctx.opts = &opts;

    if (opts.app_key_file != NULL) {
        rc = fh_jwt_open(opts.app_key_file, opts.app_id, &ctx.jwt);
        if (rc != 0) {
            fprintf(stderr,
                    "fakehub: --app-public-key: cannot load an RSA public key from %s: %s\n",
                    opts.app_key_file,
                    rc == HQ_EPARSE ? "no PEM RSA public key in it" : hq_strerror(rc));
            status = 2;
            goto out;
        }
    }
    if (opts.pat_file != NULL) {
        rc = load_pats(opts.pat_file, &ctx.pats, &ctx.npats);
        if (rc != 0) {
            fprintf(stderr, "fakehub: --pat-file: cannot read %s: %s\n", opts.pat_file,
                    hq_strerror(rc));
            status = 2;
            goto out;
        }
    }
    if (opts.record_file != NULL) {
        rc = fh_record_open(opts.record_file, &ctx.record);
        if (rc != 0) {
            fprintf(stderr, "fakehub: --record: cannot open %s: %s\n", opts.record_file,
                    hq_strerror(rc));
            status = 2;
            goto out;
        }
    }
    rc = fh_deliveries_open(&opts, &ctx.deliveries, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "%s\n", err);
        status = 2;
        goto out;
    }
    struct fh_tokens_cfg tcfg = {
        .ttl_ms = opts.token_ttl_ms,
        .length = opts.token_length,
        .revoke_older = opts.revoke_older,
        .budget = opts.budget,
        .window_ms = opts.budget_window_ms,
    };
    rc = fh_tokens_create(&tcfg, &ctx.tokens);
    if (rc == 0)
        rc = fh_faults_create(&opts.faults, &ctx.faults);
    if (rc == 0)
        rc = fh_checks_open(&ctx.checks);
    if (rc != 0) {
        fprintf(stderr, "fakehub: cannot start: %s\n", hq_strerror(rc));
        goto out;
    }

    /* Every thread inherits this mask; only sigwait() below sees the signals. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    uint16_t port = 0;
    rc = fh_http_start(&ctx, opts.host, opts.port, &port, &http);
    if (rc != 0) {
        fprintf(stderr, "fakehub: --listen: cannot serve on %s:%u: %s\n", opts.host,
                (unsigned)opts.port, hq_strerror(rc));
        status = rc == -EINVAL ? 2 : 1;
        goto out;
    }
    if (opts.port_file != NULL && (rc = write_port_file(opts.port_file, port)) != 0) {
        fprintf(stderr, "fakehub: --port-file: cannot write %s: %s\n", opts.port_file,
                hq_strerror(rc));
        goto out;
    }
    printf("fakehub listening on %s:%u\n",
           strcmp(opts.host, "localhost") == 0 ? "127.0.0.1" : opts.host, (unsigned)port);
    fflush(stdout);

    int sig = 0;
    while (sigwait(&sigs, &sig) != 0)
        ;
    fprintf(stderr, "fakehub: %s, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    status = 0;
out:
    if (ctx.faults != NULL)
        fh_faults_stop(ctx.faults);
    fh_http_stop(http);
    fh_record_close(ctx.record);
    fh_faults_destroy(ctx.faults);
    fh_tokens_destroy(ctx.tokens);
    fh_jwt_close(ctx.jwt);
    fh_deliveries_close(ctx.deliveries);
    fh_checks_close(ctx.checks);
    for (size_t i = 0; i < ctx.npats; i++)
        free(ctx.pats[i]);
    free(ctx.pats);
    return status;
}
