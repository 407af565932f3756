/*
 * webhook: the webhook endpoint of the receiver, one struct request per
 * delivery; see http.h for the order of checks.
 *
 * Life of a request: webhook_begin (headers) → webhook_continue with body
 * data → webhook_continue at the end of the body (verify, route, submit to
 * the committer, suspend) → on_commit_done on the committer thread (resume)
 * → webhook_continue again (answer) → webhook_free from the completion
 * callback. Between submit and resume only the committer touches req->item;
 * the connection's own thread touches nothing.
 *
 * Memory: a body is buffered whole (the signature covers all of it) and
 * bounded twice — per request by HOOKQ_MAX_BODY, across requests by
 * HOOKQ_MAX_BUFFERED, reserved before the bytes are read.
 */
#include "http_internal.h"
#include "clock.h"
#include "ingest.h"
#include "log.h"
#include "signature.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNKED_START (16 * 1024)

enum stage {
    STAGE_BODY,       /* reading the body */
    STAGE_COMMITTING, /* suspended, waiting for the committer */
    STAGE_ANSWERED,
};

struct request {
    http_server *srv;
    struct MHD_Connection *conn;
    enum stage stage;
    char event[HQ_MAX_EVENT_LEN + 1];
    char delivery[HQ_MAX_DELIVERY_LEN + 1];
    uint64_t hook_id;
    enum ingest_ctype ctype;
    uint8_t digest[HQ_SIGNATURE_DIGEST_LEN];
    int64_t received_at_ms;
    int64_t start_ms; /* monotonic, for duration_ms */
    char *body;
    size_t len, cap;
    size_t reserved;    /* bytes counted in srv->buffered */
    char *form_payload; /* decoded "payload" field of a form body */
    int submit_rc;      /* committer_submit's refusal, 0 when submitted */
    struct ingest_route route;
    struct committer_item item;
};

static struct hq_log_ctx req_ctx(const struct request *req)
{
    struct hq_log_ctx ctx = HQ_LOG_CTX_INIT;
    ctx.delivery = req->delivery;
    ctx.event = req->event;
    if (req->route.has_repository)
        ctx.repo = req->route.repo_name;
    ctx.duration_ms = hq_mono_ms() - req->start_ms;
    return ctx;
}

/* Reserves n more bytes of the process-wide body budget. */
static bool reserve(http_server *s, struct request *req, size_t n)
{
    unsigned long prev = atomic_fetch_add(&s->buffered, n);
    if (prev + n > s->o.cfg->max_buffered) {
        atomic_fetch_sub(&s->buffered, n);
        return false;
    }
    req->reserved += n;
    return true;
}

/* A refusal given from the headers alone: counted, logged, and the
 * connection closed since the body stays unread. */
static enum MHD_Result refuse_early(http_server *s, struct MHD_Connection *conn,
                                    enum http_result res, unsigned status, const char *error,
                                    const char *event, const char *delivery, int retry_after)
{
    struct hq_log_ctx ctx = HQ_LOG_CTX_INIT;
    ctx.event = event;
    ctx.delivery = delivery;
    http_count(s, res);
    hq_warn("receive", &ctx, "refused %u: %s", status, error);
    return http_answer_error(conn, status, error, retry_after, true);
}

enum MHD_Result webhook_begin(http_server *s, struct MHD_Connection *conn, void **con_cls)
{
    const struct receiver_config *cfg = s->o.cfg;
    const char *event = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-GitHub-Event");
    const char *delivery = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-GitHub-Delivery");
    const char *hook = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-GitHub-Hook-ID");
    const char *ctype = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    const char *sig = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Hub-Signature-256");
    const char *clen = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");

    /* Only well-formed header values reach a log line. */
    const char *ev_ok = ingest_event_name(event) == 0 ? event : NULL;
    const char *dl_ok = ingest_delivery_id(delivery) == 0 ? delivery : NULL;

    if (atomic_load(&s->stopping))
        return refuse_early(s, conn, HTTP_UNAVAILABLE, MHD_HTTP_SERVICE_UNAVAILABLE,
                            "shutting down", ev_ok, dl_ok, 5);
    if (ev_ok == NULL)
        return refuse_early(s, conn, HTTP_BAD_REQUEST, MHD_HTTP_BAD_REQUEST,
                            "missing or malformed X-GitHub-Event header", NULL, dl_ok, 0);
    if (dl_ok == NULL)
        return refuse_early(s, conn, HTTP_BAD_REQUEST, MHD_HTTP_BAD_REQUEST,
                            "missing or malformed X-GitHub-Delivery header", ev_ok, NULL, 0);
    uint64_t hook_id;
    if (ingest_hook_id(hook, &hook_id) != 0)
        return refuse_early(s, conn, HTTP_BAD_REQUEST, MHD_HTTP_BAD_REQUEST,
                            "malformed X-GitHub-Hook-ID header", ev_ok, dl_ok, 0);
    enum ingest_ctype ct;
    if (ingest_content_type(ctype, &ct) != 0)
        return refuse_early(s, conn, HTTP_BAD_REQUEST, MHD_HTTP_BAD_REQUEST,
                            "content type must be application/json or "
                            "application/x-www-form-urlencoded",
                            ev_ok, dl_ok, 0);
    uint8_t digest[HQ_SIGNATURE_DIGEST_LEN];
    if (hq_signature_parse(sig, digest) != 0)
        return refuse_early(s, conn, HTTP_UNAUTHORIZED, MHD_HTTP_UNAUTHORIZED,
                            "missing or malformed X-Hub-Signature-256 header", ev_ok, dl_ok, 0);
    uint64_t length = 0;
    bool known = clen != NULL;
    if (known && ingest_content_length(clen, &length) != 0)
        return refuse_early(s, conn, HTTP_BAD_REQUEST, MHD_HTTP_BAD_REQUEST,
                            "malformed Content-Length header", ev_ok, dl_ok, 0);
    if (length > cfg->max_body)
        return refuse_early(s, conn, HTTP_TOO_LARGE, MHD_HTTP_CONTENT_TOO_LARGE,
                            "body over the size limit (HOOKQ_MAX_BODY)", ev_ok, dl_ok, 0);

    struct request *req = calloc(1, sizeof(*req));
    if (req == NULL)
        return MHD_NO;
    req->srv = s;
    req->conn = conn;
    req->stage = STAGE_BODY;
    memcpy(req->event, event, strlen(event) + 1);
    memcpy(req->delivery, delivery, strlen(delivery) + 1);
    req->hook_id = hook_id;
    req->ctype = ct;
    memcpy(req->digest, digest, sizeof(digest));
    req->received_at_ms = hq_now_ms();
    req->start_ms = hq_mono_ms();
    size_t want = known ? (size_t)length : CHUNKED_START;
    if (!reserve(s, req, want)) {
        free(req);
        return refuse_early(s, conn, HTTP_UNAVAILABLE, MHD_HTTP_SERVICE_UNAVAILABLE,
                            "too many request bodies in memory", ev_ok, dl_ok, 1);
    }
    if (want > 0) {
        req->body = malloc(want);
        if (req->body == NULL) {
            atomic_fetch_sub(&s->buffered, req->reserved);
            free(req);
            return MHD_NO;
        }
        req->cap = want;
    }
    atomic_fetch_add(&s->inflight, 1);
    *con_cls = req;
    return MHD_YES;
}

/* Appends body data; false when the body cannot be taken (limit, memory). */
static bool append_body(http_server *s, struct request *req, const char *data, size_t n)
{
    uint64_t max = s->o.cfg->max_body;
    if (n > max - req->len) {
        struct hq_log_ctx ctx = req_ctx(req);
        http_count(s, HTTP_TOO_LARGE);
        hq_warn("receive", &ctx, "refused 413: body over the size limit (HOOKQ_MAX_BODY)");
        return false;
    }
    if (req->len + n > req->cap) {
        size_t ncap = req->cap ? req->cap : CHUNKED_START;
        while (ncap < req->len + n)
            ncap *= 2;
        if (ncap > max)
            ncap = (size_t)max;
        if (!reserve(s, req, ncap - req->cap)) {
            struct hq_log_ctx ctx = req_ctx(req);
            http_count(s, HTTP_UNAVAILABLE);
            hq_warn("receive", &ctx, "refused: too many request bodies in memory");
            return false;
        }
        char *nb = realloc(req->body, ncap);
        if (nb == NULL)
            return false;
        req->body = nb;
        req->cap = ncap;
    }
    memcpy(req->body + req->len, data, n);
    req->len += n;
    return true;
}

/* Answers a request whose body was read; counted and logged. */
static enum MHD_Result finish(struct request *req, enum http_result res, unsigned status,
                              const char *json, int retry_after)
{
    http_count(req->srv, res);
    req->stage = STAGE_ANSWERED;
    return http_answer(req->conn, status, json, retry_after, false);
}

static enum MHD_Result finish_error(struct request *req, enum http_result res, unsigned status,
                                    const char *error, int retry_after)
{
    struct hq_log_ctx ctx = req_ctx(req);
    char body[256];
    int n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}", error);
    if (n < 0 || (size_t)n >= sizeof(body))
        return MHD_NO;
    if (res == HTTP_UNAVAILABLE)
        hq_error("receive", &ctx, "refused %u: %s", status, error);
    else
        hq_warn("receive", &ctx, "refused %u: %s", status, error);
    return finish(req, res, status, body, retry_after);
}

static void on_commit_done(struct committer_item *it)
{
    struct request *req = (struct request *)((char *)it - offsetof(struct request, item));
    MHD_resume_connection(req->conn);
}

/* The whole body is here: verify, route, and hand over to the committer. */
static enum MHD_Result body_complete(http_server *s, struct request *req)
{
    const struct receiver_config *cfg = s->o.cfg;
    struct hq_log_ctx ctx = req_ctx(req);
    int rc = hq_signature_verify(cfg->keys, req->digest, req->body, req->len);
    if (rc == HQ_ESIGNATURE)
        return finish_error(req, HTTP_UNAUTHORIZED, MHD_HTTP_UNAUTHORIZED,
                            "signature does not match any configured secret", 0);
    if (rc != 0)
        return finish_error(req, HTTP_UNAVAILABLE, MHD_HTTP_SERVICE_UNAVAILABLE,
                            "cannot verify the signature now", 5);

    if (strcmp(req->event, "ping") == 0) {
        hq_info("receive", &ctx, "pong");
        return finish(req, HTTP_PONG, MHD_HTTP_OK, "{\"result\":\"pong\"}", 0);
    }
    if (!ingest_events_match(cfg->events, cfg->all_events, req->event)) {
        hq_info("receive", &ctx, "ignored: event not accepted (HOOKQ_EVENTS)");
        return finish(req, HTTP_IGNORED, MHD_HTTP_ACCEPTED, "{\"result\":\"ignored\"}", 0);
    }

    const char *payload = req->body;
    size_t plen = req->len;
    if (req->ctype == INGEST_CTYPE_FORM) {
        rc = ingest_form_payload(req->body, req->len, &req->form_payload, &plen);
        if (rc == -ENOMEM)
            return finish_error(req, HTTP_UNAVAILABLE, MHD_HTTP_SERVICE_UNAVAILABLE,
                                "out of memory", 5);
        if (rc != 0)
            return finish_error(req, HTTP_BAD_REQUEST, MHD_HTTP_BAD_REQUEST,
                                "form body needs exactly one well-formed payload field", 0);
        payload = req->form_payload;
    }
    const char *why = NULL;
    rc = ingest_route(payload, plen, &req->route, &why);
    if (rc == -ENOMEM)
        return finish_error(req, HTTP_UNAVAILABLE, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory",
                            5);
    if (rc != 0)
        return finish_error(req, HTTP_BAD_REQUEST, MHD_HTTP_BAD_REQUEST,
                            why ? why : "malformed payload", 0);
    if (!req->route.has_repository) {
        hq_info("receive", &ctx, "ignored: no repository in the payload");
        return finish(req, HTTP_IGNORED, MHD_HTTP_ACCEPTED, "{\"result\":\"ignored\"}", 0);
    }

    struct hq_enqueue *e = &req->item.enq;
    e->hook_id = req->hook_id;
    e->delivery = req->delivery;
    e->event = req->event;
    e->action = req->route.action;
    e->repo_id = req->route.repo_id;
    e->repo_name = req->route.repo_name;
    e->installation_id = req->route.installation_id;
    e->payload = payload;
    e->payload_len = plen;
    e->received_at_ms = req->received_at_ms;
    req->item.done = on_commit_done;
    req->stage = STAGE_COMMITTING;

    /* Suspend before submitting: the committer may resume the connection
     * before this function returns, and a resume must follow the suspend. */
    MHD_suspend_connection(req->conn);
    rc = committer_submit(s->o.committer, &req->item);
    if (rc != 0) {
        req->submit_rc = rc;
        MHD_resume_connection(req->conn);
    }
    return MHD_YES;
}

/* The connection was resumed: answer with what became of the delivery. */
static enum MHD_Result answer_commit(struct request *req)
{
    struct hq_log_ctx ctx = req_ctx(req);
    char body[128];
    int rc = req->submit_rc ? req->submit_rc : req->item.enq.result;
    uint64_t id = req->item.enq.id;
    int n;
    switch (rc) {
    case 0:
        n = snprintf(body, sizeof(body), "{\"result\":\"accepted\",\"id\":%" PRIu64 "}", id);
        if (n < 0 || (size_t)n >= sizeof(body))
            return MHD_NO;
        hq_info("receive", &ctx, "accepted id=%" PRIu64, id);
        return finish(req, HTTP_ACCEPTED, MHD_HTTP_ACCEPTED, body, 0);
    case HQ_EDUPLICATE:
        n = snprintf(body, sizeof(body), "{\"result\":\"duplicate\",\"id\":%" PRIu64 "}", id);
        if (n < 0 || (size_t)n >= sizeof(body))
            return MHD_NO;
        hq_info("receive", &ctx, "duplicate of id=%" PRIu64, id);
        return finish(req, HTTP_DUPLICATE, MHD_HTTP_OK, body, 0);
    case HQ_ESHUTDOWN:
        return finish_error(req, HTTP_UNAVAILABLE, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting down",
                            5);
    case HQ_ETOOBIG:
    case -EINVAL:
        return finish_error(req, HTTP_BAD_REQUEST, MHD_HTTP_BAD_REQUEST,
                            "delivery exceeds what the queue stores", 0);
    case HQ_EFULL:
        if (req->submit_rc != 0)
            return finish_error(req, HTTP_UNAVAILABLE, MHD_HTTP_SERVICE_UNAVAILABLE,
                                "too many deliveries waiting for a commit", 1);
        return finish_error(req, HTTP_UNAVAILABLE, MHD_HTTP_SERVICE_UNAVAILABLE,
                            "queue storage is full", 30);
    default:
        hq_error("receive", &ctx, "commit failed: %s", hq_strerror(rc));
        return finish_error(req, HTTP_UNAVAILABLE, MHD_HTTP_SERVICE_UNAVAILABLE,
                            "queue storage error", 5);
    }
}

enum MHD_Result webhook_continue(http_server *s, struct MHD_Connection *conn, struct request *req,
                                 const char *upload, size_t *upload_size)
{
    switch (req->stage) {
    case STAGE_BODY:
        if (*upload_size > 0) {
            size_t n = *upload_size;
            *upload_size = 0;
            /* libmicrohttpd cannot queue an answer in the middle of a body:
             * closing is how a chunked body over the limit is stopped. */
            return append_body(s, req, upload, n) ? MHD_YES : MHD_NO;
        }
        return body_complete(s, req);
    case STAGE_COMMITTING: return answer_commit(req);
    case STAGE_ANSWERED: break;
    }
    *upload_size = 0;
    return MHD_YES;
}

void webhook_free(http_server *s, struct request *req)
{
    atomic_fetch_sub(&s->buffered, req->reserved);
    atomic_fetch_sub(&s->inflight, 1);
    free(req->body);
    free(req->form_payload);
    free(req);
}
