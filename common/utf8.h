/*
 * utf8: cutting outside text (check output, status descriptions) to a number
 * of characters without splitting a character, and without passing invalid
 * UTF-8 or control characters on to GitHub or a log line. Pure functions.
 */
#ifndef HQ_UTF8_H
#define HQ_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length (1-4) of the valid UTF-8 sequence at s, or 0: a stray continuation
 * byte, a truncated sequence, an overlong form or a surrogate. s is
 * NUL-terminated, so reading stops at its end. */
size_t hq_utf8_seq_len(const unsigned char *s);

/*
 * Copies at most max_chars characters of in into out (cap bytes, always
 * NUL-terminated; 4 * max_chars + 1 holds any input). An invalid byte
 * becomes '?', a control character becomes ctl_repl. With first_line, the
 * copy stops at the first '\n' (and drops a '\r' before it).
 */
void hq_utf8_cut(const char *in, size_t max_chars, bool first_line, char ctl_repl, char *out,
                 size_t cap);

#endif
