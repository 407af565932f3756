/*
 * envelope: the stored form of an event's metadata (schema/lmdb.md,
 * "Envelope"). The payload is stored apart (payloads sub-database) so that
 * recording a step rewrites a few hundred bytes, not the whole delivery.
 *
 * Layout, little-endian, version 2:
 *   "HQE" version:u8
 *   id:u64 repo_id:u64 hook_id:u64 installation_id:u64
 *   received_at_ms:i64 not_before_ms:i64 dead_at_ms:i64
 *   attempts:u32 step:u32 check_state:u32 check_run_id:u64
 *   then 7 strings, each len:u32 bytes (no NUL): repo_name delivery event
 *   action check_desc history reason
 * Version 1 is the same without check_run_id; it is still read (as
 * check_run_id 0) and never written.
 */
#ifndef HQ_ENVELOPE_H
#define HQ_ENVELOPE_H

#include "hq_error.h"
#include "queue.h"

#include <stddef.h>
#include <stdint.h>

#define HQ_ENVELOPE_VERSION      2
#define HQ_ENVELOPE_FIXED_LEN    (4 + 4 * 8 + 3 * 8 + 3 * 4 + 8)
#define HQ_ENVELOPE_V1_FIXED_LEN (4 + 4 * 8 + 3 * 8 + 3 * 4)

/* 0 if ev can be encoded and would decode again: strings within their caps
 * and free of NUL (they are C strings), step and check_state in range;
 * HQ_ETOOBIG or -EINVAL otherwise. */
HQ_WUR int hq_envelope_check(const struct hq_event *ev);

/* Bytes hq_envelope_encode needs for ev (payload not included). */
size_t hq_envelope_size(const struct hq_event *ev);

/* Encodes ev into buf (cap >= hq_envelope_size). NULL strings encode as "". */
HQ_WUR int hq_envelope_encode(const struct hq_event *ev, uint8_t *buf, size_t cap, size_t *len);

/*
 * Decodes buf into a new event (payload NULL). HQ_ECORRUPT for anything that
 * does not decode exactly: bad magic, a version other than 1 or 2, lengths past the end,
 * strings over their caps, trailing bytes. Never reads outside buf.
 */
HQ_WUR int hq_envelope_decode(const uint8_t *buf, size_t len, struct hq_event **out);

/* Deep copy (payload included when present). */
HQ_WUR int hq_event_dup(const struct hq_event *ev, struct hq_event **out);

/*
 * Appends {"at":at_ms,"step":step,"error":error} to ev->history (a JSON
 * array), dropping the oldest entries to stay under HQ_MAX_HISTORY_LEN.
 */
HQ_WUR int hq_event_history_append(struct hq_event *ev, int64_t at_ms, const char *error);

#endif
