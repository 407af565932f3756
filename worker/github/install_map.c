/*
 * install_map: the repository -> installation id cache of install_map.h, a
 * chained hash table keyed by the lower-cased name.
 *
 * Locks: lock protects buckets and count. It is the only lock of the module
 * and is never held while calling out of it.
 */
#include "install_map.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 256

struct entry {
    struct entry *next;
    uint64_t id;
    char repo[HQ_INSTALL_MAP_REPO_MAX + 1]; /* lower case */
};

struct hq_install_map {
    pthread_mutex_t lock; /* protects buckets, count */
    struct entry *buckets[BUCKETS];
    size_t count, max;
};

/* Lower-cases repo into key[HQ_INSTALL_MAP_REPO_MAX + 1]; false when it
 * does not fit or is empty. */
static bool make_key(const char *repo, char *key)
{
    size_t n = strnlen(repo, HQ_INSTALL_MAP_REPO_MAX + 1);
    if (n == 0 || n > HQ_INSTALL_MAP_REPO_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        key[i] = (char)tolower((unsigned char)repo[i]);
    key[n] = '\0';
    return true;
}

static unsigned bucket_of(const char *key)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *p = key; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h % BUCKETS;
}

/* With lock held. */
static struct entry *find(hq_install_map *m, const char *key)
{
    for (struct entry *e = m->buckets[bucket_of(key)]; e != NULL; e = e->next)
        if (strcmp(e->repo, key) == 0)
            return e;
    return NULL;
}

/* With lock held, or from destroy. */
static void forget_all(hq_install_map *m)
{
    for (int i = 0; i < BUCKETS; i++) {
        while (m->buckets[i] != NULL) {
            struct entry *e = m->buckets[i];
            m->buckets[i] = e->next;
            free(e);
        }
    }
    m->count = 0;
}

int hq_install_map_create(size_t max_entries, hq_install_map **out)
{
    *out = NULL;
    if (max_entries == 0)
        return -EINVAL;
    hq_install_map *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return -ENOMEM;
    int err = pthread_mutex_init(&m->lock, NULL);
    if (err != 0) {
        free(m);
        return -err;
    }
    m->max = max_entries;
    *out = m;
    return 0;
}

void hq_install_map_destroy(hq_install_map *m)
{
    if (m == NULL)
        return;
    forget_all(m);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

bool hq_install_map_get(hq_install_map *m, const char *repo, uint64_t *id)
{
    char key[HQ_INSTALL_MAP_REPO_MAX + 1];
    if (!make_key(repo, key))
        return false;
    pthread_mutex_lock(&m->lock);
    const struct entry *e = find(m, key);
    if (e != NULL)
        *id = e->id;
    pthread_mutex_unlock(&m->lock);
    return e != NULL;
}

int hq_install_map_put(hq_install_map *m, const char *repo, uint64_t id)
{
    char key[HQ_INSTALL_MAP_REPO_MAX + 1];
    if (id == 0 || !make_key(repo, key))
        return -EINVAL;
    /* allocated before the lock is taken; freed unused when the name is known */
    struct entry *fresh = calloc(1, sizeof(*fresh));
    if (fresh == NULL)
        return -ENOMEM;
    fresh->id = id;
    memcpy(fresh->repo, key, strlen(key) + 1);

    pthread_mutex_lock(&m->lock);
    struct entry *e = find(m, key);
    if (e != NULL) {
        e->id = id;
    } else {
        if (m->count >= m->max)
            forget_all(m);
        unsigned b = bucket_of(key);
        fresh->next = m->buckets[b];
        m->buckets[b] = fresh;
        m->count++;
        fresh = NULL; /* the map owns it */
    }
    pthread_mutex_unlock(&m->lock);
    free(fresh);
    return 0;
}
