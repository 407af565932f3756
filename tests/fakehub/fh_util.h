/*
 * fh_util: small helpers the other fakehub modules share: a thread-safe
 * front to cJSON's parser, UTF-8 counting and repair, base64url decoding.
 */
#ifndef FH_UTIL_H
#define FH_UTIL_H

#include "hq_error.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * Parses len bytes as one JSON value (nothing but whitespace after it).
 * NULL when it does not parse. cJSON keeps its last parse error in a global,
 * so calls are serialized by one mutex (parse_lock in fh_util.c); the result
 * is the caller's, freed with cJSON_Delete.
 */
cJSON *fh_json_parse(const char *buf, size_t len);

/* Code points in s[0..len) when it is valid UTF-8; -1 when it is not. */
long fh_utf8_count(const char *s, size_t len);

/* A malloc'd NUL-terminated copy of s[0..len) in which every byte that is not
 * part of valid UTF-8 (and every NUL) became U+FFFD; NULL when out of memory. */
char *fh_utf8_repair(const char *s, size_t len);

/* Decodes unpadded base64url (RFC 4648 §5) into a malloc'd buffer with a
 * NUL after the data. 0, HQ_EPARSE on a bad character or length, -ENOMEM. */
HQ_WUR int fh_b64url_decode(const char *s, size_t len, unsigned char **out, size_t *outlen);

#endif
