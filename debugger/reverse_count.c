/*
 * reverse_count.c - positions, goto, reverse-step and reverse-continue on an
 * engine that counts retired instructions exactly (ENGINE_CAP_INSN_COUNT):
 * a position is (n, s), the moment the engine stops after n instructions
 * (engine_run_args.max_insns) plus s single-steps that retire none (an
 * exception delivered). Checkpoints lie anywhere, also inside long
 * hypercall-free stretches, so a goto re-executes at most a few milliseconds
 * of guest time. See docs/reverse-execution.md, reverse_internal.h.
 */
#include "debugger/reverse_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Before a goto that re-executes more than twice this many instructions, a
 * snapshot is cached this far before the target: the next reverse-stepi
 * starts there. */
#define NEAR_INSNS (1ull << 20)

/* Steps that retire no instruction in a row, at most (exceptions delivered
 * one after another: a fault, a double fault, a triple fault). */
#define MAX_SAME 16

/* (an, as) at or before (bn, bs). */
static int pos_le(uint64_t an, uint64_t as, uint64_t bn, uint64_t bs)
{
    return an < bn || (an == bn && as <= bs);
}

/* Run forward until n instructions have retired. Returns -1 if the history
 * ends first (or an event the run cannot pass). */
static int run_to(struct timetravel *tt, uint64_t n)
{
    struct runspec rs;
    tt_spec_init(&rs);
    rs.stop_count = n;
    tt_run(tt, &rs);
    return rs.why == RUN_COUNT && tt_count(tt) == n ? 0 : -1;
}

/* Execute one instruction (or deliver an exception); -1 if the guest ended
 * (with it, when (end_ok): the exit hypercall's step reaches the end of
 * history, and that is a position too). */
static int step_to(struct timetravel *tt, int end_ok)
{
    struct runspec rs;
    tt_spec_init(&rs);
    int was_hc;
    if (!tt_one_step(tt, &rs, &was_hc))
        return 0;
    return end_ok && rs.why == RUN_ENDED &&
                   (tt->m->stop.reason == MON_EXIT || tt->m->stop.reason == MON_PANIC)
               ? 0
               : -1;
}

static int one_step(struct timetravel *tt)
{
    return step_to(tt, 0);
}

static int regs_equal(struct timetravel *tt, const struct engine_regs *want)
{
    struct engine_regs r;
    vm_get_regs(&tt->m->vm, &r);
    return memcmp(&r, want, sizeof r) == 0;
}

int tc_goto(struct timetravel *tt, uint64_t n, uint64_t s)
{
    tt->gotos++;
    dbg_arm_watches(tt->d, 0);
    /* the cheapest start: the current position, a cached snapshot, a checkpoint */
    const struct checkpoint *ck = ck_find_count(&tt->ck, n);
    uint64_t fn = ck->icount, fs = 0;
    int from_cur = 0;
    if (tt->cur_valid && !tt->d->ended && pos_le(tt->cur.n, tt->cur.s, n, s) &&
        pos_le(fn, 0, tt->cur.n, tt->cur.s) && tt_count(tt) == tt->cur.n) {
        fn = tt->cur.n;
        fs = tt->cur.s;
        from_cur = 1;
    }
    struct cache_ent *best = NULL;
    for (int i = 0; i < NCACHE; i++) {
        struct cache_ent *c = &tt->cache[i];
        if (!c->c || !pos_le(c->p.n, c->p.s, n, s) || !pos_le(fn, fs, c->p.n, c->p.s))
            continue;
        if (from_cur && c->p.n == fn && c->p.s == fs)
            continue; /* already there */
        best = c;
        fn = c->p.n;
        fs = c->p.s;
    }
    if (best) {
        if (tt_restore(tt, best->c) < 0)
            TT_FAIL();
        best->used = ++tt->tick;
    } else if (!from_cur) {
        if (tt_restore(tt, ck) < 0)
            TT_FAIL();
    }
    tt->cur_valid = 0;
    if (fn < n) {
        if (n - fn > 2 * NEAR_INSNS) {
            if (run_to(tt, n - NEAR_INSNS) < 0)
                TT_FAIL();
            tt_cache_put(tt, (struct pos){.e = cur_event(tt), .n = n - NEAR_INSNS});
        }
        if (run_to(tt, n) < 0)
            TT_FAIL();
        fs = 0;
    }
    for (; fs < s; fs++)
        if (one_step(tt) < 0 || tt_count(tt) != n)
            TT_FAIL();
    tt->cur = (struct pos){.e = cur_event(tt), .n = n, .s = s};
    tt->cur_valid = 1;
    return 0;
}

int tc_resolve(struct timetravel *tt)
{
    if (tt->cur_valid)
        return 0;
    if (tt->at_fault)
        TT_FAIL();
    tt->resolutions++;
    struct engine_regs want;
    vm_get_regs(&tt->m->vm, &want);
    uint64_t n = tt_count(tt);
    /* keep a way back in case of trouble */
    struct checkpoint *here = ck_snapshot(&tt->ck, cur_event(tt), tt->r->chain, 1, tt->base_n);
    if (!here)
        TT_FAIL();
    if (tc_goto(tt, n, 0) == 0) {
        for (uint64_t s = 0; s <= MAX_SAME; s++) {
            if (regs_equal(tt, &want)) {
                ck_release(&tt->ck, here);
                tt->cur = (struct pos){.e = cur_event(tt), .n = n, .s = s};
                tt->cur_valid = 1;
                return 0;
            }
            if (one_step(tt) < 0 || tt_count(tt) != n)
                break;
        }
    }
    (void)tt_restore(tt, here); /* a re-read failing here fails the next operation too */
    ck_release(&tt->ck, here);
    tt->cur_valid = 0;
    TT_FAIL();
}

int tc_reverse_step(struct timetravel *tt, struct gdb_stop *stop)
{
    stop->kind = GDB_STOP_STEP;
    /* the position, not the machine: after a fault the position is the last
     * hypercall boundary, where the machine is not */
    uint64_t n = tt->cur_valid ? tt->cur.n : tt_count(tt);
    if (tt->cur_valid && tt->cur.s > 0)
        return tc_goto(tt, n, tt->cur.s - 1);
    if (n <= tt->ck.ck[0]->icount) {
        if (tc_resolve(tt) < 0)
            TT_FAIL();
        if (tt->cur.s > 0)
            return tc_goto(tt, n, tt->cur.s - 1);
        return tt_history_begin(tt, stop);
    }
    /* From (n-1, 0), step until the current state comes: j steps to the
     * count n (more than one when the instruction faulted and its exception
     * was delivered), then m more steps at n when the current position is
     * not resolved (compared by registers). The position before it is the
     * one step before. */
    int known = tt->cur_valid; /* then s == 0 */
    struct engine_regs want;
    vm_get_regs(&tt->m->vm, &want);
    if (tc_goto(tt, n - 1, 0) < 0)
        TT_FAIL();
    tt_cache_put(tt, tt->cur);
    uint64_t j = 0, m = 0;
    int at_n = 0;
    for (int i = 0;; i++) {
        if (i > 2 * MAX_SAME || step_to(tt, 1) < 0)
            TT_FAIL();
        uint64_t c = tt_count(tt);
        if (!at_n) {
            j++;
            if (c == n - 1)
                continue;
            if (c != n)
                TT_FAIL();
            at_n = 1;
        } else {
            if (c != n)
                TT_FAIL();
            m++;
        }
        if (known || regs_equal(tt, &want))
            break;
    }
    tt->cur_valid = 0;
    return m == 0 ? tc_goto(tt, n - 1, j - 1) : tc_goto(tt, n, m - 1);
}

/* Turn a hit recorded by a scan into a position and go there. */
static int goto_hit(struct timetravel *tt, const struct hit *h, struct gdb_stop *stop)
{
    if (h->kind == HIT_BP) {
        if (tc_goto(tt, h->n, h->s) < 0)
            TT_FAIL();
        /* an arrival right after an exception was delivered: steps at the same count */
        for (int i = 0; dbg_rip(tt->d) != h->addr; i++) {
            if (i == MAX_SAME || one_step(tt) < 0 || tt_count(tt) != h->n)
                TT_FAIL();
            tt->cur.s++;
        }
        stop->kind = h->hw ? GDB_STOP_HWBREAK : GDB_STOP_SWBREAK;
        return 0;
    }
    /* a watched access (or a hypercall's result in watched memory) completed
     * with h->n instructions retired: the instruction is the one before, and
     * gdb stops on it with memory as it was */
    if (tc_goto(tt, h->n, 0) < 0 || tc_reverse_step(tt, stop) < 0)
        TT_FAIL();
    stop->kind = h->kind == HIT_WATCH_MMIO ? h->stop : GDB_STOP_WATCH;
    stop->addr = h->watch;
    return 0;
}

int tc_reverse_continue(struct timetravel *tt, struct gdb_stop *stop)
{
    if (tc_resolve(tt) < 0)
        TT_FAIL();
    struct pos end = tt->cur;
    uint64_t n0 = tt->ck.ck[0]->icount;
    if (end.n <= n0 && end.s == 0)
        return tt_history_begin(tt, stop);
    for (;;) {
        /* scan [the checkpoint before end, end) for the last hit */
        const struct checkpoint *c = ck_find_count(&tt->ck, end.s ? end.n : end.n - 1);
        uint64_t start = c->icount;
        tt->cur_valid = 0;
        if (tt_restore(tt, c) < 0)
            TT_FAIL();
        struct runspec rs;
        tt_spec_init(&rs);
        rs.scan = 1;
        rs.stop_count = end.n;
        tt_run(tt, &rs);
        if (rs.why == RUN_INTERRUPT) {
            stop->kind = GDB_STOP_INTERRUPT;
            return 0;
        }
        if (rs.why != RUN_COUNT)
            TT_FAIL();
        if (end.s > 0) {
            /* (end.n, 0 .. end.s-1) lie before the end too */
            rs.tail = 1;
            tt_arrive(tt, &rs, dbg_rip(tt->d), 0, 0, 0);
            tt_run_steps(tt, &rs, end.s, 0, 0);
        }
        if (rs.have_last)
            return goto_hit(tt, &rs.last, stop);
        if (start <= n0)
            return tt_history_begin(tt, stop);
        end = (struct pos){.n = start};
        if (tt->d->stub && gdbstub_poll_interrupt(tt->d->stub)) {
            if (tc_goto(tt, end.n, 0) < 0)
                TT_FAIL();
            stop->kind = GDB_STOP_INTERRUPT;
            return 0;
        }
    }
}

int tc_goto_event(struct timetravel *tt, uint64_t event)
{
    const struct checkpoint *c = ck_find_base(&tt->ck, event);
    /* run on from here if here lies between that checkpoint and base (event) */
    int here = tt->cur_valid && !tt->d->ended && tt_count(tt) >= c->icount &&
               (cur_event(tt) < event ||
                (cur_event(tt) == event && tt->cur.s == 0 && tt_count(tt) == tt->base_n));
    if (!here && tt_restore(tt, c) < 0)
        TT_FAIL();
    tt->cur_valid = 0;
    if (cur_event(tt) < event || (cur_event(tt) == event && tt_count(tt) != tt->base_n)) {
        struct runspec rs;
        tt_spec_init(&rs);
        rs.stop_event = event;
        tt_run(tt, &rs);
        if (rs.why != RUN_EVENT)
            TT_FAIL();
    }
    tt->cur = (struct pos){.e = cur_event(tt), .n = tt_count(tt)};
    tt->cur_valid = 1;
    return 0;
}

void tc_describe(struct timetravel *tt, char *buf, size_t n)
{
    tc_resolve(tt);
    struct pos p = tt->cur;
    uint64_t e = cur_event(tt), count = tt_count(tt);
    if (!tt->cur_valid) {
        snprintf(buf, n,
                 "event %" PRIu64 ", instruction %" PRIu64
                 " (steps after it that retired none unknown)",
                 e, count);
        return;
    }
    /* K: single-steps since base e: instructions retired, plus p.s */
    uint64_t k = p.n - (tt->base_n <= p.n ? tt->base_n : p.n) + p.s;
    if (p.s)
        snprintf(buf, n,
                 "event %" PRIu64 " + %" PRIu64 " steps (instruction %" PRIu64 " + %" PRIu64
                 " steps that retired none)%s",
                 e, k, p.n, p.s, tt->d->ended ? " (end of the recording)" : "");
    else
        snprintf(buf, n, "event %" PRIu64 " + %" PRIu64 " steps (instruction %" PRIu64 ")%s", e, k,
                 p.n, tt->d->ended ? " (end of the recording)" : "");
}
