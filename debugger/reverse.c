/*
 * reverse.c - exact positions, goto, reverse-step and reverse-continue on a
 * replay (debugger_internal.h). See docs/reverse-execution.md.
 */
#include "debugger/reverse_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CK_CPU_NS 20000000ull /* take a checkpoint after ~20 ms of guest CPU */
/* On a counting engine checkpoints are taken inside hypercall-free stretches
 * too, after ~8 ms of guest CPU (a goto then re-executes at most that much),
 * but at least four times the cost of the last one apart. */
#define CK_CPU_NS_COUNT 8000000ull

static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- checkpoints ---- */

/* Take a checkpoint if enough guest CPU time passed since the last one. */
static void maybe_checkpoint(struct timetravel *tt, int mid)
{
    if (tt->m->stop.reason != MON_RUNNING)
        return;
    uint64_t now = cpu_ns();
    uint64_t gap = tt->icount ? CK_CPU_NS_COUNT : CK_CPU_NS;
    if (tt->icount && gap < 4 * tt->ck_cost_ns)
        gap = 4 * tt->ck_cost_ns;
    if (now - tt->ck_cpu_ns < gap)
        return;
    (void)ck_take(&tt->ck, cur_event(tt), tt->r->chain, mid, tt->base_n); /* none: only slower */
    tt->ck_cpu_ns = cpu_ns();
    tt->ck_cost_ns = tt->ck_cpu_ns - now;
}

void tt_after_hc(struct timetravel *tt)
{
    tt->base_n = tt_count(tt);
    maybe_checkpoint(tt, 0);
}

int tt_counting(const struct timetravel *tt)
{
    return tt->icount;
}

void tt_tick(struct timetravel *tt)
{
    maybe_checkpoint(tt, 1);
}

int tt_restore(struct timetravel *tt, const struct checkpoint *c)
{
    tt->base_n = c->base_icount;
    ck_restore(&tt->ck, c);
    if (replayer_rewind(tt->r, c->event, c->chain) < 0)
        return -1;
    tt->d->ended = 0;
    tt->at_fault = 0;
    return 0;
}

/* ---- goto ---- */

void tt_cache_put(struct timetravel *tt, struct pos p)
{
    struct cache_ent *slot = &tt->cache[0];
    for (int i = 0; i < NCACHE; i++) {
        if (tt->cache[i].c && memcmp(&tt->cache[i].p, &p, sizeof p) == 0) {
            tt->cache[i].used = ++tt->tick;
            return;
        }
        if (!tt->cache[i].c) {
            slot = &tt->cache[i];
            break;
        }
        if (tt->cache[i].used < slot->used)
            slot = &tt->cache[i];
    }
    ck_release(&tt->ck, slot->c);
    slot->c =
        ck_snapshot(&tt->ck, cur_event(tt), tt->r->chain, tt_count(tt) != tt->base_n, tt->base_n);
    slot->p = p;
    slot->used = ++tt->tick;
}

static void cache_clear(struct timetravel *tt)
{
    for (int i = 0; i < NCACHE; i++) {
        ck_release(&tt->ck, tt->cache[i].c);
        tt->cache[i].c = NULL;
    }
}

/* 1 if the machine can go from position (a) to (b) by running forward. */
static int on_path(struct pos a, struct pos b)
{
    if (a.e < b.e)
        return 1;
    if (a.e > b.e)
        return 0;
    if (a.k == 0)
        return b.k > 0 ? a.s == 0 : a.s <= b.s;
    if (b.k == 0)
        return 0;
    if (a.a != b.a)
        return 0;
    return a.k < b.k || (a.k == b.k && a.s <= b.s);
}

/* Go to position (p). Returns 0, or -1 if the history does not reach it
 * (the machine is then at the end). */
static int goto_pos(struct timetravel *tt, struct pos p)
{
    tt->gotos++;
    struct pos from;
    int have_from = 0;
    /* the cheapest start: the current position, a cached snapshot, a checkpoint */
    /* the nearest checkpoint at or before p: restoring it costs milliseconds */
    const struct checkpoint *ck = ck_find(&tt->ck, p.e);
    struct pos ckp = {ck->event, 0, 0, 0, 0};
    if (tt->cur_valid && !tt->d->ended && on_path(tt->cur, p) && on_path(ckp, tt->cur)) {
        from = tt->cur;
        have_from = 1;
    }
    struct cache_ent *best = NULL;
    for (int i = 0; i < NCACHE; i++) {
        struct cache_ent *c = &tt->cache[i];
        if (!c->c || !on_path(c->p, p))
            continue;
        if (have_from && !on_path(from, c->p))
            continue;
        if (!best || on_path(best->p, c->p))
            best = c;
    }
    if (best && !on_path(ckp, best->p))
        best = NULL; /* the checkpoint lies nearer to p */
    if (best) {
        if (tt_restore(tt, best->c) < 0)
            TT_FAIL();
        best->used = ++tt->tick;
        from = best->p;
        have_from = 1;
    }
    if (!have_from) {
        if (tt_restore(tt, ck) < 0)
            TT_FAIL();
        from = ckp;
    }
    struct runspec rs;
    /* to base p.e */
    if (from.e < p.e) {
        tt_spec_init(&rs);
        rs.stop_event = p.e;
        tt_run(tt, &rs);
        if (rs.why != RUN_EVENT) {
            tt->cur_valid = 0;
            TT_FAIL();
        }
        from = (struct pos){p.e, 0, 0, 0, 0};
    }
    /* to the anchor */
    uint64_t steps = p.s;
    if (p.k > 0 && (from.k < p.k)) {
        tt_spec_init(&rs);
        rs.addr[0] = p.a;
        rs.naddr = 1;
        rs.count[0] = from.k;
        rs.stop_idx = 0;
        rs.stop_k = p.k;
        rs.stop_e = p.e;
        rs.stop_event = p.e + 1;
        tt_run(tt, &rs);
        if (rs.why != RUN_ARRIVAL) {
            tt->cur_valid = 0;
            TT_FAIL();
        }
        if (p.s > 0)
            tt_cache_put(tt, (struct pos){p.e, p.a, p.k, 0, 0});
    } else if (from.k == p.k && from.a == p.a) {
        steps = p.s - from.s;
    } else if (p.k == 0) {
        steps = p.s - from.s;
    }
    if (steps) {
        tt_spec_init(&rs);
        rs.stop_event = p.e + 1;
        if (tt_run_steps(tt, &rs, steps, 0, 0)) {
            tt->cur_valid = 0;
            TT_FAIL();
        }
    }
    tt->cur = p;
    tt->cur_valid = 1;
    return 0;
}

/* Make tt->cur exact for the current machine state by re-executing its
 * interval and matching the state at each arrival at its RIP. */
static int resolve(struct timetravel *tt)
{
    if (tt->cur_valid)
        return 0;
    if (tt->at_fault)
        TT_FAIL();
    if (tt->icount)
        return tc_resolve(tt);
    tt->resolutions++;
    struct tstate want;
    tt_state_capture(tt, &want);
    uint64_t e = cur_event(tt);
    /* keep a way back in case of trouble */
    struct checkpoint *here = ck_snapshot(&tt->ck, e, tt->r->chain, 0, tt->base_n);
    if (!here)
        TT_FAIL();
    struct pos base = {e, 0, 0, 0, 0};
    tt->cur_valid = 0;
    if (goto_pos(tt, base) == 0) {
        if (tt_state_matches(tt, &want)) {
            ck_release(&tt->ck, here);
            tt->cur = base;
            tt->cur_valid = 1;
            return 0;
        }
        struct runspec rs;
        tt_spec_init(&rs);
        rs.addr[0] = want.regs.rip;
        rs.naddr = 1;
        rs.match = &want;
        rs.match_e = e;
        rs.stop_event = e + 1;
        tt_run(tt, &rs);
        if (rs.why == RUN_MATCH) {
            ck_release(&tt->ck, here);
            tt->cur = (struct pos){e, want.regs.rip, rs.count[0], 0, 0};
            tt->cur_valid = 1;
            return 0;
        }
    }
    /* should not happen: put the machine back and give up */
    (void)tt_restore(tt, here); /* a re-read failing here fails the next operation too */
    ck_release(&tt->ck, here);
    tt->cur_valid = 0;
    TT_FAIL();
}

/* ---- forward bookkeeping ---- */

void tt_forward_done(struct timetravel *tt, enum gdb_resume_kind how, uint64_t event_before,
                     uint64_t count_before, const struct gdb_stop *stop)
{
    uint64_t e = cur_event(tt);
    uint64_t n = tt_count(tt);
    if (tt->d->ended) {
        if (tt->m->stop.reason == MON_EXIT || tt->m->stop.reason == MON_PANIC) {
            tt->cur = (struct pos){e, 0, 0, 0, n};
            tt->cur_valid = 1;
        } else {
            tt->cur_valid = 0;
            tt->at_fault = 1;
        }
        return;
    }
    if (tt->d->left_kernel) {
        /* ran on out of the kernel: resolved when needed */
        tt->cur = (struct pos){.e = e, .n = n};
        tt->cur_valid = 0;
        return;
    }
    if (tt->icount) {
        /* a step that retired an instruction ends at (n, 0); one that retired
         * none (an exception delivered) is one more step at the same count;
         * other stops are resolved when needed (tc_resolve) */
        struct pos old = tt->cur;
        int was = tt->cur_valid;
        tt->cur = (struct pos){.e = e, .n = n};
        tt->cur_valid = 0;
        if (how == GDB_RESUME_STEP && stop->kind == GDB_STOP_STEP) {
            if (n != count_before) {
                tt->cur_valid = 1;
            } else if (was && old.n == n) {
                tt->cur.s = old.s + 1;
                tt->cur_valid = 1;
            }
        }
        return;
    }
    if (how == GDB_RESUME_STEP && stop->kind == GDB_STOP_STEP) {
        if (e > event_before) {
            tt->cur = (struct pos){e, 0, 0, 0, 0};
            tt->cur_valid = 1;
        } else if (tt->cur_valid) {
            tt->cur.s++;
        }
        return;
    }
    if ((stop->kind == GDB_STOP_SWBREAK || stop->kind == GDB_STOP_HWBREAK) && e > event_before) {
        /* every arrival since base e was trapped: this is the first */
        tt->cur = (struct pos){e, dbg_rip(tt->d), 1, 0, 0};
        tt->cur_valid = 1;
        return;
    }
    tt->cur_valid = 0; /* resolved when needed */
}

/* ---- reverse ---- */

int tt_history_begin(struct timetravel *tt, struct gdb_stop *stop)
{
    if (tt->icount ? tc_goto(tt, tt->ck.ck[0]->icount, 0) < 0
                   : goto_pos(tt, (struct pos){0, 0, 0, 0, 0}) < 0)
        TT_FAIL();
    stop->kind = GDB_STOP_HISTORY_BEGIN;
    return 0;
}

/* Count the arrivals at (a) over the whole interval (e), up to its hypercall. */
static int count_in_interval(struct timetravel *tt, uint64_t e, uint64_t a, uint64_t *k)
{
    if (goto_pos(tt, (struct pos){e, 0, 0, 0, 0}) < 0)
        TT_FAIL();
    struct runspec rs;
    tt_spec_init(&rs);
    rs.addr[0] = a;
    rs.naddr = 1;
    rs.stop_event = e + 1;
    tt->cur_valid = 0;
    tt_run(tt, &rs);
    if (rs.why != RUN_EVENT)
        TT_FAIL();
    tt->cur = (struct pos){e + 1, 0, 0, 0, 0};
    tt->cur_valid = 1;
    *k = rs.prev_count[0];
    return *k > 0 ? 0 : -1;
}

static int reverse_step(struct timetravel *tt, struct gdb_stop *stop)
{
    if (resolve(tt) < 0)
        TT_FAIL();
    struct pos p = tt->cur;
    stop->kind = GDB_STOP_STEP;
    if (p.s > 0) {
        p.s--;
        return goto_pos(tt, p);
    }
    if (p.k > 0) {
        struct pos q =
            p.k > 1 ? (struct pos){p.e, p.a, p.k - 1, 0, 0} : (struct pos){p.e, 0, 0, 0, 0};
        if (goto_pos(tt, q) < 0)
            TT_FAIL();
        if (q.k == 0 && p.k == 1 && dbg_rip(tt->d) == p.a) {
            /* p is base e itself: the previous instruction is the hypercall's */
            tt->cur = q;
            return reverse_step(tt, stop);
        }
        tt_cache_put(tt, q);
        /* step until the next arrival at p.a: that is p */
        uint64_t n = 0;
        struct runspec rs;
        tt_spec_init(&rs);
        rs.stop_event = p.e + 1;
        for (;;) {
            int was_hc;
            if (tt_one_step(tt, &rs, &was_hc) || was_hc)
                TT_FAIL();
            n++;
            if (dbg_rip(tt->d) == p.a)
                break;
        }
        tt->cur_valid = 0;
        struct pos target = q;
        target.s += n - 1;
        return goto_pos(tt, target);
    }
    if (p.e == 0)
        return tt_history_begin(tt, stop);
    /* at base e: the previous instruction is hypercall e-1's out */
    uint64_t out = dbg_rip(tt->d) - 1;
    const uint8_t *ins = vm_gpa(&tt->m->vm, out, 1);
    if (!ins || *ins != PVRR_HC_INSN)
        TT_FAIL();
    uint64_t k;
    if (count_in_interval(tt, p.e - 1, out, &k) < 0)
        TT_FAIL();
    return goto_pos(tt, (struct pos){p.e - 1, out, k, 0, 0});
}

/* Turn a recorded hit into a position and go there. */
static int goto_hit(struct timetravel *tt, const struct hit *h, struct gdb_stop *stop)
{
    if (h->kind == HIT_BP) {
        struct pos p;
        if (h->s == 0)
            p = (struct pos){h->e, h->addr, h->k, 0, 0};
        else
            p = (struct pos){h->e, h->anchor_a, h->anchor_k, h->s, 0};
        if (goto_pos(tt, p) < 0)
            TT_FAIL();
        stop->kind = h->hw ? GDB_STOP_HWBREAK : GDB_STOP_SWBREAK;
        return 0;
    }
    uint64_t k;
    if (h->kind == HIT_WATCH_HC) {
        if (count_in_interval(tt, h->e, h->addr, &k) < 0)
            TT_FAIL();
    } else {
        /* The engine reports a watched access with rip at the next instruction
         * R: find which arrival at R follows the access (number h->k of its
         * interval), then step back one. */
        if (goto_pos(tt, (struct pos){h->e, 0, 0, 0, 0}) < 0)
            TT_FAIL();
        struct runspec rs;
        tt_spec_init(&rs);
        rs.addr[0] = h->addr;
        rs.naddr = 1;
        rs.stop_mmio_e = h->e;
        rs.stop_mmio_j = h->k;
        rs.stop_event = h->e + 1;
        rs.protect = 1; /* the same read-only pages as the scan: the same MMIO exits */
        tt->cur_valid = 0;
        tt_run(tt, &rs);
        if (rs.why != RUN_MMIO)
            TT_FAIL();
        tt->cur = (struct pos){h->e, h->addr, rs.count[0] + 1, 0, 0};
        tt->cur_valid = 1; /* not physically there: reverse_step restores first */
        if (reverse_step(tt, stop) < 0)
            TT_FAIL();
        stop->kind = h->stop;
        stop->addr = h->watch;
        return 0;
    }
    if (goto_pos(tt, (struct pos){h->e, h->addr, k, 0, 0}) < 0)
        TT_FAIL();
    stop->kind = GDB_STOP_WATCH;
    stop->addr = h->watch;
    return 0;
}

static int reverse_continue(struct timetravel *tt, struct gdb_stop *stop)
{
    if (resolve(tt) < 0)
        TT_FAIL();
    struct pos end = tt->cur;
    if (end.e == 0 && end.k == 0 && end.s == 0)
        return tt_history_begin(tt, stop);
    for (;;) {
        const struct checkpoint *c =
            ck_find(&tt->ck, end.k == 0 && end.s == 0 && end.e > 0 ? end.e - 1 : end.e);
        uint64_t start = c->event;
        /* scan [base start, end) for the last hit */
        tt->cur_valid = 0;
        if (tt_restore(tt, c) < 0)
            TT_FAIL();
        tt->cur = (struct pos){start, 0, 0, 0, 0};
        tt->cur_valid = 1;
        struct runspec rs;
        tt_spec_init(&rs);
        rs.scan = 1;
        if (end.k > 0) {
            rs.addr[0] = end.a;
            rs.naddr = 1;
            rs.stop_idx = 0;
            rs.stop_k = end.k;
            rs.stop_e = end.e;
            rs.record_at_stop = end.s > 0;
        } else {
            rs.stop_event = end.e;
        }
        if (end.k == 0 && start == end.e) {
            rs.why = RUN_EVENT; /* already at base end.e */
            if (tt_user_counts_reset(tt) < 0)
                TT_FAIL();
        } else
            tt_run(tt, &rs);
        if (rs.why == RUN_INTERRUPT) {
            tt->cur_valid = 0;
            stop->kind = GDB_STOP_INTERRUPT;
            return 0;
        }
        int reached = (end.k > 0 && rs.why == RUN_ARRIVAL) || (end.k == 0 && rs.why == RUN_EVENT);
        if (!reached)
            TT_FAIL();
        if (end.s > 0) {
            if (end.k == 0) /* the arrival at base end.e itself lies before the end */
                tt_arrive(tt, &rs, dbg_rip(tt->d), 0, 0, 0);
            tt_run_steps(tt, &rs, end.s, end.a, end.k);
        }
        tt->cur_valid = 0;
        if (rs.have_last)
            return goto_hit(tt, &rs.last, stop);
        if (start == 0)
            return tt_history_begin(tt, stop);
        end = (struct pos){start, 0, 0, 0, 0};
        if (tt->d->stub && gdbstub_poll_interrupt(tt->d->stub)) {
            goto_pos(tt, end);
            stop->kind = GDB_STOP_INTERRUPT;
            return 0;
        }
    }
}

int tt_reverse(struct timetravel *tt, int step, struct gdb_stop *stop)
{
    memset(stop, 0, sizeof *stop);
    if (tt->at_fault && !tt->cur_valid) {
        /* a faulted guest: go back from the last hypercall boundary */
        tt->at_fault = 0;
        tt->cur = (struct pos){cur_event(tt), 0, 0, 0, tt->base_n};
        tt->cur_valid = 1;
    }
    /* keep the way back: a failed reverse operation leaves the machine where it was */
    struct checkpoint *here = ck_snapshot(&tt->ck, cur_event(tt), tt->r->chain, 1, tt->base_n);
    if (!here)
        return -1; /* out of memory: the machine has not moved */
    struct pos was = tt->cur;
    int was_valid = tt->cur_valid, was_ended = tt->d->ended;
    struct monitor_stop was_stop = tt->m->stop;
    int rc;
    if (tt->icount)
        rc = step ? tc_reverse_step(tt, stop) : tc_reverse_continue(tt, stop);
    else
        rc = step ? reverse_step(tt, stop) : reverse_continue(tt, stop);
    if (rc < 0) {
        (void)tt_restore(tt, here); /* the log was readable a moment ago */
        tt->cur = was;
        tt->cur_valid = was_valid;
        tt->d->ended = was_ended;
        tt->m->stop = was_stop;
    }
    ck_release(&tt->ck, here);
    dbg_watch_snapshot(tt->d);
    return rc;
}

/* ---- monitor commands ---- */

void tt_describe_position(struct timetravel *tt, char *buf, size_t n)
{
    if (tt->icount) {
        tc_describe(tt, buf, n);
        return;
    }
    resolve(tt);
    struct pos p = tt->cur;
    if (!tt->cur_valid)
        snprintf(buf, n, "event %" PRIu64 " (position within the interval unknown)", cur_event(tt));
    else if (p.k == 0)
        snprintf(buf, n, "event %" PRIu64 " + %" PRIu64 " steps%s", p.e, p.s,
                 tt->d->ended ? " (end of the recording)" : "");
    else
        snprintf(buf, n,
                 "event %" PRIu64 ", arrival %" PRIu64 " at 0x%" PRIx64 " + %" PRIu64 " steps", p.e,
                 p.k, p.a, p.s);
}

void tt_list_checkpoints(struct timetravel *tt, gdb_out_fn out, void *ctx)
{
    char line[160];
    int len =
        snprintf(line, sizeof line,
                 "%zu checkpoints (%" PRIu64 " taken, %" PRIu64 " thinned), %" PRIu64
                 " KiB of page copies for %" PRIu64 " KiB of guest RAM (copies and page tables)\n",
                 tt->ck.n, tt->ck.taken, tt->ck.dropped, ck_memory_bytes(&tt->ck) >> 10,
                 tt->m->vm.mem_size >> 10);
    out(ctx, line, (size_t)len);
    for (size_t i = 0; i < tt->ck.n; i++) {
        len = snprintf(line, sizeof line, "  at event %" PRIu64 "\n", tt->ck.ck[i]->event);
        out(ctx, line, (size_t)len);
    }
}

int tt_goto_event(struct timetravel *tt, uint64_t event, char *msg, size_t n)
{
    /* "just before event N": at base N, the guest about to continue towards hypercall N */
    if (tt->icount ? tc_goto_event(tt, event) < 0
                   : goto_pos(tt, (struct pos){event, 0, 0, 0, 0}) < 0) {
        snprintf(msg, n,
                 "event %" PRIu64 " is past the end of the recording (now at event %" PRIu64 ")",
                 event, cur_event(tt));
        tt->cur_valid = 0;
        TT_FAIL();
    }
    if (tt->icount)
        snprintf(msg, n, "at event %" PRIu64 " (rip 0x%" PRIx64 ", instruction %" PRIu64 ")", event,
                 dbg_rip(tt->d), tt_count(tt));
    else
        snprintf(msg, n, "at event %" PRIu64 " (rip 0x%" PRIx64 ")", event, dbg_rip(tt->d));
    return 0;
}

int tt_goto_insn(struct timetravel *tt, uint64_t insn, char *msg, size_t n)
{
    if (!tt->icount) {
        snprintf(msg, n,
                 "engine %s does not count instructions: positions are events (monitor goto "
                 "EVENT)",
                 tt->m->vm.ops->name);
        TT_FAIL();
    }
    if (insn < tt->ck.ck[0]->icount || tc_goto(tt, insn, 0) < 0) {
        snprintf(msg, n,
                 "instruction %" PRIu64 " is outside the recording (now at instruction %" PRIu64
                 ", event %" PRIu64 ")",
                 insn, tt_count(tt), cur_event(tt));
        tt->cur_valid = 0;
        TT_FAIL();
    }
    snprintf(msg, n, "at instruction %" PRIu64 " (event %" PRIu64 ", rip 0x%" PRIx64 ")", insn,
             cur_event(tt), dbg_rip(tt->d));
    return 0;
}

void tt_memory(struct timetravel *tt, uint64_t *checkpoint_bytes, uint64_t *ram_bytes)
{
    *checkpoint_bytes = ck_memory_bytes(&tt->ck);
    *ram_bytes = tt->m->vm.mem_size;
}

struct timetravel *tt_create(struct debugger *d)
{
    struct timetravel *tt = calloc(1, sizeof *tt);
    if (!tt)
        return NULL;
    tt->d = d;
    tt->r = d->r;
    tt->m = d->m;
    if (ck_init(&tt->ck, &d->m->vm, d->r->chain) < 0) {
        free(tt);
        return NULL;
    }
    tt->icount = (d->m->vm.ops->caps & ENGINE_CAP_INSN_COUNT) && d->m->vm.ops->insn_count;
    tt->base_n = tt_count(tt);
    tt->cur = (struct pos){.n = tt->base_n};
    tt->cur_valid = 1;
    tt->ck_cpu_ns = cpu_ns();
    return tt;
}

void tt_destroy(struct timetravel *tt)
{
    if (!tt)
        return;
    cache_clear(tt);
    ck_fini(&tt->ck);
    free(tt->ucount);
    free(tt);
}
