/*
 * vm.h - one KVM virtual machine with one vCPU: the architecture-specific
 * layer of the monitor (implemented in vm_kvm_x86_64.c).
 *
 * Owns the KVM file descriptors, guest RAM and the kvm_run page. Knows how to
 * put the vCPU in 64-bit long mode, which CPUID table the guest sees, and how
 * to save and restore the complete machine state. Knows nothing about
 * hypercalls, recording or debuggers.
 */
#ifndef PVRR_VM_H
#define PVRR_VM_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct vm {
    int kvm_fd;
    int vm_fd;
    int vcpu_fd;
    struct kvm_run *run;
    size_t run_size;
    uint8_t *mem;      /* guest RAM, guest-physical address 0 */
    uint64_t mem_size; /* bytes, page aligned */
    uint32_t slot_flags;
    /* memory slots: RAM split around read-only (watched) pages */
    unsigned nslots;
    struct vm_slot {
        uint64_t gpa, size;
        uint32_t flags;
    } slots[64];
    uint64_t *dirty; /* accumulated dirty-page bitmap, one bit per 4 KiB page */
    uint64_t *ever;  /* pages written at least once since boot (never cleared) */
    /* The last exit was port I/O or MMIO, which this KVM completes at the next
     * KVM_RUN (vm_settle completes it at once). */
    int io_pending;
    int long_mode;             /* vm_boot_long_mode has run */
    int shut_down;             /* the guest triple-faulted (KVM_EXIT_SHUTDOWN) */
    struct kvm_regs exit_regs; /* general registers as of the exit before the last one */
};

/* How a guest page is protected (for watchpoints). */
enum vm_page_prot {
    VM_PAGE_RW = 0,   /* ordinary RAM */
    VM_PAGE_RO = 1,   /* guest writes exit as KVM_EXIT_MMIO and are not performed */
    VM_PAGE_HOLE = 2, /* no memory slot: every guest read and write exits as KVM_EXIT_MMIO
                         (reads are completed with data the monitor supplies); code cannot
                         be fetched from such a page */
};

struct vm_page {
    uint64_t gpa; /* page aligned */
    enum vm_page_prot prot;
};

/* Protect exactly the 4 KiB pages listed in (pages) (sorted by address,
 * distinct, at most 20); every other page becomes ordinary RAM again. The
 * host's view of guest memory does not change. Dirty bits gathered so far are
 * kept. Returns -1 if there are too many pages. */
int vm_protect_pages(struct vm *vm, const struct vm_page *pages, unsigned n);

/* The protection of the page holding (gpa). */
enum vm_page_prot vm_page_protection(const struct vm *vm, uint64_t gpa);

/* Gather KVM's dirty-page logs into vm->dirty (one bit per page written by
 * the guest since the last vm_dirty_clear) and vm->ever (since boot). Host
 * writes are not logged: every host path that writes guest memory marks them
 * with vm_dirty_mark, so a page outside vm->ever is still all zeroes. */
void vm_dirty_collect(struct vm *vm);
void vm_dirty_mark(struct vm *vm, uint64_t gpa, uint64_t len);
void vm_dirty_clear(struct vm *vm);

/* Open /dev/kvm, create a VM with (mem_size) bytes of RAM at address 0 and one
 * vCPU. On failure returns -1 with a message in (err) that says how to fix it
 * (e.g. /dev/kvm missing or not permitted). */
int vm_create(struct vm *vm, uint64_t mem_size, char *err, size_t errlen);

/* Release everything vm_create acquired. Safe on a zeroed struct. */
void vm_destroy(struct vm *vm);

/* THE checked accessor for guest memory: a host pointer to guest-physical
 * [gpa, gpa+size), or NULL if any byte of it lies outside guest RAM. Overflow
 * safe; size 0 is valid for any gpa <= mem_size. Every path that touches guest
 * memory goes through here. */
static inline void *vm_gpa(const struct vm *vm, uint64_t gpa, uint64_t size)
{
    if (gpa > vm->mem_size || size > vm->mem_size - gpa)
        return NULL;
    return vm->mem + gpa;
}

/* Write the boot structures (GDT, identity page tables, boot info) and put the
 * vCPU in 64-bit long mode at (entry) with rsp = top of RAM, rdi = boot info.
 * (cmdline) is copied into the boot info; (image_end) tells the guest where
 * free memory starts. Returns -1 with (err) on failure. */
int vm_boot_long_mode(struct vm *vm, uint64_t entry, uint64_t image_end, const char *cmdline,
                      char *err, size_t errlen);

/* The fixed CPUID table every guest sees, identical on every host for a given
 * pvrr version (so a recording replays elsewhere). Returns the table bytes
 * (a struct kvm_cpuid2 with its entries) and their size. */
const void *vm_cpuid_table(size_t *len);

/* Enable synchronisation of general registers through kvm_run on each exit, so
 * the hot path needs no KVM_GET_REGS. */
void vm_sync_regs_enable(struct vm *vm);

/* One KVM_RUN. Returns 0 on an exit (see vm->run->exit_reason), -1 with errno
 * EINTR when a signal interrupted it, -1 on another error.
 *
 * The registers seen after a port-I/O exit are canonical (formats/pvlog.md):
 * rip is the address of the instruction after the `out`, whatever the host
 * reports. KVM hosts differ here: kvm-amd and kvm-intel report the rip of the
 * `out` itself and skip it at the next KVM_RUN; the nested PVM KVM of these
 * machines reports the rip after it. vm_run normalises the former. */
int vm_run(struct vm *vm);

/* Complete a pending port-I/O or MMIO exit without running guest code (KVM_RUN
 * with immediate_exit), so that saving, restoring or setting registers sees
 * a clean instruction boundary. Costs one KVM_RUN ioctl. */
void vm_settle(struct vm *vm);

/* 1 if this host's KVM reports the rip after an `out` at a port-I/O exit, 0 if
 * it reports the rip of the `out` (measured once per process with a
 * throw-away VM), -1 if it could not be measured. */
int vm_io_exit_rip_after(int kvm_fd);

/* 1 if this host's KVM delivers hardware execution breakpoints (DR0-DR3
 * with KVM_GUESTDBG_USE_HW_BP), 0 if not: under QEMU 7.2's TCG with an
 * emulated SVM CPU (kvm-amd running nested) they never fire. Measured once per
 * process with a throw-away VM. */
int vm_hw_breakpoints_work(int kvm_fd);

/* Read or write the general registers (canonical, as vm_run describes); abort
 * naming the ioctl if it fails. vm_set_regs settles a pending exit first. */
void vm_get_regs(struct vm *vm, struct kvm_regs *r);
void vm_set_regs(struct vm *vm, const struct kvm_regs *r);

/* The general registers as of the last exit (synced, no ioctl). */
static inline struct kvm_regs *vm_regs(struct vm *vm)
{
    return &vm->run->s.regs.regs;
}

/* Mark the synced general registers as modified, to be loaded at the next KVM_RUN. */
static inline void vm_regs_dirty(struct vm *vm)
{
    vm->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
}

/* Read and write special registers; abort with a message on ioctl failure. */
void vm_get_sregs(struct vm *vm, struct kvm_sregs *s);
void vm_get_fpu(struct vm *vm, struct kvm_fpu *f);

/* Set KVM guest debugging (control = KVM_GUESTDBG_* flags, dr[0..3] addresses,
 * dr7). Returns -1 on failure. */
int vm_set_guest_debug(struct vm *vm, uint32_t control, const uint64_t dr[4], uint64_t dr7);

/* The complete state of the machine, for checkpoints. */
struct vm_cpu_state {
    struct kvm_regs regs;
    struct kvm_sregs sregs;
    struct kvm_fpu fpu;
    struct kvm_vcpu_events events;
    struct kvm_debugregs debugregs;
    struct kvm_xcrs xcrs;
    struct kvm_xsave xsave; /* last: newer headers end it with a flexible array */
};

/* Save or restore all vCPU state (registers, sregs, FPU/XSAVE, events, debug
 * registers). Guest memory is handled by the caller. Abort on ioctl failure. */
void vm_cpu_save(struct vm *vm, struct vm_cpu_state *st);
void vm_cpu_restore(struct vm *vm, const struct vm_cpu_state *st);

/* Print the general and a few special registers to (f), for fault reports. */
void vm_dump_regs(struct vm *vm, FILE *f);

/* Abort the process with (what) and strerror(errno), naming file and line:
 * for ioctls that cannot legitimately fail. */
#define vm_die(what) vm__die(__FILE__, __LINE__, (what))
_Noreturn void vm__die(const char *file, int line, const char *what);

#endif /* PVRR_VM_H */
