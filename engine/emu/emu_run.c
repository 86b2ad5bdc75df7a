/*
 * emu_run.c - the emulator engine's run loop (engine.h, emu_internal.h): the
 * code scan that puts code hooks where the guest must stop exactly, counting
 * instructions by blocks, breakpoints, watchpoints and the delivery of CPU
 * exceptions through the guest's IDT.
 */
#include "engine/emu/emu_internal.h"

#include "engine/emu/emu_x86.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- stopping ---- */

/* Index of the instruction at (addr) in the current block (its icount if
 * (addr) is the block's end). */
static uint32_t index_in(const struct emu_block *b, uint64_t addr)
{
    if (!b || addr < b->addr)
        return 0;
    uint64_t off = addr - b->addr;
    for (uint32_t i = 0; i < b->icount; i++)
        if (b->off[i] >= off)
            return i;
    return b->icount;
}

/* The count at the start of the current block (e->cur set: the block hook
 * added its length, and no stop has fixed the count inside it yet). */
static inline uint64_t cur_start(const struct emu_engine *e)
{
    return e->count - e->cur->icount;
}

/* Stop the guest before the instruction at (addr) inside the current block:
 * the count is the block's start plus the instructions before it. */
static void stop_at(struct emu_engine *e, enum emu_stop why, uint64_t addr)
{
    e->stop = why;
    e->restart_rip = addr;
    if (e->cur)
        e->count = cur_start(e) + index_in(e->cur, addr);
    e->cur = NULL; /* the count is final: later hooks of this block leave it (trap 9) */
    uc_emu_stop(e->uc);
}

/* Stop before a block that has not been counted. */
static void stop_before_block(struct emu_engine *e, enum emu_stop why, uint64_t addr)
{
    e->stop = why;
    e->restart_rip = addr;
    e->cur = NULL;
    uc_emu_stop(e->uc);
}

/* ---- hooks ---- */

static void on_block_slow(uc_engine *uc, uint64_t addr, uint32_t size, struct vm *vm);

/* The block hook: runs before every translation block the guest executes, so
 * it is the engine's hot path (spin's loop is one 6-instruction block). A
 * block seen last time with nothing pending and no limit within it only adds
 * its length; everything else is on_block_slow, kept out of line so this
 * stays a few compares. */
static void on_block(uc_engine *uc, uint64_t addr, uint32_t size, void *user)
{
    struct emu_engine *e = user;
    struct emu_block *b = e->last;
    if (__builtin_expect(b && addr == b->addr && size == b->size &&
                             !(e->stop | e->io_pending | e->kicked) &&
                             e->count + b->icount <= e->limit,
                         1)) {
        e->count += b->icount;
        e->cur = b;
        return;
    }
    on_block_slow(uc, addr, size, e->vm);
}

__attribute__((noinline)) static void on_block_slow(uc_engine *uc, uint64_t addr, uint32_t size,
                                                    struct vm *vm)
{
    struct emu_engine *e = emu_of(vm);
    e->last = NULL;
    /* Unicorn has translated this block whether or not it runs now: decode it
     * first, so that a hook added later inside it invalidates it (a step that
     * stops at a new block's first instruction left the block translated
     * without its hooks, and a breakpoint set there next was never reported) */
    struct emu_block *b = emu_block_find(e, addr);
    int added = 0;
    if (!b || b->size != size) {
        b = emu_block_decode(vm, addr, size, &added);
        if (!b) {
            engine_fault(e->ev, ENGINE_FAULT_INTERNAL, "out of memory decoding guest code");
            stop_before_block(e, EMU_STOP_EVENT, addr);
            return;
        }
    }
    if (e->stop) { /* a stop is pending: this block does not run */
        if (!e->restart_rip && e->stop != EMU_STOP_EXCEPTION)
            e->restart_rip = addr;
        e->cur = NULL;
        uc_emu_stop(uc);
        return;
    }
    if (e->io_pending) { /* an out whose next instruction had no hook (cannot happen) */
        stop_before_block(e, EMU_STOP_EVENT, addr);
        return;
    }
    if (e->count >= e->limit) { /* a step done before a kick: STEP, not INTERRUPTED */
        stop_before_block(e, EMU_STOP_LIMIT, addr);
        return;
    }
    if (e->kicked) {
        stop_before_block(e, EMU_STOP_KICK, addr);
        return;
    }
    if (added) { /* translated again with its new hooks */
        stop_before_block(e, EMU_STOP_RESTART, addr);
        return;
    }
    if (e->count >= e->limit) {
        stop_before_block(e, EMU_STOP_LIMIT, addr);
        return;
    }
    if (e->count + b->icount > e->limit) {
        uint64_t t = addr + b->off[e->limit - e->count];
        if (e->armed != t) {
            if (e->armed)
                emu_spot_clear(vm, e->armed, EMU_AT_STOP);
            e->armed = t;
            if (emu_spot_set(vm, t, EMU_AT_STOP, NULL) > 0) {
                stop_before_block(e, EMU_STOP_RESTART, addr);
                return;
            }
        }
    }
    e->count += b->icount;
    e->cur = b;
    e->last = b;
}

static int is_bp(const struct emu_engine *e, uint64_t addr)
{
    for (size_t i = 0; i < e->nbp; i++)
        if (e->bp[i] == addr)
            return 1;
    return 0;
}

static uint64_t reg_of(uc_engine *uc, int id)
{
    uint64_t v = 0;
    uc_reg_read(uc, id, &v);
    return v;
}

void emu_on_spot(uc_engine *uc, uint64_t addr, uint32_t size, void *user)
{
    struct vm *vm = user;
    struct emu_engine *e = emu_of(vm);
    if (e->stop) {
        if (!e->restart_rip && e->stop != EMU_STOP_EXCEPTION)
            stop_at(e, e->stop, addr);
        return;
    }
    struct emu_spot *s = emu_spot_find(e, addr);
    unsigned flags = s ? s->flags : 0;
    struct engine_event *ev = e->ev;
    if (e->io_pending) {
        /* the in/out before this instruction completed: report it here, rip after it */
        ev->kind = ENGINE_EV_HYPERCALL;
        ev->io.port = e->io_port;
        ev->io.size = e->io_size;
        ev->io.is_out = e->io_out;
        ev->io.value = e->io_value;
        e->io_pending = 0;
        stop_at(e, EMU_STOP_EVENT, addr);
        return;
    }
    if (e->strio && (flags & EMU_AT_IO_AFTER)) { /* a string I/O instruction completed */
        ev->kind = ENGINE_EV_HYPERCALL;
        ev->io.port = e->strio_port;
        ev->io.size = 0;
        ev->io.is_out = (uint8_t)(e->strio >> 1);
        e->strio = 0;
        stop_at(e, EMU_STOP_EVENT, addr);
        return;
    }
    uint64_t here = e->cur ? cur_start(e) + index_in(e->cur, addr) : e->count;
    if ((flags & EMU_AT_STOP) && here >= e->limit) {
        stop_at(e, EMU_STOP_LIMIT, addr);
        return;
    }
    if ((flags & EMU_AT_BP) && !e->stepping && is_bp(e, addr)) {
        ev->kind = ENGINE_EV_BREAKPOINT;
        ev->bp.addr = addr;
        stop_at(e, EMU_STOP_EVENT, addr);
        return;
    }
    int vector = emu_insn_raises(vm, flags, s ? s->what : NULL);
    if (vector >= 0) { /* raises an exception where Unicorn would run it or stop */
        e->exc_vector = vector;
        e->exc_is_int = 0;
        e->exc_err_from = EMU_ERR_GIVEN;
        e->exc_err = 0;
        stop_at(e, EMU_STOP_EXCEPTION, addr);
        return;
    }
    if (flags & EMU_AT_CONTRACT) {
        engine_fault(ev, ENGINE_FAULT_CONTRACT,
                     "guest executed %s at rip 0x%" PRIx64
                     ": an instruction outside the pvrr contract (nondeterministic input the "
                     "recorder cannot see; use the pvrr hypercalls for time and randomness); "
                     "not executed",
                     s && s->what ? s->what : "a forbidden instruction", addr);
        ev->fault.addr = addr;
        stop_at(e, EMU_STOP_EVENT, addr);
        return;
    }
    if (flags & EMU_AT_VEX) {
        engine_fault(ev, ENGINE_FAULT_INTERNAL,
                     "guest executed %s at rip 0x%" PRIx64
                     ": the emulator cannot execute it correctly (build guests with -mno-avx; "
                     "pvrr's CPUID does not offer AVX); not executed",
                     s && s->what ? s->what : "an AVX instruction", addr);
        stop_at(e, EMU_STOP_EVENT, addr);
        return;
    }
    if (flags & EMU_AT_HLT) {
        engine_fault(ev, ENGINE_FAULT_HLT,
                     "guest executed hlt at rip 0x%" PRIx64
                     ": with no interrupts a halted guest never wakes (use the poll hypercall to "
                     "wait)",
                     addr);
        ev->fault.addr = addr;
        uint64_t after = e->cur ? cur_start(e) + index_in(e->cur, addr) + 1 : e->count;
        stop_at(e, EMU_STOP_EVENT, addr + 1); /* as KVM: rip after the hlt */
        e->count = after;
        return;
    }
    if (flags & EMU_AT_STRIO) {
        e->strio = 1 | ((flags & EMU_AT_STRIO_OUT) ? 2 : 0);
        e->strio_port = (uint16_t)reg_of(uc, UC_X86_REG_RDX);
        return;
    }
    if (flags & (EMU_AT_SYSCALL | EMU_AT_SYSRET | EMU_AT_MSR | EMU_AT_EXEC)) {
        /* instructions Unicorn 2.0.1 runs wrong: the run loop executes them */
        int kind = emu_insn_at(vm, flags, addr, size);
        if (kind >= 0) {
            e->insn = kind;
            e->insn_len = size;
            stop_at(e, EMU_STOP_INSN, addr);
        }
        return;
    }
}

static void on_out(uc_engine *uc, uint32_t port, int size, uint32_t value, void *user)
{
    (void)uc;
    struct emu_engine *e = emu_of((struct vm *)user);
    if (e->strio) /* part of a string I/O instruction: reported when it completes */
        return;
    e->io_pending = 1;
    e->io_port = (uint16_t)port;
    e->io_size = (uint8_t)size;
    e->io_out = 1;
    e->io_value = size == 1 ? value & 0xff : size == 2 ? value & 0xffff : value;
}

static uint32_t on_in(uc_engine *uc, uint32_t port, int size, void *user)
{
    (void)uc;
    struct emu_engine *e = emu_of((struct vm *)user);
    if (e->strio)
        return 0xffffffffu;
    e->io_pending = 1;
    e->io_port = (uint16_t)port;
    e->io_size = (uint8_t)size;
    e->io_out = 0;
    e->io_value = 0;
    return 0xffffffffu; /* the guest reads 0xff bytes */
}

static void on_cpuid(uc_engine *uc, void *user)
{
    (void)user;
    uint64_t rax = 0, rcx = 0;
    uc_reg_read(uc, UC_X86_REG_RAX, &rax);
    uc_reg_read(uc, UC_X86_REG_RCX, &rcx);
    uint32_t out[4];
    engine_cpuid((uint32_t)rax, (uint32_t)rcx, out);
    uint64_t v[4] = {out[0], out[1], out[2], out[3]};
    uc_reg_write(uc, UC_X86_REG_RAX, &v[0]);
    uc_reg_write(uc, UC_X86_REG_RBX, &v[1]);
    uc_reg_write(uc, UC_X86_REG_RCX, &v[2]);
    uc_reg_write(uc, UC_X86_REG_RDX, &v[3]);
}

static int on_cpuid_insn(uc_engine *uc, void *user)
{
    on_cpuid(uc, user);
    return 1; /* skip Unicorn's own CPUID */
}

/* An exception (the rip Unicorn restored: the faulting instruction, or after
 * a software interrupt) to deliver after the stop; the count excludes a
 * faulting instruction. */
static void exception_stop(struct vm *vm, int vector, int err_from)
{
    struct emu_engine *e = emu_of(vm);
    uint64_t rip = 0;
    uc_reg_read(e->uc, UC_X86_REG_RIP, &rip);
    e->exc_vector = vector;
    e->exc_is_int = emu_is_soft_int(vm, vector, rip);
    e->exc_err_from = err_from;
    e->exc_err = 0;
    if (e->cur)
        e->count = cur_start(e) + index_in(e->cur, rip);
    e->cur = NULL;
}

static void on_intr(uc_engine *uc, uint32_t intno, void *user)
{
    (void)uc;
    struct emu_engine *e = emu_of((struct vm *)user);
    exception_stop(user, (int)intno, EMU_ERR_QEMU);
    e->stop = EMU_STOP_EXCEPTION;
    e->restart_rip = 0; /* the rip Unicorn restored at the fault */
    uc_emu_stop(e->uc);
}

static bool on_invalid(uc_engine *uc, void *user)
{
    struct vm *vm = user;
    struct emu_engine *e = emu_of(vm);
    uint64_t rip = 0;
    uc_reg_read(uc, UC_X86_REG_RIP, &rip);
    if (emu_insn_unknown_to_unicorn(vm, rip)) {
        /* QEMU ends a translation block before an instruction it cannot
         * decode, so the code scan never saw it: mark it now and run again,
         * and the spot's hook executes it */
        stop_at(e, EMU_STOP_RESTART, rip);
        return true;
    }
    exception_stop(user, 6, EMU_ERR_DERIVE); /* #UD */
    e->stop = EMU_STOP_EXCEPTION;
    e->restart_rip = 0;
    uc_emu_stop(e->uc);
    return true;
}

static bool on_unmapped(uc_engine *uc, uc_mem_type type, uint64_t addr, int size, int64_t value,
                        void *user)
{
    (void)value;
    struct emu_engine *e = emu_of((struct vm *)user);
    if ((uint64_t)((int64_t)(addr << 16) >> 16) != addr) {
        /* a non-canonical address: #GP(0) on hardware (Unicorn 2.0.1 does not
         * translate virtual addresses, so it sees a physical address nobody mapped) */
        exception_stop(user, 13, EMU_ERR_GIVEN);
        e->stop = EMU_STOP_EXCEPTION;
        e->restart_rip = 0;
        return false;
    }
    if (!emu_page_ok(user, addr, type == UC_MEM_WRITE_UNMAPPED)) {
        /* Unicorn looks for memory before it walks the page tables: a page the
         * guest's tables do not map is a #PF on hardware, not an access
         * outside RAM */
        uc_reg_write(uc, UC_X86_REG_CR2, &addr);
        exception_stop(user, 14, EMU_ERR_DERIVE);
        e->stop = EMU_STOP_EXCEPTION;
        e->restart_rip = 0;
        return false;
    }
    e->bad = 1;
    e->bad_addr = addr;
    e->bad_len = (uint32_t)size;
    e->bad_write = type == UC_MEM_WRITE_UNMAPPED;
    if (type == UC_MEM_FETCH_UNMAPPED)
        e->bad_write = 2;
    return false;
}

/* While watches exist: every access is checked, and a hit stops the guest at
 * the next instruction boundary (the per-instruction hook makes that exact). */
static void on_mem(uc_engine *uc, uc_mem_type type, uint64_t addr, int size, int64_t value,
                   void *user)
{
    struct vm *vm = user;
    struct emu_engine *e = emu_of(vm);
    if (e->watch_hit || e->stop)
        return;
    int is_write = type == UC_MEM_WRITE;
    unsigned want = is_write ? ENGINE_WATCH_WRITE : ENGINE_WATCH_READ;
    for (size_t i = 0; i < e->nw; i++) {
        const struct engine_watch *w = &e->w[i];
        if (!(w->kind & want) || !(addr < w->addr + w->len && w->addr < addr + (uint64_t)size))
            continue;
        e->watch_hit = 1;
        e->wh.addr = addr;
        e->wh.len = (uint32_t)(size > 16 ? 16 : size);
        e->wh.is_write = (uint8_t)is_write;
        if (is_write) {
            memcpy(e->wh.data, &value, e->wh.len > 8 ? 8 : e->wh.len);
        } else {
            const uint8_t *p = vm_gpa(vm, addr, e->wh.len);
            if (p)
                memcpy(e->wh.data, p, e->wh.len);
        }
        /* no uc_emu_stop here: it would end the instruction half done (the
         * access is, its other effects are not); the per-instruction hook
         * or the next block's hook stops at the next boundary */
        e->stop = EMU_STOP_WATCH;
        e->restart_rip = 0;
        return;
    }
}

/* Every instruction, while watches exist: a pending stop takes effect here. */
static void on_every(uc_engine *uc, uint64_t addr, uint32_t size, void *user)
{
    (void)uc, (void)size;
    struct emu_engine *e = emu_of((struct vm *)user);
    if (e->stop && !e->restart_rip && e->stop != EMU_STOP_EXCEPTION)
        stop_at(e, e->stop, addr);
}

void emu_watch_hooks(struct vm *vm)
{
    struct emu_engine *e = emu_of(vm);
    if (e->nw && !e->h_mem) {
        uc_hook_add(e->uc, &e->h_mem, UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE, (void *)on_mem, vm, 1,
                    0);
        uc_hook_add(e->uc, &e->h_all, UC_HOOK_CODE, (void *)on_every, vm, 1, 0);
        /* code translated without the hooks must be translated again: every
         * block the guest ran (the invalidation translates its address, so
         * only addresses known to be mapped, and already accessed, are used) */
        for (size_t i = 0; i < e->capblocks; i++)
            if (e->blocks[i].off)
                uc_ctl_remove_cache(e->uc, e->blocks[i].addr,
                                    e->blocks[i].addr +
                                        (e->blocks[i].size ? e->blocks[i].size : 1));
    } else if (!e->nw && e->h_mem) {
        uc_hook_del(e->uc, e->h_mem);
        uc_hook_del(e->uc, e->h_all);
        e->h_mem = e->h_all = 0;
    }
}

int emu_hooks_init(struct vm *vm)
{
    struct emu_engine *e = emu_of(vm);
    uc_engine *uc = e->uc;
    /* no "until" address: a jump to 0 must fault, not end the run */
    if (uc_ctl_exits_enable(uc) != UC_ERR_OK)
        return -1;
    if (uc_hook_add(uc, &e->h_block, UC_HOOK_BLOCK, (void *)on_block, e, 1, 0) != UC_ERR_OK ||
        uc_hook_add(uc, &e->h_out, UC_HOOK_INSN, (void *)on_out, vm, 1, 0, UC_X86_INS_OUT) !=
            UC_ERR_OK ||
        uc_hook_add(uc, &e->h_in, UC_HOOK_INSN, (void *)on_in, vm, 1, 0, UC_X86_INS_IN) !=
            UC_ERR_OK ||
        uc_hook_add(uc, &e->h_cpuid, UC_HOOK_INSN, (void *)on_cpuid_insn, vm, 1, 0,
                    UC_X86_INS_CPUID) != UC_ERR_OK ||
        uc_hook_add(uc, &e->h_intr, UC_HOOK_INTR, (void *)on_intr, vm, 1, 0) != UC_ERR_OK ||
        uc_hook_add(uc, &e->h_invalid, UC_HOOK_INSN_INVALID, (void *)on_invalid, vm, 1, 0) !=
            UC_ERR_OK ||
        uc_hook_add(uc, &e->h_unmapped, UC_HOOK_MEM_UNMAPPED, (void *)on_unmapped, vm, 1, 0) !=
            UC_ERR_OK)
        return -1;
    return 0;
}

void emu_flush_tlb(struct vm *vm)
{
    struct emu_engine *e = emu_of(vm);
    /* mapping and unmapping a page flushes Unicorn's TLB without dropping the
     * translated code (uc_ctl_flush_tlb drops both: trap 3) */
    uint64_t dummy = (vm->mem_size + (1ull << 30)) & ~((1ull << 30) - 1);
    if (uc_mem_map(e->uc, dummy, 4096, UC_PROT_READ) == UC_ERR_OK)
        uc_mem_unmap(e->uc, dummy, 4096);
}

/* ---- the run loop ---- */

static uint64_t reg(uc_engine *uc, int id)
{
    uint64_t v = 0;
    uc_reg_read(uc, id, &v);
    return v;
}

static void emu_engine_run1(struct vm *vm, const struct engine_run_args *a,
                            struct engine_event *ev);
void emu_engine_run(struct vm *vm, const struct engine_run_args *a, struct engine_event *ev)
{
    static int trace = -1;
    if (trace < 0)
        trace = getenv("PVRR_EMU_TRACE") != NULL;
    uint64_t r0 = 0, c0 = emu_of(vm)->count;
    if (trace)
        uc_reg_read(emu_of(vm)->uc, UC_X86_REG_RIP, &r0);
    emu_engine_run1(vm, a, ev);
    if (trace) {
        uint64_t r1 = 0;
        uc_reg_read(emu_of(vm)->uc, UC_X86_REG_RIP, &r1);
        fprintf(stderr, "EMU run step=%d rip %llx -> %llx ev %d count %llu -> %llu\n", a && a->step,
                (unsigned long long)r0, (unsigned long long)r1, ev->kind, (unsigned long long)c0,
                (unsigned long long)emu_of(vm)->count);
    }
}

static void emu_engine_run1(struct vm *vm, const struct engine_run_args *a, struct engine_event *ev)
{
    struct emu_engine *e = emu_of(vm);
    uc_engine *uc = e->uc;
    memset(ev, 0, sizeof *ev);
    e->ev = ev;
    int step = a && a->step;
    uint64_t max = a ? a->max_insns : 0;
    e->stepping = step;
    e->limit = step ? e->count + 1 : max ? e->count + max : UINT64_MAX;
    if (e->armed) {
        emu_spot_release(vm, e->armed, EMU_AT_STOP);
        e->armed = 0;
    }
    if (e->shadow_stale)
        emu_shadow_sync(vm);
    uint64_t rip = reg(uc, UC_X86_REG_RIP);
    if (e->triple) {
        engine_fault(ev, ENGINE_FAULT_TRIPLE,
                     "guest triple fault: the guest took an exception it could not handle");
        return;
    }
    if (!step && is_bp(e, rip)) {
        ev->kind = ENGINE_EV_BREAKPOINT;
        ev->bp.addr = rip;
        return;
    }
    if (e->kicked) {
        e->kicked = 0;
        ev->kind = ENGINE_EV_INTERRUPTED;
        return;
    }
    for (;;) {
        e->stop = EMU_STOP_NONE;
        e->restart_rip = 0;
        e->cur = NULL;
        e->bad = 0;
        e->watch_hit = 0;
        uc_err err = uc_emu_start(uc, rip, 0, 0, 0);
        enum emu_stop why = e->stop;
        e->cur = NULL;
        if (err != UC_ERR_OK && why != EMU_STOP_EXCEPTION) {
            uint64_t at = reg(uc, UC_X86_REG_RIP);
            if (e->bad) {
                if (e->bad_write == 2)
                    engine_fault(ev, ENGINE_FAULT_BAD_ACCESS,
                                 "guest fetched code at physical address 0x%" PRIx64
                                 " outside its RAM (0x%" PRIx64 " bytes)",
                                 e->bad_addr, vm->mem_size);
                else
                    engine_fault(ev, ENGINE_FAULT_BAD_ACCESS,
                                 "guest %s physical address 0x%" PRIx64
                                 " (%u bytes) outside its RAM (0x%" PRIx64 " bytes)",
                                 e->bad_write ? "wrote" : "read", e->bad_addr, e->bad_len,
                                 vm->mem_size);
                ev->fault.addr = e->bad_addr;
                ev->fault.len = e->bad_len;
                ev->fault.is_write = e->bad_write == 1;
            } else {
                engine_fault(ev, ENGINE_FAULT_INTERNAL,
                             "the emulator cannot execute the guest's instruction at rip 0x%" PRIx64
                             ": %s",
                             at, uc_strerror(err));
            }
            e->io_pending = 0;
            return;
        }
        if (e->restart_rip)
            uc_reg_write(uc, UC_X86_REG_RIP, &e->restart_rip);
        rip = reg(uc, UC_X86_REG_RIP);
        switch (why) {
        case EMU_STOP_RESTART:
            continue;
        case EMU_STOP_EVENT:
            return;
        case EMU_STOP_KICK:
            e->kicked = 0;
            ev->kind = ENGINE_EV_INTERRUPTED;
            return;
        case EMU_STOP_LIMIT:
            ev->kind = step ? ENGINE_EV_STEP : ENGINE_EV_TIMEOUT;
            return;
        case EMU_STOP_WATCH:
            ev->kind = ENGINE_EV_WATCH;
            ev->watch.addr = e->wh.addr;
            ev->watch.len = e->wh.len;
            ev->watch.is_write = e->wh.is_write;
            memcpy(ev->watch.data, e->wh.data, sizeof ev->watch.data);
            return;
        case EMU_STOP_INSN: {
            uint32_t xerr = 0;
            int vector = emu_exec_insn(vm, e->insn, rip, e->insn_len, &xerr);
            if (vector == -2) {
                engine_fault(ev, ENGINE_FAULT_INTERNAL,
                             "guest set EFER.NXE at rip 0x%" PRIx64
                             ": the emulator (Unicorn 2.0.1) cannot enforce no-execute pages; not "
                             "executed",
                             rip);
                ev->fault.addr = rip;
                return;
            }
            if (vector >= 0) { /* it raised an exception instead */
                e->exc_vector = vector;
                e->exc_is_int = 0;
                e->exc_err_from = EMU_ERR_GIVEN;
                e->exc_err = xerr;
                goto deliver;
            }
            e->count++;
            rip = reg(uc, UC_X86_REG_RIP);
            if (step || e->count >= e->limit) {
                ev->kind = step ? ENGINE_EV_STEP : ENGINE_EV_TIMEOUT;
                return;
            }
            if (is_bp(e, rip)) {
                ev->kind = ENGINE_EV_BREAKPOINT;
                ev->bp.addr = rip;
                return;
            }
            continue;
        }
        case EMU_STOP_EXCEPTION:
        deliver : {
            int vector = e->exc_vector;
            e->strio = 0; /* a string I/O that faulted is not reported */
            if (emu_deliver(vm, vector, e->exc_is_int, e->exc_err_from, e->exc_err, rip, ev) < 0) {
                e->triple = 1;
                return; /* ev: the triple fault */
            }
            rip = reg(uc, UC_X86_REG_RIP);
            if (step) { /* the step's instruction raised the exception: done */
                ev->kind = ENGINE_EV_STEP;
                return;
            }
            if (!step && is_bp(e, rip)) {
                ev->kind = ENGINE_EV_BREAKPOINT;
                ev->bp.addr = rip;
                return;
            }
            continue;
        }
        case EMU_STOP_NONE:
        default:
            /* uc_emu_start returned without any stop the engine asked for:
             * QEMU halts the CPU by itself on what it counts as a fault
             * while delivering a double fault, or on a hlt it ran */
            engine_fault(ev, ENGINE_FAULT_INTERNAL,
                         "internal error in the emulator engine: Unicorn ended the guest's run at "
                         "rip 0x%" PRIx64 " (ring %d, rflags 0x%" PRIx64
                         ") without an event pvrr asked for (QEMU halts the CPU on a fault it "
                         "counts as a triple fault, or on a hlt it executed itself)",
                         rip, emu_cpl(vm), reg(uc, UC_X86_REG_RFLAGS));
            ev->fault.addr = rip;
            return;
        }
    }
}
