/*
 * ctl_out: how a hookqctl command reports and how it stops early: the
 * "hookqctl: ..." error line, the exit status of a failure, and the signals.
 *
 * Like mdb_dump, hookqctl catches its signals in a handler that only sets
 * ctl_stop; every loop checks the flag between events and stops there.
 * SIGPIPE is caught too, not left to kill the process: a reader that goes
 * away (hookqctl dlq list | head) makes the next write fail with EPIPE and
 * raise SIGPIPE, the flag says why, and the command stops at once without a
 * word on stderr (nobody asked for the rest) and exits CTL_CLOSED, the 141
 * a shell shows for a tool that SIGPIPE ended. Catching it rather than
 * dying keeps the end defined whatever disposition the parent left us
 * (SIG_IGN would otherwise make every listing run to its end into a dead
 * pipe and fail with a message).
 */
#include "ctl.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

volatile sig_atomic_t ctl_stop;

static void on_signal(int sig)
{
    /* The first reason wins: a SIGPIPE while reporting an interrupt, or a
     * SIGINT after the reader left, does not change why the command ended. */
    if (ctl_stop == 0)
        ctl_stop = sig == SIGPIPE ? CTL_STOP_PIPE : CTL_STOP_SIGNAL;
}

void ctl_signals_install(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGPIPE};
    struct sigaction sa;
    sigset_t set;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        sigaddset(&sa.sa_mask, sigs[i]);
        sigaddset(&set, sigs[i]);
    }
    /* No SA_RESTART: a write blocked on a full pipe returns EINTR on SIGINT,
     * so the loop gets to see the flag instead of waiting for the reader. */
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &sa, NULL);
    /* A mask inherited from the parent would hold SIGPIPE back and with it
     * the flag; EPIPE alone would then go unnoticed until the end. */
    sigprocmask(SIG_UNBLOCK, &set, NULL);
}

__attribute__((format(printf, 1, 0))) static void verr(const char *fmt, va_list ap)
{
    fputs("hookqctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

int ctl_stopped(const char *fmt, ...)
{
    if (ctl_stop == CTL_STOP_PIPE)
        return CTL_CLOSED;
    va_list ap;
    va_start(ap, fmt);
    verr(fmt, ap);
    va_end(ap);
    return CTL_INTERRUPTED;
}

void ctl_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verr(fmt, ap);
    va_end(ap);
}

int ctl_bad_option(const char *cmd, int ch, const char *bad)
{
    if (ch == ':')
        ctl_err("%s: option '%s' needs a value (see hookqctl --help)", cmd, bad);
    else
        ctl_err("%s: unknown option '%s' (see hookqctl --help)", cmd, bad);
    return CTL_USAGE;
}

int ctl_fail(const char *what, int rc)
{
    ctl_err("%s: %s", what, hq_strerror(rc));
    if (rc == HQ_ENOTFOUND)
        return CTL_NOMATCH;
    return CTL_FAIL;
}
