/* envelope: encoding and decoding of stored event metadata; see envelope.h. */
#include "envelope.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define NSTRINGS 7

static const char *const *string_fields(const struct hq_event *ev, const char *out[NSTRINGS])
{
    out[0] = ev->repo_name;
    out[1] = ev->delivery;
    out[2] = ev->event;
    out[3] = ev->action;
    out[4] = ev->check_desc;
    out[5] = ev->history;
    out[6] = ev->reason;
    return out;
}

static const size_t string_caps[NSTRINGS] = {
    HQ_MAX_REPO_NAME_LEN, HQ_MAX_DELIVERY_LEN, HQ_MAX_EVENT_LEN,  HQ_MAX_ACTION_LEN,
    HQ_MAX_DESC_LEN,      HQ_MAX_HISTORY_LEN,  HQ_MAX_REASON_LEN,
};

size_t hq_envelope_size(const struct hq_event *ev)
{
    const char *s[NSTRINGS];
    string_fields(ev, s);
    size_t n = HQ_ENVELOPE_FIXED_LEN;
    for (int i = 0; i < NSTRINGS; i++)
        n += 4 + (s[i] ? strlen(s[i]) : 0);
    return n;
}

int hq_envelope_check(const struct hq_event *ev)
{
    const char *s[NSTRINGS];
    string_fields(ev, s);
    for (int i = 0; i < NSTRINGS; i++)
        if (s[i] != NULL && strlen(s[i]) > string_caps[i])
            return HQ_ETOOBIG;
    if (ev->step > HQ_STEP_FINAL_POSTED || ev->check_state > HQ_CHECK_ERROR)
        return -EINVAL;
    return 0;
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int hq_envelope_encode(const struct hq_event *ev, uint8_t *buf, size_t cap, size_t *len)
{
    const char *s[NSTRINGS];
    string_fields(ev, s);
    size_t need = hq_envelope_size(ev);
    if (cap < need)
        return HQ_ETOOBIG;
    int rc = hq_envelope_check(ev);
    if (rc != 0)
        return rc;
    uint8_t *p = buf;
    memcpy(p, "HQE", 3);
    p[3] = HQ_ENVELOPE_VERSION;
    p += 4;
    put64(p, ev->id), p += 8;
    put64(p, ev->repo_id), p += 8;
    put64(p, ev->hook_id), p += 8;
    put64(p, ev->installation_id), p += 8;
    put64(p, (uint64_t)ev->received_at_ms), p += 8;
    put64(p, (uint64_t)ev->not_before_ms), p += 8;
    put64(p, (uint64_t)ev->dead_at_ms), p += 8;
    put32(p, ev->attempts), p += 4;
    put32(p, ev->step), p += 4;
    put32(p, ev->check_state), p += 4;
    put64(p, ev->check_run_id), p += 8;
    for (int i = 0; i < NSTRINGS; i++) {
        size_t l = s[i] ? strlen(s[i]) : 0;
        put32(p, (uint32_t)l), p += 4;
        if (l > 0)
            memcpy(p, s[i], l);
        p += l;
    }
    *len = (size_t)(p - buf);
    return 0;
}

void hq_event_free(struct hq_event *ev)
{
    if (ev == NULL)
        return;
    free(ev->repo_name);
    free(ev->delivery);
    free(ev->event);
    free(ev->action);
    free(ev->check_desc);
    free(ev->history);
    free(ev->reason);
    free(ev->payload);
    free(ev);
}

int hq_envelope_decode(const uint8_t *buf, size_t len, struct hq_event **out)
{
    int rc = HQ_ECORRUPT;
    /* Version 1 lacks check_run_id: such records read as 0 (no run). */
    if (len < 4 || memcmp(buf, "HQE", 3) != 0 || (buf[3] != 1 && buf[3] != HQ_ENVELOPE_VERSION))
        return HQ_ECORRUPT;
    bool v1 = buf[3] == 1;
    if (len < (v1 ? HQ_ENVELOPE_V1_FIXED_LEN : HQ_ENVELOPE_FIXED_LEN))
        return HQ_ECORRUPT;
    struct hq_event *ev = calloc(1, sizeof(*ev));
    if (ev == NULL)
        return -ENOMEM;
    const uint8_t *p = buf + 4, *end = buf + len;
    ev->id = get64(p), p += 8;
    ev->repo_id = get64(p), p += 8;
    ev->hook_id = get64(p), p += 8;
    ev->installation_id = get64(p), p += 8;
    ev->received_at_ms = (int64_t)get64(p), p += 8;
    ev->not_before_ms = (int64_t)get64(p), p += 8;
    ev->dead_at_ms = (int64_t)get64(p), p += 8;
    ev->attempts = get32(p), p += 4;
    ev->step = get32(p), p += 4;
    ev->check_state = get32(p), p += 4;
    if (!v1)
        ev->check_run_id = get64(p), p += 8;
    char **dst[NSTRINGS] = {&ev->repo_name,  &ev->delivery, &ev->event, &ev->action,
                            &ev->check_desc, &ev->history,  &ev->reason};
    for (int i = 0; i < NSTRINGS; i++) {
        if (end - p < 4)
            goto out;
        uint32_t l = get32(p);
        p += 4;
        if (l > string_caps[i] || (size_t)(end - p) < l)
            goto out;
        char *str = malloc((size_t)l + 1);
        if (str == NULL) {
            rc = -ENOMEM;
            goto out;
        }
        memcpy(str, p, l);
        str[l] = '\0';
        if (strlen(str) != l) { /* an embedded NUL */
            free(str);
            goto out;
        }
        *dst[i] = str;
        p += l;
    }
    if (p != end || ev->step > HQ_STEP_FINAL_POSTED || ev->check_state > HQ_CHECK_ERROR)
        goto out;
    *out = ev;
    ev = NULL;
    rc = 0;
out:
    hq_event_free(ev);
    return rc;
}

static int dup_str(char **dst, const char *src)
{
    *dst = strdup(src ? src : "");
    return *dst ? 0 : -ENOMEM;
}

int hq_event_dup(const struct hq_event *ev, struct hq_event **out)
{
    struct hq_event *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -ENOMEM;
    *c = *ev;
    c->repo_name = c->delivery = c->event = c->action = NULL;
    c->check_desc = c->history = c->reason = c->payload = NULL;
    if (dup_str(&c->repo_name, ev->repo_name) || dup_str(&c->delivery, ev->delivery) ||
        dup_str(&c->event, ev->event) || dup_str(&c->action, ev->action) ||
        dup_str(&c->check_desc, ev->check_desc) || dup_str(&c->history, ev->history) ||
        dup_str(&c->reason, ev->reason))
        goto nomem;
    if (ev->payload != NULL) {
        c->payload = malloc(ev->payload_len + 1);
        if (c->payload == NULL)
            goto nomem;
        memcpy(c->payload, ev->payload, ev->payload_len);
        c->payload[ev->payload_len] = '\0';
    }
    *out = c;
    return 0;
nomem:
    hq_event_free(c);
    return -ENOMEM;
}

int hq_event_history_append(struct hq_event *ev, int64_t at_ms, const char *error)
{
    int rc = -ENOMEM;
    char *text = NULL;
    cJSON *arr = NULL;
    if (ev->history != NULL && ev->history[0] != '\0')
        arr = cJSON_Parse(ev->history);
    if (arr == NULL || !cJSON_IsArray(arr)) {
        cJSON_Delete(arr);
        arr = cJSON_CreateArray();
        if (arr == NULL)
            goto out;
    }
    char err[512];
    size_t elen = strlen(error ? error : "");
    if (elen >= sizeof(err))
        elen = sizeof(err) - 1;
    memcpy(err, error ? error : "", elen);
    err[elen] = '\0';
    cJSON *item = cJSON_CreateObject();
    if (item == NULL)
        goto out;
    cJSON_AddItemToArray(arr, item);
    if (!cJSON_AddNumberToObject(item, "at", (double)at_ms) ||
        !cJSON_AddNumberToObject(item, "step", ev->step) ||
        !cJSON_AddStringToObject(item, "error", err))
        goto out;
    for (;;) {
        text = cJSON_PrintUnformatted(arr);
        if (text == NULL)
            goto out;
        if (strlen(text) <= HQ_MAX_HISTORY_LEN || cJSON_GetArraySize(arr) <= 1)
            break;
        free(text);
        text = NULL;
        cJSON_DeleteItemFromArray(arr, 0);
    }
    if (strlen(text) > HQ_MAX_HISTORY_LEN) {
        rc = HQ_ETOOBIG;
        goto out;
    }
    free(ev->history);
    ev->history = text;
    text = NULL;
    rc = 0;
out:
    free(text);
    cJSON_Delete(arr);
    return rc;
}
