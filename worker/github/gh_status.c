/* gh_status: validation of status requests and their JSON body; see gh_status.h. */
#include "gh_status.h"
#include "utf8.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <string.h>

/* owner/name as GitHub allows them: [A-Za-z0-9-] owner, [A-Za-z0-9._-] name. */
bool hq_gh_valid_repo(const char *s)
{
    const char *slash = strchr(s, '/');
    if (slash == NULL || slash == s || slash - s > 39 || strlen(slash + 1) == 0 ||
        strlen(slash + 1) > 100)
        return false;
    for (const char *p = s; p < slash; p++)
        if (!isalnum((unsigned char)*p) && *p != '-')
            return false;
    for (const char *p = slash + 1; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
            return false;
    return strcmp(slash + 1, ".") != 0 && strcmp(slash + 1, "..") != 0;
}

bool hq_gh_valid_sha(const char *s)
{
    size_t n = strlen(s);
    if (n < 4 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    return true;
}

/* At most HQ_GH_DESCRIPTION_CHARS characters of valid UTF-8: invalid bytes
 * become '?', control characters ' '. out holds 4 * 140 + 1. */
static void cut_description(const char *in, char *out)
{
    hq_utf8_cut(in, HQ_GH_DESCRIPTION_CHARS, false, ' ', out, HQ_GH_DESCRIPTION_CHARS * 4 + 1);
}

char *hq_gh_status_body(const char *state, const char *context, const char *description,
                        const char *target_url)
{
    char desc[HQ_GH_DESCRIPTION_CHARS * 4 + 1];
    char *s = NULL;
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    if (cJSON_AddStringToObject(o, "state", state) == NULL ||
        cJSON_AddStringToObject(o, "context", context) == NULL)
        goto out;
    if (description != NULL) {
        cut_description(description, desc);
        if (cJSON_AddStringToObject(o, "description", desc) == NULL)
            goto out;
    }
    if (target_url != NULL && target_url[0] != '\0' &&
        cJSON_AddStringToObject(o, "target_url", target_url) == NULL)
        goto out;
    s = cJSON_PrintUnformatted(o);
out:
    cJSON_Delete(o);
    return s;
}
