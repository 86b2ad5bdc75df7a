/*
 * hostile - misbehaves on purpose, one way per run, to test that the monitor
 * rejects bad requests with a clear error instead of crashing or touching host
 * memory.
 *
 * Usage: hostile MODE
 *   wild-ptr       console write of 16 bytes from 0xdeadbeef000 (not RAM)
 *   huge-len       console write of UINT64_MAX - 8 bytes (length overflow)
 *   unknown-hc     hypercall on port PVRR_HC_PORT_BASE + 200
 *   bad-struct     hypercall whose argument struct lies past the end of RAM
 *   whole-ram      console write of all of RAM, from address 0
 *   loop           spin forever without hypercalls (needs a timeout)
 *   wild-jump      call code at 0x7000000000 (past RAM, not mapped): #PF
 *   avx            execute vpaddq (VEX; pvrr offers no AVX, CR4.OSXSAVE is clear): #UD
 *   stackoverflow  unbounded recursion: the stack grows down over the heap
 *                  and the image until something faults
 *
 * If a bad hypercall returns, the guest prints what came back and exits with
 * status 3, so a test can tell "rejected by the monitor" from "let through".
 */
#include <pvrr/guest.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int returned(const char *mode, long ret)
{
    printf("hostile: %s: the hypercall returned (ret=%ld)\n", mode, ret);
    return 3;
}

/* Never equal to a real depth; volatile so the compiler cannot prove the
 * recursion infinite (and warn, or turn it into a loop). */
static volatile uint64_t stop_depth = UINT64_MAX;

static uint64_t recurse(uint64_t depth)
{
    uint8_t frame[512];
    frame[0] = (uint8_t)depth;
    frame[sizeof frame - 1] = (uint8_t)(depth >> 8);
    /* The whole array must exist on the stack (clang would shrink it). */
    __asm__ volatile("" : : "r"(frame) : "memory");
    if (depth == stop_depth)
        return 0;
    return recurse(depth + 1) + frame[0] + frame[sizeof frame - 1];
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    printf("hostile: %s\n", mode);
    pvrr_stdout_flush();

    if (strcmp(mode, "wild-ptr") == 0) {
        struct pvrr_hc_console_write a = {.data = (const char *)0xdeadbeef000ull, .len = 16};
        pvrr_hypercall(PVRR_HC_CONSOLE_WRITE, &a);
        return returned(mode, a.ret);
    }
    if (strcmp(mode, "huge-len") == 0) {
        static const char msg[] = "hostile\n";
        struct pvrr_hc_console_write a = {.data = msg, .len = UINT64_MAX - 8};
        pvrr_hypercall(PVRR_HC_CONSOLE_WRITE, &a);
        return returned(mode, a.ret);
    }
    if (strcmp(mode, "unknown-hc") == 0) {
        struct pvrr_hc_nop a = {0};
        pvrr_hypercall(200, &a);
        return returned(mode, 0);
    }
    if (strcmp(mode, "bad-struct") == 0) {
        /* Just past RAM; with 4 GiB of RAM that is not a 32-bit address, so
         * use the last 8 bytes instead (the struct straddles the end). */
        uint64_t mem = pvrr_mem_size();
        uint64_t addr = mem < (1ull << 32) ? mem : mem - 8;
        pvrr_hypercall(PVRR_HC_CONSOLE_WRITE, (void *)(uintptr_t)addr);
        return returned(mode, 0);
    }
    if (strcmp(mode, "whole-ram") == 0) {
        struct pvrr_hc_console_write a = {.data = NULL, .len = pvrr_mem_size()};
        pvrr_hypercall(PVRR_HC_CONSOLE_WRITE, &a);
        return returned(mode, a.ret);
    }
    if (strcmp(mode, "loop") == 0) {
        volatile uint64_t spins = 0;
        for (;;)
            spins++;
    }
    if (strcmp(mode, "stackoverflow") == 0)
        return (int)recurse(0);
    if (strcmp(mode, "wild-jump") == 0) {
        void (*f)(void) = (void (*)(void))0x7000000000ull;
        __asm__ volatile("" : "+r"(f));
        f();
        return returned(mode, 0);
    }
    if (strcmp(mode, "avx") == 0) {
        __asm__ volatile(".byte 0xc5, 0xf9, 0xd4, 0xc1"); /* vpaddq %xmm1,%xmm0,%xmm0 */
        return returned(mode, 0);
    }

    printf("hostile: unknown mode '%s' (wild-ptr, huge-len, unknown-hc, bad-struct, whole-ram, "
           "loop, stackoverflow, wild-jump, avx)\n",
           mode);
    return 2;
}
