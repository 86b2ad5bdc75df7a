/*
 * fake_target.h - an in-memory machine behind struct gdb_target_ops, for
 * exercising the gdb stub without KVM.
 *
 * Memory is a byte array at guest addresses [0, FAKE_MEM_SIZE). The
 * "instruction set" is one byte per instruction at rip:
 *   FAKE_OP_SPIN   jmp to itself: runs until interrupted
 *   FAKE_OP_STORE  mem[rbx] = al          (write watchpoints fire)
 *   FAKE_OP_LOAD   al = mem[rbx]          (read watchpoints fire)
 *   FAKE_OP_EXIT   the guest exits with status al
 *   anything else  a one-byte no-op: rip += 1
 * Every forward instruction is logged, so reverse step and reverse continue
 * undo them exactly (the start of the log is the start of "history").
 */
#ifndef PVRR_TESTS_FAKE_TARGET_H
#define PVRR_TESTS_FAKE_TARGET_H

#include <stdint.h>

#include "gdbstub/gdbstub.h"

#define FAKE_MEM_SIZE 0x10000
#define FAKE_MAX_BP 16
#define FAKE_MAX_HW 4          /* like the four x86 debug registers */
#define FAKE_HISTORY 4096      /* instructions that can be undone */
#define FAKE_RUN_LIMIT 2000000 /* default run_limit */

enum { FAKE_OP_SPIN = 0xeb, FAKE_OP_STORE = 0x88, FAKE_OP_LOAD = 0x8a, FAKE_OP_EXIT = 0xf4 };

struct fake_bp {
    int used;
    int type;
    uint64_t addr, len;
};

struct fake_undo {
    uint64_t rip, rax;
    int64_t store_addr; /* -1: the instruction stored nothing */
    uint8_t old;
};

struct fake_target {
    uint8_t mem[FAKE_MEM_SIZE];
    struct gdb_regs regs;
    struct fake_bp bp[FAKE_MAX_BP];
    struct fake_undo hist[FAKE_HISTORY]; /* ring of undo records */
    unsigned head;                       /* next slot to write */
    unsigned nhist;                      /* records that can be undone */
    uint64_t pos;                        /* instructions executed minus undone */
    uint64_t history_end; /* forward: stop with HISTORY_END at this position (0: none) */
    int readonly;         /* refuse register and memory writes, like a replay */
    long run_limit;       /* a continue gives up (SIGNAL 5) after this many instructions */
    int exited;
    /* Observations for tests. */
    long polls;
    int killed, detached;
    int resumes;
    int last_resume_how;
    char log[256];
    int nlogs;
};

/* Initialize t: zero memory and registers, rip = 0x1000, rsp = 0x8000. */
void fake_target_init(struct fake_target *t);

/* The ops; reverse_supported and the rest set from the flags. */
void fake_target_ops(struct gdb_target_ops *ops, int reverse_supported);

#endif
