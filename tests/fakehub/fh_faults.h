/*
 * fh_faults: which fault, if any, a request gets, and the delays of answers.
 *
 * One draw of a seeded PRNG per request on a fault route picks at most one
 * fault: the fractions are laid end to end on [0, 1) in the order of enum
 * fh_fault, so they are exclusive and their rates are exact in expectation.
 * With --seed the sequence of draws is reproducible (which request gets
 * which draw still depends on arrival order when requests run concurrently).
 *
 * Delays (latency, hang) sleep on a condition variable so that
 * fh_faults_stop() ends them at once when the server shuts down.
 *
 * Threads: every function may be called from any thread. One mutex guards
 * the PRNG state; another guards the stop flag and its condition variable.
 */
#ifndef FH_FAULTS_H
#define FH_FAULTS_H

#include "fh_opts.h"
#include "hq_error.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct fh_faults fh_faults;

enum fh_fault {
    FH_FAULT_NONE = 0,
    FH_FAULT_5XX,
    FH_FAULT_429,
    FH_FAULT_PRIMARY_403,
    FH_FAULT_SECONDARY_403,
    FH_FAULT_RESET,
    FH_FAULT_HANG,
    FH_FAULT_MALFORMED,
    FH_FAULT_LOST, /* processed, then the answer is lost (--lost-answer) */
};

/* Copies cfg; seeds from the OS when cfg->seeded is false. */
HQ_WUR int fh_faults_create(const struct fh_fault_opts *cfg, fh_faults **out);
void fh_faults_destroy(fh_faults *f);

/* The fault for one request on a route of kind route_bit (FH_FR_*); for
 * FH_FAULT_5XX, *code is 500, 502 or 503. */
enum fh_fault fh_faults_pick(fh_faults *f, unsigned route_bit, unsigned *code);

/* The record's name of a fault: "none", "5xx", "429", ... */
const char *fh_fault_name(enum fh_fault fault);

/* Sleeps ms milliseconds, or less if the server stops meanwhile. */
void fh_faults_sleep(fh_faults *f, int64_t ms);

/* Wakes every sleeper now and makes later sleeps return at once. */
void fh_faults_stop(fh_faults *f);

#endif
