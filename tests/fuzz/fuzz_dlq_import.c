/*
 * fuzz_dlq_import: the record lines of `hookqctl dlq import`
 * (worker/ctl/ctl.h, ctl_record_parse). The input is one line, in an
 * exact-size buffer without a NUL so that ASan catches any read past len.
 * A line either parses into an event within the queue's bounds, or fails
 * with HQ_EPARSE naming a field; whatever parses is written again by the
 * export's own writer (ctl_record_format) and parses back to the same event,
 * payload byte for byte.
 */
#include "ctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool same_event(const struct hq_event *a, const struct hq_event *b)
{
    return a->id == b->id && a->repo_id == b->repo_id && a->hook_id == b->hook_id &&
           a->installation_id == b->installation_id && a->received_at_ms == b->received_at_ms &&
           a->not_before_ms == b->not_before_ms && a->dead_at_ms == b->dead_at_ms &&
           a->attempts == b->attempts && a->step == b->step && a->check_state == b->check_state &&
           a->check_run_id == b->check_run_id && strcmp(a->repo_name, b->repo_name) == 0 &&
           strcmp(a->delivery, b->delivery) == 0 && strcmp(a->event, b->event) == 0 &&
           strcmp(a->action, b->action) == 0 && strcmp(a->check_desc, b->check_desc) == 0 &&
           strcmp(a->history, b->history) == 0 && strcmp(a->reason, b->reason) == 0 &&
           a->payload_len == b->payload_len && memcmp(a->payload, b->payload, a->payload_len) == 0;
}

static bool within_bounds(const struct hq_event *ev)
{
    return ev->repo_id != 0 && ev->step <= HQ_STEP_FINAL_POSTED &&
           ev->check_state <= HQ_CHECK_ERROR && ev->repo_name[0] != '\0' &&
           strlen(ev->repo_name) <= HQ_MAX_REPO_NAME_LEN && ev->delivery[0] != '\0' &&
           strlen(ev->delivery) <= HQ_MAX_DELIVERY_LEN && ev->event[0] != '\0' &&
           strlen(ev->event) <= HQ_MAX_EVENT_LEN && strlen(ev->action) <= HQ_MAX_ACTION_LEN &&
           strlen(ev->check_desc) <= HQ_MAX_DESC_LEN && strlen(ev->history) <= HQ_MAX_HISTORY_LEN &&
           strlen(ev->reason) <= HQ_MAX_REASON_LEN && ev->payload != NULL &&
           ev->payload_len <= CTL_RECORD_MAX_PAYLOAD && ev->payload[ev->payload_len] == '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = malloc(size ? size : 1);
    struct hq_event *ev = NULL, *again = NULL;
    struct hq_dynbuf out;
    const char *why = NULL;
    hq_dynbuf_init(&out, CTL_RECORD_LINE_MAX);
    if (line == NULL)
        return 0;
    memcpy(line, data, size);
    int rc = ctl_record_parse(line, size, &ev, &why);
    if (rc != 0) {
        if (ev != NULL || (rc == HQ_EPARSE && why == NULL) || (rc != HQ_EPARSE && rc != -ENOMEM))
            abort();
        goto out;
    }
    if (!within_bounds(ev))
        abort();
    rc = ctl_record_format(ev, &out);
    if (rc == -ENOMEM)
        goto out;
    if (rc != 0 || ctl_record_parse(hq_dynbuf_str(&out), hq_dynbuf_len(&out), &again, &why) != 0 ||
        !same_event(ev, again))
        abort();
out:
    hq_event_free(again);
    hq_event_free(ev);
    hq_dynbuf_free(&out);
    free(line);
    return 0;
}
