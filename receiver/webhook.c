/*
 * webhook: the webhook endpoint of the receiver, one struct request per
 * delivery; see webhook.h for the order of checks.
 *
 * Life of a request: webhook_begin (headers) → webhook_continue with body
 * data → webhook_continue at the end of the body (verify, route, submit to
 * the committer, suspend) → on_commit_done on the committer thread (resume)
 * → webhook_continue again (answer) → webhook_done from the server's
 * completion callback. Between submit and resume only the committer touches
 * req->item; the connection's own thread touches nothing.
 *
 * Memory: a body is buffered whole (the signature covers all of it) in a
 * dynbuf capped by HOOKQ_MAX_BODY (or by its Content-Length, which it cannot
 * outgrow), and bounded across requests by HOOKQ_MAX_BUFFERED: what the
 * buffer is about to allocate is charged to w->buffered before it grows.
 */
#include "webhook.h"
#include "clock.h"
#include "dynbuf.h"
#include "httpd.h"
#include "ingest.h"
#include "log.h"
#include "signature.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The first allocation for a body of unknown length (chunked). */
#define CHUNKED_START (16 * 1024)

/* The `result` label of hookq_deliveries_total. */
enum webhook_result {
    WEBHOOK_ACCEPTED,
    WEBHOOK_DUPLICATE,
    WEBHOOK_IGNORED,
    WEBHOOK_PONG,
    WEBHOOK_UNAUTHORIZED,
    WEBHOOK_BAD_REQUEST,
    WEBHOOK_TOO_LARGE,
    WEBHOOK_UNAVAILABLE,
    WEBHOOK_RESULT_COUNT
};

static const char *const result_names[WEBHOOK_RESULT_COUNT] = {
    "accepted",     "duplicate",   "ignored",   "pong",
    "unauthorized", "bad_request", "too_large", "unavailable",
};

/* Shared by every connection thread: buffered is atomic, the rest is written
 * by webhook_create only. */
struct webhook {
    struct webhook_opts o;
    atomic_size_t buffered; /* body bytes charged by requests in progress */
    hq_series *m_results[WEBHOOK_RESULT_COUNT];
};

enum stage {
    STAGE_BODY,       /* reading the body */
    STAGE_COMMITTING, /* suspended, waiting for the committer */
    STAGE_ANSWERED,
};

struct request {
    webhook *w;
    struct MHD_Connection *conn;
    enum stage stage;
    char event[HQ_MAX_EVENT_LEN + 1];
    char delivery[HQ_MAX_DELIVERY_LEN + 1];
    uint64_t hook_id;
    enum ingest_ctype ctype;
    uint8_t digest[HQ_SIGNATURE_DIGEST_LEN];
    int64_t received_at_ms;
    int64_t start_ms; /* monotonic, for duration_ms */
    struct hq_dynbuf body;
    size_t reserved;    /* bytes charged to w->buffered */
    char *form_payload; /* decoded "payload" field of a form body */
    int submit_rc;      /* committer_submit's refusal, 0 when submitted */
    struct ingest_route route;
    struct committer_item item;
};

static void count(webhook *w, enum webhook_result r)
{
    hq_series_add(w->m_results[r], 1);
}

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

/*
 * Makes room in req's body for n more bytes, charging the process-wide
 * budget with what the buffer will allocate before it grows. 0; HQ_ETOOBIG
 * past the body's cap; HQ_EFULL when the budget is spent; -ENOMEM. The
 * buffer is as it was after a failure; what was charged stays charged until
 * webhook_done.
 */
static int body_grow(webhook *w, struct request *req, size_t n)
{
    size_t ncap = hq_dynbuf_cap_for(&req->body, n);
    if (ncap == 0)
        return HQ_ETOOBIG;
    /* The NUL is charged no more than it counts against the cap: a body of
     * HOOKQ_MAX_BODY fits a budget of HOOKQ_MAX_BUFFERED = HOOKQ_MAX_BODY. */
    size_t more = ncap - (req->body.cap > 0 ? req->body.cap : 1);
    if (more > 0) {
        size_t prev = atomic_fetch_add(&w->buffered, more);
        if (prev + more > w->o.cfg->max_buffered) {
            atomic_fetch_sub(&w->buffered, more);
            return HQ_EFULL;
        }
        req->reserved += more;
    }
    return hq_dynbuf_reserve(&req->body, n);
}

/* The request is over (answered or the connection gone): free it. */
static void webhook_done(void *arg, void *state)
{
    webhook *w = arg;
    struct request *req = state;
    atomic_fetch_sub(&w->buffered, req->reserved);
    hq_dynbuf_free(&req->body);
    free(req->form_payload);
    free(req);
}

/* A refusal given from the headers alone: counted, logged, and the
 * connection closed since the body stays unread. */
static enum MHD_Result refuse_early(webhook *w, struct MHD_Connection *conn,
                                    enum webhook_result res, unsigned status, const char *error,
                                    const char *event, const char *delivery, int retry_after)
{
    struct hq_log_ctx ctx = HQ_LOG_CTX_INIT;
    ctx.event = event;
    ctx.delivery = delivery;
    count(w, res);
    hq_warn("receive", &ctx, "refused %u: %s", status, error);
    return hq_httpd_answer_error(conn, status, error, retry_after, true);
}

/* The headers of a webhook POST arrived: check them and either answer now
 * or hang a new struct request on *out. */
static enum MHD_Result webhook_begin(void *arg, struct MHD_Connection *conn, bool stopping,
                                     void **out)
{
    webhook *w = arg;
    const struct receiver_config *cfg = w->o.cfg;
    const char *event = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-GitHub-Event");
    const char *delivery = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-GitHub-Delivery");
    const char *hook = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-GitHub-Hook-ID");
    const char *ctype = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    const char *sig = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Hub-Signature-256");
    const char *clen = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    const char *te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Transfer-Encoding");

    /* Only well-formed header values reach a log line. */
    const char *ev_ok = ingest_event_name(event) == 0 ? event : NULL;
    const char *dl_ok = ingest_delivery_id(delivery) == 0 ? delivery : NULL;

    if (stopping)
        return refuse_early(w, conn, WEBHOOK_UNAVAILABLE, MHD_HTTP_SERVICE_UNAVAILABLE,
                            "shutting down", ev_ok, dl_ok, 5);
    if (ev_ok == NULL)
        return refuse_early(w, conn, WEBHOOK_BAD_REQUEST, MHD_HTTP_BAD_REQUEST,
                            "missing or malformed X-GitHub-Event header", NULL, dl_ok, 0);
    if (dl_ok == NULL)
        return refuse_early(w, conn, WEBHOOK_BAD_REQUEST, MHD_HTTP_BAD_REQUEST,
                            "missing or malformed X-GitHub-Delivery header", ev_ok, NULL, 0);
    uint64_t hook_id;
    if (ingest_hook_id(hook, &hook_id) != 0)
        return refuse_early(w, conn, WEBHOOK_BAD_REQUEST, MHD_HTTP_BAD_REQUEST,
                            "malformed X-GitHub-Hook-ID header", ev_ok, dl_ok, 0);
    enum ingest_ctype ct;
    if (ingest_content_type(ctype, &ct) != 0)
        return refuse_early(w, conn, WEBHOOK_BAD_REQUEST, MHD_HTTP_BAD_REQUEST,
                            "content type must be application/json or "
                            "application/x-www-form-urlencoded",
                            ev_ok, dl_ok, 0);
    uint8_t digest[HQ_SIGNATURE_DIGEST_LEN];
    if (hq_signature_parse(sig, digest) != 0)
        return refuse_early(w, conn, WEBHOOK_UNAUTHORIZED, MHD_HTTP_UNAUTHORIZED,
                            "missing or malformed X-Hub-Signature-256 header", ev_ok, dl_ok, 0);
    uint64_t length = 0;
    bool known = clen != NULL;
    if (known && ingest_content_length(clen, &length) != 0)
        return refuse_early(w, conn, WEBHOOK_BAD_REQUEST, MHD_HTTP_BAD_REQUEST,
                            "malformed Content-Length header", ev_ok, dl_ok, 0);
    if (length > cfg->max_body)
        return refuse_early(w, conn, WEBHOOK_TOO_LARGE, MHD_HTTP_CONTENT_TOO_LARGE,
                            "body over the size limit (HOOKQ_MAX_BODY)", ev_ok, dl_ok, 0);

    struct request *req = calloc(1, sizeof(*req));
    if (req == NULL)
        return MHD_NO;
    req->w = w;
    req->conn = conn;
    req->stage = STAGE_BODY;
    memcpy(req->event, event, strlen(event) + 1);
    memcpy(req->delivery, delivery, strlen(delivery) + 1);
    req->hook_id = hook_id;
    req->ctype = ct;
    memcpy(req->digest, digest, sizeof(digest));
    req->received_at_ms = hq_now_ms();
    req->start_ms = hq_mono_ms();
    /* A Content-Length is the body's exact size unless a Transfer-Encoding
     * overrides it (RFC 9112 §6.3, as libmicrohttpd reads it): then it is
     * this body's cap, so the buffer is allocated (and charged) once,
     * exactly. Any other body starts small and doubles up to HOOKQ_MAX_BODY. */
    bool sized = known && te == NULL;
    hq_dynbuf_init(&req->body, sized ? (size_t)length : (size_t)cfg->max_body);
    size_t want = sized ? (size_t)length : CHUNKED_START - 1; /* its NUL makes it round */
    int rc = want > 0 ? body_grow(w, req, want) : 0;
    if (rc != 0) {
        webhook_done(w, req);
        if (rc != HQ_EFULL)
            return MHD_NO;
        return refuse_early(w, conn, WEBHOOK_UNAVAILABLE, MHD_HTTP_SERVICE_UNAVAILABLE,
                            "too many request bodies in memory", ev_ok, dl_ok, 1);
    }
    *out = req;
    return MHD_YES;
}

/* Appends body data; false when the body cannot be taken (limit, memory). */
static bool append_body(webhook *w, struct request *req, const char *data, size_t n)
{
    int rc = body_grow(w, req, n);
    if (rc == HQ_ETOOBIG) {
        struct hq_log_ctx ctx = req_ctx(req);
        count(w, WEBHOOK_TOO_LARGE);
        hq_warn("receive", &ctx, "refused 413: body over the size limit (HOOKQ_MAX_BODY)");
        return false;
    }
    if (rc == HQ_EFULL) {
        struct hq_log_ctx ctx = req_ctx(req);
        count(w, WEBHOOK_UNAVAILABLE);
        hq_warn("receive", &ctx, "refused: too many request bodies in memory");
        return false;
    }
    /* With the room made, the add cannot fail. */
    return rc == 0 && hq_dynbuf_add(&req->body, data, n) == 0;
}

/* Answers a request whose body was read; counted and logged. */
static enum MHD_Result finish(struct request *req, enum webhook_result res, unsigned status,
                              const char *json, int retry_after)
{
    count(req->w, res);
    req->stage = STAGE_ANSWERED;
    return hq_httpd_answer_json(req->conn, status, json, retry_after, false);
}

static enum MHD_Result finish_error(struct request *req, enum webhook_result res, unsigned status,
                                    const char *error, int retry_after)
{
    struct hq_log_ctx ctx = req_ctx(req);
    char body[256];
    if (hq_snprintf(body, sizeof(body), "{\"error\":\"%s\"}", error) != 0)
        return MHD_NO;
    if (res == WEBHOOK_UNAVAILABLE)
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
static enum MHD_Result body_complete(webhook *w, struct request *req)
{
    const struct receiver_config *cfg = w->o.cfg;
    struct hq_log_ctx ctx = req_ctx(req);
    const char *body = hq_dynbuf_str(&req->body);
    size_t len = hq_dynbuf_len(&req->body);
    int rc = hq_signature_verify(cfg->keys, req->digest, body, len);
    if (rc == HQ_ESIGNATURE)
        return finish_error(req, WEBHOOK_UNAUTHORIZED, MHD_HTTP_UNAUTHORIZED,
                            "signature does not match any configured secret", 0);
    if (rc != 0)
        return finish_error(req, WEBHOOK_UNAVAILABLE, MHD_HTTP_SERVICE_UNAVAILABLE,
                            "cannot verify the signature now", 5);

    if (strcmp(req->event, "ping") == 0) {
        hq_info("receive", &ctx, "pong");
        return finish(req, WEBHOOK_PONG, MHD_HTTP_OK, "{\"result\":\"pong\"}", 0);
    }
    if (!ingest_events_match(cfg->events, cfg->all_events, req->event)) {
        hq_info("receive", &ctx, "ignored: event not accepted (HOOKQ_EVENTS)");
        return finish(req, WEBHOOK_IGNORED, MHD_HTTP_ACCEPTED, "{\"result\":\"ignored\"}", 0);
    }

    const char *payload = body;
    size_t plen = len;
    if (req->ctype == INGEST_CTYPE_FORM) {
        rc = ingest_form_payload(body, len, &req->form_payload, &plen);
        if (rc == -ENOMEM)
            return finish_error(req, WEBHOOK_UNAVAILABLE, MHD_HTTP_SERVICE_UNAVAILABLE,
                                "out of memory", 5);
        if (rc != 0)
            return finish_error(req, WEBHOOK_BAD_REQUEST, MHD_HTTP_BAD_REQUEST,
                                "form body needs exactly one well-formed payload field", 0);
        payload = req->form_payload;
    }
    const char *why = NULL;
    rc = ingest_route(payload, plen, &req->route, &why);
    if (rc == -ENOMEM)
        return finish_error(req, WEBHOOK_UNAVAILABLE, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory",
                            5);
    if (rc != 0)
        return finish_error(req, WEBHOOK_BAD_REQUEST, MHD_HTTP_BAD_REQUEST,
                            why ? why : "malformed payload", 0);
    if (!req->route.has_repository) {
        hq_info("receive", &ctx, "ignored: no repository in the payload");
        return finish(req, WEBHOOK_IGNORED, MHD_HTTP_ACCEPTED, "{\"result\":\"ignored\"}", 0);
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
    rc = committer_submit(w->o.committer, &req->item);
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
        return finish(req, WEBHOOK_ACCEPTED, MHD_HTTP_ACCEPTED, body, 0);
    case HQ_EDUPLICATE:
        n = snprintf(body, sizeof(body), "{\"result\":\"duplicate\",\"id\":%" PRIu64 "}", id);
        if (n < 0 || (size_t)n >= sizeof(body))
            return MHD_NO;
        hq_info("receive", &ctx, "duplicate of id=%" PRIu64, id);
        return finish(req, WEBHOOK_DUPLICATE, MHD_HTTP_OK, body, 0);
    case HQ_ESHUTDOWN:
        return finish_error(req, WEBHOOK_UNAVAILABLE, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting down",
                            5);
    case HQ_ETOOBIG:
    case -EINVAL:
        return finish_error(req, WEBHOOK_BAD_REQUEST, MHD_HTTP_BAD_REQUEST,
                            "delivery exceeds what the queue stores", 0);
    case HQ_EFULL:
        if (req->submit_rc != 0)
            return finish_error(req, WEBHOOK_UNAVAILABLE, MHD_HTTP_SERVICE_UNAVAILABLE,
                                "too many deliveries waiting for a commit", 1);
        return finish_error(req, WEBHOOK_UNAVAILABLE, MHD_HTTP_SERVICE_UNAVAILABLE,
                            "queue storage is full", 30);
    default:
        hq_error("receive", &ctx, "commit failed: %s", hq_strerror(rc));
        return finish_error(req, WEBHOOK_UNAVAILABLE, MHD_HTTP_SERVICE_UNAVAILABLE,
                            "queue storage error", 5);
    }
}

/* Later calls for the same request: body data, end of body, resumption. */
static enum MHD_Result webhook_continue(void *arg, struct MHD_Connection *conn, void *state,
                                        const char *upload, size_t *upload_size)
{
    webhook *w = arg;
    struct request *req = state;
    switch (req->stage) {
    case STAGE_BODY:
        if (*upload_size > 0) {
            size_t n = *upload_size;
            *upload_size = 0;
            /* libmicrohttpd cannot queue an answer in the middle of a body:
             * closing is how a chunked body over the limit is stopped. */
            return append_body(w, req, upload, n) ? MHD_YES : MHD_NO;
        }
        return body_complete(w, req);
    case STAGE_COMMITTING: return answer_commit(req);
    case STAGE_ANSWERED: break;
    }
    *upload_size = 0;
    return MHD_YES;
}

struct http_route webhook_route(webhook *w)
{
    struct http_route r = {
        .path = w->o.cfg->webhook_path,
        .methods = "POST",
        .begin = webhook_begin,
        .cont = webhook_continue,
        .done = webhook_done,
        .arg = w,
    };
    return r;
}

int webhook_create(const struct webhook_opts *o, webhook **out)
{
    int rc = 0;
    *out = NULL;
    webhook *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return -ENOMEM;
    w->o = *o;
    atomic_init(&w->buffered, 0);
    rc = hq_metrics_declare(o->metrics, "hookq_deliveries_total", HQ_COUNTER,
                            "Webhook deliveries by the receiver's answer.", NULL, 0);
    if (rc != 0)
        goto out;
    for (int i = 0; i < WEBHOOK_RESULT_COUNT; i++) {
        char labels[64];
        rc = hq_snprintf(labels, sizeof(labels), "result=\"%s\"", result_names[i]);
        if (rc != 0)
            goto out;
        w->m_results[i] = hq_metrics_series(o->metrics, "hookq_deliveries_total", labels);
        if (w->m_results[i] == NULL) {
            rc = -ENOMEM;
            goto out;
        }
    }
    *out = w;
    w = NULL;
out:
    free(w);
    return rc;
}

void webhook_destroy(webhook *w)
{
    free(w);
}
