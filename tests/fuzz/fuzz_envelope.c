/* fuzz_envelope: decoding stored event envelopes never reads out of bounds,
 * and whatever decodes re-encodes to the same bytes (a version 1 record to
 * the current version: check_run_id 0 inserted after the fixed part). */
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
    uint8_t *want = malloc(size + 8);
    size_t want_len = size;
    if (want == NULL)
        abort();
    if (data[3] == 1) {
        size_t at = HQ_ENVELOPE_V1_FIXED_LEN;
        memcpy(want, data, at);
        want[3] = HQ_ENVELOPE_VERSION;
        memset(want + at, 0, 8);
        memcpy(want + at + 8, data + at, size - at);
        want_len = size + 8;
    } else {
        memcpy(want, data, size);
    }
    if (buf != NULL && hq_envelope_encode(ev, buf, cap, &len) == 0 &&
        (len != want_len || memcmp(buf, want, want_len) != 0))
        abort();
    free(want);
    free(buf);
    hq_event_free(ev);
    return 0;
}
