/* hq_error: names for every error code; see hq_error.h. */
#include "hq_error.h"

#include <string.h>

const char *hq_strerror(int code)
{
    switch (code) {
    case 0: return "success";
    case HQ_EFULL: return "queue storage full";
    case HQ_ENOTFOUND: return "not found";
    case HQ_EDUPLICATE: return "duplicate delivery";
    case HQ_ENOTREADY: return "nothing ready";
    case HQ_ELEASELOST: return "lease lost";
    case HQ_ESCHEMA: return "unsupported schema version";
    case HQ_ECORRUPT: return "corrupt record";
    case HQ_ESTORAGE: return "storage error";
    case HQ_ECONFIG: return "invalid configuration";
    case HQ_ETOOBIG: return "too large";
    case HQ_EPARSE: return "malformed input";
    case HQ_ESIGNATURE: return "bad signature";
    case HQ_ESHUTDOWN: return "shutting down";
    case HQ_ETIMEOUT: return "timed out";
    case HQ_EHTTP: return "HTTP transport error";
    case HQ_EDBLOST: return "the database file is empty or truncated (its contents were lost)";
    default: break;
    }
    if (code < 0 && code > HQ_ERR_BASE) {
        /* strerrordesc_np is thread-safe, unlike strerror. */
        const char *d = strerrordesc_np(-code);
        return d ? d : "unknown error";
    }
    return "unknown error";
}
