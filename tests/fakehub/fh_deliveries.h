/*
 * fh_deliveries: the App's webhook delivery log of fakehub (hookq's
 * schema/design.md §9), for catch-up's tests and the demo:
 *
 *   GET  /app/hook/deliveries?per_page=N&cursor=C   newest first, paged by Link rel="next"
 *   GET  /app/hook/deliveries/{id}                  with request.headers and request.payload
 *   POST /app/hook/deliveries/{id}/attempts         202: redelivers it now, for real
 *   POST /_fakehub/send                             test control: "GitHub sends a webhook"
 *
 * The log starts with the deliveries of --deliveries FILE (a JSON array of
 * {guid, event, action, status_code, age_s | delivered_at, redelivery,
 * installation_id, repository_id, hook_id, payload}) and grows with every
 * send and redelivery. A send or redelivery really POSTs the payload, signed
 * with the first line of --webhook-secret-file, to --deliver-to
 * (http://host:port/path) with X-GitHub-Event, X-GitHub-Delivery and
 * X-GitHub-Hook-ID, and logs the receiver's status (0 when it could not
 * connect), as GitHub does. /_fakehub/send takes {"event", "payload",
 * optional "guid", "action"} and answers {"id","guid","status_code"}.
 *
 * Threads: every function may run on any thread; one mutex guards the log
 * (never held while a delivery is POSTed).
 */
#ifndef FH_DELIVERIES_H
#define FH_DELIVERIES_H

#include "fh_api.h"

typedef struct fh_deliveries fh_deliveries;

/* Loads the seed file (may be NULL) and the secret (may be NULL): 0, or a
 * code with one line in err naming the flag. */
HQ_WUR int fh_deliveries_open(const struct fh_opts *o, fh_deliveries **out, char *err,
                              size_t errcap);
void fh_deliveries_close(fh_deliveries *d);

/* The routes, called by fh_api once the caller is authorized (App JWT;
 * /_fakehub/send needs none). */
void fh_deliveries_list(struct fh_ctx *ctx, const struct fh_request *rq, struct fh_answer *ans);
void fh_deliveries_get(struct fh_ctx *ctx, uint64_t id, struct fh_answer *ans);
void fh_deliveries_redeliver(struct fh_ctx *ctx, uint64_t id, struct fh_answer *ans);
void fh_deliveries_send(struct fh_ctx *ctx, const struct fh_request *rq, struct fh_answer *ans);

#endif
