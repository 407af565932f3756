/*
 * github_opts: the client's options (github.h): their defaults, and the
 * checks hq_github_create makes before it allocates anything, each failure
 * naming the variable behind the option.
 */
#include "github_opts.h"

#include "github_http.h"

#include <string.h>

void hq_github_opts_init(struct hq_github_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->api_url = "https://api.github.com";
    o->user_agent = "hookq/" HOOKQ_VERSION;
    o->connect_timeout_ms = 10000;
    o->total_timeout_ms = 30000;
    o->token_margin_ms = 5 * 60 * 1000;
    o->young_token_retry_ms = 5000;
    o->pacing =
        (struct hq_pacing_opts){.enabled = true, .per_minute = 80, .per_hour = 500, .reserve = 100};
    o->max_in_flight = 32;
}

int hq_github_opts_check(const struct hq_github_opts *o, size_t api_max, struct hq_cfgerr *err)
{
    const char *api = o->api_url;
    if (api == NULL || (strncmp(api, "https://", 8) != 0 && strncmp(api, "http://", 7) != 0))
        return hq_cfgerr_set(err, "HOOKQ_GITHUB_API", api, "must be an http(s):// URL");
    if (strlen(api) >= api_max)
        return hq_cfgerr_set(err, "HOOKQ_GITHUB_API", api, "URL too long");
    bool app = o->app_id != 0 || o->app_key_path != NULL;
    if (app && o->token_path != NULL)
        return hq_cfgerr_set(err, "HOOKQ_TOKEN_FILE", o->token_path,
                             "set either a GitHub App (HOOKQ_APP_ID, HOOKQ_APP_KEY_FILE) or a "
                             "token file, not both");
    if (!app && o->token_path == NULL)
        return hq_cfgerr_set(err, "HOOKQ_APP_ID", NULL,
                             "set a GitHub App (HOOKQ_APP_ID and HOOKQ_APP_KEY_FILE) or "
                             "HOOKQ_TOKEN_FILE");
    if (app && o->app_id == 0)
        return hq_cfgerr_set(err, "HOOKQ_APP_ID", NULL, "required with HOOKQ_APP_KEY_FILE");
    if (app && o->app_key_path == NULL)
        return hq_cfgerr_set(err, "HOOKQ_APP_KEY_FILE", NULL, "required with HOOKQ_APP_ID");
    if (o->connect_timeout_ms <= 0 || o->total_timeout_ms <= 0 || o->token_margin_ms < 0 ||
        o->young_token_retry_ms < 0 || o->max_in_flight == 0 || o->max_in_flight > 4096)
        return hq_cfgerr_set(err, "github client", NULL,
                             "timeouts and max_in_flight must be positive, margins not negative");
    if (o->user_agent != NULL && strlen(o->user_agent) >= HQ_GITHUB_HTTP_USER_AGENT_MAX)
        return hq_cfgerr_set(err, "github client", NULL, "user agent too long");
    return 0;
}
