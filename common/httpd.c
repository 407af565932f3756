/* httpd: responses of both services' HTTP endpoints; see httpd.h. */
#include "httpd.h"
#include "dynbuf.h"

#include <stdlib.h>
#include <string.h>

/* {"error":"..."} of the longest static error text, with room to spare. */
#define ERROR_BODY_MAX 256

static bool add_headers(struct MHD_Response *resp, const struct hq_httpd_reply *r)
{
    if (r->type != NULL && MHD_add_response_header(resp, "Content-Type", r->type) != MHD_YES)
        return false;
    if (r->retry_after_s > 0) {
        char ra[16];
        if (hq_snprintf(ra, sizeof(ra), "%d", r->retry_after_s) != 0 ||
            MHD_add_response_header(resp, "Retry-After", ra) != MHD_YES)
            return false;
    }
    if (r->allow != NULL && MHD_add_response_header(resp, "Allow", r->allow) != MHD_YES)
        return false;
    if (r->close && MHD_add_response_header(resp, "Connection", "close") != MHD_YES)
        return false;
    return true;
}

enum MHD_Result hq_httpd_answer(struct MHD_Connection *conn, const struct hq_httpd_reply *r,
                                const char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
    /* libmicrohttpd takes a non-const pointer; it writes to none of them. */
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)body, mode);
    if (resp == NULL) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free((void *)body);
        return MHD_NO;
    }
    enum MHD_Result res = MHD_NO;
    if (add_headers(resp, r))
        res = MHD_queue_response(conn, r->status, resp);
    MHD_destroy_response(resp);
    return res;
}

enum MHD_Result hq_httpd_answer_json(struct MHD_Connection *conn, unsigned status, const char *json,
                                     int retry_after_s, bool close)
{
    struct hq_httpd_reply r = {.status = status,
                               .type = "application/json",
                               .retry_after_s = retry_after_s,
                               .close = close};
    return hq_httpd_answer(conn, &r, json, strlen(json), MHD_RESPMEM_MUST_COPY);
}

enum MHD_Result hq_httpd_answer_error(struct MHD_Connection *conn, unsigned status,
                                      const char *error, int retry_after_s, bool close)
{
    char body[ERROR_BODY_MAX];
    if (hq_snprintf(body, sizeof(body), "{\"error\":\"%s\"}", error) != 0)
        return hq_httpd_answer_json(conn, status, "{\"error\":\"internal error\"}", retry_after_s,
                                    close);
    return hq_httpd_answer_json(conn, status, body, retry_after_s, close);
}
