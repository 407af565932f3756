/* fuzz_envelope: decoding stored event envelopes never reads out of bounds,
 * and whatever decodes re-encodes to the same bytes. */
#include "envelope.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hq_event *ev = NULL;
    if (hq_envelope_decode(data, size, &ev) != 0)
        return 0;
    size_t cap = hq_envelope_size(ev), len = 0;
    uint8_t *buf = malloc(cap);
    if (buf != NULL && hq_envelope_encode(ev, buf, cap, &len) == 0 &&
        (len != size || memcmp(buf, data, size) != 0))
        abort();
    free(buf);
    hq_event_free(ev);
    return 0;
}
