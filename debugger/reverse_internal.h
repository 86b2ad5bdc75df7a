/*
 * reverse_internal.h - what reverse.c (positions, goto, reverse step and
 * continue) and reverse_run.c (the run engine: arrivals, intervals, watched
 * accesses, state matching) share. Only debugger/ includes it.
 */
#ifndef PVRR_REVERSE_INTERNAL_H
#define PVRR_REVERSE_INTERNAL_H

#include "debugger/checkpoint.h"
#include "debugger/debugger_internal.h"
#include "replayer/replayer.h"

#include <stdint.h>

#define NCACHE 16
#define MAXA 2

/* Give up a reverse operation, remembering the source line in tt->fail_line
 * (library code does not print; a developer reads it in a debugger). */
#define TT_FAIL()                                                                                  \
    do {                                                                                           \
        tt->fail_line = __LINE__;                                                                  \
        return -1;                                                                                 \
    } while (0)

/* A position (docs/reverse-execution.md). On an engine without instruction
 * counts, (e, a, k, s): from base e (just after hypercall e-1 completed, or
 * boot), run to the k-th arrival at address a (k = 0: no anchor), then
 * single-step s instructions. On an engine that counts instructions
 * (tt->icount), (n, s): the moment the engine stops after n retired
 * instructions (engine_run_args.max_insns), then s single-steps that retire
 * none (an exception delivered); e is the event there, a = k = 0. */
struct pos {
    uint64_t e, a, k, s;
    uint64_t n;
};

/* A full machine state to find again (registers, SSE, memory digest). */
struct tstate {
    struct engine_regs regs;
    struct engine_fpu fpu;
    uint64_t mem;
};

enum hit_kind { HIT_BP = 1, HIT_WATCH_MMIO, HIT_WATCH_HC };

struct hit {
    enum hit_kind kind;
    int hw;                      /* HIT_BP: a hardware breakpoint */
    uint64_t e;                  /* interval */
    uint64_t addr;               /* HIT_BP: the address; HIT_WATCH_*: the writing instruction */
    uint64_t k;                  /* HIT_BP: arrival number; HIT_WATCH_MMIO: MMIO exit number */
    uint64_t s;                  /* steps after the anchor (hits found while stepping) */
    uint64_t anchor_a, anchor_k; /* HIT_BP found while stepping: the anchor */
    uint64_t watch;              /* HIT_WATCH_*: the watchpoint's address */
    uint64_t n;                  /* counting engines: instructions retired at the hit (HIT_BP:
                                    the arrival, + s steps; HIT_WATCH_*: after the access) */
    enum gdb_stop_kind stop;     /* HIT_WATCH_MMIO: GDB_STOP_WATCH, _RWATCH or _AWATCH */
};

enum run_why {
    RUN_NONE,
    RUN_ARRIVAL,
    RUN_EVENT,
    RUN_MMIO,
    RUN_MATCH,
    RUN_ENDED,
    RUN_INTERRUPT,
    RUN_COUNT
};

struct runspec {
    uint64_t addr[MAXA];
    unsigned naddr;
    uint64_t count[MAXA];
    int scan;                  /* user breakpoints and watchpoints are active and hits recorded */
    int protect;               /* watchpoint pages are read-only (implied by scan) */
    int record_at_stop;        /* the stop arrival lies before the end: record it as a hit too */
    uint64_t prev_count[MAXA]; /* counts of the interval that ended last */
    /* stop conditions */
    int stop_idx;            /* -1: none; else stop at arrival stop_k of addr[stop_idx] ... */
    uint64_t stop_k, stop_e; /* ... in interval stop_e */
    uint64_t stop_event;     /* stop on reaching base stop_event; UINT64_MAX: none */
    uint64_t stop_mmio_e, stop_mmio_j; /* stop at MMIO exit j of interval e (j > 0) */
    const struct tstate *match; /* stop at an arrival at addr[0] in interval match_e matching */
    uint64_t match_e;
    uint64_t stop_count; /* counting engines: stop after this many retired instructions
                            (UINT64_MAX: none) */
    int tail;            /* counting engines, tt_run_steps: the steps retire no instruction
                            (hits are recorded with s = the step) */
    /* results */
    uint64_t mmio;
    struct hit last;
    int have_last;
    enum run_why why;
};

struct cache_ent {
    struct pos p;
    struct checkpoint *c;
    uint64_t used;
};

struct timetravel {
    struct debugger *d;
    struct replayer *r;
    struct monitor *m;
    struct ck_store ck;
    struct pos cur;
    int cur_valid;
    int at_fault;     /* the guest ended in a fault: the position is the end of history */
    uint64_t *ucount; /* arrivals per user breakpoint in this interval */
    size_t capu;
    int fail_line; /* where the last reverse operation gave up (TT_FAIL) */
    struct cache_ent cache[NCACHE];
    uint64_t tick;
    uint64_t ck_cpu_ns;  /* thread CPU time at the last checkpoint */
    uint64_t ck_cost_ns; /* CPU time the last checkpoint took */
    uint64_t resolutions, gotos;
    int icount;      /* the engine counts instructions: positions are (n, s) */
    uint64_t base_n; /* counting engines: instructions retired at base cur_event */
};

static inline uint64_t cur_event(struct timetravel *tt)
{
    return tt->r->next_event;
}

/* Instructions retired since boot (counting engines; 0 otherwise). */
static inline uint64_t tt_count(struct timetravel *tt)
{
    struct vm *vm = &tt->m->vm;
    return vm->ops->insn_count ? vm->ops->insn_count(vm) : 0;
}

/* ---- shared by reverse.c and reverse_count.c ---- */

/* Restore (c) and re-position the replayer there. Returns -1 if the
 * recording could not be re-read. */
int tt_restore(struct timetravel *tt, const struct checkpoint *c);

/* Keep a snapshot of the current state as position (p) in the cache of
 * recent positions (nothing if out of memory). */
void tt_cache_put(struct timetravel *tt, struct pos p);

/* Go to the start of the recording and report it in (stop). */
int tt_history_begin(struct timetravel *tt, struct gdb_stop *stop);

/* ---- counting engines (reverse_count.c) ---- */

/* Go to (n, s). Returns 0, or -1 if the history does not reach it. */
int tc_goto(struct timetravel *tt, uint64_t n, uint64_t s);

/* Make tt->cur exact (its s) for the current machine state. */
int tc_resolve(struct timetravel *tt);

/* reverse-stepi and reverse-continue; fill (stop). */
int tc_reverse_step(struct timetravel *tt, struct gdb_stop *stop);
int tc_reverse_continue(struct timetravel *tt, struct gdb_stop *stop);

/* Go to base (event); `monitor when` text. */
int tc_goto_event(struct timetravel *tt, uint64_t event);
void tc_describe(struct timetravel *tt, char *buf, size_t n);

/* ---- the run engine (reverse_run.c) ---- */

/* A run specification with no addresses and no stop condition. */
void tt_spec_init(struct runspec *rs);

/* Run forward under (rs) until one of its stop conditions (rs->why). */
void tt_run(struct timetravel *tt, struct runspec *rs);

/* Single-step (n) times under (rs), recording hits by rip after the anchor
 * (anchor_a, anchor_k). Returns 1 if a stop condition ended it early. */
int tt_run_steps(struct timetravel *tt, struct runspec *rs, uint64_t n, uint64_t anchor_a,
                 uint64_t anchor_k);

/* Execute exactly one instruction. Returns 1 to stop the run (rs->why set),
 * 0 otherwise; *was_hc tells whether it was a hypercall. */
int tt_one_step(struct timetravel *tt, struct runspec *rs, int *was_hc);

/* An arrival at (x) just happened (rip == x, instruction not executed), (steps)
 * single-steps after the anchor (anchor_a, anchor_k). Returns 1 to stop. */
int tt_arrive(struct timetravel *tt, struct runspec *rs, uint64_t x, uint64_t steps,
              uint64_t anchor_a, uint64_t anchor_k);

/* Zero the arrival counts of the user's breakpoints. Returns -1 if out of memory. */
int tt_user_counts_reset(struct timetravel *tt);

/* Capture the full machine state (registers, SSE, memory digest); 1 if the
 * machine is in state (want) now. */
void tt_state_capture(struct timetravel *tt, struct tstate *s);
int tt_state_matches(struct timetravel *tt, const struct tstate *want);

#endif /* PVRR_REVERSE_INTERNAL_H */
