/*
 * fault - takes a CPU exception on purpose, to exercise the runtime's
 * exception report ("exception #PF (14) at rip ... cr2 ... error ...") and the
 * monitor's handling of guest faults.
 *
 * Usage: fault [MODE]
 *   null      (default) read from address 0x10: #PF, cr2 0x10
 *   past-ram  read 2 MiB past the end of RAM: #PF (unmapped)
 *   ud        execute ud2: #UD
 *   div0      divide by zero: #DE
 *   gp        read a non-canonical address: #GP
 *   bp        execute int3: #BP
 *   triple    load an empty IDT (limit 0), then fault: triple fault, which the
 *             monitor sees as a VM shutdown
 */
#include <pvrr/guest.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void do_triple(void)
{
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) empty = {0, 0};
    printf("fault: loading an empty IDT and executing ud2 (expect a triple fault)\n");
    pvrr_stdout_flush();
    __asm__ volatile("lidt %0\n\t"
                     "ud2"
                     :
                     : "m"(empty)
                     : "memory");
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "null";
    volatile uint64_t sink = 0;

    if (strcmp(mode, "null") == 0) {
        printf("fault: reading address 0x10\n");
        sink = *(volatile uint64_t *)0x10;
    } else if (strcmp(mode, "past-ram") == 0) {
        uint64_t addr = pvrr_mem_size() + (2u << 20);
        printf("fault: reading address 0x%lx, past the end of RAM\n", (unsigned long)addr);
        sink = *(volatile uint64_t *)(uintptr_t)addr;
    } else if (strcmp(mode, "ud") == 0) {
        printf("fault: executing ud2\n");
        __asm__ volatile("ud2");
    } else if (strcmp(mode, "div0") == 0) {
        volatile int zero = 0;
        printf("fault: dividing by zero\n");
        sink = (uint64_t)(100 / zero);
    } else if (strcmp(mode, "gp") == 0) {
        printf("fault: reading the non-canonical address 0x8000000000000000\n");
        sink = *(volatile uint64_t *)0x8000000000000000ull;
    } else if (strcmp(mode, "bp") == 0) {
        printf("fault: executing int3\n");
        __asm__ volatile("int3");
    } else if (strcmp(mode, "triple") == 0) {
        do_triple();
    } else {
        printf("fault: unknown mode '%s' (null, past-ram, ud, div0, gp, bp, triple)\n", mode);
        return 2;
    }
    printf("fault: still running after '%s' (read 0x%lx): the fault was not delivered\n", mode,
           (unsigned long)sink);
    return 1;
}
