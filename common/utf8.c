/* utf8: character-safe cutting; see utf8.h. */
#include "utf8.h"

#include <string.h>

size_t hq_utf8_seq_len(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    size_t n = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
    if (s[0] >= 0xf8)
        n = 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if (n == 3 && ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0)))
        return 0; /* overlong, surrogate */
    if (n == 4 && ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90)))
        return 0;
    return n;
}

void hq_utf8_cut(const char *in, size_t max_chars, bool first_line, char ctl_repl, char *out,
                 size_t cap)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t w = 0;
    if (cap == 0)
        return;
    for (size_t chars = 0; *s != '\0' && chars < max_chars; chars++) {
        if (first_line && (*s == '\n' || (*s == '\r' && (s[1] == '\n' || s[1] == '\0'))))
            break;
        size_t n = hq_utf8_seq_len(s);
        if (n <= 1) {
            if (w + 1 >= cap)
                break;
            out[w++] = n == 0 ? '?' : (*s < 0x20 || *s == 0x7f) ? ctl_repl : (char)*s;
            s++;
        } else {
            if (w + n >= cap)
                break;
            memcpy(out + w, s, n);
            w += n;
            s += n;
        }
    }
    out[w] = '\0';
}
