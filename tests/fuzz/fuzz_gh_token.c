/* fuzz_gh_token: GitHub's access_tokens answer never reads out of bounds,
 * and what it accepts is a token that may go into a header. */
#include "gh_answer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *token = NULL;
    int64_t expires = 0;
    int rc = hq_gh_answer_token((const char *)data, size, &token, &expires);
    if (rc == 0 && (token == NULL || !hq_gh_valid_token(token, strlen(token)) ||
                    !hq_gh_answer_is_object((const char *)data, size)))
        abort();
    if (rc != 0 && token != NULL)
        abort();
    free(token);
    return 0;
}
