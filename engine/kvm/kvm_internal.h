/*
 * kvm_internal.h - the KVM engine's private state, shared by its files
 * (kvm.c: the machine, CPU state and probes; kvm_run.c: running, breakpoints,
 * watchpoints, memory slots). Nothing outside engine/kvm/ includes this or
 * <linux/kvm.h>.
 */
#ifndef PVRR_ENGINE_KVM_INTERNAL_H
#define PVRR_ENGINE_KVM_INTERNAL_H

#include "engine/engine.h"

#include <linux/kvm.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/* Paired ioctl wrappers: kvm__ioctl returns ioctl's result (-1 with errno);
 * kvm_ioctl dies naming the request, file and line if it fails, for calls
 * that cannot legitimately fail on a working VM. */
#define kvm__ioctl(fd, req, arg) ioctl((fd), (req), (arg))
#define kvm_ioctl(fd, req, arg) kvm_ioctl_or_die((fd), (req), (arg), #req, __FILE__, __LINE__)
int kvm_ioctl_or_die(int fd, unsigned long req, const void *arg, const char *name, const char *file,
                     int line);

/* How a guest page is protected (for watchpoints). */
enum kvm_page_prot {
    KVM_PAGE_RW = 0,   /* ordinary RAM */
    KVM_PAGE_RO = 1,   /* guest writes exit as KVM_EXIT_MMIO and are not performed */
    KVM_PAGE_HOLE = 2, /* no memory slot: every guest read and write exits as KVM_EXIT_MMIO
                          (reads are completed with data the engine supplies); code cannot
                          be fetched from such a page */
};

#define KVM_MAX_PROT_PAGES 20

struct kvm_page {
    uint64_t gpa; /* page aligned */
    enum kvm_page_prot prot;
};

struct kvm_bp {
    uint64_t addr;
    unsigned flags; /* ENGINE_BP_* */
    uint8_t orig;   /* the byte the hlt patch replaced */
    uint8_t patched;
    uint8_t use_dr; /* in a debug register during this run, not patched */
};

/* Everything a cpu_save blob holds. */
struct kvm_cpu_state {
    struct kvm_regs regs;
    struct kvm_sregs sregs;
    struct kvm_fpu fpu;
    struct kvm_vcpu_events events;
    struct kvm_debugregs debugregs;
    struct kvm_xcrs xcrs;
    struct kvm_xsave xsave; /* last: newer headers end it with a flexible array */
};

struct kvm_engine {
    int kvm_fd, vm_fd, vcpu_fd;
    struct kvm_run *run;
    size_t run_size;
    uint32_t slot_flags;
    /* memory slots: RAM split around protected (watched) pages */
    unsigned nslots;
    struct kvm_slot {
        uint64_t gpa, size;
        uint32_t flags;
    } slots[2 * KVM_MAX_PROT_PAGES + 1];
    struct kvm_page prot[KVM_MAX_PROT_PAGES]; /* pages protected now */
    unsigned nprot;
    /* The last exit was port I/O or MMIO, which KVM completes at the next
     * KVM_RUN (kvm_settle completes it at once). */
    int io_pending;
    /* a string I/O instruction's last batch is being completed under a single
     * step: its event (port, direction) is reported at the step's exit */
    int strio_pending;
    uint16_t strio_port;
    uint8_t strio_out;
    int shut_down;             /* the guest triple-faulted (KVM_EXIT_SHUTDOWN) */
    struct kvm_regs exit_regs; /* general registers as of the exit before the last one */
    int io_rip_after;          /* vm_io_exit_rip_after() of this host */
    int hw_bp; /* debug registers fire on this host and are not refused; -1 unknown */
    /* guest debugging as last set (to skip repeating the ioctl) */
    uint32_t dbg_control;
    uint64_t dbg_dr[4], dbg_dr7;
    int dbg_valid;
    /* 1: the next step must set guest debugging again. KVM_GUESTDBG_SINGLESTEP
     * sets the guest's trap flag at KVM_SET_GUEST_DEBUG, and kvm-amd and
     * kvm-intel (arch/x86/kvm/x86.c, __kvm_set_rflags) keep it only while rip
     * is where that ioctl found it or the guest itself moves rip: a register
     * write from user space (the rip after an out at a port-I/O exit,
     * KVM_SET_REGS) and an instruction KVM's emulator completes (an MMIO exit:
     * an access to a watched page) clear it, and the next step would run on to
     * the next exit. The nested PVM KVM keeps the flag. Instructions KVM
     * emulates without an exit to user space are not seen here: after one, a
     * step on kvm-amd or kvm-intel may still run on. */
    int step_stale;
    /* execution breakpoints */
    struct kvm_bp *bp;
    size_t nbp, capbp;
    /* watchpoints */
    struct engine_watch *w;
    size_t nw, capw;
    int watch_changed; /* the protection must be laid out again before the next run */
    volatile sig_atomic_t kicked;
};

static inline struct kvm_engine *kvm_of(const struct vm *vm)
{
    return vm->engine;
}

/* Complete a pending port-I/O or MMIO exit without running guest code (KVM_RUN
 * with immediate_exit), so that saving, restoring or setting registers sees a
 * clean instruction boundary. Costs one KVM_RUN ioctl. */
void kvm_settle(struct vm *vm);

/* Run and the breakpoint and watchpoint mechanics (kvm_run.c). */
void kvm_engine_run(struct vm *vm, const struct engine_run_args *a, struct engine_event *ev);
int kvm_engine_bp_set(struct vm *vm, uint64_t addr, unsigned flags, int insert);
int kvm_engine_watch_set(struct vm *vm, uint64_t addr, uint64_t len, enum engine_watch_kind kind,
                         int insert);
void kvm_engine_dirty_collect(struct vm *vm);
/* Tell KVM about slot (i) as described in k->slots[i] (size 0 deletes it). */
int kvm_set_slot(struct vm *vm, unsigned i);

/* 1 if this host's KVM reports the rip after an `out` at a port-I/O exit, 0 if
 * it reports the rip of the `out` (measured once per process with a
 * throw-away VM), -1 if it could not be measured. */
int kvm_io_exit_rip_after(int kvm_fd);

/* 1 if this host's KVM delivers hardware execution breakpoints (DR0-DR3
 * with KVM_GUESTDBG_USE_HW_BP), 0 if not: under QEMU 7.2's TCG with an
 * emulated SVM CPU (kvm-amd running nested) they never fire. Measured once per
 * process with a throw-away VM. */
int kvm_hw_breakpoints_work(int kvm_fd);

#endif /* PVRR_ENGINE_KVM_INTERNAL_H */
