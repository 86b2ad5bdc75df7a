/*
 * runtime.h - internal interfaces between the pieces of the guest runtime.
 */
#ifndef PVRR_SDK_RUNTIME_H
#define PVRR_SDK_RUNTIME_H

#include <stdint.h>

struct pvrr_boot_info;

/* The registers crt0.S saves on an exception, lowest address first. */
struct pvrr_trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};

/* Report the exception in (f) with the panic hypercall (crt0.S calls it). */
_Noreturn void pvrr__exception(struct pvrr_trap_frame *f);

/* Entry from crt0.S with .bss cleared; (bi) is the monitor's boot info. */
_Noreturn void pvrr__start(const struct pvrr_boot_info *bi);

/* Hand [start, end) to the allocator (addresses are aligned inside). */
void pvrr__heap_init(uint64_t start, uint64_t end);

#endif /* PVRR_SDK_RUNTIME_H */
