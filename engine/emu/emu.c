/*
 * emu.c - the emulator engine (engine.h) on Unicorn 2.0.1: the machine, the
 * canonical CPU state, save/restore, the breakpoint and watch lists and the
 * written pages. Running is in emu_run.c; emu_internal.h says how the engine
 * gets exact behaviour out of Unicorn.
 */
#include "engine/emu/emu_internal.h"

#include "engine/emu/emu_x86.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#define MSR_EFER 0xc0000080u
#define MSR_KERNEL_GS_BASE 0xc0000102u
#define EMU_STATE_MAGIC 0x50565252454d5531ull /* "PVRREMU1" */

/* Dies naming the Unicorn call: for calls that cannot fail on a working engine. */
static void uc_check(uc_err e, const char *what)
{
    if (e != UC_ERR_OK) {
        fprintf(stderr, "pvrr: internal error: %s: %s\n", what, uc_strerror(e));
        abort();
    }
}

static uint64_t rreg(uc_engine *uc, int id)
{
    uint64_t v = 0;
    uc_check(uc_reg_read(uc, id, &v), "uc_reg_read");
    return v;
}

static void wreg(uc_engine *uc, int id, uint64_t v)
{
    uc_check(uc_reg_write(uc, id, &v), "uc_reg_write");
}

static uint64_t rmsr(uc_engine *uc, uint32_t msr)
{
    uc_x86_msr m = {.rid = msr};
    uc_check(uc_reg_read(uc, UC_X86_REG_MSR, &m), "uc_reg_read(MSR)");
    return m.value;
}

static void wmsr(uc_engine *uc, uint32_t msr, uint64_t v)
{
    uc_x86_msr m = {.rid = msr, .value = v};
    uc_check(uc_reg_write(uc, UC_X86_REG_MSR, &m), "uc_reg_write(MSR)");
}

/* ---- the machine ---- */

static void emu_destroy(struct vm *vm);

static int emu_create(struct vm *vm, char *err, size_t errlen)
{
    struct emu_engine *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    vm->engine = e;
    e->vm = vm;
    uc_err ue = uc_open(UC_ARCH_X86, UC_MODE_64, &e->uc);
    if (ue != UC_ERR_OK) {
        e->uc = NULL;
        snprintf(err, errlen, "the emulator (Unicorn) cannot start: %s", uc_strerror(ue));
        goto fail;
    }
    ue = uc_mem_map_ptr(e->uc, 0, vm->mem_size, UC_PROT_ALL, vm->mem);
    if (ue != UC_ERR_OK) {
        snprintf(err, errlen, "the emulator cannot map %llu bytes of guest RAM: %s",
                 (unsigned long long)vm->mem_size, uc_strerror(ue));
        goto fail;
    }
    if (cs_open(CS_ARCH_X86, CS_MODE_64, &e->cs) != CS_ERR_OK ||
        cs_open(CS_ARCH_X86, CS_MODE_64, &e->cs_detail) != CS_ERR_OK) {
        snprintf(err, errlen, "the x86 decoder (capstone) cannot start");
        goto fail;
    }
    cs_option(e->cs_detail, CS_OPT_DETAIL, CS_OPT_ON);
    e->ctx_size = uc_context_size(e->uc);
    if (e->ctx_size > EMU_CTX_MAX || uc_context_alloc(e->uc, &e->ctx) != UC_ERR_OK) {
        snprintf(err, errlen, "the emulator's CPU context (%zu bytes) is larger than expected",
                 e->ctx_size);
        goto fail;
    }
    e->shadow = mmap(NULL, vm->mem_size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (e->shadow == MAP_FAILED) {
        e->shadow = NULL;
        snprintf(err, errlen, "out of memory for the written-pages shadow");
        goto fail;
    }
    madvise(e->shadow, vm->mem_size, MADV_DONTFORK);
    size_t words = (vm->mem_size / 4096 + 63) / 64;
    e->compare_bits = calloc(words, 8);
    if (!e->compare_bits) {
        snprintf(err, errlen, "out of memory for the written-pages bitmaps");
        goto fail;
    }
    e->limit = UINT64_MAX;
    if (emu_ring_check(vm, err, errlen) < 0)
        goto fail;
    if (emu_hooks_init(vm) < 0) {
        snprintf(err, errlen, "the emulator refused its hooks");
        goto fail;
    }
    return 0;
fail:
    emu_destroy(vm);
    return -1;
}

static void emu_destroy(struct vm *vm)
{
    struct emu_engine *e = emu_of(vm);
    if (!e)
        return;
    emu_run_free(vm);
    if (e->ctx)
        uc_context_free(e->ctx);
    if (e->uc)
        uc_close(e->uc);
    if (e->cs)
        cs_close(&e->cs);
    if (e->cs_detail)
        cs_close(&e->cs_detail);
    if (e->shadow)
        munmap(e->shadow, vm->mem_size);
    free(e->compare_bits);
    free(e->bp);
    free(e->w);
    free(e);
    vm->engine = NULL;
}

static void emu_kick(struct vm *vm)
{
    struct emu_engine *e = emu_of(vm);
    /* only a flag: the block hook (which every translation block runs) stops
     * the guest at the next block boundary, where the count is exact */
    if (e)
        e->kicked = 1;
}

/* ---- canonical state ---- */

static int gpr_ids[18] = {UC_X86_REG_RAX, UC_X86_REG_RBX,   UC_X86_REG_RCX, UC_X86_REG_RDX,
                          UC_X86_REG_RSI, UC_X86_REG_RDI,   UC_X86_REG_RSP, UC_X86_REG_RBP,
                          UC_X86_REG_R8,  UC_X86_REG_R9,    UC_X86_REG_R10, UC_X86_REG_R11,
                          UC_X86_REG_R12, UC_X86_REG_R13,   UC_X86_REG_R14, UC_X86_REG_R15,
                          UC_X86_REG_RIP, UC_X86_REG_RFLAGS};

static void emu_get_regs(struct vm *vm, struct engine_regs *r)
{
    struct emu_engine *e = emu_of(vm);
    uint64_t v[18];
    void *p[18];
    for (int i = 0; i < 18; i++)
        p[i] = &v[i];
    uc_check(uc_reg_read_batch(e->uc, gpr_ids, p, 18), "uc_reg_read_batch");
    memcpy(r, v, sizeof v);
}

static void emu_set_regs(struct vm *vm, const struct engine_regs *r)
{
    struct emu_engine *e = emu_of(vm);
    uint64_t v[18];
    void *p[18];
    memcpy(v, r, sizeof v);
    for (int i = 0; i < 18; i++)
        p[i] = &v[i];
    uc_check(uc_reg_write_batch(e->uc, gpr_ids, p, 18), "uc_reg_write_batch");
    e->strio = 0; /* a string I/O begun before is not reported at the new rip */
}

/* A segment's hidden part, as the CPU loaded it from the GDT (Unicorn keeps
 * only selectors visible in 64-bit mode). */
static void seg_from_gdt(const struct vm *vm, struct engine_segment *s, uint16_t sel,
                         uint64_t gdt_base, uint16_t gdt_limit, uint64_t base)
{
    memset(s, 0, sizeof *s);
    s->selector = sel;
    s->base = base;
    const uint8_t *d =
        (sel & ~7u) && (sel | 7u) <= gdt_limit ? vm_gpa(vm, gdt_base + (sel & ~7u), 8) : NULL;
    if (!d) {
        s->unusable = 1;
        return;
    }
    uint32_t lim = d[0] | (uint32_t)d[1] << 8 | (uint32_t)(d[6] & 0xf) << 16;
    s->type = d[5] & 0xf;
    s->s = (d[5] >> 4) & 1;
    s->dpl = (d[5] >> 5) & 3;
    s->present = d[5] >> 7;
    s->avl = (d[6] >> 4) & 1;
    s->l = (d[6] >> 5) & 1;
    s->db = (d[6] >> 6) & 1;
    s->g = d[6] >> 7;
    s->limit = s->g ? (lim << 12) | 0xfff : lim;
    if (!s->base && !(sel & 4))
        s->base = d[2] | (uint64_t)d[3] << 8 | (uint64_t)d[4] << 16 | (uint64_t)d[7] << 24;
}

static void emu_get_sregs(struct vm *vm, struct engine_sregs *s)
{
    struct emu_engine *e = emu_of(vm);
    uc_engine *uc = e->uc;
    memset(s, 0, sizeof *s);
    uc_x86_mmr gdtr, idtr, tr, ldtr;
    uc_check(uc_reg_read(uc, UC_X86_REG_GDTR, &gdtr), "uc_reg_read(GDTR)");
    uc_check(uc_reg_read(uc, UC_X86_REG_IDTR, &idtr), "uc_reg_read(IDTR)");
    uc_check(uc_reg_read(uc, UC_X86_REG_TR, &tr), "uc_reg_read(TR)");
    uc_check(uc_reg_read(uc, UC_X86_REG_LDTR, &ldtr), "uc_reg_read(LDTR)");
    s->gdt = (struct engine_dtable){gdtr.base, (uint16_t)gdtr.limit};
    s->idt = (struct engine_dtable){idtr.base, (uint16_t)idtr.limit};
    s->fs_base = rreg(uc, UC_X86_REG_FS_BASE);
    s->gs_base = rreg(uc, UC_X86_REG_GS_BASE);
    static const int ids[6] = {UC_X86_REG_CS, UC_X86_REG_DS, UC_X86_REG_ES,
                               UC_X86_REG_FS, UC_X86_REG_GS, UC_X86_REG_SS};
    struct engine_segment *segs[6] = {&s->cs, &s->ds, &s->es, &s->fs, &s->gs, &s->ss};
    for (int i = 0; i < 6; i++) {
        uint64_t base = i == 3 ? s->fs_base : i == 4 ? s->gs_base : 0;
        seg_from_gdt(vm, segs[i], (uint16_t)rreg(uc, ids[i]), gdtr.base, (uint16_t)gdtr.limit,
                     base);
    }
    s->tr = (struct engine_segment){.base = tr.base,
                                    .limit = tr.limit,
                                    .selector = tr.selector,
                                    .type = (tr.flags >> 8) & 0xf,
                                    .present = 1,
                                    .unusable = tr.selector == 0};
    s->ldt = (struct engine_segment){
        .base = ldtr.base, .limit = ldtr.limit, .selector = ldtr.selector, .unusable = 1};
    s->cr0 = rreg(uc, UC_X86_REG_CR0);
    s->cr2 = rreg(uc, UC_X86_REG_CR2);
    s->cr3 = rreg(uc, UC_X86_REG_CR3);
    s->cr4 = rreg(uc, UC_X86_REG_CR4);
    s->cr8 = rreg(uc, UC_X86_REG_CR8);
    s->efer = rmsr(uc, MSR_EFER) | (e->efer_sce ? 1u : 0u); /* SCE is the engine's (emu_ring.c) */
    s->kernel_gs_base = rmsr(uc, MSR_KERNEL_GS_BASE);
}

static void emu_set_sregs(struct vm *vm, const struct engine_sregs *s)
{
    struct emu_engine *e = emu_of(vm);
    uc_engine *uc = e->uc;
    uc_x86_mmr gdtr = {.base = s->gdt.base, .limit = s->gdt.limit};
    uc_x86_mmr idtr = {.base = s->idt.base, .limit = s->idt.limit};
    uc_check(uc_reg_write(uc, UC_X86_REG_GDTR, &gdtr), "uc_reg_write(GDTR)");
    uc_check(uc_reg_write(uc, UC_X86_REG_IDTR, &idtr), "uc_reg_write(IDTR)");
    wmsr(uc, MSR_EFER, s->efer);
    e->efer_sce = s->efer & 1;
    wreg(uc, UC_X86_REG_CR4, s->cr4);
    wreg(uc, UC_X86_REG_CR3, s->cr3);
    wreg(uc, UC_X86_REG_CR0, s->cr0);
    wreg(uc, UC_X86_REG_CR2, s->cr2);
    /* GDTR first: the selectors load from it. Unicorn loads FS and GS
     * through the guest's MMU, setting the descriptors' accessed bits and the
     * A/D bits of the page tables; KVM's SET_SREGS touches no memory, so put
     * those bytes back (and forget the translations Unicorn cached). */
    struct {
        uint64_t *p, v;
    } keep[10];
    int nkeep = 0;
    uint16_t sels[2] = {s->fs.selector, s->gs.selector};
    for (int i = 0; i < 2; i++) {
        uint64_t va = s->gdt.base + (sels[i] & ~7u);
        uint64_t *ent[4];
        int n = (sels[i] & ~7u) ? emu_pte_chain(vm, va, ent) : 0;
        for (int j = 0; j < n; j++)
            keep[nkeep].p = ent[j], keep[nkeep++].v = *ent[j];
        uint64_t *d = n ? vm_gpa(vm, va, 8) : NULL; /* identity mapped (trap: 2.0.1) */
        if (d)
            keep[nkeep].p = d, keep[nkeep++].v = *d;
    }
    wreg(uc, UC_X86_REG_CS, s->cs.selector);
    wreg(uc, UC_X86_REG_SS, s->ss.selector);
    wreg(uc, UC_X86_REG_DS, s->ds.selector);
    wreg(uc, UC_X86_REG_ES, s->es.selector);
    wreg(uc, UC_X86_REG_FS, s->fs.selector);
    wreg(uc, UC_X86_REG_GS, s->gs.selector);
    wreg(uc, UC_X86_REG_FS_BASE, s->fs_base);
    wreg(uc, UC_X86_REG_GS_BASE, s->gs_base);
    wmsr(uc, MSR_KERNEL_GS_BASE, s->kernel_gs_base);
    if (s->tr.selector) {
        uc_x86_mmr tr = {.selector = s->tr.selector,
                         .base = s->tr.base,
                         .limit = s->tr.limit,
                         .flags = (uint32_t)(s->tr.type << 8) | 0x8000u};
        uc_check(uc_reg_write(uc, UC_X86_REG_TR, &tr), "uc_reg_write(TR)");
    }
    for (int i = nkeep; i-- > 0;)
        *keep[i].p = keep[i].v;
    if (nkeep)
        emu_flush_tlb(vm);
}

/* The abridged tag word (FXSAVE: bit i = register i valid) from the full one
 * (2 bits per register, 3 = empty), and back. */
static uint8_t ftw_abridge(uint16_t full)
{
    uint8_t a = 0;
    for (int i = 0; i < 8; i++)
        if (((full >> (2 * i)) & 3) != 3)
            a |= (uint8_t)(1u << i);
    return a;
}

static uint16_t ftw_full(uint8_t a)
{
    uint16_t full = 0;
    for (int i = 0; i < 8; i++)
        if (!(a & (1u << i)))
            full |= (uint16_t)(3u << (2 * i));
    return full;
}

static void emu_get_fpu(struct vm *vm, struct engine_fpu *f)
{
    uc_engine *uc = emu_of(vm)->uc;
    memset(f, 0, sizeof *f);
    for (int i = 0; i < 8; i++)
        uc_check(uc_reg_read(uc, UC_X86_REG_ST0 + i, f->st[i]), "uc_reg_read(ST)");
    f->fcw = (uint16_t)rreg(uc, UC_X86_REG_FPCW);
    f->fsw = (uint16_t)rreg(uc, UC_X86_REG_FPSW);
    f->ftw = ftw_abridge((uint16_t)rreg(uc, UC_X86_REG_FPTAG));
    f->fop = (uint16_t)rreg(uc, UC_X86_REG_FOP);
    f->fip = rreg(uc, UC_X86_REG_FIP);
    f->fdp = rreg(uc, UC_X86_REG_FDP);
    for (int i = 0; i < 16; i++) {
        int id = i < 8 ? UC_X86_REG_XMM0 + i : UC_X86_REG_XMM8 + (i - 8);
        uc_check(uc_reg_read(uc, id, f->xmm[i]), "uc_reg_read(XMM)");
    }
    f->mxcsr = (uint32_t)rreg(uc, UC_X86_REG_MXCSR);
}

static void emu_set_fpu(struct vm *vm, const struct engine_fpu *f)
{
    uc_engine *uc = emu_of(vm)->uc;
    for (int i = 0; i < 8; i++)
        uc_check(uc_reg_write(uc, UC_X86_REG_ST0 + i, f->st[i]), "uc_reg_write(ST)");
    wreg(uc, UC_X86_REG_FPCW, f->fcw);
    wreg(uc, UC_X86_REG_FPSW, f->fsw);
    wreg(uc, UC_X86_REG_FPTAG, ftw_full(f->ftw));
    wreg(uc, UC_X86_REG_FOP, f->fop);
    wreg(uc, UC_X86_REG_FIP, f->fip);
    wreg(uc, UC_X86_REG_FDP, f->fdp);
    for (int i = 0; i < 16; i++) {
        int id = i < 8 ? UC_X86_REG_XMM0 + i : UC_X86_REG_XMM8 + (i - 8);
        uc_check(uc_reg_write(uc, id, f->xmm[i]), "uc_reg_write(XMM)");
    }
    wreg(uc, UC_X86_REG_MXCSR, f->mxcsr);
}

static int emu_boot(struct vm *vm, const struct engine_regs *r, const struct engine_sregs *s,
                    const struct engine_fpu *f, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    emu_set_sregs(vm, s);
    emu_set_regs(vm, r);
    emu_set_fpu(vm, f);
    /* RAM as booted is the shadow's starting point (pages written by the host
     * before boot are marked by vm_dirty_mark) */
    for (uint64_t p = 0; p < vm->mem_size / 4096; p++) /* the shadow starts all zero */
        if ((vm->ever[p / 64] >> (p % 64)) & 1)
            memcpy(emu_of(vm)->shadow + p * 4096, vm->mem + p * 4096, 4096);
    return 0;
}

/* ---- complete state ---- */

static void emu_cpu_save(struct vm *vm, void *blob)
{
    struct emu_engine *e = emu_of(vm);
    struct emu_cpu_state *st = blob;
    uc_check(uc_context_save(e->uc, e->ctx), "uc_context_save");
    st->x.count = e->count;
    st->x.magic = EMU_STATE_MAGIC;
    st->x.efer_sce = (uint64_t)e->efer_sce;
    st->ctx_size = e->ctx_size;
    memcpy(st->ctx, e->ctx, e->ctx_size);
}

static void emu_cpu_restore(struct vm *vm, const void *blob)
{
    struct emu_engine *e = emu_of(vm);
    const struct emu_cpu_state *st = blob;
    if (st->x.magic != EMU_STATE_MAGIC || st->ctx_size != e->ctx_size) {
        fprintf(stderr, "pvrr: internal error: cpu_restore of a blob this engine did not save\n");
        abort();
    }
    memcpy(e->ctx, st->ctx, e->ctx_size);
    uc_check(uc_context_restore(e->uc, e->ctx), "uc_context_restore");
    e->count = st->x.count;
    e->efer_sce = (int)st->x.efer_sce;
    e->triple = 0;
    e->io_pending = 0;
    e->strio = 0;
    /* The caller restores RAM before or after this call: the next run starts
     * the written-pages shadow from RAM as it is then (emu_shadow_sync), or a
     * guest write that puts a page back to the shadow's older bytes would go
     * unseen. */
    e->shadow_stale = 1;
    /* the caller restores RAM too: cached translations (and the A/D bits they
     * remember having set) must not outlive it (trap 4) */
    emu_flush_tlb(vm);
}

/* ---- breakpoints, watchpoints ---- */

static int emu_bp_set(struct vm *vm, uint64_t addr, unsigned flags, int insert)
{
    struct emu_engine *e = emu_of(vm);
    (void)flags; /* code hooks never patch guest memory: every breakpoint is "hardware" */
    for (size_t i = 0; i < e->nbp; i++) {
        if (e->bp[i] == addr) {
            if (!insert) {
                e->bp[i] = e->bp[--e->nbp];
                emu_spot_release(vm, addr, EMU_AT_BP);
            }
            return 0;
        }
    }
    if (!insert)
        return 0;
    if (!vm_gpa(vm, addr, 1))
        return -1;
    if (e->nbp == e->capbp) {
        size_t cap = e->capbp ? e->capbp * 2 : 16;
        uint64_t *nb = realloc(e->bp, cap * sizeof *nb);
        if (!nb)
            return -1;
        e->bp = nb;
        e->capbp = cap;
    }
    if (emu_spot_set(vm, addr, EMU_AT_BP, NULL) < 0)
        return -1;
    e->bp[e->nbp++] = addr;
    return 0;
}

static int emu_watch_set(struct vm *vm, uint64_t addr, uint64_t len, enum engine_watch_kind kind,
                         int insert)
{
    struct emu_engine *e = emu_of(vm);
    int rc = engine_watch_list_set(vm, &e->w, &e->nw, &e->capw, addr, len, kind, insert, NULL);
    if (rc > 0)
        emu_watch_hooks(vm);
    return rc < 0 ? -1 : 0;
}

/* ---- written pages ---- */

/* Sets bit p of (touched) for each page p of the (npages) at (base) that this
 * process touched: present or swapped out in /proc/self/pagemap. A page never
 * touched reads as zeroes (RAM and the shadow are private anonymous
 * mappings). Returns -1 where pagemap cannot be read whole. */
static int mark_touched(const uint8_t *base, uint64_t npages, uint64_t *touched)
{
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    uint64_t ent[512];
    int rc = 0;
    for (uint64_t p = 0; p < npages && rc == 0; p += 512) {
        uint64_t n = npages - p < 512 ? npages - p : 512;
        off_t at = (off_t)(((uintptr_t)base / 4096 + p) * 8);
        if (pread(fd, ent, n * 8, at) != (ssize_t)(n * 8)) {
            rc = -1;
            break;
        }
        for (uint64_t i = 0; i < n; i++)
            if (ent[i] >> 62) /* bit 63 present, bit 62 swapped */
                touched[(p + i) / 64] |= 1ull << ((p + i) % 64);
    }
    close(fd);
    return rc;
}

/* Sets (maybe) to the pages that may differ between RAM and the shadow: those
 * touched in either (all of them where pagemap cannot tell). Comparing only
 * those spares faulting in every untouched page of RAM and shadow (20 ms for
 * 64 MiB at each collect). */
static void pages_to_compare(struct vm *vm, uint64_t *maybe)
{
    struct emu_engine *e = emu_of(vm);
    uint64_t npages = vm->mem_size / 4096, words = (npages + 63) / 64;
    memset(maybe, 0, words * 8);
    if (mark_touched(vm->mem, npages, maybe) < 0 || mark_touched(e->shadow, npages, maybe) < 0)
        memset(maybe, 0xff, words * 8);
}

void emu_shadow_sync(struct vm *vm)
{
    struct emu_engine *e = emu_of(vm);
    uint64_t *maybe = e->compare_bits;
    pages_to_compare(vm, maybe);
    for (uint64_t p = 0; p < vm->mem_size / 4096; p++)
        if (((maybe[p / 64] >> (p % 64)) & 1) &&
            memcmp(vm->mem + p * 4096, e->shadow + p * 4096, 4096) != 0)
            memcpy(e->shadow + p * 4096, vm->mem + p * 4096, 4096);
    e->shadow_stale = 0;
}

static void emu_dirty_collect(struct vm *vm)
{
    struct emu_engine *e = emu_of(vm);
    uint64_t npages = vm->mem_size / 4096;
    uint64_t *maybe = e->compare_bits;
    pages_to_compare(vm, maybe);
    for (uint64_t p = 0; p < npages; p++) {
        uint8_t *now = vm->mem + p * 4096, *was = e->shadow + p * 4096;
        if (!((maybe[p / 64] >> (p % 64)) & 1) || memcmp(now, was, 4096) == 0)
            continue;
        memcpy(was, now, 4096);
        vm->dirty[p / 64] |= 1ull << (p % 64);
        vm->ever[p / 64] |= 1ull << (p % 64);
    }
}

static uint64_t emu_insn_count(struct vm *vm)
{
    return emu_of(vm)->count;
}

const struct engine_ops engine_emu_ops = {
    .name = "emu",
    .caps = ENGINE_CAP_INSN_COUNT,
    .create = emu_create,
    .destroy = emu_destroy,
    .boot = emu_boot,
    .run = emu_engine_run,
    .kick = emu_kick,
    .get_regs = emu_get_regs,
    .set_regs = emu_set_regs,
    .get_sregs = emu_get_sregs,
    .set_sregs = emu_set_sregs,
    .get_fpu = emu_get_fpu,
    .set_fpu = emu_set_fpu,
    .cpu_state_size = sizeof(struct emu_cpu_state),
    .cpu_save = emu_cpu_save,
    .cpu_restore = emu_cpu_restore,
    .bp_set = emu_bp_set,
    .watch_set = emu_watch_set,
    .dirty_collect = emu_dirty_collect,
    .insn_count = emu_insn_count,
};
