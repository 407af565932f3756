/*
 * install_map: which installation of the App covers a repository, as learnt
 * from GET /repos/{owner}/{repo}/installation (schema/design.md §4, "GitHub
 * authentication"). The GitHub client asks the map first and asks GitHub
 * only on a miss; the request itself stays in github.c.
 *
 * Repository names are compared case-insensitively, as GitHub does. The map
 * holds at most max_entries repositories; the put that would go past that
 * empties it first and starts over, which bounds its memory and costs only
 * lookups that are cheap to redo.
 *
 * Ownership: the map owns its entries; put copies the name, so the caller
 * keeps its string. Threads: create and destroy run while no other thread
 * uses the map; get and put may be called from any number of threads at
 * once (one internal lock, held for the lookup or the insertion only, never
 * while the caller does anything else).
 */
#ifndef HQ_INSTALL_MAP_H
#define HQ_INSTALL_MAP_H

#include "hq_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hq_install_map hq_install_map;

#define HQ_INSTALL_MAP_REPO_MAX 140 /* owner (39) "/" name (100), without the NUL */

/* An empty map for at most max_entries (>= 1) repositories. Returns 0 and
 * *out, -EINVAL for max_entries 0, -ENOMEM, or the error of
 * pthread_mutex_init; nothing is left allocated on failure. */
HQ_WUR int hq_install_map_create(size_t max_entries, hq_install_map **out);

/* Frees every entry; no call may be in progress. NULL is ok. */
void hq_install_map_destroy(hq_install_map *m);

/* True with *id set when repo (any case) is in the map; false, *id left
 * alone, when it is not or the name is longer than HQ_INSTALL_MAP_REPO_MAX. */
bool hq_install_map_get(hq_install_map *m, const char *repo, uint64_t *id);

/*
 * Remembers that installation id covers repo (any case), replacing what was
 * known of it. Returns 0, -EINVAL for an empty name or one longer than
 * HQ_INSTALL_MAP_REPO_MAX or id 0, or -ENOMEM; on failure the map is as it
 * was.
 */
HQ_WUR int hq_install_map_put(hq_install_map *m, const char *repo, uint64_t id);

#endif
