/*
 * hq_error: the one error convention of hookq.
 *
 * Every fallible function returns int: 0 on success, a negative errno value
 * (-ENOMEM, -EINVAL, ...) or one of the project's own codes below, which live
 * in a reserved range far from errno values. hq_strerror() names them all.
 */
#ifndef HQ_ERROR_H
#define HQ_ERROR_H

#define HQ_WUR __attribute__((warn_unused_result))

enum {
    HQ_ERR_BASE = -10000,
    HQ_EFULL = -10001,      /* queue storage full (LMDB map or disk) */
    HQ_ENOTFOUND = -10002,  /* no such event, dead letter or repository */
    HQ_EDUPLICATE = -10003, /* delivery already seen within the dedup window */
    HQ_ENOTREADY = -10004,  /* nothing ready to lease now */
    HQ_ELEASELOST = -10005, /* the lease expired and may belong to another worker */
    HQ_ESCHEMA = -10006,    /* database has a newer or unknown schema version */
    HQ_ECORRUPT = -10007,   /* a stored record does not decode */
    HQ_ESTORAGE = -10008,   /* other storage failure (LMDB error) */
    HQ_ECONFIG = -10009,    /* invalid configuration value */
    HQ_ETOOBIG = -10010,    /* input over its size cap */
    HQ_EPARSE = -10011,     /* malformed input */
    HQ_ESIGNATURE = -10012, /* signature missing, malformed or not matching */
    HQ_ESHUTDOWN = -10013,  /* the component is shutting down */
    HQ_ETIMEOUT = -10014,   /* an operation ran out of time */
    HQ_EHTTP = -10015,      /* transport-level HTTP failure */
    HQ_EDBLOST = -10016,    /* the database file is empty or shorter than its header */
    HQ_ERR_LAST = -10017,
};

/* Returns a static description of any code (errno or project code). Thread-safe. */
const char *hq_strerror(int code);

#endif
