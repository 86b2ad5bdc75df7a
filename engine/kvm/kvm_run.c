/*
 * kvm_run.c - the KVM engine's run loop, execution breakpoints (hlt patches
 * and debug registers), watchpoints (read-only and absent memory slots) and
 * the dirty-page log (engine.h, kvm_internal.h).
 *
 * Mechanisms, chosen for KVM hosts without int3 support or data breakpoints
 * (../shared/platform.md):
 *   - execution breakpoints: the instruction's first byte is replaced by hlt
 *     (0xf4) while the guest runs and the KVM_EXIT_HLT at address+1 is
 *     recognised; patches go in at the start of each run and out before it
 *     returns, so nobody else ever sees them. Breakpoints flagged
 *     ENGINE_BP_HW use debug registers DR0-DR3 instead where the host fires
 *     them (measured once per process);
 *   - watchpoints: the watched pages become read-only memory slots (writes
 *     exit as KVM_EXIT_MMIO) or, for read and access watches, holes (reads
 *     exit too); the engine performs each access itself and reports those
 *     that touch a watched range;
 *   - single-step: KVM_GUESTDBG_SINGLESTEP.
 */
#include "engine/kvm/kvm_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define HLT 0xf4
#define DR7_ENABLE(i) (1ull << ((i)*2 + 1)) /* global enable, execute, 1 byte */

/* ---- memory slots and the dirty log ---- */

int kvm_set_slot(struct vm *vm, unsigned i)
{
    struct kvm_engine *k = kvm_of(vm);
    struct kvm_userspace_memory_region region = {
        .slot = i,
        .flags = k->slots[i].flags,
        .guest_phys_addr = k->slots[i].gpa,
        .memory_size = k->slots[i].size,
        .userspace_addr = (uint64_t)(uintptr_t)(vm->mem + k->slots[i].gpa),
    };
    return kvm__ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &region);
}

void kvm_engine_dirty_collect(struct vm *vm)
{
    struct kvm_engine *k = kvm_of(vm);
    for (unsigned i = 0; i < k->nslots; i++) {
        if (k->slots[i].flags & KVM_MEM_READONLY)
            continue;
        uint64_t npages = k->slots[i].size / 4096;
        uint64_t words = (npages + 63) / 64;
        uint64_t stackbuf[64];
        uint64_t *bm = words <= 64 ? stackbuf : calloc(words, sizeof *bm);
        if (!bm)
            engine_die("out of memory for the dirty log");
        memset(bm, 0, words * sizeof *bm);
        struct kvm_dirty_log log = {.slot = i, .dirty_bitmap = bm};
        kvm_ioctl(k->vm_fd, KVM_GET_DIRTY_LOG, &log);
        uint64_t first = k->slots[i].gpa / 4096;
        for (uint64_t w = 0; w < words; w++) {
            uint64_t bits = bm[w];
            while (bits) {
                unsigned b = (unsigned)__builtin_ctzll(bits);
                bits &= bits - 1;
                uint64_t p = first + w * 64 + b;
                vm->dirty[p / 64] |= 1ull << (p % 64);
                vm->ever[p / 64] |= 1ull << (p % 64);
            }
        }
        if (bm != stackbuf)
            free(bm);
    }
}

/* The protection of the page holding (gpa). */
static enum kvm_page_prot page_protection(const struct vm *vm, uint64_t gpa)
{
    const struct kvm_engine *k = kvm_of(vm);
    if (gpa >= vm->mem_size)
        return KVM_PAGE_RW;
    for (unsigned i = 0; i < k->nslots; i++)
        if (gpa >= k->slots[i].gpa && gpa - k->slots[i].gpa < k->slots[i].size)
            return (k->slots[i].flags & KVM_MEM_READONLY) ? KVM_PAGE_RO : KVM_PAGE_RW;
    return KVM_PAGE_HOLE; /* inside RAM but in no slot */
}

/* Protect exactly the (n) pages listed (sorted, distinct, at most
 * KVM_MAX_PROT_PAGES); every other page becomes ordinary RAM again. Dirty
 * bits gathered so far are kept. */
static void protect_pages(struct vm *vm, const struct kvm_page *pages, unsigned n)
{
    struct kvm_engine *k = kvm_of(vm);
    if (n == k->nprot && memcmp(pages, k->prot, n * sizeof pages[0]) == 0)
        return;
    kvm_engine_dirty_collect(vm);
    /* Delete the old slots, then lay RAM out again around the protected pages. */
    for (unsigned i = 0; i < k->nslots; i++) {
        k->slots[i].size = 0;
        k->slots[i].flags = 0;
        if (kvm_set_slot(vm, i) < 0)
            engine_die("KVM_SET_USER_MEMORY_REGION (delete)");
    }
    unsigned ns = 0;
    uint64_t at = 0;
    for (unsigned i = 0; i <= n; i++) {
        uint64_t p = i < n ? pages[i].gpa : vm->mem_size;
        if (p > at)
            k->slots[ns++] = (struct kvm_slot){at, p - at, k->slot_flags};
        if (i < n) {
            if (pages[i].prot == KVM_PAGE_RO)
                k->slots[ns++] = (struct kvm_slot){p, 4096, KVM_MEM_READONLY};
            at = p + 4096;
        }
    }
    k->nslots = ns;
    for (unsigned i = 0; i < ns; i++)
        if (kvm_set_slot(vm, i) < 0)
            engine_die("KVM_SET_USER_MEMORY_REGION");
    memcpy(k->prot, pages, n * sizeof pages[0]);
    k->nprot = n;
}

/* The pages the watch list needs protected, sorted: read-only for write
 * watches, holes for read and access watches. Returns their number, or -1 if
 * there are more than KVM_MAX_PROT_PAGES. */
static int watch_pages(const struct engine_watch *w, size_t nw, struct kvm_page *pages)
{
    unsigned n = 0;
    for (size_t i = 0; i < nw; i++) {
        enum kvm_page_prot prot = w[i].kind == ENGINE_WATCH_WRITE ? KVM_PAGE_RO : KVM_PAGE_HOLE;
        for (uint64_t p = w[i].addr & ~4095ull; p < w[i].addr + w[i].len; p += 4096) {
            unsigned j = 0;
            while (j < n && pages[j].gpa != p)
                j++;
            if (j == n) {
                if (n == KVM_MAX_PROT_PAGES)
                    return -1;
                pages[n++] = (struct kvm_page){p, prot};
            } else if (prot == KVM_PAGE_HOLE) {
                pages[j].prot = KVM_PAGE_HOLE;
            }
        }
    }
    for (unsigned i = 1; i < n; i++)
        for (unsigned j = i; j > 0 && pages[j - 1].gpa > pages[j].gpa; j--) {
            struct kvm_page x = pages[j];
            pages[j] = pages[j - 1];
            pages[j - 1] = x;
        }
    return (int)n;
}

/* (fits) for engine_watch_list_set: the watched pages fit the protection table */
static int watches_fit(const struct engine_watch *w, size_t nw)
{
    struct kvm_page pages[KVM_MAX_PROT_PAGES];
    return watch_pages(w, nw, pages) >= 0;
}

int kvm_engine_watch_set(struct vm *vm, uint64_t addr, uint64_t len, enum engine_watch_kind kind,
                         int insert)
{
    struct kvm_engine *k = kvm_of(vm);
    int rc =
        engine_watch_list_set(vm, &k->w, &k->nw, &k->capw, addr, len, kind, insert, watches_fit);
    if (rc > 0)
        k->watch_changed = 1;
    return rc < 0 ? -1 : 0;
}

/* ---- execution breakpoints ---- */

int kvm_engine_bp_set(struct vm *vm, uint64_t addr, unsigned flags, int insert)
{
    struct kvm_engine *k = kvm_of(vm);
    for (size_t i = 0; i < k->nbp; i++) {
        if (k->bp[i].addr == addr) {
            if (insert)
                k->bp[i].flags |= flags;
            else
                k->bp[i] = k->bp[--k->nbp];
            return 0;
        }
    }
    if (!insert)
        return 0;
    if (!vm_gpa(vm, addr, 1))
        return -1;
    if (k->nbp == k->capbp) {
        size_t cap = k->capbp ? k->capbp * 2 : 16;
        struct kvm_bp *nb = realloc(k->bp, cap * sizeof *nb);
        if (!nb)
            return -1;
        k->bp = nb;
        k->capbp = cap;
    }
    k->bp[k->nbp++] = (struct kvm_bp){.addr = addr, .flags = flags};
    return 0;
}

static void patches_insert(struct vm *vm)
{
    struct kvm_engine *k = kvm_of(vm);
    for (size_t i = 0; i < k->nbp; i++) {
        uint8_t *p = vm_gpa(vm, k->bp[i].addr, 1);
        if (!k->bp[i].patched && !k->bp[i].use_dr && p) {
            k->bp[i].orig = *p;
            *p = HLT;
            k->bp[i].patched = 1;
        }
    }
}

static void patches_remove(struct vm *vm)
{
    struct kvm_engine *k = kvm_of(vm);
    for (size_t i = k->nbp; i-- > 0;) {
        if (k->bp[i].patched) {
            *(uint8_t *)vm_gpa(vm, k->bp[i].addr, 1) = k->bp[i].orig;
            k->bp[i].patched = 0;
        }
    }
}

static int patched_at(const struct kvm_engine *k, uint64_t addr)
{
    for (size_t i = 0; i < k->nbp; i++)
        if (k->bp[i].addr == addr && k->bp[i].patched)
            return 1;
    return 0;
}

/* Program KVM guest debugging for a run: single-step, or the debug registers
 * for the breakpoints flagged ENGINE_BP_HW (at most four, where they fire).
 * The ioctl (about 7 us on the nested PVM KVM) is skipped when nothing
 * changed, except for a step after k->step_stale was set (kvm_internal.h). */
static void set_debug(struct vm *vm, int step)
{
    struct kvm_engine *k = kvm_of(vm);
    uint32_t ctl = KVM_GUESTDBG_ENABLE;
    uint64_t dr[4] = {0}, dr7 = 0;
    int ndr = 0;
    if (step)
        ctl |= KVM_GUESTDBG_SINGLESTEP;
    for (size_t i = 0; i < k->nbp; i++) {
        k->bp[i].use_dr = 0;
        if (step || !(k->bp[i].flags & ENGINE_BP_HW) || ndr == 4)
            continue;
        if (k->hw_bp < 0) {
            /* PVRR_KVM_HW_BREAKPOINTS=patch forces hlt patches (tests use it) */
            const char *how = getenv("PVRR_KVM_HW_BREAKPOINTS");
            k->hw_bp = !(how && strcmp(how, "patch") == 0) && kvm_hw_breakpoints_work(k->kvm_fd);
        }
        if (!k->hw_bp)
            continue;
        k->bp[i].use_dr = 1;
        dr[ndr] = k->bp[i].addr;
        dr7 |= DR7_ENABLE(ndr);
        ndr++;
    }
    if (dr7)
        ctl |= KVM_GUESTDBG_USE_HW_BP;
    if (!step && !dr7)
        ctl = 0;
    if (k->dbg_valid && !(step && k->step_stale) && k->dbg_control == ctl && k->dbg_dr7 == dr7 &&
        memcmp(k->dbg_dr, dr, sizeof dr) == 0)
        return;
    struct kvm_guest_debug dbg;
    memset(&dbg, 0, sizeof dbg);
    dbg.control = ctl;
    for (int i = 0; i < 4; i++)
        dbg.arch.debugreg[i] = dr[i];
    dbg.arch.debugreg[7] = dr7;
    kvm_ioctl(k->vcpu_fd, KVM_SET_GUEST_DEBUG, &dbg);
    k->dbg_control = ctl;
    k->dbg_dr7 = dr7;
    memcpy(k->dbg_dr, dr, sizeof dr);
    k->dbg_valid = 1;
    k->step_stale = 0;
}

/* ---- running ---- */

/* Length of the port-output instruction at (rip): legacy and REX prefixes,
 * then out imm8 (2 bytes) or out dx (1 byte); 0 if it is not one. */
/* If the instruction at (rip) is string I/O (ins/outs, any prefixes), its
 * length, with *rep set for a rep prefix; else 0. */
static unsigned strio_insn_len(const struct vm *vm, uint64_t rip, int *rep)
{
    *rep = 0;
    for (unsigned n = 0; n < 15; n++) {
        const uint8_t *b = vm_gpa(vm, rip + n, 1);
        if (!b)
            return 0;
        if (*b == 0xf2 || *b == 0xf3)
            *rep = 1;
        else if (*b >= 0x6c && *b <= 0x6f)
            return n + 1;
        else if (*b != 0x66 && *b != 0x67 && *b != 0x2e && *b != 0x36 && *b != 0x3e && *b != 0x26 &&
                 *b != 0x64 && *b != 0x65 && (*b & 0xf0) != 0x40)
            return 0;
    }
    return 0;
}

static unsigned out_insn_len(const struct vm *vm, uint64_t rip)
{
    for (unsigned n = 0; n < 15; n++) {
        const uint8_t *b = vm_gpa(vm, rip + n, 1);
        if (!b)
            return 0;
        switch (*b) {
        case 0x66:
        case 0x67:
        case 0xf2:
        case 0xf3:
        case 0x2e:
        case 0x36:
        case 0x3e:
        case 0x26:
        case 0x64:
        case 0x65:
            continue;
        case 0xe6:
        case 0xe7:
            return n + 2;
        case 0xee:
        case 0xef:
            return n + 1;
        default:
            if ((*b & 0xf0) == 0x40) /* REX */
                continue;
            return 0;
        }
    }
    return 0;
}

/* 1 if the instruction at (rip) is an SSE/SSE2 one (optional 66/f2/f3 and
 * REX prefixes, then 0f and an opcode of the SSE ranges). */
static int is_sse_insn(const struct vm *vm, uint64_t rip)
{
    for (unsigned n = 0; n < 6; n++) {
        const uint8_t *b = vm_gpa(vm, rip + n, 2);
        if (!b)
            return 0;
        if (b[0] == 0x66 || b[0] == 0xf2 || b[0] == 0xf3 || (b[0] & 0xf0) == 0x40)
            continue;
        if (b[0] != 0x0f)
            return 0;
        uint8_t op = b[1];
        return (op >= 0x10 && op <= 0x17) || (op >= 0x28 && op <= 0x2f) ||
               (op >= 0x50 && op <= 0x7f) || (op >= 0xc2 && op <= 0xc6) || op >= 0xd0;
    }
    return 0;
}

static int overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return a < b + blen && b < a + alen;
}

/* A KVM_EXIT_MMIO on a protected page: perform the guest's write or supply
 * the bytes of its read. Returns 1 with a WATCH event if it touched a watched
 * range, 1 with a FAULT if it was outside RAM, 0 otherwise. */
static int mmio(struct vm *vm, struct engine_event *ev)
{
    struct kvm_engine *k = kvm_of(vm);
    struct kvm_run *run = k->run;
    uint64_t a = run->mmio.phys_addr;
    uint32_t len = run->mmio.len;
    enum kvm_page_prot prot = page_protection(vm, a);
    uint8_t *mem = vm_gpa(vm, a, len);
    if (!mem || len > 8 || prot == KVM_PAGE_RW || (prot == KVM_PAGE_RO && !run->mmio.is_write)) {
        engine_fault(ev, ENGINE_FAULT_BAD_ACCESS,
                     "guest %s physical address 0x%" PRIx64
                     " (%u bytes) outside its RAM (0x%" PRIx64 " bytes)",
                     run->mmio.is_write ? "wrote" : "read", a, len, vm->mem_size);
        ev->fault.addr = a;
        ev->fault.len = len;
        ev->fault.is_write = run->mmio.is_write;
        return 1;
    }
    if (run->mmio.is_write) {
        memcpy(mem, run->mmio.data, len);
        vm_dirty_mark(vm, a, len);
    } else {
        memcpy(run->mmio.data, mem, len); /* KVM completes the read with these bytes */
    }
    unsigned want = run->mmio.is_write ? ENGINE_WATCH_WRITE : ENGINE_WATCH_READ;
    for (size_t i = 0; i < k->nw; i++) {
        if ((k->w[i].kind & want) && overlaps(a, len, k->w[i].addr, k->w[i].len)) {
            ev->kind = ENGINE_EV_WATCH;
            ev->watch.addr = a;
            ev->watch.len = len;
            ev->watch.is_write = run->mmio.is_write;
            memcpy(ev->watch.data, run->mmio.data, len);
            return 1;
        }
    }
    return 0;
}

/* One KVM_RUN and what it means. Returns 1 with (ev) filled when the run
 * must return, 0 to go on. */
/* Reports the triple fault; the registers are those at the last exit before it
 * (kvm-amd resets the vCPU at a shutdown, kvm_get_regs returns them). */
static void shutdown_fault(struct engine_event *ev)
{
    engine_fault(ev, ENGINE_FAULT_TRIPLE,
                 "guest triple fault (KVM_EXIT_SHUTDOWN): the guest took an exception it could "
                 "not handle");
    ev->fault.regs_at_last_event = 1;
}

static int one_exit(struct vm *vm, int step, struct engine_event *ev)
{
    struct kvm_engine *k = kvm_of(vm);
    struct kvm_run *run = k->run;
    k->exit_regs = run->s.regs.regs;
    int rc = kvm__ioctl(k->vcpu_fd, KVM_RUN, 0);
    run->kvm_dirty_regs = 0;
    k->io_pending = 0;
    if (rc < 0) {
        if (errno == EINTR || errno == EAGAIN) {
            run->immediate_exit = 0;
            ev->kind = ENGINE_EV_INTERRUPTED;
            return 1;
        }
        engine_fault(ev, ENGINE_FAULT_INTERNAL, "KVM_RUN failed: %s", strerror(errno));
        return 1;
    }
    struct kvm_regs *r = &run->s.regs.regs;
    switch (run->exit_reason) {
    case KVM_EXIT_IO: {
        k->io_pending = 1;
        /* String I/O (ins/outs) is no hypercall: KVM exits per batch of
         * elements (one per exit on the nested PVM KVM) with rip at the
         * instruction; the engine runs it to its end and reports it once, with
         * size 0 and rip after it (engine.h). `in` reads 0xff bytes. */
        int rep;
        if (strio_insn_len(vm, r->rip, &rep)) {
            uint8_t *sdata = (uint8_t *)run + run->io.data_offset;
            if (run->io.direction == KVM_EXIT_IO_IN)
                memset(sdata, 0xff, (size_t)run->io.size * run->io.count);
            uint64_t left = rep ? r->rcx : 1; /* elements left, this batch included */
            if (left > run->io.count)
                return 0; /* more batches: KVM_RUN completes this one and goes on */
            k->io_pending = 1;
            /* the last batch: one single step completes the instruction, and
             * its exit reports it with rip after it */
            k->strio_pending = 1;
            k->strio_port = run->io.port;
            k->strio_out = run->io.direction == KVM_EXIT_IO_OUT;
            set_debug(vm, 1);
            return 0;
        }
        /* Canonical rip: the instruction after the out. kvm-amd and kvm-intel
         * report the rip of the out itself and skip it at the next KVM_RUN;
         * the nested PVM KVM reports the rip after it. Loading the advanced rip
         * at the next KVM_RUN also cancels KVM's own skip (it skips only while
         * rip still points at the out). */
        if (run->io.direction == KVM_EXIT_IO_OUT && k->io_rip_after == 0) {
            unsigned len = out_insn_len(vm, r->rip);
            if (len) {
                r->rip += len;
                run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
                k->step_stale = 1; /* a register write (kvm_internal.h) */
            }
        }
        ev->kind = ENGINE_EV_HYPERCALL;
        ev->io.port = run->io.port;
        ev->io.size = run->io.count == 1 ? run->io.size : 0; /* string I/O: no hypercall */
        ev->io.is_out = run->io.direction == KVM_EXIT_IO_OUT;
        uint8_t *data = (uint8_t *)run + run->io.data_offset;
        if (ev->io.is_out)
            memcpy(&ev->io.value, data, run->io.size <= 4 ? run->io.size : 4);
        else {
            /* an `in` completes now (engine.h: the guest has read its 0xff bytes
             * and rip is after it); only `out` is a hypercall */
            memset(data, 0xff, (size_t)run->io.size * run->io.count);
            kvm_settle(vm);
        }
        return 1;
    }
    case KVM_EXIT_DEBUG:
        if (k->strio_pending) {
            k->strio_pending = 0;
            set_debug(vm, step);
            ev->kind = ENGINE_EV_HYPERCALL;
            ev->io.port = k->strio_port;
            ev->io.size = 0;
            ev->io.is_out = k->strio_out;
            return 1;
        }
        if (step) {
            ev->kind = ENGINE_EV_STEP;
            return 1;
        }
        if (run->debug.arch.dr6 & 0xf) {
            ev->kind = ENGINE_EV_BREAKPOINT;
            ev->bp.addr = r->rip;
            return 1;
        }
        return 0;
    case KVM_EXIT_HLT: {
        uint64_t at = r->rip - 1;
        if (!step && patched_at(k, at)) {
            patches_remove(vm);
            r->rip = at;
            kvm_ioctl(k->vcpu_fd, KVM_SET_REGS, r);
            k->step_stale = 1;
            ev->kind = ENGINE_EV_BREAKPOINT;
            ev->bp.addr = at;
            return 1;
        }
        engine_fault(ev, ENGINE_FAULT_HLT,
                     "guest executed hlt at rip 0x%" PRIx64
                     ": with no interrupts a halted guest never wakes (use the poll hypercall to "
                     "wait)",
                     at);
        ev->fault.addr = at;
        return 1;
    }
    case KVM_EXIT_MMIO:
        k->io_pending = 1;
        k->step_stale = 1; /* KVM's emulator completes the access's instruction */
        if (mmio(vm, ev)) {
            if (ev->kind == ENGINE_EV_WATCH)
                kvm_settle(vm); /* the access's instruction completes: rip is after it */
            return 1;
        }
        if (step) {
            kvm_settle(vm); /* the access was the step's instruction */
            ev->kind = ENGINE_EV_STEP;
            return 1;
        }
        return 0;
    case KVM_EXIT_SHUTDOWN:
        k->shut_down = 1;
        shutdown_fault(ev);
        return 1;
    case KVM_EXIT_INTERNAL_ERROR: {
        const uint8_t *insn = vm_gpa(vm, r->rip, 1);
        engine_fault(ev, ENGINE_FAULT_INTERNAL, "KVM internal error, suberror %u%s",
                     run->internal.suberror,
                     insn && *insn == 0xcc
                         ? " (the guest executed int3, which this host's KVM cannot deliver: use a "
                           "debugger's breakpoints instead)"
                     : is_sse_insn(vm, r->rip)
                         ? " (at an SSE instruction: this host's KVM cannot execute SSE, as the "
                           "nested PVM KVM cannot; Linux programs and SSE guests need "
                           "kvm-amd/kvm-intel (tools/with-kvm) or the emulator)"
                     : run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION
                         ? " (instruction emulation failed)"
                         : "");
        return 1;
    }
    case KVM_EXIT_FAIL_ENTRY:
        engine_fault(ev, ENGINE_FAULT_INTERNAL, "KVM entry failed, hardware reason 0x%llx",
                     (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
        return 1;
    case KVM_EXIT_INTR:
        ev->kind = ENGINE_EV_INTERRUPTED;
        return 1;
    default:
        engine_fault(ev, ENGINE_FAULT_INTERNAL, "unexpected KVM exit reason %u", run->exit_reason);
        return 1;
    }
}

void kvm_engine_run(struct vm *vm, const struct engine_run_args *a, struct engine_event *ev)
{
    struct kvm_engine *k = kvm_of(vm);
    int step = a && a->step;
    memset(ev, 0, sizeof *ev);
    if (k->shut_down) {
        /* a shut-down machine stays shut down (engine.h); kvm-amd would run the
         * vCPU it reset at the shutdown from the reset vector */
        shutdown_fault(ev);
        return;
    }
    if (k->watch_changed) {
        struct kvm_page pages[KVM_MAX_PROT_PAGES];
        int n = watch_pages(k->w, k->nw, pages);
        protect_pages(vm, pages, n < 0 ? 0 : (unsigned)n);
        k->watch_changed = 0;
    }
    /* a step starts with no exit pending: completing it may write registers */
    if (step && (k->io_pending || k->run->kvm_dirty_regs))
        kvm_settle(vm);
    set_debug(vm, step);
    if (!step)
        patches_insert(vm);
    while (!one_exit(vm, step, ev))
        ;
    patches_remove(vm);
}
