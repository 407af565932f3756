/*
 * clock: time in milliseconds, and RFC 3339 formatting.
 *
 * hq_now_ms() is wall-clock time (stored in the queue, comparable across
 * processes); hq_mono_ms() is for measuring durations. Tests may replace the
 * wall clock with hq_clock_set_hook() to make time jump.
 */
#ifndef HQ_CLOCK_H
#define HQ_CLOCK_H

#include <stddef.h>
#include <stdint.h>

int64_t hq_now_ms(void);
int64_t hq_mono_ms(void);

/* Fault-injection hook: when set, hq_now_ms() returns hook(). NULL restores. */
void hq_clock_set_hook(int64_t (*hook)(void));

/* Formats ms since the epoch as "2026-11-22T06:04:43.123Z"; 0 or HQ_ETOOBIG. */
int hq_format_rfc3339(int64_t ms, char *buf, size_t cap);

/* Parses "2026-11-22T06:04:43Z" (fraction and numeric offset allowed); 0 or HQ_EPARSE. */
int hq_parse_rfc3339(const char *s, int64_t *out_ms);

#endif
