/* fuzz_gh_installation: GitHub's installation answer never reads out of
 * bounds, and an id it accepts is one the client may store and send. */
#include "gh_answer.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t id = 1;
    int rc = hq_gh_answer_installation((const char *)data, size, &id);
    if (rc == 0 && (id < 1 || (double)id > HQ_GH_INSTALLATION_ID_MAX ||
                    !hq_gh_answer_is_object((const char *)data, size)))
        abort();
    if (rc != 0 && id != 0)
        abort();
    return 0;
}
