/*
 * machine.c - the debugger's one breakpoint and watchpoint set, how it is
 * armed in the execution engine, the one run loop, and forward execution
 * (debugger_internal.h).
 */
#include "debugger/debugger_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- the breakpoint set ---- */

struct dbg_bp *dbg_bp_find(struct debugger *d, uint64_t addr)
{
    for (size_t i = 0; i < d->nbp; i++)
        if (d->bp[i].addr == addr)
            return &d->bp[i];
    return NULL;
}

/* Add (addr, flags) to (want) unless it is there; ENGINE_BP_HW only if every
 * wanter of the address asks for it (a software breakpoint there may patch). */
static int want_add(struct dbg_armed **want, size_t *n, size_t *cap, uint64_t addr, unsigned flags)
{
    for (size_t i = 0; i < *n; i++) {
        if ((*want)[i].addr == addr) {
            (*want)[i].flags &= flags;
            return 0;
        }
    }
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        struct dbg_armed *w = realloc(*want, nc * sizeof *w);
        if (!w)
            return -1;
        *want = w;
        *cap = nc;
    }
    (*want)[(*n)++] = (struct dbg_armed){addr, flags};
    return 0;
}

int dbg_arm(struct debugger *d, const uint64_t *extra, unsigned n, int user)
{
    struct dbg_armed *want = NULL;
    size_t nwant = 0, capwant = 0;
    int rc = 0;
    for (unsigned i = 0; i < n && rc == 0; i++)
        rc = want_add(&want, &nwant, &capwant, extra[i], 0);
    for (size_t i = 0; user && i < d->nbp && rc == 0; i++)
        rc = want_add(&want, &nwant, &capwant, d->bp[i].addr,
                      d->bp[i].hw && !d->bp[i].sw ? ENGINE_BP_HW : 0);
    if (rc < 0) {
        free(want);
        return -1;
    }
    /* disarm what is no longer wanted (or wanted with other flags) */
    for (size_t i = 0; i < d->narmed; i++) {
        size_t j = 0;
        while (j < nwant && want[j].addr != d->armed[i].addr)
            j++;
        if (j == nwant || want[j].flags != d->armed[i].flags)
            vm_bp_set(&d->m->vm, d->armed[i].addr, 0, 0);
    }
    for (size_t j = 0; j < nwant; j++) {
        size_t i = 0;
        while (i < d->narmed && d->armed[i].addr != want[j].addr)
            i++;
        if ((i == d->narmed || d->armed[i].flags != want[j].flags) &&
            vm_bp_set(&d->m->vm, want[j].addr, want[j].flags, 1) < 0)
            rc = -1;
    }
    free(d->armed);
    d->armed = want;
    d->narmed = nwant;
    d->caparmed = capwant;
    return rc;
}

static enum engine_watch_kind watch_kind(int type)
{
    return type == GDB_WP_WRITE  ? ENGINE_WATCH_WRITE
           : type == GDB_WP_READ ? ENGINE_WATCH_READ
                                 : ENGINE_WATCH_ACCESS;
}

int dbg_arm_watches(struct debugger *d, int on)
{
    on = on && d->nwp > 0;
    if (on == d->watch_armed)
        return 0;
    int rc = 0;
    for (unsigned i = 0; i < d->nwp; i++)
        if (vm_watch_set(&d->m->vm, d->wp[i].addr, d->wp[i].len, watch_kind(d->wp[i].type), on) < 0)
            rc = -1;
    d->watch_armed = on;
    return rc;
}

void dbg_watch_snapshot(struct debugger *d)
{
    for (unsigned i = 0; i < d->nwp; i++)
        memcpy(d->wp[i].old, vm_gpa(&d->m->vm, d->wp[i].addr, d->wp[i].len), d->wp[i].len);
}

int dbg_watch_changed(struct debugger *d)
{
    for (unsigned i = 0; i < d->nwp; i++)
        if (d->wp[i].type != GDB_WP_READ &&
            memcmp(d->wp[i].old, vm_gpa(&d->m->vm, d->wp[i].addr, d->wp[i].len), d->wp[i].len) != 0)
            return (int)i;
    return -1;
}

static int overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return a < b + blen && b < a + alen;
}

int dbg_watch_hit(struct debugger *d, enum gdb_stop_kind *kind)
{
    const struct engine_event *ev = &d->m->ev;
    uint64_t a = ev->watch.addr, len = ev->watch.len;
    if (!ev->watch.is_write) {
        for (unsigned i = 0; i < d->nwp; i++) {
            if (d->wp[i].type != GDB_WP_WRITE && overlaps(a, len, d->wp[i].addr, d->wp[i].len)) {
                *kind = d->wp[i].type == GDB_WP_READ ? GDB_STOP_RWATCH : GDB_STOP_AWATCH;
                return (int)i;
            }
        }
        return -1;
    }
    for (unsigned i = 0; i < d->nwp; i++) {
        if (d->wp[i].type == GDB_WP_ACCESS && overlaps(a, len, d->wp[i].addr, d->wp[i].len)) {
            *kind = GDB_STOP_AWATCH;
            return (int)i;
        }
    }
    int w = dbg_watch_changed(d);
    if (w >= 0)
        *kind = GDB_STOP_WATCH;
    return w;
}

/* ---- the one run loop ---- */

/* Instructions per slice of a counting engine's run: short enough to take
 * checkpoints by guest time (about 0.3-6 ms of guest time on the emulator). */
#define DBG_SLICE (1ull << 20)

/* The one run loop: (step), or run until (until) retired instructions when
 * (counting). */
static enum monitor_event exec(struct debugger *d, int step, int counting, uint64_t until)
{
    if (!step && d->interrupt_pending) {
        d->interrupt_pending = 0;
        return MON_EV_INTERRUPTED;
    }
    struct vm *vm = &d->m->vm;
    for (;;) {
        struct engine_run_args a = {.step = step};
        if (counting) {
            uint64_t now = vm->ops->insn_count(vm);
            if (now >= until)
                return MON_EV_TIMEOUT;
            a.max_insns = until - now < DBG_SLICE ? until - now : DBG_SLICE;
        }
        enum monitor_event ev = monitor_step(d->m, &a);
        switch (ev) {
        case MON_EV_INTERRUPTED:
            if (!step && d->stub && gdbstub_poll_interrupt(d->stub))
                return MON_EV_INTERRUPTED;
            continue;
        case MON_EV_TIMEOUT:
            if (counting)
                tt_tick(d->tt); /* a slice of guest time: maybe a checkpoint */
            continue;           /* the loop returns once (until) is reached */
        default:
            break;
        }
        /* kicks interrupt only a busy engine: with events coming all the time
         * (hypercalls, arrivals), look for the debugger's interrupt every so
         * often; the caller sees it at its next run, after this event */
        if (!step && (++d->exits & 4095) == 0 && d->stub && gdbstub_poll_interrupt(d->stub))
            d->interrupt_pending = 1;
        switch (ev) {
        case MON_EV_HYPERCALL:
            if (d->tt)
                tt_after_hc(d->tt);
            return ev;
        case MON_EV_STOPPED:
            if (d->tt && (d->m->stop.reason == MON_EXIT || d->m->stop.reason == MON_PANIC))
                tt_after_hc(d->tt); /* ended by a hypercall: its base (no checkpoint) */
            return ev;
        case MON_EV_STEP:
        case MON_EV_BREAKPOINT:
        case MON_EV_WATCH:
            return ev;
        default:
            continue;
        }
    }
}

enum monitor_event dbg_exec(struct debugger *d, int step)
{
    return exec(d, step, !step && d->tt && tt_counting(d->tt), UINT64_MAX);
}

enum monitor_event dbg_exec_to(struct debugger *d, uint64_t until)
{
    return exec(d, 0, 1, until);
}

uint64_t dbg_rip(struct debugger *d)
{
    struct engine_regs r;
    vm_get_regs(&d->m->vm, &r);
    return r.rip;
}

void dbg_set_rip(struct debugger *d, uint64_t rip)
{
    struct engine_regs r;
    vm_get_regs(&d->m->vm, &r);
    r.rip = rip;
    vm_set_regs(&d->m->vm, &r);
}

/* ---- forward execution ---- */

static void step_once(struct debugger *d, struct gdb_stop *stop);

void dbg_ended_stop(struct debugger *d, struct gdb_stop *stop)
{
    d->ended = 1;
    if (d->r) {
        stop->kind = GDB_STOP_HISTORY_END;
    } else {
        stop->kind = GDB_STOP_EXITED;
        stop->status = d->m->stop.status;
    }
}

void dbg_step(struct debugger *d, struct gdb_stop *stop)
{
    if (d->ended) {
        dbg_ended_stop(d, stop);
        return;
    }
    dbg_arm_watches(d, 1);
    dbg_watch_snapshot(d);
    /* a step over `syscall` into a hidden kernel ends where the kernel returns */
    uint64_t rip0 = dbg_rip(d);
    uint64_t ret = dbg_in_hidden_kernel(d, rip0) ? 0 : rip0 + 2;
    if (ret && !dbg_syscall_before(d, ret))
        ret = 0;
    step_once(d, stop);
    dbg_leave_kernel(d, stop, ret);
}

/* Execute one instruction (dbg_step without hiding the kernel). */
static void step_once(struct debugger *d, struct gdb_stop *stop)
{
    for (;;) {
        enum monitor_event ev = dbg_exec(d, 1);
        enum gdb_stop_kind kind;
        int w;
        switch (ev) {
        case MON_EV_WATCH:
            stop->kind = GDB_STOP_STEP;
            w = dbg_watch_hit(d, &kind);
            if (w >= 0) {
                stop->kind = kind;
                stop->addr = d->wp[w].addr;
                dbg_watch_snapshot(d);
            }
            return;
        case MON_EV_STEP:
        case MON_EV_HYPERCALL:
            stop->kind = GDB_STOP_STEP;
            w = dbg_watch_changed(d);
            if (w >= 0) {
                stop->kind = GDB_STOP_WATCH;
                stop->addr = d->wp[w].addr;
                dbg_watch_snapshot(d);
            }
            return;
        case MON_EV_STOPPED:
            dbg_ended_stop(d, stop);
            return;
        default:
            continue;
        }
    }
}

/* The stop kind of the user breakpoint at (rip), or -1 if there is none. */
static int bp_stop(struct debugger *d, uint64_t rip)
{
    struct dbg_bp *b = dbg_bp_find(d, rip);
    if (!b)
        return -1;
    return b->sw ? GDB_STOP_SWBREAK : GDB_STOP_HWBREAK;
}

void dbg_cont(struct debugger *d, struct gdb_stop *stop, uint64_t range_start, uint64_t range_end)
{
    if (d->ended) {
        dbg_ended_stop(d, stop);
        return;
    }
    int ranged = range_end > range_start;
    /* Step off a breakpoint at the current instruction first, then, when range
     * stepping, single-step while inside [start, end). */
    uint64_t rip = dbg_rip(d);
    if (ranged || bp_stop(d, rip) >= 0) {
        for (unsigned n = 0;; n++) {
            if (n > 0 && (n & 1023) == 1023 && d->stub && gdbstub_poll_interrupt(d->stub)) {
                stop->kind = GDB_STOP_INTERRUPT;
                return;
            }
            dbg_step(d, stop);
            if (stop->kind != GDB_STOP_STEP)
                return;
            rip = dbg_rip(d);
            int k = bp_stop(d, rip);
            if (k >= 0) {
                stop->kind = (enum gdb_stop_kind)k;
                return;
            }
            if (ranged && (rip < range_start || rip >= range_end))
                return;
            if (!ranged)
                break;
        }
    }
    dbg_arm_watches(d, 1);
    dbg_watch_snapshot(d);
    dbg_arm(d, NULL, 0, 1);
    for (;;) {
        enum monitor_event ev = dbg_exec(d, 0);
        enum gdb_stop_kind kind;
        int w, k;
        switch (ev) {
        case MON_EV_INTERRUPTED:
            stop->kind = GDB_STOP_INTERRUPT;
            goto out;
        case MON_EV_HYPERCALL:
            w = dbg_watch_changed(d);
            if (w >= 0) {
                stop->kind = GDB_STOP_WATCH;
                stop->addr = d->wp[w].addr;
                goto out;
            }
            continue;
        case MON_EV_BREAKPOINT:
            k = bp_stop(d, d->m->ev.bp.addr);
            if (k >= 0) {
                stop->kind = (enum gdb_stop_kind)k;
                goto out;
            }
            continue;
        case MON_EV_WATCH:
            w = dbg_watch_hit(d, &kind);
            if (w >= 0) {
                stop->kind = kind;
                stop->addr = d->wp[w].addr;
                goto out;
            }
            continue;
        case MON_EV_STOPPED:
            dbg_ended_stop(d, stop);
            goto out;
        default:
            continue;
        }
    }
out:
    dbg_leave_kernel(d, stop, 0); /* an interrupt or a watchpoint hit in a hidden kernel */
    if (d->nwp)
        dbg_watch_snapshot(d);
}
