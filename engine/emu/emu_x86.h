/*
 * emu_x86.h - x86-64 architecture the emulator engine supplies itself
 * (emu_x86.c): CPU exception delivery through the guest's IDT, as hardware
 * does it in long mode at CPL 0, which Unicorn 2.0.1 does not do (trap 5).
 */
#ifndef PVRR_ENGINE_EMU_X86_H
#define PVRR_ENGINE_EMU_X86_H

#include "engine/engine.h"

#include <stddef.h>
#include <stdint.h>

/* Deliver exception (vector) raised by the instruction at (rip) (for a
 * software interrupt, rip is after the instruction and (is_int) is 1) through
 * the guest's IDT: the stack frame pushed (IST stack if the gate says so, the
 * TSS's ring-0 stack when it enters ring 0 from user mode), CS (and on a
 * privilege change SS) loaded, rip at the handler, IF cleared for an
 * interrupt gate. The error code is (err) or QEMU's as (err_from) says
 * (enum emu_err_from); a #PF's derived from the page tables and the
 * instruction. An exception while delivering one becomes a double fault, one
 * while delivering a double fault a triple fault: returns -1 with (ev) the
 * TRIPLE fault (registers as at the first fault), else 0. */
int emu_deliver(struct vm *vm, int vector, int is_int, int err_from, uint32_t err, uint64_t rip,
                struct engine_event *ev);

/* ---- emu_ring.c: privilege levels and the system-call instructions ---- */

/* Instructions the engine executes itself (Unicorn 2.0.1 cannot). */
enum emu_insn {
    EMU_INSN_RDMSR,   /* rdmsr of EFER at CPL 0 */
    EMU_INSN_WRMSR,   /* wrmsr of EFER at CPL 0 */
    EMU_INSN_SYSCALL, /* syscall */
    EMU_INSN_SYSRET,  /* sysretq */
    EMU_INSN_SYSRETL, /* sysretl (to compatibility mode) */
};

/* Check that the Unicorn library holds its CPU state in the layout of
 * Unicorn 2.0.1, which emu_ring.c changes directly. Returns 0, or -1 with a
 * message in (err). Called once by create. */
int emu_ring_check(struct vm *vm, char *err, size_t errlen);

/* Execute (kind) at (rip), (len) bytes long, as the architecture defines it
 * (EFER.SCE is the engine's: efer_sce). Returns -1 when it retired (rip and
 * registers updated), or the vector of the exception it raises instead with
 * its error code in (*err) (registers unchanged). */
int emu_exec_insn(struct vm *vm, enum emu_insn kind, uint64_t rip, unsigned len, uint32_t *err);

/* Load CS (and with (load_ss) SS) with selector and hidden part (QEMU's
 * descriptor flags: the descriptor's high dword), the CPL following SS's
 * DPL, as a far transfer does; and forget the exception in flight (see
 * emu_exception_done). */
void emu_load_cs_ss(struct vm *vm, uint16_t cs, uint32_t cs_flags, int load_ss, uint16_t ss,
                    uint32_t ss_flags);

/* Forget the exception in flight after one was delivered, as QEMU's own
 * delivery does: else QEMU turns the next #PF or #GP into #DF. */
void emu_exception_done(struct vm *vm);

/* The error code of the exception QEMU raised last. */
uint32_t emu_exception_error(struct vm *vm);

/* The current privilege level (CS.RPL). */
int emu_cpl(struct vm *vm);

/* 1 if the instruction ending just before (rip) is a software interrupt
 * raising (vector) (int3, int n, into, int1): Unicorn reports those with rip
 * after the instruction. */
int emu_is_soft_int(const struct vm *vm, int vector, uint64_t rip);

/* 1 if a supervisor (write) access to (va) passes the guest's page tables,
 * 0 if it raises #PF. */
int emu_page_ok(struct vm *vm, uint64_t va, int write);

/* The page-table entries (at most 4) that map (va): pointers into RAM. */
int emu_pte_chain(struct vm *vm, uint64_t va, uint64_t *ent[4]);

#endif /* PVRR_ENGINE_EMU_X86_H */
