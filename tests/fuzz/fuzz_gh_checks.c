/* fuzz_gh_checks: GitHub's check-run answers (worker/github/gh_checks.h)
 * never read out of bounds, and what they accept is an id a run can have.
 * The first byte picks the parser: 'r' a create/update answer, 'l' a
 * listing, anything else the output text cut; the rest is the input. */
#include "gh_checks.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static char text[HQ_GH_CHECK_TEXT_MAX + 1];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t len = size - 1;
    char *body = malloc(len + 1); /* a copy the parsers may not read past */
    if (body == NULL)
        return 0;
    memcpy(body, data + 1, len);
    body[len] = '\0';
    uint64_t id = 0;
    size_t listed = 0;
    uint64_t total = 0;
    if (data[0] == 'r') {
        if (hq_gh_answer_check_run(body, len, &id) == 0 &&
            (id == 0 || (double)id > HQ_GH_CHECK_RUN_ID_MAX))
            abort();
    } else if (data[0] == 'l') {
        int rc = hq_gh_answer_check_runs_find(body, len, "guid", 42, &id, &listed, &total);
        if ((rc != 0 && id != 0) || (double)id > HQ_GH_CHECK_RUN_ID_MAX)
            abort();
    } else {
        size_t n = hq_gh_check_text(body, len, (data[0] & 1) != 0, text);
        if (n > HQ_GH_CHECK_TEXT_MAX || strlen(text) != n)
            abort();
    }
    free(body);
    return 0;
}
