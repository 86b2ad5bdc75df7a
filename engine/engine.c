/*
 * engine.c - what every execution engine shares (engine.h): engine selection,
 * guest RAM and the written-pages bitmaps, the boot structures, the fixed
 * CPUID table and register dumps.
 */
#include "engine/engine.h"

#include "pvrr_abi.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

_Static_assert(sizeof(struct engine_regs) == 144, "formats/pvlog.md: 18 u64, no padding");

_Noreturn void engine__die(const char *file, int line, const char *what)
{
    fprintf(stderr, "pvrr: internal error at %s:%d: %s: %s\n", file, line, what, strerror(errno));
    abort();
}

/* ---- engine selection ---- */

/* The engines of this build; the emulator engine is added here when built. */
static const struct engine_ops *const engines[] = {
    &engine_kvm_ops,
#ifdef PVRR_HAVE_EMU
    &engine_emu_ops,
#endif
};

const struct engine_ops *engine_find(const char *name)
{
    for (size_t i = 0; i < sizeof engines / sizeof engines[0]; i++)
        if (strcmp(engines[i]->name, name) == 0)
            return engines[i];
    return NULL;
}

const char *engine_names(void)
{
    static char names[64];
    if (!names[0]) {
        size_t at = 0;
        for (size_t i = 0; i < sizeof engines / sizeof engines[0]; i++)
            at += (size_t)snprintf(names + at, sizeof names - at, "%s%s", i ? ", " : "",
                                   engines[i]->name);
    }
    return names;
}

enum engine_select_status engine_select(const char *want, const struct engine_ops **out,
                                        int *was_auto, char *why, size_t whylen)
{
    if (!want || !*want)
        want = getenv("PVRR_BACKEND");
    if (!want || !*want)
        want = "auto";
    *out = NULL;
    if (was_auto)
        *was_auto = 0;
    if (whylen)
        why[0] = '\0';
    if (strcmp(want, "auto") == 0) {
        /* KVM first where it works (one probe per process), else the first
         * engine that needs no host support */
        static int kvm_ok = -1;
        static char kvm_why[256];
        const struct engine_ops *kvm = engine_find("kvm");
        if (kvm && kvm_ok < 0)
            kvm_ok = kvm->usable ? kvm->usable(kvm_why, sizeof kvm_why) : 1;
        if (was_auto)
            *was_auto = 1;
        if (kvm && kvm_ok) {
            *out = kvm;
            snprintf(why, whylen, "%s", kvm_why);
            return ENGINE_SELECTED;
        }
        for (size_t i = 0; i < sizeof engines / sizeof engines[0]; i++)
            if (!engines[i]->usable) {
                *out = engines[i];
                snprintf(why, whylen, "%s", kvm ? kvm_why : "this build has no KVM engine");
                return ENGINE_SELECTED;
            }
        snprintf(why, whylen, "no engine can run here: %s", kvm_why);
        return ENGINE_SELECT_UNUSABLE;
    }
    const struct engine_ops *e = engine_find(want);
    if (!e) {
        snprintf(why, whylen, "unknown backend '%s' (this build has: %s, and auto)", want,
                 engine_names());
        return ENGINE_SELECT_UNKNOWN;
    }
    /* a named engine is not probed: creating the machine says what is missing */
    *out = e;
    return ENGINE_SELECTED;
}

int engine_watch_list_set(struct vm *vm, struct engine_watch **w, size_t *n, size_t *cap,
                          uint64_t addr, uint64_t len, enum engine_watch_kind kind, int insert,
                          int (*fits)(const struct engine_watch *w, size_t n))
{
    for (size_t i = 0; i < *n; i++) {
        if ((*w)[i].addr == addr && (*w)[i].len == len && (*w)[i].kind == kind) {
            if (!insert)
                (*w)[i] = (*w)[--*n];
            return insert ? 0 : 1;
        }
    }
    if (!insert)
        return 0;
    if (len == 0 || !vm_gpa(vm, addr, len) ||
        (kind != ENGINE_WATCH_WRITE && kind != ENGINE_WATCH_READ && kind != ENGINE_WATCH_ACCESS))
        return -1;
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 8;
        struct engine_watch *nw = realloc(*w, c * sizeof *nw);
        if (!nw)
            return -1;
        *w = nw;
        *cap = c;
    }
    (*w)[*n] = (struct engine_watch){addr, len, kind};
    if (fits && !fits(*w, *n + 1))
        return -1;
    ++*n;
    return 1;
}

void engine_fault(struct engine_event *ev, enum engine_fault_kind kind, const char *fmt, ...)
{
    ev->kind = ENGINE_EV_FAULT;
    ev->fault.kind = kind;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ev->fault.msg, sizeof ev->fault.msg, fmt, ap);
    va_end(ap);
}

/* ---- the machine ---- */

int vm_create(struct vm *vm, const char *name, uint64_t mem_size, char *err, size_t errlen)
{
    memset(vm, 0, sizeof *vm);
    if (!name) {
        char why[256];
        if (engine_select(NULL, &vm->ops, NULL, why, sizeof why) != ENGINE_SELECTED) {
            snprintf(err, errlen, "%s", why);
            return -1;
        }
    } else {
        vm->ops = engine_find(name);
        if (!vm->ops) {
            snprintf(err, errlen, "unknown execution engine '%s' (this build has: %s)", name,
                     engine_names());
            return -1;
        }
    }
    vm->mem_size = mem_size;
    vm->mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (vm->mem == MAP_FAILED) {
        vm->mem = NULL;
        snprintf(err, errlen, "cannot allocate %llu bytes of guest RAM: %s",
                 (unsigned long long)mem_size, strerror(errno));
        goto fail;
    }
    /* a fork (the symbolizer's DWARF reader runs in a child) must not share guest RAM */
    madvise(vm->mem, mem_size, MADV_DONTFORK);
    vm->dirty = calloc((mem_size / 4096 + 63) / 64, sizeof(uint64_t));
    vm->ever = calloc((mem_size / 4096 + 63) / 64, sizeof(uint64_t));
    if (!vm->dirty || !vm->ever) {
        snprintf(err, errlen, "out of memory for the page bitmaps");
        goto fail;
    }
    if (vm->ops->create(vm, err, errlen) < 0)
        goto fail;
    return 0;
fail:
    vm_destroy(vm);
    return -1;
}

void vm_destroy(struct vm *vm)
{
    if (vm->ops)
        vm->ops->destroy(vm);
    if (vm->mem)
        munmap(vm->mem, vm->mem_size);
    free(vm->dirty);
    free(vm->ever);
    memset(vm, 0, sizeof *vm);
}

void vm_dirty_mark(struct vm *vm, uint64_t gpa, uint64_t len)
{
    if (len == 0 || !vm_gpa(vm, gpa, len))
        return;
    for (uint64_t p = gpa / 4096; p <= (gpa + len - 1) / 4096; p++) {
        vm->dirty[p / 64] |= 1ull << (p % 64);
        vm->ever[p / 64] |= 1ull << (p % 64);
    }
}

void vm_dirty_clear(struct vm *vm)
{
    memset(vm->dirty, 0, (vm->mem_size / 4096 + 63) / 64 * sizeof(uint64_t));
}

/* ---- the CPUID table ---- */

/*
 * A fixed, conservative x86-64 baseline (x86-64-v2 level integer and SSE
 * features), independent of the host, so that what a guest computes never
 * depends on the machine it was recorded on. RDRAND, RDSEED, XSAVE/AVX and the
 * KVM paravirtual leaves are deliberately absent: they would be
 * nondeterministic input or host-dependent state outside the hypercall ABI.
 * Canonical layout: formats/pvlog.md ("CPUID table").
 */
#define NCPUID 8
#define CPUID_INDEX_SIGNIFICANT 1u

struct cpuid_entry {
    uint32_t function, index, flags, eax, ebx, ecx, edx, zero[3];
};

static const struct {
    uint32_t count, zero;
    struct cpuid_entry e[NCPUID];
} cpuid_table = {
    NCPUID,
    0,
    {
        /* leaf 0: max basic leaf 7, vendor "PvrrGuestCPU" (ebx, edx, ecx) */
        {.function = 0, .eax = 7, .ebx = 0x72727650, .edx = 0x73657547, .ecx = 0x55504374},
        /* leaf 1: family 6 model 0x3a; edx: fpu vme de pse tsc msr pae mce cx8 sep mtrr pge
           mca cmov pat pse36 clflush mmx fxsr sse sse2; ecx: sse3 pclmul ssse3 cx16 sse4.1
           sse4.2 popcnt, hypervisor bit 31 */
        {.function = 1, .eax = 0x000306a9, .ebx = 0x00000800, .ecx = 0x80982203, .edx = 0x0789fbff},
        /* leaf 2..6: nothing advertised */
        {.function = 2, .eax = 0x00000001},
        {.function = 7, .index = 0, .flags = CPUID_INDEX_SIGNIFICANT, .ebx = 0x00000008 /* bmi1 */},
        /* extended leaves: max 0x80000008; lahf, lm, nx, syscall */
        {.function = 0x80000000, .eax = 0x80000008},
        {.function = 0x80000001, .ecx = 0x00000001, .edx = 0x20100800},
        {.function = 0x80000007},
        /* 39 physical, 48 virtual address bits */
        {.function = 0x80000008, .eax = 0x00003027},
    },
};
_Static_assert(sizeof cpuid_table == 8 + NCPUID * 40, "formats/pvlog.md CPUID layout");

const void *engine_cpuid_table(size_t *len)
{
    *len = sizeof cpuid_table;
    return &cpuid_table;
}

void engine_cpuid(uint32_t function, uint32_t index, uint32_t out[4])
{
    memset(out, 0, 4 * sizeof out[0]);
    for (unsigned i = 0; i < NCPUID; i++) {
        const struct cpuid_entry *e = &cpuid_table.e[i];
        if (e->function != function || ((e->flags & CPUID_INDEX_SIGNIFICANT) && e->index != index))
            continue;
        out[0] = e->eax, out[1] = e->ebx, out[2] = e->ecx, out[3] = e->edx;
        return;
    }
}

/* ---- boot ---- */

/* Monitor-owned pages below 1 MiB (see the layout in pvrr_abi.h). */
#define GDT_GPA 0x1000ull
#define PML4_GPA 0x10000ull
#define PDPT_GPA 0x11000ull
#define PD_GPA 0x12000ull  /* 4 page directories: 4 GiB with 2 MiB pages */
#define PT0_GPA 0x16000ull /* 4 KiB pages for the first 2 MiB, page 0 absent */
#define PTG_GPA 0x17000ull /* 4 KiB pages for the 2 MiB holding the stack guard page */

#define PTE_P 0x1ull
#define PTE_W 0x2ull
#define PTE_PS 0x80ull

int vm_boot_long_mode(struct vm *vm, uint64_t entry, uint64_t image_end, const char *cmdline,
                      char *err, size_t errlen)
{
    if (vm->mem_size < PVRR_IMAGE_MIN + 0x100000) {
        snprintf(err, errlen, "guest RAM of %llu bytes is too small (need at least 2 MiB)",
                 (unsigned long long)vm->mem_size);
        return -1;
    }
    size_t cl = strlen(cmdline);
    if (cl >= PVRR_CMDLINE_MAX) {
        snprintf(err, errlen, "guest command line of %zu bytes is too long (at most %u)", cl,
                 PVRR_CMDLINE_MAX - 1);
        return -1;
    }
    /* GDT: null, 64-bit code (selector 0x8), data (selector 0x10). */
    uint64_t *gdt = vm_gpa(vm, GDT_GPA, 3 * 8);
    gdt[0] = 0;
    gdt[1] = 0x00af9a000000ffffull;
    gdt[2] = 0x00cf92000000ffffull;

    /* Identity map all RAM: 2 MiB pages, except the first 2 MiB in 4 KiB pages
     * so that page 0 can be left absent (NULL dereferences fault). */
    uint64_t *pml4 = vm_gpa(vm, PML4_GPA, 4096);
    uint64_t *pdpt = vm_gpa(vm, PDPT_GPA, 4096);
    uint64_t *pd = vm_gpa(vm, PD_GPA, 4 * 4096);
    uint64_t *pt0 = vm_gpa(vm, PT0_GPA, 4096);
    memset(pml4, 0, 4096);
    memset(pdpt, 0, 4096);
    memset(pd, 0, 4 * 4096);
    memset(pt0, 0, 4096);
    pml4[0] = PDPT_GPA | PTE_P | PTE_W;
    for (uint64_t i = 0; i < 4; i++)
        pdpt[i] = (PD_GPA + i * 4096) | PTE_P | PTE_W;
    uint64_t pages2m = (vm->mem_size + (2u << 20) - 1) >> 21;
    for (uint64_t i = 1; i < pages2m && i < 4 * 512; i++)
        pd[i] = (i << 21) | PTE_P | PTE_W | PTE_PS;
    pd[0] = PT0_GPA | PTE_P | PTE_W;
    for (uint64_t i = 1; i < 512 && (i << 12) < vm->mem_size; i++)
        pt0[i] = (i << 12) | PTE_P | PTE_W;
    /* The stack guard: the page below the stack is left unmapped, so a runaway
     * stack faults (and the SDK reports it) instead of overwriting the heap. */
    uint64_t guard = vm->mem_size - PVRR_STACK_SIZE - 4096;
    if (vm->mem_size > PVRR_STACK_SIZE + 4096 && guard >= image_end && guard >= (2u << 20)) {
        uint64_t *ptg = vm_gpa(vm, PTG_GPA, 4096);
        uint64_t base = guard & ~((2ull << 20) - 1);
        for (uint64_t i = 0; i < 512; i++)
            ptg[i] = (base + (i << 12)) | PTE_P | PTE_W;
        ptg[(guard - base) >> 12] = 0;
        pd[base >> 21] = PTG_GPA | PTE_P | PTE_W;
    }

    struct pvrr_boot_info *bi = vm_gpa(vm, PVRR_BOOT_INFO_GPA, sizeof *bi);
    memset(bi, 0, sizeof *bi);
    bi->magic = PVRR_BOOT_MAGIC;
    bi->abi_version = PVRR_ABI_VERSION;
    bi->mem_size = vm->mem_size;
    bi->image_end = image_end;
    memcpy(bi->cmdline, cmdline, cl + 1);
    bi->cmdline_len = (uint32_t)cl;

    vm_dirty_mark(vm, 0, PVRR_IMAGE_MIN); /* GDT, page tables, boot info */

    /* The CPU: flat 64-bit code and data segments, paging with the tables above. */
    struct engine_sregs s;
    memset(&s, 0, sizeof s);
    s.cs = (struct engine_segment){.base = 0,
                                   .limit = 0xffffffff,
                                   .selector = 0x8,
                                   .type = 11,
                                   .present = 1,
                                   .s = 1,
                                   .l = 1,
                                   .g = 1};
    s.ds = (struct engine_segment){.base = 0,
                                   .limit = 0xffffffff,
                                   .selector = 0x10,
                                   .type = 3,
                                   .present = 1,
                                   .db = 1,
                                   .s = 1,
                                   .g = 1};
    s.es = s.fs = s.gs = s.ss = s.ds;
    s.gdt.base = GDT_GPA;
    s.gdt.limit = 3 * 8 - 1;
    s.cr3 = PML4_GPA;
    s.cr4 = (1u << 5) /* PAE */ | (1u << 9) /* OSFXSR */ | (1u << 10) /* OSXMMEXCPT */;
    s.cr0 = 0x80050033; /* PG WP NE ET MP PE */
    s.efer = 0x500;     /* LME LMA */
    struct engine_regs r = {
        .rip = entry, .rsp = vm->mem_size, .rdi = PVRR_BOOT_INFO_GPA, .rflags = 0x2};
    /* The FPU starts in its architectural reset state with SSE exceptions masked. */
    struct engine_fpu f;
    memset(&f, 0, sizeof f);
    f.fcw = 0x37f;
    f.mxcsr = 0x1f80;
    return vm->ops->boot(vm, &r, &s, &f, err, errlen);
}

/* ---- reports ---- */

void vm_dump_regs(struct vm *vm, FILE *f)
{
    struct engine_regs r;
    struct engine_sregs s;
    vm_get_regs(vm, &r);
    vm_get_sregs(vm, &s);
    fprintf(f,
            "  rip %016llx  rsp %016llx  rbp %016llx  rflags %08llx\n"
            "  rax %016llx  rbx %016llx  rcx %016llx  rdx %016llx\n"
            "  rsi %016llx  rdi %016llx  r8  %016llx  r9  %016llx\n"
            "  r10 %016llx  r11 %016llx  r12 %016llx  r13 %016llx\n"
            "  r14 %016llx  r15 %016llx\n",
            (unsigned long long)r.rip, (unsigned long long)r.rsp, (unsigned long long)r.rbp,
            (unsigned long long)r.rflags, (unsigned long long)r.rax, (unsigned long long)r.rbx,
            (unsigned long long)r.rcx, (unsigned long long)r.rdx, (unsigned long long)r.rsi,
            (unsigned long long)r.rdi, (unsigned long long)r.r8, (unsigned long long)r.r9,
            (unsigned long long)r.r10, (unsigned long long)r.r11, (unsigned long long)r.r12,
            (unsigned long long)r.r13, (unsigned long long)r.r14, (unsigned long long)r.r15);
    /* A pvrr guest never leaves long mode: without paging the engine reset the
     * CPU (kvm-amd does at a triple fault) and its control registers say nothing. */
    if (s.cr0 & 0x80000000ull)
        fprintf(f, "  cr0 %016llx  cr2 %016llx  cr3 %016llx  cr4 %016llx  efer %llx\n",
                (unsigned long long)s.cr0, (unsigned long long)s.cr2, (unsigned long long)s.cr3,
                (unsigned long long)s.cr4, (unsigned long long)s.efer);
}
