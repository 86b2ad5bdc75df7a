/*
 * emu_x86.h - x86-64 architecture the emulator engine supplies itself
 * (emu_x86.c): CPU exception delivery through the guest's IDT, as hardware
 * does it in long mode at CPL 0, which Unicorn 2.0.1 does not do (trap 5).
 */
#ifndef PVRR_ENGINE_EMU_X86_H
#define PVRR_ENGINE_EMU_X86_H

#include "engine/engine.h"

#include <stdint.h>

/* Deliver exception (vector) raised by the instruction at (rip) (for a
 * software interrupt, rip is after the instruction and (is_int) is 1) through
 * the guest's IDT: the stack frame pushed (IST stack if the gate says so), rip
 * at the handler, IF cleared for an interrupt gate. A #PF takes CR2 from the
 * CPU and its error code reconstructed from the page tables and the
 * instruction. An exception while delivering one becomes a double fault, one
 * while delivering a double fault a triple fault: returns -1 with (ev) the
 * TRIPLE fault (registers as at the first fault), else 0. */
int emu_deliver(struct vm *vm, int vector, int is_int, uint64_t rip, struct engine_event *ev);

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
