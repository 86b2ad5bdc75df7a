/*
 * kframes.c - hiding the guest kernel's own frames (debugger_internal.h).
 *
 * A Linux program runs on pvrr's own small kernel (personality/linux). A
 * native Linux process under gdb never stops inside its kernel: a stepi over
 * `syscall` ends at the next user instruction, an interrupt or a watchpoint
 * the kernel triggers is reported when the kernel returns, a reverse-stepi
 * from after a system call lands on the `syscall`. The debugger does the
 * same when the tool tells it the user window (debugger_set_user_window):
 * code outside it is the kernel's. Only the rip decides: on hosts where
 * breakpoints are `hlt` patches, user code runs in ring 0 after one, so the
 * privilege level would call it kernel code. `monitor kernel-frames off`
 * shows the kernel again.
 */
#include "debugger/reverse_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Single-steps out of the kernel between looks for the debugger's interrupt. */
#define POLL_STEPS 1024

void debugger_set_user_window(struct debugger *d, uint64_t lo, uint64_t hi, uint64_t sys_now)
{
    d->user_lo = lo;
    d->user_hi = hi > lo ? hi : 0;
    d->hide_kernel = d->user_hi != 0;
    d->sys_now = sys_now;
}

static int in_user(const struct debugger *d, uint64_t rip)
{
    return rip >= d->user_lo && rip < d->user_hi;
}

/* The user rip the kernel returns to from the system call it serves now, or
 * 0 (no record, or outside a call: the few instructions of its entry and exit). */
static uint64_t kernel_return(struct debugger *d)
{
    const uint8_t *p = d->sys_now ? vm_gpa(&d->m->vm, d->sys_now, 8 * 8) : NULL;
    if (!p)
        return 0;
    uint64_t nr, rip;
    memcpy(&nr, p, 8);
    memcpy(&rip, p + 7 * 8, 8);
    return nr != ~0ull && in_user(d, rip) ? rip : 0;
}

int dbg_in_hidden_kernel(struct debugger *d, uint64_t rip)
{
    return d->hide_kernel && d->user_hi && !in_user(d, rip);
}

uint64_t dbg_syscall_before(struct debugger *d, uint64_t rip)
{
    if (rip < d->user_lo + 2 || rip > d->user_hi)
        return 0;
    const uint8_t *p = vm_gpa(&d->m->vm, rip - 2, 2);
    return p && p[0] == 0x0f && p[1] == 0x05 ? rip - 2 : 0;
}

uint64_t dbg_kernel_entry_before(struct debugger *d, uint64_t rip)
{
    uint64_t sc = dbg_syscall_before(d, rip);
    if (sc || rip < d->user_lo + 3 || rip > d->user_hi)
        return sc;
    const uint8_t *p = vm_gpa(&d->m->vm, rip - 3, 3);
    if (!p)
        return 0;
    if (p[1] == 0x0f && p[2] == 0x31)
        return rip - 2; /* rdtsc: #GP in ring 3, emulated by the kernel */
    if (p[0] == 0x0f && p[1] == 0x01 && p[2] == 0xf9)
        return rip - 3; /* rdtscp */
    return 0;
}

/* Note the watchpoint a hypercall or a watched access (ev) on the way out
 * of the kernel shows: a STEP or an interrupt becomes that hit; a hit
 * already reported stays. */
static void note_watch(struct debugger *d, struct gdb_stop *stop, enum monitor_event ev)
{
    enum gdb_stop_kind kind = GDB_STOP_WATCH;
    int w = ev == MON_EV_WATCH ? dbg_watch_hit(d, &kind) : dbg_watch_changed(d);
    if (w < 0)
        return;
    if (stop->kind == GDB_STOP_STEP || stop->kind == GDB_STOP_INTERRUPT) {
        stop->kind = kind;
        stop->addr = d->wp[w].addr;
    }
    dbg_watch_snapshot(d);
}

/* Run with one breakpoint at (ret) until the kernel returns there. Returns 1
 * there, 0 if the guest ended (stop filled), -1 on an interrupt. */
static int run_to_return(struct debugger *d, struct gdb_stop *stop, uint64_t ret)
{
    if (dbg_arm(d, &ret, 1, 0) < 0)
        return -1;
    for (;;) {
        enum monitor_event ev = dbg_exec(d, 0);
        switch (ev) {
        case MON_EV_BREAKPOINT:
            if (d->m->ev.bp.addr == ret)
                return 1;
            continue;
        case MON_EV_HYPERCALL:
        case MON_EV_WATCH:
            note_watch(d, stop, ev);
            continue;
        case MON_EV_STOPPED:
            dbg_ended_stop(d, stop);
            return 0;
        case MON_EV_INTERRUPTED:
            return -1;
        default:
            continue;
        }
    }
}

/* Single-step until user code. Returns as run_to_return. */
static int step_to_user(struct debugger *d, struct gdb_stop *stop)
{
    for (unsigned n = 1;; n++) {
        if ((n % POLL_STEPS) == 0 && d->stub && gdbstub_poll_interrupt(d->stub))
            return -1;
        enum monitor_event ev = dbg_exec(d, 1);
        switch (ev) {
        case MON_EV_STEP:
            break;
        case MON_EV_HYPERCALL:
        case MON_EV_WATCH:
            note_watch(d, stop, ev);
            break;
        case MON_EV_STOPPED:
            dbg_ended_stop(d, stop);
            return 0;
        default:
            continue;
        }
        if (in_user(d, dbg_rip(d)))
            return 1;
    }
}

void dbg_leave_kernel(struct debugger *d, struct gdb_stop *stop, uint64_t ret)
{
    switch (stop->kind) {
    case GDB_STOP_STEP:
    case GDB_STOP_WATCH:
    case GDB_STOP_RWATCH:
    case GDB_STOP_AWATCH:
    case GDB_STOP_INTERRUPT:
        break;
    default:
        return; /* breakpoints the user set in the kernel, the end */
    }
    if (d->ended || !dbg_in_hidden_kernel(d, dbg_rip(d)))
        return;
    d->left_kernel = 1;
    enum gdb_stop_kind asked = stop->kind;
    if (asked == GDB_STOP_INTERRUPT)
        stop->kind = GDB_STOP_STEP; /* a watchpoint on the way out is the better report */
    if (!ret)
        ret = kernel_return(d);
    dbg_arm_watches(d, 1);
    /* the protocol's interrupt stays raised until the stop is reported: after
     * one the way out cannot be interrupted again */
    struct gdbstub *stub = d->stub;
    if (asked == GDB_STOP_INTERRUPT)
        d->stub = NULL;
    int rc = ret ? run_to_return(d, stop, ret) : step_to_user(d, stop);
    d->stub = stub;
    if (ret)
        dbg_arm(d, NULL, 0, 1); /* as a continue leaves them; a step arms nothing */
    if (rc < 0)
        stop->kind = GDB_STOP_INTERRUPT; /* asked again: stay in the kernel */
    else if (rc > 0 && asked == GDB_STOP_INTERRUPT && stop->kind == GDB_STOP_STEP)
        stop->kind = GDB_STOP_INTERRUPT;
}

/* ---- reverse ---- */

/* A reverse stop landed in hidden kernel code: go back to the user
 * instruction that entered the kernel. (after): the user rip the kernel
 * returns to, when known (0: from the kernel's record of the call, or by
 * running forward out of the kernel). Returns -1, with the machine and
 * position as they were, if the way into the kernel is not found. */
static int tt_hide_kernel(struct timetravel *tt, uint64_t after)
{
    struct debugger *d = tt->d;
    /* keep the way back: on failure the machine stays at the kernel stop */
    struct checkpoint *here = ck_snapshot(&tt->ck, cur_event(tt), tt->r->chain, 1, tt->base_n);
    if (!here)
        return -1;
    struct pos was = tt->cur;
    int was_valid = tt->cur_valid, rc = -1;
    if (!after)
        after = kernel_return(d);
    if (!after) {
        /* run forward out of the kernel to learn where it returns */
        struct gdb_stop fwd = {.kind = GDB_STOP_STEP};
        dbg_arm(d, NULL, 0, 0);
        dbg_arm_watches(d, 0);
        tt->cur_valid = 0;
        after = step_to_user(d, &fwd) == 1 ? dbg_rip(d) : 0;
    }
    uint64_t entry = after ? dbg_kernel_entry_before(d, after) : 0;
    if (entry) {
        /* reverse-continue to the last arrival at that instruction with only
         * that breakpoint and no watchpoints: everything after it is the
         * kernel's */
        dbg_arm_watches(d, 0);
        struct dbg_bp *bp = d->bp, one = {.addr = entry, .sw = 1};
        size_t nbp = d->nbp;
        unsigned nwp = d->nwp;
        d->bp = &one;
        d->nbp = 1;
        d->nwp = 0;
        struct gdb_stop back;
        rc = tt_reverse(tt, 0, &back);
        d->bp = bp;
        d->nbp = nbp;
        d->nwp = nwp;
        if (rc == 0 && (back.kind != GDB_STOP_SWBREAK || dbg_rip(d) != entry))
            rc = -1;
    }
    if (rc < 0) {
        (void)tt_restore(tt, here); /* the log was readable a moment ago */
        tt->cur = was;
        tt->cur_valid = was_valid;
    }
    ck_release(&tt->ck, here);
    dbg_arm(d, NULL, 0, 1); /* what a reverse-continue leaves armed */
    dbg_watch_snapshot(d);
    return rc;
}

void dbg_hide_reverse_stop(struct debugger *d, struct gdb_stop *stop, int step, uint64_t rip0)
{
    switch (stop->kind) {
    case GDB_STOP_STEP:
    case GDB_STOP_WATCH:
    case GDB_STOP_RWATCH:
    case GDB_STOP_AWATCH:
    case GDB_STOP_INTERRUPT:
        break;
    default:
        return; /* breakpoints the user set in the kernel, the start of history */
    }
    if (!d->tt || !dbg_in_hidden_kernel(d, dbg_rip(d)))
        return;
    /* after an interrupt, whose flag stays up, the way back polls no more */
    if (stop->kind == GDB_STOP_INTERRUPT)
        d->stub = NULL;
    /* a reverse-stepi from just after the kernel knows where it returned */
    uint64_t after = step && !dbg_in_hidden_kernel(d, rip0) ? rip0 : 0;
    if (tt_hide_kernel(d->tt, after) < 0 && d->log)
        d->log(d->log_ctx, "the stop is inside the guest kernel, and the user instruction that "
                           "entered it was not found: shown there");
}

/* ---- the monitor command ---- */

int dbg_kframes_command(struct debugger *d, const char *arg, gdb_out_fn out, void *ctx)
{
    char buf[256];
    int n, rc = 0;
    while (*arg == ' ')
        arg++;
    if (strcmp(arg, "on") == 0 && !d->user_hi) {
        n = snprintf(buf, sizeof buf,
                     "this guest's kernel is the program itself: it has no kernel frames to "
                     "hide\n");
        rc = -1;
    } else if (strcmp(arg, "on") == 0 || strcmp(arg, "off") == 0 || !*arg) {
        if (*arg)
            d->hide_kernel = arg[1] == 'n';
        if (!d->user_hi)
            n = snprintf(buf, sizeof buf,
                         "kernel frames: shown (this guest's kernel is the program)\n");
        else
            n = snprintf(buf, sizeof buf,
                         "kernel frames: %s (user code is [0x%" PRIx64 ", 0x%" PRIx64 "))\n",
                         d->hide_kernel ? "hidden: stops are reported in user code"
                                        : "shown: stops may land in the kernel",
                         d->user_lo, d->user_hi);
    } else {
        n = snprintf(buf, sizeof buf, "usage: monitor kernel-frames [on|off]\n");
        rc = GDB_UNSUPPORTED;
    }
    if (n > 0)
        out(ctx, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
    return rc;
}
