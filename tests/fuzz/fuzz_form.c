/*
 * fuzz_form: form-urlencoded payload extraction (common/ingest.h,
 * ingest_form_payload). The input is the raw form body, copied into an
 * exact-size buffer without a NUL so that ASan catches any read past len.
 * A decoded payload is never longer than the body and is NUL-terminated.
 */
#include "ingest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body = malloc(size ? size : 1);
    if (body == NULL)
        return 0;
    memcpy(body, data, size);
    char *out = NULL;
    size_t len = 0;
    int rc = ingest_form_payload(body, size, &out, &len);
    if (rc == 0) {
        if (out == NULL || len > size || out[len] != '\0')
            abort();
    } else if (out != NULL || (rc != HQ_EPARSE && rc != -ENOMEM)) {
        abort();
    }
    free(out);
    free(body);
    return 0;
}
