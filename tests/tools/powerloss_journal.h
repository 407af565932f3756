/*
 * powerloss_journal.h: the undo journal shared by the interposer
 * (powerloss.c, which writes it) and powerloss_apply.c (which plays it back
 * to simulate a power loss).
 *
 * A tracked file FILE has its journal beside it, FILE.plundo. Since the last
 * fsync/fdatasync of FILE returned, the journal holds one record per change
 * to FILE, in the order they happened:
 *
 *   PL_UNDO  FILE was about to change at [off, off+len) while it was size
 *            bytes long; the len bytes that follow the header are what was
 *            there before (len stops at the old end of the file, so it may be
 *            shorter than the write). Written, complete, before the change.
 *   PL_PIN   a write of [off, off+len) through an O_DSYNC/O_SYNC descriptor
 *            returned: those bytes, and a file size of at least off+len, are
 *            durable whatever came before them. No payload.
 *
 * Applying the records newest first restores every PL_UNDO's bytes, except
 * the bytes of a newer PL_PIN, and the size it saw: the file is then as it
 * was at its last sync, with every write that was not yet synced dropped.
 * A record cut short (the process was killed while appending it) is the
 * tail of the journal and is ignored: its change had not started.
 *
 * The format is native-endian and private to one machine; the journal is
 * never synced (a simulated power loss follows a kill -9, which keeps the
 * page cache).
 */
#ifndef HQ_POWERLOSS_JOURNAL_H
#define HQ_POWERLOSS_JOURNAL_H

#include <stdint.h>

#define PL_JOURNAL_SUFFIX ".plundo"
#define PL_MAGIC          0x314a4c50u /* "PLJ1" */

enum pl_kind {
    PL_UNDO = 1,
    PL_PIN = 2,
};

struct pl_record {
    uint32_t magic;
    uint32_t kind;
    uint64_t off;
    uint64_t len;  /* PL_UNDO: payload bytes that follow; PL_PIN: range length */
    uint64_t size; /* PL_UNDO: file size before the change; PL_PIN: unused */
};

#endif
