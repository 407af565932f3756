/*
 * metrics: a small registry of families and series; see metrics.h.
 *
 * Values are doubles stored in _Atomic uint64_t bit patterns and updated with
 * compare-and-swap, so updates never take the registry lock. The registry
 * lock protects the family and series lists only.
 */
#include "metrics.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HQ_METRICS_MAX_BOUNDS     24
#define HQ_METRICS_MAX_COLLECTORS 8

struct hq_series {
    struct hq_series *next;
    struct hq_family *family;
    char *labels;
    _Atomic uint64_t value; /* double bits: counter/gauge value, histogram sum */
    _Atomic uint64_t count; /* histogram observations */
    _Atomic uint64_t buckets[HQ_METRICS_MAX_BOUNDS];
};

struct hq_family {
    struct hq_family *next;
    char *name;
    char *help;
    enum hq_metric_type type;
    double bounds[HQ_METRICS_MAX_BOUNDS];
    size_t nbounds;
    struct hq_series *series;
};

struct hq_metrics {
    pthread_mutex_t lock; /* protects families, their series lists, collectors */
    struct hq_family *families, **tail;
    struct {
        void (*fn)(hq_metrics *, void *);
        void *arg;
    } collectors[HQ_METRICS_MAX_COLLECTORS];
    int ncollectors;
};

static double bits_to_double(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof(d));
    return d;
}

static uint64_t double_to_bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof(b));
    return b;
}

int hq_metrics_create(hq_metrics **out)
{
    hq_metrics *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return -ENOMEM;
    pthread_mutex_init(&m->lock, NULL);
    m->tail = &m->families;
    *out = m;
    return 0;
}

void hq_metrics_destroy(hq_metrics *m)
{
    if (m == NULL)
        return;
    struct hq_family *f = m->families;
    while (f != NULL) {
        struct hq_family *fn = f->next;
        struct hq_series *s = f->series;
        while (s != NULL) {
            struct hq_series *sn = s->next;
            free(s->labels);
            free(s);
            s = sn;
        }
        free(f->name);
        free(f->help);
        free(f);
        f = fn;
    }
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static struct hq_family *find_family(hq_metrics *m, const char *name)
{
    for (struct hq_family *f = m->families; f != NULL; f = f->next)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

int hq_metrics_declare(hq_metrics *m, const char *name, enum hq_metric_type type, const char *help,
                       const double *bounds, size_t nbounds)
{
    int rc = 0;
    if (nbounds > HQ_METRICS_MAX_BOUNDS)
        return -EINVAL;
    pthread_mutex_lock(&m->lock);
    if (find_family(m, name) != NULL)
        goto out;
    struct hq_family *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    if (f->name == NULL || f->help == NULL) {
        free(f->name);
        free(f->help);
        free(f);
        rc = -ENOMEM;
        goto out;
    }
    f->type = type;
    if (bounds != NULL && nbounds > 0)
        memcpy(f->bounds, bounds, nbounds * sizeof(double));
    f->nbounds = nbounds;
    *m->tail = f;
    m->tail = &f->next;
out:
    pthread_mutex_unlock(&m->lock);
    return rc;
}

hq_series *hq_metrics_series(hq_metrics *m, const char *name, const char *labels)
{
    hq_series *found = NULL;
    if (labels == NULL)
        labels = "";
    pthread_mutex_lock(&m->lock);
    struct hq_family *f = find_family(m, name);
    if (f == NULL)
        goto out;
    struct hq_series **link = &f->series;
    for (; *link != NULL; link = &(*link)->next) {
        if (strcmp((*link)->labels, labels) == 0) {
            found = *link;
            goto out;
        }
    }
    hq_series *s = calloc(1, sizeof(*s));
    if (s == NULL)
        goto out;
    s->labels = strdup(labels);
    if (s->labels == NULL) {
        free(s);
        goto out;
    }
    s->family = f;
    *link = s;
    found = s;
out:
    pthread_mutex_unlock(&m->lock);
    return found;
}

static void atomic_add_double(_Atomic uint64_t *cell, double v)
{
    uint64_t old = atomic_load(cell);
    while (!atomic_compare_exchange_weak(cell, &old, double_to_bits(bits_to_double(old) + v)))
        ;
}

void hq_series_add(hq_series *s, double v)
{
    if (s != NULL)
        atomic_add_double(&s->value, v);
}

void hq_series_set(hq_series *s, double v)
{
    if (s != NULL)
        atomic_store(&s->value, double_to_bits(v));
}

void hq_series_observe(hq_series *s, double v)
{
    if (s == NULL)
        return;
    const struct hq_family *f = s->family;
    for (size_t i = 0; i < f->nbounds; i++) {
        if (v <= f->bounds[i]) {
            atomic_fetch_add(&s->buckets[i], 1);
            break;
        }
    }
    atomic_fetch_add(&s->count, 1);
    atomic_add_double(&s->value, v);
}

int hq_metrics_on_render(hq_metrics *m, void (*fn)(hq_metrics *, void *), void *arg)
{
    int rc = 0;
    pthread_mutex_lock(&m->lock);
    if (m->ncollectors >= HQ_METRICS_MAX_COLLECTORS) {
        rc = -ENOSPC;
    } else {
        m->collectors[m->ncollectors].fn = fn;
        m->collectors[m->ncollectors].arg = arg;
        m->ncollectors++;
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

static const char *type_name(enum hq_metric_type t)
{
    return t == HQ_COUNTER ? "counter" : t == HQ_GAUGE ? "gauge" : "histogram";
}

/* Series name with labels, plus an extra label (le) when given. */
static void print_name(FILE *fp, const char *name, const char *suffix, const char *labels,
                       const char *extra)
{
    bool any = labels[0] != '\0' || extra != NULL;
    fprintf(fp, "%s%s", name, suffix);
    if (!any)
        return;
    fputc('{', fp);
    fputs(labels, fp);
    if (extra != NULL) {
        if (labels[0] != '\0')
            fputc(',', fp);
        fputs(extra, fp);
    }
    fputc('}', fp);
}

int hq_metrics_render(hq_metrics *m, char **out, size_t *len)
{
    char *buf = NULL;
    size_t size = 0;
    int ncollectors;
    pthread_mutex_lock(&m->lock);
    ncollectors = m->ncollectors;
    pthread_mutex_unlock(&m->lock);
    /* Collectors call hq_metrics_series, which takes the lock: run them unlocked. */
    for (int i = 0; i < ncollectors; i++)
        m->collectors[i].fn(m, m->collectors[i].arg);

    FILE *fp = open_memstream(&buf, &size);
    if (fp == NULL)
        return -ENOMEM;
    pthread_mutex_lock(&m->lock);
    for (struct hq_family *f = m->families; f != NULL; f = f->next) {
        fprintf(fp, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, type_name(f->type));
        for (struct hq_series *s = f->series; s != NULL; s = s->next) {
            double v = bits_to_double(atomic_load(&s->value));
            if (f->type != HQ_HISTOGRAM) {
                print_name(fp, f->name, "", s->labels, NULL);
                fprintf(fp, " %.17g\n", v);
                continue;
            }
            uint64_t cum = 0;
            char le[64];
            for (size_t i = 0; i < f->nbounds; i++) {
                cum += atomic_load(&s->buckets[i]);
                snprintf(le, sizeof(le), "le=\"%g\"", f->bounds[i]);
                print_name(fp, f->name, "_bucket", s->labels, le);
                fprintf(fp, " %llu\n", (unsigned long long)cum);
            }
            uint64_t count = atomic_load(&s->count);
            print_name(fp, f->name, "_bucket", s->labels, "le=\"+Inf\"");
            fprintf(fp, " %llu\n", (unsigned long long)count);
            print_name(fp, f->name, "_sum", s->labels, NULL);
            fprintf(fp, " %.17g\n", v);
            print_name(fp, f->name, "_count", s->labels, NULL);
            fprintf(fp, " %llu\n", (unsigned long long)count);
        }
    }
    pthread_mutex_unlock(&m->lock);
    if (fclose(fp) != 0) {
        free(buf);
        return -ENOMEM;
    }
    *out = buf;
    *len = size;
    return 0;
}
