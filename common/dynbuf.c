/*
 * dynbuf: the capped growable buffer of dynbuf.h. Growth doubles from a
 * small start and is clamped at the cap, so a buffer never holds more memory
 * than its cap plus the NUL.
 */
#include "dynbuf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DYNBUF_START 256

void hq_dynbuf_init(struct hq_dynbuf *b, size_t max)
{
    b->mem = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void hq_dynbuf_free(struct hq_dynbuf *b)
{
    free(b->mem);
    b->mem = NULL;
    b->len = 0;
    b->cap = 0;
}

void hq_dynbuf_reset(struct hq_dynbuf *b)
{
    b->len = 0;
    if (b->mem != NULL)
        b->mem[0] = '\0';
}

size_t hq_dynbuf_cap_for(const struct hq_dynbuf *b, size_t n)
{
    if (n > b->max - b->len)
        return 0;
    size_t need = b->len + n + 1; /* cannot overflow: len + n <= max < SIZE_MAX */
    if (need <= b->cap)
        return b->cap;
    size_t ncap = b->cap ? b->cap : DYNBUF_START;
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 2 ? SIZE_MAX : ncap * 2;
    if (ncap > b->max + 1)
        ncap = b->max + 1;
    return ncap;
}

int hq_dynbuf_reserve(struct hq_dynbuf *b, size_t n)
{
    size_t ncap = hq_dynbuf_cap_for(b, n);
    if (ncap == 0)
        return HQ_ETOOBIG;
    if (ncap == b->cap)
        return 0;
    char *nm = realloc(b->mem, ncap);
    if (nm == NULL)
        return -ENOMEM;
    if (b->mem == NULL)
        nm[0] = '\0';
    b->mem = nm;
    b->cap = ncap;
    return 0;
}

int hq_dynbuf_add(struct hq_dynbuf *b, const void *data, size_t n)
{
    int rc = hq_dynbuf_reserve(b, n);
    if (rc != 0)
        return rc;
    if (n > 0)
        memcpy(b->mem + b->len, data, n);
    b->len += n;
    b->mem[b->len] = '\0';
    return 0;
}

int hq_dynbuf_addstr(struct hq_dynbuf *b, const char *s)
{
    return hq_dynbuf_add(b, s, strlen(s));
}

int hq_dynbuf_vprintf(struct hq_dynbuf *b, const char *fmt, va_list ap)
{
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    if (n < 0)
        return -EINVAL;
    int rc = hq_dynbuf_reserve(b, (size_t)n);
    if (rc != 0)
        return rc;
    int m = vsnprintf(b->mem + b->len, b->cap - b->len, fmt, ap);
    if (m != n) {
        b->mem[b->len] = '\0';
        return -EINVAL;
    }
    b->len += (size_t)n;
    return 0;
}

int hq_dynbuf_printf(struct hq_dynbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = hq_dynbuf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void hq_dynbuf_truncate(struct hq_dynbuf *b, size_t len)
{
    if (len < b->len) {
        b->len = len;
        b->mem[len] = '\0';
    }
}

const char *hq_dynbuf_str(const struct hq_dynbuf *b)
{
    return b->mem != NULL ? b->mem : "";
}

size_t hq_dynbuf_len(const struct hq_dynbuf *b)
{
    return b->len;
}

char *hq_dynbuf_take(struct hq_dynbuf *b, size_t *len)
{
    char *m = b->mem;
    if (len != NULL)
        *len = b->len;
    b->mem = NULL;
    b->len = 0;
    b->cap = 0;
    return m;
}

int hq_snprintf(char *dst, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(dst, size, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -EINVAL;
    return (size_t)n < size ? 0 : HQ_ETOOBIG;
}
