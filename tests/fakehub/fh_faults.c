/* fh_faults: fault selection and interruptible delays; see fh_faults.h. */
#include "fh_faults.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>

struct fh_faults {
    struct fh_fault_opts cfg;

    pthread_mutex_t rng_lock; /* protects rng */
    uint64_t rng;             /* splitmix64 state */

    pthread_mutex_t stop_lock; /* protects stopping; stop_cond waits on it */
    pthread_cond_t stop_cond;  /* CLOCK_MONOTONIC */
    bool stopping;
};

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int fh_faults_create(const struct fh_fault_opts *cfg, fh_faults **out)
{
    int rc = 0;
    pthread_condattr_t attr;
    bool attr_ok = false;
    fh_faults *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -ENOMEM;
    f->cfg = *cfg;
    f->rng = cfg->seed;
    if (!cfg->seeded && getrandom(&f->rng, sizeof(f->rng), 0) != (ssize_t)sizeof(f->rng))
        f->rng = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)f;
    pthread_mutex_init(&f->rng_lock, NULL);
    pthread_mutex_init(&f->stop_lock, NULL);
    if (pthread_condattr_init(&attr) != 0) {
        rc = -ENOMEM;
        goto out;
    }
    attr_ok = true;
    if (pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&f->stop_cond, &attr) != 0) {
        rc = -EINVAL;
        goto out;
    }
    *out = f;
    f = NULL;
out:
    if (attr_ok)
        pthread_condattr_destroy(&attr);
    if (f != NULL) {
        pthread_mutex_destroy(&f->rng_lock);
        pthread_mutex_destroy(&f->stop_lock);
        free(f);
    }
    return rc;
}

void fh_faults_destroy(fh_faults *f)
{
    if (f == NULL)
        return;
    pthread_mutex_destroy(&f->rng_lock);
    pthread_mutex_destroy(&f->stop_lock);
    pthread_cond_destroy(&f->stop_cond);
    free(f);
}

enum fh_fault fh_faults_pick(fh_faults *f, unsigned route_bit, unsigned *code)
{
    if ((f->cfg.routes & route_bit) == 0)
        return FH_FAULT_NONE;
    pthread_mutex_lock(&f->rng_lock);
    uint64_t a = splitmix64(&f->rng);
    uint64_t b = splitmix64(&f->rng);
    pthread_mutex_unlock(&f->rng_lock);

    double r = (double)(a >> 11) * 0x1.0p-53; /* uniform in [0, 1) */
    const double fractions[] = {
        f->cfg.fail_5xx, f->cfg.rate_429, f->cfg.primary_403, f->cfg.secondary_403,
        f->cfg.reset,    f->cfg.hang,     f->cfg.malformed,   f->cfg.lose_answer,
    };
    double edge = 0.0;
    for (size_t i = 0; i < sizeof(fractions) / sizeof(fractions[0]); i++) {
        edge += fractions[i];
        if (fractions[i] > 0.0 && r < edge) {
            static const unsigned codes[] = {500, 502, 503};
            *code = codes[b % 3];
            return (enum fh_fault)(FH_FAULT_5XX + i);
        }
    }
    return FH_FAULT_NONE;
}

const char *fh_fault_name(enum fh_fault fault)
{
    switch (fault) {
    case FH_FAULT_NONE: return "none";
    case FH_FAULT_5XX: return "5xx";
    case FH_FAULT_429: return "429";
    case FH_FAULT_PRIMARY_403: return "primary_403";
    case FH_FAULT_SECONDARY_403: return "secondary_403";
    case FH_FAULT_RESET: return "reset";
    case FH_FAULT_HANG: return "hang";
    case FH_FAULT_MALFORMED: return "malformed";
    case FH_FAULT_LOST: return "lost_answer";
    }
    return "unknown";
}

void fh_faults_sleep(fh_faults *f, int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += (time_t)(ms / 1000);
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&f->stop_lock);
    while (!f->stopping) {
        if (pthread_cond_timedwait(&f->stop_cond, &f->stop_lock, &until) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&f->stop_lock);
}

void fh_faults_stop(fh_faults *f)
{
    pthread_mutex_lock(&f->stop_lock);
    f->stopping = true;
    pthread_cond_broadcast(&f->stop_cond);
    pthread_mutex_unlock(&f->stop_lock);
}
