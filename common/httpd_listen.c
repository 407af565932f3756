/*
 * httpd_listen: the listening socket of an HTTP service; see httpd_listen.h.
 * The syntax is the one README documents for HOOKQ_LISTEN; the socket is
 * opened here rather than by libmicrohttpd so that a unix socket, a stale
 * socket file and the actual port of "port 0" are handled once.
 */
#include "httpd_listen.h"
#include "config.h"
#include "dynbuf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define LISTEN_BACKLOG 1024

static int parse_unix(const char *path, struct hq_httpd_listen *out, const char **why)
{
    size_t n = strlen(path);
    if (n == 0 || path[0] != '/') {
        *why = "unix socket path must be absolute (unix:/path)";
        return HQ_ECONFIG;
    }
    if (n >= sizeof(out->path)) {
        *why = "unix socket path too long";
        return HQ_ECONFIG;
    }
    out->is_unix = true;
    memcpy(out->path, path, n + 1);
    return 0;
}

int hq_httpd_listen_parse(const char *value, struct hq_httpd_listen *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    *why = NULL;
    if (strncmp(value, "unix:", 5) == 0)
        return parse_unix(value + 5, out, why);
    const char *colon = strrchr(value, ':');
    if (colon == NULL || colon == value) {
        *why = "expected host:port or unix:/path";
        return HQ_ECONFIG;
    }
    const char *host = value;
    size_t hostlen = (size_t)(colon - value);
    if (host[0] == '[') {
        if (hostlen < 3 || host[hostlen - 1] != ']') {
            *why = "expected [address]:port for IPv6";
            return HQ_ECONFIG;
        }
        host++;
        hostlen -= 2;
    } else if (memchr(host, ':', hostlen) != NULL) {
        *why = "IPv6 addresses go in brackets: [::1]:8080";
        return HQ_ECONFIG;
    }
    if (hostlen >= sizeof(out->host)) {
        *why = "host too long";
        return HQ_ECONFIG;
    }
    uint64_t port;
    if (hq_parse_uint(colon + 1, 0, 65535, &port) != 0) {
        *why = "port must be a number in 0..65535";
        return HQ_ECONFIG;
    }
    memcpy(out->host, host, hostlen);
    out->host[hostlen] = '\0';
    if (hq_snprintf(out->port, sizeof(out->port), "%u", (unsigned)port) != 0) {
        *why = "port too long";
        return HQ_ECONFIG;
    }
    return 0;
}

/* Replaces a unix socket file only when nobody accepts on it. */
static int unix_clear_stale(const struct sockaddr_un *sa)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
        rc = -EADDRINUSE;
    else if (errno == ECONNREFUSED && unlink(sa->sun_path) != 0)
        rc = -errno;
    close(fd);
    return rc;
}

static int listen_unix(const struct hq_httpd_listen *l, struct hq_httpd_socket *out)
{
    int rc = 0;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n = strnlen(l->path, sizeof(l->path));
    if (n == 0 || n >= sizeof(sa.sun_path))
        return -EINVAL;
    memcpy(sa.sun_path, l->path, n + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    rc = unix_clear_stale(&sa);
    if (rc != 0)
        goto out;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
        rc = -errno;
        goto out;
    }
    /* Fits: "unix:" and a sun_path are less than HQ_HTTPD_DESC_MAX. */
    if (hq_snprintf(out->desc, sizeof(out->desc), "unix:%s", l->path) != 0)
        out->desc[0] = '\0';
    out->port = 0;
    out->fd = fd;
    fd = -1;
out:
    if (fd >= 0)
        close(fd);
    return rc;
}

/* Fills out->port and out->desc from the address the socket got. */
static void describe_tcp(int fd, struct hq_httpd_socket *out)
{
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    bool v6 = false;
    if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == 0) {
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
            port = ntohs(sin->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
            port = ntohs(sin6->sin6_port);
            v6 = true;
        }
    }
    out->port = port;
    if (hq_snprintf(out->desc, sizeof(out->desc), v6 ? "[%s]:%u" : "%s:%u", host, port) != 0)
        out->desc[0] = '\0';
}

static int listen_tcp(const struct hq_httpd_listen *l, struct hq_httpd_socket *out)
{
    int rc = -EADDRNOTAVAIL;
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int fd = -1;
    if (getaddrinfo(l->host[0] ? l->host : NULL, l->port, &hints, &res) != 0)
        return -ENOENT;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) {
            rc = -errno;
            continue;
        }
        int one = 1;
        bool v6_only = l->v6_only && ai->ai_family == AF_INET6;
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
            (!v6_only || setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) == 0) &&
            bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, LISTEN_BACKLOG) == 0) {
            rc = 0;
            break;
        }
        rc = -errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (rc != 0)
        return rc;
    describe_tcp(fd, out);
    out->fd = fd;
    return 0;
}

int hq_httpd_listen_open(const struct hq_httpd_listen *l, struct hq_httpd_socket *out)
{
    out->fd = -1;
    out->port = 0;
    out->desc[0] = '\0';
    return l->is_unix ? listen_unix(l, out) : listen_tcp(l, out);
}
