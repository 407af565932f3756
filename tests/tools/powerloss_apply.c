/*
 * powerloss_apply: the "power loss" of a simulated power loss. Run after the
 * process that had the powerloss interposer loaded was killed: for every
 * FILE.plundo in DIR it plays the undo journal (powerloss_journal.h) back,
 * newest record first, so that FILE is as it was at its last sync, then
 * removes the journal.
 *
 *   powerloss_apply DIR
 *
 * Prints one line per journal: "FILE: dropped N unsynced writes (B bytes
 * restored), P synced writes kept[, torn tail ignored]"; a write whose undo
 * changes nothing (all of it synced later) is not counted as dropped. Exit status 0, or 1 with a
 * line on stderr (the journal is then kept).
 */
#include "powerloss_journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define APPLY_MAX_RECORDS (1u << 24) /* far above what a test round writes */

struct range {
    uint64_t off, len;
};

struct pins {
    struct range *v;
    size_t n, cap;
    uint64_t end; /* the largest off+len: a durable size */
};

struct stats {
    unsigned long dropped; /* undos that changed the file: writes lost */
    unsigned long kept;    /* pins: writes synced on their own */
    uint64_t bytes;        /* bytes restored */
    int torn;
};

static int pins_add(struct pins *p, uint64_t off, uint64_t len)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        struct range *v = realloc(p->v, cap * sizeof(*v));
        if (v == NULL)
            return -ENOMEM;
        p->v = v;
        p->cap = cap;
    }
    p->v[p->n++] = (struct range){off, len};
    if (off + len > p->end)
        p->end = off + len;
    return 0;
}

static int write_all(int fd, const char *buf, uint64_t len, uint64_t off)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, buf, (size_t)len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        buf += n;
        off += (uint64_t)n;
        len -= (uint64_t)n;
    }
    return 0;
}

/* Writes buf at off except where pins[from..] cover it (those bytes were
 * synced after buf's undo was taken, so they stay); adds what it wrote to
 * *done. */
static int restore(int fd, const struct pins *p, size_t from, const char *buf, uint64_t off,
                   uint64_t len, uint64_t *done)
{
    for (size_t i = from; i < p->n && len > 0; i++) {
        const struct range *r = &p->v[i];
        if (r->off >= off + len || r->off + r->len <= off)
            continue;
        uint64_t lo = r->off > off ? r->off : off;
        uint64_t hi = r->off + r->len < off + len ? r->off + r->len : off + len;
        int rc = restore(fd, p, i + 1, buf, off, lo - off, done);
        if (rc != 0)
            return rc;
        return restore(fd, p, i + 1, buf + (hi - off), hi, off + len - hi, done);
    }
    *done += len;
    return len > 0 ? write_all(fd, buf, len, off) : 0;
}

static int read_at(int fd, void *buf, size_t len, uint64_t off)
{
    ssize_t n = pread(fd, buf, len, (off_t)off);
    return n == (ssize_t)len ? 0 : (n < 0 ? -errno : -EIO);
}

/* Plays journal jfd back onto fd. */
static int apply(int jfd, int fd, struct stats *s)
{
    struct stat jst;
    uint64_t *at = NULL;
    size_t n = 0, cap = 0;
    struct pins pins = {0};
    char *buf = NULL;
    int rc = 0;
    if (fstat(jfd, &jst) != 0)
        return -errno;
    /* Forward: where each complete record starts. */
    for (uint64_t off = 0; off < (uint64_t)jst.st_size;) {
        struct pl_record r;
        if (off + sizeof(r) > (uint64_t)jst.st_size || read_at(jfd, &r, sizeof(r), off) != 0 ||
            r.magic != PL_MAGIC || (r.kind != PL_UNDO && r.kind != PL_PIN)) {
            s->torn = 1;
            break;
        }
        uint64_t next = off + sizeof(r) + (r.kind == PL_UNDO ? r.len : 0);
        if (next > (uint64_t)jst.st_size) {
            s->torn = 1;
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            uint64_t *v = cap <= APPLY_MAX_RECORDS ? realloc(at, cap * sizeof(*v)) : NULL;
            if (v == NULL) {
                rc = -ENOMEM;
                goto out;
            }
            at = v;
        }
        at[n++] = off;
        off = next;
    }
    /* Backward: undo, keeping what was pinned later. */
    for (size_t i = n; i-- > 0;) {
        struct pl_record r;
        if ((rc = read_at(jfd, &r, sizeof(r), at[i])) != 0)
            goto out;
        if (r.kind == PL_PIN) {
            if ((rc = pins_add(&pins, r.off, r.len)) != 0)
                goto out;
            s->kept++;
            continue;
        }
        uint64_t size = r.size > pins.end ? r.size : pins.end, restored = 0;
        struct stat st;
        if (fstat(fd, &st) != 0 || ftruncate(fd, (off_t)size) != 0) {
            rc = -errno;
            goto out;
        }
        if (r.len > 0) {
            char *b = realloc(buf, (size_t)r.len);
            if (b == NULL) {
                rc = -ENOMEM;
                goto out;
            }
            buf = b;
            if ((rc = read_at(jfd, buf, (size_t)r.len, at[i] + sizeof(r))) != 0 ||
                (rc = restore(fd, &pins, 0, buf, r.off, r.len, &restored)) != 0)
                goto out;
        }
        s->dropped += restored > 0 || (uint64_t)st.st_size != size;
        s->bytes += restored;
    }
    if (fsync(fd) != 0)
        rc = -errno;
out:
    free(at);
    free(pins.v);
    free(buf);
    return rc;
}

/* Applies DIR/NAME (a journal) to the file it belongs to; removes it. */
static int apply_one(const char *dir, const char *name)
{
    char jpath[PATH_MAX], path[PATH_MAX];
    struct stats s = {0};
    int rc = 0, fd = -1, jfd = -1;
    size_t nlen = strlen(name) - strlen(PL_JOURNAL_SUFFIX);
    int n1 = snprintf(jpath, sizeof(jpath), "%s/%s", dir, name);
    int n2 = snprintf(path, sizeof(path), "%s/%.*s", dir, (int)nlen, name);
    if (n1 < 0 || (size_t)n1 >= sizeof(jpath) || n2 < 0 || (size_t)n2 >= sizeof(path)) {
        fprintf(stderr, "powerloss_apply: %s/%s: path too long\n", dir, name);
        return 1;
    }
    if ((jfd = open(jpath, O_RDONLY | O_CLOEXEC)) < 0 ||
        (fd = open(path, O_RDWR | O_CLOEXEC)) < 0) {
        rc = -errno;
        goto out;
    }
    if ((rc = apply(jfd, fd, &s)) != 0)
        goto out;
    if (unlink(jpath) != 0)
        rc = -errno;
    printf("%s: dropped %lu unsynced writes (%" PRIu64 " bytes restored), %lu synced writes "
           "kept%s\n",
           path, s.dropped, s.bytes, s.kept, s.torn ? ", torn tail ignored" : "");
out:
    if (rc != 0)
        fprintf(stderr, "powerloss_apply: %s: %s\n", jpath, strerror(-rc));
    if (fd >= 0)
        close(fd);
    if (jfd >= 0)
        close(jfd);
    return rc != 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: powerloss_apply DIR\n");
        return 1;
    }
    DIR *d = opendir(argv[1]);
    if (d == NULL) {
        fprintf(stderr, "powerloss_apply: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    int failed = 0;
    size_t slen = strlen(PL_JOURNAL_SUFFIX);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (len > slen && strcmp(e->d_name + len - slen, PL_JOURNAL_SUFFIX) == 0)
            failed |= apply_one(argv[1], e->d_name);
    }
    closedir(d);
    fflush(stdout);
    return failed;
}
