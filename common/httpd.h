/*
 * httpd: how both services answer on libmicrohttpd — the receiver's webhook,
 * /healthz and /metrics, the worker's /metrics and /healthz. One function
 * builds every response, so each header (Content-Type, Retry-After, Allow,
 * Connection: close) is added in one place and a failure to add one is never
 * sent as a half-built answer.
 *
 * A library of its own (hookq_httpd): hookqctl links common/ and no
 * libmicrohttpd. Threads: any libmicrohttpd thread may call these for its
 * own connection.
 */
#ifndef HQ_HTTPD_H
#define HQ_HTTPD_H

#include "hq_error.h"

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

/* The status and headers of an answer. */
struct hq_httpd_reply {
    unsigned status;
    const char *type;  /* Content-Type, or NULL for none */
    const char *allow; /* Allow (with a 405), or NULL */
    int retry_after_s; /* > 0 adds Retry-After */
    bool close;        /* adds "Connection: close": for answers given before
                          the body was read, which stays unread */
};

/*
 * Queues body[0..len) with the headers of r. mode is libmicrohttpd's:
 * MHD_RESPMEM_PERSISTENT for text that outlives the connection,
 * MHD_RESPMEM_MUST_COPY, or MHD_RESPMEM_MUST_FREE, which hands body over
 * (it is freed whatever happens). MHD_YES once queued; MHD_NO closes the
 * connection.
 */
HQ_WUR enum MHD_Result hq_httpd_answer(struct MHD_Connection *conn, const struct hq_httpd_reply *r,
                                       const char *body, size_t len,
                                       enum MHD_ResponseMemoryMode mode);

/* Queues a JSON text (copied) as application/json. */
HQ_WUR enum MHD_Result hq_httpd_answer_json(struct MHD_Connection *conn, unsigned status,
                                            const char *json, int retry_after_s, bool close);

/* Queues {"error":"<error>"} as application/json; error must need no JSON
 * escaping (the callers pass static texts). */
HQ_WUR enum MHD_Result hq_httpd_answer_error(struct MHD_Connection *conn, unsigned status,
                                             const char *error, int retry_after_s, bool close);

#endif
