/*
 * dump_linux.h - the system calls behind the events of a Linux program's
 * recording (`pvrr dump`), found by replaying it.
 */
#ifndef PVRR_DUMP_LINUX_H
#define PVRR_DUMP_LINUX_H

#include "pvlog/pvlog.h"

#include <stddef.h>
#include <stdint.h>

/* The system call a hypercall was made for. */
struct dump_syscall {
    uint64_t nr;
    uint64_t args[6];
    uint64_t rip; /* the program's rip after its `syscall` instruction */
    int valid;
};

struct dump_syscalls;

/* Replay the recording at (path) (metadata meta) on the default engine and
 * note, for every hypercall, the system call the Linux personality was
 * serving. Returns NULL when (meta) is not a Linux program's recording (why
 * empty) or nothing could be found (why says what); a non-NULL result may
 * still set (why) when only a prefix is known (a diverging replay). */
struct dump_syscalls *dump_linux_syscalls(const char *path, const struct pvlog_meta *meta,
                                          char *why, size_t whylen);

/* The system call behind event (index), or NULL (none: the kernel's own
 * hypercall, e.g. loading the program). (ds) may be NULL. */
const struct dump_syscall *dump_syscall_at(const struct dump_syscalls *ds, uint64_t index);

/* The Linux name of system call (nr), or "?". */
const char *dump_syscall_name(uint64_t nr);

/* "read(0x3, 0x4c1000, 0x1000) from main+0x4f (prog.c:12)" into (buf, n). */
void dump_syscall_format(const struct dump_syscalls *ds, const struct dump_syscall *d, char *buf,
                         size_t n);

/* Release what dump_linux_syscalls returned (NULL is fine). */
void dump_linux_free(struct dump_syscalls *ds);

#endif /* PVRR_DUMP_LINUX_H */
