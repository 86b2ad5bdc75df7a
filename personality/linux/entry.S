/*
 * entry.S - the ways into and out of user mode.
 *
 * linux_syscall_entry: the target of `syscall` (MSR_LSTAR). Interrupts stay
 *   off (MSR_FMASK clears IF, TF, DF, AC). The user stack pointer is parked in
 *   a scratch slot while rsp moves to the kernel's syscall stack (one vCPU,
 *   no interrupts: nothing can nest), the registers are pushed as a struct
 *   sys_frame (kernel.h), linux_syscall(frame) serves the call, and every
 *   register is restored from the frame except rax (the result), rcx and r11
 *   (which `sysretq` uses, as on Linux).
 * linux_enter_user(rip, rsp): drop to ring 3 at (rip) with (rsp) and every
 *   other general register zero, as Linux starts a process.
 * linux_ufault_N: exception entries for the vectors a user program can raise;
 *   from ring 3 they call linux_user_fault(vector, error, rip), which ends the
 *   program; from ring 0 they continue into the SDK's own report
 *   (pvrr__isr_table), exactly as if the SDK's gate had been taken.
 */
#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UDATA 0x23
#define SEL_UCODE 0x2b
#define USER_LO 0x400000      /* layout.h: LINUX_USER_LO */

    .text
    .globl linux_syscall_entry
    .type linux_syscall_entry, @function
linux_syscall_entry:
    .cfi_startproc simple
    .cfi_undefined rip
    movq %rsp, syscall_user_rsp(%rip)
    leaq syscall_stack_top(%rip), %rsp
    /* clear what a breakpoint's trip through the fault stack left there, so
     * memory is the same as in a run without breakpoints */
    movq $0, fault_stack_top - 8(%rip)
    movq $0, fault_stack_top - 16(%rip)
    movq $0, fault_stack_top - 24(%rip)
    movq $0, fault_stack_top - 32(%rip)
    movq $0, fault_stack_top - 40(%rip)
    movq $0, fault_stack_top - 48(%rip)
    movq $0, fault_stack_top - 56(%rip)
    movq $0, fault_stack_top - 64(%rip)
    pushq syscall_user_rsp(%rip)
    pushq %rdi
    pushq %rsi
    pushq %rdx
    pushq %rcx
    pushq %rax
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %rbx
    pushq %rbp
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    /* A debugger single-stepping through `syscall` has KVM set TF, which
     * `syscall` copies into r11: keep it out of every register and of the
     * frame, so the kernel's state equals that of a run without a debugger
     * (replay compares registers at each hypercall). */
    btrq $8, %r11
    btrq $8, 48(%rsp)
    cld
    movq %rsp, %rdi
    xorl %ebp, %ebp
    call linux_syscall
    /* still single-stepping (TF survives FMASK): let sysretq keep it */
    pushfq
    popq %rax
    andl $0x100, %eax
    orq %rax, 48(%rsp)
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbp
    popq %rbx
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rax
    popq %rcx
    popq %rdx
    popq %rsi
    popq %rdi
    popq %rsp
    sysretq
    .cfi_endproc
    .size linux_syscall_entry, . - linux_syscall_entry

    .globl linux_enter_user
    .type linux_enter_user, @function
linux_enter_user:
    pushq $SEL_UDATA
    pushq %rsi
    pushq $0x202
    pushq $SEL_UCODE
    pushq %rdi
    xorl %eax, %eax
    xorl %ebx, %ebx
    xorl %ecx, %ecx
    xorl %edx, %edx
    xorl %esi, %esi
    xorl %edi, %edi
    xorl %ebp, %ebp
    xorl %r8d, %r8d
    xorl %r9d, %r9d
    xorl %r10d, %r10d
    xorl %r11d, %r11d
    xorl %r12d, %r12d
    xorl %r13d, %r13d
    xorl %r14d, %r14d
    xorl %r15d, %r15d
    iretq
    .size linux_enter_user, . - linux_enter_user

/* Vectors for which the CPU pushes an error code. */
#define HAS_ERROR(n) ((n) == 8 || (n) == 10 || (n) == 11 || (n) == 12 || (n) == 13 || \
                      (n) == 14 || (n) == 17 || (n) == 21 || (n) == 29 || (n) == 30)

    .p2align 4
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
linux_ufault_\n:
    .if \n == 13
    /* A `hlt` in user code: a debugger's software breakpoint (pvrr patches
     * one-byte hlts where hardware breakpoints do not fire). hlt is
     * privileged, so re-execute it in ring 0 at the same address with every
     * register as it was: KVM then reports the hlt exit at the breakpoint
     * address, as for kernel code. The program goes on in ring 0 until its
     * next system call returns it to ring 3; the bytes this leaves on the
     * fault stack are cleared at that system call (linux_syscall_entry). */
    pushq %rax
    movq 16(%rsp), %rax         /* rax, error, rip */
    cmpq $USER_LO, %rax
    jb 2f
    cmpb $0xf4, (%rax)
    jne 2f
    popq %rax
    addq $8, %rsp               /* the error code */
    movq $SEL_KCODE, 8(%rsp)
    movq $SEL_KDATA, 32(%rsp)
    iretq
2:  popq %rax
    /* rdtsc/rdtscp in ring 3 (CR4.TSD): linux_user_gp emulates them with the
     * clock hypercall, so the value is recorded input, not the host's TSC */
    testb $3, 16(%rsp)
    jz 4f
    pushq %rax
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    movq %rsp, %rdi             /* struct gp_frame (syscall.c) */
    call linux_user_gp
    testl %eax, %eax
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rax
    jz 4f
    addq $8, %rsp               /* the error code */
    iretq
4:
    .endif
    .if HAS_ERROR(\n)
    movq 8(%rsp), %rdx          /* error, rip, cs */
    testb $3, 16(%rsp)
    jnz 3f
    cmpq $USER_LO, %rdx         /* user code that runs in ring 0 after a breakpoint */
    jb 1f
3:  movq (%rsp), %rsi
    .else
    movq (%rsp), %rdx           /* rip, cs */
    testb $3, 8(%rsp)
    jnz 3f
    cmpq $USER_LO, %rdx
    jb 1f
3:  xorl %esi, %esi
    .endif
    movq $\n, %rdi
    andq $-16, %rsp
    call linux_user_fault
1:  jmp *(pvrr__isr_table + 8 * \n)(%rip)
    .endr

    .section .rodata
    .p2align 3
    .globl linux_ufault_table
linux_ufault_table:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad linux_ufault_\n
    .endr

    .bss
    .p2align 4
syscall_user_rsp:
    .skip 16
    .globl syscall_stack
syscall_stack:
    .skip 65536
syscall_stack_top:
    .p2align 4
    .globl fault_stack
fault_stack:
    .skip 16384
fault_stack_top:

    .section .note.GNU-stack, "", @progbits
