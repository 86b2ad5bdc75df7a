/*
 * debugger_internal.h - what the files of debugger/ share: the debugger's
 * state, its one breakpoint and watchpoint set, the one run loop
 * (machine.c), forward execution, and the reverse engine's entry points
 * (reverse.c). Not an interface: only debugger/ includes it.
 */
#ifndef PVRR_DEBUGGER_INTERNAL_H
#define PVRR_DEBUGGER_INTERNAL_H

#include "debugger/debugger.h"
#include "monitor/monitor.h"

#include <stddef.h>
#include <stdint.h>

struct timetravel;

#define DBG_MAX_WATCH 4
#define DBG_WATCH_MAX_LEN 64

/* A user breakpoint: an address with a software (Z0) and/or hardware (Z1) one. */
struct dbg_bp {
    uint64_t addr;
    uint8_t sw, hw;
};

struct dbg_watch {
    uint64_t addr, len;
    int type; /* GDB_WP_WRITE, GDB_WP_READ or GDB_WP_ACCESS */
    uint8_t old[DBG_WATCH_MAX_LEN];
};

/* An execution breakpoint as armed in the engine. */
struct dbg_armed {
    uint64_t addr;
    unsigned flags; /* ENGINE_BP_* */
};

struct debugger {
    struct monitor *m;
    struct replayer *r;    /* NULL for a live run */
    struct timetravel *tt; /* reverse execution, replay only */
    /* the one set of user breakpoints and watchpoints */
    struct dbg_bp *bp;
    size_t nbp, capbp;
    unsigned nhw; /* hardware breakpoints among them (at most 4, as gdb expects) */
    struct dbg_watch wp[DBG_MAX_WATCH];
    unsigned nwp;
    /* what is armed in the engine now */
    struct dbg_armed *armed;
    size_t narmed, caparmed;
    int watch_armed; /* the user's watchpoints are armed in the engine */
    int ended;       /* the guest has stopped for good (exit, panic, fault, divergence) */
    int killed;
    struct gdbstub *stub;  /* during a resume, for interrupts */
    uint64_t exits;        /* events of runs (not steps), for polling the debugger */
    int interrupt_pending; /* the debugger interrupted during a hypercall: stop at the next run */
    void (*log)(void *ctx, const char *msg);
    void *log_ctx;
    /* the guest's own kernel (kframes.c): code outside [user_lo, user_hi) is
     * the kernel's (user_hi == 0: none, the kernel is the program) */
    uint64_t user_lo, user_hi;
    uint64_t sys_now; /* the kernel's record of the call it serves, or 0 */
    int hide_kernel;  /* stops in kernel code are carried on to user code */
    int left_kernel;  /* the last forward resume ran on out of the kernel */
};

/* ---- the breakpoint and watchpoint set (machine.c) ---- */

/* The user breakpoint at (addr), or NULL. */
struct dbg_bp *dbg_bp_find(struct debugger *d, uint64_t addr);

/* Arm exactly these execution breakpoints in the engine: the (n) addresses
 * (extra), plus the user's breakpoints if (user). Returns -1 if the engine
 * refused one (out of memory). */
int dbg_arm(struct debugger *d, const uint64_t *extra, unsigned n, int user);

/* Arm (on) or disarm the user's watchpoints in the engine. Returns -1 if the
 * engine cannot watch them. */
int dbg_arm_watches(struct debugger *d, int on);

/* Refresh the saved values of all watchpoints. */
void dbg_watch_snapshot(struct debugger *d);

/* The first write or access watchpoint whose bytes changed, or -1. */
int dbg_watch_changed(struct debugger *d);

/* After an engine WATCH event (m->ev.watch): the user watchpoint it triggers
 * (a write watchpoint whose bytes changed, a read watchpoint read, an access
 * watchpoint touched) with the stop kind in *kind, or -1 if none. */
int dbg_watch_hit(struct debugger *d, enum gdb_stop_kind *kind);

/* ---- the one run loop (machine.c) ---- */

/* Run the guest (step = 0) or execute one instruction (step = 1) with what is
 * armed, until the next event the debugger must look at. Returns:
 *   MON_EV_HYPERCALL  a hypercall was served (reverse execution may have taken
 *                     a checkpoint after it); while stepping: the step
 *   MON_EV_STEP       the step was done
 *   MON_EV_BREAKPOINT an armed breakpoint was reached: d->m->ev.bp.addr
 *   MON_EV_WATCH      a watched range was accessed: d->m->ev.watch
 *   MON_EV_STOPPED    the guest ended: d->m->stop
 *   MON_EV_INTERRUPTED the user interrupted (^C from the debugger; never while stepping) */
enum monitor_event dbg_exec(struct debugger *d, int step);

/* Engines that count instructions, replaying: run (no step) until (until)
 * instructions have retired since boot, or an event comes first. Returns
 * MON_EV_TIMEOUT when the count is reached (at once if it is already), else
 * as dbg_exec. dbg_exec(d, 0) is dbg_exec_to(d, UINT64_MAX) there: both run
 * in slices of guest time so that reverse execution can take checkpoints
 * inside long hypercall-free stretches (tt_tick). */
enum monitor_event dbg_exec_to(struct debugger *d, uint64_t until);

/* The guest's rip; set it. */
uint64_t dbg_rip(struct debugger *d);
void dbg_set_rip(struct debugger *d, uint64_t rip);

/* Forward execution for the debugger: execute one instruction (a hypercall's
 * out completes as one); run until a breakpoint, watchpoint, the end or an
 * interrupt; with range_end > range_start, single-step while rip stays in
 * [start, end). Fill (stop). */
void dbg_step(struct debugger *d, struct gdb_stop *stop);
void dbg_cont(struct debugger *d, struct gdb_stop *stop, uint64_t range_start, uint64_t range_end);

/* The guest stopped for good: mark it and fill (stop). */
void dbg_ended_stop(struct debugger *d, struct gdb_stop *stop);

/* ---- the guest kernel's own frames (kframes.c) ---- */

/* 1 if stops in kernel code are hidden and (rip) is kernel code. */
int dbg_in_hidden_kernel(struct debugger *d, uint64_t rip);

/* A forward stop (stop) landed in kernel code that is hidden: run on until
 * the kernel returns to user code and report (stop) there (a STEP turns into
 * a watchpoint hit if the kernel changed a watched range on the way). (ret):
 * the user address the kernel returns to when known (the step was a
 * `syscall`), else 0: the kernel's record of the call it serves tells, or
 * it single-steps until user code. An interrupt from the debugger on the
 * way out of a stop that was not one leaves it in the kernel (INTERRUPT);
 * the guest ending on the way fills (stop) as ended. Nothing if the stop is not hidden. */
void dbg_leave_kernel(struct debugger *d, struct gdb_stop *stop, uint64_t ret);

/* The address of a `syscall` instruction that ends just before (rip) in the
 * user window, or 0. */
uint64_t dbg_syscall_before(struct debugger *d, uint64_t rip);

/* The address of the user instruction ending just before (rip) that enters
 * the kernel and returns to (rip): `syscall`, or `rdtsc`/`rdtscp` (which
 * fault in ring 3 and are emulated); 0 if the bytes are none of these. */
uint64_t dbg_kernel_entry_before(struct debugger *d, uint64_t rip);

/* After a reverse step (step) or continue that stopped with (stop) (rip0:
 * the rip before it): if the stop lies in hidden kernel code, go back to the
 * user instruction that entered the kernel (the `syscall`) and report (stop)
 * there. If that instruction is not found (the kernel was not entered by
 * `syscall`, `rdtsc` or `rdtscp`, e.g. before the program's first
 * instruction) the machine stays at the kernel stop and the log says so. */
void dbg_hide_reverse_stop(struct debugger *d, struct gdb_stop *stop, int step, uint64_t rip0);

/* `monitor kernel-frames [on|off]`: (arg) as typed; writes the answer. */
int dbg_kframes_command(struct debugger *d, const char *arg, gdb_out_fn out, void *ctx);

/* ---- reverse execution (reverse.c) ---- */

/* Start reverse execution for (d) replaying with (d->r); the machine must be
 * at boot. Takes checkpoint 0. Returns NULL on failure (out of memory). */
struct timetravel *tt_create(struct debugger *d);
void tt_destroy(struct timetravel *tt);

/* After every forward resume the debugger asked for: (how) was the request,
 * (event_before) the replayer's event index before it, (count_before) the
 * instructions retired before it (counting engines), (stop) the result. */
void tt_forward_done(struct timetravel *tt, enum gdb_resume_kind how, uint64_t event_before,
                     uint64_t count_before, const struct gdb_stop *stop);

/* Called by the run loop after each served hypercall: may take a checkpoint. */
void tt_after_hc(struct timetravel *tt);

/* Called by the run loop between slices of a run on a counting engine: may
 * take a checkpoint inside the interval. */
void tt_tick(struct timetravel *tt);

/* 1 if reverse execution names positions by instruction counts (the engine
 * has ENGINE_CAP_INSN_COUNT). */
int tt_counting(const struct timetravel *tt);

/* 'bs' (step = 1) or 'bc' (step = 0). Fills (stop). Returns 0, or -1 if the
 * machine cannot be moved (the debugger gets an error; it stays where it was). */
int tt_reverse(struct timetravel *tt, int step, struct gdb_stop *stop);

/* `monitor when`, `monitor checkpoints`, `monitor goto N`. */
void tt_describe_position(struct timetravel *tt, char *buf, size_t n);
void tt_list_checkpoints(struct timetravel *tt, gdb_out_fn out, void *ctx);
int tt_goto_event(struct timetravel *tt, uint64_t event, char *msg, size_t n);
/* `monitor goto insn N` (counting engines): go to the moment N instructions
 * had retired. Returns -1 with (msg) if the engine does not count or the
 * recording does not reach N. */
int tt_goto_insn(struct timetravel *tt, uint64_t insn, char *msg, size_t n);

/* Statistics for benchmarks: checkpoint memory in bytes and guest RAM. */
void tt_memory(struct timetravel *tt, uint64_t *checkpoint_bytes, uint64_t *ram_bytes);

#endif /* PVRR_DEBUGGER_INTERNAL_H */
