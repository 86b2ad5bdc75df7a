/*
 * target.c - gdb_target_ops over the monitor and the replayer (target.h).
 */
#include "gdbstub/target.h"

#include "replayer/replayer.h"
#include "gdbstub/reverse.h"
#include "replayer/checkpoint.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define HLT 0xf4
#define DR7_ENABLE(i) (1ull << ((i)*2 + 1)) /* global enable, execute, 1 byte */

/* ---- software breakpoints: hlt patches present only while the guest runs ---- */

static struct target_swbp *sw_find(struct target *t, uint64_t addr)
{
    for (size_t i = 0; i < t->nsw; i++)
        if (t->sw[i].addr == addr)
            return &t->sw[i];
    return NULL;
}

void swbp_remove_all(struct vm *vm, struct target_swbp *b, size_t n)
{
    for (size_t i = n; i-- > 0;) { /* reverse order: overlapping patches unwind */
        if (b[i].patched) {
            *(uint8_t *)vm_gpa(vm, b[i].addr, 1) = b[i].orig;
            b[i].patched = 0;
        }
    }
}

void swbp_insert_all(struct vm *vm, struct target_swbp *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t *p = vm_gpa(vm, b[i].addr, 1);
        if (!b[i].patched && p) {
            b[i].orig = *p;
            *p = HLT;
            b[i].patched = 1;
        }
    }
}

void target_patches_remove(struct target *t)
{
    swbp_remove_all(&t->m->vm, t->hwp, t->nhwp);
    swbp_remove_all(&t->m->vm, t->sw, t->nsw);
}

void target_patches_insert(struct target *t)
{
    swbp_insert_all(&t->m->vm, t->sw, t->nsw);
    if (t->hw_patched) {
        swbp_remove_all(&t->m->vm, t->hwp, t->nhwp);
        t->nhwp = 0;
        for (int i = 0; i < 4; i++)
            if (t->hw_on[i])
                t->hwp[t->nhwp++] = (struct target_swbp){t->hw[i], 0, 0};
        swbp_insert_all(&t->m->vm, t->hwp, t->nhwp);
    }
}

/* 1 if (addr) is a hardware breakpoint implemented as a patch. */
static int hwp_at(struct target *t, uint64_t addr)
{
    for (size_t i = 0; i < t->nhwp; i++)
        if (t->hwp[i].addr == addr)
            return 1;
    return 0;
}

static void hook_before_hc(void *ctx)
{
    struct target *t = ctx;
    target_patches_remove(t);
    if (t->tt && tt_busy(t->tt))
        tt_patches_remove(t->tt);
}

static void hook_after_hc(void *ctx)
{
    struct target *t = ctx;
    if (t->tt) {
        tt_after_hc(t->tt);
        if (tt_busy(t->tt))
            tt_patches_insert(t->tt);
    }
    if (t->running_patched)
        target_patches_insert(t);
}

/* ---- watchpoints ---- */

/* Protect the pages of the watchpoints (or none when off): read-only for write
 * watchpoints, holes (no memory slot: reads exit too) for read and access
 * watchpoints. */
void target_watch_protect(struct target *t, int on)
{
    struct vm_page pages[TARGET_MAX_WATCH * 2];
    unsigned n = 0;
    for (unsigned i = 0; on && i < t->nwp; i++) {
        enum vm_page_prot prot = t->wp[i].type == GDB_WP_WRITE ? VM_PAGE_RO : VM_PAGE_HOLE;
        for (uint64_t p = t->wp[i].addr & ~4095ull; p < t->wp[i].addr + t->wp[i].len; p += 4096) {
            unsigned j = 0;
            while (j < n && pages[j].gpa != p)
                j++;
            if (j == n)
                pages[n++] = (struct vm_page){p, prot};
            else if (prot == VM_PAGE_HOLE)
                pages[j].prot = VM_PAGE_HOLE;
        }
    }
    for (unsigned i = 1; i < n; i++)
        for (unsigned j = i; j > 0 && pages[j - 1].gpa > pages[j].gpa; j--) {
            struct vm_page x = pages[j];
            pages[j] = pages[j - 1];
            pages[j - 1] = x;
        }
    if (n == t->nprot && memcmp(pages, t->prot, n * sizeof pages[0]) == 0)
        return;
    vm_protect_pages(&t->m->vm, pages, n);
    memcpy(t->prot, pages, n * sizeof pages[0]);
    t->nprot = n;
}

/* Refresh the saved values of all watchpoints. */
void target_watch_snapshot(struct target *t)
{
    for (unsigned i = 0; i < t->nwp; i++)
        memcpy(t->wp[i].old, vm_gpa(&t->m->vm, t->wp[i].addr, t->wp[i].len), t->wp[i].len);
}

/* The first write or access watchpoint whose bytes changed, or -1. */
int target_watch_changed(struct target *t)
{
    for (unsigned i = 0; i < t->nwp; i++)
        if (t->wp[i].type != GDB_WP_READ &&
            memcmp(t->wp[i].old, vm_gpa(&t->m->vm, t->wp[i].addr, t->wp[i].len), t->wp[i].len) != 0)
            return (int)i;
    return -1;
}

/* ---- running ---- */

/* Program KVM guest debugging: single-step and/or the hardware breakpoints. */
void target_set_debug(struct target *t, int step, int hw)
{
    uint32_t ctl = KVM_GUESTDBG_ENABLE;
    uint64_t dr7 = 0;
    if (step)
        ctl |= KVM_GUESTDBG_SINGLESTEP;
    if (hw && !t->hw_patched) {
        for (int i = 0; i < 4; i++)
            if (t->hw_on[i])
                dr7 |= DR7_ENABLE(i);
        if (dr7)
            ctl |= KVM_GUESTDBG_USE_HW_BP;
    }
    if (!step && !dr7)
        ctl = 0;
    if (vm_set_guest_debug(&t->m->vm, ctl, t->hw, dr7) < 0)
        vm_die("KVM_SET_GUEST_DEBUG");
}

uint64_t target_rip(struct target *t)
{
    struct kvm_regs r;
    vm_get_regs(&t->m->vm, &r);
    return r.rip;
}

void target_set_rip(struct target *t, uint64_t rip)
{
    struct kvm_regs r;
    vm_get_regs(&t->m->vm, &r);
    r.rip = rip;
    vm_set_regs(&t->m->vm, &r);
}

/* The guest stopped for good: fill (stop) accordingly. */
static void ended_stop(struct target *t, struct gdb_stop *stop)
{
    t->ended = 1;
    if (t->r) {
        stop->kind = GDB_STOP_HISTORY_END;
    } else {
        stop->kind = GDB_STOP_EXITED;
        stop->status = t->m->stop.status;
    }
}

static int overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return a < b + blen && b < a + alen;
}

int target_mmio(struct target *t, enum gdb_stop_kind *kind)
{
    struct kvm_run *run = t->m->vm.run;
    uint64_t a = run->mmio.phys_addr;
    uint32_t len = run->mmio.len;
    enum vm_page_prot prot = vm_page_protection(&t->m->vm, a);
    uint8_t *mem = vm_gpa(&t->m->vm, a, len);
    if (!mem || len > 8 || prot == VM_PAGE_RW || (prot == VM_PAGE_RO && !run->mmio.is_write)) {
        monitor_set_stop(t->m, MON_FAULT, PVRR_EXIT_PANIC,
                         "guest %s physical address 0x%" PRIx64 " (%u bytes) outside its RAM",
                         run->mmio.is_write ? "wrote" : "read", a, len);
        return -2;
    }
    if (!run->mmio.is_write) {
        memcpy(run->mmio.data, mem, len); /* KVM completes the read with these bytes */
        for (unsigned i = 0; i < t->nwp; i++) {
            if (t->wp[i].type != GDB_WP_WRITE && overlaps(a, len, t->wp[i].addr, t->wp[i].len)) {
                *kind = t->wp[i].type == GDB_WP_READ ? GDB_STOP_RWATCH : GDB_STOP_AWATCH;
                return (int)i;
            }
        }
        return -1;
    }
    memcpy(mem, run->mmio.data, len);
    vm_dirty_mark(&t->m->vm, a, len);
    for (unsigned i = 0; i < t->nwp; i++) {
        if (t->wp[i].type == GDB_WP_ACCESS && overlaps(a, len, t->wp[i].addr, t->wp[i].len)) {
            *kind = GDB_STOP_AWATCH;
            return (int)i;
        }
    }
    int w = target_watch_changed(t);
    if (w >= 0)
        *kind = GDB_STOP_WATCH;
    return w;
}

/* Finish the instruction in progress after an MMIO exit: KVM reports the
 * exit with the instruction's registers already written back (rip is the next
 * instruction) and completes it on the next KVM_RUN; an immediate-exit run
 * completes it without executing anything else. */
static void finish_insn(struct target *t)
{
    ck_settle(&t->m->vm);
}

int target_step(struct target *t, struct gdb_stop *stop)
{
    if (t->ended) {
        ended_stop(t, stop);
        return 0;
    }
    target_watch_protect(t, t->nwp > 0);
    target_watch_snapshot(t);
    target_set_debug(t, 1, 0);
    for (;;) {
        enum monitor_event ev = monitor_step(t->m);
        switch (ev) {
        case MON_EV_INTERRUPTED:
            continue;
        case MON_EV_MMIO: {
            enum gdb_stop_kind kind;
            int w = target_mmio(t, &kind);
            if (w == -2) {
                ended_stop(t, stop);
                return 0;
            }
            finish_insn(t); /* the step is this instruction */
            stop->kind = GDB_STOP_STEP;
            if (w >= 0) {
                stop->kind = kind;
                stop->addr = t->wp[w].addr;
                target_watch_snapshot(t);
            }
            return 0;
        }
        case MON_EV_DEBUG:
        case MON_EV_HYPERCALL:
            stop->kind = GDB_STOP_STEP;
            if (target_watch_changed(t) >= 0) {
                int i = target_watch_changed(t);
                stop->kind = GDB_STOP_WATCH;
                stop->addr = t->wp[i].addr;
                target_watch_snapshot(t);
            }
            return 0;
        case MON_EV_HLT:
            /* a real hlt in the guest (patches are not in while stepping) */
            monitor_set_stop(t->m, MON_FAULT, PVRR_EXIT_PANIC,
                             "guest executed hlt at rip 0x%" PRIx64, target_rip(t) - 1);
            ended_stop(t, stop);
            return 0;
        case MON_EV_STOPPED:
            ended_stop(t, stop);
            return 0;
        }
    }
}

/* 1 if a breakpoint of either kind sits at (rip). */
static int bp_at(struct target *t, uint64_t rip)
{
    if (sw_find(t, rip))
        return 1;
    for (int i = 0; i < 4; i++)
        if (t->hw_on[i] && t->hw[i] == rip)
            return 1;
    return 0;
}

int target_cont(struct target *t, struct gdb_stop *stop, uint64_t range_start, uint64_t range_end)
{
    if (t->ended) {
        ended_stop(t, stop);
        return 0;
    }
    int ranged = range_end > range_start;
    /* Step off a breakpoint at the current instruction first. */
    uint64_t rip = target_rip(t);
    if (ranged || bp_at(t, rip)) {
        if (target_step(t, stop) < 0)
            return -1;
        if (stop->kind != GDB_STOP_STEP)
            return 0;
        rip = target_rip(t);
        if (bp_at(t, rip)) {
            stop->kind = sw_find(t, rip) ? GDB_STOP_SWBREAK : GDB_STOP_HWBREAK;
            return 0;
        }
        if (ranged && (rip < range_start || rip >= range_end))
            return 0;
    }
    if (ranged) {
        /* Range stepping: single-step while inside [start, end). */
        for (unsigned n = 0;; n++) {
            if ((n & 1023) == 1023 && t->stub && gdbstub_poll_interrupt(t->stub)) {
                stop->kind = GDB_STOP_INTERRUPT;
                return 0;
            }
            if (target_step(t, stop) < 0)
                return -1;
            if (stop->kind != GDB_STOP_STEP)
                return 0;
            rip = target_rip(t);
            if (bp_at(t, rip)) {
                stop->kind = sw_find(t, rip) ? GDB_STOP_SWBREAK : GDB_STOP_HWBREAK;
                return 0;
            }
            if (rip < range_start || rip >= range_end)
                return 0;
        }
    }
    target_watch_protect(t, t->nwp > 0);
    target_watch_snapshot(t);
    target_set_debug(t, 0, 1);
    t->running_patched = 1;
    target_patches_insert(t);
    int rc = 0;
    unsigned exits = 0;
    for (;;) {
        enum monitor_event ev = monitor_step(t->m);
        exits++;
        if (ev == MON_EV_INTERRUPTED || (exits & 4095) == 0) {
            if (t->stub && gdbstub_poll_interrupt(t->stub)) {
                stop->kind = GDB_STOP_INTERRUPT;
                break;
            }
            if (ev == MON_EV_INTERRUPTED)
                continue;
        }
        if (ev == MON_EV_HYPERCALL) {
            int w = target_watch_changed(t);
            if (w >= 0) {
                stop->kind = GDB_STOP_WATCH;
                stop->addr = t->wp[w].addr;
                break;
            }
            continue;
        }
        if (ev == MON_EV_HLT) {
            uint64_t at = target_rip(t) - 1;
            if (sw_find(t, at) || hwp_at(t, at)) {
                target_set_rip(t, at);
                stop->kind = sw_find(t, at) ? GDB_STOP_SWBREAK : GDB_STOP_HWBREAK;
                break;
            }
            target_patches_remove(t);
            monitor_set_stop(t->m, MON_FAULT, PVRR_EXIT_PANIC,
                             "guest executed hlt at rip 0x%" PRIx64, at);
            ended_stop(t, stop);
            break;
        }
        if (ev == MON_EV_DEBUG) {
            uint64_t dr6 = t->m->vm.run->debug.arch.dr6;
            if (dr6 & 0xf) {
                stop->kind = GDB_STOP_HWBREAK;
                break;
            }
            continue;
        }
        if (ev == MON_EV_MMIO) {
            enum gdb_stop_kind kind;
            int w = target_mmio(t, &kind);
            if (w == -2) {
                target_patches_remove(t);
                ended_stop(t, stop);
                break;
            }
            if (w >= 0) {
                target_patches_remove(t);
                t->running_patched = 0;
                finish_insn(t);
                stop->kind = kind;
                stop->addr = t->wp[w].addr;
                break;
            }
            continue;
        }
        if (ev == MON_EV_STOPPED) {
            target_patches_remove(t);
            ended_stop(t, stop);
            break;
        }
    }
    t->running_patched = 0;
    target_patches_remove(t);
    target_set_debug(t, 0, 0);
    if (t->nwp)
        target_watch_snapshot(t);
    return rc;
}

/* ---- gdb_target_ops ---- */

static int op_read_regs(void *tp, struct gdb_regs *g)
{
    struct target *t = tp;
    struct kvm_regs r;
    struct kvm_sregs s;
    struct kvm_fpu f;
    vm_get_regs(&t->m->vm, &r);
    vm_get_sregs(&t->m->vm, &s);
    vm_get_fpu(&t->m->vm, &f);
    memset(g, 0, sizeof *g);
    g->rax = r.rax, g->rbx = r.rbx, g->rcx = r.rcx, g->rdx = r.rdx;
    g->rsi = r.rsi, g->rdi = r.rdi, g->rbp = r.rbp, g->rsp = r.rsp;
    g->r8 = r.r8, g->r9 = r.r9, g->r10 = r.r10, g->r11 = r.r11;
    g->r12 = r.r12, g->r13 = r.r13, g->r14 = r.r14, g->r15 = r.r15;
    g->rip = r.rip;
    g->eflags = (uint32_t)r.rflags;
    g->cs = s.cs.selector, g->ss = s.ss.selector, g->ds = s.ds.selector;
    g->es = s.es.selector, g->fs = s.fs.selector, g->gs = s.gs.selector;
    for (int i = 0; i < 8; i++)
        memcpy(g->st[i], f.fpr[i], 10);
    g->fctrl = f.fcw;
    g->fstat = f.fsw;
    uint32_t tag = 0;
    for (int i = 0; i < 8; i++)
        if (!(f.ftwx & (1u << i)))
            tag |= 3u << (2 * i);
    g->ftag = tag;
    g->fioff = (uint32_t)f.last_ip;
    g->fooff = (uint32_t)f.last_dp;
    g->fop = f.last_opcode;
    for (int i = 0; i < 16; i++)
        memcpy(g->xmm[i], f.xmm[i], 16);
    g->mxcsr = f.mxcsr;
    g->fs_base = s.fs.base;
    g->gs_base = s.gs.base;
    return 0;
}

static int refuse_in_replay(struct target *t, const char *what, char *why, size_t n)
{
    if (!t->r)
        return 0;
    snprintf(why, n,
             "pvrr: refusing to write %s during a replay: it would change what the guest "
             "computes and fork the recorded history",
             what);
    return -1;
}

static int op_write_regs(void *tp, const struct gdb_regs *g, char *why, size_t n)
{
    struct target *t = tp;
    if (refuse_in_replay(t, "registers", why, n) < 0)
        return -1;
    struct kvm_regs r;
    vm_get_regs(&t->m->vm, &r);
    r.rax = g->rax, r.rbx = g->rbx, r.rcx = g->rcx, r.rdx = g->rdx;
    r.rsi = g->rsi, r.rdi = g->rdi, r.rbp = g->rbp, r.rsp = g->rsp;
    r.r8 = g->r8, r.r9 = g->r9, r.r10 = g->r10, r.r11 = g->r11;
    r.r12 = g->r12, r.r13 = g->r13, r.r14 = g->r14, r.r15 = g->r15;
    r.rip = g->rip;
    r.rflags = (r.rflags & ~0xffffffffull) | g->eflags | 0x2;
    vm_set_regs(&t->m->vm, &r);
    return 0;
}

static int op_read_mem(void *tp, uint64_t addr, void *buf, size_t len)
{
    struct target *t = tp;
    const uint8_t *p = vm_gpa(&t->m->vm, addr, len);
    if (!p || (len && addr < 4096))
        return -1;
    memcpy(buf, p, len); /* patches are never in while the debugger looks */
    return 0;
}

static int op_write_mem(void *tp, uint64_t addr, const void *buf, size_t len, char *why, size_t n)
{
    struct target *t = tp;
    if (refuse_in_replay(t, "memory", why, n) < 0)
        return -1;
    uint8_t *p = vm_gpa(&t->m->vm, addr, len);
    if (!p) {
        snprintf(why, n, "pvrr: [0x%" PRIx64 ", +%zu) is outside guest RAM", addr, len);
        return -1;
    }
    memcpy(p, buf, len);
    vm_dirty_mark(&t->m->vm, addr, len);
    return 0;
}

static int op_set_bp(void *tp, int type, uint64_t addr, uint64_t len, int insert)
{
    struct target *t = tp;
    switch (type) {
    case GDB_BP_SW: {
        struct target_swbp *b = sw_find(t, addr);
        if (!insert) {
            if (b)
                *b = t->sw[--t->nsw];
            return 0;
        }
        if (b)
            return 0;
        if (!vm_gpa(&t->m->vm, addr, 1))
            return -1;
        if (t->nsw == t->capsw) {
            size_t cap = t->capsw ? t->capsw * 2 : 16;
            struct target_swbp *nb = realloc(t->sw, cap * sizeof *nb);
            if (!nb)
                return -1;
            t->sw = nb;
            t->capsw = cap;
        }
        t->sw[t->nsw++] = (struct target_swbp){addr, 0, 0};
        return 0;
    }
    case GDB_BP_HW: {
        int free_slot = -1;
        for (int i = 0; i < 4; i++) {
            if (t->hw_on[i] && t->hw[i] == addr) {
                if (!insert)
                    t->hw_on[i] = 0;
                return 0;
            }
            if (!t->hw_on[i] && free_slot < 0)
                free_slot = i;
        }
        if (!insert)
            return 0;
        if (free_slot < 0)
            return -1; /* all four debug registers in use */
        t->hw[free_slot] = addr;
        t->hw_on[free_slot] = 1;
        return 0;
    }
    case GDB_WP_WRITE:
    case GDB_WP_READ:
    case GDB_WP_ACCESS: {
        for (unsigned i = 0; i < t->nwp; i++) {
            if (t->wp[i].addr == addr && t->wp[i].len == len && t->wp[i].type == type) {
                if (!insert)
                    t->wp[i] = t->wp[--t->nwp];
                return 0;
            }
        }
        if (!insert)
            return 0;
        if (t->nwp == TARGET_MAX_WATCH || len == 0 || len > TARGET_WATCH_MAX_LEN ||
            !vm_gpa(&t->m->vm, addr, len) || addr < PVRR_IMAGE_MIN)
            return -1;
        t->wp[t->nwp].addr = addr;
        t->wp[t->nwp].len = len;
        t->wp[t->nwp].type = type;
        memcpy(t->wp[t->nwp].old, vm_gpa(&t->m->vm, addr, len), len);
        t->nwp++;
        return 0;
    }
    default:
        return GDB_UNSUPPORTED; /* read and access watchpoints: no mechanism traps reads */
    }
}

static int op_resume(void *tp, const struct gdb_resume *req, struct gdb_stop *stop)
{
    struct target *t = tp;
    t->stub = req->stub;
    memset(stop, 0, sizeof *stop);
    uint64_t event_before = t->r ? t->r->next_event : 0;
    int rc;
    switch (req->how) {
    case GDB_RESUME_STEP:
        rc = target_step(t, stop);
        break;
    case GDB_RESUME_CONT:
        rc = target_cont(t, stop, 0, 0);
        break;
    case GDB_RESUME_RANGE_STEP:
        rc = target_cont(t, stop, req->start, req->end);
        break;
    case GDB_RESUME_RSTEP:
    case GDB_RESUME_RCONT:
        if (!t->tt)
            return -1;
        rc = tt_reverse(t->tt, req->how == GDB_RESUME_RSTEP, stop);
        break;
    default:
        rc = -1;
    }
    if (t->tt && req->how != GDB_RESUME_RSTEP && req->how != GDB_RESUME_RCONT)
        tt_forward_done(t->tt, req->how, event_before, stop);
    t->stub = NULL;
    return rc;
}

static void outf(gdb_out_fn out, void *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void outf(gdb_out_fn out, void *ctx, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0)
        out(ctx, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static int op_monitor(void *tp, const char *cmd, gdb_out_fn out, void *ctx)
{
    struct target *t = tp;
    if (strcmp(cmd, "when") == 0) {
        if (t->tt) {
            char buf[256];
            tt_describe_position(t->tt, buf, sizeof buf);
            outf(out, ctx, "%s\n", buf);
        } else {
            outf(out, ctx, "hypercalls served: %" PRIu64 " (live run: no recording)\n",
                 t->m->hc_count);
        }
        return 0;
    }
    if (strcmp(cmd, "checkpoints") == 0 && t->tt) {
        tt_list_checkpoints(t->tt, out, ctx);
        return 0;
    }
    if (strncmp(cmd, "goto", 4) == 0 && t->tt) {
        char *end;
        const char *arg = cmd + 4;
        while (*arg == ' ')
            arg++;
        unsigned long long ev = strtoull(arg, &end, 0);
        if (!*arg || *end) {
            outf(out, ctx, "usage: monitor goto EVENT\n");
            return GDB_UNSUPPORTED;
        }
        char msg[256];
        if (tt_goto_event(t->tt, ev, msg, sizeof msg) < 0) {
            outf(out, ctx, "%s\n", msg);
            return -1;
        }
        outf(out, ctx, "%s\n", msg);
        return 0;
    }
    if (strcmp(cmd, "digest") == 0) {
        struct kvm_regs r;
        vm_get_regs(&t->m->vm, &r);
        t->m->vm.run->s.regs.regs = r;
        outf(out, ctx, "state digest %016" PRIx64 " (all guest memory and registers)\n",
             monitor_state_digest(t->m));
        return 0;
    }
    if (strcmp(cmd, "info") == 0) {
        outf(out, ctx, "guest %s, %" PRIu64 " MiB RAM, %s\n",
             t->m->cfg.elf_name ? t->m->cfg.elf_name : "?", t->m->vm.mem_size >> 20,
             t->r ? "replaying a recording" : "live run");
        return 0;
    }
    return GDB_UNSUPPORTED;
}

static int op_kill(void *tp)
{
    struct target *t = tp;
    t->killed = 1;
    return 0;
}

static void op_detach(void *tp)
{
    target_clear(tp);
}

static void op_log(void *tp, const char *msg)
{
    fprintf(stderr, "pvrr gdb: %s\n", msg);
}

static const struct gdb_monitor_cmd live_cmds[] = {
    {"when", "print how many hypercalls the guest has made"},
    {"digest", "print a digest of all guest memory and registers"},
    {"info", "describe the guest"},
    {NULL, NULL},
};

static const struct gdb_monitor_cmd replay_cmds[] = {
    {"when", "print the current position: event index and landmark"},
    {"goto", "goto EVENT: go to just before hypercall event EVENT"},
    {"checkpoints", "list the checkpoints of this replay"},
    {"digest", "print a digest of all guest memory and registers"},
    {"info", "describe the guest and the recording"},
    {NULL, NULL},
};

/* The operations shared by a live run and a replay. */
#define TARGET_OPS_COMMON                                                                          \
    .read_regs = op_read_regs, .write_regs = op_write_regs, .read_mem = op_read_mem,               \
    .write_mem = op_write_mem, .set_bp = op_set_bp, .resume = op_resume, .monitor = op_monitor,    \
    .kill = op_kill, .detach = op_detach, .log = op_log, .range_step = 1

const struct gdb_target_ops target_live_ops = {
    TARGET_OPS_COMMON,
    .monitor_cmds = live_cmds,
    .reverse_supported = 0,
};

const struct gdb_target_ops target_replay_ops = {
    TARGET_OPS_COMMON,
    .monitor_cmds = replay_cmds,
    .reverse_supported = 1,
};

void target_init(struct target *t, struct monitor *m, struct replayer *r)
{
    memset(t, 0, sizeof *t);
    t->m = m;
    t->r = r;
    /* PVRR_KVM_HW_BREAKPOINTS=patch forces the fallback (tests use it) */
    const char *hwbp = getenv("PVRR_KVM_HW_BREAKPOINTS");
    t->hw_patched = (hwbp && strcmp(hwbp, "patch") == 0) || !vm_hw_breakpoints_work(m->vm.kvm_fd);
    m->before_hc = hook_before_hc;
    m->after_hc = hook_after_hc;
    m->hook_ctx = t;
}

void target_clear(struct target *t)
{
    target_patches_remove(t);
    t->nsw = 0;
    memset(t->hw_on, 0, sizeof t->hw_on);
    t->nwp = 0;
    target_watch_protect(t, 0);
    target_set_debug(t, 0, 0);
}

void target_fini(struct target *t)
{
    target_clear(t);
    t->m->before_hc = t->m->after_hc = NULL;
    free(t->sw);
    t->sw = NULL;
}

int target_serve(struct target *t, const char *addr, int nonlocal, const char *elf_path, int replay)
{
    char err[256], where[300];
    int lfd;
    int is_unix = strncmp(addr, "unix:", 5) == 0;
    if (is_unix) {
        lfd = gdbstub_listen_unix(addr + 5, err, sizeof err);
        snprintf(where, sizeof where, "%s", addr + 5);
    } else {
        lfd = gdbstub_listen_tcp(addr, nonlocal, err, sizeof err);
        const char *colon = strrchr(addr, ':');
        char host[256] = "127.0.0.1";
        if (colon && colon != addr)
            snprintf(host, sizeof host, "%.*s", (int)(colon - addr), addr);
        snprintf(where, sizeof where, "%s:%d", host, lfd >= 0 ? gdbstub_local_port(lfd) : 0);
    }
    if (lfd < 0) {
        fprintf(stderr, "pvrr: --gdb %s: %s\n", addr, err);
        return PVRR_EXIT_ERROR;
    }
    if (nonlocal && !is_unix)
        fprintf(stderr,
                "pvrr: WARNING: the debugger port %s is reachable from other machines; "
                "the GDB protocol has no authentication: anyone who connects controls "
                "the guest\n",
                where);
    fprintf(stderr,
            "pvrr: guest stopped at its entry point 0x%" PRIx64 "%s; waiting for gdb on %s\n"
            "pvrr: attach with:\n"
            "  gdb %s -ex 'target remote %s'\n",
            t->m->entry, replay ? " (replay: reverse execution available)" : "", where,
            elf_path ? elf_path : "GUEST.elf", is_unix ? where : where);
    fflush(stderr);
    for (;;) {
        int fd = gdbstub_accept(lfd);
        if (fd < 0) {
            if (errno == EINTR && t->m->interrupt && *t->m->interrupt)
                break;
            continue;
        }
        int end = gdbstub_serve(fd, replay ? &target_replay_ops : &target_live_ops, t);
        close(fd);
        if (end == GDBSTUB_END_DETACH || end == GDBSTUB_END_KILL)
            break;
        if (t->ended && !replay)
            break;       /* the guest is gone: nothing left to debug */
        target_clear(t); /* the next debugger starts with no breakpoints of this one */
        if (t->m->interrupt && *t->m->interrupt)
            break;
        fprintf(stderr, "pvrr: the debugger went away; waiting for another on %s\n", where);
        fflush(stderr);
    }
    close(lfd);
    if (is_unix)
        unlink(addr + 5);
    return 0;
}
