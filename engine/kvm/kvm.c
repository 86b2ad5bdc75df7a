/*
 * kvm.c - the KVM engine (engine.h) on Linux KVM, x86-64: the machine, the
 * canonical CPU state and the host probes. Running, breakpoints and
 * watchpoints are in kvm_run.c.
 */
#include "engine/kvm/kvm_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

int kvm_ioctl_or_die(int fd, unsigned long req, const void *arg, const char *name, const char *file,
                     int line)
{
    int rc = ioctl(fd, req, arg);
    if (rc < 0)
        engine__die(file, line, name);
    return rc;
}

/* ---- the machine ---- */

static void kvm_destroy(struct vm *vm);

/* Open the KVM device (/dev/kvm, or PVRR_KVM_DEVICE: tests use it to simulate
 * a machine without KVM). Returns the fd, or -1 with (err) saying how to fix it. */
static int kvm_open_device(char *err, size_t errlen)
{
    const char *dev = getenv("PVRR_KVM_DEVICE");
    if (!dev || !*dev)
        dev = "/dev/kvm";
    int fd = open(dev, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
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
    return fd;
}

static int kvm_create(struct vm *vm, char *err, size_t errlen)
{
    struct kvm_engine *k = calloc(1, sizeof *k);
    if (!k) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    vm->engine = k;
    k->kvm_fd = k->vm_fd = k->vcpu_fd = -1;
    k->kvm_fd = kvm_open_device(err, errlen);
    if (k->kvm_fd < 0)
        goto fail;
    int api = kvm__ioctl(k->kvm_fd, KVM_GET_API_VERSION, 0);
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
        if (kvm__ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, need[i].cap) <= 0) {
            snprintf(err, errlen, "this KVM lacks %s", need[i].name);
            goto fail;
        }
    }
    k->vm_fd = kvm__ioctl(k->kvm_fd, KVM_CREATE_VM, 0);
    if (k->vm_fd < 0) {
        snprintf(err, errlen, "KVM_CREATE_VM: %s", strerror(errno));
        goto fail;
    }
    k->slot_flags = KVM_MEM_LOG_DIRTY_PAGES;
    k->nslots = 1;
    k->slots[0] = (struct kvm_slot){0, vm->mem_size, k->slot_flags};
    if (kvm_set_slot(vm, 0) < 0) {
        snprintf(err, errlen, "KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
        goto fail;
    }
    k->vcpu_fd = kvm__ioctl(k->vm_fd, KVM_CREATE_VCPU, 0);
    if (k->vcpu_fd < 0) {
        snprintf(err, errlen, "KVM_CREATE_VCPU: %s", strerror(errno));
        goto fail;
    }
    int sz = kvm__ioctl(k->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (sz <= 0) {
        snprintf(err, errlen, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
        goto fail;
    }
    k->run_size = (size_t)sz;
    k->run = mmap(NULL, k->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, k->vcpu_fd, 0);
    if (k->run == MAP_FAILED) {
        k->run = NULL;
        snprintf(err, errlen, "mmap of kvm_run: %s", strerror(errno));
        goto fail;
    }
    /* The CPUID table: pvrr's canonical bytes (engine.h) as a struct kvm_cpuid2. */
    size_t clen;
    const uint32_t *canon = engine_cpuid_table(&clen);
    uint32_t n = canon[0];
    struct kvm_cpuid2 *cpuid = calloc(1, sizeof *cpuid + n * sizeof(struct kvm_cpuid_entry2));
    if (!cpuid) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    cpuid->nent = n;
    for (uint32_t i = 0; i < n; i++) {
        const uint32_t *e = canon + 2 + i * 10;
        cpuid->entries[i] =
            (struct kvm_cpuid_entry2){.function = e[0],
                                      .index = e[1],
                                      .flags = e[2] & 1 ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0,
                                      .eax = e[3],
                                      .ebx = e[4],
                                      .ecx = e[5],
                                      .edx = e[6]};
    }
    int rc = kvm__ioctl(k->vcpu_fd, KVM_SET_CPUID2, cpuid);
    free(cpuid);
    if (rc < 0) {
        snprintf(err, errlen, "KVM_SET_CPUID2: %s", strerror(errno));
        goto fail;
    }
    /* general registers through kvm_run on each exit: the hot path needs no KVM_GET_REGS */
    k->run->kvm_valid_regs = KVM_SYNC_X86_REGS;
    k->io_rip_after = kvm_io_exit_rip_after(k->kvm_fd);
    k->hw_bp = -1;    /* probed when a hardware breakpoint is first wanted */
    k->dbg_valid = 1; /* a new vCPU has guest debugging off */
    return 0;
fail:
    kvm_destroy(vm);
    return -1;
}

static void kvm_destroy(struct vm *vm)
{
    struct kvm_engine *k = kvm_of(vm);
    if (!k)
        return;
    if (k->run)
        munmap(k->run, k->run_size);
    if (k->vcpu_fd >= 0)
        close(k->vcpu_fd);
    if (k->vm_fd >= 0)
        close(k->vm_fd);
    if (k->kvm_fd >= 0)
        close(k->kvm_fd);
    free(k->bp);
    free(k->w);
    free(k);
    vm->engine = NULL;
}

/* ---- canonical state <-> KVM's structs ---- */

static void seg_from_kvm(struct engine_segment *e, const struct kvm_segment *s)
{
    *e = (struct engine_segment){.base = s->base,
                                 .limit = s->limit,
                                 .selector = s->selector,
                                 .type = s->type,
                                 .present = s->present,
                                 .dpl = s->dpl,
                                 .db = s->db,
                                 .s = s->s,
                                 .l = s->l,
                                 .g = s->g,
                                 .avl = s->avl,
                                 .unusable = s->unusable};
}

static void seg_to_kvm(struct kvm_segment *s, const struct engine_segment *e)
{
    memset(s, 0, sizeof *s);
    s->base = e->base, s->limit = e->limit, s->selector = e->selector, s->type = e->type;
    s->present = e->present, s->dpl = e->dpl, s->db = e->db, s->s = e->s, s->l = e->l;
    s->g = e->g, s->avl = e->avl, s->unusable = e->unusable;
}

static void regs_from_kvm(struct engine_regs *e, const struct kvm_regs *r)
{
    *e = (struct engine_regs){r->rax, r->rbx, r->rcx, r->rdx, r->rsi, r->rdi,
                              r->rsp, r->rbp, r->r8,  r->r9,  r->r10, r->r11,
                              r->r12, r->r13, r->r14, r->r15, r->rip, r->rflags};
}

static void regs_to_kvm(struct kvm_regs *r, const struct engine_regs *e)
{
    *r = (struct kvm_regs){.rax = e->rax,
                           .rbx = e->rbx,
                           .rcx = e->rcx,
                           .rdx = e->rdx,
                           .rsi = e->rsi,
                           .rdi = e->rdi,
                           .rsp = e->rsp,
                           .rbp = e->rbp,
                           .r8 = e->r8,
                           .r9 = e->r9,
                           .r10 = e->r10,
                           .r11 = e->r11,
                           .r12 = e->r12,
                           .r13 = e->r13,
                           .r14 = e->r14,
                           .r15 = e->r15,
                           .rip = e->rip,
                           .rflags = e->rflags};
}

void kvm_settle(struct vm *vm)
{
    struct kvm_engine *k = kvm_of(vm);
    k->run->immediate_exit = 1;
    int rc = kvm__ioctl(k->vcpu_fd, KVM_RUN, 0);
    k->run->immediate_exit = 0;
    k->run->kvm_dirty_regs = 0;
    k->io_pending = 0;
    if (rc < 0 && errno != EINTR)
        engine_die("KVM_RUN (immediate exit)");
}

static void kvm_get_regs(struct vm *vm, struct engine_regs *e)
{
    struct kvm_engine *k = kvm_of(vm);
    /* The canonical set after a triple fault: the registers at the last exit
     * before it (kvm-amd resets the vCPU at a shutdown; formats/pvlog.md). */
    if (k->shut_down) {
        regs_from_kvm(e, &k->exit_regs);
        return;
    }
    /* kvm_run's synced registers are current after every KVM_RUN and every
     * register write below (and canonical: kvm_run.c adjusts rip at I/O exits) */
    regs_from_kvm(e, &k->run->s.regs.regs);
}

static void kvm_set_regs(struct vm *vm, const struct engine_regs *e)
{
    struct kvm_engine *k = kvm_of(vm);
    struct kvm_regs r;
    regs_to_kvm(&r, e);
    kvm_settle(vm);
    kvm_ioctl(k->vcpu_fd, KVM_SET_REGS, &r);
    k->run->s.regs.regs = r;
    k->run->kvm_dirty_regs = 0;
    k->step_stale = 1; /* a register write (kvm_internal.h) */
}

static void kvm_get_sregs(struct vm *vm, struct engine_sregs *e)
{
    struct kvm_engine *k = kvm_of(vm);
    struct kvm_sregs s;
    kvm_ioctl(k->vcpu_fd, KVM_GET_SREGS, &s);
    memset(e, 0, sizeof *e);
    seg_from_kvm(&e->cs, &s.cs), seg_from_kvm(&e->ds, &s.ds), seg_from_kvm(&e->es, &s.es);
    seg_from_kvm(&e->fs, &s.fs), seg_from_kvm(&e->gs, &s.gs), seg_from_kvm(&e->ss, &s.ss);
    seg_from_kvm(&e->tr, &s.tr), seg_from_kvm(&e->ldt, &s.ldt);
    e->gdt = (struct engine_dtable){s.gdt.base, s.gdt.limit};
    e->idt = (struct engine_dtable){s.idt.base, s.idt.limit};
    e->cr0 = s.cr0, e->cr2 = s.cr2, e->cr3 = s.cr3, e->cr4 = s.cr4, e->cr8 = s.cr8;
    e->efer = s.efer;
    e->fs_base = s.fs.base, e->gs_base = s.gs.base;
    /* struct kvm_msrs ends with a flexible array: one entry in a byte buffer */
    union {
        struct kvm_msrs h;
        uint8_t bytes[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
    } msrs;
    memset(&msrs, 0, sizeof msrs);
    msrs.h.nmsrs = 1;
    msrs.h.entries[0].index = 0xc0000102; /* MSR_KERNEL_GS_BASE */
    if (kvm__ioctl(k->vcpu_fd, KVM_GET_MSRS, &msrs) == 1)
        e->kernel_gs_base = msrs.h.entries[0].data;
}

/* Write (e) into (s): everything but the interrupt state KVM keeps there. */
static void sregs_to_kvm(struct kvm_sregs *s, const struct engine_sregs *e)
{
    seg_to_kvm(&s->cs, &e->cs), seg_to_kvm(&s->ds, &e->ds), seg_to_kvm(&s->es, &e->es);
    seg_to_kvm(&s->fs, &e->fs), seg_to_kvm(&s->gs, &e->gs), seg_to_kvm(&s->ss, &e->ss);
    seg_to_kvm(&s->tr, &e->tr), seg_to_kvm(&s->ldt, &e->ldt);
    s->gdt.base = e->gdt.base, s->gdt.limit = e->gdt.limit;
    s->idt.base = e->idt.base, s->idt.limit = e->idt.limit;
    s->cr0 = e->cr0, s->cr2 = e->cr2, s->cr3 = e->cr3, s->cr4 = e->cr4, s->cr8 = e->cr8;
    s->efer = e->efer;
}

static void kvm_set_sregs(struct vm *vm, const struct engine_sregs *e)
{
    struct kvm_engine *k = kvm_of(vm);
    struct kvm_sregs s;
    kvm_settle(vm);
    kvm_ioctl(k->vcpu_fd, KVM_GET_SREGS, &s);
    sregs_to_kvm(&s, e);
    kvm_ioctl(k->vcpu_fd, KVM_SET_SREGS, &s);
}

/*
 * FPU and SSE state through the XSAVE area's legacy (FXSAVE) region, not
 * KVM_GET_FPU: some hosts' KVM_GET_FPU reports mxcsr 0 while the vCPU holds
 * 0x1f80 (measured on this project's nested KVM, Linux 6.18). Offsets are
 * the FXSAVE layout; XSTATE_BV (byte 512) says which components are not in
 * their initial state.
 */
#define FX_FCW 0
#define FX_FSW 2
#define FX_FTW 4
#define FX_FOP 6
#define FX_FIP 8
#define FX_FDP 16
#define FX_MXCSR 24
#define FX_ST 32
#define FX_XMM 160
#define XSTATE_BV 512
#define XFEATURE_X87 1ull
#define XFEATURE_SSE 2ull

static void fpu_from_xsave(struct engine_fpu *e, const struct kvm_xsave *x)
{
    const uint8_t *b = (const uint8_t *)x->region;
    uint64_t bv;
    memcpy(&bv, b + XSTATE_BV, sizeof bv);
    memset(e, 0, sizeof *e);
    e->fcw = 0x37f; /* the x87 initial state, when XSTATE_BV says so */
    if (bv & XFEATURE_X87) {
        memcpy(&e->fcw, b + FX_FCW, 2);
        memcpy(&e->fsw, b + FX_FSW, 2);
        e->ftw = b[FX_FTW];
        memcpy(&e->fop, b + FX_FOP, 2);
        memcpy(&e->fip, b + FX_FIP, 8);
        memcpy(&e->fdp, b + FX_FDP, 8);
        memcpy(e->st, b + FX_ST, sizeof e->st);
    }
    memcpy(&e->mxcsr, b + FX_MXCSR, 4);
    if (bv & XFEATURE_SSE)
        memcpy(e->xmm, b + FX_XMM, sizeof e->xmm);
}

static void fpu_to_xsave(struct kvm_xsave *x, const struct engine_fpu *e)
{
    uint8_t *b = (uint8_t *)x->region;
    uint64_t bv;
    memcpy(&bv, b + XSTATE_BV, sizeof bv);
    memcpy(b + FX_FCW, &e->fcw, 2);
    memcpy(b + FX_FSW, &e->fsw, 2);
    b[FX_FTW] = e->ftw;
    memcpy(b + FX_FOP, &e->fop, 2);
    memcpy(b + FX_FIP, &e->fip, 8);
    memcpy(b + FX_FDP, &e->fdp, 8);
    memcpy(b + FX_ST, e->st, sizeof e->st);
    memcpy(b + FX_MXCSR, &e->mxcsr, 4);
    memcpy(b + FX_XMM, e->xmm, sizeof e->xmm);
    bv |= XFEATURE_X87 | XFEATURE_SSE;
    memcpy(b + XSTATE_BV, &bv, sizeof bv);
}

static void kvm_get_fpu(struct vm *vm, struct engine_fpu *e)
{
    static struct kvm_xsave x; /* 4 KiB: one vCPU thread */
    kvm_ioctl(kvm_of(vm)->vcpu_fd, KVM_GET_XSAVE, &x);
    fpu_from_xsave(e, &x);
}

/* Write (e) into the vCPU (no pending exit to complete). */
static void xsave_write_fpu(struct vm *vm, const struct engine_fpu *e)
{
    static struct kvm_xsave x;
    kvm_ioctl(kvm_of(vm)->vcpu_fd, KVM_GET_XSAVE, &x);
    fpu_to_xsave(&x, e);
    kvm_ioctl(kvm_of(vm)->vcpu_fd, KVM_SET_XSAVE, &x);
}

static void kvm_set_fpu(struct vm *vm, const struct engine_fpu *e)
{
    kvm_settle(vm);
    xsave_write_fpu(vm, e);
}

static int kvm_boot(struct vm *vm, const struct engine_regs *r, const struct engine_sregs *e,
                    const struct engine_fpu *f, char *err, size_t errlen)
{
    struct kvm_engine *k = kvm_of(vm);
    /* long mode: the segments, GDTR and control registers; TR, LDTR and IDTR
     * keep their reset values until the guest loads its own */
    struct kvm_sregs s;
    kvm_ioctl(k->vcpu_fd, KVM_GET_SREGS, &s);
    seg_to_kvm(&s.cs, &e->cs), seg_to_kvm(&s.ds, &e->ds), seg_to_kvm(&s.es, &e->es);
    seg_to_kvm(&s.fs, &e->fs), seg_to_kvm(&s.gs, &e->gs), seg_to_kvm(&s.ss, &e->ss);
    s.gdt.base = e->gdt.base, s.gdt.limit = e->gdt.limit;
    s.cr0 = e->cr0, s.cr3 = e->cr3, s.cr4 = e->cr4, s.efer = e->efer;
    kvm_ioctl(k->vcpu_fd, KVM_SET_SREGS, &s);
    struct kvm_regs kr;
    regs_to_kvm(&kr, r);
    kvm_ioctl(k->vcpu_fd, KVM_SET_REGS, &kr);
    xsave_write_fpu(vm, f);
    k->run->s.regs.regs = kr;
    k->exit_regs = kr;
    return 0;
}

/* ---- complete state ---- */

static void kvm_cpu_save(struct vm *vm, void *blob)
{
    struct kvm_engine *k = kvm_of(vm);
    struct kvm_cpu_state *st = blob;
    kvm_settle(vm);
    kvm_ioctl(k->vcpu_fd, KVM_GET_REGS, &st->regs);
    kvm_ioctl(k->vcpu_fd, KVM_GET_SREGS, &st->sregs);
    kvm_ioctl(k->vcpu_fd, KVM_GET_FPU, &st->fpu);
    kvm_ioctl(k->vcpu_fd, KVM_GET_XSAVE, &st->xsave);
    kvm_ioctl(k->vcpu_fd, KVM_GET_VCPU_EVENTS, &st->events);
    kvm_ioctl(k->vcpu_fd, KVM_GET_DEBUGREGS, &st->debugregs);
    memset(&st->xcrs, 0, sizeof st->xcrs);
}

static void kvm_cpu_restore(struct vm *vm, const void *blob)
{
    struct kvm_engine *k = kvm_of(vm);
    const struct kvm_cpu_state *st = blob;
    kvm_settle(vm);
    kvm_ioctl(k->vcpu_fd, KVM_SET_SREGS, &st->sregs);
    kvm_ioctl(k->vcpu_fd, KVM_SET_XSAVE, &st->xsave);
    struct kvm_vcpu_events ev = st->events;
    ev.flags = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW;
    kvm_ioctl(k->vcpu_fd, KVM_SET_VCPU_EVENTS, &ev);
    kvm_ioctl(k->vcpu_fd, KVM_SET_DEBUGREGS, &st->debugregs);
    kvm_ioctl(k->vcpu_fd, KVM_SET_REGS, &st->regs);
    k->run->s.regs.regs = st->regs;
    k->run->kvm_dirty_regs = 0;
    k->shut_down = 0;
    k->dbg_valid = 0; /* KVM_SET_DEBUGREGS may have changed what guest debugging set */
}

static void kvm_kick(struct vm *vm)
{
    struct kvm_engine *k = kvm_of(vm);
    /* the signal that calls this interrupts a KVM_RUN in progress (EINTR);
     * immediate_exit catches one about to start */
    if (k && k->run)
        k->run->immediate_exit = 1;
}

/* ---- host probes ---- */

/* Run (code) in a throw-away one-page real-mode VM at address 0 until its
 * first exit, with a hardware execution breakpoint at (hwbp) unless it is -1,
 * and SSE enabled (CR4.OSFXSR, CR0.EM clear) if (sse). Returns 0 with the exit reason and rip, or
 * -1 if the probe itself failed. */
static int probe_run(int kvm_fd, const uint8_t *code, size_t n, long hwbp, int sse,
                     uint32_t *reason, uint64_t *rip)
{
    int result = -1, vmfd = -1, cpufd = -1;
    struct kvm_run *run = MAP_FAILED;
    long runsz = kvm__ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    uint8_t *mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (runsz <= 0 || mem == MAP_FAILED)
        goto out;
    memcpy(mem, code, n);
    vmfd = kvm__ioctl(kvm_fd, KVM_CREATE_VM, 0);
    if (vmfd < 0)
        goto out;
    struct kvm_userspace_memory_region region = {
        .slot = 0, .guest_phys_addr = 0, .memory_size = 4096, .userspace_addr = (uintptr_t)mem};
    if (kvm__ioctl(vmfd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        goto out;
    cpufd = kvm__ioctl(vmfd, KVM_CREATE_VCPU, 0);
    if (cpufd < 0)
        goto out;
    run = mmap(NULL, (size_t)runsz, PROT_READ | PROT_WRITE, MAP_SHARED, cpufd, 0);
    if (run == MAP_FAILED)
        goto out;
    struct kvm_sregs sr;
    if (kvm__ioctl(cpufd, KVM_GET_SREGS, &sr) < 0)
        goto out;
    sr.cs.base = 0;
    sr.cs.selector = 0;
    if (sse) {
        sr.cr0 &= ~(uint64_t)0x4; /* EM */
        sr.cr4 |= 0x600;          /* OSFXSR, OSXMMEXCPT */
    }
    if (kvm__ioctl(cpufd, KVM_SET_SREGS, &sr) < 0)
        goto out;
    struct kvm_regs r = {.rip = 0, .rdx = 0x80, .rflags = 2};
    if (kvm__ioctl(cpufd, KVM_SET_REGS, &r) < 0)
        goto out;
    if (hwbp >= 0) {
        struct kvm_guest_debug dbg;
        memset(&dbg, 0, sizeof dbg);
        dbg.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP;
        dbg.arch.debugreg[0] = (uint64_t)hwbp;
        dbg.arch.debugreg[7] = 0x2; /* G0: execute, 1 byte */
        if (kvm__ioctl(cpufd, KVM_SET_GUEST_DEBUG, &dbg) < 0)
            goto out;
    }
    /* a timer signal (monitor_kick_every, armed in gdb sessions) may interrupt
     * KVM_RUN before the probe's first exit: run again, or the probe would
     * report "unknown" and every port-I/O rip of this process would stay
     * uncanonical (the hardware-breakpoint probe runs lazily, mid-session) */
    int rc;
    while ((rc = kvm__ioctl(cpufd, KVM_RUN, 0)) < 0 && errno == EINTR)
        ;
    if (rc < 0 || kvm__ioctl(cpufd, KVM_GET_REGS, &r) < 0)
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

int kvm_io_exit_rip_after(int kvm_fd)
{
    static int known = -2;
    if (known == -2) {
        static const uint8_t code[] = {0xee, 0xf4}; /* out %al,(%dx); hlt */
        uint32_t reason;
        uint64_t rip;
        known = -1;
        if (probe_run(kvm_fd, code, sizeof code, -1, 0, &reason, &rip) == 0 &&
            reason == KVM_EXIT_IO && rip <= 1)
            known = (int)rip;
    }
    return known;
}

int kvm_hw_breakpoints_work(int kvm_fd)
{
    static int known = -1;
    if (known < 0) {
        static const uint8_t code[] = {0x90, 0x90, 0xee, 0xf4}; /* nop; nop; out; hlt */
        uint32_t reason;
        uint64_t rip;
        known = probe_run(kvm_fd, code, sizeof code, 1, 0, &reason, &rip) == 0 &&
                reason == KVM_EXIT_DEBUG && rip == 1;
    }
    return known;
}

/* Whether KVM works here for every guest pvrr runs: the device opens, speaks
 * the API and runs a probe with an SSE instruction (the nested PVM KVM of
 * ../shared/platform.md ends a VM at its first SSE instruction, which static
 * Linux programs execute everywhere). */
static int kvm_usable(char *why, size_t n)
{
    int fd = kvm_open_device(why, n);
    if (fd < 0)
        return 0;
    const char *dev = getenv("PVRR_KVM_DEVICE");
    if (!dev || !*dev)
        dev = "/dev/kvm";
    int ok = 0;
    int api = kvm__ioctl(fd, KVM_GET_API_VERSION, 0);
    if (api != KVM_API_VERSION) {
        snprintf(why, n, "%s speaks KVM API version %d, pvrr needs %d", dev, api, KVM_API_VERSION);
        goto out;
    }
    static const uint8_t code[] = {0x0f, 0x57, 0xc0, 0xee, 0xf4}; /* xorps %xmm0,%xmm0; out; hlt */
    uint32_t reason = 0;
    uint64_t rip = 0;
    if (probe_run(fd, code, sizeof code, -1, 1, &reason, &rip) < 0) {
        snprintf(why, n, "%s opens but cannot run a probe guest (%s)", dev, strerror(errno));
        goto out;
    }
    if (reason != KVM_EXIT_IO) {
        snprintf(why, n,
                 "%s cannot execute SSE instructions (a probe's xorps ended with KVM exit "
                 "%u at rip %#llx)",
                 dev, reason, (unsigned long long)rip);
        goto out;
    }
    snprintf(why, n, "%s works", dev);
    ok = 1;
out:
    close(fd);
    return ok;
}

const struct engine_ops engine_kvm_ops = {
    .name = "kvm",
    .caps = 0,
    .usable = kvm_usable,
    .create = kvm_create,
    .destroy = kvm_destroy,
    .boot = kvm_boot,
    .run = kvm_engine_run,
    .kick = kvm_kick,
    .get_regs = kvm_get_regs,
    .set_regs = kvm_set_regs,
    .get_sregs = kvm_get_sregs,
    .set_sregs = kvm_set_sregs,
    .get_fpu = kvm_get_fpu,
    .set_fpu = kvm_set_fpu,
    .cpu_state_size = sizeof(struct kvm_cpu_state),
    .cpu_save = kvm_cpu_save,
    .cpu_restore = kvm_cpu_restore,
    .bp_set = kvm_engine_bp_set,
    .watch_set = kvm_engine_watch_set,
    .dirty_collect = kvm_engine_dirty_collect,
    .insn_count = NULL,
};
