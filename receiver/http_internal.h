/*
 * http_internal: what http.c (the server) and webhook.c (the webhook
 * endpoint) share. Not for other modules: they use http.h.
 */
#ifndef HQ_HTTP_INTERNAL_H
#define HQ_HTTP_INTERNAL_H

#include "http.h"

#include <microhttpd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* The `result` label of hookq_deliveries_total. */
enum http_result {
    HTTP_ACCEPTED,
    HTTP_DUPLICATE,
    HTTP_IGNORED,
    HTTP_PONG,
    HTTP_UNAUTHORIZED,
    HTTP_BAD_REQUEST,
    HTTP_TOO_LARGE,
    HTTP_UNAVAILABLE,
    HTTP_RESULT_COUNT
};

struct http_server {
    struct http_server_opts o;
    struct MHD_Daemon *daemon;
    atomic_bool stopping;  /* quiesced: new requests get 503 */
    atomic_long inflight;  /* webhook requests between begin and completion */
    atomic_ulong buffered; /* body bytes reserved by requests in progress */

    hq_series *m_results[HTTP_RESULT_COUNT];
};

struct request;

/* Queues a JSON answer (copied). retry_after_s > 0 adds Retry-After; close
 * adds "Connection: close" (for answers given before the body was read). */
int http_answer(struct MHD_Connection *conn, unsigned status, const char *json, int retry_after_s,
                bool close);
/* Queues {"error":"<error>"}; error must need no JSON escaping. */
int http_answer_error(struct MHD_Connection *conn, unsigned status, const char *error,
                      int retry_after_s, bool close);
void http_count(http_server *s, enum http_result r);

/* The headers of a webhook POST arrived: check them and either answer now or
 * hang a new struct request on *con_cls. */
enum MHD_Result webhook_begin(http_server *s, struct MHD_Connection *conn, void **con_cls);

/* Later calls for the same request: body data, end of body, resumption. */
enum MHD_Result webhook_continue(http_server *s, struct MHD_Connection *conn, struct request *req,
                                 const char *upload, size_t *upload_size);

/* The request is over (answered or the connection gone): free it. */
void webhook_free(http_server *s, struct request *req);

#endif
