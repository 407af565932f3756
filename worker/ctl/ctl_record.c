/*
 * ctl_record: one dead letter as a record line of the export format, written
 * by dlq export and read back by dlq import (ctl_export.c has the file around
 * the records: the header line, the end line, the two passes of import).
 *
 * A record is one JSON object on one line with every field of struct
 * hq_event: integers exactly (at most 2^53, as JSON readers hold them in
 * doubles), history as the stored JSON text, the payload in standard base64,
 * last, so that it round-trips byte for byte. check_run_id came later within
 * version 1: a record without it (an older export) reads as 0, no run, and
 * an older hookqctl ignores it. The parser is the one place
 * that reads outside input in hookqctl; fuzz_dlq_import checks it.
 */
#include "ctl.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define JSON_INT_MAX 9007199254740992.0 /* 2^53 */
#define B64_CHUNK    3072               /* payload bytes encoded at a time: 4096 of base64 */

/* The object of every field but the payload, in the order of version 1
 * (check_run_id, added with check runs, after check_state). */
static cJSON *fields_json(const struct hq_event *ev)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL || !ctl_json_add_u64(o, "id", ev->id) ||
        !ctl_json_add_u64(o, "repo_id", ev->repo_id) ||
        !ctl_json_add_u64(o, "hook_id", ev->hook_id) ||
        !ctl_json_add_u64(o, "installation_id", ev->installation_id) ||
        !ctl_json_add_i64(o, "received_at_ms", ev->received_at_ms) ||
        !ctl_json_add_i64(o, "not_before_ms", ev->not_before_ms) ||
        !ctl_json_add_i64(o, "dead_at_ms", ev->dead_at_ms) ||
        !ctl_json_add_u64(o, "attempts", ev->attempts) || !ctl_json_add_u64(o, "step", ev->step) ||
        !ctl_json_add_u64(o, "check_state", ev->check_state) ||
        !ctl_json_add_u64(o, "check_run_id", ev->check_run_id) ||
        !cJSON_AddStringToObject(o, "repo", ev->repo_name) ||
        !cJSON_AddStringToObject(o, "delivery", ev->delivery) ||
        !cJSON_AddStringToObject(o, "event", ev->event) ||
        !cJSON_AddStringToObject(o, "action", ev->action) ||
        !cJSON_AddStringToObject(o, "check_desc", ev->check_desc) ||
        !cJSON_AddStringToObject(o, "history", ev->history) ||
        !cJSON_AddStringToObject(o, "reason", ev->reason)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

int ctl_record_format(const struct hq_event *ev, struct hq_dynbuf *line)
{
    unsigned char b64[4 * B64_CHUNK / 3 + 1];
    cJSON *o = NULL;
    char *fields = NULL;
    int rc;
    hq_dynbuf_reset(line);
    if (ev->payload_len > CTL_RECORD_MAX_PAYLOAD) {
        rc = HQ_ETOOBIG;
        goto out;
    }
    o = fields_json(ev);
    fields = o != NULL ? cJSON_PrintUnformatted(o) : NULL;
    if (fields == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    /* The payload goes straight from the event into the line, a chunk at a
     * time (base64 needs no JSON escaping), instead of through a string that
     * cJSON would copy twice more: a 25 MiB payload is 34 MiB of base64. */
    size_t n = strlen(fields);
    if ((rc = hq_dynbuf_add(line, fields, n - 1)) != 0 || /* without its '}' */
        (rc = hq_dynbuf_addstr(line, ",\"payload_b64\":\"")) != 0)
        goto out;
    for (size_t off = 0; off < ev->payload_len; off += B64_CHUNK) {
        size_t k = ev->payload_len - off < B64_CHUNK ? ev->payload_len - off : B64_CHUNK;
        int m = EVP_EncodeBlock(b64, (const unsigned char *)ev->payload + off, (int)k);
        if ((rc = hq_dynbuf_add(line, b64, (size_t)m)) != 0)
            goto out;
    }
    rc = hq_dynbuf_addstr(line, "\"}");
out:
    cJSON_free(fields);
    cJSON_Delete(o);
    if (rc != 0)
        hq_dynbuf_reset(line);
    return rc;
}

static bool json_int(const cJSON *o, const char *name, double min, double max, double *v)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsNumber(x) || x->valuedouble < min || x->valuedouble > max ||
        x->valuedouble != (double)(int64_t)x->valuedouble)
        return false;
    *v = x->valuedouble;
    return true;
}

static bool json_str(const cJSON *o, const char *name, size_t min, size_t max, char **out)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsString(x) || strlen(x->valuestring) < min || strlen(x->valuestring) > max)
        return false;
    *out = strdup(x->valuestring);
    return *out != NULL;
}

/*
 * The number of bytes that s (len characters) decodes to when it is standard
 * base64 as export writes it: groups of four characters of the alphabet, '='
 * only as the padding of the last group. -1 otherwise: EVP_DecodeBlock
 * itself would skip blanks and count padding as data.
 */
static long b64_decoded_len(const char *s, size_t len)
{
    size_t pad = 0;
    if (len % 4 != 0)
        return -1;
    if (len > 0 && s[len - 1] == '=')
        pad = len > 1 && s[len - 2] == '=' ? 2 : 1;
    for (size_t i = 0; i < len - pad; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/'))
            return -1;
    }
    return (long)(len / 4 * 3 - pad);
}

int ctl_record_parse(const char *line, size_t len, struct hq_event **out, const char **why)
{
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithLengthOpts(line, len, &end, false);
    struct hq_event *ev = calloc(1, sizeof(*ev));
    int rc = HQ_EPARSE;
    double v[10];
    static const struct {
        const char *name;
        double min, max;
    } nums[] = {{"repo_id", 1, JSON_INT_MAX},
                {"hook_id", 0, JSON_INT_MAX},
                {"installation_id", 0, JSON_INT_MAX},
                {"received_at_ms", -JSON_INT_MAX, JSON_INT_MAX},
                {"not_before_ms", -JSON_INT_MAX, JSON_INT_MAX},
                {"dead_at_ms", -JSON_INT_MAX, JSON_INT_MAX},
                {"attempts", 0, UINT32_MAX},
                {"step", 0, HQ_STEP_FINAL_POSTED},
                {"check_state", 0, HQ_CHECK_ERROR},
                {"id", 0, JSON_INT_MAX}};
    static const struct {
        const char *name;
        size_t min, max;
        size_t off;
    } strs[] = {{"repo", 1, HQ_MAX_REPO_NAME_LEN, offsetof(struct hq_event, repo_name)},
                {"delivery", 1, HQ_MAX_DELIVERY_LEN, offsetof(struct hq_event, delivery)},
                {"event", 1, HQ_MAX_EVENT_LEN, offsetof(struct hq_event, event)},
                {"action", 0, HQ_MAX_ACTION_LEN, offsetof(struct hq_event, action)},
                {"check_desc", 0, HQ_MAX_DESC_LEN, offsetof(struct hq_event, check_desc)},
                {"history", 0, HQ_MAX_HISTORY_LEN, offsetof(struct hq_event, history)},
                {"reason", 0, HQ_MAX_REASON_LEN, offsetof(struct hq_event, reason)}};
    *why = "not a JSON object";
    if (ev == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    /* One object and nothing after it: cJSON alone would take a valid
     * object followed by anything (a NUL byte, a second record). */
    if (!cJSON_IsObject(o) || end != line + len)
        goto out;
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        if (!json_int(o, nums[i].name, nums[i].min, nums[i].max, &v[i])) {
            *why = nums[i].name;
            goto out;
        }
    }
    ev->repo_id = (uint64_t)v[0];
    ev->hook_id = (uint64_t)v[1];
    ev->installation_id = (uint64_t)v[2];
    ev->received_at_ms = (int64_t)v[3];
    ev->not_before_ms = (int64_t)v[4];
    ev->dead_at_ms = (int64_t)v[5];
    ev->attempts = (uint32_t)v[6];
    ev->step = (uint32_t)v[7];
    ev->check_state = (uint32_t)v[8];
    ev->id = (uint64_t)v[9];
    /* Optional: absent in exports made before check runs (0: no run). */
    double run = 0;
    if (cJSON_GetObjectItemCaseSensitive(o, "check_run_id") != NULL &&
        !json_int(o, "check_run_id", 0, JSON_INT_MAX, &run)) {
        *why = "check_run_id";
        goto out;
    }
    ev->check_run_id = (uint64_t)run;
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        if (!json_str(o, strs[i].name, strs[i].min, strs[i].max,
                      (char **)((char *)ev + strs[i].off))) {
            *why = strs[i].name;
            goto out;
        }
    }
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "payload_b64");
    *why = "payload_b64";
    if (!cJSON_IsString(b))
        goto out;
    size_t blen = strlen(b->valuestring);
    long n = b64_decoded_len(b->valuestring, blen);
    if (n < 0 || (size_t)n > CTL_RECORD_MAX_PAYLOAD)
        goto out;
    /* EVP_DecodeBlock writes whole groups of three, padding included. */
    ev->payload = malloc(blen / 4 * 3 + 1);
    if (ev->payload == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    if (EVP_DecodeBlock((unsigned char *)ev->payload, (const unsigned char *)b->valuestring,
                        (int)blen) != (int)(blen / 4 * 3))
        goto out;
    ev->payload_len = (size_t)n;
    ev->payload[n] = '\0';
    *out = ev;
    ev = NULL;
    rc = 0;
out:
    cJSON_Delete(o);
    hq_event_free(ev);
    return rc;
}
