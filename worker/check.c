/*
 * check: spawning, feeding and reaping the operator's check; see check.h.
 *
 * One poll loop per run multiplexes three things: writing the payload to the
 * child's stdin (non-blocking, so a check that never reads cannot block us),
 * reading its output, and the child's exit (a pidfd). The loop ends when the
 * child exited and its output reached EOF, or at the deadline.
 */
#include "check.h"
#include "clock.h"
#include "queue.h"
#include "utf8.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int hq_check_split(char *buf, char *argv[HQ_CHECK_MAX_ARGS + 1])
{
    int argc = 0;
    char *r = buf, *w = buf;
    for (;;) {
        while (*r == ' ' || *r == '\t' || *r == '\n')
            r++;
        if (*r == '\0')
            break;
        if (argc == HQ_CHECK_MAX_ARGS)
            return HQ_ETOOBIG;
        argv[argc++] = w;
        char quote = 0;
        while (*r != '\0' && (quote != 0 || (*r != ' ' && *r != '\t' && *r != '\n'))) {
            if (quote == 0 && (*r == '\'' || *r == '"')) {
                quote = *r++;
            } else if (quote != 0 && *r == quote) {
                quote = 0;
                r++;
            } else if (*r == '\\' && quote != '\'' && r[1] != '\0') {
                r++;
                *w++ = *r++;
            } else {
                *w++ = *r++;
            }
        }
        if (quote != 0)
            return HQ_EPARSE;
        bool end = *r == '\0';
        *w++ = '\0';
        if (end)
            break;
        r++;
    }
    argv[argc] = NULL;
    return argc == 0 ? HQ_EPARSE : argc;
}

static bool is_program(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int hq_check_resolve(const char *name, char *out, size_t cap)
{
    if (strchr(name, '/') != NULL) {
        if (strlen(name) >= cap)
            return HQ_ETOOBIG;
        if (!is_program(name))
            return -ENOENT;
        memcpy(out, name, strlen(name) + 1);
        return 0;
    }
    const char *path = getenv("PATH");
    if (path == NULL || path[0] == '\0')
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path != '\0') {
        const char *end = strchr(path, ':');
        size_t dl = end ? (size_t)(end - path) : strlen(path);
        int n = snprintf(out, cap, "%.*s/%s", (int)(dl ? dl : 1), dl ? path : ".", name);
        if (n > 0 && (size_t)n < cap && is_program(out))
            return 0;
        path += dl + (end ? 1 : 0);
    }
    return -ENOENT;
}

void hq_check_first_line(const char *text, size_t max_chars, char *out, size_t cap)
{
    hq_utf8_cut(text, max_chars, true, '?', out, cap);
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -errno : 0;
}

/* environ plus the event's variables; the strings live in store. */
static char **child_env(const struct hq_check_env *e, char store[7][512])
{
    size_t n = 0;
    while (environ[n] != NULL)
        n++;
    char **envp = calloc(n + 8, sizeof(char *));
    if (envp == NULL)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        /* Our own settings of these names win over inherited ones. */
        if (strncmp(environ[i], "HOOKQ_EVENT=", 12) == 0 ||
            strncmp(environ[i], "HOOKQ_ACTION=", 13) == 0 ||
            strncmp(environ[i], "HOOKQ_REPO=", 11) == 0 ||
            strncmp(environ[i], "HOOKQ_SHA=", 10) == 0 ||
            strncmp(environ[i], "HOOKQ_DELIVERY=", 15) == 0 ||
            strncmp(environ[i], "HOOKQ_ATTEMPT=", 14) == 0)
            continue;
        envp[k++] = environ[i];
    }
    snprintf(store[0], 512, "HOOKQ_EVENT=%s", e->event ? e->event : "");
    snprintf(store[1], 512, "HOOKQ_ACTION=%s", e->action ? e->action : "");
    snprintf(store[2], 512, "HOOKQ_REPO=%s", e->repo ? e->repo : "");
    snprintf(store[3], 512, "HOOKQ_SHA=%s", e->sha ? e->sha : "");
    snprintf(store[4], 512, "HOOKQ_DELIVERY=%s", e->delivery ? e->delivery : "");
    snprintf(store[5], 512, "HOOKQ_ATTEMPT=%u", e->attempt);
    for (int i = 0; i < 6; i++)
        envp[k++] = store[i];
    envp[k] = NULL;
    return envp;
}

int hq_check_run(char *const argv[], const struct hq_check_env *env, const char *payload,
                 size_t payload_len, int64_t timeout_ms, const atomic_bool *cancel,
                 struct hq_check_result *res)
{
    int rc = 0;
    int in[2] = {-1, -1}, outp[2] = {-1, -1}, pidfd = -1;
    char **envp = NULL;
    char store[7][512];
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    bool fa_init = false, attr_init = false;
    pid_t pid = -1;
    size_t out_len = 0, written = 0;
    int64_t start = hq_mono_ms();

    memset(res, 0, sizeof(*res));
    res->exit_code = -1;
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(outp, O_CLOEXEC) != 0) {
        rc = -errno;
        goto out;
    }
    envp = child_env(env, store);
    if (envp == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    posix_spawn_file_actions_init(&fa);
    fa_init = true;
    posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&fa, outp[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, outp[1], STDERR_FILENO);
    posix_spawnattr_init(&attr);
    attr_init = true;
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
    int err = posix_spawnp(&pid, argv[0], &fa, &attr, argv, envp);
    if (err != 0) {
        pid = -1;
        res->outcome = HQ_CHECK_SPAWN_FAILED;
        res->state = HQ_CHECK_ERROR;
        snprintf(res->description, sizeof(res->description), "check could not start: %s",
                 strerror(err));
        goto out;
    }
    close(in[0]), in[0] = -1;
    close(outp[1]), outp[1] = -1;
    if (payload_len == 0)
        close(in[1]), in[1] = -1;
    else if ((rc = set_nonblock(in[1])) != 0)
        goto kill_child;
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);

    bool exited = false, out_eof = false;
    int status = 0;
    pid_t pgid = pid;
    int64_t exited_at = 0;
    while (!(exited && out_eof)) {
        if (exited && hq_mono_ms() - exited_at > 200) {
            /* The check exited but a descendant holds its output open. */
            kill(-pgid, SIGKILL);
            out_eof = true;
            break;
        }
        int64_t left = timeout_ms - (hq_mono_ms() - start);
        if (left <= 0) {
            res->outcome = HQ_CHECK_TIMED_OUT;
            break;
        }
        if (cancel != NULL && atomic_load(cancel)) {
            res->outcome = HQ_CHECK_CANCELLED;
            break;
        }
        struct pollfd pf[3];
        int n = 0, i_out = -1, i_in = -1, i_pid = -1;
        if (!out_eof)
            pf[i_out = n++] = (struct pollfd){outp[0], POLLIN, 0};
        if (in[1] >= 0)
            pf[i_in = n++] = (struct pollfd){in[1], POLLOUT, 0};
        if (!exited && pidfd >= 0)
            pf[i_pid = n++] = (struct pollfd){pidfd, POLLIN, 0};
        /* Wake at least every 100 ms to see a cancel, and to reap without a pidfd. */
        int wait = left < 100 ? (int)left : 100;
        if (poll(pf, (nfds_t)n, wait) < 0 && errno != EINTR) {
            rc = -errno;
            goto kill_child;
        }
        if (i_out >= 0 && pf[i_out].revents != 0) {
            char buf[4096];
            ssize_t r = read(outp[0], buf, sizeof(buf));
            if (r > 0) {
                size_t keep = (size_t)r;
                if (out_len + keep > HQ_CHECK_OUTPUT_MAX) {
                    keep = HQ_CHECK_OUTPUT_MAX - out_len;
                    res->output_cut = true;
                }
                memcpy(res->output + out_len, buf, keep);
                out_len += keep;
            } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
                out_eof = true;
            }
        }
        if (i_in >= 0 && pf[i_in].revents != 0) {
            ssize_t w = write(in[1], payload + written, payload_len - written);
            if (w > 0)
                written += (size_t)w;
            /* EPIPE: the check does not read its stdin, which is its right. */
            if (written == payload_len || (w < 0 && errno != EAGAIN && errno != EINTR))
                close(in[1]), in[1] = -1;
        }
        if (!exited && (pidfd < 0 || (i_pid >= 0 && pf[i_pid].revents != 0))) {
            pid_t w = waitpid(pid, &status, WNOHANG);
            if (w == pid) {
                exited = true;
                exited_at = hq_mono_ms();
            }
        }
    }
    res->output[out_len] = '\0';
    res->output_len = out_len;
    if (exited) {
        pid = -1;
        res->outcome = HQ_CHECK_RAN;
        if (WIFEXITED(status)) {
            res->exit_code = WEXITSTATUS(status);
            res->state = res->exit_code == 0   ? HQ_CHECK_SUCCESS
                         : res->exit_code == 1 ? HQ_CHECK_FAILURE
                                               : HQ_CHECK_ERROR;
        } else {
            res->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
            res->state = HQ_CHECK_ERROR;
        }
        hq_check_first_line(res->output, HQ_CHECK_DESC_CHARS, res->description,
                            sizeof(res->description));
        goto out;
    }
kill_child:
    /* Timeout, cancel or our own failure: the whole group goes. */
    kill(-pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    pid = -1;
    res->state = HQ_CHECK_ERROR;
    if (res->outcome == HQ_CHECK_TIMED_OUT)
        snprintf(res->description, sizeof(res->description), "check timed out after %lld ms",
                 (long long)timeout_ms);
    else if (res->outcome == HQ_CHECK_CANCELLED)
        snprintf(res->description, sizeof(res->description), "check cancelled (shutdown)");
out:
    res->duration_ms = hq_mono_ms() - start;
    if (pid > 0) {
        kill(-pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    if (fa_init)
        posix_spawn_file_actions_destroy(&fa);
    if (attr_init)
        posix_spawnattr_destroy(&attr);
    free(envp);
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (outp[i] >= 0)
            close(outp[i]);
    }
    if (pidfd >= 0)
        close(pidfd);
    return rc;
}
