/*
 * github_opts: the checks of struct hq_github_opts (github.h), for
 * hq_github_create; hq_github_opts_init lives beside them in github_opts.c.
 */
#ifndef HQ_GITHUB_OPTS_H
#define HQ_GITHUB_OPTS_H

#include "github.h"

#include <stddef.h>

/* 0, or HQ_ECONFIG with err naming the variable and saying why (an API URL
 * of api_max bytes or more is too long). */
HQ_WUR int hq_github_opts_check(const struct hq_github_opts *o, size_t api_max,
                                struct hq_cfgerr *err);

#endif
