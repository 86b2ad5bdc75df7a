/*
 * emu_internal.h - the emulator engine's private state, shared by its files
 * (emu.c: the machine, CPU state, save/restore, breakpoint and watch lists,
 * written pages; emu_scan.c: the code scan; emu_run.c: hooks, running,
 * exact stops; emu_x86.c: exception delivery, page walks; emu_ring.c: the
 * instructions Unicorn gets wrong). Nothing outside engine/emu/ includes this or
 * <unicorn/unicorn.h>.
 *
 * The engine runs the guest on Unicorn 2.0.1 (QEMU's TCG). How it gets exact
 * behaviour out of it (../shared/emulator.md lists the traps):
 *   - every translation block is decoded once (capstone) when the block hook
 *     first sees it; instructions that must stop the guest exactly (the one
 *     after an `out`/`in`, rdtsc/rdtscp/rdrand/rdseed, hlt, string I/O) get a
 *     1-byte code hook, the only hook kind that sees an exact rip and stops
 *     before the instruction. A block seen for the first time is stopped
 *     before it runs and translated again with its hooks (traps 1, 2, 6);
 *   - instructions are counted by blocks: the block hook adds a block's
 *     length, a stop inside a block takes the index of the stop's rip. A run
 *     that must stop after N instructions puts a code hook on the N-th one
 *     (trap 3: Unicorn's own count is never used);
 *   - CPU exceptions reach the interrupt hook (or the invalid-instruction
 *     hook for #UD) and are delivered through the guest's IDT here (trap 5);
 *   - written pages are found by comparing RAM with a shadow copy at
 *     dirty_collect (Unicorn keeps no dirty log; a write hook slows every
 *     store, write protection would break the monitor's read() into RAM).
 */
#ifndef PVRR_ENGINE_EMU_INTERNAL_H
#define PVRR_ENGINE_EMU_INTERNAL_H

#include "engine/engine.h"

#include <capstone/capstone.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <unicorn/unicorn.h>

/* What a special address (one code hook each) stops for; flags. */
#define EMU_AT_IO_AFTER 0x01u /* the instruction after an `in`/`out` */
#define EMU_AT_CONTRACT 0x02u /* rdtsc, rdtscp, rdrand, rdseed */
#define EMU_AT_HLT 0x04u
#define EMU_AT_STRIO 0x08u /* ins/outs: string I/O (EMU_AT_STRIO_OUT: outs) */
#define EMU_AT_BP 0x10u    /* an execution breakpoint */
#define EMU_AT_STOP 0x20u  /* the instruction a counted run stops before */
#define EMU_AT_SYSCALL 0x40u
#define EMU_AT_VEX 0x80u /* a VEX/EVEX (AVX) instruction: Unicorn 2.0.1 runs it wrong (trap 7) */
#define EMU_AT_SYSRET 0x100u /* sysret: the engine executes it (emu_ring.c) */
#define EMU_AT_STRIO_OUT 0x400u
#define EMU_AT_MSR 0x200u  /* rdmsr/wrmsr: the engine executes those of EFER */
#define EMU_AT_EXEC 0x800u /* popcnt, pclmulqdq: the engine executes them (emu_insn.c) */

struct emu_spot {
    uint64_t addr;
    unsigned flags;
    const char *what; /* for CONTRACT: the instruction's name */
    uint8_t hooked;   /* the slot is used */
    uint8_t live;     /* its code hook exists (hook) */
    uc_hook hook;
};

/* A decoded translation block. */
struct emu_block {
    uint64_t addr;
    uint32_t size;
    uint32_t icount;
    uint16_t *off; /* offset of each instruction from addr, icount entries */
    uint32_t span; /* the largest size a block decoded at addr ever had: code Unicorn
                      translated from addr earlier may still reach that far (a step
                      translates one-instruction blocks at addresses that also start
                      long ones) */
};

/* Why the current uc_emu_start was stopped. */
enum emu_stop {
    EMU_STOP_NONE = 0,
    EMU_STOP_RESTART, /* internal: run again from restart_rip (new block, armed stop) */
    EMU_STOP_EVENT,   /* ev is filled */
    EMU_STOP_EXCEPTION,
    EMU_STOP_KICK,
    EMU_STOP_LIMIT, /* the instruction limit was reached */
    EMU_STOP_WATCH,
    EMU_STOP_INSN, /* an instruction the engine executes itself (insn) */
};

/* Where the error code of an exception to deliver comes from. */
enum emu_err_from {
    EMU_ERR_DERIVE, /* worked out by the engine (a #PF's from the page tables), else 0 */
    EMU_ERR_QEMU,   /* the one QEMU raised the exception with (emu_exception_error) */
    EMU_ERR_GIVEN,  /* exc_err */
};

/* The part of the CPU state Unicorn's context lacks, saved after it. */
struct emu_extra {
    uint64_t count;
    uint64_t magic;
    uint64_t efer_sce;
};

#define EMU_CTX_MAX 16384

/* The cpu_save blob. */
struct emu_cpu_state {
    struct emu_extra x;
    uint64_t ctx_size;
    uint8_t ctx[EMU_CTX_MAX];
};

struct emu_engine {
    struct vm *vm; /* the machine (the block hook's user data is the engine) */
    uc_engine *uc;
    csh cs;        /* capstone, no detail: lengths and ids */
    csh cs_detail; /* capstone with operand detail (page-fault error codes) */
    uc_context *ctx;
    size_t ctx_size;
    uc_hook h_block, h_out, h_in, h_cpuid, h_intr, h_invalid, h_unmapped;
    uc_hook h_mem, h_all; /* while watches exist: memory hook, code hook on everything */

    /* decoded blocks: open addressing by address */
    struct emu_block *blocks;
    size_t nblocks, capblocks;
    /* special addresses: open addressing by address */
    struct emu_spot *spots;
    size_t nspots, capspots;

    /* execution breakpoints and watchpoints */
    uint64_t *bp;
    size_t nbp, capbp;
    struct engine_watch *w;
    size_t nw, capw;

    /* the block block_decode is decoding (translated, not in the table yet) */
    uint64_t decoding, decoding_size;

    /* instruction counting */
    uint64_t count;         /* instructions retired since boot (inside a block: incl. all of it) */
    struct emu_block *cur;  /* the block running, while its count is count - cur->icount */
    struct emu_block *last; /* the block hook's one-entry cache: the block it counted last */
    uint64_t limit;         /* stop when count reaches this (UINT64_MAX: none) */
    uint64_t armed;         /* the EMU_AT_STOP address armed for limit, or 0 */

    /* the current uc_emu_start */
    enum emu_stop stop;
    uint64_t restart_rip;
    struct engine_event *ev;
    int stepping;
    /* port I/O seen by the in/out hooks, reported at the next instruction */
    int io_pending;
    uint16_t io_port;
    uint8_t io_size, io_out;
    uint32_t io_value;
    /* an exception to deliver, and where its error code comes from */
    int exc_vector, exc_is_int;
    enum emu_err_from exc_err_from;
    uint32_t exc_err;
    /* an instruction to execute (EMU_STOP_INSN) */
    int insn;
    unsigned insn_len;
    /* EFER.SCE: Unicorn's CPU model cannot hold it (emu_ring.c) */
    int efer_sce;
    /* a bad access (outside RAM) */
    int bad;
    uint64_t bad_addr;
    uint32_t bad_len;
    uint8_t bad_write;
    /* a watch hit */
    int watch_hit;
    struct {
        uint64_t addr;
        uint32_t len;
        uint8_t is_write;
        uint8_t data[16];
    } wh;
    int triple;
    volatile sig_atomic_t kicked;

    /* a string I/O instruction (ins/outs) began: 1 | is_out << 1; reported
     * with size 0 at the instruction after it, its port I/O hook calls ignored */
    int strio;
    uint16_t strio_port;

    /* written pages: RAM as of the last dirty_collect */
    uint8_t *shadow;
    uint64_t *compare_bits; /* a bit per RAM page, for the shadow compares */
    int shadow_stale;       /* cpu_restore ran: the next run takes RAM as the shadow */
};

static inline struct emu_engine *emu_of(const struct vm *vm)
{
    return vm->engine;
}

/* emu_scan.c */
/* The decoded block at (addr), or NULL. */
struct emu_block *emu_block_find(struct emu_engine *e, uint64_t addr);
/* Decode the block [addr, addr+size) once: its instruction offsets, and code
 * hooks where the guest must stop exactly. Returns the block (NULL: out of
 * memory), with (*added) set if a new hook was added (the block must be
 * translated again). */
struct emu_block *emu_block_decode(struct vm *vm, uint64_t addr, uint32_t size, int *added);
/* The special address (addr), or NULL. */
struct emu_spot *emu_spot_find(struct emu_engine *e, uint64_t addr);
/* Mark (addr) with (flags) and give it a code hook (emu_on_spot); drop
 * translated code there. Returns 1 if a hook was added, 0 if (addr) had one,
 * -1 on failure. */
int emu_spot_set(struct vm *vm, uint64_t addr, unsigned flags, const char *what);
/* Clear (flags) of the special address (addr) (its hook stays). */
void emu_spot_clear(struct vm *vm, uint64_t addr, unsigned flags);
/* As emu_spot_clear, and when no flag is left, delete the address's code hook
 * (its code is translated again without it, so a hot loop where a counted run
 * once stopped runs at full speed again). Only outside uc_emu_start. */
void emu_spot_release(struct vm *vm, uint64_t addr, unsigned flags);
/* Forget the decoded blocks and special addresses (destroy). */
void emu_run_free(struct vm *vm);

/* emu_run.c */
/* The code hook of every special address. */
void emu_on_spot(uc_engine *uc, uint64_t addr, uint32_t size, void *user);
void emu_engine_run(struct vm *vm, const struct engine_run_args *a, struct engine_event *ev);
/* Install the hooks the run loop needs (called once by create). Returns -1 on failure. */
int emu_hooks_init(struct vm *vm);
/* Install or remove the memory and per-instruction hooks as the watch list needs. */
void emu_watch_hooks(struct vm *vm);
/* Take RAM as it is as the written-pages shadow (emu.c; after a restore). */
void emu_shadow_sync(struct vm *vm);
/* Drop cached address translations after RAM (page tables) changed under Unicorn. */
void emu_flush_tlb(struct vm *vm);

#endif /* PVRR_ENGINE_EMU_INTERNAL_H */
