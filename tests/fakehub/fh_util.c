/* fh_util: JSON parsing, UTF-8 and base64url helpers; see fh_util.h. */
#include "fh_util.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Serializes cJSON_ParseWithLengthOpts, which writes cJSON's global error. */
static pthread_mutex_t parse_lock = PTHREAD_MUTEX_INITIALIZER;

cJSON *fh_json_parse(const char *buf, size_t len)
{
    if (buf == NULL || len == 0)
        return NULL;
    const char *end = NULL;
    pthread_mutex_lock(&parse_lock);
    cJSON *v = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
    pthread_mutex_unlock(&parse_lock);
    /* cJSON's own "require NUL" check wants the NUL inside len; check the tail here */
    while (v != NULL && end < buf + len) {
        if (*end != ' ' && *end != '\t' && *end != '\n' && *end != '\r') {
            cJSON_Delete(v);
            v = NULL;
        }
        end++;
    }
    return v;
}

/* Length of the valid UTF-8 sequence at s (at most len bytes) or 0. */
static size_t utf8_seq(const unsigned char *s, size_t len, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
        n = 2, v = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3, v = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n > len)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return n;
}

long fh_utf8_count(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    long count = 0;
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        size_t n = utf8_seq(p + i, len - i, &cp);
        if (n == 0)
            return -1;
        i += n;
        count++;
    }
    return count;
}

char *fh_utf8_repair(const char *s, size_t len)
{
    static const char replacement[] = "\xef\xbf\xbd";
    if (len > SIZE_MAX / 3 - 1)
        return NULL;
    char *out = malloc(len * 3 + 1);
    if (out == NULL)
        return NULL;
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, o = 0;
    while (i < len) {
        uint32_t cp;
        size_t n = utf8_seq(p + i, len - i, &cp);
        if (n == 0 || cp == 0) {
            memcpy(out + o, replacement, 3);
            o += 3;
            i++;
        } else {
            memcpy(out + o, p + i, n);
            o += n;
            i += n;
        }
    }
    out[o] = '\0';
    return out;
}

static int b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

int fh_b64url_decode(const char *s, size_t len, unsigned char **out, size_t *outlen)
{
    if (len % 4 == 1)
        return HQ_EPARSE;
    unsigned char *buf = malloc(len / 4 * 3 + 3 + 1);
    if (buf == NULL)
        return -ENOMEM;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64url_value(s[i]);
        if (v < 0) {
            free(buf);
            return HQ_EPARSE;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) { /* non-canonical: leftover bits must be zero */
        free(buf);
        return HQ_EPARSE;
    }
    buf[o] = '\0';
    *out = buf;
    *outlen = o;
    return 0;
}
