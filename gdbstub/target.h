/*
 * target.h - the debugged machine: struct gdb_target_ops implemented on the
 * pvrr monitor (a live run) or the replayer (a replay, with reverse execution).
 *
 * Breakpoints and watchpoints use mechanisms that work on KVM hosts without
 * int3 support or data breakpoints (../shared/platform.md):
 *   - software breakpoints (Z0, unlimited): the instruction's first byte is
 *     replaced by hlt (0xf4) while the guest runs, and the KVM_EXIT_HLT at
 *     address+1 is recognised; patches are removed whenever the monitor or
 *     the debugger looks at memory, so gdb and hypercall handlers never see them;
 *   - hardware breakpoints (Z1): debug registers DR0-DR3 (KVM_GUESTDBG_USE_HW_BP),
 *     or, on a host whose debug registers never fire (measured at start), hlt
 *     patches like software breakpoints, still reported to gdb as hardware ones;
 *   - write watchpoints (Z2): the watched pages are made read-only memory slots,
 *     each guest write exits as KVM_EXIT_MMIO, the debugger performs it and
 *     stops if a watched byte changed; writes by hypercalls are compared too;
 *   - read and access watchpoints (Z3, Z4): the watched pages are taken out of
 *     guest memory, so reads exit as well and the debugger supplies the bytes;
 *   - single-step: KVM_GUESTDBG_SINGLESTEP; a hypercall's out instruction
 *     completes as one step.
 */
#ifndef PVRR_GDB_TARGET_H
#define PVRR_GDB_TARGET_H

#include "gdbstub/gdbstub.h"
#include "monitor/monitor.h"

#include <stddef.h>

struct replayer;
struct timetravel;

#define TARGET_MAX_WATCH 4
#define TARGET_WATCH_MAX_LEN 64

struct target_swbp {
    uint64_t addr;
    uint8_t orig;    /* the byte the patch replaced */
    uint8_t patched; /* the hlt is in guest memory now */
};

struct target {
    struct monitor *m;
    struct replayer *r;    /* NULL for a live run */
    struct timetravel *tt; /* reverse execution, replay only */
    struct target_swbp *sw;
    size_t nsw, capsw;
    uint64_t hw[4];
    uint8_t hw_on[4];
    /* hardware breakpoints as hlt patches, on hosts whose debug registers do
     * not fire (vm_hw_breakpoints_work) */
    struct target_swbp hwp[4];
    size_t nhwp;
    int hw_patched;
    struct target_watch {
        uint64_t addr, len;
        int type; /* GDB_WP_WRITE, GDB_WP_READ or GDB_WP_ACCESS */
        uint8_t old[TARGET_WATCH_MAX_LEN];
    } wp[TARGET_MAX_WATCH];
    unsigned nwp;
    struct vm_page prot[TARGET_MAX_WATCH * 2]; /* pages protected for the watchpoints */
    unsigned nprot;
    int running_patched; /* the hlt patches are in (a continue is running) */
    int ended;           /* the guest has stopped for good (exit, panic, fault, divergence) */
    int killed;
    struct gdbstub *stub; /* during a resume, for interrupts */
};

/* Prepare (t) to debug the guest of (m); (r) is the replayer for a replay, or NULL. */
void target_init(struct target *t, struct monitor *m, struct replayer *r);

/* Remove every breakpoint and watchpoint from the machine. */
void target_clear(struct target *t);

void target_fini(struct target *t);

/* Put the hlt patches of the (n) breakpoints (b) into guest memory, or take
 * them out again, remembering each original byte. */
void swbp_insert_all(struct vm *vm, struct target_swbp *b, size_t n);
void swbp_remove_all(struct vm *vm, struct target_swbp *b, size_t n);

/* Execution primitives, also used by reverse execution (reverse.c). */
void target_patches_remove(struct target *t);
void target_patches_insert(struct target *t);
int target_watch_changed(struct target *t);
void target_watch_protect(struct target *t, int on);
void target_watch_snapshot(struct target *t);
/* After KVM_EXIT_MMIO on a protected page: perform the guest's write, or supply
 * the bytes of its read. Returns the index of the watchpoint it triggers (a
 * write watchpoint whose bytes changed, a read watchpoint read, an access
 * watchpoint touched), with the stop kind in *kind; -1 if none; -2 if the
 * access was a guest error (outside RAM), the monitor then stopped. */
int target_mmio(struct target *t, enum gdb_stop_kind *kind);
void target_set_debug(struct target *t, int step, int hw);
void target_set_rip(struct target *t, uint64_t rip);
uint64_t target_rip(struct target *t);
/* Execute one instruction (a hypercall's out completes as one). */
int target_step(struct target *t, struct gdb_stop *stop);
/* Run until a breakpoint, watchpoint, the end or an interrupt; with
 * range_end > range_start, single-step while rip stays in [start, end). */
int target_cont(struct target *t, struct gdb_stop *stop, uint64_t range_start, uint64_t range_end);

/* The ops table for a live run or a replay. */
extern const struct gdb_target_ops target_live_ops;
extern const struct gdb_target_ops target_replay_ops;

/* Listen at (addr) ([HOST:]PORT or unix:PATH), print how to attach gdb for
 * (elf_path), accept one debugger and serve sessions until it detaches or
 * kills; further debuggers may connect after a disconnect. Returns pvrr's exit
 * status. */
int target_serve(struct target *t, const char *addr, int nonlocal, const char *elf_path,
                 int replay);

#endif /* PVRR_GDB_TARGET_H */
