/*
 * vm_kvm_x86_64.c - the KVM/x86-64 implementation of vm.h.
 */
#include "monitor/vm.h"

#include "pvrr_abi.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

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

_Noreturn void vm__die(const char *file, int line, const char *what)
{
    fprintf(stderr, "pvrr: internal error at %s:%d: %s: %s\n", file, line, what, strerror(errno));
    abort();
}

/* Tell KVM about slot (i) as described in vm->slots[i] (size 0 deletes it). */
static int set_slot(struct vm *vm, unsigned i)
{
    struct kvm_userspace_memory_region region = {
        .slot = i,
        .flags = vm->slots[i].flags,
        .guest_phys_addr = vm->slots[i].gpa,
        .memory_size = vm->slots[i].size,
        .userspace_addr = (uint64_t)(uintptr_t)(vm->mem + vm->slots[i].gpa),
    };
    return ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region);
}

void vm_dirty_collect(struct vm *vm)
{
    for (unsigned i = 0; i < vm->nslots; i++) {
        if (vm->slots[i].flags & KVM_MEM_READONLY)
            continue;
        uint64_t npages = vm->slots[i].size / 4096;
        uint64_t words = (npages + 63) / 64;
        uint64_t stackbuf[64];
        uint64_t *bm = words <= 64 ? stackbuf : calloc(words, sizeof *bm);
        if (!bm)
            vm_die("out of memory for the dirty log");
        memset(bm, 0, words * sizeof *bm);
        struct kvm_dirty_log log = {.slot = i, .dirty_bitmap = bm};
        if (ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0)
            vm_die("KVM_GET_DIRTY_LOG");
        uint64_t first = vm->slots[i].gpa / 4096;
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

enum vm_page_prot vm_page_protection(const struct vm *vm, uint64_t gpa)
{
    if (gpa >= vm->mem_size)
        return VM_PAGE_RW;
    for (unsigned i = 0; i < vm->nslots; i++)
        if (gpa >= vm->slots[i].gpa && gpa - vm->slots[i].gpa < vm->slots[i].size)
            return (vm->slots[i].flags & KVM_MEM_READONLY) ? VM_PAGE_RO : VM_PAGE_RW;
    return VM_PAGE_HOLE; /* inside RAM but in no slot */
}

int vm_protect_pages(struct vm *vm, const struct vm_page *pages, unsigned n)
{
    if (n > 20)
        return -1;
    vm_dirty_collect(vm);
    /* Delete the old slots, then lay RAM out again around the protected pages. */
    for (unsigned i = 0; i < vm->nslots; i++) {
        vm->slots[i].size = 0;
        vm->slots[i].flags = 0;
        if (set_slot(vm, i) < 0)
            vm_die("KVM_SET_USER_MEMORY_REGION (delete)");
    }
    unsigned ns = 0;
    uint64_t at = 0;
    for (unsigned i = 0; i <= n; i++) {
        uint64_t p = i < n ? pages[i].gpa : vm->mem_size;
        if (p > at)
            vm->slots[ns++] = (struct vm_slot){at, p - at, vm->slot_flags};
        if (i < n) {
            if (pages[i].prot == VM_PAGE_RO)
                vm->slots[ns++] = (struct vm_slot){p, 4096, KVM_MEM_READONLY};
            at = p + 4096;
        }
    }
    vm->nslots = ns;
    for (unsigned i = 0; i < ns; i++)
        if (set_slot(vm, i) < 0)
            vm_die("KVM_SET_USER_MEMORY_REGION");
    return 0;
}

int vm_create(struct vm *vm, uint64_t mem_size, char *err, size_t errlen)
{
    memset(vm, 0, sizeof *vm);
    vm->kvm_fd = vm->vm_fd = vm->vcpu_fd = -1;
    /* PVRR_KVM_DEVICE overrides the device node (tests use it to simulate a
     * machine without KVM). */
    const char *dev = getenv("PVRR_KVM_DEVICE");
    if (!dev || !*dev)
        dev = "/dev/kvm";
    vm->kvm_fd = open(dev, O_RDWR | O_CLOEXEC);
    if (vm->kvm_fd < 0) {
        int e = errno;
        if (e == ENOENT)
            snprintf(err, errlen,
                     "%s does not exist: KVM is not available on this machine "
                     "(load the kvm_intel or kvm_amd module, or enable virtualization in "
                     "the firmware or the hypervisor)",
                     dev);
        else if (e == EACCES || e == EPERM)
            snprintf(err, errlen,
                     "%s: permission denied: run as root or add your user to the "
                     "'kvm' group (sudo usermod -aG kvm $USER, then log in again)",
                     dev);
        else
            snprintf(err, errlen, "%s: %s: cannot open the KVM device", dev, strerror(e));
        return -1;
    }
    int api = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
    if (api != KVM_API_VERSION) {
        snprintf(err, errlen, "KVM API version %d, need %d", api, KVM_API_VERSION);
        goto fail;
    }
    static const struct {
        int cap;
        const char *name;
    } need[] = {{KVM_CAP_SYNC_REGS, "KVM_CAP_SYNC_REGS"},
                {KVM_CAP_SET_GUEST_DEBUG, "KVM_CAP_SET_GUEST_DEBUG"},
                {KVM_CAP_XSAVE, "KVM_CAP_XSAVE"},
                {KVM_CAP_VCPU_EVENTS, "KVM_CAP_VCPU_EVENTS"}};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
        if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, need[i].cap) <= 0) {
            snprintf(err, errlen, "this KVM lacks %s", need[i].name);
            goto fail;
        }
    }
    vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
    if (vm->vm_fd < 0) {
        snprintf(err, errlen, "KVM_CREATE_VM: %s", strerror(errno));
        goto fail;
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
    vm->slot_flags = KVM_MEM_LOG_DIRTY_PAGES;
    vm->dirty = calloc((mem_size / 4096 + 63) / 64, sizeof(uint64_t));
    vm->ever = calloc((mem_size / 4096 + 63) / 64, sizeof(uint64_t));
    if (!vm->dirty || !vm->ever) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    vm->nslots = 1;
    vm->slots[0] = (struct vm_slot){0, mem_size, vm->slot_flags};
    if (set_slot(vm, 0) < 0) {
        snprintf(err, errlen, "KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
        goto fail;
    }
    vm->vcpu_fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, 0);
    if (vm->vcpu_fd < 0) {
        snprintf(err, errlen, "KVM_CREATE_VCPU: %s", strerror(errno));
        goto fail;
    }
    int sz = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (sz <= 0) {
        snprintf(err, errlen, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
        goto fail;
    }
    vm->run_size = (size_t)sz;
    vm->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpu_fd, 0);
    if (vm->run == MAP_FAILED) {
        vm->run = NULL;
        snprintf(err, errlen, "mmap of kvm_run: %s", strerror(errno));
        goto fail;
    }
    size_t cpuid_len;
    const void *cpuid = vm_cpuid_table(&cpuid_len);
    if (ioctl(vm->vcpu_fd, KVM_SET_CPUID2, cpuid) < 0) {
        snprintf(err, errlen, "KVM_SET_CPUID2: %s", strerror(errno));
        goto fail;
    }
    return 0;
fail:
    vm_destroy(vm);
    return -1;
}

void vm_destroy(struct vm *vm)
{
    if (vm->run)
        munmap(vm->run, vm->run_size);
    if (vm->mem)
        munmap(vm->mem, vm->mem_size);
    free(vm->dirty);
    free(vm->ever);
    if (vm->vcpu_fd >= 0)
        close(vm->vcpu_fd);
    if (vm->vm_fd >= 0)
        close(vm->vm_fd);
    if (vm->kvm_fd >= 0)
        close(vm->kvm_fd);
    memset(vm, 0, sizeof *vm);
    vm->kvm_fd = vm->vm_fd = vm->vcpu_fd = -1;
}

/*
 * The CPUID table: a fixed, conservative x86-64 baseline (x86-64-v2 level
 * integer and SSE features), independent of the host, so that what a guest
 * computes never depends on the machine it was recorded on. RDRAND, RDSEED,
 * XSAVE/AVX and the KVM paravirtual leaves are deliberately absent: they would
 * be nondeterministic input or host-dependent state outside the hypercall ABI.
 */
#define NCPUID 8
static const struct kvm_cpuid_entry2 cpuid_entries[NCPUID] = {
    /* leaf 0: max basic leaf 7, vendor "PvrrGuestCPU" (ebx, edx, ecx) */
    {.function = 0, .eax = 7, .ebx = 0x72727650, .edx = 0x73657547, .ecx = 0x55504374},
    /* leaf 1: family 6 model 0x3a; edx: fpu vme de pse tsc msr pae mce cx8 sep mtrr pge
       mca cmov pat pse36 clflush mmx fxsr sse sse2; ecx: sse3 pclmul ssse3 cx16 sse4.1
       sse4.2 popcnt, hypervisor bit 31 */
    {.function = 1, .eax = 0x000306a9, .ebx = 0x00000800, .ecx = 0x80982203, .edx = 0x0789fbff},
    /* leaf 2..6: nothing advertised */
    {.function = 2, .eax = 0x00000001},
    {.function = 7,
     .index = 0,
     .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
     .ebx = 0x00000008 /* bmi1 */},
    /* extended leaves: max 0x80000008; lahf, lm, nx, syscall */
    {.function = 0x80000000, .eax = 0x80000008},
    {.function = 0x80000001, .ecx = 0x00000001, .edx = 0x20100800},
    {.function = 0x80000007},
    /* 39 physical, 48 virtual address bits */
    {.function = 0x80000008, .eax = 0x00003027},
};

/* struct kvm_cpuid2 ends with a flexible array: the table lives in a byte buffer. */
static union {
    struct kvm_cpuid2 hdr;
    uint8_t bytes[sizeof(struct kvm_cpuid2) + sizeof cpuid_entries];
} cpuid_table;

const void *vm_cpuid_table(size_t *len)
{
    if (cpuid_table.hdr.nent == 0) {
        memcpy(cpuid_table.bytes + sizeof(struct kvm_cpuid2), cpuid_entries, sizeof cpuid_entries);
        cpuid_table.hdr.nent = NCPUID;
    }
    *len = sizeof cpuid_table;
    return &cpuid_table;
}

int vm_boot_long_mode(struct vm *vm, uint64_t entry, uint64_t image_end, const char *cmdline,
                      char *err, size_t errlen)
{
    if (vm->mem_size < PVRR_IMAGE_MIN + 0x100000) {
        snprintf(err, errlen, "guest RAM of %llu bytes is too small (need at least 2 MiB)",
                 (unsigned long long)vm->mem_size);
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
    size_t cl = strlen(cmdline);
    if (cl >= PVRR_CMDLINE_MAX) {
        snprintf(err, errlen, "guest command line of %zu bytes is too long (at most %u)", cl,
                 PVRR_CMDLINE_MAX - 1);
        return -1;
    }
    memcpy(bi->cmdline, cmdline, cl + 1);
    bi->cmdline_len = (uint32_t)cl;

    vm_dirty_mark(vm, 0, PVRR_IMAGE_MIN); /* GDT, page tables, boot info */

    struct kvm_sregs s;
    vm_get_sregs(vm, &s);
    struct kvm_segment cs = {.base = 0,
                             .limit = 0xffffffff,
                             .selector = 0x8,
                             .type = 11,
                             .present = 1,
                             .dpl = 0,
                             .db = 0,
                             .s = 1,
                             .l = 1,
                             .g = 1};
    struct kvm_segment ds = {.base = 0,
                             .limit = 0xffffffff,
                             .selector = 0x10,
                             .type = 3,
                             .present = 1,
                             .dpl = 0,
                             .db = 1,
                             .s = 1,
                             .l = 0,
                             .g = 1};
    s.cs = cs;
    s.ds = s.es = s.fs = s.gs = s.ss = ds;
    s.gdt.base = GDT_GPA;
    s.gdt.limit = 3 * 8 - 1;
    s.cr3 = PML4_GPA;
    s.cr4 = (1u << 5) /* PAE */ | (1u << 9) /* OSFXSR */ | (1u << 10) /* OSXMMEXCPT */;
    s.cr0 = 0x80050033; /* PG WP NE ET MP PE */
    s.efer = 0x500;     /* LME LMA */
    if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &s) < 0)
        vm_die("KVM_SET_SREGS");
    struct kvm_regs r = {
        .rip = entry, .rsp = vm->mem_size, .rdi = PVRR_BOOT_INFO_GPA, .rflags = 0x2};
    if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &r) < 0)
        vm_die("KVM_SET_REGS");
    /* The FPU starts in its architectural reset state with SSE exceptions masked. */
    struct kvm_fpu fpu;
    memset(&fpu, 0, sizeof fpu);
    fpu.fcw = 0x37f;
    fpu.mxcsr = 0x1f80;
    if (ioctl(vm->vcpu_fd, KVM_SET_FPU, &fpu) < 0)
        vm_die("KVM_SET_FPU");
    vm->long_mode = 1;
    vm->exit_regs = r;
    return 0;
}

void vm_sync_regs_enable(struct vm *vm)
{
    vm->run->kvm_valid_regs = KVM_SYNC_X86_REGS;
}

/* Run (code) in a throw-away one-page real-mode VM at address 0 until its
 * first exit, with a hardware execution breakpoint at (hwbp) unless it is -1.
 * Returns 0 with the exit reason and rip, or -1 if the probe itself failed. */
static int probe_run(int kvm_fd, const uint8_t *code, size_t n, long hwbp, uint32_t *reason,
                     uint64_t *rip)
{
    int result = -1, vmfd = -1, cpufd = -1;
    struct kvm_run *run = MAP_FAILED;
    long runsz = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    uint8_t *mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (runsz <= 0 || mem == MAP_FAILED)
        goto out;
    memcpy(mem, code, n);
    vmfd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
    if (vmfd < 0)
        goto out;
    struct kvm_userspace_memory_region region = {
        .slot = 0, .guest_phys_addr = 0, .memory_size = 4096, .userspace_addr = (uintptr_t)mem};
    if (ioctl(vmfd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        goto out;
    cpufd = ioctl(vmfd, KVM_CREATE_VCPU, 0);
    if (cpufd < 0)
        goto out;
    run = mmap(NULL, (size_t)runsz, PROT_READ | PROT_WRITE, MAP_SHARED, cpufd, 0);
    if (run == MAP_FAILED)
        goto out;
    struct kvm_sregs sr;
    if (ioctl(cpufd, KVM_GET_SREGS, &sr) < 0)
        goto out;
    sr.cs.base = 0;
    sr.cs.selector = 0;
    if (ioctl(cpufd, KVM_SET_SREGS, &sr) < 0)
        goto out;
    struct kvm_regs r = {.rip = 0, .rdx = 0x80, .rflags = 2};
    if (ioctl(cpufd, KVM_SET_REGS, &r) < 0)
        goto out;
    if (hwbp >= 0) {
        struct kvm_guest_debug dbg;
        memset(&dbg, 0, sizeof dbg);
        dbg.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP;
        dbg.arch.debugreg[0] = (uint64_t)hwbp;
        dbg.arch.debugreg[7] = 0x2; /* G0: execute, 1 byte */
        if (ioctl(cpufd, KVM_SET_GUEST_DEBUG, &dbg) < 0)
            goto out;
    }
    /* a timer signal (monitor_kick_every, armed in gdb sessions) may interrupt
     * KVM_RUN before the probe's first exit: run again, or the probe would
     * report "unknown" and every port-I/O rip of this process would stay
     * uncanonical */
    int rc;
    while ((rc = ioctl(cpufd, KVM_RUN, 0)) < 0 && errno == EINTR)
        ;
    if (rc < 0 || ioctl(cpufd, KVM_GET_REGS, &r) < 0)
        goto out;
    *reason = run->exit_reason;
    *rip = r.rip;
    result = 0;
out:
    if (run != MAP_FAILED)
        munmap(run, (size_t)runsz);
    if (cpufd >= 0)
        close(cpufd);
    if (vmfd >= 0)
        close(vmfd);
    if (mem != MAP_FAILED)
        munmap(mem, 4096);
    return result;
}

int vm_io_exit_rip_after(int kvm_fd)
{
    static int known = -2;
    if (known == -2) {
        static const uint8_t code[] = {0xee, 0xf4}; /* out %al,(%dx); hlt */
        uint32_t reason;
        uint64_t rip;
        known = -1;
        if (probe_run(kvm_fd, code, sizeof code, -1, &reason, &rip) == 0 && reason == KVM_EXIT_IO &&
            rip <= 1)
            known = (int)rip;
    }
    return known;
}

int vm_hw_breakpoints_work(int kvm_fd)
{
    static int known = -1;
    if (known < 0) {
        static const uint8_t code[] = {0x90, 0x90, 0xee, 0xf4}; /* nop; nop; out; hlt */
        uint32_t reason;
        uint64_t rip;
        known = probe_run(kvm_fd, code, sizeof code, 1, &reason, &rip) == 0 &&
                reason == KVM_EXIT_DEBUG && rip == 1;
    }
    return known;
}

/* Length of the port-output instruction at (rip): legacy and REX prefixes,
 * then out imm8 (2 bytes) or out dx (1 byte); 0 if it is not one. */
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

int vm_run(struct vm *vm)
{
    vm->exit_regs = vm->run->s.regs.regs;
    int rc = ioctl(vm->vcpu_fd, KVM_RUN, 0);
    vm->run->kvm_dirty_regs = 0;
    vm->io_pending = 0;
    if (rc < 0)
        return -1;
    struct kvm_run *run = vm->run;
    if (run->exit_reason == KVM_EXIT_MMIO) {
        vm->io_pending = 1;
    } else if (run->exit_reason == KVM_EXIT_IO) {
        vm->io_pending = 1;
        /* Canonical rip: the instruction after the out. Loading the advanced
         * rip at the next KVM_RUN also cancels KVM's own skip (it skips only
         * while rip still points at the out). */
        if (run->io.direction == KVM_EXIT_IO_OUT && vm_io_exit_rip_after(vm->kvm_fd) == 0) {
            struct kvm_regs *r = &run->s.regs.regs;
            unsigned len = out_insn_len(vm, r->rip);
            if (len) {
                r->rip += len;
                run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
            }
        }
    }
    return 0;
}

void vm_settle(struct vm *vm)
{
    vm->run->immediate_exit = 1;
    int rc = ioctl(vm->vcpu_fd, KVM_RUN, 0);
    vm->run->immediate_exit = 0;
    vm->run->kvm_dirty_regs = 0;
    vm->io_pending = 0;
    if (rc < 0 && errno != EINTR)
        vm_die("KVM_RUN (immediate exit)");
}

void vm_get_regs(struct vm *vm, struct kvm_regs *r)
{
    /* kvm_run's synced registers are the truth while they are marked dirty */
    if (vm->run->kvm_dirty_regs & KVM_SYNC_X86_REGS)
        *r = vm->run->s.regs.regs;
    else if (ioctl(vm->vcpu_fd, KVM_GET_REGS, r) < 0)
        vm_die("KVM_GET_REGS");
}

void vm_set_regs(struct vm *vm, const struct kvm_regs *r)
{
    vm_settle(vm);
    if (ioctl(vm->vcpu_fd, KVM_SET_REGS, r) < 0)
        vm_die("KVM_SET_REGS");
    vm->run->s.regs.regs = *r;
    vm->run->kvm_dirty_regs = 0;
}

void vm_get_sregs(struct vm *vm, struct kvm_sregs *s)
{
    if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, s) < 0)
        vm_die("KVM_GET_SREGS");
}

void vm_get_fpu(struct vm *vm, struct kvm_fpu *f)
{
    if (ioctl(vm->vcpu_fd, KVM_GET_FPU, f) < 0)
        vm_die("KVM_GET_FPU");
}

int vm_set_guest_debug(struct vm *vm, uint32_t control, const uint64_t dr[4], uint64_t dr7)
{
    struct kvm_guest_debug dbg;
    memset(&dbg, 0, sizeof dbg);
    dbg.control = control;
    for (int i = 0; i < 4; i++)
        dbg.arch.debugreg[i] = dr ? dr[i] : 0;
    dbg.arch.debugreg[7] = dr7;
    return ioctl(vm->vcpu_fd, KVM_SET_GUEST_DEBUG, &dbg) < 0 ? -1 : 0;
}

void vm_cpu_save(struct vm *vm, struct vm_cpu_state *st)
{
    vm_get_regs(vm, &st->regs);
    vm_get_sregs(vm, &st->sregs);
    vm_get_fpu(vm, &st->fpu);
    if (ioctl(vm->vcpu_fd, KVM_GET_XSAVE, &st->xsave) < 0)
        vm_die("KVM_GET_XSAVE");
    if (ioctl(vm->vcpu_fd, KVM_GET_VCPU_EVENTS, &st->events) < 0)
        vm_die("KVM_GET_VCPU_EVENTS");
    if (ioctl(vm->vcpu_fd, KVM_GET_DEBUGREGS, &st->debugregs) < 0)
        vm_die("KVM_GET_DEBUGREGS");
    memset(&st->xcrs, 0, sizeof st->xcrs);
}

void vm_cpu_restore(struct vm *vm, const struct vm_cpu_state *st)
{
    vm_settle(vm);
    if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &st->sregs) < 0)
        vm_die("KVM_SET_SREGS");
    if (ioctl(vm->vcpu_fd, KVM_SET_XSAVE, &st->xsave) < 0)
        vm_die("KVM_SET_XSAVE");
    struct kvm_vcpu_events ev = st->events;
    ev.flags = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW;
    if (ioctl(vm->vcpu_fd, KVM_SET_VCPU_EVENTS, &ev) < 0)
        vm_die("KVM_SET_VCPU_EVENTS");
    if (ioctl(vm->vcpu_fd, KVM_SET_DEBUGREGS, &st->debugregs) < 0)
        vm_die("KVM_SET_DEBUGREGS");
    if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &st->regs) < 0)
        vm_die("KVM_SET_REGS");
    vm->run->s.regs.regs = st->regs;
    vm->run->kvm_dirty_regs = 0;
}

void vm_dump_regs(struct vm *vm, FILE *f)
{
    struct kvm_regs r;
    vm_get_regs(vm, &r);
    struct kvm_sregs s;
    vm_get_sregs(vm, &s);
    if (vm->long_mode && !(s.cr0 & 0x80000000ull)) {
        /* A pvrr guest never leaves long mode: the host reset the vCPU, as
         * kvm-amd does at a triple fault (shutdown). */
        r = vm->exit_regs;
        fprintf(f, "  (this host's KVM reset the vCPU, so its registers at the fault are lost;\n"
                   "   general registers as the guest last left them, at its last exit:)\n");
        fprintf(f,
                "  rip %016llx  rsp %016llx  rbp %016llx  rflags %08llx\n"
                "  rax %016llx  rbx %016llx  rcx %016llx  rdx %016llx\n"
                "  rsi %016llx  rdi %016llx  r8  %016llx  r9  %016llx\n"
                "  r10 %016llx  r11 %016llx  r12 %016llx  r13 %016llx\n"
                "  r14 %016llx  r15 %016llx\n",
                r.rip, r.rsp, r.rbp, r.rflags, r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.r8, r.r9,
                r.r10, r.r11, r.r12, r.r13, r.r14, r.r15);
        return;
    }
    fprintf(f,
            "  rip %016llx  rsp %016llx  rbp %016llx  rflags %08llx\n"
            "  rax %016llx  rbx %016llx  rcx %016llx  rdx %016llx\n"
            "  rsi %016llx  rdi %016llx  r8  %016llx  r9  %016llx\n"
            "  r10 %016llx  r11 %016llx  r12 %016llx  r13 %016llx\n"
            "  r14 %016llx  r15 %016llx\n"
            "  cr0 %016llx  cr2 %016llx  cr3 %016llx  cr4 %016llx  efer %llx\n",
            r.rip, r.rsp, r.rbp, r.rflags, r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.r8, r.r9,
            r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, s.cr0, s.cr2, s.cr3, s.cr4, s.efer);
}
