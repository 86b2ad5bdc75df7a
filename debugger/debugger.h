/*
 * debugger.h - the time-travel debugger engine: the guest of a monitor (a
 * live run) or a replayer (a replay) as a debugged machine, offered to the
 * GDB remote protocol as a struct gdb_target_ops (gdbstub/gdbstub.h).
 *
 * It keeps ONE set of user breakpoints and watchpoints and arms them (with
 * the reverse engine's own addresses) in the execution engine, which owns the
 * mechanics (engine/engine.h): software breakpoints are unlimited, hardware
 * breakpoints use debug registers where the engine has them, watchpoints are
 * reported by the engine at each access of a watched range. Forward
 * execution, reverse execution (debugger/reverse.c,
 * docs/reverse-execution.md) and checkpoints (debugger/checkpoint.h) all run
 * the machine through ONE run loop (debugger/machine.c).
 *
 * Library code: errors are returned (to the protocol session as error
 * replies, or as a message for monitor commands); nothing here prints or
 * exits, except through the log callback the tool installs.
 */
#ifndef PVRR_DEBUGGER_H
#define PVRR_DEBUGGER_H

#include "gdbstub/gdbstub.h"

#include <stddef.h>
#include <stdint.h>

struct monitor;
struct replayer;
struct debugger;

/* A debugger on the guest of (m), stopped where it is (at its entry point for
 * a fresh monitor); (r) is the replayer for a replay (reverse execution then
 * works; the machine must be at boot), or NULL for a live run. Returns NULL
 * with (err) if out of memory. */
struct debugger *debugger_create(struct monitor *m, struct replayer *r, char *err, size_t errlen);

/* Remove every breakpoint and watchpoint (the next debugger starts clean) and
 * disarm them in the engine. */
void debugger_clear(struct debugger *d);

/* Disarm everything and free (d). The machine stays where the debugger left it. */
void debugger_destroy(struct debugger *d);

/* The operations to serve with gdbstub_serve(fd, ops, d). */
const struct gdb_target_ops *debugger_ops(const struct debugger *d);

/* Where messages for the user go (the gdb_target_ops log op; NULL: dropped). */
void debugger_set_log(struct debugger *d, void (*log)(void *ctx, const char *msg), void *ctx);

/* The guest's own kernel is not the program (a Linux program on pvrr's
 * kernel): user code runs in [lo, hi) only, everything outside is the
 * kernel's. Stops that would land in the kernel are then carried on to user
 * code, as for a native process under gdb (a step over `syscall` ends after
 * it, an interrupt or a watchpoint the kernel triggers is reported where the
 * kernel returns, reverse execution stops on the `syscall`), until `monitor
 * kernel-frames off`. Without a call (SDK guests) nothing is hidden.
 * (sys_now): the guest address of the kernel's record of the system call it
 * serves (u64 number, ~0 outside a call; six u64 arguments; u64 the user rip
 * it returns to: personality/linux/kernel.h, struct linux_sys_now), or 0: a
 * stop inside a call then runs to that rip instead of single-stepping out. */
void debugger_set_user_window(struct debugger *d, uint64_t lo, uint64_t hi, uint64_t sys_now);

/* 1 once the guest has ended for good (exit, panic, fault, divergence, the
 * end of the recording); 1 once a debugger asked to kill it. */
int debugger_ended(const struct debugger *d);
int debugger_killed(const struct debugger *d);

#endif /* PVRR_DEBUGGER_H */
