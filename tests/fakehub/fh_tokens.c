/* fh_tokens: issued tokens and installation budgets; see fh_tokens.h. */
#include "fh_tokens.h"
#include "clock.h"

#include <errno.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_BUCKETS 16384
#define INST_BUCKETS  1024

struct token {
    struct token *next;      /* hash chain */
    struct token *inst_next; /* the installation's tokens, newest first */
    uint64_t inst;
    int64_t issued_mono_ms;
    int64_t expires_ms;
    bool revoked;
    size_t len;
    char text[]; /* NUL-terminated */
};

struct installation {
    struct installation *next; /* hash chain */
    uint64_t id;
    struct token *tokens;
    int64_t window_start_ms; /* 0: no window open */
    uint64_t used;
};

struct fh_tokens {
    struct fh_tokens_cfg cfg;
    pthread_mutex_t lock; /* protects everything below */
    struct token *tokens[TOKEN_BUCKETS];
    struct installation *insts[INST_BUCKETS];
    size_t ntokens, ninsts;
};

static uint64_t fnv1a(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

int fh_tokens_create(const struct fh_tokens_cfg *cfg, fh_tokens **out)
{
    fh_tokens *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return -ENOMEM;
    t->cfg = *cfg;
    pthread_mutex_init(&t->lock, NULL);
    *out = t;
    return 0;
}

void fh_tokens_destroy(fh_tokens *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < TOKEN_BUCKETS; i++) {
        struct token *k = t->tokens[i];
        while (k != NULL) {
            struct token *next = k->next;
            free(k);
            k = next;
        }
    }
    for (size_t i = 0; i < INST_BUCKETS; i++) {
        struct installation *in = t->insts[i];
        while (in != NULL) {
            struct installation *next = in->next;
            free(in);
            in = next;
        }
    }
    pthread_mutex_destroy(&t->lock);
    free(t);
}

/* The installation's entry, created when create is set. Caller holds lock. */
static struct installation *inst_get(fh_tokens *t, uint64_t id, bool create)
{
    size_t b = (size_t)(id * 0x9e3779b97f4a7c15ull >> 54) % INST_BUCKETS;
    for (struct installation *in = t->insts[b]; in != NULL; in = in->next) {
        if (in->id == id)
            return in;
    }
    if (!create || t->ninsts >= FH_INSTALLATIONS_MAX)
        return NULL;
    struct installation *in = calloc(1, sizeof(*in));
    if (in == NULL)
        return NULL;
    in->id = id;
    in->next = t->insts[b];
    t->insts[b] = in;
    t->ninsts++;
    return in;
}

/* Fills text[0..len) with "ghs_" and random letters and digits. */
static int make_token_text(char *text, size_t len)
{
    static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char rnd[256];
    memcpy(text, "ghs_", 4);
    size_t i = 4;
    while (i < len) {
        if (RAND_bytes(rnd, sizeof(rnd)) != 1)
            return -EIO;
        for (size_t j = 0; j < sizeof(rnd) && i < len; j++) {
            if (rnd[j] < 248) /* 248 = 4 * 62: no modulo bias */
                text[i++] = alnum[rnd[j] % 62];
        }
    }
    text[len] = '\0';
    return 0;
}

int fh_tokens_issue(fh_tokens *t, uint64_t inst, char **token, int64_t *expires_ms)
{
    int rc;
    size_t len = t->cfg.length;
    struct token *k = malloc(sizeof(*k) + len + 1);
    char *copy = malloc(len + 1);
    if (k == NULL || copy == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    rc = make_token_text(k->text, len);
    if (rc != 0)
        goto out;
    k->len = len;
    k->inst = inst;
    k->revoked = false;
    k->issued_mono_ms = hq_mono_ms();
    /* expires_at is written in whole seconds: the token lives exactly that long */
    k->expires_ms = (hq_now_ms() + t->cfg.ttl_ms) / 1000 * 1000;
    memcpy(copy, k->text, len + 1);

    pthread_mutex_lock(&t->lock);
    struct installation *in = inst_get(t, inst, true);
    if (in == NULL || t->ntokens >= FH_TOKENS_MAX) {
        pthread_mutex_unlock(&t->lock);
        rc = in == NULL && t->ninsts < FH_INSTALLATIONS_MAX ? -ENOMEM : HQ_EFULL;
        goto out;
    }
    if (t->cfg.revoke_older) {
        for (struct token *old = in->tokens; old != NULL; old = old->inst_next)
            old->revoked = true;
    }
    size_t b = (size_t)(fnv1a(k->text, len) % TOKEN_BUCKETS);
    k->next = t->tokens[b];
    t->tokens[b] = k;
    k->inst_next = in->tokens;
    in->tokens = k;
    t->ntokens++;
    *expires_ms = k->expires_ms;
    pthread_mutex_unlock(&t->lock);

    *token = copy;
    copy = NULL;
    k = NULL;
out:
    free(k);
    free(copy);
    return rc;
}

enum fh_token_state fh_tokens_check(fh_tokens *t, const char *token, size_t len, uint64_t *inst,
                                    int64_t *age_ms)
{
    enum fh_token_state st = FH_TOKEN_UNKNOWN;
    size_t b = (size_t)(fnv1a(token, len) % TOKEN_BUCKETS);
    int64_t now = hq_now_ms(), mono = hq_mono_ms();
    pthread_mutex_lock(&t->lock);
    for (struct token *k = t->tokens[b]; k != NULL; k = k->next) {
        if (k->len != len || memcmp(k->text, token, len) != 0)
            continue;
        *inst = k->inst;
        *age_ms = mono - k->issued_mono_ms;
        st = k->revoked             ? FH_TOKEN_REVOKED
             : now >= k->expires_ms ? FH_TOKEN_EXPIRED
                                    : FH_TOKEN_VALID;
        break;
    }
    pthread_mutex_unlock(&t->lock);
    return st;
}

bool fh_tokens_budget(fh_tokens *t, uint64_t inst, bool consume, struct fh_budget *out)
{
    if (t->cfg.budget == 0)
        return false;
    int64_t now = hq_now_ms();
    bool ok = false;
    pthread_mutex_lock(&t->lock);
    struct installation *in = inst_get(t, inst, true);
    if (in == NULL)
        goto unlock;
    if (in->window_start_ms == 0 || now >= in->window_start_ms + t->cfg.window_ms) {
        in->window_start_ms = now;
        in->used = 0;
    }
    out->exhausted = false;
    if (consume) {
        if (in->used >= t->cfg.budget)
            out->exhausted = true;
        else
            in->used++;
    }
    out->limit = t->cfg.budget;
    out->used = in->used;
    out->remaining = t->cfg.budget - in->used;
    out->reset_s = (in->window_start_ms + t->cfg.window_ms + 999) / 1000;
    ok = true;
unlock:
    pthread_mutex_unlock(&t->lock);
    return ok;
}
