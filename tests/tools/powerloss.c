/*
 * powerloss: an LD_PRELOAD interposer that makes a simulated power loss
 * possible (issue 12: "Durability is the product"). A kill -9 keeps the page
 * cache, so a missing sync never shows under it; with this library loaded,
 * every change to a file under HQ_POWERLOSS_DIR is first saved to an undo
 * journal beside the file (powerloss_journal.h), and an fsync/fdatasync that
 * returns empties it. After a kill -9, powerloss_apply plays the journals
 * back: each file is as it was at its last sync, as after a power loss.
 *
 * Environment:
 *   HQ_POWERLOSS_DIR      the directory whose regular files are tracked (the
 *                         files directly in it); unset, the library only
 *                         passes calls through
 *   HQ_POWERLOSS_EXCLUDE  colon-separated file names left alone (lock files,
 *                         files mapped writable): e.g. "lock.mdb:wake"
 *   HQ_POWERLOSS_SKIP_LAST_SYNC=1
 *                         a negative control: every sync is one sync late.
 *                         An fsync/fdatasync, or a write through an O_DSYNC
 *                         or O_SYNC descriptor, makes durable only what the
 *                         sync before it covered, as if each commit path
 *                         had skipped its last sync (LMDB's meta page write
 *                         without MDB_NOMETASYNC; the sync that covers a
 *                         commit's meta page with it)
 *   HQ_POWERLOSS_FAIL_SYNC=N
 *                         the N-th fsync/fdatasync of tracked files (counted
 *                         from 1 over the process) fails with EIO and syncs
 *                         nothing, as a disk error would; the others work
 *   HQ_POWERLOSS_SKIP_DATA_SYNC=1
 *                         a negative control: fsync/fdatasync of a tracked
 *                         file return 0 and sync nothing
 *
 * Covered: open/openat (O_TRUNC is journaled, O_APPEND and O_DSYNC are
 * honoured), write, pwrite, writev, pwritev, ftruncate, fsync, fdatasync,
 * sync, syncfs, dup/dup2/dup3 and close. A writable MAP_SHARED mmap of a
 * tracked file fails with EACCES (its stores could not be journaled).
 * NEEDSWORK: fcntl(F_DUPFD), mprotect, fallocate, truncate(path),
 * copy_file_range and stdio's internal writes pass through untracked;
 * neither LMDB nor hookq uses them on its data file. A file created under the
 * library counts as created durably (no directory fsync is asked for).
 *
 * One process at a time tracks a file (a flock on its journal says so). The
 * library's state is process-global by nature: the tables below map
 * descriptors to tracked files. Each tracked file has a lock that
 * serializes its journal with its writes and syncs; table_lock protects the
 * file table and is taken before a file's lock, never after.
 */
#include "powerloss_journal.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define PL_MAX_FDS   4096 /* tracked descriptors must be below this */
#define PL_MAX_FILES 32   /* distinct tracked files per process */
#define PL_COPY_SIZE 65536

struct pl_file {
    dev_t dev;
    ino_t ino;
    int rfd;              /* FILE opened for reading: the undo's source */
    int jfd;              /* the undo journal, FILE.plundo */
    uint64_t jlen;        /* bytes appended to it since the last sync */
    uint64_t mark;        /* skip_last_sync: where the records since the last
                           * sync begin; those before it are one sync late */
    pthread_mutex_t lock; /* serializes jfd/jlen with the file's writes, syncs */
    int skip_last_sync;   /* HQ_POWERLOSS_SKIP_LAST_SYNC when it was opened */
    int skip_data_sync;   /* HQ_POWERLOSS_SKIP_DATA_SYNC when it was opened */
    char path[PATH_MAX];
};

struct pl_fd {
    _Atomic(struct pl_file *) file; /* NULL: not tracked */
    int append;                     /* opened O_APPEND */
    int dsync;                      /* opened O_DSYNC or O_SYNC */
};

static struct {
    ssize_t (*write)(int, const void *, size_t);
    ssize_t (*pwrite)(int, const void *, size_t, off_t);
    ssize_t (*writev)(int, const struct iovec *, int);
    ssize_t (*pwritev)(int, const struct iovec *, int, off_t);
    int (*open)(const char *, int, ...);
    int (*openat)(int, const char *, int, ...);
    int (*close)(int);
    int (*dup)(int);
    int (*dup2)(int, int);
    int (*dup3)(int, int, int);
    int (*ftruncate)(int, off_t);
    int (*fsync)(int);
    int (*fdatasync)(int);
    int (*syncfs)(int);
    void (*sync)(void);
    void *(*mmap)(void *, size_t, int, int, int, off_t);
} real;

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER; /* files[], nfiles */
static struct pl_file files[PL_MAX_FILES];
static _Atomic int nfiles;
static struct pl_fd fds[PL_MAX_FDS];

static void *next_symbol(const char *name)
{
    void *p = dlsym(RTLD_NEXT, name);
    if (p == NULL) {
        fprintf(stderr, "powerloss: no next definition of %s\n", name);
        abort();
    }
    return p;
}

static int env_flag(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && strcmp(v, "1") == 0;
}

static void init(void)
{
    /* dlsym returns void *; copying it keeps ISO C's object/function pointer
     * rule out of the way. */
#define RESOLVE(f)                                                                                 \
    do {                                                                                           \
        void *p_ = next_symbol(#f);                                                                \
        memcpy(&real.f, &p_, sizeof(p_));                                                          \
    } while (0)
    RESOLVE(write);
    RESOLVE(pwrite);
    RESOLVE(writev);
    RESOLVE(pwritev);
    RESOLVE(open);
    RESOLVE(openat);
    RESOLVE(close);
    RESOLVE(dup);
    RESOLVE(dup2);
    RESOLVE(dup3);
    RESOLVE(ftruncate);
    RESOLVE(fsync);
    RESOLVE(fdatasync);
    RESOLVE(syncfs);
    RESOLVE(sync);
    RESOLVE(mmap);
#undef RESOLVE
}

static void ensure_init(void)
{
    pthread_once(&init_once, init);
}

__attribute__((constructor)) static void powerloss_load(void)
{
    ensure_init();
}

static struct pl_file *tracked(int fd)
{
    if (fd < 0 || fd >= PL_MAX_FDS)
        return NULL;
    return atomic_load_explicit(&fds[fd].file, memory_order_acquire);
}

/* True when name is one of the colon-separated names in list. */
static int listed(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p != NULL && *p != '\0';) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && memcmp(p, name, n) == 0)
            return 1;
        p = end ? end + 1 : NULL;
    }
    return 0;
}

/* True when the file open on fd lies directly in HQ_POWERLOSS_DIR and is
 * neither excluded nor a journal; its canonical path goes to path. */
static int wanted(int fd, char *path, size_t size)
{
    const char *dir = getenv("HQ_POWERLOSS_DIR");
    char canon_dir[PATH_MAX], link[64];
    if (dir == NULL || *dir == '\0' || realpath(dir, canon_dir) == NULL)
        return 0;
    int n = snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    if (n < 0 || (size_t)n >= sizeof(link))
        return 0;
    ssize_t len = readlink(link, path, size - 1);
    if (len <= 0 || (size_t)len >= size - 1)
        return 0;
    path[len] = '\0';
    char *slash = strrchr(path, '/');
    size_t dlen = strlen(canon_dir);
    if (slash == NULL || (size_t)(slash - path) != dlen || memcmp(path, canon_dir, dlen) != 0)
        return 0;
    const char *name = slash + 1;
    size_t nlen = strlen(name), slen = strlen(PL_JOURNAL_SUFFIX);
    if (nlen >= slen && strcmp(name + nlen - slen, PL_JOURNAL_SUFFIX) == 0)
        return 0;
    return !listed(getenv("HQ_POWERLOSS_EXCLUDE"), name);
}

/* The tracked file for st, created (journal opened, locked, checked empty)
 * on first use. NULL with errno set and a line on stderr on failure. */
static struct pl_file *file_for(const struct stat *st, const char *path)
{
    struct pl_file *f = NULL;
    pthread_mutex_lock(&table_lock);
    int count = atomic_load(&nfiles);
    for (int i = 0; i < count; i++) {
        if (files[i].dev == st->st_dev && files[i].ino == st->st_ino) {
            f = &files[i];
            goto out;
        }
    }
    if (count == PL_MAX_FILES) {
        fprintf(stderr, "powerloss: more than %d tracked files\n", PL_MAX_FILES);
        errno = EMFILE;
        goto out;
    }
    struct pl_file *nf = &files[count];
    int n = snprintf(nf->path, sizeof(nf->path), "%s%s", path, PL_JOURNAL_SUFFIX);
    if (n < 0 || (size_t)n >= sizeof(nf->path)) {
        errno = ENAMETOOLONG;
        goto out;
    }
    int jfd = real.open(nf->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    struct stat jst;
    if (jfd < 0 || flock(jfd, LOCK_EX | LOCK_NB) != 0 || fstat(jfd, &jst) != 0 ||
        jst.st_size != 0) {
        int err = jfd < 0 ? errno : EBUSY;
        fprintf(stderr,
                "powerloss: %s: journal unusable (another process tracks the file, or a "
                "power loss was not applied: run powerloss_apply)\n",
                nf->path);
        if (jfd >= 0)
            real.close(jfd);
        errno = err;
        goto out;
    }
    if ((nf->rfd = real.open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        int err = errno;
        fprintf(stderr, "powerloss: %s: %s\n", path, strerror(err));
        real.close(jfd);
        errno = err;
        goto out;
    }
    nf->dev = st->st_dev;
    nf->ino = st->st_ino;
    nf->jfd = jfd;
    nf->jlen = 0;
    nf->mark = 0;
    /* Read here, not at load: a sanitizer runtime loaded first may call in
     * before the environment is set up. */
    nf->skip_last_sync = env_flag("HQ_POWERLOSS_SKIP_LAST_SYNC");
    nf->skip_data_sync = env_flag("HQ_POWERLOSS_SKIP_DATA_SYNC");
    pthread_mutex_init(&nf->lock, NULL);
    f = nf;
    atomic_store(&nfiles, count + 1);
out:
    pthread_mutex_unlock(&table_lock);
    return f;
}

/* Appends len bytes to f's journal. Caller holds f->lock. 0 or -1 (errno). */
static int journal_append(struct pl_file *f, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = real.pwrite(f->jfd, p, len, (off_t)f->jlen);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
        f->jlen += (uint64_t)n;
    }
    return 0;
}

/* Saves what f holds at [off, off+len) (up to its end, size) before it
 * changes. Caller holds f->lock. 0, or -1 with errno and nothing changed. */
static int journal_undo(struct pl_file *f, uint64_t off, uint64_t len, uint64_t size)
{
    uint64_t have = off >= size ? 0 : (size - off < len ? size - off : len);
    struct pl_record r = {PL_MAGIC, PL_UNDO, off, have, size};
    uint64_t start = f->jlen;
    char *buf = NULL;
    int rc = -1;
    if (journal_append(f, &r, sizeof(r)) != 0)
        goto out;
    if (have > 0 && (buf = malloc(PL_COPY_SIZE)) == NULL)
        goto out;
    for (uint64_t done = 0; done < have;) {
        size_t want = have - done < PL_COPY_SIZE ? (size_t)(have - done) : PL_COPY_SIZE;
        ssize_t n = pread(f->rfd, buf, want, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || journal_append(f, buf, (size_t)n) != 0) {
            if (n == 0)
                errno = EIO;
            goto out;
        }
        done += (uint64_t)n;
    }
    rc = 0;
out:
    if (rc != 0) {
        int err = errno;
        fprintf(stderr, "powerloss: %s: %s\n", f->path, strerror(err));
        real.ftruncate(f->jfd, (off_t)start); /* drop the partial record */
        f->jlen = start;
        errno = err;
    }
    free(buf);
    return rc;
}

static int journal_pin(struct pl_file *f, uint64_t off, uint64_t len)
{
    struct pl_record r = {PL_MAGIC, PL_PIN, off, len, 0};
    return journal_append(f, &r, sizeof(r));
}

/* After a sync of the file returned: everything before it is durable. */
static void journal_reset(struct pl_file *f)
{
    real.ftruncate(f->jfd, 0);
    f->jlen = 0;
    f->mark = 0;
}

/* skip_last_sync: after a sync returned, only what the sync before it saw is
 * durable. The records since that one ([mark, jlen)) move to the front of
 * the journal and stay to be undone; mark moves to the end. Caller holds
 * f->lock. */
static void journal_lag(struct pl_file *f)
{
    char buf[PL_COPY_SIZE];
    uint64_t from = f->mark, to = 0;
    while (from < f->jlen) {
        size_t want = f->jlen - from < sizeof(buf) ? (size_t)(f->jlen - from) : sizeof(buf);
        ssize_t n = pread(f->jfd, buf, want, (off_t)from);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || real.pwrite(f->jfd, buf, (size_t)n, (off_t)to) != n) {
            fprintf(stderr, "powerloss: %s: could not keep a late sync's records\n", f->path);
            return; /* the journal stays as it was: nothing is declared durable */
        }
        from += (uint64_t)n;
        to += (uint64_t)n;
    }
    real.ftruncate(f->jfd, (off_t)to);
    f->jlen = to;
    f->mark = to;
}

/* A sync of f returned (caller holds f->lock). */
static void journal_synced(struct pl_file *f)
{
    if (f->skip_last_sync)
        journal_lag(f);
    else
        journal_reset(f);
}

static int track(int fd, int flags)
{
    char path[PATH_MAX];
    struct stat st;
    int saved = errno;
    if (fd < 0 || !wanted(fd, path, sizeof(path)) || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        goto untracked;
    if (fd >= PL_MAX_FDS) {
        fprintf(stderr, "powerloss: %s: descriptor %d too large to track\n", path, fd);
        real.close(fd);
        errno = EMFILE;
        return -1;
    }
    struct pl_file *f = file_for(&st, path);
    if (f == NULL) {
        int err = errno;
        real.close(fd);
        errno = err;
        return -1;
    }
    fds[fd].append = (flags & O_APPEND) != 0;
    fds[fd].dsync = (flags & O_DSYNC) != 0;
    atomic_store_explicit(&fds[fd].file, f, memory_order_release);
    if (flags & O_TRUNC) {
        /* Opened without O_TRUNC (see open_common): truncate journaled. */
        if (ftruncate(fd, 0) != 0) {
            int err = errno;
            close(fd);
            errno = err;
            return -1;
        }
    }
untracked:
    errno = saved;
    return fd;
}

/* With a directory to track, O_TRUNC is held back and done through
 * ftruncate once the file is known: tracked, its old contents reach the
 * journal first; untracked, a regular file opened for writing is truncated
 * as the open would have (anything else ignores O_TRUNC). */
static int open_common(int dirfd, const char *path, int flags, mode_t mode)
{
    ensure_init();
    if (getenv("HQ_POWERLOSS_DIR") == NULL)
        return real.openat(dirfd, path, flags, mode);
    int fd = real.openat(dirfd, path, flags & ~O_TRUNC, mode);
    if (fd < 0)
        return fd;
    int saved = errno;
    if ((fd = track(fd, flags)) < 0 || tracked(fd) != NULL)
        return fd;
    struct stat st;
    if ((flags & O_TRUNC) && (flags & O_ACCMODE) != O_RDONLY && fstat(fd, &st) == 0 &&
        S_ISREG(st.st_mode) && real.ftruncate(fd, 0) != 0) {
        int err = errno;
        real.close(fd);
        errno = err;
        return -1;
    }
    errno = saved;
    return fd;
}

static mode_t mode_arg(int flags, va_list ap)
{
    int wants = (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
    return wants ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    return open_common(AT_FDCWD, path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    return open_common(AT_FDCWD, path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    return open_common(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    return open_common(dirfd, path, flags, mode);
}

int creat(const char *path, mode_t mode)
{
    return open_common(AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC, mode);
}

int creat64(const char *path, mode_t mode)
{
    return open_common(AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC, mode);
}

static void untrack(int fd)
{
    if (fd >= 0 && fd < PL_MAX_FDS)
        atomic_store_explicit(&fds[fd].file, NULL, memory_order_release);
}

int close(int fd)
{
    ensure_init();
    untrack(fd);
    return real.close(fd);
}

static int copy_tracking(int oldfd, int newfd)
{
    struct pl_file *f = tracked(oldfd);
    if (newfd < 0 || f == NULL)
        return newfd;
    if (newfd >= PL_MAX_FDS) {
        real.close(newfd);
        errno = EMFILE;
        return -1;
    }
    fds[newfd].append = fds[oldfd].append;
    fds[newfd].dsync = fds[oldfd].dsync;
    atomic_store_explicit(&fds[newfd].file, f, memory_order_release);
    return newfd;
}

int dup(int oldfd)
{
    ensure_init();
    return copy_tracking(oldfd, real.dup(oldfd));
}

int dup2(int oldfd, int newfd)
{
    ensure_init();
    if (oldfd != newfd)
        untrack(newfd);
    return copy_tracking(oldfd, real.dup2(oldfd, newfd));
}

int dup3(int oldfd, int newfd, int flags)
{
    ensure_init();
    if (oldfd != newfd)
        untrack(newfd);
    return copy_tracking(oldfd, real.dup3(oldfd, newfd, flags));
}

enum how { AT_POSITION, AT_OFFSET };

/* One write to a tracked file: journal, write, and pin it when the
 * descriptor syncs each write. off is used for AT_OFFSET only. */
static ssize_t tracked_write(struct pl_file *f, int fd, const struct iovec *iov, int iovcnt,
                             enum how how, off_t off)
{
    uint64_t total = 0;
    struct stat st;
    ssize_t n = -1;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    pthread_mutex_lock(&f->lock);
    if (fstat(fd, &st) != 0)
        goto out;
    off_t where = off;
    if (how == AT_POSITION)
        where = fds[fd].append ? st.st_size : lseek(fd, 0, SEEK_CUR);
    if (where < 0)
        goto out;
    if (journal_undo(f, (uint64_t)where, total, (uint64_t)st.st_size) != 0) {
        errno = EIO;
        goto out;
    }
    if (how == AT_POSITION)
        n = real.writev(fd, iov, iovcnt);
    else
        n = real.pwritev(fd, iov, iovcnt, off);
    if (n > 0 && fds[fd].dsync && f->skip_last_sync)
        journal_lag(f);
    else if (n > 0 && fds[fd].dsync && journal_pin(f, (uint64_t)where, (uint64_t)n))
        fprintf(stderr, "powerloss: %s: could not pin a synced write\n", f->path);
out:
    pthread_mutex_unlock(&f->lock);
    return n;
}

ssize_t write(int fd, const void *buf, size_t count)
{
    ensure_init();
    struct pl_file *f = tracked(fd);
    if (f == NULL)
        return real.write(fd, buf, count);
    struct iovec v = {(void *)buf, count};
    return tracked_write(f, fd, &v, 1, AT_POSITION, 0);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t off)
{
    ensure_init();
    struct pl_file *f = tracked(fd);
    if (f == NULL || off < 0)
        return real.pwrite(fd, buf, count, off);
    struct iovec v = {(void *)buf, count};
    return tracked_write(f, fd, &v, 1, AT_OFFSET, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off_t off)
{
    return pwrite(fd, buf, count, off);
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
    ensure_init();
    struct pl_file *f = tracked(fd);
    if (f == NULL || iovcnt < 0)
        return real.writev(fd, iov, iovcnt);
    return tracked_write(f, fd, iov, iovcnt, AT_POSITION, 0);
}

ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
    ensure_init();
    struct pl_file *f = tracked(fd);
    if (f == NULL || iovcnt < 0 || off < 0)
        return real.pwritev(fd, iov, iovcnt, off);
    return tracked_write(f, fd, iov, iovcnt, AT_OFFSET, off);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
    return pwritev(fd, iov, iovcnt, off);
}

int ftruncate(int fd, off_t length)
{
    ensure_init();
    struct pl_file *f = tracked(fd);
    if (f == NULL || length < 0)
        return real.ftruncate(fd, length);
    struct stat st;
    int rc = -1;
    pthread_mutex_lock(&f->lock);
    if (fstat(fd, &st) != 0)
        goto out;
    /* What lies past the new end, and the old size, are the undo. */
    uint64_t cut = length < st.st_size ? (uint64_t)(st.st_size - length) : 0;
    if (journal_undo(f, (uint64_t)length, cut, (uint64_t)st.st_size) != 0) {
        errno = EIO;
        goto out;
    }
    rc = real.ftruncate(fd, length);
out:
    pthread_mutex_unlock(&f->lock);
    return rc;
}

int ftruncate64(int fd, off_t length)
{
    return ftruncate(fd, length);
}

/* Syncs of tracked files so far, for HQ_POWERLOSS_FAIL_SYNC. */
static _Atomic long sync_count;

static int tracked_sync(int fd, int (*sync_fn)(int))
{
    struct pl_file *f = tracked(fd);
    if (f == NULL)
        return sync_fn(fd);
    if (f->skip_data_sync)
        return 0;
    const char *fail = getenv("HQ_POWERLOSS_FAIL_SYNC");
    long nth = atomic_fetch_add(&sync_count, 1) + 1;
    if (fail != NULL && strtol(fail, NULL, 10) == nth) {
        errno = EIO; /* the journal keeps its records: nothing became durable */
        return -1;
    }
    pthread_mutex_lock(&f->lock);
    int rc = sync_fn(fd);
    if (rc == 0)
        journal_synced(f);
    pthread_mutex_unlock(&f->lock);
    return rc;
}

int fsync(int fd)
{
    ensure_init();
    return tracked_sync(fd, real.fsync);
}

int fdatasync(int fd)
{
    ensure_init();
    return tracked_sync(fd, real.fdatasync);
}

/* A whole-system or whole-filesystem sync makes every tracked file durable;
 * files on other file systems are reset too (a harmless overstatement of
 * syncfs: the tests keep all tracked files in one directory). */
static void reset_all(void)
{
    int count = atomic_load(&nfiles);
    for (int i = 0; i < count; i++) {
        if (files[i].skip_data_sync)
            continue;
        pthread_mutex_lock(&files[i].lock);
        journal_synced(&files[i]);
        pthread_mutex_unlock(&files[i].lock);
    }
}

void sync(void)
{
    ensure_init();
    real.sync();
    reset_all();
}

int syncfs(int fd)
{
    ensure_init();
    int rc = real.syncfs(fd);
    if (rc == 0)
        reset_all();
    return rc;
}

void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t off)
{
    ensure_init();
    if (tracked(fd) != NULL && (prot & PROT_WRITE) && (flags & MAP_SHARED)) {
        fprintf(stderr, "powerloss: refusing a writable shared mapping of a tracked file\n");
        errno = EACCES;
        return MAP_FAILED;
    }
    return real.mmap(addr, length, prot, flags, fd, off);
}

void *mmap64(void *addr, size_t length, int prot, int flags, int fd, off_t off)
{
    return mmap(addr, length, prot, flags, fd, off);
}
