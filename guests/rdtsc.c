/*
 * rdtsc - breaks the nondeterminism contract on purpose: it reads the time
 * stamp counter (instead of PVRR_HC_CLOCK) and lets the value decide both its
 * output and how many hypercalls it makes. Its recording cannot replay: the
 * replayed TSC differs, so the hypercall sequence diverges and pvrr reports
 * where.
 *
 * Usage: rdtsc [rounds=N]    (default 3)
 */
#include <pvrr/guest.h>
#include <stdint.h>
#include <stdio.h>

static inline uint64_t read_tsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi)); /* CONTRACT VIOLATION */
    return ((uint64_t)hi << 32) | lo;
}

int main(int argc, char **argv)
{
    uint64_t rounds = pvrr_arg_u64(argc, argv, "rounds", 3);
    for (uint64_t r = 0; r < rounds; r++) {
        uint64_t tsc = read_tsc();
        /* A TSC-dependent number of hypercalls: 1 to 256. */
        unsigned n = (unsigned)(tsc & 0xff) + 1;
        for (unsigned i = 0; i < n; i++)
            pvrr_nop();
        printf("rdtsc: round %lu: tsc 0x%lx, %u nops\n", (unsigned long)r, (unsigned long)tsc, n);
    }
    return 0;
}
