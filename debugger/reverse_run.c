/*
 * reverse_run.c - the run engine of reverse execution (reverse_internal.h):
 * runs the replaying machine forward through the debugger's one run loop,
 * counting arrivals at addresses, ending intervals at hypercalls, counting
 * watched accesses, recording the user's breakpoint and watchpoint hits, and
 * matching full machine states.
 */
#include "debugger/reverse_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- state matching ---- */

void tt_state_capture(struct timetravel *tt, struct tstate *s)
{
    vm_get_regs(&tt->m->vm, &s->regs);
    vm_get_fpu(&tt->m->vm, &s->fpu);
    s->mem = monitor_memory_digest(tt->m);
}

int tt_state_matches(struct timetravel *tt, const struct tstate *want)
{
    struct engine_regs r;
    vm_get_regs(&tt->m->vm, &r);
    if (memcmp(&r, &want->regs, sizeof r) != 0)
        return 0;
    struct engine_fpu f;
    vm_get_fpu(&tt->m->vm, &f);
    if (memcmp(f.xmm, want->fpu.xmm, sizeof f.xmm) != 0 || f.mxcsr != want->fpu.mxcsr ||
        memcmp(f.st, want->fpu.st, sizeof f.st) != 0)
        return 0;
    return monitor_memory_digest(tt->m) == want->mem;
}

/* ---- the run engine ---- */

/* Zero the arrival counts of the user's breakpoints. Returns -1 if out of memory. */
int tt_user_counts_reset(struct timetravel *tt)
{
    if (tt->capu < tt->d->nbp) {
        uint64_t *n = realloc(tt->ucount, tt->d->nbp * sizeof *n);
        if (!n)
            return -1;
        tt->ucount = n;
        tt->capu = tt->d->nbp;
    }
    if (tt->d->nbp)
        memset(tt->ucount, 0, tt->d->nbp * sizeof *tt->ucount);
    return 0;
}

static void tt_interval_reset(struct timetravel *tt, struct runspec *rs)
{
    memcpy(rs->prev_count, rs->count, sizeof rs->count);
    memset(rs->count, 0, sizeof rs->count);
    rs->mmio = 0;
    if (rs->scan)
        tt_user_counts_reset(tt); /* cannot fail: the set does not grow during a run */
}

/* An arrival at (x) just happened (rip == x, instruction not executed).
 * Returns 1 to stop. */
int tt_arrive(struct timetravel *tt, struct runspec *rs, uint64_t x, uint64_t steps,
              uint64_t anchor_a, uint64_t anchor_k)
{
    uint64_t e = cur_event(tt);
    for (unsigned i = 0; i < rs->naddr; i++)
        if (rs->addr[i] == x)
            rs->count[i]++;
    uint64_t uk = 0;
    int hw = 0, is_user = 0;
    if (rs->scan) {
        for (size_t i = 0; i < tt->d->nbp; i++)
            if (tt->d->bp[i].addr == x) {
                uk = ++tt->ucount[i];
                hw = tt->d->bp[i].hw && !tt->d->bp[i].sw;
                is_user = 1;
            }
    }
    uint64_t n = tt_count(tt);
    uint64_t hs = tt->icount ? (rs->tail ? steps : 0) : steps;
    if (rs->stop_idx >= 0 && e == rs->stop_e && x == rs->addr[rs->stop_idx] &&
        rs->count[rs->stop_idx] == rs->stop_k && steps == 0) {
        rs->why = RUN_ARRIVAL;
        if (is_user && rs->record_at_stop) {
            rs->have_last = 1;
            rs->last = (struct hit){.kind = HIT_BP, .hw = hw, .e = e, .addr = x, .k = uk, .n = n};
        }
        return 1;
    }
    if (rs->match && e == rs->match_e && x == rs->addr[0] && tt_state_matches(tt, rs->match)) {
        rs->why = RUN_MATCH;
        return 1;
    }
    if (is_user) {
        rs->have_last = 1;
        rs->last = (struct hit){.kind = HIT_BP,
                                .hw = hw,
                                .e = e,
                                .addr = x,
                                .k = uk,
                                .s = hs,
                                .anchor_a = anchor_a,
                                .anchor_k = anchor_k,
                                .n = n};
    }
    return 0;
}

/* A hypercall completed. Returns 1 to stop. */
static int tt_interval_end(struct timetravel *tt, struct runspec *rs)
{
    if (rs->scan) {
        int w = dbg_watch_changed(tt->d);
        if (w >= 0) {
            rs->have_last = 1;
            rs->last = (struct hit){.kind = HIT_WATCH_HC,
                                    .e = cur_event(tt) - 1,
                                    .addr = dbg_rip(tt->d) - 1,
                                    .watch = tt->d->wp[w].addr,
                                    .stop = GDB_STOP_WATCH,
                                    .n = tt_count(tt)};
            dbg_watch_snapshot(tt->d);
        }
    }
    tt_interval_reset(tt, rs);
    if (cur_event(tt) == rs->stop_event) {
        rs->why = RUN_EVENT;
        return 1;
    }
    return 0;
}

/* A watched access in a run (the engine completed it and its instruction):
 * count it, stop after the (stop_mmio_j)-th if asked, else record a watch hit.
 * Returns 1 to stop. */
static int tt_mmio(struct timetravel *tt, struct runspec *rs)
{
    rs->mmio++;
    if (rs->stop_mmio_j && cur_event(tt) == rs->stop_mmio_e && rs->mmio == rs->stop_mmio_j) {
        rs->why = RUN_MMIO;
        return 1;
    }
    enum gdb_stop_kind kind;
    int w = dbg_watch_hit(tt->d, &kind);
    if (w >= 0 && rs->scan) {
        /* rip is after the accessing instruction: the hit's anchor */
        rs->have_last = 1;
        rs->last = (struct hit){.kind = HIT_WATCH_MMIO,
                                .e = cur_event(tt),
                                .addr = dbg_rip(tt->d),
                                .k = rs->mmio,
                                .watch = tt->d->wp[w].addr,
                                .stop = kind,
                                .n = tt_count(tt)};
    }
    if (w >= 0)
        dbg_watch_snapshot(tt->d);
    return 0;
}

/* Execute exactly one instruction. Returns 1 to stop the run (rs->why set),
 * 0 otherwise; *was_hc tells whether it was a hypercall. */
int tt_one_step(struct timetravel *tt, struct runspec *rs, int *was_hc)
{
    *was_hc = 0;
    for (;;) {
        switch (dbg_exec(tt->d, 1)) {
        case MON_EV_STEP:
            return 0;
        case MON_EV_HYPERCALL:
            *was_hc = 1;
            return tt_interval_end(tt, rs);
        case MON_EV_WATCH:
            return tt_mmio(tt, rs); /* the access was the step's instruction */
        case MON_EV_STOPPED:
            if (cur_event(tt) == rs->stop_event) {
                tt_interval_reset(tt, rs);
                rs->why = RUN_EVENT;
                return 1;
            }
            rs->why = RUN_ENDED;
            tt->d->ended = 1;
            return 1;
        default:
            continue;
        }
    }
}

/* Run forward under (rs) until one of its stop conditions. */
void tt_run(struct timetravel *tt, struct runspec *rs)
{
    rs->why = RUN_NONE;
    if (dbg_arm(tt->d, rs->addr, rs->naddr, rs->scan) < 0 ||
        (rs->scan && tt_user_counts_reset(tt) < 0))
        return; /* out of memory: RUN_NONE, which no caller expects */
    dbg_arm_watches(tt->d, rs->scan || rs->protect);
    dbg_watch_snapshot(tt->d);
    for (;;) {
        if (tt->m->stop.reason != MON_RUNNING) {
            rs->why = cur_event(tt) == rs->stop_event  ? RUN_EVENT
                      : tt_count(tt) == rs->stop_count ? RUN_COUNT
                                                       : RUN_ENDED;
            return;
        }
        uint64_t x;
        enum monitor_event ev =
            rs->stop_count != UINT64_MAX ? dbg_exec_to(tt->d, rs->stop_count) : dbg_exec(tt->d, 0);
        switch (ev) {
        case MON_EV_TIMEOUT: /* rs->stop_count instructions retired */
            rs->why = RUN_COUNT;
            return;
        case MON_EV_INTERRUPTED:
            rs->why = RUN_INTERRUPT;
            return;
        case MON_EV_HYPERCALL:
            if (tt_interval_end(tt, rs))
                return;
            continue;
        case MON_EV_STOPPED:
            if (cur_event(tt) == rs->stop_event) {
                tt_interval_reset(tt, rs); /* the exit hypercall ended the interval */
                rs->why = RUN_EVENT;
            } else if (tt_count(tt) == rs->stop_count) {
                rs->why = RUN_COUNT; /* the end of history is a position too */
                tt->d->ended = 1;
            } else {
                rs->why = RUN_ENDED;
                tt->d->ended = 1;
            }
            return;
        case MON_EV_WATCH:
            if (tt_mmio(tt, rs))
                return;
            continue;
        case MON_EV_BREAKPOINT:
            x = tt->m->ev.bp.addr;
            break;
        default:
            continue;
        }
        if (tt_arrive(tt, rs, x, 0, 0, 0))
            return;
        int was_hc;
        if (tt_one_step(tt, rs, &was_hc))
            return;
    }
}

/* Single-step (n) times under (rs) (no patches), recording hits by RIP.
 * Returns 1 if a stop condition ended it early. */
int tt_run_steps(struct timetravel *tt, struct runspec *rs, uint64_t n, uint64_t anchor_a,
                 uint64_t anchor_k)
{
    dbg_arm_watches(tt->d, rs->scan || rs->protect);
    dbg_watch_snapshot(tt->d);
    int stopped = 0;
    for (uint64_t i = 1; i <= n; i++) {
        int was_hc;
        if (tt_one_step(tt, rs, &was_hc)) {
            stopped = 1;
            break;
        }
        if (was_hc) {
            anchor_a = anchor_k = 0;
            continue;
        }
        uint64_t rip = dbg_rip(tt->d);
        if (rs->scan && i < n)
            tt_arrive(tt, rs, rip, i, anchor_a, anchor_k);
    }
    return stopped;
}

void tt_spec_init(struct runspec *rs)
{
    memset(rs, 0, sizeof *rs);
    rs->stop_idx = -1;
    rs->stop_event = UINT64_MAX;
    rs->stop_count = UINT64_MAX;
}
