/* fh_opts: fakehub's command line; see fh_opts.h. */
#include "fh_opts.h"
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum {
    OPT_LISTEN = 256,
    OPT_PORT_FILE,
    OPT_RECORD,
    OPT_APP_ID,
    OPT_APP_KEY,
    OPT_PAT_FILE,
    OPT_SEED,
    OPT_FAULT_ROUTES,
    OPT_LATENCY,
    OPT_FAIL_5XX,
    OPT_RATE_429,
    OPT_RETRY_AFTER,
    OPT_PRIMARY_403,
    OPT_RESET_IN,
    OPT_SECONDARY_403,
    OPT_SECONDARY_RETRY_AFTER,
    OPT_RESET,
    OPT_HANG,
    OPT_HANG_MS,
    OPT_MALFORMED,
    OPT_YOUNG_TOKEN,
    OPT_BUDGET,
    OPT_BUDGET_WINDOW,
    OPT_TOKEN_TTL,
    OPT_TOKEN_LENGTH,
    OPT_REVOKE_OLDER,
    OPT_STATUS_CODE_FOR,
    OPT_INSTALLATION,
    OPT_DELIVERIES,
    OPT_DELIVER_TO,
    OPT_WEBHOOK_SECRET,
    OPT_HOOK_ID,
    OPT_LOSE_ANSWER,
    OPT_LOSE_CREATE,
    OPT_LOSE_UPDATE,
    OPT_LOST_ANSWER,
    OPT_CHECK_CODE_FOR,
    OPT_RUNS_OLDEST_FIRST,
    OPT_RUNS_PAGE_MAX,
    OPT_HELP,
    OPT_VERSION,
};

static const struct option long_opts[] = {
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"port-file", required_argument, NULL, OPT_PORT_FILE},
    {"record", required_argument, NULL, OPT_RECORD},
    {"app-id", required_argument, NULL, OPT_APP_ID},
    {"app-public-key", required_argument, NULL, OPT_APP_KEY},
    {"pat-file", required_argument, NULL, OPT_PAT_FILE},
    {"seed", required_argument, NULL, OPT_SEED},
    {"fault-routes", required_argument, NULL, OPT_FAULT_ROUTES},
    {"latency-ms", required_argument, NULL, OPT_LATENCY},
    {"fail-5xx", required_argument, NULL, OPT_FAIL_5XX},
    {"rate-429", required_argument, NULL, OPT_RATE_429},
    {"retry-after", required_argument, NULL, OPT_RETRY_AFTER},
    {"primary-403", required_argument, NULL, OPT_PRIMARY_403},
    {"reset-in", required_argument, NULL, OPT_RESET_IN},
    {"secondary-403", required_argument, NULL, OPT_SECONDARY_403},
    {"secondary-retry-after", required_argument, NULL, OPT_SECONDARY_RETRY_AFTER},
    {"reset", required_argument, NULL, OPT_RESET},
    {"hang", required_argument, NULL, OPT_HANG},
    {"hang-ms", required_argument, NULL, OPT_HANG_MS},
    {"malformed", required_argument, NULL, OPT_MALFORMED},
    {"young-token-ms", required_argument, NULL, OPT_YOUNG_TOKEN},
    {"budget", required_argument, NULL, OPT_BUDGET},
    {"budget-window", required_argument, NULL, OPT_BUDGET_WINDOW},
    {"token-ttl", required_argument, NULL, OPT_TOKEN_TTL},
    {"token-length", required_argument, NULL, OPT_TOKEN_LENGTH},
    {"revoke-older", no_argument, NULL, OPT_REVOKE_OLDER},
    {"status-code-for", required_argument, NULL, OPT_STATUS_CODE_FOR},
    {"installation", required_argument, NULL, OPT_INSTALLATION},
    {"deliveries", required_argument, NULL, OPT_DELIVERIES},
    {"deliver-to", required_argument, NULL, OPT_DELIVER_TO},
    {"webhook-secret-file", required_argument, NULL, OPT_WEBHOOK_SECRET},
    {"hook-id", required_argument, NULL, OPT_HOOK_ID},
    {"lose-answer", required_argument, NULL, OPT_LOSE_ANSWER},
    {"lose-create", required_argument, NULL, OPT_LOSE_CREATE},
    {"lose-update", required_argument, NULL, OPT_LOSE_UPDATE},
    {"lost-answer", required_argument, NULL, OPT_LOST_ANSWER},
    {"check-code-for", required_argument, NULL, OPT_CHECK_CODE_FOR},
    {"check-runs-oldest-first", no_argument, NULL, OPT_RUNS_OLDEST_FIRST},
    {"check-runs-page-max", required_argument, NULL, OPT_RUNS_PAGE_MAX},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

void fh_opts_usage(FILE *out)
{
    fputs("usage: fakehub [options]\n"
          "A stand-in GitHub REST API for hookq's tests, benchmarks and demo.\n"
          "\n"
          "Endpoints: POST /app/installations/{id}/access_tokens (App JWT),\n"
          "  GET /repos/{owner}/{repo}/installation (App JWT),\n"
          "  POST /repos/{owner}/{repo}/statuses/{sha} (installation token or PAT),\n"
          "  POST /repos/{owner}/{repo}/check-runs, PATCH and GET .../check-runs/{id}\n"
          "  (installation token; a PAT may read), GET\n"
          "  /repos/{owner}/{repo}/commits/{sha}/check-runs?check_name=&status=&filter=\n"
          "  &per_page=&page=, GET /rate_limit; test control GET /_fakehub/check-runs.\n"
          "\n"
          "Server:\n"
          "  --listen HOST:PORT          address (default 127.0.0.1:0, 0 = ephemeral port);\n"
          "                              prints 'fakehub listening on HOST:PORT' once bound\n"
          "  --port-file FILE            also write the bound port to FILE\n"
          "  --record FILE               append one JSON line per answered request\n"
          "Credentials:\n"
          "  --app-id N                  GitHub App id the JWT's iss must name\n"
          "  --app-public-key FILE       PEM RSA public key that verifies the JWT (RS256)\n"
          "  --pat-file FILE             accepted personal access tokens, one per line\n"
          "  --installation REPO=ID      GET /repos/REPO/installation answers ID (repeatable;\n"
          "                              REPO '*' matches any repository); others 404\n"
          "Tokens and budgets:\n"
          "  --token-ttl S               lifetime of issued tokens (default 3600s)\n"
          "  --token-length N            length of issued tokens, 'ghs_' included\n"
          "                              (default 40, up to 4096)\n"
          "  --revoke-older              a new token revokes its installation's older tokens\n"
          "  --young-token-ms N          401 for installation tokens younger than N ms\n"
          "  --budget N                  requests per installation per window (default: none)\n"
          "  --budget-window S           budget window (default 3600s)\n"
          "Faults (fractions 0..1 of the requests on --fault-routes; sum <= 1):\n"
          "  --fault-routes LIST         statuses, tokens, installation, rate_limit,\n"
          "                              deliveries, check_runs or all, comma-separated\n"
          "                              (default statuses)\n"
          "  --seed N                    make the choice of faults deterministic\n"
          "  --latency-ms N              delay every answer by N ms\n"
          "  --fail-5xx F                answer 500, 502 or 503\n"
          "  --rate-429 F                answer 429 with retry-after (--retry-after S, default 1)\n"
          "  --primary-403 F             403 with x-ratelimit-remaining: 0 and a reset\n"
          "                              --reset-in S from now (default 2)\n"
          "  --secondary-403 F           403 secondary rate limit; retry-after\n"
          "                              --secondary-retry-after S (default 0 = no header)\n"
          "  --reset F                   close the connection without an answer\n"
          "  --hang F                    process, then hold the answer --hang-ms N\n"
          "                              (default 60000)\n"
          "  --malformed F               answer 200/201 with a body that is not JSON\n"
          "  --lose-answer F             process (a check run is stored), then lose the\n"
          "                              answer as --lost-answer says\n"
          "  --status-code-for REPO=CODE answer statuses for REPO with CODE (repeatable)\n"
          "\n"
          "  --help                      this text\n"
          "  --version                   the version\n"
          "SIGTERM or SIGINT stops the server, flushes the record and exits 0.\n",
          out);
    fputs(
        "Delivery log (GET /app/hook/deliveries, GET /app/hook/deliveries/{id},\n"
        "POST /app/hook/deliveries/{id}/attempts with the App JWT; POST /_fakehub/send\n"
        "{event, payload[, guid]} without a credential; faults: --fault-routes deliveries):\n"
        "  --deliveries FILE           seed the log from a JSON array of deliveries\n"
        "  --deliver-to URL            http://HOST:PORT/PATH that sends and redeliveries POST to\n"
        "  --webhook-secret-file FILE  signs them (first line)\n"
        "  --hook-id N                 their X-GitHub-Hook-ID (default none)\n",
        out);
    fputs("Check runs (faults: --fault-routes check_runs):\n"
          "  --lose-create N[,N...]      the N-th stored check run create (from 1) is stored\n"
          "                              but its answer lost (repeatable, any route set)\n"
          "  --lose-update N[,N...]      the same for the N-th stored update\n"
          "  --lost-answer reset|502     what a lost answer is: the connection closed with\n"
          "                              no answer after the body was read (the default;\n"
          "                              curl: CURLE_GOT_NOTHING 52, or CURLE_RECV_ERROR 56),\n"
          "                              or a 502 Bad Gateway, as from a proxy that gave up\n"
          "  --check-code-for REPO=CODE  answer check run creates and updates for REPO\n"
          "                              with CODE (repeatable)\n"
          "  --check-runs-oldest-first   list a commit's check runs oldest first (GitHub\n"
          "                              documents no order; the default is newest first)\n"
          "  --check-runs-page-max N     list at most N (1..100) runs a page, whatever\n"
          "                              per_page asks for\n",
          out);
}

static int fail(char *err, size_t errcap, const char *flag, const char *value, const char *why)
{
    snprintf(err, errcap, "fakehub: --%s: %s (got '%s')", flag, why, value ? value : "");
    return HQ_ECONFIG;
}

static int parse_fraction(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (s[0] == '\0' || *end != '\0' || errno != 0 || !isfinite(v) || v < 0.0 || v > 1.0)
        return HQ_ECONFIG;
    *out = v;
    return 0;
}

static int parse_listen(const char *s, struct fh_opts *o)
{
    const char *colon = strrchr(s, ':');
    if (colon == NULL || colon == s)
        return HQ_ECONFIG;
    size_t hlen = (size_t)(colon - s);
    if (hlen >= sizeof(o->host))
        return HQ_ECONFIG;
    uint64_t port;
    if (hq_parse_uint(colon + 1, 0, 65535, &port) != 0)
        return HQ_ECONFIG;
    memcpy(o->host, s, hlen);
    o->host[hlen] = '\0';
    o->port = (uint16_t)port;
    return 0;
}

/* "owner/name=VALUE" with VALUE in [min, max]. */
static int parse_repo_map(const char *s, uint64_t min, uint64_t max, struct fh_repo_map *out)
{
    const char *eq = strrchr(s, '=');
    if (eq == NULL || eq == s)
        return HQ_ECONFIG;
    size_t rlen = (size_t)(eq - s);
    if (rlen > FH_MAX_REPO_LEN)
        return HQ_ECONFIG;
    memcpy(out->repo, s, rlen);
    out->repo[rlen] = '\0';
    if (strcmp(out->repo, "*") != 0) {
        const char *slash = strchr(out->repo, '/');
        if (slash == NULL || slash == out->repo || slash[1] == '\0' || strchr(slash + 1, '/'))
            return HQ_ECONFIG;
    }
    return hq_parse_uint(eq + 1, min, max, &out->value);
}

static int parse_routes(const char *s, unsigned *out)
{
    static const struct {
        const char *name;
        unsigned bits;
    } names[] = {{"statuses", FH_FR_STATUSES},
                 {"tokens", FH_FR_TOKENS},
                 {"installation", FH_FR_INSTALLATION},
                 {"rate_limit", FH_FR_RATE_LIMIT},
                 {"deliveries", FH_FR_DELIVERIES},
                 {"check_runs", FH_FR_CHECK_RUNS},
                 {"all", FH_FR_ALL}};
    unsigned bits = 0;
    const char *p = s;
    while (*p != '\0') {
        size_t n = strcspn(p, ",");
        bool found = false;
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            if (strlen(names[i].name) == n && strncmp(p, names[i].name, n) == 0) {
                bits |= names[i].bits;
                found = true;
            }
        }
        if (!found)
            return HQ_ECONFIG;
        p += n;
        if (*p == ',')
            p++;
    }
    if (bits == 0)
        return HQ_ECONFIG;
    *out = bits;
    return 0;
}

/* "N[,N...]" appended to list (at most FH_MAX_LOSE in all). */
static int parse_nths(const char *s, uint64_t *list, size_t *n)
{
    char one[24];
    const char *p = s;
    do {
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof(one) || *n >= FH_MAX_LOSE)
            return HQ_ECONFIG;
        memcpy(one, p, len);
        one[len] = '\0';
        if (hq_parse_uint(one, 1, UINT64_MAX, &list[*n]) != 0)
            return HQ_ECONFIG;
        (*n)++;
        p += len;
    } while (*p++ == ',');
    return 0;
}

static void set_defaults(struct fh_opts *o)
{
    memset(o, 0, sizeof(*o));
    snprintf(o->host, sizeof(o->host), "127.0.0.1");
    o->budget_window_ms = 3600 * 1000;
    o->token_ttl_ms = 3600 * 1000;
    o->token_length = 40;
    o->faults.routes = FH_FR_STATUSES;
    o->faults.hang_ms = 60000;
    o->faults.retry_after_s = 1;
    o->faults.reset_in_s = 2;
}

int fh_opts_parse(int argc, char **argv, struct fh_opts *o, enum fh_opts_action *action, char *err,
                  size_t errcap)
{
    set_defaults(o);
    *action = FH_OPTS_RUN;
    opterr = 0;
    optind = 1;
    struct fh_fault_opts *f = &o->faults;
    for (;;) {
        int longind = -1;
        int c = getopt_long(argc, argv, "", long_opts, &longind);
        if (c == -1)
            break;
        const char *v = optarg;
        const char *name = longind >= 0 ? long_opts[longind].name : "";
        uint64_t u;
        int64_t ms;
        switch (c) {
        case OPT_LISTEN:
            if (parse_listen(v, o) != 0)
                return fail(err, errcap, name, v, "expected HOST:PORT");
            break;
        case OPT_PORT_FILE: o->port_file = v; break;
        case OPT_RECORD: o->record_file = v; break;
        case OPT_APP_ID:
            if (hq_parse_uint(v, 1, (1ull << 53), &o->app_id) != 0)
                return fail(err, errcap, name, v, "expected a positive integer");
            break;
        case OPT_HOOK_ID:
            if (hq_parse_uint(v, 1, (1ull << 53), &o->hook_id) != 0)
                return fail(err, errcap, name, v, "expected a positive integer");
            break;
        case OPT_APP_KEY: o->app_key_file = v; break;
        case OPT_PAT_FILE: o->pat_file = v; break;
        case OPT_DELIVERIES: o->deliveries_file = v; break;
        case OPT_DELIVER_TO: o->deliver_to = v; break;
        case OPT_WEBHOOK_SECRET: o->webhook_secret_file = v; break;
        case OPT_SEED:
            if (hq_parse_uint(v, 0, UINT64_MAX, &f->seed) != 0)
                return fail(err, errcap, name, v, "expected an unsigned integer");
            f->seeded = true;
            break;
        case OPT_FAULT_ROUTES:
            if (parse_routes(v, &f->routes) != 0)
                return fail(
                    err, errcap, name, v,
                    "expected statuses, tokens, installation, rate_limit, deliveries, check_runs "
                    "or all");
            break;
        case OPT_FAIL_5XX:
        case OPT_RATE_429:
        case OPT_PRIMARY_403:
        case OPT_SECONDARY_403:
        case OPT_RESET:
        case OPT_HANG:
        case OPT_LOSE_ANSWER:
        case OPT_MALFORMED: {
            double *dst = c == OPT_FAIL_5XX        ? &f->fail_5xx
                          : c == OPT_RATE_429      ? &f->rate_429
                          : c == OPT_PRIMARY_403   ? &f->primary_403
                          : c == OPT_SECONDARY_403 ? &f->secondary_403
                          : c == OPT_RESET         ? &f->reset
                          : c == OPT_HANG          ? &f->hang
                          : c == OPT_LOSE_ANSWER   ? &f->lose_answer
                                                   : &f->malformed;
            if (parse_fraction(v, dst) != 0)
                return fail(err, errcap, name, v, "expected a fraction between 0 and 1");
            break;
        }
        case OPT_LATENCY:
        case OPT_HANG_MS:
        case OPT_YOUNG_TOKEN:
            if (hq_parse_uint(v, 0, 3600 * 1000, &u) != 0)
                return fail(err, errcap, name, v, "expected milliseconds, 0..3600000");
            if (c == OPT_LATENCY)
                f->latency_ms = (int64_t)u;
            else if (c == OPT_HANG_MS)
                f->hang_ms = (int64_t)u;
            else
                f->young_token_ms = (int64_t)u;
            break;
        case OPT_RETRY_AFTER:
        case OPT_RESET_IN:
        case OPT_SECONDARY_RETRY_AFTER:
            if (hq_parse_uint(v, 0, 86400, &u) != 0)
                return fail(err, errcap, name, v, "expected whole seconds, 0..86400");
            if (c == OPT_RETRY_AFTER)
                f->retry_after_s = (int64_t)u;
            else if (c == OPT_RESET_IN)
                f->reset_in_s = (int64_t)u;
            else
                f->secondary_retry_after_s = (int64_t)u;
            break;
        case OPT_BUDGET:
            if (hq_parse_uint(v, 1, 1000000000, &o->budget) != 0)
                return fail(err, errcap, name, v, "expected a positive integer");
            break;
        case OPT_BUDGET_WINDOW:
        case OPT_TOKEN_TTL:
            if (hq_parse_duration_ms(v, &ms) != 0 || ms < 1000 || ms > 7 * 86400 * 1000LL)
                return fail(err, errcap, name, v, "expected a duration of 1s..7d (e.g. 60, 10m)");
            if (c == OPT_BUDGET_WINDOW)
                o->budget_window_ms = ms;
            else
                o->token_ttl_ms = ms;
            break;
        case OPT_TOKEN_LENGTH:
            if (hq_parse_uint(v, FH_MIN_TOKEN_LEN, FH_MAX_TOKEN_LEN, &u) != 0)
                return fail(err, errcap, name, v, "expected a length of 8..4096");
            o->token_length = (size_t)u;
            break;
        case OPT_REVOKE_OLDER: o->revoke_older = true; break;
        case OPT_STATUS_CODE_FOR:
            if (o->n_status_codes >= FH_MAX_MAPPINGS)
                return fail(err, errcap, name, v, "too many repositories (at most 256)");
            if (parse_repo_map(v, 400, 599, &o->status_codes[o->n_status_codes]) != 0)
                return fail(err, errcap, name, v, "expected owner/name=CODE, CODE 400..599");
            o->n_status_codes++;
            break;
        case OPT_INSTALLATION:
            if (o->n_installations >= FH_MAX_MAPPINGS)
                return fail(err, errcap, name, v, "too many repositories (at most 256)");
            if (parse_repo_map(v, 1, (1ull << 53), &o->installations[o->n_installations]) != 0)
                return fail(err, errcap, name, v, "expected owner/name=ID or *=ID");
            o->n_installations++;
            break;
        case OPT_LOSE_CREATE:
        case OPT_LOSE_UPDATE:
            if (parse_nths(v, c == OPT_LOSE_CREATE ? o->lose_creates : o->lose_updates,
                           c == OPT_LOSE_CREATE ? &o->n_lose_creates : &o->n_lose_updates) != 0)
                return fail(err, errcap, name, v,
                            "expected positive integers, comma-separated (at most 64)");
            break;
        case OPT_LOST_ANSWER:
            if (strcmp(v, "reset") != 0 && strcmp(v, "502") != 0)
                return fail(err, errcap, name, v, "expected reset or 502");
            o->lost_as_502 = strcmp(v, "502") == 0;
            break;
        case OPT_CHECK_CODE_FOR:
            if (o->n_check_codes >= FH_MAX_MAPPINGS)
                return fail(err, errcap, name, v, "too many repositories (at most 256)");
            if (parse_repo_map(v, 400, 599, &o->check_codes[o->n_check_codes]) != 0)
                return fail(err, errcap, name, v, "expected owner/name=CODE, CODE 400..599");
            o->n_check_codes++;
            break;
        case OPT_RUNS_OLDEST_FIRST: o->runs_oldest_first = true; break;
        case OPT_RUNS_PAGE_MAX:
            if (hq_parse_uint(v, 1, 100, &o->runs_page_max) != 0)
                return fail(err, errcap, name, v, "expected 1..100");
            break;
        case OPT_HELP: *action = FH_OPTS_HELP; return 0;
        case OPT_VERSION: *action = FH_OPTS_VERSION; return 0;
        default: {
            const char *bad = (optind > 0 && optind <= argc) ? argv[optind - 1] : "?";
            if (c == '?' && optopt != 0) {
                snprintf(err, errcap, "fakehub: option '%s' needs a value", bad);
                return HQ_ECONFIG;
            }
            snprintf(err, errcap, "fakehub: unknown option '%s' (see --help)", bad);
            return HQ_ECONFIG;
        }
        }
    }
    if (optind < argc) {
        snprintf(err, errcap, "fakehub: unexpected argument '%s' (see --help)", argv[optind]);
        return HQ_ECONFIG;
    }
    double sum = f->fail_5xx + f->rate_429 + f->primary_403 + f->secondary_403 + f->reset +
                 f->hang + f->malformed + f->lose_answer;
    if (sum > 1.0 + 1e-9) {
        snprintf(err, errcap, "fakehub: the fault fractions add up to %.3f, more than 1", sum);
        return HQ_ECONFIG;
    }
    if ((o->app_id != 0) != (o->app_key_file != NULL)) {
        snprintf(err, errcap, "fakehub: --app-id and --app-public-key go together");
        return HQ_ECONFIG;
    }
    return 0;
}
