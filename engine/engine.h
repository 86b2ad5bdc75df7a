/*
 * engine.h - the execution-engine seam: one x86-64 machine (guest RAM and one
 * CPU) behind an ops table, implemented by Linux KVM (engine/kvm/) and by a
 * software CPU (engine/emu/). Everything above this header - the monitor, the
 * recorder, the replayer, the debugger - uses only what is declared here and
 * never learns which engine runs the guest.
 *
 * Ownership:
 *   - struct vm is engine-neutral: guest RAM (a host buffer at guest-physical
 *     0), the written-pages bitmaps, the ops table and the engine's private
 *     state. vm_gpa() is THE checked accessor for guest memory.
 *   - Engine-neutral code (engine.c) allocates RAM, writes the boot structures
 *     (GDT, identity page tables with page 0 and the stack guard page
 *     unmapped, boot info), defines the fixed CPUID table and the canonical
 *     register sets. An engine only moves CPU state in and out and runs.
 *   - An engine owns its breakpoint and watchpoint mechanics (hlt patches and
 *     memory slots on KVM, hooks on the emulator): nothing it does to guest
 *     memory or CPU state for them is visible outside ops->run.
 *
 * Threads: a vm is used by one thread (the vCPU thread), except ops->kick.
 * Errors: calls that cannot legitimately fail (an ioctl on a working VM) die
 * inside the engine naming the call (engine_die); calls that can fail return
 * -1 with a message where they take (err, errlen).
 *
 * changes (newest last):
 *   - comments only, no API change: io.size is 0 for string I/O; watch_set's
 *     -1 cases; what a cpu_restore keeps; kick may see vm->engine NULL; the
 *     per-event state rules (every run ends with patches out, the first event
 *     at the start rip); the contract is tested by tests/unit/engine/
 *     (add an engine's name there).
 */
#ifndef PVRR_ENGINE_H
#define PVRR_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct engine_ops;

/* ---- the machine ---- */

struct vm {
    uint8_t *mem;      /* guest RAM, guest-physical address 0, page aligned host memory */
    uint64_t mem_size; /* bytes, a multiple of 4 KiB */
    /* Written-pages tracking, one bit per 4 KiB page (vm_dirty_* below). */
    uint64_t *dirty; /* written since the last vm_dirty_clear */
    uint64_t *ever;  /* written at least once since boot (never cleared) */
    const struct engine_ops *ops;
    void *engine; /* the engine's private state */
};

/* THE checked accessor for guest memory: a host pointer to guest-physical
 * [gpa, gpa+size), or NULL if any byte of it lies outside guest RAM. Overflow
 * safe; size 0 is valid for any gpa <= mem_size. Every path that touches guest
 * memory goes through here. Guest memory seen through it never holds an
 * engine's breakpoint patches. */
static inline void *vm_gpa(const struct vm *vm, uint64_t gpa, uint64_t size)
{
    if (gpa > vm->mem_size || size > vm->mem_size - gpa)
        return NULL;
    return vm->mem + gpa;
}

/* ---- canonical CPU state (pvrr's own layouts; formats/pvlog.md) ---- */

/* The general registers, in the order formats/pvlog.md hashes them: 18
 * little-endian u64 (144 bytes, no padding). rip after a hypercall is the
 * address after its `out`. */
struct engine_regs {
    uint64_t rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t rip, rflags;
};

/* A segment register with its hidden descriptor part, as the CPU holds it. */
struct engine_segment {
    uint64_t base;
    uint32_t limit; /* in bytes (granularity applied) */
    uint16_t selector;
    uint8_t type; /* descriptor type field (4 bits) */
    uint8_t present, dpl, db, s, l, g, avl;
    uint8_t unusable; /* a null selector loaded into a data segment register */
};

struct engine_dtable {
    uint64_t base;
    uint16_t limit;
};

/* Segment, descriptor-table and control registers. */
struct engine_sregs {
    struct engine_segment cs, ds, es, fs, gs, ss, tr, ldt;
    struct engine_dtable gdt, idt;
    uint64_t cr0, cr2, cr3, cr4, cr8;
    uint64_t efer;
    uint64_t fs_base, gs_base; /* equal to fs.base and gs.base (MSRs 0xc0000100/1) */
    uint64_t kernel_gs_base;   /* MSR 0xc0000102 */
};

/* x87 and SSE state (the FXSAVE content, unpacked). */
struct engine_fpu {
    uint8_t st[8][16]; /* st0..st7 (80-bit values in the low 10 bytes), physical order as FXSAVE */
    uint16_t fcw, fsw;
    uint8_t ftw; /* abridged tag word as FXSAVE: bit i set = register i valid */
    uint16_t fop;
    uint64_t fip, fdp; /* last instruction and data pointer */
    uint8_t xmm[16][16];
    uint32_t mxcsr;
};

/* ---- the fixed CPUID table (engine-neutral, defined in engine.c) ---- */

/* The table's bytes in pvrr's canonical layout (formats/pvlog.md, "CPUID
 * table": u32 count, u32 0, then 40 bytes per entry: u32 function, index,
 * flags (bit 0: index significant), eax, ebx, ecx, edx, 3 x u32 0). The same
 * on every host and engine for a given pvrr version; recordings store it. */
const void *engine_cpuid_table(size_t *len);

/* What the guest reads from CPUID leaf (function), subleaf (index): out[0..3]
 * = eax, ebx, ecx, edx from the table, zeroes for a leaf it does not name. */
void engine_cpuid(uint32_t function, uint32_t index, uint32_t out[4]);

/* ---- running ---- */

/* Why ops->run returned. */
enum engine_event_kind {
    /* The guest executed a port-I/O instruction (hypercalls are `outl` to the
     * ABI's ports; the monitor decides whether it is a valid one). The
     * instruction has completed: rip is canonical, the address after it. For
     * an `in`, the guest reads 0xff bytes. Also returned when the step of a
     * single-step run was a port-I/O instruction (no separate STEP). */
    ENGINE_EV_HYPERCALL,
    /* The guest arrived at an execution breakpoint (vm_bp_set): rip == bp.addr,
     * that instruction not executed yet. Every arrival is reported, including
     * one at the rip the run started at: to step off, single-step first. Never
     * returned by a single-step run. */
    ENGINE_EV_BREAKPOINT,
    /* A single-step run executed its one instruction. */
    ENGINE_EV_STEP,
    /* The guest accessed bytes of a watched range (vm_watch_set) with a kind
     * the range watches. The access and its instruction have completed (a
     * store is in guest memory, a load got guest memory's bytes); rip is after
     * the instruction. Returned instead of STEP by a single-step run. */
    ENGINE_EV_WATCH,
    /* The guest cannot go on: fault.kind says why, fault.msg in words. The
     * machine's state stays readable (see ENGINE_FAULT_TRIPLE). */
    ENGINE_EV_FAULT,
    /* ops->kick was called (a signal: timeout tick, ^C); nothing else happened.
     * The guest can be resumed. */
    ENGINE_EV_INTERRUPTED,
    /* engine_run_args.max_insns instructions were executed (engines with
     * ENGINE_CAP_INSN_COUNT only). */
    ENGINE_EV_TIMEOUT,
};

enum engine_fault_kind {
    ENGINE_FAULT_TRIPLE = 1, /* an exception the guest could not handle (shutdown) */
    ENGINE_FAULT_HLT,        /* the guest executed hlt: with no interrupts it never wakes */
    ENGINE_FAULT_BAD_ACCESS, /* a guest access outside RAM: fault.addr, len, is_write */
    ENGINE_FAULT_CONTRACT,   /* an instruction outside the pvrr contract (rdtsc, rdrand, ...)
                                at fault.addr, not executed */
    ENGINE_FAULT_INTERNAL,   /* the engine failed (KVM internal error, entry failure, an
                                instruction the emulator cannot execute) */
};

/* Watch kinds (vm_watch_set). */
enum engine_watch_kind {
    ENGINE_WATCH_WRITE = 1,
    ENGINE_WATCH_READ = 2,
    ENGINE_WATCH_ACCESS = 3, /* read or write */
};

struct engine_event {
    enum engine_event_kind kind;
    union {
        struct { /* ENGINE_EV_HYPERCALL */
            uint16_t port;
            uint8_t size;   /* 1, 2 or 4 bytes; 0 for string I/O (ins/outs, rep) */
            uint8_t is_out; /* 1: out (guest to host), 0: in */
            uint32_t value; /* for out: the value written (eax, low (size) bytes) */
        } io;
        struct { /* ENGINE_EV_BREAKPOINT */
            uint64_t addr;
        } bp;
        struct {           /* ENGINE_EV_WATCH */
            uint64_t addr; /* guest-physical address of the access */
            uint32_t len;  /* bytes accessed (at most 16) */
            uint8_t is_write;
            uint8_t data[16]; /* the bytes stored or loaded */
        } watch;
        struct { /* ENGINE_EV_FAULT */
            enum engine_fault_kind kind;
            uint64_t addr; /* BAD_ACCESS: the address; CONTRACT: the instruction */
            uint32_t len;  /* BAD_ACCESS */
            uint8_t is_write;
            /* TRIPLE: 1 if the engine lost the registers at the fault (kvm-amd
             * resets the vCPU at a shutdown): vm_get_regs then returns those of
             * the last event before it, and reports must say so. */
            uint8_t regs_at_last_event;
            char msg[256]; /* one line, no register dump, e.g. "guest triple fault
                              (KVM_EXIT_SHUTDOWN): the guest took an exception it
                              could not handle" */
        } fault;
    };
};

struct engine_run_args {
    int step;           /* 1: execute exactly one instruction (breakpoints not reported) */
    uint64_t max_insns; /* >0: stop with ENGINE_EV_TIMEOUT after this many instructions;
                           only with ENGINE_CAP_INSN_COUNT (else must be 0) */
};

/* Execution breakpoint flags (vm_bp_set). */
#define ENGINE_BP_HW                                                                               \
    1u /* prefer a mechanism that leaves guest memory alone (debug                                 \
          registers), where the engine has one; never a failure */

/* Engine capabilities (engine_ops.caps). */
#define ENGINE_CAP_INSN_COUNT                                                                      \
    1u /* exact retired-instruction counts (ops->insn_count,                                       \
          engine_run_args.max_insns) */

/* ---- the ops table: one per engine ---- */

struct engine_ops {
    const char *name; /* "kvm", "emu" */
    unsigned caps;    /* ENGINE_CAP_* */

    /* Whether this host can run guests on the engine at all: 1, or 0 with
     * (why) saying what is missing; (why) also gets one line on success. NULL:
     * always usable. Cheap enough to call once per process (a probe VM). */
    int (*usable)(char *why, size_t whylen);

    /* Create the engine's CPU for vm (vm->mem, mem_size, dirty and ever are
     * already allocated by vm_create, RAM zero; vm->ops set) and store its
     * private state in vm->engine. Loads the CPUID table (engine_cpuid).
     * Returns -1 with (err) saying how to fix it (e.g. /dev/kvm missing). */
    int (*create)(struct vm *vm, char *err, size_t errlen);
    /* Release what create acquired; vm->engine may be NULL (failed create). */
    void (*destroy)(struct vm *vm);

    /* Put the CPU in the given state before its first run: 64-bit long mode
     * with paging as (s) describes (CR0/CR3/CR4/EFER, GDTR, flat code and data
     * segments), general registers (r), FPU/SSE (f). The boot structures are in
     * RAM already. Returns -1 with (err) if the engine cannot. */
    int (*boot)(struct vm *vm, const struct engine_regs *r, const struct engine_sregs *s,
                const struct engine_fpu *f, char *err, size_t errlen);

    /* Run the guest until the next event and describe it in (ev). Always
     * returns with a complete instruction boundary: registers, memory and
     * save/restore see no half-done instruction, and no breakpoint mechanism
     * is visible in guest memory. (a) NULL: run on, no step. */
    void (*run)(struct vm *vm, const struct engine_run_args *a, struct engine_event *ev);
    /* Make a current or the next run return ENGINE_EV_INTERRUPTED soon.
     * Async-signal-safe: called from signal handlers (timeout tick, SIGINT)
     * on the vCPU thread, possibly while vm->engine is still NULL. */
    void (*kick)(struct vm *vm);

    /* Canonical registers. get_regs is cheap right after a run (the hot path
     * of every hypercall). set_* take effect at the next run. */
    void (*get_regs)(struct vm *vm, struct engine_regs *r);
    void (*set_regs)(struct vm *vm, const struct engine_regs *r);
    void (*get_sregs)(struct vm *vm, struct engine_sregs *s);
    void (*set_sregs)(struct vm *vm, const struct engine_sregs *s);
    void (*get_fpu)(struct vm *vm, struct engine_fpu *f);
    void (*set_fpu)(struct vm *vm, const struct engine_fpu *f);

    /* Complete CPU state (everything but RAM, breakpoints and watchpoints; with
     * ENGINE_CAP_INSN_COUNT, the instruction count too) as an opaque blob of
     * cpu_state_size bytes. Restoring a blob and RAM saved at the same moment
     * makes the machine compute exactly what it computed from there; the
     * breakpoints and watchpoints set stay as they are. The RAM is restored by
     * the caller (before or after cpu_restore), through vm->mem. */
    size_t cpu_state_size;
    void (*cpu_save)(struct vm *vm, void *blob);
    void (*cpu_restore)(struct vm *vm, const void *blob);

    /* Execution breakpoints: unlimited, by guest address (flags ENGINE_BP_*).
     * insert=1 adds (a second add of the same address is a no-op), 0 removes
     * (absent: no-op). Returns -1 only if (addr) is outside guest RAM or out
     * of memory. */
    int (*bp_set)(struct vm *vm, uint64_t addr, unsigned flags, int insert);

    /* Watchpoints on guest-physical [addr, addr+len) of (kind). insert=1 adds,
     * 0 removes the identical range (absent: no-op). Returns -1 if the range
     * is empty or outside RAM, or beyond the engine's limits (KVM protects at
     * most 20 pages in all). Known KVM limit, not reported: code cannot be
     * fetched from a page under a read or access watch. */
    int (*watch_set)(struct vm *vm, uint64_t addr, uint64_t len, enum engine_watch_kind kind,
                     int insert);

    /* Merge the pages the guest wrote since the last call into vm->dirty and
     * vm->ever. Host writes are not included (vm_dirty_mark). */
    void (*dirty_collect)(struct vm *vm);

    /* Instructions retired since boot (exact); NULL without ENGINE_CAP_INSN_COUNT. */
    uint64_t (*insn_count)(struct vm *vm);
};

/* ---- engine-neutral functions (engine.c) ---- */

/* The engine called (name) ("kvm", "emu"), or NULL if this build has none
 * by that name. engine_names() lists the built ones, comma separated. */
const struct engine_ops *engine_find(const char *name);
const char *engine_names(void);

/* How engine_select ended. */
enum engine_select_status {
    ENGINE_SELECTED = 0,
    ENGINE_SELECT_UNKNOWN,  /* no engine of that name in this build */
    ENGINE_SELECT_UNUSABLE, /* auto found no engine that can run here */
};

/* Choose the engine for (want): "kvm" or "emu" by name, "auto" for KVM where
 * it is usable and the emulator otherwise; NULL or "" means PVRR_BACKEND from
 * the environment, else "auto". Stores the engine in *out. (why) gets one
 * line: for auto, why it chose the engine ("/dev/kvm works", or what KVM
 * lacks), else the failure. A named engine is not probed (vm_create says what
 * it misses). *was_auto (may be NULL) says whether auto chose. The probe runs
 * once per process. */
enum engine_select_status engine_select(const char *want, const struct engine_ops **out,
                                        int *was_auto, char *why, size_t whylen);

/* Allocate (mem_size) bytes of zeroed guest RAM and the page bitmaps, and
 * create the machine on engine (name) (NULL: engine_select(NULL), silently).
 * Returns -1 with (err) on
 * an unknown engine, no memory, or the engine's create failing. */
int vm_create(struct vm *vm, const char *name, uint64_t mem_size, char *err, size_t errlen);

/* Release everything vm_create acquired. Safe on a zeroed struct. */
void vm_destroy(struct vm *vm);

/* Write the boot structures (GDT, identity page tables, boot info) and put the
 * CPU in 64-bit long mode at (entry) with rsp = top of RAM, rdi = boot info
 * (ops->boot). (cmdline) is copied into the boot info; (image_end) tells the
 * guest where free memory starts. Returns -1 with (err) on failure. */
int vm_boot_long_mode(struct vm *vm, uint64_t entry, uint64_t image_end, const char *cmdline,
                      char *err, size_t errlen);

/* Mark host writes to guest memory (every host path that writes guest RAM
 * calls it), so a page outside vm->ever is still all zeroes. */
void vm_dirty_mark(struct vm *vm, uint64_t gpa, uint64_t len);
/* Forget vm->dirty (vm->ever is kept). */
void vm_dirty_clear(struct vm *vm);

/* Fill (ev) as an ENGINE_EV_FAULT of (kind) with the message (fmt, ...): for
 * engines reporting a fault from their run function. */
void engine_fault(struct engine_event *ev, enum engine_fault_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A watched range, as engines keep them. */
struct engine_watch {
    uint64_t addr, len;
    enum engine_watch_kind kind;
};

/* The watchpoint bookkeeping of an engine's watch_set: inserts or removes (addr,
 * len, kind) in the array (*w, *n, *cap), growing it as needed. An insertion is
 * checked (a non-empty range in guest RAM, a known kind) and offered to (fits),
 * if given, which sees the array with the new entry at index *n and returns
 * nonzero when the engine can serve it. Returns 1 when the set changed, 0 when it
 * did not (inserting a watch already there, removing one that is not), -1 on an
 * insertion refused (bad range or kind, no memory, (fits) said no). */
int engine_watch_list_set(struct vm *vm, struct engine_watch **w, size_t *n, size_t *cap,
                          uint64_t addr, uint64_t len, enum engine_watch_kind kind, int insert,
                          int (*fits)(const struct engine_watch *w, size_t n));

/* Print the general and control registers to (f), for fault reports. */
void vm_dump_regs(struct vm *vm, FILE *f);

/* Thin wrappers over the ops table (same contracts as the ops above). */
static inline void vm_run(struct vm *vm, const struct engine_run_args *a, struct engine_event *ev)
{
    vm->ops->run(vm, a, ev);
}
static inline void vm_kick(struct vm *vm)
{
    vm->ops->kick(vm);
}
static inline void vm_get_regs(struct vm *vm, struct engine_regs *r)
{
    vm->ops->get_regs(vm, r);
}
static inline void vm_set_regs(struct vm *vm, const struct engine_regs *r)
{
    vm->ops->set_regs(vm, r);
}
static inline void vm_get_sregs(struct vm *vm, struct engine_sregs *s)
{
    vm->ops->get_sregs(vm, s);
}
static inline void vm_get_fpu(struct vm *vm, struct engine_fpu *f)
{
    vm->ops->get_fpu(vm, f);
}
static inline int vm_bp_set(struct vm *vm, uint64_t addr, unsigned flags, int insert)
{
    return vm->ops->bp_set(vm, addr, flags, insert);
}
static inline int vm_watch_set(struct vm *vm, uint64_t addr, uint64_t len,
                               enum engine_watch_kind kind, int insert)
{
    return vm->ops->watch_set(vm, addr, len, kind, insert);
}
static inline void vm_dirty_collect(struct vm *vm)
{
    vm->ops->dirty_collect(vm);
}
static inline size_t vm_cpu_state_size(const struct vm *vm)
{
    return vm->ops->cpu_state_size;
}
static inline void vm_cpu_save(struct vm *vm, void *blob)
{
    vm->ops->cpu_save(vm, blob);
}
static inline void vm_cpu_restore(struct vm *vm, const void *blob)
{
    vm->ops->cpu_restore(vm, blob);
}

/* Stop the process with (what) and strerror(errno), naming file and line: for
 * calls that cannot legitimately fail (a broken host or a broken contract). */
#define engine_die(what) engine__die(__FILE__, __LINE__, (what))
_Noreturn void engine__die(const char *file, int line, const char *what);

/* The engines of this build (engine/kvm/, engine/emu/). */
extern const struct engine_ops engine_kvm_ops;
extern const struct engine_ops engine_emu_ops; /* when built with the emulator */

#endif /* PVRR_ENGINE_H */
