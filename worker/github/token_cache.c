/*
 * token_cache: single-flight cache of installation tokens; see token_cache.h.
 *
 * DESIGN. One mutex (c->lock) protects the hash table and every entry's
 * fields. An entry is created on first use and lives until destroy (there
 * are as many as installations seen). An entry with `fetching` set has one
 * owner thread running the fetch without the lock; waiters sleep on the
 * entry's own condition variable, so a fetch wakes only its installation.
 * `gen` counts finished fetches: a waiter that saw gen change knows the fetch
 * it waited for has finished and takes its outcome (last_rc, token or fail)
 * instead of judging freshness again, which would loop if a token's whole
 * lifetime were shorter than the margin.
 */
#include "token_cache.h"

#include "clock.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NBUCKETS 256

struct entry {
    struct entry *next;
    uint64_t inst;
    char *token; /* NULL when none is cached */
    int64_t obtained_ms;
    int64_t expires_at_ms;
    bool fetching;
    uint64_t gen;
    bool fetch_ok; /* the last finished fetch brought `token` */
    int last_rc;   /* of the last finished fetch: 0 (token or fail), or negative */
    struct hq_gh_result fail;
    pthread_cond_t done;
};

struct hq_token_cache {
    int64_t margin_ms;
    hq_token_fetch_fn fetch;
    void *arg;
    pthread_mutex_t lock; /* protects buckets and all entry fields */
    struct entry *buckets[NBUCKETS];
};

int hq_token_cache_create(int64_t margin_ms, hq_token_fetch_fn fetch, void *arg,
                          hq_token_cache **out)
{
    *out = NULL;
    if (margin_ms < 0 || fetch == NULL)
        return -EINVAL;
    hq_token_cache *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -ENOMEM;
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c);
        return -ENOMEM;
    }
    c->margin_ms = margin_ms;
    c->fetch = fetch;
    c->arg = arg;
    *out = c;
    return 0;
}

void hq_token_cache_destroy(hq_token_cache *c)
{
    if (c == NULL)
        return;
    for (int i = 0; i < NBUCKETS; i++) {
        struct entry *e = c->buckets[i];
        while (e != NULL) {
            struct entry *next = e->next;
            free(e->token);
            pthread_cond_destroy(&e->done);
            free(e);
            e = next;
        }
    }
    pthread_mutex_destroy(&c->lock);
    free(c);
}

void hq_token_clear(struct hq_token *tok)
{
    free(tok->value);
    memset(tok, 0, sizeof(*tok));
}

/* Finds or creates the entry of inst. Lock held. */
static struct entry *lookup(hq_token_cache *c, uint64_t inst, bool create)
{
    unsigned b = (unsigned)((inst * 0x9e3779b97f4a7c15ULL) >> 56) % NBUCKETS;
    for (struct entry *e = c->buckets[b]; e != NULL; e = e->next)
        if (e->inst == inst)
            return e;
    if (!create)
        return NULL;
    struct entry *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return NULL;
    if (pthread_cond_init(&e->done, NULL) != 0) {
        free(e);
        return NULL;
    }
    e->inst = inst;
    e->next = c->buckets[b];
    c->buckets[b] = e;
    return e;
}

/* Copies the entry's token into tok. Lock held. */
static int share(const struct entry *e, struct hq_token *tok)
{
    tok->value = strdup(e->token);
    if (tok->value == NULL)
        return -ENOMEM;
    tok->obtained_ms = e->obtained_ms;
    tok->expires_at_ms = e->expires_at_ms;
    tok->cached = true;
    return 0;
}

/* The outcome of the fetch that just finished, for its owner and its waiters:
 * the new token; else the old one while it has HQ_TOKEN_MIN_LEFT_MS left (a
 * failed refresh inside the margin is no reason to stop); else the failure.
 * Lock held. */
static int outcome(const struct entry *e, int64_t now_ms, struct hq_token *tok,
                   struct hq_gh_result *fail)
{
    if (e->token != NULL && (e->fetch_ok || now_ms < e->expires_at_ms - HQ_TOKEN_MIN_LEFT_MS))
        return share(e, tok);
    if (e->last_rc < 0)
        return e->last_rc;
    *fail = e->fail;
    return 0;
}

int hq_token_cache_get(hq_token_cache *c, uint64_t inst, struct hq_token *tok,
                       struct hq_gh_result *fail)
{
    int rc = 0;
    char *fresh = NULL;
    int64_t expires = 0;

    memset(tok, 0, sizeof(*tok));
    pthread_mutex_lock(&c->lock);
    struct entry *e = lookup(c, inst, true);
    if (e == NULL) {
        rc = -ENOMEM;
        goto unlock;
    }
    if (e->token != NULL && hq_now_ms() < e->expires_at_ms - c->margin_ms) {
        rc = share(e, tok);
        goto unlock;
    }
    while (e->fetching) {
        uint64_t gen = e->gen;
        while (e->fetching && e->gen == gen)
            pthread_cond_wait(&e->done, &c->lock);
        /* The fetch we waited for has finished: its outcome is ours, unless
         * its token was dropped (401) before we woke; then the next fetch
         * is ours or the one in flight. */
        if (e->token == NULL && e->fetch_ok && !e->fetching)
            break;
        if (e->token == NULL && e->fetch_ok)
            continue;
        rc = outcome(e, hq_now_ms(), tok, fail);
        goto unlock;
    }

    e->fetching = true;
    pthread_mutex_unlock(&c->lock);
    memset(fail, 0, sizeof(*fail));
    rc = c->fetch(c->arg, inst, &fresh, &expires, fail);
    int64_t now = hq_now_ms();
    pthread_mutex_lock(&c->lock);
    e->fetching = false;
    e->gen++;
    e->last_rc = rc < 0 ? rc : 0;
    e->fetch_ok = rc == 0 && fresh != NULL;
    if (e->fetch_ok) {
        free(e->token);
        e->token = fresh;
        fresh = NULL;
        e->obtained_ms = now;
        e->expires_at_ms = expires;
    } else if (rc == 0) {
        e->fail = *fail;
    }
    rc = outcome(e, now, tok, fail);
    if (e->fetch_ok)
        tok->cached = false;
    pthread_cond_broadcast(&e->done);
unlock:
    pthread_mutex_unlock(&c->lock);
    free(fresh);
    return rc;
}

void hq_token_cache_drop(hq_token_cache *c, uint64_t inst, const char *token)
{
    pthread_mutex_lock(&c->lock);
    struct entry *e = lookup(c, inst, false);
    if (e != NULL && e->token != NULL && token != NULL && strcmp(e->token, token) == 0) {
        free(e->token);
        e->token = NULL;
    }
    pthread_mutex_unlock(&c->lock);
}
