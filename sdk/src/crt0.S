/*
 * crt0.S - guest entry point and exception entry stubs.
 *
 * The monitor enters _start in 64-bit mode with rdi = &struct pvrr_boot_info,
 * rsp = top of RAM, interrupts disabled and no IDT. _start clears .bss and
 * calls pvrr__start (start.c), which never returns.
 *
 * Each of the 32 exception vectors gets a stub that pushes a dummy error code
 * when the CPU does not push one, then the vector number, and jumps to
 * isr_common. isr_common saves the general registers into a struct
 * pvrr_trap_frame (start.c) and calls pvrr__exception(frame), which reports the
 * exception through the panic hypercall and never returns.
 */

    .section .text.boot, "ax", @progbits
    .globl _start
    .type _start, @function
_start:
    .cfi_startproc
    .cfi_undefined rip          /* outermost frame: debuggers stop unwinding here */
    cld
    xorl %ebp, %ebp             /* end of the frame-pointer chain */
    andq $-16, %rsp             /* SysV: rsp is 16-byte aligned at each call */
    movq %rdi, %r12             /* boot info, callee-saved across the clear */

    leaq __pvrr_bss_start(%rip), %rdi
    leaq __pvrr_bss_end(%rip), %rcx
    subq %rdi, %rcx
    xorl %eax, %eax
    rep stosb

    movq %r12, %rdi
    call pvrr__start
    ud2                         /* pvrr__start never returns */
    .cfi_endproc
    .size _start, . - _start

/* Vectors for which the CPU pushes an error code. */
#define HAS_ERROR(n) ((n) == 8 || (n) == 10 || (n) == 11 || (n) == 12 || (n) == 13 || \
                      (n) == 14 || (n) == 17 || (n) == 21 || (n) == 29 || (n) == 30)

    .text
    .p2align 4
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
pvrr__isr\n:
    .if HAS_ERROR(\n) == 0
    pushq $0
    .endif
    pushq $\n
    jmp isr_common
    .endr

/*
 * Stack at isr_common (offsets from rsp after the pushes below), matching
 * struct pvrr_trap_frame: r15 0, r14 8, r13 16, r12 24, r11 32, r10 40, r9 48,
 * r8 56, rbp 64, rdi 72, rsi 80, rdx 88, rcx 96, rbx 104, rax 112, vector 120,
 * error 128, then the CPU's frame: rip 136, cs 144, rflags 152, rsp 160, ss 168.
 */
    .p2align 4
    .type isr_common, @function
isr_common:
    .cfi_startproc simple
    .cfi_signal_frame
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    cld
    movq %rsp, %rbx             /* the frame; rbx survives the call */
    /*
     * From here a debugger can unwind into the interrupted code: CFA = the
     * interrupted rsp (*(rbx+160)), and rip, rbp, rbx, r12-r15 are in the frame.
     * DW_CFA_def_cfa_expression / DW_CFA_expression with DW_OP_breg3 (rbx).
     */
    .cfi_escape 0x0f, 0x04, 0x73, 0xa0, 0x01, 0x06      /* CFA = *(rbx + 160) */
    .cfi_escape 0x10, 0x10, 0x03, 0x73, 0x88, 0x01      /* rip at rbx + 136 */
    .cfi_escape 0x10, 0x06, 0x03, 0x73, 0xc0, 0x00      /* rbp at rbx + 64 */
    .cfi_escape 0x10, 0x03, 0x03, 0x73, 0xe8, 0x00      /* rbx at rbx + 104 */
    .cfi_escape 0x10, 0x0c, 0x02, 0x73, 0x18            /* r12 at rbx + 24 */
    .cfi_escape 0x10, 0x0d, 0x02, 0x73, 0x10            /* r13 at rbx + 16 */
    .cfi_escape 0x10, 0x0e, 0x02, 0x73, 0x08            /* r14 at rbx + 8 */
    .cfi_escape 0x10, 0x0f, 0x02, 0x73, 0x00            /* r15 at rbx + 0 */
    andq $-16, %rsp
    movq %rbx, %rdi
    call pvrr__exception
    ud2                         /* pvrr__exception never returns */
    .cfi_endproc
    .size isr_common, . - isr_common

/* The stub addresses, indexed by vector, for the IDT set-up in start.c. */
    .section .rodata
    .p2align 3
    .globl pvrr__isr_table
pvrr__isr_table:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad pvrr__isr\n
    .endr
    .size pvrr__isr_table, . - pvrr__isr_table

    .section .note.GNU-stack, "", @progbits
