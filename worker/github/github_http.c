/*
 * github_http: the libcurl transport of the GitHub client; see github_http.h
 * for the contract.
 *
 * DESIGN. A request takes a curl easy handle from a pool of at most
 * max_in_flight handles (taking one is the in-flight slot; a caller waits on
 * pool_cond when all are out) and gives it back after the answer. Each handle
 * keeps its connections open between requests, so a busy worker reuses them;
 * the DNS cache and TLS sessions are shared by all handles through one CURLSH
 * whose locks (share_locks, one per kind of shared data) libcurl takes inside
 * curl_easy_perform.
 *
 * Locks: pool_lock protects free_list and created; it is not held while any
 * other lock is taken or while a request is on the wire. share_locks are
 * taken by libcurl only, one at a time.
 */
#include "github_http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

_Static_assert(HQ_GITHUB_HTTP_ERROR_MAX >= CURL_ERROR_SIZE,
               "curl_msg is curl's CURLOPT_ERRORBUFFER");

struct easy {
    struct easy *next;
    CURL *curl;
};

struct hq_github_http {
    char user_agent[HQ_GITHUB_HTTP_USER_AGENT_MAX];
    long connect_ms, total_ms;
    size_t body_max;

    CURLSH *share;
    pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
    bool curl_inited;

    pthread_mutex_t pool_lock; /* protects free_list, created */
    pthread_cond_t pool_cond;
    struct easy *free_list;
    unsigned created, max_in_flight;
};

static void share_lock(CURL *c, curl_lock_data data, curl_lock_access access, void *arg)
{
    hq_github_http *h = arg;
    (void)c, (void)access;
    pthread_mutex_lock(&h->share_locks[data]);
}

static void share_unlock(CURL *c, curl_lock_data data, void *arg)
{
    hq_github_http *h = arg;
    (void)c;
    pthread_mutex_unlock(&h->share_locks[data]);
}

/* An answer over body_max, or one we cannot hold, aborts the transfer:
 * returning less than was handed over is CURLE_WRITE_ERROR. */
static size_t on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct hq_github_http_response *r = arg;
    size_t n = size * nmemb;
    int rc = hq_dynbuf_add(&r->body, ptr, n);
    if (rc == HQ_ETOOBIG)
        r->overflow = true;
    return rc == 0 ? n : 0;
}

/* Keeps a header's value (trimmed) if it fits; a longer one is no valid value. */
static void keep_header(const char *line, size_t n, size_t namelen, char *dst, size_t cap)
{
    const char *v = line + namelen;
    size_t len = n - namelen;
    while (len > 0 && (*v == ' ' || *v == '\t'))
        v++, len--;
    while (len > 0 && isspace((unsigned char)v[len - 1]))
        len--;
    if (len < cap) {
        memcpy(dst, v, len);
        dst[len] = '\0';
    }
}

void hq_github_http_header_line(struct hq_github_http_response *r, const char *line, size_t n)
{
    if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        /* a new response (after a redirect): forget the headers of the last one */
        r->retry_after[0] = r->rl_remaining[0] = r->rl_reset[0] = r->link[0] = '\0';
    } else if (n > 12 && strncasecmp(line, "retry-after:", 12) == 0) {
        keep_header(line, n, 12, r->retry_after, sizeof(r->retry_after));
    } else if (n > 22 && strncasecmp(line, "x-ratelimit-remaining:", 22) == 0) {
        keep_header(line, n, 22, r->rl_remaining, sizeof(r->rl_remaining));
    } else if (n > 18 && strncasecmp(line, "x-ratelimit-reset:", 18) == 0) {
        keep_header(line, n, 18, r->rl_reset, sizeof(r->rl_reset));
    } else if (n > 5 && strncasecmp(line, "link:", 5) == 0) {
        keep_header(line, n, 5, r->link, sizeof(r->link));
    }
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *arg)
{
    size_t n = size * nmemb;
    hq_github_http_header_line(arg, line, n);
    return n;
}

void hq_github_http_response_reset(struct hq_github_http_response *r)
{
    hq_dynbuf_free(&r->body);
    memset(r, 0, sizeof(*r));
}

static int pool_take(hq_github_http *h, struct easy **out)
{
    struct easy *e = NULL;
    pthread_mutex_lock(&h->pool_lock);
    while (h->free_list == NULL && h->created >= h->max_in_flight)
        pthread_cond_wait(&h->pool_cond, &h->pool_lock);
    if (h->free_list != NULL) {
        e = h->free_list;
        h->free_list = e->next;
    } else {
        h->created++;
    }
    pthread_mutex_unlock(&h->pool_lock);
    if (e == NULL) {
        e = calloc(1, sizeof(*e));
        if (e != NULL && (e->curl = curl_easy_init()) == NULL) {
            free(e);
            e = NULL;
        }
        if (e == NULL) {
            pthread_mutex_lock(&h->pool_lock);
            h->created--;
            pthread_cond_signal(&h->pool_cond);
            pthread_mutex_unlock(&h->pool_lock);
            return -ENOMEM;
        }
    }
    *out = e;
    return 0;
}

static void pool_give(hq_github_http *h, struct easy *e)
{
    pthread_mutex_lock(&h->pool_lock);
    e->next = h->free_list;
    h->free_list = e;
    pthread_cond_signal(&h->pool_cond);
    pthread_mutex_unlock(&h->pool_lock);
}

/* Copies a message, cut to fit (a cut message still says what failed). */
static void copy_msg(char *dst, size_t cap, const char *src)
{
    int n = snprintf(dst, cap, "%s", src);
    if (n < 0)
        dst[0] = '\0';
}

#define SETOPT(c, opt, val)                                                                        \
    do {                                                                                           \
        if (curl_easy_setopt(c, opt, val) != CURLE_OK) {                                           \
            r->transport_error = HQ_EHTTP;                                                         \
            copy_msg(r->curl_msg, sizeof(r->curl_msg), "curl refused option " #opt);               \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

int hq_github_http_perform(hq_github_http *h, const char *url, const char *credential,
                           const char *body, struct hq_github_http_response *r)
{
    return hq_github_http_perform_method(h, NULL, 0, url, credential, body, r);
}

int hq_github_http_perform_method(hq_github_http *h, const char *method, unsigned flags,
                                  const char *url, const char *credential, const char *body,
                                  struct hq_github_http_response *r)
{
    struct easy *e = NULL;
    struct curl_slist *hdrs = NULL, *l;
    char *auth = NULL;
    int rc;

    hq_github_http_response_reset(r);
    hq_dynbuf_init(&r->body, h->body_max);
    size_t alen = strlen("Authorization: Bearer ") + strlen(credential) + 1;
    auth = malloc(alen);
    if (auth == NULL)
        return -ENOMEM;
    int n = snprintf(auth, alen, "Authorization: Bearer %s", credential);
    if (n < 0 || (size_t)n >= alen) {
        rc = -EINVAL;
        goto out;
    }
    static const char *const fixed[] = {"Accept: application/vnd.github+json",
                                        "X-GitHub-Api-Version: 2022-11-28",
                                        "Content-Type: application/json", "Expect:"};
    rc = -ENOMEM;
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        if ((l = curl_slist_append(hdrs, fixed[i])) == NULL)
            goto out;
        hdrs = l;
    }
    if ((l = curl_slist_append(hdrs, auth)) == NULL)
        goto out;
    hdrs = l;
    rc = pool_take(h, &e);
    if (rc < 0)
        goto out;
    rc = 0;
    CURL *c = e->curl;
    curl_easy_reset(c); /* keeps the handle's open connections */
    SETOPT(c, CURLOPT_URL, url);
    SETOPT(c, CURLOPT_SHARE, h->share);
    SETOPT(c, CURLOPT_NOSIGNAL, 1L);
    SETOPT(c, CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SETOPT(c, CURLOPT_FOLLOWLOCATION, 1L); /* a renamed repository answers 301/307 */
    SETOPT(c, CURLOPT_MAXREDIRS, 3L);
    SETOPT(c, CURLOPT_POSTREDIR, (long)CURL_REDIR_POST_ALL);
    SETOPT(c, CURLOPT_SSL_VERIFYPEER, 1L);
    SETOPT(c, CURLOPT_SSL_VERIFYHOST, 2L);
    SETOPT(c, CURLOPT_CONNECTTIMEOUT_MS, h->connect_ms);
    SETOPT(c, CURLOPT_TIMEOUT_MS, h->total_ms);
    SETOPT(c, CURLOPT_TCP_KEEPALIVE, 1L);
    SETOPT(c, CURLOPT_USERAGENT, h->user_agent);
    SETOPT(c, CURLOPT_HTTPHEADER, hdrs);
    SETOPT(c, CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(c, CURLOPT_WRITEDATA, r);
    SETOPT(c, CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(c, CURLOPT_HEADERDATA, r);
    SETOPT(c, CURLOPT_ERRORBUFFER, r->curl_msg);
    if (body != NULL) {
        SETOPT(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
        SETOPT(c, CURLOPT_POSTFIELDS, body);
    } else {
        SETOPT(c, CURLOPT_HTTPGET, 1L);
    }
    if (method != NULL)
        SETOPT(c, CURLOPT_CUSTOMREQUEST, method);
    if ((flags & HQ_GITHUB_HTTP_FRESH) != 0)
        SETOPT(c, CURLOPT_FRESH_CONNECT, 1L);
    r->sent = true;
    CURLcode cc = curl_easy_perform(c);
    if (cc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    } else {
        r->status = 0;
        r->transport_error = r->overflow                      ? HQ_ETOOBIG
                             : cc == CURLE_OPERATION_TIMEDOUT ? HQ_ETIMEOUT
                                                              : HQ_EHTTP;
        if (r->curl_msg[0] == '\0')
            copy_msg(r->curl_msg, sizeof(r->curl_msg), curl_easy_strerror(cc));
    }
out:
    if (e != NULL) {
        /* the handle must not keep pointers into this call's memory */
        curl_easy_setopt(e->curl, CURLOPT_HTTPHEADER, NULL);
        curl_easy_setopt(e->curl, CURLOPT_ERRORBUFFER, NULL);
        pool_give(h, e);
    }
    curl_slist_free_all(hdrs);
    if (auth != NULL) {
        memset(auth, 0, alen);
        free(auth);
    }
    return rc;
}

int hq_github_http_create(const struct hq_github_http_opts *o, hq_github_http **out)
{
    hq_github_http *h = NULL;
    int rc = 0;

    *out = NULL;
    h = calloc(1, sizeof(*h));
    if (h == NULL)
        return -ENOMEM;
    /* every mutex is initialised before the first failure path that destroys */
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&h->share_locks[i], NULL);
    pthread_mutex_init(&h->pool_lock, NULL);
    pthread_cond_init(&h->pool_cond, NULL);

    int n = snprintf(h->user_agent, sizeof(h->user_agent), "%s", o->user_agent);
    if (n < 0 || (size_t)n >= sizeof(h->user_agent)) {
        rc = HQ_ECONFIG;
        goto fail;
    }
    h->connect_ms = o->connect_timeout_ms;
    h->total_ms = o->total_timeout_ms;
    h->body_max = o->body_max;
    h->max_in_flight = o->max_in_flight;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        rc = HQ_EHTTP;
        goto fail;
    }
    h->curl_inited = true;
    h->share = curl_share_init();
    if (h->share == NULL ||
        curl_share_setopt(h->share, CURLSHOPT_LOCKFUNC, share_lock) != CURLSHE_OK ||
        curl_share_setopt(h->share, CURLSHOPT_UNLOCKFUNC, share_unlock) != CURLSHE_OK ||
        curl_share_setopt(h->share, CURLSHOPT_USERDATA, h) != CURLSHE_OK ||
        curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK ||
        curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK) {
        rc = HQ_EHTTP;
        goto fail;
    }
    *out = h;
    return 0;
fail:
    hq_github_http_destroy(h);
    return rc;
}

void hq_github_http_destroy(hq_github_http *h)
{
    if (h == NULL)
        return;
    while (h->free_list != NULL) {
        struct easy *e = h->free_list;
        h->free_list = e->next;
        curl_easy_cleanup(e->curl);
        free(e);
    }
    if (h->share != NULL)
        curl_share_cleanup(h->share);
    if (h->curl_inited)
        curl_global_cleanup();
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&h->share_locks[i]);
    pthread_mutex_destroy(&h->pool_lock);
    pthread_cond_destroy(&h->pool_cond);
    free(h);
}
