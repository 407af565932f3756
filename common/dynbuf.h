/*
 * dynbuf: one capped growable byte buffer, in the spirit of curl's dynbuf.
 *
 * Every buffer is created with a cap named for its use (the webhook body
 * limit, the largest GitHub answer, a config file...). Growing past the cap
 * fails with HQ_ETOOBIG and leaves the buffer as it was; so does running out
 * of memory (-ENOMEM). The contents are always NUL-terminated (the NUL is
 * not counted in the length nor against the cap), so text can be read in
 * place.
 *
 * Ownership: the buffer owns its memory until hq_dynbuf_free() or
 * hq_dynbuf_take(). Not thread-safe: one owner at a time.
 */
#ifndef HQ_DYNBUF_H
#define HQ_DYNBUF_H

#include "hq_error.h"

#include <stdarg.h>
#include <stddef.h>

struct hq_dynbuf {
    char *mem;  /* NULL until the first byte; else len + 1 bytes are valid */
    size_t len; /* bytes held, without the terminating NUL */
    size_t cap; /* bytes allocated */
    size_t max; /* the most it may hold: named by its use */
};

/* An empty buffer that may grow to max bytes. Allocates nothing. */
void hq_dynbuf_init(struct hq_dynbuf *b, size_t max);

/* Frees the memory; the buffer is empty and usable again (same max). */
void hq_dynbuf_free(struct hq_dynbuf *b);

/* Empties the buffer, keeping its memory for reuse. */
void hq_dynbuf_reset(struct hq_dynbuf *b);

/* Makes room for n more bytes without adding any: HQ_ETOOBIG past max,
 * -ENOMEM. Lets a caller account for memory before it is used. */
HQ_WUR int hq_dynbuf_reserve(struct hq_dynbuf *b, size_t n);

/* Appends n bytes (0, HQ_ETOOBIG, -ENOMEM); on failure nothing is added. */
HQ_WUR int hq_dynbuf_add(struct hq_dynbuf *b, const void *data, size_t n);
HQ_WUR int hq_dynbuf_addstr(struct hq_dynbuf *b, const char *s);
/* Appends printf-formatted text; on failure nothing is added. */
HQ_WUR int hq_dynbuf_printf(struct hq_dynbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
HQ_WUR int hq_dynbuf_vprintf(struct hq_dynbuf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Drops bytes past len (len <= current length). */
void hq_dynbuf_truncate(struct hq_dynbuf *b, size_t len);

/* The contents ("" when empty; never NULL) and their length. */
const char *hq_dynbuf_str(const struct hq_dynbuf *b);
size_t hq_dynbuf_len(const struct hq_dynbuf *b);

/* Hands the memory to the caller (free() it; NUL-terminated; NULL when the
 * buffer never held a byte) and leaves the buffer empty. */
char *hq_dynbuf_take(struct hq_dynbuf *b, size_t *len);

/*
 * snprintf that says whether it fit: 0 when the whole text and its NUL fit
 * in dst[size], HQ_ETOOBIG when it was cut (dst then holds the cut text),
 * -EINVAL on an encoding error. The one truncation check of the tree.
 */
HQ_WUR int hq_snprintf(char *dst, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
