/*
 * github_http: the GitHub client's HTTP transport (libcurl). It owns a pool
 * of curl easy handles, the CURLSH that shares the DNS cache and TLS
 * sessions between them, the building of one request (GitHub's fixed
 * headers, the bearer credential, timeouts, redirects, protocols) and the
 * capture of its answer: the status, a bounded body and the few headers the
 * retry policy reads. It knows nothing of routes, tokens or classification;
 * github.c does (github.h is the client's contract).
 *
 * Threads: hq_github_http_create and hq_github_http_destroy run while no
 * other thread uses the transport (create calls curl_global_init, destroy
 * curl_global_cleanup, neither of which is thread-safe). hq_github_http_perform
 * may be called from any number of threads at once: at most max_in_flight
 * requests are on the wire, and further callers block until a handle is free.
 * The handles keep their connections open between requests.
 *
 * Secrets: the credential is copied into one header for the time of the
 * request and wiped before that copy is freed; it is never logged.
 */
#ifndef HQ_GITHUB_HTTP_H
#define HQ_GITHUB_HTTP_H

#include "dynbuf.h"
#include "hq_error.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct hq_github_http hq_github_http;

#define HQ_GITHUB_HTTP_USER_AGENT_MAX 128  /* with its NUL */
#define HQ_GITHUB_HTTP_HEADER_MAX     64   /* retry-after and x-ratelimit-* values kept */
#define HQ_GITHUB_HTTP_ERROR_MAX      256  /* curl's message; at least CURL_ERROR_SIZE */
#define HQ_GITHUB_HTTP_LINK_MAX       4096 /* the Link header that pages a list */

struct hq_github_http_opts {
    const char *user_agent; /* not NULL, shorter than HQ_GITHUB_HTTP_USER_AGENT_MAX */
    long connect_timeout_ms;
    long total_timeout_ms;
    size_t body_max;        /* an answer over this many bytes is a transport error */
    unsigned max_in_flight; /* handles in the pool, >= 1 */
};

/*
 * One answer, as much of it as the retry policy needs. Zero it before its
 * first use; hq_github_http_perform resets it (freeing the last body), so one
 * response may serve several requests in turn. The caller owns it and frees
 * the body with hq_github_http_response_reset.
 */
struct hq_github_http_response {
    bool sent;           /* the request went to curl: it counts as sent */
    long status;         /* 0: no answer */
    int transport_error; /* 0 or HQ_ETIMEOUT / HQ_EHTTP / HQ_ETOOBIG */
    char curl_msg[HQ_GITHUB_HTTP_ERROR_MAX];
    struct hq_dynbuf body; /* capped at body_max; read with hq_dynbuf_str/len */
    bool overflow;         /* the body was over body_max: the transfer was cut */
    /* the values of the last response's headers (after redirects), or "" when
     * absent or longer than HQ_GITHUB_HTTP_HEADER_MAX - 1 */
    char retry_after[HQ_GITHUB_HTTP_HEADER_MAX];
    char rl_remaining[HQ_GITHUB_HTTP_HEADER_MAX];
    char rl_reset[HQ_GITHUB_HTTP_HEADER_MAX];
    char link[HQ_GITHUB_HTTP_LINK_MAX]; /* Link, same rule with its own cap */
};

/*
 * Initialises libcurl and the shared DNS/TLS cache; handles are created as
 * they are first needed. Returns 0 and *out, -ENOMEM, HQ_ECONFIG when the
 * user agent is too long, or HQ_EHTTP when libcurl cannot be initialised.
 * Nothing is left allocated (and libcurl not initialised) on failure.
 */
HQ_WUR int hq_github_http_create(const struct hq_github_http_opts *o, hq_github_http **out);

/* Closes every handle and its connections; no request may be in progress.
 * NULL is ok. */
void hq_github_http_destroy(hq_github_http *h);

/*
 * Sends one request to url and waits for the answer: body NULL makes a GET,
 * else a POST of that JSON. credential is the JWT or token, sent as
 * "Authorization: Bearer ...". Redirects (at most 3, http and https only)
 * are followed.
 *
 * Returns 0 with *r filled: an HTTP answer in r->status, or a failure to get
 * one in r->transport_error (and r->curl_msg), r->sent saying whether the
 * request reached curl at all. Returns -ENOMEM (or -EINVAL) when the request
 * could not be built; *r is then reset, with no body.
 */
HQ_WUR int hq_github_http_perform(hq_github_http *h, const char *url, const char *credential,
                                  const char *body, struct hq_github_http_response *r);

/* On a connection of its own, never a kept one: libcurl sends a request
 * again by itself when a reused connection dies before any answer, which
 * would repeat a create whose first copy GitHub stored (a lost answer). */
#define HQ_GITHUB_HTTP_FRESH 1u

/* The same with another method than GET/POST: method "PATCH" (say) with
 * body; NULL is hq_github_http_perform's choice. flags: HQ_GITHUB_HTTP_*. */
HQ_WUR int hq_github_http_perform_method(hq_github_http *h, const char *method, unsigned flags,
                                         const char *url, const char *credential, const char *body,
                                         struct hq_github_http_response *r);

/*
 * Takes one header line of an answer as libcurl hands it over (n bytes, not
 * NUL-terminated, with its CRLF): keeps the trimmed value of retry-after,
 * x-ratelimit-remaining, x-ratelimit-reset or link (names in any case) in r,
 * and forgets them all on a status line ("HTTP/..."), where the answer after a
 * redirect begins. Other lines are ignored. hq_github_http_perform feeds
 * every line through it; hq_retry_classify parses the values kept.
 */
void hq_github_http_header_line(struct hq_github_http_response *r, const char *line, size_t n);

/* Frees r's body and zeroes r; r may be reused afterwards. */
void hq_github_http_response_reset(struct hq_github_http_response *r);

#endif
